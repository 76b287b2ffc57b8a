/* Golden-byte tests of the Ethernet, ARP, IPv4, UDP and ICMP headers: parse,
 * emit, truncated and malformed input. The golden frames were built with an
 * independent implementation of the RFC 1071 checksum. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "wire/arp.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* eth 02:..:01 -> 02:..:02, IPv4 198.18.0.1 -> 198.18.0.2, UDP 1234 -> 80, "hello" */
static const uint8_t udp_frame[47] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x21, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x9c, 0x70, 0xc6, 0x12,
	0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
	0x04, 0xd2, 0x00, 0x50, 0x00, 0x0d, 0x2a, 0xb8, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
};
static const uint8_t icmp_echo[12] = { 0x08, 0x00, 0x32, 0xc1, 0x00, 0x77, 0x00, 0x01,
				       0x61, 0x62, 0x63, 0x64 };
static const uint8_t arp_req[28] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
				     0x00, 0x00, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x00,
				     0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x02 };

/* 24-byte header, options NOP NOP NOP EOL, TOS 0x10, TTL 255, ICMP */
static const uint8_t ipv4_opts[24] = {
	0x46, 0x10, 0x00, 0x20, 0x01, 0x02, 0x00, 0x00, 0xff, 0x01, 0x2b, 0xa2,
	0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00,
};
/* port unreachable quoting udp_frame's IP header and UDP header */
static const uint8_t icmp_unreach[36] = {
	0x03, 0x03, 0xcd, 0x15, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x21,
	0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x9c, 0x70, 0xc6, 0x12, 0x00, 0x01,
	0xc6, 0x12, 0x00, 0x02, 0x04, 0xd2, 0x00, 0x50, 0x00, 0x0d, 0x2a, 0xb8,
};
/* echo request of odd length: the last byte is padded with zero for the sum */
static const uint8_t icmp_echo_odd[11] = { 0x08, 0x00, 0x21, 0x64, 0x12, 0x34, 0x00, 0x05,
					   0x61, 0x62, 0x63 };
/* 198.18.0.1:1000 -> 198.18.0.2:2000 whose checksum computes to zero: sent as ffff */
static const uint8_t udp_zero_sum[10] = { 0x03, 0xe8, 0x07, 0xd0, 0x00, 0x0a, 0xff, 0xff, 0x67, 0xfa };
/* ARP reply 198.18.0.2 is at 02:00:00:00:00:02, to 198.18.0.1 */
static const uint8_t arp_rep[28] = { 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
				     0x00, 0x00, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x02, 0x02, 0x00,
				     0x00, 0x00, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01 };

