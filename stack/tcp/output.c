/* Segment output: building segments by copying from the send buffer into
 * fresh pbufs, the send decision (windows, Nagle, cork, SACK-based and
 * NewReno recovery), control segments and RSTs. */
#include <errno.h>
#include <string.h>

#include "../wire/cksum.h"
#include "../net6.h"
#include "../wire/ipv4.h"
#include "tcb.h"

#define TCP_IPV6_HDR_LEN 40 /* the fixed header: MSS and room for IPv6 */

uint16_t tcp_mss_for_mtu(const struct stack *st)
{
	uint32_t m = (uint32_t)st->mtu - IPV4_HDR_LEN - TCP_HDR_LEN;
	uint32_t room = st->pool->buf_size - PBUF_HEADROOM - TCP_HDR_MAX;
	return (uint16_t)(m < room ? m : room);
}

/* IPv6: the MTU less 60 bytes of headers, then the path's (RFC 8201). */
static uint16_t tcp_mss_ours6(const struct tcb *t)
{
	uint16_t m = tcp_mss_for_mtu(t->st);
	uint32_t path = ipv6_max_payload(t->st, &t->raddr.in6);
	m = (uint16_t)(m - (TCP_IPV6_HDR_LEN - IPV4_HDR_LEN));
	if (path - TCP_HDR_LEN < m)
		m = (uint16_t)(path - TCP_HDR_LEN);
	return m;
}

uint16_t tcp_mss_ours(const struct tcb *t)
{
	uint16_t m;
	if (ip_addr_is_v4(&t->raddr)) {
		uint16_t path = stack_path_mtu(t->st, ip_addr_to_v4(&t->raddr));
		m = tcp_mss_for_mtu(t->st);
		if (path < t->st->mtu && path - IPV4_HDR_LEN - TCP_HDR_LEN < m)
			m = (uint16_t)(path - IPV4_HDR_LEN - TCP_HDR_LEN);
	} else {
		m = tcp_mss_ours6(t);
	}
	return t->user_mss && t->user_mss < m ? t->user_mss : m;
}

uint32_t tcp_ts_now(const struct tcb *t)
{
	return (uint32_t)(t->st->now / 1000000) + t->ts_offset;
}

uint32_t tcp_flight(const struct tcb *t)
{
	return t->snd_max - t->snd_una;
}

/* Free receive space: SO_RCVBUF less what waits in the queues. */
static uint32_t tcp_rcv_space(const struct tcb *t)
{
	uint32_t used = tcp_rcv_used(t);
	return used < t->rcvbuf ? t->rcvbuf - used : 0;
}

/* The window to advertise: never moves the right edge left (RFC 9293 §3.8.6). */
uint32_t tcp_rcv_window(const struct tcb *t)
{
	uint32_t w = tcp_rcv_space(t);
	if (seq_lt(t->rcv_nxt + w, t->rcv_adv))
		w = t->rcv_adv - t->rcv_nxt;
	return w;
}

static uint16_t tcp_wnd_field(struct tcb *t, int syn)
{
	uint32_t w = tcp_rcv_window(t), f;
	if (syn)
		f = w > 65535 ? 65535 : w;
	else {
		f = w >> t->rcv_wscale;
		if (f > 65535)
			f = 65535;
	}
	if (seq_gt(t->rcv_nxt + (f << (syn ? 0 : t->rcv_wscale)), t->rcv_adv))
		t->rcv_adv = t->rcv_nxt + (f << (syn ? 0 : t->rcv_wscale));
	return (uint16_t)f;
}

/* SACK blocks from the reassembly queue (RFC 2018 §4): a D-SACK first if
 * data came twice (RFC 2883 §4), then the block holding the latest arrival,
 * then the blocks of the arrivals before it, then the lowest others. The
 * whole queue is walked: with many holes the latest block is often far
 * above the first few, and leaving it out leaves the sender blind. */
