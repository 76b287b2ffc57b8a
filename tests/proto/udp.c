/* UDP sockets packet by packet: the stack (198.18.0.2) on a memlink port,
 * the test playing the peer (198.18.0.1). Each test checks one behaviour of
 * Linux's UDP sockets against the exact frames on the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/epoll.h>

#include "../lib/pt.h"
#include "sock.h"
#include "udp.h"
#include "wire/cksum.h"
#include "wire/icmp.h"

#define PEER_PORT 5555
#define OUR_PORT  7000

static struct sockaddr_in sin_of(uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(ip);
	a.sin_port = htons(port);
	return a;
}

static struct sock *udp_new(struct pt *t)
{
	struct sock *s;
	assert_int_equal(sock_create(t->st, SOCK_DGRAM, &s), 0);
	return s;
}

static struct sock *udp_bound(struct pt *t, uint16_t port)
{
	return pt_udp_bound(t, port);
}

static ssize_t send_to(struct sock *s, const void *buf, size_t len, uint32_t ip, uint16_t port)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct sockaddr_in a = sin_of(ip, port);
	return sock_send(s, &iov, 1, 0, &a);
}

static ssize_t send_conn(struct sock *s, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	return sock_send(s, &iov, 1, 0, NULL);
}

static ssize_t recv_from(struct sock *s, void *buf, size_t len, int flags, struct sockaddr_in *from)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	return sock_recv(s, &iov, 1, flags, from);
}

static int set_int(struct sock *s, int level, int name, int v)
{
	return sock_setopt(s, level, name, &v, sizeof(v));
}

static int get_int(struct sock *s, int level, int name)
{
	int v = -12345;
	socklen_t len = sizeof(v);
	assert_int_equal(sock_getopt(s, level, name, &v, &len), 0);
	assert_int_equal(len, sizeof(v));
	return v;
}

static uint16_t local_port(struct sock *s)
{
	struct sockaddr_in a;
	assert_int_equal(sock_name(s, &a), 0);
	return ntohs(a.sin_port);
}

static void connect_to(struct sock *s, uint32_t ip, uint16_t port)
{
	struct sockaddr_in a = sin_of(ip, port);
	assert_int_equal(sock_connect(s, &a), 0);
}

/* ---- the device --------------------------------------------------------- */

/* Frames the device refuses (a memif peer not connected yet, a full ring)
 * wait in order for the next flushes, which come within a millisecond;
 * only after STACK_TX_HOLD_NS of refusals are they dropped and counted. */
static void test_udp_frames_the_device_refuses_go_out_later(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame f;
	struct udp_hdr u;
	t->tx_refuse = 3;
	assert_int_equal(send_to(s, "one", 3, PT_PEER_IP, PEER_PORT), 3);
	assert_int_equal(send_to(s, "two", 3, PT_PEER_IP, PEER_PORT), 3);
	for (int i = 0; i < 3; i++) {
		pt_step(t, 0);
		pt_expect_nothing(t);
		assert_true(stack_next_timer(t->st) <= t->now + PT_MS);
	}
	assert_int_equal(pt_counter(t, TX_DROP_FULL), 0);
	pt_step(t, PT_MS);
	pt_expect_udp(t, &f, &u);
	assert_memory_equal(f.l4 + 8, "one", 3);
	pt_expect_udp(t, &f, &u);
	assert_memory_equal(f.l4 + 8, "two", 3);
	assert_int_equal(pt_counter(t, TX_FRAMES), 2);
	/* a device that keeps refusing: dropped and counted, nothing left behind */
	t->tx_refuse = 1000;
	assert_int_equal(send_to(s, "three", 5, PT_PEER_IP, PEER_PORT), 5);
	for (int i = 0; i < 6; i++)
		pt_step(t, 100 * PT_MS);
	assert_int_equal(pt_counter(t, TX_DROP_FULL), 1);
	t->tx_refuse = 0;
	pt_step(t, PT_MS);
	pt_expect_nothing(t);
	sock_close(s);
}

/* ---- receiving -------------------------------------------------------- */

static void test_udp_datagram_to_bound_port_queued_with_source(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct sockaddr_in from;
	char buf[64];

	assert_int_equal(sock_events(s) & EPOLLIN, 0);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "hello", 5);
	assert_int_equal(sock_events(s) & (EPOLLIN | EPOLLOUT), EPOLLIN | EPOLLOUT);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, &from), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(from.sin_family, AF_INET);
	assert_int_equal(ntohl(from.sin_addr.s_addr), PT_PEER_IP);
	assert_int_equal(ntohs(from.sin_port), PEER_PORT);
	assert_int_equal(sock_events(s) & EPOLLIN, 0);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 1);
	pt_expect_nothing(t);
}

static void test_udp_recv_empty_queue_returns_eagain(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[8];
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
}

static void test_udp_datagram_to_closed_port_gets_port_unreachable(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	struct pt_frame r;
	struct icmp_hdr ic;
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, 9, "ping", 4);

	pt_send_frame(t, f, len);
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	assert_int_equal(r.ip.src, PT_US_IP);
	assert_int_equal(r.ip.dst, PT_PEER_IP);
	assert_int_equal(r.ip.proto, IPV4_PROTO_ICMP);
	assert_int_equal(r.ip.tos, 0xc0); /* precedence: internetwork control */
	assert_int_equal(r.l4_len, 8 + 20 + 8 + 4); /* the whole offending packet is quoted */
	assert_int_equal(icmp_hdr_parse(r.l4, r.l4_len, &ic), 0);
	assert_int_equal(ic.type, ICMP_DEST_UNREACH);
	assert_int_equal(ic.code, ICMP_UNREACH_PORT);
	assert_int_equal(ic.rest, 0);
	assert_memory_equal(r.l4 + 8, f + 14, 20 + 8 + 4);
	assert_int_equal(pt_counter(t, DROP_UDP_NO_PORT), 1);
	assert_int_equal(pt_counter(t, ICMP_UNREACH_SENT), 1);
	pt_expect_nothing(t);
}

static void test_udp_bad_checksum_dropped_and_counted(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	uint8_t f[128];
	char buf[8];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, OUR_PORT, "abcd", 4);

	f[42] ^= 1; /* payload changed under the checksum */
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
	assert_int_equal(pt_counter(t, DROP_UDP_CKSUM), 1);
	pt_expect_nothing(t);
}

