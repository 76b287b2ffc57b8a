/* libFuzzer target: the IPv6 network layer (ipv6.c, nd.c, icmp6.c,
 * ipv6_frag.c) of a stack (2001:db8::2/64, gateway fe80::1) on an
 * in-memory link with a fake clock, driven by a hostile peer whose every
 * move comes from the fuzz input: raw frames, IPv6 packets built field by
 * field (addresses from a set that covers ours, multicast, ::, link-local;
 * extension headers, options, fragments and ND messages with the ICMPv6
 * checksum right unless a bit says otherwise), clock steps up to 70 s and
 * packets the stack sends (ipv6_output, UDP-sized, to several destinations).
 *
 * What must hold (abort otherwise):
 *  - no crash, no sanitizer report, no livelock;
 *  - every IPv6 frame the stack sends is well formed: version 6, payload
 *    length the frame's, source ours or :: (DAD), hop limit 64 or 255 (ND),
 *    an unfragmented ICMPv6 message's checksum right, at most the MTU;
 *  - after stack_destroy, no pbuf is left in use in either pool. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip6.h"
#include "net.h"
#include "net6.h"
#include "netif/memlink.h"
#include "stack_impl.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"
#include "wire/ipv6.h"

#define POLL_LIMIT 20000
#define CHECK(c) do { if (!(c)) fuzz_fail(#c, __LINE__); } while (0)

static void fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_ipv6:%d: check failed: %s\n", line, what);
	abort();
}

static const uint8_t US_MAC[6] = { 2, 0, 0, 0, 0, 2 }, PEER_MAC[6] = { 2, 0, 0, 0, 0, 1 };
static const struct in6_addr US = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } };
static const struct in6_addr US_LL = { .s6_addr = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2 } };
/* what the peer's packets come from and go to */
static const struct in6_addr ADDRS[] = {
	{ .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },                    /* the peer */
	{ .s6_addr = { 0xfe, 0x80, [15] = 1 } },                                  /* the gateway */
	{ .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } },                    /* us */
	{ .s6_addr = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2 } },       /* our link-local */
	{ .s6_addr = { 0xff, 0x02, [15] = 1 } },                                  /* all nodes */
	{ .s6_addr = { 0xff, 0x02, [11] = 1, [12] = 0xff, [15] = 2 } },          /* our solicited-node group */
	{ { { 0 } } },                                                            /* :: */
	{ .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 9 } },              /* off the prefix */
};
#define NADDRS (sizeof(ADDRS) / sizeof(ADDRS[0]))

struct in {
	const uint8_t *p;
	size_t n;
};
static uint8_t g8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static uint16_t g16(struct in *in) { uint16_t v = g8(in); return (uint16_t)(v << 8 | g8(in)); }
static uint32_t g32(struct in *in) { uint32_t v = g16(in); return v << 16 | g16(in); }
static void gbytes(struct in *in, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = g8(in);
}

struct fz {
	struct memlink *ml;
	struct pbuf_pool *spool, *ppool;
	struct netif *snif, *peer;
	struct stack *st;
	uint64_t now;
};

/* Every frame the stack sent, checked and freed. */
static void drain(struct fz *f)
{
	struct pbuf *p;
	while (netif_rx_burst(f->peer, &p, 1) == 1) {
		struct eth_hdr e;
		struct ipv6_hdr h;
		CHECK(eth_hdr_parse(p->data, p->len, &e) == 0);
		CHECK(!memcmp(e.src, US_MAC, 6));
		CHECK(p->len <= 14u + f->st->mtu);
		if (e.type == ETH_TYPE_IPV6) {
			const uint8_t *l4 = p->data + 54;
			CHECK(ipv6_hdr_parse(p->data + 14, p->len - 14, &h) == 0);
			CHECK(p->len == 54u + h.plen);
			CHECK(ipv6_addr_eq(&h.src, &US) || ipv6_addr_eq(&h.src, &US_LL) || ipv6_addr_any(&h.src));
			CHECK(h.hlim == 64 || h.hlim == 255);
			if (h.nxt == IPV6_NH_ICMPV6)
				CHECK(cksum_fold(cksum_partial(l4, h.plen,
							       cksum_pseudo_ipv6(&h.src, &h.dst, IPV6_NH_ICMPV6, h.plen))) ==
				      0);
			if (ipv6_addr_any(&h.src))
				CHECK(h.nxt == IPV6_NH_ICMPV6 && l4[0] == ND_NEIGHBOR_SOLICIT);
		}
		pbuf_free(p);
	}
}

