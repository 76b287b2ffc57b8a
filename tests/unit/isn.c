/* SipHash-2-4 reference vectors, RFC 6528 ISNs and SYN cookies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "tcp/isn.h"

#define SEC 1000000000ull
#define V4(a) IP_ADDR_V4_PTR(a)
static uint8_t key[16];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	return 0;
}

static void test_siphash_reference_vectors(void **state)
{
	(void)state;
	uint8_t msg[64];
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	/* from the SipHash paper (appendix A) and the reference vectors.h */
	assert_true(siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ull);
	assert_true(siphash24(key, msg, 15) == 0xa129ca6149be45e5ull);
	assert_true(siphash24(key, msg, 8) == 0x93f5f5799a932462ull);
}

static void test_isn_differs_per_tuple_and_key(void **state)
{
	(void)state;
	uint32_t a = tcp_isn(key, V4(0xc6120002), 80, V4(0xc6120001), 40000, 0);
	assert_true(a != tcp_isn(key, V4(0xc6120002), 80, V4(0xc6120001), 40001, 0));
	assert_true(a != tcp_isn(key, V4(0xc6120002), 80, V4(0xc6120003), 40000, 0));
	uint8_t k2[16] = { 1 };
	assert_true(a != tcp_isn(k2, V4(0xc6120002), 80, V4(0xc6120001), 40000, 0));
	assert_int_equal(a, tcp_isn(key, V4(0xc6120002), 80, V4(0xc6120001), 40000, 0));
}

static void test_isn_advances_every_4us(void **state)
{
	(void)state;
	uint32_t a = tcp_isn(key, V4(1), 2, V4(3), 4, 1 * SEC);
	assert_int_equal(tcp_isn(key, V4(1), 2, V4(3), 4, 1 * SEC + 4000) - a, 1);
	assert_int_equal(tcp_isn(key, V4(1), 2, V4(3), 4, 2 * SEC) - a, 250000);
}

static void test_syncookie_roundtrip_each_mss(void **state)
{
	(void)state;
	const uint16_t offered[] = { 100, 536, 1000, 1300, 1440, 1460, 1500, 9000, 65535 };
	const uint16_t want[] = { 216, 536, 536, 1300, 1440, 1460, 1460, 8960, 8960 };
	for (unsigned i = 0; i < sizeof(offered) / sizeof(offered[0]); i++) {
		uint16_t mss = 0;
		uint32_t c = tcp_syncookie_make(key, V4(10), 80, V4(20), 5555, 0xdeadbeef, offered[i], 100 * SEC);
		assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(20), 5555, 0xdeadbeef, c, 100 * SEC + 5, &mss), 0);
		assert_int_equal(mss, want[i]);
	}
}

static void test_syncookie_wrong_inputs_rejected(void **state)
{
	(void)state;
	uint16_t mss;
	uint32_t c = tcp_syncookie_make(key, V4(10), 80, V4(20), 5555, 77, 1460, 100 * SEC);
	assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(20), 5556, 77, c, 100 * SEC, &mss), -1);
	assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(21), 5555, 77, c, 100 * SEC, &mss), -1);
	assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(20), 5555, 78, c, 100 * SEC, &mss), -1);
	assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(20), 5555, 77, c ^ 1, 100 * SEC, &mss), -1);
	/* a forged MSS index fails the MAC */
	assert_int_equal(tcp_syncookie_check(key, V4(10), 80, V4(20), 5555, 77, c ^ (1u << 24), 100 * SEC, &mss), -1);
}

static void test_syncookie_expires_after_two_periods(void **state)
{
	(void)state;
	uint16_t mss;
	uint64_t t0 = 127 * SEC; /* near the end of a 64 s period: valid into the next */
	uint32_t c = tcp_syncookie_make(key, V4(1), 2, V4(3), 4, 5, 1460, t0);
	assert_int_equal(tcp_syncookie_check(key, V4(1), 2, V4(3), 4, 5, c, t0 + 2 * SEC, &mss), 0);
	assert_int_equal(tcp_syncookie_check(key, V4(1), 2, V4(3), 4, 5, c, t0 + 64 * SEC, &mss), 0);
	assert_int_equal(tcp_syncookie_check(key, V4(1), 2, V4(3), 4, 5, c, t0 + 130 * SEC, &mss), -1);
	/* 32 periods later the counter bits repeat, but the MAC covers the full counter */
	assert_int_equal(tcp_syncookie_check(key, V4(1), 2, V4(3), 4, 5, c, t0 + 32 * 64 * SEC, &mss), -1);
}

