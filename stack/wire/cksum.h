/* The Internet checksum (RFC 1071) over big-endian 16-bit words. Sums are
 * kept unfolded in 32 bits so pieces (pseudo-header, header, payload) can be
 * added before the final fold. Addresses are host byte order. */
#ifndef DEMI_WIRE_CKSUM_H
#define DEMI_WIRE_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add len bytes at data to sum. A piece of odd length must be the last one. */
uint32_t cksum_partial(const void *data, size_t len, uint32_t sum);
/* Fold and complement: the value to store (host order; write it big-endian). */
uint16_t cksum_fold(uint32_t sum);
/* The TCP/UDP pseudo-header sum for IPv4 (RFC 9293 §3.1, RFC 768). */
uint32_t cksum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);
/* The same for IPv6 (RFC 8200 §8.1); src and dst are 16 bytes each,
 * network byte order. */
uint32_t cksum_pseudo_ipv6(const void *src, const void *dst, uint8_t proto, uint32_t l4_len);

static inline uint16_t cksum(const void *data, size_t len)
{
	return cksum_fold(cksum_partial(data, len, 0));
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif
