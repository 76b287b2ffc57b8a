/* libdemi runtime API: the layer between a program (the shim) and the stack.
 * It owns the device, the per-thread stack instances, the coroutine scheduler
 * and adaptive polling; the stack itself knows nothing of threads, clocks or
 * devices. Implemented in stack/rt/ (README.md there says which file does
 * what).
 *
 * Nothing starts until a thread first asks for its instance (lazy start: a
 * program that opens no bypassed socket pays nothing). The device has N queue
 * pairs (N = 1 for now): the first N threads that ask get an instance of
 * their own; later threads share instance 0. A socket may be used from any
 * thread: calls on an instance are made under rt_lock()/rt_unlock(), which
 * costs one uncontended atomic for the owner. */
#ifndef DEMI_RT_H
#define DEMI_RT_H

#include <stddef.h>
#include <stdint.h>

#include "demi/stack.h"

struct rt_cfg {
	char device[256];    /* KIND:ARG, one of the device kinds of demi/dev.h */
	char eal_args[512];  /* appended to the EAL arguments as given (split on blanks) */
	struct stack_cfg stack;
	uint32_t mbufs;      /* mempool size; 0: a default */
	uint32_t spin_us;    /* busy-poll this long after the last work before sleeping; 0: a default */
	char name[64];       /* program name, for the counters file and EAL prefixes */
	int cfg_pid;         /* the process that read the configuration (0: the caller): one that
	                      * starts the runtime under another pid is its fork, a worker */
};

/* Record the configuration; starts nothing. Called once by the shim. */
int rt_configure(const struct rt_cfg *cfg);
/* This thread's instance, started on first use. NULL if the device could not
 * start: rt_error() says why (one line naming the device and the reason). */
struct stack *rt_stack(void);
const char *rt_error(void);
int rt_started(void); /* the device is up in this process */

void rt_lock(struct stack *st);
void rt_unlock(struct stack *st);

/* Monotonic clock, ns. */
uint64_t rt_now(void);

/* Block the calling thread until ready(arg) returns non-zero, the deadline
 * passes (ns on rt_now()'s clock; UINT64_MAX: never), a signal handler runs,
 * or kernel_fd (-1: none) turns readable. Drives the stack meanwhile: busy-polls
 * while there is work or for spin_us, then sleeps on the device's interrupt fd,
 * kernel_fd and the next timer. Called with the instance unlocked.
 * Returns 0 (ready), 1 (kernel_fd readable), -ETIMEDOUT or -EINTR. */
int rt_wait(struct stack *st, int (*ready)(void *), void *arg, uint64_t deadline_ns, int kernel_fd);
/* Poll once without blocking (for a caller about to report readiness). */
void rt_poll(struct stack *st);
/* Async-signal-safe: a signal handler ran on this thread. A wait in
 * progress on the thread returns -EINTR at its next pass, even while it is
 * busy-polling (a sleeping wait returns -EINTR by itself). For the shim's
 * signal trampoline; a handler that ran outside any wait changes nothing. */
void rt_note_signal(void);

/* After fork() in the child: forget the parent's device and instances (their
 * DPDK threads did not survive); the child starts its own on first use. */
void rt_atfork_child(void);
/* Stop the device and release it (memif socket, XDP program): at exit. */
void rt_shutdown(void);

#endif
