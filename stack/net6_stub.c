/* Weak stand-ins for the IPv6 calls between the network layer and the
 * transports, so that each side builds without the other. A strong
 * definition replaces each one. */
#include "net6.h"

__attribute__((weak)) void tcp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	(void)st, (void)m;
	pbuf_free(p);
}

__attribute__((weak)) void udp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	(void)st, (void)m;
	pbuf_free(p);
}

__attribute__((weak)) void tcp_icmp6_error(struct stack *st, const struct ipv6_meta *inner, const uint8_t *l4,
					   uint32_t l4_len, uint8_t type, uint8_t code, uint32_t mtu)
{
	(void)st, (void)inner, (void)l4, (void)l4_len, (void)type, (void)code, (void)mtu;
}
