/* One address type for both families, used by the transports (the TCB, the
 * connection and bind hashes, ISNs, SYN cookies, the UDP tables).
 *
 * It is a 16-byte IPv6 address in network byte order, IPv4 held v4-mapped
 * (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), the way Linux's dual-stack sockets
 * show IPv4 peers. Not a tagged union, because then a 4-tuple is one byte
 * string whatever its family: the hash, the ISN and the cookie take the same
 * path; equality is two 64-bit compares; and the family is a test of the
 * first 12 bytes, no tag to keep in step. The v4-mapped form is IPv4 only:
 * an IPv6 packet with a v4-mapped address is dropped (as Linux does), so an
 * address means one thing in either family.
 *
 * Wildcards: ::ffff:0.0.0.0 is IPv4's INADDR_ANY (a socket bound to
 * 0.0.0.0, IPv4 only); :: is IPv6's in6addr_any (a socket bound to ::, both
 * families unless IPV6_V6ONLY). :: is also the unset address (calloc). */
#ifndef DEMI_IPADDR_H
#define DEMI_IPADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

union ip_addr {
	uint8_t b[16];
	uint32_t w[4];
	uint64_t q[2];
	struct in6_addr in6;
};

_Static_assert(sizeof(union ip_addr) == 16, "one IPv6 address");

/* IPv4 (host byte order) as v4-mapped. */
static inline union ip_addr ip_addr_v4(uint32_t a)
{
	union ip_addr r;
	r.q[0] = 0;
	r.w[2] = htonl(0xffff);
	r.w[3] = htonl(a);
	return r;
}

/* A pointer to a v4-mapped copy of a (host byte order), at block scope. */
#define IP_ADDR_V4_PTR(a) ((const union ip_addr[]){ ip_addr_v4(a) })

static inline union ip_addr ip_addr_v6(const struct in6_addr *a)
{
	union ip_addr r;
	memcpy(&r, a, 16);
	return r;
}

static inline int ip_addr_is_v4(const union ip_addr *a)
{
	return a->q[0] == 0 && a->w[2] == htonl(0xffff);
}

/* The IPv4 address (host byte order) of a v4-mapped one. */
static inline uint32_t ip_addr_to_v4(const union ip_addr *a)
{
	return ntohl(a->w[3]);
}

static inline int ip_addr_eq(const union ip_addr *a, const union ip_addr *b)
{
	return a->q[0] == b->q[0] && a->q[1] == b->q[1];
}

/* :: (IPv6 any, also never set) */
static inline int ip_addr_is_zero(const union ip_addr *a)
{
	return (a->q[0] | a->q[1]) == 0;
}

/* 0.0.0.0 (v4-mapped) or :: */
static inline int ip_addr_is_any(const union ip_addr *a)
{
	return a->q[0] == 0 && a->w[3] == 0 && (a->w[2] == 0 || a->w[2] == htonl(0xffff));
}

/* An address a socket bound to `bound` (a wildcard or not) takes packets
 * to: the same address, 0.0.0.0 for IPv4, :: for both families unless
 * v6only. */
static inline int ip_addr_covers(const union ip_addr *bound, int v6only, const union ip_addr *a)
{
	if (ip_addr_eq(bound, a))
		return 1;
	if (ip_addr_is_zero(bound))
		return !v6only || !ip_addr_is_v4(a);
	return ip_addr_is_any(bound) && ip_addr_is_v4(a);
}

/* Two bound addresses overlap (bind(2)'s conflict): one covers the other. */
static inline int ip_addr_overlap(const union ip_addr *a, int a_v6only, const union ip_addr *b, int b_v6only)
{
	if (ip_addr_is_zero(a) && ip_addr_is_zero(b))
		return 1;
	return ip_addr_covers(a, a_v6only, b) || ip_addr_covers(b, b_v6only, a);
}

/* Text: dotted quad for IPv4, RFC 5952 for IPv6. */
static inline const char *ip_addr_str(const union ip_addr *a, char *buf, unsigned len)
{
	if (ip_addr_is_v4(a))
		return inet_ntop(AF_INET, &a->w[3], buf, len);
	return inet_ntop(AF_INET6, a->b, buf, len);
}

#endif
