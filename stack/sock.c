/* The public socket API: argument checks common to every protocol, then a
 * dispatch to the protocol's ops (tcp/sock.c, udp.c). An op a protocol does
 * not have answers as Linux does for that socket type. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "net.h"
#include "sock.h"

struct sock *sock_alloc(struct stack *st, int type, const struct sock_ops *ops, void *proto)
{
	struct sock *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->st = st;
	s->type = type;
	s->family = AF_INET;
	s->ops = ops;
	s->proto = proto;
	return s;
}

int sock_create(struct stack *st, int type, struct sock **out)
{
	return sock_create_af(st, AF_INET, type, out);
}

int sock_create_af(struct stack *st, int family, int type, struct sock **out)
{
	int rc;
	if (!st || !out)
		return -EINVAL;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	switch (type) {
	case SOCK_STREAM:
		rc = tcp_sock_create(st, out);
		break;
	case SOCK_DGRAM:
		rc = udp_sock_create(st, out);
		break;
	default:
		return -ESOCKTNOSUPPORT;
	}
	if (rc == 0)
		(*out)->family = family;
	return rc;
}

int sock_ep_parse(const struct sockaddr *sa, struct sock_ep *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = sa->sa_family;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		ep->addr = ip_addr_v4(ntohl(a->sin_addr.s_addr));
		ep->port = ntohs(a->sin_port);
		return 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		ep->addr = ip_addr_v6(&a->sin6_addr);
		ep->port = ntohs(a->sin6_port);
		return 0;
	}
	case AF_UNSPEC:
		return 0;
	default:
		return -EAFNOSUPPORT;
	}
}

/* An address given to socket s: of its family (an AF_INET6 UDP socket also
 * takes AF_INET ones, as Linux's udpv6_sendmsg), a v4-mapped one only
 * without IPV6_V6ONLY. unspec: AF_UNSPEC is allowed (connect). */
static int sock_addr_take(const struct sock *s, const struct sockaddr *sa, struct sock_ep *ep, int unspec,
			  int v6only_err)
{
	int rc;
	if (!sa)
		return -EFAULT;
	/* the family first: it says how many bytes there are to read */
	if (sa->sa_family == AF_UNSPEC && unspec)
		return sock_ep_parse(sa, ep);
	if (sa->sa_family != AF_INET && (sa->sa_family != AF_INET6 || s->family != AF_INET6))
		return -EAFNOSUPPORT;
	if (sa->sa_family == AF_INET && s->family == AF_INET6 && s->type != SOCK_DGRAM)
		return -EAFNOSUPPORT;
	if ((rc = sock_ep_parse(sa, ep)) != 0)
		return rc;
	if (s->v6only && ip_addr_is_v4(&ep->addr))
		return v6only_err;
	return 0;
}

/* An address the stack gives back, in the family of socket s. */
static void sock_addr_give(const struct sock *s, const struct sock_ep *ep, struct sockaddr *sa)
{
	if (s->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;
		memset(a, 0, sizeof(*a));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(ep->port);
		memcpy(&a->sin6_addr, ep->addr.b, 16);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;
		memset(a, 0, sizeof(*a));
		a->sin_family = AF_INET;
		a->sin_port = htons(ep->port);
		a->sin_addr.s_addr = ep->addr.w[3];
	}
}

void sock_info_addr(struct sock_info *si, int v6, const union ip_addr *laddr, uint16_t lport,
		    const union ip_addr *raddr, uint16_t rport)
{
	if (v6) {
		si->local6.sin6_family = AF_INET6;
		memcpy(&si->local6.sin6_addr, laddr->b, 16);
		si->local6.sin6_port = htons(lport);
		si->peer6.sin6_family = AF_INET6;
		memcpy(&si->peer6.sin6_addr, raddr->b, 16);
		si->peer6.sin6_port = htons(rport);
	} else {
		si->local.sin_family = AF_INET;
		si->local.sin_addr.s_addr = laddr->w[3];
		si->local.sin_port = htons(lport);
		si->peer.sin_family = AF_INET;
		si->peer.sin_addr.s_addr = raddr->w[3];
		si->peer.sin_port = htons(rport);
	}
}

