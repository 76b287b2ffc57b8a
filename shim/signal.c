/* Signals, for EINTR with Linux's meaning. A blocking call on a bypassed
 * socket waits in rt_wait(), which returns -EINTR whenever a signal handler
 * ran, including the handler a DPDK driver installed for itself (net_tap
 * raises SIGIO for every frame). So the program's handlers run through a
 * trampoline that marks the thread: a wait interrupted without the mark is
 * resumed; with it, the call is restarted if the handler had SA_RESTART and
 * the call is restartable (accept, connect, recv, send without a timeout),
 * else it fails with EINTR, as the kernel decides. Only with an active
 * config; sigaction(oldact) reports the program's own handler. */
#include <stdlib.h>
#include <string.h>

#include "shim.h"

static struct sigaction sig_app[_NSIG];
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int sig_ran __attribute__((tls_model("initial-exec")));
static __thread int sig_norestart __attribute__((tls_model("initial-exec")));

static void sig_tramp(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *a = &sig_app[sig];

	sig_ran = 1;
	if (!(a->sa_flags & SA_RESTART))
		sig_norestart = 1;
	rt_note_signal(); /* a wait in progress on this thread ends with EINTR */
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else if (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN)
		a->sa_handler(sig);
}

static int sig_is_tramp(const struct sigaction *k)
{
	return (k->sa_flags & SA_SIGINFO) && k->sa_sigaction == sig_tramp;
}

/* Signals whose default action ends the process while the kernel would
 * still deliver what its sockets hold. Once the stack is up in a process,
 * those the program left at SIG_DFL get sig_drain: it delivers
 * (shim_exit_drain), then raises the signal again with the default action,
 * so the parent sees death by that signal. The program's own handlers
 * replace it (they end by exit(), which delivers); asking sigaction for the
 * action reports SIG_DFL; a forked child that inherited it without a stack
 * dies at once. */
static const int sig_fatal[] = {SIGTERM, SIGINT, SIGHUP};
static int sig_armed;

static void sig_drain(int sig)
{
	struct sigaction dfl;
	sigset_t s;

	shim_exit_drain();
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	REAL(sigaction)(sig, &dfl, NULL);
	raise(sig); /* pending while this handler runs: delivered on unblock */
	sigemptyset(&s);
	sigaddset(&s, sig);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

static int sig_is_drain(const struct sigaction *k)
{
	return !(k->sa_flags & SA_SIGINFO) && k->sa_handler == sig_drain;
}

static int sig_is_fatal(int sig)
{
	for (unsigned i = 0; i < sizeof(sig_fatal) / sizeof(sig_fatal[0]); i++)
		if (sig_fatal[i] == sig)
			return 1;
	return 0;
}

/* sig_drain as the kernel's action for sig, with sig_mu held */
static void sig_drain_action(struct sigaction *k)
{
	memset(k, 0, sizeof(*k));
	k->sa_handler = sig_drain;
	sigemptyset(&k->sa_mask);
	for (unsigned i = 0; i < sizeof(sig_fatal) / sizeof(sig_fatal[0]); i++)
		sigaddset(&k->sa_mask, sig_fatal[i]);
}

/* Once the stack is up: the fatal signals, and exit()'s own drain. The
 * runtime registered rt_shutdown with atexit as it started; registered
 * after it, shim_exit_drain runs first and closes the sockets for it to
 * deliver. */
static void sig_exit_arm(void)
{
	static int atexit_done;

	if (__atomic_load_n(&sig_armed, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&sig_mu);
	if (!atexit_done++)
		atexit(shim_exit_drain);
	for (unsigned i = 0; i < sizeof(sig_fatal) / sizeof(sig_fatal[0]) && !sig_armed; i++) {
		struct sigaction k;
		if (REAL(sigaction)(sig_fatal[i], NULL, &k) != 0 || (k.sa_flags & SA_SIGINFO) ||
		    k.sa_handler != SIG_DFL)
			continue;
		sig_drain_action(&k);
		REAL(sigaction)(sig_fatal[i], &k, NULL);
	}
	__atomic_store_n(&sig_armed, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sig_mu);
}

/* After fork: the child arms again once it starts a stack of its own. */
void sig_atfork_child(void)
{
	pthread_mutex_init(&sig_mu, NULL);
	sig_armed = 0;
}

static int sig_wrappable(int sig)
{
	return !SHIM_INSIDE() && cfg.active && sig > 0 && sig < _NSIG && sig != SIGKILL && sig != SIGSTOP;
}

static int shim_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction k, kold, prev;
	int r;

	pthread_mutex_lock(&sig_mu);
	prev = sig_app[sig];
	if (act && ((act->sa_flags & SA_SIGINFO) || (act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN))) {
		k = *act;
		k.sa_flags |= SA_SIGINFO;
		k.sa_sigaction = sig_tramp;
		sig_app[sig] = *act; /* before the kernel can deliver through it */
		r = REAL(sigaction)(sig, &k, &kold);
		if (r < 0)
			sig_app[sig] = prev;
	} else if (act && act->sa_handler == SIG_DFL && sig_armed && sig_is_fatal(sig)) {
		sig_drain_action(&k); /* the default action, after delivering */
		r = REAL(sigaction)(sig, &k, &kold);
		if (r == 0)
			memset(&sig_app[sig], 0, sizeof(sig_app[sig]));
	} else {
		r = REAL(sigaction)(sig, act, &kold);
	}
	if (r == 0 && old) {
		if (sig_is_drain(&kold)) {
			memset(old, 0, sizeof(*old));
			old->sa_handler = SIG_DFL;
		} else {
			*old = sig_is_tramp(&kold) ? prev : kold;
		}
	}
	pthread_mutex_unlock(&sig_mu);
	return r;
}

SHIM_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (!sig_wrappable(sig))
		return REAL(sigaction)(sig, act, old);
	return shim_sigaction(sig, act, old);
}

SHIM_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction a, old;

	if (!sig_wrappable(sig))
		return REAL(signal)(sig, handler);
	/* glibc's signal(): BSD semantics */
	memset(&a, 0, sizeof(a));
	a.sa_handler = handler;
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, sig);
	a.sa_flags = SA_RESTART;
	if (shim_sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

void sig_wait_begin(void)
{
	sig_ran = 0;
	sig_norestart = 0;
}

int sig_wait_resume(int restartable)
{
	if (!sig_ran)
		return 1; /* no handler of the program ran: not an interruption */
	return restartable && !sig_norestart;
}

/* A driver's own signal handler (net_tap's SIGIO) gets SA_RESTART, so the
 * program's kernel calls that Linux restarts are not cut short by it. */
void sig_device_restart(void)
{
	static const int sigs[] = {SIGIO};
	sig_exit_arm();
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction k;
		if (REAL(sigaction)(sigs[i], NULL, &k) != 0 || sig_is_tramp(&k) || (k.sa_flags & SA_RESTART) ||
		    (!(k.sa_flags & SA_SIGINFO) && (k.sa_handler == SIG_DFL || k.sa_handler == SIG_IGN)))
			continue;
		k.sa_flags |= SA_RESTART;
		REAL(sigaction)(sigs[i], &k, NULL);
	}
}
