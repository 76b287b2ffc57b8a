/* Segment arrival (RFC 9293 §3.10.7): parse, find the connection, and the
 * handshake states: LISTEN (with the SYN queue, the accept queue and SYN
 * cookies) and SYN-SENT. The synchronized states are in synced.c. */
#include <errno.h>
#include <string.h>

#include "../net6.h"
#include "../wire/cksum.h"
#include "isn.h"
#include "tcb.h"

static const enum stack_counter tcp_parse_drop[] = {
	[TCP_ERR_SHORT] = DROP_TCP_SHORT, [TCP_ERR_OFF] = DROP_TCP_OFF,
	[TCP_ERR_OPT] = DROP_TCP_OPT,     [TCP_ERR_CKSUM] = DROP_TCP_CKSUM,
};

/* The peer's SYN options against ours: MSS clamped to our MTU, window
 * scaling and timestamps only when both sides offer them (RFC 7323 §2.2,
 * §3.2), SACK when both permit it (RFC 2018). */
void tcp_opts_apply_syn(struct tcb *t, const struct tcp_opts *opt)
{
	uint16_t ours = tcp_mss_ours(t);
	struct tcp_opts oo = *opt, *o = &oo;
	oo.has &= (uint8_t)~t->st->tcp->opts_off; /* what we do not offer is not agreed */
	t->peer_mss = (o->has & TCP_OPTF_MSS) ? o->mss : TCP_DEF_MSS;
	t->mss_clamp = t->peer_mss < ours ? t->peer_mss : ours;
	if (t->mss_clamp < 64)
		t->mss_clamp = 64;
	if (o->has & TCP_OPTF_WS) {
		t->flags |= TF_WS_OK;
		t->snd_wscale = o->wscale;
		t->rcv_wscale = TCP_WSCALE;
	} else {
		t->flags &= ~TF_WS_OK;
		t->snd_wscale = t->rcv_wscale = 0;
	}
	if (o->has & TCP_OPTF_TS) {
		t->flags |= TF_TS_OK;
		t->ts_recent = o->tsval;
		t->ts_recent_age = t->st->now;
	} else {
		t->flags &= ~TF_TS_OK;
	}
	if (o->has & TCP_OPTF_SACK_OK)
		t->flags |= TF_SACK_OK;
	else
		t->flags &= ~TF_SACK_OK;
	t->mss = (uint16_t)(t->mss_clamp - ((t->flags & TF_TS_OK) ? 12 : 0));
	t->rcv_mss = t->mss;
}

/* Both handshakes end here: the window starts, congestion control starts. */
void tcp_established(struct tcb *t)
{
	t->cc.mss = t->mss;
	t->cco->init(&t->cc, t->mss, t->st->now);
	t->backoff = 0;
	t->retransmits = 0;
	t->rtx_since = 0;
	t->last_rcv = t->st->now;
	t->recover = t->snd_una - 1; /* RFC 6582: nothing to recover yet */
	t->sb.rack = tcp_rack_on(t);
	tw_cancel(&t->st->tw, &t->rto_timer);
	tcp_keep_arm(t);
	if (t->parent)
		tcp_listener_child_ready(t);
	tcp_set_state(t, TCP_STATE_ESTABLISHED);
}

static void tcp_child_inherit(struct tcb *c, const struct tcb *l)
{
	c->flags |= l->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0 | TF_RCVBUF_LOCK | TF_SNDBUF_LOCK);
	c->sndbuf = l->sndbuf;
	c->rcvbuf = l->rcvbuf;
	c->keepidle_s = l->keepidle_s;
	c->keepintvl_s = l->keepintvl_s;
	c->keepcnt = l->keepcnt;
	c->user_timeout_ms = l->user_timeout_ms;
	c->linger_s = l->linger_s;
	c->user_mss = l->user_mss;
	c->cco = l->cco;
}

static struct tcb *tcp_child_new(struct tcb *l, const struct tcp_seg *seg)
{
	struct tcb *c = tcp_tcb_alloc(l->st);
	if (!c) {
		STAT_INC(l->st, DROP_TCP_NOMEM);
		return NULL;
	}
	tcp_child_inherit(c, l);
	c->laddr = seg->dst, c->lport = seg->h.dport;
	c->raddr = seg->src, c->rport = seg->h.sport;
	c->irs = seg->h.seq;
	c->rcv_nxt = seg->h.seq + 1;
	c->rcv_adv = c->rcv_nxt;
	c->parent = l;
	return c;
}

