/* epoll over kernel and bypassed fds together, with Linux's semantics.
 *
 * The application's epoll fd is a real kernel epoll holding every kernel fd
 * (and the kernel side of a bypassed listener, which also listens there).
 * A bypassed socket's membership is an item kept here: the stack's
 * notification (sock_set_notify) queues the item on the set's ready list;
 * epoll_wait re-checks each queued item's readiness, keeps level-triggered
 * ones queued, drops edge-triggered ones until the next notification and
 * disarms EPOLLONESHOT ones, as the kernel's ep_send_events does. A wait
 * with nothing ready blocks once in rt_wait() with the kernel epoll fd as
 * its kernel_fd, so one sleep covers both sides.
 *
 * A set seen from outside (added to another epoll set, or named in a poll
 * or select) must look readable to the kernel while a bypassed member is
 * ready, as a nested epoll does on Linux. Such a set gets an eventfd in its
 * kernel epoll: a notification that finds its item ready signals it; a
 * wait on the set that leaves nothing queued drains it, and it never
 * appears among the events returned. Before the kernel looks at a nested
 * set (an outer wait, poll, select, epoll_ctl), ep_refresh() re-checks the
 * queued items, dropping those no longer ready as the kernel's poll of an
 * epoll does, and signals or drains the eventfd to match. With an outer
 * EPOLLET registration every readiness signals again (a new edge, as the
 * kernel's wake-up of the outer set). A set never seen from outside has no
 * eventfd and pays nothing. A set blocked on directly from outside our
 * wrappers (a raw system call) was never seen, and nothing drives the
 * stack there anyway.
 *
 * Locks, in order: shim_mu (membership), ep->mu (items), a nested set's
 * mu, rt_lock (stack), ep->rlock (ready list; taken by notifications). The
 * eventfd is signalled and drained under rt_lock. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "shim.h"

struct sepoll {
	struct fobj h;
	int fd;                   /* the epoll's own fd number */
	pthread_mutex_t mu;
	pthread_spinlock_t rlock;
	struct sitem *items;
	struct sitem *rhead, *rtail;
	atomic_int nready;
	int nuser, ndual, nattach;
	unsigned turn;
	struct stack *st;         /* the instance of its bypassed sockets, once known */
	int kused;                /* the kernel epoll has held an fd: worth asking */
	unsigned serial;          /* tells this set from a later one at the same fd */
	/* seen from outside: the eventfd that makes the kernel epoll readable */
	atomic_int efd;           /* -1 until the set is seen from outside */
	int efd_reg;              /* an eventfd of ours is (or was) in the kernel epoll */
	int efd_set;              /* efd holds a count; under rt_lock */
	int outer_et;             /* in an outer set with EPOLLET: signal every readiness */
	int kfirst;               /* the last answer was full: the kernel side first */
	atomic_int kfd;           /* the kernel epoll waits use: a private dup, -1 until needed */
	/* the epoll sets added to this one (their fd and serial); under mu */
	struct ep_kid {
		int fd;
		unsigned serial;
	} *kids;
	int nkids, kcap;
};

#define EP_MAX_NESTS 5 /* as Linux's EP_MAX_NESTS + 1: deeper sets are not followed */

static atomic_uint ep_serials;

static void ep_expose(struct sepoll *ep, int fd);
static void ep_refresh(struct sepoll *ep, int depth);
static void ep_kid_note(struct sepoll *ep, int op, int fd, struct sepoll *kid);

static struct sepoll *ep_of(struct fobj *o)
{
	return o && o->kind == FOBJ_EPOLL ? (struct sepoll *)o : NULL;
}

/* ---- ready list ---- */

/* The eventfd's marker in the kernel epoll: the address of a field of the
 * set, a value no other member's data can hold. */
static uint64_t ep_marker(struct sepoll *ep)
{
	return (uint64_t)(uintptr_t)&ep->efd;
}

/* Tell the kernel the set is ready (under rt_lock). every: also when it
 * already holds a count (a wake-up for an outer EPOLLET registration). */
