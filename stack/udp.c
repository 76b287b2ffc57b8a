/* UDP (RFC 768, RFC 1122 §4.1): sockets that behave as Linux's do through
 * the stack API — bind and port sharing rules, implicit bind, connected
 * filtering, datagram truncation, ICMP errors on connected sockets, and a
 * receive queue bounded by SO_RCVBUF that keeps the received buffers as they
 * came from the device (no copy until recv). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/epoll.h>

#include <netinet/icmp6.h>

#include "net.h"
#include "net6.h"
#include "sock.h"
#include "udp.h"
#include "wire/cksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define UDP_HASH_SIZE 256 /* sockets hashed by local port */
#define UDP_IOV_MAX   1024 /* Linux's UIO_MAXIOV */

#define UDP_SHUT_RD 1
#define UDP_SHUT_WR 2

struct udp_sock {
	struct sock *s;
	struct udp_sock *next;  /* in the local port's hash chain */
	struct udp_sock **all_pprev, *all_next; /* every socket of the stack */
	union ip_addr laddr, faddr; /* ipaddr.h; laddr 0.0.0.0 or ::: any */
	uint16_t lport, fport; /* lport 0: not bound */
	uint8_t connected;
	uint8_t addr_locked, port_locked; /* set by bind(), kept by disconnect (Linux userlocks) */
	uint8_t reuseaddr, reuseport, broadcast, tos;
	uint8_t shut;          /* UDP_SHUT_* */
	uint8_t v6only;        /* bound to :: with IPV6_V6ONLY (its handle's, at the bind) */
	int err;               /* pending error, positive errno */
	uint8_t cork_opt;      /* UDP_CORK */
	uint8_t pmtudisc;      /* IP_MTU_DISCOVER: IP_PMTUDISC_WANT unless set */
	struct pbuf *cork;     /* a datagram held back by MSG_MORE or UDP_CORK (p->data at its header) */
	union ip_addr cork_dst;
	uint16_t cork_dport;
	int rcvbuf, sndbuf;    /* as getsockopt reports them (Linux doubles what is set) */
	struct pbuf *rxq_head, *rxq_tail;
	uint32_t rxq_mem;      /* buffer storage held by the queue, charged against rcvbuf */
	uint32_t rxq_bytes;    /* payload bytes queued */
};

struct udp_table {
	struct udp_sock *bucket[UDP_HASH_SIZE];
	struct udp_sock *all;
	uint64_t rng;          /* ephemeral ports */
	uint64_t flow_key;     /* SO_REUSEPORT spreading: fixed, so a flow keeps its socket */
};

static struct udp_sock **udp_bucket(struct stack *st, uint16_t port)
{
	return &st->udp->bucket[port % UDP_HASH_SIZE];
}