/* The SYN queue is full: answer with a cookie and keep no state (RFC 4987). */
static void tcp_listen_cookie(struct tcb *l, struct tcp_seg *seg)
{
	struct stack *st = l->st;
	struct tcb *c = tcp_child_new(l, seg);
	if (!c)
		return;
	c->parent = NULL;
	tcp_opts_apply_syn(c, &seg->h.opt);
	c->iss = tcp_syncookie_make(st->cfg.isn_secret, &c->laddr, c->lport, &c->raddr, c->rport,
				    seg->h.seq, c->mss_clamp, st->now);
	if (c->flags & TF_TS_OK) {
		/* options a cookie cannot hold ride in the TS value */
		c->ts_offset = tcp_syncookie_ts(tcp_ts_now(c), (c->flags & TF_WS_OK) ? c->snd_wscale : 15,
						!!(c->flags & TF_SACK_OK)) - tcp_ts_now(c);
	} else {
		c->flags &= ~(TF_WS_OK | TF_SACK_OK);
		c->snd_wscale = c->rcv_wscale = 0;
	}
	c->snd_una = c->iss;
	tcp_send_synack(c); /* c stays CLOSED: a template for the reply, freed at once */
	STAT_INC(st, TCP_COOKIES_SENT);
	tcp_tcb_free(c);
}

/* A segment no connection of this stack takes: answered with a RST, unless
 * other processes share the device (a queue each), where it may belong to
 * one of their connections, which a RST would kill: then it is dropped. */
static void tcp_refuse(struct stack *st, const struct tcp_seg *seg)
{
	if (st->cfg.shared_dev) {
		if (!tcp_handover_seg(st, seg))
			STAT_INC(st, DROP_TCP_NOT_OURS);
		return;
	}
	tcp_send_rst_for(st, seg);
}

/* An ACK at a listener: a returning SYN cookie makes the connection. */
static int tcp_listen_ack(struct tcb *l, struct tcp_seg *seg)
{
	struct stack *st = l->st;
	uint16_t mss;
	struct tcb *c;
	if (tcp_syncookie_check(st->cfg.isn_secret, &seg->dst, seg->h.dport, &seg->src, seg->h.sport,
				seg->h.seq - 1, seg->h.ack - 1, st->now, &mss) != 0) {
		STAT_INC(st, DROP_TCP_COOKIE_BAD);
		tcp_refuse(st, seg);
		return TCP_IN_DONE;
	}
	if ((int)l->acceptq_len >= l->backlog) {
		STAT_INC(st, DROP_TCP_ACCEPTQ_FULL);
		return TCP_IN_DONE;
	}
	if (!(c = tcp_child_new(l, seg)))
		return TCP_IN_DONE;
	c->irs = seg->h.seq - 1;
	c->rcv_nxt = seg->h.seq;
	c->iss = seg->h.ack - 1;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = seg->h.ack;
	c->rcv_adv = c->rcv_nxt + (c->rcvbuf < 65535 ? c->rcvbuf : 65535); /* as the SYN-ACK said */
	c->snd_wl1 = seg->h.seq;
	c->snd_wl2 = seg->h.ack;
	c->peer_mss = mss;
	c->mss_clamp = mss;
	if (seg->h.opt.has & TCP_OPTF_TS) {
		uint8_t ws;
		int sack;
		tcp_syncookie_ts_opts(seg->h.opt.tsecr, &ws, &sack);
		c->flags |= TF_TS_OK | (sack ? TF_SACK_OK : 0);
		if (ws != 15) {
			c->flags |= TF_WS_OK;
			c->snd_wscale = ws;
			c->rcv_wscale = TCP_WSCALE;
		}
		c->ts_recent = seg->h.opt.tsval;
		c->ts_recent_age = st->now;
		c->ts_offset = seg->h.opt.tsecr - (uint32_t)(st->now / 1000000); /* keep the echoed clock */
	}
	c->mss = (uint16_t)(c->mss_clamp - ((c->flags & TF_TS_OK) ? 12 : 0));
	c->rcv_mss = c->mss;
	c->snd_wnd = c->max_snd_wnd = (uint32_t)seg->h.wnd << c->snd_wscale;
	c->flags |= TF_COOKIE;
	tcp_set_state(c, TCP_STATE_SYN_RECEIVED);
	tcp_hash_insert(c);
	c->qnext = l->synq;
	l->synq = c;
	l->synq_len++;
	STAT_INC(st, TCP_COOKIES_ACCEPTED);
	/* the rest of the segment (data, FIN) as in SYN-RECEIVED */
	return tcp_input_synced(c, seg);
}