static void tcp_sack_blocks(const struct tcb *t, struct tcp_opts *o)
{
	struct { uint32_t s, e; int rank; } c[TCP_SACK_MAX_BLOCKS];
	int nc = 0, filler = TCP_SACK_MAX_BLOCKS;
	const struct pbuf *p = t->ooo;
	while (p) {
		uint32_t s = (uint32_t)p->user[0], e = s + p->len + (uint32_t)(p->user[1] & 1);
		int rank, i;
		for (p = p->next; p && (uint32_t)p->user[0] == e; p = p->next)
			e += p->len + (uint32_t)(p->user[1] & 1);
		rank = filler;
		for (i = 0; i < t->sack_mru_n && i < rank; i++)
			if (seq_in(t->sack_mru[i].s, s, e))
				rank = i;
		if (rank == filler)
			filler++;
		if (nc == TCP_SACK_MAX_BLOCKS && rank > c[nc - 1].rank)
			continue;
		if (nc == TCP_SACK_MAX_BLOCKS)
			nc--;
		for (i = nc; i > 0 && c[i - 1].rank > rank; i--)
			c[i] = c[i - 1];
		c[i].s = s, c[i].e = e, c[i].rank = rank;
		nc++;
		/* stop once no arrival still ahead could rank above the worst kept */
		if (nc == TCP_SACK_MAX_BLOCKS) {
			for (i = 0; i < t->sack_mru_n && i < c[nc - 1].rank; i++)
				if (seq_geq(t->sack_mru[i].s, e))
					break;
			if (i == t->sack_mru_n || i >= c[nc - 1].rank)
				break;
		}
	}
	o->nsack = 0;
	if (t->dsack)
		o->sack[o->nsack].start = t->dsack_s, o->sack[o->nsack++].end = t->dsack_e;
	for (int i = 0; i < nc && o->nsack < TCP_SACK_MAX_BLOCKS; i++)
		o->sack[o->nsack].start = c[i].s, o->sack[o->nsack++].end = c[i].e;
	if (o->nsack)
		o->has |= TCP_OPTF_SACK;
}

static void tcp_syn_opts(struct tcb *t, struct tcp_opts *o, int synack)
{
	o->has = TCP_OPTF_MSS;
	o->mss = tcp_mss_ours(t);
	if (!synack || (t->flags & TF_WS_OK)) {
		o->has |= TCP_OPTF_WS;
		o->wscale = t->rcv_wscale;
	}
	if (!synack || (t->flags & TF_SACK_OK))
		o->has |= TCP_OPTF_SACK_OK;
	if (!synack || (t->flags & TF_TS_OK))
		o->has |= TCP_OPTF_TS;
	o->has &= (uint8_t)~t->st->tcp->opts_off;
}

static void tcp_copy_out(const struct tcb *t, uint32_t off, uint32_t len, uint8_t *dst)
{
	uint32_t pos = (t->sb_head + off) % t->sb_cap, first = t->sb_cap - pos;
	if (first > len)
		first = len;
	memcpy(dst, t->sbuf + pos, first);
	memcpy(dst + first, t->sbuf, len - first);
}

/* IPv6: the checksum over its pseudo-header, in software. */
static int tcp_emit6(struct stack *st, struct pbuf *p, const union ip_addr *src, const union ip_addr *dst)
{
	uint16_t c;
	wr16(p->data + 16, 0);
	c = cksum_fold(cksum_partial(p->data, p->len, cksum_pseudo_ipv6(src->b, dst->b, IPPROTO_TCP, p->len)));
	wr16(p->data + 16, c);
	STAT_INC(st, TCP_TX_SEGS);
	return ipv6_output(st, p, &src->in6, &dst->in6, IPPROTO_TCP, 0, 0);
}

static int tcp_emit(struct stack *st, struct pbuf *p, const union ip_addr *src, const union ip_addr *dst)
{
	int offload = !!(st->nif->caps & NETIF_CAP_TX_CKSUM_TCP);
	uint32_t s4 = ip_addr_to_v4(src), d4 = ip_addr_to_v4(dst);
	if (!ip_addr_is_v4(dst))
		return tcp_emit6(st, p, src, dst);
	tcp_cksum_set(p->data, p->len, s4, d4, offload);
	if (offload)
		p->flags |= PBUF_F_TX_TCP_CKSUM;
	STAT_INC(st, TCP_TX_SEGS);
	return ipv4_output(st, p, d4, IPV4_PROTO_TCP, 0);
}

/* Build and send one segment of the connection: [seq, seq+len) from the
 * send buffer (len 0: none) with flags. 0 or -ENOBUFS. */
