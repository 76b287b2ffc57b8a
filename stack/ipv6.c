/* IPv6 (RFC 8200) beside IPv4: one configured address and the link-local
 * one (from the MAC), every received header checked, extension headers
 * walked, fragments reassembled, routes by prefix and gateway, Duplicate
 * Address Detection (RFC 4862 §5.4) before an address is used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip6.h"
#include "net.h"
#include "tcp/isn.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"

static const enum stack_counter ipv6_drop[] = {
	[IPV6_ERR_SHORT] = DROP_IPV6_SHORT,
	[IPV6_ERR_VERSION] = DROP_IPV6_VERSION,
	[IPV6_ERR_LEN] = DROP_IPV6_LEN,
};

static void ipv6_drop_pkt(struct stack *st, struct pbuf *p, enum stack_counter c)
{
	STAT_INC(st, c);
	pbuf_free(p);
}

/* ---- addresses and DAD --------------------------------------------------- */

static void ipv6_dad_done(struct tw_timer *t, uint64_t now)
{
	struct stack6 *v6 = (struct stack6 *)((char *)t - offsetof(struct stack6, dad_timer));
	(void)now;
	/* RFC 4862 §5.4: no answer to DupAddrDetectTransmits (1) solicitations */
	if (v6->ll_state == IPV6_ADDR_TENTATIVE) {
		v6->ll_state = IPV6_ADDR_PREFERRED;
		STAT_INC(v6->st, DAD_PASSED);
	}
	if (v6->addr_state == IPV6_ADDR_TENTATIVE) {
		v6->addr_state = IPV6_ADDR_PREFERRED;
		STAT_INC(v6->st, DAD_PASSED);
	}
}

int ipv6_init(struct stack *st)
{
	struct stack6 *v6;
	int rc;
	if (ipv6_addr_any(&st->cfg.addr6))
		return 0;
	if (!(v6 = calloc(1, sizeof(*v6))))
		return -ENOMEM;
	st->v6 = v6;
	v6->st = st;
	v6->addr = st->cfg.addr6;
	v6->plen = st->cfg.prefix6_len;
	v6->gw = st->cfg.gateway6;
	ipv6_addr_linklocal_from_mac(&v6->ll, st->nif->mac);
	tw_timer_init(&v6->dad_timer, ipv6_dad_done);
	if ((rc = nd_init(st)) != 0) {
		free(v6);
		st->v6 = NULL;
		return rc;
	}
	ipv6_reass_init(st);
	if (st->cfg.no_dad || st->cfg.kernel_neigh) { /* kernel_neigh: the kernel did DAD */
		v6->addr_state = v6->ll_state = IPV6_ADDR_PREFERRED;
		return 0;
	}
	/* RFC 4862 §5.4.2: one NS from :: per tentative address, then wait
	 * RetransTimer for a node that has it already */
	v6->ll_state = IPV6_ADDR_TENTATIVE;
	nd_send_dad(st, &v6->ll);
	if (ipv6_addr_eq(&v6->addr, &v6->ll)) {
		v6->addr_state = IPV6_ADDR_PREFERRED; /* the same one: its state is ll_state's */
	} else {
		v6->addr_state = IPV6_ADDR_TENTATIVE;
		nd_send_dad(st, &v6->addr);
	}
	tw_add(&st->tw, &v6->dad_timer,
	       st->now + (st->cfg.dad_wait_ms ? st->cfg.dad_wait_ms * 1000000ull : IPV6_DAD_WAIT_NS));
	return 0;
}

void ipv6_fini(struct stack *st)
{
	if (!st->v6)
		return;
	tw_cancel(&st->tw, &st->v6->dad_timer);
	ipv6_reass_expire(st, 1);
	nd_fini(st);
	free(st->v6);
	st->v6 = NULL;
}

