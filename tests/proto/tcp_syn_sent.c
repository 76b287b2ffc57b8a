/* SYN-SENT: the SYN and its options, SYN-ACK, refusal by RST, bad ACKs,
 * retries to ETIMEDOUT, simultaneous open, ICMP errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/tcp.h>

#include "../lib/tt.h"

static struct tt_seg start_connect(struct tt *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tt_seg s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_bind(t->sock, &l), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	assert_int_equal(sock_connect(t->sock, &a), -EALREADY);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	t->iss = s.seq;
	return s;
}

static void test_syn_sent_connect_sends_syn_with_options(void **state)
{
	struct tt *t = *state;
	struct tt_seg s = start_connect(t);
	assert_int_equal(s.flags, TCP_SYN);
	assert_int_equal(s.ack, 0);
	assert_int_equal(s.wnd, 65535);
	assert_int_equal(s.opt.has, TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS);
	assert_int_equal(s.opt.mss, 1460);
	assert_int_equal(s.opt.wscale, TCP_WSCALE);
	assert_int_equal(s.opt.tsecr, 0);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_SENT);
	assert_int_equal(sock_events(t->sock), 0);
	tt_expect_nothing(t);
}

static void test_syn_sent_synack_establishes(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	tt_connect(t);
	assert_int_equal(sock_events(t->sock), EPOLLOUT);
	assert_int_equal(sock_take_error(t->sock), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EISCONN);
	assert_int_equal(tt_tcb(t)->snd_wscale, 7);
	assert_int_equal(tt_tcb(t)->mss, 1448);
}

/* TCP_MAXSEG before connect caps the MSS offered in the SYN and the
 * segments sent; getsockopt gives the cap, then the MSS in use (Linux). */
static void test_syn_sent_maxseg_caps_the_mss(void **state)
{
	struct tt *t = *state;
	static uint8_t data[3000];
	struct iovec v = { .iov_base = data, .iov_len = sizeof(data) };
	struct tt_seg s;
	int val = 1000, got = 0;
	socklen_t len = sizeof(got);
	uint32_t seq;

	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &got, &len), 0);
	assert_int_equal(got, 536); /* nothing set: Linux's default */
	val = 87;
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &val, sizeof(val)), -EINVAL);
	val = 1000;
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &val, sizeof(val)), 0);
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &got, &len), 0);
	assert_int_equal(got, 1000);
	s = tt_connect_sock(t);
	assert_int_equal(s.opt.mss, 1000);
	assert_int_equal(tt_tcb(t)->mss, 988); /* 1000 less the timestamps */
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_MAXSEG, &got, &len), 0);
	assert_int_equal(got, 988);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), 3000);
	tt_advance(t, 0);
	seq = t->iss + 1;
	while (tt_recv(t, &s)) {
		assert_true(s.len <= 988);
		seq += s.len;
	}
	assert_true(seq - (t->iss + 1) >= 988 * 2); /* the initial window took several */
}

static void test_syn_sent_rst_with_acceptable_ack_refuses(void **state)
{
	struct tt *t = *state;
	int err;
	socklen_t len = sizeof(err);
	start_connect(t);
	tt_send(t, SEG(TCP_RST | TCP_ACK, .seq = 0, .ack = t->iss + 1));
	tt_expect_nothing(t);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLRDHUP | EPOLLERR);
	assert_int_equal(sock_getopt(t->sock, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	assert_int_equal(err, ECONNREFUSED);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLRDHUP);
	assert_int_equal(t->st->ctr.v[TCP_CONN_REFUSED], 1);
	/* then, as Linux: connect again ECONNABORTED, send EPIPE */
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	assert_int_equal(sock_connect(t->sock, &a), -ECONNABORTED);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), -EPIPE);
}

static void test_syn_sent_rst_with_bad_ack_ignored(void **state)
{
	struct tt *t = *state;
	start_connect(t);
	tt_send(t, SEG(TCP_RST | TCP_ACK, .seq = 0, .ack = t->iss + 7));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_SENT);
}

static void test_syn_sent_bad_ack_gets_rst(void **state)
{
	struct tt *t = *state;
	start_connect(t);
	tt_send(t, SEG(TCP_SYN | TCP_ACK, .seq = TT_PEER_ISS, .ack = t->iss + 99, .sport = TT_RPORT, .dport = TT_LPORT));
	tt_expect(t, TCP_RST, t->iss + 99, 0);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_SENT);
}

