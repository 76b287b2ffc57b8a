/* The runtime when none is linked in (a build without the DPDK runtime):
 * nothing can start, so every bypassed socket falls back as configured.
 * Linked from its own archive after the stack's, so a real runtime wins. */
#include <errno.h>
#include <time.h>

#include "demi/rt.h"

int rt_configure(const struct rt_cfg *cfg)
{
	(void)cfg;
	return 0;
}

struct stack *rt_stack(void)
{
	return NULL;
}

const char *rt_error(void)
{
	return "no runtime in this build of libdemi";
}

int rt_started(void)
{
	return 0;
}

void rt_lock(struct stack *st)
{
	(void)st;
}

void rt_unlock(struct stack *st)
{
	(void)st;
}

uint64_t rt_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int rt_wait(struct stack *st, int (*ready)(void *), void *arg, uint64_t deadline_ns, int kernel_fd)
{
	(void)st;
	(void)kernel_fd;
	if (ready(arg))
		return 0;
	return deadline_ns == UINT64_MAX ? -EINTR : -ETIMEDOUT;
}

void rt_poll(struct stack *st)
{
	(void)st;
}

void rt_note_signal(void)
{
}

void rt_atfork_child(void)
{
}

void rt_shutdown(void)
{
}