static void test_cksum_rfc1071_example_sums(void **state)
{
	(void)state;
	/* RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 */
	const uint8_t w[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	assert_int_equal(cksum_fold(cksum_partial(w, sizeof(w), 0)), (uint16_t)~0xddf2);
	/* split at an even offset gives the same sum */
	assert_int_equal(cksum_fold(cksum_partial(w + 4, 4, cksum_partial(w, 4, 0))),
			 (uint16_t)~0xddf2);
	/* odd length pads with a zero byte */
	const uint8_t odd[] = { 0x12, 0x34, 0x56 };
	assert_int_equal(cksum(odd, 3), (uint16_t)~(0x1234 + 0x5600));
}

static void test_cksum_large_buffer_does_not_overflow(void **state)
{
	(void)state;
	static uint8_t big[1 << 20];
	memset(big, 0xff, sizeof(big));
	/* all-ones words sum to all ones in one's complement: checksum 0 */
	assert_int_equal(cksum(big, sizeof(big)), 0);
}

/* The word-at-a-time sum against the definition (big-endian 16-bit words,
 * end-around carry) for every length to 300, at every alignment, chained
 * in pieces of even length, over random bytes. */
static uint16_t cksum_ref(const uint8_t *p, size_t len, uint32_t sum)
{
	uint64_t acc = sum;
	for (; len >= 2; p += 2, len -= 2)
		acc += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		acc += (uint32_t)p[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void test_cksum_matches_definition(void **state)
{
	(void)state;
	static uint8_t buf[400];
	uint32_t x = 12345;
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		if (round == 1)
			memset(buf, 0xff, sizeof(buf));
		if (round == 2)
			memset(buf, 0, sizeof(buf));
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 300; len++) {
				uint32_t seed = round ? x & 0xffffff : 0;
				assert_int_equal(cksum_fold(cksum_partial(buf + off, len, seed)),
						 cksum_ref(buf + off, len, seed));
				size_t cut = (len / 3) & ~(size_t)1;
				assert_int_equal(cksum_fold(cksum_partial(buf + off + cut, len - cut,
									   cksum_partial(buf + off, cut, seed))),
						 cksum_ref(buf + off, len, seed));
			}
	}
}

static void test_eth_parse_golden(void **state)
{
	(void)state;
	struct eth_hdr h;
	const uint8_t a[6] = { 2, 0, 0, 0, 0, 2 }, b[6] = { 2, 0, 0, 0, 0, 1 };
	assert_int_equal(eth_hdr_parse(udp_frame, sizeof(udp_frame), &h), 0);
	assert_memory_equal(h.dst, a, 6);
	assert_memory_equal(h.src, b, 6);
	assert_int_equal(h.type, ETH_TYPE_IPV4);
	uint8_t out[14];
	eth_hdr_emit(out, &h);
	assert_memory_equal(out, udp_frame, 14);
	assert_int_equal(eth_hdr_parse(udp_frame, 13, &h), -1);
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_true(eth_addr_is_broadcast(bc));
	assert_false(eth_addr_is_broadcast(a));
}

static void test_ipv4_parse_golden(void **state)
{
	(void)state;
	struct ipv4_hdr h;
	assert_int_equal(ipv4_hdr_parse(udp_frame + 14, 33, 1, &h), 0);
	assert_int_equal(h.ihl, 20);
	assert_int_equal(h.total_len, 33);
	assert_int_equal(h.id, 0x1234);
	assert_int_equal(h.frag, IPV4_FLAG_DF);
	assert_int_equal(h.ttl, 64);
	assert_int_equal(h.proto, IPV4_PROTO_UDP);
	assert_int_equal(h.src, IP(198, 18, 0, 1));
	assert_int_equal(h.dst, IP(198, 18, 0, 2));
	assert_false(ipv4_hdr_is_fragment(&h));
	uint8_t out[20];
	ipv4_hdr_emit(out, &h);
	assert_memory_equal(out, udp_frame + 14, 20);
}

static void test_ipv4_parse_malformed_rejected(void **state)
{
	(void)state;
	struct ipv4_hdr h;
	uint8_t p[33];
	assert_int_equal(ipv4_hdr_parse(udp_frame + 14, 19, 1, &h), -IPV4_ERR_SHORT);
	memcpy(p, udp_frame + 14, 33);
	p[0] = 0x65;
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_VERSION);
	p[0] = 0x44;
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_IHL);
	p[0] = 0x4f; /* 60-byte header in a 33-byte packet */
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_IHL);
	memcpy(p, udp_frame + 14, 33);
	p[3] = 0x22; /* total length 34 > 33 */
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_LEN);
	p[3] = 0x10; /* 16 < IHL */
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_LEN);
	memcpy(p, udp_frame + 14, 33);
	p[8] = 63; /* TTL changed, checksum not */
	assert_int_equal(ipv4_hdr_parse(p, 33, 1, &h), -IPV4_ERR_CKSUM);
	assert_int_equal(ipv4_hdr_parse(p, 33, 0, &h), 0); /* device verified */
	/* link padding past total_len is accepted */
	uint8_t pad[60] = { 0 };
	memcpy(pad, udp_frame + 14, 33);
	assert_int_equal(ipv4_hdr_parse(pad, sizeof(pad), 1, &h), 0);
	assert_int_equal(h.total_len, 33);
}

