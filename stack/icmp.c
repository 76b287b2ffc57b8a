/* ICMP (RFC 792, RFC 1122 §3.2.2): echo replies; errors about our own
 * segments go to TCP. */
#include "net.h"
#include "wire/cksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

void icmp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m)
{
	struct icmp_hdr h;
	if (icmp_hdr_parse(p->data, p->len, &h) != 0) {
		STAT_INC(st, DROP_ICMP_MALFORMED);
		pbuf_free(p);
		return;
	}
	if (h.type != ICMP_ECHO_REQUEST) {
		pbuf_free(p);
		return;
	}
	/* the reply reuses the request's buffer: same id, sequence and data */
	h.type = ICMP_ECHO_REPLY;
	h.code = 0;
	icmp_hdr_emit(p->data, p->len, &h);
	p->flags = 0;
	STAT_INC(st, ICMP_ECHO_REPLIES);
	ipv4_output(st, p, m->src, IPV4_PROTO_ICMP, m->tos);
}
