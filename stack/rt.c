/* The runtime (runtime.h): lazy device start, instances, locking, and the
 * wait loop that drives a stack while the application blocks.
 *
 * Scheduling. Each thread that waits on an instance runs a small scheduler
 * of coroutines (co.h): the application's blocking call is the main
 * coroutine, on the caller's own stack; a poll coroutine runs stack_poll
 * (rx burst, protocol input, the stack's timers, tx flush) and a
 * housekeeping coroutine publishes counters and checks the link. The main
 * coroutine switches to each in turn and checks its condition in between, so
 * one pass costs four context switches (tens of ns). Coroutines never leave
 * their thread; a thread sharing instance 0 has a scheduler of its own.
 *
 * Waiting. Busy-poll while passes find work and for spin_us after the last
 * work, then sleep in ppoll() on the device's interrupt fd (armed first, then
 * one more pass to close the race) and the caller's kernel fd, until the
 * stack's next timer, the deadline, or a cap (RT_SLEEP_CAP_NS without an
 * interrupt fd: the bounded sleep). The sleep is a raw system call, so a
 * libc interposer never sees the runtime's own waits. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "co.h"
#include "netif/dpdk.h"
#include "rt_impl.h"
#include "rt_shm.h"

#define RT_INST_MAX 1
#define RT_SPIN_US_DEFAULT 100
#define RT_SLEEP_CAP_NS (1000 * 1000ull)          /* no interrupt fd: 1 ms */
#define RT_NAP_MIN_NS (20 * 1000ull)              /* ... after 20, 40, 80 us ... naps */
#define RT_SLEEP_CAP_INTR_NS (100 * 1000 * 1000ull) /* with one: a safety net */
#define RT_PUBLISH_NS (1000 * 1000ull)
#define RT_CONNS_NS (100 * 1000 * 1000ull)
/* Not CO_STACK_DEFAULT: co.c pools default stacks per thread and a pool
 * outlives nothing when its thread exits; these live as long as the thread. */
#define RT_CO_STACK (CO_STACK_DEFAULT + 4096)
#define RT_KFD_CHECK_EVERY 64                     /* spinning passes between kernel fd checks */
/* Idle spinning passes between clock reads. A pass that finds nothing takes
 * about 60 ns and the clock read was a sixth of it (a fifth of the samples
 * in a ping-pong); timers and deadlines see the clock at most ~0.5 us late. */
#define RT_CLOCK_EVERY 8

struct rt_inst {
	_Atomic uintptr_t owner; /* the thread holding the lock, 0: free */
	unsigned depth;          /* recursion of the owner */
	struct stack *st;
	struct netif *nif;
	unsigned idx;
	int dev_sig;             /* signal the device raises on input, 0: none */
	uint64_t nap_ns;         /* next sleep without an interrupt fd */
	int in_pass;             /* a scheduler pass is running (its thread holds the lock) */
	uint64_t next_publish, next_conns;
	int rst_idx;             /* the stack's TCP_RST_SENT counter, -1: none */
	uint64_t rst_seen, rst_at; /* its value as last seen, and when it moved */
	uint64_t ctr[RT_COUNTER_MAX];
	struct rt_shm shm;
	/* The progress thread (progress_main). last_pass is on a line of its
	 * own: the lock holder writes it every pass, the thread reads it about
	 * every RT_PROGRESS_NS; it must not share the owner word's line. */
	struct rt_progress {
		_Alignas(64) _Atomic uint64_t last_pass; /* rt_now() of the latest pass */
		atomic_int sleepers;  /* waiters asleep in sleep_once */
		atomic_int parked;    /* the thread waits for the last sleeper to wake */
		_Alignas(64) pthread_mutex_t mu;
		pthread_cond_t cv;
		pthread_t thread;
		int on, stop;
	} pg;
};

/* One thread's scheduler, bound to the instance it drives. */
struct sched {
	struct rt_inst *inst;
	struct co *poll_co, *house_co;
	uint64_t now;
	int work;
	int stop;
	unsigned gen;
};

