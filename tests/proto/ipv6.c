/* IPv6 (RFC 8200), packet by packet: the stack (2001:db8::2/64) on a memlink
 * port, the test playing the peer (2001:db8::1) on another (pt6.h): header
 * checks, extension headers walked and answered as the RFC says, echo,
 * next hop, flow labels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "../lib/pt6.h"
#include "ip6.h"
#include "net6.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"

static uint64_t ctr(struct pt *t, enum stack_counter c) { return pt_counter(t, c); }

/* The golden echo reply to pt6_build_echo(id 0x1234, seq 7, 16 bytes): every
 * byte of the frame. The flow label (0x6321c here) is the keyed hash of the
 * flow (isn_secret { 1 }). */
static const uint8_t golden_echo_reply[] = {
	/* Ethernet: to the peer, from us, IPv6 */
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
	/* version 6, class 0, flow label; payload 24; next header 58; hop limit 64 */
	0x60, 0x06, 0x32, 0x1c, 0x00, 0x18, 0x3a, 0x40,
	/* source 2001:db8::2 */
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	/* destination 2001:db8::1 */
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	/* echo reply, code 0, checksum, id 0x1234, seq 7 */
	0x81, 0x00, 0xd6, 0xba, 0x12, 0x34, 0x00, 0x07,
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
};

static void dump(const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		print_message("0x%02x,%s", b[i], (i % 16 == 15) ? "\n" : " ");
	print_message("\n");
}

static void test_echo_request_gets_golden_reply(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 0x1234, 7, 16));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	if (r.len != sizeof(golden_echo_reply) || memcmp(r.raw, golden_echo_reply, r.len))
		dump(r.raw, r.len);
	assert_int_equal(r.len, sizeof(golden_echo_reply));
	assert_memory_equal(r.raw, golden_echo_reply, sizeof(golden_echo_reply));
	assert_int_equal(ctr(t, ICMP6_ECHO_REPLIES), 1);
	assert_int_equal(ctr(t, IPV6_RX_PACKETS), 1);
	pt_expect_nothing(t);
}

static void test_echo_reply_flow_label_stable_per_flow(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r1, r2, r3;
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r1, ICMP6_ECHO_REPLY);
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 2, 8));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r2, ICMP6_ECHO_REPLY);
	assert_int_not_equal(r1.ip.flow, 0);
	assert_int_equal(r1.ip.flow, r2.ip.flow);
	/* another flow (to the link-local address), another label */
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US_LL, 1, 3, 8));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r3, ICMP6_ECHO_REPLY);
	assert_int_not_equal(r3.ip.flow, r1.ip.flow);
}

static void test_echo_to_link_local_answered_from_it(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	uint32_t n = pt6_build_echo(f, &PT6_US_LL, 5, 6, 32);
	/* from the peer's link-local address */
	memcpy(f + 22, &PT6_PEER_LL, 16);
	pt6_icmp6_cksum(f, 54, n - 54, &PT6_PEER_LL, &PT6_US_LL);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_memory_equal(&r.ip.src, &PT6_US_LL, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER_LL, 16);
	assert_memory_equal(r.l4 + 8, f + 62, 32);
}

static void test_echo_to_all_nodes_answered_from_our_address(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	uint8_t mac[6];
	uint32_t n = pt6_build_echo(f, &PT6_ALL_NODES, 5, 6, 8);
	ipv6_mcast_mac(mac, &PT6_ALL_NODES);
	memcpy(f, mac, 6);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
}

static void test_bad_headers_counted_not_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	uint32_t n;
	/* short */
	n = pt6_build_echo(f, &PT6_US, 1, 1, 8);
	pt_send_frame(t, f, 14 + 39);
	/* version 4 in an IPv6 frame */
	f[14] = 0x40;
	pt_send_frame(t, f, n);
	/* payload length beyond the frame */
	pt6_build_echo(f, &PT6_US, 1, 1, 8);
	wr16(f + 18, 17);
	pt_send_frame(t, f, n);
	/* to another address */
	n = pt6_build_echo(f, &PT6_PEER, 1, 1, 8);
	pt_send_frame(t, f, n);
	/* from a multicast source */
	n = pt6_build_echo(f, &PT6_US, 1, 1, 8);
	memcpy(f + 22, &PT6_ALL_NODES, 16);
	pt_send_frame(t, f, n);
	/* from our own address */
	memcpy(f + 22, &PT6_US, 16);
	pt6_icmp6_cksum(f, 54, n - 54, &PT6_US, &PT6_US);
	pt_send_frame(t, f, n);
	/* bad ICMPv6 checksum */
	n = pt6_build_echo(f, &PT6_US, 1, 1, 8);
	f[60] ^= 1;
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_SHORT), 1);
	assert_int_equal(ctr(t, DROP_IPV6_VERSION), 1);
	assert_int_equal(ctr(t, DROP_IPV6_LEN), 1);
	assert_int_equal(ctr(t, DROP_IPV6_NOT_OURS), 1);
	assert_int_equal(ctr(t, DROP_IPV6_BAD_SRC), 2);
	assert_int_equal(ctr(t, DROP_ICMP6_MALFORMED), 1);
	assert_int_equal(ctr(t, ICMP6_ECHO_REPLIES), 0);
}

