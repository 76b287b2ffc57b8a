/* The synchronized states (SYN-RECEIVED onwards): RFC 9293 §3.10.7.4, one
 * small function per step, in the RFC's order, with RFC 5961's challenge
 * ACKs and RFC 7323's PAWS. */
#include <errno.h>
#include <string.h>

#include "tcb.h"

/* End the connection from input; tells the caller whether t is gone. */
static int tcp_in_close(struct tcb *t, int err)
{
	int gone = !t->sock || t->parent;
	tcp_done(t, err);
	return gone ? TCP_IN_GONE : TCP_IN_DONE;
}

/* SYN-RECEIVED: the peer sent its SYN again, our SYN-ACK was lost. */
static int tcp_in_syn_again(struct tcb *t, struct tcp_seg *seg)
{
	if (t->state != TCP_STATE_SYN_RECEIVED || !(seg->h.flags & TCP_SYN) || (seg->h.flags & TCP_ACK) ||
	    seg->h.seq != t->irs)
		return TCP_IN_CONTINUE;
	tcp_send_syn(t);
	return TCP_IN_DONE;
}

/* RFC 7323 §5.3 R1: "If there is a Timestamps option in the arriving
 * segment, SEG.TSval < TS.Recent, TS.Recent is valid, and the RST bit is
 * off, then treat the arriving segment as not acceptable." */
static int tcp_in_paws(struct tcb *t, struct tcp_seg *seg)
{
	const uint64_t day24 = 24ull * 86400 * 1000000000ull;
	if (!(t->flags & TF_TS_OK) || !(seg->h.opt.has & TCP_OPTF_TS) || (seg->h.flags & TCP_RST))
		return TCP_IN_CONTINUE;
	if (!seq_lt(seg->h.opt.tsval, t->ts_recent))
		return TCP_IN_CONTINUE;
	if (t->st->now - t->ts_recent_age > day24) {
		t->ts_recent = seg->h.opt.tsval; /* TS.Recent too old to be valid */
		return TCP_IN_CONTINUE;
	}
	STAT_INC(t->st, DROP_TCP_PAWS);
	t->flags |= TF_ACK_NOW;
	return TCP_IN_DONE;
}

/* RFC 2883: [s, e) arrived twice; the next ACK reports it as its first SACK
 * block (a D-SACK), which lets the sender see a spurious retransmission. */
static void tcp_dsack_set(struct tcb *t, uint32_t s, uint32_t e)
{
	if (!(t->flags & TF_SACK_OK) || !seq_lt(s, e))
		return;
	if (t->dsack && seq_leq(t->dsack_s, e) && seq_geq(t->dsack_e, s)) { /* touching: one block */
		if (seq_lt(s, t->dsack_s))
			t->dsack_s = s;
		if (seq_gt(e, t->dsack_e))
			t->dsack_e = e;
	} else {
		t->dsack_s = s;
		t->dsack_e = e;
	}
	t->dsack = 1;
	STAT_INC(t->st, TCP_DSACK_SENT);
}

/* Step 1: "There are four cases for the acceptability test for an
 * incoming segment" — then trim it to the window. */
