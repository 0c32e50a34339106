/* tests/unit/test_inbox.c: the priority inbox (four MPMC rings): creation
 * and open errors, strict priority with FIFO inside a level, per-level
 * fullness, the level rings, `share` against starvation, and waiting. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rings/inbox_impl.h"
#include "test.h"

static zr_arena *g_arena;
static char g_name[64];

static uint32_t spin = ZR_WAIT_SPIN, futex = ZR_WAIT_FUTEX, spin_futex = ZR_WAIT_SPIN_FUTEX;

static int group_setup(void **state)
{
	(void)state;
	g_arena = zr_test_arena((size_t)4 << 20, g_name);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return zr_arena_close(g_arena);
}

static zr_inbox *new_inbox_as(const char *name, uint32_t cap, uint32_t wait, uint32_t share)
{
	zr_inbox_config cfg = {cap, wait, share};
	zr_inbox *ib = NULL;
	assert_int_equal(zr_inbox_create(g_arena, name, &cfg, &ib), 0);
	assert_non_null(ib);
	return ib;
}

static zr_inbox *new_inbox(uint32_t cap, uint32_t wait, uint32_t share)
{
	return new_inbox_as(zr_test_name(), cap, wait, share);
}

static void test_create_open_close(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_inbox_config cfg = {16, ZR_WAIT_SPIN, 0};
	zr_inbox *ib = NULL, *ib2 = NULL;
	assert_int_equal(zr_inbox_create(g_arena, name, &cfg, &ib), 0);
	assert_int_equal(zr_inbox_count(ib), 0);
	assert_int_equal(zr_inbox_open(g_arena, name, &ib2), 0);
	assert_ptr_not_equal(ib, ib2);
	assert_true(zr_inbox_push(ib, ZR_PRIO_HIGH, 5));
	assert_int_equal(zr_inbox_count(ib2), 1);
	uint64_t v = 0;
	unsigned prio = 99;
	assert_true(zr_inbox_pop(ib2, &v, &prio));
	assert_int_equal(v, 5);
	assert_int_equal(prio, ZR_PRIO_HIGH);
	zr_inbox_close(ib2);
	zr_inbox_close(ib);
	zr_inbox_close(NULL);
	/* the inbox outlives its handles */
	assert_int_equal(zr_inbox_open(g_arena, name, &ib), 0);
	assert_true(zr_inbox_push(ib, ZR_PRIO_LOW, 6));
	assert_true(zr_inbox_pop(ib, &v, NULL));
	assert_int_equal(v, 6);
	zr_inbox_close(ib);
}

static void test_create_errors(void **state)
{
	(void)state;
	static const zr_inbox_config bad[] = {
		{0, ZR_WAIT_SPIN, 0}, {1, ZR_WAIT_SPIN, 0},	      {3, ZR_WAIT_SPIN, 0},
		{1u << 31, 0, 0},     {8, ZR_WAIT_SPIN_FUTEX + 1, 0}, {8, 99, 4},
	};
	zr_inbox *ib = NULL;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(zr_inbox_create(g_arena, zr_test_name(), &bad[i], &ib), -EINVAL);
	assert_int_equal(zr_inbox_create(g_arena, zr_test_name(), NULL, &ib), -EINVAL);
	zr_inbox_config cfg = {8, ZR_WAIT_SPIN, 0};
	assert_int_equal(zr_inbox_create(g_arena, NULL, &cfg, &ib), -EINVAL);
	assert_int_equal(zr_inbox_create(g_arena, "", &cfg, &ib), -EINVAL);
	assert_null(ib);

	char name[64], longest[ZR_NAME_MAX + 2];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	assert_int_equal(zr_inbox_create(g_arena, name, &cfg, &ib), 0);
	zr_inbox *ib2 = NULL;
	assert_int_equal(zr_inbox_create(g_arena, name, &cfg, &ib2), -EEXIST);
	zr_ring_config rcfg = {ZR_RING_MPMC, 8, ZR_WAIT_SPIN};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(g_arena, name, &rcfg, &r), -EEXIST);
	assert_null(r);
	assert_null(ib2);
	zr_inbox_close(ib);

	memset(longest, 'y', sizeof(longest));
	memcpy(longest, name, strlen(name));
	longest[ZR_NAME_MAX + 1] = '\0';
	assert_int_equal(zr_inbox_create(g_arena, longest, &cfg, &ib), -ENAMETOOLONG);
	assert_int_equal(zr_inbox_open(g_arena, longest, &ib), -ENAMETOOLONG);
	longest[ZR_NAME_MAX] = '\0';
	assert_int_equal(zr_inbox_create(g_arena, longest, &cfg, &ib), 0);
	zr_inbox_close(ib);
	assert_int_equal(zr_inbox_open(g_arena, longest, &ib), 0);
	zr_inbox_close(ib);
}

