/* TCP over IPv6, segment by segment: the stack (2001:db8::2) and the test
 * as the peer (2001:db8::1), or two stacks (tt6.h). The same TCP code as
 * over IPv4 from the lookup on; these check what differs: the IPv6
 * pseudo-header checksum (every segment tt6_recv takes is checked), the MSS
 * of an IPv6 path, ICMPv6 Packet Too Big, and which listener takes which
 * family. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "../lib/tt6.h"
#include "net6.h"
#include "wire/cksum.h"
#include "wire/icmp6.h"

static uint64_t ctr(struct tt *t, enum stack_counter c) { return pt_counter(&t->pt, c); }

/* A passive open: the SYN-ACK offers MSS 1440 (1500 less 60 bytes of
 * IPv6 and TCP headers), echoes SACK-permitted, timestamps and window
 * scaling; accept() gives the peer as a sockaddr_in6. */
static void test_passive_open_options(void **state)
{
	struct tt *t = *state;
	struct tt_seg sa = tt6_established(t);
	struct sockaddr_in6 me;
	struct tcb *c = tt6_tcb(t);
	assert_int_equal(sa.opt.has & (TCP_OPTF_MSS | TCP_OPTF_SACK_OK | TCP_OPTF_TS | TCP_OPTF_WS),
			 TCP_OPTF_MSS | TCP_OPTF_SACK_OK | TCP_OPTF_TS | TCP_OPTF_WS);
	assert_int_equal(sa.opt.mss, 1440);
	assert_true(c->flags & TF_SACK_OK);
	assert_true(c->flags & TF_TS_OK);
	assert_int_equal(c->mss, 1440 - 12);
	assert_int_equal(sock_name(t->sock, &me), 0);
	assert_int_equal(me.sin6_family, AF_INET6);
	assert_memory_equal(&me.sin6_addr, &PT6_US, 16);
	assert_int_equal(ntohs(me.sin6_port), TT_LPORT);
	tt_expect_nothing(t);
}

/* Data both ways; out-of-order data is answered with a SACK block. */
static void test_data_and_sack(void **state)
{
	struct tt *t = *state;
	uint8_t buf[100], in[300];
	struct iovec v = { buf, sizeof(buf) };
	struct iovec r = { in, sizeof(in) };
	struct tt_seg s;
	uint32_t p = TT_PEER_ISS + 1;
	memset(buf, 'x', sizeof(buf));
	tt6_established(t);
	/* 100 bytes at +100 first: a hole, so an ACK at once with SACK */
	tt6_send(t, SEG(TCP_ACK | TCP_PSH, .seq = p + 100, .ack = t->iss + 1, .data = buf, .len = 100,
			.opt = tt_ts(t, 0)));
	s = tt6_expect(t, TCP_ACK, t->iss + 1, p);
	assert_true(s.opt.has & TCP_OPTF_SACK);
	assert_int_equal(s.opt.nsack, 1);
	assert_int_equal(s.opt.sack[0].start, p + 100);
	assert_int_equal(s.opt.sack[0].end, p + 200);
	tt6_send(t, SEG(TCP_ACK | TCP_PSH, .seq = p, .ack = t->iss + 1, .data = buf, .len = 100, .opt = tt_ts(t, 0)));
	tt6_expect(t, TCP_ACK, t->iss + 1, p + 200);
	assert_int_equal(sock_recv(t->sock, &r, 1, 0, NULL), 200);
	/* and from the stack: one segment, its checksum over the IPv6 pseudo-header */
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), 100);
	tt_advance(t, 0);
	s = tt6_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, p + 200);
	assert_int_equal(s.len, 100);
	assert_true(s.opt.has & TCP_OPTF_TS);
	assert_memory_equal(t->rx, buf, 100);
}

/* An active open from an AF_INET6 socket: SYN with MSS 1440 from
 * 2001:db8::2, established on the SYN-ACK. */
static void test_active_open(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(TT_RPORT), .sin6_addr = PT6_PEER };
	struct sockaddr_in6 me, peer;
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_TS, .mss = 1440 };
	struct tt_seg syn;
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_connect(t->sock, &to), -EINPROGRESS);
	tt_advance(t, 0);
	assert_true(tt6_recv(t, &syn, NULL));
	assert_int_equal(syn.flags, TCP_SYN);
	assert_int_equal(syn.opt.mss, 1440);
	assert_int_equal(syn.dport, TT_RPORT);
	o.tsval = 5, o.tsecr = syn.opt.tsval;
	tt6_send(t, SEG(TCP_SYN | TCP_ACK, .seq = TT_PEER_ISS, .ack = syn.seq + 1, .sport = TT_RPORT,
			.dport = syn.sport, .opt = o));
	tt6_expect(t, TCP_ACK, syn.seq + 1, TT_PEER_ISS + 1);
	assert_true(sock_events(t->sock) & EPOLLOUT);
	assert_int_equal(sock_name(t->sock, &me), 0);
	assert_memory_equal(&me.sin6_addr, &PT6_US, 16);
	assert_int_equal(ntohs(me.sin6_port), syn.sport);
	assert_int_equal(sock_peer(t->sock, &peer), 0);
	assert_memory_equal(&peer.sin6_addr, &PT6_PEER, 16);
}

