/* ESTABLISHED, segment by segment: data both ways, delayed and immediate
 * ACKs, out-of-order data with SACK, retransmission, RFC 5961 challenge ACKs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>

#include "../lib/tt.h"
#include "wire/cksum.h"

#define P1 (TT_PEER_ISS + 1)

static ssize_t tsend(struct sock *s, const void *b, size_t n)
{
	struct iovec v = { .iov_base = (void *)b, .iov_len = n };
	return sock_send(s, &v, 1, 0, NULL);
}

static ssize_t trecv(struct sock *s, void *b, size_t n)
{
	struct iovec v = { .iov_base = b, .iov_len = n };
	return sock_recv(s, &v, 1, 0, NULL);
}

static void test_established_data_in_order_is_readable_and_delayed_ack(void **state)
{
	struct tt *t = *state;
	char buf[64];
	tt_established(t);
	tt_send(t, SEG(TCP_ACK | TCP_PSH, .seq = P1, .ack = t->iss + 1, .wnd = 502, .data = "hello", .len = 5,
		       .opt = tt_ts(t, 0)));
	tt_expect_nothing(t); /* the ACK waits for the delayed-ACK timer */
	assert_true(sock_events(t->sock) & EPOLLIN);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	tt_advance(t, 40 * TT_MS);
	struct tt_seg s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 5);
	assert_true(s.opt.has & TCP_OPTF_TS);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), -EAGAIN);
}

static void test_established_two_full_segments_ack_at_once(void **state)
{
	struct tt *t = *state;
	static char d[1448];
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .data = d, .len = 1448, .opt = tt_ts(t, 0)));
	tt_expect_nothing(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 1448, .ack = t->iss + 1, .wnd = 502, .data = d, .len = 1448,
		       .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 2896);
}

static void test_established_send_data_segment(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "abc", 3), 3);
	tt_advance(t, 0);
	struct tt_seg s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	assert_int_equal(s.len, 3);
	assert_memory_equal(t->rx, "abc", 3);
	/* window: our 256 KiB buffer scaled by 2^8 */
	assert_int_equal(s.wnd, (256 * 1024) >> 8);
	assert_int_equal(sock_tx_bytes(t->sock), 3);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 4, .wnd = 502, .opt = tt_ts(t, s.opt.tsval)));
	assert_int_equal(sock_tx_bytes(t->sock), 0);
	tt_expect_nothing(t);
}

static void test_established_out_of_order_acked_with_sack(void **state)
{
	struct tt *t = *state;
	char buf[16];
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 10, .ack = t->iss + 1, .wnd = 502, .data = "0123456789", .len = 10,
		       .opt = tt_ts(t, 0)));
	struct tt_seg s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_true(s.opt.has & TCP_OPTF_SACK);
	assert_int_equal(s.opt.nsack, 1);
	assert_int_equal(s.opt.sack[0].start, P1 + 10);
	assert_int_equal(s.opt.sack[0].end, P1 + 20);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), -EAGAIN);
	/* the hole filled: immediate ACK of everything */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .data = "abcdefghij", .len = 10,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 20);
	assert_false(s.opt.has & TCP_OPTF_SACK);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), 16);
	assert_memory_equal(buf, "abcdefghij012345", 16);
}

/* RFC 2883: data that arrives twice is reported in the next ACK's first
 * SACK block, below the ACK (whole or partly old) or inside a later block
 * (a queued out-of-order segment again); once, then no more. */
static void test_established_duplicate_data_gets_dsack(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .data = "0123456789", .len = 10,
		       .opt = tt_ts(t, 0)));
	tt_advance(t, 200 * TT_MS); /* the delayed ACK of P1 + 10 */
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 10);
	assert_false(s.opt.has & TCP_OPTF_SACK);
	/* the same segment again: D-SACK below the ACK */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .data = "0123456789", .len = 10,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 10);
	assert_true(s.opt.has & TCP_OPTF_SACK);
	assert_int_equal(s.opt.nsack, 1);
	assert_int_equal(s.opt.sack[0].start, P1);
	assert_int_equal(s.opt.sack[0].end, P1 + 10);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_SENT], 1);
	/* partly old, partly new: the old part only, and the new part taken */
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 5, .ack = t->iss + 1, .wnd = 502, .data = "56789abcde", .len = 10,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 15);
	assert_int_equal(s.opt.nsack, 1);
	assert_int_equal(s.opt.sack[0].start, P1 + 5);
	assert_int_equal(s.opt.sack[0].end, P1 + 10);
	/* an out-of-order segment, then the same again: D-SACK first, inside
	 * the SACK block that follows it */
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 20, .ack = t->iss + 1, .wnd = 502, .data = "kkkkk", .len = 5,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 15);
	assert_int_equal(s.opt.nsack, 1);
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 20, .ack = t->iss + 1, .wnd = 502, .data = "kkkkk", .len = 5,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 15);
	assert_int_equal(s.opt.nsack, 2);
	assert_int_equal(s.opt.sack[0].start, P1 + 20);
	assert_int_equal(s.opt.sack[0].end, P1 + 25);
	assert_int_equal(s.opt.sack[1].start, P1 + 20);
	assert_int_equal(s.opt.sack[1].end, P1 + 25);
	/* reported once: the next ACK has the plain SACK block only */
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 30, .ack = t->iss + 1, .wnd = 502, .data = "m", .len = 1,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 15);
	assert_int_equal(s.opt.nsack, 2);
	assert_int_equal(s.opt.sack[0].start, P1 + 30);
	assert_int_equal(s.opt.sack[1].start, P1 + 20);
	assert_int_equal(t->st->ctr.v[TCP_DSACK_SENT], 3);
}

