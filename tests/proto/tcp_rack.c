/* Loss recovery with RACK-TLP (RFC 8985) and received D-SACKs (RFC 2883),
 * segment by segment: which blocks are D-SACKs, the undo of a recovery
 * they prove spurious, the reordering window they widen, RACK's time-based
 * loss marking and its timer, the tail loss probe, and NewReno recovery
 * with a peer that has no SACK. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../lib/tt.h"

#define P1 (TT_PEER_ISS + 1)
#define MSS 1448u

static ssize_t tsend(struct sock *s, const void *b, size_t n)
{
	struct iovec v = { .iov_base = (void *)b, .iov_len = n };
	return sock_send(s, &v, 1, 0, NULL);
}

/* An ACK from the peer to ack, echoing tsecr, with SACK blocks (pairs of
 * start, end; nblk of them). */
static void ack_sack(struct tt *t, uint32_t ack, uint32_t tsecr, int nblk, ...)
{
	struct tcp_opts o = tt_ts(t, tsecr);
	va_list ap;
	va_start(ap, nblk);
	for (int i = 0; i < nblk; i++) {
		o.sack[i].start = va_arg(ap, uint32_t);
		o.sack[i].end = va_arg(ap, uint32_t);
	}
	va_end(ap);
	if (nblk) {
		o.has |= TCP_OPTF_SACK;
		o.nsack = (uint8_t)nblk;
	}
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = ack, .wnd = 502, .opt = o));
}

/* ESTABLISHED with an RTT of rtt_ms measured on one byte; returns the
 * first sequence number of the data to come. */
static uint32_t rack_established(struct tt *t, uint64_t rtt_ms)
{
	struct tt_seg s;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "x", 1), 1);
	tt_advance(t, 0);
	s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_advance(t, rtt_ms * TT_MS);
	ack_sack(t, t->iss + 2, s.opt.tsval, 0);
	return t->iss + 2;
}

/* n full segments from base in one burst; returns the last one. */
static struct tt_seg send_segs(struct tt *t, uint32_t base, int n)
{
	static char d[16 * MSS];
	struct tt_seg s;
	assert_int_equal(tsend(t->sock, d, (size_t)n * MSS), (ssize_t)n * MSS);
	tt_advance(t, 0);
	for (int i = 0; i < n; i++)
		s = tt_expect(t, i == n - 1 ? TCP_ACK | TCP_PSH : TCP_ACK, base + MSS * (uint32_t)i, P1);
	return s;
}

/* RFC 2883 §4: a first block below the cumulative ACK is a D-SACK. */
static void test_rack_dsack_below_ack_detected(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10);
	struct tt_seg s = send_segs(t, base, 4);
	ack_sack(t, base + 2 * MSS, s.opt.tsval, 1, base, base + MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 1);
	assert_true(tt_tcb(t)->flags & TF_RACK_REORD);
}

/* §4: a first block inside the second is a D-SACK of data above the ACK. */
static void test_rack_dsack_inside_second_block_detected(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10);
	struct tt_seg s = send_segs(t, base, 4);
	ack_sack(t, base, s.opt.tsval, 2, base + 2 * MSS, base + 3 * MSS, base + MSS, base + 4 * MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 1);
	/* the second block still counts as SACKed */
	assert_true(tcp_sb_is_sacked(&tt_tcb(t)->sb, base + MSS, base + 4 * MSS));
}

/* Ordinary blocks above the ACK, the first not inside the second: no D-SACK. */
static void test_rack_plain_sack_is_not_dsack(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10);
	struct tt_seg s = send_segs(t, base, 6);
	ack_sack(t, base, s.opt.tsval, 2, base + 4 * MSS, base + 5 * MSS, base + MSS, base + 3 * MSS);
	ack_sack(t, base + 3 * MSS, s.opt.tsval, 1, base + 4 * MSS, base + 6 * MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 0);
	assert_false(tt_tcb(t)->flags & TF_RACK_REORD);
}

/* Eight segments, the first SACKed around by three: fast retransmit.
 * Returns the retransmission; *cwnd gets the window before recovery. */
static struct tt_seg recovery_setup(struct tt *t, uint32_t base, uint32_t *cwnd)
{
	struct tt_seg s = send_segs(t, base, 8);
	*cwnd = tt_tcb(t)->cc.cwnd;
	tt_advance(t, 10 * TT_MS);
	for (int i = 1; i <= 3; i++)
		ack_sack(t, base, s.opt.tsval, 1, base + MSS, base + MSS * (uint32_t)(i + 1));
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, MSS);
	assert_true(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_true(tt_tcb(t)->cc.cwnd < *cwnd);
	return s;
}

/* RFC 2883 §5: the only retransmission of the recovery comes back as a
 * D-SACK, so the original had arrived: the window before it is restored.
 * The ACKs echo the retransmission's timestamp, so only the D-SACK can
 * tell (timestamps' undo, RFC 3522, stays out of it). */