static void test_udp_bad_checksum_to_closed_port_gets_no_icmp(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, 9, "abcd", 4);
	f[42] ^= 1;
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(pt_counter(t, DROP_UDP_CKSUM), 1);
}

static void test_udp_zero_checksum_accepted_as_none(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	uint8_t f[128];
	char buf[8];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, OUR_PORT, "abcd", 4);

	wr16(f + 40, 0); /* RFC 768: no checksum was computed */
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 4);
}

static void test_udp_device_checked_checksum_not_verified_again(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	uint8_t f[128];
	char buf[8];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, OUR_PORT, "abcd", 4);

	f[42] ^= 1; /* wrong, but the device says it checked it */
	t->rx_flags = PBUF_F_RX_L4_CKSUM_GOOD;
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 4);
	assert_int_equal(pt_counter(t, DROP_UDP_CKSUM), 0);
}

static void test_udp_device_bad_checksum_dropped(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[8];

	t->rx_flags = PBUF_F_RX_L4_CKSUM_BAD;
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "abcd", 4);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
	assert_int_equal(pt_counter(t, DROP_UDP_CKSUM), 1);
}

static void test_udp_length_beyond_packet_dropped(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	uint8_t f[128];
	char buf[8];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, OUR_PORT, "abcd", 4);

	wr16(f + 38, 13); /* one byte more than the IP payload */
	wr16(f + 40, 0);
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
	assert_int_equal(pt_counter(t, DROP_UDP_LEN), 1);
}

static void test_udp_length_below_header_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	uint32_t len = pt_build_udp(f, PT_PEER_IP, PEER_PORT, PT_US_IP, OUR_PORT, "abcd", 4);
	wr16(f + 38, 7);
	wr16(f + 40, 0);
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, DROP_UDP_LEN), 1);
	pt_expect_nothing(t);
}

static void test_udp_shorter_than_header_dropped(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	memset(f + 34, 0, 7);
	pt_send_frame(t, f, pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_UDP, 7));
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, DROP_UDP_SHORT), 1);
	pt_expect_nothing(t);
}

static void test_udp_length_shorter_than_packet_cuts_payload(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	uint8_t f[128];
	char buf[16];
	struct udp_hdr u = { .sport = PEER_PORT, .dport = OUR_PORT, .len = 8 + 3 };
	uint32_t len = pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_UDP, 8 + 6);

	memcpy(f + 42, "abcxyz", 6); /* UDP says 3 bytes: the rest is not data */
	udp_hdr_emit(f + 34, &u, PT_PEER_IP, PT_US_IP);
	pt_send_frame(t, f, len);
	pt_step(t, 0);
	assert_int_equal(sock_rx_bytes(s), 3);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 3);
	assert_memory_equal(buf, "abc", 3);
}

static void test_udp_recv_truncates_to_buffer_and_discards_rest(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[16];
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "0123456789", 10);
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), 4);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
}

static void test_udp_recv_msg_trunc_returns_datagram_length(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[16];
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "0123456789", 10);
	assert_int_equal(recv_from(s, buf, 4, MSG_TRUNC, NULL), 10);
	assert_memory_equal(buf, "0123", 4);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
}

static void test_udp_recv_peek_leaves_datagram_queued(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct sockaddr_in from;
	char buf[16];
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "abc", 3);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "defg", 4);
	assert_int_equal(recv_from(s, buf, sizeof(buf), MSG_PEEK, &from), 3);
	assert_int_equal(ntohs(from.sin_port), PEER_PORT);
	assert_int_equal(recv_from(s, buf, sizeof(buf), MSG_PEEK, NULL), 3);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 4);
	assert_memory_equal(buf, "defg", 4);
}

static void test_udp_zero_length_datagram_received_as_empty(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[8];
	pt_peer_udp(t, PEER_PORT, OUR_PORT, NULL, 0);
	assert_true(sock_events(s) & EPOLLIN);
	assert_int_equal(sock_rx_bytes(s), 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 0);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), -EAGAIN);
}

static void test_udp_fionread_is_size_of_next_datagram(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[16];
	assert_int_equal(sock_rx_bytes(s), 0);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "abc", 3);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "defghij", 7);
	assert_int_equal(sock_rx_bytes(s), 3);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 3);
	assert_int_equal(sock_rx_bytes(s), 7);
}

static void test_udp_recv_scatters_over_iovecs(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char a[3], b[2], c[8];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "abcdefg", 7);
	assert_int_equal(sock_recv(s, iov, 3, 0, NULL), 7);
	assert_memory_equal(a, "abc", 3);
	assert_memory_equal(b, "de", 2);
	assert_memory_equal(c, "fg", 2);
}

static void test_udp_rcvbuf_full_drops_and_counts(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[8];
	/* the least SO_RCVBUF (2304) takes datagrams while under it: each holds a 2 KiB buffer */
	assert_int_equal(set_int(s, SOL_SOCKET, SO_RCVBUF, 0), 0);
	for (int i = 0; i < 3; i++)
		pt_peer_udp(t, PEER_PORT, OUR_PORT, "x", 1);
	assert_int_equal(pt_counter(t, DROP_UDP_RCVBUF), 1);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 2);
	assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 1);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "y", 1); /* room again */
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 3);
	assert_int_equal(t->spool->in_use, 2); /* queued without a copy, nothing else held */
}

static void test_udp_broadcast_reaches_every_wildcard_socket(void **state)
{
	struct pt *t = *state;
	struct sock *a = udp_new(t), *b = udp_new(t), *u = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT), ours = sin_of(PT_US_IP, OUR_PORT);
	uint8_t f[128];
	char buf[8];
	for (int i = 0; i < 3; i++)
		assert_int_equal(set_int((struct sock *[]){ a, b, u }[i], SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(sock_bind(a, &any), 0);
	assert_int_equal(sock_bind(b, &any), 0);
	assert_int_equal(sock_bind(u, &ours), 0);
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, PEER_PORT, INADDR_BROADCAST, OUR_PORT, "all", 3));
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, PEER_PORT, 0xc61200ffu, OUR_PORT, "net", 3));
	pt_step(t, 0);
	/* as Linux: a copy for each socket on the wildcard, none for one bound to the unicast address */
	assert_int_equal(t->spool->in_use, 4);
	assert_int_equal(sock_rx_bytes(u), 0);
	for (int i = 0; i < 2; i++) {
		struct sock *s = i ? b : a;
		assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 3);
		assert_memory_equal(buf, "all", 3);
		assert_int_equal(recv_from(s, buf, sizeof(buf), 0, NULL), 3);
		assert_memory_equal(buf, "net", 3);
	}
	pt_expect_nothing(t);
}

