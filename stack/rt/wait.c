/* The wait loop (rt_wait): drive the stack while the application blocks.
 *
 * Busy-poll while passes find work and for spin_us after the last work,
 * then sleep in ppoll() on the device's interrupt fd (armed first, then one
 * more pass to close the race) and the caller's kernel fd, until the stack's
 * next timer, the deadline, or a cap (RT_SLEEP_CAP_NS without an interrupt
 * fd: the bounded sleep). The sleep is a raw system call, so a libc
 * interposer never sees the runtime's own waits. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rt_impl.h"

#define RT_SLEEP_CAP_NS (1000 * 1000ull)            /* no interrupt fd: 1 ms, after 20, 40, 80 us ... naps */
#define RT_SLEEP_CAP_INTR_NS (100 * 1000 * 1000ull) /* with one: a safety net */
#define RT_KFD_CHECK_EVERY 64                       /* spinning passes between kernel fd checks */
/* Idle spinning passes between clock reads. A pass that finds nothing takes
 * about 60 ns and the clock read was a sixth of it (a fifth of the samples
 * in a ping-pong); timers and deadlines see the clock at most ~0.5 us late. */
#define RT_CLOCK_EVERY 8

static __thread volatile sig_atomic_t sig_seen; /* bumped by rt_note_signal() */

uint64_t rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rt_note_signal(void)
{
	sig_seen++;
}

static int fd_readable_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { 0, 0 };
	return syscall(SYS_ppoll, &p, 1, &ts, NULL, (size_t)8) == 1;
}

/* How long the next sleep may last from now, in ns: until the next timer,
 * the deadline, or the cap. */
static uint64_t sleep_length(struct rt_inst *in, uint64_t now, uint64_t deadline, int intr)
{
	uint64_t until, next = stack_next_timer(in->st);
	if (intr) {
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
	return until > now ? until - now : 0;
}

/* Sleep until the device, kernel_fd, the next timer, the deadline or the
 * cap. Called and returns with the instance locked. 1: kernel_fd readable,
 * -EINTR: a signal, 0: otherwise. */
static int sleep_once(struct rt_inst *in, struct sched *s, uint64_t deadline, int kfd)
{
	struct netif *nif = in->nif;
	int wfd = nif->ops->wait_fd ? nif->ops->wait_fd(nif) : -1;
	struct pollfd fds[2 + RT_HO_FDS];
	struct timespec ts;
	sigset_t mask;
	uint64_t now, len;
	int n = 0, r, e;

	if (wfd >= 0 && nif->ops->intr_arm && nif->ops->intr_arm(nif, 1) != 0)
		wfd = -1;
	/* a frame may have come between the last pass and arming; the
	 * counters file is brought up to date before a possibly long sleep */
	now = rt_now();
	in->next_publish = 0;
	if (rt_sched_pass(in, s, now) > 0) {
		if (wfd >= 0)
			nif->ops->intr_arm(nif, 0);
		return 0;
	}
	len = sleep_length(in, now, deadline, wfd >= 0);
	ts.tv_sec = (time_t)(len / 1000000000u);
	ts.tv_nsec = (long)(len % 1000000000u);
	if (wfd >= 0)
		fds[n++] = (struct pollfd){ .fd = wfd, .events = POLLIN };
	n += rt_ho_fds(in, fds + n); /* what the device's other processes pass on */
	if (kfd >= 0)
		fds[n++] = (struct pollfd){ .fd = kfd, .events = POLLIN };

	/* The device's own signal stays blocked while asleep: net_tap raises
	 * one for every frame (its rx trigger) and it would end each sleep as a
	 * false -EINTR. It is delivered on return; the device fd is what wakes us.
	 * Without such a signal the mask is left as it is (no system call to
	 * read it). */
	if (in->dev_sig) {
		pthread_sigmask(SIG_BLOCK, NULL, &mask);
		sigaddset(&mask, in->dev_sig);
	}
	in->ctr[RT_SLEEPS]++;
	atomic_fetch_add(&in->pg.sleepers, 1);
	rt_inst_unlock(in);
	r = (int)syscall(SYS_ppoll, fds, (unsigned long)n, &ts, in->dev_sig ? &mask : NULL, (size_t)8);
	e = errno;
	rt_inst_lock(in);
	if (atomic_fetch_sub(&in->pg.sleepers, 1) == 1 && atomic_load(&in->pg.parked))
		rt_progress_unpark(in);
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
		in->next_publish = 0; /* a handover socket is read at housekeeping */
	if (r > 0)
		in->ctr[RT_WAKE_DEVICE]++;
	else
		in->ctr[RT_WAKE_TIMEOUT]++;
	return 0;
}

int rt_wait(struct stack *st, int (*ready)(void *), void *arg, uint64_t deadline_ns, int kernel_fd)
{
	struct rt_inst *in = rt_inst_of(st);
	struct sched *s;
	uint64_t now, spin_ns, spin_until;
	unsigned kcheck = 0, idle = 0;
	sig_atomic_t sig0;
	int rc;

	if (!in)
		return -EINVAL;
	if (in->in_pass && atomic_load_explicit(&in->owner, memory_order_relaxed) == rt_self())
		return -EDEADLK; /* from a callback inside a pass: it could only spin */
	sig0 = sig_seen;
	s = rt_sched_get(in);
	spin_ns = (uint64_t)rt.cfg.spin_us * 1000u;
	rt_inst_lock(in);
	now = rt_now();
	spin_until = now + spin_ns;
	for (;;) {
		if (ready && ready(arg)) {
			rc = 0;
			break;
		}
		if (rt_sched_pass(in, s, now) > 0) {
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
			rt_inst_unlock(in);
			rt_cpu_relax();
			rt_inst_lock(in);
			continue;
		}
		if ((rc = sleep_once(in, s, deadline_ns, kernel_fd)) != 0)
			break;
		now = rt_now();
		spin_until = now; /* spin again only once work shows up */
	}
	rt_inst_unlock(in);
	return rc;
}
