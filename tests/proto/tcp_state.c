/* The state writer: every transition goes through tcp_set_state, which
 * counts the state entered (TCP_ENTERED_*) and traces the change at debug
 * level. Each test runs a whole path through the state diagram and checks
 * both: a transition that bypassed the writer is missing from the counters
 * and from the trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../lib/tt.h"
#include "demi/log.h"

#define P1 (TT_PEER_ISS + 1)

/* ---- the trace, caught by a log sink ---- */

#define TRACE_MAX 32
static char trace[TRACE_MAX][160];
static int ntrace;

static void trace_sink(enum demi_log_level level, const char *line)
{
	assert_int_equal(level, DEMI_LOG_DEBUG);
	if (strncmp(line, "tcp: ", 5) != 0)
		return;
	assert_true(ntrace < TRACE_MAX);
	snprintf(trace[ntrace++], sizeof(trace[0]), "%s", line);
}

static int setup(void **state)
{
	ntrace = 0;
	demi_log_set(trace_sink, DEMI_LOG_DEBUG);
	return tt_setup(state);
}

static int teardown(void **state)
{
	demi_log_set(NULL, DEMI_LOG_WARN);
	return tt_teardown(state);
}

/* The transitions traced so far, "FROM -> TO" each, must be exactly these. */
static void expect_trace(const char *const *want, int n)
{
	for (int i = 0; i < ntrace && i < n; i++) {
		const char *tail = strstr(trace[i] + 5, ": "); /* after the 4-tuple */
		assert_non_null(tail);
		if (strcmp(tail + 2, want[i]) != 0)
			fail_msg("transition %d: \"%s\", want \"%s\"", i, trace[i], want[i]);
	}
	if (ntrace != n)
		fail_msg("%d transitions traced, want %d", ntrace, n);
}
#define EXPECT_TRACE(...)                                                                  \
	do {                                                                               \
		const char *const w_[] = { __VA_ARGS__ };                                  \
		expect_trace(w_, (int)(sizeof(w_) / sizeof(w_[0])));                       \
	} while (0)

/* ---- the counters ---- */

static const enum stack_counter entered[TCP_STATE_MAX] = {
	[TCP_STATE_CLOSED] = TCP_ENTERED_CLOSED,
	[TCP_STATE_LISTEN] = TCP_ENTERED_LISTEN,
	[TCP_STATE_SYN_SENT] = TCP_ENTERED_SYN_SENT,
	[TCP_STATE_SYN_RECEIVED] = TCP_ENTERED_SYN_RECEIVED,
	[TCP_STATE_ESTABLISHED] = TCP_ENTERED_ESTABLISHED,
	[TCP_STATE_FIN_WAIT_1] = TCP_ENTERED_FIN_WAIT_1,
	[TCP_STATE_FIN_WAIT_2] = TCP_ENTERED_FIN_WAIT_2,
	[TCP_STATE_CLOSE_WAIT] = TCP_ENTERED_CLOSE_WAIT,
	[TCP_STATE_CLOSING] = TCP_ENTERED_CLOSING,
	[TCP_STATE_LAST_ACK] = TCP_ENTERED_LAST_ACK,
	[TCP_STATE_TIME_WAIT] = TCP_ENTERED_TIME_WAIT,
};

/* Each state was entered exactly as often as listed (unlisted: never). */
static void expect_entered(struct tt *t, const int *want)
{
	for (int s = 0; s < TCP_STATE_MAX; s++)
		if (t->st->ctr.v[entered[s]] != (uint64_t)want[s])
			fail_msg("%s entered %llu times, want %d", stack_tcp_state_name(s),
				 (unsigned long long)t->st->ctr.v[entered[s]], want[s]);
}
#define EXPECT_ENTERED(t, ...)                                                             \
	do {                                                                               \
		const int w_[TCP_STATE_MAX] = { __VA_ARGS__ };                             \
		expect_entered((t), w_);                                                   \
	} while (0)
#define ONCE(s) [TCP_STATE_##s] = 1

static struct tcb *sock_tcb(struct sock *s)
{
	return s->proto;
}

static void close_sock(struct tt *t)
{
	sock_close(t->sock);
	t->sock = NULL;
	tt_advance(t, 0);
}

/* ---- paths through the diagram ---- */

/* Passive open, active close, the application gone before TIME-WAIT: the
 * TCB itself holds TIME-WAIT until 2*MSL frees it. */
