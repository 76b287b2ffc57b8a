/* The public socket API: argument checks common to every protocol, then a
 * dispatch to the protocol's ops (tcp/sock.c, udp.c). An op a protocol does
 * not have answers as Linux does for that socket type. */
#include <errno.h>
#include <stdlib.h>
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
	s->ops = ops;
	s->proto = proto;
	return s;
}

int sock_create(struct stack *st, int type, struct sock **out)
{
	if (!st || !out)
		return -EINVAL;
	switch (type) {
	case SOCK_STREAM:
		return tcp_sock_create(st, out);
	case SOCK_DGRAM:
		return udp_sock_create(st, out);
	default:
		return -ESOCKTNOSUPPORT;
	}
}

int sock_bind(struct sock *s, const struct sockaddr_in *addr)
{
	if (!addr)
		return -EFAULT;
	if (addr->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	return s->ops->bind ? s->ops->bind(s, addr) : -EOPNOTSUPP;
}

int sock_listen(struct sock *s, int backlog)
{
	return s->ops->listen ? s->ops->listen(s, backlog) : -EOPNOTSUPP;
}

int sock_accept(struct sock *s, struct sock **out, struct sockaddr_in *peer)
{
	return s->ops->accept ? s->ops->accept(s, out, peer) : -EOPNOTSUPP;
}

int sock_connect(struct sock *s, const struct sockaddr_in *addr)
{
	if (!addr)
		return -EFAULT;
	if (addr->sin_family != AF_INET && addr->sin_family != AF_UNSPEC)
		return -EAFNOSUPPORT;
	return s->ops->connect ? s->ops->connect(s, addr) : -EOPNOTSUPP;
}

ssize_t sock_send(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
		  const struct sockaddr_in *to)
{
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	if (to && to->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	return s->ops->send(s, iov, iovcnt, flags, to);
}

ssize_t sock_recv(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
		  struct sockaddr_in *from)
{
	if (iovcnt < 0 || (iovcnt > 0 && !iov))
		return -EINVAL;
	return s->ops->recv(s, iov, iovcnt, flags, from);
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
static int sl_bind(struct sock *s, const struct sockaddr_in *a)
{
	(void)s, (void)a;
	return sl_einval();
}
static int sl_listen(struct sock *s, int backlog)
{
	(void)s, (void)backlog;
	return sl_einval();
}
static int sl_accept(struct sock *s, struct sock **out, struct sockaddr_in *peer)
{
	(void)s, (void)out, (void)peer;
	return sl_einval(); /* what a thread blocked in accept() gets */
}
static int sl_connect(struct sock *s, const struct sockaddr_in *a)
{
	(void)s, (void)a;
	return sl_einval();
}
static ssize_t sl_send(struct sock *s, const struct iovec *iov, int n, int flags, const struct sockaddr_in *to)
{
	(void)s, (void)iov, (void)n, (void)flags, (void)to;
	return -EPIPE;
}
static ssize_t sl_recv(struct sock *s, const struct iovec *iov, int n, int flags, struct sockaddr_in *from)
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
static int sl_name(struct sock *s, struct sockaddr_in *local)
{
	*local = *(const struct sockaddr_in *)s->proto;
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
		struct sockaddr_in *local;
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
	return s->ops->setopt ? s->ops->setopt(s, level, name, val, len) : -ENOPROTOOPT;
}

int sock_getopt(struct sock *s, int level, int name, void *val, socklen_t *len)
{
	if (!len || (*len > 0 && !val))
		return -EFAULT;
	return s->ops->getopt ? s->ops->getopt(s, level, name, val, len) : -ENOPROTOOPT;
}

int sock_name(struct sock *s, struct sockaddr_in *local)
{
	return s->ops->name(s, local);
}

int sock_peer(struct sock *s, struct sockaddr_in *peer)
{
	return s->ops->peer ? s->ops->peer(s, peer) : -ENOTCONN;
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