static struct {
	pthread_mutex_t mu;      /* start, shutdown */
	int configured;
	struct rt_cfg cfg;
	int state;               /* 0 not started, 1 up, -1 failed, 2 shut down */
	pid_t pid;               /* the process that started it */
	char err[512];
	struct rt_inst inst[RT_INST_MAX];
	unsigned ninst;
	unsigned gen;            /* bumped when a forked child forgets the parent's */
	rt_open_fn opener;
	const char *shm_dir;
	int atexit_done, atfork_done;
} rt = { .mu = PTHREAD_MUTEX_INITIALIZER };

static __thread volatile sig_atomic_t sig_seen; /* bumped by rt_note_signal() */

static __thread struct {
	unsigned gen;
	struct rt_inst *inst;
	struct sched *sched;
	char tag; /* its address identifies the thread */
} me;

static const char *const rt_counter_names[RT_COUNTER_MAX] = {
#define RT_C(name, desc) #name,
	RT_COUNTERS(RT_C)
#undef RT_C
};

static void rt_atfork_child_cb(void)
{
	rt_atfork_child();
}

uint64_t rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int rt_configure(const struct rt_cfg *cfg)
{
	if (!cfg)
		return -EINVAL;
	pthread_mutex_lock(&rt.mu);
	if (rt.state == 1) {
		pthread_mutex_unlock(&rt.mu);
		return -EBUSY;
	}
	rt.cfg = *cfg;
	if (!rt.cfg.spin_us)
		rt.cfg.spin_us = RT_SPIN_US_DEFAULT;
	rt.configured = 1;
	rt.state = 0;
	rt.err[0] = 0;
	if (!rt.atfork_done) {
		pthread_atfork(NULL, NULL, rt_atfork_child_cb);
		rt.atfork_done = 1;
	}
	pthread_mutex_unlock(&rt.mu);
	return 0;
}

void rt_set_opener(rt_open_fn fn)
{
	rt.opener = fn;
}

void rt_set_shm_dir(const char *dir)
{
	rt.shm_dir = dir;
}

const char *rt_error(void)
{
	return rt.err;
}

int rt_started(void)
{
	return rt.state == 1 && rt.pid == getpid();
}

/* The DPDK driver, if it is linked in (it is not in the unit tests). */
extern int dpdk_netif_open(struct netif **out, const struct dpdk_open_cfg *cfg, char *err, size_t errlen)
	__attribute__((weak));

static int rt_open_dpdk(struct netif **out, const struct rt_cfg *cfg, char *err, size_t errlen)
{
	struct dpdk_open_cfg dc = {
		.device = cfg->device,
		.eal_args = cfg->eal_args,
		.name = cfg->name[0] ? cfg->name : "demi",
		.mbufs = cfg->mbufs,
		.mtu = cfg->stack.mtu,
	};
	if (!dpdk_netif_open) {
		snprintf(err, errlen, "device '%.200s': this program has no DPDK driver", cfg->device);
		return -ENODEV;
	}
	return dpdk_netif_open(out, &dc, err, errlen);
}

/* The signal a device fd raises when input arrives (O_ASYNC; F_SETSIG or
 * SIGIO), 0 if none. */
static int dev_signal(struct netif *nif)
{
	int fd = nif->ops->wait_fd ? nif->ops->wait_fd(nif) : -1, fl, sig;
	if (fd < 0 || (fl = fcntl(fd, F_GETFL)) < 0 || !(fl & O_ASYNC))
		return 0;
	sig = fcntl(fd, F_GETSIG);
	return sig > 0 ? sig : SIGIO;
}

/* Start the device and instance 0. Called with rt.mu held. */
static void progress_start(struct rt_inst *in);
static void progress_stop(struct rt_inst *in);

