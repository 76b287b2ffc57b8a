/* Stackful coroutines with a hand-written context switch (co_x86_64.S).
 *
 * The main coroutine is the thread's own stack (co_main()); others get a
 * 64 KiB mmap'ed stack with a PROT_NONE guard page below it, from a
 * per-thread pool. Every switch is annotated for ASan fibers. Coroutines
 * never move between threads. */
#ifndef DEMI_CO_H
#define DEMI_CO_H

#include <stddef.h>

#define CO_STACK_DEFAULT (64 * 1024)

struct co;

/* The calling thread's main coroutine (created on first use). */
struct co *co_main(void);
/* The coroutine running now on this thread. */
struct co *co_current(void);
/* A new coroutine that runs fn(arg) when first switched to. When fn returns,
 * the coroutine is finished and control goes back to the one that last
 * switched to it. 0 or -ENOMEM. */
int co_create(struct co **out, void (*fn)(void *), void *arg, size_t stack_size);
/* Switch from the current coroutine to `to`. */
void co_switch(struct co *to);
/* Back to the coroutine that last switched to the current one. */
void co_yield(void);
int co_finished(const struct co *co);
/* Release a coroutine that is finished or was never started. */
void co_destroy(struct co *co);

#endif