static int tcp_in_check_seq(struct tcb *t, struct tcp_seg *seg)
{
	uint32_t wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
	uint32_t seq = seg->h.seq, len = seg->seqlen, end = t->rcv_nxt + wnd;
	int ok;
	/* RFC 9293's test, with its right edge taken as Linux's tcp_sequence()
	 * and BSD take it: a segment that starts right at RCV.NXT + RCV.WND is
	 * in, for its ACK. A peer that filled the window behind a hole sends its
	 * pure ACKs there; dropping them stalled our sending until a timeout. */
	if (!len)
		ok = wnd ? seq_between(seq, t->rcv_nxt, end) : seq == t->rcv_nxt;
	else
		ok = wnd && (seq_between(seq, t->rcv_nxt, end) || seq_in(seq + len - 1, t->rcv_nxt, end));
	if (!ok && !wnd && seq == t->rcv_nxt) {
		/* "special allowance should be made to accept valid ACKs, URGs, and RSTs" */
		STAT_ADD(t->st, DROP_TCP_RCV_WINDOW, seg->len);
		if (seg->len)
			t->flags |= TF_ACK_NOW; /* the data is not acceptable: say so, with the window */
		seg->len = 0;
		seg->h.flags &= (uint8_t)~TCP_FIN;
		seg->seqlen = 0;
		return TCP_IN_CONTINUE;
	}
	if (!ok) {
		if (!(seg->h.flags & TCP_RST)) {
			t->flags |= TF_ACK_NOW;
			if (seq_lt(seq, t->rcv_nxt)) {
				STAT_INC(t->st, TCP_DUP_SEGS);
				if (seg->len)
					tcp_dsack_set(t, seq, seq_lt(seq + seg->len, t->rcv_nxt) ? seq + seg->len : t->rcv_nxt);
			}
		}
		STAT_INC(t->st, (seg->h.flags & TCP_RST) ? DROP_TCP_RST_OUT_OF_WINDOW : DROP_TCP_SEQ);
		return TCP_IN_DONE;
	}
	if (seq_lt(seq, t->rcv_nxt) && !(seg->h.flags & TCP_SYN)) {
		uint32_t d = t->rcv_nxt - seq;
		STAT_INC(t->st, TCP_DUP_SEGS);
		t->flags |= TF_ACK_NOW;
		if (seg->len)
			tcp_dsack_set(t, seq, d < seg->len ? t->rcv_nxt : seq + seg->len);
		if (d >= seg->len) {
			if (d > seg->len)
				seg->h.flags &= (uint8_t)~TCP_FIN;
			seg->len = 0;
			seg->p->len = 0;
		} else {
			pbuf_adj(seg->p, d);
			seg->len -= d;
		}
		seg->h.seq = t->rcv_nxt;
	}
	if (seg->len && seq_gt(seg->h.seq + seg->len, end)) {
		uint32_t keep = end - seg->h.seq;
		STAT_ADD(t->st, DROP_TCP_RCV_WINDOW, seg->len - keep);
		pbuf_trim(seg->p, keep);
		seg->len = keep;
		seg->h.flags &= (uint8_t)~TCP_FIN;
		if (!keep)
			t->flags |= TF_ACK_NOW; /* none of it fits: say where the window is */
	}
	seg->seqlen = seg->len + !!(seg->h.flags & TCP_FIN);
	return TCP_IN_CONTINUE;
}

/* Step 2, RFC 5961 §3.2: "If the RST bit is set and the sequence number
 * exactly matches the next expected sequence number (RCV.NXT), then TCP
 * MUST reset the connection"; in the window but not exact: challenge ACK. */
static int tcp_in_check_rst(struct tcb *t, struct tcp_seg *seg)
{
	int err;
	if (!(seg->h.flags & TCP_RST))
		return TCP_IN_CONTINUE;
	if (seg->seq0 != t->rcv_nxt) {
		if (tcp_challenge_ok(t->st))
			tcp_send_ack(t);
		return TCP_IN_DONE;
	}
	STAT_INC(t->st, TCP_RST_ACCEPTED);
	switch (t->state) {
	case TCP_STATE_SYN_RECEIVED:
		err = t->parent ? 0 : ECONNREFUSED;
		break;
	case TCP_STATE_CLOSE_WAIT:
		err = EPIPE;
		break;
	case TCP_STATE_CLOSING:
	case TCP_STATE_LAST_ACK:
	case TCP_STATE_TIME_WAIT:
		err = 0;
		break;
	default:
		err = ECONNRESET;
	}
	return tcp_in_close(t, err);
}

/* Step 4, RFC 5961 §4.2: a SYN in a synchronized state gets a challenge
 * ACK, whatever its sequence number. */
static int tcp_in_check_syn(struct tcb *t, struct tcp_seg *seg)
{
	if (!(seg->h.flags & TCP_SYN))
		return TCP_IN_CONTINUE;
	if (tcp_challenge_ok(t->st))
		tcp_send_ack(t);
	return TCP_IN_DONE;
}

static void tcp_sbuf_drop_acked(struct tcb *t, uint32_t acked)
{
	uint32_t data = acked < t->sb_len ? acked : t->sb_len;
	if (data)
		tcp_sbuf_drop(t, data);
}

/* RFC 6582 §3.2 step 1 / RFC 5681 §3.2: three duplicate ACKs, or RFC 6675
 * IsLost(snd_una): retransmit the first segment and enter recovery. */