/* A SYN to a port nobody listens on: RST+ACK, as over IPv4. */
static void test_closed_port_rst(void **state)
{
	struct tt *t = *state;
	tt6_send(t, SEG(TCP_SYN, .seq = 77, .dport = 81));
	struct tt_seg s = tt6_expect(t, TCP_RST | TCP_ACK, 0, 78);
	assert_int_equal(s.sport, 81);
	assert_int_equal(s.dport, TT_RPORT);
	assert_int_equal(ctr(t, DROP_TCP_NO_SOCKET), 1);
	assert_int_equal(ctr(t, TCP_RST_SENT), 1);
}

/* A segment with a bad checksum (summed as IPv4 would) is dropped. */
static void test_bad_checksum_dropped(void **state)
{
	struct tt *t = *state;
	uint8_t f[54 + 20];
	struct tcp_hdr h = { .sport = TT_RPORT, .dport = 81, .seq = 1, .flags = TCP_SYN, .wnd = 1000 };
	pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_TCP, 20, 64);
	tcp_hdr_emit(f + 54, &h);
	tcp_cksum_set(f + 54, 20, PT_PEER_IP, PT_US_IP, 0);
	pt_send_frame(&t->pt, f, sizeof(f));
	tt_advance(t, 0);
	assert_int_equal(ctr(t, DROP_TCP_CKSUM), 1);
	tt_expect_nothing(t);
}

/* A full SYN queue answers with a cookie; the ACK that returns it makes
 * the connection (the cookie's MAC over the IPv6 addresses). */
static void test_syn_cookie(void **state)
{
	struct tt *t = *state;
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_TS | TCP_OPTF_SACK_OK, .mss = 1440, .tsval = 1 };
	struct tt_seg sa;
	struct sock *c;
	tt6_listen(t, 0, 0); /* room for one in the SYN queue */
	tt6_send(t, SEG(TCP_SYN, .seq = 500, .sport = 2000, .opt = o));
	tt6_expect(t, TCP_SYN | TCP_ACK, tcp_lookup(t->st, &(union ip_addr){ .in6 = PT6_US }, TT_LPORT,
						     &(union ip_addr){ .in6 = PT6_PEER }, 2000)->iss, 501);
	tt6_send(t, SEG(TCP_SYN, .seq = 900, .sport = 2001, .opt = o));
	assert_int_equal(ctr(t, TCP_COOKIES_SENT), 1);
	assert_true(tt6_recv(t, &sa, NULL));
	assert_int_equal(sa.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(sa.ack, 901);
	tt6_send(t, SEG(TCP_ACK, .seq = 901, .ack = sa.seq + 1, .sport = 2001, .opt = tt_ts(t, sa.opt.tsval)));
	assert_int_equal(ctr(t, TCP_COOKIES_ACCEPTED), 1);
	assert_int_equal(sock_accept(t->lsock, &c, NULL), 0);
	sock_close(c);
	tt_advance(t, 0);
	/* a forged cookie is refused with a RST */
	tt6_send(t, SEG(TCP_ACK, .seq = 1901, .ack = sa.seq + 7, .sport = 2002, .opt = tt_ts(t, sa.opt.tsval)));
	assert_int_equal(ctr(t, DROP_TCP_COOKIE_BAD), 1);
}

/* ICMPv6 Packet Too Big about a segment in flight: the MSS comes down to
 * the path's (1280 - 60, less timestamps) and the data is sent again at
 * that size. */
static void test_packet_too_big_lowers_mss(void **state)
{
	struct tt *t = *state;
	static uint8_t data[3000];
	struct iovec v = { data, sizeof(data) };
	uint8_t quote[40 + 60];
	struct ipv6_hdr ip;
	struct tt_seg s;
	tt6_established(t);
	tt6_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1, .wnd = 60000, .opt = tt_ts(t, 0)));
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), (ssize_t)sizeof(data));
	tt_advance(t, 0);
	assert_true(tt6_recv(t, &s, &ip));
	assert_int_equal(s.len, 1428);
	/* quote the first segment as a router would */
	ipv6_hdr_emit(quote, &ip);
	{
		struct tcp_hdr h = { .sport = TT_LPORT, .dport = TT_RPORT, .seq = s.seq, .ack = s.ack,
				     .flags = s.flags, .wnd = s.wnd };
		tcp_hdr_emit(quote + 40, &h);
	}
	while (tt6_recv(t, &s, NULL))
		;
	tt6_send_icmp6_error(t, ICMP6_PACKET_TOO_BIG, 0, 1280, quote, sizeof(quote));
	assert_int_equal(ctr(t, TCP_PMTU_REDUCED), 1);
	assert_int_equal(tt6_tcb(t)->mss, 1280 - 60 - 12);
	assert_true(tt6_recv(t, &s, &ip));
	assert_int_equal(s.seq, t->iss + 1);
	assert_int_equal(s.len, 1280 - 60 - 12);
	assert_int_equal(40 + ip.plen, 1280);
}

