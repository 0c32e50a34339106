/* tests/unit/test_ring.c: the public ring API over both kinds (SPSC, MPMC):
 * capacity, FIFO order, bursts, counters, wrap-around, creation and open
 * errors, read-only attachments, check/dump, and waiting (timeouts, wakes
 * from another thread, zr_ring_wake_all()). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rings/ring_impl.h"
#include "test.h"

static zr_arena *g_arena;
static char g_name[64];

static uint32_t spsc = ZR_RING_SPSC, mpmc = ZR_RING_MPMC;
static uint32_t spin = ZR_WAIT_SPIN, futex = ZR_WAIT_FUTEX, spin_futex = ZR_WAIT_SPIN_FUTEX;

static uint32_t param(void **state)
{
	return *(const uint32_t *)*state;
}

static int group_setup(void **state)
{
	(void)state;
	g_arena = zr_test_arena((size_t)8 << 20, g_name);
	return g_arena ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	return zr_arena_close(g_arena);
}

static zr_ring *new_ring(uint32_t kind, uint32_t cap, uint32_t wait)
{
	zr_ring_config cfg = {kind, cap, wait};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &cfg, &r), 0);
	assert_non_null(r);
	return r;
}

static zr_ring_stats stat_of(const zr_ring *r)
{
	zr_ring_stats s;
	zr_ring_stat(r, &s);
	return s;
}

/* ---- basics -------------------------------------------------------------- */

static void test_create_open_close(void **state)
{
	uint32_t kind = param(state);
	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_ring_config cfg = {kind, 16, ZR_WAIT_SPIN};
	zr_ring *r = NULL, *r2 = NULL;
	assert_int_equal(zr_ring_create(g_arena, name, &cfg, &r), 0);
	assert_int_equal(zr_ring_kind(r), kind);
	assert_int_equal(zr_ring_capacity(r), 16);
	assert_string_equal(zr_ring_name(r), name);
	assert_int_equal(zr_ring_count(r), 0);
	assert_int_equal(zr_ring_free(r), 16);

	assert_int_equal(zr_ring_open(g_arena, name, &r2), 0);
	assert_ptr_not_equal(r, r2);
	assert_int_equal(zr_ring_kind(r2), kind);
	assert_int_equal(zr_ring_capacity(r2), 16);
	assert_string_equal(zr_ring_name(r2), name);
	/* one handle produces, the other consumes: same ring underneath */
	assert_true(zr_ring_enqueue(r, 7));
	assert_int_equal(zr_ring_count(r2), 1);
	uint64_t v = 0;
	assert_true(zr_ring_dequeue(r2, &v));
	assert_int_equal(v, 7);
	zr_ring_close(r2);
	zr_ring_close(r);
	zr_ring_close(NULL);

	/* the ring outlives its handles */
	assert_int_equal(zr_ring_open(g_arena, name, &r), 0);
	assert_int_equal(zr_ring_count(r), 0);
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.enqueued, 1);
	assert_int_equal(s.dequeued, 1);
	zr_ring_close(r);
}

static void fill_drain(uint32_t kind, uint32_t cap)
{
	zr_ring *r = new_ring(kind, cap, ZR_WAIT_SPIN);
	for (uint32_t i = 0; i < cap; i++) {
		assert_int_equal(zr_ring_count(r), i);
		assert_true(zr_ring_enqueue(r, (uint64_t)i * 3 + 1));
	}
	assert_false(zr_ring_enqueue(r, 999));
	assert_int_equal(zr_ring_count(r), cap);
	assert_int_equal(zr_ring_free(r), 0);
	for (uint32_t i = 0; i < cap; i++) {
		uint64_t v = 0;
		assert_true(zr_ring_dequeue(r, &v));
		assert_int_equal(v, (uint64_t)i * 3 + 1);
		assert_int_equal(zr_ring_free(r), i + 1);
	}
	uint64_t v;
	assert_false(zr_ring_dequeue(r, &v));
	assert_int_equal(zr_ring_count(r), 0);
	assert_int_equal(zr_ring_free(r), cap);
	zr_ring_close(r);
}

static void test_fill_drain(void **state)
{
	for (uint32_t cap = 2; cap <= 256; cap *= 4)
		fill_drain(param(state), cap);
}

