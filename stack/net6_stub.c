/* Weak stand-ins for the IPv6 calls between the network layer and the
 * transports, so that each side builds without the other. A strong
 * definition replaces each one. */
#include <errno.h>

#include "net6.h"

__attribute__((weak)) void ipv6_input(struct stack *st, struct pbuf *p)
{
	(void)st;
	pbuf_free(p);
}

__attribute__((weak)) int ipv6_output(struct stack *st, struct pbuf *p, const struct in6_addr *src,
				      const struct in6_addr *dst, uint8_t proto, uint8_t tclass, uint32_t flow)
{
	(void)st, (void)src, (void)dst, (void)proto, (void)tclass, (void)flow;
	pbuf_free(p);
	return -ENETUNREACH;
}

__attribute__((weak)) uint16_t ipv6_max_payload(const struct stack *st, const struct in6_addr *dst)
{
	(void)st, (void)dst;
	return 1280 - 40;
}

__attribute__((weak)) int ipv6_enabled(const struct stack *st)
{
	(void)st;
	return 0;
}

__attribute__((weak)) void icmp6_send_error(struct stack *st, const struct pbuf *orig, uint8_t type, uint8_t code,
					    uint32_t param)
{
	(void)st, (void)orig, (void)type, (void)code, (void)param;
}

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