void tcp_in_enter_recovery(struct tcb *t)
{
	uint32_t len = t->sb_len < t->mss ? t->sb_len : t->mss;
	int sent;
	STAT_INC(t->st, TCP_FAST_RETRANS);
	t->undo_cc = t->cc;
	t->undo_seq = t->snd_una;
	t->undo_fack = t->sb.n ? t->sb.high_sacked : t->snd_una;
	t->undo_tsval = tcp_ts_now(t); /* the TSval the retransmission carries */
	t->flags &= ~TF_UNDO_OK;
	t->flags |= TF_DSACK_UNDO;
	t->undo_dsack_left = 0;
	t->undo_rxt_end = t->snd_una;
	t->cco->on_loss(&t->cc, tcp_flight(t), t->st->now);
	t->flags |= TF_IN_RECOVERY;
	t->flags &= ~TF_RTT_TIMING;
	t->recover = t->snd_max;
	t->recovery_extra = (t->flags & TF_SACK_OK) ? 0 : 3u * t->mss;
	t->high_rxt = t->snd_una;
	if ((sent = tcp_send_data(t, t->snd_una, len, 0))) {
		t->high_rxt = t->snd_una + (uint32_t)sent;
		t->undo_retrans = t->total_retrans;
		if (t->flags & TF_TS_OK)
			t->flags |= TF_UNDO_OK;
	}
	t->retransmits++;
}

/* RFC 8985 §6.2 step 5 on an ACK or the reordering timer: what RACK (or a
 * probe's ACK) marks lost starts a recovery when snd_una is in it. */
void tcp_in_rack_loss(struct tcb *t)
{
	tcp_rack_detect(t);
	if ((t->flags & TF_IN_RECOVERY) || !seq_geq(t->snd_una, t->recover))
		return;
	if (tcp_sb_is_lost(&t->sb, t->snd_una, t->mss) && !tcp_sb_is_sacked(&t->sb, t->snd_una, t->snd_una + 1))
		tcp_in_enter_recovery(t);
}

static void tcp_in_dupack(struct tcb *t, struct tcp_seg *seg, uint32_t newly_sacked)
{
	int same_wnd = ((uint32_t)seg->h.wnd << t->snd_wscale) == t->snd_wnd;
	if (t->snd_max == t->snd_una)
		return;
	/* RFC 6675 §2: with SACK, a duplicate ACK is one that SACKs new data
	 * (data riding on it or not); without, RFC 5681's definition */
	if (t->flags & TF_SACK_OK) {
		if (!newly_sacked)
			return;
	} else if (seg->len || (seg->h.flags & (TCP_SYN | TCP_FIN)) || !same_wnd) {
		return;
	}
	if (t->flags & TF_IN_RECOVERY) {
		if (!(t->flags & TF_SACK_OK))
			t->recovery_extra += t->mss; /* RFC 6582 §3.2 step 3: inflate */
		return;
	}
	t->dupacks++;
	if (t->sb.rack)
		return; /* RACK's timing decides (tcp_in_ack) */
	if (t->dupacks >= t->sb.dupthresh && seq_geq(t->snd_una, t->recover))
		tcp_in_enter_recovery(t);
}

/* RFC 3522 (Eifel detection): the first ACK covering the retransmission
 * echoes a timestamp older than the retransmission's, so the original
 * arrived: the recovery was reordering, not loss. When that retransmission
 * was the only one, RFC 4015's response: the window before recovery back
 * (the whole congestion-control state, as Linux's undo), recovery over. */
