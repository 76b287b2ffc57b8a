/* IPv4 fragments, both ways. In: reassembly in any order, into one buffer
 * or (larger than a buffer) a chain UDP reads across, with the checks Linux
 * makes (overlaps discard the datagram, duplicates only themselves,
 * malformed fragments, a 30 s limit, bounded slots). Out: a UDP datagram
 * above the MTU leaves as fragments a receiver puts back together. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../lib/pt.h"
#include "sock.h"
#include "wire/cksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

#define PORT 7000
#define PEER_PORT 4000

static uint8_t full[70000]; /* the whole datagram as one frame: IP at +14, UDP at +34 */

static void reseal(uint8_t *f)
{
	wr16(f + 24, 0);
	wr16(f + 24, cksum(f + 14, 20));
}

/* A UDP datagram of n payload bytes (a pattern) with IP id `id`; returns
 * the UDP length (8 + n). */
static uint32_t dgram(uint32_t n, uint16_t id)
{
	static uint8_t pay[65536];
	for (uint32_t i = 0; i < n; i++)
		pay[i] = (uint8_t)(i * 13 + id);
	pt_build_udp(full, PT_PEER_IP, PEER_PORT, PT_US_IP, PORT, pay, (uint16_t)n);
	wr16(full + 18, id);
	reseal(full);
	return 8 + n;
}

/* Send bytes [off, off + n) of the IP payload of `full` as one fragment. */
static void frag(struct pt *t, uint32_t off, uint32_t n, int more)
{
	static uint8_t f[2048];
	memcpy(f, full, 34);
	memcpy(f + 34, full + 34 + off, n);
	wr16(f + 16, (uint16_t)(20 + n));
	wr16(f + 20, (uint16_t)((more ? IPV4_FLAG_MF : 0) | (off / 8)));
	reseal(f);
	pt_send_frame(t, f, 34 + n);
	pt_step(t, 0);
}

static struct sock *bound(struct pt *t)
{
	return pt_udp_bound(t, PORT);
}

static ssize_t rcv(struct sock *s, void *b, size_t n, int flags)
{
	struct iovec v = { .iov_base = b, .iov_len = n };
	return sock_recv(s, &v, 1, flags, NULL);
}

static void test_frag_any_order_reassembled(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	uint8_t b[64];
	dgram(40, 7); /* 48 UDP bytes: fragments of 16 */
	frag(t, 32, 16, 0);
	frag(t, 0, 16, 1);
	assert_int_equal(sock_rx_bytes(s), 0);
	frag(t, 16, 16, 1);
	assert_int_equal(sock_rx_bytes(s), 40);
	assert_int_equal(rcv(s, b, sizeof(b), 0), 40);
	assert_memory_equal(b, full + 42, 40);
	assert_int_equal(pt_counter(t, IPV4_FRAGS_RX), 3);
	assert_int_equal(pt_counter(t, IPV4_REASSEMBLED), 1);
	assert_int_equal(pt_counter(t, UDP_RX_DATAGRAMS), 1);
	pt_expect_nothing(t);
	sock_close(s);
}

/* 5000 bytes: larger than a buffer, read across the fragments' buffers */
static void test_frag_large_datagram_read_whole(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	static uint8_t b[6000], c[6000];
	struct iovec v[3] = { { b, 100 }, { b + 100, 1777 }, { b + 1877, 4123 } };
	uint32_t n = dgram(5000, 8);
	for (int k = 3; k >= 0; k--)
		frag(t, (uint32_t)k * 1480, k == 3 ? n - 3 * 1480 : 1480, k < 3);
	assert_int_equal(pt_counter(t, IPV4_REASSEMBLED), 1);
	assert_int_equal(sock_rx_bytes(s), 5000);
	assert_int_equal(rcv(s, c, 10, MSG_PEEK | MSG_TRUNC), 5000);
	assert_memory_equal(c, full + 42, 10);
	assert_int_equal(sock_recv(s, v, 3, 0, NULL), 5000);
	assert_memory_equal(b, full + 42, 5000);
	assert_int_equal(sock_rx_bytes(s), 0);
	/* and one cut short by a small buffer: the rest is gone with it */
	dgram(3000, 9);
	frag(t, 0, 1480, 1);
	frag(t, 1480, 1480, 1);
	frag(t, 2960, 48, 0);
	assert_int_equal(rcv(s, c, 2000, 0), 2000);
	assert_memory_equal(c, full + 42, 2000);
	assert_int_equal(rcv(s, c, sizeof(c), 0), -EAGAIN);
	sock_close(s);
}

