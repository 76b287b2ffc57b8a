/* Socket entries and the control-plane calls: socket, bind, listen, accept,
 * connect, names, options, shutdown, close, dup, fcntl, ioctl.
 *
 * Every fd is a real kernel fd. An AF_INET TCP/UDP socket gets an entry when
 * a config is active: a candidate until bind/listen (local port in [bypass]
 * listen) or connect/sendto (destination in [bypass] connect) decides. A
 * bypassed socket is first a description (address, options, backlog) that
 * survives fork; its stack socket is attached lazily, when it first needs
 * packets. Kernel errors come from the kernel fd itself wherever the kernel
 * can judge the call, so errno is exactly Linux's. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "shim.h"

pthread_mutex_t shim_mu = PTHREAD_MUTEX_INITIALIZER;
atomic_uint shim_gen;
int shim_rt_failed;

static const char *const why_str[] = {
	[WHY_UNDECIDED] = "undecided",
	[WHY_LISTEN_PORT] = "bypassed: [bypass] listen names the port",
	[WHY_CONNECT_DEST] = "bypassed: [bypass] connect names the destination",
	[WHY_ACCEPTED] = "bypassed: accepted from a bypassed listener",
	[WHY_STACK_ADDR] = "bypassed: bound to the stack's address",
	[WHY_NOT_INET] = "kernel: not AF_INET",
	[WHY_TYPE] = "kernel: not a TCP or UDP socket",
	[WHY_UDP_OFF] = "kernel: [bypass] udp = no",
	[WHY_LOOPBACK] = "kernel: loopback",
	[WHY_PORT_UNLISTED] = "kernel: port not in [bypass] listen",
	[WHY_DEST_UNLISTED] = "kernel: destination not in [bypass] connect",
	[WHY_ADDR_FOREIGN] = "kernel: bound to an address that is not the stack's",
	[WHY_DEVICE_FAILED] = "kernel: the stack could not start",
	[WHY_ATTACH_FAILED] = "kernel: the stack refused the socket",
	[WHY_KERNEL_ACCEPT] = "kernel: accepted on the kernel side of a bypassed listener",
	[WHY_FORKED] = "lost: a connection of the parent's stack",
	[WHY_RELAYED] = "kernel: a connection of the parent's stack, relayed through the parent",
};

const char *ss_reason_str(int why)
{
	return why >= 0 && why < (int)(sizeof(why_str) / sizeof(why_str[0])) ? why_str[why] : "?";
}

int shim_on_error(void)
{
	return cfg.on_error_fail;
}

struct ssock *ss_new(int domain, int type, int proto, int state, int why)
{
	struct ssock *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->h.kind = FOBJ_SOCK;
	ss->domain = domain;
	ss->type = type;
	ss->proto = proto;
	ss->state = state;
	ss->why = why;
	return ss;
}

/* SO_LINGER with a timeout: close() returns once the connection's data and
 * FIN are acknowledged, the time is up or a signal comes, as Linux's
 * inet_release, blocking socket or not; so do close_range, closefrom,
 * fclose and dup2/dup3 over such a socket, for each one in turn. Called
 * under the connection's rt_lock as it closes: 1 if it lingers (noted in
 * ss->linger), 0 if not. */
static int ss_linger_note(struct ssock *ss)
{
	struct linger lg;
	socklen_t n = sizeof(lg);

	if (ss->type != SOCK_STREAM || sock_getopt(ss->sk, SOL_SOCKET, SO_LINGER, &lg, &n) || !lg.l_onoff ||
	    lg.l_linger <= 0 || sock_name(ss->sk, &ss->linger.local.sa) || sock_peer(ss->sk, &ss->linger.peer.sa))
		return 0;
	ss->linger.deadline = rt_now() + (uint64_t)lg.l_linger * 1000000000ull;
	ss->linger.next = NULL;
	return 1;
}

static int linger_over(void *arg)
{
	struct ssock *ss = arg;
	return !stack_tcp_closing(ss->st, &ss->linger.local.sa, &ss->linger.peer.sa);
}

/* Each noted connection in turn, from the time its own close began; a
 * signal ends the wait for all of them, as it does Linux's. */
void linger_wait(struct linger_set *set)
{
	int e = errno, waiting = 1;
	struct ssock *ss = set->first, *next;

	set->first = set->last = NULL;
	for (; ss; ss = next) {
		next = ss->linger.next;
		if (waiting && rt_wait(ss->st, linger_over, ss, ss->linger.deadline, -1) == -EINTR)
			waiting = 0;
		free(ss);
	}
	errno = e;
}

void ss_free(struct ssock *ss, struct linger_set *closing)
{
	int lingers = 0;

	ep_ss_remove(ss);
	if (ss->sk) {
		rt_lock(ss->st);
		sock_set_notify(ss->sk, NULL, NULL);
		lingers = closing && ss_linger_note(ss);
		sock_close(ss->sk);
		rt_unlock(ss->st);
		ss->sk = NULL;
	}
	free(ss->opts);
	if (!lingers) {
		free(ss);
		return;
	}
	if (closing->last)
		closing->last->linger.next = ss;
	else
		closing->first = ss;
	closing->last = ss;
}

void ss_notify(struct sock *sk, void *arg)
{
	struct ssock *ss = arg;
	(void)sk;
	atomic_fetch_add_explicit(&ss->gen, 1, memory_order_release);
	atomic_fetch_add_explicit(&shim_gen, 1, memory_order_release);
	for (struct sitem *it = ss->items; it; it = it->ss_next)
		if (it->in_user)
			ep_item_notify(it);
}

int shim_has_bypass;

static void ss_set_state(struct ssock *ss, int fd, int state, int why)
{
	if (state == SS_BYPASS)
		shim_has_bypass = 1;
	ss->state = state;
	ss->why = why;
	fdrec_put(fd, &ss->h);
	log_debug("fd %d: %s", fd, ss_reason_str(why));
	if (ss->items)
		ep_ss_changed(ss);
}

