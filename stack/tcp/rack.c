/* RACK-TLP loss detection (RFC 8985) and the use of received D-SACKs
 * (RFC 2883): a log of when each range in flight was last sent, the newest
 * delivered transmission (RACK.xmit_ts, end_seq, rtt), loss marked by time
 * with a reordering window that D-SACKs widen, and the undo of a recovery
 * whose every retransmission came back as a duplicate. The tail loss probe
 * is timer.c's. */
#include <stdlib.h>
#include <string.h>

#include "tcb.h"

#define US_NS 1000ull
#define TCP_RACK_REO_MIN_US 1000 /* the timer wheel's tick */

int tcp_rack_on(const struct tcb *t)
{
	return !!(t->flags & TF_SACK_OK);
}

/* A log given back goes to the stack's cache: a request/response
 * connection empties its log at every ACK. */
void tcp_txlog_free(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	if (t->txlog && tt->txlog_ncache < TCP_SBUF_CACHE)
		tt->txlog_cache[tt->txlog_ncache++] = t->txlog;
	else
		free(t->txlog);
	t->txlog = NULL;
	t->txlog_n = 0;
}

static void txlog_del(struct tcb *t, int i)
{
	memmove(&t->txlog[i], &t->txlog[i + 1], (size_t)(t->txlog_n - i - 1) * sizeof(t->txlog[0]));
	t->txlog_n--;
}

/* Room for one more: the oldest record goes (its bytes keep the RTO and
 * whatever a later record's loss marks below it). */
static int txlog_room(struct tcb *t)
{
	struct tcp_table *tt = t->st->tcp;
	if (!t->txlog && tt->txlog_ncache)
		t->txlog = tt->txlog_cache[--tt->txlog_ncache];
	if (!t->txlog && !(t->txlog = malloc(TCP_TXLOG_MAX * sizeof(t->txlog[0]))))
		return 0;
	if (t->txlog_n == TCP_TXLOG_MAX)
		txlog_del(t, 0);
	return 1;
}

/* A retransmission of [s, e): older records lose those bytes. */
static void txlog_supersede(struct tcb *t, uint32_t s, uint32_t e)
{
	for (int i = 0; i < t->txlog_n; i++) {
		struct tcp_txrec *r = &t->txlog[i];
		if (!seq_lt(r->s, e) || !seq_gt(r->e, s))
			continue;
		if (seq_geq(r->s, s) && seq_leq(r->e, e)) {
			txlog_del(t, i--);
		} else if (seq_lt(r->s, s) && seq_gt(r->e, e)) {
			struct tcp_txrec tail = *r;
			if (t->txlog_n == TCP_TXLOG_MAX) {
				r->e = s; /* no room to split: the tail loses its timing */
				continue;
			}
			r->e = s;
			tail.s = e;
			if (seq_lt(tail.dlv, e))
				tail.dlv = e;
			memmove(&t->txlog[i + 2], &t->txlog[i + 1], (size_t)(t->txlog_n - i - 1) * sizeof(t->txlog[0]));
			t->txlog[i + 1] = tail;
			t->txlog_n++;
			i++;
		} else if (seq_lt(r->s, s)) {
			r->e = s;
		} else {
			r->s = e;
		}
		if (i >= 0 && i < t->txlog_n) {
			r = &t->txlog[i];
			if (seq_lt(r->dlv, r->s))
				r->dlv = r->s;
			if (seq_gt(r->dlv, r->e))
				r->dlv = r->e;
		}
	}
}

void tcp_txlog_add(struct tcb *t, uint32_t s, uint32_t e, int retrans)
{
	struct tcp_txrec *last;
	uint8_t fl = retrans ? TCP_TXR_RETRANS : 0;
	if (!tcp_rack_on(t) || !seq_lt(s, e))
		return;
	if (retrans)
		txlog_supersede(t, s, e);
	last = t->txlog_n ? &t->txlog[t->txlog_n - 1] : NULL;
	if (last && last->ts == t->st->now && last->e == s && last->flags == fl && last->dlv == last->s) {
		last->e = e; /* the same burst */
		return;
	}
	if (!txlog_room(t))
		return;
	t->txlog[t->txlog_n++] = (struct tcp_txrec){ .s = s, .e = e, .dlv = s, .flags = fl, .ts = t->st->now,
						     .order = t->txlog_order++ };
}

void tcp_txlog_advance(struct tcb *t, uint32_t snd_una)
{
	int k = 0;
	for (int i = 0; i < t->txlog_n; i++) {
		struct tcp_txrec r = t->txlog[i];
		if (seq_leq(r.e, snd_una))
			continue;
		if (seq_lt(r.s, snd_una))
			r.s = snd_una;
		if (seq_lt(r.dlv, r.s))
			r.dlv = r.s;
		t->txlog[k++] = r;
	}
	t->txlog_n = (uint16_t)k;
	if (!k)
		tcp_txlog_free(t);
}

