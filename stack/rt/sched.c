/* The scheduler: one pass over an instance (poll, then housekeeping), each
 * thread's coroutines that run them, and housekeeping itself: the runtime's
 * counters, the link state and the counters file (shm.c).
 *
 * Each thread that waits on an instance runs a small scheduler of
 * coroutines (co.h): the application's blocking call is the main coroutine,
 * on the caller's own stack; a poll coroutine runs stack_poll (rx burst,
 * protocol input, the stack's timers, tx flush) and a housekeeping coroutine
 * publishes counters and checks the link. The main coroutine switches to
 * each in turn and checks its condition in between, so one pass costs four
 * context switches (tens of ns). Coroutines never leave their thread; a
 * thread sharing instance 0 has a scheduler of its own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "co.h"
#include "demi/log.h"
#include "rt_impl.h"

#define RT_PUBLISH_NS (1000 * 1000ull)
#define RT_CONNS_NS (100 * 1000 * 1000ull)
/* Not CO_STACK_DEFAULT: co.c pools default stacks per thread and a pool
 * outlives nothing when its thread exits; these live as long as the thread. */
#define RT_CO_STACK (CO_STACK_DEFAULT + 4096)

/* One thread's scheduler, bound to the instance it drives. */
struct sched {
	struct rt_inst *inst;
	struct co *poll_co, *house_co;
	uint64_t now;
	int work;
	int stop;
	unsigned gen;
};

static pthread_key_t sched_key;
static pthread_once_t sched_key_once = PTHREAD_ONCE_INIT;

uint64_t rt_inst_rst_sent(struct rt_inst *in)
{
	unsigned n;
	const uint64_t *v = stack_counter_values(in->st, &n);
	return in->rst_idx >= 0 && (unsigned)in->rst_idx < n ? v[in->rst_idx] : 0;
}

/* A peer that leaves TCP checksums to the device (a veth with tx checksum
 * offload on, as every container's is set up) sends segments whose
 * checksums only a kernel fills in: on AF_XDP every one is dropped here and
 * connections time out with nothing said. Said once, at warn, with the
 * fix, when checksum drops are at least half of what arrived. */
static void inst_cksum_check(struct rt_inst *in)
{
	const uint64_t *v;
	unsigned n;
	uint64_t bad, segs;

	if (in->cksum_warned || in->cksum_idx < 0 || in->rxsegs_idx < 0)
		return;
	v = stack_counter_values(in->st, &n);
	if ((unsigned)in->cksum_idx >= n || (unsigned)in->rxsegs_idx >= n)
		return;
	bad = v[in->cksum_idx];
	segs = v[in->rxsegs_idx];
	if (bad < 2 || bad * 2 < segs)
		return;
	in->cksum_warned = 1;
	demi_log(DEMI_LOG_WARN, "%s: TCP segments arrive with bad checksums (%llu dropped): a peer that leaves "
		 "checksums to the device? On a veth, run on the peer's end: ethtool -K PEER tx off",
		 in->nif->name, (unsigned long long)bad);
}

/* A deleted device: said once at warn, and rt_stack() stops handing out
 * the stack (rt.err says why). */
static void inst_gone_check(struct rt_inst *in)
{
	if (atomic_load(&in->gone) || !in->nif->ops->gone || !in->nif->ops->gone(in->nif))
		return;
	/* rt.mu is not taken under the instance's lock; rt.err is read only
	 * after gone is seen (a seq_cst store orders it) */
	snprintf(rt.err, sizeof(rt.err), "device %s is gone (its interface was deleted)", in->nif->name);
	atomic_store(&in->gone, 1);
	demi_log(DEMI_LOG_WARN, "%s: the device is gone (its interface was deleted): its connections time out, "
		 "sockets made from now on go as [fallback] on_error says", in->nif->name);
}

/* Counters to shared memory about once per ms, the connection table and
 * the link state about every 100 ms. */
