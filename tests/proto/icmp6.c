/* ICMPv6 (RFC 4443) and IPv6 fragments (RFC 8200 §4.5, RFC 5722), packet
 * by packet on the pt6 fixture: reassembly and its edge cases (order,
 * duplicates, overlaps, timeout with Time Exceeded, bounded slots), large
 * echo requests answered in fragments, Packet Too Big lowering the path
 * MTU and fragments cut to it, errors sent (never about an error or a
 * multicast) and their rate limit. */
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

#define SEC 1000000000ull

static uint64_t ctr(struct pt *t, enum stack_counter c) { return pt_counter(t, c); }

/* An echo request's ICMPv6 message (len data bytes), checksum done, into m. */
static uint32_t echo_msg(uint8_t *m, uint16_t seq, uint32_t len)
{
	m[0] = ICMP6_ECHO_REQUEST;
	m[1] = 0;
	wr16(m + 2, 0);
	wr16(m + 4, 0x77);
	wr16(m + 6, seq);
	for (uint32_t i = 0; i < len; i++)
		m[8 + i] = (uint8_t)(i * 7 + 3);
	wr16(m + 2, cksum_fold(cksum_partial(m, 8 + len, cksum_pseudo_ipv6(&PT6_PEER, &PT6_US, IPV6_NH_ICMPV6,
									    8 + len))));
	return 8 + len;
}

/* One fragment of msg: bytes [off, off+len), more, identification id. */
static void send_frag(struct pt *t, const uint8_t *msg, uint32_t off, uint32_t len, int more, uint32_t id)
{
	uint8_t f[2048];
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_FRAGMENT, (uint16_t)(8 + len), 64);
	f[54] = IPV6_NH_ICMPV6;
	f[55] = 0;
	wr16(f + 56, (uint16_t)(off | (more ? 1 : 0)));
	wr32(f + 58, id);
	memcpy(f + 62, msg + off, len);
	pt_send_frame(t, f, n);
}

static void expect_echo_reply(struct pt *t, const uint8_t *req, uint32_t len)
{
	struct pt6_frame r;
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(r.l4_len, len);
	assert_memory_equal(r.l4 + 4, req + 4, len - 4);
}

static void test_fragments_reassembled_in_any_order(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	uint32_t len = echo_msg(m, 1, 1000);
	send_frag(t, m, 512, len - 512, 0, 1);
	send_frag(t, m, 0, 256, 1, 1);
	pt_step(t, 0);
	pt_expect_nothing(t);
	send_frag(t, m, 256, 256, 1, 1);
	pt_step(t, 0);
	expect_echo_reply(t, m, len);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, IPV6_FRAGS_RX), 3);
	assert_int_equal(ctr(t, IPV6_REASSEMBLED), 1);
	assert_int_equal(t->spool->in_use, 0);
}

static void test_duplicate_dropped_alone(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	uint32_t len = echo_msg(m, 2, 600);
	send_frag(t, m, 0, 304, 1, 2);
	send_frag(t, m, 0, 304, 1, 2);
	send_frag(t, m, 304, len - 304, 0, 2);
	pt_step(t, 0);
	expect_echo_reply(t, m, len);
	assert_int_equal(ctr(t, DROP_IPV6_REASS_DUP), 1);
}

static void test_overlap_discards_the_datagram(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	uint32_t len = echo_msg(m, 3, 600);
	send_frag(t, m, 0, 304, 1, 3);
	send_frag(t, m, 296, len - 296, 0, 3); /* 8 bytes over the first */
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_REASS_OVERLAP), 2);
	/* the tail again starts a new datagram; a second last fragment of
	 * another length discards it too */
	send_frag(t, m, 304, len - 304, 0, 3);
	pt_step(t, 0);
	send_frag(t, m, 288, 16, 0, 3);
	pt_step(t, 0);
	assert_int_equal(ctr(t, DROP_IPV6_REASS_OVERLAP), 4);
	/* so nothing is left to complete with the head */
	send_frag(t, m, 0, 304, 1, 3);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, IPV6_REASSEMBLED), 0);
	assert_int_equal(t->spool->in_use, 1); /* the head waits */
}

static void test_timeout_sends_time_exceeded(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	struct pt6_frame r;
	echo_msg(m, 4, 600);
	send_frag(t, m, 0, 304, 1, 4);
	pt_step(t, 0);
	pt_step(t, 59 * SEC);
	pt_expect_nothing(t);
	pt_step(t, SEC + 2000000);
	/* §4.5: 60 s; the first fragment came: Time Exceeded code 1, quoting it */
	pt6_expect_icmp6(t, &r, ICMP6_TIME_EXCEEDED);
	assert_int_equal(r.l4[1], ICMP6_TIME_EXCEED_REASM);
	assert_int_equal(r.l4_len, 8 + 40 + 8 + 304);
	assert_int_equal(r.l4[8 + 6], IPV6_NH_FRAGMENT);
	assert_memory_equal(r.l4 + 8 + 48, m, 304);
	assert_int_equal(ctr(t, DROP_IPV6_REASS_TIMEOUT), 1);
	/* without the first fragment: dropped in silence */
	send_frag(t, m, 304, 296, 0, 5);
	pt_step(t, 0);
	pt_step(t, 61 * SEC);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_REASS_TIMEOUT), 2);
	assert_int_equal(t->spool->in_use, 0);
}

