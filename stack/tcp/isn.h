/* Keyed hashes for TCP: initial sequence numbers (RFC 6528) and SYN cookies
 * (RFC 4987), both on SipHash-2-4 with a per-stack 128-bit key. */
#ifndef DEMI_TCP_ISN_H
#define DEMI_TCP_ISN_H

#include <stdint.h>

#include "../ipaddr.h"

uint64_t siphash24(const uint8_t key[16], const void *data, uint32_t len);

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * M a 4-microsecond timer from now_ns. Ports in host order. F reads an
 * IPv4 pair's 4-byte addresses and an IPv6 pair's 16-byte ones (isn.c). */
uint32_t tcp_isn(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport, const union ip_addr *raddr,
		 uint16_t rport, uint64_t now_ns);

/* SYN cookies. The cookie (our ISN) carries a MAC of the 4-tuple and the
 * peer's ISN, a 64-second time counter, and the MSS as an index into a
 * small table (the largest entry <= mss). Options a cookie cannot carry
 * (window scale, SACK-permitted) ride in the low 5 bits of our TS value when
 * the peer sends timestamps: tcp_syncookie_ts() / tcp_syncookie_ts_opts(). */
uint32_t tcp_syncookie_make(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport,
			    const union ip_addr *raddr, uint16_t rport, uint32_t peer_isn, uint16_t mss,
			    uint64_t now_ns);
/* Check the cookie returned in an ACK (ack - 1), peer_isn = seq - 1.
 * Valid for two counter periods. 0 and *mss set, or -1. */
int tcp_syncookie_check(const uint8_t key[16], const union ip_addr *laddr, uint16_t lport,
			const union ip_addr *raddr, uint16_t rport, uint32_t peer_isn, uint32_t cookie, uint64_t now_ns,
			uint16_t *mss);
/* TS value for a cookie SYN-ACK: tsval_base with its low 5 bits replaced by
 * wscale (0-14, 15: none) and sack_ok. */
uint32_t tcp_syncookie_ts(uint32_t tsval_base, uint8_t wscale, int sack_ok);
/* Back from the echoed TS value: wscale (15: none) and sack_ok. */
void tcp_syncookie_ts_opts(uint32_t tsecr, uint8_t *wscale, int *sack_ok);

#endif
