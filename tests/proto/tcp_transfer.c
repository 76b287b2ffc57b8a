/* Two stacks over the in-memory link: a connection carrying 64 MiB each
 * way at once, byte-exact, under each memlink fault (loss, reordering,
 * duplication, corruption, all together) with NewReno and with CUBIC; then
 * a clean close on both sides and no TCB or buffer left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/tcp.h>

#include "../lib/tt.h"

#define XFER_DEFAULT (64u << 20) /* plain and ASan alike: ~3 s and ~12 s */
static uint64_t XFER_BYTES = XFER_DEFAULT; /* TT_XFER_KB overrides, for debugging */
#define US 1000ull

/* What went on the wire: the TCP option kinds each side's SYNs and its
 * other segments carried (bit = kind), read from every frame either port
 * sends. */
static struct {
	uint32_t syn_kinds, seg_kinds;
	uint64_t syns, segs;
} wire;
static struct netif *wire_nif[2];
static const struct netif_ops *wire_orig[2];
static struct netif_ops wire_ops[2];

static void wire_note(const struct pbuf *p)
{
	const uint8_t *f = p->data, *ip, *tcp;
	uint32_t kinds = 0;
	unsigned ihl, doff;

	if (p->len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return;
	ip = f + 14;
	ihl = (ip[0] & 15u) * 4;
	if (ip[9] != IPPROTO_TCP || p->len < 14 + ihl + 20)
		return;
	tcp = ip + ihl;
	doff = (tcp[12] >> 4) * 4u;
	assert_true(doff >= 20 && p->len >= 14 + ihl + doff);
	for (unsigned i = 20; i < doff;) {
		uint8_t k = tcp[i];
		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		kinds |= 1u << (k & 31);
		assert_true(i + 1 < doff && tcp[i + 1] >= 2);
		i += tcp[i + 1];
	}
	if (tcp[13] & 0x02) { /* SYN */
		wire.syn_kinds |= kinds;
		wire.syns++;
	} else {
		wire.seg_kinds |= kinds;
		wire.segs++;
	}
}

static uint16_t wire_tx(struct netif *nif, struct pbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		wire_note(pkts[i]);
	return wire_orig[nif == wire_nif[1]]->tx_burst(nif, pkts, n);
}

static void wire_watch(struct tt *t)
{
	memset(&wire, 0, sizeof(wire));
	wire_nif[0] = t->snif;
	wire_nif[1] = t->peer;
	for (int i = 0; i < 2; i++) {
		wire_orig[i] = wire_nif[i]->ops;
		wire_ops[i] = *wire_orig[i];
		wire_ops[i].tx_burst = wire_tx;
		wire_nif[i]->ops = &wire_ops[i];
	}
}

#define KIND(k) (1u << (k))
enum { OPT_MSS = 2, OPT_WS = 3, OPT_SACK_OK = 4, OPT_SACK = 5, OPT_TS = 8 };

/* The options opts_off leaves out are on no segment, SYNs included; the
 * others are there (the check sees options at all). */
static void wire_check(uint8_t opts_off, int lossy)
{
	uint32_t all = wire.syn_kinds | wire.seg_kinds;

	print_message("  wire: %llu SYNs options %#x, %llu segments options %#x\n", (unsigned long long)wire.syns,
		      wire.syn_kinds, (unsigned long long)wire.segs, wire.seg_kinds);
	assert_true(wire.syns >= 2 && wire.segs > 1000);
	assert_true(wire.syn_kinds & KIND(OPT_MSS));
	if (opts_off & TCP_OPTF_TS)
		assert_false(all & KIND(OPT_TS));
	else
		assert_true((wire.syn_kinds & KIND(OPT_TS)) && (wire.seg_kinds & KIND(OPT_TS)));
	if (opts_off & TCP_OPTF_SACK_OK)
		assert_false(all & (KIND(OPT_SACK_OK) | KIND(OPT_SACK)));
	else
		assert_true((wire.syn_kinds & KIND(OPT_SACK_OK)) && (!lossy || (wire.seg_kinds & KIND(OPT_SACK))));
	if (opts_off & TCP_OPTF_WS)
		assert_false(all & KIND(OPT_WS));
	else
		assert_true(wire.syn_kinds & KIND(OPT_WS));
}



static void transfer(struct tt *t, const char *cc, const struct memlink_faults *f, uint8_t opts_off)
{
	struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT) };
	struct sockaddr_in ca = { .sin_family = AF_INET, .sin_port = htons(TT_LPORT),
				  .sin_addr.s_addr = htonl(TT_US_IP) };
	struct tt_side a = { .total = XFER_BYTES, .seed_tx = 0, .seed_rx = 1 },
		       b = { .total = XFER_BYTES, .seed_tx = 1, .seed_rx = 0 };
	uint64_t start = t->now;
	char name[16];
	socklen_t nl = sizeof(name);

	t->st->tcp->opts_off = t->st2->tcp->opts_off = opts_off;
	wire_watch(t);
	memlink_set_faults(t->snif, f);
	memlink_set_faults(t->peer, f);
	assert_int_equal(sock_create(t->st, SOCK_STREAM, &t->lsock), 0);
	assert_int_equal(sock_setopt(t->lsock, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)), 0);
	assert_int_equal(sock_bind(t->lsock, &la), 0);
	assert_int_equal(sock_listen(t->lsock, 8), 0);
	assert_int_equal(sock_create(t->st2, SOCK_STREAM, &t->sock2), 0);
	assert_int_equal(sock_setopt(t->sock2, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)), 0);
	assert_int_equal(sock_connect(t->sock2, &ca), -EINPROGRESS);
	while (sock_accept(t->lsock, &t->sock, NULL) == -EAGAIN) {
		tt_pair_step(t);
		assert_true(t->now - start < 200000 * TT_MS);
	}
	assert_int_equal(sock_getopt(t->sock, IPPROTO_TCP, TCP_CONGESTION, name, &nl), 0);
	assert_string_equal(name, cc);
	a.s = t->sock;
	b.s = t->sock2;
	tt_sides_run(t, &a, &b, 36000000 * TT_MS);
	print_message("%s: %llu ms simulated, retransmits %llu+%llu, RTOs %llu+%llu, fast %llu+%llu\n", cc,
		      (unsigned long long)((t->now - start) / TT_MS),
		      (unsigned long long)t->st->ctr.v[TCP_RETRANS_SEGS], (unsigned long long)t->st2->ctr.v[TCP_RETRANS_SEGS],
		      (unsigned long long)t->st->ctr.v[TCP_RTO_FIRED], (unsigned long long)t->st2->ctr.v[TCP_RTO_FIRED],
		      (unsigned long long)t->st->ctr.v[TCP_FAST_RETRANS], (unsigned long long)t->st2->ctr.v[TCP_FAST_RETRANS]);
	{
		const struct memlink_stats *ms = memlink_stats(t->ml);
		print_message("  link: sent %llu dropped %llu rx_nobuf %llu rx_full %llu; txfull %llu+%llu nobuf %llu+%llu ooofull %llu\n",
			      (unsigned long long)ms->sent, (unsigned long long)ms->dropped, (unsigned long long)ms->rx_nobuf,
			      (unsigned long long)ms->rx_full, (unsigned long long)t->st->ctr.v[TX_DROP_FULL],
			      (unsigned long long)t->st2->ctr.v[TX_DROP_FULL], (unsigned long long)t->st->ctr.v[TX_DROP_NOBUF],
			      (unsigned long long)t->st2->ctr.v[TX_DROP_NOBUF], (unsigned long long)t->st->ctr.v[DROP_TCP_OOO_FULL]);
	}
	if (getenv("TT_XFER_VERBOSE")) {
		unsigned n;
		const uint64_t *v1 = stack_counter_values(t->st, &n), *v2 = stack_counter_values(t->st2, &n);
		for (unsigned i = 0; i < n; i++)
			if (v1[i] || v2[i])
				print_message("  %-28s %10llu %10llu\n", stack_counter_name(i), (unsigned long long)v1[i],
					      (unsigned long long)v2[i]);
	}
	if (f->delay_ns >= 5 * TT_MS) {
		/* a long path: the buffers grew past their defaults to fill it */
		struct tcb *x = t->sock->proto, *y = t->sock2->proto;
		print_message("  buffers: rcv %u/%u snd %u/%u\n", x->rcvbuf, y->rcvbuf, x->sndbuf, y->sndbuf);
		assert_true(x->rcvbuf > TCP_RCVBUF_DEFAULT && y->rcvbuf > TCP_RCVBUF_DEFAULT);
		assert_true(x->sndbuf > TCP_SNDBUF_DEFAULT && y->sndbuf > TCP_SNDBUF_DEFAULT);
	}
	wire_check(opts_off, f->drop_ppm > 0);
	/* both sides shut down writing and read EOF: close, wait out TIME-WAIT */
	sock_close(t->sock);
	sock_close(t->sock2);
	sock_close(t->lsock);
	t->sock = t->sock2 = t->lsock = NULL;
	for (int i = 0; i < 100 && (t->st->tcp->count || t->st2->tcp->count); i++)
		tt_advance(t, 1000 * TT_MS);
	assert_int_equal(t->st->tcp->count, 0);
	assert_int_equal(t->st2->tcp->count, 0);
}