static int kernel_set_nonblock(int fd, int on)
{
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return REAL(fcntl)(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* The runtime's own fds (what it opened while it started: DPDK's tap
 * queues, memfd, epoll, eventfds, timerfd, pipes, its sockets) are not the
 * program's. closefrom and close_range leave them open, close of one fails
 * with EBADF as for a number the program never opened, and dup2 or dup3 onto
 * one with EBUSY: the device would otherwise die under the program. In this process only (a
 * forked child's copies are its own to close); the runtime closing one of
 * them (inside the shim) releases the number. An fd another thread opens
 * while the runtime starts counts as the runtime's, as for close-on-exec. */
static uint64_t rt_fds[FDSNAP_MAX / 64];
static pid_t rt_fds_pid;

static void rt_fds_note(const struct fd_snap *before)
{
	struct fd_snap *now;

	if (!before || !(now = fdsnap_take()))
		return;
	for (int i = 0; i < FDSNAP_MAX / 64; i++)
		__atomic_or_fetch(&rt_fds[i], now->bits[i] & ~before->bits[i], __ATOMIC_RELAXED);
	rt_fds_pid = getpid();
	free(now);
}

static int rt_fd_bit(int fd)
{
	return fd >= 0 && fd < FDSNAP_MAX &&
	       (__atomic_load_n(&rt_fds[fd / 64], __ATOMIC_RELAXED) >> (fd % 64) & 1);
}

/* fd is the runtime's, and the caller the program's */
static int rt_fd_guarded(int fd)
{
	if (!rt_fd_bit(fd))
		return 0;
	if (SHIM_INSIDE()) {
		__atomic_and_fetch(&rt_fds[fd / 64], ~(1ull << (fd % 64)), __ATOMIC_RELAXED);
		return 0;
	}
	return rt_fds_pid == getpid();
}

/* The next fd at or above fd (and at most last) that is the runtime's and
 * guarded against the program; -1 if none. */
static int rt_fd_next(unsigned fd, unsigned last)
{
	if (SHIM_INSIDE() || rt_fds_pid != getpid())
		return -1;
	for (; fd <= last && fd < FDSNAP_MAX; fd++)
		if (rt_fd_bit((int)fd))
			return (int)fd;
	return -1;
}

/* This thread's stack instance, started on first use; NULL (once logged)
 * when the device cannot start. */
struct stack *shim_stack(void)
{
	struct stack *st;
	struct fd_snap *before = NULL;

	if (shim_rt_failed)
		return NULL;
	shim_enter();
	if (!rt_started())
		before = fdsnap_take();
	st = rt_stack();
	if (before && st)
		rt_fds_note(before);
	if (before)
		fdsnap_cloexec_new(before);
	shim_leave();
	if (st)
		sig_device_restart();
	if (!st) {
		shim_rt_failed = 1;
		if (shim_on_error())
			log_error("stack unavailable: %s; bypassed sockets fail (on_error = fail)", rt_error());
		else
			log_warn("stack unavailable: %s; every socket stays with the kernel", rt_error());
	}
	return st;
}

void shim_stack_prestart(void)
{
	if (!shim_rt_failed && !rt_started())
		(void)shim_stack();
}

/* addr:port, [addr6]:port */
static const char *ss_addr_str(const union ss_addr *a, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN];
	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->sin6.sin6_addr, h, sizeof(h));
		snprintf(buf, n, "[%s]:%u", h, ntohs(a->sin6.sin6_port));
	} else {
		inet_ntop(AF_INET, &a->sin.sin_addr, h, sizeof(h));
		snprintf(buf, n, "%s:%u", h, ntohs(a->sin.sin_port));
	}
	return buf;
}

int ss_to_kernel(struct ssock *ss, int fd, int why)
{
	if (ss->bound && !ss->kbound) {
		if (REAL(bind)(fd, &ss->local.sa, ss_addr_len(&ss->local)) < 0) {
			int e = errno;
			char a[INET6_ADDRSTRLEN + 8];
			log_warn("fd %d: cannot move to the kernel: bind %s: %s", fd, ss_addr_str(&ss->local, a, sizeof(a)),
				 strerror(e));
			return -e;
		}
		ss->kbound = 1;
	}
	if (ss->listening && !ss->klistening) {
		if (REAL(listen)(fd, ss->backlog) < 0)
			return -errno;
		ss->klistening = 1;
	}
	if (ss->klistening)
		kernel_set_nonblock(fd, ss->nonblock);
	ss_set_state(ss, fd, SS_KERNEL, why);
	return 0;
}

static void ss_replay_opts(struct ssock *ss, struct sock *sk)
{
	for (int i = 0; i < ss->nopts; i++) {
		struct ssopt *o = &ss->opts[i];
		sock_setopt(sk, o->level, o->name, o->val, o->len); /* the stack ignores what it lacks */
	}
}

int ss_attach_locked(struct ssock *ss, int fd)
{
	struct stack *st;
	struct sock *sk = NULL;
	int rc;

	if (ss->state != SS_BYPASS)
		return 1;
	if (ss->dead) {
		if (ss->listening && ss->why == WHY_FORKED && !ss->dead_warned++)
			log_warn("fd %d: a listener of the parent's started stack: this process cannot accept on it "
				 "(only a listener made before the parent's stack started follows a fork): %s",
				 fd, strerror(-ss->dead));
		return ss->dead;
	}
	if (ss->sk)
		return 0;
	st = shim_stack();
	if (!st) {
		if (shim_on_error())
			return -ENETDOWN;
		if (!ss_fd_is(ss, fd))
			return -EBADF; /* closed meanwhile: fd may be another file now */
		rc = ss_to_kernel(ss, fd, WHY_DEVICE_FAILED);
		return rc ? rc : 1;
	}
	rt_lock(st);
	rc = sock_create_af(st, ss->domain, ss->type, &sk);
	if (!rc) {
		ss_replay_opts(ss, sk);
		if (ss->bound)
			rc = sock_bind(sk, &ss->local.sa);
		if (!rc && ss->listening)
			rc = sock_listen(sk, ss->backlog);
		if (rc) {
			sock_close(sk);
			sk = NULL;
		}
	}
	if (!rc) {
		/* st before sk: the data path reads sk without a lock, then st */
		ss->st = st;
		__atomic_store_n(&ss->sk, sk, __ATOMIC_RELEASE);
		sock_set_notify(sk, ss_notify, ss);
		/* readiness may already be there (a pending connection) */
		for (struct sitem *it = ss->items; it; it = it->ss_next)
			if (it->in_user)
				ep_item_notify(it);
	}
	rt_unlock(st);
	if (rc) {
		char a[INET6_ADDRSTRLEN + 8];
		log_warn("fd %d: the stack refused %s: %s", fd, ss_addr_str(&ss->local, a, sizeof(a)), strerror(-rc));
		if (shim_on_error())
			return rc;
		if (!ss_fd_is(ss, fd))
			return -EBADF;
		int k = ss_to_kernel(ss, fd, WHY_ATTACH_FAILED);
		return k ? k : 1;
	}
	log_info("fd %d: on the stack (%s)", fd, ss_reason_str(ss->why));
	return 0;
}

int ss_attach(struct ssock *ss, int fd)
{
	int rc;
	if (likely(ss->sk))
		return 0;
	if (ss->state == SS_BYPASS && !ss->dead)
		shim_stack_prestart();
	pthread_mutex_lock(&shim_mu);
	rc = ss_attach_locked(ss, fd);
	pthread_mutex_unlock(&shim_mu);
	return rc;
}