static void test_established_unacked_data_retransmitted_after_rto(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "xyz", 3), 3);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_advance(t, 199 * TT_MS);
	tt_expect_nothing(t);
	tt_advance(t, 1100 * TT_MS); /* initial RTO from the handshake sample: 200 ms floor or more */
	struct tt_seg s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	assert_int_equal(s.len, 3);
	assert_true(t->st->ctr.v[TCP_RETRANS_SEGS] >= 1);
}

static void test_established_rst_in_window_not_exact_gets_challenge_ack(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_RST, .seq = P1 + 100));
	tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(t->st->ctr.v[TCP_CHALLENGE_ACKS], 1);
}

static void test_established_rst_exact_resets(void **state)
{
	struct tt *t = *state;
	char b[4];
	tt_established(t);
	tt_send(t, SEG(TCP_RST, .seq = P1));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLOUT | EPOLLHUP | EPOLLRDHUP | EPOLLERR);
	assert_int_equal(trecv(t->sock, b, 4), -ECONNRESET);
	assert_int_equal(trecv(t->sock, b, 4), 0);
}

static void test_established_rst_out_of_window_ignored(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_RST, .seq = P1 + 10000000));
	tt_expect_nothing(t);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
}

static void test_established_syn_gets_challenge_ack(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_SYN, .seq = P1 + 5000));
	tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
}

static void test_established_ack_of_unsent_data_dropped_with_ack(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1000, .data = "q", .len = 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(sock_rx_bytes(t->sock), 0);
}

static void test_established_old_timestamp_dropped_by_paws(void **state)
{
	struct tt *t = *state;
	struct tcp_opts o = { .has = TCP_OPTF_TS, .tsval = 1 };
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .data = "q", .len = 1, .opt = o));
	tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(sock_rx_bytes(t->sock), 0);
	assert_int_equal(t->st->ctr.v[DROP_TCP_PAWS], 1);
}

static void test_established_three_dupacks_fast_retransmit(void **state)
{
	struct tt *t = *state;
	static char d[8 * 1448];
	struct tt_seg s;
	tt_established(t);
	memset(d, 'z', sizeof(d));
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	for (int i = 0; i < 8; i++) {
		s = tt_expect(t, i == 7 ? TCP_ACK | TCP_PSH : TCP_ACK, t->iss + 1 + 1448u * (uint32_t)i, P1);
		assert_int_equal(s.len, 1448);
	}
	/* segment 0 lost; the peer SACKs the others */
	for (int i = 1; i <= 3; i++) {
		struct tcp_opts o = tt_ts(t, s.opt.tsval);
		o.has |= TCP_OPTF_SACK;
		o.nsack = 1;
		o.sack[0].start = t->iss + 1 + 1448;
		o.sack[0].end = t->iss + 1 + 1448u * (uint32_t)(i + 1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 502, .opt = o));
	}
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(s.len, 1448);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 1);
}

/* RFC 6582 §3.2 step 2 (recover is the highest sequence number sent, one
 * below snd_max): a loss right after a recovery whose full ACK was exactly
 * snd_max at its start is a new loss, fast retransmitted, not left to the
 * RTO. */
static void test_established_loss_at_recovery_point_fast_retransmit(void **state)
{
	struct tt *t = *state;
	static char d[8 * 1448];
	struct tt_seg s;
	uint32_t base, seqs[16];
	int n = 0;
	test_established_three_dupacks_fast_retransmit(state);
	/* the full ACK: everything up to the recovery point */
	base = t->iss + 1 + 8 * 1448u;
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd = 502, .opt = tt_ts(t, 0)));
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	while (n < 16 && tt_recv(t, &s))
		seqs[n++] = s.seq;
	assert_true(n >= 4);
	assert_int_equal(seqs[0], base);
	/* the first new segment is lost, the next three SACKed */
	for (int i = 1; i <= 3; i++) {
		struct tcp_opts o = tt_ts(t, s.opt.tsval);
		o.has |= TCP_OPTF_SACK;
		o.nsack = 1;
		o.sack[0].start = base + 1448;
		o.sack[0].end = base + 1448u * (uint32_t)(i + 1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd = 502, .opt = o));
	}
	/* new data may go first (RFC 3042), then the retransmission */
	n = 0;
	while (tt_recv(t, &s))
		if (s.seq == base && s.len == 1448)
			n++;
	assert_int_equal(n, 1);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 2);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
}

