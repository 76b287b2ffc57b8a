/* Connections that follow a fork.
 *
 * A connection stays in the stack of the process that owns it: a forked
 * child cannot run a stack of its own on the parent's device, nor take over
 * the connection's state. At fork, each connection of a started stack gets
 * an AF_UNIX stream pair: the child finds one end at the connection's fd
 * numbers (a kernel socket to it from then on: its reads, writes, blocking,
 * timeouts, signals, poll, select, epoll, FIONREAD and sendfile are the
 * kernel's own, and it survives exec), the parent keeps the other and its
 * relay thread copies between it and the stack socket.
 *
 * The relay holds the connection as the child's copy of the description
 * did: the parent closing its fd after fork closes nothing; the child's end
 * closing (close, exit, its last holder gone) releases the hold, once what
 * it wrote is queued on the connection, and the last holder's release
 * closes the connection (FIN). The child shutting down its writing side
 * (EOF without the end closed) shuts the connection's. The connection's
 * end reaches the child as EOF (FIN) or as EOF and EPIPE (reset).
 * getsockname and getpeername answer the connection's addresses (the entry
 * says WHY_RELAYED); after exec they show the pair's.
 *
 * Each fork gives each child its own pair, so a relay knows when its child
 * lets go (EPOLLHUP on its end). While others hold the connection too (the
 * parent, or siblings forked while it was open), a relay takes the stack's
 * data only for a child that wrote on it. One thread serves every relay of
 * the process, waiting in the stack's own wait with the pairs' epoll fd as
 * its kernel fd; it ends, with its fds, when nothing is left to relay. The
 * cost is one copy through the pair per direction. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "shim.h"

#define RELAY_BUF (64 * 1024)
#define RELAY_EXIT_WAIT_S 2
#define RELAY_HELD_NS (5 * 1000 * 1000ull)

struct relay {
	struct relay *next;
	struct ssock *ss;
	int fd;                  /* the parent's end, nonblocking */
	int child;               /* the child's end, until the fork is over */
	union ss_addr local, peer;
	uint32_t armed;          /* epoll interest registered */
	int in_ep;
	int up_eof;              /* the child shut its writing side (or its writes fail) */
	int up_shut;             /* ... and the connection's is shut, or needs not be */
	int dn_eof;              /* the connection's end relayed to the child */
	int closed;              /* the child's end closed: the hold ends */
	int used;                /* the child wrote on the connection */
	int held_back;           /* data waits in the stack for a child that may not read it */
	size_t up_off, up_len, dn_off, dn_len;
	char up[RELAY_BUF];      /* child -> connection */
	char dn[RELAY_BUF];      /* connection -> child */
};

static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
static struct relay *rl_pending; /* made for the fork under way (rl_mu held across it) */
static struct relay *rl_incoming; /* handed to the thread, rl_mu */
static struct relay *rl_active;   /* the thread's; rl_mu for changes */
/* rl_wake: a pipe (a program counting its eventfds sees none of the shim's) */
static int rl_thread_on, rl_epfd = -1, rl_wake = -1, rl_wake_w = -1;
static pthread_t rl_thread;
static atomic_int rl_stop, rl_count;

/* The thread ends (rl_mu held): its fds go with it. */
static void relay_thread_gone(void)
{
	if (rl_epfd >= 0)
		REAL(close)(rl_epfd);
	if (rl_wake >= 0) {
		REAL(close)(rl_wake);
		REAL(close)(rl_wake_w);
	}
	rl_epfd = rl_wake = rl_wake_w = -1;
	rl_thread_on = 0;
}