uint64_t ss_deadline(const struct timeval *tv)
{
	if (!tv->tv_sec && !tv->tv_usec)
		return UINT64_MAX;
	return rt_now() + (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

struct ss_wctx {
	struct ssock *ss;
	unsigned gen;
};

static int ss_ready(void *arg)
{
	struct ss_wctx *w = arg;
	return atomic_load_explicit(&w->ss->gen, memory_order_acquire) != w->gen;
}

int ss_wait(struct ssock *ss, uint32_t want, uint64_t deadline, int kernel_fd)
{
	for (;;) {
		struct ss_wctx w = {ss, atomic_load_explicit(&ss->gen, memory_order_acquire)};
		uint32_t ev;
		int r;

		rt_lock(ss->st);
		ev = sock_events(ss->sk);
		rt_unlock(ss->st);
		if (ev & (want | EPOLLERR | EPOLLHUP))
			return 0;
		sig_wait_begin();
		r = rt_wait(ss->st, ss_ready, &w, deadline, kernel_fd);
		if (r == 1)
			return 1;
		if (r == -ETIMEDOUT)
			return -EAGAIN;
		/* restartable as Linux: a call without a timeout (sock_intr_errno) */
		if (r == -EINTR && !sig_wait_resume(deadline == UINT64_MAX))
			return -EINTR;
	}
}

void ss_sigpipe(void)
{
	pthread_kill(pthread_self(), SIGPIPE);
}

/* An address (of either family) copied out as the application's socket
 * family shows it: as is, or an IPv4 one on an AF_INET6 socket as
 * ::ffff:a.b.c.d; truncated to *len and *len set to the full size, as the
 * kernel does. */
static int addr_out_as(struct sockaddr *addr, socklen_t *len, const union ss_addr *a, int domain)
{
	struct sockaddr_in6 s6;
	const void *src = a;
	socklen_t n = ss_addr_len(a);

	if (!addr || !len)
		return addr || len ? -EFAULT : 0;
	if ((int)*len < 0)
		return -EINVAL;
	if (domain == AF_INET6 && a->sa.sa_family == AF_INET) {
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = a->sin.sin_port;
		s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6.sin6_addr.s6_addr[12], &a->sin.sin_addr, 4);
		src = &s6;
		n = sizeof(s6);
	}
	memcpy(addr, src, *len < n ? *len : n);
	*len = n;
	return 0;
}

/* The wildcard address of the family (0.0.0.0, ::) */
static int ss_addr_any(const union ss_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? IN6_IS_ADDR_UNSPECIFIED(&a->sin6.sin6_addr)
					   : a->sin.sin_addr.s_addr == INADDR_ANY;
}

static int int_out(void *val, socklen_t *len, int v)
{
	if (!len)
		return -EFAULT;
	if ((int)*len < 0)
		return -EINVAL;
	if (*len > sizeof(int))
		*len = sizeof(int);
	memcpy(val, &v, *len);
	return 0;
}

/* ---- socket, socketpair ---- */

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	int fd, base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ssock *ss;

	if (SHIM_INSIDE() || !shim_ready)
		return REAL(socket)(domain, type, protocol);
	if (!cfg.active) {
		if (cfg.broken && cfg.on_error_fail && domain == AF_INET) {
			log_error("socket(AF_INET) refused: %s has errors (on_error = fail)", cfg.path);
			errno = EINVAL;
			return -1;
		}
		return REAL(socket)(domain, type, protocol);
	}
	fd = REAL(socket)(domain, type, protocol);
	if (fd < 0)
		return fd;
	/* AF_INET6 streams are candidates as AF_INET ones (a listener on [::]
	 * serves both families unless IPV6_V6ONLY); AF_INET6 datagrams stay
	 * with the kernel */
	if (domain != AF_INET && !(domain == AF_INET6 && base == SOCK_STREAM &&
				   (!protocol || protocol == IPPROTO_TCP))) {
		log_debug("fd %d: %s (domain %d)", fd, ss_reason_str(WHY_NOT_INET), domain);
		return fd;
	}
	if ((base != SOCK_STREAM && base != SOCK_DGRAM) ||
	    (base == SOCK_STREAM && protocol && protocol != IPPROTO_TCP) ||
	    (base == SOCK_DGRAM && protocol && protocol != IPPROTO_UDP)) {
		log_debug("fd %d: %s", fd, ss_reason_str(WHY_TYPE));
		return fd;
	}
	if (base == SOCK_DGRAM && !cfg.udp) {
		log_debug("fd %d: %s", fd, ss_reason_str(WHY_UDP_OFF));
		return fd;
	}
	ss = ss_new(domain, base, protocol, SS_CANDIDATE, WHY_UNDECIDED);
	if (!ss)
		return fd; /* no memory: the kernel's */
	ss->nonblock = !!(type & SOCK_NONBLOCK);
	pthread_mutex_lock(&shim_mu);
	fobj_put(fdtab_set(fd, &ss->h), NULL); /* a stale entry from a close we did not see */
	pthread_mutex_unlock(&shim_mu);
	return fd;
}

SHIM_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	return REAL(socketpair)(domain, type, protocol, sv);
}

/* ---- bind, listen ---- */

static int stack_addr_is(uint32_t a)
{
	return a == ntohl(cfg.rt.stack.addr.s_addr);
}

/* What a bind address is to the shim, for a socket of family domain. */
enum { BA_OTHER, BA_ANY, BA_STACK, BA_LOOPBACK };
static int bind_addr_kind(int domain, const struct sockaddr *addr, socklen_t len, union ss_addr *out)
{
	if (domain == AF_INET6) {
		if (!addr || len < sizeof(struct sockaddr_in6) || addr->sa_family != AF_INET6)
			return -1;
		memcpy(&out->sin6, addr, sizeof(out->sin6));
		const struct in6_addr *a = &out->sin6.sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(a))
			return BA_ANY;
		if (cfg_stack_addr6(a) ||
		    (IN6_IS_ADDR_V4MAPPED(a) && !memcmp(&a->s6_addr[12], &cfg.rt.stack.addr, 4)))
			return BA_STACK; /* its address6, or its IPv4 one v4-mapped */
		if (IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127))
			return BA_LOOPBACK;
		return BA_OTHER; /* v4-mapped ones too: the kernel's */
	}
	if (!addr || len < sizeof(struct sockaddr_in) || addr->sa_family != AF_INET)
		return -1;
	memcpy(&out->sin, addr, sizeof(out->sin));
	uint32_t a = ntohl(out->sin.sin_addr.s_addr);
	return a == INADDR_ANY ? BA_ANY : stack_addr_is(a) ? BA_STACK : (a >> 24) == 127 ? BA_LOOPBACK : BA_OTHER;
}

