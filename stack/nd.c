/* Neighbor Discovery (RFC 4861): the neighbour cache with its states
 * (§7.3: INCOMPLETE, REACHABLE, STALE, DELAY, PROBE), address resolution
 * by solicitations to the solicited-node group, advertisements for our
 * addresses, and the NS/NA side of Duplicate Address Detection (RFC 4862). */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ip6.h"
#include "demi/log.h"
#include "net.h"
#include "wire/cksum.h"
#include "wire/eth.h"
#include "wire/icmp6.h"

#define ND_CACHE_SIZE      64
#define ND_QUEUE_MAX       48 /* packets held per unresolved neighbour: a 64 KiB datagram's fragments */
#define ND_MAX_SOLICIT     3  /* MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT */
#define ND_RETRANS_NS      1000000000ull          /* RETRANS_TIMER */
#define ND_REACHABLE_NS    (30ull * 1000000000ull) /* REACHABLE_TIME */
#define ND_DELAY_NS        (5ull * 1000000000ull)  /* DELAY_FIRST_PROBE_TIME */
#define ND_FAILED_NS       (3ull * 1000000000ull)  /* how long a failure answers EHOSTUNREACH */

struct nd_entry {
	struct tw_timer timer; /* INCOMPLETE/PROBE: the next solicitation; DELAY: the first probe */
	struct stack *st;
	struct in6_addr ip;
	uint8_t mac[6];
	uint8_t state, probes;
	uint16_t qlen;
	uint64_t expires;      /* REACHABLE / FAILED until then; STALE: when it became so (eviction) */
	struct pbuf *q_head, *q_tail;
};

struct nd_cache {
	struct nd_entry e[ND_CACHE_SIZE];
};

static const struct in6_addr all_nodes = { .s6_addr = { 0xff, 0x02, [15] = 1 } };

/* ---- sending ------------------------------------------------------------- */

/* An NS or NA: target, flags (NA), an option with our MAC (type opt, 0:
 * none), from src to dst (dst_mac: the frame's destination when known). */
static void nd_send(struct stack *st, uint8_t type, uint32_t flags, const struct in6_addr *target, uint8_t opt,
		    const struct in6_addr *src, const struct in6_addr *dst)
{
	struct ipv6_hdr h = { .nxt = IPV6_NH_ICMPV6, .hlim = ND_HOP_LIMIT, .src = *src, .dst = *dst };
	uint32_t len = ND_NS_NA_LEN + (opt ? ND_OPT_LLADDR_LEN : 0);
	struct pbuf *p;
	uint8_t *b;
	if (st->cfg.kernel_neigh) /* the kernel answers and asks on a device shared with it */
		return;
	if (!(p = stack_alloc(st)))
		return;
	b = pbuf_append(p, len);
	memset(b, 0, len);
	b[0] = type;
	wr32(b + 4, flags);
	memcpy(b + 8, target, 16);
	if (opt) {
		b[24] = opt;
		b[25] = 1;
		memcpy(b + 26, st->nif->mac, 6);
	}
	wr16(b + 2, icmp6_cksum(b, len, src, dst));
	STAT_INC(st, type == ND_NEIGHBOR_SOLICIT ? ND_NS_SENT : ND_NA_SENT);
	ipv6_output_hdr(st, p, &h);
}

/* A solicitation for target: to its solicited-node group (multicast) or to
 * the neighbour itself (unicast, NUD's probes); from src if it is ours. */
static void nd_solicit(struct stack *st, const struct in6_addr *target, const struct in6_addr *src, int unicast)
{
	struct in6_addr dst;
	const struct in6_addr *s = src && ipv6_addr_ours(st, src) == 1 ? src : ipv6_src_for(st, target);
	if (!s)
		return;
	if (unicast)
		dst = *target;
	else
		ipv6_addr_solicited(&dst, target);
	nd_send(st, ND_NEIGHBOR_SOLICIT, 0, target, ND_OPT_SOURCE_LLADDR, s, &dst);
}