static void tcp_in_undo_spurious(struct tcb *t, const struct tcp_seg *seg)
{
	if (!(t->flags & TF_UNDO_OK) || !(t->flags & TF_IN_RECOVERY) || !seq_gt(seg->h.ack, t->undo_seq))
		return;
	t->flags &= ~TF_UNDO_OK; /* decided by this ACK */
	if (!(seg->h.opt.has & TCP_OPTF_TS) || !seg->h.opt.tsecr || !seq_lt(seg->h.opt.tsecr, t->undo_tsval) ||
	    t->total_retrans != t->undo_retrans)
		return;
	if (t->sb.n && seq_gt(t->sb.high_sacked, seg->h.ack))
		return; /* other holes remain: maybe losses, no undo */
	STAT_INC(t->st, TCP_SPURIOUS_RECOVERIES);
	/* the path reorders: as far as the data SACKed when recovery began ran
	 * ahead of the segment that was only late, DupThresh grows to wait that
	 * long next time (RFC 4653 §3, as Linux's tp->reordering) */
	if (seq_gt(t->undo_fack, t->undo_seq)) {
		uint32_t degree = (t->undo_fack - t->undo_seq + t->mss - 1) / t->mss + 1;
		if (degree > TCP_REORDER_MAX)
			degree = TCP_REORDER_MAX;
		if (degree > t->sb.dupthresh) {
			t->sb.dupthresh = degree;
			STAT_INC(t->st, TCP_REORDER_RAISED);
		}
	}
	t->undo_cc.mss = t->cc.mss;
	t->cc = t->undo_cc;
	t->recover = seg->h.ack; /* no reduction stands: the next loss may recover */
	t->flags &= ~TF_IN_RECOVERY;
	t->recovery_extra = 0;
	t->dupacks = 0;
}

/* New data acknowledged: RTT, congestion control, recovery, timers. */
static void tcp_in_ack_new(struct tcb *t, struct tcp_seg *seg)
{
	uint32_t ack = seg->h.ack, acked = ack - t->snd_una, flight = tcp_flight(t), rtt_us = 0;
	if ((t->flags & TF_TS_OK) && seg->h.opt.tsecr && (seg->h.opt.has & TCP_OPTF_TS)) {
		rtt_us = (tcp_ts_now(t) - seg->h.opt.tsecr) * 1000;
		if (rtt_us < 1000000000u)
			tcp_rtt_sample(t, rtt_us ? rtt_us : 500);
	} else if ((t->flags & TF_RTT_TIMING) && seq_gt(ack, t->rtt_seq)) {
		rtt_us = (uint32_t)((t->st->now - t->rtt_start) / 1000);
		tcp_rtt_sample(t, rtt_us);
		t->flags &= ~TF_RTT_TIMING;
	}
	tcp_in_undo_spurious(t, seg);
	tcp_sbuf_drop_acked(t, acked);
	tcp_txlog_advance(t, ack);
	t->flags &= ~TF_TLP_OUT; /* the probe, or what it chased, was answered */
	t->snd_una = ack;
	if (seq_lt(t->snd_nxt, ack))
		t->snd_nxt = ack;
	if (seq_lt(t->high_rxt, ack))
		t->high_rxt = ack;
	tcp_sb_advance(&t->sb, ack);
	t->backoff = 0;
	t->retransmits = 0;
	t->rtx_since = 0;
	if (t->flags & TF_IN_RECOVERY) {
		if (seq_geq(ack, t->recover)) {
			t->flags &= ~TF_IN_RECOVERY;
			t->recovery_extra = 0;
			t->dupacks = 0;
			t->cco->on_recovery_end(&t->cc, t->st->now);
			tcp_rack_recovery_end(t);
		} else {
			/* RFC 6582 §3.2 step 5: partial ACK, resend the next hole, deflate */
			uint32_t len = t->sb_len < t->mss ? t->sb_len : t->mss;
			int sent;
			STAT_INC(t->st, TCP_PARTIAL_ACKS);
			if (!(t->flags & TF_SACK_OK))
				t->recovery_extra = (t->recovery_extra > acked ? t->recovery_extra - acked : 0) + t->mss;
			if (seq_geq(t->snd_una, t->high_rxt) && !tcp_sb_is_sacked(&t->sb, t->snd_una, t->snd_una + len) &&
			    (sent = tcp_send_data(t, t->snd_una, len, 0)))
				t->high_rxt = t->snd_una + (uint32_t)sent;
		}
	} else {
		t->dupacks = 0;
		t->cco->on_ack(&t->cc, acked, flight, rtt_us, t->st->now);
	}
	tcp_rto_restart(t);
	tcp_wake(t);
}