static void test_established_zero_window_probed(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd0 = 1, .opt = tt_ts(t, 0)));
	assert_int_equal(tsend(t->sock, "abc", 3), 3);
	tt_advance(t, 0);
	tt_expect_nothing(t);
	tt_advance(t, 2000 * TT_MS);
	tt_expect(t, TCP_ACK, t->iss, P1); /* probe: seq snd_una - 1 */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 100, .opt = tt_ts(t, 0)));
	struct tt_seg s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	assert_int_equal(s.len, 3);
}

static void test_established_nagle_holds_small_segment(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "a", 1), 1);
	assert_int_equal(tsend(t->sock, "b", 1), 1);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_expect_nothing(t); /* "b" waits for the ACK of "a" */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 2, P1);
}

static void test_established_nodelay_sends_at_once(void **state)
{
	struct tt *t = *state;
	int one = 1;
	tt_established(t);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	assert_int_equal(tsend(t->sock, "a", 1), 1);
	assert_int_equal(tsend(t->sock, "b", 1), 1);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 2, P1);
}

static void test_established_cork_holds_until_uncorked(void **state)
{
	struct tt *t = *state;
	int one = 1, zero = 0;
	tt_established(t);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)), 0);
	assert_int_equal(tsend(t->sock, "ab", 2), 2);
	tt_advance(t, 0);
	tt_expect_nothing(t);
	assert_int_equal(sock_setopt(t->sock, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)), 0);
	tt_advance(t, 0);
	struct tt_seg s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	assert_int_equal(s.len, 2);
}

static void test_established_fin_moves_to_close_wait(void **state)
{
	struct tt *t = *state;
	char b[4];
	tt_established(t);
	tt_send(t, SEG(TCP_ACK | TCP_FIN, .seq = P1, .ack = t->iss + 1, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 1);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSE_WAIT);
	assert_int_equal(sock_events(t->sock), EPOLLIN | EPOLLRDHUP | EPOLLOUT);
	assert_int_equal(trecv(t->sock, b, 4), 0);
}

static void test_established_close_with_unread_data_sends_rst(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .data = "zz", .len = 2, .opt = tt_ts(t, 0)));
	sock_close(t->sock);
	t->sock = NULL;
	tt_advance(t, 0);
	tt_expect(t, TCP_RST | TCP_ACK, t->iss + 1, P1 + 2);
	assert_int_equal(tt_state(t), -1);
}

/* With NETIF_CAP_TX_CKSUM_TCP the checksum field holds the pseudo-header
 * sum and the pbuf asks the device to finish it. */
static void test_established_tx_checksum_offload_leaves_pseudo_sum(void **state)
{
	struct tt *t = *state;
	struct pbuf *p;
	uint32_t sum;
	tt_established(t);
	t->snif->caps |= NETIF_CAP_TX_CKSUM_TCP;
	assert_int_equal(tsend(t->sock, "offload", 7), 7);
	tt_advance(t, 0);
	assert_int_equal(netif_rx_burst(t->peer, &p, 1), 1);
	assert_int_equal(p->len, 14 + 20 + 32 + 7);
	sum = cksum_pseudo_ipv4(TT_US_IP, TT_PEER_IP, 6, 32 + 7);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(rd16(p->data + 34 + 16), sum);
	/* completing it as a device would gives a valid segment */
	wr16(p->data + 34 + 16, cksum_fold(cksum_partial(p->data + 34, 39, 0)));
	assert_int_equal(cksum_fold(cksum_partial(p->data + 34, 39, cksum_pseudo_ipv4(TT_US_IP, TT_PEER_IP, 6, 39))), 0);
	pbuf_free(p);
	t->snif->caps &= ~NETIF_CAP_TX_CKSUM_TCP;
}

/* Segments too big to copy but far smaller than a buffer each pin one:
 * the window counts half a buffer per pbuf held, so a slow reader cannot
 * drain the driver's pool with small segments. */
static void test_established_small_segments_count_buffers_in_window(void **state)
{
	struct tt *t = *state;
	static char d[600];
	struct tt_seg s = { 0 };
	tt_established(t);
	for (uint32_t i = 0; i < 100; i++)
		tt_send(t, SEG(TCP_ACK, .seq = P1 + 600 * i, .ack = t->iss + 1, .data = d, .len = 600,
			       .opt = tt_ts(t, 0)));
	tt_advance(t, 40 * TT_MS);
	while (tt_recv(t, &s))
		;
	assert_int_equal(s.ack, P1 + 60000);
	assert_int_equal(sock_rx_bytes(t->sock), 60000);
	assert_int_equal(tt_tcb(t)->rq_pbufs, 100);
	assert_int_equal(tcp_rcv_used(tt_tcb(t)), 100 * 1024);
	/* the right edge stays where it was (never shrunk), not 60000 further */
	assert_true(60000 + ((uint32_t)s.wnd << 8) <= 256 * 1024);
}

