/* IPv6 on the packet-test fixture (pt.h): the stack has 2001:db8::2/64 and
 * its link-local fe80::ff:fe00:2 (from 02:00:00:00:00:02), the peer plays
 * 2001:db8::1 (fe80::ff:fe00:1). Frames are built and decoded here; the
 * stack's own wire code does the IPv6 header. */
#ifndef DEMI_TEST_PT6_H
#define DEMI_TEST_PT6_H

#include <stdint.h>

#include "pt.h"
#include "wire/ipv6.h"

extern const struct in6_addr PT6_US, PT6_PEER, PT6_US_LL, PT6_PEER_LL, PT6_ALL_NODES;

/* The pt_opts cfg_hook: 2001:db8::2/64, no DAD (addresses usable at once). */
void pt6_cfg(struct stack_cfg *cfg);
/* The same with DAD, its wait 1 s (the default). */
void pt6_cfg_dad(struct stack_cfg *cfg);

/* cmocka setup: pt with IPv6 (no DAD), the peer's global and link-local
 * addresses permanent in the neighbour cache (nd_neigh_set). */
int pt6_setup(void **state);
/* The same with the peer unknown to ND (resolution tests). */
int pt6_setup_no_nd(void **state);
/* IPv6 with DAD running: the stack's solicitations are on the wire. */
int pt6_setup_dad(void **state);
/* pt_teardown closes all three. */

/* Ethernet (from the peer's MAC to dst_mac, NULL: the stack's) and an IPv6
 * header at f; the payload, plen bytes, at f + 54 is the caller's.
 * Returns the frame length. */
uint32_t pt6_build_ip(uint8_t *f, const uint8_t *dst_mac, const struct in6_addr *src, const struct in6_addr *dst,
		      uint8_t nxt, uint16_t plen, uint8_t hlim);
/* Fill in the ICMPv6 checksum of the message at f + off (len bytes). */
void pt6_icmp6_cksum(uint8_t *f, uint32_t off, uint32_t len, const struct in6_addr *src, const struct in6_addr *dst);
/* An echo request from the peer (2001:db8::1) to dst, len data bytes 0x40+i. */
uint32_t pt6_build_echo(uint8_t *f, const struct in6_addr *dst, uint16_t id, uint16_t seq, uint16_t len);
/* NS for target from src to dst (the target's solicited-node group when
 * dst is NULL), with a source link-layer option carrying mac if mac. */
uint32_t pt6_build_ns(uint8_t *f, const struct in6_addr *src, const struct in6_addr *dst,
		      const struct in6_addr *target, const uint8_t *mac);
/* NA for target from src to dst, flags (ND_NA_FLAG_*), a target link-layer
 * option carrying mac if mac; the Ethernet source is mac (or the peer's). */
uint32_t pt6_build_na(uint8_t *f, const struct in6_addr *src, const struct in6_addr *dst,
		      const struct in6_addr *target, uint32_t flags, const uint8_t *mac);

/* A decoded IPv6 frame the stack sent. */
struct pt6_frame {
	uint8_t raw[2048];
	uint32_t len;
	uint8_t dst_mac[6];
	struct ipv6_hdr ip;
	const uint8_t *l4; /* right after the IPv6 header */
	uint16_t l4_len;
};
/* Fails the test unless the next frame is IPv6 from the stack's MAC, its
 * length the header's. */
void pt6_expect_ip(struct pt *t, struct pt6_frame *f);
/* The same, and an ICMPv6 message of this type with a valid checksum. */
void pt6_expect_icmp6(struct pt *t, struct pt6_frame *f, uint8_t type);

#endif
