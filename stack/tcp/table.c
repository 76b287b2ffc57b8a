/* The connection table: TCBs hashed by 4-tuple, listeners and bound sockets
 * by local port, ephemeral ports, TCB life and death, and the entry points
 * ipv4.c and stack.c call (init, fini, foreach). */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "demi/log.h"
#include "isn.h"
#include "tcb.h"

static uint32_t fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* IPv4 hashes the IPv4 words alone, as before the address was 16 bytes;
 * IPv6 folds the other words in first. */
uint32_t tcp_hash(const struct tcp_table *tt, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		  uint16_t rport)
{
	uint32_t k, l = laddr->w[3], r = raddr->w[3];
	memcpy(&k, tt->key, 4);
	if (!ip_addr_is_v4(raddr)) {
		l ^= fmix32(laddr->w[0] ^ fmix32(laddr->w[1] ^ fmix32(laddr->w[2] ^ k)));
		r ^= fmix32(raddr->w[0] ^ fmix32(raddr->w[1] ^ fmix32(raddr->w[2] ^ k)));
	}
	return fmix32(r ^ fmix32(l ^ k) ^ ((uint32_t)rport << 16 | lport) * 0x9e3779b1u) & (tt->nbuckets - 1);
}

static uint32_t tcp_port_bucket(const struct tcp_table *tt, uint16_t port)
{
	return (port * 0x9e3779b1u >> 12) & (tt->nbuckets - 1);
}

struct tcb *tcp_lookup(struct stack *st, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		       uint16_t rport)
{
	struct tcp_table *tt = st->tcp;
	for (struct tcb *t = tt->hash[tcp_hash(tt, laddr, lport, raddr, rport)]; t; t = t->hnext)
		if (t->rport == rport && t->lport == lport && ip_addr_eq(&t->raddr, raddr) &&
		    ip_addr_eq(&t->laddr, laddr))
			return t;
	return NULL;
}

/* As Linux's scores: the exact address first, then 0.0.0.0 (IPv4), then ::. */
struct tcb *tcp_lookup_listener(struct stack *st, const union ip_addr *laddr, uint16_t lport)
{
	struct tcp_table *tt = st->tcp;
	struct tcb *any = NULL, *any6 = NULL;
	for (struct tcb *t = tt->bhash[tcp_port_bucket(tt, lport)]; t; t = t->bnext) {
		if (t->lport != lport || t->state != TCP_STATE_LISTEN)
			continue;
		if (ip_addr_eq(&t->laddr, laddr))
			return t;
		if (ip_addr_is_zero(&t->laddr)) {
			if (!any6 && ip_addr_covers(&t->laddr, !!(t->flags & TF_V6ONLY), laddr))
				any6 = t;
		} else if (!any && ip_addr_is_any(&t->laddr) && ip_addr_is_v4(laddr)) {
			any = t;
		}
	}
	return any ? any : any6;
}

void tcp_hash_insert(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	uint32_t b = tcp_hash(tt, &t->laddr, t->lport, &t->raddr, t->rport);
	t->hnext = tt->hash[b];
	tt->hash[b] = t;
	t->flags |= TF_HASHED;
}