static void test_udp_broadcast_copy_without_buffer_counted(void **state)
{
	struct pt *t = *state;
	struct sock *a = udp_new(t), *b = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT);
	static struct pbuf *held[256];
	uint8_t f[128];
	uint32_t n = 0;
	assert_int_equal(set_int(a, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(set_int(b, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(sock_bind(a, &any), 0);
	assert_int_equal(sock_bind(b, &any), 0);
	while (t->spool->in_use < t->spool->capacity - 1) /* one buffer left: for the frame itself */
		held[n++] = pbuf_alloc(t->spool);
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, PEER_PORT, INADDR_BROADCAST, OUR_PORT, "x", 1));
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, DROP_UDP_NOBUF), 1);
	assert_int_equal(sock_rx_bytes(a) + sock_rx_bytes(b), 1); /* the original still went to one */
	while (n)
		pbuf_free(held[--n]);
}

static void test_udp_broadcast_to_closed_port_not_answered(void **state)
{
	struct pt *t = *state;
	uint8_t f[128];
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, PEER_PORT, 0xc61200ffu, OUR_PORT, "x", 1));
	pt_step(t, 0);
	pt_expect_nothing(t); /* RFC 1122 §4.1.3.1: no port unreachable for a broadcast */
	assert_int_equal(pt_counter(t, DROP_UDP_NO_PORT), 1);
}

static int notified;
static void count_notify(struct sock *s, void *arg)
{
	(void)s;
	(void)arg;
	notified++;
}

static void test_udp_datagram_arrival_wakes_waiter(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	notified = 0;
	sock_set_notify(s, count_notify, NULL);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "x", 1);
	assert_int_equal(notified, 1);
}

static void test_udp_last_datagram_read_wakes_waiter(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[4];
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "a", 1);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "b", 1);
	notified = 0;
	sock_set_notify(s, count_notify, NULL);
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), 1);
	assert_int_equal(notified, 0); /* still readable */
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), 1);
	assert_int_equal(notified, 1); /* EPOLLIN went away */
}

/* Frames corrupted and cut on the wire are each either delivered intact or
 * dropped under a counted reason: none is lost silently, none harms the stack. */
static void test_udp_damaged_frames_dropped_or_delivered_intact(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct memlink_faults f = { .corrupt_ppm = 300000, .truncate_ppm = 100000 };
	uint64_t delivered = 0, drops = 0;
	unsigned n;

	memlink_set_faults(t->peer, &f);
	for (uint32_t i = 0; i < 2000; i++) {
		uint8_t msg[64], got[128];
		for (unsigned k = 0; k < sizeof(msg); k++)
			msg[k] = (uint8_t)(i * 7 + k);
		pt_peer_udp(t, PEER_PORT, OUR_PORT, msg, (uint16_t)(16 + i % 48));
		ssize_t r = recv_from(s, got, sizeof(got), 0, NULL);
		if (r == -EAGAIN)
			continue;
		assert_int_equal(r, 16 + i % 48);
		assert_memory_equal(got, msg, (size_t)r);
		delivered++;
	}
	const uint64_t *v = stack_counter_values(t->st, &n);
	for (unsigned c = 0; c < n; c++)
		if (!strncmp(stack_counter_name(c), "DROP_", 5))
			drops += v[c];
	assert_int_equal(delivered, v[UDP_RX_DATAGRAMS]);
	assert_int_equal(v[RX_FRAMES], delivered + drops);
	assert_true(delivered > 1000 && drops > 300); /* both paths were taken */
	while (pt_recv_frame(t, (uint8_t[2048]){ 0 }, 2048)) /* port unreachable, if a port was hit intact */
		;
}

/* ---- sending ---------------------------------------------------------- */

static void test_udp_sendto_emits_exact_datagram(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;

	assert_int_equal(send_to(s, "hello", 5, PT_PEER_IP, PEER_PORT), 5);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_memory_equal(r.dst_mac, PT_PEER_MAC, 6);
	assert_int_equal(r.ip.src, PT_US_IP);
	assert_int_equal(r.ip.dst, PT_PEER_IP);
	assert_int_equal(r.ip.ttl, 64);
	assert_int_equal(r.ip.tos, 0);
	assert_int_equal(r.ip.frag, IPV4_FLAG_DF);
	assert_int_equal(r.ip.total_len, 20 + 8 + 5);
	assert_int_equal(u.sport, OUR_PORT);
	assert_int_equal(u.dport, PEER_PORT);
	assert_int_equal(u.len, 13);
	assert_memory_equal(r.l4 + 8, "hello", 5);
	assert_int_equal(t->tx_flags & PBUF_F_TX_UDP_CKSUM, 0);
	assert_int_equal(pt_counter(t, UDP_TX_DATAGRAMS), 1);
	pt_expect_nothing(t);
}

