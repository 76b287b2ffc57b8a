/* ARP cache: IPv4 next hop -> MAC, with resolution, retries and expiry. */
#ifndef DEMI_ARP_H
#define DEMI_ARP_H

#include "stack_impl.h"

#define ARP_CACHE_SIZE    64
#define ARP_QUEUE_MAX     48           /* packets held per unresolved next hop: a 64 KiB datagram's fragments */
#define ARP_RETRY_NS      1000000000ull
#define ARP_TRIES         3
#define ARP_REACHABLE_NS  (60ull * 1000000000ull)
#define ARP_FAILED_NS     (3ull * 1000000000ull) /* how long a failure answers EHOSTUNREACH */

/* A permanent entry (tests, static neighbours). 0 or -ENOSPC. */
int arp_cache_add(struct stack *st, uint32_t ip, const uint8_t mac[6]);
/* The MAC of ip if resolved; NULL otherwise. */
const uint8_t *arp_cache_lookup(struct stack *st, uint32_t ip);
/* Announce our address (gratuitous ARP). */
void arp_announce(struct stack *st);

#endif
