/* The shim's internal interfaces: real functions, re-entrancy guard and
 * entry prologue, log, config, fd table, socket entries, epoll sets.
 *
 * To interpose another libc call: add its line to calls.def (this gives
 * REAL(name), and exports the name: the version script is made from that
 * list, nothing else leaves the library), then write its wrapper,
 * SHIM_EXPORT with libc's prototype, in the file of its group (socket.c
 * control calls, io.c data path, epoll.c, poll.c, fork.c processes and
 * privileges, signal.c). A wrapper that takes an fd starts with ss_enter()
 * or shim_tracks() and calls REAL(name) for everything that is not its. */
#ifndef DEMI_SHIM_H
#define DEMI_SHIM_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "demi/stack.h"
#include "demi/rt.h"
#include "stackapi.h" /* the stack's calls, through the table of the stack library */

#define SHIM_EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- real.c: the next definition of every interposed function ---- */
#define CALL(r, n, p) extern r(*real_##n) p;
#include "calls.def"
#undef CALL
void *real_resolve(void **slot, const char *name);
void real_init(void);
static inline void *real_load(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	return p ? p : real_resolve(slot, name);
}
#define REAL(n) ((__typeof__(real_##n))real_load((void **)&real_##n, #n))

/* Re-entrancy guard: while the shim itself (or DPDK, started by it) runs,
 * every wrapper passes straight to libc. */
extern __thread int shim_depth __attribute__((tls_model("initial-exec")));
#define SHIM_INSIDE() unlikely(shim_depth > 0)
static inline void shim_enter(void) { shim_depth++; }
static inline void shim_leave(void) { shim_depth--; }

/* glibc's _FORTIFY_SOURCE failure: the _chk wrappers fail as libc's do */
extern void __chk_fail(void) __attribute__((noreturn));

