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

__attribute__((destructor)) static void shim_dtor(void)
{
	if (cfg.active && rt_started()) {
		shim_enter();
		rt_shutdown();
		shim_leave();
	}
}
