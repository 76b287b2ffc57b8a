/* Packet-test fixture: a stack (198.18.0.2) on one memlink port, the test
 * playing the peer (198.18.0.1) on another, a fake clock, and a check at
 * teardown that no buffer leaked. Frames are built and decoded with the
 * stack's own wire code. The TCP fixture (tt.h) is built on this one:
 * pt_open/pt_close make and check the link it uses too. */
#ifndef DEMI_TEST_PT_H
#define DEMI_TEST_PT_H

#include <stdint.h>

#include "net.h"
#include "netif/memlink.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define PT_MS 1000000ull
#define PT_US_IP   0xc6120002u /* 198.18.0.2 */
#define PT_PEER_IP 0xc6120001u /* 198.18.0.1 */

extern const uint8_t PT_US_MAC[6], PT_PEER_MAC[6];

/* The link, the stack and the clock; also the first fields of struct tt,
 * so a TCP test reaches them by the same names (t->st, t->now). */
#define PT_LINK_FIELDS                                                                     \
	struct memlink *ml;                                                                \
	struct pbuf_pool *spool, *ppool; /* the stack's and the peer's buffers */          \
	struct netif *snif, *peer;       /* the stack's port and the test's */             \
	struct stack *st;                                                                  \
	uint64_t now; /* the fake clock, ns */

struct pt {
	PT_LINK_FIELDS
	/* what the stack last handed to its device (flags and header lengths) */
	const struct netif_ops *orig;
	struct netif_ops ops;
	uint32_t tx_flags;
	uint16_t tx_l2, tx_l3, tx_l4;
	uint32_t rx_flags; /* set on every frame the stack receives (device checksum results) */
	uint32_t tx_refuse; /* tx bursts the device refuses whole, as a full ring or a link not up */
};

/* How pt_open builds the link; pt_setup's choice is in pt.c. */
struct pt_opts {
	uint64_t seed;          /* the memlink's fault-injection seed */
	uint32_t nbufs, bufsize; /* each pool: the stack's and the peer's */
	uint16_t mtu;
	uint8_t isn_secret[16];
	int no_arp;             /* leave the peer's MAC out of the ARP cache */
	void (*cfg_hook)(struct stack_cfg *cfg); /* changes the stack's config before it is made (IPv6: pt6.h) */
};
/* Build the link and the stack in *t (zeroed first); -1 on failure. */
int pt_open(struct pt *t, const struct pt_opts *o);
/* Destroy the stack and the link; fails the test if a buffer leaked. */
void pt_close(struct pt *t);

/* cmocka setup/teardown: the peer's MAC is already in the ARP cache. */
int pt_setup(void **state);
/* The same with the peer's MAC unknown (ARP tests). */
int pt_setup_no_arp(void **state);
int pt_teardown(void **state);

/* Deliver what is on the wire, let the stack run, deliver its answers. */
void pt_step(struct pt *t, uint64_t advance_ns);
void pt_send_frame(struct pt *t, const uint8_t *frame, uint32_t len);
/* The next frame the stack sent to the peer, copied out; 0 if none. */
uint32_t pt_recv_frame(struct pt *t, uint8_t *buf, uint32_t size);

/* The Ethernet header from the peer to the stack and this IPv4 header (its
 * checksum computed) at f + 14; returns the frame length, 14 + total_len. */
uint32_t pt_build_hdrs(uint8_t *f, const struct ipv4_hdr *ip);
/* An Ethernet + IPv4 frame from the peer to the stack around an L4 payload
 * of l4_len bytes (at f + 34); returns the frame length. */
uint32_t pt_build_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);
/* A UDP datagram with a correct checksum; returns the frame length. */
uint32_t pt_build_udp(uint8_t *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		      const void *payload, uint16_t len);
/* Build, send from the peer and step. */
void pt_peer_udp(struct pt *t, uint16_t sport, uint16_t dport, const void *payload, uint16_t len);

/* A decoded frame the stack sent: headers checked (IPv4 checksum valid). */
struct pt_frame {
	uint8_t raw[2048];
	uint32_t len;
	uint8_t dst_mac[6];
	struct ipv4_hdr ip;
	const uint8_t *l4; /* the IP payload */
	uint16_t l4_len;
};
/* Fails the test unless the next frame is an IPv4 packet. */
void pt_expect_ip(struct pt *t, struct pt_frame *f);
/* Fails the test unless the next frame is a UDP datagram with a valid checksum. */
void pt_expect_udp(struct pt *t, struct pt_frame *f, struct udp_hdr *u);
void pt_expect_nothing(struct pt *t);

uint64_t pt_counter(struct pt *t, enum stack_counter c);

/* A UDP socket of the stack bound to port on every address. */
struct sock *pt_udp_bound(struct pt *t, uint16_t port);

#endif