/* Which listener takes which family: [::] serves IPv4 too (the peer as
 * ::ffff:198.18.0.1), unless IPV6_V6ONLY; 0.0.0.0 takes no IPv6. */
static void test_listener_families(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in6 peer;
	struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT + 1) };
	const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 0, 1 };
	struct sock *l4, *c;
	tt6_listen(t, 16, 0);
	tt_send(t, SEG(TCP_SYN, .seq = 10));
	tt_expect(t, TCP_SYN | TCP_ACK, tt_tcb(t)->iss, 11);
	tt_send(t, SEG(TCP_ACK, .seq = 11, .ack = tt_tcb(t)->iss + 1));
	assert_int_equal(sock_accept(t->lsock, &c, &peer), 0);
	assert_int_equal(peer.sin6_family, AF_INET6);
	assert_memory_equal(&peer.sin6_addr, mapped, 16);
	sock_close(c);
	tt_advance(t, 0);
	while (tt_recv(t, &(struct tt_seg){ 0 }))
		;
	/* V6ONLY: IPv4 refused */
	sock_close(t->lsock);
	t->lsock = NULL;
	tt6_listen(t, 16, 1);
	tt_send(t, SEG(TCP_SYN, .seq = 10, .sport = TT_RPORT + 1));
	tt_expect(t, TCP_RST | TCP_ACK, 0, 11);
	/* 0.0.0.0: IPv6 refused */
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &l4), 0);
	assert_int_equal(sock_bind(l4, &any4), 0);
	assert_int_equal(sock_listen(l4, 4), 0);
	tt6_send(t, SEG(TCP_SYN, .seq = 10, .dport = TT_LPORT + 1));
	tt6_expect(t, TCP_RST | TCP_ACK, 0, 11);
	sock_close(l4);
}

/* Binding 0.0.0.0 and [::] to one port conflicts, unless V6ONLY. */
static void test_bind_conflicts(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(5000) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(5000) };
	struct sock *s4, *s6, *s6b;
	int on = 1;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s4), 0);
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_STREAM, &s6), 0);
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_STREAM, &s6b), 0);
	assert_int_equal(sock_bind(s4, &a4), 0);
	assert_int_equal(sock_bind(s6, &a6), -EADDRINUSE);
	assert_int_equal(sock_setopt(s6b, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)), 0);
	assert_int_equal(sock_bind(s6b, &a6), 0);
	assert_int_equal(sock_setopt(s6b, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)), -EINVAL);
	/* an AF_INET socket takes no sockaddr_in6 */
	assert_int_equal(sock_connect(s4, &a6), -EAFNOSUPPORT);
	sock_close(s4);
	sock_close(s6);
	sock_close(s6b);
}

/* Two stacks over IPv6: 1 MiB each way, byte-exact, with SACK and
 * timestamps agreed. */
static void test_pair_transfer(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_port = htons(TT_LPORT) };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_port = htons(TT_LPORT), .sin6_addr = PT6_US };
	struct tt_side a = { .total = 1 << 20, .seed_tx = 0, .seed_rx = 1 };
	struct tt_side b = { .total = 1 << 20, .seed_tx = 1, .seed_rx = 0 };
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_bind(t->lsock, &any), 0);
	assert_int_equal(sock_listen(t->lsock, 4), 0);
	assert_int_equal(sock_create_af(t->st2, AF_INET6, SOCK_STREAM, &t->sock2), 0);
	assert_int_equal(sock_connect(t->sock2, &to), -EINPROGRESS);
	while (sock_accept(t->lsock, &t->sock, NULL) == -EAGAIN) {
		tt_pair_step(t);
		assert_true(t->now < 10000 * TT_MS);
	}
	{
		struct tcb *c = t->sock->proto;
		assert_true(c->flags & TF_SACK_OK);
		assert_true(c->flags & TF_TS_OK);
		assert_false(ip_addr_is_v4(&c->raddr));
	}
	a.s = t->sock;
	b.s = t->sock2;
	tt_sides_run(t, &a, &b, 60000 * TT_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_passive_open_options, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_data_and_sack, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_active_open, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_closed_port_rst, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_bad_checksum_dropped, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_syn_cookie, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_packet_too_big_lowers_mss, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_listener_families, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_bind_conflicts, tt6_setup, tt_teardown),
		cmocka_unit_test_setup_teardown(test_pair_transfer, tt6_setup_pair, tt_teardown),
	};
	return cmocka_run_group_tests_name("tcp6", tests, NULL, NULL);
}