/* The state of a, when it is one of ours. */
static int ipv6_state_of(const struct stack *st, const struct in6_addr *a)
{
	const struct stack6 *v6 = st->v6;
	if (ipv6_addr_eq(a, &v6->ll))
		return v6->ll_state;
	if (ipv6_addr_eq(a, &v6->addr))
		return v6->addr_state;
	return IPV6_ADDR_NONE;
}

int ipv6_addr_ours(const struct stack *st, const struct in6_addr *a)
{
	int s;
	if (!st->v6)
		return 0;
	s = ipv6_state_of(st, a);
	return s == IPV6_ADDR_PREFERRED ? 1 : s == IPV6_ADDR_TENTATIVE ? 2 : 0;
}

int ipv6_addr_state(const struct stack *st, int which, struct in6_addr *out)
{
	if (!st->v6)
		return IPV6_ADDR_NONE;
	if (out)
		*out = which ? st->v6->ll : st->v6->addr;
	return which ? st->v6->ll_state : st->v6->addr_state;
}

int ipv6_enabled(const struct stack *st)
{
	return st->v6 && st->v6->addr_state == IPV6_ADDR_PREFERRED;
}

const struct in6_addr *ipv6_src_for(const struct stack *st, const struct in6_addr *dst)
{
	const struct stack6 *v6 = st->v6;
	if (!v6)
		return NULL;
	/* link-local and link-scope multicast destinations: the link-local source
	 * (RFC 6724 rule 2, scope) */
	if (ipv6_addr_linklocal(dst) || (ipv6_addr_multicast(dst) && (dst->s6_addr[1] & 0x0f) <= 2))
		return v6->ll_state == IPV6_ADDR_PREFERRED ? &v6->ll : NULL;
	return v6->addr_state == IPV6_ADDR_PREFERRED ? &v6->addr : NULL;
}

/* Whether we listen to multicast group a: all-nodes, or the solicited-node
 * group of one of our addresses (tentative ones too, for DAD). */
static int ipv6_mcast_ours(const struct stack *st, const struct in6_addr *a)
{
	static const struct in6_addr all_nodes = { .s6_addr = { 0xff, 0x02, [15] = 1 } };
	struct in6_addr sn;
	if (ipv6_addr_eq(a, &all_nodes))
		return 1;
	ipv6_addr_solicited(&sn, &st->v6->addr);
	if (ipv6_addr_eq(a, &sn))
		return 1;
	ipv6_addr_solicited(&sn, &st->v6->ll);
	return ipv6_addr_eq(a, &sn);
}

/* ---- input --------------------------------------------------------------- */

/* The options of a hop-by-hop or destination options header at off, hlen
 * bytes (RFC 8200 §4.2): an unrecognized option's two high bits say what to
 * do. 0: go on; -1: the packet was dropped (and answered if it says so). */
static int ipv6_options(struct stack *st, struct pbuf *p, uint32_t off, uint32_t hlen, const struct ipv6_hdr *h,
			int hop_by_hop)
{
	const uint8_t *b = p->data;
	uint32_t end = off + hlen;
	for (uint32_t i = off + 2; i < end;) {
		uint8_t t = b[i];
		if (t == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > end || i + 2 + b[i + 1] > end) {
			ipv6_drop_pkt(st, p, DROP_IPV6_EXT_TRUNC);
			return -1;
		}
		/* PadN; Router Alert (RFC 2711) in hop-by-hop options, which a host ignores */
		if (t == 1 || (t == 5 && hop_by_hop)) {
			i += 2u + b[i + 1];
			continue;
		}
		switch (t >> 6) {
		case 0: /* skip over it */
			break;
		case 1: /* discard */
			ipv6_drop_pkt(st, p, DROP_IPV6_OPTION);
			return -1;
		case 3: /* discard, answer only if not sent to a multicast address */
			if (ipv6_addr_multicast(&h->dst)) {
				ipv6_drop_pkt(st, p, DROP_IPV6_OPTION);
				return -1;
			}
			/* fall through */
		case 2: /* discard and answer */
			icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_OPTION, i);
			ipv6_drop_pkt(st, p, DROP_IPV6_OPTION);
			return -1;
		}
		i += 2u + b[i + 1];
	}
	return 0;
}