static const struct memlink_faults f_none = { .delay_ns = 100 * US };
static const struct memlink_faults f_loss = { .delay_ns = 100 * US, .drop_ppm = 100000 };
static const struct memlink_faults f_reorder = { .delay_ns = 100 * US, .reorder_ppm = 100000, .reorder_ns = 300 * US };
static const struct memlink_faults f_dup = { .delay_ns = 100 * US, .dup_ppm = 100000 };
static const struct memlink_faults f_corrupt = { .delay_ns = 100 * US, .corrupt_ppm = 100000 };
static const struct memlink_faults f_longpath = { .delay_ns = 10 * TT_MS };
static const struct memlink_faults f_all = { .delay_ns = 100 * US, .drop_ppm = 100000, .reorder_ppm = 100000,
					     .reorder_ns = 300 * US, .dup_ppm = 100000, .corrupt_ppm = 100000 };

#define XF(cc, f)                                                                   \
	static void test_transfer_##cc##_##f(void **state) { transfer(*state, #cc, &f_##f, 0); }
XF(newreno, none) XF(newreno, loss) XF(newreno, reorder) XF(newreno, dup) XF(newreno, corrupt) XF(newreno, all)
XF(cubic, longpath) XF(cubic, none) XF(cubic, loss) XF(cubic, reorder) XF(cubic, dup) XF(cubic, corrupt) XF(cubic, all)