static void test_udp_send_offload_leaves_pseudo_header_sum(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	uint32_t sum = cksum_pseudo_ipv4(PT_US_IP, PT_PEER_IP, IPV4_PROTO_UDP, 13);

	t->snif->caps |= NETIF_CAP_TX_CKSUM_UDP;
	assert_int_equal(send_to(s, "hello", 5, PT_PEER_IP, PEER_PORT), 5);
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_true(t->tx_flags & PBUF_F_TX_UDP_CKSUM);
	assert_int_equal(t->tx_l2, 14);
	assert_int_equal(t->tx_l3, 20);
	assert_int_equal(t->tx_l4, 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(rd16(r.l4 + 6), sum); /* folded, not complemented: the device finishes it */
	/* what the device then writes (the sum over the datagram, complemented) makes it check */
	struct udp_hdr u;
	wr16((uint8_t *)r.l4 + 6, cksum(r.l4, 13));
	assert_int_equal(udp_hdr_parse(r.l4, 13, PT_US_IP, PT_PEER_IP, 1, &u), 0);
}

static void test_udp_send_unbound_takes_ephemeral_port(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	struct pt_frame r;
	struct udp_hdr u;
	struct sockaddr_in a;

	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(a.sin_port, 0);
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, PEER_PORT), 1);
	uint16_t port = local_port(s);
	assert_in_range(port, UDP_PORT_EPHEMERAL_LO, UDP_PORT_EPHEMERAL_HI);
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(a.sin_addr.s_addr, htonl(INADDR_ANY)); /* the address stays the wildcard */
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.sport, port);
	/* and replies to that port reach the socket */
	pt_peer_udp(t, PEER_PORT, port, "r", 1);
	assert_int_equal(sock_rx_bytes(s), 1);
}

static void test_udp_send_unconnected_without_address_edestaddrreq(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_conn(s, "x", 1), -EDESTADDRREQ);
	pt_step(t, 0);
	pt_expect_nothing(t);
}

static void test_udp_send_up_to_mtu_one_packet(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	static char big[1473];
	struct pt_frame r;
	struct udp_hdr u;

	/* 1500 - 20 - 8: the most one packet carries; above, fragments (ipv4_frag.c) */
	assert_int_equal(send_to(s, big, 1472, PT_PEER_IP, PEER_PORT), 1472);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(r.ip.total_len, 1500);
	assert_true(r.ip.frag & IPV4_FLAG_DF);
	pt_expect_nothing(t);
	assert_int_equal(send_to(s, big, 1473, PT_PEER_IP, PEER_PORT), 1473);
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_true(r.ip.frag & IPV4_FLAG_MF);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.frag, 1480 / 8);
	pt_expect_nothing(t);
}

static void test_udp_send_above_65507_emsgsize(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct iovec iov[2] = { { (void *)"a", 65507 - 10 }, { (void *)"b", 11 } };
	struct sockaddr_in a = sin_of(PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_send(s, iov, 2, 0, &a), -EMSGSIZE);
	iov[1].iov_len = SIZE_MAX; /* lengths that overflow are too big, not small */
	assert_int_equal(sock_send(s, iov, 2, 0, &a), -EMSGSIZE);
}

static void test_udp_send_zero_length_sends_empty_datagram(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(send_to(s, NULL, 0, PT_PEER_IP, PEER_PORT), 0);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.len, 8);
}

static void test_udp_sendto_port_zero_einval(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, 0), -EINVAL);
}

static void test_udp_send_unroutable_enetunreach(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_to(s, "x", 1, 0x0a000001u, PEER_PORT), -ENETUNREACH); /* no gateway */
	assert_int_equal(send_to(s, "x", 1, INADDR_ANY, PEER_PORT), -ENETUNREACH);
}

static void test_udp_send_gathers_iovecs(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct iovec iov[3] = { { (void *)"ab", 2 }, { NULL, 0 }, { (void *)"cde", 3 } };
	struct sockaddr_in a = sin_of(PT_PEER_IP, PEER_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(sock_send(s, iov, 3, 0, &a), 5);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_memory_equal(r.l4 + 8, "abcde", 5);
}

static void test_udp_send_null_buffer_efault(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_to(s, NULL, 4, PT_PEER_IP, PEER_PORT), -EFAULT);
	pt_step(t, 0);
	pt_expect_nothing(t);
}

static void test_udp_send_oob_eopnotsupp(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct iovec iov = { (void *)"x", 1 };
	struct sockaddr_in a = sin_of(PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_send(s, &iov, 1, MSG_OOB, &a), -EOPNOTSUPP);
}

static void test_udp_broadcast_without_so_broadcast_eacces(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_to(s, "x", 1, INADDR_BROADCAST, PEER_PORT), -EACCES);
	assert_int_equal(send_to(s, "x", 1, 0xc61200ffu, PEER_PORT), -EACCES); /* subnet broadcast */
	struct sockaddr_in a = sin_of(INADDR_BROADCAST, PEER_PORT);
	assert_int_equal(sock_connect(s, &a), -EACCES);
}

static void test_udp_broadcast_with_so_broadcast_sent_to_all(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(set_int(s, SOL_SOCKET, SO_BROADCAST, 1), 0);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_BROADCAST), 1);
	assert_int_equal(send_to(s, "x", 1, INADDR_BROADCAST, PEER_PORT), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_memory_equal(r.dst_mac, bcast, 6); /* no ARP for a broadcast */
	assert_int_equal(r.ip.dst, INADDR_BROADCAST);
	pt_expect_nothing(t);
}

static void test_udp_send_after_shut_wr_epipe(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_shutdown(s, SHUT_WR), 0);
	assert_int_equal(send_conn(s, "x", 1), -EPIPE);
	pt_step(t, 0);
	pt_expect_nothing(t);
}

static void test_udp_ip_tos_sets_outgoing_tos(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(set_int(s, IPPROTO_IP, IP_TOS, 0x11), 0);
	assert_int_equal(get_int(s, IPPROTO_IP, IP_TOS), 0x11);
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, PEER_PORT), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(r.ip.tos, 0x11);
}

static ssize_t send_flags(struct sock *s, const char *buf, int flags, uint32_t ip, uint16_t port)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = strlen(buf) };
	struct sockaddr_in a = sin_of(ip, port);
	return sock_send(s, &iov, 1, flags, &a);
}

static void test_udp_msg_more_joins_sends_into_one_datagram(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(send_flags(s, "ab", MSG_MORE, PT_PEER_IP, PEER_PORT), 2);
	assert_int_equal(send_flags(s, "cd", MSG_MORE, PT_PEER_IP, PEER_PORT), 2);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(sock_tx_bytes(s), 4);
	/* as Linux: the address of the first call holds for the whole datagram */
	assert_int_equal(send_flags(s, "e", 0, PT_PEER_IP, PEER_PORT + 1), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.dport, PEER_PORT);
	assert_int_equal(u.len, 8 + 5);
	assert_memory_equal(r.l4 + 8, "abcde", 5);
	assert_int_equal(sock_tx_bytes(s), 0);
	pt_expect_nothing(t);
}

