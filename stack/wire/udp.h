/* UDP header (RFC 768). */
#ifndef DEMI_WIRE_UDP_H
#define DEMI_WIRE_UDP_H

#include <stddef.h>
#include <stdint.h>

#define UDP_HDR_LEN 8

struct udp_hdr {
	uint16_t sport, dport, len, cksum; /* host order */
};

enum udp_parse_err {
	UDP_ERR_SHORT = 1, /* fewer than 8 bytes */
	UDP_ERR_LEN,       /* length field < 8 or beyond the IP payload */
	UDP_ERR_CKSUM,     /* checksum wrong (zero means none was sent) */
};

/* buf/len: the IP payload; src/dst for the pseudo-header. 0 or -UDP_ERR_*. */
int udp_hdr_parse(const uint8_t *buf, size_t len, uint32_t src, uint32_t dst, int verify_cksum,
		  struct udp_hdr *h);
/* Writes the header over buf[0..8) of a datagram of h->len bytes whose payload
 * is already in place, with its checksum (0 is sent as 0xffff). */
void udp_hdr_emit(uint8_t *buf, const struct udp_hdr *h, uint32_t src, uint32_t dst);

#endif