static void test_burst(void **state)
{
	zr_ring *r = new_ring(param(state), 16, ZR_WAIT_SPIN);
	uint64_t in[32], out[40];
	for (unsigned i = 0; i < 32; i++)
		in[i] = 100 + i;
	assert_int_equal(zr_ring_enqueue_burst(r, in, 0), 0);
	assert_int_equal(zr_ring_enqueue_burst(r, in, 10), 10);
	assert_int_equal(zr_ring_enqueue_burst(r, in + 10, 10), 6); /* partial: 6 left */
	assert_int_equal(zr_ring_count(r), 16);
	assert_int_equal(zr_ring_enqueue_burst(r, in + 16, 4), 0);
	assert_int_equal(zr_ring_dequeue_burst(r, out, 0), 0);
	assert_int_equal(zr_ring_dequeue_burst(r, out, 4), 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(out[i], 100 + i);
	assert_int_equal(zr_ring_enqueue_burst(r, in + 16, 8), 4);
	assert_int_equal(zr_ring_dequeue_burst(r, out, 40), 16);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(out[i], 104 + i);
	assert_int_equal(zr_ring_dequeue_burst(r, out, 40), 0);
	zr_ring_close(r);
}

static void test_stats_exact(void **state)
{
	/* a futex ring with no sleeper: enqueues must not count wakes */
	zr_ring *r = new_ring(param(state), 4, ZR_WAIT_FUTEX);
	uint64_t v, in[6] = {1, 2, 3, 4, 5, 6}, out[6];
	for (uint64_t i = 1; i <= 4; i++)
		assert_true(zr_ring_enqueue(r, i));
	assert_false(zr_ring_enqueue(r, 5)); /* full 1 */
	for (uint64_t i = 1; i <= 4; i++)
		assert_true(zr_ring_dequeue(r, &v));
	assert_false(zr_ring_dequeue(r, &v));		       /* empty 1 */
	assert_int_equal(zr_ring_enqueue_burst(r, in, 6), 4);  /* full 2 */
	assert_int_equal(zr_ring_dequeue_burst(r, out, 6), 4); /* empty 2 */
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.enqueued, 8);
	assert_int_equal(s.dequeued, 8);
	assert_int_equal(s.full, 2);
	assert_int_equal(s.empty, 2);
	assert_int_equal(s.waits, 0);
	assert_int_equal(s.wakes, 0);
	assert_int_equal(s.drops, 0);
	assert_int_equal(s.redelivers, 0);
	assert_int_equal(s.capacity, 4);
	assert_int_equal(s.count, 0);
	assert_int_equal(zr_ring_enqueue_burst(r, in, 3), 3);
	s = stat_of(r);
	assert_int_equal(s.enqueued, 11);
	assert_int_equal(s.dequeued, 8);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.full, 2);
	assert_int_equal(s.wakes, 0);
	zr_ring_close(r);
}

static void test_wraparound(void **state)
{
	enum { cap = 8 };
	const uint64_t total = 100 * cap;
	zr_ring *r = new_ring(param(state), cap, ZR_WAIT_SPIN);
	uint64_t rng = zr_test_seed, next_in = 0, next_out = 0, buf[cap + 1];
	while (next_out < total) {
		unsigned k = (unsigned)(zr_test_rand(&rng) % (cap + 1));
		if (k > total - next_in)
			k = (unsigned)(total - next_in);
		for (unsigned i = 0; i < k; i++)
			buf[i] = next_in + i;
		uint32_t room = zr_ring_free(r);
		unsigned put = zr_ring_enqueue_burst(r, buf, k);
		assert_int_equal(put, k < room ? k : room);
		next_in += put;
		k = (unsigned)(zr_test_rand(&rng) % (cap + 1));
		unsigned got = zr_ring_dequeue_burst(r, buf, k);
		assert_int_equal(got, k < next_in - next_out ? k : next_in - next_out);
		for (unsigned i = 0; i < got; i++)
			assert_int_equal(buf[i], next_out++);
		assert_int_equal(zr_ring_count(r), next_in - next_out);
	}
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.enqueued, total);
	assert_int_equal(s.dequeued, total);
	assert_int_equal(s.count, 0);
	zr_diag d = {0};
	assert_int_equal(zr_ring_check(r, &d), 0);
	zr_ring_close(r);
}

/* ---- creation and open errors -------------------------------------------- */