static void test_bad_fragment_length_answered(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	struct pt6_frame r;
	echo_msg(m, 6, 600);
	/* not the last, 300 bytes: Parameter Problem code 0 at the Payload Length */
	send_frag(t, m, 0, 300, 1, 6);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
	assert_int_equal(r.l4[1], ICMP6_PARAMPROB_HEADER);
	assert_int_equal(rd32(r.l4 + 4), 4);
	/* past 65535: at the Fragment Offset */
	static uint8_t big[65536 + 16];
	send_frag(t, big, 65528, 16, 0, 7);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
	assert_int_equal(rd32(r.l4 + 4), 42);
	assert_int_equal(ctr(t, DROP_IPV6_FRAGMENT), 2);
}

static void test_slots_bounded_oldest_gives_way(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	uint32_t len = echo_msg(m, 8, 600);
	for (uint32_t id = 100; id < 100 + IPV6_REASS_SLOTS + 1; id++) {
		send_frag(t, m, 0, 304, 1, id);
		pt_step(t, 1000000);
	}
	assert_int_equal(ctr(t, DROP_IPV6_REASS_FULL), 1);
	/* the first one is gone; the last completes */
	send_frag(t, m, 304, len - 304, 0, 100);
	send_frag(t, m, 304, len - 304, 0, 100 + IPV6_REASS_SLOTS);
	pt_step(t, 0);
	expect_echo_reply(t, m, len);
	pt_expect_nothing(t);
}

/* A 4000-byte echo request in fragments of 1448 (as Linux sends ping -s
 * 4000 on a 1500 link): the reply in fragments at the same offsets, their
 * data the request's, the whole reply's checksum right. */
static void test_large_echo_answered_in_fragments(void **state)
{
	struct pt *t = *state;
	static uint8_t m[8192], got[8192];
	struct pt6_frame r;
	uint32_t len = echo_msg(m, 9, 4000), off = 0, id = 0;
	for (off = 0; off < len; off += 1448)
		send_frag(t, m, off, len - off < 1448 ? len - off : 1448, off + 1448 < len, 9);
	pt_step(t, 0);
	for (off = 0; off < len;) {
		pt6_expect_ip(t, &r);
		assert_int_equal(r.ip.nxt, IPV6_NH_FRAGMENT);
		assert_int_equal(r.l4[0], IPV6_NH_ICMPV6);
		assert_int_equal(rd16(r.l4 + 2) & 0xfff8, off);
		assert_int_equal(rd16(r.l4 + 2) & 1, off + r.l4_len - 8 < len);
		if (!off)
			id = rd32(r.l4 + 4);
		assert_int_equal(rd32(r.l4 + 4), id);
		assert_true(r.len <= 1514);
		memcpy(got + off, r.l4 + 8, r.l4_len - 8u);
		off += r.l4_len - 8u;
	}
	assert_int_equal(off, len);
	pt_expect_nothing(t);
	assert_int_equal(got[0], ICMP6_ECHO_REPLY);
	assert_memory_equal(got + 4, m + 4, len - 4);
	assert_int_equal(cksum_fold(cksum_partial(got, len, cksum_pseudo_ipv6(&PT6_US, &PT6_PEER, IPV6_NH_ICMPV6, len))),
			 0);
	assert_int_equal(ctr(t, ICMP6_ECHO_REPLIES), 1);
	assert_int_equal(ctr(t, IPV6_FRAGS_TX), 3);
	assert_int_equal(t->spool->in_use, 0);
}

/* A Packet Too Big from a router on the path about a packet we sent to dst. */
static void send_ptb(struct pt *t, const struct in6_addr *quoted_src, uint32_t mtu)
{
	uint8_t f[256];
	const struct in6_addr router = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 1 } };
	struct ipv6_hdr q = { .plen = 1400, .nxt = IPV6_NH_UDP, .hlim = 64, .src = *quoted_src, .dst = PT6_PEER };
	uint32_t n = pt6_build_ip(f, NULL, &router, &PT6_US, IPV6_NH_ICMPV6, 8 + 48, 64);
	f[54] = ICMP6_PACKET_TOO_BIG;
	f[55] = 0;
	wr32(f + 58, mtu);
	ipv6_hdr_emit(f + 62, &q);
	memset(f + 102, 0x11, 8);
	pt6_icmp6_cksum(f, 54, 56, &router, &PT6_US);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
}