static void tcp_in_window_update(struct tcb *t, struct tcp_seg *seg)
{
	const struct tcp_hdr *h = &seg->h;
	if (!(seq_lt(t->snd_wl1, h->seq) || (t->snd_wl1 == h->seq && seq_leq(t->snd_wl2, h->ack))))
		return;
	t->snd_wnd = (uint32_t)h->wnd << t->snd_wscale;
	t->snd_wl1 = h->seq;
	t->snd_wl2 = h->ack;
	if (t->snd_wnd > t->max_snd_wnd)
		t->max_snd_wnd = t->snd_wnd;
	if (t->snd_wnd && t->rto_kind == TCP_TK_PERSIST && tw_timer_pending(&t->rto_timer)) {
		tw_cancel(&t->st->tw, &t->rto_timer);
		t->backoff = 0;
	}
}

/* SYN-RECEIVED: "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED
 * state"; otherwise <SEQ=SEG.ACK><CTL=RST>. */
static int tcp_in_ack_syn_received(struct tcb *t, struct tcp_seg *seg)
{
	if (!seq_gt(seg->h.ack, t->snd_una) || !seq_leq(seg->h.ack, t->snd_max)) {
		tcp_send_rst_for(t->st, seg);
		return TCP_IN_DONE;
	}
	if (t->parent && (int)t->parent->acceptq_len >= t->parent->backlog) {
		STAT_INC(t->st, DROP_TCP_ACCEPTQ_FULL);
		return TCP_IN_DONE; /* as Linux: the SYN-ACK will be resent */
	}
	if ((t->flags & TF_TS_OK) && seg->h.opt.tsecr && t->backoff == 0 && !(t->flags & TF_COOKIE))
		tcp_rtt_sample(t, (tcp_ts_now(t) - seg->h.opt.tsecr) * 1000);
	t->snd_una = seg->h.ack;
	t->snd_wnd = (uint32_t)seg->h.wnd << t->snd_wscale;
	if (t->snd_wnd > t->max_snd_wnd)
		t->max_snd_wnd = t->snd_wnd;
	t->snd_wl1 = seg->h.seq;
	t->snd_wl2 = seg->h.ack;
	tcp_established(t);
	return TCP_IN_CONTINUE;
}

static int tcp_in_fin_acked(struct tcb *t);

/* Step 5: the ACK field. */
static int tcp_in_ack(struct tcb *t, struct tcp_seg *seg)
{
	const struct tcp_hdr *h = &seg->h;
	uint32_t newly_sacked = 0;
	int v;
	if (!(h->flags & TCP_ACK)) {
		STAT_INC(t->st, DROP_TCP_NO_ACK);
		return TCP_IN_DONE;
	}
	if (t->state == TCP_STATE_SYN_RECEIVED && (v = tcp_in_ack_syn_received(t, seg)) != TCP_IN_CONTINUE)
		return v;
	/* RFC 5961 §5.2: acceptable iff SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT */
	if (seq_gt(h->ack, t->snd_max)) {
		STAT_INC(t->st, DROP_TCP_ACK_NEW);
		t->flags |= TF_ACK_NOW;
		return TCP_IN_DONE;
	}
	if (seq_lt(h->ack, t->snd_una - t->max_snd_wnd)) {
		STAT_INC(t->st, DROP_TCP_ACK_OLD);
		t->flags |= TF_ACK_NOW;
		return TCP_IN_DONE;
	}
	if (t->rto_kind == TCP_TK_PERSIST) {
		t->retransmits = 0; /* the peer answers our window probes */
		t->probe_since = 0;
	}
	if ((t->flags & TF_SACK_OK) && (h->opt.has & TCP_OPTF_SACK)) {
		struct tcp_sack_block b[TCP_SACK_MAX_BLOCKS];
		for (int i = 0; i < h->opt.nsack; i++)
			b[i].start = h->opt.sack[i].start, b[i].end = h->opt.sack[i].end;
		tcp_dsack_input(t, h->ack, b, h->opt.nsack);
		newly_sacked = tcp_sb_update(&t->sb, t->snd_una, t->snd_max, b, h->opt.nsack);
	}
	if (t->sb.rack && seq_geq(h->ack, t->snd_una))
		tcp_rack_update(t, h->ack);
	/* RFC 8985 §7.4.2: the ACK of a tail loss probe; what was sent before
	 * the probe, at least 2*SRTT ago, and is not SACKed now is lost */
	if (newly_sacked && (t->flags & TF_TLP_OUT) && t->sb.n)
		tcp_sb_mark_lost(&t->sb, t->sb.high_sacked);
	if (seq_gt(h->ack, t->snd_una))
		tcp_in_ack_new(t, seg);
	else if (h->ack == t->snd_una)
		tcp_in_dupack(t, seg, newly_sacked);
	/* loss detection on any ACK, also when the ACKs carry data (RFC 6675
	 * §5), by RACK's timing (RFC 8985 §6.2); SACK agreed means RACK */
	if (t->sb.rack)
		tcp_in_rack_loss(t);
	tcp_in_window_update(t, seg);
	return tcp_in_fin_acked(t);
}

