/* IPv6 inside the network layer: the state ipv6.c, icmp6.c and nd.c share
 * (st->v6, NULL when no IPv6 address is configured), and their calls to
 * each other. The transports see only net6.h. */
#ifndef DEMI_IP6_H
#define DEMI_IP6_H

#include "net6.h"
#include "timerwheel.h"
#include "wire/ipv6.h"

#define IPV6_HOP_LIMIT   64
#define IPV6_PMTU_SLOTS  16
#define IPV6_REASS_SLOTS 8
#define IPV6_REASS_PBUFS 256
#define IPV6_REASS_TTL_NS (60ull * 1000000000ull) /* RFC 8200 §4.5 */
#define IPV6_DAD_WAIT_NS  1000000000ull           /* RFC 4861 §10 RetransTimer */

/* an address's state (RFC 4862 §5.4) */
enum ipv6_addr_state { IPV6_ADDR_NONE, IPV6_ADDR_TENTATIVE, IPV6_ADDR_PREFERRED, IPV6_ADDR_DUPLICATE };

struct nd_cache; /* nd.c */

struct stack6 {
	struct in6_addr addr;    /* the configured address */
	struct in6_addr ll;      /* the link-local address, from the MAC */
	struct in6_addr gw;      /* the gateway; ::: none */
	uint8_t plen;
	uint8_t addr_state, ll_state;
	uint32_t frag_id;        /* the Fragment header's identification, next */
	struct tw_timer dad_timer;
	struct stack *st;
	struct nd_cache *nd;
	uint64_t icmp_tokens, icmp_last; /* ICMPv6 error rate limit */
	struct {
		struct in6_addr dst;
		uint16_t mtu;        /* 0: free */
		uint64_t expires;
	} pmtu[IPV6_PMTU_SLOTS];
	/* reassembly (RFC 8200 §4.5): fragments by offset, p->data at their
	 * share, user[0] the offset in bytes */
	struct ipv6_reass {
		struct pbuf *frags;
		uint64_t expires;    /* ns; 0: free */
		struct in6_addr src, dst;
		uint32_t id;
		uint8_t proto, tclass, hlim;
		uint16_t nfrags;
		uint32_t total, have;
	} reass[IPV6_REASS_SLOTS];
	uint16_t reass_pbufs;
	struct tw_timer reass_timer;
};

int ipv6_init(struct stack *st);
void ipv6_fini(struct stack *st);
/* One of our addresses in a usable (1) or tentative (2) state; 0: not ours. */
int ipv6_addr_ours(const struct stack *st, const struct in6_addr *a);
/* The source address for packets to dst: the link-local one for link-local
 * and link-scope multicast destinations, the configured one otherwise;
 * NULL when that one is not usable. */
const struct in6_addr *ipv6_src_for(const struct stack *st, const struct in6_addr *dst);
/* Send with everything given (ND: hop limit 255, source :: during DAD,
 * flow 0; nh NULL: dst's next hop; a multicast dst needs no resolution).
 * p->data at the L4 header. Takes ownership. */
int ipv6_output_hdr(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h);

/* The flow label of a packet (p->data at its L4 header) from src to dst:
 * as Linux's auto_flowlabels, a keyed hash of addresses, protocol and
 * ports, never 0. */
uint32_t ipv6_flow_hash(const struct stack *st, const struct in6_addr *src, const struct in6_addr *dst,
			uint8_t proto, const struct pbuf *p);
/* One fragment of a datagram: p->data at its share, off bytes into the
 * fragmentable part; h the datagram's header (nxt: the upper layer). */
int ipv6_send_fragment(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t id, uint32_t off,
		       int more);
/* A whole datagram from the reassembly: its IPv6 header at p->data, h->nxt
 * the header that followed the Fragment header; walked on from there. */
void ipv6_input_reassembled(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h);

/* ipv6_frag.c: reassembly. One fragment, p->data at its IPv6 header, its
 * Fragment header at fh_off; takes ownership. */
void ipv6_reass(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t fh_off);
void ipv6_reass_init(struct stack *st);
/* Drop the datagrams whose time is up; all: every one (at the end). */
void ipv6_reass_expire(struct stack *st, int all);

/* icmp6.c: p->data at the ICMPv6 message; takes ownership. */
void icmp6_input(struct stack *st, struct pbuf *p, const struct ipv6_meta *m);
/* The ICMPv6 checksum of the message at b, len bytes, between src and dst. */
uint16_t icmp6_cksum(const uint8_t *b, uint32_t len, const struct in6_addr *src, const struct in6_addr *dst);
/* Path MTU to dst (RFC 8201): learned from Packet Too Big, else the link's. */
uint16_t ipv6_path_mtu(struct stack *st, const struct in6_addr *dst);

/* nd.c */
int nd_init(struct stack *st);
void nd_fini(struct stack *st);
/* NS (135) and NA (136), p->data at the message, checksum checked; takes ownership. */
void nd_input(struct stack *st, struct pbuf *p, const struct ipv6_meta *m);
/* Send a packet (p->data at its IPv6 header) to next hop nh: now if its MAC
 * is known, else queued (bounded) while ND resolves. Takes ownership. */
int nd_output(struct stack *st, struct pbuf *p, const struct in6_addr *nh);
/* DAD: send one NS from :: for the tentative address a. */
void nd_send_dad(struct stack *st, const struct in6_addr *a);

#endif