static void test_create_einval(void **state)
{
	(void)state;
	static const zr_ring_config bad[] = {
		{ZR_RING_MPMC, 0, ZR_WAIT_SPIN},
		{ZR_RING_MPMC, 1, ZR_WAIT_SPIN},
		{ZR_RING_SPSC, 3, ZR_WAIT_SPIN},
		{ZR_RING_MPMC, 1u << 31, ZR_WAIT_SPIN},
		{ZR_RING_SPSC, (1u << 30) + 1, 0},
		{ZR_RING_MPMC, 0xffffffffu, 0},
		{0, 8, ZR_WAIT_SPIN},
		{3, 8, ZR_WAIT_SPIN},
		{ZR_RING_MPMC, 8, ZR_WAIT_SPIN_FUTEX + 1},
		{ZR_RING_SPSC, 8, 99},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		zr_ring *r = NULL;
		assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &bad[i], &r), -EINVAL);
		assert_null(r); /* set on success only */
	}
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), NULL, &r), -EINVAL);
	zr_ring_config ok = {ZR_RING_MPMC, 8, ZR_WAIT_SPIN};
	assert_int_equal(zr_ring_create(g_arena, NULL, &ok, &r), -EINVAL);
	assert_int_equal(zr_ring_create(g_arena, "", &ok, &r), -EINVAL);
	assert_null(r);
	/* a valid capacity that the ring heap cannot hold */
	zr_ring_config huge = {ZR_RING_MPMC, 1u << 30, ZR_WAIT_SPIN};
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &huge, &r), -ENOSPC);
	assert_null(r);
}

static void test_create_eexist_and_names(void **state)
{
	uint32_t kind = param(state);
	char name[64], longest[ZR_NAME_MAX + 2];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_ring_config cfg = {kind, 8, ZR_WAIT_SPIN};
	zr_ring *r = NULL, *r2 = NULL;
	assert_int_equal(zr_ring_create(g_arena, name, &cfg, &r), 0);
	assert_int_equal(zr_ring_create(g_arena, name, &cfg, &r2), -EEXIST);
	cfg.kind = kind == ZR_RING_MPMC ? ZR_RING_SPSC : ZR_RING_MPMC;
	assert_int_equal(zr_ring_create(g_arena, name, &cfg, &r2), -EEXIST);
	assert_null(r2);
	assert_true(zr_ring_enqueue(r, 1)); /* the first one is untouched */
	assert_int_equal(zr_ring_count(r), 1);
	zr_ring_close(r);

	/* ZR_NAME_MAX bytes work, one more is too long */
	memset(longest, 'x', sizeof(longest));
	memcpy(longest, name, strlen(name));
	longest[ZR_NAME_MAX + 1] = '\0';
	assert_int_equal(zr_ring_create(g_arena, longest, &cfg, &r2), -ENAMETOOLONG);
	assert_int_equal(zr_ring_open(g_arena, longest, &r2), -ENAMETOOLONG);
	assert_null(r2);
	longest[ZR_NAME_MAX] = '\0';
	assert_int_equal(zr_ring_create(g_arena, longest, &cfg, &r2), 0);
	assert_string_equal(zr_ring_name(r2), longest);
	zr_ring_close(r2);
	assert_int_equal(zr_ring_open(g_arena, longest, &r2), 0);
	zr_ring_close(r2);
}

/* An arena with a custom configuration; its name is removed at once (the
 * mapping stays until close), so nothing is left in /dev/shm. */
static zr_arena *custom_arena(uint32_t max_rings, size_t ring_bytes)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.max_rings = max_rings;
	cfg.ring_bytes = ring_bytes;
	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create(name, &cfg, &a, &d);
	if (rc)
		print_error("zr_arena_create: %s: %s\n", zr_strerror(rc), d.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	return a;
}