void nd_send_dad(struct stack *st, const struct in6_addr *a)
{
	static const struct in6_addr any;
	struct in6_addr dst;
	ipv6_addr_solicited(&dst, a);
	/* RFC 4862 §5.4.2: from ::, without a source link-layer address option */
	nd_send(st, ND_NEIGHBOR_SOLICIT, 0, a, 0, &any, &dst);
}

/* ---- the cache ----------------------------------------------------------- */

static void nd_queue_drop(struct stack *st, struct nd_entry *e)
{
	while (e->q_head) {
		struct pbuf *p = e->q_head;
		e->q_head = p->next;
		pbuf_free(p);
		STAT_INC(st, DROP_ND_UNRESOLVED);
	}
	e->q_tail = NULL;
	e->qlen = 0;
}

static void nd_queue_send(struct stack *st, struct nd_entry *e)
{
	while (e->q_head) {
		struct pbuf *p = e->q_head;
		e->q_head = p->next;
		p->next = NULL;
		eth_output(st, p, e->mac, ETH_TYPE_IPV6);
	}
	e->q_tail = NULL;
	e->qlen = 0;
}

static void nd_timer(struct tw_timer *t, uint64_t now)
{
	struct nd_entry *e = (struct nd_entry *)((char *)t - offsetof(struct nd_entry, timer));
	struct stack *st = e->st;
	switch (e->state) {
	case ND_INCOMPLETE:
		if (++e->probes >= ND_MAX_SOLICIT) {
			/* §7.3.3: resolution failed; what waited is dropped */
			nd_queue_drop(st, e);
			e->state = ND_FAILED;
			e->expires = now + ND_FAILED_NS;
			return;
		}
		nd_solicit(st, &e->ip, NULL, 0);
		break;
	case ND_DELAY: /* no confirmation came: probe the neighbour itself */
		e->state = ND_PROBE;
		e->probes = 0;
		nd_solicit(st, &e->ip, NULL, 1);
		break;
	case ND_PROBE:
		if (++e->probes >= ND_MAX_SOLICIT) {
			e->state = ND_NONE; /* §7.3.3: unreachable, the entry goes */
			return;
		}
		nd_solicit(st, &e->ip, NULL, 1);
		break;
	default:
		return;
	}
	tw_add(&st->tw, &e->timer, now + ND_RETRANS_NS);
}

static struct nd_entry *nd_find(struct stack *st, const struct in6_addr *ip)
{
	struct nd_cache *c = st->v6 ? st->v6->nd : NULL;
	if (!c)
		return NULL;
	for (int i = 0; i < ND_CACHE_SIZE; i++)
		if (c->e[i].state != ND_NONE && ipv6_addr_eq(&c->e[i].ip, ip))
			return &c->e[i];
	return NULL;
}

/* A free slot, or the oldest stale or failed one (never a permanent or pending one). */
static struct nd_entry *nd_slot(struct stack *st, const struct in6_addr *ip)
{
	struct nd_cache *c = st->v6->nd;
	struct nd_entry *best = NULL;
	for (int i = 0; i < ND_CACHE_SIZE; i++) {
		struct nd_entry *e = &c->e[i];
		if (e->state == ND_NONE) {
			best = e;
			break;
		}
		if ((e->state == ND_STALE || e->state == ND_FAILED || e->state == ND_REACHABLE) &&
		    (!best || e->expires < best->expires))
			best = e;
	}
	if (best) {
		tw_cancel(&st->tw, &best->timer);
		nd_queue_drop(st, best);
		best->ip = *ip;
		best->state = ND_NONE;
		best->probes = 0;
	}
	return best;
}

/* A reachable entry whose time is up is STALE (§7.3.3). */
static void nd_age(struct stack *st, struct nd_entry *e)
{
	if (e->state == ND_REACHABLE && st->now >= e->expires) {
		e->state = ND_STALE;
		e->expires = st->now;
	}
}

