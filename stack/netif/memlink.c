/* The in-memory hub. Frames on the wire are copies held in a list sorted by
 * delivery time; delivery copies them into each receiver's own pool, so every
 * stack's buffers stay countable for leak checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memlink.h"

#define MEMLINK_PORTS_MAX 8
#define MEMLINK_RXQ_MAX 4096

struct ml_frame {
	struct ml_frame *next;
	uint64_t at;      /* delivery time */
	uint64_t order;   /* send order, to keep equal times FIFO */
	int src;          /* sending port */
	uint32_t len;
	uint8_t data[];
};

struct ml_port {
	struct netif nif; /* first: the netif handed out is the port */
	struct memlink *ml;
	int idx;
	struct memlink_faults faults;
	struct pbuf *rxq_head, *rxq_tail;
	uint32_t rxq_len;
};

struct memlink {
	uint64_t rng, now, order;
	struct ml_port *port[MEMLINK_PORTS_MAX];
	int nports;
	struct ml_frame *wire; /* sorted by (at, order) */
	unsigned in_flight;
	struct memlink_stats st;
};

/* splitmix64: deterministic for a seed */
static uint64_t ml_rand(struct memlink *ml)
{
	uint64_t z = (ml->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int ml_chance(struct memlink *ml, uint32_t ppm)
{
	return ppm && ml_rand(ml) % 1000000 < ppm;
}

static void ml_enqueue(struct memlink *ml, int src, const uint8_t *data, uint32_t len, uint64_t at)
{
	struct ml_frame *f = malloc(sizeof(*f) + len), **pp;
	if (!f) {
		ml->st.dropped++;
		return;
	}
	f->at = at;
	f->order = ml->order++;
	f->src = src;
	f->len = len;
	memcpy(f->data, data, len);
	for (pp = &ml->wire; *pp && (*pp)->at <= at; pp = &(*pp)->next)
		;
	f->next = *pp;
	*pp = f;
	ml->in_flight++;
}

static void ml_send_one(struct ml_port *p, struct pbuf *pb)
{
	struct memlink *ml = p->ml;
	struct memlink_faults *fl = &p->faults;
	uint64_t at = ml->now + fl->delay_ns;
	uint32_t len = pb->len;

	ml->st.sent++;
	if (fl->drop_next) {
		fl->drop_next--;
		ml->st.dropped++;
		return;
	}
	if (ml_chance(ml, fl->drop_ppm)) {
		ml->st.dropped++;
		return;
	}
	/* a truncated frame keeps its Ethernet header: what is cut is the payload */
	if (len > 15 && ml_chance(ml, fl->truncate_ppm)) {
		len = 15 + (uint32_t)(ml_rand(ml) % (len - 15));
		ml->st.truncated++;
	}
	if (len && ml_chance(ml, fl->corrupt_ppm)) {
		pb->data[ml_rand(ml) % len] ^= (uint8_t)(1 + ml_rand(ml) % 255);
		ml->st.corrupted++;
	}
	if (ml_chance(ml, fl->reorder_ppm)) {
		at += fl->reorder_ns ? fl->reorder_ns : 1000000;
		ml->st.reordered++;
	}
	ml_enqueue(ml, p->idx, pb->data, len, at);
	if (ml_chance(ml, fl->dup_ppm)) {
		ml_enqueue(ml, p->idx, pb->data, len, at + 1);
		ml->st.duplicated++;
	}
}

static uint16_t ml_tx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct ml_port *p = (struct ml_port *)nif;
	for (uint16_t i = 0; i < n; i++) {
		ml_send_one(p, pkts[i]);
		pbuf_free(pkts[i]);
	}
	return n;
}

static uint16_t ml_rx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct ml_port *p = (struct ml_port *)nif;
	uint16_t k = 0;
	while (k < n && p->rxq_head) {
		struct pbuf *pb = p->rxq_head;
		p->rxq_head = pb->next;
		pb->next = NULL;
		pkts[k++] = pb;
		p->rxq_len--;
	}
	if (!p->rxq_head)
		p->rxq_tail = NULL;
	return k;
}

static int ml_link_up(struct netif *nif)
{
	(void)nif;
	return 1;
}

static const struct netif_ops ml_ops = {
	.rx_burst = ml_rx_burst,
	.tx_burst = ml_tx_burst,
	.link_up = ml_link_up,
};

/* A port takes frames for its MAC, broadcast and multicast; never its own. */
static int ml_port_wants(const struct ml_port *p, const struct ml_frame *f)
{
	if (f->src == p->idx || f->len < 6)
		return 0;
	return (f->data[0] & 1) || memcmp(f->data, p->nif.mac, 6) == 0;
}

static void ml_deliver(struct memlink *ml, const struct ml_frame *f)
{
	for (int i = 0; i < ml->nports; i++) {
		struct ml_port *p = ml->port[i];
		struct pbuf *pb;
		if (!ml_port_wants(p, f))
			continue;
		if (p->rxq_len >= MEMLINK_RXQ_MAX) {
			ml->st.rx_full++;
			continue;
		}
		pb = pbuf_alloc(p->nif.pool);
		if (!pb || !pbuf_append(pb, f->len)) {
			pbuf_free(pb);
			ml->st.rx_nobuf++;
			continue;
		}
		memcpy(pb->data, f->data, f->len);
		if (p->rxq_tail)
			p->rxq_tail->next = pb;
		else
			p->rxq_head = pb;
		p->rxq_tail = pb;
		p->rxq_len++;
		ml->st.delivered++;
	}
}

void memlink_advance(struct memlink *ml, uint64_t now)
{
	ml->now = now;
	while (ml->wire && ml->wire->at <= now) {
		struct ml_frame *f = ml->wire;
		ml->wire = f->next;
		ml->in_flight--;
		ml_deliver(ml, f);
		free(f);
	}
}

int memlink_create(struct memlink **out, uint64_t seed)
{
	struct memlink *ml = calloc(1, sizeof(*ml));
	if (!ml)
		return -ENOMEM;
	ml->rng = seed;
	*out = ml;
	return 0;
}

struct netif *memlink_port(struct memlink *ml, const uint8_t mac[6], uint16_t mtu,
			   struct pbuf_pool *pool)
{
	struct ml_port *p;
	if (ml->nports == MEMLINK_PORTS_MAX || !(p = calloc(1, sizeof(*p))))
		return NULL;
	p->nif.ops = &ml_ops;
	p->nif.pool = pool;
	memcpy(p->nif.mac, mac, 6);
	p->nif.mtu = mtu;
	p->ml = ml;
	p->idx = ml->nports;
	ml->port[ml->nports++] = p;
	return &p->nif;
}

void memlink_set_faults(struct netif *port, const struct memlink_faults *f)
{
	((struct ml_port *)port)->faults = *f;
}

unsigned memlink_in_flight(const struct memlink *ml)
{
	return ml->in_flight;
}

const struct memlink_stats *memlink_stats(const struct memlink *ml)
{
	return &ml->st;
}

void memlink_destroy(struct memlink *ml)
{
	if (!ml)
		return;
	while (ml->wire) {
		struct ml_frame *f = ml->wire;
		ml->wire = f->next;
		free(f);
	}
	for (int i = 0; i < ml->nports; i++) {
		struct ml_port *p = ml->port[i];
		while (p->rxq_head) {
			struct pbuf *pb = p->rxq_head;
			p->rxq_head = pb->next;
			pbuf_free(pb);
		}
		free(p);
	}
	free(ml);
}
