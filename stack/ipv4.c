/* IPv4 (RFC 791, RFC 1122 §3.2): every received header checked, fragments
 * reassembled, one address per stack, routes by prefix and gateway. */
#include <errno.h>
#include <string.h>

#include "net.h"
#include "wire/eth.h"
#include "wire/ipv4.h"

static const enum stack_counter ipv4_drop[] = {
	[IPV4_ERR_SHORT] = DROP_IPV4_SHORT, [IPV4_ERR_VERSION] = DROP_IPV4_VERSION,
	[IPV4_ERR_IHL] = DROP_IPV4_IHL,     [IPV4_ERR_LEN] = DROP_IPV4_LEN,
	[IPV4_ERR_CKSUM] = DROP_IPV4_CKSUM,
};

/* Not zero, multicast or class E, loopback, our own address, a broadcast,
 * nor the subnet's own address (Linux keeps a broadcast route for it too,
 * on prefixes shorter than /31). */
static int ipv4_src_is_host(const struct stack *st, uint32_t a)
{
	int subnet = ~st->netmask > 1 && a == (st->addr & st->netmask);
	return a != 0 && a < 0xe0000000u && (a >> 24) != 127 && a != st->addr && !subnet &&
	       !ipv4_is_broadcast(st, a);
}

static void ipv4_drop_pkt(struct stack *st, struct pbuf *p, enum stack_counter c)
{
	STAT_INC(st, c);
	pbuf_free(p);
}

/* ---- reassembly ---------------------------------------------------------
 * Fragments wait in one of STACK_REASS_SLOTS slots, by offset, for at most
 * STACK_REASS_TTL_NS. As Linux does since 4.19, a fragment that overlaps
 * another discards the whole datagram (an exact duplicate only itself); so
 * do a second last fragment that disagrees on the length, data beyond it,
 * or more than 64 KiB. A datagram complete and no larger than a buffer is
 * copied into one and handed on like any other; a larger one goes to UDP as
 * the chain of its fragments' buffers, or, an echo request, is answered in
 * those buffers (icmp_echo_fragments); TCP takes only the former. */

static void reass_free(struct stack *st, struct stack_reass *r, enum stack_counter why)
{
	while (r->frags) {
		struct pbuf *p = r->frags;
		r->frags = p->next;
		pbuf_free(p);
		st->reass_pbufs--;
		STAT_INC(st, why);
	}
	r->expires = 0;
	r->nfrags = 0;
}

void ipv4_reass_expire(struct stack *st, int all)
{
	uint64_t next = 0;
	for (int i = 0; i < STACK_REASS_SLOTS; i++) {
		struct stack_reass *r = &st->reass[i];
		if (!r->expires)
			continue;
		if (all || r->expires <= st->now)
			reass_free(st, r, DROP_IPV4_REASS_TIMEOUT);
		else if (!next || r->expires < next)
			next = r->expires;
	}
	st->reass_next = next;
}

static struct stack_reass *reass_slot(struct stack *st, const struct ipv4_hdr *h)
{
	struct stack_reass *free_ = NULL, *oldest = NULL;
	for (int i = 0; i < STACK_REASS_SLOTS; i++) {
		struct stack_reass *r = &st->reass[i];
		if (!r->expires) {
			if (!free_)
				free_ = r;
			continue;
		}
		if (r->src == h->src && r->dst == h->dst && r->id == h->id && r->proto == h->proto)
			return r;
		if (!oldest || r->expires < oldest->expires)
			oldest = r;
	}
	if (!free_) { /* the oldest datagram gives way, as under Linux's memory limit */
		reass_free(st, oldest, DROP_IPV4_REASS_FULL);
		free_ = oldest;
	}
	*free_ = (struct stack_reass){ .src = h->src, .dst = h->dst, .id = h->id, .proto = h->proto,
				       .expires = st->now + STACK_REASS_TTL_NS };
	if (!st->reass_next || free_->expires < st->reass_next)
		st->reass_next = free_->expires;
	return free_;
}

/* Hand a complete datagram on: one buffer if it fits (an IP header written
 * back in front, for ICMP errors to quote), else UDP's chain or ICMP's echo. */
