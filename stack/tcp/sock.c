/* The TCP socket: struct sock_ops over a TCB. Every call is non-blocking;
 * readiness follows Linux's tcp_poll(). */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "../net6.h"
#include "../wire/cksum.h"
#include "../wire/ipv4.h"
#include "isn.h"
#include "tcb.h"

void tcp_wake(struct tcb *t)
{
	if (t->sock)
		sock_wake(t->sock);
}

int tcp_sock_create(struct stack *st, struct sock **out)
{
	struct tcb *t = tcp_tcb_alloc(st);
	struct sock *s;
	if (!t)
		return -ENOMEM;
	if (!(s = sock_alloc(st, SOCK_STREAM, &tcp_sock_ops, t))) {
		tcp_tcb_free(t);
		return -ENOMEM;
	}
	t->sock = s;
	*out = s;
	return 0;
}

static struct tcb *tcb_of_sock(const struct sock *s)
{
	return (struct tcb *)s->proto;
}

/* ---- send buffer: a byte ring, allocated on first use, freed when empty ---- */

/* A send buffer given back: the smallest size goes to the stack's cache. */
static void tcp_sbuf_release(struct tcb *t, uint8_t *buf, uint32_t cap)
{
	struct tcp_table *tt = t->st->tcp;
	if (buf && cap == TCP_SBUF_MIN && tt->sb_ncache < TCP_SBUF_CACHE)
		tt->sb_cache[tt->sb_ncache++] = buf;
	else
		free(buf);
}

void tcp_sbuf_drop(struct tcb *t, uint32_t n)
{
	t->sb_len -= n;
	if (!t->sb_len) {
		/* idle connections hold no send buffer */
		tcp_sbuf_release(t, t->sbuf, t->sb_cap);
		t->sbuf = NULL;
		t->sb_cap = t->sb_head = 0;
	} else {
		t->sb_head = (t->sb_head + n) % t->sb_cap;
	}
}

static int tcp_sbuf_reserve(struct tcb *t, uint32_t need)
{
	struct tcp_table *tt = t->st->tcp;
	uint32_t cap = TCP_SBUF_MIN;
	uint8_t *nb;
	if (t->sb_cap >= need)
		return 0;
	while (cap < need)
		cap <<= 1;
	if (cap > t->sndbuf && need <= t->sndbuf)
		cap = t->sndbuf;
	if (cap == TCP_SBUF_MIN && tt->sb_ncache)
		nb = tt->sb_cache[--tt->sb_ncache];
	else if (!(nb = malloc(cap)))
		return -ENOMEM;
	if (t->sb_len) {
		uint32_t first = t->sb_cap - t->sb_head;
		if (first > t->sb_len)
			first = t->sb_len;
		memcpy(nb, t->sbuf + t->sb_head, first);
		memcpy(nb + first, t->sbuf, t->sb_len - first);
	}
	tcp_sbuf_release(t, t->sbuf, t->sb_cap);
	t->sbuf = nb;
	t->sb_cap = cap;
	t->sb_head = 0;
	return 0;
}

static void tcp_sbuf_append(struct tcb *t, const uint8_t *src, uint32_t len)
{
	uint32_t pos = (t->sb_head + t->sb_len) % t->sb_cap, first = t->sb_cap - pos;
	if (first > len)
		first = len;
	memcpy(t->sbuf + pos, src, first);
	memcpy(t->sbuf, src + first, len - first);
	t->sb_len += len;
}

/* ---- ops ---- */

/* A listener or bound socket of an AF_INET6 handle serves IPv4 too unless
 * IPV6_V6ONLY: the flag goes with the TCB into the bind hash. */
static int tcp_bind_port(struct tcb *t, const union ip_addr *laddr, uint16_t port)
{
	struct stack *st = t->st;
	int p;
	if (t->sock && t->sock->v6only)
		t->flags |= TF_V6ONLY;
	if (!port) {
		t->laddr = *laddr;
		if ((p = tcp_ephemeral_port(st, t, NULL, 0)) < 0)
			return p;
		port = (uint16_t)p;
	} else if (tcp_port_in_use(st, t, laddr, port)) {
		return -EADDRINUSE;
	}
	t->laddr = *laddr;
	t->lport = port;
	tcp_bind_insert(t);
	return 0;
}

/* The wildcard an unbound socket of s's family listens on: 0.0.0.0 or ::. */
static union ip_addr tcp_any_addr(const struct sock *s)
{
	union ip_addr a = { .q = { 0, 0 } };
	return s && s->family == AF_INET6 ? a : ip_addr_v4(0);
}

/* One of the stack's addresses, or a wildcard. */
static int tcp_addr_ours(const struct stack *st, const union ip_addr *a)
{
	union ip_addr mine = tcp_local_addr(st, a);
	return ip_addr_is_any(a) || (ip_addr_eq(a, &mine) && !ip_addr_is_zero(&mine));
}