int nd_init(struct stack *st)
{
	struct nd_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < ND_CACHE_SIZE; i++) {
		tw_timer_init(&c->e[i].timer, nd_timer);
		c->e[i].st = st;
	}
	st->v6->nd = c;
	return 0;
}

void nd_fini(struct stack *st)
{
	struct nd_cache *c = st->v6->nd;
	if (!c)
		return;
	for (int i = 0; i < ND_CACHE_SIZE; i++) {
		struct nd_entry *e = &c->e[i];
		tw_cancel(&st->tw, &e->timer);
		while (e->q_head) {
			struct pbuf *p = e->q_head;
			e->q_head = p->next;
			pbuf_free(p);
		}
	}
	free(c);
	st->v6->nd = NULL;
}

/* ip is at mac: state is what it becomes (REACHABLE with a fresh timer,
 * STALE); what waited is sent. */
static void nd_learn(struct stack *st, struct nd_entry *e, const uint8_t mac[6], int state)
{
	if (e->state == ND_PERMANENT)
		return;
	if (e->state != ND_INCOMPLETE && e->state != ND_NONE && e->state != ND_FAILED && memcmp(e->mac, mac, 6)) {
		char a[INET6_ADDRSTRLEN];
		STAT_INC(st, ND_LLADDR_CHANGED);
		inet_ntop(AF_INET6, &e->ip, a, sizeof(a));
		demi_log(DEMI_LOG_INFO, "ipv6: neighbour %s moved to %02x:%02x:%02x:%02x:%02x:%02x", a, mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
	}
	memcpy(e->mac, mac, 6);
	tw_cancel(&st->tw, &e->timer);
	e->state = (uint8_t)state;
	e->probes = 0;
	e->expires = state == ND_REACHABLE ? st->now + ND_REACHABLE_NS : st->now;
	nd_queue_send(st, e);
}

int nd_neigh_set(struct stack *st, const struct in6_addr *ip, const uint8_t mac[6], int permanent)
{
	struct nd_entry *e;
	if (!st->v6)
		return -ENETUNREACH;
	if (!(e = nd_find(st, ip)) && !(e = nd_slot(st, ip)))
		return -ENOSPC;
	if (e->state == ND_PERMANENT)
		e->state = ND_STALE;
	nd_learn(st, e, mac, ND_REACHABLE);
	if (permanent)
		e->state = ND_PERMANENT;
	return 0;
}

int nd_neigh_state(struct stack *st, const struct in6_addr *ip, uint8_t mac[6])
{
	struct nd_entry *e = nd_find(st, ip);
	if (!e)
		return ND_NONE;
	nd_age(st, e);
	if (mac)
		memcpy(mac, e->mac, 6);
	return e->state;
}

void nd_foreach(struct stack *st, void (*fn)(const struct in6_addr *ip, const uint8_t mac[6], int state, void *arg),
		void *arg)
{
	struct nd_cache *c = st->v6 ? st->v6->nd : NULL;
	if (!c)
		return;
	for (int i = 0; i < ND_CACHE_SIZE; i++)
		if (c->e[i].state != ND_NONE) {
			nd_age(st, &c->e[i]);
			fn(&c->e[i].ip, c->e[i].mac, c->e[i].state, arg);
		}
}

int nd_output(struct stack *st, struct pbuf *p, const struct in6_addr *nh)
{
	struct nd_entry *e = nd_find(st, nh);
	struct in6_addr src;

	if (e)
		nd_age(st, e);
	if (e && (e->state == ND_REACHABLE || e->state == ND_PERMANENT || e->state == ND_DELAY ||
		  e->state == ND_PROBE)) {
		eth_output(st, p, e->mac, ETH_TYPE_IPV6);
		return 0;
	}
	if (e && e->state == ND_STALE) {
		/* §7.3.3: send, and give upper layers DELAY_FIRST_PROBE_TIME to confirm */
		e->state = ND_DELAY;
		tw_add(&st->tw, &e->timer, st->now + ND_DELAY_NS);
		eth_output(st, p, e->mac, ETH_TYPE_IPV6);
		return 0;
	}
	if (e && e->state == ND_FAILED && st->now < e->expires) {
		STAT_INC(st, DROP_ND_UNRESOLVED);
		pbuf_free(p);
		return -EHOSTUNREACH;
	}
	if (!e || e->state != ND_INCOMPLETE) {
		if (!e && !(e = nd_slot(st, nh))) {
			STAT_INC(st, DROP_ND_QUEUE_FULL);
			pbuf_free(p);
			return -ENOBUFS;
		}
		nd_queue_drop(st, e);
		e->state = ND_INCOMPLETE;
		e->probes = 0;
		memcpy(&src, p->data + 8, 16); /* §7.2.2: the waiting packet's source */
		nd_solicit(st, nh, &src, 0);
		tw_add(&st->tw, &e->timer, st->now + ND_RETRANS_NS);
	}
	if (e->qlen >= ND_QUEUE_MAX) {
		STAT_INC(st, DROP_ND_QUEUE_FULL);
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

/* ---- receiving ----------------------------------------------------------- */

/* The link-layer address option of type opt among the options at b; NULL
 * if absent; -1 in *bad if an option is malformed (length 0, beyond the end). */
static const uint8_t *nd_opt_lladdr(const uint8_t *b, uint32_t len, uint8_t opt, int *bad)
{
	const uint8_t *found = NULL;
	for (uint32_t i = 0; i < len;) {
		uint32_t olen = (uint32_t)b[i + 1] * 8;
		if (i + 2 > len || !olen || i + olen > len) {
			*bad = 1;
			return NULL;
		}
		if (b[i] == opt && olen >= ND_OPT_LLADDR_LEN)
			found = b + i + 2;
		i += olen;
	}
	return found;
}

/* RFC 4862 §5.4.5: our tentative address is someone else's; it is not used. */
static void nd_dad_failed(struct stack *st, const struct in6_addr *a)
{
	struct stack6 *v6 = st->v6;
	int ll = ipv6_addr_eq(a, &v6->ll);
	char buf[INET6_ADDRSTRLEN];
	uint8_t *state = ll ? &v6->ll_state : &v6->addr_state;
	if (*state != IPV6_ADDR_TENTATIVE)
		return;
	*state = IPV6_ADDR_DUPLICATE;
	if (ipv6_addr_eq(&v6->addr, &v6->ll))
		v6->addr_state = IPV6_ADDR_DUPLICATE;
	STAT_INC(st, DAD_DUPLICATE);
	inet_ntop(AF_INET6, a, buf, sizeof(buf));
	demi_log(DEMI_LOG_WARN, "ipv6: duplicate address: %s is in use by another node on the link; not used, "
		 "IPv6 stays off", buf);
}

static void nd_input_ns(struct stack *st, const uint8_t *b, uint32_t len, const struct ipv6_meta *m)
{
	struct in6_addr target, sn;
	const uint8_t *lla;
	int bad = 0, ours;
	STAT_INC(st, ND_NS_RX);
	memcpy(&target, b + 8, 16);
	lla = nd_opt_lladdr(b + ND_NS_NA_LEN, len - ND_NS_NA_LEN, ND_OPT_SOURCE_LLADDR, &bad);
	ipv6_addr_solicited(&sn, &target);
	/* §7.1.1: the target is no multicast; from :: only to the solicited-node
	 * group and without a source link-layer address */
	if (bad || ipv6_addr_multicast(&target) ||
	    (ipv6_addr_any(&m->src) && (!ipv6_addr_eq(&m->dst, &sn) || lla))) {
		STAT_INC(st, DROP_ND_INVALID);
		return;
	}
	if (!(ours = ipv6_addr_ours(st, &target)))
		return;
	if (ours == 2) {
		/* §5.4.3: another node's DAD for our tentative address: a duplicate;
		 * a solicitation from a host is ignored meanwhile */
		if (ipv6_addr_any(&m->src))
			nd_dad_failed(st, &target);
		return;
	}
	if (ipv6_addr_any(&m->src)) {
		/* someone's DAD for our address: the answer goes to all nodes */
		nd_send(st, ND_NEIGHBOR_ADVERT, ND_NA_FLAG_OVERRIDE, &target, ND_OPT_TARGET_LLADDR, &target, &all_nodes);
		return;
	}
	/* §7.2.3: the sender's address goes in the cache (STALE when new or changed) */
	if (lla) {
		struct nd_entry *e = nd_find(st, &m->src);
		if (!e) {
			if ((e = nd_slot(st, &m->src)) != NULL)
				nd_learn(st, e, lla, ND_STALE);
		} else if (e->state == ND_INCOMPLETE || memcmp(e->mac, lla, 6)) {
			nd_learn(st, e, lla, ND_STALE);
		}
	}
	nd_send(st, ND_NEIGHBOR_ADVERT, ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE, &target, ND_OPT_TARGET_LLADDR,
		&target, &m->src);
}

static void nd_input_na(struct stack *st, const uint8_t *b, uint32_t len, const struct ipv6_meta *m)
{
	struct in6_addr target;
	const uint8_t *lla;
	uint32_t flags = rd32(b + 4);
	int bad = 0, solicited = !!(flags & ND_NA_FLAG_SOLICITED), override = !!(flags & ND_NA_FLAG_OVERRIDE);
	struct nd_entry *e;

	STAT_INC(st, ND_NA_RX);
	memcpy(&target, b + 8, 16);
	lla = nd_opt_lladdr(b + ND_NS_NA_LEN, len - ND_NS_NA_LEN, ND_OPT_TARGET_LLADDR, &bad);
	/* §7.1.2 */
	if (bad || ipv6_addr_multicast(&target) || (solicited && ipv6_addr_multicast(&m->dst))) {
		STAT_INC(st, DROP_ND_INVALID);
		return;
	}
	switch (ipv6_addr_ours(st, &target)) {
	case 2: /* RFC 4862 §5.4.4: our tentative address answered for */
		nd_dad_failed(st, &target);
		return;
	case 1: /* someone claims our address: nothing to learn */
		return;
	}
	if (!(e = nd_find(st, &target)) || e->state == ND_FAILED)
		return; /* §7.2.5: unsolicited, no entry: ignored */
	nd_age(st, e);
	if (e->state == ND_INCOMPLETE) {
		if (lla)
			nd_learn(st, e, lla, solicited ? ND_REACHABLE : ND_STALE);
		return;
	}
	if (e->state == ND_PERMANENT)
		return;
	if (!override && lla && memcmp(lla, e->mac, 6)) {
		/* a different address without override: believed only on a probe */
		if (e->state == ND_REACHABLE) {
			e->state = ND_STALE;
			e->expires = st->now;
		}
		return;
	}
	if (lla && memcmp(lla, e->mac, 6)) /* override: the neighbour moved */
		nd_learn(st, e, lla, solicited ? ND_REACHABLE : ND_STALE);
	else if (solicited)
		nd_learn(st, e, e->mac, ND_REACHABLE);
}

void nd_input(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	const uint8_t *b = p->data;
	/* §7.1: hop limit 255 (from this link), code 0, 24 bytes at least */
	if (m->hlim != ND_HOP_LIMIT || b[1] != 0 || p->len < ND_NS_NA_LEN) {
		STAT_INC(st, DROP_ND_INVALID);
		pbuf_free(p);
		return;
	}
	if (b[0] == ND_NEIGHBOR_SOLICIT)
		nd_input_ns(st, b, p->len, m);
	else
		nd_input_na(st, b, p->len, m);
	pbuf_free(p);
}
