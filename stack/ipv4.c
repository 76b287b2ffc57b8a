/* IPv4 (RFC 791, RFC 1122 §3.2): every received header checked, fragments
 * counted and dropped, one address per stack, routes by prefix and gateway. */
#include <errno.h>

#include "net.h"
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
	if (ipv4_hdr_is_fragment(&h))
		return ipv4_drop_pkt(st, p, DROP_IPV4_FRAGMENT);
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

int ipv4_output(struct stack *st, struct pbuf *p, uint32_t dst, uint8_t proto, uint8_t tos)
{
	uint32_t nh = ipv4_next_hop(st, dst);
	struct ipv4_hdr h = { .ihl = IPV4_HDR_LEN, .tos = tos, .id = st->ip_id++, .frag = IPV4_FLAG_DF,
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
	return arp_output(st, p, nh);
}