static int ss_bind(struct ssock *ss, int fd, const struct sockaddr *addr, socklen_t len)
{
	union ss_addr sin;
	uint16_t port;
	int rc, kind = bind_addr_kind(ss->domain, addr, len, &sin);

	if (ss->state == SS_BYPASS && (kind == BA_ANY || kind == BA_STACK))
		/* bound or connected already: Linux's EINVAL, for an address the
		 * program has (the stack's, or any) */
		return (int)shim_ret(-EINVAL);
	if (ss->state != SS_CANDIDATE || kind < 0)
		return REAL(bind)(fd, addr, len);
	port = ntohs(sin.sin.sin_port);
	pthread_mutex_lock(&shim_mu);
	if (ss->bound) {
		rc = -EINVAL;
	} else if (kind == BA_LOOPBACK) {
		rc = REAL(bind)(fd, addr, len) < 0 ? -errno : 0;
		if (!rc)
			ss_set_state(ss, fd, SS_KERNEL, WHY_LOOPBACK);
	} else if (kind == BA_STACK) {
		/* the stack's own address: the kernel does not have it */
		ss->bound = 1;
		ss->local = sin;
		ss_set_state(ss, fd, SS_BYPASS, port && cfg_listen_port(port) ? WHY_LISTEN_PORT : WHY_STACK_ADDR);
		rc = 0;
	} else {
		rc = REAL(bind)(fd, addr, len) < 0 ? -errno : 0;
		if (!rc) {
			socklen_t l = sizeof(ss->local);
			ss->bound = ss->kbound = 1;
			REAL(getsockname)(fd, &ss->local.sa, &l);
			if (kind != BA_ANY)
				ss_set_state(ss, fd, SS_KERNEL, WHY_ADDR_FOREIGN);
			else if (port && cfg_listen_port(port))
				ss_set_state(ss, fd, SS_BYPASS, WHY_LISTEN_PORT);
			/* else: an unlisted or ephemeral port; connect may still decide */
		}
	}
	pthread_mutex_unlock(&shim_mu);
	if (!rc && !port && ss->state == SS_BYPASS && !ss->kbound) {
		/* Linux picks the port at bind: getsockname must tell it now */
		int at = ss_attach(ss, fd);
		if (at < 0)
			rc = at;
		else if (at == 0) {
			rt_lock(ss->st);
			sock_name(ss->sk, &ss->local.sa);
			rt_unlock(ss->st);
		}
	}
	return (int)shim_ret(rc);
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(bind)(fd, addr, len);
	rc = ss_bind(ss, fd, addr, len);
	ss_release(ss);
	return rc;
}

static int ss_listen(struct ssock *ss, int fd, int backlog)
{
	int rc = 0;

	if (ss->state == SS_KERNEL)
		return REAL(listen)(fd, backlog);
	if (backlog < 0 || backlog > 4096)
		backlog = 4096;
	pthread_mutex_lock(&shim_mu);
	if (ss->state == SS_CANDIDATE) {
		rc = REAL(listen)(fd, backlog) < 0 ? -errno : 0;
		if (!rc) {
			socklen_t l = sizeof(ss->local);
			int was_bound = ss->bound;
			REAL(getsockname)(fd, &ss->local.sa, &l);
			ss->bound = ss->kbound = ss->klistening = 1;
			ss->listening = 1;
			ss->backlog = backlog;
			if (ss_addr_any(&ss->local) && (!was_bound || cfg.listen_all) &&
			    cfg_listen_port(ntohs(ss->local.sin.sin_port))) {
				kernel_set_nonblock(fd, 1);
				ss_set_state(ss, fd, SS_BYPASS, WHY_LISTEN_PORT);
			} else {
				ss_set_state(ss, fd, SS_KERNEL, WHY_PORT_UNLISTED);
			}
		}
	} else if (ss->type != SOCK_STREAM) {
		rc = -EOPNOTSUPP;
	} else {
		if (ss->kbound) {
			rc = REAL(listen)(fd, backlog) < 0 ? -errno : 0;
			if (!rc && !ss->klistening) {
				ss->klistening = 1;
				kernel_set_nonblock(fd, 1); /* accept checks both sides */
				if (ss->items)
					ep_ss_changed(ss);
			}
		}
		if (!rc && ss->sk) {
			rt_lock(ss->st);
			rc = sock_listen(ss->sk, backlog);
			rt_unlock(ss->st);
			if (rc && ss->listening)
				rc = 0; /* a second listen only changes the backlog */
		}
		if (!rc) {
			ss->listening = 1;
			ss->backlog = backlog;
		}
	}
	if (ss_fd_is(ss, fd))
		fdrec_put(fd, &ss->h); /* listening now */
	pthread_mutex_unlock(&shim_mu);
	return (int)shim_ret(rc);
}

/* ---- the kernel file behind a bypassed connection ---- */

/* A bypassed connection's fd number is held by an AF_UNIX socket: still a
 * socket (fstat, close-on-exec, dup2 and fork keep their meaning) at half
 * the kernel memory of a TCP one (about 1.7 against 3.4 KiB), which is most
 * of what an idle connection costs. An option or ioctl the stack does not
 * know is judged by the kernel as Linux would: every number of the
 * connection then gets a real socket of its family first. */