void tcp_hash_remove(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	struct tcb **pp;
	if (!(t->flags & TF_HASHED))
		return;
	pp = &tt->hash[tcp_hash(tt, &t->laddr, t->lport, &t->raddr, t->rport)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = t->hnext;
	t->flags &= ~TF_HASHED;
}

void tcp_bind_insert(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	uint32_t b = tcp_port_bucket(tt, t->lport);
	t->bnext = tt->bhash[b];
	tt->bhash[b] = t;
	t->flags |= TF_BOUND;
}

void tcp_bind_remove(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	struct tcb **pp;
	if (!(t->flags & TF_BOUND))
		return;
	pp = &tt->bhash[tcp_port_bucket(tt, t->lport)];
	while (*pp && *pp != t)
		pp = &(*pp)->bnext;
	if (*pp)
		*pp = t->bnext;
	t->flags &= ~TF_BOUND;
}

/* bind(2)'s conflict rule, as Linux: the same port and overlapping
 * addresses conflict unless both set SO_REUSEPORT, or both set
 * SO_REUSEADDR and the other one is not listening. */
int tcp_port_in_use(struct stack *st, const struct tcb *t, const union ip_addr *laddr, uint16_t port)
{
	struct tcp_table *tt = st->tcp;
	for (struct tcb *b = tt->bhash[tcp_port_bucket(tt, port)]; b; b = b->bnext) {
		if (b == t || b->lport != port)
			continue;
		if (!ip_addr_overlap(&b->laddr, !!(b->flags & TF_V6ONLY), laddr, !!(t->flags & TF_V6ONLY)))
			continue;
		if ((t->flags & b->flags & TF_REUSEPORT))
			continue;
		if ((t->flags & TF_REUSEADDR) && b->state != TCP_STATE_LISTEN &&
		    ((b->flags & TF_REUSEADDR) || b->state == TCP_STATE_TIME_WAIT))
			continue;
		return 1;
	}
	return 0;
}

/* May connect() use this port towards (raddr, rport)? As Linux: ports
 * picked by connect() are shared between destinations; the 4-tuple must be
 * free and nobody may have bound the port explicitly. */
static int tcp_port_connectable(struct stack *st, uint16_t port, const union ip_addr *raddr, uint16_t rport)
{
	struct tcp_table *tt = st->tcp;
	union ip_addr laddr = tcp_local_addr(st, raddr);
	for (struct tcb *b = tt->bhash[tcp_port_bucket(tt, port)]; b; b = b->bnext)
		if (b->lport == port && !(b->flags & TF_EPHEMERAL))
			return 0;
	return !tcp_lookup(st, &laddr, port, raddr, rport);
}

union ip_addr tcp_local_addr(const struct stack *st, const union ip_addr *a)
{
	return ip_addr_is_v4(a) ? ip_addr_v4(st->addr) : ip_addr_v6(&st->cfg.addr6);
}

/* A local port for connect() to (raddr, rport), scanning from a rotating
 * cursor (RFC 6056 algorithm 1's simple form). */
int tcp_ephemeral_port(struct stack *st, struct tcb *t, const union ip_addr *raddr, uint16_t rport)
{
	struct tcp_table *tt = st->tcp;
	const uint16_t lo = 32768, n = 61000 - 32768;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(lo + (tt->next_ephemeral + i) % n);
		if (raddr ? tcp_port_connectable(st, port, raddr, rport) : !tcp_port_in_use(st, t, &t->laddr, port)) {
			tt->next_ephemeral = (uint16_t)((tt->next_ephemeral + i + 1) % n);
			return port;
		}
	}
	return -EADDRNOTAVAIL;
}

struct tcb *tcp_tcb_alloc(struct stack *st)
{
	struct tcp_table *tt = st->tcp;
	struct tcb *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	static_assert(TCP_STATE_CLOSED == 0, "calloc makes a TCB CLOSED");
	t->st = st;
	t->sndbuf = TCP_SNDBUF_DEFAULT;
	t->rcvbuf = TCP_RCVBUF_DEFAULT;
	t->keepidle_s = TCP_KEEPIDLE_S;
	t->keepintvl_s = TCP_KEEPINTVL_S;
	t->keepcnt = TCP_DEF_KEEPCNT;
	t->rto_ms = TCP_RTO_INIT_MS;
	t->mss = TCP_DEF_MSS;
	t->rcv_mss = TCP_DEF_MSS;
	t->cco = st->cfg.cc == STACK_CC_NEWRENO ? &tcp_cc_newreno : &tcp_cc_cubic;
	tcp_sb_reset(&t->sb);
	tcp_timers_init(t);
	t->next = tt->all;
	if (tt->all)
		tt->all->prev = t;
	tt->all = t;
	tt->count++;
	return t;
}

uint32_t tcp_rcv_used(const struct tcb *t)
{
	uint32_t bytes = t->rq_bytes + t->ooo_bytes;
	uint32_t held = (t->rq_pbufs + t->ooo_pbufs) * (t->st->pool->buf_size / 2);
	return bytes > held ? bytes : held;
}

void tcp_rcvq_purge(struct tcb *t)
{
	while (t->rq_head) {
		struct pbuf *p = t->rq_head;
		t->rq_head = p->next;
		pbuf_free(p);
	}
	t->rq_tail = NULL;
	t->rq_bytes = t->rq_pbufs = 0;
}

static void tcp_sbuf_free(struct tcb *t)
{
	free(t->sbuf);
	t->sbuf = NULL;
	tcp_txlog_free(t);
	t->sb_cap = t->sb_head = t->sb_len = 0;
}