static void test_rack_dsack_undoes_spurious_fast_retransmit(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10), cwnd, end = base + 8 * MSS;
	struct tt_seg r = recovery_setup(t, base, &cwnd);
	ack_sack(t, end, r.opt.tsval, 0);
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_true(tt_tcb(t)->cc.cwnd < cwnd);
	assert_int_equal(t->st->ctr.v[TCP_SPURIOUS_RECOVERIES], 0);
	ack_sack(t, end, r.opt.tsval, 1, base, base + MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 1);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_UNDO], 1);
	assert_true(tt_tcb(t)->cc.cwnd >= cwnd);
}

/* Undone in the middle of recovery, a recovery may start again at once: a
 * later hole RACK finds lost is retransmitted by the reordering timer, not
 * left to a probe and the RTO. */
static void test_rack_dsack_undo_in_recovery_then_new_loss(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 20), cwnd;
	struct tt_seg r = recovery_setup(t, base, &cwnd), s;
	while (tt_recv(t, &s))
		;
	/* the original first segment arrived: D-SACK of the retransmission,
	 * ACK of the first four; the fifth is missing below three SACKed */
	ack_sack(t, base + 4 * MSS, r.opt.tsval, 2, base, base + MSS, base + 5 * MSS, base + 8 * MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_UNDO], 1);
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	tt_advance(t, 11 * TT_MS); /* past the reordering window, at most 10 ms here */
	s = tt_expect(t, TCP_ACK, base + 4 * MSS, P1);
	assert_int_equal(s.len, MSS);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 2);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 0);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
}

/* A D-SACK of data never retransmitted (the network duplicated it)
 * undoes nothing. */
static void test_rack_dsack_of_unretransmitted_data_no_undo(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10), cwnd, end = base + 8 * MSS;
	struct tt_seg r = recovery_setup(t, base, &cwnd);
	ack_sack(t, end, r.opt.tsval, 1, base + 5 * MSS, base + 6 * MSS);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 1);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_UNDO], 0);
	assert_true(tt_tcb(t)->cc.cwnd < cwnd);
}

/* RFC 8985 §6.2 step 4: a D-SACK widens reo_wnd by min_RTT/4, once per
 * round trip; 16 recoveries without one take it back. */
static void test_rack_dsack_widens_reo_wnd(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 20), w0, w1;
	struct tt_seg s = send_segs(t, base, 4);
	struct tcb *c = tt_tcb(t);
	c->flags |= TF_RACK_REORD;
	w0 = tcp_rack_reo_wnd(c);
	assert_int_equal(w0, 5000); /* min_RTT 20 ms / 4 */
	tt_advance(t, 20 * TT_MS);
	ack_sack(t, base + MSS, s.opt.tsval, 1, base, base + MSS);
	w1 = tcp_rack_reo_wnd(c);
	assert_int_equal(w1, 2 * w0);
	assert_int_equal(t->st->ctr.v[TCP_RACK_REO_WND_RAISED], 1);
	/* the same round: no more */
	ack_sack(t, base + 2 * MSS, s.opt.tsval, 1, base, base + MSS);
	assert_int_equal(tcp_rack_reo_wnd(c), w1);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_RECV], 2);
	/* the round over (snd_una past what was sent): the next one widens */
	ack_sack(t, base + 4 * MSS, s.opt.tsval, 1, base, base + MSS);
	assert_int_equal(tcp_rack_reo_wnd(c), 3 * w0);
	for (int i = 0; i < 15; i++)
		tcp_rack_recovery_end(c);
	assert_int_equal(tcp_rack_reo_wnd(c), 3 * w0);
	tcp_rack_recovery_end(c);
	assert_int_equal(tcp_rack_reo_wnd(c), w0);
}

/* RFC 8985 §6.2: the first segment is not lost when a later one of the
 * same flight is SACKed, only once the reordering window (min_RTT/4 =
 * 5 ms) has passed beyond the RTT; the reordering timer (§6.3) resends it
 * then, long before a probe (2*SRTT) or the RTO. */
static void test_rack_marks_lost_after_reo_wnd_by_timer(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 20);
	struct tt_seg s = send_segs(t, base, 4);
	tt_advance(t, 20 * TT_MS);
	ack_sack(t, base, s.opt.tsval, 1, base + MSS, base + 2 * MSS);
	tt_expect_nothing(t);
	tt_advance(t, 3 * TT_MS);
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[TCP_RACK_LOST], 0);
	tt_advance(t, 3 * TT_MS); /* 5 ms after the SACK, and a tick */
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, MSS);
	assert_int_equal(t->st->ctr.v[TCP_RACK_REO_TIMEOUTS], 1);
	assert_true(t->st->ctr.v[TCP_RACK_LOST] >= 1);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 1);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 0);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
	/* only the first: the fourth was sent with it but not before the SACKed one */
	tt_expect_nothing(t);
}

/* A segment sent before the SACKed one by more than the reordering window
 * is lost at the SACK's arrival, with no timer: time, not a count. */
