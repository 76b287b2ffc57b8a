/* The runtime's internals, shared by the files of stack/rt/ (README.md): its
 * counters, its states, the instance, the process-wide and per-thread state,
 * the lock's fast path and the calls between the files; and the hooks tests
 * use to run it over the in-memory link instead of DPDK. */
#ifndef DEMI_RT_IMPL_H
#define DEMI_RT_IMPL_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "demi/rt.h"
#include "netif.h"
#include "shm.h"

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
	X(RT_POOL_CAPACITY, "packet buffers in the pool") \
	X(RT_TCP_TCBS, "TCP control blocks allocated now") \
	X(RT_TCP_TCB_BYTES, "bytes those TCP control blocks take")

enum rt_counter {
#define RT_C(name, desc) name,
	RT_COUNTERS(RT_C)
#undef RT_C
	RT_COUNTER_MAX
};

/* ---- test hooks ---- */

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
/* Refresh the instance's counters file now, connection table included. */
void rt_publish(struct stack *st);
/* Tests: stop everything, free the instances, forget the configuration. */
void rt_reset(void);

/* ---- shared by the files of stack/rt/ ---- */

#pragma GCC visibility push(hidden)

#define RT_INST_MAX 1
#define RT_NAP_MIN_NS (20 * 1000ull) /* the first sleep without an interrupt fd (wait.c) */

enum rt_state {
	RT_NOT_STARTED = 0, /* configured or not; starts on the first rt_stack() */
	RT_UP = 1,
	RT_FAILED = -1,     /* the device did not start (or a forked child's): rt_error() */
	RT_SHUT_DOWN = 2,   /* rt_shutdown() ran */
};

struct sched; /* sched.c: one thread's scheduler */

/* neigh.c: the kernel's neighbours for a device shared with it. */
struct rt_neigh {
	int fd;          /* rtnetlink socket, -1: none */
	int ifindex;
	uint32_t seq;
	uint64_t next;   /* the next dump */
	int asked;       /* the kernel was asked for what the stack waits for */
	int warned;
	int ev_fd;       /* rtnetlink socket in the neighbour, IPv4 route and address groups, -1: none */
	int follow_gw;   /* the gateway is the kernel's default route's (none configured) */
	int routes_changed; /* a route or address event: the gateway is read again */
	struct in_addr gw; /* the gateway the stack was given last */
};

/* A closed listener's handover to the device's other processes (handover.c). */
#define RT_HO_PORTS 16
#define RT_HO_PEERS 64
struct rt_ho_port {
	uint16_t port;
	int fd;                  /* its socket while the stack listens on port, -1: none */
	int npeers, peers[RT_HO_PEERS]; /* the others listening, by pid */
	uint64_t scan_at;        /* when to list them again */
};
#define RT_HO_IN 64
#define RT_HO_OUT 64
struct rt_ho {
	int on;
	uint32_t gen;            /* stack_tcp_listen_gen when the ports were synced */
	int nports, nin;
	struct rt_ho_port ports[RT_HO_PORTS];
	struct { int fd; uint16_t port; } in[RT_HO_IN];  /* connections from the others */
	struct rt_ho_out { int fd; uint16_t port; int pid; } out[RT_HO_OUT]; /* to them, fd -1: none */
};

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
	int cksum_idx, rxsegs_idx; /* DROP_TCP_CKSUM, TCP_RX_SEGS, -1: none */
	int cksum_warned;
	/* The device was deleted under the stack (netif ops->gone): its
	 * connections stay and time out as Linux's do; rt_stack() answers NULL
	 * so that sockets made from now on go as [fallback] on_error says. */
	atomic_int gone;
	uint64_t rst_seen, rst_at; /* its value as last seen, and when it moved */
	uint64_t ctr[RT_COUNTER_MAX];
	struct rt_shm shm;
	struct rt_neigh neigh;   /* kernel_ifindex devices: neighbours from the kernel */
	struct rt_ho ho;
	/* The progress thread (progress.c). last_pass is on a line of its
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

/* The process's runtime (start.c). */
struct rt_global {
	pthread_mutex_t mu;      /* start, shutdown */
	int configured;
	int gw_from_kernel;      /* no [net] gateway: the kernel's default route's, followed (neigh.c) */
	struct rt_cfg cfg;
	enum rt_state state;
	pid_t pid;               /* the process that started it */
	pid_t cfg_pid;           /* the process that configured it: another one that starts is its fork */
	char err[512];
	struct rt_inst inst[RT_INST_MAX];
	unsigned ninst;
	unsigned gen;            /* bumped when a forked child forgets the parent's */
	rt_open_fn opener;
	const char *shm_dir;
	int atexit_done, atfork_done;
};
extern struct rt_global rt;