static void test_ipv4_fragment_detected(void **state)
{
	(void)state;
	struct ipv4_hdr h = { .ihl = 20, .total_len = 20, .frag = IPV4_FLAG_MF, .ttl = 1 };
	assert_true(ipv4_hdr_is_fragment(&h));
	h.frag = 0x0010;
	assert_true(ipv4_hdr_is_fragment(&h));
	h.frag = IPV4_FLAG_DF;
	assert_false(ipv4_hdr_is_fragment(&h));
}

static void test_udp_parse_emit_golden(void **state)
{
	(void)state;
	struct udp_hdr h;
	const uint8_t *u = udp_frame + 34;
	assert_int_equal(udp_hdr_parse(u, 13, IP(198, 18, 0, 1), IP(198, 18, 0, 2), 1, &h), 0);
	assert_int_equal(h.sport, 1234);
	assert_int_equal(h.dport, 80);
	assert_int_equal(h.len, 13);
	assert_int_equal(h.cksum, 0x2ab8);
	uint8_t out[13];
	memcpy(out, u, 13);
	memset(out, 0, 8);
	udp_hdr_emit(out, &h, IP(198, 18, 0, 1), IP(198, 18, 0, 2));
	assert_memory_equal(out, u, 13);
}

static void test_udp_parse_malformed_rejected(void **state)
{
	(void)state;
	struct udp_hdr h;
	uint8_t u[13];
	uint32_t s = IP(198, 18, 0, 1), d = IP(198, 18, 0, 2);
	memcpy(u, udp_frame + 34, 13);
	assert_int_equal(udp_hdr_parse(u, 7, s, d, 1, &h), -UDP_ERR_SHORT);
	assert_int_equal(udp_hdr_parse(u, 12, s, d, 1, &h), -UDP_ERR_LEN); /* len 13 > 12 */
	u[5] = 7;
	assert_int_equal(udp_hdr_parse(u, 13, s, d, 1, &h), -UDP_ERR_LEN);
	memcpy(u, udp_frame + 34, 13);
	u[12] ^= 0x20; /* payload corrupted */
	assert_int_equal(udp_hdr_parse(u, 13, s, d, 1, &h), -UDP_ERR_CKSUM);
	/* wrong pseudo-header (other destination) */
	memcpy(u, udp_frame + 34, 13);
	assert_int_equal(udp_hdr_parse(u, 13, s, IP(198, 18, 0, 3), 1, &h), -UDP_ERR_CKSUM);
	/* zero checksum: none was computed, accepted */
	u[6] = u[7] = 0;
	u[12] ^= 0x20;
	assert_int_equal(udp_hdr_parse(u, 13, s, d, 1, &h), 0);
}

static void test_icmp_parse_emit_golden(void **state)
{
	(void)state;
	struct icmp_hdr h;
	assert_int_equal(icmp_hdr_parse(icmp_echo, sizeof(icmp_echo), &h), 0);
	assert_int_equal(h.type, ICMP_ECHO_REQUEST);
	assert_int_equal(h.code, 0);
	assert_int_equal(h.rest, 0x00770001);
	uint8_t out[12];
	memcpy(out, icmp_echo, 12);
	memset(out, 0, 8);
	icmp_hdr_emit(out, sizeof(out), &h);
	assert_memory_equal(out, icmp_echo, 12);
	assert_int_equal(icmp_hdr_parse(icmp_echo, 7, &h), -ICMP_ERR_SHORT);
	out[11] ^= 1;
	assert_int_equal(icmp_hdr_parse(out, sizeof(out), &h), -ICMP_ERR_CKSUM);
}

static void test_arp_parse_emit_golden(void **state)
{
	(void)state;
	struct arp_pkt a;
	const uint8_t sha[6] = { 2, 0, 0, 0, 0, 1 }, zero[6] = { 0 };
	assert_int_equal(arp_pkt_parse(arp_req, sizeof(arp_req), &a), 0);
	assert_int_equal(a.op, ARP_OP_REQUEST);
	assert_memory_equal(a.sha, sha, 6);
	assert_memory_equal(a.tha, zero, 6);
	assert_int_equal(a.spa, IP(198, 18, 0, 1));
	assert_int_equal(a.tpa, IP(198, 18, 0, 2));
	uint8_t out[28];
	arp_pkt_emit(out, &a);
	assert_memory_equal(out, arp_req, 28);
}