static void test_link_padding_trimmed(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	uint32_t n = pt6_build_echo(f, &PT6_US, 1, 1, 2);
	memset(f + n, 0xee, 10);
	pt_send_frame(t, f, n + 10);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(r.ip.plen, 10);
}

/* An echo request behind extension headers: the headers (hlen bytes at
 * ext, their first Next Header fixed up by the caller) go between the IPv6
 * header and the message. */
static uint32_t build_ext_echo(uint8_t *f, uint8_t first, const uint8_t *ext, uint32_t hlen,
			       const struct in6_addr *dst)
{
	uint8_t e[256];
	uint32_t n = pt6_build_echo(e, dst, 9, 9, 8);
	uint32_t ilen = n - 54;
	memcpy(f, e, 54);
	memcpy(f + 54, ext, hlen);
	memcpy(f + 54 + hlen, e + 54, ilen);
	f[20] = first;
	wr16(f + 18, (uint16_t)(hlen + ilen));
	return 54 + hlen + ilen;
}

static void test_ext_headers_walked_to_echo(void **state)
{
	struct pt *t = *state;
	uint8_t f[512];
	struct pt6_frame r;
	/* hop-by-hop (PadN, router alert) -> destination options (Pad1 x2, PadN,
	 * an unknown option of type 00: skipped) -> routing (segments left 0) -> ICMPv6 */
	const uint8_t ext[] = {
		IPV6_NH_DSTOPTS, 0, 1, 0, 5, 2, 0, 0,
		IPV6_NH_ROUTING, 0, 0, 0, 1, 0, 0x1e, 0,
		IPV6_NH_ICMPV6, 0, 4, 0, 0, 0, 0, 0,
	};
	pt_send_frame(t, f, build_ext_echo(f, IPV6_NH_HOPOPTS, ext, sizeof(ext), &PT6_US));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(ctr(t, IPV6_EXT_HDRS), 3);
	assert_int_equal(r.ip.nxt, IPV6_NH_ICMPV6); /* the reply carries none */
}

/* The Parameter Problem the stack sent: code and pointer, and the quoted
 * packet (the offending one, whole, as it fits). */
static void expect_param_problem(struct pt *t, uint8_t code, uint32_t ptr, const uint8_t *orig, uint32_t olen)
{
	struct pt6_frame r;
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
	assert_int_equal(r.l4[1], code);
	assert_int_equal(rd32(r.l4 + 4), ptr);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
	assert_int_equal(r.l4_len, 8 + olen - 14);
	assert_memory_equal(r.l4 + 8, orig + 14, olen - 14);
	assert_int_equal(r.ip.hlim, 64);
}

static void test_unknown_next_header_param_problem(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	/* golden: type 4, code 1, pointer 6 (the IPv6 header's Next Header) */
	static const uint8_t golden_hdr[] = { 0x04, 0x01 };
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, 253, 8, 64);
	memset(f + 54, 0xab, 8);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_NEXTHDR, 6, f, n);
	assert_int_equal(ctr(t, DROP_IPV6_NEXT_HDR), 1);
	assert_int_equal(ctr(t, ICMP6_ERRORS_SENT), 1);
	(void)golden_hdr;
	/* behind a destination options header: the pointer is that header's Next Header */
	const uint8_t ext[] = { 253, 0, 1, 4, 0, 0, 0, 0 };
	n = build_ext_echo(f, IPV6_NH_DSTOPTS, ext, sizeof(ext), &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_NEXTHDR, 40, f, n);
}