static void run(struct fz *f, uint64_t advance)
{
	int n = 0;
	f->now += advance;
	memlink_advance(f->ml, f->now);
	while (stack_poll(f->st, f->now) > 0)
		CHECK(++n < POLL_LIMIT);
	memlink_advance(f->ml, f->now);
	drain(f);
}

static void send_frame(struct fz *f, const uint8_t *b, uint32_t len)
{
	struct pbuf *p = pbuf_alloc(f->ppool);
	if (!p)
		return;
	memcpy(pbuf_append(p, len), b, len);
	netif_tx_burst(f->peer, &p, 1);
}

/* An IPv6 packet from the input: header fields, then a chain of up to 4
 * extension headers, then an upper-layer message. */
static void op_packet(struct fz *f, struct in *in, int frag)
{
	uint8_t b[2048];
	uint8_t ctl = g8(in), nxt, *l;
	const struct in6_addr *src = &ADDRS[ctl % NADDRS], *dst = &ADDRS[(ctl >> 3) % NADDRS];
	struct eth_hdr e = { .type = ETH_TYPE_IPV6 };
	struct ipv6_hdr h = { .tclass = g8(in), .flow = g32(in), .hlim = g8(in), .src = *src, .dst = *dst };
	uint32_t off = 54, nhdr = g8(in) % 5, ulen, nxt_at = 20;

	if (g8(in) & 1)
		h.hlim = 255;
	memcpy(e.src, PEER_MAC, 6);
	if (ipv6_addr_multicast(dst))
		ipv6_mcast_mac(e.dst, dst);
	else
		memcpy(e.dst, US_MAC, 6);
	for (uint32_t i = 0; i < nhdr + (frag ? 1 : 0); i++) {
		static const uint8_t kinds[] = { IPV6_NH_HOPOPTS, IPV6_NH_DSTOPTS, IPV6_NH_ROUTING, IPV6_NH_FRAGMENT };
		uint8_t k = frag && i == nhdr ? IPV6_NH_FRAGMENT : kinds[g8(in) % 4];
		uint32_t hl = k == IPV6_NH_FRAGMENT ? 8 : 8u * (1 + g8(in) % 4);
		if (off + hl > 1200)
			break;
		b[nxt_at] = k;
		gbytes(in, b + off, hl);
		if (k != IPV6_NH_FRAGMENT)
			b[off + 1] = (uint8_t)(hl / 8 - 1);
		else if (frag) /* the fragment's id from a small set, offsets near each other */
			wr32(b + off + 4, g8(in) % 4), wr16(b + off + 2, (uint16_t)((g16(in) % 1024) * 8 | (g8(in) & 1)));
		nxt_at = off;
		off += hl;
	}
	nxt = g8(in);
	switch (nxt % 6) {
	case 0: nxt = IPV6_NH_ICMPV6; break;
	case 1: nxt = IPV6_NH_UDP; break;
	case 2: nxt = IPV6_NH_TCP; break;
	default: break;
	}
	b[nxt_at] = nxt;
	ulen = g16(in) % 1500;
	if (off + ulen > 1514)
		ulen = 1514 - off;
	l = b + off;
	gbytes(in, l, ulen);
	if (nxt == IPV6_NH_ICMPV6 && ulen >= 4) {
		static const uint8_t types[] = { ICMP6_ECHO_REQUEST, ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT,
						 ICMP6_PACKET_TOO_BIG, ICMP6_DST_UNREACH, ICMP6_PARAM_PROB };
		uint8_t t = g8(in);
		if (t < 6 * 32)
			l[0] = types[t % 6];
		if (l[0] == ND_NEIGHBOR_SOLICIT || l[0] == ND_NEIGHBOR_ADVERT) {
			l[1] = 0;
			if (ulen >= 24 && (t & 0x40))
				memcpy(l + 8, ADDRS[g8(in) % NADDRS].s6_addr, 16);
		}
		if (!(g8(in) & 0x80)) {
			wr16(l + 2, 0);
			wr16(l + 2, cksum_fold(cksum_partial(l, ulen, cksum_pseudo_ipv6(src, dst, IPV6_NH_ICMPV6, ulen))));
		}
	}
	h.plen = (uint16_t)(off - 54 + ulen);
	h.nxt = b[20];
	eth_hdr_emit(b, &e);
	b[20] = 0; /* ipv6_hdr_emit writes it */
	ipv6_hdr_emit(b + 14, &h);
	if (g8(in) == 0xff)
		b[14 + 4 + g8(in) % 2] ^= g8(in); /* a wrong payload length */
	send_frame(f, b, off + ulen);
}