static void test_arp_parse_malformed_rejected(void **state)
{
	(void)state;
	struct arp_pkt a;
	uint8_t p[28];
	assert_int_equal(arp_pkt_parse(arp_req, 27, &a), -ARP_ERR_SHORT);
	memcpy(p, arp_req, 28);
	p[1] = 6; /* htype IEEE 802 */
	assert_int_equal(arp_pkt_parse(p, 28, &a), -ARP_ERR_FORMAT);
	memcpy(p, arp_req, 28);
	p[5] = 16; /* plen of IPv6 */
	assert_int_equal(arp_pkt_parse(p, 28, &a), -ARP_ERR_FORMAT);
	memcpy(p, arp_req, 28);
	p[7] = 3; /* RARP request */
	assert_int_equal(arp_pkt_parse(p, 28, &a), -ARP_ERR_OP);
}

static void test_cksum_pseudo_header_golden(void **state)
{
	(void)state;
	/* c612 + 0001 + c612 + 0002 + 0011 + 000d, kept unfolded */
	assert_int_equal(cksum_pseudo_ipv4(IP(198, 18, 0, 1), IP(198, 18, 0, 2), 17, 13), 0x18c45);
	/* all ones: 4 * ffff + ff + ffff, carries kept for the fold */
	assert_int_equal(cksum_pseudo_ipv4(0xffffffffu, 0xffffffffu, 0xff, 0xffff), 0x500fa);
	assert_int_equal(cksum_fold(0x500fa), 0xff00);
}

static void test_cksum_pseudo_ipv6_golden(void **state)
{
	(void)state;
	/* UDP 1234 -> 53 "hello", 2001:db8::1 -> fe80::2; the value computed
	 * independently from RFC 8200 §8.1 */
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t dst[16] = {0xfe, 0x80, [15] = 2};
	uint8_t udp[13] = {0x04, 0xd2, 0x00, 0x35, 0x00, 13, 0, 0, 'h', 'e', 'l', 'l', 'o'};
	uint16_t c = cksum_fold(cksum_partial(udp, sizeof udp, cksum_pseudo_ipv6(src, dst, 17, sizeof udp)));
	assert_int_equal(c, 0x8abe);
	udp[6] = (uint8_t)(c >> 8), udp[7] = (uint8_t)c;
	assert_int_equal(cksum_fold(cksum_partial(udp, sizeof udp, cksum_pseudo_ipv6(src, dst, 17, sizeof udp))), 0);
}

static void test_eth_multicast_detected(void **state)
{
	(void)state;
	const uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, uc[6] = { 0x02, 0, 0, 0, 0, 1 };
	assert_true(eth_addr_is_multicast(mc));
	assert_false(eth_addr_is_multicast(uc));
	assert_false(eth_addr_is_broadcast(mc));
}

static void test_eth_parse_every_truncation_rejected(void **state)
{
	(void)state;
	struct eth_hdr h;
	for (size_t n = 0; n < ETH_HDR_LEN; n++)
		assert_int_equal(eth_hdr_parse(udp_frame, n, &h), -1);
	assert_int_equal(eth_hdr_parse(udp_frame, ETH_HDR_LEN, &h), 0);
}

static void test_ipv4_parse_options_golden(void **state)
{
	(void)state;
	struct ipv4_hdr h;
	uint8_t p[32] = { 0 };
	memcpy(p, ipv4_opts, sizeof(ipv4_opts));
	assert_int_equal(ipv4_hdr_parse(p, sizeof(p), 1, &h), 0);
	assert_int_equal(h.ihl, 24);
	assert_int_equal(h.tos, 0x10);
	assert_int_equal(h.total_len, 32);
	assert_int_equal(h.id, 0x0102);
	assert_int_equal(h.frag, 0);
	assert_int_equal(h.ttl, 255);
	assert_int_equal(h.proto, IPV4_PROTO_ICMP);
	assert_int_equal(h.cksum, 0x2ba2);
	/* the options are under the checksum too */
	p[21] = 0x44;
	assert_int_equal(ipv4_hdr_parse(p, sizeof(p), 1, &h), -IPV4_ERR_CKSUM);
	/* the header ends past the buffer */
	assert_int_equal(ipv4_hdr_parse(ipv4_opts, 23, 1, &h), -IPV4_ERR_IHL);
}