static void test_udp_cork_option_holds_until_uncorked(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(set_int(s, IPPROTO_UDP, UDP_CORK, 1), 0);
	assert_int_equal(get_int(s, IPPROTO_UDP, UDP_CORK), 1);
	assert_int_equal(send_flags(s, "ab", 0, PT_PEER_IP, PEER_PORT), 2);
	assert_int_equal(send_flags(s, "cd", 0, PT_PEER_IP, PEER_PORT), 2);
	pt_step(t, 0);
	pt_expect_nothing(t);
	assert_int_equal(set_int(s, IPPROTO_UDP, UDP_CORK, 0), 0);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_memory_equal(r.l4 + 8, "abcd", 4);
	pt_expect_nothing(t);
}

static void test_udp_msg_more_beyond_mtu_drops_held_data(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	static char big[1400];
	struct iovec iov = { big, sizeof(big) };
	struct sockaddr_in a = sin_of(PT_PEER_IP, PEER_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(sock_send(s, &iov, 1, MSG_MORE, &a), 1400);
	assert_int_equal(sock_send(s, &iov, 1, 0, &a), -EMSGSIZE);
	assert_int_equal(sock_tx_bytes(s), 0); /* what was held is gone, as on Linux */
	assert_int_equal(send_flags(s, "x", 0, PT_PEER_IP, PEER_PORT), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.len, 9);
}

static void test_udp_close_with_held_datagram_frees_it(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	assert_int_equal(send_flags(s, "ab", MSG_MORE, PT_PEER_IP, PEER_PORT), 2);
	assert_int_equal(t->spool->in_use, 1);
	assert_int_equal(sock_close(s), 0);
	assert_int_equal(t->spool->in_use, 0);
	pt_step(t, 0);
	pt_expect_nothing(t);
}

/* ---- binding ---------------------------------------------------------- */

static void test_udp_bind_port_zero_takes_ephemeral_port(void **state)
{
	struct pt *t = *state;
	struct sock *a = udp_bound(t, 0), *b = udp_bound(t, 0);
	assert_in_range(local_port(a), UDP_PORT_EPHEMERAL_LO, UDP_PORT_EPHEMERAL_HI);
	assert_in_range(local_port(b), UDP_PORT_EPHEMERAL_LO, UDP_PORT_EPHEMERAL_HI);
	assert_int_not_equal(local_port(a), local_port(b));
}

static void test_udp_ephemeral_ports_exhausted(void **state)
{
	struct pt *t = *state;
	const int n = UDP_PORT_EPHEMERAL_HI - UDP_PORT_EPHEMERAL_LO + 1;
	struct sockaddr_in any = sin_of(INADDR_ANY, 0);
	struct sock *s = udp_new(t), *last = NULL;
	for (int i = 0; i < n; i++)
		last = udp_bound(t, 0);
	assert_int_equal(sock_bind(s, &any), -EADDRINUSE);
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, PEER_PORT), -EAGAIN); /* inet_autobind() */
	/* a freed port is found again */
	uint16_t port = local_port(last);
	assert_int_equal(sock_close(last), 0);
	assert_int_equal(sock_bind(s, &any), 0);
	assert_int_equal(local_port(s), port);
}

static void test_udp_bind_port_in_use_eaddrinuse(void **state)
{
	struct pt *t = *state;
	struct sock *b = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT), ours = sin_of(PT_US_IP, OUR_PORT);
	udp_bound(t, OUR_PORT);
	assert_int_equal(sock_bind(b, &any), -EADDRINUSE);
	assert_int_equal(sock_bind(b, &ours), -EADDRINUSE); /* the wildcard covers our address */
	any.sin_port = htons(OUR_PORT + 1);
	assert_int_equal(sock_bind(b, &any), 0); /* a failed bind left it unbound */
}

static void test_udp_bind_reuseaddr_on_both_allowed(void **state)
{
	struct pt *t = *state;
	struct sock *a = udp_new(t), *b = udp_new(t), *c = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT);
	assert_int_equal(set_int(a, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(set_int(b, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(get_int(b, SOL_SOCKET, SO_REUSEADDR), 1);
	assert_int_equal(sock_bind(a, &any), 0);
	assert_int_equal(sock_bind(b, &any), 0);
	assert_int_equal(sock_bind(c, &any), -EADDRINUSE); /* c did not ask */
}

static void test_udp_bind_reuseport_spreads_flows_stably(void **state)
{
	struct pt *t = *state;
	struct sock *a = udp_new(t), *b = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT);
	size_t na = 0, nb = 0;
	assert_int_equal(set_int(a, SOL_SOCKET, SO_REUSEPORT, 1), 0);
	assert_int_equal(set_int(b, SOL_SOCKET, SO_REUSEPORT, 1), 0);
	assert_int_equal(sock_bind(a, &any), 0);
	assert_int_equal(sock_bind(b, &any), 0);
	for (uint16_t i = 0; i < 32; i++) {
		char buf[4];
		pt_peer_udp(t, (uint16_t)(2000 + i), OUR_PORT, "x", 1);
		udp_bound(t, 0); /* taking an ephemeral port in between changes nothing */
		pt_peer_udp(t, (uint16_t)(2000 + i), OUR_PORT, "y", 1);
		/* both datagrams of one flow reach the same socket */
		struct sock *got = sock_rx_bytes(a) ? a : b;
		assert_int_equal(recv_from(got, buf, 4, 0, NULL), 1);
		assert_int_equal(recv_from(got, buf, 4, 0, NULL), 1);
		assert_int_equal(recv_from(got, buf, 4, 0, NULL), -EAGAIN);
		*(got == a ? &na : &nb) += 1;
	}
	assert_true(na > 0 && nb > 0);
}

static void test_udp_bind_other_address_eaddrnotavail(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	struct sockaddr_in a = sin_of(0xc6120009u, OUR_PORT);
	assert_int_equal(sock_bind(s, &a), -EADDRNOTAVAIL);
	a = sin_of(PT_US_IP, OUR_PORT);
	assert_int_equal(sock_bind(s, &a), 0);
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(ntohl(a.sin_addr.s_addr), PT_US_IP);
}

static void test_udp_bind_twice_einval(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct sockaddr_in a = sin_of(INADDR_ANY, OUR_PORT + 1);
	assert_int_equal(sock_bind(s, &a), -EINVAL);
}

static void test_udp_close_releases_port_and_queue(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "x", 1);
	assert_int_equal(t->spool->in_use, 1);
	assert_int_equal(sock_close(s), 0);
	assert_int_equal(t->spool->in_use, 0);
	udp_bound(t, OUR_PORT);
}

/* ---- connecting ------------------------------------------------------- */

static void test_udp_connect_sets_peer_and_local_address(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	struct sockaddr_in a;
	assert_int_equal(sock_peer(s, &a), -ENOTCONN);
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_peer(s, &a), 0);
	assert_int_equal(ntohl(a.sin_addr.s_addr), PT_PEER_IP);
	assert_int_equal(ntohs(a.sin_port), PEER_PORT);
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(ntohl(a.sin_addr.s_addr), PT_US_IP);
	assert_in_range(ntohs(a.sin_port), UDP_PORT_EPHEMERAL_LO, UDP_PORT_EPHEMERAL_HI);
	pt_step(t, 0);
	pt_expect_nothing(t); /* connecting sends nothing */
}