static void test_create_enospc_directory(void **state)
{
	(void)state;
	zr_arena *a = custom_arena(2, 64 << 10);
	zr_ring_config cfg = {ZR_RING_MPMC, 8, ZR_WAIT_SPIN};
	zr_ring *r1 = NULL, *r2 = NULL, *r3 = NULL;
	char first[64];
	snprintf(first, sizeof(first), "%s", zr_test_name());
	assert_int_equal(zr_ring_create(a, first, &cfg, &r1), 0);
	cfg.kind = ZR_RING_SPSC;
	assert_int_equal(zr_ring_create(a, zr_test_name(), &cfg, &r2), 0);
	assert_int_equal(zr_ring_create(a, zr_test_name(), &cfg, &r3), -ENOSPC);
	assert_null(r3);
	assert_int_equal(zr_ring_create(a, first, &cfg, &r3), -EEXIST); /* name checked first */
	zr_inbox_config icfg = {8, ZR_WAIT_SPIN, 0};
	zr_inbox *ib = NULL;
	assert_int_equal(zr_inbox_create(a, zr_test_name(), &icfg, &ib), -ENOSPC);
	assert_null(ib);
	/* the rings made before still work */
	uint64_t v;
	assert_true(zr_ring_enqueue(r1, 5));
	assert_true(zr_ring_dequeue(r1, &v));
	assert_int_equal(v, 5);
	zr_ring_close(r1);
	zr_ring_close(r2);
	assert_int_equal(zr_arena_close(a), 0);
}

static void test_create_enospc_heap(void **state)
{
	(void)state;
	zr_arena *a = custom_arena(64, 16 << 10);
	zr_ring_config big = {ZR_RING_MPMC, 1024, ZR_WAIT_SPIN}; /* 16 KiB of slots + header */
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(a, zr_test_name(), &big, &r), -ENOSPC);
	assert_null(r);
	/* 64-entry MPMC rings take 768 + 64 * 16 = 1792 bytes: 9 fit in 16 KiB */
	zr_ring_config cfg = {ZR_RING_MPMC, 64, ZR_WAIT_SPIN};
	zr_ring *rings[16];
	unsigned n = 0;
	int rc;
	while (n < 16 && (rc = zr_ring_create(a, zr_test_name(), &cfg, &rings[n])) == 0)
		n++;
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(n, (16 << 10) / 1792);
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;
		assert_true(zr_ring_enqueue(rings[i], i));
		assert_true(zr_ring_dequeue(rings[i], &v));
		assert_int_equal(v, i);
		zr_ring_close(rings[i]);
	}
	assert_int_equal(zr_arena_close(a), 0);
}

static void test_open_errors(void **state)
{
	(void)state;
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_open(g_arena, "no-such-ring", &r), -ENOENT);
	assert_null(r);
	/* an inbox is not a ring */
	char name[64];
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_inbox_config icfg = {8, ZR_WAIT_SPIN, 0};
	zr_inbox *ib = NULL;
	assert_int_equal(zr_inbox_create(g_arena, name, &icfg, &ib), 0);
	assert_int_equal(zr_ring_open(g_arena, name, &r), -ENOENT);
	assert_null(r);
	zr_inbox_close(ib);
}

static void expect_same_stats(const zr_ring_stats *a, const zr_ring_stats *b)
{
	assert_int_equal(a->enqueued, b->enqueued);
	assert_int_equal(a->dequeued, b->dequeued);
	assert_int_equal(a->full, b->full);
	assert_int_equal(a->empty, b->empty);
	assert_int_equal(a->waits, b->waits);
	assert_int_equal(a->wakes, b->wakes);
	assert_int_equal(a->drops, b->drops);
	assert_int_equal(a->redelivers, b->redelivers);
	assert_int_equal(a->capacity, b->capacity);
	assert_int_equal(a->count, b->count);
}

