/* Load-time set-up: resolve the real functions, read the config, register
 * the fork handlers. Nothing starts: the stack starts on first use, and
 * its library (stackload.c) is found now but loaded only then. */
#include "shim.h"

int shim_ready;

static void shim_init_once(void)
{
	shim_enter();
	real_init();
	cfg_load();
	if (cfg.active)
		stack_load_locate();
	fork_init();
	shim_leave();
	__atomic_store_n(&shim_ready, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void shim_ctor(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, shim_init_once);
}

static void exit_close(int fd, struct fobj *o, void *arg)
{
	(void)o, (void)arg;
	fobj_put(fdtab_take(fd), NULL);
}

/* Every way out of the process (exit and return from main through the
 * destructor, _exit and _Exit, a fatal signal's default action) comes here:
 * as the kernel does with a process's last descriptors, each bypassed
 * socket closes (its data then FIN, a reset if data was left unread) and
 * the runtime delivers them, bounded (rt_shutdown). Nothing to do without a
 * started runtime: a program with no bypassed socket, a forked child that
 * started none, a vfork child (another pid). shim_mu is only tried: a
 * signal may have come while this thread held it. */
void shim_exit_drain(void)
{
	if (!cfg.active || SHIM_INSIDE() || !rt_started())
		return;
	shim_enter();
	relay_exit();
	if (pthread_mutex_trylock(&shim_mu) == 0) {
		fdtab_foreach(exit_close, NULL);
		pthread_mutex_unlock(&shim_mu);
	}
	rt_shutdown();
	shim_leave();
}

__attribute__((destructor)) static void shim_dtor(void)
{
	shim_exit_drain();
}
