/* ICMP errors, packet by packet: destination unreachable sent for closed
 * UDP ports (RFC 1122 §3.2.2, §4.1.3.1) under a rate limit, and errors
 * received about our own packets checked before they reach a socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "../lib/pt.h"
#include "sock.h"
#include "wire/cksum.h"
#include "wire/icmp.h"

#define CLOSED_PORT 9

static void send_udp_from(struct pt *t, uint32_t src, uint8_t tos)
{
	uint8_t f[128];
	uint32_t len = pt_build_udp(f, src, 4000, PT_US_IP, CLOSED_PORT, "q", 1);
	if (tos) {
		f[15] = tos;
		wr16(f + 24, 0);
		wr16(f + 24, cksum(f + 14, 20));
	}
	pt_send_frame(t, f, len);
}

static void test_icmp_unreach_burst_of_50_then_rate_limited(void **state)
{
	struct pt *t = *state;
	uint8_t r[2048];
	int n = 0;
	for (int i = 0; i < 60; i++)
		send_udp_from(t, PT_PEER_IP, 0);
	pt_step(t, 0); /* two receive bursts, at the same instant */
	pt_step(t, 0);
	while (pt_recv_frame(t, r, sizeof(r)))
		n++;
	assert_int_equal(n, 50);
	assert_int_equal(pt_counter(t, ICMP_UNREACH_SENT), 50);
	assert_int_equal(pt_counter(t, ICMP_RATE_LIMITED), 10);
	assert_int_equal(pt_counter(t, DROP_UDP_NO_PORT), 60);
}

static void test_icmp_unreach_rate_refills_one_per_ms(void **state)
{
	struct pt *t = *state;
	uint8_t r[2048];
	int n = 0;
	for (int i = 0; i < 51; i++)
		send_udp_from(t, PT_PEER_IP, 0);
	pt_step(t, 0);
	pt_step(t, 0);
	while (pt_recv_frame(t, r, sizeof(r)))
		;
	assert_int_equal(pt_counter(t, ICMP_RATE_LIMITED), 1);
	send_udp_from(t, PT_PEER_IP, 0);
	send_udp_from(t, PT_PEER_IP, 0);
	pt_step(t, PT_MS); /* one interval: one more error may go */
	while (pt_recv_frame(t, r, sizeof(r)))
		n++;
	assert_int_equal(n, 1);
	assert_int_equal(pt_counter(t, ICMP_RATE_LIMITED), 2);
}

static void test_icmp_unreach_keeps_tos_bits_with_control_precedence(void **state)
{
	struct pt *t = *state;
	struct pt_frame r;
	send_udp_from(t, PT_PEER_IP, 0x2b); /* precedence 1, TOS 0x0a, ECN 3 */
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.tos, 0xc0 | 0x0a);
}

static void test_icmp_unreach_quotes_at_most_548_bytes(void **state)
{
	struct pt *t = *state;
	static uint8_t f[2048], payload[1000];
	struct pt_frame r;
	struct icmp_hdr ic;
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, 4000, PT_US_IP, CLOSED_PORT, payload, sizeof(payload)));
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.total_len, 576); /* RFC 1812 §4.3.2.3 */
	assert_int_equal(icmp_hdr_parse(r.l4, r.l4_len, &ic), 0);
	assert_memory_equal(r.l4 + 8, f + 14, 548);
}

static void test_icmp_unreach_not_sent_to_broadcast_source(void **state)
{
	struct pt *t = *state;
	send_udp_from(t, 0xc61200ffu, 0); /* our subnet's broadcast */
	send_udp_from(t, INADDR_BROADCAST, 0);
	send_udp_from(t, 0, 0);
	send_udp_from(t, 0xe0000001u, 0); /* multicast */
	send_udp_from(t, 0x7f000001u, 0); /* loopback */
	pt_step(t, 0);
	pt_expect_nothing(t);
	/* IPv4 input already discards these sources (RFC 1122 §3.2.1.3) */
	assert_int_equal(pt_counter(t, DROP_IPV4_BAD_SRC), 5);
	assert_int_equal(pt_counter(t, ICMP_UNREACH_SENT), 0);
}