static int tcp_xmit(struct tcb *t, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct stack *st = t->st;
	struct tcp_hdr h = { .sport = t->lport, .dport = t->rport, .seq = seq, .flags = flags };
	struct pbuf *p;
	size_t hl;
	uint8_t *b;

	if (flags & TCP_SYN) {
		tcp_syn_opts(t, &h.opt, !!(flags & TCP_ACK));
		if (h.opt.has & TCP_OPTF_TS)
			h.opt.tsval = tcp_ts_now(t), h.opt.tsecr = (flags & TCP_ACK) ? t->ts_recent : 0;
	} else {
		if (t->flags & TF_TS_OK)
			h.opt.has = TCP_OPTF_TS, h.opt.tsval = tcp_ts_now(t), h.opt.tsecr = t->ts_recent;
		if ((t->flags & TF_SACK_OK) && (t->ooo || t->dsack))
			tcp_sack_blocks(t, &h.opt);
	}
	if (flags & TCP_ACK)
		h.ack = t->rcv_nxt;
	h.wnd = (flags & TCP_RST) ? 0 : tcp_wnd_field(t, !!(flags & TCP_SYN));
	if (!(p = stack_alloc(st)))
		return -ENOBUFS;
	hl = TCP_HDR_LEN + tcp_opts_len(&h.opt);
	if (!(b = pbuf_append(p, (uint32_t)hl + len))) {
		pbuf_free(p);
		return -ENOBUFS;
	}
	tcp_hdr_emit(b, &h);
	if (len)
		tcp_copy_out(t, seq - t->snd_una, len, b + hl);
	p->l4_len = (uint16_t)hl;
	if (flags & TCP_ACK) {
		t->dsack = 0; /* reported once (RFC 2883 §4) */
		t->last_ack_sent = t->rcv_nxt;
		t->unacked_segs = 0;
		t->flags &= ~TF_ACK_NOW;
		tw_cancel(&st->tw, &t->delack_timer);
	}
	if (len)
		STAT_ADD(st, TCP_TX_BYTES, len);
	t->last_send = st->now;
	return tcp_emit(st, p, &t->laddr, &t->raddr);
}

int tcp_send_ctl(struct tcb *t, uint8_t flags, uint32_t seq)
{
	return tcp_xmit(t, seq, 0, flags);
}

/* A pure ACK carries snd_max: after a timeout snd_nxt goes back, and an
 * ACK below the peer's window would be answered with an ACK, forever. But
 * never beyond the peer's window (Linux's tcp_acceptable_seq): data it
 * dropped for want of room leaves its RCV.NXT below our snd_max, and with a
 * zero window only SEG.SEQ = RCV.NXT is acceptable (RFC 9293 §3.10.7.4),
 * so an ACK at snd_max would be dropped, window updates and all. */
void tcp_send_ack(struct tcb *t)
{
	uint32_t wend = t->snd_una + t->snd_wnd;
	tcp_xmit(t, seq_gt(t->snd_max, wend) && tcp_state_have_established(t->state) ? wend : t->snd_max, 0, TCP_ACK);
}

static int tcp_send_syn_flags(struct tcb *t, uint8_t flags)
{
	t->snd_nxt = t->snd_max = t->iss + 1; /* no data before the handshake ends */
	return tcp_xmit(t, t->iss, 0, flags);
}

int tcp_send_syn(struct tcb *t)
{
	return tcp_send_syn_flags(t, t->state == TCP_STATE_SYN_RECEIVED ? TCP_SYN | TCP_ACK : TCP_SYN);
}

int tcp_send_synack(struct tcb *t)
{
	return tcp_send_syn_flags(t, TCP_SYN | TCP_ACK);
}

void tcp_send_rst(struct tcb *t)
{
	STAT_INC(t->st, TCP_RST_SENT);
	tcp_xmit(t, t->snd_max, 0, TCP_RST | TCP_ACK);
}

/* RFC 9293 §3.10.7.1: the reply to a segment no connection takes. */
void tcp_send_rst_for(struct stack *st, const struct tcp_seg *seg)
{
	struct tcp_hdr h = { .sport = seg->h.dport, .dport = seg->h.sport };
	struct pbuf *p;
	uint8_t *b;
	if (seg->h.flags & TCP_RST)
		return;
	if (seg->h.flags & TCP_ACK) {
		h.seq = seg->h.ack;
		h.flags = TCP_RST;
	} else {
		h.ack = seg->h.seq + seg->seqlen;
		h.flags = TCP_RST | TCP_ACK;
	}
	if (!(p = stack_alloc(st)) || !(b = pbuf_append(p, TCP_HDR_LEN))) {
		pbuf_free(p);
		return;
	}
	tcp_hdr_emit(b, &h);
	p->l4_len = TCP_HDR_LEN;
	STAT_INC(st, TCP_RST_SENT);
	tcp_emit(st, p, &seg->dst, &seg->src);
}

