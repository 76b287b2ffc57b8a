/* TCP_USER_TIMEOUT (RFC 5482 §4.2, as Linux applies it): how long sent
 * data, window probes or keepalive probes may go unanswered before the
 * connection is aborted with ETIMEDOUT. The abort comes at the timeout, not
 * at the next backed-off timer; a peer that answers keeps the connection. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>

#include "../lib/tt.h"

#define P1 (TT_PEER_ISS + 1)

static void set_uto(struct sock *s, int ms)
{
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)), 0);
}

static int get_int(struct sock *s, int level, int name)
{
	int v = -1;
	socklen_t n = sizeof(v);
	assert_int_equal(sock_getopt(s, level, name, &v, &n), 0);
	return v;
}

static void send_bytes(struct tt *t, uint32_t n)
{
	static char buf[4096];
	struct iovec v = { .iov_base = buf, .iov_len = n };
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), (ssize_t)n);
	tt_advance(t, 0);
}

/* Advance in steps of 10 ms, discarding what the stack sends, until the
 * connection is gone or limit_ms passed; returns the ms it took. */
static uint64_t until_gone(struct tt *t, uint64_t limit_ms)
{
	struct tt_seg s;
	uint64_t ms = 0;
	for (; ms < limit_ms && tt_state(t) != -1; ms += 10) {
		tt_advance(t, 10 * TT_MS);
		while (tt_recv(t, &s))
			;
	}
	return ms;
}

static void test_user_timeout_option_round_trip(void **state)
{
	struct tt *t = *state;
	int bad = -1;
	tt_listen(t);
	assert_int_equal(get_int(t->lsock, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
	set_uto(t->lsock, 777);
	assert_int_equal(get_int(t->lsock, IPPROTO_TCP, TCP_USER_TIMEOUT), 777);
	assert_int_equal(sock_setopt(t->lsock, IPPROTO_TCP, TCP_USER_TIMEOUT, &bad, sizeof(bad)), -EINVAL);
	tt_established(t);
	/* an accepted connection inherits it, as Linux's clone of the listener */
	assert_int_equal(get_int(t->sock, IPPROTO_TCP, TCP_USER_TIMEOUT), 777);
}

static void test_user_timeout_aborts_unacked_data(void **state)
{
	struct tt *t = *state;
	uint64_t ms;
	tt_established(t);
	set_uto(t->sock, 3000);
	send_bytes(t, 100);
	ms = until_gone(t, 20000);
	/* the data went out at 0: gone at 3 s, not at a later retransmission */
	assert_true(ms >= 3000 && ms <= 3100);
	assert_true(sock_events(t->sock) & EPOLLERR);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

static void test_without_user_timeout_retries_go_on(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	send_bytes(t, 100);
	assert_int_equal(until_gone(t, 20000), 20000);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
}

static void test_user_timeout_counts_from_first_transmission(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	uint64_t ms;
	tt_established(t);
	set_uto(t->sock, 5000);
	send_bytes(t, 100);
	assert_true(tt_recv(t, &s));
	/* acknowledged after 2 s: the clock starts again with the next data */
	tt_advance(t, 2000 * TT_MS);
	while (tt_recv(t, &s))
		;
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 101, .opt = tt_ts(t, 0)));
	send_bytes(t, 100);
	ms = until_gone(t, 20000);
	assert_true(ms >= 5000 && ms <= 5100);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

static void test_user_timeout_zero_window_answered_then_silent(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	uint64_t ms, last_answer = 0;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd0 = 1, .opt = tt_ts(t, 0)));
	set_uto(t->sock, 2000);
	send_bytes(t, 100);
	/* 10 s of a live peer that keeps its window shut: probes answered */
	for (ms = 0; ms < 10000; ms += 10) {
		tt_advance(t, 10 * TT_MS);
		while (tt_recv(t, &s)) {
			assert_int_equal(s.len, 0); /* a probe, no data into a zero window */
			tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd0 = 1, .opt = tt_ts(t, 0)));
			last_answer = ms;
		}
	}
	assert_true(last_answer > 2000);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	/* then silent: the first probe nobody answers starts the clock */
	for (ms = 0; ms < 60000; ms += 10) {
		tt_advance(t, 10 * TT_MS);
		if (tt_recv(t, &s))
			break;
	}
	assert_true(ms < 60000);
	ms = until_gone(t, 20000);
	assert_true(ms >= 1990 && ms <= 2100);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

static void test_user_timeout_bounds_keepalive(void **state)
{
	struct tt *t = *state;
	int one = 1, idle = 1, intvl = 1, cnt = 9;
	uint64_t ms;
	tt_established(t);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)), 0);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)), 0);
	assert_int_equal(sock_setopt(t->sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
	set_uto(t->sock, 2500);
	/* probes at 1, 2, 3 s: the one at 3 s finds the peer silent for 2.5 s
	 * (without the user timeout, 9 probes: 10 s) */
	ms = until_gone(t, 20000);
	assert_true(ms >= 2500 && ms <= 3100);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

static void test_user_timeout_bounds_connect(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	uint64_t ms;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	set_uto(t->sock, 1500);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	tt_advance(t, 0);
	/* SYNs at 0, 1 s, 3 s...: the attempt ends at the first after 1.5 s */
	for (ms = 0; ms < 20000 && !(sock_events(t->sock) & EPOLLERR); ms += 10) {
		struct tt_seg s;
		tt_advance(t, 10 * TT_MS);
		while (tt_recv(t, &s))
			;
	}
	assert_true(ms >= 1500 && ms <= 3100);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_user_timeout_option_round_trip),
		T(test_user_timeout_aborts_unacked_data),
		T(test_without_user_timeout_retries_go_on),
		T(test_user_timeout_counts_from_first_transmission),
		T(test_user_timeout_zero_window_answered_then_silent),
		T(test_user_timeout_bounds_keepalive),
		T(test_user_timeout_bounds_connect),
	};
	return cmocka_run_group_tests_name("tcp_user_timeout", tests, NULL, NULL);
}
