/* IPv6: the calls between the layers of one instance. IPv6 addresses are
 * struct in6_addr (network byte order), as in the socket API. The network
 * layer (ipv6.c, icmp6.c, nd.c) and the transports meet only here. */
#ifndef DEMI_NET6_H
#define DEMI_NET6_H

#include <netinet/in.h>
#include <stdint.h>

#include "stack_impl.h"

struct ipv6_meta {
	struct in6_addr src, dst;
	uint8_t proto;       /* the upper-layer header, after the extension headers */
	uint8_t tclass, hlim;
	uint8_t l4_cksum_ok; /* the device verified the L4 checksum */
	uint32_t flow;       /* flow label, host byte order */
	uint16_t l3_off;     /* bytes from the IPv6 header to p->data (ICMPv6 errors quote it) */
};

/* ipv6.c: p->data at the IPv6 header; takes ownership. */
void ipv6_input(struct stack *st, struct pbuf *p);
/* p->data at the L4 header, its checksum done (cksum_pseudo_ipv6). Prepends
 * the IPv6 header (src NULL: the stack's address), finds the next hop,
 * resolves it through Neighbor Discovery (queued meanwhile) and sends.
 * Takes ownership. 0, or -ENETUNREACH / -EHOSTUNREACH / -ENOBUFS.
 * Hop limit 64. flow: the flow label; 0: as Linux's auto_flowlabels, a
 * keyed hash of addresses, protocol and ports (stable for a connection).
 * A packet larger than the path MTU leaves in fragments (not TCP's). */
int ipv6_output(struct stack *st, struct pbuf *p, const struct in6_addr *src, const struct in6_addr *dst,
		uint8_t proto, uint8_t tclass, uint32_t flow);
/* The largest L4 payload of one packet to dst: its path MTU less 40. */
uint16_t ipv6_max_payload(const struct stack *st, const struct in6_addr *dst);
/* Whether IPv6 is configured on this stack (an address, DAD passed). */
int ipv6_enabled(const struct stack *st);

/* The stack's IPv6 addresses and their state (IPV6_ADDR_* in ip6.h: 1
 * tentative, 2 preferred, 3 duplicate; 0 none): which 0 the configured
 * address, 1 the link-local one. out may be NULL. */
int ipv6_addr_state(const struct stack *st, int which, struct in6_addr *out);

/* nd.c: the neighbour cache (RFC 4861 §7.3). */
enum nd_state { ND_NONE, ND_INCOMPLETE, ND_REACHABLE, ND_STALE, ND_DELAY, ND_PROBE, ND_FAILED, ND_PERMANENT };
/* Put ip at mac in the cache and send what waited for it: permanent (tests,
 * static neighbours: never probed nor expired), else REACHABLE for a while
 * (learnt elsewhere, as the kernel's table on a shared device).
 * 0, or -ENOSPC when the cache is full of entries in use. */
int nd_neigh_set(struct stack *st, const struct in6_addr *ip, const uint8_t mac[6], int permanent);
/* The state of ip's entry (ND_NONE if none); its MAC into mac if not NULL. */
int nd_neigh_state(struct stack *st, const struct in6_addr *ip, uint8_t mac[6]);
/* Calls fn once per entry of the cache (demistat). */
void nd_foreach(struct stack *st, void (*fn)(const struct in6_addr *ip, const uint8_t mac[6], int state, void *arg),
		void *arg);

/* icmp6.c: an ICMPv6 error (RFC 4443) in reply to the packet `orig`
 * (p->data at its IPv6 header, not consumed), rate-limited. */
void icmp6_send_error(struct stack *st, const struct pbuf *orig, uint8_t type, uint8_t code, uint32_t param);

/* The transports' IPv6 input: p->data at the L4 header; takes ownership. */
void tcp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m);
void udp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m);
/* An ICMPv6 error about a packet this stack sent (Packet Too Big: mtu, the
 * path MTU it reports; else 0): inner at the quoted L4 header. */
void tcp_icmp6_error(struct stack *st, const struct ipv6_meta *inner, const uint8_t *l4, uint32_t l4_len,
		     uint8_t type, uint8_t code, uint32_t mtu);

#endif