static void test_udp_connected_send_goes_to_peer(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(send_conn(s, "abc", 3), 3);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(r.ip.dst, PT_PEER_IP);
	assert_int_equal(u.dport, PEER_PORT);
}

static void test_udp_connected_sendto_other_address_allowed(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	/* no EISCONN on UDP: the address given wins for this datagram */
	assert_int_equal(send_to(s, "abc", 3, PT_PEER_IP, PEER_PORT + 1), 3);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	assert_int_equal(u.dport, PEER_PORT + 1);
}

static void test_udp_connected_drops_other_sources_with_port_unreachable(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	pt_peer_udp(t, PEER_PORT + 1, OUR_PORT, "x", 1);
	assert_int_equal(sock_rx_bytes(s), 0);
	assert_int_equal(sock_events(s) & EPOLLIN, 0);
	pt_expect_ip(t, &r); /* no socket takes it, as on Linux */
	assert_int_equal(r.l4[0], ICMP_DEST_UNREACH);
	assert_int_equal(r.l4[1], ICMP_UNREACH_PORT);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "y", 1);
	assert_int_equal(sock_rx_bytes(s), 1);
}

static void test_udp_connected_preferred_over_wildcard(void **state)
{
	struct pt *t = *state;
	struct sock *w = udp_new(t), *c = udp_new(t);
	struct sockaddr_in any = sin_of(INADDR_ANY, OUR_PORT);
	assert_int_equal(set_int(w, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(set_int(c, SOL_SOCKET, SO_REUSEADDR, 1), 0);
	assert_int_equal(sock_bind(c, &any), 0);
	connect_to(c, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_bind(w, &any), 0);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "x", 1);
	pt_peer_udp(t, PEER_PORT + 1, OUR_PORT, "y", 1);
	assert_int_equal(sock_rx_bytes(c), 1);
	assert_int_equal(sock_rx_bytes(w), 1);
	char buf[2];
	assert_int_equal(recv_from(c, buf, 2, 0, NULL), 1);
	assert_int_equal(buf[0], 'x');
	assert_int_equal(recv_from(w, buf, 2, 0, NULL), 1);
	assert_int_equal(buf[0], 'y');
}

static void test_udp_connect_af_unspec_disconnects_and_frees_implicit_port(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	struct sockaddr_in a = { .sin_family = AF_UNSPEC };
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_connect(s, &a), 0);
	assert_int_equal(sock_peer(s, &a), -ENOTCONN);
	/* as Linux: a port the socket did not bind itself goes back */
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(a.sin_port, 0);
	assert_int_equal(a.sin_addr.s_addr, 0);
	assert_int_equal(send_conn(s, "x", 1), -EDESTADDRREQ);
}

static void test_udp_disconnect_keeps_bound_port(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct sockaddr_in a = { .sin_family = AF_UNSPEC };
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_connect(s, &a), 0);
	assert_int_equal(local_port(s), OUR_PORT);
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(a.sin_addr.s_addr, 0); /* the address came from connect: reset */
	pt_peer_udp(t, PEER_PORT + 7, OUR_PORT, "x", 1); /* any source again */
	assert_int_equal(sock_rx_bytes(s), 1);
}

static void test_udp_connect_unroutable_enetunreach(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	struct sockaddr_in a = sin_of(0x0a000001u, PEER_PORT);
	assert_int_equal(sock_connect(s, &a), -ENETUNREACH);
	assert_int_equal(sock_peer(s, &a), -ENOTCONN);
	/* as Linux, the implicit bind came first and stays */
	assert_in_range(local_port(s), UDP_PORT_EPHEMERAL_LO, UDP_PORT_EPHEMERAL_HI);
	assert_int_equal(sock_name(s, &a), 0);
	assert_int_equal(a.sin_addr.s_addr, 0);
}

/* ---- ICMP errors ------------------------------------------------------ */

/* The peer answers our last datagram (in r) with destination unreachable. */
static void peer_unreach(struct pt *t, const struct pt_frame *r, uint8_t code)
{
	uint8_t f[256];
	struct icmp_hdr ic = { .type = ICMP_DEST_UNREACH, .code = code };
	uint16_t qlen = (uint16_t)(r->ip.total_len < 28 + 8 ? r->ip.total_len : 28 + 8);
	memcpy(f + 34 + 8, r->raw + 14, qlen);
	icmp_hdr_emit(f + 34, 8u + qlen, &ic);
	pt_send_frame(t, f, pt_build_ip(f, PT_PEER_IP, PT_US_IP, IPV4_PROTO_ICMP, (uint16_t)(8 + qlen)));
	pt_step(t, 0);
}