void tcp_rack_rtt_sample(struct tcb *t, uint32_t rtt_us)
{
	if (rtt_us && (!t->rack_min_rtt_us || rtt_us < t->rack_min_rtt_us))
		t->rack_min_rtt_us = rtt_us;
}

/* RFC 8985 §6.2 step 4: min_RTT/4 times the multiplier, at most SRTT, and
 * not under the timer's tick (the reordering timer cannot wait less);
 * none before reordering was seen once DupThresh SACKs are in (or in
 * recovery), as a 3-dupack sender would. */
uint32_t tcp_rack_reo_wnd(const struct tcb *t)
{
	uint32_t mult = t->rack_reo_mult ? t->rack_reo_mult : 1, w;
	if (!(t->flags & TF_RACK_REORD) &&
	    ((t->flags & TF_IN_RECOVERY) || tcp_sb_dupthresh_met(&t->sb, t->snd_una, t->mss)))
		return 0;
	w = mult * (t->rack_min_rtt_us / 4);
	if (t->srtt_us && w > t->srtt_us)
		w = t->srtt_us;
	return w < TCP_RACK_REO_MIN_US ? TCP_RACK_REO_MIN_US : w;
}

/* Where [s, e) is delivered: acked below ack, else the highest SACKed byte
 * in it; s when nothing is. */
static uint32_t txrec_delivered(const struct tcb *t, const struct tcp_txrec *r, uint32_t ack)
{
	uint32_t d = r->s;
	if (seq_geq(ack, r->e))
		return r->e;
	if (seq_gt(ack, r->s))
		d = ack;
	for (int i = 0; i < t->sb.n; i++) {
		const struct tcp_sack_block *b = &t->sb.r[i];
		if (seq_lt(b->start, r->e) && seq_gt(b->end, r->s)) {
			uint32_t e = seq_lt(b->end, r->e) ? b->end : r->e;
			if (seq_gt(e, d))
				d = e;
		}
	}
	return d;
}

/* Step 2 for one newly delivered transmission [.., end) sent at ts. */
static void rack_advance(struct tcb *t, const struct tcp_txrec *r, uint32_t end)
{
	uint64_t rtt = t->st->now - r->ts;
	int newer = !t->rack_xmit_ts || seq_gt(r->order, t->rack_order) ||
		    (r->order == t->rack_order && seq_gt(end, t->rack_end));
	/* an original delivered after something sent later: the path reorders */
	if (!(r->flags & TCP_TXR_RETRANS) && !newer && t->rack_xmit_ts)
		t->flags |= TF_RACK_REORD;
	/* a retransmission acked sooner than any RTT: the original's ACK */
	if ((r->flags & TCP_TXR_RETRANS) && rtt < (uint64_t)t->rack_min_rtt_us * US_NS)
		return;
	if (!newer)
		return;
	t->rack_xmit_ts = r->ts ? r->ts : 1;
	t->rack_order = r->order;
	t->rack_end = end;
	t->rack_rtt_us = (uint32_t)(rtt / US_NS);
}

void tcp_rack_update(struct tcb *t, uint32_t ack)
{
	for (int i = 0; i < t->txlog_n; i++) {
		struct tcp_txrec *r = &t->txlog[i];
		uint32_t d = txrec_delivered(t, r, ack);
		if (!seq_gt(d, r->dlv))
			continue;
		r->dlv = d;
		rack_advance(t, r, d);
		if (seq_lt(ack, r->e) && tcp_sb_is_sacked(&t->sb, seq_gt(ack, r->s) ? ack : r->s, r->e))
			txlog_del(t, i--); /* all SACKed: nothing left to time */
	}
}

/* r (up to RACK.end_seq when r holds it) is lost: RFC 6675's rules will
 * resend it, a lost retransmission too. Returns 1 when that is news. */
static int rack_mark_lost(struct tcb *t, struct tcp_txrec *r)
{
	uint32_t end = r->order != t->rack_order || seq_lt(r->e, t->rack_end) ? r->e : t->rack_end;
	int news = !t->sb.lost_valid || seq_lt(t->sb.lost_end, end);
	tcp_sb_mark_lost(&t->sb, end);
	if (r->flags & TCP_TXR_RETRANS) {
		r->flags |= TCP_TXR_LOST; /* resent from here once */
		news = 1;
		if (seq_gt(t->high_rxt, r->s)) {
			STAT_INC(t->st, TCP_LOST_RETRANS);
			t->high_rxt = seq_gt(r->s, t->snd_una) ? r->s : t->snd_una;
		}
	}
	if (news)
		STAT_INC(t->st, TCP_RACK_LOST);
	return news;
}

