/* IPv4 header (RFC 791): parse with every field checked, emit with checksum. */
#ifndef DEMI_WIRE_IPV4_H
#define DEMI_WIRE_IPV4_H

#include <stddef.h>
#include <stdint.h>

#define IPV4_HDR_LEN  20
#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP  6
#define IPV4_PROTO_UDP  17
#define IPV4_FLAG_DF  0x4000
#define IPV4_FLAG_MF  0x2000
#define IPV4_FRAG_OFF 0x1fff

struct ipv4_hdr {
	uint8_t ihl; /* header length in bytes */
	uint8_t tos;
	uint16_t total_len;
	uint16_t id;
	uint16_t frag; /* flags and fragment offset */
	uint8_t ttl;
	uint8_t proto;
	uint16_t cksum;
	uint32_t src, dst; /* host order */
};

enum ipv4_parse_err {
	IPV4_ERR_SHORT = 1, /* shorter than 20 bytes */
	IPV4_ERR_VERSION,   /* not 4 */
	IPV4_ERR_IHL,       /* IHL < 5 or header beyond the packet */
	IPV4_ERR_LEN,       /* total length < IHL or > the frame */
	IPV4_ERR_CKSUM,     /* header checksum wrong */
};

/* Parses and validates; skips the checksum check when verify_cksum is 0 (the
 * device did it). 0 or -IPV4_ERR_*. Bytes past total_len are link padding. */
int ipv4_hdr_parse(const uint8_t *buf, size_t len, int verify_cksum, struct ipv4_hdr *h);
/* Writes a 20-byte header (options are never sent) with its checksum. */
void ipv4_hdr_emit(uint8_t *buf, const struct ipv4_hdr *h);
static inline int ipv4_hdr_is_fragment(const struct ipv4_hdr *h)
{
	return (h->frag & (IPV4_FLAG_MF | IPV4_FRAG_OFF)) != 0;
}

#endif