/* Window probes the peer never answers end the connection (ETIMEDOUT);
 * answered ones keep it alive however long the window stays shut. */
static void test_established_unanswered_window_probes_time_out(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd0 = 1, .opt = tt_ts(t, 0)));
	assert_int_equal(tsend(t->sock, "abc", 3), 3);
	for (int i = 0; i < 10; i++) {
		tt_advance(t, 130000 * TT_MS);
		tt_expect(t, TCP_ACK, t->iss, P1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd0 = 1, .opt = tt_ts(t, 0)));
	}
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	for (int i = 0; i < 20 && tt_state(t) != -1; i++)
		tt_advance(t, 130000 * TT_MS);
	assert_int_equal(tt_state(t), -1);
	assert_int_equal(sock_take_error(t->sock), ETIMEDOUT);
}

/* A FIN ahead of a hole waits in the reassembly queue with its data. */
static void test_established_out_of_order_fin_applies_when_hole_fills(void **state)
{
	struct tt *t = *state;
	char buf[16];
	tt_established(t);
	tt_send(t, SEG(TCP_ACK | TCP_FIN, .seq = P1 + 3, .ack = t->iss + 1, .data = "def", .len = 3, .opt = tt_ts(t, 0)));
	struct tt_seg s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(s.opt.sack[0].start, P1 + 3);
	assert_int_equal(s.opt.sack[0].end, P1 + 7); /* the FIN counts */
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .data = "abc", .len = 3, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 1, P1 + 7);
	assert_int_equal(tt_state(t), TCP_STATE_CLOSE_WAIT);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "abcdef", 6);
	assert_int_equal(trecv(t->sock, buf, sizeof(buf)), 0);
}

/* MSG_PEEK across buffers and iovecs leaves the data where it was. */
static void test_established_peek_then_read_across_iovecs(void **state)
{
	struct tt *t = *state;
	static char d1[600], d2[600], a[590], b[20], c[1200];
	struct iovec v[2] = { { .iov_base = a, .iov_len = sizeof(a) }, { .iov_base = b, .iov_len = sizeof(b) } };
	memset(d1, '1', sizeof(d1));
	memset(d2, '2', sizeof(d2));
	tt_established(t);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .data = d1, .len = 600, .opt = tt_ts(t, 0)));
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 600, .ack = t->iss + 1, .data = d2, .len = 600, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_tcb(t)->rq_pbufs, 2);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(sock_recv(t->sock, v, 2, round ? 0 : MSG_PEEK, NULL), 610);
		assert_memory_equal(a, d1, 590);
		assert_memory_equal(b, d1, 10);
		assert_memory_equal(b + 10, d2, 10);
		assert_int_equal(sock_rx_bytes(t->sock), round ? 590 : 1200);
	}
	assert_int_equal(trecv(t->sock, c, sizeof(c)), 590);
	assert_memory_equal(c, d2, 590);
}

/* RFC 8985 §7: with an RTT known, a silent tail draws a probe (the last
 * segment again) after about 2*SRTT, long before the RTO. */
static void test_established_tail_loss_probe_resends_last_segment(void **state)
{
	struct tt *t = *state;
	static char d[2 * 1448 + 1];
	struct tt_seg s;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "x", 1), 1);
	tt_advance(t, 0);
	s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_advance(t, 5 * TT_MS);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 2, .opt = tt_ts(t, s.opt.tsval)));
	assert_true(tt_tcb(t)->srtt_us >= 4000 && tt_tcb(t)->srtt_us <= 6000);
	assert_int_equal(tsend(t->sock, d, 2 * 1448), 2 * 1448);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK, t->iss + 2, P1);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 2 + 1448, P1);
	tt_advance(t, 8 * TT_MS);
	tt_expect_nothing(t);
	tt_advance(t, 5 * TT_MS); /* 2*SRTT + 2 ms, far below the 200 ms RTO floor */
	s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 2 + 1448, P1);
	assert_int_equal(s.len, 1448);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 1);
	/* one probe only: then the RTO */
	tt_advance(t, 100 * TT_MS);
	tt_expect_nothing(t);
}

/* RFC 8985 §6.2: a hole with later data SACKed, too few SACKs for IsLost,
 * is lost once older than the probe timeout: the timer retransmits the
 * hole and recovery begins, instead of probing with the last segment and
 * waiting for the RTO. */