static void test_ipv4_parse_every_truncation_rejected(void **state)
{
	(void)state;
	struct ipv4_hdr h;
	for (size_t n = 0; n < IPV4_HDR_LEN; n++)
		assert_int_equal(ipv4_hdr_parse(udp_frame + 14, n, 1, &h), -IPV4_ERR_SHORT);
	for (size_t n = IPV4_HDR_LEN; n < 33; n++) /* whole header, packet cut */
		assert_int_equal(ipv4_hdr_parse(udp_frame + 14, n, 1, &h), -IPV4_ERR_LEN);
}

static void test_ipv4_emit_golden(void **state)
{
	(void)state;
	struct ipv4_hdr h = { .ihl = 20, .total_len = 33, .id = 0x1234, .frag = IPV4_FLAG_DF, .ttl = 64,
			      .proto = IPV4_PROTO_UDP, .src = IP(198, 18, 0, 1), .dst = IP(198, 18, 0, 2) };
	uint8_t out[20];
	memset(out, 0xee, sizeof(out));
	ipv4_hdr_emit(out, &h);
	assert_memory_equal(out, udp_frame + 14, 20); /* checksum 9c70 included */
}

static void test_udp_emit_zero_sum_sent_as_all_ones(void **state)
{
	(void)state;
	struct udp_hdr h = { .sport = 1000, .dport = 2000, .len = 10 };
	uint8_t out[10] = { 0 };
	out[8] = udp_zero_sum[8];
	out[9] = udp_zero_sum[9];
	udp_hdr_emit(out, &h, IP(198, 18, 0, 1), IP(198, 18, 0, 2));
	assert_memory_equal(out, udp_zero_sum, sizeof(out)); /* RFC 768: 0 would mean none */
	assert_int_equal(udp_hdr_parse(out, sizeof(out), IP(198, 18, 0, 1), IP(198, 18, 0, 2), 1, &h), 0);
	assert_int_equal(h.cksum, 0xffff);
}

static void test_udp_parse_every_truncation_rejected(void **state)
{
	(void)state;
	struct udp_hdr h;
	uint32_t s = IP(198, 18, 0, 1), d = IP(198, 18, 0, 2);
	for (size_t n = 0; n < UDP_HDR_LEN; n++)
		assert_int_equal(udp_hdr_parse(udp_frame + 34, n, s, d, 1, &h), -UDP_ERR_SHORT);
	for (size_t n = UDP_HDR_LEN; n < 13; n++) /* the length field says 13 */
		assert_int_equal(udp_hdr_parse(udp_frame + 34, n, s, d, 1, &h), -UDP_ERR_LEN);
	/* bytes past the length field are not part of the datagram */
	uint8_t longer[20] = { 0 };
	memcpy(longer, udp_frame + 34, 13);
	longer[15] = 0x99;
	assert_int_equal(udp_hdr_parse(longer, sizeof(longer), s, d, 1, &h), 0);
	assert_int_equal(h.len, 13);
}

static void test_icmp_unreach_parse_emit_golden(void **state)
{
	(void)state;
	struct icmp_hdr h;
	assert_int_equal(icmp_hdr_parse(icmp_unreach, sizeof(icmp_unreach), &h), 0);
	assert_int_equal(h.type, ICMP_DEST_UNREACH);
	assert_int_equal(h.code, ICMP_UNREACH_PORT);
	assert_int_equal(h.cksum, 0xcd15);
	assert_int_equal(h.rest, 0);
	uint8_t out[36];
	memcpy(out, icmp_unreach, sizeof(out));
	memset(out, 0, 8);
	icmp_hdr_emit(out, sizeof(out), &h);
	assert_memory_equal(out, icmp_unreach, sizeof(out));
}