static void test_frag_bad_udp_checksum_dropped(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	uint32_t n = dgram(5000, 10);
	full[34 + 2000] ^= 0x40; /* payload changed under the UDP checksum */
	frag(t, 0, 1480, 1);
	frag(t, 1480, 1480, 1);
	frag(t, 2960, 1480, 1);
	frag(t, 4440, n - 4440, 0);
	assert_int_equal(pt_counter(t, IPV4_REASSEMBLED), 1);
	assert_int_equal(pt_counter(t, DROP_UDP_CKSUM), 1);
	assert_int_equal(sock_rx_bytes(s), 0);
	sock_close(s);
}

/* Linux since 4.19: an overlap discards the whole datagram */
static void test_frag_overlap_discards_datagram(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	dgram(40, 11);
	frag(t, 0, 16, 1);
	frag(t, 8, 16, 1);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_OVERLAP), 2);
	frag(t, 16, 16, 1);
	frag(t, 32, 16, 0);
	assert_int_equal(sock_rx_bytes(s), 0);
	assert_int_equal(pt_counter(t, IPV4_REASSEMBLED), 0);
	/* a second last fragment that says another length: the same */
	dgram(40, 12);
	frag(t, 32, 16, 0);
	frag(t, 16, 16, 0);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_OVERLAP), 4);
	/* data beyond the end the last fragment gave */
	dgram(40, 13);
	frag(t, 16, 16, 0);
	frag(t, 32, 16, 1);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_OVERLAP), 6);
	assert_int_equal(sock_rx_bytes(s), 0);
	sock_close(s);
}

static void test_frag_duplicate_dropped_alone(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	uint8_t b[64];
	dgram(40, 14);
	frag(t, 0, 16, 1);
	frag(t, 0, 16, 1);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_DUP), 1);
	frag(t, 16, 16, 1);
	frag(t, 32, 16, 0);
	assert_int_equal(rcv(s, b, sizeof(b), 0), 40);
	assert_memory_equal(b, full + 42, 40);
	sock_close(s);
}

static void test_frag_malformed_dropped(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	dgram(40, 15);
	frag(t, 0, 12, 1); /* not the last, yet not a multiple of 8 */
	assert_int_equal(pt_counter(t, DROP_IPV4_FRAGMENT), 1);
	dgram(1400, 16);
	frag(t, 65528, 16, 0); /* past 64 KiB */
	assert_int_equal(pt_counter(t, DROP_IPV4_FRAGMENT), 2);
	assert_int_equal(sock_rx_bytes(s), 0);
	sock_close(s);
}

/* An incomplete datagram is dropped after 30 s and its buffers go back */
static void test_frag_incomplete_times_out(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	uint32_t before = t->spool->in_use;
	dgram(40, 17);
	frag(t, 0, 16, 1);
	assert_int_equal(t->spool->in_use, before + 1);
	assert_true(stack_next_timer(t->st) <= t->now + 30000 * PT_MS);
	pt_step(t, 29000 * PT_MS);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_TIMEOUT), 0);
	pt_step(t, 1001 * PT_MS);
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_TIMEOUT), 1);
	assert_int_equal(t->spool->in_use, before);
	/* its late fragments start over, and never complete */
	frag(t, 16, 16, 1);
	frag(t, 32, 16, 0);
	assert_int_equal(sock_rx_bytes(s), 0);
	sock_close(s);
}