static void test_unknown_options_by_their_action_bits(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	uint32_t n;
	/* 01xxxxxx: discarded silently */
	const uint8_t discard[] = { IPV6_NH_ICMPV6, 0, 0x45, 2, 0, 0, 1, 0 };
	pt_send_frame(t, f, build_ext_echo(f, IPV6_NH_DSTOPTS, discard, sizeof(discard), &PT6_US));
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_OPTION), 1);
	/* 10xxxxxx: discarded, Parameter Problem code 2 at the option (offset 42) */
	const uint8_t answer[] = { IPV6_NH_ICMPV6, 0, 0x85, 2, 0, 0, 1, 0 };
	n = build_ext_echo(f, IPV6_NH_DSTOPTS, answer, sizeof(answer), &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_OPTION, 42, f, n);
	/* 11xxxxxx after a PadN, to us: answered, the pointer at the option (offset 44) */
	const uint8_t answer2[] = { IPV6_NH_ICMPV6, 0, 1, 0, 0xc7, 0, 1, 0 };
	n = build_ext_echo(f, IPV6_NH_DSTOPTS, answer2, sizeof(answer2), &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_OPTION, 44, f, n);
	/* 11xxxxxx to a multicast group: discarded without an answer */
	uint8_t mac[6];
	ipv6_mcast_mac(mac, &PT6_ALL_NODES);
	n = build_ext_echo(f, IPV6_NH_DSTOPTS, answer2, sizeof(answer2), &PT6_ALL_NODES);
	memcpy(f, mac, 6);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt_expect_nothing(t);
	/* 10xxxxxx to a multicast group: answered all the same (RFC 8200 §4.2) */
	n = build_ext_echo(f, IPV6_NH_DSTOPTS, answer, sizeof(answer), &PT6_ALL_NODES);
	memcpy(f, mac, 6);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
	assert_int_equal(ctr(t, DROP_IPV6_OPTION), 5);
	/* an option running past its header: dropped */
	const uint8_t trunc[] = { IPV6_NH_ICMPV6, 0, 1, 9, 0, 0, 0, 0 };
	pt_send_frame(t, f, build_ext_echo(f, IPV6_NH_DSTOPTS, trunc, sizeof(trunc), &PT6_US));
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_EXT_TRUNC), 1);
}

static void test_routing_header_with_segments_left_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	/* type 0 (deprecated), segments left 1, one address */
	uint8_t ext[24] = { IPV6_NH_ICMPV6, 2, 0, 1 };
	uint32_t n = build_ext_echo(f, IPV6_NH_ROUTING, ext, sizeof(ext), &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_HEADER, 42, f, n);
	assert_int_equal(ctr(t, DROP_IPV6_ROUTING), 1);
}

static void test_hop_by_hop_not_first_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	const uint8_t ext[] = { IPV6_NH_HOPOPTS, 0, 1, 4, 0, 0, 0, 0, IPV6_NH_ICMPV6, 0, 1, 4, 0, 0, 0, 0 };
	uint32_t n = build_ext_echo(f, IPV6_NH_DSTOPTS, ext, sizeof(ext), &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	expect_param_problem(t, ICMP6_PARAMPROB_NEXTHDR, 40, f, n);
	assert_int_equal(ctr(t, DROP_IPV6_HOPOPTS_POS), 1);
}

static void test_no_next_header_and_truncated_ext(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_NONE, 8, 64);
	pt_send_frame(t, f, n);
	/* a destination options header claiming 16 bytes in 8 */
	n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_DSTOPTS, 8, 64);
	memset(f + 54, 0, 8);
	f[54] = IPV6_NH_ICMPV6;
	f[55] = 1;
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_NO_NEXT), 1);
	assert_int_equal(ctr(t, DROP_IPV6_EXT_TRUNC), 1);
}

static void test_atomic_fragment_processed_whole(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	/* RFC 6946: offset 0, M 0 */
	const uint8_t ext[] = { IPV6_NH_ICMPV6, 0, 0, 0, 0, 0, 0x12, 0x34 };
	pt_send_frame(t, f, build_ext_echo(f, IPV6_NH_FRAGMENT, ext, sizeof(ext), &PT6_US));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(ctr(t, IPV6_FRAGS_RX), 0);
}

/* A UDP-sized payload sent through ipv6_output. */
static int send_l4(struct pt *t, const struct in6_addr *dst, uint8_t proto, uint32_t flow, uint16_t len)
{
	struct pbuf *p = stack_alloc(t->st);
	uint8_t *b = pbuf_append(p, len);
	for (uint16_t i = 0; i < len; i++)
		b[i] = (uint8_t)i;
	int rc = ipv6_output(t->st, p, NULL, dst, proto, 0, flow);
	stack_tx_flush(t->st);
	memlink_advance(t->ml, t->now);
	return rc;
}