static void test_state_passive_open_active_close_each_once(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
	tt_advance(t, 61000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
	EXPECT_TRACE("CLOSED -> LISTEN", "CLOSED -> SYN_RECEIVED", "SYN_RECEIVED -> ESTABLISHED",
		     "ESTABLISHED -> FIN_WAIT_1", "FIN_WAIT_1 -> FIN_WAIT_2", "FIN_WAIT_2 -> TIME_WAIT");
	EXPECT_ENTERED(t, ONCE(LISTEN), ONCE(SYN_RECEIVED), ONCE(ESTABLISHED), ONCE(FIN_WAIT_1), ONCE(FIN_WAIT_2),
		       ONCE(TIME_WAIT));
}

/* Active open, passive close, the socket held to the end: the TCB stays,
 * CLOSED, until the application closes it. */
static void test_state_active_open_passive_close_each_once(void **state)
{
	struct tt *t = *state;
	tt_connect(t);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSE_WAIT);
	assert_int_equal(sock_shutdown(t->sock, SHUT_WR), 0);
	tt_advance(t, 0);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1 + 1);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(sock_tcb(t->sock)->state, TCP_STATE_CLOSED);
	EXPECT_TRACE("CLOSED -> SYN_SENT", "SYN_SENT -> ESTABLISHED", "ESTABLISHED -> CLOSE_WAIT",
		     "CLOSE_WAIT -> LAST_ACK", "LAST_ACK -> CLOSED");
	EXPECT_ENTERED(t, ONCE(SYN_SENT), ONCE(ESTABLISHED), ONCE(CLOSE_WAIT), ONCE(LAST_ACK), ONCE(CLOSED));
}

/* The socket still held when TIME-WAIT begins: a fresh TCB takes over the
 * 4-tuple in TIME-WAIT, born there through the writer, and the socket's TCB
 * is CLOSED. The clone answers a retransmitted FIN as the connection would. */
static void test_state_time_wait_clone_enters_time_wait(void **state)
{
	struct tt *t = *state;
	struct tcb *k, *w;
	struct tt_seg s;
	uint32_t fin_tsval;
	tt_connect(t);
	assert_int_equal(sock_shutdown(t->sock, SHUT_WR), 0);
	tt_advance(t, 0);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_FIN_WAIT_2);
	fin_tsval = tt_ts(t, 0).tsval;
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	k = sock_tcb(t->sock);
	w = tt_tcb(t);
	assert_non_null(w);
	assert_ptr_not_equal(w, k);
	assert_int_equal(k->state, TCP_STATE_CLOSED);
	assert_int_equal(w->state, TCP_STATE_TIME_WAIT);
	assert_null(w->sock);
	assert_memory_equal(&w->tw, &k->tw, sizeof(w->tw)); /* the group, copied whole */
	assert_int_equal(w->flags & (TF_WS_OK | TF_TS_OK | TF_SACK_OK), TF_WS_OK | TF_TS_OK | TF_SACK_OK);
	assert_true(w->flags & TF_HASHED);
	assert_true(w->flags & TF_BOUND);
	assert_false(k->flags & (TF_HASHED | TF_BOUND));
	/* the peer's FIN again: the clone ACKs it, echoing the first FIN's TSval */
	tt_advance(t, 100 * TT_MS);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(s.opt.tsecr, fin_tsval);
	EXPECT_TRACE("CLOSED -> SYN_SENT", "SYN_SENT -> ESTABLISHED", "ESTABLISHED -> FIN_WAIT_1",
		     "FIN_WAIT_1 -> FIN_WAIT_2", "CLOSED -> TIME_WAIT", "FIN_WAIT_2 -> CLOSED");
	EXPECT_ENTERED(t, ONCE(SYN_SENT), ONCE(ESTABLISHED), ONCE(FIN_WAIT_1), ONCE(FIN_WAIT_2), ONCE(TIME_WAIT),
		       ONCE(CLOSED));
	tt_advance(t, 61000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
}

/* Simultaneous open (SYN-SENT to SYN-RECEIVED) and simultaneous close
 * (FIN-WAIT-1 to CLOSING). */
static void test_state_simultaneous_open_and_close_each_once(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tt_seg s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	assert_int_equal(sock_bind(t->sock, &l), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	t->iss = s.seq;
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .opt = { .has = TCP_OPTF_MSS, .mss = 1000 }));
	tt_expect(t, TCP_SYN | TCP_ACK, t->iss, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	close_sock(t);
	tt_expect(t, TCP_FIN | TCP_ACK, t->iss + 1, P1);
	tt_send(t, SEG(TCP_FIN | TCP_ACK, .seq = P1, .ack = t->iss + 1));
	tt_expect(t, TCP_ACK, t->iss + 2, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSING);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 1, .ack = t->iss + 2));
	assert_int_equal(tt_state(t), TCP_STATE_TIME_WAIT);
	EXPECT_TRACE("CLOSED -> SYN_SENT", "SYN_SENT -> SYN_RECEIVED", "SYN_RECEIVED -> ESTABLISHED",
		     "ESTABLISHED -> FIN_WAIT_1", "FIN_WAIT_1 -> CLOSING", "CLOSING -> TIME_WAIT");
	EXPECT_ENTERED(t, ONCE(SYN_SENT), ONCE(SYN_RECEIVED), ONCE(ESTABLISHED), ONCE(FIN_WAIT_1), ONCE(CLOSING),
		       ONCE(TIME_WAIT));
}

