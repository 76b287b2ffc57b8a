/* Ethernet II header. */
#ifndef DEMI_WIRE_ETH_H
#define DEMI_WIRE_ETH_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HDR_LEN   14
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP  0x0806
#define ETH_TYPE_IPV6 0x86dd

struct eth_hdr {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t type; /* host order after parse */
};

/* 0, or -1 if the frame is shorter than a header. */
int eth_hdr_parse(const uint8_t *buf, size_t len, struct eth_hdr *h);
void eth_hdr_emit(uint8_t *buf, const struct eth_hdr *h);
static inline int eth_addr_is_broadcast(const uint8_t a[6])
{
	return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}
static inline int eth_addr_is_multicast(const uint8_t a[6]) { return a[0] & 1; }

#endif
