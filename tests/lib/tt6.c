/* TCP and UDP over IPv6 on the TCP fixture: see tt6.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "arp.h"
#include "net6.h"
#include "tt6.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"

static struct tt tt6_storage;

static void tt6_cfg_hook(struct stack_cfg *cfg)
{
	pt6_cfg(cfg);
}

static int tt6_make(void **state, int pair)
{
	struct tt *t = &tt6_storage;
	struct pt_opts o = { .seed = 42, .nbufs = 8192, .bufsize = 2048, .mtu = 1500, .isn_secret = { 1, 2, 3 },
			     .cfg_hook = tt6_cfg_hook };
	struct stack_cfg cfg = { .prefix_len = 24, .isn_secret = { 9, 2, 3 }, .addr6 = PT6_PEER, .prefix6_len = 64,
				 .no_dad = 1 };
	memset(t, 0, sizeof(*t));
	if (pt_open(&t->pt, &o) || nd_neigh_set(t->st, &PT6_PEER, PT_PEER_MAC, 1))
		return -1;
	if (pair) {
		cfg.addr.s_addr = htonl(TT_PEER_IP);
		if (stack_create(&t->st2, &cfg, t->peer, t->now) || nd_neigh_set(t->st2, &PT6_US, PT_US_MAC, 1) ||
		    arp_cache_add(t->st2, TT_US_IP, PT_US_MAC))
			return -1;
	}
	*state = t;
	return 0;
}

int tt6_setup(void **state) { return tt6_make(state, 0); }
int tt6_setup_pair(void **state) { return tt6_make(state, 1); }

static uint16_t tt6_l4_cksum(const uint8_t *l4, uint32_t len, uint8_t proto, const struct in6_addr *src,
			     const struct in6_addr *dst)
{
	return cksum_fold(cksum_partial(l4, len, cksum_pseudo_ipv6(src, dst, proto, len)));
}

void tt6_send(struct tt *t, struct tt_seg s)
{
	static uint8_t f[54 + 65536];
	uint8_t *b = f + 54;
	struct tcp_hdr h = { .sport = s.sport ? s.sport : TT_RPORT, .dport = s.dport ? s.dport : TT_LPORT,
			     .seq = s.seq, .ack = s.ack, .flags = s.flags, .opt = s.opt };
	size_t hl = TCP_HDR_LEN + tcp_opts_len(&s.opt);
	uint32_t l4 = (uint32_t)hl + s.len;
	h.wnd = s.wnd0 ? 0 : s.wnd ? s.wnd : 65535;
	assert_true(l4 <= 65535);
	pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_TCP, (uint16_t)l4, 64);
	tcp_hdr_emit(b, &h);
	if (s.len)
		memcpy(b + hl, s.data, s.len);
	wr16(b + 16, 0);
	wr16(b + 16, tt6_l4_cksum(b, l4, IPV6_NH_TCP, &PT6_PEER, &PT6_US));
	pt_send_frame(&t->pt, f, 54 + l4);
	tt_advance(t, 0);
}

int tt6_recv(struct tt *t, struct tt_seg *out, struct ipv6_hdr *hdr)
{
	static uint8_t f[65536];
	struct ipv6_hdr ip;
	struct tcp_hdr h;
	uint32_t n;
	for (;;) { /* the next IPv6 TCP segment, past other frames */
		n = pt_recv_frame(&t->pt, f, sizeof(f));
		if (n == 0)
			return 0;
		if (n >= 54 && rd16(f + 12) == ETH_TYPE_IPV6 && ipv6_hdr_parse(f + 14, n - 14, &ip) == 0 &&
		    ip.nxt == IPV6_NH_TCP)
			break;
	}
	assert_int_equal(n, 54u + ip.plen);
	assert_memory_equal(&ip.src, &PT6_US, 16);
	assert_memory_equal(&ip.dst, &PT6_PEER, 16);
	assert_int_equal(ip.hlim, 64);
	assert_int_equal(tt6_l4_cksum(f + 54, ip.plen, IPV6_NH_TCP, &ip.src, &ip.dst), 0);
	assert_int_equal(tcp_hdr_parse(f + 54, ip.plen, 0, 0, 0, &h), 0);
	memset(out, 0, sizeof(*out));
	out->flags = h.flags;
	out->seq = h.seq;
	out->ack = h.ack;
	out->wnd = h.wnd;
	out->sport = h.sport;
	out->dport = h.dport;
	out->opt = h.opt;
	out->len = ip.plen - h.off;
	assert_true(out->len <= sizeof(t->rx));
	memcpy(t->rx, f + 54 + h.off, out->len);
	out->data = t->rx;
	if (hdr)
		*hdr = ip;
	return 1;
}

