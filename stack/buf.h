/* Packet buffers: one contiguous frame each.
 *
 * A driver may embed struct pbuf in its own buffer (DPDK: the mbuf's private
 * area), so frames reach the stack and leave it without a copy. Every pbuf has
 * exactly one owner at a time; passing it on (tx_burst, a queue, pbuf_free)
 * passes ownership. */
#ifndef DEMI_BUF_H
#define DEMI_BUF_H

#include <stddef.h>
#include <stdint.h>

#define PBUF_HEADROOM 128 /* room for eth + ipv4 + tcp headers, as DPDK's default */

/* rx: set by a driver with NETIF_CAP_RX_CKSUM after the hardware checked */
#define PBUF_F_RX_IP_CKSUM_GOOD (1u << 0)
#define PBUF_F_RX_IP_CKSUM_BAD  (1u << 1)
#define PBUF_F_RX_L4_CKSUM_GOOD (1u << 2)
#define PBUF_F_RX_L4_CKSUM_BAD  (1u << 3)
/* tx: set by the stack when the netif offers the offload; the L4 checksum
 * field then holds the pseudo-header sum, as DPDK expects */
#define PBUF_F_TX_IP_CKSUM  (1u << 8)
#define PBUF_F_TX_TCP_CKSUM (1u << 9)
#define PBUF_F_TX_UDP_CKSUM (1u << 10)

struct pbuf_pool;

struct pbuf {
	uint8_t *data;  /* first valid byte */
	uint32_t len;   /* valid bytes from data */
	uint32_t flags; /* PBUF_F_* */
	uint8_t *head;  /* start of storage */
	uint32_t size;  /* bytes of storage from head */
	uint16_t l2_len, l3_len, l4_len; /* header lengths, for tx offloads */
	struct pbuf_pool *pool;
	struct pbuf *next;   /* free for the current owner's queues */
	uint64_t user[2];    /* free for the current owner (TCP: segment seq, flags) */
};

struct pbuf_pool {
	/* A fresh buffer: data = head + PBUF_HEADROOM, len = 0, flags = 0,
	 * header lengths and user[] 0. NULL when the pool is empty. */
	struct pbuf *(*alloc)(struct pbuf_pool *pool);
	void (*free)(struct pbuf_pool *pool, struct pbuf *p);
	uint32_t in_use;   /* buffers handed out and not yet freed */
	uint32_t capacity; /* buffers in all */
	uint32_t buf_size; /* bytes of storage per buffer */
};

static inline struct pbuf *pbuf_alloc(struct pbuf_pool *pool)
{
	return pool->alloc(pool);
}

static inline void pbuf_free(struct pbuf *p)
{
	if (p)
		p->pool->free(p->pool, p);
}

/* Grow the front by n bytes; NULL (and nothing changed) without headroom. */
static inline uint8_t *pbuf_prepend(struct pbuf *p, uint32_t n)
{
	if ((uint32_t)(p->data - p->head) < n)
		return NULL;
	p->data -= n;
	p->len += n;
	return p->data;
}

/* Grow the tail by n bytes; returns the first new byte or NULL. */
static inline uint8_t *pbuf_append(struct pbuf *p, uint32_t n)
{
	uint8_t *tail = p->data + p->len;
	if ((uint32_t)(p->head + p->size - tail) < n)
		return NULL;
	p->len += n;
	return tail;
}

/* Drop n bytes from the front (n <= len). */
static inline void pbuf_adj(struct pbuf *p, uint32_t n)
{
	p->data += n;
	p->len -= n;
}

/* Cut the frame to n bytes (n <= len). */
static inline void pbuf_trim(struct pbuf *p, uint32_t n)
{
	p->len = n;
}

/* Bytes that can still be appended. */
static inline uint32_t pbuf_tailroom(const struct pbuf *p)
{
	return (uint32_t)(p->head + p->size - (p->data + p->len));
}

/* A heap-backed pool for tests and the in-memory link; it counts buffers in
 * use so a test's teardown can prove nothing leaked. */
int pbuf_pool_heap_create(struct pbuf_pool **out, uint32_t capacity, uint32_t buf_size);
void pbuf_pool_heap_destroy(struct pbuf_pool *pool);

#endif