static void test_open_errors_and_readonly(void **state)
{
	(void)state;
	zr_inbox *ib = NULL;
	assert_int_equal(zr_inbox_open(g_arena, "no-such-inbox", &ib), -ENOENT);
	zr_ring *r = NULL;
	zr_ring_config rcfg = {ZR_RING_MPMC, 8, ZR_WAIT_SPIN};
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &rcfg, &r), 0);
	assert_int_equal(zr_inbox_open(g_arena, zr_ring_name(r), &ib), -ENOENT); /* a ring */
	assert_null(ib);
	zr_ring_close(r);

	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_inbox *w = new_inbox_as(name, 8, ZR_WAIT_SPIN, 0);
	assert_true(zr_inbox_push(w, ZR_PRIO_NORMAL, 1));
	assert_true(zr_inbox_push(w, ZR_PRIO_LOW, 2));
	zr_arena *ro = NULL;
	assert_int_equal(zr_arena_open(g_name, ZR_ARENA_READONLY, &ro, NULL), 0);
	zr_inbox_config cfg = {8, ZR_WAIT_SPIN, 0};
	assert_int_equal(zr_inbox_create(ro, zr_test_name(), &cfg, &ib), ZR_EREADONLY);
	/* the level rings have names but no directory entries of their own */
	assert_int_equal(zr_inbox_open(ro, zr_ring_name(zr_inbox_level(w, 0)), &ib), -ENOENT);
	assert_int_equal(zr_ring_open(ro, zr_ring_name(zr_inbox_level(w, 0)), &r), -ENOENT);
	assert_int_equal(zr_inbox_open(ro, name, &ib), 0);
	assert_int_equal(zr_inbox_count(ib), 2);
	zr_ring_stats s;
	zr_ring_stat(zr_inbox_level(ib, ZR_PRIO_LOW), &s);
	assert_int_equal(s.enqueued, 1);
	zr_inbox_close(ib);
	zr_inbox_close(w);
	assert_int_equal(zr_arena_close(ro), 0);
}

