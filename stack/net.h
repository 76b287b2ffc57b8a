/* The calls between the layers of one instance. Addresses are host byte order. */
#ifndef DEMI_NET_H
#define DEMI_NET_H

#include <stdint.h>

#include "stack_impl.h"

struct ipv4_meta {
	uint32_t src, dst; /* host byte order */
	uint8_t proto, tos, ttl;
	uint8_t l4_cksum_ok; /* the device verified the L4 checksum */
};

/* eth.c: one received frame, p->data at the Ethernet header; takes ownership. */
void eth_input(struct stack *st, struct pbuf *p);
/* eth.c: prepend the Ethernet header and queue the frame. */
void eth_output(struct stack *st, struct pbuf *p, const uint8_t dst_mac[6], uint16_t ethertype);

/* arp.c */
int arp_init(struct stack *st);
void arp_fini(struct stack *st);
void arp_input(struct stack *st, struct pbuf *p);
/* Send an IPv4 packet (p->data at the IP header) to next hop `nh`: now if its
 * MAC is known, else queued (bounded) while ARP resolves. Takes ownership.
 * 0, or -EHOSTUNREACH when nh has failed to resolve, -ENOBUFS when the queue is full. */
int arp_output(struct stack *st, struct pbuf *p, uint32_t nh);

/* ipv4.c: p->data at the IP header; takes ownership. */
void ipv4_input(struct stack *st, struct pbuf *p);
/* p->data at the L4 header, its checksum already done (or offload flags set).
 * Prepends the IP header, routes, and sends. Takes ownership. 0 or -errno. */
int ipv4_output(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos);
/* The same with the header's id and fragment field given (fragmentation);
 * bcast: to the link's broadcast address, without ARP. */
int ipv4_output_frag(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos, uint16_t id,
		     uint16_t frag, int bcast);
/* One fragment of datagram `id`: p->data at its share, which starts off
 * bytes into the datagram (a multiple of 8); more: fragments follow it.
 * Counted in IPV4_FRAGS_TX. */
int ipv4_send_fragment(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos, uint16_t id,
		       uint32_t off, int more, int bcast);
/* Drop the datagrams whose reassembly timed out (stack_poll calls it when
 * st->reass_next is due); frees every slot when all is set. */
void ipv4_reass_expire(struct stack *st, int all);
/* Where packets to dst go first: dst itself, the gateway, or 0 if unroutable. */
uint32_t ipv4_next_hop(const struct stack *st, uint32_t dst);
/* The limited broadcast, or the directed broadcast of our subnet (none on a
 * /31 or /32, RFC 3021). */
static inline int ipv4_is_broadcast(const struct stack *st, uint32_t a)
{
	return a == 0xffffffffu ||
	       (~st->netmask > 1 && (a & st->netmask) == (st->addr & st->netmask) && (a | st->netmask) == 0xffffffffu);
}
/* The least MTU a path from this stack can have (learned ones stop at
 * STACK_PMTU_MIN): packets no larger never need the path looked up. */
static inline uint16_t stack_least_mtu(const struct stack *st)
{
	return st->mtu < STACK_PMTU_MIN ? st->mtu : STACK_PMTU_MIN;
}
/* Largest payload of one IP packet the stack sends (mtu - 20). */
static inline uint16_t ipv4_max_payload(const struct stack *st) { return (uint16_t)(st->mtu - 20); }

/* icmp.c */
void icmp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m);
/* Destination/port unreachable in reply to the IP packet `orig` (p->data at its
 * IP header, not consumed), rate-limited. */
void icmp_send_unreach(struct stack *st, const struct pbuf *orig, uint8_t code);
/* A reassembled echo request larger than a buffer, as its fragments (by
 * offset, p->next, user[0] the offset): answered in place, fragment for
 * fragment. 1 if it took them (answered, or dropped and counted), 0 if
 * they are no echo request. */
int icmp_echo_fragments(struct stack *st, struct pbuf *frags, const struct ipv4_meta *m);

/* udp.c */
int udp_init(struct stack *st);
void udp_fini(struct stack *st);
void udp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m);
/* A reassembled datagram larger than one buffer: the fragments' buffers
 * linked through user[1], p->data at each one's share, the UDP header in
 * the first; total bytes in all. Takes ownership. */
void udp_input_chain(struct stack *st, struct pbuf *p, uint32_t total, const struct ipv4_meta *m);
void udp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg);

/* tcp/: p->data at the TCP header; takes ownership. */
int tcp_init(struct stack *st);
void tcp_fini(struct stack *st); /* resets every connection and frees all */
void tcp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m);
/* An ICMP error about a segment we sent (hard errors end a connecting socket). */
void tcp_icmp_error(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, int err);
/* The path to dst takes packets of at most mtu bytes (RFC 1191); seq is the
 * quoted segment's, checked against what is in flight (RFC 5927). */
void tcp_icmp_mtu(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint32_t seq,
		  uint16_t mtu);
void tcp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg);

#endif
