/* Ethernet: demultiplex received frames, frame what the stack sends. */
#include <string.h>

#include "net.h"
#include "net6.h"
#include "wire/eth.h"

void eth_input(struct stack *st, struct pbuf *p)
{
	struct eth_hdr h;
	if (eth_hdr_parse(p->data, p->len, &h) != 0) {
		STAT_INC(st, DROP_ETH_SHORT);
		pbuf_free(p);
		return;
	}
	if (!eth_addr_is_multicast(h.dst) && memcmp(h.dst, st->nif->mac, 6) != 0) {
		STAT_INC(st, DROP_ETH_NOT_OURS);
		pbuf_free(p);
		return;
	}
	pbuf_adj(p, ETH_HDR_LEN);
	switch (h.type) {
	case ETH_TYPE_IPV4:
		ipv4_input(st, p);
		break;
	case ETH_TYPE_ARP:
		arp_input(st, p);
		break;
	case ETH_TYPE_IPV6:
		ipv6_input(st, p);
		break;
	default:
		STAT_INC(st, DROP_ETH_TYPE);
		pbuf_free(p);
	}
}

void eth_output(struct stack *st, struct pbuf *p, const uint8_t dst_mac[6], uint16_t ethertype)
{
	struct eth_hdr h = { .type = ethertype };
	uint8_t *b = pbuf_prepend(p, ETH_HDR_LEN);
	if (!b) {
		STAT_INC(st, TX_DROP_NOBUF);
		pbuf_free(p);
		return;
	}
	memcpy(h.dst, dst_mac, 6);
	memcpy(h.src, st->nif->mac, 6);
	eth_hdr_emit(b, &h);
	p->l2_len = ETH_HDR_LEN;
	stack_tx_frame(st, p);
}
