/* poll, ppoll, select and pselect over kernel and bypassed fds together.
 *
 * A call naming no bypassed socket is the plain system call. Otherwise the
 * bypassed entries are answered from sock_events() and hidden from the
 * kernel (fd = ~fd: poll ignores negative fds) while the rest is polled with
 * a zero timeout; with nothing ready, the call blocks once in rt_wait() on a
 * temporary epoll holding the kernel fds, woken by any socket notification.
 * An epoll set with bypassed members (its own or nested) stays with the
 * kernel, which sees them through the set's eventfd (ep_outside(), before
 * each look), and makes the call drive the stack like a bypassed socket.
 * select is answered through the same code, with Linux's POLLIN_SET,
 * POLLOUT_SET and POLLEX_SET mapping. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

/* A yes/no for fd: a bypassed socket now. */
static int fd_bypassed(int fd)
{
	struct ssock *ss = ss_hold_bypassed(fd);
	if (ss)
		ss_release(ss);
	return ss != NULL;
}

static int gen_ready(void *arg)
{
	return atomic_load_explicit(&shim_gen, memory_order_acquire) != *(unsigned *)arg;
}

/* A temporary epoll for the kernel fds of a blocking mixed poll. */
static int kernel_epoll(struct pollfd *fds, nfds_t nfds)
{
	int kep = -1;

	for (nfds_t i = 0; i < nfds; i++) {
		struct epoll_event ev;
		if (fds[i].fd < 0 || fd_bypassed(fds[i].fd))
			continue;
		if (kep < 0 && (kep = REAL(epoll_create1)(EPOLL_CLOEXEC)) < 0)
			return -1;
		ev.events = (uint32_t)fds[i].events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP);
		ev.data.u64 = 0;
		if (REAL(epoll_ctl)(kep, EPOLL_CTL_ADD, fds[i].fd, &ev) < 0 && errno == EEXIST) {
			for (nfds_t j = 0; j < i; j++)
				if (fds[j].fd == fds[i].fd)
					ev.events |= (uint32_t)fds[j].events;
			REAL(epoll_ctl)(kep, EPOLL_CTL_MOD, fds[i].fd, &ev);
		}
	}
	return kep;
}

/* A bypassed entry of fds: its position, and the socket it named when the
 * call began, held until the call returns (as Linux's poll holds the files
 * it waits on: a close by another thread neither frees nor wakes it). */
struct pent {
	nfds_t i;
	struct ssock *ss;
};

/* Attach the bypassed sockets named in fds and list them in idx (grown from
 * the caller's small array when needed); *nk counts the kernel fds, *ne the
 * epoll sets among them with bypassed members (the kernel polls them:
 * ep_outside() makes it see those members). Returns the instance, NULL if
 * no bypassed socket is named. */
static struct stack *poll_classify(struct pollfd *fds, nfds_t nfds, struct pent **idx, nfds_t *nb, nfds_t *nk,
				   nfds_t *ne, struct pent small[64])
{
	struct stack *st = NULL, *est;

	for (nfds_t i = 0; i < nfds; i++) {
		struct ssock *ss;
		if (fds[i].fd < 0)
			continue;
		if (!(ss = ss_hold_bypassed(fds[i].fd))) {
			if ((est = ep_outside(fds[i].fd))) {
				st = est;
				(*ne)++;
			}
			(*nk)++;
			continue;
		}
		if (!ss->sk && !ss->dead) {
			int a = ss_attach(ss, fds[i].fd);
			if (a < 0)
				ss->dead = a;
		}
		if (ss->state != SS_BYPASS) {
			ss_release(ss);
			(*nk)++; /* fell back to the kernel */
			continue;
		}
		if (*nb == 64 && *idx == small) {
			struct pent *big = malloc(nfds * sizeof(*big));
			if (!big) {
				ss_release(ss);
				return NULL; /* the caller releases what idx holds */
			}
			memcpy(big, small, 64 * sizeof(*big));
			*idx = big;
		}
		(*idx)[(*nb)++] = (struct pent){i, ss};
		if (ss->sk)
			st = ss->st;
	}
	return st;
}

/* The kernel side of the bypassed listeners that listen there too: a
 * connection the kernel took (a SYN the shared NIC's XDP program passed
 * to it) waits in that queue, and accept() takes from both sides. Added
 * to kep (made if -1); the number added in *n. */
static int kernel_epoll_listeners(int kep, const struct pollfd *fds, const struct pent *idx, nfds_t nb, nfds_t *n)
{
	*n = 0;
	for (nfds_t j = 0; j < nb; j++) {
		struct epoll_event ev = {.events = EPOLLIN};
		if (!idx[j].ss->klistening || !(fds[idx[j].i].events & POLLIN))
			continue;
		if (kep < 0 && (kep = REAL(epoll_create1)(EPOLL_CLOEXEC)) < 0)
			return -1;
		if (REAL(epoll_ctl)(kep, EPOLL_CTL_ADD, fds[idx[j].i].fd, &ev) == 0)
			(*n)++;
	}
	return kep;
}