static void rt_start_locked(void)
{
	struct rt_inst *in = &rt.inst[0];
	struct rt_shm_info si;
	struct netif *nif = NULL;
	rt_open_fn open = rt.opener ? rt.opener : rt_open_dpdk;
	int rc;

	if (!rt.configured) {
		snprintf(rt.err, sizeof(rt.err), "the runtime was not configured");
		rt.state = -1;
		return;
	}
	if ((rc = open(&nif, &rt.cfg, rt.err, sizeof(rt.err))) != 0) {
		if (!rt.err[0])
			snprintf(rt.err, sizeof(rt.err), "device '%.200s': %s", rt.cfg.device, strerror(-rc));
		rt.state = -1;
		return;
	}
	memset(in, 0, sizeof(*in));
	if ((rc = stack_create(&in->st, &rt.cfg.stack, nif, rt_now())) != 0) {
		snprintf(rt.err, sizeof(rt.err), "device '%.200s': the stack did not start: %s", rt.cfg.device,
			 strerror(-rc));
		if (nif->ops->close)
			nif->ops->close(nif);
		rt.state = -1;
		return;
	}
	in->nif = nif;
	in->idx = 0;
	in->rst_idx = stack_counter_index("TCP_RST_SENT");
	in->dev_sig = dev_signal(nif);
	in->nap_ns = RT_NAP_MIN_NS;
	in->ctr[RT_LINK_UP] = nif->ops->link_up ? (uint64_t)nif->ops->link_up(nif) : 1;
	si = (struct rt_shm_info){
		.program = rt.cfg.name, .device = rt.cfg.device, .mac = nif->mac,
		.mtu = nif->mtu, .addr = rt.cfg.stack.addr.s_addr, .prefix_len = rt.cfg.stack.prefix_len,
		.instance = 0, .extra_names = rt_counter_names, .nextra = RT_COUNTER_MAX,
	};
	rt_shm_create(&in->shm, rt.shm_dir, &si); /* no counters file is not an error */
	rt.ninst = 1;
	rt.pid = getpid();
	rt.state = 1;
	progress_start(in);
	if (!rt.atexit_done) {
		atexit(rt_shutdown);
		rt.atexit_done = 1;
	}
}

struct stack *rt_stack(void)
{
	struct rt_inst *in;
	if (me.gen == rt.gen && me.inst)
		return me.inst->st;
	pthread_mutex_lock(&rt.mu);
	if (rt.state == 0)
		rt_start_locked();
	/* one queue pair for now: every thread shares instance 0 */
	in = rt.state == 1 ? &rt.inst[0] : NULL;
	me.gen = rt.gen;
	me.inst = in;
	pthread_mutex_unlock(&rt.mu);
	return in ? in->st : NULL;
}

static struct rt_inst *inst_of(struct stack *st)
{
	if (me.inst && me.inst->st == st && me.gen == rt.gen)
		return me.inst;
	for (unsigned i = 0; i < rt.ninst; i++)
		if (rt.inst[i].st == st)
			return &rt.inst[i];
	return NULL;
}

/* ------------------------------------------------------------- locking */

