/* Per-connection timers: retransmission (RFC 6298), persist, TIME-WAIT,
 * delayed ACK and keepalive. Each is a timer-wheel entry in the TCB whose
 * callback runs to completion. */
#include <errno.h>
#include <stddef.h>

#include "tcb.h"

#define MS_NS 1000000ull
#define tcb_of(ptr, field) ((struct tcb *)((char *)(ptr) - offsetof(struct tcb, field)))

static uint32_t tcp_rto_backed_off(const struct tcb *t)
{
	uint64_t r = (uint64_t)t->rto_ms << (t->backoff < 16 ? t->backoff : 16);
	return r > TCP_RTO_MAX_MS ? TCP_RTO_MAX_MS : (uint32_t)r;
}

/* TCP_USER_TIMEOUT: has the data sent since `since` gone unanswered too
 * long? A timer is never set past that moment (Linux's
 * tcp_clamp_rto_to_user_timeout), so the abort comes on time. */
static int tcp_user_timed_out(const struct tcb *t, uint64_t since)
{
	return t->user_timeout_ms && since && t->st->now - since >= (uint64_t)t->user_timeout_ms * MS_NS;
}

static uint64_t tcp_user_clamp(const struct tcb *t, uint64_t since, uint64_t at)
{
	uint64_t end;
	if (!t->user_timeout_ms || !since)
		return at;
	end = since + (uint64_t)t->user_timeout_ms * MS_NS;
	return end < at ? (end > t->st->now ? end : t->st->now + 1) : at;
}

void tcp_rto_arm(struct tcb *t)
{
	t->rto_kind = TCP_TK_RTO;
	tw_add(&t->st->tw, &t->rto_timer,
	       tcp_user_clamp(t, t->rtx_since, t->st->now + tcp_rto_backed_off(t) * MS_NS));
}

/* RFC 8985 §7.2: a probe timeout of 2*SRTT (plus the receiver's delayed
 * ACK when one segment is out) instead of the RTO, while SACK can tell
 * what a probe found, nothing is in recovery and no probe is out. */
void tcp_loss_timer_arm(struct tcb *t)
{
	uint64_t pto = 2ull * t->srtt_us * 1000, rto = (uint64_t)tcp_rto_backed_off(t) * MS_NS;
	if (!(t->flags & TF_SACK_OK) || (t->flags & (TF_IN_RECOVERY | TF_TLP_OUT)) || !t->srtt_us ||
	    t->backoff || !tcp_state_have_established(t->state)) {
		tcp_rto_arm(t);
		return;
	}
	pto += tcp_flight(t) <= t->mss ? TCP_RTO_MIN_MS * MS_NS : 2 * MS_NS;
	t->rto_kind = TCP_TK_TLP;
	tw_add(&t->st->tw, &t->rto_timer, t->st->now + (pto < rto ? pto : rto));
}

/* RFC 6298 (5.3): an ACK of new data restarts the timer; all acked stops it. */
void tcp_rto_restart(struct tcb *t)
{
	if (t->snd_max == t->snd_una)
		tw_cancel(&t->st->tw, &t->rto_timer);
	else
		tcp_loss_timer_arm(t);
}

/* RFC 8985 §7.3: send one new segment if the windows allow, else the last
 * one again, so that a lost tail draws a SACK rather than waits for the
 * RTO; then the RTO takes over. */
