/* Congestion control: NewReno (RFC 5681) and CUBIC (RFC 9438) windows driven
 * by synthetic ACK streams on a fake clock, checked against the RFC formulas
 * computed here independently. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "tcp/cc.h"

#define MSS 1460u
#define MS  1000000ull

static void test_cc_find_by_name(void **state)
{
	(void)state;
	assert_ptr_equal(tcp_cc_find("cubic"), &tcp_cc_cubic);
	assert_ptr_equal(tcp_cc_find("newreno"), &tcp_cc_newreno);
	assert_null(tcp_cc_find("bbr"));
	assert_string_equal(tcp_cc_cubic.name, "cubic");
}

static void test_cc_initial_window_rfc6928(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_newreno.init(&cc, 1460, 0);
	assert_int_equal(cc.cwnd, 14600);
	tcp_cc_newreno.init(&cc, 536, 0);
	assert_int_equal(cc.cwnd, 5360);     /* 10 * 536 < 14600 */
	tcp_cc_cubic.init(&cc, 8960, 0);
	assert_int_equal(cc.cwnd, 17920);    /* max(2 * 8960, 14600) */
	assert_int_equal(cc.ssthresh, UINT32_MAX);
}

static void test_newreno_slow_start_counts_bytes_capped(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_newreno.init(&cc, MSS, 0);
	tcp_cc_newreno.on_ack(&cc, MSS, 0, 0, 0);
	assert_int_equal(cc.cwnd, 14600 + MSS);
	tcp_cc_newreno.on_ack(&cc, 10 * MSS, 0, 0, 0); /* a stretch ACK grows at most 2 SMSS */
	assert_int_equal(cc.cwnd, 14600 + 3 * MSS);
}

static void test_newreno_avoidance_one_mss_per_window(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_newreno.init(&cc, MSS, 0);
	cc.cwnd = cc.ssthresh = 20 * MSS;
	for (int i = 0; i < 19; i++)
		tcp_cc_newreno.on_ack(&cc, MSS, 0, 0, 0);
	assert_int_equal(cc.cwnd, 20 * MSS);
	tcp_cc_newreno.on_ack(&cc, MSS, 0, 0, 0);
	assert_int_equal(cc.cwnd, 21 * MSS);
}

static void test_newreno_loss_halves_flight_and_rto_collapses(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_newreno.init(&cc, MSS, 0);
	cc.cwnd = 40 * MSS;
	tcp_cc_newreno.on_loss(&cc, 30 * MSS, 0);
	assert_int_equal(cc.ssthresh, 15 * MSS);
	assert_int_equal(cc.cwnd, 15 * MSS);
	tcp_cc_newreno.on_loss(&cc, 2 * MSS, 0); /* floor of 2 SMSS */
	assert_int_equal(cc.ssthresh, 2 * MSS);
	cc.cwnd = 40 * MSS;
	tcp_cc_newreno.on_rto(&cc, 40 * MSS, 0);
	assert_int_equal(cc.cwnd, MSS);
	assert_int_equal(cc.ssthresh, 20 * MSS);
	cc.cwnd = 50 * MSS;
	tcp_cc_newreno.on_idle(&cc, 0);
	assert_int_equal(cc.cwnd, 14600);
}

/* Feed one window of ACKs per RTT until `until`; returns the time reached. */
static uint64_t feed(struct tcp_cc *cc, uint64_t now, uint64_t until, uint64_t rtt)
{
	for (; now < until; now += rtt) {
		uint32_t segs = cc->cwnd / MSS;
		for (uint32_t i = 0; i < segs; i++)
			tcp_cc_cubic.on_ack(cc, MSS, cc->cwnd, (uint32_t)(rtt / 1000), now + rtt * i / segs);
	}
	return now;
}

static void test_cubic_loss_uses_beta_07(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_cubic.init(&cc, MSS, 0);
	cc.cwnd = 100 * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 0); /* sync the fractional window */
	cc.ssthresh = 100 * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 1);
	tcp_cc_cubic.on_loss(&cc, 100 * MSS, 1 * MS);
	assert_int_equal(cc.ssthresh, 70 * MSS);
	assert_int_equal(cc.cwnd, 70 * MSS);
}

