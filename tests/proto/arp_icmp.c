/* ARP and ICMP echo, packet by packet: the stack (198.18.0.2) on a memlink
 * port, the test playing the peer (198.18.0.1) on another port. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "arp.h"
#include "net.h"
#include "netif/memlink.h"
#include "wire/arp.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

#define MS 1000000ull
#define US_IP   0xc6120002u /* 198.18.0.2 */
#define PEER_IP 0xc6120001u /* 198.18.0.1 */
static const uint8_t US_MAC[6] = { 2, 0, 0, 0, 0, 2 }, PEER_MAC[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct t {
	struct memlink *ml;
	struct pbuf_pool *spool, *ppool;
	struct netif *snif, *peer;
	struct stack *st;
	uint64_t now;
};

static int setup(void **state)
{
	static struct t t;
	struct stack_cfg cfg = { .prefix_len = 24, .isn_secret = { 1 } };
	memset(&t, 0, sizeof(t));
	cfg.addr.s_addr = htonl(US_IP);
	t.now = 1000 * MS;
	if (memlink_create(&t.ml, 7) || pbuf_pool_heap_create(&t.spool, 256, 2048) ||
	    pbuf_pool_heap_create(&t.ppool, 256, 2048))
		return -1;
	t.snif = memlink_port(t.ml, US_MAC, 1500, t.spool);
	t.peer = memlink_port(t.ml, PEER_MAC, 1500, t.ppool);
	if (stack_create(&t.st, &cfg, t.snif, t.now))
		return -1;
	*state = &t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	stack_destroy(t->st);
	memlink_destroy(t->ml);
	assert_int_equal(t->spool->in_use, 0); /* no buffer leaked */
	assert_int_equal(t->ppool->in_use, 0);
	pbuf_pool_heap_destroy(t->spool);
	pbuf_pool_heap_destroy(t->ppool);
	return 0;
}

/* Deliver what is on the wire, let the stack run, deliver its answers. */
static void step(struct t *t, uint64_t advance)
{
	t->now += advance;
	memlink_advance(t->ml, t->now);
	stack_poll(t->st, t->now);
	memlink_advance(t->ml, t->now);
}

static void peer_send(struct t *t, const uint8_t *frame, uint32_t len)
{
	struct pbuf *p = pbuf_alloc(t->ppool);
	memcpy(pbuf_append(p, len), frame, len);
	assert_int_equal(netif_tx_burst(t->peer, &p, 1), 1);
}

/* The next frame the stack sent to the peer, copied out; 0 if none. */
static uint32_t peer_recv(struct t *t, uint8_t *buf)
{
	struct pbuf *p;
	uint32_t len;
	if (netif_rx_burst(t->peer, &p, 1) == 0)
		return 0;
	len = p->len;
	memcpy(buf, p->data, len);
	pbuf_free(p);
	return len;
}

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
	struct eth_hdr e = { .type = ETH_TYPE_IPV4 };
	struct ipv4_hdr ip = { .ihl = 20, .total_len = 20 + 8 + 16, .id = 99, .ttl = 64,
			       .proto = IPV4_PROTO_ICMP, .src = PEER_IP, .dst = dst_ip };
	struct icmp_hdr ic = { .type = ICMP_ECHO_REQUEST, .rest = (uint32_t)id << 16 | seq };
	memcpy(e.dst, US_MAC, 6);
	memcpy(e.src, PEER_MAC, 6);
	eth_hdr_emit(f, &e);
	ipv4_hdr_emit(f + 14, &ip);
	for (int i = 0; i < 16; i++)
		f[42 + i] = (uint8_t)(0x40 + i);
	icmp_hdr_emit(f + 34, 24, &ic);
	return 14 + 20 + 24;
}

static void test_arp_request_for_us_gets_reply(void **state)
{
	struct t *t = *state;
	uint8_t f[128], r[2048];
	struct eth_hdr e;
	struct arp_pkt a;
	peer_send(t, f, build_arp(f, ARP_OP_REQUEST, BCAST, US_IP));
	step(t, 0);
	uint32_t n = peer_recv(t, r);
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
	assert_int_equal(peer_recv(t, r), 0);
	/* and the requester was learned */
	assert_non_null(arp_cache_lookup(t->st, PEER_IP));
}