static void tcp_time_wait(struct tcb *t);

/* Our FIN acknowledged: FIN-WAIT-1, CLOSING and LAST-ACK move on. */
static int tcp_in_fin_acked(struct tcb *t)
{
	if (!(t->flags & TF_FIN_QUEUED) || !seq_gt(t->snd_una, t->fin_seq))
		return TCP_IN_CONTINUE;
	switch (t->state) {
	case TCP_STATE_FIN_WAIT_1:
		tcp_set_state(t, TCP_STATE_FIN_WAIT_2);
		if (!t->sock)
			tcp_keep_arm(t);
		return TCP_IN_CONTINUE;
	case TCP_STATE_CLOSING:
		tcp_time_wait(t);
		return TCP_IN_DONE;
	case TCP_STATE_LAST_ACK:
		STAT_INC(t->st, TCP_CONN_CLOSED);
		return tcp_in_close(t, 0);
	default:
		return TCP_IN_CONTINUE;
	}
}

/* RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent,
 * then SEG.TSval is copied to TS.Recent". */
static void tcp_in_ts_update(struct tcb *t, const struct tcp_seg *seg)
{
	if (!(t->flags & TF_TS_OK) || !(seg->h.opt.has & TCP_OPTF_TS))
		return;
	if (seq_geq(seg->h.opt.tsval, t->ts_recent) && seq_leq(seg->seq0, t->last_ack_sent)) {
		t->ts_recent = seg->h.opt.tsval;
		t->ts_recent_age = t->st->now;
	}
}

/* In-order data joins the socket's queue; small payloads are copied into
 * the tail buffer's spare room so tiny segments do not pin whole buffers. */
static void tcp_rq_push(struct tcb *t, struct pbuf *p)
{
	struct pbuf *tail = t->rq_tail;
	t->rq_bytes += p->len;
	if (tail && p->len <= 512 && pbuf_tailroom(tail) >= p->len) {
		memcpy(pbuf_append(tail, p->len), p->data, p->len);
		pbuf_free(p);
		return;
	}
	p->next = NULL;
	if (tail)
		tail->next = p;
	else
		t->rq_head = p;
	t->rq_tail = p;
	t->rq_pbufs++;
}

void tcp_reass_purge(struct tcb *t)
{
	while (t->ooo) {
		struct pbuf *p = t->ooo;
		t->ooo = p->next;
		pbuf_free(p);
	}
	t->ooo_bytes = t->ooo_pbufs = 0;
}

static uint32_t ooo_end(const struct pbuf *p)
{
	return (uint32_t)p->user[0] + p->len;
}

/* [s, e) arrived out of order: it heads the list of ranges the next ACKs
 * report, absorbing the ranges it touches. */
static void tcp_sack_note(struct tcb *t, uint32_t s, uint32_t e)
{
	struct { uint32_t s, e; } keep[TCP_SACK_MAX_BLOCKS];
	int n = 0;
	for (int i = 0; i < t->sack_mru_n; i++) {
		uint32_t ms = t->sack_mru[i].s, me = t->sack_mru[i].e;
		if (seq_leq(ms, e) && seq_geq(me, s)) {
			if (seq_lt(ms, s))
				s = ms;
			if (seq_gt(me, e))
				e = me;
		} else if (seq_gt(me, t->rcv_nxt) && n < TCP_SACK_MAX_BLOCKS - 1) {
			keep[n].s = ms, keep[n++].e = me;
		}
	}
	t->sack_mru[0].s = s, t->sack_mru[0].e = e;
	for (int i = 0; i < n; i++)
		t->sack_mru[1 + i].s = keep[i].s, t->sack_mru[1 + i].e = keep[i].e;
	t->sack_mru_n = (uint8_t)(n + 1);
}