static inline uintptr_t self_id(void)
{
	return (uintptr_t)&me.tag;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void inst_lock(struct rt_inst *in)
{
	uintptr_t self = self_id(), free_ = 0;
	if (atomic_load_explicit(&in->owner, memory_order_relaxed) == self) {
		in->depth++;
		return;
	}
	if (!atomic_compare_exchange_strong_explicit(&in->owner, &free_, self, memory_order_acquire,
						     memory_order_relaxed)) {
		in->ctr[RT_LOCK_CONTENDED]++;
		for (unsigned spins = 0;; spins++) {
			free_ = 0;
			if (atomic_load_explicit(&in->owner, memory_order_relaxed) == 0 &&
			    atomic_compare_exchange_weak_explicit(&in->owner, &free_, self, memory_order_acquire,
								  memory_order_relaxed))
				break;
			if (spins < 64)
				cpu_relax();
			else
				sched_yield(); /* the holder may be preempted: 2 CPUs */
		}
	}
	in->depth = 1;
}

static void inst_unlock(struct rt_inst *in)
{
	if (--in->depth == 0)
		atomic_store_explicit(&in->owner, 0, memory_order_release);
}

void rt_lock(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	if (in)
		inst_lock(in);
}

void rt_unlock(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	if (in)
		inst_unlock(in);
}

/* ----------------------------------------------------------- scheduler */

static void sched_poll_main(void *arg)
{
	struct sched *s = arg;
	while (!s->stop) {
		s->work = stack_poll(s->inst->st, s->now);
		co_yield();
	}
}

/* Resets the stack has sent. */
static uint64_t inst_rst_sent(struct rt_inst *in)
{
	unsigned n;
	const uint64_t *v = stack_counter_values(in->st, &n);
	return in->rst_idx >= 0 && (unsigned)in->rst_idx < n ? v[in->rst_idx] : 0;
}

/* Counters to shared memory about once per ms, the connection table and
 * the link state about every 100 ms. */
static void inst_housekeep(struct rt_inst *in, uint64_t now)
{
	if (now < in->next_publish)
		return;
	in->next_publish = now + RT_PUBLISH_NS;
	if (inst_rst_sent(in) != in->rst_seen) {
		in->rst_seen = inst_rst_sent(in);
		in->rst_at = now;
	}
	in->ctr[RT_POOL_IN_USE] = in->nif->pool->in_use;
	in->ctr[RT_POOL_CAPACITY] = in->nif->pool->capacity;
	if (now >= in->next_conns) {
		in->next_conns = now + RT_CONNS_NS;
		if (in->nif->ops->link_up)
			in->ctr[RT_LINK_UP] = (uint64_t)in->nif->ops->link_up(in->nif);
		rt_shm_update_conns(&in->shm, in->st, now);
	}
	rt_shm_update(&in->shm, in->st, in->ctr, (int)in->ctr[RT_LINK_UP], now);
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

static pthread_key_t sched_key;
static pthread_once_t sched_key_once = PTHREAD_ONCE_INIT;

static void sched_key_dtor(void *p)
{
	struct sched *s = p;
	if (me.sched == s)
		me.sched = NULL;
	sched_free(s); /* the coroutines see stop and return: no instance is touched */
}

static void sched_key_make(void)
{
	pthread_key_create(&sched_key, sched_key_dtor);
}

/* This thread's scheduler for `in`; NULL if coroutines cannot be made (the
 * wait loop then polls directly). */
static struct sched *sched_get(struct rt_inst *in)
{
	struct sched *s = me.sched;
	if (s && s->inst == in && s->gen == rt.gen)
		return s;
	if (s) {
		pthread_setspecific(sched_key, NULL);
		sched_free(s);
	}
	me.sched = NULL;
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
	me.sched = s;
	return s;
}

/* One pass: poll, then housekeeping. Returns the work done. Instance locked. */
static int sched_pass(struct rt_inst *in, struct sched *s, uint64_t now)
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
#define RT_PROGRESS_NS (10ull * 1000 * 1000)

static void *progress_main(void *arg)
{
	struct rt_inst *in = arg;
	struct rt_progress *pg = &in->pg;
	uint64_t due = rt_now() + RT_PROGRESS_NS;

	pthread_mutex_lock(&pg->mu);
	while (!pg->stop) {
		struct timespec ts = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
		uint64_t now, last;
		uintptr_t free_ = 0;

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
			/* parked until the last sleeper wakes (progress_unpark):
			 * an idle program's thread does not wake every period.
			 * parked is set before sleepers is read again, and the
			 * sleeper reads parked after it left: one sees the other */
			atomic_store(&pg->parked, 1);
			if (atomic_load(&pg->sleepers))
				pthread_cond_wait(&pg->cv, &pg->mu);
			atomic_store(&pg->parked, 0);
			due = rt_now() + RT_PROGRESS_NS;
			continue;
		}
		if (!atomic_compare_exchange_strong(&in->owner, &free_, self_id()))
			continue;
		in->depth = 1;
		if (!in->in_pass) {
			in->ctr[RT_PROGRESS_PASSES]++;
			sched_pass(in, NULL, now);
			stack_tx_flush(in->st);
		}
		inst_unlock(in);
	}
	pthread_mutex_unlock(&pg->mu);
	return NULL;
}

static void progress_start(struct rt_inst *in)
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

/* The last sleeper woke: the parked progress thread goes back to its
 * period. Taking the mutex orders this after the thread's wait began. */
static void progress_unpark(struct rt_inst *in)
{
	pthread_mutex_lock(&in->pg.mu);
	pthread_cond_signal(&in->pg.cv);
	pthread_mutex_unlock(&in->pg.mu);
}

static void progress_stop(struct rt_inst *in)
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

void rt_poll(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	if (!in)
		return;
	inst_lock(in);
	sched_pass(in, sched_get(in), rt_now());
	inst_unlock(in);
}

/* ---------------------------------------------------------------- wait */

static int fd_readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { 0, 0 };
	return syscall(SYS_ppoll, &p, 1, &ts, NULL, (size_t)8) == 1;
}