static inline long shim_ret(long rc)
{
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

/* ---- log.c ---- */
enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
extern int log_level;
extern char log_path[256]; /* [log] file; empty: stderr */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) do { if (log_level >= LOG_WARN) log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_level >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
int log_parse_level(const char *s); /* -1 if unknown */
void log_install(void); /* the stack's log into this one, at log_level */

/* ---- config.c ---- */
struct cfg_net {
	uint32_t net, mask; /* host byte order */
};
struct cfg_net6 {
	struct in6_addr net; /* masked to len bits */
	uint8_t len;
};
#define CFG_MAX_CONNECT 32
struct shim_cfg {
	int active;        /* a valid config with bypass rules: sockets may be bypassed */
	int broken;        /* the config had errors (logged with file:line) */
	int on_error_fail; /* [fallback] on_error = fail */
	int udp;           /* [bypass] udp */
	int listen_all;
	uint8_t listen_ports[65536 / 8];
	int connect_all;
	int nconnect;
	struct cfg_net connect[CFG_MAX_CONNECT];
	int nconnect6;
	struct cfg_net6 connect6[CFG_MAX_CONNECT];
	char path[256];
	struct rt_cfg rt;
};
extern struct shim_cfg cfg;
/* Parse a config file into c; 0 or -1 (errors already logged as file:line). */
int cfg_parse_file(struct shim_cfg *c, const char *path);
/* Find and load the config (DEMI_CONFIG, /etc/demi/PROGRAM.conf, /etc/demi/demi.conf). */
void cfg_load(void);
int cfg_listen_port(uint16_t port); /* host order */
int cfg_connect_addr(uint32_t addr); /* host order */
/* An IPv6 destination a connect may take through the stack: inside a
 * [bypass] connect prefix, or on the stack's address6 prefix; a v4-mapped
 * one by the IPv4 rules. */
int cfg_connect_addr6(const struct in6_addr *a);
/* a is the stack's address6 */
int cfg_stack_addr6(const struct in6_addr *a);

/* ---- fdtab.c: one slot per fd number, read without locks ---- */
enum fobj_kind { FOBJ_SOCK = 1, FOBJ_EPOLL = 2 };
struct fobj {
	int kind;
	atomic_int refs; /* fds referring to it (dup), and calls in progress on it */
};
/* The object at fd without a reference: only for a yes/no, or under shim_mu. */
struct fobj *fdtab_get(int fd);
/* The object at fd with a reference (fobj_release when done), NULL if none:
 * it stays valid however other threads close or reuse fd meanwhile. */
struct fobj *fdtab_hold(int fd);
/* Install o at fd (taking a reference); returns what was there (reference
 * handed to the caller), NULL if nothing. shim_mu held. */
struct fobj *fdtab_set(int fd, struct fobj *o);
struct fobj *fdtab_take(int fd); /* remove; the caller owns the reference */
void fdtab_foreach(void (*fn)(int fd, struct fobj *o, void *arg), void *arg);
struct linger_set;
/* Drop a reference, shim_mu held; frees on the last. A close passes its
 * linger set (the others NULL): a lingering connection freed here is noted
 * in it for the caller to wait for. */
void fobj_put(struct fobj *o, struct linger_set *closing);
void fobj_release(struct fobj *o); /* drop a reference, shim_mu not held; keeps errno */
void fdtab_atfork_child(void);
/* ---- fdrec.c: what demistat --fds shows ---- */
void fdrec_put(int fd, const struct fobj *o); /* o NULL: fd forgotten */
void fdrec_atfork_child(void);

/* ---- sockets (socket.c) ---- */
enum ss_state {
	SS_KERNEL = 0,    /* the kernel's, for good */
	SS_CANDIDATE = 1, /* a kernel socket that bind/listen/connect may still bypass */
	SS_BYPASS = 2,    /* decided for the stack: a description, or attached (sk) */
};
enum ss_reason {
	WHY_UNDECIDED = 0,
	WHY_LISTEN_PORT,   /* bypassed: [bypass] listen names the port */
	WHY_CONNECT_DEST,  /* bypassed: [bypass] connect names the destination */
	WHY_ACCEPTED,      /* bypassed: accepted from a bypassed listener */
	WHY_STACK_ADDR,    /* bypassed: bound to the stack's own address */
	WHY_NOT_INET,      /* kernel: not AF_INET (AF_UNIX, AF_INET6, ...) */
	WHY_TYPE,          /* kernel: not a TCP or UDP socket */
	WHY_UDP_OFF,       /* kernel: [bypass] udp = no */
	WHY_LOOPBACK,      /* kernel: loopback address */
	WHY_PORT_UNLISTED, /* kernel: listening port not in [bypass] listen */
	WHY_DEST_UNLISTED, /* kernel: destination not in [bypass] connect */
	WHY_ADDR_FOREIGN,  /* kernel: bound to an address that is not the stack's */
	WHY_DEVICE_FAILED, /* kernel: the stack could not start */
	WHY_ATTACH_FAILED, /* kernel: the stack refused the socket (bind, listen) */
	WHY_KERNEL_ACCEPT, /* kernel: accepted on the kernel side of a bypassed listener */
	WHY_FORKED,        /* dead after fork: a socket of the parent's started stack not relayed
	                    * (UDP, unconnected) or a listener of it (relay.c) */
	WHY_RELAYED,       /* kernel: a connection of the parent's stack, carried through it (relay.c) */
};
const char *ss_reason_str(int why);

#define SS_MAX_OPTS 16
struct ssopt {
	int level, name;
	socklen_t len;
	unsigned char val[16];
};

struct sitem;

/* A socket address of either family: sin for AF_INET, sin6 for AF_INET6
 * (the port at the same offset in both). */
union ss_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

static inline socklen_t ss_addr_len(const union ss_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->sin6) : sizeof(a->sin);
}

struct ssock {
	struct fobj h;
	int state, why;
	int domain, type, proto; /* type without SOCK_NONBLOCK/SOCK_CLOEXEC */
	int nonblock;            /* O_NONBLOCK as the application set it */
	int connecting;          /* connect said EINPROGRESS; the next one that
				  * finds the connection made returns 0 (Linux) */
	struct sock *sk;         /* attached stack socket */
	struct stack *st;        /* sk's instance */
	int bound, kbound;       /* bound (local valid); also bound on the kernel fd */
	int listening, backlog, klistening;
	int dead;                /* -errno every call returns (connection lost across fork) */
	int dead_warned;        /* the dead listener's warning was given */
	union ss_addr local;     /* of the socket's family */
	int nopts;
	struct ssopt *opts;      /* SS_MAX_OPTS of them, on the first option recorded */
	struct timeval rcvtimeo, sndtimeo;
	union ss_addr rpeer;     /* WHY_RELAYED: the connection's peer (local: its address) */
	int placeholder;         /* its fd numbers hold an AF_UNIX socket, not one of the family */
	atomic_uint gen;         /* bumped by every readiness notification */
	struct sitem *items;     /* epoll memberships */
	struct {                 /* closed, its connection lingering: on a linger_set */
		struct ssock *next;
		union ss_addr local, peer;
		uint64_t deadline;
	} linger;
};

