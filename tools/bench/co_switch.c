/* ns per coroutine switch: ours against glibc's swapcontext, for honesty.
 * Prints one line per implementation. */
#include <stdio.h>
#include <time.h>
#include <ucontext.h>

#include "co.h"

#define N 10000000

static void spin(void *arg)
{
	(void)arg;
	for (;;)
		co_yield();
}

static ucontext_t uc_main, uc_co;
static char uc_stack[64 * 1024];

static void uc_spin(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
	struct co *c;
	if (co_create(&c, spin, NULL, 0) != 0)
		return 1;
	double t0 = now_ns();
	for (int i = 0; i < N; i++)
		co_switch(c); /* two switches: there and back */
	double t1 = now_ns();
	printf("co_switch      %.1f ns/switch\n", (t1 - t0) / (2.0 * N));

	getcontext(&uc_co);
	uc_co.uc_stack.ss_sp = uc_stack;
	uc_co.uc_stack.ss_size = sizeof(uc_stack);
	makecontext(&uc_co, uc_spin, 0);
	int n = N / 10;
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		swapcontext(&uc_main, &uc_co);
	t1 = now_ns();
	printf("swapcontext    %.1f ns/switch\n", (t1 - t0) / (2.0 * n));
	return 0;
}