int sock_bind(struct sock *s, union sock_addr_in addr)
{
	struct sock_ep ep;
	int rc = sock_addr_take(s, addr.sa, &ep, 0, -EINVAL);
	if (rc)
		return rc;
	rc = s->ops->bind ? s->ops->bind(s, &ep) : -EOPNOTSUPP;
	/* as Linux's __inet6_bind: a socket bound to one IPv6 address (not
	 * v4-mapped) can only be IPv6, and IPV6_V6ONLY then reads 1 */
	if (!rc && s->family == AF_INET6 && !ip_addr_is_any(&ep.addr) && !ip_addr_is_v4(&ep.addr))
		s->v6only = 1;
	return rc;
}

int sock_listen(struct sock *s, int backlog)
{
	return s->ops->listen ? s->ops->listen(s, backlog) : -EOPNOTSUPP;
}

int sock_accept(struct sock *s, struct sock **out, union sock_addr_out peer)
{
	struct sock_ep ep;
	int rc;
	if (!s->ops->accept)
		return -EOPNOTSUPP;
	if ((rc = s->ops->accept(s, out, &ep)) != 0)
		return rc;
	(*out)->family = s->family;
	(*out)->v6only = s->v6only;
	if (peer.sa)
		sock_addr_give(s, &ep, peer.sa);
	return 0;
}

int sock_connect(struct sock *s, union sock_addr_in addr)
{
	struct sock_ep ep;
	int rc = sock_addr_take(s, addr.sa, &ep, 1, -ENETUNREACH);
	if (rc)
		return rc;
	return s->ops->connect ? s->ops->connect(s, &ep) : -EOPNOTSUPP;
}

ssize_t sock_send(struct sock *s, const struct iovec *iov, int iovcnt, int flags, union sock_addr_in to)
{
	struct sock_ep ep;
	int rc;
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	if (to.sa && (rc = sock_addr_take(s, to.sa, &ep, 0, -ENETUNREACH)) != 0)
		return rc;
	return s->ops->send(s, iov, iovcnt, flags, to.sa ? &ep : NULL);
}

ssize_t sock_recv(struct sock *s, const struct iovec *iov, int iovcnt, int flags, union sock_addr_out from)
{
	struct sock_ep ep = { .port = 0 };
	ssize_t rc;
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	ep.family = AF_UNSPEC;
	rc = s->ops->recv(s, iov, iovcnt, flags, from.sa ? &ep : NULL);
	if (rc >= 0 && from.sa && ep.family != AF_UNSPEC)
		sock_addr_give(s, &ep, from.sa);
	return rc;
}

static int sock_is_listener(struct sock *s)
{
	int on = 0;
	socklen_t l = sizeof(on);
	return s->type == SOCK_STREAM && s->proto && s->ops->getopt &&
	       s->ops->getopt(s, SOL_SOCKET, SO_ACCEPTCONN, &on, &l) == 0 && on;
}

/* A TCP listener after shutdown(SHUT_RD): Linux's socket in TCP_CLOSE that
 * listened. Its protocol state is gone; s->proto keeps its local address. */
static int sl_einval(void)
{
	return -EINVAL;
}
static int sl_bind(struct sock *s, const struct sock_ep *a)
{
	(void)s, (void)a;
	return sl_einval();
}
static int sl_listen(struct sock *s, int backlog)
{
	(void)s, (void)backlog;
	return sl_einval();
}
static int sl_accept(struct sock *s, struct sock **out, struct sock_ep *peer)
{
	(void)s, (void)out, (void)peer;
	return sl_einval(); /* what a thread blocked in accept() gets */
}
static int sl_connect(struct sock *s, const struct sock_ep *a)
{
	(void)s, (void)a;
	return sl_einval();
}
static ssize_t sl_send(struct sock *s, const struct iovec *iov, int n, int flags, const struct sock_ep *to)
{
	(void)s, (void)iov, (void)n, (void)flags, (void)to;
	return -EPIPE;
}
static ssize_t sl_recv(struct sock *s, const struct iovec *iov, int n, int flags, struct sock_ep *from)
{
	(void)s, (void)iov, (void)n, (void)flags, (void)from;
	return -ENOTCONN;
}
static int sl_shutdown(struct sock *s, int how)
{
	(void)s, (void)how;
	return -ENOTCONN;
}
static int sl_close(struct sock *s)
{
	free(s->proto);
	s->proto = NULL;
	return 0;
}
static int sl_name(struct sock *s, struct sock_ep *local)
{
	*local = *(const struct sock_ep *)s->proto;
	return 0;
}
static uint32_t sl_events(const struct sock *s)
{
	(void)s;
	return EPOLLOUT | EPOLLHUP; /* tcp_poll() in TCP_CLOSE */
}
static const struct sock_ops shut_listener_ops = {
	.bind = sl_bind,
	.listen = sl_listen,
	.accept = sl_accept,
	.connect = sl_connect,
	.send = sl_send,
	.recv = sl_recv,
	.shutdown = sl_shutdown,
	.close = sl_close,
	.name = sl_name,
	.events = sl_events,
};

