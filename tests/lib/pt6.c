/* IPv6 on the packet-test fixture (see pt6.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "net6.h"
#include "pt6.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"

const struct in6_addr PT6_US = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 } };
const struct in6_addr PT6_PEER = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
const struct in6_addr PT6_US_LL = { .s6_addr = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 2 } };
const struct in6_addr PT6_PEER_LL = { .s6_addr = { 0xfe, 0x80, [11] = 0xff, [12] = 0xfe, [15] = 1 } };
const struct in6_addr PT6_ALL_NODES = { .s6_addr = { 0xff, 0x02, [15] = 1 } };

static struct pt pt6_fixture;

void pt6_cfg(struct stack_cfg *cfg)
{
	cfg->addr6 = PT6_US;
	cfg->prefix6_len = 64;
	cfg->no_dad = 1;
}

void pt6_cfg_dad(struct stack_cfg *cfg)
{
	pt6_cfg(cfg);
	cfg->no_dad = 0;
}

static int pt6_setup_with(void **state, void (*hook)(struct stack_cfg *), int nd)
{
	struct pt_opts o = { .seed = 7, .nbufs = 256, .bufsize = 2048, .mtu = 1500, .isn_secret = { 1 },
			     .cfg_hook = hook };
	struct pt *t = &pt6_fixture;
	if (pt_open(t, &o))
		return -1;
	if (nd && (nd_neigh_set(t->st, &PT6_PEER, PT_PEER_MAC, 1) || nd_neigh_set(t->st, &PT6_PEER_LL, PT_PEER_MAC, 1)))
		return -1;
	*state = t;
	return 0;
}

int pt6_setup(void **state) { return pt6_setup_with(state, pt6_cfg, 1); }
int pt6_setup_no_nd(void **state) { return pt6_setup_with(state, pt6_cfg, 0); }
int pt6_setup_dad(void **state) { return pt6_setup_with(state, pt6_cfg_dad, 0); }

uint32_t pt6_build_ip(uint8_t *f, const uint8_t *dst_mac, const struct in6_addr *src, const struct in6_addr *dst,
		      uint8_t nxt, uint16_t plen, uint8_t hlim)
{
	struct eth_hdr e = { .type = ETH_TYPE_IPV6 };
	struct ipv6_hdr h = { .plen = plen, .nxt = nxt, .hlim = hlim, .src = *src, .dst = *dst };
	memcpy(e.dst, dst_mac ? dst_mac : PT_US_MAC, 6);
	memcpy(e.src, PT_PEER_MAC, 6);
	eth_hdr_emit(f, &e);
	ipv6_hdr_emit(f + 14, &h);
	return 54u + plen;
}

void pt6_icmp6_cksum(uint8_t *f, uint32_t off, uint32_t len, const struct in6_addr *src, const struct in6_addr *dst)
{
	wr16(f + off + 2, 0);
	wr16(f + off + 2, cksum_fold(cksum_partial(f + off, len, cksum_pseudo_ipv6(src, dst, IPV6_NH_ICMPV6, len))));
}

uint32_t pt6_build_echo(uint8_t *f, const struct in6_addr *dst, uint16_t id, uint16_t seq, uint16_t len)
{
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, dst, IPV6_NH_ICMPV6, (uint16_t)(8 + len), 64);
	uint8_t *b = f + 54;
	b[0] = ICMP6_ECHO_REQUEST;
	b[1] = 0;
	wr16(b + 4, id);
	wr16(b + 6, seq);
	for (uint16_t i = 0; i < len; i++)
		b[8 + i] = (uint8_t)(0x40 + i);
	pt6_icmp6_cksum(f, 54, 8u + len, &PT6_PEER, dst);
	return n;
}

uint32_t pt6_build_ns(uint8_t *f, const struct in6_addr *src, const struct in6_addr *dst,
		      const struct in6_addr *target, const uint8_t *mac)
{
	struct in6_addr sn;
	uint8_t dmac[6];
	uint16_t len = (uint16_t)(ND_NS_NA_LEN + (mac ? ND_OPT_LLADDR_LEN : 0));
	uint8_t *b = f + 54;
	if (!dst) {
		ipv6_addr_solicited(&sn, target);
		dst = &sn;
	}
	ipv6_mcast_mac(dmac, dst);
	pt6_build_ip(f, ipv6_addr_multicast(dst) ? dmac : NULL, src, dst, IPV6_NH_ICMPV6, len, ND_HOP_LIMIT);
	memset(b, 0, len);
	b[0] = ND_NEIGHBOR_SOLICIT;
	memcpy(b + 8, target, 16);
	if (mac) {
		b[24] = ND_OPT_SOURCE_LLADDR;
		b[25] = 1;
		memcpy(b + 26, mac, 6);
		memcpy(f + 6, mac, 6);
	}
	pt6_icmp6_cksum(f, 54, len, src, dst);
	return 54u + len;
}

uint32_t pt6_build_na(uint8_t *f, const struct in6_addr *src, const struct in6_addr *dst,
		      const struct in6_addr *target, uint32_t flags, const uint8_t *mac)
{
	uint8_t dmac[6];
	uint16_t len = (uint16_t)(ND_NS_NA_LEN + (mac ? ND_OPT_LLADDR_LEN : 0));
	uint8_t *b = f + 54;
	ipv6_mcast_mac(dmac, dst);
	pt6_build_ip(f, ipv6_addr_multicast(dst) ? dmac : NULL, src, dst, IPV6_NH_ICMPV6, len, ND_HOP_LIMIT);
	memset(b, 0, len);
	b[0] = ND_NEIGHBOR_ADVERT;
	wr32(b + 4, flags);
	memcpy(b + 8, target, 16);
	if (mac) {
		b[24] = ND_OPT_TARGET_LLADDR;
		b[25] = 1;
		memcpy(b + 26, mac, 6);
		memcpy(f + 6, mac, 6);
	}
	pt6_icmp6_cksum(f, 54, len, src, dst);
	return 54u + len;
}

void pt6_expect_ip(struct pt *t, struct pt6_frame *f)
{
	struct eth_hdr e;
	f->len = pt_recv_frame(t, f->raw, sizeof(f->raw));
	assert_true(f->len > 0);
	assert_int_equal(eth_hdr_parse(f->raw, f->len, &e), 0);
	assert_int_equal(e.type, ETH_TYPE_IPV6);
	assert_memory_equal(e.src, PT_US_MAC, 6);
	memcpy(f->dst_mac, e.dst, 6);
	assert_int_equal(ipv6_hdr_parse(f->raw + 14, f->len - 14, &f->ip), 0);
	assert_int_equal(f->len, 54u + f->ip.plen);
	f->l4 = f->raw + 54;
	f->l4_len = f->ip.plen;
}

void pt6_expect_icmp6(struct pt *t, struct pt6_frame *f, uint8_t type)
{
	pt6_expect_ip(t, f);
	assert_int_equal(f->ip.nxt, IPV6_NH_ICMPV6);
	assert_true(f->l4_len >= 8);
	assert_int_equal(f->l4[0], type);
	assert_int_equal(cksum_fold(cksum_partial(f->l4, f->l4_len,
						  cksum_pseudo_ipv6(&f->ip.src, &f->ip.dst, IPV6_NH_ICMPV6, f->l4_len))),
			 0);
}