static void reass_deliver(struct stack *st, struct stack_reass *r)
{
	struct ipv4_meta m = { .src = r->src, .dst = r->dst, .proto = r->proto, .tos = r->tos, .ttl = r->ttl };
	struct pbuf *frags = r->frags, *p;
	uint32_t total = r->total;

	st->reass_pbufs = (uint16_t)(st->reass_pbufs - r->nfrags);
	r->frags = NULL;
	r->expires = 0;
	r->nfrags = 0;
	STAT_INC(st, IPV4_REASSEMBLED);
	if (total <= st->pool->buf_size - PBUF_HEADROOM && (p = stack_alloc(st)) != NULL) {
		struct ipv4_hdr h = { .ihl = IPV4_HDR_LEN, .tos = r->tos, .total_len = (uint16_t)(IPV4_HDR_LEN + total),
				      .id = r->id, .ttl = r->ttl, .proto = r->proto, .src = r->src, .dst = r->dst };
		uint8_t *d = pbuf_append(p, total);
		while (frags) {
			struct pbuf *f = frags;
			frags = f->next;
			memcpy(d + f->user[0], f->data, f->len);
			pbuf_free(f);
		}
		ipv4_hdr_emit(pbuf_prepend(p, IPV4_HDR_LEN), &h);
		pbuf_adj(p, IPV4_HDR_LEN);
		p->l3_len = IPV4_HDR_LEN;
		if (m.proto == IPV4_PROTO_ICMP)
			icmp_input(st, p, &m);
		else if (m.proto == IPV4_PROTO_UDP)
			udp_input(st, p, &m);
		else
			tcp_input(st, p, &m);
		return;
	}
	if (m.proto == IPV4_PROTO_ICMP && !ipv4_is_broadcast(st, m.dst) && icmp_echo_fragments(st, frags, &m))
		return;
	if (m.proto != IPV4_PROTO_UDP || ipv4_is_broadcast(st, m.dst)) {
		while (frags) {
			p = frags;
			frags = p->next;
			pbuf_free(p);
		}
		STAT_INC(st, DROP_IPV4_REASS_TOO_BIG);
		return;
	}
	for (p = frags; p; p = p->next)
		p->user[1] = (uint64_t)(uintptr_t)p->next;
	for (p = frags; p;) {
		struct pbuf *n = p->next;
		p->next = NULL;
		p = n;
	}
	udp_input_chain(st, frags, total, &m);
}

/* One fragment, p->data at its payload. */
static void ipv4_reass(struct stack *st, struct pbuf *p, const struct ipv4_hdr *h)
{
	uint32_t off = (uint32_t)(h->frag & IPV4_FRAG_OFF) * 8u, len = p->len, end = off + len;
	int more = !!(h->frag & IPV4_FLAG_MF);
	struct stack_reass *r;
	struct pbuf **pp, *prev = NULL;

	STAT_INC(st, IPV4_FRAGS_RX);
	/* all but the last carry a multiple of 8 bytes; none goes past 64 KiB */
	if (!len || (more && (len & 7)) || end > 0xffffu - IPV4_HDR_LEN)
		return ipv4_drop_pkt(st, p, DROP_IPV4_FRAGMENT);
	if (st->reass_next && st->reass_next <= st->now)
		ipv4_reass_expire(st, 0);
	r = reass_slot(st, h);
	if (st->reass_pbufs >= STACK_REASS_PBUFS) {
		if (!r->frags)
			r->expires = 0;
		return ipv4_drop_pkt(st, p, DROP_IPV4_REASS_FULL);
	}
	if (!more) {
		if (r->total && r->total != end)
			goto inconsistent;
		r->total = end;
	}
	if (r->total && end > r->total)
		goto inconsistent;
	for (pp = &r->frags; *pp && (*pp)->user[0] < off; pp = &(*pp)->next)
		prev = *pp;
	if (*pp && (*pp)->user[0] == off && (*pp)->len == len)
		return ipv4_drop_pkt(st, p, DROP_IPV4_REASS_DUP);
	if ((prev && prev->user[0] + prev->len > off) || (*pp && end > (*pp)->user[0]))
		goto inconsistent;
	/* the last fragment must end the data: nothing may lie beyond it */
	if (r->total) {
		struct pbuf *l = *pp ? *pp : prev;
		while (l && l->next)
			l = l->next;
		if (l && l->user[0] + l->len > r->total)
			goto inconsistent;
	}
	p->user[0] = off;
	p->next = *pp;
	*pp = p;
	r->nfrags++;
	r->have += len;
	st->reass_pbufs++;
	if (!off) {
		r->tos = h->tos;
		r->ttl = h->ttl;
	}
	if (r->total && r->have == r->total)
		reass_deliver(st, r);
	return;
inconsistent:
	reass_free(st, r, DROP_IPV4_REASS_OVERLAP);
	ipv4_drop_pkt(st, p, DROP_IPV4_REASS_OVERLAP);
}