/* RFC 5961 §7: challenge ACKs limited to 1000 a second per stack. */
int tcp_challenge_ok(struct stack *st)
{
	struct tcp_table *tt = st->tcp;
	uint64_t sec = st->now / 1000000000ull;
	if (sec != tt->challenge_last) {
		tt->challenge_last = sec;
		tt->challenge_tokens = 1000;
	}
	if (!tt->challenge_tokens) {
		STAT_INC(st, TCP_CHALLENGE_LIMITED);
		return 0;
	}
	tt->challenge_tokens--;
	STAT_INC(st, TCP_CHALLENGE_ACKS);
	return 1;
}

/* Largest payload for a segment sent now: SMSS, less room for SACK blocks. */
uint32_t tcp_seg_room(const struct tcb *t)
{
	uint32_t room = t->mss;
	if ((t->flags & TF_SACK_OK) && (t->ooo || t->dsack)) {
		uint32_t sack = (t->flags & TF_TS_OK) ? 28 : 36;
		room = t->mss_clamp > sack + 12 ? t->mss_clamp - sack - ((t->flags & TF_TS_OK) ? 12 : 0) : 1;
		if (room > t->mss)
			room = t->mss;
	}
	return room;
}

/* Send [seq, seq+len) again or for the first time; FIN when it ends at the
 * queued FIN. Returns bytes of sequence space sent, 0 if nothing could be. */
int tcp_send_data(struct tcb *t, uint32_t seq, uint32_t len, uint8_t extra)
{
	uint8_t flags = TCP_ACK | extra;
	uint32_t data_end = t->snd_una + t->sb_len, used, room = tcp_seg_room(t);
	int fin;
	if (seq_gt(seq + len, data_end))
		return 0;
	/* SACK blocks take payload room: a retransmission sized by SMSS while
	 * out-of-order data is held would exceed the MTU (RFC 9293 §3.7.1) */
	if (len > room)
		len = room;
	fin = (t->flags & TF_FIN_QUEUED) && seq + len == t->fin_seq;
	if (fin)
		flags |= TCP_FIN;
	if (len && seq + len == data_end)
		flags |= TCP_PSH;
	if (!len && !fin)
		return 0;
	if (tcp_xmit(t, seq, len, flags))
		return 0;
	used = len + (uint32_t)fin;
	tcp_txlog_add(t, seq, seq + used, seq_lt(seq, t->snd_max));
	if (seq_lt(seq, t->snd_max)) {
		if (t->flags & TF_DSACK_UNDO) {
			t->undo_dsack_left++;
			if (seq_gt(seq + used, t->undo_rxt_end))
				t->undo_rxt_end = seq + used;
		}
		t->total_retrans++;
		STAT_INC(t->st, TCP_RETRANS_SEGS);
		if ((t->flags & TF_RTT_TIMING) && seq_leq(seq, t->rtt_seq))
			t->flags &= ~TF_RTT_TIMING; /* Karn */
	} else if (!(t->flags & (TF_TS_OK | TF_RTT_TIMING))) {
		t->flags |= TF_RTT_TIMING;
		t->rtt_seq = seq;
		t->rtt_start = t->st->now;
	}
	if (seq_gt(seq + used, t->snd_max))
		t->snd_max = seq + used;
	if (!tw_timer_pending(&t->rto_timer) || t->rto_kind == TCP_TK_PERSIST ||
	    (t->rto_kind == TCP_TK_TLP && seq_geq(seq, t->snd_max - used)))
		tcp_loss_timer_arm(t); /* RFC 8985 §7.2: new data moves the probe timer */
	return (int)used;
}

/* RFC 6675 §5 (C): while pipe < cwnd, retransmit what NextSeg picks, or
 * send new data. Returns when the window is used or nothing is left. */
static void tcp_output_sack_recovery(struct tcb *t)
{
	uint32_t pipe = tcp_sb_pipe(&t->sb, t->snd_una, t->snd_max, t->high_rxt, t->mss);
	for (int guard = 0; pipe < t->cc.cwnd && guard < 64; guard++) {
		uint32_t s, l, data_end = t->snd_una + t->sb_len;
		int r = tcp_sb_next_seg(&t->sb, t->snd_una, t->snd_max, t->high_rxt, t->mss, &s, &l);
		int sent;
		if (r == 1 || (r == 3 && seq_geq(t->snd_nxt, data_end) &&
			       !((t->flags & TF_FIN_QUEUED) && t->snd_nxt == t->fin_seq))) {
			if (seq_gt(s + l, data_end))
				l = data_end - s;
			if (!(sent = tcp_send_data(t, s, l, 0)))
				return;
			STAT_INC(t->st, TCP_SACK_RETRANS);
			t->high_rxt = s + (uint32_t)sent;
			pipe += (uint32_t)sent;
			continue;
		}
		l = data_end - t->snd_nxt;
		if (seq_lt(data_end, t->snd_nxt))
			l = 0;
		if (l > t->mss)
			l = t->mss;
		if (seq_gt(t->snd_nxt + l, t->snd_una + t->snd_wnd))
			return;
		if (!(sent = tcp_send_data(t, t->snd_nxt, l, 0)))
			return;
		t->snd_nxt += (uint32_t)sent;
		pipe += (uint32_t)sent;
	}
}

