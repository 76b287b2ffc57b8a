/* Timer wheel: exact firing tick, cancel, re-arm, cascades over all levels,
 * callbacks that change the wheel, and a seeded comparison with a model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "timerwheel.h"

#define MS 1000000ull

struct probe {
	struct tw_timer t;
	uint64_t fired_at; /* 0: not fired */
	int count;
};

static void probe_fn(struct tw_timer *t, uint64_t now)
{
	struct probe *p = (struct probe *)t;
	p->fired_at = now;
	p->count++;
}

static struct probe probe_new(void)
{
	struct probe p = { 0 };
	tw_timer_init(&p.t, probe_fn);
	return p;
}

/* Run the wheel one tick at a time up to `until`, like a poll loop would. */
static void run_ticks(struct timerwheel *tw, uint64_t from, uint64_t until)
{
	for (uint64_t now = from; now <= until; now += MS)
		tw_run(tw, now);
}

static void test_timerwheel_add_fires_at_expiry_tick(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe p = probe_new();
	tw_init(&tw, 1000 * MS, MS);
	tw_add(&tw, &p.t, 1005 * MS);
	assert_true(tw_timer_pending(&p.t));
	run_ticks(&tw, 1000 * MS, 1004 * MS);
	assert_int_equal(p.count, 0);
	tw_run(&tw, 1005 * MS);
	assert_int_equal(p.count, 1);
	assert_int_equal(p.fired_at, 1005 * MS);
	assert_false(tw_timer_pending(&p.t));
	assert_int_equal(tw.pending, 0);
}

static void test_timerwheel_unaligned_expiry_fires_at_next_tick(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe p = probe_new();
	tw_init(&tw, 0, MS);
	tw_add(&tw, &p.t, 3 * MS + 1);
	tw_run(&tw, 3 * MS + 500000);
	assert_int_equal(p.count, 0);
	tw_run(&tw, 4 * MS);
	assert_int_equal(p.count, 1);
}

static void test_timerwheel_past_expiry_fires_next_tick(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe p = probe_new();
	tw_init(&tw, 50 * MS, MS);
	tw_add(&tw, &p.t, 10 * MS);
	tw_run(&tw, 51 * MS);
	assert_int_equal(p.count, 1);
}

static void test_timerwheel_cancel_prevents_firing(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe a = probe_new(), b = probe_new();
	tw_init(&tw, 0, MS);
	tw_add(&tw, &a.t, 7 * MS);
	tw_add(&tw, &b.t, 7 * MS);
	tw_cancel(&tw, &a.t);
	tw_cancel(&tw, &a.t); /* twice is harmless */
	run_ticks(&tw, 0, 10 * MS);
	assert_int_equal(a.count, 0);
	assert_int_equal(b.count, 1);
	assert_int_equal(tw.pending, 0);
}

static void test_timerwheel_rearm_moves_timer(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe p = probe_new();
	tw_init(&tw, 0, MS);
	tw_add(&tw, &p.t, 5 * MS);
	tw_add(&tw, &p.t, 900 * MS);
	assert_int_equal(tw.pending, 1);
	run_ticks(&tw, 0, 899 * MS);
	assert_int_equal(p.count, 0);
	tw_run(&tw, 900 * MS);
	assert_int_equal(p.count, 1);
}

static void test_timerwheel_far_timers_cascade_exactly(void **state)
{
	(void)state;
	/* one per level: 100 ms, 70 s, 5 h, 30 days at 1 ms ticks */
	const uint64_t when[] = { 100 * MS, 70000 * MS, 5ull * 3600 * 1000 * MS, 30ull * 86400 * 1000 * MS };
	struct timerwheel tw;
	struct probe p[4];
	tw_init(&tw, 0, MS);
	for (int i = 0; i < 4; i++) {
		p[i] = probe_new();
		tw_add(&tw, &p[i].t, when[i]);
	}
	/* big jumps: tw_run walks every tick, so each fires exactly at its tick */
	for (int i = 0; i < 4; i++) {
		tw_run(&tw, when[i] - MS);
		assert_int_equal(p[i].count, 0);
		tw_run(&tw, when[i]);
		assert_int_equal(p[i].count, 1);
	}
}

