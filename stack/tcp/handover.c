/* A closing listener's connections go to another process listening on the
 * same port of a shared device (stack_cfg.shared_dev, e.g. nginx's old
 * workers at a reload), as the kernel's one listening socket keeps them for
 * the process that accepts next.
 *
 * A listener closed while the stack has a handover function is not freed:
 * it becomes an orphan that keeps its port. Each connection of its accept
 * queue (established, nothing sent yet: the request it received, a FIN) is
 * sent as a struct tcp_ho_conn through cfg.handover to a sibling that
 * listens on the port, which makes it again in its own listener's accept
 * queue and sends an ACK: the device's flow table (tun's: the queue that
 * last sent a flow) then brings the peer's next segments to it. A SYN that
 * reaches the orphan goes to a sibling as a struct tcp_ho_syn; the sibling's
 * SYN-ACK pins the flow the same way. Handshakes under way finish in the
 * orphan and go over then. Until a sibling listens the orphan serves as a
 * listener; what it still holds at the end (stack_handover_final) is reset,
 * as a closing listener's queue always was. */
#include <errno.h>
#include <string.h>

#include "tcb.h"

#define TCP_HO_MAGIC 0x444d484fu /* "DMHO" */
#define TCP_HO_DATA_MAX (64 * 1024)

enum { TCP_HO_CONN = 1, TCP_HO_SYN = 2, TCP_HO_SEG = 3 };

struct tcp_ho_head {
	uint32_t magic;
	uint16_t kind;
	uint16_t lport;
};

/* What an accepted-to-be connection is: no byte of ours sent yet. */
struct tcp_ho_conn {
	struct tcp_ho_head h;
	union ip_addr laddr, raddr;
	uint16_t lport, rport;
	uint32_t iss, irs, rcv_adv;
	uint32_t snd_wnd;
	uint32_t flags; /* TF_WS_OK, TF_TS_OK, TF_SACK_OK */
	uint8_t snd_wscale, rcv_wscale, fin;
	uint8_t syn_rcvd; /* the handshake is under way: the peer's ACK is still to come */
	uint16_t peer_mss, mss_clamp;
	uint32_t ts_recent, ts_offset;
	uint32_t len; /* data received, follows */
};

/* A SYN (TCP_HO_SYN), or a segment of a connection this process does not
 * have (TCP_HO_SEG, its payload follows). */
struct tcp_ho_syn {
	struct tcp_ho_head h;
	union ip_addr src, dst;
	struct tcp_hdr hdr;
	uint32_t len;
};

static int ho_on(const struct stack *st)
{
	return st->cfg.shared_dev && st->cfg.handover;
}

static uint32_t ho_hash(const union ip_addr *ra, const union ip_addr *rb, uint16_t pa, uint16_t pb)
{
	uint32_t a = ra->w[0] ^ ra->w[1] ^ ra->w[2] ^ ra->w[3], b = rb->w[0] ^ rb->w[1] ^ rb->w[2] ^ rb->w[3];
	uint32_t h = a * 0x9e3779b1u ^ b * 0x85ebca6bu ^ ((uint32_t)pa << 16 | pb) * 0xc2b2ae35u;
	return h ^ (h >> 15);
}

int tcp_listener_orphan(struct tcb *l)
{
	if (!ho_on(l->st))
		return 0;
	l->flags |= TF_ORPHAN;
	l->st->tcp->orphans++;
	l->st->tcp->listen_gen++;
	return 1;
}

/* A SYN at an orphan: to a sibling if there is one (1), else 0: the orphan
 * answers it itself. Retransmitted SYNs go to the same sibling. */