struct tt_seg tt6_expect(struct tt *t, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tt_seg s;
	if (!tt6_recv(t, &s, NULL))
		fail_msg("no segment; wanted flags %#x seq %u ack %u", flags, seq, ack);
	if (s.flags != flags || s.seq != seq || s.ack != ack)
		fail_msg("got flags %#x seq %u ack %u; wanted flags %#x seq %u ack %u", s.flags, s.seq, s.ack,
			 flags, seq, ack);
	return s;
}

void tt6_send_icmp6_error(struct tt *t, uint8_t type, uint8_t code, uint32_t param, const uint8_t *quote,
			  uint32_t qlen)
{
	static uint8_t f[1500];
	uint32_t len;
	if (qlen > 1280 - 48)
		qlen = 1280 - 48; /* RFC 4443 §2.4 (c): the error fits the minimum MTU */
	len = 8 + qlen;
	pt6_build_ip(f, NULL, &PT6_PEER, &PT6_US, IPV6_NH_ICMPV6, (uint16_t)len, 64);
	f[54] = type;
	f[55] = code;
	wr32(f + 58, param);
	memcpy(f + 62, quote, qlen);
	pt6_icmp6_cksum(f, 54, len, &PT6_PEER, &PT6_US);
	pt_send_frame(&t->pt, f, 54 + len);
	tt_advance(t, 0);
}

void tt6_listen(struct tt *t, int backlog, int v6only)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(TT_LPORT) };
	assert_int_equal(sock_create_af(t->st, AF_INET6, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_setopt(t->lsock, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)), 0);
	assert_int_equal(sock_bind(t->lsock, &a), 0);
	assert_int_equal(sock_listen(t->lsock, backlog), 0);
}

struct tt_seg tt6_established(struct tt *t)
{
	struct tcp_opts o = { .has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS, .mss = 1460,
			      .wscale = 7, .tsval = (uint32_t)(t->now / TT_MS) };
	struct sockaddr_in6 peer;
	struct tt_seg synack;
	if (!t->lsock)
		tt6_listen(t, 16, 0);
	tt6_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .wnd = 64240, .opt = o));
	synack = tt6_expect(t, TCP_SYN | TCP_ACK, tt6_tcb(t) ? tt6_tcb(t)->iss : 0, TT_PEER_ISS + 1);
	t->iss = synack.seq;
	tt6_send(t, SEG(TCP_ACK, .seq = TT_PEER_ISS + 1, .ack = t->iss + 1, .wnd = 502, .opt = tt_ts(t, 0)));
	assert_int_equal(tt6_tcb(t)->state, TCP_STATE_ESTABLISHED);
	assert_int_equal(sock_accept(t->lsock, &t->sock, &peer), 0);
	assert_int_equal(peer.sin6_family, AF_INET6);
	assert_memory_equal(&peer.sin6_addr, &PT6_PEER, 16);
	assert_int_equal(ntohs(peer.sin6_port), TT_RPORT);
	return synack;
}

struct tcb *tt6_tcb(struct tt *t)
{
	union ip_addr l = ip_addr_v6(&PT6_US), r = ip_addr_v6(&PT6_PEER);
	return tcp_lookup(t->st, &l, TT_LPORT, &r, TT_RPORT);
}