/* Sleep until the device, kernel_fd, the next timer, the deadline or the
 * cap. Called and returns with the instance locked. 1: kernel_fd readable,
 * -EINTR: a signal, 0: otherwise. */
static int sleep_once(struct rt_inst *in, struct sched *s, uint64_t deadline, int kfd)
{
	struct netif *nif = in->nif;
	int wfd = nif->ops->wait_fd ? nif->ops->wait_fd(nif) : -1;
	struct pollfd fds[2];
	struct timespec ts;
	sigset_t mask;
	uint64_t now, until, next;
	int n = 0, r, e;

	if (wfd >= 0 && nif->ops->intr_arm && nif->ops->intr_arm(nif, 1) != 0)
		wfd = -1;
	/* a frame may have come between the last pass and arming; the
	 * counters file is brought up to date before a possibly long sleep */
	now = rt_now();
	in->next_publish = 0;
	if (sched_pass(in, s, now) > 0) {
		if (wfd >= 0)
			nif->ops->intr_arm(nif, 0);
		return 0;
	}
	next = stack_next_timer(in->st);
	if (wfd >= 0) {
		until = now + RT_SLEEP_CAP_INTR_NS;
	} else {
		/* no interrupt: nothing wakes us when a frame comes, so the
		 * first sleeps after work are short and grow to the cap */
		until = now + in->nap_ns;
		in->nap_ns = in->nap_ns * 2 > RT_SLEEP_CAP_NS ? RT_SLEEP_CAP_NS : in->nap_ns * 2;
	}
	if (deadline < until)
		until = deadline;
	if (next < until)
		until = next;
	until = until > now ? until - now : 0;
	ts.tv_sec = (time_t)(until / 1000000000u);
	ts.tv_nsec = (long)(until % 1000000000u);
	if (wfd >= 0)
		fds[n++] = (struct pollfd){ .fd = wfd, .events = POLLIN };
	if (kfd >= 0)
		fds[n++] = (struct pollfd){ .fd = kfd, .events = POLLIN };

	/* The device's own signal stays blocked while asleep: net_tap raises
	 * one for every frame (its rx trigger) and it would end each sleep as a
	 * false -EINTR. It is delivered on return; the device fd is what wakes us. */
	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	if (in->dev_sig)
		sigaddset(&mask, in->dev_sig);
	in->ctr[RT_SLEEPS]++;
	atomic_fetch_add(&in->pg.sleepers, 1);
	inst_unlock(in);
	r = (int)syscall(SYS_ppoll, fds, (unsigned long)n, &ts, &mask, (size_t)8);
	e = errno;
	inst_lock(in);
	if (atomic_fetch_sub(&in->pg.sleepers, 1) == 1 && atomic_load(&in->pg.parked))
		progress_unpark(in);
	if (wfd >= 0)
		nif->ops->intr_arm(nif, 0);
	if (r < 0 && e == EINTR) {
		in->ctr[RT_WAKE_SIGNAL]++;
		return -EINTR;
	}
	if (r > 0 && kfd >= 0 && (fds[n - 1].revents & (POLLIN | POLLHUP | POLLERR))) {
		in->ctr[RT_WAKE_KERNEL_FD]++;
		return 1;
	}
	if (r > 0)
		in->ctr[RT_WAKE_DEVICE]++;
	else
		in->ctr[RT_WAKE_TIMEOUT]++;
	return 0;
}