static void test_enospc(void **state)
{
	(void)state;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.max_rings = 1;
	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_arena *a = NULL;
	assert_int_equal(zr_arena_create(name, &cfg, &a, NULL), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	zr_inbox_config icfg = {8, ZR_WAIT_SPIN, 0};
	zr_inbox *ib = NULL, *ib2 = NULL;
	/* heap: four levels of 2^20 entries do not fit in 128 KiB */
	zr_inbox_config huge = {1u << 20, ZR_WAIT_SPIN, 0};
	assert_int_equal(zr_inbox_create(a, zr_test_name(), &huge, &ib), -ENOSPC);
	/* directory: one entry only */
	assert_int_equal(zr_inbox_create(a, zr_test_name(), &icfg, &ib), 0);
	assert_int_equal(zr_inbox_create(a, zr_test_name(), &icfg, &ib2), -ENOSPC);
	assert_null(ib2);
	assert_true(zr_inbox_push(ib, ZR_PRIO_LOW, 1));
	zr_inbox_close(ib);
	assert_int_equal(zr_arena_close(a), 0);
}

/* ---- priority ---------------------------------------------------------------- */

static void test_strict_priority(void **state)
{
	(void)state;
	zr_inbox *ib = new_inbox(8, ZR_WAIT_SPIN, 0);
	static const struct {
		unsigned prio;
		uint64_t v;
	} in[] = {
		{ZR_PRIO_LOW, 1},  {ZR_PRIO_CRITICAL, 2}, {ZR_PRIO_NORMAL, 3},
		{ZR_PRIO_HIGH, 4}, {ZR_PRIO_LOW, 5},	  {ZR_PRIO_CRITICAL, 6},
		{ZR_PRIO_HIGH, 7}, {ZR_PRIO_NORMAL, 8},	  {ZR_PRIO_NORMAL, 9},
		{ZR_PRIO_LOW, 10},
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		assert_true(zr_inbox_push(ib, in[i].prio, in[i].v));
	assert_int_equal(zr_inbox_count(ib), 10);
	static const struct {
		unsigned prio;
		uint64_t v;
	} want[] = {
		{ZR_PRIO_CRITICAL, 2}, {ZR_PRIO_CRITICAL, 6}, {ZR_PRIO_HIGH, 4},
		{ZR_PRIO_HIGH, 7},     {ZR_PRIO_NORMAL, 3},   {ZR_PRIO_NORMAL, 8},
		{ZR_PRIO_NORMAL, 9},   {ZR_PRIO_LOW, 1},      {ZR_PRIO_LOW, 5},
		{ZR_PRIO_LOW, 10},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t v = 0;
		unsigned prio = 99;
		assert_true(zr_inbox_pop(ib, &v, &prio));
		assert_int_equal(v, want[i].v);
		assert_int_equal(prio, want[i].prio);
	}
	uint64_t v;
	assert_false(zr_inbox_pop(ib, &v, NULL));
	assert_int_equal(zr_inbox_count(ib), 0);
	/* a higher level pushed later still comes first */
	assert_true(zr_inbox_push(ib, ZR_PRIO_LOW, 20));
	assert_true(zr_inbox_push(ib, ZR_PRIO_HIGH, 21));
	assert_true(zr_inbox_pop(ib, &v, NULL));
	assert_int_equal(v, 21);
	assert_true(zr_inbox_pop(ib, &v, NULL));
	assert_int_equal(v, 20);
	zr_inbox_close(ib);
}

static void test_bad_prio_and_fullness(void **state)
{
	(void)state;
	zr_inbox *ib = new_inbox(4, ZR_WAIT_SPIN, 0);
	assert_false(zr_inbox_push(ib, ZR_PRIO_COUNT, 1));
	assert_false(zr_inbox_push(ib, 100, 1));
	assert_false(zr_inbox_push(ib, ~0u, 1));
	assert_int_equal(zr_inbox_count(ib), 0);
	for (uint64_t i = 0; i < 4; i++)
		assert_true(zr_inbox_push(ib, ZR_PRIO_LOW, i));
	assert_false(zr_inbox_push(ib, ZR_PRIO_LOW, 4));	  /* that level is full ... */
	for (unsigned p = ZR_PRIO_CRITICAL; p < ZR_PRIO_LOW; p++) /* ... the others are not */
		for (uint64_t i = 0; i < 4; i++)
			assert_true(zr_inbox_push(ib, p, 10 * p + i));
	assert_int_equal(zr_inbox_count(ib), 16);
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
		assert_false(zr_inbox_push(ib, p, 99));
		zr_ring *lvl = zr_inbox_level(ib, p);
		assert_non_null(lvl);
		assert_int_equal(zr_ring_kind(lvl), ZR_RING_MPMC);
		assert_int_equal(zr_ring_capacity(lvl), 4);
		assert_int_equal(zr_ring_count(lvl), 4);
		zr_ring_stats s;
		zr_ring_stat(lvl, &s);
		assert_int_equal(s.enqueued, 4);
		assert_int_equal(s.full, p == ZR_PRIO_LOW ? 2 : 1);
	}
	assert_null(zr_inbox_level(ib, ZR_PRIO_COUNT));
	assert_null(zr_inbox_level(ib, 1000));
	/* one pop frees room in the critical level only */
	uint64_t v;
	unsigned prio;
	assert_true(zr_inbox_pop(ib, &v, &prio));
	assert_int_equal(prio, ZR_PRIO_CRITICAL);
	assert_int_equal(zr_inbox_count(ib), 15);
	assert_false(zr_inbox_push(ib, ZR_PRIO_LOW, 99));
	assert_true(zr_inbox_push(ib, ZR_PRIO_CRITICAL, 99));
	/* a level ring is a plain ring: popping through it works too */
	assert_true(zr_ring_dequeue(zr_inbox_level(ib, ZR_PRIO_LOW), &v));
	assert_int_equal(v, 0);
	assert_int_equal(zr_inbox_count(ib), 15);
	zr_inbox_close(ib);
}

/* Pop n times with every level kept non-empty; count pops per level. */
static void pops_per_level(zr_inbox *ib, unsigned n, unsigned count[ZR_PRIO_COUNT])
{
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
		count[p] = 0;
		for (uint64_t i = 0; i < 4; i++)
			assert_true(zr_inbox_push(ib, p, 1000 * p + i));
	}
	uint64_t next[ZR_PRIO_COUNT] = {4, 4, 4, 4}, seen[ZR_PRIO_COUNT] = {0, 0, 0, 0};
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;
		unsigned p = 99;
		assert_true(zr_inbox_pop(ib, &v, &p));
		assert_true(p < ZR_PRIO_COUNT);
		assert_int_equal(v, 1000 * p + seen[p]++); /* FIFO within the level */
		count[p]++;
		assert_true(zr_inbox_push(ib, p, 1000 * p + next[p]++));
	}
	uint64_t v;
	while (zr_inbox_pop(ib, &v, NULL))
		;
}

