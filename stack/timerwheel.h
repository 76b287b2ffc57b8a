/* Hierarchical timer wheel: O(1) insert and cancel, callbacks run to
 * completion. Per-connection protocol timers (retransmission, delayed ACK,
 * persist, keepalive, TIME_WAIT) are a struct tw_timer embedded in the TCB.
 * Times are nanoseconds on the caller's clock; the wheel never reads one. */
#ifndef DEMI_TIMERWHEEL_H
#define DEMI_TIMERWHEEL_H

#include <stdint.h>

#define TW_LEVELS 4
#define TW_SLOTS  256 /* per level; level L slot spans tick * 256^L */

struct tw_timer;
typedef void (*tw_fn)(struct tw_timer *t, uint64_t now);

struct tw_timer {
	struct tw_timer *next, **pprev; /* pprev == NULL: not pending */
	uint64_t expires;               /* ns */
	tw_fn fn;
	int level;                      /* wheel level while pending */
};

struct timerwheel {
	uint64_t tick_ns;  /* resolution: timers fire at most one tick late */
	uint64_t now_tick; /* ticks processed so far */
	uint32_t pending;  /* timers armed */
	uint32_t level0;   /* of which in level 0 */
	struct tw_timer *slot[TW_LEVELS][TW_SLOTS];
};

void tw_init(struct timerwheel *tw, uint64_t now, uint64_t tick_ns);
static inline void tw_timer_init(struct tw_timer *t, tw_fn fn)
{
	t->next = 0;
	t->pprev = 0;
	t->expires = 0;
	t->fn = fn;
}
static inline int tw_timer_pending(const struct tw_timer *t)
{
	return t->pprev != 0;
}
/* Arm (or re-arm) t to fire at `expires`: by the first tw_run whose `now` has
 * reached the tick boundary at or after it (a time in the past: the next tick). */
void tw_add(struct timerwheel *tw, struct tw_timer *t, uint64_t expires);
/* Disarm t; harmless when not pending. */
void tw_cancel(struct timerwheel *tw, struct tw_timer *t);
/* Fire every timer due at `now`, tick by tick in order; a callback may add,
 * re-arm or cancel any timer. Returns how many fired. */
unsigned tw_run(struct timerwheel *tw, uint64_t now);
/* Earliest time any timer may be due (a lower bound, never later than the
 * true one); UINT64_MAX when none is pending. */
uint64_t tw_next(const struct timerwheel *tw);

#endif