static inline struct ssock *ss_of(struct fobj *o)
{
	return o && o->kind == FOBJ_SOCK ? (struct ssock *)o : NULL;
}
static inline void ss_release(struct ssock *ss)
{
	fobj_release(&ss->h);
}
/* The socket entry at fd with a reference (ss_release), or NULL. */
static inline struct ssock *ss_hold(int fd)
{
	struct fobj *o = fdtab_hold(fd);
	if (o && o->kind != FOBJ_SOCK) {
		fobj_release(o);
		return NULL;
	}
	return (struct ssock *)o;
}
/* The bypassed socket at fd with a reference, or NULL. */
static inline struct ssock *ss_hold_bypassed(int fd)
{
	struct ssock *ss = ss_hold(fd);
	if (ss && ss->state != SS_BYPASS) {
		ss_release(ss);
		return NULL;
	}
	return ss;
}

/* ---- the entry prologue of every wrapper that takes an fd ----
 * The call is the kernel's alone (the wrapper returns REAL(name)(...))
 * while the shim itself runs (the re-entrancy guard) or when fd holds
 * nothing of the shim's. Otherwise the wrapper works on the entry, with a
 * reference held for the whole call (ss_release when done): another thread
 * may close or reuse fd meanwhile. */
enum ss_enter_want {
	SS_ENTER_ANY,      /* any socket entry: the control calls, which decide or record */
	SS_ENTER_BYPASSED, /* a bypassed socket only: the data path */
};
static inline struct ssock *ss_enter(int fd, enum ss_enter_want want)
{
	if (SHIM_INSIDE())
		return NULL;
	return want == SS_ENTER_BYPASSED ? ss_hold_bypassed(fd) : ss_hold(fd);
}
/* The same guard for a call that only needs to know whether fd holds an
 * object of the shim's (a socket entry or an epoll set), without a
 * reference: close, dup2, fcntl, the epoll waits. */
static inline int shim_tracks(int fd)
{
	return !SHIM_INSIDE() && fdtab_get(fd) != NULL;
}

/* fd still names ss (shim_mu held): a call that may have slept checks this
 * before it hands fd to the kernel, which would otherwise act on whatever
 * file another thread reopened at that number. */
static inline int ss_fd_is(const struct ssock *ss, int fd)
{
	return fdtab_get(fd) == &ss->h;
}

extern pthread_mutex_t shim_mu;  /* control plane: decisions, attach, epoll membership */
extern atomic_uint shim_gen;     /* bumped by every notification of any socket */
extern int shim_rt_failed;       /* the stack could not start: everything to the kernel */
extern int shim_has_bypass;      /* some socket of this process was bypassed */
struct stack *shim_stack(void);  /* this thread's instance, started on first use; NULL: failed */
/* Starts the stack, if a bypassed socket needs it, before the caller takes
 * shim_mu: DPDK's own threads (its interrupt thread: memif's handshake, a
 * link coming up) call the shim during the start and would wait on shim_mu
 * until the start gave up waiting for them. */
void shim_stack_prestart(void);

struct ssock *ss_new(int domain, int type, int proto, int state, int why);
/* closing: the caller's linger set, or NULL (see fobj_put) */
void ss_free(struct ssock *ss, struct linger_set *closing);

/* SO_LINGER with a timeout: the connections one call's close released
 * (close, close_range, closefrom, fclose, dup2/dup3 over a socket), in fd
 * order. Filled while their fds are forgotten with shim_mu held; the caller
 * waits once the lock is gone (linger_wait). A list through the closed
 * entries themselves: nothing to allocate, no limit. */
