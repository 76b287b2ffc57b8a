/* LISTEN (and no listener), segment by segment: SYN-ACK options, RSTs,
 * the SYN queue overflowing into SYN cookies, the accept queue. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/tcp.h>

#include "../lib/tt.h"

static const struct tcp_opts full = { .has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS,
				      .mss = 1460, .wscale = 7, .tsval = 777 };

static void test_listen_syn_gets_synack_with_options(void **state)
{
	struct tt *t = *state;
	tt_listen(t);
	assert_int_equal(sock_events(t->lsock), 0);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = full));
	struct tt_seg s;
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.ack, TT_PEER_ISS + 1);
	assert_int_equal(s.wnd, 65535); /* never scaled in a SYN */
	assert_int_equal(s.opt.has, TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS);
	assert_int_equal(s.opt.mss, 1460);
	assert_int_equal(s.opt.wscale, TCP_WSCALE);
	assert_int_equal(s.opt.tsecr, 777);
	assert_int_equal(tt_state(t), TCP_STATE_SYN_RECEIVED);
	assert_int_equal(sock_events(t->lsock), 0); /* not acceptable yet */
	tt_expect_nothing(t);
}

/* TCP_MAXSEG on the listener caps the SYN-ACK's MSS and the child's. */
static void test_listen_maxseg_caps_the_synack_mss(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	int val = 700;
	tt_listen(t);
	assert_int_equal(sock_setopt(t->lsock, IPPROTO_TCP, TCP_MAXSEG, &val, sizeof(val)), 0);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = full));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.opt.mss, 700);
	assert_int_equal(tt_tcb(t)->mss, 688);
}

static void test_listen_syn_without_options_gets_mss_only(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	tt_listen(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.opt.has, TCP_OPTF_MSS);
	/* and the connection then runs with MSS 536, no scaling */
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = s.seq + 1, .wnd = 1000));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(tt_tcb(t)->mss, 536);
	assert_int_equal(tt_tcb(t)->snd_wnd, 1000);
}

static void test_listen_ack_gets_rst(void **state)
{
	struct tt *t = *state;
	tt_listen(t);
	tt_send(t, SEG(TCP_ACK, .seq = 5, .ack = 12345));
	tt_expect(t, TCP_RST, 12345, 0);
	assert_int_equal(tt_state(t), -1);
}

static void test_listen_rst_ignored(void **state)
{
	struct tt *t = *state;
	tt_listen(t);
	tt_send(t, SEG(TCP_RST, .seq = 5));
	tt_expect_nothing(t);
}

static void test_listen_syn_fin_dropped(void **state)
{
	struct tt *t = *state;
	tt_listen(t);
	tt_send(t, SEG(TCP_SYN | TCP_FIN, .seq = TT_PEER_ISS));
	tt_expect_nothing(t);
	assert_int_equal(t->st->tcp->count, 1);
}

static void test_listen_no_listener_syn_gets_rst_ack(void **state)
{
	struct tt *t = *state;
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .dport = 81));
	struct tt_seg s = tt_expect(t, TCP_RST | TCP_ACK, 0, TT_PEER_ISS + 1);
	assert_int_equal(s.sport, 81);
	assert_int_equal(t->st->ctr.v[DROP_TCP_NO_SOCKET], 1);
}

static void test_listen_no_listener_rst_gets_nothing(void **state)
{
	struct tt *t = *state;
	tt_send(t, SEG(TCP_RST | TCP_ACK, .seq = 1, .ack = 2, .dport = 81));
	tt_expect_nothing(t);
}

static void test_listen_bad_checksum_dropped(void **state)
{
	struct tt *t = *state;
	struct pbuf *p;
	tt_listen(t);
	/* a SYN whose checksum is wrong: built, then one payload byte flipped on the wire */
	struct memlink_faults f = { .corrupt_ppm = 1000000 };
	(void)p;
	memlink_set_faults(t->peer, &f);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .data = "x", .len = 1));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), -1);
}

