/* ARP and ICMP echo, packet by packet: the stack (198.18.0.2) on a memlink
 * port, the test playing the peer (198.18.0.1) on another port (pt.h), the
 * peer's MAC not yet in the stack's ARP cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../lib/pt.h"
#include "arp.h"
#include "wire/arp.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"

#define MS      PT_MS
#define US_IP   PT_US_IP
#define PEER_IP PT_PEER_IP
#define US_MAC   PT_US_MAC
#define PEER_MAC PT_PEER_MAC
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static uint32_t build_arp(uint8_t *f, uint16_t op, const uint8_t *dst, uint32_t tpa)
{
	struct eth_hdr e = { .type = ETH_TYPE_ARP };
	struct arp_pkt a = { .op = op, .spa = PEER_IP, .tpa = tpa };
	memcpy(e.dst, dst, 6);
	memcpy(e.src, PEER_MAC, 6);
	memcpy(a.sha, PEER_MAC, 6);
	if (op == ARP_OP_REPLY)
		memcpy(a.tha, US_MAC, 6);
	eth_hdr_emit(f, &e);
	arp_pkt_emit(f + 14, &a);
	return 14 + ARP_LEN;
}

static uint32_t build_echo(uint8_t *f, uint16_t id, uint16_t seq, uint32_t dst_ip)
{
	struct icmp_hdr ic = { .type = ICMP_ECHO_REQUEST, .rest = (uint32_t)id << 16 | seq };
	uint32_t len = pt_build_ip(f, PEER_IP, dst_ip, IPV4_PROTO_ICMP, 8 + 16);
	for (int i = 0; i < 16; i++)
		f[42 + i] = (uint8_t)(0x40 + i);
	icmp_hdr_emit(f + 34, 24, &ic);
	return len;
}

static void test_arp_request_for_us_gets_reply(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	struct eth_hdr e;
	struct arp_pkt a;
	pt_send_frame(t, f, build_arp(f, ARP_OP_REQUEST, BCAST, US_IP));
	pt_step(t, 0);
	uint32_t n = pt_recv_frame(t, r, sizeof(r));
	assert_int_equal(n, 14 + ARP_LEN);
	assert_int_equal(eth_hdr_parse(r, n, &e), 0);
	assert_memory_equal(e.dst, PEER_MAC, 6);
	assert_memory_equal(e.src, US_MAC, 6);
	assert_int_equal(e.type, ETH_TYPE_ARP);
	assert_int_equal(arp_pkt_parse(r + 14, n - 14, &a), 0);
	assert_int_equal(a.op, ARP_OP_REPLY);
	assert_memory_equal(a.sha, US_MAC, 6);
	assert_int_equal(a.spa, US_IP);
	assert_memory_equal(a.tha, PEER_MAC, 6);
	assert_int_equal(a.tpa, PEER_IP);
	assert_int_equal(pt_recv_frame(t, r, sizeof(r)), 0);
	/* and the requester was learned */
	assert_non_null(arp_cache_lookup(t->st, PEER_IP));
}

static void test_arp_request_for_other_ip_ignored(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	pt_send_frame(t, f, build_arp(f, ARP_OP_REQUEST, BCAST, 0xc6120009u));
	pt_step(t, 0);
	assert_int_equal(pt_recv_frame(t, r, sizeof(r)), 0);
	assert_null(arp_cache_lookup(t->st, PEER_IP)); /* not for us: nothing learned */
}

static void test_icmp_echo_request_gets_exact_reply(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	struct ipv4_hdr ip;
	struct icmp_hdr ic;
	arp_cache_add(t->st, PEER_IP, PEER_MAC);
	uint32_t len = build_echo(f, 0x1234, 7, US_IP);
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	uint32_t n = pt_recv_frame(t, r, sizeof(r));
	assert_int_equal(n, len);
	assert_int_equal(ipv4_hdr_parse(r + 14, n - 14, 1, &ip), 0);
	assert_int_equal(ip.src, US_IP);
	assert_int_equal(ip.dst, PEER_IP);
	assert_int_equal(ip.proto, IPV4_PROTO_ICMP);
	assert_int_equal(ip.ttl, 64);
	assert_int_equal(ip.frag, IPV4_FLAG_DF);
	assert_int_equal(icmp_hdr_parse(r + 34, n - 34, &ic), 0); /* checksum valid */
	assert_int_equal(ic.type, ICMP_ECHO_REPLY);
	assert_int_equal(ic.rest, 0x12340007u);
	assert_memory_equal(r + 42, f + 42, 16); /* data echoed */
	const uint64_t *v;
	unsigned nc;
	v = stack_counter_values(t->st, &nc);
	assert_int_equal(v[ICMP_ECHO_REPLIES], 1);
}

