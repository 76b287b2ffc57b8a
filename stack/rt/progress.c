/* The progress thread. A program that blocks in a call that does not drive
 * the stack (a read on a pipe, sleep, waitpid, a long computation) must not
 * stall its connections: peers still need ACKs, retransmissions and the data
 * it wrote before blocking. As libvma's internal thread does, one thread per
 * instance makes a pass when no caller has made one for RT_PROGRESS_NS:
 *  - it only reads last_pass (a line of its own) to decide, so a caller
 *    that drives the stack pays one plain store per pass and nothing else;
 *  - it takes the instance only if it is free (never spins on it), and not
 *    while a waiter sleeps in rt_wait: that one wakes for the device and the
 *    next timer by itself, so the thread parks until it has woken;
 *  - it sleeps until RT_PROGRESS_NS after the last pass, so while callers
 *    drive the stack it wakes about every RT_PROGRESS_NS and goes back to
 *    sleep (a condition variable, so it stops at once at exit).
 * A thread was chosen over arming a timer from the caller's way out of the
 * stack: that costs a system call per socket call, this costs ~100 short
 * wake-ups a second. */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "rt_impl.h"

#define RT_PROGRESS_NS (10ull * 1000 * 1000)

/* Parked until the last sleeper wakes (rt_progress_unpark): an idle
 * program's thread does not wake every period. parked is set before
 * sleepers is read again, and the sleeper reads parked after it left: one
 * sees the other. Called with pg->mu held. */
static void progress_park(struct rt_progress *pg)
{
	atomic_store(&pg->parked, 1);
	if (atomic_load(&pg->sleepers))
		pthread_cond_wait(&pg->cv, &pg->mu);
	atomic_store(&pg->parked, 0);
}

static void *progress_main(void *arg)
{
	struct rt_inst *in = arg;
	struct rt_progress *pg = &in->pg;
	uint64_t due = rt_now() + RT_PROGRESS_NS;

	pthread_mutex_lock(&pg->mu);
	while (!pg->stop) {
		struct timespec ts = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		uint64_t now, last;

		pthread_cond_timedwait(&pg->cv, &pg->mu, &ts);
		if (pg->stop)
			break;
		now = rt_now();
		last = atomic_load_explicit(&pg->last_pass, memory_order_relaxed);
		due = now + RT_PROGRESS_NS;
		if (now - last < RT_PROGRESS_NS) {
			due = last + RT_PROGRESS_NS; /* a caller drives the stack */
			continue;
		}
		if (atomic_load(&pg->sleepers)) {
			progress_park(pg);
			due = rt_now() + RT_PROGRESS_NS;
			continue;
		}
		if (!rt_inst_trylock(in))
			continue;
		if (!in->in_pass) {
			in->ctr[RT_PROGRESS_PASSES]++;
			rt_sched_pass(in, NULL, now);
			stack_tx_flush(in->st);
		}
		rt_inst_unlock(in);
	}
	pthread_mutex_unlock(&pg->mu);
	return NULL;
}

void rt_progress_start(struct rt_inst *in)
{
	struct rt_progress *pg = &in->pg;
	pthread_condattr_t ca;
	pthread_attr_t a;
	sigset_t all, old;

	pthread_mutex_init(&pg->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* rt_now()'s clock */
	pthread_cond_init(&pg->cv, &ca);
	pthread_condattr_destroy(&ca);
	pg->stop = 0;
	atomic_store(&pg->last_pass, rt_now());
	atomic_store(&pg->sleepers, 0);
	atomic_store(&pg->parked, 0);
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256 * 1024);
	sigfillset(&all);
	/* born with every signal blocked: the program's signals go to its own
	 * threads, and a handler never runs on this one */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pg->on = pthread_create(&pg->thread, &a, progress_main, in) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
}

/* Taking the mutex orders this after the thread's wait began. */
void rt_progress_unpark(struct rt_inst *in)
{
	pthread_mutex_lock(&in->pg.mu);
	pthread_cond_signal(&in->pg.cv);
	pthread_mutex_unlock(&in->pg.mu);
}

void rt_progress_stop(struct rt_inst *in)
{
	struct rt_progress *pg = &in->pg;
	if (!pg->on)
		return;
	pthread_mutex_lock(&pg->mu);
	pg->stop = 1;
	pthread_cond_signal(&pg->cv);
	pthread_mutex_unlock(&pg->mu);
	if (!pthread_equal(pthread_self(), pg->thread))
		pthread_join(pg->thread, NULL);
	pg->on = 0;
}
