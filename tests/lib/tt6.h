/* TCP and UDP over IPv6 on the TCP fixture (tt.h): the stack has
 * 2001:db8::2/64 (and 198.18.0.2), the test plays 2001:db8::1 (pt6.h),
 * or a second stack does (tt6_setup_pair). Segments are built and decoded
 * here, their checksums over the IPv6 pseudo-header. */
#ifndef DEMI_TESTS_TT6_H
#define DEMI_TESTS_TT6_H

#include <stdint.h>

#include "pt6.h"
#include "tt.h"

int tt6_setup(void **state);      /* one stack with IPv6; the peer's MAC known to ND and ARP */
int tt6_setup_pair(void **state); /* two stacks, the second 2001:db8::1 on the peer's port */

/* A segment from 2001:db8::1 (defaults as tt_send) to the stack, processed. */
void tt6_send(struct tt *t, struct tt_seg s);
/* The next IPv6 TCP segment the stack sent (its checksum and addresses
 * checked, payload in t->rx), past other frames; 0 if none. hdr: its IPv6
 * header, if not NULL. */
int tt6_recv(struct tt *t, struct tt_seg *out, struct ipv6_hdr *hdr);
struct tt_seg tt6_expect(struct tt *t, uint8_t flags, uint32_t seq, uint32_t ack);
/* An ICMPv6 error from the peer's address: type, code, the 4-byte field
 * (Packet Too Big: the MTU) and the quoted packet (an IPv6 packet). */
void tt6_send_icmp6_error(struct tt *t, uint8_t type, uint8_t code, uint32_t param, const uint8_t *quote,
			  uint32_t qlen);

/* An AF_INET6 listener on [::]:TT_LPORT (backlog), v6only as IPV6_V6ONLY. */
void tt6_listen(struct tt *t, int backlog, int v6only);
/* SYN (MSS 1460, WS 7, SACK-permitted, TS) from the peer's sport, SYN-ACK
 * out (returned), then its ACK: ESTABLISHED, accepted into t->sock. */
struct tt_seg tt6_established(struct tt *t);
/* The connection's TCB: [2001:db8::2]:TT_LPORT - [2001:db8::1]:TT_RPORT. */
struct tcb *tt6_tcb(struct tt *t);

#endif