static int fd_hup(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};
	return REAL(poll)(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* ---- the relay thread ---- */

/* Move what can move without waiting; 1 if anything did. */
static int relay_step(struct relay *r)
{
	struct sock *sk = r->ss->sk;
	struct stack *st = r->ss->st;
	struct iovec v;
	ssize_t n;
	int moved = 0;

	/* child -> connection */
	if (r->up_off == r->up_len && !r->up_eof) {
		n = REAL(recv)(r->fd, r->up, RELAY_BUF, MSG_DONTWAIT);
		if (n > 0) {
			r->up_off = 0;
			r->up_len = (size_t)n;
			r->used = moved = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r->up_eof = 1;
			moved = 1;
		}
	}
	if (r->up_off < r->up_len) {
		v = (struct iovec){r->up + r->up_off, r->up_len - r->up_off};
		rt_lock(st);
		n = sock_send(sk, &v, 1, 0, NULL);
		rt_unlock(st);
		if (n > 0) {
			r->up_off += (size_t)n;
			moved = 1;
		} else if (n != -EAGAIN) {
			/* the connection takes no more: the child's writes fail */
			r->up_off = r->up_len = 0;
			r->up_eof = r->up_shut = 1;
			REAL(shutdown)(r->fd, SHUT_RD);
			moved = 1;
		}
	}
	if (r->up_eof && !r->closed && r->up_off == r->up_len && fd_hup(r->fd)) {
		r->closed = 1; /* closed, not shut down: the hold ends */
		moved = 1;
	}
	if (r->up_eof && !r->up_shut && !r->closed && r->up_off == r->up_len) {
		rt_lock(st);
		sock_shutdown(sk, SHUT_WR);
		rt_unlock(st);
		r->up_shut = 1;
		moved = 1;
	}
	if (r->closed) {
		r->dn_off = r->dn_len = 0;
		return moved;
	}
	/* connection -> child. What is read here only this child can read:
	 * while another process holds the connection too (the parent, or a
	 * child forked with it that never used it), only a child that wrote
	 * on it takes its data, or a child that only reads would take what
	 * the one that uses it waits for. */
	r->held_back = 0;
	if (r->dn_off == r->dn_len && !r->dn_eof && !r->used && !r->up_eof &&
	    atomic_load(&r->ss->h.refs) > 1) {
		rt_lock(st);
		r->held_back = (sock_events(sk) & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		rt_unlock(st);
	} else if (r->dn_off == r->dn_len && !r->dn_eof) {
		v = (struct iovec){r->dn, RELAY_BUF};
		rt_lock(st);
		n = sock_recv(sk, &v, 1, 0, NULL);
		rt_unlock(st);
		if (n > 0) {
			r->dn_off = 0;
			r->dn_len = (size_t)n;
			moved = 1;
		} else if (n != -EAGAIN) {
			/* FIN: EOF for the child; a reset: EOF and EPIPE */
			r->dn_eof = 1;
			REAL(shutdown)(r->fd, n == 0 ? SHUT_WR : SHUT_RDWR);
			moved = 1;
		}
	}
	if (r->dn_off < r->dn_len) {
		n = REAL(send)(r->fd, r->dn + r->dn_off, r->dn_len - r->dn_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			r->dn_off += (size_t)n;
			moved = 1;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			r->dn_off = r->dn_len = 0; /* the child's end is gone */
			moved = 1;
		}
	}
	return moved;
}

/* Register what the next step waits for: the child's data when there is
 * room for it, room in the child's end when data waits, and the end's
 * closing (EPOLLHUP) once the child shut its side; not the end at all while
 * only the connection holds things up (a closed end's EPOLLHUP would spin). */
static void relay_arm(struct relay *r)
{
	uint32_t want = 0;
	int need;

	if (!r->closed && !r->up_eof && r->up_off == r->up_len)
		want |= EPOLLIN;
	if (!r->closed && r->dn_off < r->dn_len)
		want |= EPOLLOUT;
	need = want || (!r->closed && r->up_eof && r->up_off == r->up_len);
	if (!need) {
		if (r->in_ep)
			REAL(epoll_ctl)(rl_epfd, EPOLL_CTL_DEL, r->fd, NULL);
		r->in_ep = 0;
		return;
	}
	if (r->in_ep && want == r->armed)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = r};
	if (REAL(epoll_ctl)(rl_epfd, r->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, r->fd, &ev) == 0) {
		r->in_ep = 1;
		r->armed = want;
	}
}

static void relay_end(struct relay *r)
{
	if (r->in_ep)
		REAL(epoll_ctl)(rl_epfd, EPOLL_CTL_DEL, r->fd, NULL);
	REAL(close)(r->fd);
	/* the hold ends: the last holder's release closes the connection */
	fobj_release(&r->ss->h);
	free(r);
	atomic_fetch_sub(&rl_count, 1);
}

struct rl_wctx {
	unsigned gen;
};

static int rl_ready(void *arg)
{
	struct rl_wctx *w = arg;
	return atomic_load_explicit(&shim_gen, memory_order_acquire) != w->gen || atomic_load(&rl_stop);
}

static void *relay_main(void *arg)
{
	struct epoll_event evs[64];
	(void)arg;

	shim_enter(); /* its calls are the shim's own */
	for (;;) {
		struct rl_wctx w = {atomic_load_explicit(&shim_gen, memory_order_acquire)};
		struct relay *r, **pp, *done = NULL;
		struct stack *st = NULL;
		int stop = atomic_load(&rl_stop), moved = 0, held = 0;
		char v[64];

		pthread_mutex_lock(&rl_mu);
		while ((r = rl_incoming)) {
			rl_incoming = r->next;
			r->next = rl_active;
			rl_active = r;
		}
		if (!rl_active) {
			/* nothing to relay: the thread and its fds go until the next fork needs them */
			relay_thread_gone();
			pthread_mutex_unlock(&rl_mu);
			break;
		}
		pthread_mutex_unlock(&rl_mu);
		for (r = rl_active; r; r = r->next) {
			for (int i = 0; i < 16 && relay_step(r); i++)
				moved = 1;
			if (stop && !r->closed && !fd_hup(r->fd)) {
				/* a child still holds it: cut (one whose end is closed
				 * already goes on until what it wrote is queued) */
				r->closed = 1;
				r->up_off = r->up_len = 0;
			}
			if (!st)
				st = r->ss->st;
			held |= r->held_back;
			relay_arm(r);
		}
		pthread_mutex_lock(&rl_mu);
		for (pp = &rl_active; (r = *pp);) {
			if (r->closed && r->up_off == r->up_len) {
				*pp = r->next;
				r->next = done;
				done = r;
			} else {
				pp = &r->next;
			}
		}
		pthread_mutex_unlock(&rl_mu);
		while ((r = done)) {
			done = r->next;
			relay_end(r);
		}
		if (moved)
			continue;
		if (st) {
			/* a held-back relay looks again when the others may have let go
			 * (a close wakes nothing here) */
			uint64_t until = held ? rt_now() + RELAY_HELD_NS : UINT64_MAX;
			if (rt_wait(st, rl_ready, &w, until, rl_epfd) == 1)
				REAL(epoll_wait)(rl_epfd, evs, 64, 0);
		} else {
			struct pollfd p = {.fd = rl_wake, .events = POLLIN};
			REAL(poll)(&p, 1, -1);
		}
		if (REAL(read)(rl_wake, v, sizeof(v)) < 0 && errno != EAGAIN)
			break;
	}
	shim_leave();
	return NULL;
}

static int relay_thread_start(void)
{
	sigset_t all, old;
	struct epoll_event ev = {.events = EPOLLIN};
	pthread_attr_t at;
	int pp[2], rc;

	if (rl_thread_on)
		return 0;
	if ((rl_epfd = REAL(epoll_create1)(EPOLL_CLOEXEC)) < 0)
		return -1;
	if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) < 0) {
		relay_thread_gone();
		return -1;
	}
	rl_wake = pp[0];
	rl_wake_w = pp[1];
	REAL(epoll_ctl)(rl_epfd, EPOLL_CTL_ADD, rl_wake, &ev);
	/* the program's signals are not for it */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&rl_thread, &at, relay_main, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		relay_thread_gone();
		return -1;
	}
	rl_thread_on = 1;
	return 0;
}