static void test_readonly(void **state)
{
	uint32_t kind = param(state);
	zr_arena *ro = NULL;
	assert_int_equal(zr_arena_open(g_name, ZR_ARENA_READONLY, &ro, NULL), 0);
	zr_arena_info info;
	zr_arena_info_get(ro, &info);
	assert_true(info.readonly);
	assert_int_equal(info.self, 0);
	zr_ring_config cfg = {kind, 8, ZR_WAIT_SPIN};
	zr_ring *r = NULL, *rr = NULL;
	assert_int_equal(zr_ring_create(ro, zr_test_name(), &cfg, &r), ZR_EREADONLY);
	assert_null(r);

	r = new_ring(kind, 8, ZR_WAIT_SPIN);
	uint64_t v;
	for (uint64_t i = 0; i < 9; i++)
		(void)zr_ring_enqueue(r, i); /* the ninth is refused: full 1 */
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(zr_ring_open(ro, zr_ring_name(r), &rr), 0);
	zr_ring *none = NULL;
	assert_int_equal(zr_ring_open(ro, "no-such-ring", &none), -ENOENT);
	assert_null(none);
	assert_int_equal(zr_ring_kind(rr), kind);
	assert_int_equal(zr_ring_capacity(rr), 8);
	assert_int_equal(zr_ring_count(rr), 7);
	zr_ring_stats a = stat_of(r), b = stat_of(rr);
	expect_same_stats(&a, &b);
	assert_int_equal(b.enqueued, 8);
	assert_int_equal(b.dequeued, 1);
	assert_int_equal(b.full, 1);
	zr_diag d = {0};
	assert_int_equal(zr_ring_check(rr, &d), 0);
	FILE *f = tmpfile();
	assert_non_null(f);
	zr_ring_dump(f, rr);
	assert_true(ftell(f) > 0);
	fclose(f);
	/* the read-only view follows the writer */
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(zr_ring_count(rr), 6);
	zr_ring_close(rr);
	zr_ring_close(r);
	assert_int_equal(zr_arena_close(ro), 0);
}

/* ---- inspection: peek and list -------------------------------------------- */

/* Peeking through a read-only attachment shows the entries in order, takes
 * nothing, and follows wrap-around. */
static void test_peek(void **state)
{
	uint32_t kind = param(state);
	zr_ring *r = new_ring(kind, 8, ZR_WAIT_SPIN);
	zr_arena *ro = NULL;
	zr_ring *rr = NULL;
	assert_int_equal(zr_arena_open(g_name, ZR_ARENA_READONLY, &ro, NULL), 0);
	assert_int_equal(zr_ring_open(ro, zr_ring_name(r), &rr), 0);
	uint64_t got[16], v;
	assert_int_equal(zr_ring_peek(rr, got, 16), 0);
	for (uint64_t i = 0; i < 6; i++)
		assert_true(zr_ring_enqueue(r, 100 + i));
	for (int i = 0; i < 4; i++)
		assert_true(zr_ring_dequeue(r, &v));
	for (uint64_t i = 6; i < 12; i++) /* wraps: positions 6..11 */
		assert_true(zr_ring_enqueue(r, 100 + i));
	assert_int_equal(zr_ring_peek(rr, got, 16), 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(got[i], 104 + i);
	assert_int_equal(zr_ring_peek(rr, got, 3), 3);
	assert_int_equal(got[2], 106);
	assert_int_equal(zr_ring_count(r), 8); /* nothing was taken */
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 104);
	zr_ring_close(rr);
	zr_ring_close(r);
	assert_int_equal(zr_arena_close(ro), 0);
}

static void test_list(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)2 << 20, name);
	assert_non_null(a);
	zr_ring_config cfg = {ZR_RING_SPSC, 16, ZR_WAIT_SPIN};
	zr_inbox_config icfg = {32, ZR_WAIT_SPIN, 0};
	zr_ring *r = NULL;
	zr_inbox *ib = NULL;
	assert_int_equal(zr_ring_create(a, "one", &cfg, &r), 0);
	assert_int_equal(zr_inbox_create(a, "box", &icfg, &ib), 0);
	zr_arena *ro = NULL;
	assert_int_equal(zr_arena_open(name, ZR_ARENA_READONLY, &ro, NULL), 0);
	size_t n = 99;
	assert_int_equal(zr_ring_list(ro, NULL, 0, &n), 0);
	assert_int_equal(n, 2);
	zr_ring_entry e[2];
	assert_int_equal(zr_ring_list(ro, e, 2, &n), 0);
	assert_string_equal(e[0].name, "one");
	assert_int_equal(e[0].kind, ZR_RING_SPSC);
	assert_int_equal(e[0].capacity, 16);
	assert_false(e[0].inbox);
	assert_string_equal(e[1].name, "box");
	assert_int_equal(e[1].kind, ZR_RING_MPMC);
	assert_int_equal(e[1].capacity, 32);
	assert_true(e[1].inbox);
	assert_true(e[1].offset > e[0].offset);
	zr_ring_close(r);
	zr_inbox_close(ib);
	assert_int_equal(zr_arena_close(ro), 0);
	assert_int_equal(zr_arena_close(a), 0);
}

/* ---- check and dump ------------------------------------------------------- */