int tcp_handover_syn(struct tcb *l, const struct tcp_seg *seg)
{
	struct tcp_ho_syn m;
	struct stack *st = l->st;

	if (!ho_on(st) || (seg->h.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN || seg->len)
		return 0;
	memset(&m, 0, sizeof(m));
	m.h.magic = TCP_HO_MAGIC;
	m.h.kind = TCP_HO_SYN;
	m.h.lport = l->lport;
	m.src = seg->src;
	m.dst = seg->dst;
	m.hdr = seg->h;
	m.len = 0;
	if (st->cfg.handover(st->cfg.handover_arg, l->lport, &m, sizeof(m),
			     ho_hash(&seg->src, &seg->dst, seg->h.sport, seg->h.dport)) != 0)
		return 0;
	STAT_INC(st, TCP_HANDOVER_SYN_OUT);
	return 1;
}

/* A segment no connection or listener of this stack takes, on a shared
 * device: to every other process listening on its port; the one that has
 * the connection takes it. tun's flow table sends a flow to the queue that
 * last sent it, or by hash when it has no entry (a queue that moved when
 * another detached loses its entries): this is how such a segment still
 * reaches its connection. 1 if sent. */
int tcp_handover_seg(struct stack *st, const struct tcp_seg *seg)
{
	static uint8_t buf[sizeof(struct tcp_ho_syn) + 16384];
	struct tcp_ho_syn *m = (struct tcp_ho_syn *)buf;

	if (!ho_on(st) || seg->len > sizeof(buf) - sizeof(*m))
		return 0;
	memset(m, 0, sizeof(*m));
	m->h.magic = TCP_HO_MAGIC;
	m->h.kind = TCP_HO_SEG;
	m->h.lport = seg->h.dport;
	m->src = seg->src;
	m->dst = seg->dst;
	m->hdr = seg->h;
	m->len = seg->len;
	if (seg->len)
		memcpy(buf + sizeof(*m), seg->p->data, seg->len);
	if (st->cfg.handover(st->cfg.handover_arg, seg->h.dport, buf, sizeof(*m) + seg->len, UINT32_MAX) != 0)
		return 0;
	STAT_INC(st, TCP_HANDOVER_SEG_OUT);
	return 1;
}

/* A segment that meets a closing connection of this stack but acknowledges
 * nothing it sent: on a shared device it belongs to a newer connection of
 * the same addresses and ports in another process (TIME-WAIT here, the
 * peer reused its port there). Answering it would pin the flow here. */
int tcp_handover_not_mine(const struct tcb *t, const struct tcp_seg *seg)
{
	switch (t->state) {
	case TCP_STATE_FIN_WAIT_1:
	case TCP_STATE_FIN_WAIT_2:
	case TCP_STATE_CLOSING:
	case TCP_STATE_LAST_ACK:
	case TCP_STATE_TIME_WAIT:
		break;
	default:
		return 0;
	}
	return t->st->cfg.shared_dev && (seg->h.flags & (TCP_SYN | TCP_ACK)) == TCP_ACK &&
	       (seq_lt(seg->h.ack, t->snd_una) || seq_gt(seg->h.ack, t->snd_max));
}

/* A forwarded segment: taken only by the connection it belongs to. */
static int ho_seg_input(struct stack *st, const struct tcp_ho_syn *m, const uint8_t *data)
{
	struct tcb *t = tcp_lookup(st, &m->dst, m->hdr.dport, &m->src, m->hdr.sport);
	struct tcp_seg seg;

	if (!t || t->state == TCP_STATE_LISTEN || t->state == TCP_STATE_SYN_SENT)
		return -ENOENT;
	memset(&seg, 0, sizeof(seg));
	seg.h = m->hdr;
	if (tcp_handover_not_mine(t, &seg))
		return -ENOENT;
	memset(&seg, 0, sizeof(seg));
	seg.src = m->src, seg.dst = m->dst;
	seg.h = m->hdr;
	if (m->len) {
		if (!(seg.p = pbuf_alloc(st->pool)))
			return -ENOMEM;
		if (m->len > (uint32_t)(seg.p->size - (uint32_t)(seg.p->data - seg.p->head))) {
			pbuf_free(seg.p);
			return -EINVAL;
		}
		memcpy(pbuf_append(seg.p, m->len), data, m->len);
	}
	seg.len = m->len;
	seg.seqlen = seg.len + !!(seg.h.flags & TCP_SYN) + !!(seg.h.flags & TCP_FIN);
	STAT_INC(st, TCP_HANDOVER_SEG_IN);
	tcp_input_synced(t, &seg);
	pbuf_free(seg.p);
	return 0;
}

/* c's state and received data into buf: its length, or 0 if c cannot go
 * (it sent data, or holds too much). */
static size_t ho_export(const struct tcb *c, uint8_t *buf, size_t cap)
{
	struct tcp_ho_conn *m = (struct tcp_ho_conn *)buf;
	size_t off = sizeof(*m);

	if ((c->state != TCP_STATE_ESTABLISHED && c->state != TCP_STATE_CLOSE_WAIT && c->state != TCP_STATE_SYN_RECEIVED) ||
	    c->snd_max != c->iss + 1 || (c->flags & TF_COOKIE) ||
	    c->sb_len || (c->flags & TF_FIN_QUEUED) || c->rq_bytes > TCP_HO_DATA_MAX || off + c->rq_bytes > cap)
		return 0;
	memset(m, 0, sizeof(*m));
	m->h.magic = TCP_HO_MAGIC;
	m->h.kind = TCP_HO_CONN;
	m->h.lport = c->lport;
	m->laddr = c->laddr, m->raddr = c->raddr;
	m->lport = c->lport, m->rport = c->rport;
	m->iss = c->iss, m->irs = c->irs, m->rcv_adv = c->rcv_adv;
	m->snd_wnd = c->snd_wnd;
	m->flags = c->flags & (TF_WS_OK | TF_TS_OK | TF_SACK_OK);
	m->snd_wscale = c->snd_wscale, m->rcv_wscale = c->rcv_wscale;
	m->fin = c->state == TCP_STATE_CLOSE_WAIT;
	m->syn_rcvd = c->state == TCP_STATE_SYN_RECEIVED;
	m->peer_mss = c->peer_mss, m->mss_clamp = c->mss_clamp;
	m->ts_recent = c->ts_recent, m->ts_offset = c->ts_offset;
	for (const struct pbuf *p = c->rq_head; p; p = p->next) {
		memcpy(buf + off, p->data, p->len);
		off += p->len;
	}
	m->len = (uint32_t)(off - sizeof(*m));
	return off;
}

/* The orphan's accept queue to siblings; final: what cannot go is reset,
 * and the orphan goes. */
static void ho_flush_one(struct tcb *l, int final, uint8_t *buf, size_t cap)
{
	struct stack *st = l->st;
	struct tcb **pp = &l->synq, *c, *prev = NULL;

	/* handshakes under way: the sibling answers the peer's ACK */
	while ((c = *pp)) {
		size_t n = ho_export(c, buf, cap);
		if (n && st->cfg.handover(st->cfg.handover_arg, l->lport, buf, n,
					  ho_hash(&c->raddr, &c->laddr, c->rport, c->lport)) == 0) {
			*pp = c->qnext;
			l->synq_len--;
			c->qnext = NULL;
			c->parent = NULL;
			STAT_INC(st, TCP_HANDOVER_OUT);
			tcp_tcb_free(c);
			continue;
		}
		pp = &c->qnext;
	}
	pp = &l->acceptq;

	while ((c = *pp)) {
		size_t n = ho_export(c, buf, cap);
		int sent = n && st->cfg.handover(st->cfg.handover_arg, l->lport, buf, n,
						 ho_hash(&c->raddr, &c->laddr, c->rport, c->lport)) == 0;
		if (n && !sent && !final) { /* no sibling yet: it waits */
			prev = c;
			pp = &c->qnext;
			continue;
		}
		*pp = c->qnext;
		if (l->acceptq_tail == c)
			l->acceptq_tail = prev;
		l->acceptq_len--;
		c->qnext = NULL;
		c->parent = NULL;
		c->flags &= ~TF_ACCEPTQ;
		if (sent) {
			STAT_INC(st, TCP_HANDOVER_OUT);
		} else { /* as a closing listener's queue */
			tcp_send_rst(c);
			STAT_INC(st, TCP_CONN_RESET);
		}
		tcp_tcb_free(c); /* handed over: no RST, it lives on in the sibling */
	}
	if (!final)
		return;
	while (l->synq) {
		tcp_send_rst(l->synq);
		STAT_INC(st, TCP_CONN_RESET);
		tcp_tcb_free(l->synq);
	}
	st->tcp->orphans--;
	tcp_tcb_free(l);
}

static void ho_flush(struct stack *st, int final)
{
	static uint8_t buf[sizeof(struct tcp_ho_conn) + TCP_HO_DATA_MAX];
	struct tcb *t, *next;

	if (!st->tcp->orphans)
		return;
	for (t = st->tcp->all; t; t = next) {
		next = t->next;
		if ((t->flags & TF_ORPHAN) && t->state == TCP_STATE_LISTEN && (t->acceptq || t->synq || final))
			ho_flush_one(t, final, buf, sizeof(buf));
	}
}

void stack_handover_flush(struct stack *st)
{
	if (ho_on(st))
		ho_flush(st, 0);
}

void stack_handover_final(struct stack *st)
{
	if (ho_on(st))
		ho_flush(st, 1);
}

int stack_handover_pending(struct stack *st)
{
	if (!st->tcp->orphans)
		return 0;
	for (struct tcb *t = st->tcp->all; t; t = t->next)
		if ((t->flags & TF_ORPHAN) && (t->acceptq || t->synq))
			return 1;
	return 0;
}

uint32_t stack_tcp_listen_gen(const struct stack *st)
{
	return st->tcp->listen_gen;
}

int stack_tcp_listen_ports(struct stack *st, uint16_t *ports, int max)
{
	int n = 0, i;
	for (struct tcb *t = st->tcp->all; t; t = t->next) {
		if (t->state != TCP_STATE_LISTEN || (t->flags & TF_ORPHAN))
			continue;
		for (i = 0; i < n && ports[i] != t->lport; i++)
			;
		if (i == n && n < max)
			ports[n++] = t->lport;
	}
	return n;
}

/* A connection of the same addresses and ports here, in TIME-WAIT, ends
 * for the newer one (the peer reused its port), as a new SYN ends it; 0 if
 * none is left. */
static int ho_tuple_free(struct stack *st, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
			 uint16_t rport)
{
	struct tcb *t = tcp_lookup(st, laddr, lport, raddr, rport);
	if (!t)
		return 0;
	if (t->state != TCP_STATE_TIME_WAIT)
		return -EEXIST;
	STAT_INC(st, TCP_TIME_WAIT_REUSED);
	tcp_tcb_free(t);
	return 0;
}

/* An orphan takes what still reaches it, and hands it on. */
static struct tcb *ho_listener(struct stack *st, const union ip_addr *laddr, uint16_t lport)
{
	return tcp_lookup_listener(st, laddr, lport);
}

static int ho_import_conn(struct stack *st, const struct tcp_ho_conn *m, const uint8_t *data)
{
	struct tcb *l = ho_listener(st, &m->laddr, m->lport), *c;
	struct tcp_seg seg;
	uint32_t off = 0;

	if (!l || ho_tuple_free(st, &m->laddr, m->lport, &m->raddr, m->rport) != 0)
		return -ENOENT;
	if (!(c = tcp_tcb_alloc(st)))
		return -ENOMEM;
	c->flags |= l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0 | TF_RCVBUF_LOCK | TF_SNDBUF_LOCK);
	c->sndbuf = l->sndbuf, c->rcvbuf = l->rcvbuf;
	c->keepidle_s = l->keepidle_s, c->keepintvl_s = l->keepintvl_s, c->keepcnt = l->keepcnt;
	c->user_timeout_ms = l->user_timeout_ms, c->linger_s = l->linger_s, c->user_mss = l->user_mss;
	c->cco = l->cco;
	c->laddr = m->laddr, c->lport = m->lport, c->raddr = m->raddr, c->rport = m->rport;
	c->iss = m->iss, c->irs = m->irs;
	c->rcv_nxt = m->irs + 1;
	c->rcv_adv = m->rcv_adv;
	c->last_ack_sent = c->rcv_nxt;
	c->snd_una = m->iss + 1;
	c->snd_nxt = c->snd_max = m->iss + 1;
	c->snd_wl1 = m->irs + 1, c->snd_wl2 = m->iss + 1;
	c->snd_wnd = c->max_snd_wnd = m->snd_wnd;
	c->flags |= m->flags;
	c->snd_wscale = m->snd_wscale, c->rcv_wscale = m->rcv_wscale;
	c->peer_mss = m->peer_mss, c->mss_clamp = m->mss_clamp;
	c->mss = (uint16_t)(c->mss_clamp - ((c->flags & TF_TS_OK) ? 12 : 0));
	c->rcv_mss = c->mss;
	c->ts_recent = m->ts_recent, c->ts_offset = m->ts_offset;
	c->ts_recent_age = st->now;
	c->parent = l;
	tcp_set_state(c, TCP_STATE_SYN_RECEIVED);
	tcp_hash_insert(c);
	if (m->syn_rcvd) { /* our SYN-ACK again, from this queue; the peer's ACK completes it here */
		c->snd_una = m->iss;
		c->snd_nxt = c->snd_max = m->iss;
		c->snd_wl1 = m->irs, c->snd_wl2 = m->iss;
		c->rcv_adv = c->rcv_nxt;
		c->qnext = l->synq;
		l->synq = c;
		l->synq_len++;
		STAT_INC(st, TCP_HANDOVER_IN);
		tcp_send_syn(c);
		tcp_rto_arm(c);
		return 0;
	}
	tcp_established(c); /* into l's accept queue */
	STAT_INC(st, TCP_HANDOVER_IN);
	/* the data and FIN it had received, as segments from the peer */
	do {
		uint32_t n = m->len - off, room;
		memset(&seg, 0, sizeof(seg));
		seg.src = m->raddr, seg.dst = m->laddr;
		seg.h.sport = m->rport, seg.h.dport = m->lport;
		seg.h.seq = seg.seq0 = m->irs + 1 + off;
		seg.h.ack = m->iss + 1;
		seg.h.flags = TCP_ACK;
		seg.h.wnd = (uint16_t)(m->snd_wnd >> c->snd_wscale);
		if (c->flags & TF_TS_OK) {
			seg.h.opt.has = TCP_OPTF_TS;
			seg.h.opt.tsval = m->ts_recent;
		}
		if (n) {
			if (!(seg.p = pbuf_alloc(st->pool)))
				return 0; /* the peer sends it again */
			room = (uint32_t)(seg.p->size - (uint32_t)(seg.p->data - seg.p->head));
			if (n > room)
				n = room;
			memcpy(pbuf_append(seg.p, n), data + off, n);
			seg.h.flags |= TCP_PSH;
		}
		seg.len = n;
		off += n;
		if (off == m->len && m->fin)
			seg.h.flags |= TCP_FIN;
		seg.seqlen = seg.len + !!(seg.h.flags & TCP_FIN);
		if (!seg.seqlen)
			break;
		if (tcp_input_synced(c, &seg) == TCP_IN_GONE) {
			pbuf_free(seg.p);
			return 0;
		}
		pbuf_free(seg.p);
	} while (off < m->len);
	/* an ACK from this queue: the flow's next segments come here */
	tcp_send_ack(c);
	return 0;
}