static void tcp_tlp_fire(struct tcb *t)
{
	uint32_t data_end = t->snd_una + t->sb_len, s, l;
	int fin_out = (t->flags & TF_FIN_QUEUED) && seq_gt(t->snd_max, t->fin_seq);
	if (t->snd_max == t->snd_una)
		return;
	/* RFC 8985 §6.2: data sent after a hole was delivered (SACKed) and the
	 * hole is older than RTT + reordering window: lost. No probe needed */
	if ((t->flags & TF_SACK_OK) && t->sb.n && !(t->flags & TF_IN_RECOVERY) && seq_geq(t->snd_una, t->recover)) {
		tcp_sb_mark_lost(&t->sb, t->sb.high_sacked);
		tcp_in_enter_recovery(t);
		tcp_output(t);
		tcp_rto_arm(t);
		return;
	}
	STAT_INC(t->st, TCP_TLP_PROBES);
	t->flags |= TF_TLP_OUT;
	l = seq_lt(t->snd_nxt, data_end) ? data_end - t->snd_nxt : 0;
	if (l > t->mss)
		l = t->mss;
	if (l && t->snd_nxt == t->snd_max && seq_leq(t->snd_nxt + l, t->snd_una + t->snd_wnd)) {
		t->snd_nxt += (uint32_t)tcp_send_data(t, t->snd_nxt, l, 0);
	} else {
		uint32_t end = fin_out ? t->fin_seq : t->snd_max;
		uint32_t room = tcp_seg_room(t);
		l = end - t->snd_una < room ? end - t->snd_una : room;
		s = end - l;
		tcp_send_data(t, s, l, 0);
	}
	tcp_rto_arm(t);
}

/* RFC 8985 §6.3: the reordering window ran out for a segment sent before
 * one delivered: detect again; then the usual loss timer. */
static void tcp_reo_fire(struct tcb *t)
{
	STAT_INC(t->st, TCP_RACK_REO_TIMEOUTS);
	t->rto_kind = TCP_TK_NONE;
	if (t->snd_max == t->snd_una)
		return;
	tcp_in_rack_loss(t);
	tcp_output(t);
	if (!tw_timer_pending(&t->rto_timer))
		tcp_rto_restart(t);
}

void tcp_persist_arm(struct tcb *t)
{
	t->rto_kind = TCP_TK_PERSIST;
	tw_add(&t->st->tw, &t->rto_timer,
	       tcp_user_clamp(t, t->probe_since, t->st->now + tcp_rto_backed_off(t) * MS_NS));
}

void tcp_delack_arm(struct tcb *t)
{
	if (!tw_timer_pending(&t->delack_timer))
		tw_add(&t->st->tw, &t->delack_timer, t->st->now + TCP_DELACK_MS * MS_NS);
}

void tcp_keep_arm(struct tcb *t)
{
	uint64_t at;
	if (!t->sock && t->state == TCP_STATE_FIN_WAIT_2)
		at = t->st->now + 60000 * MS_NS; /* orphaned FIN-WAIT-2, as tcp_fin_timeout */
	else if (t->flags & TF_KEEPALIVE)
		at = t->last_rcv + (uint64_t)(t->keep_probes ? t->keepintvl_s : t->keepidle_s) * 1000 * MS_NS;
	else
		return;
	tw_add(&t->st->tw, &t->keep_timer, at);
}

/* RFC 6298 (2.3): SRTT, RTTVAR and RTO from a sample; RTO at least 200 ms
 * (Linux's floor rather than RFC's 1 s) and at most 120 s. */
void tcp_rtt_sample(struct tcb *t, uint32_t rtt_us)
{
	uint32_t rto;
	if (!rtt_us)
		rtt_us = 1;
	tcp_rack_rtt_sample(t, rtt_us);
	if (!t->srtt_us) {
		t->srtt_us = rtt_us;
		t->rttvar_us = rtt_us / 2;
	} else {
		uint32_t d = t->srtt_us > rtt_us ? t->srtt_us - rtt_us : rtt_us - t->srtt_us;
		t->rttvar_us = (3 * t->rttvar_us + d) / 4;
		t->srtt_us = (7 * t->srtt_us + rtt_us) / 8;
	}
	rto = (t->srtt_us + 4 * t->rttvar_us) / 1000;
	t->rto_ms = rto < TCP_RTO_MIN_MS ? TCP_RTO_MIN_MS : rto > TCP_RTO_MAX_MS ? TCP_RTO_MAX_MS : rto;
	t->backoff = 0;
}