int rt_wait(struct stack *st, int (*ready)(void *), void *arg, uint64_t deadline_ns, int kernel_fd)
{
	struct rt_inst *in = inst_of(st);
	struct sched *s;
	uint64_t now, spin_ns, spin_until;
	unsigned kcheck = 0, idle = 0;
	sig_atomic_t sig0;
	int rc;

	if (!in)
		return -EINVAL;
	if (in->in_pass && atomic_load_explicit(&in->owner, memory_order_relaxed) == self_id())
		return -EDEADLK; /* from a callback inside a pass: it could only spin */
	sig0 = sig_seen;
	s = sched_get(in);
	spin_ns = (uint64_t)rt.cfg.spin_us * 1000u;
	inst_lock(in);
	now = rt_now();
	spin_until = now + spin_ns;
	for (;;) {
		if (ready && ready(arg)) {
			rc = 0;
			break;
		}
		if (sched_pass(in, s, now) > 0) {
			now = rt_now();
			spin_until = now + spin_ns;
			idle = 0;
			if (ready && ready(arg)) {
				rc = 0;
				break;
			}
		} else if (idle++ % RT_CLOCK_EVERY == 0) {
			now = rt_now();
		}
		if (now >= deadline_ns) {
			rc = -ETIMEDOUT;
			break;
		}
		if (sig_seen != sig0) {
			in->ctr[RT_WAKE_SIGNAL]++;
			rc = -EINTR;
			break;
		}
		if (kernel_fd >= 0 && ++kcheck % RT_KFD_CHECK_EVERY == 0 && fd_readable_now(kernel_fd)) {
			rc = 1;
			break;
		}
		if (now < spin_until) {
			/* let other threads sharing the instance in between passes */
			inst_unlock(in);
			cpu_relax();
			inst_lock(in);
			continue;
		}
		if ((rc = sleep_once(in, s, deadline_ns, kernel_fd)) != 0)
			break;
		now = rt_now();
		spin_until = now; /* spin again only once work shows up */
	}
	inst_unlock(in);
	return rc;
}

/* ------------------------------------------------------ fork, shutdown */

void rt_atfork_child(void)
{
	/* The parent's DPDK threads did not survive the fork: forget its device
	 * and instances without touching them (they are the parent's). */
	if (rt.state == 1)
		for (unsigned i = 0; i < rt.ninst; i++)
			rt_shm_forget(&rt.inst[i].shm);
	memset(rt.inst, 0, sizeof(rt.inst));
	rt.ninst = 0;
	if (rt.state != 0 && rt.configured) {
		rt.state = rt.state == 1 ? -1 : rt.state;
		if (rt.state == -1 && !rt.err[0])
			snprintf(rt.err, sizeof(rt.err), "device '%.200s': started in the parent before fork(); "
				 "DPDK cannot start again in the child", rt.cfg.device);
	}
	pthread_mutex_init(&rt.mu, NULL);
	rt.gen++;
	me.inst = NULL; /* me.sched is stale by its gen: replaced on next use */
}

/* An instance after shutdown: nothing arrives, what is sent is dropped. */
static uint16_t dead_rx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	(void)nif, (void)pkts, (void)n;
	return 0;
}

static uint16_t dead_tx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	(void)nif;
	for (uint16_t i = 0; i < n; i++)
		pbuf_free(pkts[i]);
	return n;
}

static const struct netif_ops dead_ops = { .rx_burst = dead_rx, .tx_burst = dead_tx };

/* Take the lock, but not forever: at exit another thread may hold it and
 * never come back. */
static int inst_lock_bounded(struct rt_inst *in)
{
	for (int i = 0; i < 2000; i++) {
		uintptr_t free_ = 0, self = self_id();
		if (atomic_load(&in->owner) == self ||
		    atomic_compare_exchange_strong(&in->owner, &free_, self)) {
			in->depth++;
			return 1;
		}
		usleep(500);
	}
	return 0;
}