static void test_udp_connected_port_unreachable_econnrefused_on_next_send(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	notified = 0;
	sock_set_notify(s, count_notify, NULL);
	assert_int_equal(send_conn(s, "x", 1), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	peer_unreach(t, &r, ICMP_UNREACH_PORT);
	assert_int_equal(notified, 1);
	assert_true(sock_events(s) & EPOLLERR);
	assert_int_equal(send_conn(s, "x", 1), -ECONNREFUSED);
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
	assert_int_equal(send_conn(s, "x", 1), 1); /* reported once */
	assert_int_equal(pt_counter(t, ICMP_ERRORS_RX), 1);
}

static void test_udp_connected_port_unreachable_econnrefused_on_recv(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	char buf[4];
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(send_conn(s, "x", 1), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "d", 1);
	peer_unreach(t, &r, ICMP_UNREACH_PORT);
	/* the error comes before queued data, as in Linux's __skb_recv_udp() */
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), -ECONNREFUSED);
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), 1);
}

static void test_udp_so_error_reads_and_clears_pending_error(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(send_conn(s, "x", 1), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	peer_unreach(t, &r, ICMP_UNREACH_PORT);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_ERROR), 0);
	assert_int_equal(sock_take_error(s), 0);
}

static void test_udp_unconnected_ignores_port_unreachable(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, PEER_PORT), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	peer_unreach(t, &r, ICMP_UNREACH_PORT);
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
	assert_int_equal(send_to(s, "x", 1, PT_PEER_IP, PEER_PORT), 1);
	assert_int_equal(pt_counter(t, ICMP_ERRORS_RX), 1);
}

static void test_udp_connected_ignores_soft_icmp_error(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	struct pt_frame r;
	struct udp_hdr u;
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(send_conn(s, "x", 1), 1);
	pt_step(t, 0);
	pt_expect_udp(t, &r, &u);
	peer_unreach(t, &r, ICMP_UNREACH_HOST); /* soft (RFC 1122 §4.2.3.9) */
	assert_int_equal(sock_events(s) & EPOLLERR, 0);
	assert_int_equal(send_conn(s, "x", 1), 1);
}

/* ---- options, shutdown, listing --------------------------------------- */

static void test_udp_so_rcvbuf_doubled_and_clamped_as_linux(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_RCVBUF), UDP_RMEM_DEFAULT);
	assert_int_equal(set_int(s, SOL_SOCKET, SO_RCVBUF, 10000), 0);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_RCVBUF), 20000);
	assert_int_equal(set_int(s, SOL_SOCKET, SO_RCVBUF, 1 << 30), 0);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_RCVBUF), 2 * UDP_RMEM_MAX);
	assert_int_equal(set_int(s, SOL_SOCKET, SO_RCVBUF, -1), 0); /* as unsigned: the most */
	assert_int_equal(get_int(s, SOL_SOCKET, SO_RCVBUF), 2 * UDP_RMEM_MAX);
	assert_int_equal(set_int(s, SOL_SOCKET, SO_SNDBUF, 1), 0);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_SNDBUF), UDP_WMEM_MIN);
}