static void test_established_probe_timeout_repairs_hole_below_sack(void **state)
{
	struct tt *t = *state;
	static char d[3 * 1448];
	struct tcp_opts o;
	struct tt_seg s;
	uint32_t base;
	tt_established(t);
	base = t->iss + 2;
	assert_int_equal(tsend(t->sock, "x", 1), 1);
	tt_advance(t, 0);
	s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_advance(t, 5 * TT_MS);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .opt = tt_ts(t, s.opt.tsval)));
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK, base, P1);
	tt_expect(t, TCP_ACK, base + 1448, P1);
	s = tt_expect(t, TCP_ACK | TCP_PSH, base + 2 * 1448, P1);
	/* the first is lost: two SACKed segments are one short of IsLost */
	tt_advance(t, 5 * TT_MS);
	for (int i = 1; i <= 2; i++) {
		o = tt_ts(t, s.opt.tsval);
		o.has |= TCP_OPTF_SACK;
		o.nsack = 1;
		o.sack[0].start = base + 1448;
		o.sack[0].end = base + 1448u * (uint32_t)(i + 1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .opt = o));
	}
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 0);
	tt_advance(t, 20 * TT_MS); /* past 2*SRTT + 2 ms, far below the RTO */
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, 1448);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 1);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 0);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
}

/* RFC 8985 §7.4.2: the probe's SACK shows the segments sent before it
 * were lost: they are retransmitted at once. */
static void test_established_probe_ack_marks_earlier_segments_lost(void **state)
{
	struct tt *t = *state;
	static char d[2 * 1448];
	struct tcp_opts o;
	struct tt_seg s;
	uint32_t base;
	tt_established(t);
	base = t->iss + 2;
	assert_int_equal(tsend(t->sock, "x", 1), 1);
	tt_advance(t, 0);
	s = tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	tt_advance(t, 5 * TT_MS);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .opt = tt_ts(t, s.opt.tsval)));
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK, base, P1);
	tt_expect(t, TCP_ACK | TCP_PSH, base + 1448, P1);
	/* both lost: the probe resends the last, whose SACK comes back */
	tt_advance(t, 13 * TT_MS);
	s = tt_expect(t, TCP_ACK | TCP_PSH, base + 1448, P1);
	assert_int_equal(t->st->ctr.v[TCP_TLP_PROBES], 1);
	o = tt_ts(t, s.opt.tsval);
	o.has |= TCP_OPTF_SACK;
	o.nsack = 1;
	o.sack[0].start = base + 1448;
	o.sack[0].end = base + 2 * 1448;
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .opt = o));
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, 1448);
	assert_int_equal(t->st->ctr.v[TCP_FAST_RETRANS], 1);
	assert_int_equal(t->st->ctr.v[TCP_RTO_FIRED], 0);
}

/* Eight segments out, the first SACKed around three times: fast retransmit
 * 5 ms after the originals. Returns the retransmission; *orig_ts gets the
 * originals' TSval and *cwnd the window before recovery. */
static struct tt_seg spurious_setup(struct tt *t, uint32_t *orig_ts, uint32_t *cwnd)
{
	static char d[8 * 1448];
	struct tt_seg s;
	uint32_t base;
	tt_established(t);
	base = t->iss + 1;
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	for (int i = 0; i < 8; i++)
		s = tt_expect(t, i == 7 ? TCP_ACK | TCP_PSH : TCP_ACK, base + 1448u * (uint32_t)i, P1);
	*orig_ts = s.opt.tsval;
	*cwnd = tt_tcb(t)->cc.cwnd;
	tt_advance(t, 5 * TT_MS);
	for (int i = 1; i <= 3; i++) {
		struct tcp_opts o = tt_ts(t, s.opt.tsval);
		o.has |= TCP_OPTF_SACK;
		o.nsack = 1;
		o.sack[0].start = base + 1448;
		o.sack[0].end = base + 1448u * (uint32_t)(i + 1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd = 502, .opt = o));
	}
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_true(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_true(tt_tcb(t)->cc.cwnd < *cwnd);
	assert_true(s.opt.tsval != *orig_ts);
	return s;
}

/* RFC 3522 / RFC 4015: the ACK of the hole echoes the original's
 * timestamp, so the original arrived (reordered): the window comes back. */
static void test_established_spurious_fast_retransmit_undone(void **state)
{
	struct tt *t = *state;
	uint32_t ts, cwnd;
	spurious_setup(t, &ts, &cwnd);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1 + 8 * 1448, .wnd = 502, .opt = tt_ts(t, ts)));
	assert_int_equal(t->st->ctr.v[TCP_SPURIOUS_RECOVERIES], 1);
	assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
	assert_true(tt_tcb(t)->cc.cwnd >= cwnd);
}

/* RFC 4653 §3: after a recovery proved to be reordering, DupThresh grows to
 * the reordering seen (4 segments SACKed beyond the late one: 5), so the
 * next hole waits for 5 SACKed segments, not 3, before a retransmission. */