/* An ICMP error from the peer quoting bytes q (qlen) of "our" packet. */
static void peer_icmp(struct pt *t, uint8_t type, uint8_t code, const uint8_t *q, uint16_t qlen)
{
	uint8_t f[256];
	struct icmp_hdr ic = { .type = type, .code = code };
	memcpy(f + 42, q, qlen);
	icmp_hdr_emit(f + 34, 8u + qlen, &ic);
	pt_send_frame(t, f, pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_ICMP, (uint16_t)(8 + qlen)));
	pt_step(t, 0);
}

/* A connected socket's first datagram, as the peer saw it (IP header on). */
static struct sock *connected_sent(struct pt *t, uint8_t *q)
{
	struct sock *s;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct iovec iov = { (void *)"x", 1 };
	struct pt_frame r;
	a.sin_addr.s_addr = htonl(PT_PEER_IP);
	a.sin_port = htons(5555);
	assert_int_equal(sock_create(t->st, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_connect(s, &a), 0);
	assert_int_equal(sock_send(s, &iov, 1, 0, NULL), 1);
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	memcpy(q, r.raw + 14, 29);
	return s;
}

static void test_icmp_error_with_short_quote_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t q[64];
	struct sock *s = connected_sent(t, q);
	peer_icmp(t, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, q, 27); /* the ports are not all there */
	assert_int_equal(pt_counter(t, DROP_ICMP_ERROR_QUOTE), 1);
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
}

static void test_icmp_error_about_other_source_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t q[64];
	struct sock *s = connected_sent(t, q);
	wr32(q + 12, 0xc6120007u); /* not a packet we sent */
	peer_icmp(t, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, q, 28);
	assert_int_equal(pt_counter(t, DROP_ICMP_ERROR_QUOTE), 1);
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
}

static void test_icmp_error_with_bad_checksum_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t q[64], f[256];
	struct icmp_hdr ic = { .type = ICMP_DEST_UNREACH, .code = ICMP_UNREACH_PORT };
	struct sock *s = connected_sent(t, q);
	memcpy(f + 42, q, 28);
	icmp_hdr_emit(f + 34, 36, &ic);
	f[34 + 4] ^= 1;
	pt_send_frame(t, f, pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_ICMP, 36));
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, DROP_ICMP_MALFORMED), 1);
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
}

static void test_icmp_protocol_unreachable_is_hard_error(void **state)
{
	struct pt *t = *state;
	uint8_t q[64];
	struct sock *s = connected_sent(t, q);
	peer_icmp(t, ICMP_DEST_UNREACH, ICMP_UNREACH_PROTO, q, 28);
	assert_int_equal(sock_take_error(s), ENOPROTOOPT);
}

static void test_icmp_time_exceeded_is_soft_error(void **state)
{
	struct pt *t = *state;
	uint8_t q[64];
	struct sock *s = connected_sent(t, q);
	peer_icmp(t, ICMP_TIME_EXCEEDED, 0, q, 28);
	assert_int_equal(pt_counter(t, ICMP_ERRORS_RX), 1);
	assert_int_equal(sock_take_error(s), 0);
}

static void test_icmp_error_is_never_answered_with_error(void **state)
{
	struct pt *t = *state;
	uint8_t q[64];
	/* an error quoting a datagram to a closed port of ours is not itself
	 * a datagram: nothing goes back */
	uint8_t f[128];
	pt_build_udp(f, PT_US_IP, CLOSED_PORT, PT_PEER_IP, 4000, "z", 1);
	memcpy(q, f + 14, 29);
	peer_icmp(t, ICMP_DEST_UNREACH, ICMP_UNREACH_PORT, q, 29);
	pt_expect_nothing(t);
	assert_int_equal(pt_counter(t, ICMP_ERRORS_RX), 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_icmp_unreach_burst_of_50_then_rate_limited),
		T(test_icmp_unreach_rate_refills_one_per_ms),
		T(test_icmp_unreach_keeps_tos_bits_with_control_precedence),
		T(test_icmp_unreach_quotes_at_most_548_bytes),
		T(test_icmp_unreach_not_sent_to_broadcast_source),
		T(test_icmp_error_with_short_quote_dropped),
		T(test_icmp_error_about_other_source_dropped),
		T(test_icmp_error_with_bad_checksum_dropped),
		T(test_icmp_protocol_unreachable_is_hard_error),
		T(test_icmp_time_exceeded_is_soft_error),
		T(test_icmp_error_is_never_answered_with_error),
	};
	return cmocka_run_group_tests_name("icmp", tests, NULL, NULL);
}