static int placeholder_new(int cloexec)
{
	return REAL(socket)(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
}

/* Put a new socket of `domain` (or a placeholder: domain 0) at fd, with the
 * fd's flags. Called with shim_mu held, fd known to be the connection's. */
static int fd_refill(int fd, int domain)
{
	int fdfl = REAL(fcntl)(fd, F_GETFD), fl = REAL(fcntl)(fd, F_GETFL), k, e = 0;

	k = domain ? REAL(socket)(domain, SOCK_STREAM, 0) : placeholder_new(0);
	if (k < 0)
		return -errno;
	if (REAL(dup3)(k, fd, fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		e = -errno;
	else if (fl >= 0)
		REAL(fcntl)(fd, F_SETFL, fl);
	REAL(close)(k);
	return e;
}

struct twin_walk {
	struct ssock *ss;
};

static void twin_one(int fd, struct fobj *o, void *arg)
{
	struct twin_walk *w = arg;
	if (o == &w->ss->h)
		fd_refill(fd, w->ss->domain);
}

/* Before the kernel judges an option for a connection whose numbers hold
 * placeholders: a real socket of the family behind each of them. */
static void ss_kernel_twin(struct ssock *ss)
{
	struct twin_walk w = { ss };
	if (!ss->placeholder)
		return;
	pthread_mutex_lock(&shim_mu);
	if (ss->placeholder) {
		fdtab_foreach(twin_one, &w);
		ss->placeholder = 0;
	}
	pthread_mutex_unlock(&shim_mu);
}

/* A connecting socket's own kernel socket is no longer needed once the
 * stack carries it: the same placeholder in its place. Not when it holds a
 * port on the kernel (bound there) or listens there. */
static void ss_shrink_kernel(struct ssock *ss, int fd)
{
	if (ss->placeholder || ss->kbound || ss->klistening || ss->type != SOCK_STREAM)
		return;
	pthread_mutex_lock(&shim_mu);
	if (fdtab_get(fd) == &ss->h && !ss->placeholder && fd_refill(fd, 0) == 0)
		ss->placeholder = 1;
	pthread_mutex_unlock(&shim_mu);
}

SHIM_EXPORT int listen(int fd, int backlog)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(listen)(fd, backlog);
	rc = ss_listen(ss, fd, backlog);
	ss_release(ss);
	return rc;
}

/* ---- accept ---- */

static int accept_stack(struct ssock *ss, struct sock *nsk, const union ss_addr *peer,
			struct sockaddr *addr, socklen_t *len, int flags)
{
	struct ssock *nss;
	int nfd, rc;

	/* a real, unique fd number: a placeholder socket (see placeholder_new) */
	nfd = placeholder_new(flags & SOCK_CLOEXEC);
	nss = nfd >= 0 ? ss_new(ss->domain, SOCK_STREAM, 0, SS_BYPASS, WHY_ACCEPTED) : NULL;
	if (!nss) {
		rc = nfd < 0 ? -errno : -ENOMEM;
		if (nfd >= 0)
			REAL(close)(nfd);
		rt_lock(ss->st);
		sock_close(nsk);
		rt_unlock(ss->st);
		return rc;
	}
	shim_has_bypass = 1;
	nss->placeholder = 1;
	nss->sk = nsk;
	nss->st = sock_stack(nsk);
	nss->nonblock = !!(flags & SOCK_NONBLOCK);
	nss->bound = 1;
	nss->local = ss->local;
	rt_lock(nss->st);
	sock_set_notify(nsk, ss_notify, nss);
	rt_unlock(nss->st);
	pthread_mutex_lock(&shim_mu);
	fobj_put(fdtab_set(nfd, &nss->h), NULL);
	pthread_mutex_unlock(&shim_mu);
	log_debug("fd %d: %s", nfd, ss_reason_str(WHY_ACCEPTED));
	rc = addr_out_as(addr, len, peer, ss->domain);
	if (rc) {
		/* as the kernel: the connection is gone with the bad buffer */
		close(nfd);
		return rc;
	}
	return nfd;
}

/* A local client on the kernel side of a bypassed listener (its kernel fd
 * is non-blocking). fd is used only while it still names ss: after a close
 * by another thread it may be someone else's listener; then *kside is
 * cleared and the call goes on with the stack's side alone, as Linux's
 * accept goes on with the file it holds. */
static int accept_kernel(struct ssock *ss, int fd, struct sockaddr *addr, socklen_t *len, int flags,
			 int *kside)
{
	int k = -1, e = EAGAIN;

	pthread_mutex_lock(&shim_mu);
	if (ss_fd_is(ss, fd)) {
		k = REAL(accept4)(fd, addr, len, flags);
		e = errno;
	} else {
		*kside = 0;
	}
	pthread_mutex_unlock(&shim_mu);
	errno = e;
	return k;
}

static int ss_accept4(struct ssock *ss, int fd, struct sockaddr *addr, socklen_t *len, int flags, int plain)
{
	uint64_t deadline = 0;
	int polled = 0, kside = 1;

	if (ss->state != SS_BYPASS)
		return plain ? REAL(accept)(fd, addr, len) : REAL(accept4)(fd, addr, len, flags);
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return (int)shim_ret(-EINVAL);
	if (ss->type != SOCK_STREAM)
		return (int)shim_ret(-EOPNOTSUPP);
	if (!ss->listening)
		return (int)shim_ret(-EINVAL);
	int a = ss_attach(ss, fd);
	if (a == 1)
		return REAL(accept4)(fd, addr, len, flags);
	if (a < 0)
		return (int)shim_ret(a);
	for (;;) {
		struct sock *nsk = NULL;
		union ss_addr peer;
		int r, w;

		rt_lock(ss->st);
		r = sock_accept(ss->sk, &nsk, &peer.sa);
		rt_unlock(ss->st);
		if (r == 0)
			return (int)shim_ret(accept_stack(ss, nsk, &peer, addr, len, flags));
		if (r != -EAGAIN)
			return (int)shim_ret(r);
		if (ss->klistening && kside) {
			int k = accept_kernel(ss, fd, addr, len, flags, &kside);
			if (k >= 0 || errno != EAGAIN)
				return k;
		}
		if (ss->nonblock) {
			if (polled++)
				return (int)shim_ret(-EAGAIN);
			rt_poll(ss->st);
			continue;
		}
		if (!deadline)
			deadline = ss_deadline(&ss->rcvtimeo);
		w = ss_wait(ss, EPOLLIN, deadline, ss->klistening && kside ? fd : -1);
		if (w < 0)
			return (int)shim_ret(w);
	}
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(accept4)(fd, addr, len, flags);
	rc = ss_accept4(ss, fd, addr, len, flags, 0);
	ss_release(ss);
	return rc;
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(accept)(fd, addr, len);
	rc = ss_accept4(ss, fd, addr, len, 0, 1);
	ss_release(ss);
	return rc;
}

/* ---- connect ---- */

int ss_decide_dest(struct ssock *ss, int fd, const struct sockaddr *to)
{
	int loop, ok;

	if (to->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)to)->sin6_addr;
		loop = IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
		ok = cfg_connect_addr6(a);
	} else {
		uint32_t a = ntohl(((const struct sockaddr_in *)to)->sin_addr.s_addr);
		loop = (a >> 24) == 127;
		ok = cfg_connect_addr(a);
	}
	pthread_mutex_lock(&shim_mu);
	if (ss->state == SS_CANDIDATE) {
		if (loop)
			ss_set_state(ss, fd, SS_KERNEL, WHY_LOOPBACK);
		else if (!ok)
			ss_set_state(ss, fd, SS_KERNEL, WHY_DEST_UNLISTED);
		else
			ss_set_state(ss, fd, SS_BYPASS, WHY_CONNECT_DEST);
	}
	pthread_mutex_unlock(&shim_mu);
	return ss->state;
}

/* A device shared with the kernel (xdp:IF) has the kernel's own address:
 * the kernel must neither use nor answer for the port of a connection the
 * stack opens. The connection's kernel socket (still at fd) binds that
 * port first, picked by the kernel as for its own connections, and keeps
 * it until the fd closes (kbound: never shrunk to a placeholder); the
 * device holds it beside (dpdk.c) until the stack frees the connection. */
