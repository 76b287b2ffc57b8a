/* pbuf and the heap pool: headroom, tailroom, exhaustion, reuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "buf.h"

static void test_buf_alloc_sets_headroom(void **state)
{
	(void)state;
	struct pbuf_pool *pool;
	assert_int_equal(pbuf_pool_heap_create(&pool, 2, 2048), 0);
	struct pbuf *p = pbuf_alloc(pool);
	assert_non_null(p);
	assert_ptr_equal(p->data, p->head + PBUF_HEADROOM);
	assert_int_equal(p->len, 0);
	assert_int_equal(pbuf_tailroom(p), 2048 - PBUF_HEADROOM);
	assert_int_equal(pool->in_use, 1);
	pbuf_free(p);
	assert_int_equal(pool->in_use, 0);
	pbuf_pool_heap_destroy(pool);
}

static void test_buf_prepend_append_bounds(void **state)
{
	(void)state;
	struct pbuf_pool *pool;
	assert_int_equal(pbuf_pool_heap_create(&pool, 1, 256), 0);
	struct pbuf *p = pbuf_alloc(pool);
	assert_non_null(pbuf_append(p, 100));
	assert_null(pbuf_append(p, 256 - PBUF_HEADROOM - 100 + 1));
	assert_int_equal(p->len, 100);
	assert_non_null(pbuf_prepend(p, PBUF_HEADROOM));
	assert_null(pbuf_prepend(p, 1));
	assert_int_equal(p->len, 100 + PBUF_HEADROOM);
	pbuf_adj(p, 20);
	assert_int_equal(p->len, 100 + PBUF_HEADROOM - 20);
	pbuf_trim(p, 10);
	assert_int_equal(p->len, 10);
	pbuf_free(p);
	pbuf_pool_heap_destroy(pool);
}

static void test_buf_pool_exhaustion_and_reuse(void **state)
{
	(void)state;
	struct pbuf_pool *pool;
	assert_int_equal(pbuf_pool_heap_create(&pool, 3, 512), 0);
	struct pbuf *a = pbuf_alloc(pool), *b = pbuf_alloc(pool), *c = pbuf_alloc(pool);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_null(pbuf_alloc(pool));
	pbuf_append(b, 50);
	pbuf_free(b);
	struct pbuf *d = pbuf_alloc(pool);
	assert_ptr_equal(d, b);
	assert_int_equal(d->len, 0); /* reset on reuse */
	pbuf_free(a);
	pbuf_free(c);
	pbuf_free(d);
	assert_int_equal(pool->in_use, 0);
	pbuf_pool_heap_destroy(pool);
}

static void test_buf_pool_rejects_bad_sizes(void **state)
{
	(void)state;
	struct pbuf_pool *pool;
	assert_int_equal(pbuf_pool_heap_create(&pool, 0, 2048), -EINVAL);
	assert_int_equal(pbuf_pool_heap_create(&pool, 4, PBUF_HEADROOM), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_alloc_sets_headroom),
		cmocka_unit_test(test_buf_prepend_append_bounds),
		cmocka_unit_test(test_buf_pool_exhaustion_and_reuse),
		cmocka_unit_test(test_buf_pool_rejects_bad_sizes),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
