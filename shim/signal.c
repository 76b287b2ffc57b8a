/* Signals, for EINTR with Linux's meaning. A blocking call on a bypassed
 * socket waits in rt_wait(), which returns -EINTR whenever a signal handler
 * ran, including the handler a DPDK driver installed for itself (net_tap
 * raises SIGIO for every frame). So the program's handlers run through a
 * trampoline that marks the thread: a wait interrupted without the mark is
 * resumed; with it, the call is restarted if the handler had SA_RESTART and
 * the call is restartable (accept, connect, recv, send without a timeout),
 * else it fails with EINTR, as the kernel decides. Only with an active
 * config; sigaction(oldact) reports the program's own handler. */
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
	} else {
		r = REAL(sigaction)(sig, act, &kold);
	}
	if (r == 0 && old)
		*old = sig_is_tramp(&kold) ? prev : kold;
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
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction k;
		if (REAL(sigaction)(sigs[i], NULL, &k) != 0 || sig_is_tramp(&k) || (k.sa_flags & SA_RESTART) ||
		    (!(k.sa_flags & SA_SIGINFO) && (k.sa_handler == SIG_DFL || k.sa_handler == SIG_IGN)))
			continue;
		k.sa_flags |= SA_RESTART;
		REAL(sigaction)(sigs[i], &k, NULL);
	}
}