static void test_check_and_dump(void **state)
{
	zr_ring *r = new_ring(param(state), 8, ZR_WAIT_SPIN);
	for (uint64_t i = 0; i < 5; i++)
		assert_true(zr_ring_enqueue(r, 0xabc0 + i));
	uint64_t v;
	assert_true(zr_ring_dequeue(r, &v));
	zr_diag d = {0};
	assert_int_equal(zr_ring_check(r, NULL), 0);
	assert_int_equal(zr_ring_check(r, &d), 0);

	FILE *f = tmpfile();
	assert_non_null(f);
	zr_ring_dump(f, r);
	char buf[4096];
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, zr_ring_name(r)));
	assert_non_null(strstr(buf, "capacity 8"));
	assert_non_null(strstr(buf, "enqueued 5"));
	assert_non_null(strstr(buf, "dequeued 1"));

	/* indices more than a lap apart are reported */
	struct zri_ring *h = r->hdr;
	uint64_t tail = atomic_load(&h->a_tail);
	atomic_store(&h->a_tail, tail + 3 * 8);
	assert_int_equal(zr_ring_check(r, &d), ZR_ECORRUPT);
	assert_int_equal(d.code, ZR_ECORRUPT);
	assert_non_null(strstr(d.msg, zr_ring_name(r)));
	atomic_store(&h->a_tail, tail);
	assert_int_equal(zr_ring_check(r, NULL), 0);
	zr_ring_close(r);
}

static void test_receipt(void **state)
{
	zr_ring *r = new_ring(param(state), 4, ZR_WAIT_SPIN);
	/* the receipt may live in shared memory: here in a payload */
	zr_payload p;
	assert_int_equal(zr_payload_alloc(g_arena, sizeof(uint64_t), &p), 0);
	uint64_t *receipt = zr_payload_ptr(g_arena, p);
	assert_non_null(receipt);
	*receipt = 0;
	assert_true(zr_ring_enqueue(r, 0x5eed));
	assert_true(zr_ring_dequeue(r, receipt));
	assert_int_equal(*receipt, 0x5eed);
	uint64_t in[3] = {1, 2, 3}, out[3] = {0, 0, 0};
	assert_int_equal(zr_ring_enqueue_burst(r, in, 3), 3);
	assert_int_equal(zr_ring_dequeue_burst(r, out, 3), 3);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(zr_payload_free(g_arena, p), 0);
	zr_ring_close(r);
}

/* ---- waiting --------------------------------------------------------------- */

static void test_wait_timeout(void **state)
{
	uint32_t mode = param(state);
	for (uint32_t kind = ZR_RING_SPSC; kind <= ZR_RING_MPMC; kind++) {
		zr_ring *r = new_ring(kind, 8, mode);
		uint64_t v = 0, t0 = zr_test_now_ns();
		assert_int_equal(zr_ring_dequeue_wait(r, &v, 1000000), -ETIMEDOUT);
		uint64_t took = zr_test_now_ns() - t0;
		assert_true(took >= 1000000);
		assert_true(took < 1000000000);
		zr_ring_stats s = stat_of(r);
		if (mode == ZR_WAIT_SPIN)
			assert_int_equal(s.waits, 0);
		else
			assert_true(s.waits >= 1); /* it slept on the futex */
		/* timeout 0 polls once and never sleeps */
		assert_int_equal(zr_ring_dequeue_wait(r, &v, 0), -ETIMEDOUT);
		assert_int_equal(stat_of(r).waits, s.waits);
		assert_true(zr_ring_enqueue(r, 42));
		assert_int_equal(zr_ring_dequeue_wait(r, &v, 0), 0);
		assert_int_equal(v, 42);
		assert_true(zr_ring_enqueue(r, 43));
		assert_int_equal(zr_ring_dequeue_wait(r, &v, -1), 0);
		assert_int_equal(v, 43);
		assert_int_equal(stat_of(r).waits, s.waits);
		assert_int_equal(stat_of(r).wakes, 0); /* nobody slept during those */
		zr_ring_close(r);
	}
}

struct waiter {
	zr_ring *r;
	int64_t timeout_ns;
	int rc;
	uint64_t v;
	uint64_t done_ns;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	w->rc = zr_ring_dequeue_wait(w->r, &w->v, w->timeout_ns);
	w->done_ns = zr_test_now_ns();
	return NULL;
}