static int ss_kernel_reserve(struct ssock *ss, int fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t l = sizeof(sin);
	int rc = 0;

	if (strncmp(cfg.rt.device, "xdp:", 4) != 0 || ss->domain != AF_INET || ss->type != SOCK_STREAM)
		return 0;
	pthread_mutex_lock(&shim_mu);
	if (!ss->kbound) {
		if (ss->bound)
			sin.sin_port = ss->local.sin.sin_port;
		sin.sin_addr = cfg.rt.stack.addr;
		/* the device holds the port too, for the connection's whole life */
		(void)REAL(setsockopt)(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
		if (REAL(bind)(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    REAL(getsockname)(fd, (struct sockaddr *)&sin, &l) < 0)
			rc = -errno;
		else {
			ss->local.sin = sin;
			ss->bound = ss->kbound = 1;
		}
	}
	pthread_mutex_unlock(&shim_mu);
	return rc;
}

struct dad_retry {
	struct ssock *ss;
	const union ss_addr *to;
	int rc;
};

static int dad_retry_connect(void *arg)
{
	struct dad_retry *w = arg;
	w->rc = sock_connect(w->ss->sk, &w->to->sa);
	return w->rc != -ENETUNREACH;
}

/* The stack's IPv6 address is usable once Duplicate Address Detection
 * passed, a second after the stack starts, and the stack often starts at
 * this very connect: retried until then (the DAD time and a half at most),
 * as a program on Linux never sees a host address still under DAD. */
static int connect_after_dad(struct ssock *ss, const union ss_addr *to)
{
	struct dad_retry w = { ss, to, -ENETUNREACH };
	uint64_t ms = cfg.rt.stack.dad_wait_ms ? cfg.rt.stack.dad_wait_ms : 1000;

	if (IN6_IS_ADDR_UNSPECIFIED(&cfg.rt.stack.addr6))
		return -ENETUNREACH;
	if (rt_wait(ss->st, dad_retry_connect, &w, rt_now() + ms * 1500000ull, -1) != 0)
		return -ENETUNREACH;
	return w.rc;
}

static int ss_connect(struct ssock *ss, int fd, const struct sockaddr *addr, socklen_t len)
{
	union ss_addr sin;
	int rc, a, fam = ss->domain == AF_INET6 ? AF_INET6 : AF_INET;
	socklen_t need = fam == AF_INET6 ? sizeof(sin.sin6) : sizeof(sin.sin);

	if (ss->state == SS_KERNEL || !addr || len < need || (addr->sa_family != fam && ss->state != SS_BYPASS))
		return REAL(connect)(fd, addr, len);
	memset(&sin, 0, sizeof(sin));
	memcpy(&sin, addr, addr->sa_family == AF_INET6 ? sizeof(sin.sin6) : sizeof(sin.sin));
	if (ss->state == SS_CANDIDATE && ss_decide_dest(ss, fd, &sin.sa) != SS_BYPASS)
		return REAL(connect)(fd, addr, len);
	if (ss->listening)
		return (int)shim_ret(-EISCONN);
	if (!ss->sk && (rc = ss_kernel_reserve(ss, fd)) != 0)
		return (int)shim_ret(rc);
	a = ss_attach(ss, fd);
	if (a == 1)
		return REAL(connect)(fd, addr, len);
	if (a < 0)
		return (int)shim_ret(a);
	rt_lock(ss->st);
	rc = sock_connect(ss->sk, &sin.sa);
	rt_unlock(ss->st);
	if (rc == -ENETUNREACH && sin.sa.sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&sin.sin6.sin6_addr))
		rc = connect_after_dad(ss, &sin);
	if (rc == -EISCONN && ss->connecting)
		rc = 0; /* the first call to see the connection made */
	if (rc != -EALREADY)
		ss->connecting = rc == -EINPROGRESS;
	if (rc == 0 || rc == -EINPROGRESS)
		ss_shrink_kernel(ss, fd);
	if (rc != -EINPROGRESS || ss->nonblock)
		return (int)shim_ret(rc);
	rc = ss_wait(ss, EPOLLOUT, ss_deadline(&ss->sndtimeo), -1);
	if (rc == -EAGAIN)
		return (int)shim_ret(-EINPROGRESS);
	ss->connecting = 0;
	if (rc < 0)
		return (int)shim_ret(rc);
	rt_lock(ss->st);
	rc = -sock_take_error(ss->sk);
	rt_unlock(ss->st);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(connect)(fd, addr, len);
	rc = ss_connect(ss, fd, addr, len);
	ss_release(ss);
	return rc;
}

/* ---- names ---- */

static int ss_getsockname(struct ssock *ss, int fd, struct sockaddr *addr, socklen_t *len)
{
	union ss_addr sin;
	int rc = 0;

	if (ss->why == WHY_RELAYED)
		return (int)shim_ret(addr_out_as(addr, len, &ss->local, ss->domain));
	if (ss->state != SS_BYPASS || (!ss->sk && ss->kbound))
		return REAL(getsockname)(fd, addr, len);
	if (ss->sk) {
		rt_lock(ss->st);
		rc = sock_name(ss->sk, &sin.sa);
		rt_unlock(ss->st);
	} else {
		sin = ss->local;
	}
	if (!rc)
		rc = addr_out_as(addr, len, &sin, ss->domain);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(getsockname)(fd, addr, len);
	rc = ss_getsockname(ss, fd, addr, len);
	ss_release(ss);
	return rc;
}

static int ss_getpeername(struct ssock *ss, int fd, struct sockaddr *addr, socklen_t *len)
{
	union ss_addr sin;
	int rc = -ENOTCONN;

	if (ss->why == WHY_RELAYED)
		return (int)shim_ret(addr_out_as(addr, len, &ss->rpeer, ss->domain));
	if (ss->state != SS_BYPASS)
		return REAL(getpeername)(fd, addr, len);
	if (ss->sk) {
		rt_lock(ss->st);
		rc = sock_peer(ss->sk, &sin.sa);
		rt_unlock(ss->st);
	}
	if (!rc)
		rc = addr_out_as(addr, len, &sin, ss->domain);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(getpeername)(fd, addr, len);
	rc = ss_getpeername(ss, fd, addr, len);
	ss_release(ss);
	return rc;
}

/* ---- options ---- */

static void opt_record(struct ssock *ss, int level, int name, const void *val, socklen_t len)
{
	struct ssopt *o = NULL;

	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO) && len >= sizeof(struct timeval)) {
		memcpy(name == SO_RCVTIMEO ? &ss->rcvtimeo : &ss->sndtimeo, val, sizeof(struct timeval));
		return;
	}
	if (!val || len > sizeof(o->val))
		return;
	if (!ss->opts && !(ss->opts = calloc(SS_MAX_OPTS, sizeof(*ss->opts))))
		return;
	for (int i = 0; i < ss->nopts; i++)
		if (ss->opts[i].level == level && ss->opts[i].name == name)
			o = &ss->opts[i];
	if (!o) {
		if (ss->nopts == SS_MAX_OPTS)
			return;
		o = &ss->opts[ss->nopts++];
	}
	o->level = level;
	o->name = name;
	o->len = len;
	memcpy(o->val, val, len);
}

