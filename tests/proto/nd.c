/* Neighbor Discovery (RFC 4861) and Duplicate Address Detection (RFC 4862),
 * packet by packet: the stack (2001:db8::2, fe80::ff:fe00:2) on a memlink
 * port, the test playing the peer (2001:db8::1) on another (pt6.h). */
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
static const uint8_t NEW_MAC[6] = { 2, 0, 0, 0, 0, 0x11 };

static uint64_t ctr(struct pt *t, enum stack_counter c) { return pt_counter(t, c); }

static void dump(const uint8_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		print_message("0x%02x,%s", b[i], (i % 16 == 15) ? "\n" : " ");
	print_message("\n");
}

static void expect_golden(const struct pt6_frame *r, const uint8_t *g, uint32_t n)
{
	if (r->len != n || memcmp(r->raw, g, n))
		dump(r->raw, r->len);
	assert_int_equal(r->len, n);
	assert_memory_equal(r->raw, g, n);
}

/* NS for 2001:db8::2 from 2001:db8::1 (source link-layer 02:..:01): the
 * solicited, override NA with our MAC, every byte. */
static const uint8_t golden_na[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
	/* flow 0 (as Linux's ndisc), payload 32, ICMPv6, hop limit 255 */
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	/* NA, code 0, checksum, flags S|O */
	0x88, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	/* target link-layer address option */
	0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
};

static void test_ns_for_our_address_gets_golden_na(void **state)
{
	struct pt *t = *state;
	uint8_t f[256], mac[6];
	struct pt6_frame r;
	pt_send_frame(t, f, pt6_build_ns(f, &PT6_PEER, NULL, &PT6_US, PT_PEER_MAC));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_ADVERT);
	wr16(r.raw + 56, 0); /* the checksum, checked above */
	expect_golden(&r, golden_na, sizeof(golden_na));
	pt_expect_nothing(t);
	/* the solicitor is in the cache, STALE (§7.2.3), and DELAY once the
	 * NA went to it (§7.3.3) */
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_DELAY);
	assert_memory_equal(mac, PT_PEER_MAC, 6);
	assert_int_equal(ctr(t, ND_NS_RX), 1);
	assert_int_equal(ctr(t, ND_NA_SENT), 1);
}

static void test_ns_for_link_local_answered_from_it(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	pt_send_frame(t, f, pt6_build_ns(f, &PT6_PEER_LL, NULL, &PT6_US_LL, PT_PEER_MAC));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_ADVERT);
	assert_memory_equal(&r.ip.src, &PT6_US_LL, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER_LL, 16);
	assert_memory_equal(r.l4 + 8, &PT6_US_LL, 16);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	/* unicast NS (NUD's probe) too */
	pt_send_frame(t, f, pt6_build_ns(f, &PT6_PEER_LL, &PT6_US_LL, &PT6_US_LL, PT_PEER_MAC));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_ADVERT);
}

static void test_ns_for_others_or_invalid_ignored(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	const struct in6_addr other = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 } };
	uint32_t n;
	/* another target (its solicited-node group is not ours either) */
	pt_send_frame(t, f, pt6_build_ns(f, &PT6_PEER, NULL, &other, PT_PEER_MAC));
	/* hop limit 254: not from this link */
	n = pt6_build_ns(f, &PT6_PEER, NULL, &PT6_US, PT_PEER_MAC);
	f[21] = 254;
	pt_send_frame(t, f, n);
	/* code 1 */
	n = pt6_build_ns(f, &PT6_PEER, NULL, &PT6_US, PT_PEER_MAC);
	f[55] = 1;
	pt6_icmp6_cksum(f, 54, n - 54, &PT6_PEER, (const struct in6_addr *)(f + 38));
	pt_send_frame(t, f, n);
	/* an option of length 0 */
	n = pt6_build_ns(f, &PT6_PEER, NULL, &PT6_US, PT_PEER_MAC);
	f[79] = 0;
	pt6_icmp6_cksum(f, 54, n - 54, &PT6_PEER, (const struct in6_addr *)(f + 38));
	pt_send_frame(t, f, n);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_NOT_OURS), 1);
	assert_int_equal(ctr(t, DROP_ND_INVALID), 3);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_NONE);
}

