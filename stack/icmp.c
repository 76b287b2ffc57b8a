/* ICMP (RFC 792, RFC 1122 §3.2.2): echo replies; errors about packets we
 * sent go to UDP and TCP; destination unreachable sent, rate-limited. */
#include <errno.h>
#include <string.h>

#include "net.h"
#include "udp.h"
#include "wire/cksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

/* Linux's global ICMP error limit (net.ipv4.icmp_msgs_per_sec = 1000,
 * icmp_msgs_burst = 50), as a token bucket counted in nanoseconds. */
#define ICMP_ERR_INTERVAL_NS 1000000ull
#define ICMP_ERR_BURST       50
/* RFC 1812 §4.3.2.3, as Linux: an error packet is at most 576 bytes */
#define ICMP_ERR_MAX_LEN     576

/* Destination unreachable codes to errno, and whether the error is hard
 * (Linux's icmp_err_convert[]; fragmentation needed is hard for UDP, as in
 * __udp4_lib_err(), since sockets do path MTU discovery by default). */
static const struct {
	int err;
	int hard;
} icmp_unreach_err[16] = {
	{ ENETUNREACH, 0 },  { EHOSTUNREACH, 0 }, { ENOPROTOOPT, 1 },  { ECONNREFUSED, 1 },
	{ EMSGSIZE, 1 },     { EOPNOTSUPP, 0 },   { ENETUNREACH, 1 },  { EHOSTDOWN, 1 },
	{ ENONET, 1 },       { ENETUNREACH, 1 },  { EHOSTUNREACH, 1 }, { ENETUNREACH, 0 },
	{ EHOSTUNREACH, 0 }, { EHOSTUNREACH, 1 }, { EHOSTUNREACH, 1 }, { EHOSTUNREACH, 1 },
};

#define ICMP_PARAM_PROBLEM 12

/* RFC 1191 §7: MTU plateaus, for routers that do not say the next hop's */
static const uint16_t icmp_mtu_plateau[] = { 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68 };

uint16_t stack_path_mtu(struct stack *st, uint32_t dst)
{
	for (unsigned i = 0; i < STACK_PMTU_SLOTS; i++)
		if (st->pmtu[i].dst == dst) {
			if (st->now < st->pmtu[i].expires)
				return st->pmtu[i].mtu < st->mtu ? st->pmtu[i].mtu : st->mtu;
			st->pmtu[i].dst = 0; /* expired: try the full size again */
			break;
		}
	return st->mtu;
}

uint16_t stack_path_mtu_learn(struct stack *st, uint32_t dst, uint16_t mtu)
{
	unsigned pick = 0;
	uint16_t now = stack_path_mtu(st, dst);
	if (mtu < STACK_PMTU_MIN)
		mtu = STACK_PMTU_MIN;
	if (mtu >= now)
		return now;
	for (unsigned i = 0; i < STACK_PMTU_SLOTS; i++) {
		if (st->pmtu[i].dst == dst || !st->pmtu[i].dst || st->pmtu[i].expires <= st->now) {
			pick = i;
			break;
		}
		if (st->pmtu[i].expires < st->pmtu[pick].expires)
			pick = i;
	}
	st->pmtu[pick].dst = dst;
	st->pmtu[pick].mtu = mtu;
	st->pmtu[pick].expires = st->now + STACK_PMTU_TTL_NS;
	STAT_INC(st, ICMP_PMTU_LEARNED);
	return mtu;
}

/* An error about a packet of ours (RFC 1122 §3.2.2.1, §4.1.3.3): find the
 * packet's ports in the quoted header and tell its protocol. */
