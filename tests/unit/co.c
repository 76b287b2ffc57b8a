/* Coroutines: switching both ways, values in callee-saved registers and the
 * FP control state surviving switches, finishing, pool reuse, and a stack
 * overflow caught by the guard page. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fenv.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xmmintrin.h>

#include "co.h"

struct pingpong {
	int n;
	unsigned long trace;
};

static void pp_fn(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < p->n; i++) {
		p->trace = p->trace * 3 + 1;
		co_yield();
	}
}

static void test_co_switch_pingpong_runs_in_order(void **state)
{
	(void)state;
	struct pingpong p = { .n = 100000 };
	struct co *c;
	unsigned long want = 0;
	assert_int_equal(co_create(&c, pp_fn, &p, 0), 0);
	for (int i = 0; i < p.n; i++) {
		co_switch(c);
		want = want * 3 + 1;
		assert_int_equal(p.trace, want);
		assert_false(co_finished(c));
	}
	co_switch(c); /* the loop ends, fn returns */
	assert_true(co_finished(c));
	assert_ptr_equal(co_current(), co_main());
	co_destroy(c);
}

/* Many values live across the switch: at -O2 they sit in callee-saved
 * registers, which the coroutine's own loop clobbers. */
static void clobber_fn(void *arg)
{
	volatile unsigned long *sink = arg;
	for (;;) {
		unsigned long a = *sink, b = a * 7, c = b ^ 0x5555, d = c + a, e = d * 13, f = e - b;
		*sink = a + b + c + d + e + f;
		co_yield();
	}
}

static void test_co_switch_preserves_callee_saved(void **state)
{
	(void)state;
	volatile unsigned long sink = 1;
	struct co *c;
	assert_int_equal(co_create(&c, clobber_fn, (void *)&sink, 0), 0);
	long a = 11, b = 22, d = 33, e = 44, f = 55, g = 66;
	for (int i = 0; i < 1000; i++) {
		co_switch(c);
		a += 1, b += 2, d += 3, e += 4, f += 5, g += 6;
	}
	assert_int_equal(a, 1011);
	assert_int_equal(b, 2022);
	assert_int_equal(d, 3033);
	assert_int_equal(e, 4044);
	assert_int_equal(f, 5055);
	assert_int_equal(g, 6066);
	co_destroy(c); /* never finished: released without running on */
}

static void fp_fn(void *arg)
{
	int *seen = arg;
	seen[0] = fegetround();
	seen[1] = (int)(_mm_getcsr() & 0x6000);
	fesetround(FE_TOWARDZERO); /* the coroutine's own mode */
	co_yield();
	seen[2] = fegetround(); /* its mode came back with it */
}

static void test_co_switch_keeps_fp_control_per_coroutine(void **state)
{
	(void)state;
	int seen[3] = { -1, -1, -1 };
	struct co *c;
	fesetround(FE_UPWARD);
	assert_int_equal(co_create(&c, fp_fn, seen, 0), 0); /* inherits FE_UPWARD */
	co_switch(c);
	assert_int_equal(seen[0], FE_UPWARD);
	assert_int_equal(fegetround(), FE_UPWARD); /* not the coroutine's */
	fesetround(FE_DOWNWARD);
	co_switch(c);
	assert_int_equal(seen[2], FE_TOWARDZERO);
	assert_int_equal(fegetround(), FE_DOWNWARD);
	assert_true(co_finished(c));
	co_destroy(c);
	fesetround(FE_TONEAREST);
}

static void nothing_fn(void *arg)
{
	(*(int *)arg)++;
}

static void test_co_destroy_reuses_pooled_stack(void **state)
{
	(void)state;
	int runs = 0;
	struct co *a, *b;
	assert_int_equal(co_create(&a, nothing_fn, &runs, 0), 0);
	co_switch(a);
	co_destroy(a);
	assert_int_equal(co_create(&b, nothing_fn, &runs, 0), 0);
	assert_ptr_equal(a, b); /* the same stack came back from the pool */
	co_switch(b);
	assert_int_equal(runs, 2);
	co_destroy(b);
}

static void nested_inner(void *arg)
{
	(*(int *)arg) += 10;
	co_yield();
	(*(int *)arg) += 100;
}

static void nested_outer(void *arg)
{
	struct co *inner;
	assert_int_equal(co_create(&inner, nested_inner, arg, 0), 0);
	co_switch(inner);          /* inner yields back here, not to main */
	(*(int *)arg) += 1;
	co_yield();                /* to main */
	co_switch(inner);
	assert_true(co_finished(inner));
	co_destroy(inner);
}

static void test_co_nested_yield_returns_to_switcher(void **state)
{
	(void)state;
	int v = 0;
	struct co *outer;
	assert_int_equal(co_create(&outer, nested_outer, &v, 0), 0);
	co_switch(outer);
	assert_int_equal(v, 11);
	co_switch(outer);
	assert_int_equal(v, 111);
	assert_true(co_finished(outer));
	co_destroy(outer);
}

static __attribute__((unused)) int recurse(int depth)
{
	volatile char buf[1024];
	buf[0] = (char)depth;
	return depth > 0 ? recurse(depth - 1) + buf[0] : 0;
}

static __attribute__((unused)) void overflow_fn(void *arg)
{
	(void)arg;
	recurse(1000); /* ~1 MiB of frames on a 64 KiB stack */
}

static void test_co_stack_overflow_hits_guard_page(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan reports the overflow itself; the plain build checks the guard */
#else
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct co *c;
		if (co_create(&c, overflow_fn, NULL, 0) != 0)
			_exit(2);
		co_switch(c);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_co_switch_pingpong_runs_in_order),
		cmocka_unit_test(test_co_switch_preserves_callee_saved),
		cmocka_unit_test(test_co_switch_keeps_fp_control_per_coroutine),
		cmocka_unit_test(test_co_destroy_reuses_pooled_stack),
		cmocka_unit_test(test_co_nested_yield_returns_to_switcher),
		cmocka_unit_test(test_co_stack_overflow_hits_guard_page),
	};
	return cmocka_run_group_tests_name("co", tests, NULL, NULL);
}
