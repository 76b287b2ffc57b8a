/* IPv6 fragment reassembly (RFC 8200 §4.5). Fragments wait in one of
 * IPV6_REASS_SLOTS slots, by offset, for at most 60 s; when the first one
 * came and the rest did not, the source hears Time Exceeded (code 1). As
 * RFC 5722 asks (and Linux does), a fragment that overlaps another
 * discards the whole datagram (an exact duplicate only itself); so do a
 * second last fragment that disagrees on the length and data beyond it.
 * A whole datagram no larger than a buffer is copied into one behind an
 * IPv6 header and walked on from the header that followed the Fragment
 * header; a larger echo request is answered fragment for fragment; any
 * other larger one is dropped (counted). */
#include <string.h>

#include "ip6.h"
#include "net.h"
#include "wire/cksum.h"
#include "wire/icmp6.h"

static void reass_expire_timer(struct tw_timer *t, uint64_t now);

void ipv6_reass_init(struct stack *st)
{
	tw_timer_init(&st->v6->reass_timer, reass_expire_timer);
}

static void frags_free(struct pbuf *f)
{
	while (f) {
		struct pbuf *n = f->next;
		pbuf_free(f);
		f = n;
	}
}

static void reass_free(struct stack *st, struct ipv6_reass *r, enum stack_counter why)
{
	while (r->frags) {
		struct pbuf *p = r->frags;
		r->frags = p->next;
		pbuf_free(p);
		st->v6->reass_pbufs--;
		STAT_INC(st, why);
	}
	r->expires = 0;
	r->nfrags = 0;
}

static void reass_arm(struct stack *st)
{
	struct stack6 *v6 = st->v6;
	uint64_t next = 0;
	for (int i = 0; i < IPV6_REASS_SLOTS; i++)
		if (v6->reass[i].expires && (!next || v6->reass[i].expires < next))
			next = v6->reass[i].expires;
	if (next)
		tw_add(&st->tw, &v6->reass_timer, next);
	else
		tw_cancel(&st->tw, &v6->reass_timer);
}

void ipv6_reass_expire(struct stack *st, int all)
{
	struct stack6 *v6 = st->v6;
	for (int i = 0; i < IPV6_REASS_SLOTS; i++) {
		struct ipv6_reass *r = &v6->reass[i];
		if (!r->expires || (!all && r->expires > st->now))
			continue;
		/* §4.5: the first fragment came: Time Exceeded, quoting it whole
		 * (its headers are still in front of its share, user[1] bytes) */
		if (!all && r->frags && r->frags->user[0] == 0) {
			struct pbuf *f = r->frags;
			if (pbuf_prepend(f, (uint32_t)f->user[1])) {
				icmp6_send_error(st, f, ICMP6_TIME_EXCEEDED, ICMP6_TIME_EXCEED_REASM, 0);
				pbuf_adj(f, (uint32_t)f->user[1]);
			}
		}
		reass_free(st, r, DROP_IPV6_REASS_TIMEOUT);
	}
	if (all)
		tw_cancel(&st->tw, &v6->reass_timer);
	else
		reass_arm(st);
}

static void reass_expire_timer(struct tw_timer *t, uint64_t now)
{
	struct stack6 *v6 = (struct stack6 *)((char *)t - offsetof(struct stack6, reass_timer));
	(void)now;
	ipv6_reass_expire(v6->st, 0);
}

static struct ipv6_reass *reass_slot(struct stack *st, const struct ipv6_hdr *h, uint32_t id)
{
	struct stack6 *v6 = st->v6;
	struct ipv6_reass *free_ = NULL, *oldest = NULL;
	for (int i = 0; i < IPV6_REASS_SLOTS; i++) {
		struct ipv6_reass *r = &v6->reass[i];
		if (!r->expires) {
			if (!free_)
				free_ = r;
			continue;
		}
		if (r->id == id && ipv6_addr_eq(&r->src, &h->src) && ipv6_addr_eq(&r->dst, &h->dst))
			return r;
		if (!oldest || r->expires < oldest->expires)
			oldest = r;
	}
	if (!free_) { /* the oldest datagram gives way */
		reass_free(st, oldest, DROP_IPV6_REASS_FULL);
		free_ = oldest;
	}
	*free_ = (struct ipv6_reass){ .src = h->src, .dst = h->dst, .id = id,
				      .expires = st->now + IPV6_REASS_TTL_NS };
	reass_arm(st);
	return free_;
}

/* A reassembled echo request larger than a buffer: answered in its own
 * fragments' buffers, each with the same offset (they fit the link, as
 * the request's did). 1 if it took them. */
static int reass_echo(struct stack *st, struct pbuf *frags, const struct ipv6_reass *r)
{
	const struct in6_addr *src = ipv6_addr_multicast(&r->dst) ? ipv6_src_for(st, &r->src) : &r->dst;
	struct ipv6_hdr h = { .tclass = r->tclass, .nxt = IPV6_NH_ICMPV6, .hlim = IPV6_HOP_LIMIT, .dst = r->src };
	uint32_t sum = cksum_pseudo_ipv6(&r->src, &r->dst, IPV6_NH_ICMPV6, r->total), id;
	uint8_t *b = frags->data;

	if (frags->len < ICMP6_HDR_LEN || b[0] != ICMP6_ECHO_REQUEST || b[1] != 0 || !src)
		return 0;
	for (const struct pbuf *f = frags; f; f = f->next)
		sum = cksum_partial(f->data, f->len, sum); /* all but the last are multiples of 8 */
	if (cksum_fold(sum) != 0) {
		STAT_INC(st, DROP_ICMP6_MALFORMED);
		frags_free(frags);
		return 1;
	}
	/* the type changes; the sum over both addresses is the same either way */
	b[0] = ICMP6_ECHO_REPLY;
	wr16(b + 2, 0);
	sum = cksum_pseudo_ipv6(src, &r->src, IPV6_NH_ICMPV6, r->total);
	for (const struct pbuf *f = frags; f; f = f->next)
		sum = cksum_partial(f->data, f->len, sum);
	wr16(b + 2, cksum_fold(sum));
	h.src = *src;
	h.flow = ipv6_flow_hash(st, src, &r->src, IPV6_NH_ICMPV6, frags);
	STAT_INC(st, ICMP6_ECHO_REPLIES);
	id = ++st->v6->frag_id;
	while (frags) {
		struct pbuf *f = frags;
		frags = f->next;
		f->next = NULL;
		f->flags = 0;
		ipv6_send_fragment(st, f, &h, id, (uint32_t)f->user[0], frags != NULL);
	}
	return 1;
}