/* Without SACK and timestamps: NewReno's partial ACKs (RFC 6582) and
 * Karn's RTT samples carry the recovery. */
static void test_transfer_newreno_all_without_sack_or_ts(void **state)
{
	transfer(*state, "newreno", &f_all, TCP_OPTF_SACK_OK | TCP_OPTF_TS);
}
static void test_transfer_cubic_loss_without_options(void **state)
{
	transfer(*state, "cubic", &f_loss, TCP_OPTF_SACK_OK | TCP_OPTF_TS | TCP_OPTF_WS);
}

/* Jumbo frames: MSS 8960 each way (less 12 for timestamps), and the
 * segments on the wire really that big, through loss. */
static void test_transfer_jumbo(void **state)
{
	struct tt *t = *state;
	const struct memlink_stats *ms;
	uint64_t frames0, bytes0;

	assert_int_equal(tcp_mss_for_mtu(t->st), 8960);
	ms = memlink_stats(t->ml);
	frames0 = ms->sent;
	bytes0 = t->st->ctr.v[TX_BYTES] + t->st2->ctr.v[TX_BYTES];
	transfer(t, "cubic", &f_loss, 0);
	ms = memlink_stats(t->ml);
	/* 2 x XFER_BYTES of payload in frames averaging well above 1500 bytes */
	assert_true((t->st->ctr.v[TX_BYTES] + t->st2->ctr.v[TX_BYTES] - bytes0) / (ms->sent - frames0) > 4000);
}

#define T(cc, f) cmocka_unit_test_setup_teardown(test_transfer_##cc##_##f, tt_setup_pair, tt_teardown)
int main(void)
{
	if (getenv("TT_XFER_KB"))
		XFER_BYTES = strtoull(getenv("TT_XFER_KB"), NULL, 10) << 10;
	const struct CMUnitTest tests[] = {
		T(newreno, none), T(newreno, loss), T(newreno, reorder), T(newreno, dup), T(newreno, corrupt),
		T(newreno, all), T(cubic, none), T(cubic, loss), T(cubic, reorder), T(cubic, dup),
		T(cubic, corrupt), T(cubic, all), T(cubic, longpath),
		cmocka_unit_test_setup_teardown(test_transfer_newreno_all_without_sack_or_ts, tt_setup_pair, tt_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_cubic_loss_without_options, tt_setup_pair, tt_teardown),
		cmocka_unit_test_setup_teardown(test_transfer_jumbo, tt_setup_pair_jumbo, tt_teardown),
	};
	return cmocka_run_group_tests_name("tcp_transfer", tests, NULL, NULL);
}
