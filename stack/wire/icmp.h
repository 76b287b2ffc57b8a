/* ICMP (RFC 792): echo and destination unreachable. */
#ifndef DEMI_WIRE_ICMP_H
#define DEMI_WIRE_ICMP_H

#include <stddef.h>
#include <stdint.h>

#define ICMP_HDR_LEN       8
#define ICMP_ECHO_REPLY    0
#define ICMP_DEST_UNREACH  3
#define ICMP_ECHO_REQUEST  8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_UNREACH_NET   0
#define ICMP_UNREACH_HOST  1
#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT  3
#define ICMP_UNREACH_NEEDFRAG 4

struct icmp_hdr {
	uint8_t type, code;
	uint16_t cksum;
	uint32_t rest; /* echo: id << 16 | seq; unreachable: unused / next-hop MTU */
};

enum icmp_parse_err {
	ICMP_ERR_SHORT = 1,
	ICMP_ERR_CKSUM,
};

/* buf/len: the whole ICMP message. 0 or -ICMP_ERR_*. */
int icmp_hdr_parse(const uint8_t *buf, size_t len, struct icmp_hdr *h);
/* Writes the header and the checksum over the len-byte message at buf. */
void icmp_hdr_emit(uint8_t *buf, size_t len, const struct icmp_hdr *h);

#endif