/* A SYN cookie keeps no state: the SYN-ACK it sends enters no state, and
 * the connection enters SYN-RECEIVED once, when the cookie comes back. */
static void test_state_syn_cookie_enters_syn_received_once(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_TS, .mss = 1460, .tsval = 777 };
	struct tt_seg s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	assert_int_equal(sock_listen(t->lsock, 0), 0); /* a SYN queue of one */
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = 1000, .opt = o));
	assert_true(tt_recv(t, &s));
	EXPECT_ENTERED(t, ONCE(LISTEN), ONCE(SYN_RECEIVED));
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = 2000, .opt = o));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(t->st->ctr.v[TCP_COOKIES_SENT], 1);
	EXPECT_ENTERED(t, ONCE(LISTEN), ONCE(SYN_RECEIVED));
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = s.seq + 1, .sport = 2000, .opt = tt_ts(t, s.opt.tsval)));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[TCP_COOKIES_ACCEPTED], 1);
	EXPECT_TRACE("CLOSED -> LISTEN", "CLOSED -> SYN_RECEIVED", "CLOSED -> SYN_RECEIVED",
		     "SYN_RECEIVED -> ESTABLISHED");
	EXPECT_ENTERED(t, ONCE(LISTEN), [TCP_STATE_SYN_RECEIVED] = 2, ONCE(ESTABLISHED));
}

/* A reset ends the connection through the writer; the socket keeps its TCB. */
static void test_state_reset_enters_closed(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_RST, .seq = P1));
	assert_int_equal(sock_take_error(t->sock), ECONNRESET);
	assert_int_equal(sock_tcb(t->sock)->state, TCP_STATE_CLOSED);
	EXPECT_TRACE("CLOSED -> LISTEN", "CLOSED -> SYN_RECEIVED", "SYN_RECEIVED -> ESTABLISHED",
		     "ESTABLISHED -> CLOSED");
	EXPECT_ENTERED(t, ONCE(LISTEN), ONCE(SYN_RECEIVED), ONCE(ESTABLISHED), ONCE(CLOSED));
}

/* listen() on a listener changes its backlog, no transition; a listen()
 * refused (the port taken by a listener since bind) leaves the socket
 * CLOSED, nothing entered. */
static void test_state_listen_again_or_refused_enters_nothing(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sock *s2;
	int one = 1;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s2), 0);
	assert_int_equal(sock_setopt(t->lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(sock_setopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	assert_int_equal(sock_bind(s2, &a), 0);
	assert_int_equal(sock_listen(t->lsock, 4), 0);
	assert_int_equal(sock_listen(t->lsock, 8), 0);
	assert_int_equal(sock_tcb(t->lsock)->backlog, 9);
	assert_int_equal(sock_listen(s2, 4), -EADDRINUSE);
	assert_int_equal(sock_tcb(s2)->state, TCP_STATE_CLOSED);
	EXPECT_TRACE("CLOSED -> LISTEN");
	EXPECT_ENTERED(t, ONCE(LISTEN));
	sock_close(s2);
}

/* The trace line names the connection; below debug level nothing is
 * traced, and the counters count all the same. */
static void test_state_trace_names_the_connection_and_obeys_the_level(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	assert_int_equal(ntrace, 2);
	assert_string_equal(trace[1], "tcp: 198.18.0.2:80 -> 198.18.0.1:40000: CLOSED -> SYN_RECEIVED");
	demi_log_set(trace_sink, DEMI_LOG_INFO);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(ntrace, 2);
	EXPECT_ENTERED(t, ONCE(LISTEN), ONCE(SYN_RECEIVED), ONCE(ESTABLISHED));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state_passive_open_active_close_each_once),
		T(test_state_active_open_passive_close_each_once),
		T(test_state_time_wait_clone_enters_time_wait),
		T(test_state_simultaneous_open_and_close_each_once),
		T(test_state_syn_cookie_enters_syn_received_once),
		T(test_state_reset_enters_closed),
		T(test_state_listen_again_or_refused_enters_nothing),
		T(test_state_trace_names_the_connection_and_obeys_the_level),
	};
	return cmocka_run_group_tests_name("tcp_state", tests, NULL, NULL);
}
