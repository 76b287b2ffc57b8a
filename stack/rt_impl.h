/* Runtime internals: its own counters and the hooks tests use to run it
 * over the in-memory link instead of DPDK. */
#ifndef DEMI_RT_IMPL_H
#define DEMI_RT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "netif.h"
#include "runtime.h"

/* COUNTER(NAME, "description") of the runtime, after the stack's in the
 * counters file. */
#define RT_COUNTERS(X) \
	X(RT_PASSES, "scheduler passes (poll + timers)") \
	X(RT_BUSY_PASSES, "passes that found work") \
	X(RT_SLEEPS, "times a waiter slept") \
	X(RT_WAKE_DEVICE, "sleeps ended by the device's interrupt fd") \
	X(RT_WAKE_KERNEL_FD, "sleeps ended by the caller's kernel fd") \
	X(RT_WAKE_TIMEOUT, "sleeps ended by a timer, a deadline or the cap") \
	X(RT_WAKE_SIGNAL, "sleeps ended by a signal") \
	X(RT_LOCK_CONTENDED, "lock acquisitions that had to wait") \
	X(RT_LINK_UP, "1 while the device reports link up") \
	X(RT_PROGRESS_PASSES, "passes made by the progress thread while no caller drove the stack") \
	X(RT_POOL_IN_USE, "packet buffers held by the stack now") \
	X(RT_POOL_CAPACITY, "packet buffers in the pool")

enum rt_counter {
#define RT_C(name, desc) name,
	RT_COUNTERS(RT_C)
#undef RT_C
	RT_COUNTER_MAX
};

/* Opens the device for the runtime: 0, or -errno with a reason in err. */
typedef int (*rt_open_fn)(struct netif **out, const struct rt_cfg *cfg, char *err, size_t errlen);
/* NULL: the DPDK driver (netif/dpdk.c). */
void rt_set_opener(rt_open_fn fn);
/* Where counters files go (NULL: DEMI_SHM_DIR). */
void rt_set_shm_dir(const char *dir);
/* The runtime's counters of the instance behind st. */
const uint64_t *rt_counters(struct stack *st);
/* Path of the instance's counters file ("" if none). */
const char *rt_shm_path(struct stack *st);
/* Async-signal-safe: a signal handler ran on this thread. A wait in
 * progress on the thread returns -EINTR at its next pass, even while it is
 * busy-polling (a sleeping wait returns -EINTR by itself). For the shim's
 * signal trampoline; a handler that ran outside any wait changes nothing. */
void rt_note_signal(void);
/* Refresh the instance's counters file now, connection table included. */
void rt_publish(struct stack *st);
/* Tests: stop everything, free the instances, forget the configuration. */
void rt_reset(void);

#endif
