/* The stack instance: creation, the poll step, the tx queue, counters, and
 * what the runtime asks of the whole instance. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arp.h"
#include "ip6.h"
#include "net.h"
#include "tcp/tcb.h"

static const char *const counter_names[COUNTER_MAX] = {
#define COUNTER(name, desc) #name,
#include "counters_net.def"
#include "tcp/counters.def"
#undef COUNTER
};

int stack_create(struct stack **out, const struct stack_cfg *cfg, struct netif *nif, uint64_t now_ns)
{
	static const uint8_t zero[16];
	struct stack *st;
	int rc;

	if (!cfg->addr.s_addr || cfg->prefix_len > 32 || !nif || !nif->pool || cfg->prefix6_len > 128 ||
	    cfg->addr6.s6_addr[0] == 0xff)
		return -EINVAL;
	if (!(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	st->nif = nif;
	st->pool = nif->pool;
	st->cfg = *cfg;
	st->addr = ntohl(cfg->addr.s_addr);
	st->netmask = cfg->prefix_len ? ~0u << (32 - cfg->prefix_len) : 0;
	st->gateway = ntohl(cfg->gateway.s_addr);
	st->mtu = cfg->mtu && cfg->mtu < nif->mtu ? cfg->mtu : nif->mtu;
	st->now = now_ns;
	tw_init(&st->tw, now_ns, 1000000);
	if (!memcmp(st->cfg.isn_secret, zero, 16) &&
	    getrandom(st->cfg.isn_secret, sizeof(st->cfg.isn_secret), 0) != sizeof(st->cfg.isn_secret)) {
		free(st);
		return -EIO;
	}
	if ((rc = arp_init(st)) != 0 || (rc = udp_init(st)) != 0 || (rc = tcp_init(st)) != 0 ||
	    (rc = ipv6_init(st)) != 0) {
		tcp_fini(st);
		udp_fini(st);
		arp_fini(st);
		free(st);
		return rc;
	}
	if (cfg->gratuitous_arp && !cfg->kernel_neigh)
		arp_announce(st);
	stack_tx_flush(st); /* the announcement, IPv6's DAD solicitations */
	*out = st;
	return 0;
}

void stack_destroy(struct stack *st)
{
	if (!st)
		return;
	tcp_fini(st);
	udp_fini(st);
	ipv4_reass_expire(st, 1);
	ipv6_fini(st);
	stack_tx_flush(st);
	arp_fini(st);
	for (uint16_t i = 0; i < st->txq_len; i++)
		pbuf_free(st->txq[i]);
	free(st);
}

int stack_poll(struct stack *st, uint64_t now_ns)
{
	struct pbuf *rx[STACK_RX_BURST];
	uint16_t n;
	int work;

	st->now = now_ns;
	n = netif_rx_burst(st->nif, rx, STACK_RX_BURST);
	for (uint16_t i = 0; i < n; i++) {
		STAT_INC(st, RX_FRAMES);
		STAT_ADD(st, RX_BYTES, rx[i]->len);
		eth_input(st, rx[i]);
	}
	work = n + (int)tw_run(&st->tw, now_ns);
	if (st->reass_next && st->reass_next <= now_ns)
		ipv4_reass_expire(st, 0);
	stack_tx_flush(st);
	return work;
}

uint64_t stack_next_timer(const struct stack *st)
{
	uint64_t t = tw_next(&st->tw);
	if (st->reass_next && st->reass_next < t)
		t = st->reass_next;
	/* refused frames: try again soon, not at the next timer */
	if (st->txq_len && t > st->now + 1000000)
		t = st->now + 1000000;
	return t;
}

const uint64_t *stack_counter_values(const struct stack *st, unsigned *n)
{
	*n = COUNTER_MAX;
	return st->ctr.v;
}

const char *stack_counter_name(unsigned i)
{
	return i < COUNTER_MAX ? counter_names[i] : NULL;
}

int stack_counter_index(const char *name)
{
	for (unsigned i = 0; i < COUNTER_MAX; i++)
		if (!strcmp(counter_names[i], name))
			return (int)i;
	return -1;
}

static void any_closing(const struct sock_info *si, void *arg)
{
	int *closing = arg;
	if (si->type == SOCK_STREAM && tcp_state_fin_unacked(si->state))
		*closing = 1;
}

int stack_tcp_any_closing(struct stack *st)
{
	int closing = 0;
	stack_foreach_sock(st, any_closing, &closing);
	return closing;
}

uint32_t stack_tcp_tcbs(const struct stack *st, uint64_t *bytes)
{
	uint32_t n = st->tcp ? st->tcp->count : 0;
	*bytes = (uint64_t)n * sizeof(struct tcb);
	return n;
}

void stack_tx_frame(struct stack *st, struct pbuf *p)
{
	if (st->txq_len == STACK_TXQ_MAX)
		stack_tx_flush(st);
	if (st->txq_len == STACK_TXQ_MAX) {
		pbuf_free(p);
		STAT_INC(st, TX_DROP_FULL);
		return;
	}
	st->txq[st->txq_len++] = p;
}

void stack_tx_flush(struct stack *st)
{
	uint16_t sent, n = st->txq_len;
	uint64_t bytes = 0;
	if (!n)
		return;
	sent = netif_tx_burst(st->nif, st->txq, n);
	for (uint16_t i = 0; i < sent; i++)
		bytes += st->txq[i]->len;
	STAT_ADD(st, TX_FRAMES, sent);
	STAT_ADD(st, TX_BYTES, bytes);
	if (sent == n) {
		st->txq_len = 0;
		st->txq_refused_at = 0;
		return;
	}
	if (sent || !st->txq_refused_at)
		st->txq_refused_at = st->now ? st->now : 1;
	if (st->now - st->txq_refused_at >= STACK_TX_HOLD_NS) {
		for (uint16_t i = sent; i < n; i++) {
			pbuf_free(st->txq[i]);
			STAT_INC(st, TX_DROP_FULL);
		}
		st->txq_len = 0;
		st->txq_refused_at = 0;
		return;
	}
	memmove(st->txq, st->txq + sent, (size_t)(n - sent) * sizeof(st->txq[0]));
	st->txq_len = (uint16_t)(n - sent);
}

struct pbuf *stack_alloc(struct stack *st)
{
	struct pbuf *p = pbuf_alloc(st->pool);
	if (!p)
		STAT_INC(st, TX_DROP_NOBUF);
	return p;
}
