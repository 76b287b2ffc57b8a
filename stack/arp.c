/* ARP (RFC 826): a small fixed cache. An unresolved next hop holds up to
 * ARP_QUEUE_MAX packets while requests are retried; after ARP_TRIES the
 * packets are dropped (counted) and the hop answers EHOSTUNREACH for a while. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "net.h"
#include "wire/arp.h"
#include "wire/eth.h"

enum arp_state { ARP_FREE, ARP_INCOMPLETE, ARP_REACHABLE, ARP_FAILED, ARP_STATIC };

struct arp_entry {
	struct tw_timer timer; /* retry while incomplete */
	struct stack *st;
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state, tries;
	uint16_t qlen;
	uint64_t expires;      /* REACHABLE / FAILED until then */
	struct pbuf *q_head, *q_tail;
};

struct arp_cache {
	struct arp_entry e[ARP_CACHE_SIZE];
};

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void arp_send(struct stack *st, uint16_t op, const uint8_t *tha, uint32_t tpa, const uint8_t *dst)
{
	struct pbuf *p = stack_alloc(st);
	struct arp_pkt a = { .op = op, .spa = st->addr, .tpa = tpa };
	if (!p)
		return;
	memcpy(a.sha, st->nif->mac, 6);
	memcpy(a.tha, tha, 6);
	arp_pkt_emit(pbuf_append(p, ARP_LEN), &a);
	STAT_INC(st, op == ARP_OP_REQUEST ? ARP_REQUESTS_SENT : ARP_REPLIES_SENT);
	eth_output(st, p, dst, ETH_TYPE_ARP);
}

static void arp_queue_drop(struct stack *st, struct arp_entry *e)
{
	while (e->q_head) {
		struct pbuf *p = e->q_head;
		e->q_head = p->next;
		pbuf_free(p);
		STAT_INC(st, DROP_ARP_UNRESOLVED);
	}
	e->q_tail = NULL;
	e->qlen = 0;
}

static void arp_retry(struct tw_timer *t, uint64_t now)
{
	struct arp_entry *e = (struct arp_entry *)((char *)t - offsetof(struct arp_entry, timer));
	static const uint8_t zero[6];
	if (e->state != ARP_INCOMPLETE)
		return;
	if (++e->tries >= ARP_TRIES) {
		arp_queue_drop(e->st, e);
		e->state = ARP_FAILED;
		e->expires = now + ARP_FAILED_NS;
		return;
	}
	if (!e->st->cfg.kernel_neigh)
		arp_send(e->st, ARP_OP_REQUEST, zero, e->ip, bcast);
	tw_add(&e->st->tw, &e->timer, now + ARP_RETRY_NS);
}

static struct arp_entry *arp_find(struct stack *st, uint32_t ip)
{
	for (int i = 0; i < ARP_CACHE_SIZE; i++)
		if (st->arp->e[i].state != ARP_FREE && st->arp->e[i].ip == ip)
			return &st->arp->e[i];
	return NULL;
}

/* A free slot, or the oldest resolved one (never a static or pending one). */
static struct arp_entry *arp_slot(struct stack *st)
{
	struct arp_entry *best = NULL;
	for (int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &st->arp->e[i];
		if (e->state == ARP_FREE)
			return e;
		if ((e->state == ARP_REACHABLE || e->state == ARP_FAILED) && (!best || e->expires < best->expires))
			best = e;
	}
	return best;
}

int arp_init(struct stack *st)
{
	st->arp = calloc(1, sizeof(*st->arp));
	if (!st->arp)
		return -ENOMEM;
	for (int i = 0; i < ARP_CACHE_SIZE; i++) {
		tw_timer_init(&st->arp->e[i].timer, arp_retry);
		st->arp->e[i].st = st;
	}
	return 0;
}

void arp_fini(struct stack *st)
{
	if (!st->arp)
		return;
	for (int i = 0; i < ARP_CACHE_SIZE; i++) {
		struct arp_entry *e = &st->arp->e[i];
		tw_cancel(&st->tw, &e->timer);
		while (e->q_head) {
			struct pbuf *p = e->q_head;
			e->q_head = p->next;
			pbuf_free(p);
		}
	}
	free(st->arp);
	st->arp = NULL;
}

int arp_cache_add(struct stack *st, uint32_t ip, const uint8_t mac[6])
{
	struct arp_entry *e = arp_find(st, ip);
	if (!e && !(e = arp_slot(st)))
		return -ENOSPC;
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->state = ARP_STATIC;
	return 0;
}