int sock_shutdown(struct sock *s, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (sock_is_listener(s)) {
		/* Linux's inet_shutdown() on a listener: SHUT_WR does nothing;
		 * SHUT_RD stops it (queued connections are reset) and wakes a
		 * blocked accept, which then fails with EINVAL, the way another
		 * thread unblocks a server's accept */
		struct sock_ep *local;
		if (how == SHUT_WR)
			return 0;
		if (!(local = calloc(1, sizeof(*local))))
			return -ENOMEM;
		s->ops->name(s, local);
		s->ops->close(s);
		s->proto = local;
		s->ops = &shut_listener_ops;
		sock_wake(s);
		return 0;
	}
	return s->ops->shutdown ? s->ops->shutdown(s, how) : -ENOTCONN;
}

int sock_close(struct sock *s)
{
	int rc = 0;
	if (!s)
		return -EBADF;
	if (s->ops->close)
		rc = s->ops->close(s);
	free(s);
	return rc;
}

int sock_setopt(struct sock *s, int level, int name, const void *val, socklen_t len)
{
	if (len > 0 && !val)
		return -EFAULT;
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		struct sock_ep l;
		if (s->family != AF_INET6)
			return -ENOPROTOOPT;
		if (len < (socklen_t)sizeof(int))
			return -EINVAL;
		/* as Linux: fixed once the socket has a port */
		if (s->ops->name(s, &l) == 0 && l.port)
			return -EINVAL;
		s->v6only = *(const int *)val != 0;
		return 0;
	}
	return s->ops->setopt ? s->ops->setopt(s, level, name, val, len) : -ENOPROTOOPT;
}

int sock_getopt(struct sock *s, int level, int name, void *val, socklen_t *len)
{
	if (!len || (*len > 0 && !val))
		return -EFAULT;
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		if (s->family != AF_INET6)
			return -ENOPROTOOPT;
		if (*len < (socklen_t)sizeof(int))
			return -EINVAL;
		*(int *)val = s->v6only;
		*len = sizeof(int);
		return 0;
	}
	return s->ops->getopt ? s->ops->getopt(s, level, name, val, len) : -ENOPROTOOPT;
}

int sock_name(struct sock *s, union sock_addr_out local)
{
	struct sock_ep ep;
	int rc = s->ops->name(s, &ep);
	if (rc == 0)
		sock_addr_give(s, &ep, local.sa);
	return rc;
}

int sock_peer(struct sock *s, union sock_addr_out peer)
{
	struct sock_ep ep;
	int rc = s->ops->peer ? s->ops->peer(s, &ep) : -ENOTCONN;
	if (rc == 0)
		sock_addr_give(s, &ep, peer.sa);
	return rc;
}

int sock_family(const struct sock *s)
{
	return s->family;
}

uint32_t sock_events(const struct sock *s)
{
	return s->ops->events(s);
}

void sock_set_notify(struct sock *s, sock_notify_fn fn, void *arg)
{
	s->notify = fn;
	s->notify_arg = arg;
}

int sock_take_error(struct sock *s)
{
	return s->ops->take_error ? s->ops->take_error(s) : 0;
}

size_t sock_rx_bytes(const struct sock *s)
{
	return s->ops->rx_bytes ? s->ops->rx_bytes(s) : 0;
}

size_t sock_tx_bytes(const struct sock *s)
{
	return s->ops->tx_bytes ? s->ops->tx_bytes(s) : 0;
}

int sock_type(const struct sock *s)
{
	return s->type;
}

struct stack *sock_stack(const struct sock *s)
{
	return s->st;
}

void stack_foreach_sock(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg)
{
	tcp_foreach(st, fn, arg);
	udp_foreach(st, fn, arg);
}
