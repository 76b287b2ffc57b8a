/* Parse and emit of the Ethernet, ARP, IPv4, UDP and ICMP headers. Every
 * parse checks the length before it reads. */
#include <string.h>

#include "arp.h"
#include "cksum.h"
#include "eth.h"
#include "icmp.h"
#include "ipv4.h"
#include "udp.h"

int eth_hdr_parse(const uint8_t *buf, size_t len, struct eth_hdr *h)
{
	if (len < ETH_HDR_LEN)
		return -1;
	memcpy(h->dst, buf, 6);
	memcpy(h->src, buf + 6, 6);
	h->type = rd16(buf + 12);
	return 0;
}

void eth_hdr_emit(uint8_t *buf, const struct eth_hdr *h)
{
	memcpy(buf, h->dst, 6);
	memcpy(buf + 6, h->src, 6);
	wr16(buf + 12, h->type);
}

int arp_pkt_parse(const uint8_t *buf, size_t len, struct arp_pkt *a)
{
	if (len < ARP_LEN)
		return -ARP_ERR_SHORT;
	if (rd16(buf) != 1 || rd16(buf + 2) != ETH_TYPE_IPV4 || buf[4] != 6 || buf[5] != 4)
		return -ARP_ERR_FORMAT;
	a->op = rd16(buf + 6);
	if (a->op != ARP_OP_REQUEST && a->op != ARP_OP_REPLY)
		return -ARP_ERR_OP;
	memcpy(a->sha, buf + 8, 6);
	a->spa = rd32(buf + 14);
	memcpy(a->tha, buf + 18, 6);
	a->tpa = rd32(buf + 24);
	return 0;
}

void arp_pkt_emit(uint8_t *buf, const struct arp_pkt *a)
{
	wr16(buf, 1);
	wr16(buf + 2, ETH_TYPE_IPV4);
	buf[4] = 6;
	buf[5] = 4;
	wr16(buf + 6, a->op);
	memcpy(buf + 8, a->sha, 6);
	wr32(buf + 14, a->spa);
	memcpy(buf + 18, a->tha, 6);
	wr32(buf + 24, a->tpa);
}

int ipv4_hdr_parse(const uint8_t *buf, size_t len, int verify_cksum, struct ipv4_hdr *h)
{
	if (len < IPV4_HDR_LEN)
		return -IPV4_ERR_SHORT;
	if (buf[0] >> 4 != 4)
		return -IPV4_ERR_VERSION;
	h->ihl = (uint8_t)((buf[0] & 0x0f) * 4);
	if (h->ihl < IPV4_HDR_LEN || h->ihl > len)
		return -IPV4_ERR_IHL;
	h->total_len = rd16(buf + 2);
	if (h->total_len < h->ihl || h->total_len > len)
		return -IPV4_ERR_LEN;
	if (verify_cksum && cksum(buf, h->ihl) != 0)
		return -IPV4_ERR_CKSUM;
	h->tos = buf[1];
	h->id = rd16(buf + 4);
	h->frag = rd16(buf + 6);
	h->ttl = buf[8];
	h->proto = buf[9];
	h->cksum = rd16(buf + 10);
	h->src = rd32(buf + 12);
	h->dst = rd32(buf + 16);
	return 0;
}

void ipv4_hdr_emit(uint8_t *buf, const struct ipv4_hdr *h)
{
	buf[0] = 0x45;
	buf[1] = h->tos;
	wr16(buf + 2, h->total_len);
	wr16(buf + 4, h->id);
	wr16(buf + 6, h->frag);
	buf[8] = h->ttl;
	buf[9] = h->proto;
	wr16(buf + 10, 0);
	wr32(buf + 12, h->src);
	wr32(buf + 16, h->dst);
	wr16(buf + 10, cksum(buf, IPV4_HDR_LEN));
}

int udp_hdr_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int verify_cksum,
		  struct udp_hdr *h)
{
	if (len < UDP_HDR_LEN)
		return -UDP_ERR_SHORT;
	h->sport = rd16(buf);
	h->dport = rd16(buf + 2);
	h->len = rd16(buf + 4);
	h->cksum = rd16(buf + 6);
	if (h->len < UDP_HDR_LEN || h->len > len)
		return -UDP_ERR_LEN;
	if (verify_cksum && h->cksum != 0 &&
	    cksum_fold(cksum_partial(buf, h->len, cksum_pseudo_ipv4(src, dst, 17, h->len))) != 0)
		return -UDP_ERR_CKSUM;
	return 0;
}

void udp_hdr_emit(uint8_t *buf, const struct udp_hdr *h, uint32_t src, uint32_t dst)
{
	uint16_t c;

	wr16(buf, h->sport);
	wr16(buf + 2, h->dport);
	wr16(buf + 4, h->len);
	wr16(buf + 6, 0);
	c = cksum_fold(cksum_partial(buf, h->len, cksum_pseudo_ipv4(src, dst, 17, h->len)));
	wr16(buf + 6, c ? c : 0xffff); /* RFC 768: a computed zero is sent as all ones */
}

int icmp_hdr_parse(const uint8_t *buf, size_t len, struct icmp_hdr *h)
{
	if (len < ICMP_HDR_LEN)
		return -ICMP_ERR_SHORT;
	if (cksum(buf, len) != 0)
		return -ICMP_ERR_CKSUM;
	h->type = buf[0];
	h->code = buf[1];
	h->cksum = rd16(buf + 2);
	h->rest = rd32(buf + 4);
	return 0;
}

void icmp_hdr_emit(uint8_t *buf, size_t len, const struct icmp_hdr *h)
{
	buf[0] = h->type;
	buf[1] = h->code;
	wr16(buf + 2, 0);
	wr32(buf + 4, h->rest);
	wr16(buf + 2, cksum(buf, len));
}
