/* TCP test fixture: see tt.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "arp.h"
#include "tt.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

static struct tt tt_state_storage;

/* The link fields are the same storage under both names (see tt.h). */
_Static_assert(offsetof(struct tt, st) == offsetof(struct tt, pt.st) &&
		       offsetof(struct tt, now) == offsetof(struct tt, pt.now),
	       "struct tt's link fields overlay struct pt's");

static int tt_make(void **state, int pair, uint16_t mtu)
{
	struct tt *t = &tt_state_storage;
	struct pt_opts o = { .seed = 42, .nbufs = 8192, .mtu = mtu, .isn_secret = { 1, 2, 3 } };
	struct stack_cfg cfg = { .prefix_len = 24, .isn_secret = { 9, 2, 3 } };
	o.bufsize = mtu <= 1500 ? 2048 : PBUF_HEADROOM + mtu + 64u; /* a frame fits one buffer */
	memset(t, 0, sizeof(*t));
	if (pt_open(&t->pt, &o))
		return -1;
	if (pair) {
		cfg.addr.s_addr = htonl(TT_PEER_IP);
		if (stack_create(&t->st2, &cfg, t->peer, t->now) || arp_cache_add(t->st2, TT_US_IP, PT_US_MAC))
			return -1;
	}
	*state = t;
	return 0;
}

int tt_setup(void **state) { return tt_make(state, 0, 1500); }
int tt_setup_pair(void **state) { return tt_make(state, 1, 1500); }
int tt_setup_pair_jumbo(void **state) { return tt_make(state, 1, 9000); }

int tt_teardown(void **state)
{
	struct tt *t = *state;
	if (t->sock)
		sock_close(t->sock);
	if (t->sock2)
		sock_close(t->sock2);
	if (t->lsock)
		sock_close(t->lsock);
	if (t->st2)
		stack_destroy(t->st2);
	pt_close(&t->pt);
	return 0;
}

void tt_advance(struct tt *t, uint64_t ns)
{
	int work;
	t->now += ns;
	do {
		memlink_advance(t->ml, t->now);
		work = stack_poll(t->st, t->now);
		if (t->st2)
			work += stack_poll(t->st2, t->now);
		memlink_advance(t->ml, t->now);
	} while (work);
}

void tt_send(struct tt *t, struct tt_seg s)
{
	static uint8_t b[65536];
	struct tcp_hdr h = { .sport = s.sport ? s.sport : TT_RPORT, .dport = s.dport ? s.dport : TT_LPORT,
			     .seq = s.seq, .ack = s.ack, .flags = s.flags, .opt = s.opt };
	size_t hl = TCP_HDR_LEN + tcp_opts_len(&s.opt);
	uint32_t l4 = (uint32_t)hl + s.len;
	h.wnd = s.wnd0 ? 0 : s.wnd ? s.wnd : 65535;
	assert_true(l4 <= sizeof(b));
	tcp_hdr_emit(b, &h);
	if (s.len)
		memcpy(b + hl, s.data, s.len);
	tcp_cksum_set(b, l4, TT_PEER_IP, TT_US_IP, 0);
	tt_send_ip(t, TT_PEER_IP, IPV4_PROTO_TCP, b, l4);
}

void tt_send_ip(struct tt *t, uint32_t src, uint8_t proto, const uint8_t *l4, uint32_t len)
{
	static uint8_t f[14 + 20 + 65536];
	struct ipv4_hdr ip = { .ihl = 20, .total_len = (uint16_t)(20 + len), .ttl = 64, .frag = IPV4_FLAG_DF,
			       .proto = proto, .src = src, .dst = TT_US_IP };
	assert_true(len <= sizeof(f) - 34);
	pt_build_hdrs(f, &ip);
	memcpy(f + 34, l4, len);
	pt_send_frame(&t->pt, f, 34 + len);
	tt_advance(t, 0);
}