static int tcp_op_bind(struct sock *s, const struct sock_ep *a)
{
	struct tcb *t = tcb_of_sock(s);
	if (!t || t->state != TCP_STATE_CLOSED || (t->flags & TF_BOUND))
		return -EINVAL;
	if (!tcp_addr_ours(t->st, &a->addr))
		return -EADDRNOTAVAIL;
	return tcp_bind_port(t, &a->addr, a->port);
}

static int tcp_op_listen(struct sock *s, int backlog)
{
	struct tcb *t = tcb_of_sock(s);
	int rc;
	if (!t || (t->state != TCP_STATE_CLOSED && t->state != TCP_STATE_LISTEN) || !ip_addr_is_zero(&t->raddr))
		return -EINVAL;
	if (backlog < 0)
		backlog = 0;
	if (backlog > 65535)
		backlog = 65535;
	if (t->state == TCP_STATE_CLOSED) {
		union ip_addr any = tcp_any_addr(s);
		if (!(t->flags & TF_BOUND) && (rc = tcp_bind_port(t, &any, 0)) != 0)
			return rc;
		/* SO_REUSEADDR let bind share the port with a socket that listens now */
		if (tcp_port_in_use(t->st, t, &t->laddr, t->lport))
			return -EADDRINUSE;
	}
	t->backlog = backlog + 1; /* Linux: full when more than backlog wait */
	if (t->state == TCP_STATE_CLOSED) {
		tcp_set_state(t, TCP_STATE_LISTEN);
		t->st->tcp->listen_gen++;
		if (ip_addr_is_v4(&t->laddr) || (ip_addr_is_zero(&t->laddr) && !(t->flags & TF_V6ONLY)))
			netif_steer(t->st->nif, IPPROTO_TCP, ip_addr_to_v4(&t->laddr), t->lport, 0, 0, 1);
	} else
		tcp_wake(t); /* a new backlog */
	return 0;
}

static void tcp_fill_addr(struct sock_ep *a, const union ip_addr *addr, uint16_t port)
{
	a->addr = *addr;
	a->port = port;
	a->family = ip_addr_is_v4(addr) ? AF_INET : AF_INET6;
}

static int tcp_op_accept(struct sock *s, struct sock **out, struct sock_ep *peer)
{
	struct tcb *l = tcb_of_sock(s), *c;
	struct sock *ns;
	if (!l || l->state != TCP_STATE_LISTEN)
		return -EINVAL;
	if (!(c = l->acceptq))
		return -EAGAIN;
	if (!(ns = sock_alloc(l->st, SOCK_STREAM, &tcp_sock_ops, c)))
		return -ENOMEM;
	l->acceptq = c->qnext;
	if (!l->acceptq)
		l->acceptq_tail = NULL;
	l->acceptq_len--;
	c->qnext = NULL;
	c->parent = NULL;
	c->flags &= ~TF_ACCEPTQ;
	c->sock = ns;
	if (peer)
		tcp_fill_addr(peer, &c->raddr, c->rport);
	*out = ns;
	return 0;
}

static int tcp_op_connect(struct sock *s, const struct sock_ep *a)
{
	struct tcb *t = tcb_of_sock(s);
	struct stack *st;
	int rc;
	if (!t)
		return -EBADF;
	st = t->st;
	switch (t->state) {
	case TCP_STATE_CLOSED:
		break;
	case TCP_STATE_SYN_SENT:
	case TCP_STATE_SYN_RECEIVED:
		return -EALREADY;
	case TCP_STATE_LISTEN:
		return -EINVAL;
	default:
		return -EISCONN;
	}
	if (!ip_addr_is_zero(&t->raddr)) { /* a connect that already ended */
		int e = t->so_error;
		t->so_error = 0;
		return e ? -e : -ECONNABORTED; /* as Linux */
	}
	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (ip_addr_is_any(&a->addr) || !a->port)
		return -EADDRNOTAVAIL;
	if (ip_addr_is_v4(&a->addr) ? !ipv4_next_hop(st, ip_addr_to_v4(&a->addr)) : !ipv6_enabled(st))
		return -ENETUNREACH;
	if ((t->flags & TF_BOUND) && !ip_addr_is_any(&t->laddr) &&
	    ip_addr_is_v4(&t->laddr) != ip_addr_is_v4(&a->addr))
		return -ENETUNREACH; /* bound to an address of the other family */
	if (!(t->flags & TF_BOUND)) {
		if ((rc = tcp_ephemeral_port(st, t, &a->addr, a->port)) < 0)
			return rc;
		t->laddr = tcp_local_addr(st, &a->addr);
		t->lport = (uint16_t)rc;
		t->flags |= TF_EPHEMERAL;
		tcp_bind_insert(t);
	}
	if (ip_addr_is_any(&t->laddr))
		t->laddr = tcp_local_addr(st, &a->addr);
	if (tcp_lookup(st, &t->laddr, t->lport, &a->addr, a->port))
		return -EADDRNOTAVAIL;
	t->raddr = a->addr;
	t->rport = a->port;
	t->iss = tcp_isn(st->cfg.isn_secret, &t->laddr, t->lport, &t->raddr, t->rport, st->now);
	t->ts_offset = (uint32_t)siphash24(st->cfg.isn_secret, &t->iss, 4);
	t->snd_una = t->snd_nxt = t->snd_max = t->iss;
	t->rcv_wscale = TCP_WSCALE;
	t->mss_clamp = tcp_mss_ours(t);
	tcp_set_state(t, TCP_STATE_SYN_SENT);
	tcp_hash_insert(t);
	if (ip_addr_is_v4(&t->raddr)) { /* the device steers IPv4 only */
		netif_steer(st->nif, IPPROTO_TCP, ip_addr_to_v4(&t->laddr), t->lport, ip_addr_to_v4(&t->raddr),
			    t->rport, 1);
		t->flags |= TF_STEERED;
	}
	t->rtt_start = st->now;
	tcp_send_syn(t);
	tcp_rto_arm(t);
	return -EINPROGRESS;
}