/* RFC 9293 §3.10.7.2: LISTEN. */
int tcp_input_listen(struct tcb *l, struct tcp_seg *seg)
{
	struct stack *st = l->st;
	uint32_t synq_max = l->backlog > 0 ? (uint32_t)l->backlog : 1;
	struct tcb *c;

	if (seg->h.flags & TCP_RST)
		return TCP_IN_DONE;
	if ((l->flags & TF_ORPHAN) && tcp_handover_syn(l, seg))
		return TCP_IN_DONE;
	if (seg->h.flags & TCP_ACK)
		return tcp_listen_ack(l, seg);
	if (!(seg->h.flags & TCP_SYN) || (seg->h.flags & TCP_FIN)) {
		STAT_INC(st, DROP_TCP_LISTEN_BAD); /* SYN+FIN too, as Linux */
		return TCP_IN_DONE;
	}
	if ((int)l->acceptq_len >= l->backlog) {
		STAT_INC(st, DROP_TCP_ACCEPTQ_FULL);
		return TCP_IN_DONE;
	}
	if (l->synq_len >= synq_max) {
		tcp_listen_cookie(l, seg);
		return TCP_IN_DONE;
	}
	if (!(c = tcp_child_new(l, seg)))
		return TCP_IN_DONE;
	tcp_opts_apply_syn(c, &seg->h.opt);
	c->iss = tcp_isn(st->cfg.isn_secret, &c->laddr, c->lport, &c->raddr, c->rport, st->now);
	c->ts_offset = (uint32_t)siphash24(st->cfg.isn_secret, &c->iss, 4);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_wnd = c->max_snd_wnd = seg->h.wnd; /* never scaled in a SYN */
	c->snd_wl1 = seg->h.seq;
	c->snd_wl2 = c->iss;
	tcp_set_state(c, TCP_STATE_SYN_RECEIVED);
	tcp_hash_insert(c);
	c->qnext = l->synq;
	l->synq = c;
	l->synq_len++;
	tcp_send_syn(c);
	tcp_rto_arm(c);
	return TCP_IN_DONE;
}

/* A child reached ESTABLISHED: from the SYN queue to the accept queue. */
void tcp_listener_child_ready(struct tcb *t)
{
	struct tcb *l = t->parent, **pp;
	for (pp = &l->synq; *pp && *pp != t; pp = &(*pp)->qnext)
		;
	if (*pp) {
		*pp = t->qnext;
		l->synq_len--;
	}
	t->qnext = NULL;
	if (l->acceptq_tail)
		l->acceptq_tail->qnext = t;
	else
		l->acceptq = t;
	l->acceptq_tail = t;
	l->acceptq_len++;
	t->flags |= TF_ACCEPTQ;
	STAT_INC(t->st, TCP_PASSIVE_OPENS);
	tcp_wake(l);
}

/* RFC 9293 §3.10.7.3: SYN-SENT. */
int tcp_input_syn_sent(struct tcb *t, struct tcp_seg *seg)
{
	const struct tcp_hdr *h = &seg->h;
	int ack_ok = (h->flags & TCP_ACK) && seq_gt(h->ack, t->iss) && seq_leq(h->ack, t->snd_max);

	if ((h->flags & TCP_ACK) && !ack_ok) {
		STAT_INC(t->st, DROP_TCP_SYN_SENT_BAD);
		tcp_send_rst_for(t->st, seg);
		return TCP_IN_DONE;
	}
	if (h->flags & TCP_RST) {
		if (!ack_ok) {
			STAT_INC(t->st, DROP_TCP_SYN_SENT_BAD);
			return TCP_IN_DONE;
		}
		STAT_INC(t->st, TCP_CONN_REFUSED);
		tcp_done(t, ECONNREFUSED);
		return TCP_IN_DONE;
	}
	if (!(h->flags & TCP_SYN)) {
		STAT_INC(t->st, DROP_TCP_SYN_SENT_BAD);
		return TCP_IN_DONE;
	}
	t->irs = h->seq;
	t->rcv_nxt = h->seq + 1;
	t->rcv_adv = t->rcv_nxt;
	tcp_opts_apply_syn(t, &h->opt);
	t->snd_wnd = t->max_snd_wnd = h->wnd; /* never scaled in a SYN */
	t->snd_wl1 = h->seq;
	t->snd_wl2 = h->ack;
	if (ack_ok) {
		if ((t->flags & TF_TS_OK) && h->opt.tsecr && t->backoff == 0)
			tcp_rtt_sample(t, (tcp_ts_now(t) - h->opt.tsecr) * 1000);
		else if (t->backoff == 0)
			tcp_rtt_sample(t, (uint32_t)((t->st->now - t->rtt_start) / 1000));
		t->snd_una = h->ack;
		if (seq_lt(t->snd_nxt, t->snd_una))
			t->snd_nxt = t->snd_una;
		STAT_INC(t->st, TCP_ACTIVE_OPENS);
		tcp_established(t);
		tcp_send_ack(t);
		return TCP_IN_DONE; /* data on a SYN-ACK is left for the peer to resend */
	}
	/* simultaneous open: SYN-RECEIVED, answer SYN-ACK */
	tcp_set_state(t, TCP_STATE_SYN_RECEIVED);
	tcp_send_syn(t);
	tcp_rto_arm(t);
	return TCP_IN_DONE;
}