/* Wait until the ring counts a sleep beyond `before` (at most 2 s). */
static bool sleeper_seen(const zr_ring *r, uint64_t before)
{
	for (int i = 0; i < 20000; i++) {
		if (stat_of(r).waits > before)
			return true;
		zr_test_sleep_ns(100000);
	}
	return false;
}

static void wake_one(uint32_t kind, uint32_t mode)
{
	zr_ring *r = new_ring(kind, 8, mode);
	uint64_t v;
	assert_true(zr_ring_enqueue(r, 1)); /* no sleeper: no wake */
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(stat_of(r).wakes, 0);

	struct waiter w = {r, (int64_t)5000000000, 1, 0, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
	if (mode == ZR_WAIT_SPIN)
		zr_test_sleep_ns(2000000);
	else
		assert_true(sleeper_seen(r, 0));
	uint64_t t0 = zr_test_now_ns();
	assert_true(zr_ring_enqueue(r, 77));
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.v, 77);
	assert_true(w.done_ns - t0 < 1000000000);
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.wakes, mode == ZR_WAIT_SPIN ? 0 : 1);
	if (mode == ZR_WAIT_SPIN)
		assert_int_equal(s.waits, 0);
	/* the sleeper is gone: the next enqueue makes no wake call */
	assert_true(zr_ring_enqueue(r, 78));
	assert_int_equal(stat_of(r).wakes, s.wakes);
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 78);
	zr_ring_close(r);
}

static void test_wait_wake_thread(void **state)
{
	wake_one(ZR_RING_MPMC, param(state));
	wake_one(ZR_RING_SPSC, param(state));
}

/* zr_ring_wake_all() wakes every sleeper "e.g. to make them check a stop
 * flag" (ring.h): the sleeper must come back from zr_ring_dequeue_wait()
 * well before its own timeout, without an entry. */
static void test_wake_all(void **state)
{
	uint32_t mode = param(state);
	zr_ring *r = new_ring(ZR_RING_MPMC, 8, mode);
	zr_ring_wake_all(r); /* nobody sleeps: harmless */
	struct waiter w = {r, (int64_t)1500000000, 1, 0, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, waiter_main, &w), 0);
	bool slept = sleeper_seen(r, 0);
	uint64_t t0 = zr_test_now_ns();
	zr_ring_wake_all(r);
	assert_int_equal(pthread_join(th, NULL), 0);
	uint64_t took = w.done_ns - t0, wakes = stat_of(r).wakes, v = 0;
	/* the ring still works */
	bool works = zr_ring_enqueue(r, 9) && zr_ring_dequeue_wait(r, &v, 0) == 0 && v == 9;
	zr_ring_close(r);
	assert_true(slept);
	if (took >= 750000000)
		print_error("sleeper returned %d %.3f s after zr_ring_wake_all(), "
			    "its timeout was 1.5 s\n",
			    w.rc, (double)took / 1e9);
	assert_true(took < 750000000);
	assert_int_equal(w.rc, -ECANCELED); /* ring.h: a kicked sleeper says so */
	assert_int_equal(wakes, 0);	    /* not a producer's wake */
	assert_true(works);
}

/* One case per parameter, named test/param so that failures say which. */
/* clang-format off */
#define CASE(f, p) {#f "/" #p, f, NULL, NULL, &p}
/* clang-format on */
#define BOTH(f) CASE(f, spsc), CASE(f, mpmc)
#define MODES(f) CASE(f, spin), CASE(f, futex), CASE(f, spin_futex)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		BOTH(test_create_open_close),
		BOTH(test_fill_drain),
		BOTH(test_burst),
		BOTH(test_stats_exact),
		BOTH(test_wraparound),
		cmocka_unit_test(test_create_einval),
		BOTH(test_create_eexist_and_names),
		cmocka_unit_test(test_create_enospc_directory),
		cmocka_unit_test(test_create_enospc_heap),
		cmocka_unit_test(test_open_errors),
		BOTH(test_readonly),
		BOTH(test_check_and_dump),
		BOTH(test_peek),
		cmocka_unit_test(test_list),
		BOTH(test_receipt),
		MODES(test_wait_timeout),
		MODES(test_wait_wake_thread),
		CASE(test_wake_all, futex),
		CASE(test_wake_all, spin_futex),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