/* This thread's view (start.c); stale when gen is not rt.gen. Initial-exec
 * as the shim's own thread state: read on every socket call. */
struct rt_thread {
	unsigned gen;
	struct rt_inst *inst;
	struct sched *sched;
	char tag; /* its address identifies the thread */
};
extern __thread struct rt_thread rt_me; /* not initial-exec: the runtime is dlopen'ed */

/* The instance behind st, NULL if none. */
static inline struct rt_inst *rt_inst_of(struct stack *st)
{
	if (rt_me.inst && rt_me.inst->st == st && rt_me.gen == rt.gen)
		return rt_me.inst;
	for (unsigned i = 0; i < rt.ninst; i++)
		if (rt.inst[i].st == st)
			return &rt.inst[i];
	return NULL;
}

/* lock.c: the instance lock, recursive for its owner. */
static inline uintptr_t rt_self(void)
{
	return (uintptr_t)&rt_me.tag;
}

static inline void rt_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void rt_inst_lock_wait(struct rt_inst *in, uintptr_t self);

static inline void rt_inst_lock(struct rt_inst *in)
{
	uintptr_t self = rt_self(), free_ = 0;
	if (atomic_load_explicit(&in->owner, memory_order_relaxed) == self) {
		in->depth++;
		return;
	}
	if (!atomic_compare_exchange_strong_explicit(&in->owner, &free_, self, memory_order_acquire,
						     memory_order_relaxed))
		rt_inst_lock_wait(in, self);
	in->depth = 1;
}

static inline void rt_inst_unlock(struct rt_inst *in)
{
	if (--in->depth == 0)
		atomic_store_explicit(&in->owner, 0, memory_order_release);
}

/* Take the lock only if it is free: 1 taken, 0 not. */
static inline int rt_inst_trylock(struct rt_inst *in)
{
	uintptr_t free_ = 0;
	if (!atomic_compare_exchange_strong(&in->owner, &free_, rt_self()))
		return 0;
	in->depth = 1;
	return 1;
}

/* Take the lock, but not forever (at exit): 1 taken, 0 not. */
int rt_inst_lock_bounded(struct rt_inst *in);

/* sched.c */
/* One pass: poll, then housekeeping. Returns the work done. Instance locked;
 * s may be NULL (no coroutines: the pass runs on the caller's stack). */
int rt_sched_pass(struct rt_inst *in, struct sched *s, uint64_t now);
/* This thread's scheduler for in; NULL if coroutines cannot be made. */
struct sched *rt_sched_get(struct rt_inst *in);
/* Free this thread's scheduler, if any. */
void rt_sched_drop(void);
/* Resets the stack has sent (its TCP_RST_SENT counter). */
uint64_t rt_inst_rst_sent(struct rt_inst *in);

/* neigh.c */
/* An rtnetlink socket for the interface's neighbours. 0 or -errno. */
int rt_neigh_start(struct rt_neigh *n, int ifindex, int follow_gw, struct in_addr gw);
void rt_neigh_stop(struct rt_neigh *n);
/* The kernel's changes as they come (neighbours, the gateway); when due a
 * dump of its entries into the stack's cache; the kernel asked to resolve
 * what the stack waits for. */
void rt_neigh_poll(struct rt_neigh *n, struct stack *st, uint64_t now);
/* The gateway of the kernel's default route through the interface:
 * 0, -ENOENT (none) or -errno. */
int rt_neigh_gateway(int ifindex, struct in_addr *gw);

/* progress.c */
/* handover.c */
int rt_ho_start(struct rt_inst *in); /* before stack_create: 1 if on (shared_dev) */
int rt_ho_send(void *arg, uint16_t lport, const void *msg, size_t len, uint32_t hash);
void rt_ho_poll(struct rt_inst *in);
int rt_ho_fds(struct rt_inst *in, struct pollfd *fds); /* its sockets, for a sleep: how many (<= RT_HO_FDS) */
#define RT_HO_FDS (RT_HO_PORTS + RT_HO_IN)
void rt_ho_stop(struct rt_inst *in);

void rt_progress_start(struct rt_inst *in);
void rt_progress_stop(struct rt_inst *in);
/* The last sleeper woke: the parked progress thread goes back to its period. */
void rt_progress_unpark(struct rt_inst *in);

#pragma GCC visibility pop

#endif