static void test_listen_accept_queue_readable_then_accepted(void **state)
{
	struct tt *t = *state;
	struct sock *s;
	tt_syn_received(t);
	assert_int_equal(sock_accept(t->lsock, &s, NULL), -EAGAIN);
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	assert_int_equal(sock_events(t->lsock), EPOLLIN);
	assert_int_equal(sock_accept(t->lsock, &t->sock, NULL), 0);
	assert_int_equal(sock_events(t->lsock), 0);
	assert_int_equal(sock_events(t->sock), EPOLLOUT);
}

/* backlog 1: the SYN queue holds 2; the third SYN is answered with a cookie
 * and no state, and the cookie's ACK makes the connection. */
static void test_listen_syn_queue_full_uses_cookies(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tt_seg s;
	struct sock *c;
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	assert_int_equal(sock_listen(t->lsock, 1), 0);
	for (uint16_t port = 1000; port < 1002; port++) {
		tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = port, .opt = full));
		assert_true(tt_recv(t, &s));
	}
	assert_int_equal(t->st->tcp->count, 3);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .sport = 2000, .opt = full));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.ack, TT_PEER_ISS + 1);
	assert_int_equal(s.opt.mss, 1460);
	assert_int_equal(t->st->ctr.v[TCP_COOKIES_SENT], 1);
	assert_int_equal(t->st->tcp->count, 3); /* no state kept */
	/* a wrong cookie is refused */
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = s.seq + 2, .sport = 2000, .opt = tt_ts(t, s.opt.tsval)));
	tt_expect(t, TCP_RST, s.seq + 2, 0);
	/* the right one establishes, with the options the TS value carried */
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = s.seq + 1, .sport = 2000, .opt = tt_ts(t, s.opt.tsval)));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[TCP_COOKIES_ACCEPTED], 1);
	struct tcb *k = tcp_lookup(t->st, IP_ADDR_V4_PTR(TT_US_IP), TT_LPORT, IP_ADDR_V4_PTR(TT_PEER_IP), 2000);
	assert_non_null(k);
	assert_int_equal(k->state, TCP_STATE_ESTABLISHED);
	assert_true(k->flags & TF_SACK_OK);
	assert_true(k->flags & TF_WS_OK);
	assert_int_equal(k->snd_wscale, 7);
	assert_int_equal(sock_accept(t->lsock, &c, NULL), 0);
	sock_close(c);
}

static void test_listen_close_resets_queued_connections(void **state)
{
	struct tt *t = *state;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	sock_close(t->lsock);
	t->lsock = NULL;
	tt_advance(t, 0);
	tt_expect(t, TCP_RST | TCP_ACK, t->iss + 1, TT_PEER_ISS + 1);
	assert_int_equal(t->st->tcp->count, 0);
}

static void test_listen_bind_conflicts(void **state)
{
	struct tt *t = *state;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sock *s2;
	int one = 1;
	tt_listen(t);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &s2), 0);
	assert_int_equal(sock_bind(s2, &a), -EADDRINUSE);
	assert_int_equal(sock_setopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(sock_bind(s2, &a), -EADDRINUSE); /* the other is listening */
	sock_close(s2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_listen_syn_gets_synack_with_options),
		T(test_listen_syn_without_options_gets_mss_only),
		T(test_listen_maxseg_caps_the_synack_mss),
		T(test_listen_ack_gets_rst),
		T(test_listen_rst_ignored),
		T(test_listen_syn_fin_dropped),
		T(test_listen_no_listener_syn_gets_rst_ack),
		T(test_listen_no_listener_rst_gets_nothing),
		T(test_listen_bad_checksum_dropped),
		T(test_listen_accept_queue_readable_then_accepted),
		T(test_listen_syn_queue_full_uses_cookies),
		T(test_listen_close_resets_queued_connections),
		T(test_listen_bind_conflicts),
	};
	return cmocka_run_group_tests_name("tcp_listen", tests, NULL, NULL);
}