static int ss_setsockopt(struct ssock *ss, int fd, int level, int name, const void *val, socklen_t len)
{
	int rc;

	if (ss->state == SS_KERNEL)
		return REAL(setsockopt)(fd, level, name, val, len);
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && ss->domain == AF_INET6 && ss->bound && !ss->kbound &&
	    !ss->sk)
		/* bound to the stack's address6 only, which the kernel fd never
		 * saw: fixed once the socket has an address, as on Linux */
		return (int)shim_ret(-EINVAL);
	if (ss->state == SS_BYPASS && ss->sk && !ss->klistening &&
	    !(level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))) {
		rt_lock(ss->st);
		rc = sock_setopt(ss->sk, level, name, val, len);
		rt_unlock(ss->st);
		if (rc != -ENOPROTOOPT)
			return (int)shim_ret(rc);
		/* an option the stack does not have: the kernel judges it as Linux would */
		ss_kernel_twin(ss);
		return REAL(setsockopt)(fd, level, name, val, len);
	}
	/* a candidate, a description, a dual listener or a timeout: the kernel fd
	 * validates and keeps it; recorded for the stack socket */
	rc = REAL(setsockopt)(fd, level, name, val, len);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&shim_mu);
	opt_record(ss, level, name, val, len);
	if (ss->sk && !(level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))) {
		rt_lock(ss->st);
		sock_setopt(ss->sk, level, name, val, len);
		rt_unlock(ss->st);
	}
	pthread_mutex_unlock(&shim_mu);
	return 0;
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(setsockopt)(fd, level, name, val, len);
	rc = ss_setsockopt(ss, fd, level, name, val, len);
	ss_release(ss);
	return rc;
}

static int ss_getsockopt(struct ssock *ss, int fd, int level, int name, void *val, socklen_t *len)
{
	int rc;

	if (ss->state != SS_BYPASS)
		return REAL(getsockopt)(fd, level, name, val, len);
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_TYPE:
			return (int)shim_ret(int_out(val, len, ss->type));
		case SO_DOMAIN:
			return (int)shim_ret(int_out(val, len, ss->domain));
		case SO_PROTOCOL:
			return (int)shim_ret(int_out(val, len, ss->type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP));
		case SO_ACCEPTCONN:
			return (int)shim_ret(int_out(val, len, ss->listening));
		case SO_RCVTIMEO:
		case SO_SNDTIMEO:
			if (!len || !val)
				return (int)shim_ret(-EFAULT);
			if ((int)*len < 0)
				return (int)shim_ret(-EINVAL);
			if (*len > sizeof(struct timeval))
				*len = sizeof(struct timeval);
			memcpy(val, name == SO_RCVTIMEO ? &ss->rcvtimeo : &ss->sndtimeo, *len);
			return 0;
		case SO_ERROR:
			if (!ss->sk)
				break;
			rt_lock(ss->st);
			rc = sock_take_error(ss->sk);
			rt_unlock(ss->st);
			return (int)shim_ret(int_out(val, len, rc));
		}
	}
	if (!ss->sk)
		return REAL(getsockopt)(fd, level, name, val, len);
	rt_lock(ss->st);
	rc = sock_getopt(ss->sk, level, name, val, len);
	rt_unlock(ss->st);
	if (rc == -ENOPROTOOPT) {
		ss_kernel_twin(ss);
		return REAL(getsockopt)(fd, level, name, val, len);
	}
	return (int)shim_ret(rc);
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(getsockopt)(fd, level, name, val, len);
	rc = ss_getsockopt(ss, fd, level, name, val, len);
	ss_release(ss);
	return rc;
}

/* ---- shutdown, close, dup ---- */

/* shutdown from another thread wakes a call blocked on the socket, as on
 * Linux: the stack notifies (recv then returns 0, accept EINVAL). */
static int ss_shutdown(struct ssock *ss, int fd, int how)
{
	int rc;

	if (ss->state != SS_BYPASS)
		return REAL(shutdown)(fd, how);
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return (int)shim_ret(-EINVAL);
	if (ss->klistening)
		REAL(shutdown)(fd, how);
	if (!ss->sk)
		return ss->klistening ? 0 : (int)shim_ret(-ENOTCONN);
	rt_lock(ss->st);
	rc = sock_shutdown(ss->sk, how);
	rt_unlock(ss->st);
	if (rc == -ENOTCONN && ss->klistening)
		rc = 0;
	return (int)shim_ret(rc);
}

SHIM_EXPORT int shutdown(int fd, int how)
{
	struct ssock *ss = ss_enter(fd, SS_ENTER_ANY);
	int rc;

	if (!ss)
		return REAL(shutdown)(fd, how);
	rc = ss_shutdown(ss, fd, how);
	ss_release(ss);
	return rc;
}

/* The slot is emptied under shim_mu before the number is released: a call
 * of another thread that checks ss_fd_is() under shim_mu and then hands fd
 * to the kernel can never reach a file reopened at that number. The last
 * reference frees (the stack socket closes, epoll memberships go; a
 * lingering connection goes on `closing`, which the caller waits for after
 * its system call: the numbers are free meanwhile, as on Linux); a call
 * still blocked on it keeps it until it returns. */
static void fd_forget_range(unsigned first, unsigned last, struct linger_set *closing)
{
	pthread_mutex_lock(&shim_mu);
	for (unsigned fd = first; fd <= last && fd < (1u << 20); fd++)
		if (fdtab_get((int)fd))
			fobj_put(fdtab_take((int)fd), closing);
	pthread_mutex_unlock(&shim_mu);
}

SHIM_EXPORT int close(int fd)
{
	struct linger_set closing = {0};
	int rc;

	if (rt_fd_guarded(fd)) {
		errno = EBADF;
		return -1;
	}
	if (!shim_tracks(fd))
		return REAL(close)(fd);
	fd_forget_range((unsigned)fd, (unsigned)fd, &closing);
	rc = REAL(close)(fd);
	linger_wait(&closing);
	return rc;
}

/* close_range around the runtime's fds: the program's parts of the range,
 * in turn (CLOSE_RANGE_UNSHARE unshares at the first) */
