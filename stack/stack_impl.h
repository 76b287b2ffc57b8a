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
#define STACK_TX_HOLD_NS (500 * 1000000ull) /* frames a device refuses are tried again this long */
#define STACK_RX_BURST 32
#define STACK_PMTU_SLOTS 16 /* destinations whose path MTU is below ours */
#define STACK_PMTU_MIN 552  /* as Linux's min_pmtu: ICMP cannot push us lower */
#define STACK_PMTU_TTL_NS (600ull * 1000000000ull) /* learned values last 10 min, as Linux's */
#define STACK_REASS_SLOTS 8    /* IPv4 datagrams reassembled at once */
#define STACK_REASS_PBUFS 256  /* fragment buffers they may hold in all */
#define STACK_REASS_TTL_NS (30ull * 1000000000ull) /* as Linux's ipfrag_time */

struct arp_cache;  /* arp.c */
struct udp_table;  /* udp.c */
struct tcp_table;  /* tcp/ */
struct stack6;     /* ip6.h */

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
	struct stack6 *v6; /* IPv6 (ipv6.c, nd.c, icmp6.c); NULL without an IPv6 address */
	uint64_t icmp_tokens, icmp_last; /* ICMP error rate limit */
	struct {
		uint32_t dst;       /* host byte order; 0: free */
		uint16_t mtu;
		uint64_t expires;   /* ns */
	} pmtu[STACK_PMTU_SLOTS];
	/* IPv4 reassembly (RFC 791, RFC 815): fragments by offset, p->data at
	 * their payload, user[0] the offset in bytes */
	struct stack_reass {
		struct pbuf *frags;
		uint64_t expires;   /* ns; 0: the slot is free */
		uint32_t src, dst;  /* host byte order */
		uint16_t id;
		uint8_t proto, tos, ttl;
		uint16_t nfrags;
		uint32_t total;     /* payload bytes, once the last fragment came; 0 until */
		uint32_t have;      /* payload bytes held */
	} reass[STACK_REASS_SLOTS];
	uint16_t reass_pbufs;
	uint64_t reass_next;    /* ns: the earliest expiry; 0: none */
	uint16_t txq_len;
	uint64_t txq_refused_at;    /* ns: the device has refused the queue's head since; 0: not */
	struct pbuf *txq[STACK_TXQ_MAX];
	struct stack_counters ctr;
};

/* Queue a complete frame for the next flush (flushes when the queue is full;
 * a frame that finds it full of refused ones is dropped, counted); takes
 * ownership. */
void stack_tx_frame(struct stack *st, struct pbuf *p);
/* A tx buffer with PBUF_HEADROOM for headers, or NULL (counted). */
struct pbuf *stack_alloc(struct stack *st);
/* The MTU of the path to dst: learned from ICMP fragmentation-needed
 * (RFC 1191), else the stack's. Defined in icmp.c. */
uint16_t stack_path_mtu(struct stack *st, uint32_t dst);
/* Remember a smaller path MTU for dst (never below STACK_PMTU_MIN), in its
 * slot, a free or expired one, or the one that expires first. Returns the
 * path MTU now. */
uint16_t stack_path_mtu_learn(struct stack *st, uint32_t dst, uint16_t mtu);

#endif
