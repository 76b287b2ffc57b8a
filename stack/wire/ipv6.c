/* Parse and emit of the IPv6 header. */
#include "ipv6.h"
#include "cksum.h"

int ipv6_hdr_parse(const uint8_t *buf, size_t len, struct ipv6_hdr *h)
{
	uint32_t w;
	if (len < IPV6_HDR_LEN)
		return -IPV6_ERR_SHORT;
	w = rd32(buf);
	if (w >> 28 != 6)
		return -IPV6_ERR_VERSION;
	h->tclass = (uint8_t)(w >> 20);
	h->flow = w & IPV6_FLOW_MASK;
	h->plen = rd16(buf + 4);
	h->nxt = buf[6];
	h->hlim = buf[7];
	memcpy(&h->src, buf + 8, 16);
	memcpy(&h->dst, buf + 24, 16);
	if (!h->plen || (size_t)h->plen + IPV6_HDR_LEN > len)
		return -IPV6_ERR_LEN;
	return 0;
}

void ipv6_hdr_emit(uint8_t *buf, const struct ipv6_hdr *h)
{
	wr32(buf, 6u << 28 | (uint32_t)h->tclass << 20 | (h->flow & IPV6_FLOW_MASK));
	wr16(buf + 4, h->plen);
	buf[6] = h->nxt;
	buf[7] = h->hlim;
	memcpy(buf + 8, &h->src, 16);
	memcpy(buf + 24, &h->dst, 16);
}
