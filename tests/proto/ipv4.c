/* IPv4 input, packet by packet: every check of ipv4_input() drops what
 * fails it and counts it under its own reason, and what passes reaches the
 * protocol with link padding and options handled. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../lib/pt.h"
#include "sock.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"

#define PORT 7000

/* A UDP datagram of 4 bytes to PORT; the IP header starts at f + 14. */
static uint32_t datagram(uint8_t *f)
{
	return pt_build_udp(f, PT_PEER_IP, 4000, PT_US_IP, PORT, "data", 4);
}

static void reseal(uint8_t *f) /* recompute the IP header checksum after an edit */
{
	uint8_t ihl = (uint8_t)((f[14] & 0x0f) * 4);
	wr16(f + 24, 0);
	wr16(f + 24, cksum(f + 14, ihl));
}

static struct sock *listener(struct pt *t)
{
	return pt_udp_bound(t, PORT);
}

/* Send the frame; check it was dropped under counter c and nothing answered. */
static void expect_drop(struct pt *t, const uint8_t *f, uint32_t len, enum stack_counter c)
{
	struct sock *s = listener(t);
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, c), 1);
	assert_int_equal(sock_rx_bytes(s), 0);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 0);
	pt_expect_nothing(t);
}

static void test_ipv4_shorter_than_header_dropped(void **state)
{
	uint8_t f[128];
	datagram(f);
	expect_drop(*state, f, 14 + 19, DROP_IPV4_SHORT);
}

static void test_ipv4_version_6_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	f[14] = 0x65;
	expect_drop(*state, f, len, DROP_IPV4_VERSION);
}

static void test_ipv4_ihl_below_5_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	f[14] = 0x44;
	expect_drop(*state, f, len, DROP_IPV4_IHL);
}

static void test_ipv4_ihl_beyond_frame_dropped(void **state)
{
	uint8_t f[128];
	datagram(f);
	f[14] = 0x4f; /* 60-byte header in a 32-byte packet */
	expect_drop(*state, f, 14 + 32, DROP_IPV4_IHL);
}

static void test_ipv4_total_length_beyond_frame_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	wr16(f + 16, 33); /* one more than was sent */
	reseal(f);
	expect_drop(*state, f, len, DROP_IPV4_LEN);
}

static void test_ipv4_total_length_below_header_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	wr16(f + 16, 19);
	reseal(f);
	expect_drop(*state, f, len, DROP_IPV4_LEN);
}

static void test_ipv4_bad_header_checksum_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	f[22] = 1; /* TTL changed under the checksum */
	expect_drop(*state, f, len, DROP_IPV4_CKSUM);
}

static void test_ipv4_device_bad_checksum_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	uint32_t len = datagram(f); /* correct, but the device says otherwise */
	t->rx_flags = PBUF_F_RX_IP_CKSUM_BAD;
	expect_drop(t, f, len, DROP_IPV4_CKSUM);
}

static void test_ipv4_device_good_checksum_not_verified_again(void **state)
{
	struct pt *t = *state;
	struct sock *s = listener(t);
	uint8_t f[128];
	uint32_t len = datagram(f);
	f[22] = 1;
	t->rx_flags = PBUF_F_RX_IP_CKSUM_GOOD;
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(sock_rx_bytes(s), 4);
	assert_int_equal(pt_counter(t, DROP_IPV4_CKSUM), 0);
}

/* Fragments go to reassembly (tests/proto/ipv4_frag.c); a malformed one,
 * not the last yet not a multiple of 8 bytes, is dropped */
static void test_ipv4_malformed_fragment_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	wr16(f + 20, IPV4_FLAG_MF);
	reseal(f);
	expect_drop(*state, f, len, DROP_IPV4_FRAGMENT);
}

static void test_ipv4_other_destination_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, 4000, 0xc6120009u, PORT, "data", 4);
	expect_drop(*state, f, len, DROP_IPV4_NOT_OURS);
}

static void test_ipv4_broadcast_echo_request_dropped(void **state)
{
	uint8_t f[128];
	struct icmp_hdr ic = { .type = ICMP_ECHO_REQUEST, .rest = 0x00010001 };
	memset(f + 42, 0, 8);
	icmp_hdr_emit(f + 34, 16, &ic);
	/* only UDP takes broadcasts; Linux ignores broadcast pings too */
	expect_drop(*state, f, pt_build_ip(f, PT_PEER_IP, 0xc61200ffu, IPV4_PROTO_ICMP, 16), DROP_IPV4_NOT_OURS);
}

/* RFC 1122 §3.2.1.3: a datagram whose source is no single host is
 * discarded (Linux: a martian source), before any protocol could answer it. */
static void test_ipv4_martian_source_dropped(void **state)
{
	static const uint32_t srcs[] = { 0, 0xffffffffu, 0xc61200ffu, 0xc6120000u, 0xe0000001u,
					 0xf0000001u, 0x7f000001u, PT_US_IP };
	struct pt *t = *state;
	struct sock *s = listener(t);
	uint8_t f[128];
	for (unsigned i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		uint32_t len = pt_build_udp(f, srcs[i], 4000, PT_US_IP, PORT, "data", 4);
		pt_send_frame(t, f, len);
		pt_step(t, 0);
		assert_int_equal(pt_counter(t, DROP_IPV4_BAD_SRC), i + 1);
	}
	/* an echo request from our own address would be answered to ourselves */
	{
		struct icmp_hdr ic = { .type = ICMP_ECHO_REQUEST, .rest = 0x00010001 };
		memset(f + 42, 0, 8);
		icmp_hdr_emit(f + 34, 16, &ic);
		pt_send_frame(t, f, pt_build_ip(f, PT_US_IP, PT_US_IP, IPV4_PROTO_ICMP, 16));
		pt_step(t, 0);
	}
	assert_int_equal(pt_counter(t, DROP_IPV4_BAD_SRC), 9);
	assert_int_equal(sock_rx_bytes(s), 0);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 0);
	assert_int_equal(pt_counter(t, ICMP_ECHO_REPLIES), 0);
	pt_expect_nothing(t);
	/* a host's datagram still goes through */
	pt_send_frame(t, f, datagram(f));
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 1);
}