/* Data the program wrote before it exited is still the stack's to deliver:
 * the kernel keeps sending after a process ends, so at exit the stack goes on
 * until every connection's sent data and FIN are acknowledged, for at most
 * RT_DRAIN_NS. Connections the program left open are not waited for. */
#define RT_DRAIN_NS (3000ull * 1000 * 1000)
#define RT_LINGER_NS (100ull * 1000 * 1000)

static void inst_drain(struct rt_inst *in)
{
	uint64_t now = rt_now(), end = now + RT_DRAIN_NS, linger;
	struct timespec nap = { 0, 50 * 1000 };

	/* A reset sent lately (close() with unread data aborts, RFC 2525
	 * 2.17) waits for no ACK, but a device that goes away at exit (memif)
	 * loses the frames its peer has not read yet, and a peer that never
	 * sees the reset keeps the connection forever: the device stays up
	 * RT_LINGER_NS after the last one. */
	if (inst_rst_sent(in) != in->rst_seen)
		in->rst_at = now;
	linger = in->rst_at ? in->rst_at + RT_LINGER_NS : 0;
	for (;;) {
		now = rt_now();
		if ((!stack_tcp_any_closing(in->st) && now >= linger) || now >= end)
			return;
		stack_poll(in->st, now);
		nanosleep(&nap, NULL);
	}
}

void rt_shutdown(void)
{
	pthread_mutex_lock(&rt.mu);
	if (rt.state != 1 || rt.pid != getpid()) {
		pthread_mutex_unlock(&rt.mu);
		return;
	}
	for (unsigned i = 0; i < rt.ninst; i++) {
		struct rt_inst *in = &rt.inst[i];
		int locked;
		progress_stop(in);
		locked = inst_lock_bounded(in);
		struct netif *nif = in->nif;
		if (locked && !in->in_pass)
			inst_drain(in);
		stack_tx_flush(in->st);
		rt_shm_destroy(&in->shm);
		/* the device goes (memif socket file, XDP program); the stack's
		 * memory stays, as sockets may still be referenced by callers */
		if (nif->ops->close)
			nif->ops->close(nif);
		nif->ops = &dead_ops;
		if (locked)
			inst_unlock(in);
	}
	rt.state = 2;
	rt.gen++; /* rt_stack() answers NULL from now on */
	snprintf(rt.err, sizeof(rt.err), "device '%.200s': the runtime was shut down", rt.cfg.device);
	pthread_mutex_unlock(&rt.mu);
}

void rt_note_signal(void)
{
	sig_seen++;
}

void rt_publish(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	if (!in)
		return;
	inst_lock(in);
	in->next_publish = in->next_conns = 0;
	inst_housekeep(in, rt_now());
	inst_unlock(in);
}

const uint64_t *rt_counters(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	return in ? in->ctr : NULL;
}

const char *rt_shm_path(struct stack *st)
{
	struct rt_inst *in = inst_of(st);
	return in && in->shm.hdr ? in->shm.path : "";
}

void rt_reset(void)
{
	struct sched *s = me.sched;
	if (s) {
		pthread_setspecific(sched_key, NULL);
		sched_free(s);
		me.sched = NULL;
	}
	pthread_mutex_lock(&rt.mu);
	for (unsigned i = 0; i < rt.ninst && rt.state >= 1; i++) {
		struct rt_inst *in = &rt.inst[i];
		progress_stop(in);
		rt_shm_destroy(&in->shm);
		stack_destroy(in->st);
		if (rt.state == 1 && in->nif->ops->close)
			in->nif->ops->close(in->nif);
	}
	memset(rt.inst, 0, sizeof(rt.inst));
	rt.ninst = 0;
	rt.state = 0;
	rt.configured = 0;
	rt.err[0] = 0;
	rt.gen++;
	me.inst = NULL;
	pthread_mutex_unlock(&rt.mu);
}