static void test_output_header_and_flow_label(void **state)
{
	struct pt *t = *state;
	struct pt6_frame r, r2;
	assert_int_equal(send_l4(t, &PT6_PEER, IPV6_NH_UDP, 0x12345, 16), 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(r.ip.flow, 0x12345); /* given: used as is */
	assert_int_equal(r.ip.hlim, 64);
	assert_int_equal(r.ip.tclass, 0);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	/* 0: the hash of the flow, stable; other ports, another label */
	assert_int_equal(send_l4(t, &PT6_PEER, IPV6_NH_UDP, 0, 16), 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(send_l4(t, &PT6_PEER, IPV6_NH_UDP, 0, 16), 0);
	pt6_expect_ip(t, &r2);
	assert_int_not_equal(r.ip.flow, 0);
	assert_int_equal(r.ip.flow, r2.ip.flow);
	assert_int_equal(send_l4(t, &PT6_PEER, IPV6_NH_UDP, 0, 20), 0); /* same first 4 bytes: same ports */
	pt6_expect_ip(t, &r2);
	assert_int_equal(r.ip.flow, r2.ip.flow);
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1460);
	assert_true(ipv6_enabled(t->st));
}

static void gw_cfg(struct stack_cfg *cfg)
{
	pt6_cfg(cfg);
	cfg->gateway6 = PT6_PEER_LL;
}

static int setup_gw(void **state)
{
	static struct pt t;
	struct pt_opts o = { .seed = 7, .nbufs = 256, .bufsize = 2048, .mtu = 1500, .isn_secret = { 1 },
			     .cfg_hook = gw_cfg };
	if (pt_open(&t, &o))
		return -1;
	*state = &t;
	return 0;
}

static void test_next_hop_on_link_or_gateway(void **state)
{
	struct pt *t = *state;
	const struct in6_addr far = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 9 } };
	const struct in6_addr near = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [8] = 0xaa, [15] = 9 } };
	struct pt6_frame r;
	/* the gateway (fe80::ff:fe00:1) is known, nothing else */
	assert_int_equal(nd_neigh_set(t->st, &PT6_PEER_LL, PT_PEER_MAC, 1), 0);
	/* off the /64: to the gateway's MAC at once, the destination unchanged */
	assert_int_equal(send_l4(t, &far, IPV6_NH_UDP, 1, 8), 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	assert_memory_equal(&r.ip.dst, &far, 16);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	pt_expect_nothing(t);
	/* on it: the destination itself is solicited */
	assert_int_equal(send_l4(t, &near, IPV6_NH_UDP, 1, 8), 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	assert_memory_equal(r.l4 + 8, &near, 16);
	pt_expect_nothing(t);
	/* link-local: on-link, from our link-local address */
	assert_int_equal(send_l4(t, &PT6_PEER_LL, IPV6_NH_UDP, 1, 8), 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_memory_equal(&r.ip.src, &PT6_US_LL, 16);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
}

static void test_no_gateway_no_route(void **state)
{
	struct pt *t = *state;
	const struct in6_addr far = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0xff, [15] = 9 } };
	assert_int_equal(send_l4(t, &far, IPV6_NH_UDP, 1, 8), -ENETUNREACH);
	assert_int_equal(ctr(t, DROP_IPV6_NO_ROUTE), 1);
	pt_expect_nothing(t);
}

static void test_ipv6_off_without_address(void **state)
{
	struct pt *t = *state; /* the plain IPv4 fixture */
	uint8_t f[256];
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_DISABLED), 1);
	assert_false(ipv6_enabled(t->st));
	assert_int_equal(send_l4(t, &PT6_PEER, IPV6_NH_UDP, 1, 8), -ENETUNREACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_request_gets_golden_reply, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_echo_reply_flow_label_stable_per_flow, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_echo_to_link_local_answered_from_it, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_echo_to_all_nodes_answered_from_our_address, pt6_setup,
						pt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers_counted_not_answered, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_link_padding_trimmed, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_ext_headers_walked_to_echo, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_next_header_param_problem, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_options_by_their_action_bits, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_routing_header_with_segments_left_answered, pt6_setup,
						pt_teardown),
		cmocka_unit_test_setup_teardown(test_hop_by_hop_not_first_answered, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_no_next_header_and_truncated_ext, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_atomic_fragment_processed_whole, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_output_header_and_flow_label, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_next_hop_on_link_or_gateway, setup_gw, pt_teardown),
		cmocka_unit_test_setup_teardown(test_no_gateway_no_route, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_off_without_address, pt_setup, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