struct chain {
	struct tw_timer t;
	struct timerwheel *tw;
	struct probe *victim;
	int rearms;
	int count;
};

static void chain_fn(struct tw_timer *t, uint64_t now)
{
	struct chain *c = (struct chain *)t;
	c->count++;
	if (c->victim)
		tw_cancel(c->tw, &c->victim->t);
	if (c->rearms-- > 0)
		tw_add(c->tw, &c->t, now + 2 * MS);
}

static void test_timerwheel_callback_rearms_and_cancels(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe victim = probe_new();
	struct chain c = { .tw = &tw, .victim = &victim, .rearms = 3 };
	tw_init(&tw, 0, MS);
	tw_timer_init(&c.t, chain_fn);
	tw_add(&tw, &victim.t, 4 * MS); /* same slot as the chain's first firing */
	tw_add(&tw, &c.t, 4 * MS);
	run_ticks(&tw, 0, 20 * MS);
	assert_int_equal(c.count, 4);
	assert_int_equal(victim.count, 0);
	assert_int_equal(tw.pending, 0);
}

static void test_timerwheel_next_is_lower_bound(void **state)
{
	(void)state;
	struct timerwheel tw;
	struct probe a = probe_new(), b = probe_new();
	tw_init(&tw, 0, MS);
	assert_true(tw_next(&tw) == UINT64_MAX);
	tw_add(&tw, &a.t, 30 * MS);
	assert_int_equal(tw_next(&tw), 30 * MS);
	tw_add(&tw, &b.t, 10000 * MS);
	tw_cancel(&tw, &a.t);
	uint64_t n = tw_next(&tw);
	assert_true(n > 0 && n <= 10000 * MS);
}

/* Random adds, re-arms and cancels against a model: each timer must fire
 * exactly once, at the first tick boundary at or after its expiry. */
static void test_timerwheel_random_matches_model(void **state)
{
	(void)state;
	enum { N = 2000 };
	static struct probe p[N];
	static uint64_t want[N];
	static int live[N];
	struct timerwheel tw;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	tw_init(&tw, 0, MS);
	for (int i = 0; i < N; i++) {
		p[i] = probe_new();
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t span = (x & 3) == 0 ? 300000 : (x & 3) == 1 ? 3000 : 300;
		want[i] = (x >> 8) % (span * MS) + 1;
		tw_add(&tw, &p[i].t, want[i]);
		live[i] = 1;
	}
	for (int i = 0; i < N; i += 7) {
		tw_cancel(&tw, &p[i].t);
		live[i] = 0;
	}
	for (int i = 3; i < N; i += 11) {
		want[i] = want[i] / 2 + 1;
		tw_add(&tw, &p[i].t, want[i]);
		live[i] = 1;
	}
	for (uint64_t now = 0; now <= 300001 * MS; now += 7 * MS)
		tw_run(&tw, now);
	for (int i = 0; i < N; i++) {
		if (!live[i]) {
			assert_int_equal(p[i].count, 0);
			continue;
		}
		assert_int_equal(p[i].count, 1);
		uint64_t tick = (want[i] + MS - 1) / MS * MS;
		/* run in 7 ms steps: fired at the first step at or after the tick */
		assert_true(p[i].fired_at >= tick && p[i].fired_at < tick + 7 * MS);
	}
	assert_int_equal(tw.pending, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timerwheel_add_fires_at_expiry_tick),
		cmocka_unit_test(test_timerwheel_unaligned_expiry_fires_at_next_tick),
		cmocka_unit_test(test_timerwheel_past_expiry_fires_next_tick),
		cmocka_unit_test(test_timerwheel_cancel_prevents_firing),
		cmocka_unit_test(test_timerwheel_rearm_moves_timer),
		cmocka_unit_test(test_timerwheel_far_timers_cascade_exactly),
		cmocka_unit_test(test_timerwheel_callback_rearms_and_cancels),
		cmocka_unit_test(test_timerwheel_next_is_lower_bound),
		cmocka_unit_test(test_timerwheel_random_matches_model),
	};
	return cmocka_run_group_tests_name("timerwheel", tests, NULL, NULL);
}
