/* Path MTU discovery (RFC 1191), packet by packet: ICMP fragmentation-needed
 * about a segment in flight lowers the connection's MSS and what was in
 * flight goes again at the new size; later connections to the destination
 * start with it until it expires; a router that gives no MTU gets the
 * plateau below the quoted length; an MTU below 552 is taken as 552; ICMP
 * about a segment not in flight (RFC 5927 §4.1) changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/tcp.h>

#include "../lib/tt.h"
#include "wire/cksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

#define ROUTER_IP 0xc61200feu /* 198.18.0.254 */

/* A router's fragmentation-needed about our segment starting at seq. */
static void send_needfrag(struct tt *t, uint32_t seq, uint16_t mtu, uint16_t quoted_len)
{
	struct ipv4_hdr quoted = { .ihl = 20, .total_len = quoted_len, .ttl = 63, .frag = IPV4_FLAG_DF,
				   .proto = IPV4_PROTO_TCP, .src = TT_US_IP, .dst = TT_PEER_IP };
	struct icmp_hdr h = { .type = 3, .code = 4, .rest = mtu };
	uint8_t b[8 + 28];

	ipv4_hdr_emit(b + 8, &quoted);
	wr16(b + 28, TT_LPORT);
	wr16(b + 30, TT_RPORT);
	wr32(b + 32, seq);
	icmp_hdr_emit(b, sizeof(b), &h);
	tt_send_ip(t, ROUTER_IP, IPV4_PROTO_ICMP, b, sizeof(b));
}

static int maxseg(struct tt *t)
{
	int v = 0;
	socklen_t l = sizeof(v);
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &v, &l), 0);
	return v;
}

/* Data in flight: 4000 bytes in segments of 1448 (no Nagle for the tail). */
static void send_4000(struct tt *t)
{
	static uint8_t data[4000];
	struct iovec v = { .iov_base = data, .iov_len = sizeof(data) };
	struct tt_seg s;
	uint32_t n = 0;
	int one = 1;
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), 4000);
	tt_advance(t, 0);
	while (tt_recv(t, &s)) {
		assert_true(s.len <= 1448);
		n += s.len;
	}
	assert_int_equal(n, 4000);
	assert_int_equal(maxseg(t), 1448);
}

static void test_pmtu_needfrag_lowers_mss_and_resends(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	uint32_t seq;

	tt_established(t);
	send_4000(t);
	send_needfrag(t, t->iss + 1, 1000, 1500);
	assert_int_equal(t->st->ctr.v[TCP_PMTU_REDUCED], 1);
	assert_int_equal(t->st->ctr.v[ICMP_PMTU_LEARNED], 1);
	assert_int_equal(maxseg(t), 1000 - 40 - 12);
	/* everything in flight again, from snd.una, at most 948 bytes each */
	seq = t->iss + 1;
	while (tt_recv(t, &s)) {
		assert_int_equal(s.seq, seq);
		assert_true(s.len <= 948 && s.len > 0);
		seq += s.len;
	}
	assert_int_equal(seq, t->iss + 1 + 4000);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
	/* the peer takes it all: nothing more to send */
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1 + 4000, .wnd = 502, .opt = tt_ts(t, 0)));
	tt_expect_nothing(t);
}

static void test_pmtu_ignored_unless_in_flight(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	send_4000(t);
	send_needfrag(t, t->iss + 1 + 100000, 1000, 1500); /* beyond snd.max */
	send_needfrag(t, t->iss, 1000, 1500);              /* before snd.una */
	assert_int_equal(t->st->ctr.v[DROP_TCP_ICMP_MTU], 2);
	assert_int_equal(t->st->ctr.v[TCP_PMTU_REDUCED], 0);
	assert_int_equal(maxseg(t), 1448);
	tt_expect_nothing(t);
	/* a larger MTU than ours is news of nothing */
	send_needfrag(t, t->iss + 1, 9000, 1500);
	assert_int_equal(maxseg(t), 1448);
	tt_expect_nothing(t);
}

static void test_pmtu_floor_and_plateau(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	send_4000(t);
	send_needfrag(t, t->iss + 1, 0, 1500); /* no MTU given: the plateau below 1500 */
	assert_int_equal(maxseg(t), 1492 - 40 - 12);
	send_needfrag(t, t->iss + 1, 300, 1492); /* below Linux's floor of 552 */
	assert_int_equal(maxseg(t), 552 - 40 - 12);
	assert_int_equal(t->st->ctr.v[TCP_PMTU_REDUCED], 2);
}

/* Later connections to the destination offer the learned MSS in their SYN,
 * until the value expires (10 minutes). */
static void test_pmtu_remembered_for_the_destination(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT + 1),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct sock *c;
	struct tt_seg s;

	tt_established(t);
	send_4000(t);
	send_needfrag(t, t->iss + 1, 1200, 1500);
	while (tt_recv(t, &s))
		;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &c), 0);
	assert_int_equal(sock_connect(c, &a), -EINPROGRESS);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN);
	assert_int_equal(s.opt.mss, 1200 - 40);
	sock_close(c);
	tt_advance(t, 601000 * TT_MS);
	while (tt_recv(t, &s))
		;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &c), 0);
	a.sin_port = htons(TT_RPORT + 2);
	assert_int_equal(sock_connect(c, &a), -EINPROGRESS);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN);
	assert_int_equal(s.opt.mss, 1460);
	sock_close(c);
	tt_advance(t, 0);
	while (tt_recv(t, &s))
		;
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pmtu_needfrag_lowers_mss_and_resends),
		T(test_pmtu_ignored_unless_in_flight),
		T(test_pmtu_floor_and_plateau),
		T(test_pmtu_remembered_for_the_destination),
	};
	return cmocka_run_group_tests_name("tcp_pmtu", tests, NULL, NULL);
}
