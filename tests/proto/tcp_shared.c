/* A device shared with other processes (stack_cfg.shared_dev, a tap whose
 * queues several processes attach): a segment of a connection this stack
 * does not know may belong to another process's, so it is dropped and
 * counted, never answered with a RST; SYNs to a listener still connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../lib/tt.h"

static int shared_setup(void **state)
{
	int rc = tt_setup(state);
	struct tt *t = *state;
	if (rc == 0)
		t->st->cfg.shared_dev = 1;
	return rc;
}

static void test_shared_data_without_connection_dropped(void **state)
{
	struct tt *t = *state;
	tt_send(t, SEG(TCP_ACK | TCP_FIN, .seq = 5, .ack = 12345, .dport = 81));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[DROP_TCP_NOT_OURS], 1);
	assert_int_equal(t->st->ctr.v[TCP_RST_SENT], 0);
}

static void test_shared_syn_without_listener_dropped(void **state)
{
	struct tt *t = *state;
	tt_send(t, SEG(TCP_SYN, .seq = TT_PEER_ISS, .dport = 81));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[DROP_TCP_NOT_OURS], 1);
}

/* an ACK at a listener: a connection another process accepted */
static void test_shared_ack_at_listener_dropped(void **state)
{
	struct tt *t = *state;
	tt_listen(t);
	tt_send(t, SEG(TCP_ACK, .seq = 5, .ack = 12345));
	tt_expect_nothing(t);
	assert_int_equal(t->st->ctr.v[DROP_TCP_NOT_OURS], 1);
	assert_int_equal(t->st->ctr.v[TCP_RST_SENT], 0);
}

static void test_shared_syn_at_listener_connects(void **state)
{
	struct tt *t = *state;
	tt_established(t);
	assert_int_equal(tt_state(t), TCP_STATE_ESTABLISHED);
	assert_int_equal(t->st->ctr.v[DROP_TCP_NOT_OURS], 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, shared_setup, tt_teardown)
int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shared_data_without_connection_dropped),
		T(test_shared_syn_without_listener_dropped),
		T(test_shared_ack_at_listener_dropped),
		T(test_shared_syn_at_listener_connects),
	};
	return cmocka_run_group_tests_name("tcp_shared", tests, NULL, NULL);
}