struct linger_set {
	struct ssock *first, *last;
};
void linger_wait(struct linger_set *set); /* waits, frees the entries, keeps errno */
/* Make sure a bypassed socket has its stack socket (lazy start). 0: attached;
 * 1: it fell back to the kernel (use the kernel path); -errno: failed. */
int ss_attach(struct ssock *ss, int fd);
int ss_attach_locked(struct ssock *ss, int fd);
/* Turn a bypassed description into a kernel socket, replaying bind/listen. */
int ss_to_kernel(struct ssock *ss, int fd, int why);
/* Decide a candidate at connect/sendto by its destination; returns the state. */
int ss_decide_dest(struct ssock *ss, int fd, const struct sockaddr *to);
/* Block until sock_events(ss->sk) & want, a deadline (UINT64_MAX: none), a
 * signal, or kernel_fd readable. 0, 1 (kernel_fd), -EAGAIN (timeout), -EINTR. */
int ss_wait(struct ssock *ss, uint32_t want, uint64_t deadline, int kernel_fd);
uint64_t ss_deadline(const struct timeval *tv); /* UINT64_MAX for zero */
void ss_notify(struct sock *sk, void *arg);
void ss_sigpipe(void);
int shim_on_error(void); /* what a failing start means: 1 fail, 0 kernel */

/* ---- epoll.c ---- */
struct sepoll;
struct sitem {
	struct sepoll *ep;
	struct ssock *ss;
	int fd;
	uint32_t events; /* as the application asked (incl. EPOLLET, EPOLLONESHOT) */
	epoll_data_t data;
	int in_kernel;   /* registered in the kernel epoll */
	int in_user;     /* readiness kept here (a bypassed socket) */
	int queued;      /* on the ready list */
	int disarmed;    /* EPOLLONESHOT fired */
	struct sitem *ep_next, *ep_prev; /* all items of ep */
	struct sitem *ss_next;           /* all items of ss */
	struct sitem *r_next;            /* ready list */
};
void ep_item_notify(struct sitem *it); /* under the socket's rt_lock */
/* The socket behind some items changed sides: fix their registrations. */
void ep_ss_changed(struct ssock *ss);
void ep_ss_remove(struct ssock *ss); /* the last fd of ss closed */
void ep_free(struct fobj *o);
/* In a forked child: fresh locks, an empty ready list, not the parent's eventfd. */
void ep_fork_child(struct fobj *o);
int ep_attach_all(int epfd);
/* poll or select names fd: if it is an epoll set with bypassed members (its
 * own or in sets nested in it), the kernel's poll of fd now sees their
 * readiness, and their instance is returned for the caller to drive; NULL
 * for any other fd. Called again before each look. */
struct stack *ep_outside(int fd);

/* ---- signal.c ---- */
void sig_wait_begin(void);
/* rt_wait() said -EINTR: 1 if the wait goes on (no handler of the program
 * ran, or it had SA_RESTART and the call restarts), 0 for EINTR. */
int sig_wait_resume(int restartable);
void sig_device_restart(void);
void sig_atfork_child(void); /* the child arms the fatal signals anew */

/* ---- fork.c ---- */
void fork_init(void);
/* init.c: close every bypassed socket and deliver them, at any exit */
void shim_exit_drain(void);
/* The fds open now (below FDSNAP_MAX), and after the runtime started:
 * those it opened made close-on-exec; frees the snapshot. */
#define FDSNAP_MAX 4096
struct fd_snap {
	uint64_t bits[FDSNAP_MAX / 64];
};
struct fd_snap *fdsnap_take(void);
void fdsnap_cloexec_new(struct fd_snap *before);

/* ---- relay.c: connections that follow a fork ---- */
/* fork's handlers: prepare (shim_mu held) makes a pair per connection of a
 * started stack, parent hands them to the relay thread, child puts the
 * pairs at the connections' fd numbers (before the fds are fixed). */
void relay_prepare(void);
void relay_parent(void);
void relay_child(void);
void relay_child_epoll(void); /* after ep_fork_child: fix the relayed members */
/* At exit of a process that relays connections for children: stop, bounded. */
void relay_exit(void);

/* ---- init.c ---- */
extern int shim_ready; /* config loaded */

static inline uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

#endif