static void icmp_input_error(struct stack *st, const struct pbuf *p, const struct icmp_hdr *h)
{
	const uint8_t *q = p->data + ICMP_HDR_LEN;
	size_t qlen = p->len - ICMP_HDR_LEN;
	uint32_t src, dst;
	uint16_t sport, dport;
	int err, hard, ihl;

	if (h->type == ICMP_DEST_UNREACH && h->code < 16) {
		err = icmp_unreach_err[h->code].err;
		hard = icmp_unreach_err[h->code].hard;
	} else if (h->type == ICMP_PARAM_PROBLEM) {
		err = EPROTO;
		hard = 1;
	} else { /* time exceeded, unknown unreachable codes */
		err = EHOSTUNREACH;
		hard = 0;
	}
	/* the quoted IP header and the first 8 bytes of its payload: the ports */
	ihl = qlen ? (q[0] & 0x0f) * 4 : 0;
	if (qlen < IPV4_HDR_LEN || q[0] >> 4 != 4 || ihl < IPV4_HDR_LEN || qlen < (size_t)ihl + 8 ||
	    (src = rd32(q + 12)) != st->addr) {
		STAT_INC(st, DROP_ICMP_ERROR_QUOTE);
		return;
	}
	dst = rd32(q + 16);
	sport = rd16(q + ihl);
	dport = rd16(q + ihl + 2);
	STAT_INC(st, ICMP_ERRORS_RX);
	if (h->type == ICMP_DEST_UNREACH && h->code == ICMP_UNREACH_NEEDFRAG) {
		/* path MTU news (RFC 1191), never a reason to give up; with no
		 * next-hop MTU, the plateau below the quoted packet's length */
		uint16_t mtu = (uint16_t)(h->rest & 0xffff), qlen16 = rd16(q + 2);
		if (!mtu)
			for (unsigned i = 0; i < sizeof(icmp_mtu_plateau) / sizeof(icmp_mtu_plateau[0]); i++)
				if (icmp_mtu_plateau[i] < qlen16) {
					mtu = icmp_mtu_plateau[i];
					break;
				}
		if (q[9] == IPV4_PROTO_UDP) {
			/* as Linux's __udp4_lib_err(): the path learns it (larger
			 * datagrams to dst then leave in fragments that fit), and a
			 * connected socket hears EMSGSIZE */
			if (mtu && mtu < qlen16)
				stack_path_mtu_learn(st, dst, mtu);
			udp_icmp_error(st, src, dst, sport, dport, err, hard);
			return;
		}
		if (q[9] == IPV4_PROTO_TCP && mtu) {
			/* only a segment in flight may move it (RFC 5927 §4.1) */
			tcp_icmp_mtu(st, src, dst, sport, dport, rd32(q + ihl + 4), mtu);
		}
		return;
	}
	if (q[9] == IPV4_PROTO_UDP)
		udp_icmp_error(st, src, dst, sport, dport, err, hard);
	else if (q[9] == IPV4_PROTO_TCP)
		tcp_icmp_error(st, src, dst, sport, dport, err);
}

