/* The stack and the runtime as the shim calls them: through one table of
 * function pointers (struct stack_api, one per line of stackapi.def), so
 * that they can live in a second library, build/libdemi-stack.so with DPDK,
 * which libdemi.so loads only when a bypassed socket first needs the stack
 * (stackload.c). A program that never opens one loads no DPDK. The library
 * exports the table alone, as demi_stack_api (shim/stacklib/export.c).
 *
 * The call sites keep the names of the public headers: rt_lock(st) below
 * is stack_api->rt_lock(st). Until the load the table is the runtime that
 * never starts (shim/none/rt_none.c: no instance, the kernel's clock),
 * except rt_stack(), which loads the library and then starts the runtime,
 * and rt_error(), which says why a load failed. */
#ifndef DEMI_SHIM_STACKAPI_H
#define DEMI_SHIM_STACKAPI_H

/* every prototype first: the macros below would rewrite them */
#include "demi/log.h"
#include "demi/rt.h"
#include "demi/stack.h"

struct stack_api {
	unsigned size; /* sizeof(struct stack_api) of the library's build */
#define API(n) __typeof__(n) *n;
#include "stackapi.def"
#undef API
};

/* The table in use: the runtime not loaded yet, then the loaded library's,
 * published once (release) after every pointer of it is set. */
extern const struct stack_api *stack_api;
/* The runtime that never starts (shim/none/rt_none.c); no socket calls. */
extern const struct stack_api stack_api_none;

static inline const struct stack_api *stack_api_get(void)
{
	return __atomic_load_n(&stack_api, __ATOMIC_ACQUIRE);
}

/* rt_note_signal() runs in signal handlers, and the thread-local storage
 * of a dlopen'ed library is allocated (malloc) by glibc on the thread's
 * first use of it: a handler must not be that first use. So a thread uses
 * it once outside any handler, before its first wait (rt_note_signal()
 * there changes nothing: no wait is in progress), and a handler calls
 * rt_note_signal() only on a thread that did; on any other no wait is in
 * progress, so there is nothing to note. */
extern __thread const struct stack_api *stack_tls_warm_for __attribute__((tls_model("initial-exec")));
static inline void stack_tls_warm(void)
{
	const struct stack_api *api = stack_api_get();
	if (stack_tls_warm_for != api) {
		api->rt_note_signal();
		stack_tls_warm_for = api;
	}
}

/* ---- stackload.c ---- */
/* At load time, with a configuration that bypasses sockets: note where the
 * stack library is (beside libdemi.so) while the working directory is
 * still the one the preload path was given relative to. */
void stack_load_locate(void);

#define rt_configure(...) (stack_api_get()->rt_configure(__VA_ARGS__))
#define rt_stack(...) (stack_api_get()->rt_stack(__VA_ARGS__))
#define rt_error(...) (stack_api_get()->rt_error(__VA_ARGS__))
#define rt_started(...) (stack_api_get()->rt_started(__VA_ARGS__))
#define rt_lock(...) (stack_api_get()->rt_lock(__VA_ARGS__))
#define rt_unlock(...) (stack_api_get()->rt_unlock(__VA_ARGS__))
#define rt_now(...) (stack_api_get()->rt_now(__VA_ARGS__))
#define rt_wait(...) (stack_tls_warm(), stack_api_get()->rt_wait(__VA_ARGS__))
#define rt_poll(...) (stack_api_get()->rt_poll(__VA_ARGS__))
#define rt_note_signal(...) \
	(stack_tls_warm_for == stack_api_get() ? stack_api_get()->rt_note_signal(__VA_ARGS__) : (void)0)
#define rt_atfork_child(...) (stack_api_get()->rt_atfork_child(__VA_ARGS__))
#define rt_shutdown(...) (stack_api_get()->rt_shutdown(__VA_ARGS__))
#define demi_log_set(...) (stack_api_get()->demi_log_set(__VA_ARGS__))
#define sock_create(...) (stack_api_get()->sock_create(__VA_ARGS__))
#define sock_create_af(...) (stack_api_get()->sock_create_af(__VA_ARGS__))
#define sock_bind(...) (stack_api_get()->sock_bind(__VA_ARGS__))
#define sock_listen(...) (stack_api_get()->sock_listen(__VA_ARGS__))
#define sock_accept(...) (stack_api_get()->sock_accept(__VA_ARGS__))
#define sock_connect(...) (stack_api_get()->sock_connect(__VA_ARGS__))
#define sock_send(...) (stack_api_get()->sock_send(__VA_ARGS__))
#define sock_recv(...) (stack_api_get()->sock_recv(__VA_ARGS__))
#define sock_shutdown(...) (stack_api_get()->sock_shutdown(__VA_ARGS__))
#define sock_close(...) (stack_api_get()->sock_close(__VA_ARGS__))
#define sock_setopt(...) (stack_api_get()->sock_setopt(__VA_ARGS__))
#define sock_getopt(...) (stack_api_get()->sock_getopt(__VA_ARGS__))
#define sock_name(...) (stack_api_get()->sock_name(__VA_ARGS__))
#define sock_peer(...) (stack_api_get()->sock_peer(__VA_ARGS__))
#define sock_events(...) (stack_api_get()->sock_events(__VA_ARGS__))
#define sock_set_notify(...) (stack_api_get()->sock_set_notify(__VA_ARGS__))
#define sock_take_error(...) (stack_api_get()->sock_take_error(__VA_ARGS__))
#define sock_rx_bytes(...) (stack_api_get()->sock_rx_bytes(__VA_ARGS__))
#define sock_tx_bytes(...) (stack_api_get()->sock_tx_bytes(__VA_ARGS__))
#define sock_stack(...) (stack_api_get()->sock_stack(__VA_ARGS__))
#define stack_tcp_closing(...) (stack_api_get()->stack_tcp_closing(__VA_ARGS__))

#endif