int stack_handover_input(struct stack *st, const void *buf, size_t len)
{
	const struct tcp_ho_head *h = buf;
	struct tcp_seg seg;
	struct tcb *l;

	if (len < sizeof(*h) || h->magic != TCP_HO_MAGIC)
		return -EINVAL;
	if (h->kind == TCP_HO_CONN) {
		const struct tcp_ho_conn *m = buf;
		if (len < sizeof(*m) || len - sizeof(*m) != m->len)
			return -EINVAL;
		return ho_import_conn(st, m, (const uint8_t *)buf + sizeof(*m));
	}
	if (h->kind == TCP_HO_SEG && len >= sizeof(struct tcp_ho_syn)) {
		const struct tcp_ho_syn *m = buf;
		if (len - sizeof(*m) != m->len)
			return -EINVAL;
		return ho_seg_input(st, m, (const uint8_t *)buf + sizeof(*m));
	}
	if (h->kind == TCP_HO_SYN && len == sizeof(struct tcp_ho_syn)) {
		const struct tcp_ho_syn *m = buf;
		if (!(l = ho_listener(st, &m->dst, m->hdr.dport)) ||
		    ho_tuple_free(st, &m->dst, m->hdr.dport, &m->src, m->hdr.sport) != 0)
			return -ENOENT;
		memset(&seg, 0, sizeof(seg));
		seg.src = m->src, seg.dst = m->dst;
		seg.h = m->hdr;
		seg.seq0 = seg.h.seq;
		seg.seqlen = 1;
		STAT_INC(st, TCP_HANDOVER_SYN_IN);
		tcp_input_listen(l, &seg);
		return 0;
	}
	return -EINVAL;
}