void ipv4_input(struct stack *st, struct pbuf *p)
{
	struct ipv4_hdr h;
	struct ipv4_meta m;
	int verify = !(p->flags & PBUF_F_RX_IP_CKSUM_GOOD);
	int rc;

	if (p->flags & PBUF_F_RX_IP_CKSUM_BAD)
		return ipv4_drop_pkt(st, p, DROP_IPV4_CKSUM);
	if ((rc = ipv4_hdr_parse(p->data, p->len, verify, &h)) != 0)
		return ipv4_drop_pkt(st, p, ipv4_drop[-rc]);
	/* broadcasts are for UDP sockets only (Linux ignores broadcast echo requests too) */
	if (h.dst != st->addr && !(h.proto == IPV4_PROTO_UDP && ipv4_is_broadcast(st, h.dst)))
		return ipv4_drop_pkt(st, p, DROP_IPV4_NOT_OURS);
	/* RFC 1122 §3.2.1.3: a source that is no single host (zero, broadcast,
	 * multicast, loopback, or our own address) is discarded, as Linux does
	 * with martians; answering one would send a SYN-ACK, an echo reply or a
	 * port unreachable to a broadcast address or to ourselves */
	if (!ipv4_src_is_host(st, h.src))
		return ipv4_drop_pkt(st, p, DROP_IPV4_BAD_SRC);
	m = (struct ipv4_meta){ .src = h.src, .dst = h.dst, .proto = h.proto, .tos = h.tos, .ttl = h.ttl,
				.l4_cksum_ok = !!(p->flags & PBUF_F_RX_L4_CKSUM_GOOD) };
	pbuf_trim(p, h.total_len); /* link padding goes */
	p->l3_len = h.ihl; /* lets L4 find the IP header again (ICMP errors quote it) */
	if (ipv4_hdr_is_fragment(&h)) {
		if (h.proto != IPV4_PROTO_ICMP && h.proto != IPV4_PROTO_UDP && h.proto != IPV4_PROTO_TCP)
			return ipv4_drop_pkt(st, p, DROP_IPV4_PROTO);
		pbuf_adj(p, h.ihl);
		return ipv4_reass(st, p, &h);
	}
	if (h.proto == IPV4_PROTO_ICMP) {
		pbuf_adj(p, h.ihl);
		icmp_input(st, p, &m);
	} else if (h.proto == IPV4_PROTO_UDP) {
		pbuf_adj(p, h.ihl);
		udp_input(st, p, &m);
	} else if (h.proto == IPV4_PROTO_TCP) {
		pbuf_adj(p, h.ihl);
		tcp_input(st, p, &m);
	} else {
		ipv4_drop_pkt(st, p, DROP_IPV4_PROTO);
	}
}

uint32_t ipv4_next_hop(const struct stack *st, uint32_t dst)
{
	if ((dst & st->netmask) == (st->addr & st->netmask))
		return dst;
	return st->gateway;
}

/* A packet larger than the path's MTU (an echo reply to a reassembled
 * request): fragments in fresh buffers, 8-byte aligned, without DF. */
static int ipv4_output_split(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos,
			     uint32_t per)
{
	uint16_t id = st->ip_id++;
	int rc = 0;
	per &= ~7u;
	for (uint32_t off = 0; off < p->len && !rc; off += per) {
		uint32_t n = p->len - off < per ? p->len - off : per;
		struct pbuf *f = stack_alloc(st);
		if (!f) {
			rc = -ENOBUFS;
			break;
		}
		memcpy(pbuf_append(f, n), p->data + off, n);
		rc = ipv4_send_fragment(st, f, dst, proto, tos, id, off, off + n < p->len, 0);
	}
	pbuf_free(p);
	return rc;
}

int ipv4_send_fragment(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos, uint16_t id,
		       uint32_t off, int more, int bcast)
{
	STAT_INC(st, IPV4_FRAGS_TX);
	return ipv4_output_frag(st, p, dst, proto, tos, id, (uint16_t)(off / 8 | (more ? IPV4_FLAG_MF : 0)), bcast);
}

int ipv4_output(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos)
{
	/* TCP's segments fit (MSS); anything else as small as the least MTU too */
	if (proto != IPV4_PROTO_TCP && p->len > (uint32_t)stack_least_mtu(st) - IPV4_HDR_LEN) {
		uint32_t path = (uint32_t)stack_path_mtu(st, dst) - IPV4_HDR_LEN;
		if (p->len > path)
			return ipv4_output_split(st, p, dst, proto, tos, path);
	}
	return ipv4_output_frag(st, p, dst, proto, tos, st->ip_id++, IPV4_FLAG_DF, 0);
}

int ipv4_output_frag(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos, uint16_t id,
		     uint16_t frag, int bcast)
{
	static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t nh = bcast ? dst : ipv4_next_hop(st, dst);
	struct ipv4_hdr h = { .ihl = IPV4_HDR_LEN, .tos = tos, .id = id, .frag = frag,
			      .ttl = 64, .proto = proto, .src = st->addr, .dst = dst };
	uint8_t *b;

	if (!nh) {
		ipv4_drop_pkt(st, p, DROP_IPV4_NO_ROUTE);
		return -ENETUNREACH;
	}
	p->l3_len = IPV4_HDR_LEN; /* l4_len is the caller's, read with its offload flag */
	if (!(b = pbuf_prepend(p, IPV4_HDR_LEN))) {
		ipv4_drop_pkt(st, p, TX_DROP_NOBUF);
		return -ENOBUFS;
	}
	h.total_len = (uint16_t)p->len;
	ipv4_hdr_emit(b, &h);
	if (bcast) {
		eth_output(st, p, bcast_mac, ETH_TYPE_IPV4);
		return 0;
	}
	return arp_output(st, p, nh);
}
