/* libFuzzer target: a whole stack (198.18.0.2) on an in-memory link with a
 * fake clock, driven by a hostile peer (198.18.0.1) whose every move comes
 * from the fuzz input.
 *
 * Each input starts from the same state: a listener on port 80, a connection
 * on it from peer port 40000 (established through the handshake, with 30000
 * bytes of the stack's data queued, ten segments in flight), an active open from port 81 to peer
 * port 40001 waiting in SYN-SENT, and a UDP socket on port 5353. The input is
 * then read as a sequence of operations: TCP segments built field by field
 * (sequence and acknowledgement numbers near what the stack last sent, so
 * they land in or near the window; flags, windows, options and payload
 * lengths fuzzed; checksums correct unless a mutation says otherwise), UDP,
 * ICMP and ARP packets, raw frames, clock advances and application calls.
 *
 * What must hold (abort otherwise, which libFuzzer reports):
 *  - no crash, no sanitizer report, no livelock (stack_poll keeps finding
 *    work without the clock moving);
 *  - every frame the stack sends is well formed (checksums, lengths, source);
 *  - every payload byte is the one sent: the peer and the application both
 *    send pattern(seq) for each byte, so a byte read by the application or
 *    sent by the stack at sequence number s must equal pattern(s);
 *  - data the stack acknowledged is readable by the application (no loss);
 *  - a RST is never answered with a RST (RFC 9293 §3.10.7.1);
 *  - after stack_destroy, no pbuf is left in use in either pool. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "arp.h"
#include "net.h"
#include "netif/memlink.h"
#include "sock.h"
#include "stack_impl.h"
#include "tcp/tcb.h"
#include "wire/arp.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define MS 1000000ull
#define US_IP   0xc6120002u /* 198.18.0.2 */
#define PEER_IP 0xc6120001u /* 198.18.0.1 */
#define OTHER_IP 0xc6120003u
#define UDP_PORT 5353
#define NPORTS 7      /* peer ports the fuzzer talks from: PEER_PORTS */
#define NAPP 10       /* application sockets: 0 conn, 1..8 accepted, 9 active */
#define POLL_LIMIT 20000

static const uint8_t US_MAC[6] = { 2, 0, 0, 0, 0, 2 }, PEER_MAC[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

#define CHECK(c) do { if (!(c)) fuzz_fail(#c, __LINE__); } while (0)

static void fuzz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_stack:%d: check failed: %s\n", line, what);
	abort();
}

/* FUZZ_TRACE=1 in the environment: print every operation and every
 * segment both ways, to turn a crash input into a readable sequence. */
static int trace = -1;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

static void trace_flags(const char *dir, uint16_t sp, uint16_t dp, uint8_t fl, uint32_t seq, uint32_t ack,
			uint16_t wnd, uint32_t len, uint32_t optlen, const char *extra)
{
	static const char names[] = "FSRPAUEC";
	char fs[9];
	int n = 0;
	for (int i = 0; i < 8; i++)
		if (fl & (1u << i))
			fs[n++] = names[i];
	fs[n] = 0;
	fprintf(stderr, "  %s %u>%u [%s] seq %u ack %u wnd %u len %u optlen %u%s\n", dir, sp, dp, fs, seq, ack,
		wnd, len, optlen, extra);
}

