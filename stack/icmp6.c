/* ICMPv6 (RFC 4443): echo replies, errors sent (rate-limited) and received
 * (Packet Too Big lowers the path MTU, RFC 8201; TCP hears about its
 * segments), Neighbor Discovery handed to nd.c. */
#include <errno.h>
#include <string.h>

#include "ip6.h"
#include "net.h"
#include "wire/cksum.h"
#include "wire/icmp6.h"

/* Linux's ICMP error limit (net.ipv4.icmp_msgs_per_sec = 1000,
 * icmp_msgs_burst = 50, shared by ICMPv6), a token bucket counted in ns */
#define ICMP6_ERR_INTERVAL_NS 1000000ull
#define ICMP6_ERR_BURST       50
#define ICMP6_PMTU_TTL_NS     (600ull * 1000000000ull) /* as Linux's ip6_rt_mtu_expires */

uint16_t icmp6_cksum(const uint8_t *b, uint32_t len, const struct in6_addr *src, const struct in6_addr *dst)
{
	return cksum_fold(cksum_partial(b, len, cksum_pseudo_ipv6(src, dst, IPV6_NH_ICMPV6, len)));
}

/* ---- path MTU (RFC 8201) ------------------------------------------------- */

uint16_t ipv6_path_mtu(struct stack *st, const struct in6_addr *dst)
{
	struct stack6 *v6 = st->v6;
	uint16_t link = st->mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : st->mtu;
	if (!v6)
		return link;
	for (unsigned i = 0; i < IPV6_PMTU_SLOTS; i++)
		if (v6->pmtu[i].mtu && ipv6_addr_eq(&v6->pmtu[i].dst, dst)) {
			if (st->now < v6->pmtu[i].expires)
				return v6->pmtu[i].mtu < link ? v6->pmtu[i].mtu : link;
			v6->pmtu[i].mtu = 0; /* expired: try the full size again */
			break;
		}
	return link;
}

/* A smaller path MTU for dst, never below 1280 (RFC 8201 §4), in its slot,
 * a free or expired one, or the one that expires first. */
static void ipv6_pmtu_learn(struct stack *st, const struct in6_addr *dst, uint32_t mtu)
{
	struct stack6 *v6 = st->v6;
	unsigned pick = 0;
	if (mtu < IPV6_MIN_MTU)
		mtu = IPV6_MIN_MTU;
	if (mtu >= ipv6_path_mtu(st, dst))
		return;
	for (unsigned i = 0; i < IPV6_PMTU_SLOTS; i++) {
		if (!v6->pmtu[i].mtu || ipv6_addr_eq(&v6->pmtu[i].dst, dst) || v6->pmtu[i].expires <= st->now) {
			pick = i;
			break;
		}
		if (v6->pmtu[i].expires < v6->pmtu[pick].expires)
			pick = i;
	}
	v6->pmtu[pick].dst = *dst;
	v6->pmtu[pick].mtu = (uint16_t)mtu;
	v6->pmtu[pick].expires = st->now + ICMP6_PMTU_TTL_NS;
	STAT_INC(st, ICMP6_PMTU_LEARNED);
}

/* ---- errors received ----------------------------------------------------- */

/* An error about a packet of ours: the quoted header names its source (ours),
 * destination and, past any extension headers, its transport header. */
static void icmp6_input_error(struct stack *st, const struct pbuf *p, uint8_t type, uint8_t code, uint32_t param)
{
	const uint8_t *q = p->data + ICMP6_HDR_LEN;
	uint32_t qlen = p->len - ICMP6_HDR_LEN, off = IPV6_HDR_LEN;
	struct ipv6_meta inner;
	uint8_t nxt;

	if (qlen < IPV6_HDR_LEN || q[0] >> 4 != 6) {
		STAT_INC(st, DROP_ICMP6_ERROR_QUOTE);
		return;
	}
	memset(&inner, 0, sizeof(inner));
	memcpy(&inner.src, q + 8, 16);
	memcpy(&inner.dst, q + 24, 16);
	if (ipv6_addr_ours(st, &inner.src) != 1) {
		STAT_INC(st, DROP_ICMP6_ERROR_QUOTE);
		return;
	}
	nxt = q[6];
	while ((nxt == IPV6_NH_HOPOPTS || nxt == IPV6_NH_DSTOPTS || nxt == IPV6_NH_ROUTING ||
		nxt == IPV6_NH_FRAGMENT) && off + 8 <= qlen) {
		uint32_t hlen = nxt == IPV6_NH_FRAGMENT ? 8 : (uint32_t)(q[off + 1] + 1) * 8;
		nxt = q[off];
		off += hlen;
	}
	STAT_INC(st, ICMP6_ERRORS_RX);
	if (type == ICMP6_PACKET_TOO_BIG)
		ipv6_pmtu_learn(st, &inner.dst, param);
	inner.proto = nxt;
	inner.tclass = (uint8_t)(rd32(q) >> 20);
	inner.flow = rd32(q) & IPV6_FLOW_MASK;
	inner.hlim = q[7];
	inner.l3_off = (uint16_t)off;
	if (nxt == IPV6_NH_TCP && off + 8 <= qlen)
		tcp_icmp6_error(st, &inner, q + off, qlen - off, type, code,
				type == ICMP6_PACKET_TOO_BIG ? (param < IPV6_MIN_MTU ? IPV6_MIN_MTU : param) : 0);
}

/* ---- echo ------------------------------------------------------------------ */