/* rl_mu held: the thread closes the pipe under it when it ends */
static void relay_wake(void)
{
	if (rl_wake_w >= 0 && REAL(write)(rl_wake_w, "w", 1) < 0 && errno != EAGAIN)
		log_debug("relay wake: %s", strerror(errno));
}

/* ---- fork ---- */

static int pending_has(const struct ssock *ss)
{
	for (struct relay *r = rl_pending; r; r = r->next)
		if (r->ss == ss)
			return 1;
	return 0;
}

static void prepare_one(int fd, struct fobj *o, void *arg)
{
	struct ssock *ss = ss_of(o);
	struct relay *r;
	int sv[2], rc;

	(void)arg;
	if (!ss || ss->state != SS_BYPASS || !ss->sk || ss->listening || ss->dead || ss->type != SOCK_STREAM ||
	    pending_has(ss))
		return;
	if (!(r = calloc(1, sizeof(*r))))
		goto fail;
	rt_lock(ss->st);
	rc = sock_name(ss->sk, &r->local.sa);
	if (!rc)
		rc = sock_peer(ss->sk, &r->peer.sa);
	rt_unlock(ss->st);
	if (rc) {
		free(r);
		return; /* not connected (yet, or any more): nothing to carry */
	}
	if (REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(r);
		goto fail;
	}
	REAL(fcntl)(sv[0], F_SETFL, O_NONBLOCK);
	r->fd = sv[0];
	r->child = sv[1];
	r->ss = ss;
	atomic_fetch_add(&ss->h.refs, 1); /* the child's hold */
	r->next = rl_pending;
	rl_pending = r;
	return;
fail:
	log_warn("fd %d: cannot relay this connection to a forked child (%s): it fails there", fd,
		 strerror(errno));
}

void relay_prepare(void)
{
	pthread_mutex_lock(&rl_mu);
	if (!cfg.active || !shim_has_bypass || shim_rt_failed || !rt_started())
		return;
	fdtab_foreach(prepare_one, NULL);
}