/* Nagle (RFC 896 as in RFC 1122 §4.2.3.4), TCP_CORK and MSG_MORE: may a
 * segment of len < SMSS go now? */
static int tcp_small_ok(const struct tcb *t, uint32_t len, uint32_t avail, int fin)
{
	if (fin)
		return 1;
	if (len < avail)
		return 0; /* more is queued: wait for window rather than send a runt */
	if (t->flags & (TF_CORK | TF_MORE))
		return 0;
	if (t->flags & TF_NODELAY)
		return 1;
	return t->snd_max == t->snd_una;
}

void tcp_output(struct tcb *t)
{
	uint32_t cwnd, room;
	int sent_any = 0;

	if (!tcp_state_have_established(t->state) || t->state == TCP_STATE_TIME_WAIT) {
		if (t->flags & TF_ACK_NOW && t->state == TCP_STATE_TIME_WAIT)
			tcp_send_ack(t);
		return;
	}
	if ((t->flags & TF_IN_RECOVERY) && (t->flags & TF_SACK_OK) && t->sb.n)
		tcp_output_sack_recovery(t);
	cwnd = t->cc.cwnd + ((t->flags & TF_IN_RECOVERY) ? t->recovery_extra : 0);
	if (!(t->flags & TF_IN_RECOVERY) && t->dupacks)
		cwnd += (t->dupacks < 2 ? t->dupacks : 2) * (uint32_t)t->mss; /* RFC 3042 limited transmit */
	room = tcp_seg_room(t);
	/* a device queue takes a burst, not a window: bounded passes keep a
	 * window opening at once (recovery's end, a zero window's update) from
	 * overflowing it, as Linux's TSQ does */
	for (int burst = 0; burst < TCP_OUTPUT_BURST; burst++) {
		uint32_t data_end = t->snd_una + t->sb_len, seq = t->snd_nxt;
		uint32_t avail = seq_lt(seq, data_end) ? data_end - seq : 0;
		uint32_t inflight = seq - t->snd_una, wend = t->snd_una + t->snd_wnd, len = avail;
		int fin, sent;
		if (len > room)
			len = room;
		if (inflight + len > cwnd)
			len = cwnd > inflight ? cwnd - inflight : 0;
		if (seq_gt(seq + len, wend))
			len = seq_lt(seq, wend) ? wend - seq : 0;
		fin = (t->flags & TF_FIN_QUEUED) && seq + len == t->fin_seq && seq_leq(seq, t->fin_seq) &&
		      (len || inflight < cwnd);
		if (!len && !fin)
			break;
		if (len < room && seq_geq(seq, t->snd_max) && !tcp_small_ok(t, len, avail, fin) &&
		    !(len && len >= t->max_snd_wnd / 2 && len == avail))
			break;
		if (seq_lt(seq, t->snd_max) && len && (t->flags & TF_SACK_OK) && tcp_sb_is_sacked(&t->sb, seq, seq + len)) {
			t->snd_nxt += len; /* after a timeout: the receiver has it */
			continue;
		}
		if (!(sent = tcp_send_data(t, seq, len, 0))) {
			if (!tw_timer_pending(&t->rto_timer))
				tcp_rto_arm(t); /* no buffer or no route: try again later */
			break;
		}
		t->snd_nxt += (uint32_t)sent;
		sent_any = 1;
	}
	if (!sent_any && (t->flags & TF_ACK_NOW))
		tcp_send_ack(t);
	/* data waits on a window that is zero or too small, nothing in flight
	 * to bring an update: the persist timer (RFC 9293 §3.8.6.1) */
	if (t->sb_len && seq_lt(t->snd_nxt, t->snd_una + t->sb_len) && t->snd_max == t->snd_una &&
	    !tw_timer_pending(&t->rto_timer))
		tcp_persist_arm(t);
}
