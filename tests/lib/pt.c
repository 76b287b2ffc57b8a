/* Packet-test fixture (see pt.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "arp.h"
#include "pt.h"
#include "wire/cksum.h"
#include "wire/eth.h"

const uint8_t PT_US_MAC[6] = { 2, 0, 0, 0, 0, 2 }, PT_PEER_MAC[6] = { 2, 0, 0, 0, 0, 1 };

static struct pt pt_fixture;
static struct pt *pt_cur; /* the fixture whose device hooks run */

/* The stack's device: memlink, recording tx offload requests and adding rx
 * checksum results as a device would. */
static uint16_t pt_tx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	struct pt *t = pt_cur;
	if (t->tx_refuse) {
		t->tx_refuse--;
		return 0;
	}
	if (n) {
		t->tx_flags = pkts[n - 1]->flags;
		t->tx_l2 = pkts[n - 1]->l2_len;
		t->tx_l3 = pkts[n - 1]->l3_len;
		t->tx_l4 = pkts[n - 1]->l4_len;
	}
	return t->orig->tx_burst(nif, pkts, n);
}

static uint16_t pt_rx_burst(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	uint16_t got = pt_cur->orig->rx_burst(nif, pkts, n);
	for (uint16_t i = 0; i < got; i++)
		pkts[i]->flags |= pt_cur->rx_flags;
	return got;
}

int pt_open(struct pt *t, const struct pt_opts *o)
{
	struct stack_cfg cfg = { .prefix_len = 24 };
	memset(t, 0, sizeof(*t));
	memcpy(cfg.isn_secret, o->isn_secret, sizeof(cfg.isn_secret));
	cfg.addr.s_addr = htonl(PT_US_IP);
	t->now = 1000 * PT_MS;
	if (memlink_create(&t->ml, o->seed) || pbuf_pool_heap_create(&t->spool, o->nbufs, o->bufsize) ||
	    pbuf_pool_heap_create(&t->ppool, o->nbufs, o->bufsize))
		return -1;
	t->snif = memlink_port(t->ml, PT_US_MAC, o->mtu, t->spool);
	t->peer = memlink_port(t->ml, PT_PEER_MAC, o->mtu, t->ppool);
	t->orig = t->snif->ops;
	t->ops = *t->snif->ops;
	t->ops.tx_burst = pt_tx_burst;
	t->ops.rx_burst = pt_rx_burst;
	t->snif->ops = &t->ops;
	pt_cur = t;
	if (o->cfg_hook)
		o->cfg_hook(&cfg);
	if (stack_create(&t->st, &cfg, t->snif, t->now))
		return -1;
	if (!o->no_arp && arp_cache_add(t->st, PT_PEER_IP, PT_PEER_MAC))
		return -1;
	return 0;
}

void pt_close(struct pt *t)
{
	stack_destroy(t->st);
	memlink_destroy(t->ml);
	assert_int_equal(t->spool->in_use, 0); /* no buffer leaked */
	assert_int_equal(t->ppool->in_use, 0);
	pbuf_pool_heap_destroy(t->spool);
	pbuf_pool_heap_destroy(t->ppool);
}

static int pt_setup_with(void **state, int no_arp)
{
	struct pt_opts o = { .seed = 7, .nbufs = 256, .bufsize = 2048, .mtu = 1500, .isn_secret = { 1 },
			     .no_arp = no_arp };
	if (pt_open(&pt_fixture, &o))
		return -1;
	*state = &pt_fixture;
	return 0;
}

int pt_setup(void **state) { return pt_setup_with(state, 0); }
int pt_setup_no_arp(void **state) { return pt_setup_with(state, 1); }

int pt_teardown(void **state)
{
	pt_close(*state);
	return 0;
}

void pt_step(struct pt *t, uint64_t advance_ns)
{
	t->now += advance_ns;
	memlink_advance(t->ml, t->now);
	stack_poll(t->st, t->now);
	memlink_advance(t->ml, t->now);
}