static void tcp_queue_unlink(struct tcb *t)
{
	struct tcb *l = t->parent, **pp;
	if (!l)
		return;
	if (t->flags & TF_ACCEPTQ) {
		struct tcb *prev = NULL;
		for (pp = &l->acceptq; *pp && *pp != t; pp = &(*pp)->qnext)
			prev = *pp;
		if (*pp) {
			*pp = t->qnext;
			if (l->acceptq_tail == t)
				l->acceptq_tail = prev;
			l->acceptq_len--;
		}
	} else {
		for (pp = &l->synq; *pp && *pp != t; pp = &(*pp)->qnext)
			;
		if (*pp) {
			*pp = t->qnext;
			l->synq_len--;
		}
	}
	t->parent = NULL;
	t->qnext = NULL;
	t->flags &= ~TF_ACCEPTQ;
}

void tcp_tcb_free(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	if (t->flags & TF_STEERED)
		netif_steer(t->st->nif, IPPROTO_TCP, ip_addr_to_v4(&t->laddr), t->lport, ip_addr_to_v4(&t->raddr),
			    t->rport, 0);
	tcp_timers_stop(t);
	tcp_hash_remove(t);
	tcp_bind_remove(t);
	tcp_queue_unlink(t);
	tcp_rcvq_purge(t);
	tcp_reass_purge(t);
	tcp_sbuf_free(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		tt->all = t->next;
	if (t->next)
		t->next->prev = t->prev;
	tt->count--;
	if (t->sock)
		t->sock->proto = NULL;
	free(t);
}

static const enum stack_counter tcp_state_entered[TCP_STATE_MAX] = {
	[TCP_STATE_CLOSED] = TCP_ENTERED_CLOSED,
	[TCP_STATE_LISTEN] = TCP_ENTERED_LISTEN,
	[TCP_STATE_SYN_SENT] = TCP_ENTERED_SYN_SENT,
	[TCP_STATE_SYN_RECEIVED] = TCP_ENTERED_SYN_RECEIVED,
	[TCP_STATE_ESTABLISHED] = TCP_ENTERED_ESTABLISHED,
	[TCP_STATE_FIN_WAIT_1] = TCP_ENTERED_FIN_WAIT_1,
	[TCP_STATE_FIN_WAIT_2] = TCP_ENTERED_FIN_WAIT_2,
	[TCP_STATE_CLOSE_WAIT] = TCP_ENTERED_CLOSE_WAIT,
	[TCP_STATE_CLOSING] = TCP_ENTERED_CLOSING,
	[TCP_STATE_LAST_ACK] = TCP_ENTERED_LAST_ACK,
	[TCP_STATE_TIME_WAIT] = TCP_ENTERED_TIME_WAIT,
};

static void tcp_state_trace(const struct tcb *t, int from, int to)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	ip_addr_str(&t->laddr, l, sizeof(l));
	ip_addr_str(&t->raddr, r, sizeof(r));
	demi_log(DEMI_LOG_DEBUG, "tcp: %s:%u -> %s:%u: %s -> %s", l, t->lport, r, t->rport,
		 stack_tcp_state_name(from), stack_tcp_state_name(to));
}

/* The only writer of a TCB's state. A TCB is born CLOSED (calloc), so one
 * made directly in a state (a listener's child, a SYN cookie's, the one
 * that holds TIME-WAIT) enters it here too. A change is counted by the
 * state entered and traced at debug level; the socket's waiters are woken
 * either way. */
void tcp_set_state(struct tcb *t, int state)
{
	int from = t->state;
	t->state = (uint8_t)state;
	if (state != from) {
		STAT_INC(t->st, tcp_state_entered[state]);
		if (demi_log_on(DEMI_LOG_DEBUG))
			tcp_state_trace(t, from, state);
	}
	tcp_wake(t);
}

void tcp_done(struct tcb *t, int err)
{
	if (err)
		t->so_error = err;
	tcp_timers_stop(t);
	tcp_hash_remove(t);
	tcp_reass_purge(t);
	tcp_sbuf_free(t);
	t->flags |= TF_RCV_SHUT | TF_SND_SHUT;
	tcp_set_state(t, TCP_STATE_CLOSED); /* wakes the socket, if one holds t */
	if (!t->sock || t->parent)
		tcp_tcb_free(t);
}

/* A TCB without a socket takes t's place for TIME-WAIT: what TIME-WAIT
 * needs of the connection (the tw group, the options agreed, the
 * SO_REUSE* flags), its 4-tuple hash entry and its port. The caller ends t
 * and arms the clone's timer. NULL when out of memory: no TIME-WAIT then. */