static uint64_t udp_rand(struct udp_table *t)
{
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int udp_init(struct stack *st)
{
	if (!(st->udp = calloc(1, sizeof(*st->udp))))
		return -ENOMEM;
	memcpy(&st->udp->rng, st->cfg.isn_secret, sizeof(st->udp->rng));
	memcpy(&st->udp->flow_key, st->cfg.isn_secret + 8, sizeof(st->udp->flow_key));
	return 0;
}

/* A queued datagram is one buffer, or (reassembled, larger than a buffer)
 * the buffers of its fragments linked through user[1]. */
static struct pbuf *udp_chain_next(const struct pbuf *p)
{
	return (struct pbuf *)(uintptr_t)p->user[1];
}

static void udp_dgram_free(struct pbuf *p)
{
	while (p) {
		struct pbuf *n = udp_chain_next(p);
		pbuf_free(p);
		p = n;
	}
}

static uint32_t udp_dgram_len(const struct pbuf *p)
{
	uint32_t n = 0;
	for (; p; p = udp_chain_next(p))
		n += p->len;
	return n;
}

static uint32_t udp_dgram_mem(const struct pbuf *p)
{
	uint32_t n = 0;
	for (; p; p = udp_chain_next(p))
		n += p->size;
	return n;
}

static void udp_rxq_purge(struct udp_sock *us)
{
	struct pbuf *p, *n;
	for (p = us->rxq_head; p; p = n) {
		n = p->next;
		udp_dgram_free(p);
	}
	us->rxq_head = us->rxq_tail = NULL;
	us->rxq_mem = us->rxq_bytes = 0;
}

/* Every socket still open is freed with its handle: stack_destroy() ends them. */
void udp_fini(struct stack *st)
{
	struct udp_sock *us, *n;
	if (!st->udp)
		return;
	for (us = st->udp->all; us; us = n) {
		n = us->all_next;
		pbuf_free(us->cork);
		udp_rxq_purge(us);
		free(us->s);
		free(us);
	}
	free(st->udp);
	st->udp = NULL;
}

/* ---- binding ---------------------------------------------------------- */

/* Linux's udp_lib_lport_inuse(): another socket on the port blocks binding
 * unless both set SO_REUSEADDR, both set SO_REUSEPORT, or their local
 * addresses differ with neither being the wildcard. */
static int udp_blocks(const struct udp_sock *o, const struct udp_sock *us, const union ip_addr *addr)
{
	if (o == us || !ip_addr_overlap(&o->laddr, o->v6only, addr, us->s->v6only))
		return 0;
	return !((o->reuseaddr && us->reuseaddr) || (o->reuseport && us->reuseport));
}

static int udp_port_conflict(struct stack *st, const struct udp_sock *us, const union ip_addr *addr, uint16_t port)
{
	for (const struct udp_sock *o = *udp_bucket(st, port); o; o = o->next) {
		if (o->lport == port && udp_blocks(o, us, addr))
			return 1;
	}
	return 0;
}

/* The device steers IPv4 only: ports that take IPv4. */
static int udp_steered(const struct udp_sock *us)
{
	return ip_addr_is_v4(&us->laddr) || (ip_addr_is_zero(&us->laddr) && !us->v6only);
}

static void udp_hash(struct stack *st, struct udp_sock *us, const union ip_addr *addr, uint16_t port)
{
	struct udp_sock **b = udp_bucket(st, port);
	us->laddr = *addr;
	us->lport = port;
	us->v6only = us->s->v6only;
	us->next = *b; /* newest first, as Linux's IPv4 chains */
	*b = us;
	if (udp_steered(us))
		netif_steer(st->nif, IPPROTO_UDP, ip_addr_to_v4(addr), port, 0, 0, 1);
}

static void udp_unhash(struct stack *st, struct udp_sock *us)
{
	struct udp_sock **pp;
	int others = 0;
	if (!us->lport)
		return;
	for (pp = udp_bucket(st, us->lport); *pp; pp = &(*pp)->next) {
		if (*pp == us) {
			*pp = us->next;
			break;
		}
	}
	for (struct udp_sock *o = *udp_bucket(st, us->lport); o; o = o->next)
		others += o->lport == us->lport;
	if (!others && udp_steered(us)) /* the port's last socket */
		netif_steer(st->nif, IPPROTO_UDP, ip_addr_to_v4(&us->laddr), us->lport, 0, 0, 0);
	us->next = NULL;
	us->lport = 0;
}

/* A free ephemeral port, searched as Linux's udp_lib_get_port() does: from
 * a random port, one hash chain at a time, marking in a bitmap the ports of
 * the chain that are taken, so each chain is walked once. */
static int udp_get_port_any(struct stack *st, struct udp_sock *us, const union ip_addr *addr)
{
	const uint32_t per_slot = 65536 / UDP_HASH_SIZE;
	uint32_t first = (uint32_t)(udp_rand(st->udp) % (UDP_PORT_EPHEMERAL_HI - UDP_PORT_EPHEMERAL_LO + 1)) +
			 UDP_PORT_EPHEMERAL_LO;

	for (uint32_t k = 0; k < UDP_HASH_SIZE; k++) {
		uint32_t slot = (first + k) % UDP_HASH_SIZE;
		uint8_t used[65536 / UDP_HASH_SIZE / 8] = { 0 };
		for (const struct udp_sock *o = st->udp->bucket[slot]; o; o = o->next) {
			if (o->lport && udp_blocks(o, us, addr))
				used[o->lport / UDP_HASH_SIZE / 8] |= (uint8_t)(1u << (o->lport / UDP_HASH_SIZE % 8));
		}
		for (uint32_t j = 0; j < per_slot; j++) {
			uint32_t idx = (first / UDP_HASH_SIZE + j) % per_slot, port = idx * UDP_HASH_SIZE + slot;
			if (port < UDP_PORT_EPHEMERAL_LO || port > UDP_PORT_EPHEMERAL_HI || (used[idx / 8] & (1u << (idx % 8))))
				continue;
			udp_hash(st, us, addr, (uint16_t)port);
			return 0;
		}
	}
	return -EADDRINUSE;
}

/* Bind to addr:port, port 0 meaning a free ephemeral port. */
static int udp_get_port(struct stack *st, struct udp_sock *us, const union ip_addr *addr, uint16_t port)
{
	if (!port)
		return udp_get_port_any(st, us, addr);
	if (udp_port_conflict(st, us, addr, port))
		return -EADDRINUSE;
	udp_hash(st, us, addr, port);
	return 0;
}

/* Linux's inet_autobind(): the first send or connect of an unbound socket
 * takes an ephemeral port on the wildcard address. */
/* The wildcard of the socket's family: 0.0.0.0, or :: (both families). */
static union ip_addr udp_any(const struct udp_sock *us)
{
	union ip_addr a = { .q = { 0, 0 } };
	return us->s->family == AF_INET6 ? a : ip_addr_v4(0);
}

/* The stack's own address in the family of a. */
static union ip_addr udp_local_addr(const struct stack *st, const union ip_addr *a)
{
	return ip_addr_is_v4(a) ? ip_addr_v4(st->addr) : ip_addr_v6(&st->cfg.addr6);
}

static int udp_autobind(struct stack *st, struct udp_sock *us)
{
	union ip_addr any = udp_any(us);
	if (us->lport)
		return 0;
	return udp_get_port(st, us, &any, 0) ? -EAGAIN : 0;
}

static int udp_bind(struct sock *s, const struct sock_ep *a)
{
	struct udp_sock *us = s->proto;
	union ip_addr mine = udp_local_addr(s->st, &a->addr);
	uint16_t port = a->port;
	int rc;

	if (us->lport || us->connected)
		return -EINVAL;
	if (!ip_addr_is_any(&a->addr) && (!ip_addr_eq(&a->addr, &mine) || ip_addr_is_zero(&mine)))
		return -EADDRNOTAVAIL;
	if ((rc = udp_get_port(s->st, us, &a->addr, port)) != 0)
		return rc;
	us->addr_locked = !ip_addr_is_any(&a->addr);
	us->port_locked = port != 0;
	return 0;
}

/* ---- demultiplexing --------------------------------------------------- */

/* Linux's compute_score(): -1 if us cannot take a datagram saddr:sport ->
 * daddr, more points for each field it is bound or connected to. */
static int udp_score(const struct udp_sock *us, const union ip_addr *saddr, uint16_t sport,
		     const union ip_addr *daddr)
{
	int score = 0;
	if (!ip_addr_covers(&us->laddr, us->v6only, daddr))
		return -1;
	if (!ip_addr_is_any(&us->laddr))
		score += 4;
	if (us->connected) {
		if (!ip_addr_eq(&us->faddr, saddr) || us->fport != sport)
			return -1;
		score += 8;
	}
	return score;
}

/* An address as 32 bits for the flow hash: IPv4's own (host order), IPv6's folded. */
static uint32_t udp_addr32(const union ip_addr *a)
{
	return ip_addr_is_v4(a) ? ip_addr_to_v4(a) : a->w[0] ^ a->w[1] ^ a->w[2] ^ a->w[3];
}

static uint32_t udp_flow_hash(struct udp_table *t, const union ip_addr *saddr, uint16_t sport,
			      const union ip_addr *daddr, uint16_t dport)
{
	uint64_t h = ((uint64_t)udp_addr32(saddr) << 32 | udp_addr32(daddr)) ^ ((uint64_t)sport << 16 | dport) ^
		     t->flow_key;
	h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdull;
	h = (h ^ (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
	return (uint32_t)(h ^ (h >> 33));
}

/* The socket a unicast datagram goes to: the best score; among equally good
 * SO_REUSEPORT sockets, one chosen by a hash of the flow, so one flow always
 * reaches the same socket. */
static struct udp_sock *udp_lookup(struct stack *st, const union ip_addr *saddr, uint16_t sport,
				   const union ip_addr *daddr, uint16_t dport)
{
	struct udp_sock *us, *best = NULL;
	int score, best_score = -1;
	uint32_t group = 0, pick;

	for (us = *udp_bucket(st, dport); us; us = us->next) {
		if (us->lport != dport || (score = udp_score(us, saddr, sport, daddr)) < 0)
			continue;
		if (score > best_score) {
			best = us;
			best_score = score;
			group = 1;
		} else if (score == best_score && us->reuseport && best->reuseport) {
			group++;
		}
	}
	if (!best || !best->reuseport || group < 2)
		return best;
	pick = udp_flow_hash(st->udp, saddr, sport, daddr, dport) % group;
	for (us = best; us; us = us->next) {
		if (us->lport != dport || !us->reuseport || udp_score(us, saddr, sport, daddr) != best_score)
			continue;
		if (pick-- == 0)
			return us;
	}
	return best;
}

/* ---- input ------------------------------------------------------------ */

/* p: a received datagram, user[1] its chain (0: one buffer) */
static void udp_drop(struct stack *st, struct pbuf *p, enum stack_counter c)
{
	STAT_INC(st, c);
	udp_dgram_free(p);
}

static const enum stack_counter udp_parse_drop[] = {
	[UDP_ERR_SHORT] = DROP_UDP_SHORT, [UDP_ERR_LEN] = DROP_UDP_LEN, [UDP_ERR_CKSUM] = DROP_UDP_CKSUM,
};

/* Queue a datagram (p->data at its payload). As Linux's
 * __udp_enqueue_schedule_skb(), a datagram is taken while the memory already
 * queued does not exceed SO_RCVBUF; each one is charged the whole buffer it
 * occupies, since that is what it keeps from the device's pool. */
static void udp_enqueue(struct stack *st, struct udp_sock *us, struct pbuf *p)
{
	if (us->rxq_mem > (uint32_t)us->rcvbuf)
		return udp_drop(st, p, DROP_UDP_RCVBUF);
	p->next = NULL;
	if (us->rxq_tail)
		us->rxq_tail->next = p;
	else
		us->rxq_head = p;
	us->rxq_tail = p;
	us->rxq_mem += udp_dgram_mem(p);
	us->rxq_bytes += udp_dgram_len(p);
	STAT_INC(st, UDP_RX_DATAGRAMS);
	sock_wake(us->s);
}

/* A broadcast goes to every socket that would take it, as in Linux's
 * __udp4_lib_mcast_deliver(): a copy each, the last one the buffer itself.
 * With none it is dropped, and never answered (RFC 1122 §4.1.3.1). */
static void udp_input_broadcast(struct stack *st, struct pbuf *p, const struct ipv4_meta *m,
				const struct udp_hdr *h)
{
	struct udp_sock *us, *prev = NULL;
	struct pbuf *c;
	union ip_addr src = ip_addr_v4(m->src), dst = ip_addr_v4(m->dst);

	for (us = *udp_bucket(st, h->dport); us; us = us->next) {
		if (us->lport != h->dport || udp_score(us, &src, h->sport, &dst) < 0)
			continue;
		if (prev) {
			if ((c = pbuf_alloc(st->pool)) != NULL) {
				memcpy(pbuf_append(c, p->len), p->data, p->len);
				c->user[0] = p->user[0];
				c->user[1] = 0;
				udp_enqueue(st, prev, c);
			} else {
				STAT_INC(st, DROP_UDP_NOBUF);
			}
		}
		prev = us;
	}
	if (!prev)
		return udp_drop(st, p, DROP_UDP_NO_PORT);
	udp_enqueue(st, prev, p);
}

/* Where a queued datagram came from: IPv4 in user[0] (address << 16 |
 * port); IPv6 marked in bit 48 of it, the address in the 16 bytes before
 * the payload (the headers' room, which nothing uses any more). */
#define UDP_SRC_V6 (1ull << 48)
static void udp_src_set(struct pbuf *p, const union ip_addr *src, uint16_t sport)
{
	if (ip_addr_is_v4(src)) {
		p->user[0] = (uint64_t)ip_addr_to_v4(src) << 16 | sport;
	} else {
		memcpy(p->data - 16, src->b, 16);
		p->user[0] = UDP_SRC_V6 | sport;
	}
}

static void udp_src_get(const struct pbuf *p, struct sock_ep *ep)
{
	if (p->user[0] & UDP_SRC_V6) {
		memcpy(ep->addr.b, p->data - 16, 16);
		ep->family = AF_INET6;
	} else {
		ep->addr = ip_addr_v4((uint32_t)(p->user[0] >> 16));
		ep->family = AF_INET;
	}
	ep->port = (uint16_t)p->user[0];
}

void udp_input(struct stack *st, struct pbuf *p, const struct ipv4_meta *m)
{
	struct udp_hdr h;
	struct udp_sock *us;
	union ip_addr src = ip_addr_v4(m->src), dst = ip_addr_v4(m->dst);
	int hw_bad = !!(p->flags & PBUF_F_RX_L4_CKSUM_BAD);
	int rc;

	p->user[1] = 0; /* one buffer, whatever a driver left there */

	if ((rc = udp_hdr_parse(p->data, p->len, m->src, m->dst, !m->l4_cksum_ok && !hw_bad, &h)) != 0)
		return udp_drop(st, p, udp_parse_drop[-rc]);
	if (hw_bad && h.cksum != 0) /* a zero checksum means none was sent (RFC 768) */
		return udp_drop(st, p, DROP_UDP_CKSUM);
	if (ipv4_is_broadcast(st, m->dst)) {
		pbuf_trim(p, h.len);
		pbuf_adj(p, UDP_HDR_LEN);
		p->user[0] = (uint64_t)m->src << 16 | h.sport;
		p->user[1] = 0;
		return udp_input_broadcast(st, p, m, &h);
	}
	if (!(us = udp_lookup(st, &src, h.sport, &dst, h.dport))) {
		/* RFC 1122 §4.1.3.1: port unreachable, quoting the IP packet */
		if (p->l3_len >= IPV4_HDR_LEN && pbuf_prepend(p, p->l3_len))
			icmp_send_unreach(st, p, ICMP_UNREACH_PORT);
		return udp_drop(st, p, DROP_UDP_NO_PORT);
	}
	pbuf_trim(p, h.len);
	pbuf_adj(p, UDP_HDR_LEN);
	udp_src_set(p, &src, h.sport);
	p->user[1] = 0;
	udp_enqueue(st, us, p);
}

void udp_input_chain(struct stack *st, struct pbuf *p, uint32_t total, const struct ipv4_meta *m)
{
	struct udp_sock *us;
	uint32_t sum;

	/* the first fragment holds the header (fragments but the last carry
	 * multiples of 8 bytes): its length must be the datagram's */
	if (p->len < UDP_HDR_LEN)
		return udp_drop(st, p, DROP_UDP_SHORT);
	if (rd16(p->data + 4) != total)
		return udp_drop(st, p, DROP_UDP_LEN);
	if (rd16(p->data + 6)) {
		sum = cksum_pseudo_ipv4(m->src, m->dst, IPV4_PROTO_UDP, (uint16_t)total);
		for (const struct pbuf *f = p; f; f = udp_chain_next(f))
			sum = cksum_partial(f->data, f->len, sum); /* all but the last are even */
		if (cksum_fold(sum) != 0)
			return udp_drop(st, p, DROP_UDP_CKSUM);
	}
	if (!(us = udp_lookup(st, IP_ADDR_V4_PTR(m->src), rd16(p->data), IP_ADDR_V4_PTR(m->dst), rd16(p->data + 2)))) {
		if (p->l3_len >= IPV4_HDR_LEN && pbuf_prepend(p, p->l3_len))
			icmp_send_unreach(st, p, ICMP_UNREACH_PORT);
		return udp_drop(st, p, DROP_UDP_NO_PORT);
	}
	p->user[0] = (uint64_t)m->src << 16 | rd16(p->data);
	pbuf_adj(p, UDP_HDR_LEN);
	udp_enqueue(st, us, p);
}

void udp_input6(struct stack *st, struct pbuf *p, const struct ipv6_meta *m)
{
	union ip_addr src = ip_addr_v6(&m->src), dst = ip_addr_v6(&m->dst);
	struct udp_hdr h;
	struct udp_sock *us;
	int rc;

	p->user[1] = 0;
	if ((rc = udp_hdr_parse(p->data, p->len, 0, 0, 0, &h)) != 0)
		return udp_drop(st, p, udp_parse_drop[-rc]);
	/* RFC 8200 §8.1: the checksum is mandatory, over the IPv6 pseudo-header */
	if ((p->flags & PBUF_F_RX_L4_CKSUM_BAD) || h.cksum == 0 ||
	    (!m->l4_cksum_ok &&
	     cksum_fold(cksum_partial(p->data, h.len, cksum_pseudo_ipv6(&m->src, &m->dst, IPPROTO_UDP, h.len)))))
		return udp_drop(st, p, DROP_UDP_CKSUM);
	if (ip_addr_is_v4(&src) || ip_addr_is_v4(&dst) || !(us = udp_lookup(st, &src, h.sport, &dst, h.dport))) {
		/* RFC 4443 §3.1: port unreachable, quoting the packet */
		if (!ip_addr_is_v4(&src) && m->l3_off && pbuf_prepend(p, m->l3_off))
			icmp6_send_error(st, p, ICMP6_DST_UNREACH, ICMP6_DST_UNREACH_NOPORT, 0);
		return udp_drop(st, p, DROP_UDP_NO_PORT);
	}
	pbuf_trim(p, h.len);
	pbuf_adj(p, UDP_HDR_LEN);
	udp_src_set(p, &src, h.sport);
	udp_enqueue(st, us, p);
}

void udp_icmp_error(struct stack *st, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		    int err, int hard)
{
	struct udp_sock *us = udp_lookup(st, IP_ADDR_V4_PTR(dst), dport, IP_ADDR_V4_PTR(src), sport);
	/* without IP_RECVERR Linux reports only hard errors, only to connected sockets */
	if (!us || !hard || !us->connected)
		return;
	us->err = err;
	sock_wake(us->s);
}

/* ---- output ----------------------------------------------------------- */

static size_t udp_iov_len(const struct iovec *iov, int iovcnt, int *fault)
{
	size_t total = 0;
	*fault = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			*fault = 1;
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* Where a datagram to dst can go: 0, -ENETUNREACH, or -EACCES for a
 * broadcast without SO_BROADCAST (as Linux). */
static int udp_route(const struct stack *st, const struct udp_sock *us, const union ip_addr *dst6)
{
	uint32_t dst = ip_addr_to_v4(dst6);
	if (!ip_addr_is_v4(dst6)) /* IPv6: unicast, with IPv6 up */
		return ipv6_enabled(st) && !ip_addr_is_zero(dst6) && dst6->b[0] != 0xff ? 0 : -ENETUNREACH;
	if (ipv4_is_broadcast(st, dst))
		return us->broadcast ? 0 : -EACCES;
	/* Linux routes 0.0.0.0 to the host itself; this stack has no loopback */
	if (dst == INADDR_ANY || !ipv4_next_hop(st, dst))
		return -ENETUNREACH;
	return 0;
}

/* The largest payload one packet of the given MTU (and one buffer) carries;
 * larger datagrams go out as fragments (udp_send_frags). */
static size_t udp_payload_in(const struct stack *st, uint32_t mtu)
{
	size_t pkt = (size_t)mtu - IPV4_HDR_LEN - UDP_HDR_LEN;
	size_t buf = (size_t)st->pool->buf_size - PBUF_HEADROOM - UDP_HDR_LEN;
	size_t max = pkt < buf ? pkt : buf;
	return max < UDP_MAX_PAYLOAD ? max : UDP_MAX_PAYLOAD;
}

/* The MTU a socket's datagrams to dst are cut to (IP_MTU_DISCOVER): the
 * path's as learned from ICMP (WANT, DO), or the interface's (the others). */
static uint32_t udp_mtu_to(struct stack *st, const struct udp_sock *us, const union ip_addr *dst)
{
	if (!ip_addr_is_v4(dst)) /* as an IPv4 MTU: the IPv6 path's payload plus 20 */
		return (uint32_t)ipv6_max_payload(st, &dst->in6) + IPV4_HDR_LEN;
	return us->pmtudisc == IP_PMTUDISC_WANT || us->pmtudisc == IP_PMTUDISC_DO
		       ? stack_path_mtu(st, ip_addr_to_v4(dst))
		       : st->mtu;
}

/* IP_PMTUDISC_DO and PROBE: DF always, never fragments (EMSGSIZE instead) */
static int udp_may_fragment(const struct udp_sock *us)
{
	return us->pmtudisc != IP_PMTUDISC_DO && us->pmtudisc != IP_PMTUDISC_PROBE;
}

/* DF on a datagram that fits one packet, as Linux's ip_dont_fragment():
 * not under IP_PMTUDISC_DONT, INTERFACE or OMIT */
static uint16_t udp_df(const struct udp_sock *us)
{
	return us->pmtudisc == IP_PMTUDISC_WANT || !udp_may_fragment(us) ? IPV4_FLAG_DF : 0;
}

/* The most one packet to dst carries for the socket. */
static size_t udp_max_payload_to(struct stack *st, const struct udp_sock *us, const union ip_addr *dst)
{
	return udp_payload_in(st, udp_mtu_to(st, us, dst));
}

/* Copy the payload in after what the datagram (p->data at its UDP header) holds. */
static void udp_append(struct pbuf *p, const struct iovec *iov, int iovcnt, size_t len)
{
	uint8_t *d = pbuf_append(p, (uint32_t)len);
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(d, iov[i].iov_base, iov[i].iov_len);
		d += iov[i].iov_len;
	}
}

/* Write the header and send. The checksum is computed here, or left to the
 * device with the pseudo-header sum in the field when it offers UDP
 * checksum offload. */
/* IPv6: the checksum in software over its pseudo-header, never 0 (RFC 8200 §8.1). */
static void udp_finish6(struct stack *st, struct udp_sock *us, struct pbuf *p, const union ip_addr *dst,
			uint16_t dport)
{
	union ip_addr src = ip_addr_is_any(&us->laddr) ? ip_addr_v6(&st->cfg.addr6) : us->laddr;
	uint8_t *b = p->data;
	uint16_t c;
	wr16(b, us->lport);
	wr16(b + 2, dport);
	wr16(b + 4, (uint16_t)p->len);
	wr16(b + 6, 0);
	c = cksum_fold(cksum_partial(b, p->len, cksum_pseudo_ipv6(src.b, dst->b, IPPROTO_UDP, p->len)));
	wr16(b + 6, c ? c : 0xffff);
	STAT_INC(st, UDP_TX_DATAGRAMS);
	(void)ipv6_output(st, p, &src.in6, &dst->in6, IPPROTO_UDP, us->tos, 0);
}

static void udp_finish(struct stack *st, struct udp_sock *us, struct pbuf *p, const union ip_addr *dst6,
		       uint16_t dport)
{
	struct udp_hdr h = { .sport = us->lport, .dport = dport, .len = (uint16_t)p->len };
	uint8_t *b = p->data;
	uint32_t dst = ip_addr_to_v4(dst6);

	if (!ip_addr_is_v4(dst6))
		return udp_finish6(st, us, p, dst6, dport);
	if (st->nif->caps & NETIF_CAP_TX_CKSUM_UDP) {
		uint32_t sum = cksum_pseudo_ipv4(st->addr, dst, IPV4_PROTO_UDP, h.len);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		wr16(b, h.sport);
		wr16(b + 2, h.dport);
		wr16(b + 4, h.len);
		wr16(b + 6, (uint16_t)sum);
		p->flags |= PBUF_F_TX_UDP_CKSUM;
		p->l4_len = UDP_HDR_LEN;
	} else {
		udp_hdr_emit(b, &h, st->addr, dst);
	}
	STAT_INC(st, UDP_TX_DATAGRAMS);
	if (ipv4_is_broadcast(st, dst)) /* in a link-level broadcast frame: no ARP */
		(void)ipv4_output_frag(st, p, dst, IPV4_PROTO_UDP, us->tos, st->ip_id++, IPV4_FLAG_DF, 1);
	else if (!udp_may_fragment(us) || p->len <= (uint32_t)stack_least_mtu(st) - IPV4_HDR_LEN ||
		 p->len <= udp_mtu_to(st, us, dst6) - IPV4_HDR_LEN)
		/* as Linux, a datagram lost to ARP or a full queue still counts as
		 * sent; DF as Linux's ip_dont_fragment() sets it */
		(void)ipv4_output_frag(st, p, dst, IPV4_PROTO_UDP, us->tos, st->ip_id++, udp_df(us), 0);
	else /* corked to more than the path takes: fragments */
		(void)ipv4_output(st, p, dst, IPV4_PROTO_UDP, us->tos);
}

/* A datagram larger than one packet: IPv4 fragments, as Linux sends them
 * under its default IP_PMTUDISC_WANT. Each fragment but the last carries a
 * multiple of 8 bytes, so the UDP checksum is summed over the fragments as
 * they are filled, in software. All or nothing: -ENOBUFS. */
static ssize_t udp_send_frags(struct stack *st, struct udp_sock *us, const struct iovec *iov, int iovcnt,
			      size_t len, const union ip_addr *dst6, uint16_t dport)
{
	struct pbuf *f[128];
	uint32_t total = (uint32_t)len + UDP_HDR_LEN, room = st->pool->buf_size - PBUF_HEADROOM;
	uint32_t path = udp_mtu_to(st, us, dst6) - IPV4_HDR_LEN, dst = ip_addr_to_v4(dst6);
	uint32_t per = path < room ? path : room, sum, nf = 0;
	uint16_t id = st->ip_id++;
	size_t ioff = 0;
	int iv = 0;

	per &= ~7u;
	f[0] = NULL;
	if (per < 8 || (total + per - 1) / per > 128)
		return -EMSGSIZE;
	sum = cksum_pseudo_ipv4(st->addr, dst, IPV4_PROTO_UDP, (uint16_t)total);
	for (uint32_t off = 0; off < total; off += per) {
		uint32_t n = total - off < per ? total - off : per, k = 0;
		uint8_t *d;
		if (!(f[nf] = stack_alloc(st))) {
			while (nf)
				pbuf_free(f[--nf]);
			return -ENOBUFS;
		}
		d = pbuf_append(f[nf++], n);
		if (!off) {
			wr16(d, us->lport);
			wr16(d + 2, dport);
			wr16(d + 4, (uint16_t)total);
			wr16(d + 6, 0);
			k = UDP_HDR_LEN;
		}
		while (k < n && iv < iovcnt) {
			size_t c = iov[iv].iov_len - ioff < n - k ? iov[iv].iov_len - ioff : n - k;
			if (c)
				memcpy(d + k, (const uint8_t *)iov[iv].iov_base + ioff, c);
			k += (uint32_t)c;
			if ((ioff += c) == iov[iv].iov_len)
				iv++, ioff = 0;
		}
		sum = cksum_partial(d, n, sum);
	}
	sum = cksum_fold(sum);
	wr16(f[0]->data + 6, sum ? (uint16_t)sum : 0xffff); /* 0 means none (RFC 768) */
	STAT_INC(st, UDP_TX_DATAGRAMS);
	for (uint32_t i = 0; i < nf; i++)
		(void)ipv4_send_fragment(st, f[i], dst, IPV4_PROTO_UDP, us->tos, id, i * per, i + 1 < nf,
					 ipv4_is_broadcast(st, dst));
	return (ssize_t)len;
}

/* Send what MSG_MORE or UDP_CORK held back. */
static void udp_push_cork(struct stack *st, struct udp_sock *us)
{
	struct pbuf *p = us->cork;
	if (!p)
		return;
	us->cork = NULL;
	udp_finish(st, us, p, &us->cork_dst, us->cork_dport);
}

/* MSG_MORE or UDP_CORK with data held back: append to it, as Linux's
 * udp_sendmsg() does, ignoring any address given; too much drops it all. */
static ssize_t udp_send_corked(struct stack *st, struct udp_sock *us, const struct iovec *iov,
			       int iovcnt, size_t len, int flags, int fault)
{
	if (us->cork->len - UDP_HDR_LEN + len > udp_payload_in(st, st->mtu)) {
		pbuf_free(us->cork);
		us->cork = NULL;
		return -EMSGSIZE;
	}
	if (fault)
		return -EFAULT;
	udp_append(us->cork, iov, iovcnt, len);
	if (!(flags & MSG_MORE) && !us->cork_opt)
		udp_push_cork(st, us);
	return (ssize_t)len;
}

static int udp_take_err(struct udp_sock *us)
{
	int e = us->err;
	us->err = 0;
	if (e)
		sock_wake(us->s);
	return e;
}

/* The checks in the order Linux's inet_sendmsg() and udp_sendmsg() make them. */
static ssize_t udp_send(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			const struct sock_ep *to)
{
	struct udp_sock *us = s->proto;
	struct stack *st = s->st;
	struct pbuf *p;
	union ip_addr dst;
	uint16_t dport;
	size_t len;
	int fault, rc, frags;

	if (iovcnt > UDP_IOV_MAX)
		return -EMSGSIZE;
	if ((rc = udp_autobind(st, us)) != 0)
		return rc;
	len = udp_iov_len(iov, iovcnt, &fault);
	if (len > 0xffff)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (us->cork)
		return udp_send_corked(st, us, iov, iovcnt, len, flags, fault);
	if (to) {
		dst = to->addr;
		dport = to->port;
		if (!dport)
			return -EINVAL;
	} else if (us->connected) { /* sendto() with an address overrides the peer: no EISCONN for UDP */
		dst = us->faddr;
		dport = us->fport;
	} else {
		return -EDESTADDRREQ;
	}
	if ((rc = udp_route(st, us, &dst)) != 0)
		return rc;
	if (!ip_addr_is_any(&us->laddr) && ip_addr_is_v4(&us->laddr) != ip_addr_is_v4(&dst))
		return -ENETUNREACH; /* bound to an address of the other family */
	/* the path's MTU is looked up only for what the least one might not take */
	frags = len > udp_payload_in(st, stack_least_mtu(st)) && len > udp_max_payload_to(st, us, &dst);
	if (frags && (len > UDP_MAX_PAYLOAD || (flags & MSG_MORE) || us->cork_opt || !udp_may_fragment(us) ||
		      !ip_addr_is_v4(&dst))) /* no IPv6 fragments are sent */
		return -EMSGSIZE;
	if (us->err)
		return -udp_take_err(us);
	if (us->shut & UDP_SHUT_WR)
		return -EPIPE;
	if (fault)
		return -EFAULT;
	if (frags)
		return udp_send_frags(st, us, iov, iovcnt, len, &dst, dport);
	if (!(p = stack_alloc(st)))
		return -ENOBUFS;
	pbuf_append(p, UDP_HDR_LEN);
	udp_append(p, iov, iovcnt, len);
	if ((flags & MSG_MORE) || us->cork_opt) {
		us->cork = p;
		us->cork_dst = dst;
		us->cork_dport = dport;
	} else {
		udp_finish(st, us, p, &dst, dport);
	}
	return (ssize_t)len;
}

/* ---- receive ---------------------------------------------------------- */

static ssize_t udp_recv(struct sock *s, const struct iovec *iov, int iovcnt, int flags,
			struct sock_ep *from)
{
	struct udp_sock *us = s->proto;
	struct pbuf *p = us->rxq_head;
	size_t copied = 0;
	int fault;

	if (flags & MSG_ERRQUEUE) /* no IP_RECVERR: the error queue is always empty */
		return -EAGAIN;
	if (us->err)
		return -udp_take_err(us);
	/* Shut for reading and empty: a blocking recv on Linux returns 0 and a
	 * non-blocking one EAGAIN. The API cannot tell them apart and reports
	 * the socket readable (EPOLLIN), so it answers as the blocking call. */
	if (!p)
		return (us->shut & UDP_SHUT_RD) ? 0 : -EAGAIN;
	udp_iov_len(iov, iovcnt, &fault);
	if (fault)
		return -EFAULT;
	{
		const struct pbuf *f = p;
		size_t foff = 0;
		for (int i = 0; i < iovcnt && f; i++) {
			size_t ioff = 0;
			while (ioff < iov[i].iov_len && f) {
				size_t n = f->len - foff < iov[i].iov_len - ioff ? f->len - foff : iov[i].iov_len - ioff;
				if (n)
					memcpy((uint8_t *)iov[i].iov_base + ioff, f->data + foff, n);
				ioff += n;
				foff += n;
				copied += n;
				if (foff == f->len)
					f = udp_chain_next(f), foff = 0;
			}
		}
	}
	if (from)
		udp_src_get(p, from);
	/* MSG_TRUNC: the real length of the datagram, even if it was cut */
	ssize_t ret = (flags & MSG_TRUNC) ? (ssize_t)udp_dgram_len(p) : (ssize_t)copied;
	if (!(flags & MSG_PEEK)) {
		us->rxq_head = p->next;
		if (!us->rxq_head)
			us->rxq_tail = NULL;
		us->rxq_mem -= udp_dgram_mem(p);
		us->rxq_bytes -= udp_dgram_len(p);
		udp_dgram_free(p);
		if (!us->rxq_head)
			sock_wake(s);
	}
	return ret;
}

/* ---- the rest of the socket calls ------------------------------------- */

static int udp_connect(struct sock *s, const struct sock_ep *a)
{
	struct udp_sock *us = s->proto;
	struct stack *st = s->st;
	int rc;

	if (a->family == AF_UNSPEC) { /* Linux's __udp_disconnect() */
		us->connected = 0;
		memset(&us->faddr, 0, sizeof(us->faddr));
		us->fport = 0;
		if (!us->addr_locked)
			us->laddr = udp_any(us);
		if (!us->port_locked)
			udp_unhash(st, us);
		return 0;
	}
	/* Linux's inet_dgram_connect() binds first, even if the route then fails */
	if ((rc = udp_autobind(st, us)) != 0)
		return rc;
	if ((rc = udp_route(st, us, &a->addr)) != 0)
		return rc;
	if (ip_addr_is_any(&us->laddr))
		us->laddr = udp_local_addr(st, &a->addr);
	else if (ip_addr_is_v4(&us->laddr) != ip_addr_is_v4(&a->addr))
		return -ENETUNREACH; /* bound to an address of the other family */
	us->faddr = a->addr;
	us->fport = a->port;
	us->connected = 1;
	return 0;
}

/* Linux's inet_shutdown(): on an unconnected socket the flags are set all
 * the same (waking waiters) and the answer is ENOTCONN. */
static int udp_shutdown(struct sock *s, int how)
{
	struct udp_sock *us = s->proto;
	us->shut |= how == SHUT_RD ? UDP_SHUT_RD : how == SHUT_WR ? UDP_SHUT_WR : UDP_SHUT_RD | UDP_SHUT_WR;
	sock_wake(s);
	return us->connected ? 0 : -ENOTCONN;
}

static int udp_close(struct sock *s)
{
	struct udp_sock *us = s->proto;
	udp_unhash(s->st, us);
	*us->all_pprev = us->all_next;
	if (us->all_next)
		us->all_next->all_pprev = us->all_pprev;
	pbuf_free(us->cork);
	udp_rxq_purge(us);
	free(us);
	s->proto = NULL;
	return 0;
}

static int udp_buf_size(int val, int max, int min)
{
	/* Linux: min_t(u32, val, max) * 2, at least min */
	uint32_t v = (uint32_t)val < (uint32_t)max ? (uint32_t)val : (uint32_t)max;
	v *= 2;
	return v < (uint32_t)min ? min : (int)v;
}

static int udp_setopt(struct sock *s, int level, int name, const void *val, socklen_t len)
{
	struct udp_sock *us = s->proto;
	int v;

	if (level != SOL_SOCKET && level != IPPROTO_IP && level != IPPROTO_UDP)
		return -ENOPROTOOPT;
	if (len < (socklen_t)sizeof(int))
		return -EINVAL;
	memcpy(&v, val, sizeof(v));
	if (level == IPPROTO_UDP) {
		if (name != UDP_CORK)
			return -ENOPROTOOPT;
		us->cork_opt = !!v;
		if (!v) /* uncorking sends what was held */
			udp_push_cork(s->st, us);
		return 0;
	}
	if (level == IPPROTO_IP) {
		if (name == IP_MTU_DISCOVER) {
			if (v < IP_PMTUDISC_DONT || v > IP_PMTUDISC_OMIT)
				return -EINVAL;
			us->pmtudisc = (uint8_t)v;
			return 0;
		}
		if (name != IP_TOS)
			return -ENOPROTOOPT;
		us->tos = (uint8_t)v; /* ECN bits included: Linux masks them for TCP only */
		return 0;
	}
	switch (name) {
	case SO_REUSEADDR: us->reuseaddr = !!v; return 0;
	case SO_REUSEPORT: us->reuseport = !!v; return 0;
	case SO_BROADCAST: us->broadcast = !!v; return 0;
	case SO_RCVBUF:
		us->rcvbuf = udp_buf_size(v, UDP_RMEM_MAX, UDP_RMEM_MIN);
		return 0;
	case SO_SNDBUF: /* kept for getsockopt: datagrams leave at once, none waits */
		us->sndbuf = udp_buf_size(v, UDP_WMEM_MAX, UDP_WMEM_MIN);
		return 0;
	case SO_KEEPALIVE: /* accepted and without effect, as on Linux's UDP */
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

static int udp_getopt(struct sock *s, int level, int name, void *val, socklen_t *len)
{
	struct udp_sock *us = s->proto;
	int v;

	if (level == IPPROTO_IP && name == IP_TOS) {
		v = us->tos;
	} else if (level == IPPROTO_IP && name == IP_MTU_DISCOVER) {
		v = us->pmtudisc;
	} else if (level == IPPROTO_UDP && name == UDP_CORK) {
		v = us->cork_opt;
	} else if (level != SOL_SOCKET) {
		return -ENOPROTOOPT;
	} else {
		switch (name) {
		case SO_REUSEADDR: v = us->reuseaddr; break;
		case SO_REUSEPORT: v = us->reuseport; break;
		case SO_BROADCAST: v = us->broadcast; break;
		case SO_RCVBUF: v = us->rcvbuf; break;
		case SO_SNDBUF: v = us->sndbuf; break;
		case SO_ERROR: v = udp_take_err(us); break;
		case SO_TYPE: v = SOCK_DGRAM; break;
		case SO_PROTOCOL: v = IPPROTO_UDP; break;
		case SO_DOMAIN: v = AF_INET; break;
		case SO_ACCEPTCONN: v = 0; break;
		case SO_KEEPALIVE: v = 0; break;
		default: return -ENOPROTOOPT;
		}
	}
	/* Linux copies at most sizeof(int), fewer if the caller asked for fewer */
	if (*len > (socklen_t)sizeof(v))
		*len = sizeof(v);
	memcpy(val, &v, *len);
	return 0;
}

static int udp_name(struct sock *s, struct sock_ep *local)
{
	struct udp_sock *us = s->proto;
	local->addr = us->laddr;
	local->port = us->lport;
	local->family = (uint16_t)s->family;
	return 0;
}

static int udp_peer(struct sock *s, struct sock_ep *peer)
{
	struct udp_sock *us = s->proto;
	if (!us->connected)
		return -ENOTCONN;
	peer->addr = us->faddr;
	peer->port = us->fport;
	peer->family = (uint16_t)s->family;
	return 0;
}

/* Linux's datagram_poll() */
static uint32_t udp_events(const struct sock *s)
{
	const struct udp_sock *us = s->proto;
	uint32_t ev = EPOLLOUT;
	if (us->err)
		ev |= EPOLLERR;
	if (us->rxq_head)
		ev |= EPOLLIN;
	if (us->shut & UDP_SHUT_RD)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (us->shut == (UDP_SHUT_RD | UDP_SHUT_WR))
		ev |= EPOLLHUP;
	return ev;
}

static int udp_sock_take_error(struct sock *s)
{
	return udp_take_err(s->proto);
}

/* FIONREAD on Linux's UDP: the payload size of the next datagram */
static size_t udp_rx_bytes(const struct sock *s)
{
	const struct udp_sock *us = s->proto;
	return us->rxq_head ? udp_dgram_len(us->rxq_head) : 0;
}

/* Datagrams go to the device at once: only a corked one waits. */
static size_t udp_tx_bytes(const struct sock *s)
{
	const struct udp_sock *us = s->proto;
	return us->cork ? us->cork->len - UDP_HDR_LEN : 0;
}

const struct sock_ops udp_sock_ops = {
	.bind = udp_bind,
	.connect = udp_connect,
	.send = udp_send,
	.recv = udp_recv,
	.shutdown = udp_shutdown,
	.close = udp_close,
	.setopt = udp_setopt,
	.getopt = udp_getopt,
	.name = udp_name,
	.peer = udp_peer,
	.events = udp_events,
	.take_error = udp_sock_take_error,
	.rx_bytes = udp_rx_bytes,
	.tx_bytes = udp_tx_bytes,
};

int udp_sock_create(struct stack *st, struct sock **out)
{
	struct udp_sock *us = calloc(1, sizeof(*us));
	if (!us)
		return -ENOMEM;
	if (!(us->s = sock_alloc(st, SOCK_DGRAM, &udp_sock_ops, us))) {
		free(us);
		return -ENOMEM;
	}
	us->rcvbuf = UDP_RMEM_DEFAULT;
	us->sndbuf = UDP_WMEM_DEFAULT;
	us->pmtudisc = IP_PMTUDISC_WANT; /* Linux's default (ip_no_pmtu_disc 0) */
	us->all_next = st->udp->all;
	if (us->all_next)
		us->all_next->all_pprev = &us->all_next;
	us->all_pprev = &st->udp->all;
	st->udp->all = us;
	*out = us->s;
	return 0;
}

void udp_foreach(struct stack *st, void (*fn)(const struct sock_info *, void *), void *arg)
{
	if (!st->udp)
		return;
	for (const struct udp_sock *us = st->udp->all; us; us = us->all_next) {
		struct sock_info si = { .type = SOCK_DGRAM, .state = -1, .rcv_queue = us->rxq_bytes,
					.snd_queue = (uint32_t)udp_tx_bytes(us->s) };
		union ip_addr none = { .q = { 0, 0 } };
		const union ip_addr *peer = us->connected ? &us->faddr : &none;
		int v6 = us->connected ? !ip_addr_is_v4(peer)
				       : us->s->family == AF_INET6 && !ip_addr_is_v4(&us->laddr);
		sock_info_addr(&si, v6, &us->laddr, us->lport, peer, us->connected ? us->fport : 0);
		fn(&si, arg);
	}
}