static void test_share(void **state)
{
	(void)state;
	unsigned c[ZR_PRIO_COUNT];
	zr_inbox *strict = new_inbox(8, ZR_WAIT_SPIN, 0);
	pops_per_level(strict, 400, c);
	assert_int_equal(c[ZR_PRIO_CRITICAL], 400);
	zr_inbox_close(strict);

	zr_inbox *one = new_inbox(8, ZR_WAIT_SPIN, 1); /* 1 is strict too */
	pops_per_level(one, 400, c);
	assert_int_equal(c[ZR_PRIO_CRITICAL], 400);
	zr_inbox_close(one);

	zr_inbox *shared = new_inbox(8, ZR_WAIT_SPIN, 4);
	pops_per_level(shared, 400, c);
	print_message("share 4, 400 pops: critical %u high %u normal %u low %u\n", c[0], c[1], c[2],
		      c[3]);
	assert_int_equal(c[0] + c[1] + c[2] + c[3], 400);
	for (unsigned p = ZR_PRIO_HIGH; p < ZR_PRIO_COUNT; p++) {
		assert_true(c[p] > 0);			 /* no level starves */
		assert_true(c[ZR_PRIO_CRITICAL] > c[p]); /* critical still gets the most */
	}
	assert_true(c[ZR_PRIO_CRITICAL] >= 400 * 3 / 4 - 4);
	assert_true(c[ZR_PRIO_LOW] >= 400 / 4 / 3 - 4);
	zr_inbox_close(shared);
}

/* ---- waiting ----------------------------------------------------------------- */

static uint32_t param(void **state)
{
	return *(const uint32_t *)*state;
}

static void test_pop_wait_timeout(void **state)
{
	uint32_t mode = param(state);
	zr_inbox *ib = new_inbox(8, mode, 0);
	uint64_t v = 0, t0 = zr_test_now_ns();
	unsigned prio = 99;
	assert_int_equal(zr_inbox_pop_wait(ib, &v, &prio, 1000000), -ETIMEDOUT);
	uint64_t took = zr_test_now_ns() - t0;
	assert_true(took >= 1000000 && took < 1000000000);
	uint64_t waits = atomic_load(&ib->hdr->a_waits);
	assert_int_equal(waits > 0, mode != ZR_WAIT_SPIN);
	assert_int_equal(zr_inbox_pop_wait(ib, &v, &prio, 0), -ETIMEDOUT); /* polls */
	assert_true(zr_inbox_push(ib, ZR_PRIO_NORMAL, 3));
	assert_true(zr_inbox_push(ib, ZR_PRIO_HIGH, 4));
	assert_int_equal(zr_inbox_pop_wait(ib, &v, &prio, 0), 0);
	assert_int_equal(v, 4);
	assert_int_equal(prio, ZR_PRIO_HIGH);
	assert_int_equal(zr_inbox_pop_wait(ib, &v, NULL, -1), 0);
	assert_int_equal(v, 3);
	assert_int_equal(atomic_load(&ib->hdr->a_waits), waits);
	assert_int_equal(atomic_load(&ib->hdr->a_wakes), 0); /* nobody slept */
	zr_inbox_close(ib);
}