static int close_range_around(unsigned first, unsigned last, int flags)
{
	int rt;

	while ((rt = rt_fd_next(first, last)) >= 0) {
		if ((unsigned)rt > first && REAL(close_range)(first, (unsigned)rt - 1, flags) < 0)
			return -1;
		if ((unsigned)rt == last)
			return 0;
		first = (unsigned)rt + 1;
	}
	return REAL(close_range)(first, last, flags);
}

SHIM_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	struct linger_set closing = {0};
	int rc;

	/* forgotten first (as close): a socket another thread opens at once
	 * at one of the numbers keeps its entry */
	if (!SHIM_INSIDE() && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last &&
	    !(flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)))
		fd_forget_range(first, last, &closing);
	if (first <= last && !(flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)))
		rc = close_range_around(first, last, flags);
	else
		rc = REAL(close_range)(first, last, flags);
	linger_wait(&closing);
	return rc;
}

SHIM_EXPORT void closefrom(int lowfd)
{
	struct linger_set closing = {0};

	if (!SHIM_INSIDE() && lowfd >= 0)
		fd_forget_range((unsigned)lowfd, ~0u, &closing);
	if (lowfd >= 0 && rt_fd_next((unsigned)lowfd, ~0u) >= 0)
		close_range_around((unsigned)lowfd, ~0u, 0);
	else
		REAL(closefrom)(lowfd);
	linger_wait(&closing);
}

/* fclose() of a stream made with fdopen() closes its fd inside libc, where
 * close() is not interposed: the entry would stay, and the next open() at
 * that number would read from the old socket. */
SHIM_EXPORT int fclose(FILE *f)
{
	struct linger_set closing = {0};
	int fd, rc;

	if (!SHIM_INSIDE() && f && (fd = fileno(f)) >= 0 && fdtab_get(fd))
		fd_forget_range((unsigned)fd, (unsigned)fd, &closing);
	rc = REAL(fclose)(f);
	linger_wait(&closing);
	return rc;
}

/* newfd now refers to what fd refers to (or to nothing the shim tracks). */
static void fd_share(int fd, int newfd)
{
	if (!fdtab_get(fd) && !fdtab_get(newfd))
		return;
	pthread_mutex_lock(&shim_mu);
	fobj_put(fdtab_set(newfd, fdtab_get(fd)), NULL);
	pthread_mutex_unlock(&shim_mu);
}

SHIM_EXPORT int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0 && !SHIM_INSIDE())
		fd_share(fd, r);
	return r;
}

/* dup2/dup3 replace the file at fd2 before the shim can see it: the
 * kernel's replacement and the slot's are made under shim_mu together, so
 * that ss_fd_is() never vouches for a number that names the new file. */
static int fd_dup_over(int fd, int fd2, int flags, int three)
{
	struct linger_set closing = {0};
	struct fobj *old = NULL;
	int r, e;

	if (fd != fd2 && rt_fd_guarded(fd2)) {
		/* the number is held, not by the program: Linux's answer when
		 * another open holds it (dup2 would close the runtime's file) */
		errno = EBUSY;
		return -1;
	}
	if (!shim_tracks(fd) && !shim_tracks(fd2))
		return three ? REAL(dup3)(fd, fd2, flags) : REAL(dup2)(fd, fd2);
	pthread_mutex_lock(&shim_mu);
	r = three ? REAL(dup3)(fd, fd2, flags) : REAL(dup2)(fd, fd2);
	e = errno;
	if (r >= 0 && fd != fd2)
		old = fdtab_set(fd2, fdtab_get(fd));
	fobj_put(old, &closing);
	pthread_mutex_unlock(&shim_mu);
	linger_wait(&closing);
	errno = e;
	return r;
}

SHIM_EXPORT int dup2(int fd, int fd2)
{
	return fd_dup_over(fd, fd2, 0, 0);
}

SHIM_EXPORT int dup3(int fd, int fd2, int flags)
{
	return fd_dup_over(fd, fd2, flags, 1);
}

/* ---- fcntl, ioctl ---- */

static int shim_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	struct ssock *ss;
	int r;

	if (!shim_tracks(fd))
		return real(fd, cmd, arg);
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = real(fd, cmd, arg);
		if (r >= 0)
			fd_share(fd, r);
		return r;
	case F_GETFL:
		r = real(fd, cmd);
		if (r >= 0 && (ss = ss_hold(fd))) {
			if (ss->state == SS_BYPASS)
				r = (r & ~O_NONBLOCK) | (ss->nonblock ? O_NONBLOCK : 0);
			ss_release(ss);
		}
		return r;
	case F_SETFL:
		if (!(ss = ss_hold(fd)))
			return real(fd, cmd, arg);
		r = real(fd, cmd, ss->state == SS_BYPASS && ss->klistening ? (void *)((uintptr_t)arg | O_NONBLOCK) : arg);
		if (r == 0)
			ss->nonblock = !!((uintptr_t)arg & O_NONBLOCK);
		ss_release(ss);
		return r;
	default:
		return real(fd, cmd, arg);
	}
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(REAL(fcntl), fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return shim_fcntl(REAL(fcntl64), fd, cmd, arg);
}

static int ss_ioctl(struct ssock *ss, int fd, unsigned long req, void *arg)
{
	int rc;

	if (ss->state == SS_KERNEL)
		return REAL(ioctl)(fd, req, arg);
	switch (req) {
	case FIONBIO:
		if (!arg)
			return (int)shim_ret(-EFAULT);
		if (!(ss->state == SS_BYPASS && ss->klistening)) {
			rc = REAL(ioctl)(fd, req, arg);
			if (rc < 0)
				return rc;
		}
		ss->nonblock = !!*(int *)arg;
		return 0;
	case FIONREAD:  /* SIOCINQ */
	case SIOCOUTQ:
		if (ss->state != SS_BYPASS || (!ss->sk && ss->klistening))
			break;
		if (!arg)
			return (int)shim_ret(-EFAULT);
		if (ss->listening)
			return (int)shim_ret(-EINVAL);
		if (!ss->sk) {
			*(int *)arg = 0;
			return 0;
		}
		rt_lock(ss->st);
		*(int *)arg = (int)(req == SIOCOUTQ ? sock_tx_bytes(ss->sk) : sock_rx_bytes(ss->sk));
		rt_unlock(ss->st);
		return 0;
	}
	ss_kernel_twin(ss);
	return REAL(ioctl)(fd, req, arg);
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct ssock *ss;
	va_list ap;
	void *arg;
	int rc;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	ss = ss_enter(fd, SS_ENTER_ANY);
	if (!ss)
		return REAL(ioctl)(fd, req, arg);
	rc = ss_ioctl(ss, fd, req, arg);
	ss_release(ss);
	return rc;
}