static void poll_release(struct pent *idx, nfds_t nb, struct pent *small)
{
	for (nfds_t j = 0; j < nb; j++)
		ss_release(idx[j].ss);
	if (idx != small)
		free(idx);
}

/* The readiness of a bypassed entry now. fd is looked up again: closed by
 * another thread it is POLLNVAL, reused it is the new file's, as on Linux. */
static short poll_entry(const struct pollfd *p)
{
	struct fobj *o = fdtab_hold(p->fd);
	struct ssock *ss = ss_of(o);
	short rev;

	if (ss && ss->state == SS_BYPASS && ss->sk) {
		rt_lock(ss->st);
		rev = (short)(sock_events(ss->sk) & ((uint32_t)(uint16_t)p->events | POLLERR | POLLHUP));
		rt_unlock(ss->st);
		if (ss->klistening && (p->events & POLLIN) && !(rev & POLLIN)) { /* the kernel side's queue */
			struct pollfd k = {.fd = p->fd, .events = POLLIN};
			if (REAL(poll)(&k, 1, 0) > 0 && (k.revents & POLLIN))
				rev |= POLLIN;
		}
	} else if (ss && ss->state == SS_BYPASS) {
		rev = POLLERR | POLLHUP;
	} else {
		struct pollfd k = {.fd = p->fd, .events = p->events};
		rev = REAL(poll)(&k, 1, 0) > 0 ? k.revents : 0;
	}
	fobj_release(o);
	return rev;
}

/* count, -errno, or *kernel_only = 1 when no bypassed socket is named. */
static int mix_poll(struct pollfd *fds, nfds_t nfds, uint64_t deadline, int zero, int *kernel_only)
{
	struct stack *st = NULL;
	int polled = 0, kep = -2, rc;
	nfds_t nb = 0, nk = 0, ne = 0;
	struct pent small[64], *idx = small;

	*kernel_only = 0;
	st = poll_classify(fds, nfds, &idx, &nb, &nk, &ne, small);
	if ((!nb && !ne) || !st) {
		poll_release(idx, nb, small);
		*kernel_only = 1;
		return 0;
	}
	/* as in epoll_wait: each call drives the stack once, even when
	 * something is ready at once (a writable socket), or input would
	 * never be read by a program that never blocks */
	rt_poll(st);
	polled = 1;
	for (;;) {
		unsigned gen = atomic_load_explicit(&shim_gen, memory_order_acquire);
		int n = 0;

		if (nk) {
			for (nfds_t i = 0; ne && i < nfds; i++)
				if (fds[i].fd >= 0 && !fd_bypassed(fds[i].fd))
					ep_outside(fds[i].fd); /* their bypassed members, now */
			for (nfds_t j = 0; j < nb; j++)
				fds[idx[j].i].fd = ~fds[idx[j].i].fd; /* hidden from the kernel */
			sig_wait_begin();
			rc = REAL(poll)(fds, nfds, 0);
		} else {
			/* bypassed sockets only: no system call */
			for (nfds_t i = 0; i < nfds; i++)
				fds[i].revents = 0;
			rc = 0;
		}
		for (nfds_t j = 0; j < nb; j++) {
			struct pollfd *p = &fds[idx[j].i];
			if (nk)
				p->fd = ~p->fd;
			p->revents = poll_entry(p);
		}
		if (rc < 0 && errno == EINTR && sig_wait_resume(0))
			continue; /* a driver's signal, not the program's */
		if (rc < 0) {
			rc = -errno;
			break;
		}
		for (nfds_t i = 0; i < nfds; i++)
			n += fds[i].revents != 0;
		if (n) {
			rc = n;
			break;
		}
		if (zero) {
			rc = 0;
			if (polled++)
				break;
			rt_poll(st);
			continue;
		}
		if (kep == -2) {
			nfds_t nkl;
			kep = nk ? kernel_epoll(fds, nfds) : -1;
			kep = kernel_epoll_listeners(kep, fds, idx, nb, &nkl);
			if (kep >= 0 && !nk && !nkl) {
				REAL(close)(kep);
				kep = -1;
			}
		}
		sig_wait_begin();
		int w = rt_wait(st, gen_ready, &gen, deadline, kep >= 0 ? kep : -1);
		if (w == -EINTR && !sig_wait_resume(0)) {
			rc = -EINTR;
			break;
		}
		if (w == -ETIMEDOUT) {
			zero = 1; /* one last look */
			polled = 1;
		}
	}
	if (kep >= 0)
		REAL(close)(kep);
	poll_release(idx, nb, small);
	return rc;
}

static int poll_active(void)
{
	return !SHIM_INSIDE() && cfg.active;
}

