/* Random segments, seeded: at a listener and at established connections,
 * with sequence and acknowledgment numbers near and far from the window,
 * random flags, options and payloads. Nothing may crash, leak or wedge:
 * every pbuf comes back and the connection can still be closed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/tt.h"

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint32_t near(uint32_t base)
{
	switch (rnd() % 4) {
	case 0: return base;
	case 1: return base + rnd() % 70000;
	case 2: return base - rnd() % 70000;
	default: return rnd();
	}
}

static struct tt_seg random_seg(struct tt *t, uint32_t peer_base)
{
	static uint8_t data[1400];
	struct tt_seg s = { .flags = (uint8_t)rnd(), .seq = near(peer_base), .ack = near(t->iss + 1),
			    .wnd = (uint16_t)rnd(), .wnd0 = rnd() % 8 == 0 };
	uint32_t o = rnd();
	if (o & 1)
		s.opt.has |= TCP_OPTF_TS, s.opt.tsval = near((uint32_t)(t->now / TT_MS)), s.opt.tsecr = rnd();
	if (o & 2) {
		s.opt.has |= TCP_OPTF_SACK;
		s.opt.nsack = (uint8_t)(1 + rnd() % 3);
		for (int i = 0; i < s.opt.nsack; i++)
			s.opt.sack[i].start = near(t->iss + 1), s.opt.sack[i].end = s.opt.sack[i].start + rnd() % 5000;
	}
	if (o & 4)
		s.opt.has |= TCP_OPTF_MSS, s.opt.mss = (uint16_t)rnd();
	if (o & 8)
		s.opt.has |= TCP_OPTF_WS, s.opt.wscale = (uint8_t)(rnd() % 20);
	if (o & 16) {
		s.len = rnd() % sizeof(data);
		for (uint32_t i = 0; i < s.len; i++)
			data[i] = (uint8_t)rnd();
		s.data = data;
	}
	if (rnd() % 4 == 0)
		s.sport = (uint16_t)(1 + rnd() % 8);
	return s;
}

static void drain(struct tt *t)
{
	struct tt_seg s;
	while (tt_recv(t, &s))
		;
	if (t->sock) {
		char b[4096];
		struct iovec v = { .iov_base = b, .iov_len = sizeof(b) };
		while (sock_recv(t->sock, &v, 1, 0, NULL) > 0)
			;
	}
}

static void test_fuzz_established_and_listener_survive(void **state)
{
	struct tt *t = *state;
#ifdef DEMI_ASAN
	const int rounds = 100, per = 1000;
#else
	const int rounds = 300, per = 1000;
#endif
	for (int r = 0; r < rounds; r++) {
		tt_established(t);
		for (int i = 0; i < per; i++) {
			struct tt_seg s = random_seg(t, TT_PEER_ISS + 1);
			if (rnd() % 16 == 0) {
				struct iovec v = { .iov_base = "abcdefgh", .iov_len = 1 + rnd() % 8 };
				if (t->sock)
					sock_send(t->sock, &v, 1, rnd() % 2 ? MSG_MORE : 0, NULL);
			}
			tt_send(t, s);
			if (rnd() % 32 == 0)
				tt_advance(t, (uint64_t)(rnd() % 3000) * TT_MS);
			drain(t);
		}
		if (t->sock)
			sock_close(t->sock);
		t->sock = NULL;
		sock_close(t->lsock);
		t->lsock = NULL;
		tt_advance(t, 200000 * TT_MS);
		drain(t);
		/* TIME-WAIT and orphans run out; nothing else may remain */
		for (int i = 0; i < 30 && t->st->tcp->count; i++) {
			tt_advance(t, 130000 * TT_MS);
			drain(t);
		}
		for (struct tcb *k = t->st->tcp->all; k; k = k->next)
			print_message("left: round %d bo %d kind %d wnd %u state %s port %u flags %#x rto %d keep %d sock %p parent %p sblen %u una %u max %u\n", r, k->backoff, k->rto_kind, k->snd_wnd,
				      stack_tcp_state_name(k->state), k->rport, k->flags, tw_timer_pending(&k->rto_timer),
				      tw_timer_pending(&k->keep_timer), (void *)k->sock, (void *)k->parent, k->sb_len,
				      k->snd_una - k->iss, k->snd_max - k->iss);

		assert_int_equal(t->st->tcp->count, 0);
		assert_int_equal(t->spool->in_use, 0);
	}
	if (getenv("TT_FUZZ_VERBOSE")) {
		unsigned n;
		const uint64_t *v = stack_counter_values(t->st, &n);
		for (unsigned i = 0; i < n; i++)
			if (v[i])
				print_message("  %-28s %10llu\n", stack_counter_name(i), (unsigned long long)v[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fuzz_established_and_listener_survive, tt_setup, tt_teardown),
	};
	return cmocka_run_group_tests_name("tcp_fuzz", tests, NULL, NULL);
}
