/* The real libc functions behind every wrapper, found with dlsym(RTLD_NEXT).
 * Resolved all at once at load, or one by one on first use when a wrapper
 * runs earlier (another library's constructor). Lookups are idempotent, so
 * two threads resolving the same name at once store the same pointer. */
#include <dlfcn.h>

#include "shim.h"

#define CALL(r, n, p) r(*real_##n) p;
#include "calls.def"
#undef CALL

__thread int shim_depth __attribute__((tls_model("initial-exec")));
static __thread int resolving __attribute__((tls_model("initial-exec")));

/* What a wrapper calls when its real function does not exist (an older
 * libc without epoll_pwait2 or close_range) or is asked for while dlsym
 * itself is running: fail like a missing system call. */
static long real_missing(void)
{
	errno = ENOSYS;
	return -1;
}

void *real_resolve(void **slot, const char *name)
{
	void *p;

	if (resolving)
		return (void *)real_missing;
	resolving = 1;
	dlerror();
	p = dlsym(RTLD_NEXT, name);
	resolving = 0;
	if (!p)
		p = (void *)real_missing;
	__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	return p;
}

void real_init(void)
{
#define CALL(r, n, p) real_load((void **)&real_##n, #n);
#include "calls.def"
#undef CALL
}
