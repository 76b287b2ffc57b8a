/* The in-memory link: addressing, the fake clock, each seeded fault, and no
 * buffer left behind. Port A sends; B and C receive. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "netif/memlink.h"

#define MS 1000000ull

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa }, MAC_B[6] = { 2, 0, 0, 0, 0, 0xb },
		     MAC_C[6] = { 2, 0, 0, 0, 0, 0xc }, BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

struct fx {
	struct memlink *ml;
	struct pbuf_pool *pool[3];
	struct netif *a, *b, *c;
};

static int fx_setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	if (memlink_create(&f.ml, 42))
		return -1;
	for (int i = 0; i < 3; i++)
		if (pbuf_pool_heap_create(&f.pool[i], 64, 2048))
			return -1;
	f.a = memlink_port(f.ml, MAC_A, 1500, f.pool[0]);
	f.b = memlink_port(f.ml, MAC_B, 1500, f.pool[1]);
	f.c = memlink_port(f.ml, MAC_C, 1500, f.pool[2]);
	*state = &f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	memlink_destroy(f->ml);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f->pool[i]->in_use, 0); /* nothing leaked */
		pbuf_pool_heap_destroy(f->pool[i]);
	}
	return 0;
}

/* A 64-byte frame to dst whose payload bytes are all `tag`. */
static void send_frame(struct fx *f, const uint8_t dst[6], uint8_t tag)
{
	struct pbuf *p = pbuf_alloc(f->pool[0]);
	uint8_t *d = pbuf_append(p, 64);
	memset(d, tag, 64);
	memcpy(d, dst, 6);
	memcpy(d + 6, MAC_A, 6);
	assert_int_equal(netif_tx_burst(f->a, &p, 1), 1);
}

/* Receive everything at port n; returns the count and the tags in order. */
static int recv_all(struct netif *n, uint8_t *tags, uint32_t *lens)
{
	struct pbuf *p[32];
	uint16_t k = netif_rx_burst(n, p, 32);
	for (uint16_t i = 0; i < k; i++) {
		if (tags)
			tags[i] = p[i]->data[20];
		if (lens)
			lens[i] = p[i]->len;
		pbuf_free(p[i]);
	}
	return k;
}

static void test_memlink_unicast_reaches_only_its_port(void **state)
{
	struct fx *f = *state;
	send_frame(f, MAC_B, 1);
	memlink_advance(f->ml, 0);
	assert_int_equal(recv_all(f->b, NULL, NULL), 1);
	assert_int_equal(recv_all(f->c, NULL, NULL), 0);
	assert_int_equal(recv_all(f->a, NULL, NULL), 0); /* never back to the sender */
	send_frame(f, BCAST, 2);
	memlink_advance(f->ml, 0);
	assert_int_equal(recv_all(f->b, NULL, NULL), 1);
	assert_int_equal(recv_all(f->c, NULL, NULL), 1);
}

static void test_memlink_delay_follows_fake_clock(void **state)
{
	struct fx *f = *state;
	memlink_set_faults(f->a, &(struct memlink_faults){ .delay_ns = 5 * MS });
	send_frame(f, MAC_B, 1);
	memlink_advance(f->ml, 4 * MS);
	assert_int_equal(recv_all(f->b, NULL, NULL), 0);
	assert_int_equal(memlink_in_flight(f->ml), 1);
	memlink_advance(f->ml, 5 * MS);
	assert_int_equal(recv_all(f->b, NULL, NULL), 1);
}

static void test_memlink_drop_all_and_drop_next(void **state)
{
	struct fx *f = *state;
	memlink_set_faults(f->a, &(struct memlink_faults){ .drop_next = 2 });
	for (uint8_t i = 0; i < 4; i++)
		send_frame(f, MAC_B, i);
	memlink_advance(f->ml, 0);
	uint8_t tags[8];
	assert_int_equal(recv_all(f->b, tags, NULL), 2);
	assert_int_equal(tags[0], 2);
	memlink_set_faults(f->a, &(struct memlink_faults){ .drop_ppm = 1000000 });
	send_frame(f, MAC_B, 9);
	memlink_advance(f->ml, 0);
	assert_int_equal(recv_all(f->b, NULL, NULL), 0);
	assert_int_equal(memlink_stats(f->ml)->dropped, 3);
}