/* The multicast NS the stack sends to resolve 2001:db8::1, every byte. */
static const uint8_t golden_ns[] = {
	/* to 33:33:ff:00:00:01, the solicited-node group's MAC */
	0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	/* ff02::1:ff00:1 */
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x01,
	0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	/* source link-layer address option */
	0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
};

static void test_resolution_queues_then_flows(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 2, 8));
	pt_step(t, 0);
	/* the replies wait behind one NS */
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	wr16(r.raw + 56, 0);
	expect_golden(&r, golden_ns, sizeof(golden_ns));
	pt_expect_nothing(t);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_INCOMPLETE);
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_US, &PT6_PEER, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
					 PT_PEER_MAC));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(rd16(r.l4 + 6), 1);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
	assert_int_equal(rd16(r.l4 + 6), 2);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_REACHABLE);
}

static int send_udp6(struct pt *t, uint16_t len)
{
	struct pbuf *p = stack_alloc(t->st);
	memset(pbuf_append(p, len), 0, len);
	return ipv6_output(t->st, p, NULL, &PT6_PEER, IPV6_NH_UDP, 0, 1);
}

static void test_queue_bounded_and_unanswered_fails(void **state)
{
	struct pt *t = *state;
	struct pt6_frame r;
	int rc, full = 0;
	for (int i = 0; i < 50; i++)
		if ((rc = send_udp6(t, 8)) == -ENOBUFS)
			full++;
		else
			assert_int_equal(rc, 0);
	assert_int_equal(full, 2); /* 48 wait */
	assert_int_equal(ctr(t, DROP_ND_QUEUE_FULL), 2);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_expect_nothing(t);
	/* RetransTimer 1 s, MAX_MULTICAST_SOLICIT 3 */
	pt_step(t, SEC + 2000000);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_step(t, SEC + 2000000);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_step(t, SEC + 2000000);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_ND_UNRESOLVED), 48);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_FAILED);
	assert_int_equal(send_udp6(t, 8), -EHOSTUNREACH);
	assert_int_equal(ctr(t, ND_NS_SENT), 3);
}

/* The peer in the cache, REACHABLE, by an answered resolution. */
static void resolve_peer(struct pt *t)
{
	uint8_t f[256];
	struct pt6_frame r;
	assert_int_equal(send_udp6(t, 8), 0);
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_US, &PT6_PEER, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
					 PT_PEER_MAC));
	pt_step(t, 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_REACHABLE);
}

static void test_na_override_moves_the_neighbour(void **state)
{
	struct pt *t = *state;
	uint8_t f[256], mac[6];
	resolve_peer(t);
	/* without override, a different address is not believed; REACHABLE -> STALE */
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_ALL_NODES, &PT6_PEER, 0, NEW_MAC));
	memcpy(f + 6, PT_PEER_MAC, 6);
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_STALE);
	assert_memory_equal(mac, PT_PEER_MAC, 6);
	/* with override (unsolicited, to all nodes): the new address, STALE */
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_ALL_NODES, &PT6_PEER, ND_NA_FLAG_OVERRIDE, NEW_MAC));
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_STALE);
	assert_memory_equal(mac, NEW_MAC, 6);
	assert_int_equal(ctr(t, ND_LLADDR_CHANGED), 1);
	/* a solicited NA with override back to the old one: REACHABLE there */
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_US, &PT6_PEER, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
					 PT_PEER_MAC));
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_REACHABLE);
	assert_memory_equal(mac, PT_PEER_MAC, 6);
	assert_int_equal(ctr(t, ND_LLADDR_CHANGED), 2);
	/* an NA for an address not in the cache is ignored (§7.2.5) */
	const struct in6_addr other = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 } };
	pt_send_frame(t, f, pt6_build_na(f, &other, &PT6_ALL_NODES, &other, ND_NA_FLAG_OVERRIDE, NEW_MAC));
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &other, NULL), ND_NONE);
}