struct popper {
	zr_inbox *ib;
	int rc;
	uint64_t v;
	unsigned prio;
};

static void *popper_main(void *arg)
{
	struct popper *p = arg;
	p->rc = zr_inbox_pop_wait(p->ib, &p->v, &p->prio, (int64_t)5000000000);
	return NULL;
}

static void test_pop_wait_wake(void **state)
{
	uint32_t mode = param(state);
	zr_inbox *ib = new_inbox(8, mode, 0);
	struct popper p = {ib, 1, 0, 99};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, popper_main, &p), 0);
	if (mode == ZR_WAIT_SPIN) {
		zr_test_sleep_ns(2000000);
	} else {
		for (int i = 0; i < 20000 && atomic_load(&ib->hdr->a_waits) == 0; i++)
			zr_test_sleep_ns(100000);
		assert_true(atomic_load(&ib->hdr->a_waits) > 0);
	}
	assert_true(zr_inbox_push(ib, ZR_PRIO_LOW, 66)); /* any level wakes the inbox */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.v, 66);
	assert_int_equal(p.prio, ZR_PRIO_LOW);
	uint64_t wakes = atomic_load(&ib->hdr->a_wakes);
	assert_int_equal(wakes, mode == ZR_WAIT_SPIN ? 0 : 1);
	assert_true(zr_inbox_push(ib, ZR_PRIO_CRITICAL, 67)); /* no sleeper: no wake */
	assert_int_equal(atomic_load(&ib->hdr->a_wakes), wakes);
	uint64_t v;
	assert_true(zr_inbox_pop(ib, &v, NULL));
	zr_inbox_close(ib);
}

/* zr_inbox_wake_all() makes a sleeper return -ECANCELED, at once; a level
 * ring's zr_ring_dequeue_wait() sleeps on the inbox and is woken by a push. */
static void test_wake_all_and_level_wait(void **state)
{
	(void)state;
	zr_inbox *ib = new_inbox(8, ZR_WAIT_FUTEX, 0);
	zr_inbox_wake_all(ib); /* nobody sleeps: harmless */
	struct popper p = {ib, 1, 0, 99};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, popper_main, &p), 0);
	for (int i = 0; i < 20000 && atomic_load(&ib->hdr->a_waits) == 0; i++)
		zr_test_sleep_ns(100000);
	assert_true(atomic_load(&ib->hdr->a_waits) > 0);
	zr_inbox_wake_all(ib);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(p.rc, -ECANCELED);
	assert_int_equal(atomic_load(&ib->hdr->a_wakes), 0); /* not a producer's wake */
	/* a level ring's wait is woken by a push to that level */
	zr_ring *low = zr_inbox_level(ib, ZR_PRIO_LOW);
	uint64_t waits = atomic_load(&ib->hdr->a_waits);
	assert_true(zr_ring_enqueue(low, 5)); /* through the level itself */
	uint64_t v = 0;
	assert_int_equal(zr_inbox_pop_wait(ib, &v, NULL, 1000000000), 0);
	assert_int_equal(v, 5);
	assert_int_equal(zr_ring_dequeue_wait(low, &v, 1000000), -ETIMEDOUT);
	assert_true(atomic_load(&ib->hdr->a_waits) > waits); /* it slept on the inbox */
	zr_inbox_close(ib);
}

/* clang-format off */
#define CASE(f, p) {#f "/" #p, f, NULL, NULL, &p}
/* clang-format on */
#define MODES(f) CASE(f, spin), CASE(f, futex), CASE(f, spin_futex)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_open_close),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_open_errors_and_readonly),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_strict_priority),
		cmocka_unit_test(test_bad_prio_and_fullness),
		cmocka_unit_test(test_share),
		MODES(test_pop_wait_timeout),
		MODES(test_pop_wait_wake),
		cmocka_unit_test(test_wake_all_and_level_wait),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