static ssize_t tcp_op_send(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			   const struct sock_ep *to)
{
	struct tcb *t = tcb_of_sock(s);
	size_t total = 0, done = 0, room;
	(void)to;
	if (!t)
		return -EPIPE;
	if (t->so_error) {
		int e = t->so_error;
		t->so_error = 0;
		return -e;
	}
	if (tcp_state_opening(t->state))
		return -EAGAIN;
	if (t->flags & TF_SND_SHUT)
		return -EPIPE;
	if (!tcp_state_can_send(t->state))
		return -EPIPE; /* Linux: also when never connected */
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (!total)
		return 0;
	if (!(t->flags & TF_SNDBUF_LOCK) && t->sndbuf < 2 * t->cc.cwnd && t->sndbuf < TCP_BUF_AUTO_MAX)
		t->sndbuf = 2 * t->cc.cwnd > TCP_BUF_AUTO_MAX ? TCP_BUF_AUTO_MAX : 2 * t->cc.cwnd; /* tcp_wmem-like */
	room = t->sndbuf > t->sb_len ? t->sndbuf - t->sb_len : 0;
	if (!room)
		return -EAGAIN;
	if (total > room)
		total = room;
	if (tcp_sbuf_reserve(t, t->sb_len + (uint32_t)total))
		return -ENOMEM;
	for (int i = 0; i < iovcnt && done < total; i++) {
		size_t n = iov[i].iov_len < total - done ? iov[i].iov_len : total - done;
		tcp_sbuf_append(t, iov[i].iov_base, (uint32_t)n);
		done += n;
	}
	if (flags & MSG_MORE)
		t->flags |= TF_MORE;
	else
		t->flags &= ~TF_MORE;
	if (t->snd_max == t->snd_una && t->st->now - t->last_send > (uint64_t)t->rto_ms * 1000000)
		t->cco->on_idle(&t->cc, t->st->now); /* RFC 5681 §4.1 */
	tcp_output(t);
	return (ssize_t)done;
}

/* Receive buffer autotuning (Linux's tcp_rcv_space_adjust, simplified):
 * when the application reads more than half the buffer within an RTT, the
 * window limits the flow: double the buffer, up to TCP_BUF_AUTO_MAX. */
static void tcp_rcvbuf_tune(struct tcb *t, uint32_t copied)
{
	uint64_t rtt = (uint64_t)(t->srtt_us ? t->srtt_us : 1000) * 1000;
	if (t->flags & TF_RCVBUF_LOCK)
		return;
	t->rcv_copied += copied;
	if (t->st->now - t->rcv_tune_at < rtt)
		return;
	if (t->rcv_copied > t->rcvbuf / 2 && t->rcvbuf < TCP_BUF_AUTO_MAX)
		t->rcvbuf = t->rcvbuf * 2 > TCP_BUF_AUTO_MAX ? TCP_BUF_AUTO_MAX : t->rcvbuf * 2;
	t->rcv_copied = 0;
	t->rcv_tune_at = t->st->now;
}

/* After the application read: advertise the opened window when it grew by
 * two segments (RFC 1122 §4.2.3.3 receiver SWS avoidance). Only a window the
 * header can carry counts: an ACK that repeats the advertised one is a
 * duplicate ACK to the peer, and a stream of them reads as reordering. */
static void tcp_window_update(struct tcb *t)
{
	uint32_t adv = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t used = tcp_rcv_used(t), space = used < t->rcvbuf ? t->rcvbuf - used : 0;
	uint32_t most = 65535u << t->rcv_wscale;
	if (!tcp_state_can_recv(t->state))
		return;
	if (space > most)
		space = most;
	space &= ~((1u << t->rcv_wscale) - 1);
	if (space > adv && (space - adv >= 2u * t->rcv_mss || space - adv >= t->rcvbuf / 2))
		tcp_send_ack(t);
}