static void test_nud_stale_delay_probe(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	resolve_peer(t);
	/* REACHABLE_TIME (30 s) without news: STALE */
	pt_step(t, 31 * SEC);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_STALE);
	/* a packet to it goes at once, the entry to DELAY */
	assert_int_equal(send_udp6(t, 8), 0);
	pt_step(t, 0);
	pt6_expect_ip(t, &r);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_DELAY);
	/* DELAY_FIRST_PROBE_TIME (5 s): PROBE, a unicast NS to its MAC */
	pt_step(t, 5 * SEC + 2000000);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_PROBE);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
	/* answered: REACHABLE */
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_US, &PT6_PEER, ND_NA_FLAG_SOLICITED, PT_PEER_MAC));
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_REACHABLE);
	/* again, unanswered: three probes, then the entry goes */
	pt_step(t, 31 * SEC);
	assert_int_equal(send_udp6(t, 8), 0);
	pt_step(t, 0);
	pt6_expect_ip(t, &r);
	pt_step(t, 5 * SEC + 2000000);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_step(t, SEC + 2000000);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_step(t, SEC + 2000000);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	pt_step(t, SEC + 2000000);
	pt_expect_nothing(t);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, NULL), ND_NONE);
}

static void test_neigh_set_permanent(void **state)
{
	struct pt *t = *state;
	uint8_t f[256], mac[6];
	struct pt6_frame r;
	assert_int_equal(nd_neigh_set(t->st, &PT6_PEER, PT_PEER_MAC, 1), 0);
	assert_int_equal(send_udp6(t, 8), 0);
	pt_step(t, 0);
	pt6_expect_ip(t, &r);
	/* neither aged nor moved by an NA */
	pt_step(t, 100 * SEC);
	pt_send_frame(t, f, pt6_build_na(f, &PT6_PEER, &PT6_ALL_NODES, &PT6_PEER, ND_NA_FLAG_OVERRIDE, NEW_MAC));
	pt_step(t, 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_PERMANENT);
	assert_memory_equal(mac, PT_PEER_MAC, 6);
	/* not permanent: REACHABLE */
	assert_int_equal(nd_neigh_set(t->st, &PT6_PEER, NEW_MAC, 0), 0);
	assert_int_equal(nd_neigh_state(t->st, &PT6_PEER, mac), ND_REACHABLE);
	assert_memory_equal(mac, NEW_MAC, 6);
}

/* ---- DAD ------------------------------------------------------------------ */

/* The DAD solicitation for the link-local address, every byte: from ::,
 * to ff02::1:ff00:2, no option. */
static const uint8_t golden_dad_ns[] = {
	0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0x00, 0x00, 0x02,
	0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0x00, 0x00, 0x02,
};

static void expect_dad_solicitations(struct pt *t)
{
	struct pt6_frame r;
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	wr16(r.raw + 56, 0);
	expect_golden(&r, golden_dad_ns, sizeof(golden_dad_ns));
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_SOLICIT);
	assert_true(ipv6_addr_any(&r.ip.src));
	assert_memory_equal(r.l4 + 8, &PT6_US, 16);
	assert_int_equal(r.l4_len, 24);
	pt_expect_nothing(t);
}

static void test_dad_passes_after_retrans_timer(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	expect_dad_solicitations(t);
	assert_false(ipv6_enabled(t->st));
	assert_int_equal(ipv6_addr_state(t->st, 0, NULL), IPV6_ADDR_TENTATIVE);
	/* tentative: an echo to it is not answered, nor an NS from a host */
	nd_neigh_set(t->st, &PT6_PEER, PT_PEER_MAC, 1);
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_send_frame(t, f, pt6_build_ns(f, &PT6_PEER, NULL, &PT6_US, PT_PEER_MAC));
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(ctr(t, DROP_IPV6_TENTATIVE), 1);
	pt_step(t, SEC + 2000000);
	assert_true(ipv6_enabled(t->st));
	assert_int_equal(ipv6_addr_state(t->st, 0, NULL), IPV6_ADDR_PREFERRED);
	assert_int_equal(ipv6_addr_state(t->st, 1, NULL), IPV6_ADDR_PREFERRED);
	assert_int_equal(ctr(t, DAD_PASSED), 2);
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ICMP6_ECHO_REPLY);
}