void relay_parent(void)
{
	struct relay *r;
	int n = 0;

	if (rl_pending && relay_thread_start() < 0) {
		/* the child has its ends already: they read EOF, writes fail */
		log_warn("cannot start the relay thread: the connections fail in the forked child");
		while ((r = rl_pending)) {
			rl_pending = r->next;
			REAL(close)(r->child);
			REAL(close)(r->fd);
			atomic_fetch_sub(&r->ss->h.refs, 1); /* shim_mu held: the parent's own fd holds it too */
			free(r);
		}
	}
	while ((r = rl_pending)) {
		rl_pending = r->next;
		REAL(close)(r->child);
		r->child = -1;
		r->next = rl_incoming;
		rl_incoming = r;
		n++;
	}
	atomic_fetch_add(&rl_count, n);
	if (n)
		relay_wake();
	pthread_mutex_unlock(&rl_mu);
}

struct child_walk {
	struct relay *r;
};

static void child_put(int fd, struct fobj *o, void *arg)
{
	struct relay *r = ((struct child_walk *)arg)->r;
	int fl;

	if (o != &r->ss->h)
		return;
	fl = REAL(fcntl)(fd, F_GETFD);
	if (REAL(dup3)(r->child, fd, fl >= 0 && (fl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		log_warn("fd %d: cannot take the relayed connection (%s)", fd, strerror(errno));
	fdrec_put(fd, o);
	log_debug("fd %d: %s", fd, ss_reason_str(WHY_RELAYED));
}

static void free_list(struct relay *r)
{
	struct relay *next;
	for (; r; r = next) {
		next = r->next;
		REAL(close)(r->fd);
		free(r);
	}
}

void relay_child(void)
{
	struct relay *r, *next;

	pthread_mutex_init(&rl_mu, NULL);
	/* the parent's relays, for other children: not this one's */
	free_list(rl_active);
	free_list(rl_incoming);
	rl_active = rl_incoming = NULL;
	if (rl_epfd >= 0)
		REAL(close)(rl_epfd);
	if (rl_wake >= 0) {
		REAL(close)(rl_wake);
		REAL(close)(rl_wake_w);
	}
	rl_epfd = rl_wake = rl_wake_w = -1;
	rl_thread_on = 0;
	atomic_store(&rl_count, 0);
	atomic_store(&rl_stop, 0);
	for (r = rl_pending; r; r = next) {
		struct child_walk w = {r};
		struct ssock *ss = r->ss;
		next = r->next;
		ss->sk = NULL;
		ss->st = NULL;
		ss->state = SS_KERNEL;
		ss->why = WHY_RELAYED;
		ss->placeholder = 0;
		ss->local = r->local;
		ss->rpeer = r->peer;
		ss->bound = ss->kbound = 1;
		fdtab_foreach(child_put, &w);
		if (ss->nonblock)
			REAL(fcntl)(r->child, F_SETFL, O_NONBLOCK);
		REAL(close)(r->child);
		REAL(close)(r->fd);
		free(r);
	}
	rl_pending = NULL;
}

static void epoll_fix(int fd, struct fobj *o, void *arg)
{
	struct ssock *ss = ss_of(o);
	(void)fd, (void)arg;
	if (ss && ss->why == WHY_RELAYED && ss->items)
		ep_ss_changed(ss);
}

void relay_child_epoll(void)
{
	fdtab_foreach(epoll_fix, NULL);
}

/* ---- exit ---- */

/* Relays whose child still holds its end (rl_mu held). */
static int live_count(struct relay *r)
{
	int n = 0;
	for (; r; r = r->next)
		n += !r->closed && !fd_hup(r->fd);
	return n;
}

void relay_exit(void)
{
	int n, on;

	pthread_mutex_lock(&rl_mu);
	on = rl_thread_on;
	n = live_count(rl_active) + live_count(rl_incoming);
	pthread_mutex_unlock(&rl_mu);
	if (!on)
		return;
	if (n)
		log_warn("exiting with %d connection(s) still used by forked children: they close now (FIN after what "
			 "the stack holds; the children read EOF and their writes fail with EPIPE)", n);
	pthread_mutex_lock(&rl_mu);
	atomic_store(&rl_stop, 1);
	relay_wake();
	pthread_mutex_unlock(&rl_mu);
	for (int i = 0; i < RELAY_EXIT_WAIT_S * 100; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		pthread_mutex_lock(&rl_mu);
		on = rl_thread_on;
		pthread_mutex_unlock(&rl_mu);
		if (!on)
			return;
		nanosleep(&ts, NULL);
	}
	log_warn("the relay thread did not stop in %d s", RELAY_EXIT_WAIT_S);
}
