/* ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861) message numbers and
 * layouts. The checksum covers the IPv6 pseudo-header (cksum_pseudo_ipv6). */
#ifndef DEMI_WIRE_ICMP6_H
#define DEMI_WIRE_ICMP6_H

#define ICMP6_HDR_LEN 8

/* errors */
#define ICMP6_DST_UNREACH    1
#define ICMP6_PACKET_TOO_BIG 2
#define ICMP6_TIME_EXCEEDED  3
#define ICMP6_PARAM_PROB     4
/* informational */
#define ICMP6_ECHO_REQUEST   128
#define ICMP6_ECHO_REPLY     129
#define ND_ROUTER_SOLICIT    133
#define ND_ROUTER_ADVERT     134
#define ND_NEIGHBOR_SOLICIT  135
#define ND_NEIGHBOR_ADVERT   136
#define ND_REDIRECT          137

/* destination unreachable codes */
#define ICMP6_UNREACH_NOROUTE 0
#define ICMP6_UNREACH_ADMIN   1
#define ICMP6_UNREACH_ADDR    3
#define ICMP6_UNREACH_PORT    4
/* time exceeded codes */
#define ICMP6_TIME_EXCEED_HOPS  0
#define ICMP6_TIME_EXCEED_REASM 1
/* parameter problem codes: the pointer is the offset of the bad byte from the IPv6 header */
#define ICMP6_PARAMPROB_HEADER 0 /* erroneous header field */
#define ICMP6_PARAMPROB_NEXTHDR 1 /* unrecognized next header */
#define ICMP6_PARAMPROB_OPTION 2 /* unrecognized IPv6 option */

/* RFC 4861 §4.3, §4.4: NS and NA are 24 bytes (type, code, cksum, 4 bytes of
 * reserved or flags, the 16-byte target) and options follow */
#define ND_NS_NA_LEN 24
#define ND_NA_FLAG_ROUTER    0x80000000u
#define ND_NA_FLAG_SOLICITED 0x40000000u
#define ND_NA_FLAG_OVERRIDE  0x20000000u
#define ND_OPT_SOURCE_LLADDR 1
#define ND_OPT_TARGET_LLADDR 2
#define ND_OPT_LLADDR_LEN    8 /* type, length (in 8 bytes: 1), a 6-byte MAC */
#define ND_HOP_LIMIT 255       /* sent with, and required of what is received */

#endif
