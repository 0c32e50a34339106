/* A broken invariant found while working poisons the arena: the call that
 * found it fails (or steps around it), and later opens refuse the arena
 * with ZR_EPOISONED and a message that says what was found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/arena_impl.h"
#include "test.h"

static void expect_poisoned(const char *name, const char *reason)
{
	zr_arena *b = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_arena_open(name, 0, &b, &d), ZR_EPOISONED);
	assert_null(b);
	if (!strstr(d.msg, reason))
		fail_msg("message \"%s\" does not say \"%s\"", d.msg, reason);
}

static void test_free_queue_entry_out_of_class(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	struct zr_ring *fr = &a->classes[0].free_ring;
	struct zri_slot *head = (struct zri_slot *)fr->slots; /* position 0 */
	atomic_store(&head->a_value, (uint64_t)0xffffff);     /* no such block */
	zr_payload p;
	assert_int_equal(zr_payload_alloc(a, 64, &p), 0); /* the next entries serve */
	assert_int_equal(zr_payload_free(a, p), 0);
	expect_poisoned(name, "free queue");
	assert_int_equal(zr_arena_close(a), 0);
}

static void test_ring_entry_outside_heap(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	zr_ring *r = NULL;
	zr_ring_config cfg = {ZR_RING_MPMC, 8, ZR_WAIT_SPIN};
	assert_int_equal(zr_ring_create(a, "r", &cfg, &r), 0);
	zr_ring_close(r);
	a->dirents[0].offset = a->size + 4096; /* scribbled by a buggy peer */
	assert_int_equal(zr_ring_open(a, "r", &r), ZR_ECORRUPT);
	expect_poisoned(name, "ring directory");
	assert_int_equal(zr_arena_close(a), 0);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_queue_entry_out_of_class),
		cmocka_unit_test(test_ring_entry_outside_heap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