void pt_send_frame(struct pt *t, const uint8_t *frame, uint32_t len)
{
	struct pbuf *p = pbuf_alloc(t->ppool);
	uint8_t *b;
	assert_non_null(p);
	b = pbuf_append(p, len);
	assert_non_null(b);
	memcpy(b, frame, len);
	assert_int_equal(netif_tx_burst(t->peer, &p, 1), 1);
}

uint32_t pt_recv_frame(struct pt *t, uint8_t *buf, uint32_t size)
{
	struct pbuf *p;
	uint32_t len;
	if (netif_rx_burst(t->peer, &p, 1) == 0)
		return 0;
	len = p->len;
	assert_true(len <= size);
	memcpy(buf, p->data, len);
	pbuf_free(p);
	return len;
}

uint32_t pt_build_hdrs(uint8_t *f, const struct ipv4_hdr *ip)
{
	struct eth_hdr e = { .type = ETH_TYPE_IPV4 };
	memcpy(e.dst, PT_US_MAC, 6);
	memcpy(e.src, PT_PEER_MAC, 6);
	eth_hdr_emit(f, &e);
	ipv4_hdr_emit(f + 14, ip);
	return 14u + ip->total_len;
}

uint32_t pt_build_ip(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len)
{
	struct ipv4_hdr ip = { .ihl = 20, .total_len = (uint16_t)(20 + l4_len), .id = 99, .ttl = 64,
			       .proto = proto, .src = src, .dst = dst };
	pt_build_hdrs(f, &ip);
	return 34u + l4_len;
}

uint32_t pt_build_udp(uint8_t *f, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
		      const void *payload, uint16_t len)
{
	struct udp_hdr u = { .sport = sport, .dport = dport, .len = (uint16_t)(8 + len) };
	if (len)
		memcpy(f + 42, payload, len);
	udp_hdr_emit(f + 34, &u, src, dst);
	return pt_build_ip(f, src, dst, IPV4_PROTO_UDP, (uint16_t)(8 + len));
}

void pt_peer_udp(struct pt *t, uint16_t sport, uint16_t dport, const void *payload, uint16_t len)
{
	uint8_t f[2048];
	pt_send_frame(t, f, pt_build_udp(f, PT_PEER_IP, sport, PT_US_IP, dport, payload, len));
	pt_step(t, 0);
}

void pt_expect_ip(struct pt *t, struct pt_frame *f)
{
	struct eth_hdr e;
	f->len = pt_recv_frame(t, f->raw, sizeof(f->raw));
	assert_true(f->len > 0);
	assert_int_equal(eth_hdr_parse(f->raw, f->len, &e), 0);
	assert_int_equal(e.type, ETH_TYPE_IPV4);
	assert_memory_equal(e.src, PT_US_MAC, 6);
	memcpy(f->dst_mac, e.dst, 6);
	assert_int_equal(ipv4_hdr_parse(f->raw + 14, f->len - 14, 1, &f->ip), 0);
	assert_int_equal(f->len, 14u + f->ip.total_len); /* no padding beyond the packet */
	f->l4 = f->raw + 14 + f->ip.ihl;
	f->l4_len = (uint16_t)(f->ip.total_len - f->ip.ihl);
}

void pt_expect_udp(struct pt *t, struct pt_frame *f, struct udp_hdr *u)
{
	pt_expect_ip(t, f);
	assert_int_equal(f->ip.proto, IPV4_PROTO_UDP);
	assert_int_equal(udp_hdr_parse(f->l4, f->l4_len, f->ip.src, f->ip.dst, 1, u), 0);
	assert_int_equal(u->len, f->l4_len);
	assert_int_not_equal(u->cksum, 0); /* always sent */
}

void pt_expect_nothing(struct pt *t)
{
	uint8_t buf[2048];
	assert_int_equal(pt_recv_frame(t, buf, sizeof(buf)), 0);
}

uint64_t pt_counter(struct pt *t, enum stack_counter c)
{
	unsigned n;
	return stack_counter_values(t->st, &n)[c];
}

struct sock *pt_udp_bound(struct pt *t, uint16_t port)
{
	struct sock *s;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	assert_int_equal(sock_create(t->st, SOCK_DGRAM, &s), 0);
	assert_int_equal(sock_bind(s, &a), 0);
	return s;
}
