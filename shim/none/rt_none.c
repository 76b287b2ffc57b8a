/* The runtime that never starts: the shim's table of stack calls
 * (shim/stackapi.h) until the stack library is loaded, and for good in a
 * process where it cannot be (or in a build without one, nostack.c). No
 * instance exists, so every bypassed socket falls back as configured and
 * the socket calls (all NULL here) are never reached. Its clock is the
 * runtime's: CLOCK_MONOTONIC in ns, so a deadline taken before the load
 * holds after it. */
#include <errno.h>
#include <time.h>

#include "stackapi.h"

static int none_configure(const struct rt_cfg *cfg)
{
	(void)cfg;
	return 0;
}

static struct stack *none_stack(void)
{
	return NULL;
}

static const char *none_error(void)
{
	return "no runtime in this build of libdemi";
}

static int none_started(void)
{
	return 0;
}

static void none_lock(struct stack *st)
{
	(void)st;
}

static uint64_t none_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int none_wait(struct stack *st, int (*ready)(void *), void *arg, uint64_t deadline_ns, int kernel_fd)
{
	(void)st;
	(void)kernel_fd;
	if (ready(arg))
		return 0;
	return deadline_ns == UINT64_MAX ? -EINTR : -ETIMEDOUT;
}

static void none_nothing(void)
{
}

static void none_log_set(demi_log_sink sink, enum demi_log_level max)
{
	(void)sink;
	(void)max;
}

const struct stack_api stack_api_none = {
	.size = sizeof(struct stack_api),
	.rt_configure = none_configure,
	.rt_stack = none_stack,
	.rt_error = none_error,
	.rt_started = none_started,
	.rt_lock = none_lock,
	.rt_unlock = none_lock,
	.rt_now = none_now,
	.rt_wait = none_wait,
	.rt_poll = none_lock,
	.rt_note_signal = none_nothing,
	.rt_atfork_child = none_nothing,
	.rt_shutdown = none_nothing,
	.demi_log_set = none_log_set,
};
