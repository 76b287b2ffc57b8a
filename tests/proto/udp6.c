/* UDP over IPv6, datagram by datagram: the stack (2001:db8::2) and the
 * test as 2001:db8::1 (tt6.h). The same UDP code as over IPv4 from the
 * lookup on; these check the IPv6 pseudo-header checksum (mandatory), the
 * source given to recvfrom(), port unreachable as ICMPv6, and which socket
 * takes which family. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../lib/tt6.h"
#include "net6.h"
#include "wire/cksum.h"
#include "wire/icmp6.h"

static uint64_t ctr(struct tt *t, enum stack_counter c) { return pt_counter(&t->pt, c); }

/* A datagram from 2001:db8::1 to the stack; cksum 0: none (invalid in IPv6),
 * else the right one. */
static void send6(struct tt *t, uint16_t sport, uint16_t dport, const void *data, uint16_t len, int cksum)
{
	uint8_t f[1500];
	uint8_t *u = f + 54;
	pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_UDP, (uint16_t)(8 + len), 64);
	wr16(u, sport);
	wr16(u + 2, dport);
	wr16(u + 4, (uint16_t)(8 + len));
	wr16(u + 6, 0);
	memcpy(u + 8, data, len);
	if (cksum)
		wr16(u + 6, cksum_fold(cksum_partial(u, 8u + len, cksum_pseudo_ipv6(&PT6_PEER, &PT6_US, IPV6_NH_UDP,
										    8u + len))));
	pt_send_frame(&t->pt, f, 54u + 8 + len);
	tt_advance(t, 0);
}

static struct sock *bound6(struct tt *t, uint16_t port, int v6only)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sock *s;
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_setopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)), 0);
	assert_int_equal(sock_bind(s, &a), 0);
	return s;
}

/* Echo: recvfrom gives the source as a sockaddr_in6; sendto it back gives
 * a datagram from 2001:db8::2 with a valid checksum. */
static void test_echo(void **state)
{
	struct tt *t = *state;
	struct sock *s = bound6(t, 7, 0);
	struct sockaddr_in6 from;
	char buf[64];
	struct iovec v = { buf, sizeof(buf) };
	struct pt6_frame r;
	ssize_t n;
	send6(t, 5353, 7, "hello v6", 8, 1);
	n = sock_recv(s, &v, 1, 0, &from);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "hello v6", 8);
	assert_int_equal(from.sin6_family, AF_INET6);
	assert_memory_equal(&from.sin6_addr, &PT6_PEER, 16);
	assert_int_equal(ntohs(from.sin6_port), 5353);
	v.iov_len = (size_t)n;
	assert_int_equal(sock_send(s, &v, 1, 0, &from), 8);
	tt_advance(t, 0);
	pt6_expect_ip(&t->pt, &r);
	assert_int_equal(r.ip.nxt, IPV6_NH_UDP);
	assert_memory_equal(&r.ip.src, &PT6_US, 16);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
	assert_int_equal(rd16(r.l4), 7);
	assert_int_equal(rd16(r.l4 + 2), 5353);
	assert_int_equal(rd16(r.l4 + 4), 16);
	assert_true(rd16(r.l4 + 6) != 0);
	assert_int_equal(cksum_fold(cksum_partial(r.l4, r.l4_len, cksum_pseudo_ipv6(&r.ip.src, &r.ip.dst,
										       IPV6_NH_UDP, r.l4_len))), 0);
	assert_memory_equal(r.l4 + 8, "hello v6", 8);
	sock_close(s);
}

/* No socket on the port: ICMPv6 destination unreachable, port (code 4),
 * quoting the datagram from its IPv6 header. */
static void test_port_unreachable(void **state)
{
	struct tt *t = *state;
	struct pt6_frame r;
	send6(t, 5353, 9999, "x", 1, 1);
	pt6_expect_icmp6(&t->pt, &r, ICMP6_DST_UNREACH);
	assert_int_equal(r.l4[1], 4);
	assert_memory_equal(&r.ip.dst, &PT6_PEER, 16);
	assert_int_equal(r.l4[8] >> 4, 6);                  /* the quoted IPv6 header */
	assert_memory_equal(r.l4 + 8 + 8, &PT6_PEER, 16);   /* its source */
	assert_int_equal(rd16(r.l4 + 8 + 40 + 2), 9999);    /* the UDP destination port */
	assert_int_equal(ctr(t, DROP_UDP_NO_PORT), 1);
}

/* A zero checksum means none, which IPv6 does not allow (RFC 8200 §8.1):
 * dropped, even when the datagram sums to zero with it (its checksum
 * would be sent as 0xffff). */
