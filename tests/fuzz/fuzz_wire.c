/* libFuzzer target: every wire parser on arbitrary bytes. Each parse must stay
 * inside the bytes it is given (the input is copied into a buffer of exactly
 * its length, so ASan sees any overread), and where a header can be written
 * back, parse(emit(parse(x))) must give the same fields. The first bytes also
 * drive emit directly: a TCP header built from them must parse back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/arp.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define CHECK(c) do { if (!(c)) fuzz_fail(#c, __LINE__); } while (0)

static void fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_wire:%d: check failed: %s\n", line, what);
	abort();
}

/* The RFC 1071 sum, one byte at a time, as the reference for cksum_partial. */
static uint16_t cksum_ref(const uint8_t *p, size_t len, uint32_t seed)
{
	uint64_t acc = seed;
	for (size_t i = 0; i < len; i++)
		acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void fuzz_cksum(const uint8_t *b, size_t n)
{
	uint32_t seed = n >= 4 ? rd32(b) : 0;
	size_t cut = n ? (b[0] * 2u) % (n + 1) : 0; /* an even split point */
	CHECK(cksum_fold(cksum_partial(b, n, seed)) == cksum_ref(b, n, seed));
	if (cut % 2 == 0 && cut <= n) {
		uint32_t s = cksum_partial(b + cut, n - cut, cksum_partial(b, cut, seed));
		CHECK(cksum_fold(s) == cksum_fold(cksum_partial(b, n, seed)));
	}
}

static void fuzz_eth(const uint8_t *b, size_t n)
{
	struct eth_hdr h, h2;
	uint8_t out[ETH_HDR_LEN];
	if (eth_hdr_parse(b, n, &h)) {
		CHECK(n < ETH_HDR_LEN);
		return;
	}
	eth_hdr_emit(out, &h);
	CHECK(memcmp(out, b, ETH_HDR_LEN) == 0);
	CHECK(eth_hdr_parse(out, sizeof(out), &h2) == 0 && memcmp(&h, &h2, sizeof(h)) == 0);
}

static void fuzz_arp(const uint8_t *b, size_t n)
{
	struct arp_pkt a, a2;
	uint8_t out[ARP_LEN];
	memset(&a, 0, sizeof(a));
	memset(&a2, 0, sizeof(a2));
	if (arp_pkt_parse(b, n, &a))
		return;
	arp_pkt_emit(out, &a);
	CHECK(memcmp(out, b, ARP_LEN) == 0);
	CHECK(arp_pkt_parse(out, sizeof(out), &a2) == 0 && memcmp(&a, &a2, sizeof(a)) == 0);
}

static void fuzz_ipv4(const uint8_t *b, size_t n)
{
	struct ipv4_hdr h, h2;
	int r = ipv4_hdr_parse(b, n, 1, &h);
	if (ipv4_hdr_parse(b, n, 0, &h2) == 0 && r)
		CHECK(r == -IPV4_ERR_CKSUM); /* without the check only a bad checksum passes */
	if (r)
		return;
	CHECK(h.ihl >= IPV4_HDR_LEN && h.ihl <= n && h.total_len >= h.ihl && h.total_len <= n);
	/* emit writes a 20-byte header (options dropped) claiming total_len:
	 * parse it inside a packet that long */
	{
		uint8_t *pkt = calloc(1, h.total_len);
		CHECK(pkt != NULL);
		ipv4_hdr_emit(pkt, &h);
		CHECK(ipv4_hdr_parse(pkt, h.total_len, 1, &h2) == 0);
		CHECK(h2.ihl == IPV4_HDR_LEN && h2.tos == h.tos && h2.total_len == h.total_len &&
		      h2.id == h.id && h2.frag == h.frag && h2.ttl == h.ttl && h2.proto == h.proto &&
		      h2.src == h.src && h2.dst == h.dst);
		free(pkt);
	}
}

static void fuzz_udp(const uint8_t *b, size_t n, uint32_t src, uint32_t dst)
{
	struct udp_hdr h, h2;
	uint8_t *copy;
	int r = udp_hdr_parse(b, n, src, dst, 1, &h);
	if (r)
		return;
	CHECK(h.len >= UDP_HDR_LEN && h.len <= n);
	copy = malloc(h.len);
	CHECK(copy != NULL);
	memcpy(copy, b, h.len);
	udp_hdr_emit(copy, &h, src, dst);
	CHECK(udp_hdr_parse(copy, h.len, src, dst, 1, &h2) == 0);
	CHECK(h2.sport == h.sport && h2.dport == h.dport && h2.len == h.len && h2.cksum != 0);
	CHECK(memcmp(copy + UDP_HDR_LEN, b + UDP_HDR_LEN, h.len - UDP_HDR_LEN) == 0);
	free(copy);
}

static void fuzz_icmp(const uint8_t *b, size_t n)
{
	struct icmp_hdr h, h2;
	uint8_t *copy;
	if (icmp_hdr_parse(b, n, &h))
		return;
	copy = malloc(n);
	CHECK(copy != NULL);
	memcpy(copy, b, n);
	icmp_hdr_emit(copy, n, &h);
	CHECK(icmp_hdr_parse(copy, n, &h2) == 0);
	CHECK(h2.type == h.type && h2.code == h.code && h2.rest == h.rest);
	free(copy);
}

static int opts_equal(const struct tcp_opts *a, const struct tcp_opts *b, int nsack)
{
	if ((a->has & ~TCP_OPTF_SACK) != (b->has & ~TCP_OPTF_SACK))
		return 0;
	if ((a->has & TCP_OPTF_MSS) && a->mss != b->mss)
		return 0;
	if ((a->has & TCP_OPTF_WS) && a->wscale != b->wscale)
		return 0;
	if ((a->has & TCP_OPTF_TS) && (a->tsval != b->tsval || a->tsecr != b->tsecr))
		return 0;
	if (nsack) {
		if (!(b->has & TCP_OPTF_SACK) || b->nsack != nsack)
			return 0;
		for (int i = 0; i < nsack; i++)
			if (a->sack[i].start != b->sack[i].start || a->sack[i].end != b->sack[i].end)
				return 0;
	} else if (b->has & TCP_OPTF_SACK) {
		return 0;
	}
	return 1;
}

/* Emit h with payload len plen, parse it back, compare. */
static void tcp_roundtrip(const struct tcp_hdr *h, const uint8_t *payload, size_t plen, uint32_t src,
			  uint32_t dst)
{
	uint8_t seg[TCP_HDR_MAX + 64];
	struct tcp_hdr h2;
	size_t olen = tcp_opts_len(&h->opt), hl, want_sack = 0;
	CHECK(olen % 4 == 0 && olen <= 40);
	if (plen > 64)
		plen = 64;
	memset(seg, 0xa5, sizeof(seg));
	hl = tcp_hdr_emit(seg, h);
	CHECK(hl == TCP_HDR_LEN + olen);
	memcpy(seg + hl, payload, plen);
	tcp_cksum_set(seg, hl + plen, src, dst, 0);
	CHECK(tcp_hdr_parse(seg, hl + plen, src, dst, 1, &h2) == 0);
	CHECK(h2.sport == h->sport && h2.dport == h->dport && h2.seq == h->seq && h2.ack == h->ack &&
	      h2.flags == h->flags && h2.wnd == h->wnd && h2.urp == h->urp && h2.off == hl);
	if ((h->opt.has & TCP_OPTF_SACK) && h->opt.nsack) {
		/* what emit had room for: the blocks that fit after the other options */
		size_t other = (h->opt.has & TCP_OPTF_MSS ? 4 : 0) +
			       (h->opt.has & TCP_OPTF_TS ? 12 : h->opt.has & TCP_OPTF_SACK_OK ? 4 : 0) +
			       (h->opt.has & TCP_OPTF_WS ? 4 : 0);
		size_t max = (40 - other - 4) / 8;
		want_sack = h->opt.nsack < max ? h->opt.nsack : max;
	}
	CHECK(opts_equal(&h->opt, &h2.opt, (int)want_sack));
	/* one flipped payload bit changes the sum by 1 or 256: never passes */
	if (plen) {
		seg[hl] ^= 0x01;
		CHECK(tcp_hdr_parse(seg, hl + plen, src, dst, 1, &h2) == -TCP_ERR_CKSUM);
	}
}

static void fuzz_tcp(const uint8_t *b, size_t n, uint32_t src, uint32_t dst)
{
	struct tcp_hdr h;
	struct tcp_opts o;
	int r = tcp_hdr_parse(b, n, src, dst, 0, &h);
	if (n >= TCP_HDR_LEN)
		tcp_opts_parse(b + TCP_HDR_LEN, n - TCP_HDR_LEN > 40 ? 40 : n - TCP_HDR_LEN, &o);
	if (r)
		return;
	CHECK(h.off >= TCP_HDR_LEN && h.off <= n && h.off <= TCP_HDR_MAX);
	CHECK(h.opt.nsack <= TCP_SACK_MAX_BLOCKS);
	CHECK(!(h.opt.has & TCP_OPTF_WS) || h.opt.wscale <= 14);
	tcp_roundtrip(&h, b + h.off, n - h.off, src, dst);
}

/* A TCP header built field by field from the bytes, so emit sees every
 * combination of options. */
static void fuzz_tcp_emit(const uint8_t *b, size_t n)
{
	struct tcp_hdr h;
	if (n < 64)
		return;
	memset(&h, 0, sizeof(h));
	h.sport = rd16(b);
	h.dport = rd16(b + 2);
	h.seq = rd32(b + 4);
	h.ack = rd32(b + 8);
	h.flags = b[12];
	h.wnd = rd16(b + 13);
	h.urp = rd16(b + 15);
	h.opt.has = b[17] & 0x1f;
	h.opt.mss = rd16(b + 18);
	h.opt.wscale = b[20] % 15;
	h.opt.tsval = rd32(b + 21);
	h.opt.tsecr = rd32(b + 25);
	h.opt.nsack = b[29] % (TCP_SACK_MAX_BLOCKS + 1);
	for (int i = 0; i < TCP_SACK_MAX_BLOCKS; i++) {
		h.opt.sack[i].start = rd32(b + 30 + 8 * i);
		h.opt.sack[i].end = rd32(b + 34 + 8 * i);
	}
	tcp_roundtrip(&h, b + 62, n - 62, rd32(b), rd32(b + 4));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exact-size heap copy: reading one byte past it is an ASan report */
	uint8_t *b = malloc(size ? size : 1);
	uint32_t src = 0xc6120001u, dst = 0xc6120002u;
	if (!b)
		return 0;
	memcpy(b, data, size);
	fuzz_cksum(b, size);
	fuzz_eth(b, size);
	if (size > ETH_HDR_LEN)
		fuzz_arp(b + ETH_HDR_LEN, size - ETH_HDR_LEN);
	fuzz_arp(b, size);
	fuzz_ipv4(b, size);
	if (size >= IPV4_HDR_LEN) {
		src = rd32(b + 12);
		dst = rd32(b + 16);
	}
	/* the transport parsers on the bytes after a 20-byte IP header, and on
	 * the whole input */
	for (size_t off = 0; off <= IPV4_HDR_LEN && off <= size; off += IPV4_HDR_LEN) {
		fuzz_udp(b + off, size - off, src, dst);
		fuzz_icmp(b + off, size - off);
		fuzz_tcp(b + off, size - off, src, dst);
	}
	fuzz_tcp_emit(b, size);
	free(b);
	return 0;
}