static void icmp6_echo(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	/* to a multicast group (all-nodes), answered from our address, as Linux */
	const struct in6_addr *src = ipv6_addr_multicast(&m->dst) ? ipv6_src_for(st, &m->src) : &m->dst;
	uint8_t *b = p->data;
	if (!src) {
		pbuf_free(p);
		return;
	}
	/* the reply reuses the request's buffer: same id, sequence and data */
	b[0] = ICMP6_ECHO_REPLY;
	wr16(b + 2, 0);
	wr16(b + 2, icmp6_cksum(b, p->len, src, &m->src));
	p->flags = 0;
	STAT_INC(st, ICMP6_ECHO_REPLIES);
	ipv6_output(st, p, src, &m->src, IPV6_NH_ICMPV6, m->tclass, 0);
}

void icmp6_input(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	uint8_t type;
	if (p->len < ICMP6_HDR_LEN || icmp6_cksum(p->data, p->len, &m->src, &m->dst) != 0) {
		STAT_INC(st, DROP_ICMP6_MALFORMED);
		pbuf_free(p);
		return;
	}
	type = p->data[0];
	/* from :: only DAD's NS, from our own address only an NA (another
	 * node that has it: DAD) */
	if ((ipv6_addr_any(&m->src) && type != ND_NEIGHBOR_SOLICIT) ||
	    (ipv6_addr_ours(st, &m->src) && type != ND_NEIGHBOR_ADVERT)) {
		STAT_INC(st, DROP_IPV6_BAD_SRC);
		pbuf_free(p);
		return;
	}
	if (type == ND_NEIGHBOR_SOLICIT || type == ND_NEIGHBOR_ADVERT)
		return nd_input(st, p, m);
	/* an address under DAD takes nothing but ND (RFC 4862 §5.4) */
	if (!ipv6_addr_multicast(&m->dst) && ipv6_addr_ours(st, &m->dst) != 1) {
		STAT_INC(st, DROP_IPV6_TENTATIVE);
		pbuf_free(p);
		return;
	}
	if (type == ICMP6_ECHO_REQUEST && p->data[1] == 0)
		return icmp6_echo(st, p, m);
	if (type >= ICMP6_DST_UNREACH && type <= ICMP6_PARAM_PROB)
		icmp6_input_error(st, p, type, p->data[1], rd32(p->data + 4));
	pbuf_free(p);
}

/* ---- errors sent ------------------------------------------------------------ */

/* Token bucket: credit grows with time up to the burst, each error costs one interval. */
static int icmp6_rate_allow(struct stack *st)
{
	struct stack6 *v6 = st->v6;
	const uint64_t cap = ICMP6_ERR_BURST * ICMP6_ERR_INTERVAL_NS;
	uint64_t t = v6->icmp_last ? v6->icmp_tokens + (st->now - v6->icmp_last) : cap;

	v6->icmp_last = st->now ? st->now : 1;
	if (t > cap)
		t = cap;
	if (t < ICMP6_ERR_INTERVAL_NS) {
		v6->icmp_tokens = t;
		return 0;
	}
	v6->icmp_tokens = t - ICMP6_ERR_INTERVAL_NS;
	return 1;
}

void icmp6_send_error(struct stack *st, const struct pbuf *orig, uint8_t type, uint8_t code, uint32_t param)
{
	const uint32_t room = IPV6_MIN_MTU - IPV6_HDR_LEN - ICMP6_HDR_LEN; /* RFC 4443 §2.4 (c) */
	struct in6_addr osrc, odst;
	const struct in6_addr *src;
	uint32_t quote, off, nxt;
	struct pbuf *p;
	uint8_t *b;

	if (!st->v6 || orig->len < IPV6_HDR_LEN)
		return;
	memcpy(&osrc, orig->data + 8, 16);
	memcpy(&odst, orig->data + 24, 16);
	/* RFC 4443 §2.4 (e): never about a packet from no single node, nor to a
	 * multicast group (but Packet Too Big, and an option whose type says
	 * so, RFC 8200 §4.2), nor about an ICMPv6 error */
	if (ipv6_addr_any(&osrc) || ipv6_addr_multicast(&osrc) || ipv6_addr_loopback(&osrc))
		return;
	if (ipv6_addr_multicast(&odst) && type != ICMP6_PACKET_TOO_BIG &&
	    !(type == ICMP6_PARAM_PROB && code == ICMP6_PARAMPROB_OPTION))
		return;
	for (nxt = orig->data[6], off = IPV6_HDR_LEN;
	     (nxt == IPV6_NH_HOPOPTS || nxt == IPV6_NH_DSTOPTS || nxt == IPV6_NH_ROUTING) && off + 8 <= orig->len;
	     nxt = orig->data[off], off += (uint32_t)(orig->data[off + 1] + 1) * 8)
		;
	if (nxt == IPV6_NH_ICMPV6 && off < orig->len && (orig->data[off] < 128 || orig->data[off] == ND_REDIRECT))
		return;
	if (type != ICMP6_PACKET_TOO_BIG && !icmp6_rate_allow(st)) {
		STAT_INC(st, ICMP6_RATE_LIMITED);
		return;
	}
	src = ipv6_addr_ours(st, &odst) == 1 ? &odst : ipv6_src_for(st, &osrc);
	if (!src || !(p = stack_alloc(st)))
		return;
	quote = orig->len < room ? orig->len : room;
	if (quote > pbuf_tailroom(p) - ICMP6_HDR_LEN)
		quote = pbuf_tailroom(p) - ICMP6_HDR_LEN;
	b = pbuf_append(p, ICMP6_HDR_LEN + quote);
	b[0] = type;
	b[1] = code;
	wr16(b + 2, 0);
	wr32(b + 4, param);
	memcpy(b + ICMP6_HDR_LEN, orig->data, quote);
	wr16(b + 2, icmp6_cksum(b, ICMP6_HDR_LEN + quote, src, &osrc));
	STAT_INC(st, ICMP6_ERRORS_SENT);
	ipv6_output(st, p, src, &osrc, IPV6_NH_ICMPV6, 0, 0);
}