static ssize_t tcp_op_recv(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			   struct sock_ep *from)
{
	struct tcb *t = tcb_of_sock(s);
	size_t copied = 0;
	uint32_t poff = 0;
	struct pbuf *p;
	if (!t)
		return 0;
	if (from)
		tcp_fill_addr(from, &t->raddr, t->rport);
	if (t->state == TCP_STATE_LISTEN ||
	    (t->state == TCP_STATE_CLOSED && ip_addr_is_zero(&t->raddr) && !(t->flags & TF_RCV_SHUT)))
		return -ENOTCONN;
	if (!t->rq_bytes) {
		if (t->so_error) {
			int e = t->so_error;
			t->so_error = 0;
			return -e;
		}
		if (t->flags & TF_RCV_SHUT)
			return 0;
		return -EAGAIN;
	}
	p = t->rq_head;
	for (int i = 0; i < iovcnt && p; i++) {
		size_t off = 0;
		while (off < iov[i].iov_len && p) {
			uint32_t n = p->len - poff;
			if (n > iov[i].iov_len - off)
				n = (uint32_t)(iov[i].iov_len - off);
			memcpy((uint8_t *)iov[i].iov_base + off, p->data + poff, n);
			off += n;
			copied += n;
			if (flags & MSG_PEEK) { /* a cursor, nothing consumed */
				poff += n;
				if (poff == p->len)
					p = p->next, poff = 0;
				continue;
			}
			pbuf_adj(p, n);
			t->rq_bytes -= n;
			if (!p->len) {
				t->rq_head = p->next;
				if (!t->rq_head)
					t->rq_tail = NULL;
				t->rq_pbufs--;
				pbuf_free(p);
				p = t->rq_head;
			}
		}
	}
	if (!(flags & MSG_PEEK)) {
		tcp_rcvbuf_tune(t, (uint32_t)copied);
		tcp_window_update(t);
	}
	return (ssize_t)copied;
}

/* Our sending side ends: FIN after the queued data. */
static void tcp_queue_fin(struct tcb *t)
{
	if (t->flags & TF_FIN_QUEUED)
		return;
	t->flags |= TF_FIN_QUEUED | TF_SND_SHUT;
	t->fin_seq = t->snd_una + t->sb_len;
	if (t->state == TCP_STATE_ESTABLISHED || t->state == TCP_STATE_SYN_RECEIVED)
		tcp_set_state(t, TCP_STATE_FIN_WAIT_1);
	else if (t->state == TCP_STATE_CLOSE_WAIT)
		tcp_set_state(t, TCP_STATE_LAST_ACK);
	t->flags &= ~(TF_CORK | TF_MORE);
	tcp_output(t);
}

static int tcp_op_shutdown(struct sock *s, int how)
{
	struct tcb *t = tcb_of_sock(s);
	if (t && t->state == TCP_STATE_CLOSED && ip_addr_is_zero(&t->raddr) && how != SHUT_WR)
		t->flags |= TF_RCV_SHUT; /* as Linux: ENOTCONN, yet reads then see the end */
	if (!t || !tcp_state_have_established(t->state))
		return -ENOTCONN;
	if (how == SHUT_RD || how == SHUT_RDWR)
		t->flags |= TF_RCV_SHUT;
	if ((how == SHUT_WR || how == SHUT_RDWR) && tcp_state_can_send(t->state))
		tcp_queue_fin(t);
	tcp_wake(t);
	return 0;
}

static void tcp_listener_close(struct tcb *l)
{
	struct stack *st = l->st;
	union ip_addr laddr = l->laddr;
	uint16_t lport = l->lport;
	int steered = ip_addr_is_v4(&laddr) || (ip_addr_is_zero(&laddr) && !(l->flags & TF_V6ONLY));

	if (tcp_listener_orphan(l))
		return;
	while (l->synq)
		tcp_tcb_free(l->synq);
	while (l->acceptq) {
		struct tcb *c = l->acceptq;
		tcp_send_rst(c);
		STAT_INC(l->st, TCP_CONN_RESET);
		tcp_tcb_free(c);
	}
	tcp_tcb_free(l);
	if (steered && !tcp_lookup_listener(st, &laddr, lport)) /* the port's last listener */
		netif_steer(st->nif, IPPROTO_TCP, ip_addr_to_v4(&laddr), lport, 0, 0, 0);
}

static int tcp_op_close(struct sock *s)
{
	struct tcb *t = tcb_of_sock(s);
	if (!t)
		return 0;
	t->sock = NULL;
	s->proto = NULL;
	switch (t->state) {
	case TCP_STATE_LISTEN:
		tcp_listener_close(t);
		return 0;
	case TCP_STATE_CLOSED:
	case TCP_STATE_SYN_SENT:
		tcp_tcb_free(t);
		return 0;
	default:
		break;
	}
	if (t->rq_bytes || ((t->flags & TF_LINGER0) && t->state != TCP_STATE_TIME_WAIT) ||
	    t->state == TCP_STATE_SYN_RECEIVED) {
		/* RFC 9293 §3.10.4 / RFC 2525 §2.17: unread data, or SO_LINGER 0: abort */
		STAT_INC(t->st, TCP_CONN_RESET);
		tcp_send_rst(t);
		tcp_done(t, 0);
		return 0;
	}
	if (tcp_state_can_send(t->state))
		tcp_queue_fin(t);
	else if (t->state == TCP_STATE_FIN_WAIT_2)
		tcp_keep_arm(t);
	return 0;
}