const uint8_t *arp_cache_lookup(struct stack *st, uint32_t ip)
{
	struct arp_entry *e = arp_find(st, ip);
	if (!e || (e->state != ARP_REACHABLE && e->state != ARP_STATIC))
		return NULL;
	if (e->state == ARP_REACHABLE && st->now >= e->expires)
		return NULL;
	return e->mac;
}

void arp_announce(struct stack *st)
{
	static const uint8_t zero[6];
	arp_send(st, ARP_OP_REQUEST, zero, st->addr, bcast);
}

/* Learn ip -> mac and send what waited for it. */
static void arp_learn(struct stack *st, struct arp_entry *e, const uint8_t mac[6])
{
	if (e->state == ARP_STATIC)
		return;
	memcpy(e->mac, mac, 6);
	e->state = ARP_REACHABLE;
	e->expires = st->now + ARP_REACHABLE_NS;
	tw_cancel(&st->tw, &e->timer);
	while (e->q_head) {
		struct pbuf *p = e->q_head;
		e->q_head = p->next;
		p->next = NULL;
		eth_output(st, p, e->mac, ETH_TYPE_IPV4);
	}
	e->q_tail = NULL;
	e->qlen = 0;
}

void arp_input(struct stack *st, struct pbuf *p)
{
	struct arp_pkt a;
	struct arp_entry *e;
	if (arp_pkt_parse(p->data, p->len, &a) != 0) {
		STAT_INC(st, DROP_ARP_MALFORMED);
		pbuf_free(p);
		return;
	}
	pbuf_free(p);
	e = arp_find(st, a.spa);
	/* RFC 826: update an entry we have; add one when the packet is for us */
	if (!e && a.tpa == st->addr && a.spa != 0 && (e = arp_slot(st)) != NULL) {
		arp_queue_drop(st, e);
		e->ip = a.spa;
		e->state = ARP_INCOMPLETE;
	}
	if (e && a.spa != 0)
		arp_learn(st, e, a.sha);
	if (a.op == ARP_OP_REQUEST && a.tpa == st->addr && a.spa != st->addr && !st->cfg.kernel_neigh)
		arp_send(st, ARP_OP_REPLY, a.sha, a.spa, a.sha);
}

int arp_output(struct stack *st, struct pbuf *p, uint32_t nh)
{
	static const uint8_t zero[6];
	struct arp_entry *e = arp_find(st, nh);
	const uint8_t *mac = arp_cache_lookup(st, nh);

	if (mac) {
		eth_output(st, p, mac, ETH_TYPE_IPV4);
		return 0;
	}
	if (e && e->state == ARP_FAILED && st->now < e->expires) {
		STAT_INC(st, DROP_ARP_UNRESOLVED);
		pbuf_free(p);
		return -EHOSTUNREACH;
	}
	if (!e || e->state != ARP_INCOMPLETE) {
		if (!e && !(e = arp_slot(st))) {
			STAT_INC(st, DROP_ARP_QUEUE_FULL);
			pbuf_free(p);
			return -ENOBUFS;
		}
		arp_queue_drop(st, e);
		e->ip = nh;
		e->state = ARP_INCOMPLETE;
		e->tries = 0;
		if (!st->cfg.kernel_neigh) /* else the runtime asks the kernel (stack_neigh_missing) */
			arp_send(st, ARP_OP_REQUEST, zero, nh, bcast);
		tw_add(&st->tw, &e->timer, st->now + ARP_RETRY_NS);
	}
	if (e->qlen >= ARP_QUEUE_MAX) {
		STAT_INC(st, DROP_ARP_QUEUE_FULL);
		pbuf_free(p);
		return -ENOBUFS;
	}
	p->next = NULL;
	if (e->q_tail)
		e->q_tail->next = p;
	else
		e->q_head = p;
	e->q_tail = p;
	e->qlen++;
	return 0;
}

int stack_neigh_update(struct stack *st, struct in_addr ip, const uint8_t mac[6])
{
	uint32_t a = ntohl(ip.s_addr);
	struct arp_entry *e = arp_find(st, a);

	if (!e) {
		if (!(e = arp_slot(st)))
			return -ENOSPC;
		arp_queue_drop(st, e);
		e->ip = a;
		e->state = ARP_INCOMPLETE;
	}
	arp_learn(st, e, mac);
	return 0;
}

void stack_set_gateway(struct stack *st, struct in_addr gw)
{
	st->gateway = ntohl(gw.s_addr);
	st->cfg.gateway = gw;
}

int stack_neigh_missing(struct stack *st, struct in_addr *out, int max)
{
	int n = 0;
	for (int i = 0; i < ARP_CACHE_SIZE && n < max; i++)
		if (st->arp->e[i].state == ARP_INCOMPLETE)
			out[n++].s_addr = htonl(st->arp->e[i].ip);
	return n;
}
