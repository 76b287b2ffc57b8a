/* The stack instance: what every protocol module of one instance shares. */
#ifndef DEMI_STACK_IMPL_H
#define DEMI_STACK_IMPL_H

#include <stdint.h>

#include "buf.h"
#include "counters.h"
#include "demi/stack.h"
#include "netif.h"
#include "timerwheel.h"

#define STACK_TXQ_MAX 64   /* frames collected before a tx flush */
#define STACK_RX_BURST 32

struct arp_cache;  /* arp.c */
struct udp_table;  /* udp.c */
struct tcp_table;  /* tcp/ */

struct stack {
	struct netif *nif;
	struct pbuf_pool *pool; /* == nif->pool */
	struct stack_cfg cfg;
	uint32_t addr;    /* host byte order */
	uint32_t netmask; /* host byte order */
	uint32_t gateway; /* host byte order, 0: none */
	uint16_t mtu;     /* IP MTU in use */
	uint16_t ip_id;
	uint64_t now;     /* ns, from the latest stack_poll() */
	struct timerwheel tw;
	struct arp_cache *arp;
	struct udp_table *udp;
	struct tcp_table *tcp;
	uint64_t icmp_tokens, icmp_last; /* ICMP error rate limit */
	uint16_t txq_len;
	struct pbuf *txq[STACK_TXQ_MAX];
	struct stack_counters ctr;
};

/* Queue a complete frame for the next flush (flushes when the queue is full);
 * takes ownership. */
void stack_tx_frame(struct stack *st, struct pbuf *p);
/* Hand queued frames to the device; what it refuses is counted and freed. */
void stack_tx_flush(struct stack *st);
/* A tx buffer with PBUF_HEADROOM for headers, or NULL (counted). */
struct pbuf *stack_alloc(struct stack *st);

#endif