/* Slots are bounded: a ninth datagram in reassembly evicts the oldest */
static void test_frag_slots_full_evict_oldest(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	uint8_t b[64];
	for (uint16_t id = 100; id < 109; id++) {
		dgram(40, id);
		frag(t, 0, 16, 1);
		pt_step(t, PT_MS);
	}
	assert_int_equal(pt_counter(t, DROP_IPV4_REASS_FULL), 1);
	/* the oldest (id 100) is gone; the newest (id 108) completes */
	dgram(40, 100);
	frag(t, 16, 16, 1);
	frag(t, 32, 16, 0);
	assert_int_equal(sock_rx_bytes(s), 0);
	dgram(40, 108);
	frag(t, 16, 16, 1);
	frag(t, 32, 16, 0);
	assert_int_equal(rcv(s, b, sizeof(b), 0), 40);
	assert_memory_equal(b, full + 42, 40);
	sock_close(s);
}

/* Fragments of a reassembled echo request: answered, as a whole */
static void test_frag_echo_request_answered(void **state)
{
	struct pt *t = *state;
	struct pt_frame r;
	uint8_t *icmp = full + 34;
	memset(icmp, 0, 8 + 200);
	icmp[0] = 8; /* echo request */
	wr16(icmp + 4, 1);
	wr16(icmp + 6, 2);
	for (int i = 0; i < 200; i++)
		icmp[8 + i] = (uint8_t)i;
	wr16(icmp + 2, cksum(icmp, 208));
	pt_build_ip(full, PT_PEER_IP, PT_US_IP, 1, 208);
	frag(t, 104, 104, 0);
	frag(t, 0, 104, 1);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.proto, 1);
	assert_int_equal(r.l4_len, 208);
	assert_int_equal(r.l4[0], 0); /* echo reply */
	assert_memory_equal(r.l4 + 8, icmp + 8, 200);
}

/* An echo request of n data bytes in `full`; returns the ICMP length. */
static uint32_t echo_dgram(uint32_t n)
{
	uint8_t *icmp = full + 34;
	memset(icmp, 0, 8);
	icmp[0] = 8;
	wr16(icmp + 4, 7);
	wr16(icmp + 6, 9);
	for (uint32_t i = 0; i < n; i++)
		icmp[8 + i] = (uint8_t)(i * 3 + 1);
	wr16(icmp + 2, cksum(icmp, 8 + n));
	pt_build_ip(full, PT_PEER_IP, PT_US_IP, 1, (uint16_t)(8 + n));
	return 8 + n;
}

/* The reply's fragments, put back together: n bytes of ICMP at out */
static uint32_t echo_reply(struct pt *t, uint8_t *out, int nfrags)
{
	struct pt_frame r;
	uint32_t n = 0;
	for (int k = 0; k < nfrags; k++) {
		pt_expect_ip(t, &r);
		assert_int_equal(r.ip.proto, 1);
		assert_int_equal(r.ip.dst, PT_PEER_IP);
		assert_int_equal(!!(r.ip.frag & IPV4_FLAG_MF), k + 1 < nfrags);
		assert_int_equal(r.ip.frag & IPV4_FLAG_DF, 0);
		assert_true(r.ip.total_len <= 1500);
		memcpy(out + (r.ip.frag & IPV4_FRAG_OFF) * 8, r.l4, r.l4_len);
		n += r.l4_len;
	}
	pt_expect_nothing(t);
	return n;
}

/* ping -s 1700 and -s 5000: the request comes in fragments, the reply
 * (larger than the MTU) goes back in fragments, data and checksum intact:
 * from one buffer for the first, from the request's own for the second */