static void test_syncookie_ts_carries_options(void **state)
{
	(void)state;
	uint8_t ws;
	int sack;
	for (int w = 0; w <= 15; w++) {
		for (int s = 0; s <= 1; s++) {
			uint32_t ts = tcp_syncookie_ts(0x12345678, (uint8_t)w, s);
			assert_int_equal(ts & ~0x1fu, 0x12345660);
			tcp_syncookie_ts_opts(ts, &ws, &sack);
			assert_int_equal(ws, w);
			assert_int_equal(sack, s);
		}
	}
}

static union ip_addr a6(const char *text)
{
	union ip_addr a;
	assert_int_equal(inet_pton(AF_INET6, text, a.b), 1);
	return a;
}

/* The rule (isn.c): an IPv4 pair hashes its 4-byte addresses, an IPv6 pair
 * its 16-byte ones. IPv4 written v4-mapped is IPv4, the same connection, so
 * the same ISN; an IPv6 address that ends in the same 4 bytes is another
 * connection with another ISN. */
static void test_isn_ipv6_rule(void **state)
{
	(void)state;
	union ip_addr l = a6("2001:db8::2"), r = a6("2001:db8::1"), r2 = a6("2001:db8:0:1::1");
	union ip_addr m_l = a6("::ffff:198.18.0.2"), m_r = a6("::ffff:198.18.0.1");
	union ip_addr c_l = a6("::198.18.0.2"), c_r = a6("::198.18.0.1");
	uint32_t v4 = tcp_isn(key, V4(0xc6120002), 80, V4(0xc6120001), 40000, 0);
	uint32_t v6 = tcp_isn(key, &l, 80, &r, 40000, 0);

	assert_int_equal(tcp_isn(key, &m_l, 80, &m_r, 40000, 0), v4);
	assert_true(tcp_isn(key, &c_l, 80, &c_r, 40000, 0) != v4);
	assert_true(v6 != v4);
	assert_int_equal(tcp_isn(key, &l, 80, &r, 40000, 0), v6);
	/* every byte of the address counts, not only the low 4 */
	assert_true(tcp_isn(key, &l, 80, &r2, 40000, 0) != v6);
	assert_true(tcp_isn(key, &l, 80, &r, 40001, 0) != v6);
	assert_int_equal(tcp_isn(key, &l, 80, &r, 40000, 4000) - v6, 1);
}

static void test_syncookie_ipv6(void **state)
{
	(void)state;
	union ip_addr l = a6("2001:db8::2"), r = a6("2001:db8::1"), r2 = a6("2001:db8:1::1");
	union ip_addr c_r = a6("::198.18.0.1");
	uint16_t mss = 0;
	uint32_t c = tcp_syncookie_make(key, &l, 80, &r, 5555, 77, 1440, 100 * SEC);
	assert_int_equal(tcp_syncookie_check(key, &l, 80, &r, 5555, 77, c, 100 * SEC + 5, &mss), 0);
	assert_int_equal(mss, 1440);
	assert_int_equal(tcp_syncookie_check(key, &l, 80, &r2, 5555, 77, c, 100 * SEC, &mss), -1);
	/* not valid for the IPv4 pair with the same low bytes, nor the reverse */
	assert_int_equal(tcp_syncookie_check(key, V4(0x20010db8), 80, V4(1), 5555, 77, c, 100 * SEC, &mss), -1);
	c = tcp_syncookie_make(key, V4(0xc6120002), 80, V4(0xc6120001), 5555, 77, 1440, 100 * SEC);
	assert_int_equal(tcp_syncookie_check(key, &l, 80, &c_r, 5555, 77, c, 100 * SEC, &mss), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_isn_differs_per_tuple_and_key),
		cmocka_unit_test(test_isn_advances_every_4us),
		cmocka_unit_test(test_syncookie_roundtrip_each_mss),
		cmocka_unit_test(test_syncookie_wrong_inputs_rejected),
		cmocka_unit_test(test_syncookie_expires_after_two_periods),
		cmocka_unit_test(test_syncookie_ts_carries_options),
		cmocka_unit_test(test_isn_ipv6_rule),
		cmocka_unit_test(test_syncookie_ipv6),
	};
	return cmocka_run_group_tests_name("isn", tests, setup, NULL);
}