static void test_established_reordering_raises_dupthresh(void **state)
{
	struct tt *t = *state;
	static char d[8 * 1448];
	uint32_t ts, cwnd, base;
	struct tt_seg s;
	spurious_setup(t, &ts, &cwnd);
	base = t->iss + 1 + 8 * 1448;
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd = 502, .opt = tt_ts(t, ts)));
	assert_int_equal(t->st->ctr.v[TCP_REORDER_RAISED], 1);
	assert_int_equal(tt_tcb(t)->sb.dupthresh, 5);
	while (tt_recv(t, &s))
		;
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	while (tt_recv(t, &s))
		;
	tt_advance(t, 5 * TT_MS);
	for (int i = 1; i <= 5; i++) {
		struct tcp_opts o = tt_ts(t, s.opt.tsval);
		o.has |= TCP_OPTF_SACK;
		o.nsack = 1;
		o.sack[0].start = base + 1448;
		o.sack[0].end = base + 1448u * (uint32_t)(i + 1);
		tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd = 502, .opt = o));
		if (i < 5) { /* 1 to 4 segments beyond the hole: reordering, wait */
			assert_false(tt_tcb(t)->flags & TF_IN_RECOVERY);
			tt_expect_nothing(t);
		}
	}
	s = tt_expect(t, TCP_ACK, base, P1); /* the fifth: lost, retransmitted */
	assert_true(tt_tcb(t)->flags & TF_IN_RECOVERY);
}

/* The ACK echoes the retransmission's timestamp: a real loss, no undo. */
static void test_established_genuine_fast_retransmit_kept(void **state)
{
	struct tt *t = *state;
	uint32_t ts, cwnd;
	struct tt_seg r = spurious_setup(t, &ts, &cwnd);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1 + 8 * 1448, .wnd = 502, .opt = tt_ts(t, r.opt.tsval)));
	assert_int_equal(t->st->ctr.v[TCP_SPURIOUS_RECOVERIES], 0);
	assert_true(tt_tcb(t)->cc.cwnd < cwnd);
}

/* The peer took one segment of two and closed its window: its RCV.NXT is
 * our snd_una, and with a zero window only SEG.SEQ = RCV.NXT is
 * acceptable. Our ACKs of its data must carry that, not snd_max, or the
 * peer drops them and both ends wait on each other. */
static void test_established_ack_seq_within_peer_zero_window(void **state)
{
	struct tt *t = *state;
	static char d[2 * 1448];
	struct tt_seg s;
	uint32_t base;
	tt_established(t);
	base = t->iss + 1;
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK, base, P1);
	s = tt_expect(t, TCP_ACK | TCP_PSH, base + 1448, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base + 1448, .wnd0 = 1, .opt = tt_ts(t, s.opt.tsval)));
	tt_send(t, SEG(TCP_ACK | TCP_PSH, .seq = P1, .ack = base + 1448, .wnd0 = 1, .opt = tt_ts(t, s.opt.tsval),
		       .data = "hello", .len = 5));
	tt_advance(t, 50 * TT_MS); /* the delayed ACK */
	tt_expect(t, TCP_ACK, base + 1448, P1 + 5);
}

/* The peer closes its window with our data in flight and never reopens
 * it: the RTO still sends the first segment, as a window probe, rather
 * than nothing until the retries run out; and a receiver with no room
 * answers such a segment with an ACK carrying its window. */
static void test_established_rto_probes_a_closed_window(void **state)
{
	struct tt *t = *state;
	static char d[2 * 1448];
	struct tt_seg s;
	uint32_t base;
	tt_established(t);
	base = t->iss + 1;
	assert_int_equal(tsend(t->sock, d, sizeof(d)), (ssize_t)sizeof(d));
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK, base, P1);
	s = tt_expect(t, TCP_ACK | TCP_PSH, base + 1448, P1);
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = base, .wnd0 = 1, .opt = tt_ts(t, s.opt.tsval)));
	tt_advance(t, 1100 * TT_MS);
	s = tt_expect(t, TCP_ACK, base, P1);
	assert_int_equal(s.len, 1448);
	assert_true(t->st->ctr.v[TCP_RTO_FIRED] >= 1);
}

static void test_established_zero_window_data_at_rcv_nxt_acked(void **state)
{
	struct tt *t = *state;
	static char d[300000];
	uint32_t seq = P1;
	tt_established(t);
	/* fill the receive buffer, nothing read */
	for (int i = 0; i < 400; i++) {
		uint32_t wnd = tt_tcb(t)->rcv_adv - tt_tcb(t)->rcv_nxt;
		if (!wnd)
			break;
		uint32_t n = wnd < 1448 ? wnd : 1448;
		tt_send(t, SEG(TCP_ACK, .seq = seq, .ack = t->iss + 1, .opt = tt_ts(t, 0), .data = d, .len = n));
		seq += n;
		tt_advance(t, 0);
		while (tt_recv(t, &(struct tt_seg){ 0 }))
			;
	}
	assert_int_equal(tt_tcb(t)->rcv_adv, tt_tcb(t)->rcv_nxt);
	tt_send(t, SEG(TCP_ACK, .seq = seq, .ack = t->iss + 1, .opt = tt_ts(t, 0), .data = d, .len = 1448));
	tt_expect(t, TCP_ACK, t->iss + 1, seq);
}

