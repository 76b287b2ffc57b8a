/* The fd table: one slot per fd number holding the shim's object for that fd
 * (a socket entry or an epoll set), NULL for anything the shim does not track.
 * Two levels of 4096-slot chunks allocated on first use; a chunk is never
 * freed, so readers need no lock: two acquire loads on the fast path. */
#include <stdlib.h>

#include "shim.h"

#define FDT_CHUNK_BITS 12
#define FDT_CHUNK (1 << FDT_CHUNK_BITS)
#define FDT_CHUNKS 256 /* 1M fds */

typedef struct fobj *_Atomic fdt_slot;
static fdt_slot *_Atomic fdt_chunks[FDT_CHUNKS];
static pthread_mutex_t fdt_mu = PTHREAD_MUTEX_INITIALIZER;

struct fobj *fdtab_get(int fd)
{
	fdt_slot *c;

	if (unlikely((unsigned)fd >= FDT_CHUNKS * FDT_CHUNK))
		return NULL;
	c = atomic_load_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], memory_order_acquire);
	if (!c)
		return NULL;
	return atomic_load_explicit(&c[fd & (FDT_CHUNK - 1)], memory_order_acquire);
}

static fdt_slot *fdt_chunk(int fd, int create)
{
	fdt_slot *c = atomic_load_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], memory_order_acquire);

	if (c || !create)
		return c;
	pthread_mutex_lock(&fdt_mu);
	c = atomic_load_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], memory_order_acquire);
	if (!c) {
		c = calloc(FDT_CHUNK, sizeof(*c));
		if (c)
			atomic_store_explicit(&fdt_chunks[fd >> FDT_CHUNK_BITS], c, memory_order_release);
	}
	pthread_mutex_unlock(&fdt_mu);
	return c;
}

struct fobj *fdtab_set(int fd, struct fobj *o)
{
	fdt_slot *c;

	if ((unsigned)fd >= FDT_CHUNKS * FDT_CHUNK)
		return NULL;
	c = fdt_chunk(fd, o != NULL);
	if (!c)
		return NULL;
	if (o)
		atomic_fetch_add(&o->refs, 1);
	return atomic_exchange_explicit(&c[fd & (FDT_CHUNK - 1)], o, memory_order_acq_rel);
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
			struct fobj *o = atomic_load_explicit(&c[j], memory_order_acquire);
			if (o)
				fn(i * FDT_CHUNK + j, o, arg);
		}
	}
}

void fobj_put(struct fobj *o)
{
	if (!o || atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	if (o->kind == FOBJ_SOCK)
		ss_free((struct ssock *)o);
	else
		ep_free(o);
}