static void test_cubic_regrows_to_wmax_at_k(void **state)
{
	(void)state;
	struct tcp_cc cc;
	/* a large W_max and long RTT so CUBIC, not the Reno estimate, drives */
	const double wmax = 1000, rtt_s = 0.1;
	tcp_cc_cubic.init(&cc, MSS, 0);
	cc.cwnd = cc.ssthresh = (uint32_t)wmax * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 1); /* in avoidance, window synced */
	tcp_cc_cubic.on_loss(&cc, (uint32_t)wmax * MSS, 1);
	double w0 = wmax * 0.7, k = cbrt((wmax - w0) / 0.4); /* RFC 9438 eq. 2: 8.43 s */
	uint64_t t0 = 10 * MS;
	/* halfway to K: concave growth, well below W_max */
	uint64_t now = feed(&cc, t0, t0 + (uint64_t)(k / 2 * 1e9), (uint64_t)(rtt_s * 1e9));
	double want = 0.4 * pow(k / 2 + rtt_s - k, 3) + wmax;
	assert_true(fabs(cc.cwnd / (double)MSS - want) < 0.05 * wmax);
	assert_true(cc.cwnd < wmax * MSS);
	/* at K: back at W_max, growth has flattened */
	now = feed(&cc, now, t0 + (uint64_t)(k * 1e9), (uint64_t)(rtt_s * 1e9));
	assert_true(fabs(cc.cwnd / (double)MSS - wmax) < 0.03 * wmax);
	/* past K: convex probing beyond W_max */
	feed(&cc, now, t0 + (uint64_t)((k + 3) * 1e9), (uint64_t)(rtt_s * 1e9));
	want = 0.4 * pow(3 + rtt_s, 3) + wmax;
	assert_true(cc.cwnd > wmax * MSS);
	assert_true(fabs(cc.cwnd / (double)MSS - want) < 0.05 * wmax);
}

static void test_cubic_fast_convergence_lowers_wmax(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_cubic.init(&cc, MSS, 0);
	cc.cwnd = cc.ssthresh = 1000 * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 1);
	tcp_cc_cubic.on_loss(&cc, 1000 * MSS, 1);  /* W_max = 1000, cwnd 700 */
	tcp_cc_cubic.on_loss(&cc, 700 * MSS, 2);   /* below W_max: W_max = 700 * 1.7 / 2 = 595 */
	assert_int_equal(cc.cwnd, 490 * MSS);      /* 700 * 0.7 */
	/* the next epoch aims at 595, not 700: at K = cbrt((595 - 490) / 0.4) it is there */
	uint64_t rtt = 100 * MS;
	feed(&cc, 10 * MS, 10 * MS + (uint64_t)(cbrt(105 / 0.4) * 1e9), rtt);
	assert_true(fabs(cc.cwnd / (double)MSS - 595) < 0.03 * 595);
}

static void test_cubic_reno_friendly_at_small_windows(void **state)
{
	(void)state;
	struct tcp_cc cc;
	/* tiny W_max, short RTT: Reno's AIMD outgrows the cubic curve (RFC 9438 §4.3) */
	tcp_cc_cubic.init(&cc, MSS, 0);
	cc.cwnd = cc.ssthresh = 10 * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 1);
	tcp_cc_cubic.on_loss(&cc, 10 * MSS, 1); /* cwnd 7 */
	uint64_t rtt = 1 * MS;
	feed(&cc, 2 * MS, 2 * MS + 20 * rtt, rtt);
	/* W_est: 7 -> 10 at alpha 0.529 (5.7 RTTs), then alpha 1: ~24 after 20 RTTs.
	 * The cubic curve alone stays under W_max = 10 for these 20 ms. */
	double w = cc.cwnd / (double)MSS;
	assert_true(w > 21.0 && w < 25.5);
}

static void test_cubic_rto_and_idle(void **state)
{
	(void)state;
	struct tcp_cc cc;
	tcp_cc_cubic.init(&cc, MSS, 0);
	cc.cwnd = cc.ssthresh = 60 * MSS;
	tcp_cc_cubic.on_ack(&cc, 0, 0, 0, 1);
	tcp_cc_cubic.on_rto(&cc, 60 * MSS, 5);
	assert_int_equal(cc.cwnd, MSS);
	assert_int_equal(cc.ssthresh, 42 * MSS);
	tcp_cc_cubic.on_ack(&cc, MSS, MSS, 0, 6);   /* slow start again */
	assert_int_equal(cc.cwnd, 2 * MSS);
	cc.cwnd = 80 * MSS;
	tcp_cc_cubic.on_idle(&cc, 7);
	assert_int_equal(cc.cwnd, 14600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cc_find_by_name),
		cmocka_unit_test(test_cc_initial_window_rfc6928),
		cmocka_unit_test(test_newreno_slow_start_counts_bytes_capped),
		cmocka_unit_test(test_newreno_avoidance_one_mss_per_window),
		cmocka_unit_test(test_newreno_loss_halves_flight_and_rto_collapses),
		cmocka_unit_test(test_cubic_loss_uses_beta_07),
		cmocka_unit_test(test_cubic_regrows_to_wmax_at_k),
		cmocka_unit_test(test_cubic_fast_convergence_lowers_wmax),
		cmocka_unit_test(test_cubic_reno_friendly_at_small_windows),
		cmocka_unit_test(test_cubic_rto_and_idle),
	};
	return cmocka_run_group_tests_name("cc", tests, NULL, NULL);
}
