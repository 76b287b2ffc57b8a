/* SACK scoreboard (RFC 2018) and RFC 6675 IsLost, SetPipe and NextSeg on
 * worked examples: 1000-byte segments, snd_una 0, snd_nxt 10000 unless said. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tcp/sack.h"

#define B(s, e) ((struct tcp_sack_block){ (s), (e) })

static void sack(struct tcp_scoreboard *sb, uint32_t una, uint32_t nxt, struct tcp_sack_block b)
{
	tcp_sb_update(sb, una, nxt, &b, 1);
}

static void test_sack_update_merges_adjacent_and_overlapping(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	struct tcp_sack_block b = B(1000, 2000);
	assert_int_equal(tcp_sb_update(&sb, 0, 10000, &b, 1), 1000);
	b = B(2000, 3000);
	assert_int_equal(tcp_sb_update(&sb, 0, 10000, &b, 1), 1000);
	assert_int_equal(sb.n, 1);
	b = B(2500, 4000);
	assert_int_equal(tcp_sb_update(&sb, 0, 10000, &b, 1), 1000);
	assert_int_equal(sb.n, 1);
	assert_int_equal(sb.r[0].start, 1000);
	assert_int_equal(sb.r[0].end, 4000);
	b = B(1500, 2500); /* nothing new */
	assert_int_equal(tcp_sb_update(&sb, 0, 10000, &b, 1), 0);
	b = B(6000, 7000);
	tcp_sb_update(&sb, 0, 10000, &b, 1);
	assert_int_equal(sb.n, 2);
	assert_int_equal(sb.sacked_bytes, 4000);
	assert_int_equal(sb.high_sacked, 7000);
	assert_true(tcp_sb_is_sacked(&sb, 1200, 3900));
	assert_false(tcp_sb_is_sacked(&sb, 3500, 6500));
}

static void test_sack_update_ignores_invalid_blocks(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	struct tcp_sack_block bad[] = { B(5000, 11000), /* beyond snd_nxt */
					B(0, 1000) /* at or below snd_una: a D-SACK */,
					B(3000, 3000), B(4000, 3000) };
	assert_int_equal(tcp_sb_update(&sb, 1000, 10000, bad, 4), 0);
	assert_int_equal(sb.n, 0);
	sack(&sb, 1000, 10000, B(500, 2000)); /* straddles snd_una: clipped */
	assert_int_equal(sb.r[0].start, 1000);
	assert_int_equal(sb.sacked_bytes, 1000);
}

static void test_sack_advance_forgets_below_una(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	sack(&sb, 0, 10000, B(1000, 2000));
	sack(&sb, 0, 10000, B(3000, 5000));
	tcp_sb_advance(&sb, 4000);
	assert_int_equal(sb.n, 1);
	assert_int_equal(sb.r[0].start, 4000);
	assert_int_equal(sb.sacked_bytes, 1000);
}

static void test_sack_ranges_across_sequence_wrap(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	uint32_t una = 0xfffff000u, nxt = una + 10000;
	tcp_sb_reset(&sb);
	sack(&sb, una, nxt, B(una + 5000, una + 6000));
	sack(&sb, una, nxt, B(una + 1000, una + 2000)); /* lower: sorts first */
	sack(&sb, una, nxt, B(una + 2000, una + 5000)); /* joins both, across 2^32 */
	assert_int_equal(sb.n, 1);
	assert_int_equal(sb.r[0].start, una + 1000);
	assert_int_equal(sb.r[0].end, una + 6000);
	assert_int_equal(sb.sacked_bytes, 5000);
}

static void test_sack_full_table_keeps_highest(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	for (uint32_t i = 0; i < 40; i++)
		sack(&sb, 0, 100000, B(1000 + 2000 * i, 2000 + 2000 * i));
	assert_int_equal(sb.n, TCP_SB_MAX);
	assert_int_equal(sb.r[0].start, 1000 + 2000 * 8);
	assert_int_equal(sb.high_sacked, 2000 + 2000 * 39);
}

static void test_sack_is_lost_by_ranges_or_bytes(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	sack(&sb, 0, 10000, B(1000, 2000));
	sack(&sb, 0, 10000, B(3000, 4000));
	assert_false(tcp_sb_is_lost(&sb, 0, 1000)); /* 2 ranges, 2000 bytes */
	sack(&sb, 0, 10000, B(5000, 6000));
	assert_true(tcp_sb_is_lost(&sb, 0, 1000));  /* DupThresh ranges above */
	assert_false(tcp_sb_is_lost(&sb, 2000, 1000));
	tcp_sb_reset(&sb);
	sack(&sb, 0, 10000, B(1000, 3500));          /* one range of 2500 > 2 SMSS */
	assert_true(tcp_sb_is_lost(&sb, 0, 1000));
	assert_false(tcp_sb_is_lost(&sb, 1500, 1000));
}

static void test_sack_pipe_counts_unsacked_not_lost_and_rexmit(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	tcp_sb_reset(&sb);
	sack(&sb, 0, 10000, B(1000, 2000));
	sack(&sb, 0, 10000, B(3000, 4000));
	sack(&sb, 0, 10000, B(5000, 6000));
	/* [0,1000) lost; [2000,3000), [4000,5000) and [6000,10000) in flight */
	assert_int_equal(tcp_sb_pipe(&sb, 0, 10000, 0, 1000), 6000);
	/* [0,1000) retransmitted: its copy is in flight again */
	assert_int_equal(tcp_sb_pipe(&sb, 0, 10000, 1000, 1000), 7000);
}

static void test_sack_next_seg_rules_1_and_3(void **state)
{
	(void)state;
	struct tcp_scoreboard sb;
	uint32_t seq, len;
	tcp_sb_reset(&sb);
	assert_int_equal(tcp_sb_next_seg(&sb, 0, 10000, 0, 1000, &seq, &len), -1);
	sack(&sb, 0, 10000, B(1000, 2000));
	sack(&sb, 0, 10000, B(3000, 4000));
	sack(&sb, 0, 10000, B(5000, 6000));
	assert_int_equal(tcp_sb_next_seg(&sb, 0, 10000, 0, 1000, &seq, &len), 1);
	assert_int_equal(seq, 0);
	assert_int_equal(len, 1000);
	/* [0,1000) resent: the next hole is not lost yet, rule 3 */
	assert_int_equal(tcp_sb_next_seg(&sb, 0, 10000, 1000, 1000, &seq, &len), 3);
	assert_int_equal(seq, 2000);
	assert_int_equal(len, 1000);
	/* nothing unSACKed left below the highest SACKed octet */
	assert_int_equal(tcp_sb_next_seg(&sb, 0, 10000, 5000, 1000, &seq, &len), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sack_update_merges_adjacent_and_overlapping),
		cmocka_unit_test(test_sack_update_ignores_invalid_blocks),
		cmocka_unit_test(test_sack_advance_forgets_below_una),
		cmocka_unit_test(test_sack_ranges_across_sequence_wrap),
		cmocka_unit_test(test_sack_full_table_keeps_highest),
		cmocka_unit_test(test_sack_is_lost_by_ranges_or_bytes),
		cmocka_unit_test(test_sack_pipe_counts_unsacked_not_lost_and_rexmit),
		cmocka_unit_test(test_sack_next_seg_rules_1_and_3),
	};
	return cmocka_run_group_tests_name("sack", tests, NULL, NULL);
}