/* Walk the extension headers from the header named by nxt at off (its
 * Next Header field at nxt_at), and hand the upper layer its packet. */
static void ipv6_walk(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint8_t nxt, uint32_t off,
		      uint32_t nxt_at)
{
	struct ipv6_meta m;
	for (;;) {
		uint32_t hlen;
		switch (nxt) {
		case IPV6_NH_ICMPV6:
		case IPV6_NH_TCP:
		case IPV6_NH_UDP:
			goto upper;
		case IPV6_NH_NONE:
			return ipv6_drop_pkt(st, p, DROP_IPV6_NO_NEXT);
		case IPV6_NH_HOPOPTS:
		case IPV6_NH_DSTOPTS:
		case IPV6_NH_ROUTING:
		case IPV6_NH_FRAGMENT:
			break;
		default:
			/* RFC 8200 §4: Parameter Problem code 1 at the Next Header field */
			icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHDR, nxt_at);
			return ipv6_drop_pkt(st, p, DROP_IPV6_NEXT_HDR);
		}
		if (off + 8 > p->len)
			return ipv6_drop_pkt(st, p, DROP_IPV6_EXT_TRUNC);
		hlen = nxt == IPV6_NH_FRAGMENT ? IPV6_FRAG_HDR_LEN : (uint32_t)(p->data[off + 1] + 1) * 8;
		if (off + hlen > p->len)
			return ipv6_drop_pkt(st, p, DROP_IPV6_EXT_TRUNC);
		STAT_INC(st, IPV6_EXT_HDRS);
		if (nxt == IPV6_NH_HOPOPTS) {
			/* only right after the IPv6 header (RFC 8200 §4.3); Linux
			 * answers one elsewhere as an unrecognized next header */
			if (off != IPV6_HDR_LEN) {
				icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_NEXTHDR, nxt_at);
				return ipv6_drop_pkt(st, p, DROP_IPV6_HOPOPTS_POS);
			}
			if (ipv6_options(st, p, off, hlen, h, 1))
				return;
		} else if (nxt == IPV6_NH_DSTOPTS) {
			if (ipv6_options(st, p, off, hlen, h, 0))
				return;
		} else if (nxt == IPV6_NH_ROUTING) {
			/* RFC 8200 §4.4: with segments left, a host (no type served
			 * here) answers Parameter Problem code 0 at the Routing Type;
			 * without, the header is ignored */
			if (p->data[off + 3]) {
				icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, off + 2);
				return ipv6_drop_pkt(st, p, DROP_IPV6_ROUTING);
			}
		} else { /* fragment */
			uint16_t fo = rd16(p->data + off + 2);
			if (fo & (IPV6_FRAG_OFF_MASK | IPV6_FRAG_MF))
				return ipv6_reass(st, p, h, off);
			/* an atomic fragment (RFC 6946): processed as a whole packet */
		}
		nxt_at = off;
		nxt = p->data[off];
		off += hlen;
	}
upper:
	m = (struct ipv6_meta){ .src = h->src, .dst = h->dst, .proto = nxt, .tclass = h->tclass, .hlim = h->hlim,
				.l4_cksum_ok = !!(p->flags & PBUF_F_RX_L4_CKSUM_GOOD), .flow = h->flow,
				.l3_off = (uint16_t)off };
	p->l3_len = (uint16_t)off;
	pbuf_adj(p, off);
	if (nxt == IPV6_NH_ICMPV6)
		icmp6_input(st, p, &m);
	else if (nxt == IPV6_NH_TCP)
		tcp_input6(st, p, &m);
	else
		udp_input6(st, p, &m);
}

