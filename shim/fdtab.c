/* The fd table: one slot per fd number holding the shim's object for that fd
 * (a socket entry or an epoll set), NULL for anything the shim does not track.
 * Two levels of 4096-slot chunks allocated on first use; a chunk is never
 * freed.
 *
 * Lifetime, as the kernel's struct file: an object counts one reference per
 * slot holding it and one per call in progress on it (fdtab_hold). close()
 * empties the slot at once, so the fd number can be reused by the next
 * socket()/open() of any thread, while a call blocked on the old object keeps
 * it (and its stack socket) alive until it returns. A slot's bit 0 is a tiny
 * lock taken by writers and by fdtab_hold for the few instructions between
 * reading the pointer and counting the reference; fdtab_get is one acquire
 * load and gives a pointer that is only safe under shim_mu (every writer
 * holds it) or while a reference is held. */
#include <sched.h>
#include <stdlib.h>

#include "shim.h"

#define FDT_CHUNK_BITS 12
#define FDT_CHUNK (1 << FDT_CHUNK_BITS)
#define FDT_CHUNKS 256 /* 1M fds */
#define SLOT_BUSY ((uintptr_t)1)

typedef _Atomic uintptr_t fdt_slot;
static fdt_slot *_Atomic fdt_chunks[FDT_CHUNKS];
static pthread_mutex_t fdt_mu = PTHREAD_MUTEX_INITIALIZER;

static inline struct fobj *slot_obj(uintptr_t v)
{
	return (struct fobj *)(v & ~SLOT_BUSY);
}

static fdt_slot *fdt_slot_of(int fd, int create)
{
	fdt_slot *c;

	if (unlikely((unsigned)fd >= FDT_CHUNKS * FDT_CHUNK))
		return NULL;
	c = atomic_load_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], memory_order_acquire);
	if (!c && create) {
		pthread_mutex_lock(&fdt_mu);
		c = atomic_load_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], memory_order_acquire);
		if (!c) {
			c = calloc(FDT_CHUNK, sizeof(*c));
			if (c)
				atomic_store_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], c, memory_order_release);
		}
		pthread_mutex_unlock(&fdt_mu);
	}
	return c ? &c[fd & (FDT_CHUNK - 1)] : NULL;
}

struct fobj *fdtab_get(int fd)
{
	fdt_slot *p = fdt_slot_of(fd, 0);
	return p ? slot_obj(atomic_load_explicit(p, memory_order_acquire)) : NULL;
}

static uintptr_t slot_lock(fdt_slot *p)
{
	for (unsigned spin = 0;; spin++) {
		uintptr_t v = atomic_load_explicit(p, memory_order_relaxed);
		if (!(v & SLOT_BUSY) &&
		    atomic_compare_exchange_weak_explicit(p, &v, v | SLOT_BUSY, memory_order_acquire,
							  memory_order_relaxed))
			return v;
		if (spin > 64)
			sched_yield(); /* the holder was preempted */
		else
			__builtin_ia32_pause();
	}
}

struct fobj *fdtab_hold(int fd)
{
	fdt_slot *p = fdt_slot_of(fd, 0);
	uintptr_t v;

	if (!p || !atomic_load_explicit(p, memory_order_relaxed))
		return NULL; /* not tracked: the common case for kernel fds */
	v = slot_lock(p);
	if (v)
		atomic_fetch_add_explicit(&slot_obj(v)->refs, 1, memory_order_relaxed);
	atomic_store_explicit(p, v, memory_order_release);
	return slot_obj(v);
}

struct fobj *fdtab_set(int fd, struct fobj *o)
{
	uintptr_t old;
	fdt_slot *p = fdt_slot_of(fd, o != NULL);

	if (!p)
		return NULL;
	if (o)
		atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
	old = slot_lock(p);
	atomic_store_explicit(p, (uintptr_t)o, memory_order_release);
	if (o || old)
		fdrec_put(fd, o);
	return slot_obj(old);
}

struct fobj *fdtab_take(int fd)
{
	return fdtab_set(fd, NULL);
}

void fdtab_foreach(void (*fn)(int fd, struct fobj *o, void *arg), void *arg)
{
	for (int i = 0; i < FDT_CHUNKS; i++) {
		fdt_slot *c = atomic_load_explicit(&fdt_chunks[i], memory_order_acquire);
		if (!c)
			continue;
		for (int j = 0; j < FDT_CHUNK; j++) {
			struct fobj *o = slot_obj(atomic_load_explicit(&c[j], memory_order_acquire));
			if (o)
				fn(i * FDT_CHUNK + j, o, arg);
		}
	}
}

static void fobj_free(struct fobj *o, struct linger_set *closing)
{
	if (o->kind == FOBJ_SOCK)
		ss_free((struct ssock *)o, closing);
	else
		ep_free(o);
}

void fobj_put(struct fobj *o, struct linger_set *closing)
{
	if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	fobj_free(o, closing);
}

void fobj_release(struct fobj *o)
{
	int e;

	if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* the fd was closed while this call ran: the last one out frees */
	e = errno;
	pthread_mutex_lock(&shim_mu);
	fobj_free(o, NULL);
	pthread_mutex_unlock(&shim_mu);
	errno = e;
}

static void refs_zero(int fd, struct fobj *o, void *arg)
{
	(void)fd;
	(void)arg;
	atomic_store(&o->refs, 0);
}

static void refs_count(int fd, struct fobj *o, void *arg)
{
	(void)fd;
	(void)arg;
	atomic_fetch_add(&o->refs, 1);
}

void fdtab_atfork_child(void)
{
	/* only this thread survived: no slot is locked and no call of another
	 * thread holds a reference any more */
	for (int i = 0; i < FDT_CHUNKS; i++) {
		fdt_slot *c = atomic_load_explicit(&fdt_chunks[i], memory_order_acquire);
		if (!c)
			continue;
		for (int j = 0; j < FDT_CHUNK; j++)
			atomic_fetch_and(&c[j], ~SLOT_BUSY);
	}
	fdtab_foreach(refs_zero, NULL);
	fdtab_foreach(refs_count, NULL);
}