static void inst_housekeep(struct rt_inst *in, uint64_t now)
{
	if (now < in->next_publish)
		return;
	in->next_publish = now + RT_PUBLISH_NS;
	if (rt_inst_rst_sent(in) != in->rst_seen) {
		in->rst_seen = rt_inst_rst_sent(in);
		in->rst_at = now;
	}
	if (in->neigh.fd >= 0)
		rt_neigh_poll(&in->neigh, in->st, now);
	rt_ho_poll(in);
	in->ctr[RT_POOL_IN_USE] = in->nif->pool->in_use;
	in->ctr[RT_POOL_CAPACITY] = in->nif->pool->capacity;
	in->ctr[RT_TCP_TCBS] = stack_tcp_tcbs(in->st, &in->ctr[RT_TCP_TCB_BYTES]);
	if (now >= in->next_conns) {
		in->next_conns = now + RT_CONNS_NS;
		if (in->nif->ops->link_up)
			in->ctr[RT_LINK_UP] = (uint64_t)in->nif->ops->link_up(in->nif);
		inst_cksum_check(in);
		inst_gone_check(in);
		rt_shm_update_conns(&in->shm, in->st, now);
	}
	rt_shm_update(&in->shm, in->st, in->ctr, (int)in->ctr[RT_LINK_UP], now);
}

static void sched_poll_main(void *arg)
{
	struct sched *s = arg;
	while (!s->stop) {
		s->work = stack_poll(s->inst->st, s->now);
		co_yield();
	}
}

static void sched_house_main(void *arg)
{
	struct sched *s = arg;
	while (!s->stop) {
		inst_housekeep(s->inst, s->now);
		co_yield();
	}
}

static void sched_free(struct sched *s)
{
	if (!s)
		return;
	s->stop = 1;
	/* let each coroutine see stop and return, so its stack can be released */
	if (s->poll_co && !co_finished(s->poll_co))
		co_switch(s->poll_co);
	if (s->house_co && !co_finished(s->house_co))
		co_switch(s->house_co);
	co_destroy(s->poll_co);
	co_destroy(s->house_co);
	free(s);
}

static void sched_key_dtor(void *p)
{
	struct sched *s = p;
	if (rt_me.sched == s)
		rt_me.sched = NULL;
	sched_free(s); /* the coroutines see stop and return: no instance is touched */
}

static void sched_key_make(void)
{
	pthread_key_create(&sched_key, sched_key_dtor);
}

void rt_sched_drop(void)
{
	struct sched *s = rt_me.sched;
	if (s) {
		pthread_setspecific(sched_key, NULL);
		sched_free(s);
	}
	rt_me.sched = NULL;
}

/* The wait loop then polls directly when this returns NULL. */
struct sched *rt_sched_get(struct rt_inst *in)
{
	struct sched *s = rt_me.sched;
	if (s && s->inst == in && s->gen == rt.gen)
		return s;
	rt_sched_drop();
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	s->inst = in;
	s->gen = rt.gen;
	if (co_create(&s->poll_co, sched_poll_main, s, RT_CO_STACK) != 0 ||
	    co_create(&s->house_co, sched_house_main, s, RT_CO_STACK) != 0) {
		co_destroy(s->poll_co);
		free(s);
		return NULL;
	}
	pthread_once(&sched_key_once, sched_key_make);
	pthread_setspecific(sched_key, s);
	rt_me.sched = s;
	return s;
}

int rt_sched_pass(struct rt_inst *in, struct sched *s, uint64_t now)
{
	int work;
	/* a socket callback run by this pass (inside stack_poll) that polls
	 * again must not re-enter the stack, nor switch to its own coroutine */
	if (in->in_pass)
		return 0;
	in->in_pass = 1;
	in->ctr[RT_PASSES]++;
	atomic_store_explicit(&in->pg.last_pass, now, memory_order_relaxed);
	if (s) {
		s->now = now;
		co_switch(s->poll_co);
		work = s->work;
		if (now >= in->next_publish)
			co_switch(s->house_co);
	} else {
		work = stack_poll(in->st, now);
		inst_housekeep(in, now);
	}
	in->in_pass = 0;
	if (work) {
		in->ctr[RT_BUSY_PASSES]++;
		in->nap_ns = RT_NAP_MIN_NS;
	}
	return work;
}

void rt_poll(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	if (!in)
		return;
	rt_inst_lock(in);
	rt_sched_pass(in, rt_sched_get(in), rt_now());
	rt_inst_unlock(in);
}

void rt_publish(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	if (!in)
		return;
	rt_inst_lock(in);
	in->next_publish = in->next_conns = 0;
	inst_housekeep(in, rt_now());
	rt_inst_unlock(in);
}

const uint64_t *rt_counters(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	return in ? in->ctr : NULL;
}

const char *rt_shm_path(struct stack *st)
{
	struct rt_inst *in = rt_inst_of(st);
	return in && in->shm.hdr ? in->shm.path : "";
}