static void test_frag_large_echo_answered_in_fragments(void **state)
{
	struct pt *t = *state;
	static uint8_t out[8192];
	uint32_t n = echo_dgram(1700);
	frag(t, 0, 1480, 1);
	frag(t, 1480, n - 1480, 0);
	assert_int_equal(echo_reply(t, out, 2), n);
	assert_int_equal(out[0], 0);
	assert_int_equal(cksum(out, n), 0);
	assert_memory_equal(out + 4, full + 34 + 4, n - 4);
	n = echo_dgram(5000);
	for (int k = 3; k >= 0; k--)
		frag(t, (uint32_t)k * 1480, k == 3 ? n - 3 * 1480 : 1480, k < 3);
	assert_int_equal(echo_reply(t, out, 4), n);
	assert_int_equal(out[0], 0);
	assert_int_equal(cksum(out, n), 0);
	assert_memory_equal(out + 4, full + 34 + 4, n - 4);
	assert_int_equal(pt_counter(t, ICMP_ECHO_REPLIES), 2);
	/* one with a bad checksum: no reply, counted */
	n = echo_dgram(5000);
	full[34 + 3000] ^= 1;
	for (int k = 0; k < 4; k++)
		frag(t, (uint32_t)k * 1480, k == 3 ? n - 3 * 1480 : 1480, k < 3);
	pt_expect_nothing(t);
	assert_int_equal(pt_counter(t, DROP_ICMP_MALFORMED), 1);
}

/* Out: 4000 bytes leave as three fragments of one id, 1480-byte steps,
 * MF on all but the last, no DF; put together, the datagram checks. */
static void test_frag_udp_send_above_mtu_fragments(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	static uint8_t big[4000], got[4008];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT),
				 .sin_addr.s_addr = htonl(PT_PEER_IP) };
	struct iovec v[2] = { { big, 1001 }, { big + 1001, 2999 } }; /* an odd split */
	struct pt_frame r;
	uint16_t id = 0;
	uint32_t sum;
	for (int i = 0; i < 4000; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(sock_send(s, v, 2, 0, &a), 4000);
	pt_step(t, 0);
	for (int k = 0; k < 3; k++) {
		pt_expect_ip(t, &r);
		if (!k)
			id = r.ip.id;
		assert_int_equal(r.ip.id, id);
		assert_int_equal(r.ip.proto, IPV4_PROTO_UDP);
		assert_int_equal(r.ip.frag & IPV4_FRAG_OFF, k * 1480 / 8);
		assert_int_equal(!!(r.ip.frag & IPV4_FLAG_MF), k < 2);
		assert_int_equal(r.ip.frag & IPV4_FLAG_DF, 0);
		assert_int_equal(r.l4_len, k < 2 ? 1480 : 4008 - 2960);
		memcpy(got + k * 1480, r.l4, r.l4_len);
	}
	pt_expect_nothing(t);
	assert_int_equal(rd16(got + 4), 4008);
	sum = cksum_partial(got, 4008, cksum_pseudo_ipv4(PT_US_IP, PT_PEER_IP, IPV4_PROTO_UDP, 4008));
	assert_int_equal(cksum_fold(sum), 0);
	assert_memory_equal(got + 8, big, 4000);
	assert_int_equal(pt_counter(t, IPV4_FRAGS_TX), 3);
	assert_int_equal(pt_counter(t, UDP_TX_DATAGRAMS), 1);
	/* the largest datagram goes too; one byte more does not; MSG_MORE does not fragment */
	static uint8_t max[65507];
	v[0] = (struct iovec){ max, sizeof(max) };
	assert_int_equal(sock_send(s, v, 1, 0, &a), 65507);
	pt_step(t, 0);
	for (int k = 0; k < 45; k++)
		pt_expect_ip(t, &r);
	pt_expect_nothing(t);
	v[0].iov_len = 1473;
	assert_int_equal(sock_send(s, v, 1, MSG_MORE, &a), -EMSGSIZE);
	sock_close(s);
}

/* A router's "fragmentation needed" about one of our datagrams: the path
 * learns its MTU, so larger datagrams to that host leave in fragments that
 * fit it, and the connected socket hears EMSGSIZE once (as Linux) */