static void test_udp_so_type_and_protocol_reported(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
	assert_int_equal(get_int(s, SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
	assert_int_equal(sock_type(s), SOCK_DGRAM);
	assert_ptr_equal(sock_stack(s), t->st);
}

static void test_udp_getopt_short_buffer_gets_prefix(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	uint8_t v[8] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa };
	socklen_t len = 1;
	assert_int_equal(sock_getopt(s, SOL_SOCKET, SO_TYPE, v, &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(v[0], SOCK_DGRAM);
	assert_int_equal(v[1], 0xaa);
	len = 8;
	assert_int_equal(sock_getopt(s, SOL_SOCKET, SO_TYPE, v, &len), 0);
	assert_int_equal(len, sizeof(int));
}

static void test_udp_setopt_short_value_einval(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	char c = 1;
	assert_int_equal(sock_setopt(s, SOL_SOCKET, SO_REUSEADDR, &c, 1), -EINVAL);
}

static void test_udp_unknown_option_enoprotoopt(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_new(t);
	int v = 1;
	socklen_t len = sizeof(v);
	assert_int_equal(sock_setopt(s, IPPROTO_TCP, 1 /* TCP_NODELAY */, &v, sizeof(v)), -ENOPROTOOPT);
	assert_int_equal(sock_getopt(s, IPPROTO_TCP, 1, &v, &len), -ENOPROTOOPT);
	assert_int_equal(sock_setopt(s, SOL_SOCKET, SO_PEERCRED, &v, sizeof(v)), -ENOPROTOOPT);
}

static void test_udp_shutdown_unconnected_enotconn_yet_wakes_reader(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	char buf[4];
	assert_int_equal(sock_shutdown(s, SHUT_RD), -ENOTCONN);
	/* Linux sets the flag all the same: a reader returns 0 at once */
	assert_true(sock_events(s) & EPOLLRDHUP);
	assert_int_equal(recv_from(s, buf, 4, 0, NULL), 0);
}

static void test_udp_shutdown_both_reports_hangup(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT);
	connect_to(s, PT_PEER_IP, PEER_PORT);
	assert_int_equal(sock_events(s) & EPOLLHUP, 0);
	assert_int_equal(sock_shutdown(s, SHUT_RDWR), 0);
	assert_int_equal(sock_events(s) & (EPOLLHUP | EPOLLIN | EPOLLRDHUP), EPOLLHUP | EPOLLIN | EPOLLRDHUP);
}

static void test_udp_listen_and_accept_eopnotsupp(void **state)
{
	struct pt *t = *state;
	struct sock *s = udp_bound(t, OUR_PORT), *o;
	assert_int_equal(sock_listen(s, 5), -EOPNOTSUPP);
	assert_int_equal(sock_accept(s, &o, NULL), -EOPNOTSUPP);
}

struct seen {
	int n;
	struct sock_info si[4];
};

static void collect(const struct sock_info *si, void *arg)
{
	struct seen *s = arg;
	if (s->n < 4)
		s->si[s->n] = *si;
	s->n++;
}

static void test_udp_foreach_lists_every_socket(void **state)
{
	struct pt *t = *state;
	struct seen seen = { 0 };
	struct sock *c = udp_bound(t, OUR_PORT);
	udp_new(t); /* unbound: listed too */
	connect_to(c, PT_PEER_IP, PEER_PORT);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "abcd", 4);
	assert_int_equal(send_flags(c, "held", MSG_MORE, PT_PEER_IP, PEER_PORT), 4);
	stack_foreach_sock(t->st, collect, &seen);
	assert_int_equal(seen.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(seen.si[i].type, SOCK_DGRAM);
		assert_int_equal(seen.si[i].state, -1);
	}
	struct sock_info *ci = ntohs(seen.si[0].local.sin_port) == OUR_PORT ? &seen.si[0] : &seen.si[1];
	assert_int_equal(ntohs(ci->local.sin_port), OUR_PORT);
	assert_int_equal(ntohl(ci->peer.sin_addr.s_addr), PT_PEER_IP);
	assert_int_equal(ntohs(ci->peer.sin_port), PEER_PORT);
	assert_int_equal(ci->rcv_queue, 4);
	assert_int_equal(ci->snd_queue, 4); /* held by MSG_MORE */
}

static void test_udp_stack_destroy_frees_open_sockets(void **state)
{
	struct pt *t = *state;
	/* left open with queued and held data: teardown's leak checks (and ASan) see them freed */
	udp_bound(t, OUR_PORT);
	struct sock *c = udp_new(t);
	pt_peer_udp(t, PEER_PORT, OUR_PORT, "x", 1);
	assert_int_equal(send_flags(c, "ab", MSG_MORE, PT_PEER_IP, PEER_PORT), 2);
	assert_int_equal(t->spool->in_use, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_udp_datagram_to_bound_port_queued_with_source),
		T(test_udp_recv_empty_queue_returns_eagain),
		T(test_udp_datagram_to_closed_port_gets_port_unreachable),
		T(test_udp_bad_checksum_dropped_and_counted),
		T(test_udp_bad_checksum_to_closed_port_gets_no_icmp),
		T(test_udp_zero_checksum_accepted_as_none),
		T(test_udp_device_checked_checksum_not_verified_again),
		T(test_udp_device_bad_checksum_dropped),
		T(test_udp_length_beyond_packet_dropped),
		T(test_udp_length_below_header_dropped),
		T(test_udp_shorter_than_header_dropped),
		T(test_udp_length_shorter_than_packet_cuts_payload),
		T(test_udp_recv_truncates_to_buffer_and_discards_rest),
		T(test_udp_recv_msg_trunc_returns_datagram_length),
		T(test_udp_recv_peek_leaves_datagram_queued),
		T(test_udp_zero_length_datagram_received_as_empty),
		T(test_udp_fionread_is_size_of_next_datagram),
		T(test_udp_recv_scatters_over_iovecs),
		T(test_udp_rcvbuf_full_drops_and_counts),
		T(test_udp_broadcast_reaches_every_wildcard_socket),
		T(test_udp_broadcast_copy_without_buffer_counted),
		T(test_udp_broadcast_to_closed_port_not_answered),
		T(test_udp_datagram_arrival_wakes_waiter),
		T(test_udp_last_datagram_read_wakes_waiter),
		T(test_udp_damaged_frames_dropped_or_delivered_intact),
		T(test_udp_sendto_emits_exact_datagram),
		T(test_udp_send_offload_leaves_pseudo_header_sum),
		T(test_udp_send_unbound_takes_ephemeral_port),
		T(test_udp_send_unconnected_without_address_edestaddrreq),
		T(test_udp_send_up_to_mtu_one_packet),
		T(test_udp_send_above_65507_emsgsize),
		T(test_udp_send_zero_length_sends_empty_datagram),
		T(test_udp_sendto_port_zero_einval),
		T(test_udp_send_unroutable_enetunreach),
		T(test_udp_send_gathers_iovecs),
		T(test_udp_send_null_buffer_efault),
		T(test_udp_send_oob_eopnotsupp),
		T(test_udp_broadcast_without_so_broadcast_eacces),
		T(test_udp_broadcast_with_so_broadcast_sent_to_all),
		T(test_udp_send_after_shut_wr_epipe),
		T(test_udp_ip_tos_sets_outgoing_tos),
		T(test_udp_msg_more_joins_sends_into_one_datagram),
		T(test_udp_cork_option_holds_until_uncorked),
		T(test_udp_msg_more_beyond_mtu_drops_held_data),
		T(test_udp_close_with_held_datagram_frees_it),
		T(test_udp_bind_port_zero_takes_ephemeral_port),
		T(test_udp_ephemeral_ports_exhausted),
		T(test_udp_bind_port_in_use_eaddrinuse),
		T(test_udp_bind_reuseaddr_on_both_allowed),
		T(test_udp_bind_reuseport_spreads_flows_stably),
		T(test_udp_bind_other_address_eaddrnotavail),
		T(test_udp_bind_twice_einval),
		T(test_udp_close_releases_port_and_queue),
		T(test_udp_connect_sets_peer_and_local_address),
		T(test_udp_connected_send_goes_to_peer),
		T(test_udp_connected_sendto_other_address_allowed),
		T(test_udp_connected_drops_other_sources_with_port_unreachable),
		T(test_udp_connected_preferred_over_wildcard),
		T(test_udp_connect_af_unspec_disconnects_and_frees_implicit_port),
		T(test_udp_disconnect_keeps_bound_port),
		T(test_udp_connect_unroutable_enetunreach),
		T(test_udp_connected_port_unreachable_econnrefused_on_next_send),
		T(test_udp_connected_port_unreachable_econnrefused_on_recv),
		T(test_udp_so_error_reads_and_clears_pending_error),
		T(test_udp_unconnected_ignores_port_unreachable),
		T(test_udp_connected_ignores_soft_icmp_error),
		T(test_udp_so_rcvbuf_doubled_and_clamped_as_linux),
		T(test_udp_so_type_and_protocol_reported),
		T(test_udp_getopt_short_buffer_gets_prefix),
		T(test_udp_setopt_short_value_einval),
		T(test_udp_unknown_option_enoprotoopt),
		T(test_udp_shutdown_unconnected_enotconn_yet_wakes_reader),
		T(test_udp_shutdown_both_reports_hangup),
		T(test_udp_listen_and_accept_eopnotsupp),
		T(test_udp_foreach_lists_every_socket),
		T(test_udp_stack_destroy_frees_open_sockets),
		T(test_udp_frames_the_device_refuses_go_out_later),
	};
	return cmocka_run_group_tests_name("udp", tests, NULL, NULL);
}