int tt_recv(struct tt *t, struct tt_seg *out)
{
	static uint8_t f[65536];
	uint32_t n;
	struct ipv4_hdr ip;
	struct tcp_hdr h;
	for (;;) { /* the next TCP segment, past ARP and other frames */
		n = pt_recv_frame(&t->pt, f, sizeof(f));
		if (n == 0)
			return 0;
		if (n >= 34 && rd16(f + 12) == ETH_TYPE_IPV4 && ipv4_hdr_parse(f + 14, n - 14, 1, &ip) == 0 &&
		    ip.proto == IPV4_PROTO_TCP)
			break;
	}
	assert_int_equal(ip.src, TT_US_IP);
	assert_int_equal(ip.dst, TT_PEER_IP);
	assert_int_equal(tcp_hdr_parse(f + 34, ip.total_len - 20u, ip.src, ip.dst, 1, &h), 0);
	memset(out, 0, sizeof(*out));
	out->flags = h.flags;
	out->seq = h.seq;
	out->ack = h.ack;
	out->wnd = h.wnd;
	out->sport = h.sport;
	out->dport = h.dport;
	out->opt = h.opt;
	out->len = ip.total_len - 20u - h.off;
	assert_true(out->len <= sizeof(t->rx));
	memcpy(t->rx, f + 34 + h.off, out->len);
	out->data = t->rx;
	return 1;
}

void tt_expect_nothing(struct tt *t)
{
	struct tt_seg s;
	if (tt_recv(t, &s))
		fail_msg("unexpected segment flags %#x seq %u ack %u len %u", s.flags, s.seq, s.ack, s.len);
}

struct tt_seg tt_expect(struct tt *t, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tt_seg s;
	if (!tt_recv(t, &s))
		fail_msg("no segment; wanted flags %#x seq %u ack %u", flags, seq, ack);
	if (s.flags != flags || s.seq != seq || s.ack != ack)
		fail_msg("got flags %#x seq %u ack %u; wanted flags %#x seq %u ack %u", s.flags, s.seq, s.ack,
			 flags, seq, ack);
	return s;
}

struct tcb *tt_tcb(struct tt *t)
{
	return tcp_lookup(t->st, IP_ADDR_V4_PTR(TT_US_IP), TT_LPORT, IP_ADDR_V4_PTR(TT_PEER_IP), TT_RPORT);
}

int tt_state(struct tt *t)
{
	struct tcb *c = tt_tcb(t);
	return c ? c->state : -1;
}

struct tcp_opts tt_ts(struct tt *t, uint32_t tsecr)
{
	struct tcp_opts o = { .has = TCP_OPTF_TS, .tsval = (uint32_t)(t->now / TT_MS), .tsecr = tsecr };
	return o;
}

void tt_listen(struct tt *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	assert_int_equal(sock_listen(t->lsock, 16), 0);
}

void tt_syn_received(struct tt *t)
{
	struct tt_seg s;
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS, .mss = 1460,
			      .wscale = 7, .tsval = (uint32_t)(t->now / TT_MS) };
	if (!t->lsock)
		tt_listen(t);
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = o));
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN | TCP_ACK);
	assert_int_equal(s.ack, TT_PEER_ISS + 1);
	t->iss = s.seq;
	assert_int_equal(tt_state(t), TCP_STATE_SYN_RECEIVED);
}

void tt_established(struct tt *t)
{
	struct sockaddr_in peer;
	tt_syn_received(t);
	tt_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1, .wnd = 502, .opt = tt_ts(t, 0)));
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(sock_accept(t->lsock, &t->sock, &peer), 0);
	assert_int_equal(ntohs(peer.sin_port), TT_RPORT);
}

void tt_connect(struct tt *t)
{
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->sock), 0);
	tt_connect_sock(t);
}