/* RFC 2018 §4 with many holes: the first SACK block holds the latest
 * arrival wherever it lies in the queue, the next ones the blocks of the
 * arrivals before it; a block the sender already heard of and that has not
 * changed since is left out before a recent one is. */
static void test_established_sack_reports_latest_blocks_among_many_holes(void **state)
{
	struct tt *t = *state;
	static char d[100];
	struct tt_seg s;
	tt_established(t);
	/* seven blocks of 100 bytes, holes between: [P1 + 200k + 100, P1 + 200k + 200) */
	for (uint32_t k = 0; k < 7; k++) {
		tt_send(t, SEG(TCP_ACK, .seq = P1 + 200 * k + 100, .ack = t->iss + 1, .data = d, .len = 100,
			       .opt = tt_ts(t, 0)));
		s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
		assert_int_equal(s.opt.sack[0].start, P1 + 200 * k + 100);
		assert_int_equal(s.opt.sack[0].end, P1 + 200 * k + 200);
		if (k >= 2) { /* with timestamps three blocks fit: the latest three */
			assert_int_equal(s.opt.nsack, 3);
			assert_int_equal(s.opt.sack[1].start, P1 + 200 * (k - 1) + 100);
			assert_int_equal(s.opt.sack[2].start, P1 + 200 * (k - 2) + 100);
		}
	}
	/* the second block grows: it comes first, then the two latest others */
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 250, .ack = t->iss + 1, .data = d, .len = 50, .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(s.opt.nsack, 3);
	assert_int_equal(s.opt.sack[0].start, P1 + 250);
	assert_int_equal(s.opt.sack[0].end, P1 + 400);
	assert_int_equal(s.opt.sack[1].start, P1 + 1300);
	assert_int_equal(s.opt.sack[2].start, P1 + 1100);
	/* a block queued twice: D-SACK, then the block that holds it */
	tt_send(t, SEG(TCP_ACK, .seq = P1 + 700, .ack = t->iss + 1, .data = d, .len = 100, .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1);
	assert_int_equal(s.opt.nsack, 3);
	assert_int_equal(s.opt.sack[0].start, P1 + 700);
	assert_int_equal(s.opt.sack[0].end, P1 + 800);
	assert_int_equal(s.opt.sack[1].start, P1 + 700);
	assert_int_equal(s.opt.sack[1].end, P1 + 800);
	assert_int_equal(s.opt.sack[2].start, P1 + 250);
	/* the first hole filled: ACK to the next hole, the recent blocks above it kept */
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .data = d, .len = 100, .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 1, P1 + 200);
	assert_int_equal(s.opt.nsack, 3);
	assert_int_equal(s.opt.sack[0].start, P1 + 700);
	assert_int_equal(s.opt.sack[1].start, P1 + 250);
	assert_int_equal(s.opt.sack[2].start, P1 + 1300);
}

/* Without window scaling the header carries at most 65535: a read that
 * opens more than that sends no ACK, which the peer would count as a
 * duplicate; a read that reopens a shrunken window does send one. */
static void test_established_read_sends_only_windows_the_header_carries(void **state)
{
	struct tt *t = *state;
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_SACK_OK | TCP_OPTF_TS, .mss = 1460 };
	static char d[1448], b[65536];
	struct tt_seg s = { 0 };
	uint32_t seq = P1;
	tt_listen(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = o));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	t->iss = s.seq;
	tt_send(t, SEG(TCP_ACK, .seq = P1, .ack = t->iss + 1, .wnd = 64240, .opt = tt_ts(t, 0)));
	assert_int_equal(sock_accept(t->lsock, &t->sock, NULL), 0);
	assert_int_equal(tt_tcb(t)->rcv_wscale, 0);
	/* 140 segments unread: the window shrinks below 65535 */
	for (int i = 0; i < 140; i++, seq += sizeof(d))
		tt_send(t, SEG(TCP_ACK, .seq = seq, .ack = t->iss + 1, .wnd = 64240, .data = d, .len = sizeof(d),
			       .opt = tt_ts(t, 0)));
	tt_advance(t, 40 * TT_MS);
	while (tt_recv(t, &s))
		;
	assert_int_equal(s.ack, seq);
	assert_true(s.wnd < 65535);
	while (trecv(t->sock, b, sizeof(b)) > 0)
		;
	tt_advance(t, 0);
	s = tt_expect(t, TCP_ACK, t->iss + 1, seq);
	assert_int_equal(s.wnd, 65535);
	tt_expect_nothing(t);
	/* from now on the window stays at the most the header says: reads are silent */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 10; i++, seq += sizeof(d))
			tt_send(t, SEG(TCP_ACK, .seq = seq, .ack = t->iss + 1, .wnd = 64240, .data = d,
				       .len = sizeof(d), .opt = tt_ts(t, 0)));
		tt_advance(t, 40 * TT_MS);
		while (tt_recv(t, &s))
			;
		assert_int_equal(s.ack, seq);
		while (trecv(t->sock, b, sizeof(b)) > 0)
			;
		tt_advance(t, 0);
		tt_expect_nothing(t);
	}
}