static void ep_efd_signal(struct sepoll *ep, int every)
{
	int fd = atomic_load_explicit(&ep->efd, memory_order_acquire);
	uint64_t one = 1;

	if (fd < 0 || (ep->efd_set && !every))
		return;
	ep->efd_set = 1;
	if (REAL(write)(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the count is at its maximum, still readable */
	}
}

/* The set is not ready: empty the eventfd (under rt_lock, or with no stack). */
static void ep_efd_drain(struct sepoll *ep)
{
	int fd = atomic_load_explicit(&ep->efd, memory_order_acquire);
	uint64_t v;

	if (fd < 0 || !ep->efd_set)
		return;
	ep->efd_set = 0;
	if (REAL(read)(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already empty */
	}
}

/* Remove the eventfd's events from k events the kernel returned. */
static int ep_filter(struct sepoll *ep, struct epoll_event *ev, int k)
{
	if (!ep->efd_reg || k <= 0)
		return k;
	for (int i = 0; i < k; i++)
		if (ev[i].data.u64 == ep_marker(ep))
			ev[i--] = ev[--k];
	return k;
}

static void ep_queue(struct sitem *it)
{
	struct sepoll *ep = it->ep;

	pthread_spin_lock(&ep->rlock);
	if (!it->queued) {
		it->queued = 1;
		it->r_next = NULL;
		if (ep->rtail)
			ep->rtail->r_next = it;
		else
			ep->rhead = it;
		ep->rtail = it;
		atomic_fetch_add_explicit(&ep->nready, 1, memory_order_release);
	}
	pthread_spin_unlock(&ep->rlock);
}

void ep_item_notify(struct sitem *it)
{
	struct sepoll *ep = it->ep;

	if (it->disarmed)
		return;
	ep_queue(it);
	if (unlikely(atomic_load_explicit(&ep->efd, memory_order_relaxed) >= 0) && it->ss->sk &&
	    (sock_events(it->ss->sk) & (it->events | EPOLLERR | EPOLLHUP)))
		ep_efd_signal(ep, ep->outer_et);
}

static void ep_unqueue(struct sepoll *ep, struct sitem *it)
{
	struct sitem **pp, *prev = NULL;

	pthread_spin_lock(&ep->rlock);
	if (it->queued) {
		for (pp = &ep->rhead; *pp; prev = *pp, pp = &(*pp)->r_next) {
			if (*pp == it) {
				*pp = it->r_next;
				if (ep->rtail == it)
					ep->rtail = prev;
				break;
			}
		}
		it->queued = 0;
		atomic_fetch_sub_explicit(&ep->nready, 1, memory_order_release);
	}
	pthread_spin_unlock(&ep->rlock);
}

/* Queue it if its socket is ready now (after ADD, MOD, attach). Under rt_lock. */
static void ep_item_check(struct sitem *it)
{
	if (it->in_user && it->ss->sk && (sock_events(it->ss->sk) & (it->events | EPOLLERR | EPOLLHUP)))
		ep_item_notify(it);
}

/* ---- membership ---- */

static void item_link(struct sepoll *ep, struct sitem *it)
{
	struct ssock *ss = it->ss;

	it->ep_next = ep->items;
	it->ep_prev = NULL;
	if (ep->items)
		ep->items->ep_prev = it;
	ep->items = it;
	if (ss->sk)
		rt_lock(ss->st);
	it->ss_next = ss->items;
	ss->items = it;
	if (ss->sk)
		rt_unlock(ss->st);
}

static void item_unlink(struct sepoll *ep, struct sitem *it)
{
	struct ssock *ss = it->ss;
	struct sitem **pp;

	if (ss->sk)
		rt_lock(ss->st);
	for (pp = &ss->items; *pp; pp = &(*pp)->ss_next) {
		if (*pp == it) {
			*pp = it->ss_next;
			break;
		}
	}
	ep_unqueue(ep, it); /* with rt_lock held: a collecting epoll_wait holds it */
	if (ss->sk)
		rt_unlock(ss->st);
	if (it->ep_prev)
		it->ep_prev->ep_next = it->ep_next;
	else
		ep->items = it->ep_next;
	if (it->ep_next)
		it->ep_next->ep_prev = it->ep_prev;
	if (it->in_user)
		ep->nuser--;
	if (it->in_user && it->in_kernel)
		ep->ndual--;
}

static void item_counts(struct sepoll *ep, struct sitem *it, int sign)
{
	if (it->in_user) {
		ep->nuser += sign;
		if (it->in_kernel)
			ep->ndual += sign;
		if (!it->ss->sk && sign > 0)
			ep->nattach = 1; /* a hint: ep_attach_all() looks */
	}
}

/* Bring an item's registrations in line with its socket's side. ep->mu held. */
static void item_sync(struct sepoll *ep, struct sitem *it)
{
	struct ssock *ss = it->ss;
	int want_user = ss->state == SS_BYPASS;
	int want_kernel = ss->state != SS_BYPASS || ss->klistening;

	item_counts(ep, it, -1);
	/* fd lifetime: it->fd or ep->fd closed (and maybe reused) by another
	 * thread: the kernel already dropped the registration; never make one
	 * on a file that is not this item's */
	if (fdtab_get(it->fd) != &ss->h || fdtab_get(ep->fd) != &ep->h)
		want_kernel = it->in_kernel = 0;
	if (it->in_kernel && !want_kernel) {
		REAL(epoll_ctl)(ep->fd, EPOLL_CTL_DEL, it->fd, NULL);
		it->in_kernel = 0;
	} else if (!it->in_kernel && want_kernel) {
		struct epoll_event ev = {.events = it->events, .data = it->data};
		if (it->disarmed)
			ev.events &= ~(uint32_t)(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI);
		it->in_kernel = REAL(epoll_ctl)(ep->fd, EPOLL_CTL_ADD, it->fd, &ev) == 0;
		ep->kused |= it->in_kernel;
	}
	if (it->in_user && !want_user) {
		if (ss->sk)
			rt_lock(ss->st);
		ep_unqueue(ep, it);
		if (ss->sk)
			rt_unlock(ss->st);
	}
	it->in_user = want_user;
	item_counts(ep, it, +1);
	if (want_user && ss->sk) {
		rt_lock(ss->st);
		ep_item_check(it);
		rt_unlock(ss->st);
	}
}

void ep_ss_changed(struct ssock *ss)
{
	for (struct sitem *it = ss->items; it; it = it->ss_next) {
		struct sepoll *ep = it->ep;
		pthread_mutex_lock(&ep->mu);
		item_sync(ep, it);
		pthread_mutex_unlock(&ep->mu);
	}
}

void ep_ss_remove(struct ssock *ss)
{
	while (ss->items) {
		struct sitem *it = ss->items;
		struct sepoll *ep = it->ep;
		pthread_mutex_lock(&ep->mu);
		item_unlink(ep, it);
		pthread_mutex_unlock(&ep->mu);
		free(it);
	}
}

void ep_free(struct fobj *o)
{
	struct sepoll *ep = (struct sepoll *)o;

	pthread_mutex_lock(&ep->mu);
	while (ep->items) {
		struct sitem *it = ep->items;
		item_unlink(ep, it);
		free(it);
	}
	pthread_mutex_unlock(&ep->mu);
	if (ep->efd >= 0)
		REAL(close)(ep->efd);
	if (ep->kfd >= 0)
		REAL(close)(ep->kfd);
	free(ep->kids);
	pthread_mutex_destroy(&ep->mu);
	pthread_spin_destroy(&ep->rlock);
	free(ep);
}

/* After fork: the parent's stack is gone; nothing is queued. */
void ep_fork_child(struct fobj *o)
{
	struct sepoll *ep = (struct sepoll *)o;
	pthread_mutex_init(&ep->mu, NULL);
	pthread_spin_init(&ep->rlock, PTHREAD_PROCESS_PRIVATE);
	for (struct sitem *it = ep->rhead; it; it = it->r_next)
		it->queued = 0;
	ep->rhead = ep->rtail = NULL;
	atomic_store(&ep->nready, 0);
	ep->st = NULL;
	/* its sockets may not be reset yet (fd order): let the next wait look */
	ep->nattach = 1;
	/* the eventfd is the parent's (its kernel epoll too, shared): the child
	 * closes its copy and makes its own when its set is seen from outside;
	 * the parent's registration stays, filtered by its marker */
	if (ep->efd >= 0)
		REAL(close)(ep->efd);
	atomic_store(&ep->efd, -1);
	ep->efd_set = 0;
	ep->outer_et = 0;
}

/* ---- epoll_create, epoll_ctl ---- */

static int ep_new(int fd)
{
	struct sepoll *ep;

	if (fd < 0 || SHIM_INSIDE() || !cfg.active)
		return fd;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return fd; /* no memory: a plain kernel epoll */
	ep->h.kind = FOBJ_EPOLL;
	ep->fd = fd;
	ep->serial = atomic_fetch_add(&ep_serials, 1) + 1;
	atomic_init(&ep->efd, -1);
	atomic_init(&ep->kfd, -1);
	pthread_mutex_init(&ep->mu, NULL);
	pthread_spin_init(&ep->rlock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_lock(&shim_mu);
	fobj_put(fdtab_set(fd, &ep->h), NULL);
	pthread_mutex_unlock(&shim_mu);
	return fd;
}

SHIM_EXPORT int epoll_create(int size)
{
	return ep_new(REAL(epoll_create)(size));
}

SHIM_EXPORT int epoll_create1(int flags)
{
	return ep_new(REAL(epoll_create1)(flags));
}

static struct sitem *ep_find(struct sepoll *ep, struct ssock *ss, int fd)
{
	for (struct sitem *it = ss->items; it; it = it->ss_next)
		if (it->ep == ep && it->fd == fd)
			return it;
	return NULL;
}

/* EPOLL_CTL_ADD of a socket the shim tracks (shim_mu and ep->mu held). */
static int ep_ctl_add(struct sepoll *ep, int epfd, struct ssock *ss, int fd, struct epoll_event *ev)
{
	struct sitem *it;

	if ((ev->events & EPOLLEXCLUSIVE) && (ev->events & EPOLLONESHOT))
		return -EINVAL;
	if (!(it = calloc(1, sizeof(*it))))
		return -ENOMEM;
	it->ep = ep;
	it->ss = ss;
	it->fd = fd;
	it->events = ev->events;
	it->data = ev->data;
	if (ss->state != SS_BYPASS || ss->klistening) {
		if (REAL(epoll_ctl)(epfd, EPOLL_CTL_ADD, fd, ev) < 0) {
			int rc = -errno;
			free(it);
			return rc;
		}
		it->in_kernel = 1;
		ep->kused = 1;
	}
	it->in_user = ss->state == SS_BYPASS;
	item_link(ep, it);
	item_counts(ep, it, +1);
	if (it->in_user && ss->sk) {
		rt_lock(ss->st);
		ep_item_check(it);
		rt_unlock(ss->st);
	}
	return 0;
}

/* EPOLL_CTL_MOD of an item (shim_mu and ep->mu held). */
static int ep_ctl_mod(struct sitem *it, int epfd, struct epoll_event *ev)
{
	struct ssock *ss = it->ss;

	if (it->events & EPOLLEXCLUSIVE)
		return -EINVAL; /* as Linux: an exclusive item cannot be modified */
	if (it->in_kernel && REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, it->fd, ev) < 0)
		return -errno;
	if (ss->sk)
		rt_lock(ss->st); /* a collecting epoll_wait reads them under it */
	it->events = ev->events;
	it->data = ev->data;
	it->disarmed = 0;
	if (it->in_user && ss->sk)
		ep_item_check(it);
	if (ss->sk)
		rt_unlock(ss->st);
	return 0;
}

/* epoll_ctl past its prologue: both fds' objects pinned by the caller. */
static int ep_ctl_pinned(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct sepoll *ep, *kid;
	struct ssock *ss;
	struct sitem *it;
	int rc;

	kid = fd != epfd ? ep_of(fdtab_get(fd)) : NULL;
	if (kid && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev) {
		/* an epoll set into another: the kernel polls it from now on */
		ep_expose(kid, fd);
		if (ev->events & EPOLLET)
			kid->outer_et = 1;
		ep_refresh(kid, 0);
	}
	if (!(ep = ep_of(fdtab_get(epfd))))
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	if (!(ss = ss_of(fdtab_get(fd))) || fd == epfd) {
		/* a kernel fd: the kernel epoll holds it */
		int r = REAL(epoll_ctl)(epfd, op, fd, ev);
		if (r == 0 && op == EPOLL_CTL_ADD)
			ep->kused = 1;
		if (r == 0 && kid && (op == EPOLL_CTL_ADD || op == EPOLL_CTL_DEL))
			ep_kid_note(ep, op, fd, kid);
		return r;
	}
	pthread_mutex_lock(&shim_mu);
	pthread_mutex_lock(&ep->mu);
	it = ep_find(ep, ss, fd);
	if (!it && (ss->state == SS_KERNEL || op != EPOLL_CTL_ADD)) {
		/* the kernel's alone: it holds it, or says ENOENT */
		rc = REAL(epoll_ctl)(epfd, op, fd, ev) < 0 ? -errno : 0;
		if (!rc && op == EPOLL_CTL_ADD)
			ep->kused = 1;
	} else if (op != EPOLL_CTL_DEL && !ev) {
		rc = -EFAULT;
	} else if (op == EPOLL_CTL_ADD) {
		rc = it ? -EEXIST : ep_ctl_add(ep, epfd, ss, fd, ev);
	} else if (op == EPOLL_CTL_MOD) {
		rc = ep_ctl_mod(it, epfd, ev);
	} else if (op == EPOLL_CTL_DEL) {
		if (it->in_kernel)
			REAL(epoll_ctl)(epfd, op, fd, ev);
		item_unlink(ep, it);
		free(it);
		rc = 0;
	} else {
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&ep->mu);
	pthread_mutex_unlock(&shim_mu);
	if (rc == 0 && op == EPOLL_CTL_DEL && atomic_load_explicit(&ep->efd, memory_order_relaxed) >= 0)
		ep_refresh(ep, 0); /* it may have been the only ready member */
	return (int)shim_ret(rc);
}

/* fd lifetime: the epoll set and the socket stay allocated for the call,
 * however another thread closes or reuses their fds meanwhile. */
SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct fobj *pe, *pf;
	int r;

	if (SHIM_INSIDE())
		return REAL(epoll_ctl)(epfd, op, fd, ev);
	pe = fdtab_hold(epfd);
	pf = fdtab_hold(fd);
	r = ep_ctl_pinned(epfd, op, fd, ev);
	fobj_release(pf);
	fobj_release(pe);
	return r;
}

/* ---- epoll_wait ---- */

/* Report the queued bypassed items that are ready, at most max. The hot
 * path of epoll_wait: under the instance's rt_lock alone (notifications
 * queue items under it; unlinking an item takes it), plus the ready list's
 * spinlock. One instance per process (RT_INST_MAX): an item of another
 * instance would stay queued. */
static int ep_collect_user(struct sepoll *ep, struct stack *st, struct epoll_event *out, int max)
{
	struct sitem *list, *keep = NULL, **keep_tail = &keep;
	int n = 0;

	rt_lock(st);
	pthread_spin_lock(&ep->rlock);
	list = ep->rhead;
	ep->rhead = ep->rtail = NULL;
	for (struct sitem *it = list; it; it = it->r_next)
		it->queued = 0;
	atomic_store_explicit(&ep->nready, 0, memory_order_release);
	pthread_spin_unlock(&ep->rlock);

	while (list) {
		struct sitem *it = list;
		uint32_t e;

		list = it->r_next;
		if (!it->in_user || it->disarmed || !it->ss->sk)
			continue;
		if (n == max || it->ss->st != st) {
			/* no room, or not this instance's: back on the list */
			it->r_next = NULL;
			*keep_tail = it;
			keep_tail = &it->r_next;
			continue;
		}
		e = sock_events(it->ss->sk) & (it->events | EPOLLERR | EPOLLHUP);
		if (!e)
			continue;
		out[n].events = e;
		out[n].data = it->data;
		n++;
		if (it->events & EPOLLONESHOT) {
			it->disarmed = 1;
		} else if (!(it->events & EPOLLET)) {
			it->r_next = NULL; /* level-triggered: stays ready */
			*keep_tail = it;
			keep_tail = &it->r_next;
		}
	}
	/* requeue in order, skipping items a notification queued meanwhile */
	while (keep) {
		struct sitem *it = keep;
		keep = it->r_next;
		ep_queue(it);
	}
	/* nothing left queued: not ready for an outside observer either */
	if (unlikely(ep->efd_set) && !ep->rhead)
		ep_efd_drain(ep);
	rt_unlock(st);
	return n;
}

/* A bypassed listener also listens on the kernel: if both sides reported
 * it in one call, report it once (events merged). The bypassed events are
 * ev[u0..u1), the kernel's the rest. */
static int ep_dedupe(struct epoll_event *ev, int n, int u0, int u1)
{
	int w = 0;

	for (int i = 0; i < n; i++) {
		int dup = 0;
		for (int u = u0; u < u1 && (i < u0 || i >= u1) && !dup; u++) {
			if (ev[u].data.u64 == ev[i].data.u64) {
				ev[u].events |= ev[i].events; /* ev[u] is not moved yet */
				dup = 1;
			}
		}
		if (!dup)
			ev[w++] = ev[i];
	}
	return w;
}

/* The kernel side's ready events, at most room, without the eventfd's:
 * when it took a slot of a full answer, once more (the kernel moved it
 * behind the others). Count or -errno. */
static int ep_kernel_look(struct sepoll *ep, int epfd, struct epoll_event *ev, int room)
{
	int k = 0;

	for (int tries = 0; tries < 2 && k < room; tries++) {
		sig_wait_begin();
		int r = REAL(epoll_wait)(epfd, ev + k, room - k, 0);
		if (r < 0 && errno == EINTR && sig_wait_resume(0))
			r = 0; /* a driver's signal, not the program's */
		if (r < 0)
			return -errno;
		int f = ep_filter(ep, ev + k, r);
		int full = r == room - k;
		k += f;
		if (f == r || !full)
			break;
	}
	return k;
}

static int ep_ready(void *arg)
{
	return atomic_load_explicit(&((struct sepoll *)arg)->nready, memory_order_acquire) > 0;
}

static struct stack *ep_stack(struct sepoll *ep)
{
	struct stack *st = NULL;
	pthread_mutex_lock(&ep->mu);
	for (struct sitem *it = ep->items; it && !st; it = it->ep_next)
		if (it->in_user && it->ss->sk)
			st = it->ss->st;
	pthread_mutex_unlock(&ep->mu);
	return st;
}

/* Attach every bypassed description in the set (the lazy start of a forked
 * nginx worker happens here). */
int ep_attach_all(int epfd)
{
	struct sepoll *ep = ep_of(fdtab_get(epfd));

	if (!ep)
		return 0;
	shim_stack_prestart();
	pthread_mutex_lock(&shim_mu);
	for (;;) {
		struct ssock *ss = NULL;
		int fd = -1;
		pthread_mutex_lock(&ep->mu);
		for (struct sitem *it = ep->items; it; it = it->ep_next) {
			if (it->in_user && !it->ss->sk && !it->ss->dead) {
				ss = it->ss;
				fd = it->fd;
				break;
			}
		}
		if (!ss)
			ep->nattach = 0;
		pthread_mutex_unlock(&ep->mu);
		if (!ss)
			break;
		int rc = ss_attach_locked(ss, fd);
		if (rc < 0 && ss->state == SS_BYPASS && !ss->sk)
			ss->dead = rc; /* on_error = fail: its calls fail from now on */
	}
	pthread_mutex_unlock(&shim_mu);
	return 0;
}

/* ---- sets inside sets, and sets seen by poll or select ---- */

/* A nested set still at the fd it was added under, or NULL. */
static struct sepoll *ep_kid_get(const struct ep_kid *k)
{
	struct sepoll *kid = ep_of(fdtab_get(k->fd));
	return kid && kid->serial == k->serial ? kid : NULL;
}

/* A copy of ep's nested sets, taken under its mu: the caller follows them
 * without holding it. *out is small unless there were more (then freed). */
static int ep_kids_copy(struct sepoll *ep, struct ep_kid *small, int nsmall, struct ep_kid **out)
{
	int n;

	pthread_mutex_lock(&ep->mu);
	n = ep->nkids;
	*out = small;
	if (n > nsmall && !(*out = malloc((size_t)n * sizeof(**out)))) {
		*out = small;
		n = nsmall;
	}
	if (n)
		memcpy(*out, ep->kids, (size_t)n * sizeof(**out));
	pthread_mutex_unlock(&ep->mu);
	return n;
}

/* ADD or DEL of the set kid (at fd) in ep succeeded: keep ep's list. */
static void ep_kid_note(struct sepoll *ep, int op, int fd, struct sepoll *kid)
{
	pthread_mutex_lock(&ep->mu);
	for (int i = 0; i < ep->nkids; i++)
		if (ep->kids[i].fd == fd || !ep_kid_get(&ep->kids[i]))
			ep->kids[i--] = ep->kids[--ep->nkids]; /* this one, or closed */
	if (op == EPOLL_CTL_ADD) {
		if (ep->nkids == ep->kcap) {
			int cap = ep->kcap ? 2 * ep->kcap : 4;
			struct ep_kid *k = realloc(ep->kids, (size_t)cap * sizeof(*k));
			if (k) {
				ep->kids = k;
				ep->kcap = cap;
			}
		}
		if (ep->nkids < ep->kcap)
			ep->kids[ep->nkids++] = (struct ep_kid){.fd = fd, .serial = kid->serial};
	}
	pthread_mutex_unlock(&ep->mu);
}

/* The instance of the bypassed sockets in ep or in the sets nested in it
 * (attaching them on first use), NULL if there are none. No lock held. */
static struct stack *ep_stack_deep(struct sepoll *ep, int fd, int depth)
{
	struct ep_kid small[8], *k;
	struct stack *st = NULL;
	int n;

	if (ep->nattach > 0)
		ep_attach_all(fd);
	if (ep->nuser > 0 && !(st = ep->st))
		st = ep->st = ep_stack(ep);
	if (st || !ep->nkids || depth + 1 >= EP_MAX_NESTS)
		return st;
	n = ep_kids_copy(ep, small, 8, &k);
	for (int i = 0; i < n && !st; i++) {
		struct sepoll *kid = ep_kid_get(&k[i]);
		if (kid && kid != ep)
			st = ep_stack_deep(kid, k[i].fd, depth + 1);
	}
	if (k != small)
		free(k);
	return st;
}

/* The set is about to be seen from outside: give it its eventfd. */
static void ep_expose(struct sepoll *ep, int fd)
{
	if (atomic_load_explicit(&ep->efd, memory_order_acquire) >= 0)
		return;
	pthread_mutex_lock(&ep->mu);
	if (atomic_load_explicit(&ep->efd, memory_order_relaxed) < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ep_marker(ep)};
		int e = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (e >= 0 && REAL(epoll_ctl)(fd, EPOLL_CTL_ADD, e, &ev) < 0) {
			REAL(close)(e);
			e = -1;
		}
		if (e >= 0) {
			ep->efd_reg = 1;
			ep->kused = 1;
			atomic_store_explicit(&ep->efd, e, memory_order_release);
		} else {
			log_debug("epoll fd %d: no eventfd (%s): its bypassed members stay unseen from outside", fd,
				  strerror(errno));
		}
	}
	pthread_mutex_unlock(&ep->mu);
}