void icmp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m)
{
	struct icmp_hdr h;
	if (icmp_hdr_parse(p->data, p->len, &h) != 0) {
		STAT_INC(st, DROP_ICMP_MALFORMED);
		pbuf_free(p);
		return;
	}
	if (h.type == ICMP_DEST_UNREACH || h.type == ICMP_TIME_EXCEEDED || h.type == ICMP_PARAM_PROBLEM) {
		icmp_input_error(st, p, &h);
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

int icmp_echo_fragments(struct stack *st, struct pbuf *frags, const struct ipv4_meta *m)
{
	uint16_t id = st->ip_id++;
	uint32_t sum = 0;
	uint8_t *h = frags->data;
	if (frags->len < ICMP_HDR_LEN || h[0] != ICMP_ECHO_REQUEST || h[1] != 0)
		return 0;
	for (const struct pbuf *f = frags; f; f = f->next)
		sum = cksum_partial(f->data, f->len, sum); /* all but the last are even */
	if (cksum_fold(sum) != 0) {
		STAT_INC(st, DROP_ICMP_MALFORMED);
		while (frags) {
			struct pbuf *f = frags;
			frags = f->next;
			pbuf_free(f);
		}
		return 1;
	}
	/* same id, sequence and data: the type changes, the checksum is summed again */
	h[0] = ICMP_ECHO_REPLY;
	wr16(h + 2, 0);
	sum = 0;
	for (const struct pbuf *f = frags; f; f = f->next)
		sum = cksum_partial(f->data, f->len, sum);
	wr16(h + 2, cksum_fold(sum));
	STAT_INC(st, ICMP_ECHO_REPLIES);
	while (frags) {
		struct pbuf *f = frags;
		frags = f->next;
		f->next = NULL;
		f->flags = 0;
		ipv4_send_fragment(st, f, m->src, IPV4_PROTO_ICMP, m->tos, id, (uint32_t)f->user[0], frags != NULL, 0);
	}
	return 1;
}

/* Token bucket: credit grows with time up to the burst, each error costs one interval. */
static int icmp_rate_allow(struct stack *st)
{
	const uint64_t cap = ICMP_ERR_BURST * ICMP_ERR_INTERVAL_NS;
	uint64_t t = st->icmp_tokens + (st->now - st->icmp_last);

	st->icmp_last = st->now;
	if (t > cap)
		t = cap;
	if (t < ICMP_ERR_INTERVAL_NS) {
		st->icmp_tokens = t;
		return 0;
	}
	st->icmp_tokens = t - ICMP_ERR_INTERVAL_NS;
	return 1;
}

/* RFC 1122 §3.2.2: never about an ICMP error, a non-initial fragment, or a
 * packet whose source is not one host (zero, broadcast, multicast, loopback). */
static int icmp_may_answer(const struct stack *st, const uint8_t *ip, uint32_t len)
{
	uint32_t src = rd32(ip + 12);
	uint8_t ihl = (uint8_t)((ip[0] & 0x0f) * 4);

	if (src == 0 || src >= 0xe0000000u || (src >> 24) == 127 || ipv4_is_broadcast(st, src))
		return 0;
	if (rd16(ip + 6) & IPV4_FRAG_OFF)
		return 0;
	if (ip[9] == IPV4_PROTO_ICMP && len > ihl) {
		uint8_t type = ip[ihl];
		return type == ICMP_ECHO_REQUEST || type == ICMP_ECHO_REPLY || type == 13 || type == 14;
	}
	return 1;
}

void icmp_send_unreach(struct stack *st, const struct pbuf *orig, uint8_t code)
{
	const uint32_t room = ICMP_ERR_MAX_LEN - IPV4_HDR_LEN - ICMP_HDR_LEN;
	struct icmp_hdr h = { .type = ICMP_DEST_UNREACH, .code = code };
	uint32_t quote = orig->len < room ? orig->len : room;
	struct pbuf *p;
	uint8_t *b;

	/* nor about a packet sent to a broadcast address */
	if (orig->len < IPV4_HDR_LEN || !icmp_may_answer(st, orig->data, orig->len) ||
	    ipv4_is_broadcast(st, rd32(orig->data + 16)))
		return;
	if (!icmp_rate_allow(st)) {
		STAT_INC(st, ICMP_RATE_LIMITED);
		return;
	}
	if (!(p = stack_alloc(st)))
		return;
	if (!(b = pbuf_append(p, ICMP_HDR_LEN + quote))) {
		STAT_INC(st, TX_DROP_NOBUF);
		pbuf_free(p);
		return;
	}
	memcpy(b + ICMP_HDR_LEN, orig->data, quote);
	icmp_hdr_emit(b, ICMP_HDR_LEN + quote, &h);
	STAT_INC(st, ICMP_UNREACH_SENT);
	/* Linux: the original TOS bits with precedence "internetwork control" */
	ipv4_output(st, p, rd32(orig->data + 12), IPV4_PROTO_ICMP, (uint8_t)((orig->data[1] & 0x1e) | 0xc0));
}