static void test_icmp_echo_waits_for_arp_then_flows(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	struct arp_pkt a;
	pt_send_frame(t, f, build_echo(f, 1, 1, US_IP));
	pt_step(t, 0);
	/* the peer's MAC is unknown: the reply waits behind an ARP request */
	uint32_t n = pt_recv_frame(t, r, sizeof(r));
	assert_int_equal(n, 14 + ARP_LEN);
	assert_memory_equal(r, BCAST, 6);
	assert_int_equal(arp_pkt_parse(r + 14, n - 14, &a), 0);
	assert_int_equal(a.op, ARP_OP_REQUEST);
	assert_int_equal(a.tpa, PEER_IP);
	assert_int_equal(pt_recv_frame(t, r, sizeof(r)), 0);
	pt_send_frame(t, f, build_arp(f, ARP_OP_REPLY, US_MAC, US_IP));
	pt_step(t, 0);
	n = pt_recv_frame(t, r, sizeof(r));
	assert_int_equal(n, 14 + 20 + 24);
	assert_int_equal(r[34], ICMP_ECHO_REPLY);
}

static void test_arp_unanswered_retries_then_drops(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	pt_send_frame(t, f, build_echo(f, 1, 1, US_IP));
	pt_step(t, 0);
	int requests = 0;
	for (int i = 0; i < 50; i++) { /* 5 s in 100 ms steps */
		while (pt_recv_frame(t, r, sizeof(r)))
			requests += r[21] == ARP_OP_REQUEST;
		pt_step(t, 100 * MS);
	}
	while (pt_recv_frame(t, r, sizeof(r)))
		requests += r[21] == ARP_OP_REQUEST;
	assert_int_equal(requests, ARP_TRIES);
	unsigned nc;
	const uint64_t *v = stack_counter_values(t->st, &nc);
	assert_int_equal(v[DROP_ARP_UNRESOLVED], 1);
	/* while failed, sending there answers EHOSTUNREACH at once */
	struct pbuf *p = stack_alloc(t->st);
	pbuf_append(p, 8);
	/* 5 s in: still inside the failure period that began at the third try */
	assert_int_equal(ipv4_output(t->st, p, PEER_IP, IPV4_PROTO_ICMP, 0), -EHOSTUNREACH);
}

static void test_ipv4_bad_packets_counted_not_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[128], r[2048];
	unsigned nc;
	const uint64_t *v = stack_counter_values(t->st, &nc);
	arp_cache_add(t->st, PEER_IP, PEER_MAC);
	uint32_t len = build_echo(f, 1, 1, US_IP);
	f[14 + 8] = 63; /* TTL changed under the checksum */
	pt_send_frame(t, f, len);
	len = build_echo(f, 1, 1, US_IP);
	f[14 + 6] = 0x20; /* more fragments */
	wr16(f + 14 + 10, 0);
	wr16(f + 14 + 10, cksum(f + 14, 20));
	pt_send_frame(t, f, len);
	pt_send_frame(t, f, build_echo(f, 1, 1, 0xc6120005u)); /* another host's */
	len = build_echo(f, 1, 1, US_IP);
	pt_send_frame(t, f, 30); /* cut inside the IP header */
	len = build_echo(f, 1, 1, US_IP);
	f[50] ^= 0xff; /* IP header intact, ICMP data changed under its checksum */
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(pt_recv_frame(t, r, sizeof(r)), 0);
	assert_int_equal(v[DROP_IPV4_CKSUM], 1);
	assert_int_equal(v[IPV4_FRAGS_RX], 1); /* held for reassembly: alone it is never answered */
	assert_int_equal(v[DROP_IPV4_NOT_OURS], 1);
	assert_int_equal(v[DROP_IPV4_SHORT], 1);
	assert_int_equal(v[DROP_ICMP_MALFORMED], 1);
	assert_int_equal(v[RX_FRAMES], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_arp_request_for_us_gets_reply, pt_setup_no_arp, pt_teardown),
		cmocka_unit_test_setup_teardown(test_arp_request_for_other_ip_ignored, pt_setup_no_arp, pt_teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_request_gets_exact_reply, pt_setup_no_arp, pt_teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_waits_for_arp_then_flows, pt_setup_no_arp, pt_teardown),
		cmocka_unit_test_setup_teardown(test_arp_unanswered_retries_then_drops, pt_setup_no_arp, pt_teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_bad_packets_counted_not_answered, pt_setup_no_arp, pt_teardown),
	};
	return cmocka_run_group_tests_name("arp_icmp", tests, NULL, NULL);
}