static void test_frag_udp_path_mtu_learned(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	static uint8_t big[1400], f[256];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT),
				 .sin_addr.s_addr = htonl(PT_PEER_IP) };
	struct iovec v = { big, sizeof(big) };
	struct icmp_hdr ic = { .type = ICMP_DEST_UNREACH, .code = ICMP_UNREACH_NEEDFRAG, .rest = 1000 };
	struct pt_frame r;
	assert_int_equal(sock_connect(s, &a), 0);
	assert_int_equal(sock_send(s, &v, 1, 0, NULL), 1400);
	pt_step(t, 0);
	pt_expect_ip(t, &r); /* one packet, DF */
	assert_true(r.ip.frag & IPV4_FLAG_DF);
	/* the router quotes its IP header and the first 8 bytes after it */
	memcpy(f + 34 + 8, r.raw + 14, 28);
	icmp_hdr_emit(f + 34, 8 + 28, &ic);
	pt_build_ip(f, 0xc6120001u, PT_US_IP, 1, 8 + 28);
	pt_send_frame(t, f, 34 + 8 + 28);
	pt_step(t, 0);
	assert_int_equal(pt_counter(t, ICMP_PMTU_LEARNED), 1);
	assert_int_equal(sock_send(s, &v, 1, 0, NULL), -EMSGSIZE); /* the error, once */
	assert_int_equal(sock_send(s, &v, 1, 0, NULL), 1400);
	pt_step(t, 0);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.total_len, 20 + 976); /* 980 rounded down to 8 bytes */
	assert_true(r.ip.frag & IPV4_FLAG_MF);
	pt_expect_ip(t, &r);
	assert_int_equal(r.ip.total_len, 20 + 1408 - 976);
	pt_expect_nothing(t);
	sock_close(s);
}

/* IP_MTU_DISCOVER as Linux: WANT by default (DF, fragments above the
 * MTU), DO and PROBE never fragment (EMSGSIZE), DONT clears DF */
static void test_frag_ip_mtu_discover(void **state)
{
	struct pt *t = *state;
	struct sock *s = bound(t);
	static uint8_t big[1473];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT),
				 .sin_addr.s_addr = htonl(PT_PEER_IP) };
	struct iovec v = { big, sizeof(big) };
	struct pt_frame r;
	int val = -1;
	socklen_t len = sizeof(val);
	assert_int_equal(sock_getopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &val, &len), 0);
	assert_int_equal(val, IP_PMTUDISC_WANT);
	for (int mode = IP_PMTUDISC_DONT; mode <= IP_PMTUDISC_OMIT; mode++) {
		int frags = mode != IP_PMTUDISC_DO && mode != IP_PMTUDISC_PROBE;
		assert_int_equal(sock_setopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof(mode)), 0);
		len = sizeof(val);
		assert_int_equal(sock_getopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &val, &len), 0);
		assert_int_equal(val, mode);
		v.iov_len = 1473;
		assert_int_equal(sock_send(s, &v, 1, 0, &a), frags ? 1473 : -EMSGSIZE);
		pt_step(t, 0);
		if (frags) {
			pt_expect_ip(t, &r);
			pt_expect_ip(t, &r);
		}
		v.iov_len = 100;
		assert_int_equal(sock_send(s, &v, 1, 0, &a), 100);
		pt_step(t, 0);
		pt_expect_ip(t, &r);
		assert_int_equal(!!(r.ip.frag & IPV4_FLAG_DF),
				 mode == IP_PMTUDISC_WANT || mode == IP_PMTUDISC_DO || mode == IP_PMTUDISC_PROBE);
		pt_expect_nothing(t);
	}
	val = IP_PMTUDISC_OMIT + 1;
	assert_int_equal(sock_setopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &val, sizeof(val)), -EINVAL);
	val = -1;
	assert_int_equal(sock_setopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &val, sizeof(val)), -EINVAL);
	sock_close(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, pt_setup, pt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_frag_any_order_reassembled),
		T(test_frag_large_datagram_read_whole),
		T(test_frag_bad_udp_checksum_dropped),
		T(test_frag_overlap_discards_datagram),
		T(test_frag_duplicate_dropped_alone),
		T(test_frag_malformed_dropped),
		T(test_frag_incomplete_times_out),
		T(test_frag_slots_full_evict_oldest),
		T(test_frag_echo_request_answered),
		T(test_frag_large_echo_answered_in_fragments),
		T(test_frag_udp_send_above_mtu_fragments),
		T(test_frag_udp_path_mtu_learned),
		T(test_frag_ip_mtu_discover),
	};
	return cmocka_run_group_tests_name("ipv4_frag", tests, NULL, NULL);
}