static void test_dad_na_from_another_node_is_duplicate(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	expect_dad_solicitations(t);
	/* the owner answers the DAD probe, to all nodes */
	pt_send_frame(t, f, pt6_build_na(f, &PT6_US, &PT6_ALL_NODES, &PT6_US, ND_NA_FLAG_OVERRIDE, NEW_MAC));
	/* the NA comes from our address: the source check must let ND through */
	pt_step(t, 0);
	assert_int_equal(ctr(t, DAD_DUPLICATE), 1);
	pt_step(t, SEC + 2000000);
	assert_false(ipv6_enabled(t->st));
	assert_int_equal(ipv6_addr_state(t->st, 0, NULL), IPV6_ADDR_DUPLICATE);
	assert_int_equal(ipv6_addr_state(t->st, 1, NULL), IPV6_ADDR_PREFERRED);
	/* not used: an echo to it finds nobody */
	nd_neigh_set(t->st, &PT6_PEER, PT_PEER_MAC, 1);
	pt_send_frame(t, f, pt6_build_echo(f, &PT6_US, 1, 1, 8));
	pt_step(t, 0);
	pt_expect_nothing(t);
}

static void test_dad_ns_from_another_node_is_duplicate(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	static const struct in6_addr any;
	expect_dad_solicitations(t);
	/* another node runs DAD for our link-local address at the same time */
	pt_send_frame(t, f, pt6_build_ns(f, &any, NULL, &PT6_US_LL, NULL));
	pt_step(t, 0);
	assert_int_equal(ctr(t, DAD_DUPLICATE), 1);
	pt_step(t, SEC + 2000000);
	assert_int_equal(ipv6_addr_state(t->st, 1, NULL), IPV6_ADDR_DUPLICATE);
	assert_int_equal(ipv6_addr_state(t->st, 0, NULL), IPV6_ADDR_PREFERRED);
}

static void test_dad_ns_for_our_preferred_address_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[256];
	struct pt6_frame r;
	static const struct in6_addr any;
	/* another node probes our (preferred) address: the NA goes to all nodes */
	pt_send_frame(t, f, pt6_build_ns(f, &any, NULL, &PT6_US, NULL));
	pt_step(t, 0);
	pt6_expect_icmp6(t, &r, ND_NEIGHBOR_ADVERT);
	assert_memory_equal(&r.ip.dst, &PT6_ALL_NODES, 16);
	assert_int_equal(rd32(r.l4 + 4), ND_NA_FLAG_OVERRIDE);
	assert_int_equal(r.dst_mac[0], 0x33);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ns_for_our_address_gets_golden_na, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_ns_for_link_local_answered_from_it, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_ns_for_others_or_invalid_ignored, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_resolution_queues_then_flows, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded_and_unanswered_fails, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_na_override_moves_the_neighbour, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_nud_stale_delay_probe, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_neigh_set_permanent, pt6_setup_no_nd, pt_teardown),
		cmocka_unit_test_setup_teardown(test_dad_passes_after_retrans_timer, pt6_setup_dad, pt_teardown),
		cmocka_unit_test_setup_teardown(test_dad_na_from_another_node_is_duplicate, pt6_setup_dad, pt_teardown),
		cmocka_unit_test_setup_teardown(test_dad_ns_from_another_node_is_duplicate, pt6_setup_dad, pt_teardown),
		cmocka_unit_test_setup_teardown(test_dad_ns_for_our_preferred_address_answered, pt6_setup_no_nd,
						pt_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