static void test_packet_too_big_lowers_path_mtu(void **state)
{
	struct pt *t = *state;
	uint8_t m[2048];
	struct pt6_frame r;
	uint32_t len, off = 0;
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1460);
	/* about a packet not ours: ignored */
	send_ptb(t, &PT6_PEER, 1300);
	assert_int_equal(ctr(t, DROP_ICMP6_ERROR_QUOTE), 1);
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1460);
	send_ptb(t, &PT6_US, 1400);
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1360);
	assert_int_equal(ctr(t, ICMP6_PMTU_LEARNED), 1);
	/* never below 1280 (RFC 8201 §4) */
	send_ptb(t, &PT6_US, 600);
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1240);
	assert_int_equal(ctr(t, ICMP6_ERRORS_RX), 2);
	/* an echo reply of 1408 bytes now leaves in fragments of at most 1280 */
	len = echo_msg(m, 10, 1400);
	uint8_t f[2048];
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_ICMPV6, (uint16_t)len, 64);
	memcpy(f + 54, m, len);
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	while (off < len) {
		pt6_expect_ip(t, &r);
		assert_int_equal(r.ip.nxt, IPV6_NH_FRAGMENT);
		assert_true(40u + r.ip.plen <= 1280);
		assert_int_equal(rd16(r.l4 + 2) & 0xfff8, off);
		off += r.l4_len - 8u;
	}
	assert_int_equal(off, len);
	pt_expect_nothing(t);
	/* and the other destinations keep the link's */
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER_LL), 1460);
	/* 10 minutes later, the full size again */
	pt_step(t, 601 * SEC);
	assert_int_equal(ipv6_max_payload(t->st, &PT6_PEER), 1460);
}

static uint32_t build_unknown_nh(uint8_t *f, const struct in6_addr *dst)
{
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, dst, 253, 8, 64);
	memset(f + 54, 0, 8);
	return n;
}

static void test_errors_rate_limited(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	uint32_t n = build_unknown_nh(f, &PT6_US), got = 0;
	struct pt6_frame r;
	/* Linux's bucket: a burst of 50, then one per millisecond */
	for (int i = 0; i < 60; i++)
		pt_send_frame(t, f, n);
	for (int i = 0; i < 3; i++) { /* rx bursts of 32 */
		pt_step(t, 0);
		while (pt_recv_frame(t, r.raw, sizeof(r.raw)))
			got++;
	}
	assert_int_equal(got, 50);
	assert_int_equal(ctr(t, ICMP6_RATE_LIMITED), 10);
	pt_send_frame(t, f, n);
	pt_step(t, 1000000);
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
}

static void test_no_error_about_errors_or_multicast(void **state)
{
	struct pt *t = *state;
	uint8_t f[256], mac[6];
	uint32_t n;
	/* to all nodes: no error */
	n = build_unknown_nh(f, &PT6_ALL_NODES);
	ipv6_mcast_mac(mac, &PT6_ALL_NODES);
	memcpy(f, mac, 6);
	pt_send_frame(t, f, n);
	/* an ICMPv6 error behind an option whose type asks for Parameter Problem */
	n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_DSTOPTS, 16, 64);
	const uint8_t ext[] = { IPV6_NH_ICMPV6, 0, 0x85, 2, 0, 0, 1, 0 };
	memcpy(f + 54, ext, 8);
	memset(f + 62, 0, 8);
	f[62] = ICMP6_DST_UNREACH;
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_NEXT_HDR), 1);
	assert_int_equal(ctr(t, DROP_IPV6_OPTION), 1);
	assert_int_equal(ctr(t, ICMP6_ERRORS_SENT), 0);
	/* an echo request behind it is answered with the error */
	f[62] = ICMP6_ECHO_REQUEST;
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	struct pt6_frame r;
	pt6_expect_icmp6(t, &r, ICMP6_PARAM_PROB);
}

/* Port unreachable as UDP asks for it: golden bytes of the message. */
static void test_port_unreachable_golden(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	uint32_t n = pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_UDP, 12, 64);
	struct pbuf *p = stack_alloc(t->st);
	static const uint8_t udp[12] = { 0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 'p', 'i', 'n', 'g' };
	memcpy(f + 54, udp, sizeof(udp));
	memcpy(pbuf_append(p, n - 14), f + 14, n - 14);
	icmp6_send_error(t->st, p, ICMP6_DST_UNREACH, ICMP6_UNREACH_PORT, 0);
	pbuf_free(p);
	stack_tx_flush(t->st);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_DST_UNREACH);
	static const uint8_t golden[] = { 0x01, 0x04, 0x00, 0x00, 0, 0, 0, 0 };
	wr16(r.raw + 56, 0); /* the checksum, checked above */
	assert_memory_equal(r.l4, golden, 8);
	assert_int_equal(r.l4_len, 8 + 52);
	assert_memory_equal(r.l4 + 8, f + 14, 52);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
	assert_int_equal(ctr(t, ICMP6_ERRORS_SENT), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fragments_reassembled_in_any_order, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_dropped_alone, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_overlap_discards_the_datagram, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_timeout_sends_time_exceeded, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_fragment_length_answered, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_slots_bounded_oldest_gives_way, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_large_echo_answered_in_fragments, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_packet_too_big_lowers_path_mtu, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_errors_rate_limited, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_no_error_about_errors_or_multicast, pt6_setup, pt_teardown),
		cmocka_unit_test_setup_teardown(test_port_unreachable_golden, pt6_setup, pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