static void test_arp_request_for_other_ip_ignored(void **state)
{
	struct t *t = *state;
	uint8_t f[128], r[2048];
	peer_send(t, f, build_arp(f, ARP_OP_REQUEST, BCAST, 0xc6120009u));
	step(t, 0);
	assert_int_equal(peer_recv(t, r), 0);
	assert_null(arp_cache_lookup(t->st, PEER_IP)); /* not for us: nothing learned */
}

static void test_icmp_echo_request_gets_exact_reply(void **state)
{
	struct t *t = *state;
	uint8_t f[128], r[2048];
	struct ipv4_hdr ip;
	struct icmp_hdr ic;
	arp_cache_add(t->st, PEER_IP, PEER_MAC);
	uint32_t len = build_echo(f, 0x1234, 7, US_IP);
	peer_send(t, f, len);
	step(t, 0);
	uint32_t n = peer_recv(t, r);
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
	struct t *t = *state;
	uint8_t f[128], r[2048];
	struct arp_pkt a;
	peer_send(t, f, build_echo(f, 1, 1, US_IP));
	step(t, 0);
	/* the peer's MAC is unknown: the reply waits behind an ARP request */
	uint32_t n = peer_recv(t, r);
	assert_int_equal(n, 14 + ARP_LEN);
	assert_memory_equal(r, BCAST, 6);
	assert_int_equal(arp_pkt_parse(r + 14, n - 14, &a), 0);
	assert_int_equal(a.op, ARP_OP_REQUEST);
	assert_int_equal(a.tpa, PEER_IP);
	assert_int_equal(peer_recv(t, r), 0);
	peer_send(t, f, build_arp(f, ARP_OP_REPLY, US_MAC, US_IP));
	step(t, 0);
	n = peer_recv(t, r);
	assert_int_equal(n, 14 + 20 + 24);
	assert_int_equal(r[34], ICMP_ECHO_REPLY);
}

static void test_arp_unanswered_retries_then_drops(void **state)
{
	struct t *t = *state;
	uint8_t f[128], r[2048];
	peer_send(t, f, build_echo(f, 1, 1, US_IP));
	step(t, 0);
	int requests = 0;
	for (int i = 0; i < 50; i++) { /* 5 s in 100 ms steps */
		while (peer_recv(t, r))
			requests += r[21] == ARP_OP_REQUEST;
		step(t, 100 * MS);
	}
	while (peer_recv(t, r))
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
	struct t *t = *state;
	uint8_t f[128], r[2048];
	unsigned nc;
	const uint64_t *v = stack_counter_values(t->st, &nc);
	arp_cache_add(t->st, PEER_IP, PEER_MAC);
	uint32_t len = build_echo(f, 1, 1, US_IP);
	f[14 + 8] = 63; /* TTL changed under the checksum */
	peer_send(t, f, len);
	len = build_echo(f, 1, 1, US_IP);
	f[14 + 6] = 0x20; /* more fragments */
	wr16(f + 14 + 10, 0);
	wr16(f + 14 + 10, cksum(f + 14, 20));
	peer_send(t, f, len);
	peer_send(t, f, build_echo(f, 1, 1, 0xc6120005u)); /* another host's */
	len = build_echo(f, 1, 1, US_IP);
	peer_send(t, f, 30); /* cut inside the IP header */
	len = build_echo(f, 1, 1, US_IP);
	f[50] ^= 0xff; /* IP header intact, ICMP data changed under its checksum */
	peer_send(t, f, len);
	step(t, 0);
	assert_int_equal(peer_recv(t, r), 0);
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
		cmocka_unit_test_setup_teardown(test_arp_request_for_us_gets_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_request_for_other_ip_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_request_gets_exact_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo_waits_for_arp_then_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arp_unanswered_retries_then_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_bad_packets_counted_not_answered, setup, teardown),
	};
	return cmocka_run_group_tests_name("arp_icmp", tests, NULL, NULL);
}