int tcp_rack_detect(struct tcb *t)
{
	uint64_t reo = (uint64_t)tcp_rack_reo_wnd(t) * US_NS, rtt = (uint64_t)t->rack_rtt_us * US_NS, wait = 0;
	int lost = 0;
	if (!tcp_rack_on(t) || !t->rack_xmit_ts)
		return 0;
	for (int i = 0; i < t->txlog_n; i++) {
		struct tcp_txrec *r = &t->txlog[i];
		uint64_t due = r->ts + rtt + reo;
		if (seq_gt(r->order, t->rack_order) || (r->order == t->rack_order && !seq_lt(r->s, t->rack_end)))
			break; /* sent after the newest delivered: the log is in time order */
		if (r->flags & TCP_TXR_LOST)
			continue;
		if (due <= t->st->now) {
			lost |= rack_mark_lost(t, r);
		} else if (due - t->st->now > wait) {
			wait = due - t->st->now;
		}
	}
	if (wait) {
		/* §6.3: the reordering timer, in place of the RTO or probe */
		t->rto_kind = TCP_TK_REO;
		tw_add(&t->st->tw, &t->rto_timer, t->st->now + wait);
	}
	return lost;
}

/* §6.2 step 4: a D-SACK widens reo_wnd once per round trip; 16
 * recoveries without one take it back. */
static void rack_dsack_seen(struct tcb *t, uint32_t ack)
{
	t->flags |= TF_RACK_REORD;
	if ((t->flags & TF_DSACK_ROUND) && seq_geq(ack, t->rack_dsack_round))
		t->flags &= ~TF_DSACK_ROUND;
	if (t->flags & TF_DSACK_ROUND)
		return;
	t->flags |= TF_DSACK_ROUND;
	t->rack_dsack_round = t->snd_max;
	if (!t->rack_reo_mult)
		t->rack_reo_mult = 1;
	if (t->rack_reo_mult < 255)
		t->rack_reo_mult++;
	t->rack_reo_persist = 16;
	STAT_INC(t->st, TCP_RACK_REO_WND_RAISED);
}

void tcp_rack_recovery_end(struct tcb *t)
{
	if (t->rack_reo_persist && !--t->rack_reo_persist)
		t->rack_reo_mult = 1;
}

/* RFC 2883 §5 (Linux's undo with D-SACK): every retransmission of the last
 * recovery came back as a duplicate, so none was needed: the window before
 * it is restored and recovery, if still on, ends. */
static void dsack_undo(struct tcb *t, uint32_t s, uint32_t e)
{
	uint32_t segs;
	if (!(t->flags & TF_DSACK_UNDO) || !t->undo_dsack_left || !seq_gt(e, t->undo_seq) ||
	    !seq_leq(e, t->undo_rxt_end))
		return; /* not a retransmission of this recovery */
	segs = (e - s + t->mss - 1) / t->mss;
	t->undo_dsack_left = segs < t->undo_dsack_left ? t->undo_dsack_left - segs : 0;
	if (t->undo_dsack_left)
		return;
	t->flags &= ~(TF_DSACK_UNDO | TF_UNDO_OK);
	STAT_INC(t->st, TCP_DSACK_UNDO);
	if (t->undo_cc.cwnd > t->cc.cwnd || t->undo_cc.ssthresh > t->cc.ssthresh) {
		t->undo_cc.mss = t->cc.mss;
		t->cc = t->undo_cc;
	}
	if (t->flags & TF_IN_RECOVERY) {
		t->flags &= ~TF_IN_RECOVERY;
		t->recovery_extra = 0;
		t->dupacks = 0;
		t->recover = t->snd_una; /* no reduction stands: the next loss may recover */
		tcp_rack_recovery_end(t);
	}
}

int tcp_dsack_input(struct tcb *t, uint32_t ack, const struct tcp_sack_block *blk, int n)
{
	uint32_t s, e;
	if (n < 1)
		return 0;
	s = blk[0].start, e = blk[0].end;
	/* §4: below the cumulative ACK, or inside the second block */
	if (!seq_lt(s, e) || !(seq_lt(s, ack) ||
			       (n > 1 && seq_geq(s, blk[1].start) && seq_leq(e, blk[1].end))))
		return 0;
	STAT_INC(t->st, TCP_DSACK_RECV);
	rack_dsack_seen(t, ack);
	dsack_undo(t, s, e);
	return 1;
}