static int tcp_addr_bad(uint32_t a)
{
	return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
}

/* An IPv6 source no connection may have: unspecified, multicast, or one
 * that reads as IPv4 (v4-mapped; ipaddr.h). */
static int tcp_addr6_bad(const union ip_addr *a)
{
	return ip_addr_is_zero(a) || a->b[0] == 0xff || ip_addr_is_v4(a);
}

/* Both families from here on: seg.src/dst set, the header parsed and its
 * checksum checked. */
static void tcp_input_seg(struct stack *st, struct pbuf *p, struct tcp_seg *seg)
{
	struct tcb *t;
	pbuf_adj(p, seg->h.off);
	seg->p = p;
	seg->len = p->len;
	seg->seqlen = seg->len + !!(seg->h.flags & TCP_SYN) + !!(seg->h.flags & TCP_FIN);

	t = tcp_lookup(st, &seg->dst, seg->h.dport, &seg->src, seg->h.sport);
	if (t && t->state == TCP_STATE_TIME_WAIT && (seg->h.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	    seq_gt(seg->h.seq, t->rcv_nxt) && tcp_lookup_listener(st, &seg->dst, seg->h.dport)) {
		/* RFC 9293 §3.10.7.4 / RFC 6191: a new SYN ends TIME-WAIT */
		STAT_INC(st, TCP_TIME_WAIT_REUSED);
		tcp_tcb_free(t);
		t = NULL;
	}
	if (t && tcp_handover_not_mine(t, seg) && tcp_handover_seg(st, seg)) {
		pbuf_free(seg->p); /* another process's newer connection */
		return;
	}
	if (!t) {
		struct tcb *l = tcp_lookup_listener(st, &seg->dst, seg->h.dport);
		if (l)
			tcp_input_listen(l, seg);
		else {
			STAT_INC(st, DROP_TCP_NO_SOCKET);
			tcp_refuse(st, seg);
		}
	} else if (t->state == TCP_STATE_SYN_SENT) {
		tcp_input_syn_sent(t, seg);
	} else {
		tcp_input_synced(t, seg);
	}
	pbuf_free(seg->p);
}

void tcp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m)
{
	struct tcp_seg seg = { .src = ip_addr_v4(m->src), .dst = ip_addr_v4(m->dst) };
	int rc;

	STAT_INC(st, TCP_RX_SEGS);
	if (p->flags & PBUF_F_RX_L4_CKSUM_BAD) {
		STAT_INC(st, DROP_TCP_CKSUM);
		pbuf_free(p);
		return;
	}
	rc = tcp_hdr_parse(p->data, p->len, m->src, m->dst, !m->l4_cksum_ok, &seg.h);
	if (rc) {
		STAT_INC(st, tcp_parse_drop[-rc]);
		pbuf_free(p);
		return;
	}
	if (tcp_addr_bad(m->src) || !seg.h.sport || !seg.h.dport) {
		STAT_INC(st, DROP_TCP_BAD_ADDR);
		pbuf_free(p);
		return;
	}
	tcp_input_seg(st, p, &seg);
}

void tcp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	struct tcp_seg seg = { .src = ip_addr_v6(&m->src), .dst = ip_addr_v6(&m->dst) };
	int rc;

	STAT_INC(st, TCP_RX_SEGS);
	if (p->flags & PBUF_F_RX_L4_CKSUM_BAD) {
		STAT_INC(st, DROP_TCP_CKSUM);
		pbuf_free(p);
		return;
	}
	/* the IPv6 pseudo-header here (RFC 8200 §8.1), the rest as IPv4's */
	if (!m->l4_cksum_ok &&
	    cksum_fold(cksum_partial(p->data, p->len, cksum_pseudo_ipv6(&m->src, &m->dst, IPPROTO_TCP, p->len)))) {
		STAT_INC(st, DROP_TCP_CKSUM);
		pbuf_free(p);
		return;
	}
	rc = tcp_hdr_parse(p->data, p->len, 0, 0, 0, &seg.h);
	if (rc) {
		STAT_INC(st, tcp_parse_drop[-rc]);
		pbuf_free(p);
		return;
	}
	if (tcp_addr6_bad(&seg.src) || ip_addr_is_v4(&seg.dst) || !seg.h.sport || !seg.h.dport) {
		STAT_INC(st, DROP_TCP_BAD_ADDR);
		pbuf_free(p);
		return;
	}
	tcp_input_seg(st, p, &seg);
}
