/* The instance lock: an owner word, recursive for its owner, taken by every
 * call on an instance (rt_lock) and by each scheduler pass. The uncontended
 * path is inline in rt_impl.h; here is the wait, and the bounded take used
 * at exit. */
#include <sched.h>
#include <unistd.h>

#include "rt_impl.h"

void rt_inst_lock_wait(struct rt_inst *in, uintptr_t self)
{
	in->ctr[RT_LOCK_CONTENDED]++;
	for (unsigned spins = 0;; spins++) {
		uintptr_t free_ = 0;
		if (atomic_load_explicit(&in->owner, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&in->owner, &free_, self, memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (spins < 64)
			rt_cpu_relax();
		else
			sched_yield(); /* the holder may be preempted: 2 CPUs */
	}
}

/* At exit another thread may hold the lock and never come back. */
int rt_inst_lock_bounded(struct rt_inst *in)
{
	for (int i = 0; i < 2000; i++) {
		uintptr_t free_ = 0, self = rt_self();
		if (atomic_load(&in->owner) == self ||
		    atomic_compare_exchange_strong(&in->owner, &free_, self)) {
			in->depth++;
			return 1;
		}
		usleep(500);
	}
	return 0;
}

void rt_lock(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	if (in)
		rt_inst_lock(in);
}

void rt_unlock(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	if (in)
		rt_inst_unlock(in);
}