/* The byte every sender puts at sequence number s. */
static inline uint8_t pattern(uint32_t s)
{
	return (uint8_t)((s * 2654435761u) >> 24);
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t g8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static uint16_t g16(struct in *in) { uint16_t v = g8(in); return (uint16_t)(v << 8 | g8(in)); }
static uint32_t g32(struct in *in) { uint32_t v = g16(in); return v << 16 | g16(in); }

/* what the fuzzer knows of one peer port's conversation, from the segments
 * the stack sent to it */
struct port {
	uint16_t rport, lport;
	int seen;            /* a segment came from the stack */
	uint32_t stk_nxt;    /* highest seq + len the stack sent */
	uint32_t stk_ack;    /* the last ack it sent: where our next byte goes */
	uint32_t stk_iss;    /* seq of its SYN, if seen */
	uint32_t stk_tsval;  /* its last timestamp */
	uint32_t peer_ack;   /* the highest ack we sent it */
	int fin_valid;       /* fin_ack holds the stack's first ACK of the peer's FIN */
	uint32_t fin_ack, fin_irs; /* ... on the connection with this IRS */
	int tainted;         /* a segment with a wrong data offset went in: its
				option bytes may have been taken as data */
	uint32_t peer_iss;
};

struct app {
	struct sock *s;
	uint64_t rd, wr;     /* bytes read, bytes queued */
	int nocheck;         /* SHUT_RD or an error: no loss check */
};

struct fz {
	struct memlink *ml;
	struct pbuf_pool *spool, *ppool;
	struct netif *snif, *peer;
	struct stack *st;
	uint64_t now;
	struct sock *lsock, *usock;
	struct app app[NAPP];
	struct port port[NPORTS];
	int sent_rst;        /* the current operation sent a RST */
	uint64_t frames_out; /* frames the stack sent */
	int gone;            /* stack destroyed: check frames, look nothing up */
	int draining;
};

static struct port *port_find(struct fz *f, uint16_t rport, uint16_t lport)
{
	for (int i = 0; i < NPORTS; i++)
		if (f->port[i].rport == rport && f->port[i].lport == lport)
			return &f->port[i];
	return NULL;
}

static struct app *app_find_tcb(struct fz *f, uint16_t rport, uint16_t lport)
{
	for (int i = 0; i < NAPP; i++) {
		struct tcb *t;
		if (!f->app[i].s)
			continue;
		t = f->app[i].s->proto;
		if (t && t->rport == rport && t->lport == lport && ip_addr_eq(&t->raddr, IP_ADDR_V4_PTR(PEER_IP)))
			return &f->app[i];
	}
	return NULL;
}


static int tcb_fin_received(const struct tcb *t)
{
	return t->state == TCP_STATE_CLOSE_WAIT || t->state == TCP_STATE_CLOSING ||
	       t->state == TCP_STATE_LAST_ACK || t->state == TCP_STATE_TIME_WAIT;
}

/* Data the stack acknowledges must be readable: what the application read
 * plus what is queued covers it. Once the peer's FIN is in, the data ends
 * where the first ACK of a FIN says, less the FIN: a peer that sends more
 * FINs past its first may see those acknowledged (RFC 9293 §3.10.7.4 step
 * 8 read literally; Linux ignores them), which is no data. */
static void app_check_acked(struct app *a, const struct tcb *t, const struct port *pt, uint32_t ack)
{
	uint32_t acked = ack - (t->irs + 1);
	uint64_t have = a->rd + sock_rx_bytes(a->s);
	if (tcb_fin_received(t)) {
		if (!pt->fin_valid || pt->fin_irs != t->irs)
			return;
		acked = pt->fin_ack - (t->irs + 1) - 1;
	}
	if ((int32_t)acked < 0)
		return;
	if (acked > have) {
		fprintf(stderr, "stack acked %u bytes: read %llu, queued %zu, state %d\n", acked,
			(unsigned long long)a->rd, sock_rx_bytes(a->s), t->state);
		CHECK(!"acknowledged data readable");
	}
}

/* A unicast address of another host: not zero, broadcast (limited or of
 * the subnet), multicast, loopback, or our own. */
static int ip_is_host(uint32_t a)
{
	return a != 0 && a < 0xe0000000u && (a >> 24) != 127 && a != US_IP && a != 0xc61200ffu &&
	       a != 0xc6120000u;
}

/* Check one frame the stack sent and learn from it. */
static void peer_take(struct fz *f, const uint8_t *b, uint32_t len)
{
	struct eth_hdr e;
	struct ipv4_hdr ip;
	struct tcp_hdr h;
	struct port *pt;
	uint32_t plen, end;

	CHECK(eth_hdr_parse(b, len, &e) == 0);
	CHECK(memcmp(e.src, US_MAC, 6) == 0);
	if (e.type == ETH_TYPE_ARP) {
		struct arp_pkt a;
		CHECK(arp_pkt_parse(b + 14, len - 14, &a) == 0);
		CHECK(a.spa == US_IP);
		if (a.op == ARP_OP_REQUEST && !ip_is_host(a.tpa)) { /* resolving only what it may send to */
			fprintf(stderr, "stack asked ARP for %08x\n", a.tpa);
			CHECK(!"ARP requests for one host only");
		}
		return;
	}
	CHECK(e.type == ETH_TYPE_IPV4);
	CHECK(ipv4_hdr_parse(b + 14, len - 14, 1, &ip) == 0);
	CHECK(ip.src == US_IP);
	if (ipv4_hdr_is_fragment(&ip)) {
		/* a datagram above the MTU leaves as fragments: UDP only, without
		 * DF, 8-byte multiples but the last, each within the MTU */
		CHECK(ip.proto == IPV4_PROTO_UDP && !(ip.frag & IPV4_FLAG_DF));
		CHECK(!(ip.frag & IPV4_FLAG_MF) || ((ip.total_len - ip.ihl) & 7) == 0);
		CHECK(ip.total_len <= 1500 && ip_is_host(ip.dst));
		return;
	}
	if (ip.total_len > 1500) {
		fprintf(stderr, "stack sent an IP packet of %u bytes (proto %u)\n", ip.total_len, ip.proto);
		if (ip.proto == IPV4_PROTO_TCP && tcp_hdr_parse(b + 14 + ip.ihl, ip.total_len - ip.ihl, ip.src,
								 ip.dst, 0, &h) == 0)
			trace_flags("stack->peer", h.sport, h.dport, h.flags, h.seq, h.ack, h.wnd,
				    ip.total_len - ip.ihl - h.off, h.off - 20u, "");
		/* FUZZ_XFAIL_MTU: a known open bug (tests/fuzz/crashes/README), noted
		 * and passed over so the run can look for others */
		if (!getenv("FUZZ_XFAIL_MTU"))
			CHECK(!"no packet larger than the MTU");
		fprintf(stderr, "XFAIL: a packet larger than the MTU (known, open)\n");
	}
	/* the application only sends to the peer: anything else answers a
	 * packet from a source no host has (RFC 1122 §3.2.1.3) */
	if (!ip_is_host(ip.dst)) {
		fprintf(stderr, "stack sent proto %u to %08x\n", ip.proto, ip.dst);
		CHECK(!"packets go to one host only");
	}
	if (ip.proto == IPV4_PROTO_ICMP) {
		struct icmp_hdr ic;
		CHECK(icmp_hdr_parse(b + 14 + ip.ihl, ip.total_len - ip.ihl, &ic) == 0);
		return;
	}
	if (ip.proto == IPV4_PROTO_UDP) {
		struct udp_hdr u;
		CHECK(udp_hdr_parse(b + 14 + ip.ihl, ip.total_len - ip.ihl, ip.src, ip.dst, 1, &u) == 0);
		return;
	}
	CHECK(ip.proto == IPV4_PROTO_TCP);
	CHECK(tcp_hdr_parse(b + 14 + ip.ihl, ip.total_len - ip.ihl, ip.src, ip.dst, 1, &h) == 0);
	plen = ip.total_len - ip.ihl - h.off;
	/* the application only ever sends pattern bytes */
	for (uint32_t i = 0; i < plen; i++)
		if (b[14 + ip.ihl + h.off + i] != pattern(h.seq + i)) {
			fprintf(stderr, "stack sent seq %u len %u: byte %u wrong\n", h.seq, plen, i);
			CHECK(!"payload sent as received");
		}
	if (trace)
		trace_flags("stack->peer", h.sport, h.dport, h.flags, h.seq, h.ack, h.wnd, plen, h.off - 20u, "");
	if ((h.flags & TCP_RST) && f->sent_rst)
		CHECK(!"a RST answered with a RST");
	if (f->gone || ip.dst != PEER_IP || !(pt = port_find(f, h.dport, h.sport)))
		return;
	if (plen && !(h.flags & TCP_SYN)) {
		/* data only from what the application queued */
		struct app *a = app_find_tcb(f, h.dport, h.sport);
		struct tcb *t = a ? a->s->proto : NULL;
		if (t && tcp_state_have_established(t->state) && seq_gt(h.seq + plen, t->iss + 1 + (uint32_t)a->wr)) {
			fprintf(stderr, "stack sent up to %u, the application wrote %llu from %u\n", h.seq + plen,
				(unsigned long long)a->wr, t->iss + 1);
			CHECK(!"only data the application wrote is sent");
		}
	}
	end = h.seq + plen + !!(h.flags & TCP_SYN) + !!(h.flags & TCP_FIN);
	if ((h.flags & TCP_SYN) && (!pt->seen || pt->stk_iss != h.seq))
		pt->stk_iss = pt->peer_ack = h.seq;
	if (!pt->seen || seq_gt(end, pt->stk_nxt))
		pt->stk_nxt = end;
	if ((h.flags & TCP_ACK) && !(h.flags & TCP_RST)) {
		struct app *a = app_find_tcb(f, h.dport, h.sport);
		struct tcb *t = a ? a->s->proto : NULL;
		struct tcb *c = tcp_lookup(f->st, IP_ADDR_V4_PTR(US_IP), h.sport, IP_ADDR_V4_PTR(PEER_IP), h.dport);
		pt->stk_ack = h.ack;
		if (c && tcb_fin_received(c) && (!pt->fin_valid || pt->fin_irs != c->irs)) {
			pt->fin_valid = 1;
			pt->fin_ack = h.ack;
			pt->fin_irs = c->irs;
		}
		if (t && tcp_state_have_established(t->state) && !a->nocheck && !t->so_error)
			app_check_acked(a, t, pt, h.ack);
	}
	if (h.opt.has & TCP_OPTF_TS)
		pt->stk_tsval = h.opt.tsval;
	pt->seen = 1;
}

static void peer_drain(struct fz *f)
{
	struct pbuf *p;
	while (netif_rx_burst(f->peer, &p, 1) == 1) {
		f->frames_out++;
		peer_take(f, p->data, p->len);
		pbuf_free(p);
	}
}

/* Advance the clock; deliver and poll until the stack is quiet. */
static void fz_advance(struct fz *f, uint64_t ns)
{
	int work, n = 0;
	if (ns)
		TRACE("clock +%llu us\n", (unsigned long long)(ns / 1000));
	f->now += ns;
	do {
		memlink_advance(f->ml, f->now);
		work = stack_poll(f->st, f->now);
		memlink_advance(f->ml, f->now);
		peer_drain(f);
		if (++n > POLL_LIMIT)
			CHECK(!"stack_poll never goes quiet: livelock");
	} while (work);
}

static void peer_send(struct fz *f, struct pbuf *p)
{
	CHECK(netif_tx_burst(f->peer, &p, 1) == 1);
	fz_advance(f, 0);
}

/* The sum of every drop counter (DROP_*). */
static uint64_t drops_total(struct fz *f)
{
	unsigned n;
	const uint64_t *v = stack_counter_values(f->st, &n);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		if (strncmp(stack_counter_name(i), "DROP_", 5) == 0)
			sum += v[i];
	return sum;
}

/* Send a frame that must be dropped: a checksum is wrong. Bad input is a
 * counted drop, and nothing answers it. */
static void peer_send_bad(struct fz *f, struct pbuf *p)
{
	unsigned n;
	const uint64_t *v = stack_counter_values(f->st, &n);
	uint64_t drops = drops_total(f), out = f->frames_out, frags = v[IPV4_FRAGS_RX];
	peer_send(f, p);
	/* a fragment's L4 checksum is checked once the datagram is whole: it
	 * waits for reassembly, and counts as a drop then or at its timeout */
	if (drops_total(f) == drops && v[IPV4_FRAGS_RX] == frags)
		CHECK(!"a frame with a bad checksum is counted as a drop");
	if (f->frames_out != out)
		CHECK(!"a frame with a bad checksum is not answered");
}

/* ---- frame building ---- */

struct ipdesc {
	uint32_t src, dst;
	uint8_t proto, ttl, tos;
	uint16_t frag;
	uint8_t ipopt[40], ipoptlen;
	const uint8_t *dmac;
	uint16_t etype;
};

static struct ipdesc ip_default(uint8_t proto)
{
	struct ipdesc d = { .src = PEER_IP, .dst = US_IP, .proto = proto, .ttl = 64, .frag = IPV4_FLAG_DF,
			    .dmac = US_MAC, .etype = ETH_TYPE_IPV4 };
	return d;
}

/* Ethernet + IPv4 header (with options) around l4len bytes; returns the
 * pbuf with the L4 part at *l4 still to be filled. */
static struct pbuf *frame_ip(struct fz *f, const struct ipdesc *d, uint32_t l4len, uint8_t **l4)
{
	struct pbuf *p = pbuf_alloc(f->ppool);
	struct eth_hdr e;
	uint32_t ihl = IPV4_HDR_LEN + d->ipoptlen;
	uint8_t *b;
	CHECK(p != NULL);
	b = pbuf_append(p, 14 + ihl + l4len);
	CHECK(b != NULL);
	memcpy(e.dst, d->dmac, 6);
	memcpy(e.src, PEER_MAC, 6);
	e.type = d->etype;
	eth_hdr_emit(b, &e);
	b += 14;
	b[0] = (uint8_t)(0x40 | ihl / 4);
	b[1] = d->tos;
	wr16(b + 2, (uint16_t)(ihl + l4len));
	wr16(b + 4, 0x1234);
	wr16(b + 6, d->frag);
	b[8] = d->ttl;
	b[9] = d->proto;
	wr16(b + 10, 0);
	wr32(b + 12, d->src);
	wr32(b + 16, d->dst);
	memcpy(b + 20, d->ipopt, d->ipoptlen);
	wr16(b + 10, cksum(b, ihl));
	*l4 = b + ihl;
	return p;
}

static void ip_recksum(uint8_t *ip)
{
	uint32_t ihl = (ip[0] & 15u) * 4;
	wr16(ip + 10, 0);
	wr16(ip + 10, cksum(ip, ihl));
}

/* Apply a mutation that leaves the frame otherwise well formed (checksums
 * recomputed) or breaks it in one place. */
static void frame_mutate(struct pbuf *p, uint8_t kind, uint32_t v, int l4cksum_off)
{
	uint8_t *ip = p->data + 14;
	uint32_t ihl = (ip[0] & 15u) * 4, tot = rd16(ip + 2);
	switch (kind) {
	case 1: /* bad L4 checksum */
		if (l4cksum_off >= 0)
			ip[ihl + (uint32_t)l4cksum_off] ^= (uint8_t)(1 + (v & 0x7f));
		break;
	case 2: /* IP total length off (header checksum right) */
		wr16(ip + 2, (uint16_t)(tot + (int16_t)(v & 0xffff) % 64));
		ip_recksum(ip);
		break;
	case 3: /* truncated frame */
		if (p->len > 0)
			pbuf_trim(p, v % p->len);
		break;
	case 4: /* padding past total length */
		if (pbuf_append(p, v % 64))
			memset(p->data + 14 + tot, (int)(v >> 8), v % 64);
		break;
	case 5: /* bad IP header checksum */
		ip[10] ^= (uint8_t)(1 + (v & 0x7f));
		break;
	case 6: /* IP version */
		ip[0] = (uint8_t)((ip[0] & 15) | (v & 0xf0));
		ip_recksum(ip);
		break;
	case 7: /* a byte anywhere */
		if (p->len > 0)
			p->data[v % p->len] ^= (uint8_t)(v >> 24 | 1);
		break;
	default:
		break;
	}
}

static uint32_t rel_rcv(struct in *in, const struct port *pt)
{
	uint8_t m = g8(in);
	uint32_t base = pt->seen ? pt->stk_ack : pt->peer_iss;
	switch (m & 7) {
	case 0: case 1: case 2: return base;                           /* in order */
	case 3: return base + g16(in);                                  /* ahead, in window or not */
	case 4: return base - g16(in);                                  /* old */
	case 5: return base + (uint32_t)(int8_t)g8(in);                 /* near */
	case 6: return g32(in);
	default: return base + (uint32_t)g8(in) * 1448u;                /* a full segment ahead */
	}
}

static uint32_t rel_snd(struct in *in, const struct port *pt)
{
	uint8_t m = g8(in);
	uint32_t nxt = pt->stk_nxt, una = pt->peer_ack;
	switch (m & 7) {
	case 0: return nxt;                                             /* everything */
	case 1: return una;                                             /* a duplicate ACK */
	case 2: return nxt - g16(in) % 4096;                            /* part */
	case 3: return nxt + (uint32_t)(int8_t)g8(in);                  /* near, maybe beyond */
	case 4: return pt->stk_iss + 1 + g16(in);                       /* from the start */
	case 5: return una + g16(in);                                   /* past our last ACK: SACK blocks */
	case 6: return g32(in);
	default: return nxt + g16(in);                                  /* beyond what was sent */
	}
}

/* Options: none, TS only, a structured set, or raw bytes. */
static uint8_t tcp_opts_build(struct fz *f, struct in *in, const struct port *pt, uint8_t *o)
{
	uint8_t m = g8(in), n;
	struct tcp_hdr h;
	uint8_t tmp[TCP_HDR_MAX];
	memset(&h, 0, sizeof(h));
	switch (m & 3) {
	case 0:
		return 0;
	case 1:
		h.opt.has = TCP_OPTF_TS;
		h.opt.tsval = (uint32_t)(f->now / MS) + (uint32_t)(int8_t)g8(in);
		h.opt.tsecr = pt->stk_tsval - (uint32_t)(g8(in) & 7);
		break;
	case 2:
		h.opt.has = (uint8_t)(g8(in) & 0x1f);
		h.opt.mss = g16(in);
		h.opt.wscale = g8(in) % 16;
		h.opt.tsval = (uint32_t)(f->now / MS) + (uint32_t)(int8_t)g8(in);
		h.opt.tsecr = pt->stk_tsval;
		h.opt.nsack = g8(in) % (TCP_SACK_MAX_BLOCKS + 1);
		for (int i = 0; i < h.opt.nsack; i++) {
			h.opt.sack[i].start = rel_snd(in, pt);
			h.opt.sack[i].end = h.opt.sack[i].start + (g8(in) & 1 ? g16(in) % 8192 : 1448u * (g8(in) % 4));
		}
		break;
	default:
		n = g8(in) % 41;
		for (uint8_t i = 0; i < n; i++)
			o[i] = g8(in);
		while (n % 4)
			o[n++] = TCP_OPT_EOL;
		return n;
	}
	n = (uint8_t)(tcp_hdr_emit(tmp, &h) - TCP_HDR_LEN);
	memcpy(o, tmp + TCP_HDR_LEN, n);
	return n;
}

struct segdesc {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd, urp;
	uint8_t opt[40], optlen;
	uint32_t plen;
	int off_override;    /* -1, or a data offset in words to write instead */
};

static void tcp_send(struct fz *f, const struct ipdesc *d, const struct segdesc *s, uint8_t mut, uint32_t mutv)
{
	uint32_t hl = TCP_HDR_LEN + s->optlen, l4 = hl + s->plen;
	uint32_t dseq = s->seq + !!(s->flags & TCP_SYN);
	uint8_t *b;
	struct pbuf *p = frame_ip(f, d, l4, &b);
	wr16(b, s->sport);
	wr16(b + 2, s->dport);
	wr32(b + 4, s->seq);
	wr32(b + 8, s->ack);
	b[12] = (uint8_t)((s->off_override >= 0 ? (unsigned)s->off_override : hl / 4) << 4);
	b[13] = s->flags;
	wr16(b + 14, s->wnd);
	wr16(b + 18, s->urp);
	memcpy(b + TCP_HDR_LEN, s->opt, s->optlen);
	for (uint32_t i = 0; i < s->plen; i++)
		b[hl + i] = pattern(dseq + i);
	tcp_cksum_set(b, l4, d->src, d->dst, 0);
	frame_mutate(p, mut, mutv, 16);
	if (s->off_override >= 0 && (uint32_t)s->off_override * 4 != hl) {
		struct port *pt = port_find(f, s->sport, s->dport);
		if (pt)
			pt->tainted = 1;
	}
	if ((s->flags & TCP_ACK) && d->src == PEER_IP) {
		struct port *pt = port_find(f, s->sport, s->dport);
		if (pt && seq_gt(s->ack, pt->peer_ack) && seq_leq(s->ack, pt->stk_nxt))
			pt->peer_ack = s->ack;
	}
	if (trace) {
		char extra[64];
		snprintf(extra, sizeof(extra), "%s%s mut %u/%#x", d->src != PEER_IP || d->dst != US_IP ? " odd-addr" : "",
			 d->ipoptlen || d->frag != IPV4_FLAG_DF ? " ipopt/frag" : "", mut, mutv);
		trace_flags("peer->stack", s->sport, s->dport, s->flags, s->seq, s->ack, s->wnd, s->plen, s->optlen,
			    extra);
	}
	f->sent_rst = !!(s->flags & TCP_RST);
	if (mut == 1 || mut == 5)
		peer_send_bad(f, p);
	else
		peer_send(f, p);
	f->sent_rst = 0;
}

/* How the IP layer of a fuzzed packet looks: mostly right, sometimes with
 * options, a fragment, an odd source or destination. */
static void ip_fuzz(struct in *in, struct ipdesc *d)
{
	uint8_t m = g8(in);
	switch (m & 15) {
	case 1: /* options */
		d->ipoptlen = (uint8_t)(4 * (g8(in) % 11));
		for (int i = 0; i < d->ipoptlen; i++)
			d->ipopt[i] = g8(in);
		break;
	case 2:
		d->frag = g16(in);
		break;
	case 3: {
		static const uint32_t srcs[] = { US_IP, 0xffffffffu, 0, 0xe0000001u, 0xc61200ffu, 0x7f000001u };
		d->src = srcs[g8(in) % 6];
		break;
	}
	case 4: {
		static const uint32_t dsts[] = { 0xffffffffu, 0xc61200ffu, OTHER_IP, 0xe0000001u, 0 };
		d->dst = dsts[g8(in) % 5];
		break;
	}
	case 5:
		d->dmac = BCAST;
		break;
	case 6:
		d->ttl = g8(in);
		d->tos = g8(in);
		break;
	case 7:
		d->src = g32(in);
		break;
	default:
		break;
	}
}

/* 40000: the established connection; 40001: the active open from 81;
 * 401xx: new connections to the listener; 40002: an active open from an
 * ephemeral port, made by an application operation */
static const uint16_t PEER_PORTS[NPORTS] = { 40000, 40001, 40100, 40101, 40102, 40103, 40002 };

static void op_tcp(struct fz *f, struct in *in, int inorder_data)
{
	struct ipdesc d = ip_default(IPV4_PROTO_TCP);
	struct segdesc s;
	uint8_t sel = g8(in), mut = 0;
	uint32_t mutv = 0, maxp;
	struct port *pt = &f->port[sel % NPORTS];
	memset(&s, 0, sizeof(s));
	s.off_override = -1;
	s.sport = pt->rport;
	s.dport = pt->lport;
	if (inorder_data) {
		/* the common case made cheap: in-order data, everything acked */
		pt = &f->port[0];
		s.sport = pt->rport;
		s.dport = pt->lport;
		s.flags = TCP_ACK | (sel & 0x80 ? TCP_PSH : 0) | (sel & 0x40 ? TCP_FIN : 0);
		s.seq = pt->stk_ack;
		s.ack = (sel & 0x20) ? pt->stk_nxt - g16(in) % 3000 : pt->stk_nxt;
		s.wnd = (sel & 0x10) ? g16(in) : 502;
		s.optlen = 12;
		s.opt[0] = TCP_OPT_NOP, s.opt[1] = TCP_OPT_NOP, s.opt[2] = TCP_OPT_TS, s.opt[3] = 10;
		wr32(s.opt + 4, (uint32_t)(f->now / MS));
		wr32(s.opt + 8, pt->stk_tsval);
		s.plen = g16(in) % 1449;
		tcp_send(f, &d, &s, 0, 0);
		return;
	}
	if (sel >= 0xf0) { /* any port pair */
		s.sport = g16(in);
		s.dport = (sel & 1) ? g16(in) : 80;
	}
	s.flags = g8(in);
	s.seq = rel_rcv(in, pt);
	s.ack = rel_snd(in, pt);
	s.wnd = g8(in) & 1 ? g16(in) : 502;
	if (s.flags & TCP_URG)
		s.urp = g16(in);
	s.optlen = tcp_opts_build(f, in, pt, s.opt);
	if (g8(in) == 0xff) {
		ip_fuzz(in, &d);
		mut = g8(in) & 7;
		mutv = g32(in);
		if (g8(in) & 1)
			s.off_override = g8(in) & 15;
	}
	maxp = 1500 - IPV4_HDR_LEN - d.ipoptlen - TCP_HDR_LEN - s.optlen;
	switch (g8(in) & 3) {
	case 0: s.plen = 0; break;
	case 1: s.plen = g8(in); break;
	case 2: s.plen = 1448 < maxp ? 1448 : maxp; break;
	default: s.plen = g16(in) % (maxp + 1); break;
	}
	tcp_send(f, &d, &s, mut, mutv);
}

static void op_udp(struct fz *f, struct in *in)
{
	struct ipdesc d = ip_default(IPV4_PROTO_UDP);
	uint8_t m = g8(in), *b;
	uint16_t sport = g16(in), dport = (m & 1) ? g16(in) : UDP_PORT;
	uint32_t plen = g16(in) % (1500 - 28 + 1);
	struct pbuf *p;
	struct udp_hdr u;
	if (m & 2)
		ip_fuzz(in, &d);
	if (plen > 1500u - 28 - d.ipoptlen)
		plen = 1500u - 28 - d.ipoptlen;
	p = frame_ip(f, &d, UDP_HDR_LEN + plen, &b);
	for (uint32_t i = 0; i < plen; i++)
		b[UDP_HDR_LEN + i] = g8(in);
	u.sport = sport;
	u.dport = dport;
	u.len = (uint16_t)(UDP_HDR_LEN + plen);
	udp_hdr_emit(b, &u, d.src, d.dst);
	if (m & 4)
		wr16(b + 6, 0); /* no checksum */
	if (m & 8) { /* a length field that disagrees with IP's */
		wr16(b + 4, g16(in));
		if (!(m & 4))
			udp_hdr_emit(b, &(struct udp_hdr){ sport, dport, rd16(b + 4), 0 }, d.src, d.dst);
	}
	frame_mutate(p, (m >> 4) & 7, g32(in), 6);
	/* a flipped checksum that became zero reads as "no checksum": valid */
	if (((m >> 4) & 7) == 5 || (((m >> 4) & 7) == 1 && rd16(b + 6) != 0))
		peer_send_bad(f, p);
	else
		peer_send(f, p);
}

/* ICMP: echo, or an error quoting one of our TCP/UDP flows (or junk). */
static void op_icmp(struct fz *f, struct in *in)
{
	struct ipdesc d = ip_default(IPV4_PROTO_ICMP);
	uint8_t m = g8(in), *b;
	struct icmp_hdr ic;
	uint8_t body[576];
	uint32_t blen = 0;
	struct pbuf *p;
	static const uint8_t types[] = { ICMP_DEST_UNREACH, ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST,
					 ICMP_TIME_EXCEEDED, ICMP_ECHO_REPLY, 4, 5, 12 };
	ic.type = (m & 0x80) ? g8(in) : types[m & 7];
	ic.code = (m & 0x40) ? g8(in) : ICMP_UNREACH_NEEDFRAG - (uint8_t)((m >> 3) & 1);
	ic.rest = g32(in);
	memset(body, 0, sizeof(body));
	if (m & 0x20) {
		blen = g16(in) % 560;
		for (uint32_t i = 0; i < blen; i++)
			body[i] = g8(in);
	} else {
		/* the stack's own packet quoted back: IPv4 + 8 (or more) bytes of
		 * TCP or UDP */
		struct port *pt = &f->port[g8(in) % NPORTS];
		int udp = g8(in) & 1;
		uint8_t qlen = (uint8_t)(8 + (g8(in) & 1) * 12);
		body[0] = 0x45;
		wr16(body + 2, (uint16_t)(20 + qlen + g8(in)));
		body[8] = 64;
		body[9] = udp ? IPV4_PROTO_UDP : IPV4_PROTO_TCP;
		wr32(body + 12, US_IP);
		wr32(body + 16, g8(in) & 1 ? g32(in) : PEER_IP);
		wr16(body + 10, cksum(body, 20));
		wr16(body + 20, udp ? UDP_PORT : pt->lport);
		wr16(body + 22, udp ? g16(in) : pt->rport);
		wr32(body + 24, rel_snd(in, pt));
		wr32(body + 28, pt->stk_ack);
		body[32] = 0x50;
		body[33] = TCP_ACK;
		blen = 20 + qlen;
	}
	if (m & 0x10)
		ip_fuzz(in, &d);
	p = frame_ip(f, &d, ICMP_HDR_LEN + blen, &b);
	memcpy(b + ICMP_HDR_LEN, body, blen);
	icmp_hdr_emit(b, ICMP_HDR_LEN + blen, &ic);
	if (g8(in) == 0xff) {
		uint8_t k = g8(in) & 7;
		frame_mutate(p, k, g32(in), 2);
		if (k == 1 || k == 5) {
			peer_send_bad(f, p);
			return;
		}
	}
	peer_send(f, p);
}

static void op_arp(struct fz *f, struct in *in)
{
	struct pbuf *p = pbuf_alloc(f->ppool);
	uint8_t m = g8(in), *b;
	struct eth_hdr e;
	struct arp_pkt a;
	static const uint32_t ips[] = { PEER_IP, US_IP, OTHER_IP, 0, 0xc61200ffu, 0xffffffffu };
	CHECK(p != NULL);
	b = pbuf_append(p, 14 + ARP_LEN);
	CHECK(b != NULL);
	memcpy(e.dst, (m & 1) ? BCAST : US_MAC, 6);
	memcpy(e.src, PEER_MAC, 6);
	e.type = ETH_TYPE_ARP;
	eth_hdr_emit(b, &e);
	a.op = (m & 2) ? ARP_OP_REPLY : ARP_OP_REQUEST;
	memcpy(a.sha, (m & 4) ? BCAST : PEER_MAC, 6);
	if (m & 8)
		a.sha[5] = g8(in);
	a.spa = ips[g8(in) % 6];
	memset(a.tha, 0, 6);
	a.tpa = ips[g8(in) % 6];
	arp_pkt_emit(b + 14, &a);
	if (m & 0x10)
		b[14 + g8(in) % ARP_LEN] = g8(in);
	peer_send(f, p);
}

static void op_raw(struct fz *f, struct in *in)
{
	struct pbuf *p = pbuf_alloc(f->ppool);
	uint8_t m = g8(in);
	uint32_t len = g16(in) % 1515;
	uint8_t *b;
	CHECK(p != NULL);
	b = pbuf_append(p, len);
	CHECK(b != NULL);
	for (uint32_t i = 0; i < len; i++)
		b[i] = g8(in);
	if ((m & 1) && len >= 14) { /* past the MAC filter */
		memcpy(b, US_MAC, 6);
		if (m & 2)
			wr16(b + 12, ETH_TYPE_IPV4);
	}
	peer_send(f, p);
}

static void op_clock(struct fz *f, struct in *in)
{
	uint8_t m = g8(in);
	uint64_t next;
	switch (m & 3) {
	case 0:
		fz_advance(f, (uint64_t)g16(in) * 1000);
		break;
	case 1:
		fz_advance(f, (uint64_t)g16(in) * MS);
		break;
	case 2:
		fz_advance(f, (uint64_t)g8(in) * 10000 * MS);
		break;
	default: /* to the next timer, whatever it is */
		next = stack_next_timer(f->st);
		if (next != UINT64_MAX && next > f->now)
			fz_advance(f, next - f->now);
		else
			fz_advance(f, MS);
		break;
	}
}

/* Read from an application socket and check every byte against the pattern. */
static void app_read(struct fz *f, struct app *a, size_t want, int flags)
{
	static uint8_t buf[70000];
	/* two pieces of one buffer: the byte order read stays checkable */
	size_t cut = want > 1 ? (want * 7) / 16 : want;
	struct iovec iov[2] = { { buf, cut }, { buf + cut, want - cut } };
	struct tcb *t = a->s->proto;
	ssize_t n = sock_recv(a->s, iov, 2, flags, NULL), check;
	struct port *pt;
	if (n < 0) {
		if (n != -EAGAIN)
			a->nocheck = 1;
		return;
	}
	CHECK(t != NULL);
	/* a tainted stream has nothing to check against */
	check = (pt = port_find(f, t->rport, t->lport)) && pt->tainted ? 0 : n;
	for (ssize_t i = 0; i < check; i++)
		if (buf[i] != pattern(t->irs + 1 + (uint32_t)(a->rd + (uint64_t)i))) {
			fprintf(stderr, "read at stream offset %llu (irs %u): byte %zd of %zd is %#x, not %#x\n",
				(unsigned long long)a->rd, t->irs, i, n, buf[i],
				pattern(t->irs + 1 + (uint32_t)(a->rd + (uint64_t)i)));
			CHECK(!"data read as the peer sent it");
		}
	if (!(flags & MSG_PEEK))
		a->rd += (uint64_t)n;
}

static void app_write(struct app *a, size_t len, int flags)
{
	static uint8_t buf[70000];
	size_t cut = len / 3;
	struct iovec iov[2] = { { buf, cut }, { buf + cut, len - cut } };
	struct tcb *t = a->s->proto;
	ssize_t n;
	if (!t)
		return;
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(t->iss + 1 + (uint32_t)(a->wr + i));
	n = sock_send(a->s, iov, 2, flags, NULL);
	if (n > 0)
		a->wr += (uint64_t)n;
}

static void app_close(struct app *a)
{
	if (a->s)
		sock_close(a->s);
	memset(a, 0, sizeof(*a));
}

static void op_app(struct fz *f, struct in *in)
{
	uint8_t m = g8(in);
	struct app *a = &f->app[g8(in) % NAPP];
	int v;
	if (!a->s && (m & 15) != 4 && (m & 15) != 12 && (m & 15) != 14)
		return;
	TRACE("app op %u on socket %d\n", m & 15, (int)(a - f->app));
	switch (m & 15) {
	case 0:
	case 1:
		app_read(f, a, g16(in) + 1, 0);
		break;
	case 2:
		app_read(f, a, g8(in) + 1, MSG_PEEK);
		break;
	case 3:
		app_write(a, g16(in) % 20000, (m & 0x10) ? MSG_MORE : 0);
		break;
	case 4: { /* accept into the first free slot */
		struct sockaddr_in peer;
		struct sock *s;
		if (!f->lsock || sock_accept(f->lsock, &s, &peer) != 0)
			break;
		for (int i = 1; i < NAPP - 1; i++)
			if (!f->app[i].s) {
				f->app[i].s = s;
				s = NULL;
				break;
			}
		if (s)
			sock_close(s);
		break;
	}
	case 5:
		sock_shutdown(a->s, SHUT_WR);
		break;
	case 6:
		sock_shutdown(a->s, SHUT_RD);
		a->nocheck = 1;
		break;
	case 7:
		app_close(a);
		break;
	case 8:
		v = g16(in);
		sock_setopt(a->s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
		break;
	case 9: {
		struct linger l = { 1, 0 };
		sock_setopt(a->s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		break;
	}
	case 10:
		v = 1;
		sock_setopt(a->s, IPPROTO_TCP, (m & 0x10) ? TCP_NODELAY : TCP_CORK, &v, sizeof(v));
		if (m & 0x20) {
			v = 0;
			sock_setopt(a->s, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
		}
		break;
	case 11:
		v = 1;
		sock_setopt(a->s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v));
		v = 1 + g8(in) % 8;
		sock_setopt(a->s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
		sock_setopt(a->s, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
		break;
	case 12: { /* UDP both ways; to the peer, a host to resolve, or off the subnet */
		static const uint32_t dsts[] = { PEER_IP, OTHER_IP, 0x08080808u, PEER_IP };
		static uint8_t buf[2048];
		struct iovec iov = { buf, g16(in) % sizeof(buf) };
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(g16(in)),
					  .sin_addr.s_addr = htonl(dsts[(m >> 5) & 3]) };
		struct sockaddr_in from;
		if (m & 0x10)
			sock_send(f->usock, &iov, 1, (m & 0x80) ? MSG_MORE : 0, &to);
		else
			sock_recv(f->usock, &iov, 1, ((m & 0x20) ? MSG_PEEK : 0) | ((m & 0x40) ? MSG_TRUNC : 0),
				  &from);
		break;
	}
	case 14: { /* an active open from an ephemeral port to 40002 */
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(40002),
					  .sin_addr.s_addr = htonl(PEER_IP) };
		struct sockaddr_in me;
		struct port *pt = &f->port[NPORTS - 1];
		a = &f->app[NAPP - 1];
		if (a->s)
			break;
		if (sock_create(f->st, SOCK_STREAM, &a->s) != 0)
			break;
		if (sock_connect(a->s, &to) != -EINPROGRESS || sock_name(a->s, &me) != 0) {
			app_close(a);
			break;
		}
		memset(pt, 0, sizeof(*pt));
		pt->rport = 40002;
		pt->lport = ntohs(me.sin_port);
		pt->peer_iss = pt->stk_ack = 7000000u;
		break;
	}
	default:
		sock_events(a->s);
		sock_rx_bytes(a->s);
		sock_tx_bytes(a->s);
		break;
	}
	fz_advance(f, 0);
}

/* ---- the fixed starting state ---- */

static void fz_setup(struct fz *f)
{
	struct stack_cfg cfg = { .prefix_len = 24, .isn_secret = { 1, 2, 3 } };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct sockaddr_in peer;
	struct ipdesc d = ip_default(IPV4_PROTO_TCP);
	struct segdesc s;
	struct tcp_hdr h;
	uint8_t tmp[TCP_HDR_MAX];
	struct port *p0;

	memset(f, 0, sizeof(*f));
	f->now = 1000 * MS;
	for (int i = 0; i < NPORTS; i++) {
		f->port[i].rport = PEER_PORTS[i];
		f->port[i].lport = i == 1 ? 81 : 80;
		f->port[i].peer_iss = 1000000u * (uint32_t)(i + 1);
		f->port[i].stk_ack = f->port[i].peer_iss;
	}
	CHECK(memlink_create(&f->ml, 42) == 0);
	CHECK(pbuf_pool_heap_create(&f->spool, 1024, 2048) == 0);
	CHECK(pbuf_pool_heap_create(&f->ppool, 1024, 2048) == 0);
	f->snif = memlink_port(f->ml, US_MAC, 1500, f->spool);
	f->peer = memlink_port(f->ml, PEER_MAC, 1500, f->ppool);
	CHECK(f->snif && f->peer);
	cfg.addr.s_addr = htonl(US_IP);
	CHECK(stack_create(&f->st, &cfg, f->snif, f->now) == 0);
	CHECK(arp_cache_add(f->st, PEER_IP, PEER_MAC) == 0);

	CHECK(sock_create(f->st, SOCK_STREAM, &f->lsock) == 0);
	CHECK(sock_bind(f->lsock, &a) == 0);
	CHECK(sock_listen(f->lsock, 16) == 0);

	/* the handshake for the connection from 40000 */
	p0 = &f->port[0];
	memset(&s, 0, sizeof(s));
	memset(&h, 0, sizeof(h));
	s.off_override = -1;
	s.sport = p0->rport;
	s.dport = 80;
	s.flags = TCP_SYN;
	s.seq = p0->peer_iss;
	s.wnd = 64240;
	h.opt.has = TCP_OPTF_MSS | TCP_OPTF_WS | TCP_OPTF_SACK_OK | TCP_OPTF_TS;
	h.opt.mss = 1460;
	h.opt.wscale = 7;
	h.opt.tsval = (uint32_t)(f->now / MS);
	s.optlen = (uint8_t)(tcp_hdr_emit(tmp, &h) - TCP_HDR_LEN);
	memcpy(s.opt, tmp + TCP_HDR_LEN, s.optlen);
	tcp_send(f, &d, &s, 0, 0);
	CHECK(p0->seen && p0->stk_ack == p0->peer_iss + 1);
	s.flags = TCP_ACK;
	s.seq = p0->peer_iss + 1;
	s.ack = p0->stk_nxt;
	s.wnd = 502;
	h.opt.has = TCP_OPTF_TS;
	h.opt.tsecr = p0->stk_tsval;
	s.optlen = (uint8_t)(tcp_hdr_emit(tmp, &h) - TCP_HDR_LEN);
	memcpy(s.opt, tmp + TCP_HDR_LEN, s.optlen);
	tcp_send(f, &d, &s, 0, 0);
	CHECK(sock_accept(f->lsock, &f->app[0].s, &peer) == 0);
	app_write(&f->app[0], 30000, 0); /* an initial window's worth in flight */
	fz_advance(f, 0);

	/* the active open from 81 to 40001: SYN sent, nothing back yet */
	a.sin_port = htons(81);
	CHECK(sock_create(f->st, SOCK_STREAM, &f->app[NAPP - 1].s) == 0);
	CHECK(sock_bind(f->app[NAPP - 1].s, &a) == 0);
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40001);
	peer.sin_addr.s_addr = htonl(PEER_IP);
	CHECK(sock_connect(f->app[NAPP - 1].s, &peer) == -EINPROGRESS);
	fz_advance(f, 0);
	CHECK(f->port[1].seen);

	CHECK(sock_create(f->st, SOCK_DGRAM, &f->usock) == 0);
	a.sin_port = htons(UDP_PORT);
	CHECK(sock_bind(f->usock, &a) == 0);
}

static void fz_teardown(struct fz *f)
{
	if (trace) {
		unsigned n;
		const uint64_t *v = stack_counter_values(f->st, &n);
		for (unsigned i = 0; i < n; i++)
			if (v[i])
				fprintf(stderr, "  counter %s %llu\n", stack_counter_name(i), (unsigned long long)v[i]);
	}
	for (int i = 0; i < NAPP; i++)
		app_close(&f->app[i]);
	if (f->lsock)
		sock_close(f->lsock);
	sock_close(f->usock);
	stack_destroy(f->st);
	f->gone = 1;
	/* the RSTs of the aborted connections must be well formed too */
	memlink_advance(f->ml, f->now);
	peer_drain(f);
	memlink_destroy(f->ml);
	if (f->spool->in_use || f->ppool->in_use) {
		fprintf(stderr, "pbufs leaked: stack pool %u, peer pool %u\n", f->spool->in_use,
			f->ppool->in_use);
		CHECK(!"no pbuf leaked");
	}
	pbuf_pool_heap_destroy(f->spool);
	pbuf_pool_heap_destroy(f->ppool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	struct in in = { data, size };
	int ops = 0;
	if (trace < 0)
		trace = getenv("FUZZ_TRACE") != NULL;
	fz_setup(&f);
	TRACE("-- setup done\n");
	while (in.n && ops++ < 256) {
		uint8_t op = g8(&in);
		switch (op & 15) {
		case 0: case 1: case 2: case 3: case 4: op_tcp(&f, &in, 0); break;
		case 5: op_tcp(&f, &in, 1); break;
		case 6: TRACE("udp\n"); op_udp(&f, &in); break;
		case 7: TRACE("icmp\n"); op_icmp(&f, &in); break;
		case 8: TRACE("arp\n"); op_arp(&f, &in); break;
		case 9: TRACE("raw frame\n"); op_raw(&f, &in); break;
		case 10: case 11: op_clock(&f, &in); break;
		default: op_app(&f, &in); break;
		}
	}
	fz_teardown(&f);
	return 0;
}