void ipv6_input(struct stack *st, struct pbuf *p)
{
	struct ipv6_hdr h;
	int rc, state;

	STAT_INC(st, IPV6_RX_PACKETS);
	if (!st->v6)
		return ipv6_drop_pkt(st, p, DROP_IPV6_DISABLED);
	if ((rc = ipv6_hdr_parse(p->data, p->len, &h)) != 0)
		return ipv6_drop_pkt(st, p, ipv6_drop[-rc]);
	pbuf_trim(p, IPV6_HDR_LEN + h.plen); /* link padding goes */
	/* a source that is no single host: multicast, loopback, v4-mapped, or
	 * one of our own addresses (looped back); :: and ours only for ND's
	 * DAD, checked in icmp6_input */
	if (ipv6_addr_multicast(&h.src) || ipv6_addr_loopback(&h.src) || ipv6_addr_v4mapped(&h.src) ||
	    ((ipv6_addr_ours(st, &h.src) || ipv6_addr_any(&h.src)) && h.nxt != IPV6_NH_ICMPV6))
		return ipv6_drop_pkt(st, p, DROP_IPV6_BAD_SRC);
	if (ipv6_addr_multicast(&h.dst)) {
		if (!ipv6_mcast_ours(st, &h.dst))
			return ipv6_drop_pkt(st, p, DROP_IPV6_NOT_OURS);
	} else if ((state = ipv6_state_of(st, &h.dst)) == IPV6_ADDR_NONE || state == IPV6_ADDR_DUPLICATE) {
		return ipv6_drop_pkt(st, p, DROP_IPV6_NOT_OURS);
	} else if (state == IPV6_ADDR_TENTATIVE && h.nxt != IPV6_NH_ICMPV6) {
		/* RFC 4862 §5.4: nothing but ND for an address under DAD
		 * (nd_input drops the rest of ICMPv6 to it) */
		return ipv6_drop_pkt(st, p, DROP_IPV6_TENTATIVE);
	}
	ipv6_walk(st, p, &h, h.nxt, IPV6_HDR_LEN, 6);
}

void ipv6_input_reassembled(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h)
{
	ipv6_walk(st, p, h, h->nxt, IPV6_HDR_LEN, 6);
}

/* ---- output -------------------------------------------------------------- */

/* RFC 6437 / Linux's auto_flowlabels: a keyed hash of the flow's addresses,
 * protocol and ports, the same for every packet of a connection. */
uint32_t ipv6_flow_hash(const struct stack *st, const struct in6_addr *src, const struct in6_addr *dst,
			uint8_t proto, const struct pbuf *p)
{
	uint8_t d[40] = { 0 };
	uint32_t f;
	memcpy(d, src, 16);
	memcpy(d + 16, dst, 16);
	d[32] = proto;
	if ((proto == IPV6_NH_TCP || proto == IPV6_NH_UDP) && p->len >= 4)
		memcpy(d + 33, p->data, 4);
	d[37] = 0x6f; /* apart from the ISNs' uses of the key */
	f = (uint32_t)siphash24(st->cfg.isn_secret, d, sizeof(d)) & IPV6_FLOW_MASK;
	return f ? f : 1;
}

