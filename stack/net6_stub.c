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
