/* The stack library: the stack, the runtime and DPDK live in
 * libdemi-stack.so, in the directory libdemi.so was loaded from, and are
 * loaded where the runtime starts lazily: when a bypassed socket first needs
 * the stack (rt_stack()). A program that never opens one maps none of it,
 * DPDK's libraries (libbpf, libxdp, libnuma, ...) included.
 *
 * Loaded with RTLD_NOW (a missing symbol fails here, not at some later
 * call), RTLD_LOCAL (none of its names reach the program) and
 * RTLD_NODELETE (it is never unloaded; it is linked -z nodelete too). Its
 * constructors (DPDK's EAL and drivers register themselves) run in dlopen.
 * A library that cannot be loaded is a device that cannot start: rt_stack()
 * returns NULL and rt_error() names the file and the reason, and the
 * socket falls back as [fallback] on_error says. */
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

/* The library's file name beside libdemi.so; NULL in a build without one
 * (shim/none/nostack.c). */
__attribute__((weak)) const char *stack_lib_name = "libdemi-stack.so"; /* not const: read, not folded */

const struct stack_api *stack_api = &stack_api_none;
__thread const struct stack_api *stack_tls_warm_for __attribute__((tls_model("initial-exec")));

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static char load_path[PATH_MAX];
static char load_err[PATH_MAX + 256];
static struct stack_api boot;   /* none, with the two entries below */
static const struct stack_api *loaded; /* the library's */

static void load_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void load_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(load_err, sizeof(load_err), fmt, ap);
	va_end(ap);
}

/* 0 once the library's table is in use, -1 (load_err says why) if not. */
static int stack_load(void)
{
	void *h;
	const char *e;
	int rc;

	pthread_mutex_lock(&load_mu);
	if (loaded && stack_api_get() == loaded) {
		pthread_mutex_unlock(&load_mu);
		return 0;
	}
	if (!load_path[0]) /* no library: load_err already says why */
		goto fail;
	h = dlopen(load_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!h) {
		e = dlerror();
		e = e ? e : "unknown error";
		if (strstr(e, load_path))
			load_fail("cannot load the stack library: %s", e);
		else
			load_fail("cannot load the stack library %s: %s", load_path, e);
		goto fail;
	}
	loaded = dlsym(h, "demi_stack_api");
	if (!loaded || loaded->size != sizeof(*loaded)) {
		loaded = NULL;
		load_fail("%s is not the stack library of this libdemi.so", load_path);
		goto fail;
	}
	/* (name): the function, not the macro of stackapi.h */
	if ((rc = (loaded->rt_configure)(&cfg.rt)) != 0) {
		loaded = NULL;
		load_fail("the runtime refused the configuration (%s)", strerror(-rc));
		goto fail;
	}
	__atomic_store_n(&stack_api, loaded, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&load_mu);
	log_install(); /* the stack's log into the shim's */
	log_debug("loaded %s", load_path);
	return 0;
fail:
	pthread_mutex_unlock(&load_mu);
	return -1;
}

static struct stack *load_then_stack(void)
{
	if (stack_load() != 0)
		return NULL;
	return (stack_api_get()->rt_stack)();
}

static const char *load_error(void)
{
	return load_err;
}

static void load_atfork_child(void)
{
	pthread_mutex_init(&load_mu, NULL);
}

void stack_load_locate(void)
{
	Dl_info di;
	const char *self, *slash;
	char cwd[PATH_MAX];
	int n = -1;

	if (!stack_lib_name) {
		load_fail("no runtime in this build of libdemi");
	} else if (!dladdr((void *)stack_load_locate, &di) || !di.dli_fname || !di.dli_fname[0]) {
		load_fail("cannot find the stack library: dladdr does not know libdemi.so's own file");
	} else {
		self = di.dli_fname;
		slash = strrchr(self, '/');
		if (self[0] == '/')
			n = snprintf(load_path, sizeof(load_path), "%.*s/%s", (int)(slash - self), self, stack_lib_name);
		else if (getcwd(cwd, sizeof(cwd))) /* relative: to the directory the program started in */
			n = snprintf(load_path, sizeof(load_path), "%s/%.*s%s", cwd, slash ? (int)(slash - self + 1) : 0,
				     self, stack_lib_name);
		if (n < 0 || n >= (int)sizeof(load_path)) {
			load_path[0] = 0;
			load_fail("cannot find the stack library: no path for libdemi.so's directory (%s)", self);
		}
	}
	boot = stack_api_none;
	boot.rt_stack = load_then_stack;
	boot.rt_error = load_error;
	pthread_atfork(NULL, NULL, load_atfork_child);
	__atomic_store_n(&stack_api, &boot, __ATOMIC_RELEASE);
}