/* Out-of-order segment into the sorted reassembly queue, overlaps trimmed. */
static void tcp_reass_insert(struct tcb *t, struct tcp_seg *seg)
{
	struct pbuf *p = seg->p, **pp = &t->ooo, *prev = NULL;
	uint32_t seq = seg->h.seq, fin = !!(seg->h.flags & TCP_FIN);
	if (t->ooo_pbufs >= TCP_OOO_MAX_PBUFS) {
		STAT_INC(t->st, DROP_TCP_OOO_FULL);
		return;
	}
	while (*pp && seq_leq((uint32_t)(*pp)->user[0], seq)) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (prev && seq_gt(ooo_end(prev), seq)) {
		uint32_t d = ooo_end(prev) - seq;
		tcp_dsack_set(t, seq, seq + (d < p->len ? d : p->len)); /* queued already */
		if (d >= p->len) {
			STAT_INC(t->st, TCP_DUP_SEGS);
			tcp_sack_note(t, seq, seq + p->len);
			return;
		}
		pbuf_adj(p, d);
		seq += d;
	}
	while (*pp && seq_leq(ooo_end(*pp), seq + p->len) && !((*pp)->user[1] & 1)) {
		struct pbuf *n = *pp;
		*pp = n->next;
		t->ooo_bytes -= n->len;
		t->ooo_pbufs--;
		pbuf_free(n);
	}
	if (*pp && seq_gt(seq + p->len, (uint32_t)(*pp)->user[0])) {
		pbuf_trim(p, (uint32_t)(*pp)->user[0] - seq);
		fin = 0;
	}
	p->user[0] = seq;
	p->user[1] = fin;
	p->next = *pp;
	*pp = p;
	seg->p = NULL;
	t->ooo_bytes += p->len;
	t->ooo_pbufs++;
	tcp_sack_note(t, seq, seq + p->len + fin);
	STAT_INC(t->st, TCP_OOO_SEGS);
}

/* The hole before the queue's head is filled: move what is now in order.
 * Returns 1 when a queued FIN was reached. */
static int tcp_reass_drain(struct tcb *t)
{
	while (t->ooo && seq_leq((uint32_t)t->ooo->user[0], t->rcv_nxt)) {
		struct pbuf *p = t->ooo;
		uint32_t seq = (uint32_t)p->user[0], fin = (uint32_t)(p->user[1] & 1);
		t->ooo = p->next;
		t->ooo_bytes -= p->len;
		t->ooo_pbufs--;
		if (seq_lt(seq + p->len, t->rcv_nxt) || (seq + p->len == t->rcv_nxt && !fin && p->len)) {
			pbuf_free(p);
			continue;
		}
		pbuf_adj(p, t->rcv_nxt - seq);
		t->rcv_nxt += p->len;
		STAT_ADD(t->st, TCP_RX_BYTES, p->len);
		if (p->len)
			tcp_rq_push(t, p);
		else
			pbuf_free(p);
		if (fin) {
			tcp_reass_purge(t);
			return 1;
		}
	}
	return 0;
}

/* Step 7: "Once in the ESTABLISHED state, it is possible to deliver
 * segment data to user RECEIVE buffers." */
static int tcp_in_data(struct tcb *t, struct tcp_seg *seg)
{
	int had_ooo = t->ooo != NULL;
	if (!seg->len && !((seg->h.flags & TCP_FIN) && seg->h.seq != t->rcv_nxt))
		return TCP_IN_CONTINUE;
	if (!tcp_state_can_recv(t->state)) {
		STAT_ADD(t->st, DROP_TCP_RCV_CLOSED, seg->len);
		seg->h.flags &= (uint8_t)~TCP_FIN;
		return TCP_IN_CONTINUE;
	}
	if (!t->sock && !t->parent && seg->len) {
		/* data for a socket the application closed: RFC 9293 §3.10.7.4 / Linux */
		STAT_INC(t->st, TCP_CONN_RESET);
		tcp_send_rst(t);
		return tcp_in_close(t, 0);
	}
	if (seg->h.seq != t->rcv_nxt) {
		tcp_reass_insert(t, seg);
		seg->h.flags &= (uint8_t)~TCP_FIN; /* kept with the queued segment */
		t->flags |= TF_ACK_NOW;
		return TCP_IN_CONTINUE;
	}
	t->rcv_nxt += seg->len;
	STAT_ADD(t->st, TCP_RX_BYTES, seg->len);
	if (seg->len > t->rcv_mss)
		t->rcv_mss = (uint16_t)(seg->len > 65535 ? 65535 : seg->len);
	tcp_rq_push(t, seg->p);
	seg->p = NULL;
	if (had_ooo) {
		if (tcp_reass_drain(t))
			seg->fin_in_order = 1;
		t->flags |= TF_ACK_NOW; /* RFC 5681 §4.2: a hole filled is ACKed at once */
	} else if (t->rcv_nxt - t->last_ack_sent >= 2u * t->rcv_mss) {
		t->flags |= TF_ACK_NOW; /* RFC 1122 §4.2.3.2: every second full segment */
	} else {
		tcp_delack_arm(t);
	}
	tcp_wake(t);
	return TCP_IN_CONTINUE;
}

