/* SYN-RECEIVED (passive): the handshake's last ACK, with data, wrong, or
 * missing; a repeated SYN; RST; the accept queue full. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "../lib/tt.h"

#define P1 (TT_PEER_ISS + 1)

static void test_syn_received_ack_establishes(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(t->st->ctr.v[TCP_PASSIVE_OPENS], 1);
}

static void test_syn_received_ack_with_data_establishes_and_queues(void **state)
{
	struct tt *t = *state;
	char b[8];
	struct iovec v = { .iov_base = b, .iov_len = sizeof(b) };
	tt_syn_received(t);
	tt_send(t, SEG(TCP_ACK | TCP_PSH, .seq = P1, .ack = t->iss + 1, .data = "GET /", .len = 5, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(sock_accept(t->lsock, &t->sock, NULL), 0);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLOUT);
	assert_int_equal(sock_recv(t->sock, &v, 1, 0, NULL), 5);
	assert_memory_equal(b, "GET /", 5);
}

static void test_syn_received_bad_ack_gets_rst(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 5, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_RST, t->iss + 5, 0);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_RECEIVED);
}

static void test_syn_received_repeated_syn_gets_synack_again(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .opt = { .has = TCP_OPTF_MSS, .mss = 1460 }));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.seq, t->iss);
	assert_int_equal(s.ack, P1);
	assert_int_equal(t->st->tcp->count, 2);
}

static void test_syn_received_rst_frees_the_child(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_RST, .seq = P1));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(t->st->tcp->count, 1);
	assert_int_equal(sock_events(t->lsock), 0);
}

static void test_syn_received_synack_retransmitted_then_given_up(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	tt_advance(t, 1001 * TT_MS);
	tt_expect(t, TCP_SYN | TCP_ACK, t->iss, P1);
	tt_advance(t, 2001 * TT_MS);
	tt_expect(t, TCP_SYN | TCP_ACK, t->iss, P1);
	for (int i = 0; i < 10 && tt_state(t) != -1; i++)
		tt_advance(t, 64000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(t->st->tcp->count, 1);
}

static void test_syn_received_accept_queue_full_drops_ack(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tt_seg s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	uint32_t iss[3];
	assert_int_equal(sock_listen(t->lsock, 1), 0); /* two may wait */
	for (uint16_t i = 0; i < 3; i++) {
		tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = (uint16_t)(1000 + i)));
		assert_true(tt_recv(t, &s));
		iss[i] = s.seq;
		if (i == 0)
			tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = iss[0] + 1, .sport = 1000));
	}
	for (uint16_t i = 1; i < 3; i++)
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = iss[i] + 1, .sport = (uint16_t)(1000 + i)));
	assert_int_equal(tcp_lookup(t->st, IP_ADDR_V4_PTR(TT_US_IP), TT_LPORT, IP_ADDR_V4_PTR(TT_PEER_IP), 1001)->state, TCP_STATE_ESTABLISHED);
	assert_int_equal(tcp_lookup(t->st, IP_ADDR_V4_PTR(TT_US_IP), TT_LPORT, IP_ADDR_V4_PTR(TT_PEER_IP), 1002)->state, TCP_STATE_SYN_RECEIVED);
	assert_int_equal(sock_events(t->lsock), EPOLLIN);
	/* a full accept queue also turns new SYNs away, as Linux does */
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = 2000));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[DROP_TCP_ACCEPTQ_FULL], 2); /* the ACK and the SYN */
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_syn_received_ack_establishes),
		T(test_syn_received_ack_with_data_establishes_and_queues),
		T(test_syn_received_bad_ack_gets_rst),
		T(test_syn_received_repeated_syn_gets_synack_again),
		T(test_syn_received_rst_frees_the_child),
		T(test_syn_received_synack_retransmitted_then_given_up),
		T(test_syn_received_accept_queue_full_drops_ack),
	};
	return cmocka_run_group_tests_name("tcp_syn_received", tests, NULL, NULL);
}
