/* TCP socket options: what Linux's getsockopt/setsockopt answer for the
 * ones applications use (nginx, redis, memcached, curl, iperf3). */
#include <malloc.h>
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

static int geti(struct sock *s, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);
	assert_int_equal(sock_getopt(s, level, name, &v, &len), 0);
	assert_int_equal(len, sizeof(v));
	return v;
}

static void seti(struct sock *s, int level, int name, int v)
{
	assert_int_equal(sock_setopt(s, level, name, &v, sizeof(v)), 0);
}

static void test_sockopt_flags_round_trip(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	char b[4];
	struct iovec v = { .iov_base = b, .iov_len = sizeof(b) };
	struct sockaddr_in peer;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	/* a fresh socket answers as Linux's does */
	assert_int_equal(sock_events(s), EPOLLOUT | EPOLLHUP);
	assert_int_equal(sock_send(s, &v, 1, 0, NULL), -EPIPE);
	assert_int_equal(sock_recv(s, &v, 1, 0, NULL), -ENOTCONN);
	assert_int_equal(sock_shutdown(s, SHUT_WR), -ENOTCONN);
	assert_int_equal(sock_peer(s, &peer), -ENOTCONN);
	assert_int_equal(geti(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
	assert_int_equal(geti(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
	assert_int_equal(geti(s, SOL_SOCKET, SO_ERROR), 0);
	for (int i = 0; i < 3; i++) {
		static const int names[3] = { SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE };
		assert_int_equal(geti(s, SOL_SOCKET, names[i]), 0);
		seti(s, SOL_SOCKET, names[i], 1);
		assert_int_equal(geti(s, SOL_SOCKET, names[i]), 1);
	}
	seti(s, IPPROTO_TCP, TCP_NODELAY, 1);
	assert_int_equal(geti(s, IPPROTO_TCP, TCP_NODELAY), 1);
	seti(s, IPPROTO_TCP, TCP_CORK, 1);
	assert_int_equal(geti(s, IPPROTO_TCP, TCP_CORK), 1);
	seti(s, IPPROTO_TCP, TCP_KEEPIDLE, 300);
	seti(s, IPPROTO_TCP, TCP_KEEPINTVL, 100);
	seti(s, IPPROTO_TCP, TCP_KEEPCNT, 3);
	assert_int_equal(geti(s, IPPROTO_TCP, TCP_KEEPIDLE), 300);
	assert_int_equal(geti(s, IPPROTO_TCP, TCP_KEEPINTVL), 100);
	assert_int_equal(geti(s, IPPROTO_TCP, TCP_KEEPCNT), 3);
	int bad = 0;
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &bad, sizeof(bad)), -EINVAL);
	sock_close(s);
}

static void test_sockopt_buffers_doubled_as_linux(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	seti(s, SOL_SOCKET, SO_RCVBUF, 65536);
	seti(s, SOL_SOCKET, SO_SNDBUF, 32768);
	assert_int_equal(geti(s, SOL_SOCKET, SO_RCVBUF), 131072);
	assert_int_equal(geti(s, SOL_SOCKET, SO_SNDBUF), 65536);
	sock_close(s);
}

static void test_sockopt_linger(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	struct linger lg = { 1, 0 }, out;
	socklen_t len = sizeof(out);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	assert_int_equal(sock_setopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	assert_int_equal(sock_getopt(s, SOL_SOCKET, SO_LINGER, &out, &len), 0);
	assert_int_equal(out.l_onoff, 1);
	assert_int_equal(out.l_linger, 0);
	sock_close(s);
}

static void test_sockopt_congestion_get_and_set(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	char name[16];
	socklen_t len = sizeof(name);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	assert_int_equal(sock_getopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	assert_string_equal(name, "cubic"); /* the stack's default */
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, TCP_CONGESTION, "newreno", 7), 0);
	len = sizeof(name);
	assert_int_equal(sock_getopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len), 0);
	assert_string_equal(name, "newreno");
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3), -ENOENT);
	sock_close(s);
}

static void test_sockopt_known_ignored_unknown_refused(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s), 0);
	seti(s, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
	seti(s, IPPROTO_TCP, TCP_FASTOPEN, 5);
	int v = 1;
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, TCP_MD5SIG, &v, sizeof(v)), -ENOPROTOOPT);
	assert_int_equal(sock_setopt(s, SOL_SOCKET, SO_BROADCAST, &v, sizeof(v)), -ENOPROTOOPT);
	assert_int_equal(sock_setopt(s, IPPROTO_IP, IP_TOS, &v, sizeof(v)), -ENOPROTOOPT);
	sock_close(s);
}

static void test_sockopt_tcp_info_and_maxseg_when_established(void **state)
{
	struct tt *t = *state;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	tt_established(t);
	assert_int_equal(geti(t->lsock, SOL_SOCKET, SO_ACCEPTCONN), 1);
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	assert_int_equal(len, sizeof(ti));
	assert_int_equal(ti.tcpi_state, TCP_ESTABLISHED);
	assert_int_equal(ti.tcpi_snd_mss, 1448);
	assert_int_equal(ti.tcpi_options, TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	assert_int_equal(ti.tcpi_snd_wscale, 7);
	assert_int_equal(ti.tcpi_rcv_wscale, TCP_WSCALE);
	assert_int_equal(ti.tcpi_snd_cwnd, 10);
	assert_int_equal(ti.tcpi_total_retrans, 0);
	assert_int_equal(geti(t->sock, IPPROTO_TCP, TCP_MAXSEG), 1448);
}

/* the bytes the program's heap holds; not under ASan, whose allocator
 * mallinfo2 does not see (the plain build measures) */
static size_t heap_now(void)
{
	return mallinfo2().uordblks;
}

/* Idle connections must be cheap: the TCB, its socket, no buffers. What
 * the heap holds more once the connection is established is measured
 * (mallinfo2, allocator overhead included; about 2.1 KiB), not the size of
 * the structures: under 3 KiB, below a kernel TCP socket (about 3.4 KiB). */
static void test_sockopt_idle_connection_footprint(void **state)
{
	struct tt *t = *state;
	size_t before = heap_now(), held;

	tt_established(t);
	held = heap_now() - before;
	print_message("an idle connection holds %zu bytes of heap\n", held);
#ifndef __SANITIZE_ADDRESS__
	assert_true(held > 0);
	assert_true(held < 3072);
#endif
	assert_null(tt_tcb(t)->sbuf);
	assert_null(tt_tcb(t)->rq_head);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sockopt_flags_round_trip),
		T(test_sockopt_buffers_doubled_as_linux),
		T(test_sockopt_linger),
		T(test_sockopt_congestion_get_and_set),
		T(test_sockopt_known_ignored_unknown_refused),
		T(test_sockopt_tcp_info_and_maxseg_when_established),
		T(test_sockopt_idle_connection_footprint),
	};
	return cmocka_run_group_tests_name("tcp_sockopt", tests, NULL, NULL);
}
