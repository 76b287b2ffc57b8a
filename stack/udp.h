/* UDP sockets (RFC 768, RFC 1122 §4.1) with the semantics of Linux's. The
 * calls between UDP and the other layers are in net.h; this adds what only
 * UDP, ICMP and the tests need. */
#ifndef DEMI_UDP_H
#define DEMI_UDP_H

#include <stdint.h>

#include "stack_impl.h"

/* Linux's default net.ipv4.ip_local_port_range */
#define UDP_PORT_EPHEMERAL_LO 32768
#define UDP_PORT_EPHEMERAL_HI 60999
/* Largest payload of one datagram: 65535 - IP header - UDP header */
#define UDP_MAX_PAYLOAD 65507
/* Linux's net.core.{r,w}mem_default and _max, and the least SO_RCVBUF and
 * SO_SNDBUF can be set to (SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF on x86-64) */
#define UDP_RMEM_DEFAULT 212992
#define UDP_RMEM_MAX     212992
#define UDP_WMEM_DEFAULT 212992
#define UDP_WMEM_MAX     212992
#define UDP_RMEM_MIN     2304
#define UDP_WMEM_MIN     4608

/* An ICMP error about a datagram we sent from src:sport to dst:dport. err is
 * a positive errno; hard errors (RFC 1122 §4.1.3.3: port or protocol
 * unreachable and the like) become the pending error of a socket connected
 * to dst:dport, reported by its next call, as Linux does without IP_RECVERR. */
void udp_icmp_error(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		    int err, int hard);

#endif