static void ep_refresh_kids(struct sepoll *ep, int depth)
{
	struct ep_kid small[8], *k;
	int n = ep_kids_copy(ep, small, 8, &k);

	for (int i = 0; i < n; i++) {
		struct sepoll *kid = ep_kid_get(&k[i]);
		if (kid && kid != ep)
			ep_refresh(kid, depth + 1);
	}
	if (k != small)
		free(k);
}

/* Make the kernel's view of ep match Linux's before the kernel looks at it
 * from outside: nested sets first, then the queued bypassed items are
 * re-checked (those no longer ready leave the list, as the kernel's poll
 * of an epoll drops them) and the eventfd is signalled or drained. */
static void ep_refresh(struct sepoll *ep, int depth)
{
	struct sitem **pp, *it, *prev = NULL;
	struct stack *st;
	int ready = 0;

	if (depth >= EP_MAX_NESTS)
		return;
	if (ep->nkids)
		ep_refresh_kids(ep, depth);
	if (atomic_load_explicit(&ep->efd, memory_order_acquire) < 0)
		return;
	if (ep->nuser <= 0 || !(st = ep->st ? ep->st : (ep->st = ep_stack(ep)))) {
		ep_efd_drain(ep); /* no bypassed member: nothing can be ready */
		return;
	}
	rt_lock(st);
	pthread_spin_lock(&ep->rlock);
	for (pp = &ep->rhead; (it = *pp);) {
		uint32_t e = 0;
		int other = it->ss->sk && it->ss->st != st;
		if (it->in_user && !it->disarmed && it->ss->sk && !other)
			e = sock_events(it->ss->sk) & (it->events | EPOLLERR | EPOLLHUP);
		if (e || other) {
			ready |= e != 0;
			prev = it;
			pp = &it->r_next;
			continue;
		}
		*pp = it->r_next;
		it->queued = 0;
		atomic_fetch_sub_explicit(&ep->nready, 1, memory_order_release);
	}
	ep->rtail = prev;
	pthread_spin_unlock(&ep->rlock);
	if (ready)
		ep_efd_signal(ep, 0);
	else
		ep_efd_drain(ep);
	rt_unlock(st);
}