static int tcp_int_arg(const void *val, socklen_t len, int *out)
{
	if (len < sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

static int tcp_put_int(void *val, socklen_t *len, int v)
{
	socklen_t n = *len < sizeof(int) ? *len : sizeof(int);
	memcpy(val, &v, n);
	*len = n;
	return 0;
}

static void tcp_flag(struct tcb *t, uint32_t f, int on)
{
	if (on)
		t->flags |= f;
	else
		t->flags &= ~f;
}

static int tcp_setopt_sol(struct tcb *t, int name, const void *val, socklen_t len)
{
	int v, rc;
	if (name == SO_LINGER) {
		struct linger lg;
		if (len < sizeof(lg))
			return -EINVAL;
		memcpy(&lg, val, sizeof(lg));
		tcp_flag(t, TF_LINGER0, lg.l_onoff && lg.l_linger == 0);
		t->linger_s = lg.l_onoff ? (uint32_t)lg.l_linger : 0;
		return 0;
	}
	if ((rc = tcp_int_arg(val, len, &v)))
		return rc;
	switch (name) {
	case SO_REUSEADDR:
		tcp_flag(t, TF_REUSEADDR, v);
		return 0;
	case SO_REUSEPORT:
		tcp_flag(t, TF_REUSEPORT, v);
		return 0;
	case SO_KEEPALIVE:
		tcp_flag(t, TF_KEEPALIVE, v);
		if (v && tcp_state_have_established(t->state))
			tcp_keep_arm(t);
		return 0;
	case SO_RCVBUF:
	case SO_SNDBUF: {
		/* Linux doubles the value for bookkeeping overhead */
		uint64_t b = (uint64_t)(v < 1152 ? 1152 : v) * 2;
		if (b > TCP_BUF_MAX)
			b = TCP_BUF_MAX;
		if (name == SO_RCVBUF) {
			t->rcvbuf = (uint32_t)b;
			t->flags |= TF_RCVBUF_LOCK;
		} else {
			t->sndbuf = (uint32_t)(b < t->sb_len ? t->sb_len : b);
			t->flags |= TF_SNDBUF_LOCK;
		}
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_setopt_tcp(struct tcb *t, int name, const void *val, socklen_t len)
{
	int v, rc;
	if (name == TCP_CONGESTION) {
		char nm[16] = { 0 };
		const struct tcp_cc_ops *ops;
		memcpy(nm, val, len < sizeof(nm) - 1 ? len : sizeof(nm) - 1);
		if (!(ops = tcp_cc_find(nm)))
			return -ENOENT;
		if (ops != t->cco) {
			t->cco = ops;
			if (tcp_state_have_established(t->state)) {
				uint32_t cwnd = t->cc.cwnd, ssth = t->cc.ssthresh;
				ops->init(&t->cc, t->mss, t->st->now);
				t->cc.cwnd = cwnd, t->cc.ssthresh = ssth;
			}
		}
		return 0;
	}
	if ((rc = tcp_int_arg(val, len, &v)))
		return rc;
	switch (name) {
	case TCP_NODELAY:
		tcp_flag(t, TF_NODELAY, v);
		if (v)
			tcp_output(t);
		return 0;
	case TCP_CORK:
		tcp_flag(t, TF_CORK, v);
		if (!v && tcp_state_have_established(t->state))
			tcp_output(t);
		return 0;
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		if (name == TCP_KEEPIDLE)
			t->keepidle_s = (uint32_t)v;
		else
			t->keepintvl_s = (uint32_t)v;
		if ((t->flags & TF_KEEPALIVE) && tcp_state_have_established(t->state))
			tcp_keep_arm(t);
		return 0;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		t->keepcnt = (uint32_t)v;
		return 0;
	case TCP_MAXSEG: /* caps the MSS of the next handshake, as Linux's user_mss */
		if (v && (v < 88 || v > 65535))
			return -EINVAL;
		t->user_mss = (uint16_t)v;
		return 0;
	case TCP_FASTOPEN: /* as Linux: only before a connection, closed or listening */
		if (v < 0 || (t->state != TCP_STATE_CLOSED && t->state != TCP_STATE_LISTEN))
			return -EINVAL;
		return 0;
	case TCP_USER_TIMEOUT:
		if (v < 0)
			return -EINVAL;
		t->user_timeout_ms = (uint32_t)v;
		return 0;
	case TCP_DEFER_ACCEPT:
	case TCP_QUICKACK:
		return 0; /* known, accepted, without effect */
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_op_setopt(struct sock *s, int level, int name, const void *val, socklen_t len)
{
	struct tcb *t = tcb_of_sock(s);
	if (!t)
		return -EBADF;
	if (level == SOL_SOCKET)
		return tcp_setopt_sol(t, name, val, len);
	if (level == IPPROTO_TCP)
		return tcp_setopt_tcp(t, name, val, len);
	return -ENOPROTOOPT;
}

static uint8_t tcp_linux_state(int s)
{
	static const uint8_t map[TCP_STATE_MAX] = {
		[TCP_STATE_CLOSED] = TCP_CLOSE,         [TCP_STATE_LISTEN] = TCP_LISTEN,
		[TCP_STATE_SYN_SENT] = TCP_SYN_SENT,    [TCP_STATE_SYN_RECEIVED] = TCP_SYN_RECV,
		[TCP_STATE_ESTABLISHED] = TCP_ESTABLISHED, [TCP_STATE_FIN_WAIT_1] = TCP_FIN_WAIT1,
		[TCP_STATE_FIN_WAIT_2] = TCP_FIN_WAIT2, [TCP_STATE_CLOSE_WAIT] = TCP_CLOSE_WAIT,
		[TCP_STATE_CLOSING] = TCP_CLOSING,      [TCP_STATE_LAST_ACK] = TCP_LAST_ACK,
		[TCP_STATE_TIME_WAIT] = TCP_TIME_WAIT,
	};
	return map[s];
}

static void tcp_info_get(const struct tcb *t, struct tcp_info *ti)
{
	uint32_t mss = t->mss ? t->mss : 1;
	memset(ti, 0, sizeof(*ti));
	ti->tcpi_state = tcp_linux_state(t->state);
	ti->tcpi_ca_state = (t->flags & TF_IN_RECOVERY) ? 3 : 0;
	ti->tcpi_retransmits = (uint8_t)t->retransmits;
	ti->tcpi_backoff = t->backoff;
	ti->tcpi_options = ((t->flags & TF_TS_OK) ? TCPI_OPT_TIMESTAMPS : 0) |
			   ((t->flags & TF_SACK_OK) ? TCPI_OPT_SACK : 0) | ((t->flags & TF_WS_OK) ? TCPI_OPT_WSCALE : 0);
	ti->tcpi_snd_wscale = t->snd_wscale & 15;
	ti->tcpi_rcv_wscale = t->rcv_wscale & 15;
	ti->tcpi_rto = t->rto_ms * 1000;
	ti->tcpi_ato = TCP_DELACK_MS * 1000;
	ti->tcpi_snd_mss = t->mss;
	ti->tcpi_rcv_mss = t->rcv_mss;
	ti->tcpi_unacked = (tcp_flight(t) + mss - 1) / mss;
	ti->tcpi_sacked = t->sb.sacked_bytes / mss;
	ti->tcpi_pmtu = t->st->mtu;
	ti->tcpi_rcv_ssthresh = t->rcvbuf;
	ti->tcpi_rtt = t->srtt_us;
	ti->tcpi_rttvar = t->rttvar_us;
	ti->tcpi_snd_ssthresh = t->cc.ssthresh == UINT32_MAX ? 0x7fffffff : t->cc.ssthresh / mss;
	ti->tcpi_snd_cwnd = t->cc.cwnd / mss;
	ti->tcpi_advmss = tcp_mss_ours(t);
	ti->tcpi_reordering = 3;
	ti->tcpi_rcv_space = t->rcvbuf;
	ti->tcpi_total_retrans = t->total_retrans;
}

static int tcp_getopt_sol(struct tcb *t, int name, void *val, socklen_t *len)
{
	switch (name) {
	case SO_REUSEADDR:
		return tcp_put_int(val, len, !!(t->flags & TF_REUSEADDR));
	case SO_REUSEPORT:
		return tcp_put_int(val, len, !!(t->flags & TF_REUSEPORT));
	case SO_KEEPALIVE:
		return tcp_put_int(val, len, !!(t->flags & TF_KEEPALIVE));
	case SO_RCVBUF:
		return tcp_put_int(val, len, (int)t->rcvbuf);
	case SO_SNDBUF:
		return tcp_put_int(val, len, (int)t->sndbuf);
	case SO_TYPE:
		return tcp_put_int(val, len, SOCK_STREAM);
	case SO_ACCEPTCONN:
		return tcp_put_int(val, len, t->state == TCP_STATE_LISTEN);
	case SO_ERROR: {
		int e = t->so_error;
		t->so_error = 0;
		return tcp_put_int(val, len, e);
	}
	case SO_LINGER: {
		struct linger lg = { .l_onoff = (t->flags & TF_LINGER0) || t->linger_s, .l_linger = (int)t->linger_s };
		socklen_t n = *len < sizeof(lg) ? *len : sizeof(lg);
		memcpy(val, &lg, n);
		*len = n;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_getopt_tcp(struct tcb *t, int name, void *val, socklen_t *len)
{
	switch (name) {
	case TCP_NODELAY:
		return tcp_put_int(val, len, !!(t->flags & TF_NODELAY));
	case TCP_CORK:
		return tcp_put_int(val, len, !!(t->flags & TF_CORK));
	case TCP_KEEPIDLE:
		return tcp_put_int(val, len, (int)t->keepidle_s);
	case TCP_KEEPINTVL:
		return tcp_put_int(val, len, (int)t->keepintvl_s);
	case TCP_KEEPCNT:
		return tcp_put_int(val, len, (int)t->keepcnt);
	case TCP_MAXSEG: /* as Linux: the cap while closed or listening, else the MSS in use */
		if (t->user_mss && (t->state == TCP_STATE_CLOSED || t->state == TCP_STATE_LISTEN))
			return tcp_put_int(val, len, t->user_mss);
		return tcp_put_int(val, len, tcp_state_have_established(t->state) ? t->mss : TCP_DEF_MSS);
	case TCP_USER_TIMEOUT:
		return tcp_put_int(val, len, (int)t->user_timeout_ms);
	case TCP_DEFER_ACCEPT:
	case TCP_FASTOPEN:
	case TCP_QUICKACK:
		return tcp_put_int(val, len, 0);
	case TCP_INFO: {
		struct tcp_info ti;
		socklen_t n = *len < sizeof(ti) ? *len : sizeof(ti);
		tcp_info_get(t, &ti);
		memcpy(val, &ti, n);
		*len = n;
		return 0;
	}
	case TCP_CONGESTION: {
		size_t n = strlen(t->cco->name) + 1;
		if (n > *len)
			n = *len;
		memcpy(val, t->cco->name, n);
		*len = (socklen_t)n;
		return 0;
	}
	default:
		return -ENOPROTOOPT;
	}
}

static int tcp_op_getopt(struct sock *s, int level, int name, void *val, socklen_t *len)
{
	struct tcb *t = tcb_of_sock(s);
	if (!t)
		return -EBADF;
	if (level == SOL_SOCKET)
		return tcp_getopt_sol(t, name, val, len);
	if (level == IPPROTO_TCP)
		return tcp_getopt_tcp(t, name, val, len);
	return -ENOPROTOOPT;
}

static int tcp_op_name(struct sock *s, struct sock_ep *local)
{
	struct tcb *t = tcb_of_sock(s);
	union ip_addr none = { .q = { 0, 0 } };
	tcp_fill_addr(local, t ? &t->laddr : &none, t ? t->lport : 0);
	return 0;
}

static int tcp_op_peer(struct sock *s, struct sock_ep *peer)
{
	struct tcb *t = tcb_of_sock(s);
	if (!t || ip_addr_is_zero(&t->raddr) || !tcp_state_have_rcvd_syn(t->state))
		return -ENOTCONN;
	tcp_fill_addr(peer, &t->raddr, t->rport);
	return 0;
}

/* As Linux's tcp_poll(). */
static uint32_t tcp_op_events(const struct sock *s)
{
	const struct tcb *t = tcb_of_sock(s);
	uint32_t ev = 0;
	int rshut, wshut;
	if (!t)
		return EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLRDHUP;
	if (t->state == TCP_STATE_LISTEN)
		return t->acceptq ? EPOLLIN : 0;
	rshut = !!(t->flags & TF_RCV_SHUT);
	wshut = !!(t->flags & TF_SND_SHUT);
	if ((rshut && wshut) || t->state == TCP_STATE_CLOSED)
		ev |= EPOLLHUP;
	if (rshut)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (!tcp_state_opening(t->state)) {
		if (t->rq_bytes)
			ev |= EPOLLIN;
		if (wshut || (t->sndbuf > t->sb_len && t->sndbuf - t->sb_len >= t->sb_len / 2))
			ev |= EPOLLOUT;
	}
	if (t->so_error)
		ev |= EPOLLERR;
	return ev;
}

static int tcp_op_take_error(struct sock *s)
{
	struct tcb *t = tcb_of_sock(s);
	int e;
	if (!t)
		return 0;
	e = t->so_error;
	t->so_error = 0;
	return e;
}

static size_t tcp_op_rx_bytes(const struct sock *s)
{
	const struct tcb *t = tcb_of_sock(s);
	return t ? t->rq_bytes : 0;
}

static size_t tcp_op_tx_bytes(const struct sock *s)
{
	const struct tcb *t = tcb_of_sock(s);
	return t ? t->sb_len : 0;
}

const struct sock_ops tcp_sock_ops = {
	.bind = tcp_op_bind,
	.listen = tcp_op_listen,
	.accept = tcp_op_accept,
	.connect = tcp_op_connect,
	.send = tcp_op_send,
	.recv = tcp_op_recv,
	.shutdown = tcp_op_shutdown,
	.close = tcp_op_close,
	.setopt = tcp_op_setopt,
	.getopt = tcp_op_getopt,
	.name = tcp_op_name,
	.peer = tcp_op_peer,
	.events = tcp_op_events,
	.take_error = tcp_op_take_error,
	.rx_bytes = tcp_op_rx_bytes,
	.tx_bytes = tcp_op_tx_bytes,
};

/* RFC 1191 for a connection: a smaller MSS from now on (clamp: the largest
 * payload and options a segment may now carry), and what was in flight
 * sent again at that size with the window as it was (the segments were
 * dropped for their size, not for congestion), as Linux's
 * tcp_simple_retransmit. */
static void tcp_mtu_lower(struct tcb *t, uint16_t clamp)
{
	if (clamp >= t->mss_clamp)
		return;
	STAT_INC(t->st, TCP_PMTU_REDUCED);
	t->mss_clamp = clamp;
	t->mss = (uint16_t)(clamp - ((t->flags & TF_TS_OK) ? 12 : 0));
	t->cc.mss = t->mss;
	t->flags &= ~(TF_IN_RECOVERY | TF_RTT_TIMING);
	t->recovery_extra = 0;
	t->dupacks = 0;
	t->high_rxt = t->snd_una;
	t->snd_nxt = t->snd_una;
	tcp_output(t);
}

/* The connection an ICMP error quotes, if the quoted seq is in flight
 * (RFC 5927 §4.1). */
static struct tcb *tcp_icmp_tcb(struct stack *st, const union ip_addr *src, uint16_t sport,
				const union ip_addr *dst, uint16_t dport, uint32_t seq)
{
	struct tcb *t = tcp_lookup(st, src, sport, dst, dport);
	if (!t || !tcp_state_have_established(t->state) || !seq_geq(seq, t->snd_una) || !seq_lt(seq, t->snd_max)) {
		STAT_INC(st, DROP_TCP_ICMP_MTU);
		return NULL;
	}
	return t;
}

void tcp_icmp_mtu(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
		  uint16_t mtu)
{
	struct tcb *t = tcp_icmp_tcb(st, IP_ADDR_V4_PTR(src), sport, IP_ADDR_V4_PTR(dst), dport, seq);
	if (!t)
		return;
	mtu = stack_path_mtu_learn(st, dst, mtu);
	tcp_mtu_lower(t, (uint16_t)(mtu - IPV4_HDR_LEN - TCP_HDR_LEN));
}

/* ICMP destination unreachable and friends (RFC 1122 §4.2.3.9): hard
 * errors end a connection that is still opening; later ones are soft. */
static void tcp_unreach(struct stack *st, const union ip_addr *src, uint16_t sport, const union ip_addr *dst,
			uint16_t dport, int err)
{
	struct tcb *t = tcp_lookup(st, src, sport, dst, dport);
	if (!t || t->state != TCP_STATE_SYN_SENT)
		return;
	STAT_INC(st, TCP_CONN_UNREACH);
	tcp_done(t, err);
}

void tcp_icmp_error(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, int err)
{
	tcp_unreach(st, IP_ADDR_V4_PTR(src), sport, IP_ADDR_V4_PTR(dst), dport, err);
}

/* ICMPv6 (RFC 4443) about a segment we sent: Packet Too Big lowers the MSS
 * to the path's (the network layer keeps the path MTU, RFC 8201), and a
 * destination unreachable is an error as over IPv4 (RFC 4443 §3.1 codes
 * as Linux's icmpv6_err_convert). */
void tcp_icmp6_error(struct stack *st, const struct ipv6_meta *inner, const uint8_t *l4, uint32_t l4_len,
		     uint8_t type, uint8_t code, uint32_t mtu)
{
	union ip_addr src = ip_addr_v6(&inner->src), dst = ip_addr_v6(&inner->dst);
	uint16_t sport, dport;
	struct tcb *t;
	if (l4_len < 8)
		return;
	sport = rd16(l4), dport = rd16(l4 + 2);
	if (type == ICMP6_PACKET_TOO_BIG) {
		if (mtu < 1280) /* RFC 8201 §4: never below the IPv6 minimum */
			mtu = 1280;
		if ((t = tcp_icmp_tcb(st, &src, sport, &dst, dport, rd32(l4 + 4))) != NULL) {
			uint32_t path = ipv6_max_payload(st, &dst.in6) + 40u;
			if (path < mtu)
				mtu = path;
			tcp_mtu_lower(t, (uint16_t)(mtu - 40 - TCP_HDR_LEN));
		}
		return;
	}
	if (type == ICMP6_DST_UNREACH) {
		static const int errs[] = { ENETUNREACH, EACCES, EHOSTUNREACH, EHOSTUNREACH, ECONNREFUSED,
					    EACCES, EACCES };
		tcp_unreach(st, &src, sport, &dst, dport, code < 7 ? errs[code] : EHOSTUNREACH);
	}
}