static void op_output(struct fz *f, struct in *in)
{
	struct pbuf *p = stack_alloc(f->st);
	uint16_t len = g16(in) % 4000;
	const struct in6_addr *dst = &ADDRS[g8(in) % NADDRS];
	if (!p)
		return;
	if (len > pbuf_tailroom(p))
		len = (uint16_t)pbuf_tailroom(p);
	memset(pbuf_append(p, len), 0x5a, len);
	ipv6_output(f->st, p, NULL, dst, IPV6_NH_UDP, 0, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { .now = 1000000000ull };
	struct stack_cfg cfg = { .prefix_len = 24, .prefix6_len = 64, .isn_secret = { 1 } };
	struct in in = { data, size };
	int ops = 0;

	cfg.addr.s_addr = htonl(0xc6120002u);
	cfg.addr6 = US;
	cfg.gateway6 = ADDRS[1];
	cfg.no_dad = g8(&in) & 1;
	cfg.dad_wait_ms = 100;
	if (memlink_create(&f.ml, 1) || pbuf_pool_heap_create(&f.spool, 512, 2048) ||
	    pbuf_pool_heap_create(&f.ppool, 512, 2048))
		abort();
	f.snif = memlink_port(f.ml, US_MAC, 1500, f.spool);
	f.peer = memlink_port(f.ml, PEER_MAC, 1500, f.ppool);
	if (stack_create(&f.st, &cfg, f.snif, f.now))
		abort();
	run(&f, 0);
	while (in.n && ops++ < 200) {
		uint8_t op = g8(&in);
		switch (op % 8) {
		case 0: { /* a raw IPv6 frame */
			uint8_t b[1514];
			uint32_t n = 14 + g16(&in) % 1500;
			memcpy(b, US_MAC, 6);
			memcpy(b + 6, PEER_MAC, 6);
			wr16(b + 12, ETH_TYPE_IPV6);
			gbytes(&in, b + 14, n - 14);
			send_frame(&f, b, n);
			break;
		}
		case 1:
		case 2:
		case 3:
			op_packet(&f, &in, 0);
			break;
		case 4:
			op_packet(&f, &in, 1);
			break;
		case 5:
			run(&f, (uint64_t)g16(&in) * 1000000ull + (op & 0x80 ? 60ull * 1000000000ull : 0));
			break;
		case 6:
			op_output(&f, &in);
			break;
		case 7: {
			uint8_t mac[6] = { 2, 0, 0, 0, 0, (uint8_t)(g8(&in) % 4) };
			nd_neigh_set(f.st, &ADDRS[g8(&in) % 2], mac, g8(&in) & 1);
			break;
		}
		}
		run(&f, 0);
	}
	run(&f, 70ull * 1000000000ull);
	stack_destroy(f.st);
	memlink_destroy(f.ml);
	CHECK(f.spool->in_use == 0);
	CHECK(f.ppool->in_use == 0);
	pbuf_pool_heap_destroy(f.spool);
	pbuf_pool_heap_destroy(f.ppool);
	return 0;
}