struct tcb *tcp_time_wait_clone(struct tcb *t)
{
	const uint32_t keep = TF_WS_OK | TF_TS_OK | TF_SACK_OK | TF_REUSEADDR | TF_REUSEPORT | TF_EPHEMERAL |
			      TF_STEERED;
	struct tcb *w = tcp_tcb_alloc(t->st);
	if (!w)
		return NULL;
	w->tw = t->tw;
	w->flags = t->flags & keep;
	t->flags &= ~TF_STEERED; /* the clone keeps the device's steering */
	w->rcvbuf = 0; /* its ACKs offer no window beyond the one advertised */
	tcp_set_state(w, TCP_STATE_TIME_WAIT);
	tcp_hash_remove(t);
	tcp_hash_insert(w);
	if (t->flags & TF_BOUND) {
		tcp_bind_remove(t);
		tcp_bind_insert(w);
	}
	return w;
}

int tcp_init(struct stack *st)
{
	struct tcp_table *tt = calloc(1, sizeof(*tt));
	uint32_t n = 16384;
	if (!tt)
		return -ENOMEM;
	while (n < st->cfg.max_socks && n < (1u << 22))
		n <<= 1;
	tt->nbuckets = n;
	tt->hash = calloc(n, sizeof(*tt->hash));
	tt->bhash = calloc(n, sizeof(*tt->bhash));
	if (!tt->hash || !tt->bhash) {
		free(tt->hash);
		free(tt->bhash);
		free(tt);
		return -ENOMEM;
	}
	tt->time_wait_ms = TCP_TIME_WAIT_MS;
	memcpy(tt->key, st->cfg.isn_secret, 16);
	tt->key[0] ^= 0x5a; /* not the ISN key itself */
	tt->next_ephemeral = (uint16_t)(siphash24(st->cfg.isn_secret, "port", 4) % (61000 - 32768));
	st->tcp = tt;
	return 0;
}

/* Every connection is reset and freed; sockets still held by the
 * application lose their TCB (their calls answer as on a closed socket). */
void tcp_fini(struct stack *st)
{
	struct tcp_table *tt = st->tcp;
	if (!tt)
		return;
	while (tt->all) {
		struct tcb *t = tt->all;
		if (tcp_state_have_rcvd_syn(t->state) && t->state != TCP_STATE_TIME_WAIT)
			tcp_send_rst(t);
		tcp_tcb_free(t);
	}
	while (tt->sb_ncache)
		free(tt->sb_cache[--tt->sb_ncache]);
	while (tt->txlog_ncache)
		free(tt->txlog_cache[--tt->txlog_ncache]);
	free(tt->hash);
	free(tt->bhash);
	free(tt);
	st->tcp = NULL;
}

/* Shown as IPv6: a connection with an IPv6 peer, a socket bound to an
 * IPv6 address or to :: (an unbound AF_INET6 one too). */
static int tcp_shown_v6(const struct tcb *t)
{
	if (!ip_addr_is_zero(&t->raddr))
		return !ip_addr_is_v4(&t->raddr);
	if (!ip_addr_is_zero(&t->laddr))
		return !ip_addr_is_v4(&t->laddr);
	return t->sock ? t->sock->family == AF_INET6 : (t->flags & TF_BOUND) != 0;
}

static void tcp_info_fill(const struct tcb *t, struct sock_info *si)
{
	memset(si, 0, sizeof(*si));
	sock_info_addr(si, tcp_shown_v6(t), &t->laddr, t->lport, &t->raddr, t->rport);
	si->type = SOCK_STREAM;
	si->state = t->state;
	si->snd_queue = t->sb_len;
	si->rcv_queue = t->rq_bytes;
	si->cwnd = t->cc.cwnd;
	si->ssthresh = t->cc.ssthresh;
	si->srtt_us = t->srtt_us;
	si->rto_us = t->rto_ms * 1000;
	si->mss = t->mss;
	si->retransmits = t->total_retrans;
}

void tcp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg)
{
	struct sock_info si;
	if (!st->tcp)
		return;
	for (struct tcb *t = st->tcp->all; t; t = t->next) {
		tcp_info_fill(t, &si);
		fn(&si, arg);
	}
}

const char *stack_tcp_state_name(int state)
{
	static const char *const names[TCP_STATE_MAX] = {
		"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
		"FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
	};
	return state >= 0 && state < TCP_STATE_MAX ? names[state] : "?";
}

int stack_tcp_closing(struct stack *st, union sock_addr_in local, union sock_addr_in peer)
{
	struct sock_ep l, p;
	struct tcb *t;
	if (!st->tcp || sock_ep_parse(local.sa, &l) || sock_ep_parse(peer.sa, &p))
		return 0;
	t = tcp_lookup(st, &l.addr, l.port, &p.addr, p.port);
	return t && tcp_state_fin_unacked(t->state);
}
