/* SipHash-2-4 (Aumasson & Bernstein), RFC 6528 initial sequence numbers, and
 * SYN cookies on top of it. */
#include <string.h>

#include "isn.h"

#define TCP_TUPLE_MAX 36 /* two IPv6 addresses and two ports */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                              \
	do {                                                                  \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);     \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);     \
	} while (0)

uint64_t siphash24(const uint8_t key[16], const void *data, uint32_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
	uint64_t m, b = (uint64_t)len << 56;
	uint32_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (uint32_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The connection identity, serialised so the hash sees no padding bytes.
 * An IPv4 pair is its 4-byte addresses (host order, as before the address
 * was 16 bytes: ISNs and cookies of IPv4 connections are unchanged), an
 * IPv6 pair its 16-byte ones. v4-mapped means IPv4 (ipaddr.h), so IPv4 and
 * its v4-mapped form are one connection with one ISN; an IPv6 address that
 * merely ends in the same 4 bytes (::a.b.c.d, 64:ff9b::a.b.c.d) hashes
 * other bytes, so gets another. */
static uint32_t tuple_bytes(uint8_t *b, const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
			    uint16_t rport)
{
	uint32_t n;
	if (ip_addr_is_v4(laddr) && ip_addr_is_v4(raddr)) {
		uint32_t l = ip_addr_to_v4(laddr), r = ip_addr_to_v4(raddr);
		memcpy(b, &l, 4);
		memcpy(b + 4, &r, 4);
		n = 8;
	} else {
		memcpy(b, laddr->b, 16);
		memcpy(b + 16, raddr->b, 16);
		n = 32;
	}
	memcpy(b + n, &lport, 2);
	memcpy(b + n + 2, &rport, 2);
	return n + 4;
}

uint32_t tcp_isn(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		 uint16_t rport, uint64_t now_ns)
{
	uint8_t b[TCP_TUPLE_MAX];
	uint32_t n = tuple_bytes(b, laddr, lport, raddr, rport);
	/* RFC 6528 §3: M is a timer that ticks every 4 microseconds */
	return (uint32_t)(now_ns / 4000) + (uint32_t)siphash24(key, b, n);
}

/* Cookie layout: [31:27] time counter mod 32, [26:24] MSS index, [23:0] MAC. */
#define COOKIE_PERIOD_NS (64ull * 1000000000ull)
static const uint16_t cookie_mss[8] = { 216, 536, 1024, 1300, 1440, 1460, 4312, 8960 };

static uint32_t cookie_mac(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport,
			   const union ip_addr *raddr, uint16_t rport, uint32_t peer_isn, uint64_t t, unsigned idx)
{
	uint8_t b[TCP_TUPLE_MAX + 13];
	uint32_t n = tuple_bytes(b, laddr, lport, raddr, rport);
	memcpy(b + n, &peer_isn, 4);
	memcpy(b + n + 4, &t, 8);
	b[n + 12] = (uint8_t)idx;
	return (uint32_t)siphash24(key, b, n + 13) & 0xffffff;
}

uint32_t tcp_syncookie_make(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport,
			    const union ip_addr *raddr, uint16_t rport, uint32_t peer_isn, uint16_t mss,
			    uint64_t now_ns)
{
	uint64_t t = now_ns / COOKIE_PERIOD_NS;
	unsigned idx = 0;
	for (unsigned i = 1; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	return (uint32_t)(t & 31) << 27 | idx << 24 |
	       cookie_mac(key, laddr, lport, raddr, rport, peer_isn, t, idx);
}

int tcp_syncookie_check(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport,
			const union ip_addr *raddr, uint16_t rport, uint32_t peer_isn, uint32_t cookie, uint64_t now_ns,
			uint16_t *mss)
{
	uint64_t now_t = now_ns / COOKIE_PERIOD_NS;
	unsigned idx = (cookie >> 24) & 7;

	/* valid in the period it was made and the next one */
	for (uint64_t age = 0; age < 2 && age <= now_t; age++) {
		uint64_t t = now_t - age;
		if ((t & 31) != cookie >> 27)
			continue;
		if (cookie_mac(key, laddr, lport, raddr, rport, peer_isn, t, idx) != (cookie & 0xffffff))
			return -1;
		*mss = cookie_mss[idx];
		return 0;
	}
	return -1;
}

uint32_t tcp_syncookie_ts(uint32_t tsval_base, uint8_t wscale, int sack_ok)
{
	return (tsval_base & ~0x1fu) | (wscale & 0xfu) | (sack_ok ? 0x10u : 0);
}

void tcp_syncookie_ts_opts(uint32_t tsecr, uint8_t *wscale, int *sack_ok)
{
	*wscale = tsecr & 0xf;
	*sack_ok = (tsecr >> 4) & 1;
}