/* poll or select names fd: if it is an epoll set with bypassed members
 * (its own or in nested sets), make the kernel see their readiness and
 * return their instance (which the caller then drives); else NULL. */
struct stack *ep_outside(int fd)
{
	struct fobj *pin;
	struct sepoll *ep;
	struct stack *st = NULL;

	if (!shim_tracks(fd))
		return NULL;
	pin = fdtab_hold(fd); /* a close by another thread cannot free it meanwhile */
	if ((ep = ep_of(pin))) {
		if ((st = ep_stack_deep(ep, fd, 0)))
			ep_expose(ep, fd);
		ep_refresh(ep, 0);
	}
	fobj_release(pin);
	return st;
}

struct ep_gen {
	struct sepoll *ep;
	unsigned gen;
};

/* A set with nested sets: any notification may concern them. */
static int ep_ready_gen(void *arg)
{
	struct ep_gen *g = arg;
	return atomic_load_explicit(&g->ep->nready, memory_order_acquire) > 0 ||
	       atomic_load_explicit(&shim_gen, memory_order_acquire) != g->gen;
}

/* A set with an eventfd but no bypassed member now: the kernel's wait,
 * without the eventfd's events. */
static int ep_wait_kernel(struct sepoll *ep, int epfd, struct epoll_event *ev, int max, uint64_t deadline,
			  int zero)
{
	for (;;) {
		uint64_t now = rt_now();
		int ms = zero || deadline <= now ? 0
		       : deadline == UINT64_MAX  ? -1
						 : (int)((deadline - now + 999999) / 1000000 > INT32_MAX
								 ? INT32_MAX
								 : (deadline - now + 999999) / 1000000);
		int k;

		ep_efd_drain(ep);
		k = REAL(epoll_wait)(epfd, ev, max, ms);
		if (k < 0)
			return -errno;
		if ((k = ep_filter(ep, ev, k)) > 0 || ms == 0)
			return k;
	}
}