struct tt_seg tt_connect_sock(struct tt *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(TT_RPORT),
				 .sin_addr.s_addr = htonl(TT_PEER_IP) };
	struct sockaddr_in l = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS, .mss = 1460,
			      .wscale = 7 };
	struct tt_seg s, syn;
	assert_int_equal(sock_bind(t->sock, &l), 0);
	assert_int_equal(sock_connect(t->sock, &a), -EINPROGRESS);
	tt_advance(t, 0);
	assert_true(tt_recv(t, &s));
	assert_int_equal(s.flags, TCP_SYN);
	syn = s;
	t->iss = s.seq;
	o.tsval = (uint32_t)(t->now / TT_MS);
	o.tsecr = s.opt.tsval;
	tt_send(t, SEG(TCP_SYN | TCP_ACK, .seq = TT_PEER_ISS, .ack = t->iss + 1, .wnd = 64240, .opt = o,
		       .sport = TT_RPORT, .dport = TT_LPORT));
	tt_expect(t, TCP_ACK, t->iss + 1, TT_PEER_ISS + 1);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	return syn;
}

/* ---- two-stack transfers ---- */

#define TT_PERIOD 65521u
static uint8_t tt_pat[2][TT_PERIOD + 65536];
static int tt_pat_ready;

static void tt_pattern_init(void)
{
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < sizeof(tt_pat[0]); i++) {
			uint64_t x = (i % TT_PERIOD) * 0x9e3779b97f4a7c15ull + (uint64_t)s * 7919;
			tt_pat[s][i] = (uint8_t)(x >> 29 ^ x >> 47);
		}
	tt_pat_ready = 1;
}

void tt_side_pump(struct tt_side *d)
{
	static uint8_t buf[65536];
	ssize_t n;

	if (!tt_pat_ready)
		tt_pattern_init();
	while (d->sent < d->total) {
		size_t len = d->total - d->sent < 65536 ? (size_t)(d->total - d->sent) : 65536;
		struct iovec v = { .iov_base = &tt_pat[d->seed_tx][d->sent % TT_PERIOD], .iov_len = len };
		n = sock_send(d->s, &v, 1, 0, NULL);
		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		d->sent += (uint64_t)n;
	}
	if (d->sent == d->total && !d->shut) {
		assert_int_equal(sock_shutdown(d->s, SHUT_WR), 0);
		d->shut = 1;
	}
	for (;;) {
		struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
		n = sock_recv(d->s, &v, 1, 0, NULL);
		if (n == -EAGAIN)
			break;
		if (n == 0) {
			d->eof = 1;
			break;
		}
		assert_true(n > 0);
		if (memcmp(buf, &tt_pat[d->seed_rx][d->rcvd % TT_PERIOD], (size_t)n))
			fail_msg("data differs in bytes %llu..%llu", (unsigned long long)d->rcvd,
				 (unsigned long long)(d->rcvd + (uint64_t)n));
		d->rcvd += (uint64_t)n;
	}
}

int tt_sides_done(const struct tt_side *a, const struct tt_side *b)
{
	return a->eof && b->eof && a->rcvd == b->total && b->rcvd == a->total;
}

void tt_sides_run(struct tt *t, struct tt_side *a, struct tt_side *b, uint64_t limit_ns)
{
	uint64_t start = t->now;
	while (!tt_sides_done(a, b)) {
		tt_side_pump(a);
		tt_side_pump(b);
		tt_pair_step(t);
		if (t->now - start > limit_ns)
			fail_msg("stalled: a sent %llu rcvd %llu, b sent %llu rcvd %llu", (unsigned long long)a->sent,
				 (unsigned long long)a->rcvd, (unsigned long long)b->sent, (unsigned long long)b->rcvd);
	}
}

void tt_pair_step(struct tt *t)
{
	uint64_t dt = 50 * 1000ull;
	tt_advance(t, 0); /* flush what the socket calls queued */
	if (!memlink_in_flight(t->ml)) {
		uint64_t a = stack_next_timer(t->st), b = stack_next_timer(t->st2), n = a < b ? a : b;
		if (n != UINT64_MAX && n > t->now + dt)
			dt = n - t->now;
	}
	tt_advance(t, dt);
}