static void test_syn_sent_retries_then_etimedout(void **state)
{
	struct tt *t = *state;
	start_connect(t);
	/* RFC 6298 (2.1): 1 s, then doubling */
	for (int i = 0; i < 6; i++) {
		tt_advance(t, (1000ull << i) * TT_MS - TT_MS);
		tt_expect_nothing(t);
		tt_advance(t, 2 * TT_MS);
		tt_expect(t, TCP_SYN, t->iss, 0);
		t->now -= TT_MS; /* keep to the schedule */
	}
	tt_advance(t, 64000 * TT_MS + 2 * TT_MS);
	tt_expect_nothing(t);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
	assert_int_equal(tt_state(t), -1);
}

static void test_syn_sent_simultaneous_open(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	start_connect(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .opt = { .has = TCP_OPTF_MSS, .mss = 1000 }));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.seq, t->iss);
	assert_int_equal(s.ack, TT_PEER_ISS + 1);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_RECEIVED);
	tt_send(t, SEG(TCP_SYN | TCP_ACK, .seq = TT_PEER_ISS, .ack = t->iss + 1));
	/* its SYN-ACK repeats the SYN: below the window, dropped */
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(tt_tcb(t)->mss, 1000);
	assert_int_equal(sock_events(t->sock), EPOLLOUT);
}

static void test_syn_sent_icmp_unreachable_ends_connect(void **state)
{
	struct tt *t = *state;
	start_connect(t);
	tcp_icmp_error(t->st, TT_US_IP, TT_PEER_IP, TT_LPORT, TT_RPORT, EHOSTUNREACH);
	assert_true(sock_events(t->sock) & EPOLLERR);
	assert_int_equal(sock_take_error(t->sock), EHOSTUNREACH);
	assert_int_equal(tt_state(t), -1);
}

static void test_syn_sent_send_before_established_eagain(void **state)
{
	struct tt *t = *state;
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	start_connect(t);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), -EAGAIN);
}

static void test_syn_sent_ephemeral_port_without_bind(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) }, l;
	struct tt_seg s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	assert_int_equal(sock_name(t->sock, &l), 0);
	assert_true(ntohs(l.sin_port) >= 32768 && ntohs(l.sin_port) < 61000);
	assert_int_equal(ntohl(l.sin_addr.s_addr), TT_US_IP);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.sport, ntohs(l.sin_port));
	assert_int_equal(sock_peer(t->sock, &l), -ENOTCONN);
}

/* Ports picked by connect() are shared between destinations, as Linux
 * does, but never for the same 4-tuple. */
static void test_syn_sent_ephemeral_ports_shared_across_destinations(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) }, l1, l2, l3;
	struct sock *s2, *s3;
	uint16_t cursor = t->st->tcp->next_ephemeral;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	t->st->tcp->next_ephemeral = cursor;
	a.sin_port = htons(TT_RPORT + 1);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s2), 0);
	assert_int_equal(sock_connect(s2, &a), -EINPROGRESS);
	t->st->tcp->next_ephemeral = cursor;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s3), 0);
	assert_int_equal(sock_connect(s3, &a), -EINPROGRESS);
	sock_name(t->sock, &l1), sock_name(s2, &l2), sock_name(s3, &l3);
	assert_int_equal(l1.sin_port, l2.sin_port);
	assert_int_not_equal(l2.sin_port, l3.sin_port);
	/* a port connect() took is not free for bind() */
	struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = l1.sin_port };
	struct sock *s4;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s4), 0);
	assert_int_equal(sock_bind(s4, &b), -EADDRINUSE);
	sock_close(s4);
	sock_close(s2);
	sock_close(s3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_syn_sent_connect_sends_syn_with_options),
		T(test_syn_sent_synack_establishes),
		T(test_syn_sent_maxseg_caps_the_mss),
		T(test_syn_sent_rst_with_acceptable_ack_refuses),
		T(test_syn_sent_rst_with_bad_ack_ignored),
		T(test_syn_sent_bad_ack_gets_rst),
		T(test_syn_sent_retries_then_etimedout),
		T(test_syn_sent_simultaneous_open),
		T(test_syn_sent_icmp_unreachable_ends_connect),
		T(test_syn_sent_send_before_established_eagain),
		T(test_syn_sent_ephemeral_port_without_bind),
		T(test_syn_sent_ephemeral_ports_shared_across_destinations),
	};
	return cmocka_run_group_tests_name("tcp_syn_sent", tests, NULL, NULL);
}