/* The kernel epoll this set's waits use: a private dup, made at the first
 * wait while epfd is still the set's (checked under shim_mu: close() empties
 * the slot before it releases the number). A close of epfd by another thread
 * then leaves the wait's epoll and its members in place, as on Linux, where
 * the wait holds the file. The dup is close-on-exec, numbered out of the
 * program's way where the limit allows. */
static int ep_kfd(struct sepoll *ep, int epfd)
{
	int k = atomic_load_explicit(&ep->kfd, memory_order_acquire);

	if (k >= 0)
		return k;
	pthread_mutex_lock(&shim_mu);
	if ((k = atomic_load(&ep->kfd)) < 0 && ep_of(fdtab_get(epfd)) == ep) {
		if ((k = REAL(fcntl)(epfd, F_DUPFD_CLOEXEC, 256)) < 0)
			k = REAL(fcntl)(epfd, F_DUPFD_CLOEXEC, 3);
		if (k >= 0)
			atomic_store_explicit(&ep->kfd, k, memory_order_release);
	}
	pthread_mutex_unlock(&shim_mu);
	return k >= 0 ? k : epfd;
}

/* 0..max events, -errno, or 1 in *kernel_only when the set turned out to
 * hold kernel fds alone (the caller then makes the plain system call). */
static int ep_wait(struct sepoll *ep, int epfd, struct epoll_event *ev, int max, uint64_t deadline,
		   int timeout_zero, int *kernel_only)
{
	struct stack *st;
	int polled = 0;

	*kernel_only = 0;
	if (max <= 0)
		return -EINVAL;
	/* one instance per process for now (RT_INST_MAX) */
	if (!(st = ep_stack_deep(ep, epfd, 0))) {
		if (ep->nkids)
			ep_refresh_kids(ep, 0); /* eventfds left signalled */
		if (ep->efd_reg)
			return ep_wait_kernel(ep, ep_kfd(ep, epfd), ev, max, deadline, timeout_zero);
		*kernel_only = 1;
		return 0;
	}
	/* The program's calls drive the stack: a program whose waits always
	 * find something ready (a writable socket) never blocks in rt_wait,
	 * so each wait polls once first, or input would never be read. */
	rt_poll(st);
	polled = 1;
	for (;;) {
		/* bypassed events first; the kernel side is asked (a system call)
		 * when nothing bypassed is ready, and every 8th call for fairness,
		 * if it ever held an fd; after a full answer, the other side
		 * first (maxevents 1 alternates, as Linux's rotation does) */
		struct ep_gen g = {ep, atomic_load_explicit(&shim_gen, memory_order_acquire)};
		int kfd = ep->kused ? ep_kfd(ep, epfd) : -1;
		int fair = (ep->turn++ & 7) == 0;
		int kfirst = ep->kfirst && ep->kused;
		int n = 0, nu = 0, k = 0, u0 = 0;

		if (ep->nkids)
			ep_refresh_kids(ep, 0); /* before the kernel polls them */
		if (kfirst) {
			if ((k = ep_kernel_look(ep, kfd, ev, max)) < 0)
				return k;
			u0 = k;
			if (k < max)
				nu = ep_collect_user(ep, st, ev + k, max - k);
		} else {
			nu = ep_collect_user(ep, st, ev, max);
			if (nu < max && (nu == 0 || fair) && ep->kused &&
			    (k = ep_kernel_look(ep, kfd, ev + nu, max - nu)) < 0)
				return k;
		}
		n = nu + k;
		ep->kfirst = n == max && !kfirst;
		if (ep->ndual && k && nu)
			n = ep_dedupe(ev, n, u0, u0 + nu);
		if (n > 0)
			return n;
		if (timeout_zero) {
			if (polled++)
				return 0;
			rt_poll(st);
			continue;
		}
		sig_wait_begin();
		int w = ep->nkids ? rt_wait(st, ep_ready_gen, &g, deadline, kfd)
				  : rt_wait(st, ep_ready, ep, deadline, kfd);
		if (w == -EINTR && !sig_wait_resume(0))
			return -EINTR; /* epoll_wait is never restarted */
		if (w == -ETIMEDOUT) {
			timeout_zero = 1; /* one last look at both sides */
			polled = 1;
		}
	}
}