static void test_ipv4_unserved_protocol_dropped(void **state)
{
	uint8_t f[128];
	memset(f + 34, 0, 8);
	uint32_t len = pt_build_ip(f, PT_PEER_IP, PT_US_IP, 47 /* GRE */, 8);
	expect_drop(*state, f, len, DROP_IPV4_PROTO);
}

static void test_ipv4_link_padding_not_delivered(void **state)
{
	struct pt *t = *state;
	struct sock *s = listener(t);
	uint8_t f[128];
	char buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	uint32_t len = pt_build_udp(f, PT_PEER_IP, 4000, PT_US_IP, PORT, "d", 1);
	memset(f + len, 0xa5, 60 - len); /* padded to Ethernet's minimum frame */
	pt_send_frame(t, f, 60);
	pt_step(t, 0);
	assert_int_equal(sock_recv(s, &iov, 1, 0, NULL), 1);
	assert_int_equal(buf[0], 'd');
}

static void test_ipv4_options_skipped_and_quoted_in_errors(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	struct pt_frame r;
	struct udp_hdr u = { .sport = 4000, .dport = 9, .len = 12 };
	struct ipv4_hdr ip = { .ihl = 24, .total_len = 24 + 12, .id = 7, .ttl = 64, .proto = IPV4_PROTO_UDP,
			       .src = PT_PEER_IP, .dst = PT_US_IP };
	pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_UDP, 4 + 12); /* Ethernet header */
	ipv4_hdr_emit(f + 14, &ip);
	f[14] = 0x46;
	memset(f + 34, 1, 4); /* four NOP options */
	wr16(f + 16, 36);
	reseal(f);
	memcpy(f + 46, "opts", 4);
	udp_hdr_emit(f + 38, &u, PT_PEER_IP, PT_US_IP);
	pt_send_frame(t, f, 14 + 36);
	pt_step(t, 0);
	/* to a closed port: the answer quotes the header with its options */
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.proto, IPV4_PROTO_ICMP);
	assert_int_equal(r.l4[0], ICMP_DEST_UNREACH);
	assert_int_equal(r.l4_len, 8 + 36);
	assert_memory_equal(r.l4 + 8, f + 14, 36);
}

static void test_eth_short_frame_dropped(void **state)
{
	uint8_t f[128];
	datagram(f);
	expect_drop(*state, f, 13, DROP_ETH_SHORT);
}

static void test_eth_other_mac_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	uint32_t len = datagram(f);
	struct pbuf *p = pbuf_alloc(t->spool);
	f[5] = 9;
	/* the link switches by MAC: hand the frame over as a promiscuous device would */
	memcpy(pbuf_append(p, len), f, len);
	eth_input(t->st, p);
	assert_int_equal(pt_counter(t, DROP_ETH_NOT_OURS), 1);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS) + pt_counter(t, DROP_UDP_NO_PORT), 0);
}

static void test_eth_unknown_type_dropped(void **state)
{
	uint8_t f[128];
	uint32_t len = datagram(f);
	wr16(f + 12, 0x88cc); /* LLDP */
	expect_drop(*state, f, len, DROP_ETH_TYPE);
}

static void test_ipv4_output_unroutable_counted(void **state)
{
	struct pt *t = *state;
	struct pbuf *p = stack_alloc(t->st);
	pbuf_append(p, 8);
	assert_int_equal(ipv4_output(t->st, p, 0x0a000001u, IPV4_PROTO_UDP, 0), -ENETUNREACH);
	assert_int_equal(pt_counter(t, DROP_IPV4_NO_ROUTE), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ipv4_shorter_than_header_dropped),
		T(test_ipv4_version_6_dropped),
		T(test_ipv4_ihl_below_5_dropped),
		T(test_ipv4_ihl_beyond_frame_dropped),
		T(test_ipv4_total_length_beyond_frame_dropped),
		T(test_ipv4_total_length_below_header_dropped),
		T(test_ipv4_bad_header_checksum_dropped),
		T(test_ipv4_device_bad_checksum_dropped),
		T(test_ipv4_device_good_checksum_not_verified_again),
		T(test_ipv4_malformed_fragment_dropped),
		T(test_ipv4_other_destination_dropped),
		T(test_ipv4_broadcast_echo_request_dropped),
		T(test_ipv4_martian_source_dropped),
		T(test_ipv4_unserved_protocol_dropped),
		T(test_ipv4_link_padding_not_delivered),
		T(test_ipv4_options_skipped_and_quoted_in_errors),
		T(test_eth_short_frame_dropped),
		T(test_eth_other_mac_dropped),
		T(test_eth_unknown_type_dropped),
		T(test_ipv4_output_unroutable_counted),
	};
	return cmocka_run_group_tests_name("ipv4", tests, NULL, NULL);
}