static void test_memlink_reorder_lets_later_frames_pass(void **state)
{
	struct fx *f = *state;
	memlink_set_faults(f->a, &(struct memlink_faults){ .reorder_ppm = 1000000, .reorder_ns = 2 * MS });
	send_frame(f, MAC_B, 1);
	memlink_set_faults(f->a, &(struct memlink_faults){ 0 });
	send_frame(f, MAC_B, 2);
	memlink_advance(f->ml, 3 * MS);
	uint8_t tags[4];
	assert_int_equal(recv_all(f->b, tags, NULL), 2);
	assert_int_equal(tags[0], 2);
	assert_int_equal(tags[1], 1);
}

static void test_memlink_dup_corrupt_truncate(void **state)
{
	struct fx *f = *state;
	uint32_t lens[8];
	memlink_set_faults(f->a, &(struct memlink_faults){ .dup_ppm = 1000000 });
	send_frame(f, MAC_B, 1);
	memlink_advance(f->ml, 1);
	assert_int_equal(recv_all(f->b, NULL, NULL), 2);
	memlink_set_faults(f->a, &(struct memlink_faults){ .truncate_ppm = 1000000 });
	send_frame(f, MAC_B, 1);
	memlink_advance(f->ml, 2);
	assert_int_equal(recv_all(f->b, NULL, lens), 1);
	assert_true(lens[0] >= 15 && lens[0] < 64);
	/* corruption: exactly one byte differs */
	memlink_set_faults(f->a, &(struct memlink_faults){ .corrupt_ppm = 1000000 });
	send_frame(f, MAC_B, 7);
	memlink_advance(f->ml, 3);
	struct pbuf *p;
	assert_int_equal(netif_rx_burst(f->b, &p, 1), 1);
	int diff = 0;
	for (int i = 12; i < 64; i++)
		diff += p->data[i] != 7;
	diff += memcmp(p->data, MAC_B, 6) != 0;
	assert_true(diff <= 1);
	assert_int_equal(memlink_stats(f->ml)->corrupted, 1);
	pbuf_free(p);
}

static void test_memlink_same_seed_same_fate(void **state)
{
	(void)state;
	uint64_t fates[2];
	for (int run = 0; run < 2; run++) {
		struct fx *f;
		void *st;
		fx_setup(&st);
		f = st;
		memlink_set_faults(f->a, &(struct memlink_faults){ .drop_ppm = 500000 });
		for (int i = 0; i < 64; i++)
			send_frame(f, MAC_B, (uint8_t)i);
		memlink_advance(f->ml, 1);
		uint64_t mask = 0;
		struct pbuf *p[64];
		uint16_t k = netif_rx_burst(f->b, p, 64);
		for (uint16_t i = 0; i < k; i++) {
			mask |= 1ull << p[i]->data[20];
			pbuf_free(p[i]);
		}
		fates[run] = mask;
		fx_teardown(&st);
	}
	assert_true(fates[0] == fates[1]);
	assert_true(fates[0] != 0 && fates[0] != UINT64_MAX); /* some dropped, some not */
}

static void test_memlink_receiver_pool_empty_is_counted(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 70; i++) { /* B's pool holds 64 */
		send_frame(f, MAC_B, 1);
		memlink_advance(f->ml, (uint64_t)i);
	}
	assert_int_equal(memlink_stats(f->ml)->rx_nobuf, 6);
	while (recv_all(f->b, NULL, NULL))
		;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_memlink_unicast_reaches_only_its_port, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_memlink_delay_follows_fake_clock, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_memlink_drop_all_and_drop_next, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_memlink_reorder_lets_later_frames_pass, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_memlink_dup_corrupt_truncate, fx_setup, fx_teardown),
		cmocka_unit_test(test_memlink_same_seed_same_fate),
		cmocka_unit_test_setup_teardown(test_memlink_receiver_pool_empty_is_counted, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests_name("memlink", tests, NULL, NULL);
}
