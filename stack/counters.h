/* Counters: one per drop reason and notable event, per stack instance.
 * Each module lists its own in a .def file (X-macro); STAT_INC is a plain
 * increment, the instance being single-threaded. */
#ifndef DEMI_COUNTERS_H
#define DEMI_COUNTERS_H

#include <stdint.h>

enum stack_counter {
#define COUNTER(name, desc) name,
#include "counters_net.def"
#include "tcp/counters.def"
#undef COUNTER
	COUNTER_MAX
};

struct stack_counters {
	uint64_t v[COUNTER_MAX];
};

#define STAT_INC(st, c)    ((st)->ctr.v[(c)]++)
#define STAT_ADD(st, c, n) ((st)->ctr.v[(c)] += (n))

#endif
