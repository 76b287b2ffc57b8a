/* ARP for IPv4 over Ethernet (RFC 826): the only kind the stack speaks. */
#ifndef DEMI_WIRE_ARP_H
#define DEMI_WIRE_ARP_H

#include <stddef.h>
#include <stdint.h>

#define ARP_LEN       28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

struct arp_pkt {
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa; /* host order */
	uint8_t tha[6];
	uint32_t tpa; /* host order */
};

enum arp_parse_err {
	ARP_ERR_SHORT = 1, /* fewer than 28 bytes */
	ARP_ERR_FORMAT,    /* not Ethernet/IPv4 (htype, ptype, hlen, plen) */
	ARP_ERR_OP,        /* neither request nor reply */
};

/* 0 or -ARP_ERR_*. */
int arp_pkt_parse(const uint8_t *buf, size_t len, struct arp_pkt *a);
void arp_pkt_emit(uint8_t *buf, const struct arp_pkt *a);

#endif