static int shim_poll_ns(struct pollfd *fds, nfds_t nfds, uint64_t deadline, int zero,
			const sigset_t *sigmask, int *out)
{
	sigset_t old;
	int ko, r;

	if (sigmask)
		pthread_sigmask(SIG_SETMASK, sigmask, &old);
	r = mix_poll(fds, nfds, deadline, zero, &ko);
	if (sigmask)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ko)
		return 0;
	*out = (int)shim_ret(r);
	return 1;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	int n;
	if (poll_active() && fds &&
	    shim_poll_ns(fds, nfds, timeout < 0 ? UINT64_MAX : rt_now() + (uint64_t)timeout * 1000000ull,
			 timeout == 0, NULL, &n))
		return n;
	return REAL(poll)(fds, nfds, timeout);
}

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return poll(fds, nfds, timeout);
}

static int ts_valid(const struct timespec *t)
{
	return !t || (t->tv_sec >= 0 && t->tv_nsec >= 0 && t->tv_nsec < 1000000000);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo, const sigset_t *sigmask)
{
	int n;
	if (poll_active() && fds && ts_valid(tmo) &&
	    shim_poll_ns(fds, nfds, tmo ? rt_now() + ts_ns(tmo) : UINT64_MAX,
			 tmo && !tmo->tv_sec && !tmo->tv_nsec, sigmask, &n))
		return n;
	return REAL(ppoll)(fds, nfds, tmo, sigmask);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *tmo,
			    const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < nfds)
		__chk_fail();
	return ppoll(fds, nfds, tmo, sigmask);
}

/* ---- select, pselect ---- */

#define SEL_IN (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SEL_EX (POLLPRI)

static int sel_has_bypassed(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	for (int fd = 0; fd < nfds; fd++)
		if (((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) &&
		    (fd_bypassed(fd) || ep_outside(fd)))
			return 1;
	return 0;
}

static int mix_select(int nfds, fd_set *r, fd_set *w, fd_set *e, uint64_t deadline, int zero,
		      const sigset_t *sigmask, int *out)
{
	struct pollfd pf[FD_SETSIZE];
	nfds_t n = 0;
	int rc, count = 0;

	for (int fd = 0; fd < nfds; fd++) {
		short ev = (short)((r && FD_ISSET(fd, r) ? POLLIN : 0) | (w && FD_ISSET(fd, w) ? POLLOUT : 0) |
				   (e && FD_ISSET(fd, e) ? POLLPRI : 0));
		if (!ev)
			continue;
		/* as Linux: EBADF for an fd closed before the call (one closed
		 * by another thread during it is reported below) */
		if (!fdtab_get(fd) && REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF) {
			*out = -1;
			return 1;
		}
		pf[n++] = (struct pollfd){.fd = fd, .events = ev};
	}
	if (!shim_poll_ns(pf, n, deadline, zero, sigmask, &rc))
		return 0;
	if (rc < 0) {
		*out = rc;
		return 1;
	}
	for (nfds_t i = 0; i < n; i++) {
		int fd = pf[i].fd;
		/* closed by another thread during the call: Linux (6.x) reports
		 * it in every set it was asked in */
		if (pf[i].revents & POLLNVAL)
			pf[i].revents |= SEL_IN | SEL_OUT | SEL_EX;
		if (r && FD_ISSET(fd, r) && !(pf[i].revents & SEL_IN))
			FD_CLR(fd, r);
		if (w && FD_ISSET(fd, w) && !(pf[i].revents & SEL_OUT))
			FD_CLR(fd, w);
		if (e && FD_ISSET(fd, e) && !(pf[i].revents & SEL_EX))
			FD_CLR(fd, e);
		count += (r && FD_ISSET(fd, r)) + (w && FD_ISSET(fd, w)) + (e && FD_ISSET(fd, e));
	}
	*out = count;
	return 1;
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tmo)
{
	int n;
	if (poll_active() && nfds >= 0 && nfds <= FD_SETSIZE &&
	    (!tmo || (tmo->tv_sec >= 0 && tmo->tv_usec >= 0)) && sel_has_bypassed(nfds, r, w, e)) {
		uint64_t now = rt_now();
		uint64_t dl = tmo ? now + (uint64_t)tmo->tv_sec * 1000000000ull + (uint64_t)tmo->tv_usec * 1000ull
				  : UINT64_MAX;
		if (mix_select(nfds, r, w, e, dl, tmo && !tmo->tv_sec && !tmo->tv_usec, NULL, &n)) {
			if (tmo) {
				/* as Linux: the time not slept */
				uint64_t t = rt_now(), left = t < dl ? dl - t : 0;
				tmo->tv_sec = (time_t)(left / 1000000000ull);
				tmo->tv_usec = (suseconds_t)(left % 1000000000ull / 1000);
			}
			return n;
		}
	}
	return REAL(select)(nfds, r, w, e, tmo);
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *tmo,
			const sigset_t *sigmask)
{
	int n;
	if (poll_active() && nfds >= 0 && nfds <= FD_SETSIZE && ts_valid(tmo) && sel_has_bypassed(nfds, r, w, e) &&
	    mix_select(nfds, r, w, e, tmo ? rt_now() + ts_ns(tmo) : UINT64_MAX,
		       tmo && !tmo->tv_sec && !tmo->tv_nsec, sigmask, &n))
		return n;
	return REAL(pselect)(nfds, r, w, e, tmo, sigmask);
}