static void test_rack_older_segment_lost_at_once(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 20);
	struct tt_seg s;
	send_segs(t, base, 1);
	tt_advance(t, 10 * TT_MS);
	s = send_segs(t, base + MSS, 1);
	tt_advance(t, 20 * TT_MS);
	ack_sack(t, base, s.opt.tsval, 1, base + MSS, base + 2 * MSS);
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, MSS);
	assert_int_equal(t->st->ctr.v[TCP_RACK_LOST], 1);
	assert_int_equal(t->st->ctr.v[TCP_RACK_REO_TIMEOUTS], 0);
}

/* A lost retransmission: RACK finds it by time (new data sent after it was
 * SACKed) and sends it again, without waiting for the RTO. */
static void test_rack_lost_retransmission_resent(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 20), cwnd;
	struct tt_seg r = recovery_setup(t, base, &cwnd), s;
	uint64_t rto = t->st->ctr.v[TCP_RTO_FIRED];
	/* later data goes out after the retransmission and is SACKed */
	while (tt_recv(t, &s))
		;
	send_segs(t, base + 8 * MSS, 1);
	tt_advance(t, 30 * TT_MS);
	ack_sack(t, base, r.opt.tsval, 1, base + MSS, base + 9 * MSS);
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, MSS);
	assert_true(t->st->ctr.v[TCP_LOST_RETRANS] >= 1);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], rto);
}

/* RFC 8985 §7: the only segment in flight unanswered: one probe after the
 * PTO (2*SRTT + the delayed-ACK allowance), the last segment again; its
 * ACK ends the episode with no retransmission timeout after it. */
static void test_rack_tlp_probe_and_its_ack(void **state)
{
	struct tt *t = *state;
	uint32_t base = rack_established(t, 10);
	struct tt_seg s = send_segs(t, base, 1);
	tt_advance(t, 19 * TT_MS);
	tt_expect_nothing(t);
	tt_advance(t, 200 * TT_MS); /* 2*SRTT plus 200 ms for a delayed ACK */
	s = tt_expect(t, TCP_ACK | TCP_PSH, base, P1);
	assert_int_equal(s.len, MSS);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 1);
	assert_true(tt_tcb(t)->flags & TF_TLP_OUT);
	ack_sack(t, base + MSS, s.opt.tsval, 0);
	assert_false(tt_tcb(t)->flags & TF_TLP_OUT);
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	tt_advance(t, 2000 * TT_MS);
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 1);
}

/* A peer without SACK: no RACK, NewReno (RFC 6582): three duplicate ACKs
 * retransmit the first, a partial ACK the next hole, the full ACK ends
 * recovery; nothing waits for the RTO. */
static void test_rack_no_sack_peer_newreno_recovery(void **state)
{
	struct tt *t = *state;
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_TS, .mss = 1460, .wscale = 7,
			      .tsval = (uint32_t)(t->now / TT_MS) };
	struct sockaddr_in peer;
	struct tt_seg s;
	uint32_t base;
	tt_listen(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = o));
	assert_true(tt_recv(t, &s));
	t->iss = s.seq;
	assert_false(s.opt.has & TCP_OPTF_SACK_OK);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .opt = tt_ts(t, 0)));
	assert_int_equal(sock_accept(t->lsock, &t->sock, &peer), 0);
	assert_false(tt_tcb(t)->flags & TF_SACK_OK);
	base = t->iss + 1;
	s = send_segs(t, base, 8);
	assert_null(tt_tcb(t)->txlog);
	tt_advance(t, 10 * TT_MS);
	/* the first and the third lost */
	for (int i = 0; i < 3; i++)
		ack_sack(t, base, s.opt.tsval, 0);
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, MSS);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 1);
	while (tt_recv(t, &s))
		;
	tt_advance(t, 10 * TT_MS);
	ack_sack(t, base + 2 * MSS, s.opt.tsval, 0); /* partial: the third is missing */
	s = tt_expect(t, TCP_ACK, base + 2 * MSS, P1);
	assert_int_equal(t->st->ctr.v[TCP_PARTIAL_ACKS], 1);
	while (tt_recv(t, &s))
		;
	tt_advance(t, 10 * TT_MS);
	ack_sack(t, base + 8 * MSS, s.opt.tsval, 0);
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
	assert_int_equal(t->st->ctr.v[TCP_RACK_LOST], 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rack_dsack_below_ack_detected),
		T(test_rack_dsack_inside_second_block_detected),
		T(test_rack_plain_sack_is_not_dsack),
		T(test_rack_dsack_undoes_spurious_fast_retransmit),
		T(test_rack_dsack_undo_in_recovery_then_new_loss),
		T(test_rack_dsack_of_unretransmitted_data_no_undo),
		T(test_rack_dsack_widens_reo_wnd),
		T(test_rack_marks_lost_after_reo_wnd_by_timer),
		T(test_rack_older_segment_lost_at_once),
		T(test_rack_lost_retransmission_resent),
		T(test_rack_tlp_probe_and_its_ack),
		T(test_rack_no_sack_peer_newreno_recovery),
	};
	return cmocka_run_group_tests_name("tcp_rack", tests, NULL, NULL);
}
