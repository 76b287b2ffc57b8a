/* Coroutines: asymmetric (a coroutine yields back to whoever switched to it),
 * stackful, one thread's only. Stacks are mmap'ed with a PROT_NONE guard page
 * below and recycled through a small per-thread pool. Under ASan every switch
 * is announced with the fiber API so it tracks the stack in use. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "co.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CO_ASAN 1
#else
#define CO_ASAN 0
#endif

#define CO_POOL_MAX 16

struct co {
	void *sp;             /* saved stack pointer while not running */
	void *stack_lo;       /* usable stack: [stack_lo, stack_lo + stack_size) */
	size_t stack_size;
	void *map;            /* mapping incl. guard page; NULL for the main co */
	size_t map_size;
	void (*fn)(void *);
	void *arg;
	struct co *caller;    /* where co_yield and the end of fn go */
	int finished;
	void *asan_fake;
	struct co *pool_next;
};

void demi_co_swap(void **save_sp, void *load_sp) __attribute__((visibility("hidden")));
void demi_co_trampoline(void) __attribute__((visibility("hidden")));
void demi_co_entry(struct co *co) __attribute__((visibility("hidden"), noreturn));

static __thread struct co main_co;
static __thread struct co *cur;
static __thread struct co *prev;  /* the coroutine that switched to the running one */
static __thread struct co *pool;  /* finished coroutines with default-size stacks */
static __thread unsigned pool_len;

struct co *co_main(void)
{
	if (!cur)
		cur = &main_co;
	return &main_co;
}

struct co *co_current(void)
{
	return cur ? cur : co_main();
}

/* After a switch lands: tell ASan, and learn the main stack's bounds the
 * first time we leave it (they are not known before). */
static void co_landed(struct co *self)
{
#if CO_ASAN
	const void *lo;
	size_t size;
	__sanitizer_finish_switch_fiber(self ? self->asan_fake : NULL, &lo, &size);
	if (prev && !prev->map && !prev->stack_lo) {
		prev->stack_lo = (void *)lo;
		prev->stack_size = size;
	}
#else
	(void)self;
#endif
}

static void co_swap(struct co *from, struct co *to)
{
#if CO_ASAN
	__sanitizer_start_switch_fiber(from->finished ? NULL : &from->asan_fake, to->stack_lo,
				       to->stack_size);
#endif
	prev = from;
	cur = to;
	demi_co_swap(&from->sp, to->sp);
	co_landed(from);
}

void demi_co_entry(struct co *co)
{
	co_landed(NULL);
	co->fn(co->arg);
	co->finished = 1;
	co_swap(co, co->caller);
	abort(); /* a finished coroutine is never resumed */
}

static int co_stack_new(struct co *co, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size = (size + page - 1) & ~(page - 1);
	co->map_size = size + page;
	co->map = mmap(NULL, co->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (co->map == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(co->map, page, PROT_NONE) != 0) { /* the guard page */
		munmap(co->map, co->map_size);
		return -ENOMEM;
	}
	co->stack_lo = (char *)co->map + page;
	co->stack_size = size;
	return 0;
}

/* Lay out the first frame so demi_co_swap "returns" into the trampoline. */
static void co_stack_prime(struct co *co)
{
	uintptr_t top = ((uintptr_t)co->stack_lo + co->stack_size) & ~(uintptr_t)15;
	uint64_t *f = (uint64_t *)(top - 24 - 64);
	uint32_t mxcsr;
	uint16_t fpucw;
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(fpucw));
	f[0] = fpucw;                          /* inherit the creator's FP control */
	f[1] = mxcsr;
	f[2] = f[3] = f[4] = f[5] = 0;         /* r15 r14 r13 r12 */
	f[6] = (uint64_t)(uintptr_t)co;        /* rbx: the trampoline's argument */
	f[7] = 0;                              /* rbp */
	f[8] = (uint64_t)(uintptr_t)demi_co_trampoline;
	co->sp = f;
}

int co_create(struct co **out, void (*fn)(void *), void *arg, size_t stack_size)
{
	struct co *co;
	co_main();
	if (!stack_size)
		stack_size = CO_STACK_DEFAULT;
	if (stack_size == CO_STACK_DEFAULT && pool) {
		co = pool;
		pool = co->pool_next;
		pool_len--;
#if CO_ASAN
		/* frames of the previous owner may have left poison behind */
		__asan_unpoison_memory_region(co->stack_lo, co->stack_size);
#endif
	} else {
		co = calloc(1, sizeof(*co));
		if (!co)
			return -ENOMEM;
		if (co_stack_new(co, stack_size) != 0) {
			free(co);
			return -ENOMEM;
		}
	}
	co->fn = fn;
	co->arg = arg;
	co->finished = 0;
	co->caller = NULL;
	co->asan_fake = NULL;
	co->pool_next = NULL;
	co_stack_prime(co);
	*out = co;
	return 0;
}

void co_switch(struct co *to)
{
	struct co *from = co_current();
	to->caller = from;
	co_swap(from, to);
}

void co_yield(void)
{
	struct co *self = co_current();
	co_swap(self, self->caller);
}

int co_finished(const struct co *co)
{
	return co->finished;
}

void co_destroy(struct co *co)
{
	if (!co || !co->map)
		return;
	if (co->stack_size == CO_STACK_DEFAULT && pool_len < CO_POOL_MAX) {
		co->pool_next = pool;
		pool = co;
		pool_len++;
		return;
	}
	munmap(co->map, co->map_size);
	free(co);
}
