/* IPv6 header (RFC 8200), its extension headers' numbers and the address
 * kinds the network layer tells apart. Addresses are struct in6_addr,
 * network byte order. */
#ifndef DEMI_WIRE_IPV6_H
#define DEMI_WIRE_IPV6_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IPV6_HDR_LEN  40
#define IPV6_MIN_MTU  1280 /* RFC 8200 §5 */
#define IPV6_FLOW_MASK 0xfffffu

/* next header values */
#define IPV6_NH_HOPOPTS  0
#define IPV6_NH_TCP      6
#define IPV6_NH_UDP      17
#define IPV6_NH_ROUTING  43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_ICMPV6   58
#define IPV6_NH_NONE     59
#define IPV6_NH_DSTOPTS  60

#define IPV6_FRAG_HDR_LEN 8
#define IPV6_FRAG_OFF_MASK 0xfff8 /* in the 16-bit word: offset in 8-byte units << 3 */
#define IPV6_FRAG_MF       0x0001

struct ipv6_hdr {
	uint8_t tclass;
	uint32_t flow;     /* 20 bits */
	uint16_t plen;     /* payload length: bytes after this header */
	uint8_t nxt, hlim;
	struct in6_addr src, dst;
};

enum ipv6_parse_err {
	IPV6_ERR_SHORT = 1, /* shorter than 40 bytes */
	IPV6_ERR_VERSION,   /* not 6 */
	IPV6_ERR_LEN,       /* payload length beyond the frame (or 0: a jumbogram, not served) */
};

/* 0 or -IPV6_ERR_*. Bytes past 40 + plen are link padding. */
int ipv6_hdr_parse(const uint8_t *buf, size_t len, struct ipv6_hdr *h);
/* Writes the 40-byte header. */
void ipv6_hdr_emit(uint8_t *buf, const struct ipv6_hdr *h);

static inline int ipv6_addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
	return !memcmp(a, b, 16);
}
static inline int ipv6_addr_any(const struct in6_addr *a)
{
	static const struct in6_addr zero;
	return ipv6_addr_eq(a, &zero);
}
static inline int ipv6_addr_multicast(const struct in6_addr *a) { return a->s6_addr[0] == 0xff; }
static inline int ipv6_addr_linklocal(const struct in6_addr *a) /* fe80::/10 */
{
	return a->s6_addr[0] == 0xfe && (a->s6_addr[1] & 0xc0) == 0x80;
}
static inline int ipv6_addr_loopback(const struct in6_addr *a)
{
	static const struct in6_addr lo = { .s6_addr = { [15] = 1 } };
	return ipv6_addr_eq(a, &lo);
}
/* A v4-mapped address (::ffff:a.b.c.d), never on the wire (RFC 4291 §2.5.5.2). */
static inline int ipv6_addr_v4mapped(const struct in6_addr *a)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };
	return !memcmp(a->s6_addr, pfx, 12);
}
/* Whether a and b share their first plen bits. */
static inline int ipv6_prefix_eq(const struct in6_addr *a, const struct in6_addr *b, unsigned plen)
{
	unsigned n = plen / 8, r = plen % 8;
	if (memcmp(a->s6_addr, b->s6_addr, n))
		return 0;
	return !r || !((a->s6_addr[n] ^ b->s6_addr[n]) & (0xff00 >> r));
}
/* The solicited-node multicast address of a (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
static inline void ipv6_addr_solicited(struct in6_addr *out, const struct in6_addr *a)
{
	static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };
	memcpy(out->s6_addr, pfx, 13);
	memcpy(out->s6_addr + 13, a->s6_addr + 13, 3);
}
/* The Ethernet address of an IPv6 multicast group (RFC 2464 §7): 33:33 and its last 32 bits. */
static inline void ipv6_mcast_mac(uint8_t mac[6], const struct in6_addr *a)
{
	mac[0] = mac[1] = 0x33;
	memcpy(mac + 2, a->s6_addr + 12, 4);
}
/* The link-local address of a MAC (RFC 4291 §2.5.1, modified EUI-64): fe80::/64. */
static inline void ipv6_addr_linklocal_from_mac(struct in6_addr *out, const uint8_t mac[6])
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[0] = 0xfe;
	out->s6_addr[1] = 0x80;
	out->s6_addr[8] = (uint8_t)(mac[0] ^ 0x02);
	out->s6_addr[9] = mac[1];
	out->s6_addr[10] = mac[2];
	out->s6_addr[11] = 0xff;
	out->s6_addr[12] = 0xfe;
	out->s6_addr[13] = mac[3];
	out->s6_addr[14] = mac[4];
	out->s6_addr[15] = mac[5];
}

#endif