void tcp_time_wait_enter(struct tcb *t)
{
	tw_cancel(&t->st->tw, &t->delack_timer);
	tw_cancel(&t->st->tw, &t->keep_timer);
	t->rto_kind = TCP_TK_TIME_WAIT;
	tw_add(&t->st->tw, &t->rto_timer, t->st->now + (uint64_t)t->st->tcp->time_wait_ms * MS_NS);
}

static void tcp_rto_syn(struct tcb *t)
{
	if (t->backoff >= TCP_SYN_RETRIES || tcp_user_timed_out(t, t->rtx_since)) {
		STAT_INC(t->st, TCP_CONN_TIMEDOUT);
		tcp_done(t, ETIMEDOUT);
		return;
	}
	t->backoff++;
	STAT_INC(t->st, TCP_RETRANS_SEGS);
	t->total_retrans++;
	t->retransmits++;
	if (tcp_send_syn(t) == -EHOSTUNREACH && t->state == TCP_STATE_SYN_SENT) {
		STAT_INC(t->st, TCP_CONN_UNREACH); /* the next hop never answered ARP */
		tcp_done(t, EHOSTUNREACH);
		return;
	}
	tcp_rto_arm(t);
}

/* RFC 6298 (5.4-5.7) and RFC 5681 (4.3 eq. 4): go back to snd_una with a
 * one-segment window, back off the timer. */
static void tcp_rto_fire(struct tcb *t)
{
	STAT_INC(t->st, TCP_RTO_FIRED);
	if (!t->rtx_since) /* the episode began when what timed out was sent */
		t->rtx_since = t->st->now - (uint64_t)tcp_rto_backed_off(t) * MS_NS;
	if (tcp_state_opening(t->state))
		return tcp_rto_syn(t);
	if (t->snd_max == t->snd_una) {
		tcp_output(t); /* nothing in flight: a send that failed earlier */
		return;
	}
	if (t->user_timeout_ms ? tcp_user_timed_out(t, t->rtx_since) : t->backoff >= TCP_RETRIES2) {
		STAT_INC(t->st, TCP_CONN_TIMEDOUT);
		tcp_done(t, ETIMEDOUT);
		return;
	}
	if (t->backoff == 0 || !(t->flags & TF_IN_RECOVERY))
		t->cco->on_rto(&t->cc, tcp_flight(t), t->st->now);
	t->flags &= ~TF_DSACK_UNDO; /* the timeout's reduction stands */
	t->backoff++;
	t->retransmits++;
	t->flags &= ~(TF_IN_RECOVERY | TF_RTT_TIMING);
	t->recovery_extra = 0;
	t->dupacks = 0;
	t->recover = t->snd_max; /* RFC 6582 §4 step 4 */
	t->high_rxt = t->snd_una;
	t->snd_nxt = t->snd_una;
	tcp_output(t);
	if (t->snd_nxt == t->snd_una && t->sb_len) {
		/* the window closed under data in flight: the retransmission
		 * goes anyway and serves as the window probe (as Linux) */
		uint32_t len = t->sb_len < t->mss ? t->sb_len : t->mss;
		t->snd_nxt += (uint32_t)tcp_send_data(t, t->snd_una, len, 0);
	}
	if (!tw_timer_pending(&t->rto_timer))
		tcp_rto_arm(t);
}

/* RFC 9293 §3.8.6.1: probe a zero window; Linux's probe is an ACK with
 * seq snd_una - 1, which the peer answers with its window. */