static void test_icmp_odd_length_golden(void **state)
{
	(void)state;
	struct icmp_hdr h;
	uint8_t out[11];
	assert_int_equal(icmp_hdr_parse(icmp_echo_odd, sizeof(icmp_echo_odd), &h), 0);
	assert_int_equal(h.rest, 0x12340005);
	memcpy(out, icmp_echo_odd, sizeof(out));
	memset(out, 0, 8);
	icmp_hdr_emit(out, sizeof(out), &h);
	assert_memory_equal(out, icmp_echo_odd, sizeof(out));
	out[10] ^= 0x80; /* the odd last byte is under the checksum */
	assert_int_equal(icmp_hdr_parse(out, sizeof(out), &h), -ICMP_ERR_CKSUM);
}

static void test_icmp_parse_every_truncation_rejected(void **state)
{
	(void)state;
	struct icmp_hdr h;
	for (size_t n = 0; n < ICMP_HDR_LEN; n++)
		assert_int_equal(icmp_hdr_parse(icmp_unreach, n, &h), -ICMP_ERR_SHORT);
	for (size_t n = ICMP_HDR_LEN; n < sizeof(icmp_unreach); n++) /* cut under the checksum */
		assert_int_equal(icmp_hdr_parse(icmp_unreach, n, &h), -ICMP_ERR_CKSUM);
}

static void test_arp_reply_parse_emit_golden(void **state)
{
	(void)state;
	struct arp_pkt a = { .op = ARP_OP_REPLY, .spa = IP(198, 18, 0, 2), .tpa = IP(198, 18, 0, 1),
			     .sha = { 2, 0, 0, 0, 0, 2 }, .tha = { 2, 0, 0, 0, 0, 1 } };
	struct arp_pkt b;
	uint8_t out[28];
	memset(out, 0xee, sizeof(out));
	arp_pkt_emit(out, &a);
	assert_memory_equal(out, arp_rep, sizeof(out));
	assert_int_equal(arp_pkt_parse(arp_rep, sizeof(arp_rep), &b), 0);
	assert_int_equal(b.op, ARP_OP_REPLY);
	assert_memory_equal(b.sha, a.sha, 6);
	assert_memory_equal(b.tha, a.tha, 6);
	assert_int_equal(b.spa, a.spa);
	assert_int_equal(b.tpa, a.tpa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cksum_rfc1071_example_sums),
		cmocka_unit_test(test_cksum_large_buffer_does_not_overflow),
		cmocka_unit_test(test_cksum_matches_definition),
		cmocka_unit_test(test_eth_parse_golden),
		cmocka_unit_test(test_ipv4_parse_golden),
		cmocka_unit_test(test_ipv4_parse_malformed_rejected),
		cmocka_unit_test(test_ipv4_fragment_detected),
		cmocka_unit_test(test_udp_parse_emit_golden),
		cmocka_unit_test(test_udp_parse_malformed_rejected),
		cmocka_unit_test(test_icmp_parse_emit_golden),
		cmocka_unit_test(test_arp_parse_emit_golden),
		cmocka_unit_test(test_arp_parse_malformed_rejected),
		cmocka_unit_test(test_cksum_pseudo_header_golden),
		cmocka_unit_test(test_cksum_pseudo_ipv6_golden),
		cmocka_unit_test(test_eth_multicast_detected),
		cmocka_unit_test(test_eth_parse_every_truncation_rejected),
		cmocka_unit_test(test_ipv4_parse_options_golden),
		cmocka_unit_test(test_ipv4_parse_every_truncation_rejected),
		cmocka_unit_test(test_ipv4_emit_golden),
		cmocka_unit_test(test_udp_emit_zero_sum_sent_as_all_ones),
		cmocka_unit_test(test_udp_parse_every_truncation_rejected),
		cmocka_unit_test(test_icmp_unreach_parse_emit_golden),
		cmocka_unit_test(test_icmp_odd_length_golden),
		cmocka_unit_test(test_icmp_parse_every_truncation_rejected),
		cmocka_unit_test(test_arp_reply_parse_emit_golden),
	};
	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