static void reass_deliver(struct stack *st, struct ipv6_reass *r)
{
	struct stack6 *v6 = st->v6;
	struct ipv6_hdr h = { .tclass = r->tclass, .flow = 0, .plen = (uint16_t)r->total, .nxt = r->proto,
			      .hlim = r->hlim, .src = r->src, .dst = r->dst };
	struct pbuf *frags = r->frags, *p;
	uint32_t total = r->total;

	v6->reass_pbufs = (uint16_t)(v6->reass_pbufs - r->nfrags);
	r->frags = NULL;
	r->expires = 0;
	r->nfrags = 0;
	reass_arm(st);
	STAT_INC(st, IPV6_REASSEMBLED);
	if (IPV6_HDR_LEN + total <= st->pool->buf_size - PBUF_HEADROOM && (p = stack_alloc(st)) != NULL) {
		uint8_t *d = pbuf_append(p, IPV6_HDR_LEN + total);
		ipv6_hdr_emit(d, &h);
		while (frags) {
			struct pbuf *f = frags;
			frags = f->next;
			memcpy(d + IPV6_HDR_LEN + f->user[0], f->data, f->len);
			pbuf_free(f);
		}
		ipv6_input_reassembled(st, p, &h);
		return;
	}
	if (r->proto == IPV6_NH_ICMPV6 && reass_echo(st, frags, r))
		return;
	frags_free(frags);
	STAT_INC(st, DROP_IPV6_REASS_TOO_BIG);
}

void ipv6_reass(struct stack *st, struct pbuf *p, const struct ipv6_hdr *h, uint32_t fh_off)
{
	struct stack6 *v6 = st->v6;
	uint16_t fo = rd16(p->data + fh_off + 2);
	uint32_t id = rd32(p->data + fh_off + 4), start = fh_off + IPV6_FRAG_HDR_LEN;
	uint32_t off = fo & IPV6_FRAG_OFF_MASK, len = p->len - start, end = off + len;
	uint8_t nxt = p->data[fh_off];
	int more = fo & IPV6_FRAG_MF;
	struct ipv6_reass *r;
	struct pbuf **pp, *prev = NULL;

	STAT_INC(st, IPV6_FRAGS_RX);
	/* §4.5: all but the last carry a multiple of 8 bytes (Parameter
	 * Problem at the Payload Length); none reaches past 65535 (at the
	 * Fragment Offset) */
	if (more && (len & 7)) {
		icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, 4);
		STAT_INC(st, DROP_IPV6_FRAGMENT);
		pbuf_free(p);
		return;
	}
	if (end > 0xffff) {
		icmp6_send_error(st, p, ICMP6_PARAM_PROB, ICMP6_PARAMPROB_HEADER, fh_off + 2);
		STAT_INC(st, DROP_IPV6_FRAGMENT);
		pbuf_free(p);
		return;
	}
	if (!len) {
		STAT_INC(st, DROP_IPV6_FRAGMENT);
		pbuf_free(p);
		return;
	}
	r = reass_slot(st, h, id);
	if (v6->reass_pbufs >= IPV6_REASS_PBUFS) {
		if (!r->frags) {
			r->expires = 0;
			reass_arm(st);
		}
		STAT_INC(st, DROP_IPV6_REASS_FULL);
		pbuf_free(p);
		return;
	}
	if (!more) {
		if (r->total && r->total != end)
			goto inconsistent;
		r->total = end;
	}
	if (r->total && end > r->total)
		goto inconsistent;
	for (pp = &r->frags; *pp && (*pp)->user[0] < off; pp = &(*pp)->next)
		prev = *pp;
	if (*pp && (*pp)->user[0] == off && (*pp)->len == len) {
		STAT_INC(st, DROP_IPV6_REASS_DUP);
		pbuf_free(p);
		return;
	}
	if ((prev && prev->user[0] + prev->len > off) || (*pp && end > (*pp)->user[0]))
		goto inconsistent;
	if (r->total) {
		struct pbuf *l = *pp ? *pp : prev;
		while (l && l->next)
			l = l->next;
		if (l && l->user[0] + l->len > r->total)
			goto inconsistent;
	}
	pbuf_adj(p, start);
	p->user[0] = off;
	p->user[1] = start; /* the headers before the share, for Time Exceeded to quote */
	p->next = *pp;
	*pp = p;
	r->nfrags++;
	r->have += len;
	v6->reass_pbufs++;
	if (!off) {
		r->proto = nxt;
		r->tclass = h->tclass;
		r->hlim = h->hlim;
	}
	if (r->total && r->have == r->total)
		reass_deliver(st, r);
	return;
inconsistent:
	reass_free(st, r, DROP_IPV6_REASS_OVERLAP);
	reass_arm(st);
	STAT_INC(st, DROP_IPV6_REASS_OVERLAP);
	pbuf_free(p);
}