/* A segment that starts right at the window's right edge counts for its
 * ACK, as on Linux and BSD: a peer that filled the window behind a hole
 * sends its pure ACKs there. Data there is not taken, and is answered. */
static void test_established_ack_at_right_window_edge_accepted(void **state)
{
	struct tt *t = *state;
	struct tt_seg s;
	uint32_t edge;
	tt_established(t);
	assert_int_equal(tsend(t->sock, "hello", 5), 5);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 1, P1);
	edge = tt_tcb(t)->rcv_adv;
	tt_send(t, SEG(TCP_ACK, .seq = edge, .ack = t->iss + 6, .wnd = 502, .opt = tt_ts(t, 0)));
	tt_expect_nothing(t);
	assert_int_equal(tt_tcb(t)->snd_una, t->iss + 6);
	/* data at the edge: its ACK is taken, the bytes are not */
	assert_int_equal(tsend(t->sock, "world", 5), 5);
	tt_advance(t, 0);
	tt_expect(t, TCP_ACK | TCP_PSH, t->iss + 6, P1);
	tt_send(t, SEG(TCP_ACK, .seq = edge, .ack = t->iss + 11, .wnd = 502, .data = "beyond", .len = 6,
		       .opt = tt_ts(t, 0)));
	s = tt_expect(t, TCP_ACK, t->iss + 11, P1);
	assert_int_equal(s.len, 0);
	assert_int_equal(tt_tcb(t)->snd_una, t->iss + 11);
	assert_int_equal(sock_rx_bytes(t->sock), 0);
	/* one past the edge is out of the window: dropped, answered */
	tt_send(t, SEG(TCP_ACK, .seq = edge + 1, .ack = t->iss + 11, .wnd = 502, .opt = tt_ts(t, 0)));
	tt_expect(t, TCP_ACK, t->iss + 11, P1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tt_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_established_data_in_order_is_readable_and_delayed_ack),
		T(test_established_two_full_segments_ack_at_once),
		T(test_established_send_data_segment),
		T(test_established_out_of_order_acked_with_sack),
		T(test_established_duplicate_data_gets_dsack),
		T(test_established_unacked_data_retransmitted_after_rto),
		T(test_established_rst_in_window_not_exact_gets_challenge_ack),
		T(test_established_rst_exact_resets),
		T(test_established_rst_out_of_window_ignored),
		T(test_established_syn_gets_challenge_ack),
		T(test_established_ack_of_unsent_data_dropped_with_ack),
		T(test_established_old_timestamp_dropped_by_paws),
		T(test_established_three_dupacks_fast_retransmit),
		T(test_established_loss_at_recovery_point_fast_retransmit),
		T(test_established_probe_timeout_repairs_hole_below_sack),
		T(test_established_probe_ack_marks_earlier_segments_lost),
		T(test_established_spurious_fast_retransmit_undone),
		T(test_established_reordering_raises_dupthresh),
		T(test_established_genuine_fast_retransmit_kept),
		T(test_established_ack_seq_within_peer_zero_window),
		T(test_established_rto_probes_a_closed_window),
		T(test_established_zero_window_data_at_rcv_nxt_acked),
		T(test_established_zero_window_probed),
		T(test_established_nagle_holds_small_segment),
		T(test_established_nodelay_sends_at_once),
		T(test_established_cork_holds_until_uncorked),
		T(test_established_fin_moves_to_close_wait),
		T(test_established_close_with_unread_data_sends_rst),
		T(test_established_tx_checksum_offload_leaves_pseudo_sum),
		T(test_established_small_segments_count_buffers_in_window),
		T(test_established_unanswered_window_probes_time_out),
		T(test_established_out_of_order_fin_applies_when_hole_fills),
		T(test_established_peek_then_read_across_iovecs),
		T(test_established_tail_loss_probe_resends_last_segment),
		T(test_established_read_sends_only_windows_the_header_carries),
		T(test_established_sack_reports_latest_blocks_among_many_holes),
		T(test_established_ack_at_right_window_edge_accepted),
	};
	return cmocka_run_group_tests_name("tcp_established", tests, NULL, NULL);
}
