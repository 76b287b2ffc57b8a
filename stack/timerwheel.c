/* Hierarchical timer wheel (Varghese & Lauck, as in Linux's classic wheel):
 * level 0 holds timers due in the next 256 ticks, one slot per tick; level L
 * holds later ones in slots of 256^L ticks, cascaded down a level each time
 * the level below wraps. Insert and cancel are O(1) list operations. */
#include "timerwheel.h"

#define TW_BITS 8
#define TW_MASK (TW_SLOTS - 1)

/* Timers already due when armed; fired first by the next tw_run. */
#define TW_DUE_LEVEL 0

static void tw_link(struct tw_timer **head, struct tw_timer *t)
{
	t->next = *head;
	if (*head)
		(*head)->pprev = &t->next;
	*head = t;
	t->pprev = head;
}

static void tw_unlink(struct timerwheel *tw, struct tw_timer *t)
{
	if (t->level == 0)
		tw->level0--;
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	t->next = 0;
	t->pprev = 0;
}

void tw_init(struct timerwheel *tw, uint64_t now, uint64_t tick_ns)
{
	*tw = (struct timerwheel){ 0 };
	tw->tick_ns = tick_ns ? tick_ns : 1000000;
	tw->now_tick = now / tw->tick_ns;
}

/* Place t by its expiry tick relative to the wheel's current tick; never
 * before min_tick (the current tick only while cascading, before it fires). */
static void tw_place(struct timerwheel *tw, struct tw_timer *t, uint64_t min_tick)
{
	uint64_t exp = (t->expires + tw->tick_ns - 1) / tw->tick_ns;
	uint64_t delta;
	int level;

	if (exp < min_tick)
		exp = min_tick;
	delta = exp - tw->now_tick;
	if (delta >= ((uint64_t)1 << (TW_BITS * TW_LEVELS)))
		exp = tw->now_tick + ((uint64_t)1 << (TW_BITS * TW_LEVELS)) - 1, delta = exp - tw->now_tick;
	for (level = 0; level < TW_LEVELS - 1; level++)
		if (delta < ((uint64_t)1 << (TW_BITS * (level + 1))))
			break;
	t->level = level;
	if (level == 0)
		tw->level0++;
	tw_link(&tw->slot[level][(exp >> (TW_BITS * level)) & TW_MASK], t);
}

void tw_add(struct timerwheel *tw, struct tw_timer *t, uint64_t expires)
{
	if (t->pprev)
		tw_unlink(tw, t);
	else
		tw->pending++;
	t->expires = expires;
	tw_place(tw, t, tw->now_tick + 1);
}

void tw_cancel(struct timerwheel *tw, struct tw_timer *t)
{
	if (!t->pprev)
		return;
	tw_unlink(tw, t);
	tw->pending--;
}

/* Move every timer of one slot to its place relative to the current tick. */
static void tw_cascade(struct timerwheel *tw, int level)
{
	struct tw_timer *list = tw->slot[level][(tw->now_tick >> (TW_BITS * level)) & TW_MASK];
	tw->slot[level][(tw->now_tick >> (TW_BITS * level)) & TW_MASK] = 0;
	while (list) {
		struct tw_timer *t = list;
		list = t->next;
		t->next = 0;
		t->pprev = 0;
		tw_place(tw, t, tw->now_tick);
	}
}

/* Fire every timer in the current level-0 slot. The slot is detached first so
 * callbacks may add, re-arm or cancel any timer, this slot's included. */
static unsigned tw_fire_slot(struct timerwheel *tw, uint64_t now)
{
	struct tw_timer *local = 0, **slot = &tw->slot[0][tw->now_tick & TW_MASK];
	unsigned fired = 0;

	local = *slot;
	*slot = 0;
	if (local)
		local->pprev = &local;
	while (local) {
		struct tw_timer *t = local;
		tw_unlink(tw, t);
		tw->pending--;
		fired++;
		t->fn(t, now);
	}
	return fired;
}

unsigned tw_run(struct timerwheel *tw, uint64_t now)
{
	uint64_t target = now / tw->tick_ns;
	unsigned fired = 0;

	while (tw->now_tick < target) {
		if (tw->pending == 0) {
			tw->now_tick = target;
			break;
		}
		if (tw->level0 == 0) {
			/* nothing due before the next cascade: skip to just before it */
			uint64_t skip = (tw->now_tick | TW_MASK);
			if (skip >= target) {
				tw->now_tick = target;
				break;
			}
			tw->now_tick = skip;
		}
		tw->now_tick++;
		for (int level = 1; level < TW_LEVELS; level++) {
			if ((tw->now_tick >> (TW_BITS * (level - 1))) & TW_MASK)
				break;
			tw_cascade(tw, level);
		}
		fired += tw_fire_slot(tw, now);
	}
	return fired;
}

uint64_t tw_next(const struct timerwheel *tw)
{
	if (tw->pending == 0)
		return UINT64_MAX;
	for (uint64_t tick = tw->now_tick + 1; tick <= tw->now_tick + TW_SLOTS; tick++) {
		if ((tick & TW_MASK) == 0)
			return tick * tw->tick_ns; /* a cascade may bring timers due from here on */
		if (tw->slot[0][tick & TW_MASK])
			return tick * tw->tick_ns;
	}
	return (tw->now_tick + 1) * tw->tick_ns;
}
