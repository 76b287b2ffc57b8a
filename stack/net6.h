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
 * Takes ownership. 0, or -ENETUNREACH / -EHOSTUNREACH / -ENOBUFS. */
int ipv6_output(struct stack *st, struct pbuf *p, const struct in6_addr *src, const struct in6_addr *dst,
		uint8_t proto, uint8_t tclass, uint32_t flow);
/* The largest L4 payload of one packet to dst: its path MTU less 40. */
uint16_t ipv6_max_payload(const struct stack *st, const struct in6_addr *dst);
/* Whether IPv6 is configured on this stack (an address, DAD passed). */
int ipv6_enabled(const struct stack *st);

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
