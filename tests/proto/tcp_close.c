/* The closing states: FIN-WAIT-1, FIN-WAIT-2, CLOSING (simultaneous close),
 * TIME-WAIT, CLOSE-WAIT, LAST-ACK; half-close; SO_LINGER 0; keepalive. */
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

static void close_sock(struct tt *t)
{
	sock_close(t->sock);
	t->sock = NULL;
	tt_advance(t, 0);
}

static ssize_t trecv(struct sock *s, void *b, size_t n)
{
	struct iovec v = { .iov_base = b, .iov_len = n };
	return sock_recv(s, &v, 1, 0, NULL);
}

static void test_fin_wait_1_close_sends_fin(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	assert_int_equal(tt_state(t), TCP_STATE_FIN_WAIT_1);
}

static void test_fin_wait_1_fin_unacked_retransmitted(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_advance(t, 1001 * TT_MS);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
}

static void test_fin_wait_1_ack_moves_to_fin_wait_2(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), TCP_STATE_FIN_WAIT_2);
}

static void test_fin_wait_2_fin_moves_to_time_wait(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
}

static void test_fin_wait_2_orphan_times_out(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_advance(t, 59000 * TT_MS);
	assert_int_equal(tt_state(t), TCP_STATE_FIN_WAIT_2);
	tt_advance(t, 2000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
}

static void test_fin_wait_2_data_after_close_gets_rst(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .data = "late", .len = 4, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_RST | TCP_ACK, t->iss + 2, P1);
	assert_int_equal(tt_state(t), -1);
}

static void test_closing_simultaneous_close(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	/* the peer's FIN crosses ours */
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSING);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
}

static void count_states(const struct sock_info *si, void *arg)
{
	int *n = arg;
	assert_int_equal(si->type, SOCK_STREAM);
	n[si->state]++;
}

/* The stats listing shows connections that no socket holds any more. */
static void test_time_wait_listed_by_foreach(void **state)
{
	struct tt *t = *state;
	int n[TCP_STATE_MAX] = { 0 };
	test_fin_wait_2_fin_moves_to_time_wait(state);
	stack_foreach_sock(t->st, count_states, n);
	assert_int_equal(n[TCP_STATE_TIME_WAIT], 1);
	assert_int_equal(n[TCP_STATE_LISTEN], 1);
	assert_string_equal(stack_tcp_state_name(TCP_STATE_TIME_WAIT), "TIME_WAIT");
}

static void test_time_wait_lasts_2msl_then_gone(void **state)
{
	struct tt *t = *state;
	test_fin_wait_2_fin_moves_to_time_wait(state);
	tt_advance(t, 59000 * TT_MS);
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
	tt_advance(t, 2000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(t->st->tcp->count, 1); /* only the listener */
}

static void test_time_wait_retransmitted_fin_acked_again(void **state)
{
	struct tt *t = *state;
	test_fin_wait_2_fin_moves_to_time_wait(state);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
}

static void test_time_wait_new_syn_reuses_the_pair(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	test_fin_wait_2_fin_moves_to_time_wait(state);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS + 100000));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.ack, TT_PEER_ISS + 100001);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_RECEIVED);
}

static void test_close_wait_close_sends_fin_then_last_ack(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSE_WAIT);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_LAST_ACK);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(t->st->ctr.v[TCP_CONN_CLOSED], 1);
}

static void test_close_wait_send_still_allowed(void **state)
{
	struct tt *t = *state;
	struct iovec v = { .iov_base = "resp", .iov_len = 4 };
	tt_established(t);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 1);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), 4);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1 + 1);
}

static void test_half_close_shutdown_wr_keeps_receiving(void **state)
{
	struct tt *t = *state;
	char b[8];
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	tt_established(t);
	assert_int_equal(sock_shutdown(t->sock, SHUT_WR), 0);
	tt_advance(t, 0);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), -EPIPE);
	assert_int_equal(sock_events(t->sock), EPOLLOUT);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .data = "more", .len = 4, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_FIN_WAIT_2);
	assert_int_equal(trecv(t->sock, b, sizeof(b)), 4);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1 + 4, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 5);
	/* TIME-WAIT is held by a TCB of its own; the socket is closed */
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
	assert_ptr_not_equal(tt_tcb(t), t->sock->proto);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLHUP);
	assert_int_equal(trecv(t->sock, b, sizeof(b)), 0);
}

static void test_linger_zero_close_sends_rst(void **state)
{
	struct tt *t = *state;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	tt_established(t);
	assert_int_equal(sock_setopt(t->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close_sock(t);
	tt_expect(t, TCP_RST | TCP_ACK, t->iss + 1, P1);
	assert_int_equal(tt_state(t), -1);
}

static void test_keepalive_probes_then_times_out(void **state)
{
	struct tt *t = *state;
	int one = 1, idle = 10, intvl = 2, cnt = 3;
	tt_established(t);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)), 0);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)), 0);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)), 0);
	assert_int_equal(sock_setopt(t->sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)), 0);
	tt_advance(t, 9900 * TT_MS);
	tt_expect_nothing(t);
	tt_advance(t, 200 * TT_MS);
	tt_expect(t, TCP_ACK, t->iss, P1); /* probe: seq snd_una - 1 */
	/* answered: the count starts over */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_advance(t, 2000 * TT_MS);
	tt_expect_nothing(t);
	tt_advance(t, 8100 * TT_MS);
	tt_expect(t, TCP_ACK, t->iss, P1);
	for (int i = 0; i < 2; i++) {
		tt_advance(t, 2000 * TT_MS);
		tt_expect(t, TCP_ACK, t->iss, P1);
	}
	tt_advance(t, 2000 * TT_MS);
	tt_expect(t, TCP_RST | TCP_ACK, t->iss + 1, P1);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

static void test_established_retries_exhausted_times_out(void **state)
{
	struct tt *t = *state;
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	tt_established(t);
	assert_int_equal(sock_send(t->sock, &v, 1, 0, NULL), 1);
	for (int i = 0; i < 40 && tt_state(t) != -1; i++)
		tt_advance(t, 120000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
	assert_true(sock_events(t->sock) & EPOLLERR);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fin_wait_1_close_sends_fin),
		T(test_fin_wait_1_fin_unacked_retransmitted),
		T(test_fin_wait_1_ack_moves_to_fin_wait_2),
		T(test_fin_wait_2_fin_moves_to_time_wait),
		T(test_fin_wait_2_orphan_times_out),
		T(test_fin_wait_2_data_after_close_gets_rst),
		T(test_closing_simultaneous_close),
		T(test_time_wait_lasts_2msl_then_gone),
		T(test_time_wait_listed_by_foreach),
		T(test_time_wait_retransmitted_fin_acked_again),
		T(test_time_wait_new_syn_reuses_the_pair),
		T(test_close_wait_close_sends_fin_then_last_ack),
		T(test_close_wait_send_still_allowed),
		T(test_half_close_shutdown_wr_keeps_receiving),
		T(test_linger_zero_close_sends_rst),
		T(test_keepalive_probes_then_times_out),
		T(test_established_retries_exhausted_times_out),
	};
	return cmocka_run_group_tests_name("tcp_close", tests, NULL, NULL);
}