/* The socket keeps a closed TCB with its unread data; a fresh TCB without
 * a socket holds TIME-WAIT (2*MSL). */
static void tcp_time_wait(struct tcb *t)
{
	struct tcb *w;
	if (t->flags & TF_ACK_NOW)
		tcp_send_ack(t);
	if (!t->sock) {
		tcp_rcvq_purge(t);
		tcp_reass_purge(t);
		tcp_set_state(t, TCP_STATE_TIME_WAIT);
		tcp_time_wait_enter(t);
		return;
	}
	if ((w = tcp_time_wait_clone(t)))
		tcp_time_wait_enter(w);
	STAT_INC(t->st, TCP_CONN_CLOSED);
	tcp_done(t, 0);
}

/* Step 8: "eighth, check the FIN bit". */
static int tcp_in_fin(struct tcb *t, struct tcp_seg *seg)
{
	int fin = seg->fin_in_order || ((seg->h.flags & TCP_FIN) && seg->h.seq + seg->len + 1 == t->rcv_nxt + 1 &&
					 seg->h.seq + seg->len == t->rcv_nxt);
	if (!fin)
		return TCP_IN_CONTINUE;
	t->rcv_nxt++;
	t->flags |= TF_RCV_SHUT | TF_ACK_NOW;
	switch (t->state) {
	case TCP_STATE_ESTABLISHED:
		tcp_set_state(t, TCP_STATE_CLOSE_WAIT);
		break;
	case TCP_STATE_FIN_WAIT_1:
		if ((t->flags & TF_FIN_QUEUED) && seq_gt(t->snd_una, t->fin_seq)) {
			tcp_time_wait(t);
			return TCP_IN_DONE;
		}
		tcp_set_state(t, TCP_STATE_CLOSING);
		break;
	case TCP_STATE_FIN_WAIT_2:
		tcp_time_wait(t);
		return TCP_IN_DONE;
	default:
		break;
	}
	return TCP_IN_CONTINUE;
}

int tcp_input_synced(struct tcb *t, struct tcp_seg *seg)
{
	int v;
	seg->seq0 = seg->h.seq;
	t->last_rcv = t->st->now;
	t->keep_probes = 0;
	if ((v = tcp_in_syn_again(t, seg)) != TCP_IN_CONTINUE)
		goto out;
	if ((v = tcp_in_paws(t, seg)) != TCP_IN_CONTINUE)             /* RFC 7323 §5.3 */
		goto out;
	if ((v = tcp_in_check_seq(t, seg)) != TCP_IN_CONTINUE)        /* step 1 */
		goto out;
	if ((v = tcp_in_check_rst(t, seg)) != TCP_IN_CONTINUE)        /* step 2 */
		goto out;
	if ((v = tcp_in_check_syn(t, seg)) != TCP_IN_CONTINUE)        /* step 4 */
		goto out;
	if ((v = tcp_in_ack(t, seg)) != TCP_IN_CONTINUE)              /* step 5 */
		goto out;
	tcp_in_ts_update(t, seg);
	if ((v = tcp_in_data(t, seg)) != TCP_IN_CONTINUE)             /* step 7 */
		goto out;
	v = tcp_in_fin(t, seg);                                       /* step 8 */
out:
	if (v != TCP_IN_GONE)
		tcp_output(t);
	return v;
}