/* deadline from a millisecond timeout: <0 none, 0 poll */
static uint64_t ms_deadline(int ms)
{
	return ms < 0 ? UINT64_MAX : rt_now() + (uint64_t)ms * 1000000ull;
}

static int ep_run(int epfd, struct epoll_event *ev, int max, uint64_t deadline, int zero,
		  const sigset_t *sigmask, int *out)
{
	sigset_t old;
	int r, kernel_only;
	struct fobj *pin = fdtab_hold(epfd); /* fd lifetime: the set outlives a close meanwhile */

	if (!ep_of(pin)) {
		fobj_release(pin);
		return 0;
	}
	if (sigmask)
		pthread_sigmask(SIG_SETMASK, sigmask, &old);
	r = ep_wait(ep_of(pin), epfd, ev, max, deadline, zero, &kernel_only);
	if (sigmask)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	fobj_release(pin);
	if (kernel_only)
		return 0;
	*out = (int)shim_ret(r);
	return 1;
}

static int ep_mixed(int epfd)
{
	struct fobj *pin;
	struct sepoll *ep;
	int r;

	if (!shim_tracks(epfd))
		return 0;
	pin = fdtab_hold(epfd);
	r = (ep = ep_of(pin)) && (ep->nuser > 0 || ep->nkids > 0 || ep->efd_reg);
	fobj_release(pin);
	return r;
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	int n;
	if (ep_mixed(epfd) && ep_run(epfd, ev, max, ms_deadline(timeout), timeout == 0, NULL, &n))
		return n;
	return REAL(epoll_wait)(epfd, ev, max, timeout);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *sigmask)
{
	int n;
	if (ep_mixed(epfd) && ep_run(epfd, ev, max, ms_deadline(timeout), timeout == 0, sigmask, &n))
		return n;
	return REAL(epoll_pwait)(epfd, ev, max, timeout, sigmask);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max, const struct timespec *timeout,
			     const sigset_t *sigmask)
{
	int n;
	if (ep_mixed(epfd)) {
		if (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000))
			return (int)shim_ret(-EINVAL);
		uint64_t dl = timeout ? rt_now() + ts_ns(timeout) : UINT64_MAX;
		int zero = timeout && !timeout->tv_sec && !timeout->tv_nsec;
		if (ep_run(epfd, ev, max, dl, zero, sigmask, &n))
			return n;
	}
	return REAL(epoll_pwait2)(epfd, ev, max, timeout, sigmask);
}
