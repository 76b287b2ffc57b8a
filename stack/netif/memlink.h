/* An in-memory Ethernet hub for tests: any number of ports, frames delivered
 * on a fake clock, with seeded fault injection on what each port sends. A
 * test can play the peer itself by owning a port: it sends with
 * netif_tx_burst() and reads what reached it with netif_rx_burst(). */
#ifndef DEMI_NETIF_MEMLINK_H
#define DEMI_NETIF_MEMLINK_H

#include <stdint.h>

#include "../netif.h"

struct memlink;

/* Applied to the frames one port sends. Probabilities in parts per million. */
struct memlink_faults {
	uint32_t drop_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;  /* held back by reorder_ns, so later frames pass it */
	uint32_t corrupt_ppm;  /* one random byte flipped */
	uint32_t truncate_ppm; /* cut at a random length past the Ethernet header */
	uint64_t delay_ns;     /* propagation delay */
	uint64_t reorder_ns;   /* extra delay of a reordered frame (0: 1 ms) */
	uint32_t drop_next;    /* one-shot: drop the next N frames */
};

struct memlink_stats {
	uint64_t sent, delivered, dropped, duplicated, reordered, corrupted, truncated;
	uint64_t rx_nobuf;   /* a receiving port's pool was empty */
	uint64_t rx_full;    /* a receiving port's queue was full */
};

int memlink_create(struct memlink **out, uint64_t seed);
/* Frees every frame still on the wire or queued; ports' pools are the caller's. */
void memlink_destroy(struct memlink *ml);
/* A new port; its received frames come from `pool`. NULL on no memory. */
struct netif *memlink_port(struct memlink *ml, const uint8_t mac[6], uint16_t mtu,
			   struct pbuf_pool *pool);
void memlink_set_faults(struct netif *port, const struct memlink_faults *f);
/* Deliver every frame due at `now` (ns) into the receiving ports' queues. */
void memlink_advance(struct memlink *ml, uint64_t now);
/* Frames on the wire, not yet delivered. */
unsigned memlink_in_flight(const struct memlink *ml);
const struct memlink_stats *memlink_stats(const struct memlink *ml);

#endif
