/* The heap-backed pbuf pool: fixed-size buffers on a free list, allocated
 * once, with a count of buffers in use for leak checks. */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"

struct heap_pool {
	struct pbuf_pool pool;
	struct pbuf *free_list;
	struct pbuf *bufs;   /* capacity descriptors */
	uint8_t *storage;    /* capacity * buf_size bytes */
};

static struct pbuf *heap_alloc(struct pbuf_pool *pool)
{
	struct heap_pool *hp = (struct heap_pool *)pool;
	struct pbuf *p = hp->free_list;
	if (!p)
		return NULL;
	hp->free_list = p->next;
	p->next = NULL;
	p->data = p->head + PBUF_HEADROOM;
	p->len = 0;
	p->flags = 0;
	p->l2_len = p->l3_len = p->l4_len = 0;
	p->user[0] = p->user[1] = 0;
	pool->in_use++;
	return p;
}

static void heap_free(struct pbuf_pool *pool, struct pbuf *p)
{
	struct heap_pool *hp = (struct heap_pool *)pool;
	p->next = hp->free_list;
	hp->free_list = p;
	pool->in_use--;
}

int pbuf_pool_heap_create(struct pbuf_pool **out, uint32_t capacity, uint32_t buf_size)
{
	struct heap_pool *hp;
	if (capacity == 0 || buf_size <= PBUF_HEADROOM)
		return -EINVAL;
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	hp->bufs = calloc(capacity, sizeof(*hp->bufs));
	hp->storage = malloc((size_t)capacity * buf_size);
	if (!hp->bufs || !hp->storage) {
		free(hp->bufs);
		free(hp->storage);
		free(hp);
		return -ENOMEM;
	}
	for (uint32_t i = capacity; i-- > 0;) {
		struct pbuf *p = &hp->bufs[i];
		p->head = hp->storage + (size_t)i * buf_size;
		p->size = buf_size;
		p->pool = &hp->pool;
		p->next = hp->free_list;
		hp->free_list = p;
	}
	hp->pool.alloc = heap_alloc;
	hp->pool.free = heap_free;
	hp->pool.capacity = capacity;
	hp->pool.buf_size = buf_size;
	*out = &hp->pool;
	return 0;
}

void pbuf_pool_heap_destroy(struct pbuf_pool *pool)
{
	struct heap_pool *hp = (struct heap_pool *)pool;
	if (!hp)
		return;
	free(hp->bufs);
	free(hp->storage);
	free(hp);
}