static void tcp_persist_fire(struct tcb *t)
{
	uint32_t avail = t->snd_una + t->sb_len - t->snd_nxt, len = t->snd_wnd;
	if (!t->sb_len || seq_gt(t->snd_nxt, t->snd_una + t->sb_len))
		return;
	if (t->snd_wnd) {
		/* RFC 1122 §4.2.3.4: a window too small for SWS avoidance, and
		 * nothing in flight: send what it allows after the timeout */
		if (len > avail)
			len = avail;
		if (len > t->mss)
			len = t->mss;
		int sent = tcp_send_data(t, t->snd_nxt, len, 0);
		t->snd_nxt += (uint32_t)sent;
		if (!sent)
			tcp_persist_arm(t);
		return;
	}
	if (t->user_timeout_ms && !t->probe_since)
		t->probe_since = t->st->now;
	if (t->user_timeout_ms ? tcp_user_timed_out(t, t->probe_since) : ++t->retransmits > TCP_RETRIES2) {
		/* tcp_probe_timer: probes nobody answers end the connection */
		STAT_INC(t->st, TCP_CONN_TIMEDOUT);
		tcp_done(t, ETIMEDOUT);
		return;
	}
	STAT_INC(t->st, TCP_PERSIST_PROBES);
	tcp_send_ctl(t, TCP_ACK, t->snd_una - 1);
	if (t->backoff < 16)
		t->backoff++;
	tcp_persist_arm(t);
}

static void tcp_rto_cb(struct tw_timer *tm, uint64_t now)
{
	struct tcb *t = tcb_of(tm, rto_timer);
	(void)now;
	switch (t->rto_kind) {
	case TCP_TK_RTO:
		tcp_rto_fire(t);
		break;
	case TCP_TK_PERSIST:
		tcp_persist_fire(t);
		break;
	case TCP_TK_TLP:
		tcp_tlp_fire(t);
		break;
	case TCP_TK_REO:
		tcp_reo_fire(t);
		break;
	case TCP_TK_TIME_WAIT:
		STAT_INC(t->st, TCP_CONN_CLOSED);
		tcp_tcb_free(t);
		break;
	default:
		break;
	}
}

static void tcp_delack_cb(struct tw_timer *tm, uint64_t now)
{
	struct tcb *t = tcb_of(tm, delack_timer);
	(void)now;
	if (t->last_ack_sent != t->rcv_nxt || t->unacked_segs) {
		STAT_INC(t->st, TCP_DELAYED_ACKS);
		tcp_send_ack(t);
	}
}

/* Keepalive (RFC 1122 §4.2.3.6, Linux's knobs) and the orphaned
 * FIN-WAIT-2 timeout. */
static void tcp_keep_cb(struct tw_timer *tm, uint64_t now)
{
	struct tcb *t = tcb_of(tm, keep_timer);
	uint64_t idle = (uint64_t)t->keepidle_s * 1000 * MS_NS;
	if (!t->sock && t->state == TCP_STATE_FIN_WAIT_2) {
		tcp_done(t, 0);
		return;
	}
	if (!(t->flags & TF_KEEPALIVE) || !tcp_state_have_established(t->state) ||
	    t->state == TCP_STATE_TIME_WAIT)
		return;
	if (!t->keep_probes && now - t->last_rcv < idle) {
		tcp_keep_arm(t);
		return;
	}
	/* with a user timeout, unanswered probes end it after that long
	 * since the peer was last heard (Linux's tcp_keepalive_timer) */
	if (t->user_timeout_ms ? t->keep_probes && now - t->last_rcv >= (uint64_t)t->user_timeout_ms * MS_NS
			       : t->keep_probes >= t->keepcnt) {
		STAT_INC(t->st, TCP_CONN_TIMEDOUT);
		tcp_send_rst(t);
		tcp_done(t, ETIMEDOUT);
		return;
	}
	t->keep_probes++;
	STAT_INC(t->st, TCP_KEEPALIVE_PROBES);
	tcp_send_ctl(t, TCP_ACK, t->snd_una - 1);
	tw_add(&t->st->tw, &t->keep_timer, now + (uint64_t)t->keepintvl_s * 1000 * MS_NS);
}

void tcp_timers_init(struct tcb *t)
{
	tw_timer_init(&t->rto_timer, tcp_rto_cb);
	tw_timer_init(&t->delack_timer, tcp_delack_cb);
	tw_timer_init(&t->keep_timer, tcp_keep_cb);
}

void tcp_timers_stop(struct tcb *t)
{
	tw_cancel(&t->st->tw, &t->rto_timer);
	tw_cancel(&t->st->tw, &t->delack_timer);
	tw_cancel(&t->st->tw, &t->keep_timer);
}