int ipv6_output_hdr(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h)
{
	const struct stack6 *v6 = st->v6;
	struct ipv6_hdr hh = *h;
	const struct in6_addr *nh;
	uint8_t *b;

	if (!v6) {
		ipv6_drop_pkt(st, p, DROP_IPV6_NO_ROUTE);
		return -ENETUNREACH;
	}
	/* link-local destinations, the on-link prefix: the destination itself;
	 * else the gateway */
	if (ipv6_addr_multicast(&h->dst) || ipv6_addr_linklocal(&h->dst) ||
	    ipv6_prefix_eq(&h->dst, &v6->addr, v6->plen))
		nh = &h->dst;
	else if (!ipv6_addr_any(&v6->gw))
		nh = &v6->gw;
	else {
		ipv6_drop_pkt(st, p, DROP_IPV6_NO_ROUTE);
		return -ENETUNREACH;
	}
	p->l3_len = IPV6_HDR_LEN;
	if (!(b = pbuf_prepend(p, IPV6_HDR_LEN))) {
		ipv6_drop_pkt(st, p, TX_DROP_NOBUF);
		return -ENOBUFS;
	}
	hh.plen = (uint16_t)(p->len - IPV6_HDR_LEN);
	ipv6_hdr_emit(b, &hh);
	STAT_INC(st, IPV6_TX_PACKETS);
	if (ipv6_addr_multicast(&h->dst)) {
		uint8_t mac[6];
		ipv6_mcast_mac(mac, &h->dst);
		eth_output(st, p, mac, ETH_TYPE_IPV6);
		return 0;
	}
	return nd_output(st, p, nh);
}

int ipv6_send_fragment(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t id, uint32_t off,
		       int more)
{
	struct ipv6_hdr fh = *h;
	uint8_t *b = pbuf_prepend(p, IPV6_FRAG_HDR_LEN);
	if (!b) {
		ipv6_drop_pkt(st, p, TX_DROP_NOBUF);
		return -ENOBUFS;
	}
	b[0] = h->nxt;
	b[1] = 0;
	wr16(b + 2, (uint16_t)(off | (more ? IPV6_FRAG_MF : 0)));
	wr32(b + 4, id);
	fh.nxt = IPV6_NH_FRAGMENT;
	STAT_INC(st, IPV6_FRAGS_TX);
	return ipv6_output_hdr(st, p, &fh);
}

/* A packet larger than the path MTU: fragments in fresh buffers, 8-byte
 * aligned shares, each with a Fragment header (RFC 8200 §4.5). */
static int ipv6_output_split(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t mtu)
{
	uint32_t per = (mtu - IPV6_HDR_LEN - IPV6_FRAG_HDR_LEN) & ~7u, id = ++st->v6->frag_id;
	int rc = 0;
	for (uint32_t off = 0; off < p->len && !rc; off += per) {
		uint32_t n = p->len - off < per ? p->len - off : per;
		struct pbuf *f = stack_alloc(st);
		if (!f) {
			rc = -ENOBUFS;
			break;
		}
		memcpy(pbuf_append(f, n), p->data + off, n);
		rc = ipv6_send_fragment(st, f, h, id, off, off + n < p->len);
	}
	pbuf_free(p);
	return rc;
}

int ipv6_output(struct stack *st, struct pbuf *p, const struct in6_addr *src, const struct in6_addr *dst,
		uint8_t proto, uint8_t tclass, uint32_t flow)
{
	const struct in6_addr *s = src ? src : ipv6_src_for(st, dst);
	struct ipv6_hdr h = { .tclass = tclass, .nxt = proto, .hlim = IPV6_HOP_LIMIT, .dst = *dst };
	uint16_t mtu;

	if (!s) {
		ipv6_drop_pkt(st, p, DROP_IPV6_NO_ROUTE);
		return -ENETUNREACH;
	}
	h.src = *s;
	h.flow = flow ? flow & IPV6_FLOW_MASK : ipv6_flow_hash(st, s, dst, proto, p);
	/* TCP's segments fit (MSS); anything else may need fragments */
	if (proto != IPV6_NH_TCP && p->len + IPV6_HDR_LEN > IPV6_MIN_MTU &&
	    p->len + IPV6_HDR_LEN > (mtu = ipv6_path_mtu(st, dst)))
		return ipv6_output_split(st, p, &h, mtu);
	return ipv6_output_hdr(st, p, &h);
}

uint16_t ipv6_max_payload(const struct stack *st, const struct in6_addr *dst)
{
	return (uint16_t)(ipv6_path_mtu((struct stack *)st, dst) - IPV6_HDR_LEN);
}