static void test_zero_checksum_dropped(void **state)
{
	struct tt *t = *state;
	struct sock *s = bound6(t, 7, 0);
	uint8_t d[4] = { 'a', 'b', 0, 0 }, u[12] = { 5353 >> 8, 5353 & 255, 0, 7, 0, 12, 0, 0 };
	char buf[8];
	struct iovec v = { buf, sizeof(buf) };
	uint16_t w;
	memcpy(u + 8, d, 4);
	w = cksum_fold(cksum_partial(u, 12, cksum_pseudo_ipv6(&PT6_PEER, &PT6_US, IPV6_NH_UDP, 12)));
	wr16(d + 2, w); /* now the whole sums to 0xffff: a zero field checks */
	send6(t, 5353, 7, d, 4, 0);
	assert_int_equal(ctr(t, DROP_UDP_CKSUM), 1);
	assert_int_equal(sock_recv(s, &v, 1, 0, NULL), -EAGAIN);
	sock_close(s);
}

/* [::] takes IPv4 too (the source v4-mapped), not with IPV6_V6ONLY; an
 * AF_INET socket on 0.0.0.0 takes no IPv6. */
static void test_families(void **state)
{
	struct tt *t = *state;
	const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(8) };
	struct sockaddr_in6 from;
	struct pt6_frame r;
	char buf[8];
	struct iovec v = { buf, sizeof(buf) };
	struct sock *d = bound6(t, 7, 0), *o = bound6(t, 9, 1), *s4;

	pt_peer_udp(&t->pt, 4000, 7, "v4", 2);
	assert_int_equal(sock_recv(d, &v, 1, 0, &from), 2);
	assert_int_equal(from.sin6_family, AF_INET6);
	assert_memory_equal(&from.sin6_addr, mapped, 16);
	assert_int_equal(ntohs(from.sin6_port), 4000);

	pt_peer_udp(&t->pt, 4000, 9, "v4", 2);
	assert_int_equal(sock_recv(o, &v, 1, 0, NULL), -EAGAIN);
	while (pt_recv_frame(&t->pt, (uint8_t[2048]){ 0 }, 2048)) /* its ICMP port unreachable */
		;

	assert_int_equal(sock_create(t->st, SOCK_DGRAM, &s4), 0);
	assert_int_equal(sock_bind(s4, &a4), 0);
	send6(t, 5353, 8, "v6", 2, 1);
	assert_int_equal(sock_recv(s4, &v, 1, 0, NULL), -EAGAIN);
	pt6_expect_icmp6(&t->pt, &r, ICMP6_DST_UNREACH);
	sock_close(d);
	sock_close(o);
	sock_close(s4);
}

/* An AF_INET6 socket bound to our IPv4 address (v4-mapped) sends no IPv6:
 * its source could not be that address. */
static void test_bound_v4_mapped_sends_no_ipv6(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(7),
				  .sin6_addr.s6_addr = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 2 } };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(5353), .sin6_addr = PT6_PEER };
	struct sock *s;
	char buf[4] = "x";
	struct iovec v = { buf, 1 };
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_bind(s, &a), 0);
	assert_int_equal(sock_send(s, &v, 1, 0, &to), -ENETUNREACH);
	tt_advance(t, 0);
	assert_int_equal(pt_recv_frame(&t->pt, (uint8_t[2048]){ 0 }, 2048), 0);
	sock_close(s);
}

/* A connected AF_INET6 socket takes only its peer's datagrams and sends
 * to it without an address. */
static void test_connected(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(5353), .sin6_addr = PT6_PEER };
	struct sockaddr_in6 me;
	struct sock *s = bound6(t, 7, 0);
	char buf[8] = "ping";
	struct iovec v = { buf, 4 };
	struct pt6_frame r;
	assert_int_equal(sock_connect(s, &to), 0);
	assert_int_equal(sock_name(s, &me), 0);
	assert_memory_equal(&me.sin6_addr, &PT6_US, 16);
	send6(t, 5354, 7, "no", 2, 1); /* another port: not for s */
	assert_int_equal(sock_recv(s, &v, 1, 0, NULL), -EAGAIN);
	while (pt_recv_frame(&t->pt, (uint8_t[2048]){ 0 }, 2048))
		;
	send6(t, 5353, 7, "yes", 3, 1);
	assert_int_equal(sock_recv(s, &v, 1, 0, NULL), 3);
	v.iov_len = 4;
	assert_int_equal(sock_send(s, &v, 1, 0, NULL), 4);
	tt_advance(t, 0);
	pt6_expect_ip(&t->pt, &r);
	assert_int_equal(rd16(r.l4 + 2), 5353);
	sock_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_port_unreachable, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_zero_checksum_dropped, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_families, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_connected, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_bound_v4_mapped_sends_no_ipv6, tt6_setup, tt_teardown),
	};
	return cmocka_run_group_tests_name("udp6", tests, NULL, NULL);
}
