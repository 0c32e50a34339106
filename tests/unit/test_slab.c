/* tests/unit/test_slab.c: payloads. Every size class and the large heap,
 * handle checks (forged, stale, double free), exhaustion and fallback,
 * ownership, orphans of a dead process, counters, and zero copy between
 * processes. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test.h"

#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)
#define LARGE_PAGE ((size_t)64 << 10)

static zr_arena *g_arena;
static char g_name[64];
static zr_arena_info g_info;

static int setup(void **state)
{
	(void)state;
	g_arena = zr_test_arena((size_t)8 << 20, g_name);
	zr_arena_info_get(g_arena, &g_info);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int rc = zr_arena_close(g_arena);
	if (zr_arena_unlink(g_name) == 0)
		zr_test_forget(g_name);
	return rc;
}

static uint8_t pattern(size_t i, unsigned tag)
{
	return (uint8_t)((i * 131u + tag * 7u + 1u) ^ (i >> 9));
}

static void fill(void *p, size_t n, unsigned tag)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i, tag);
}

static bool intact(const void *p, size_t n, unsigned tag)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pattern(i, tag))
			return false;
	return true;
}

/* Counters: entries 0 .. n-2 are the size classes, n-1 the large heap. */
static size_t slab_stats(const zr_arena *a, zr_slab_class_stats *st)
{
	size_t n = 0;
	zr_slab_stat(a, st, NSTATS, &n);
	assert_true(n >= 2 && n <= NSTATS);
	return n;
}

static void expect_nothing_in_use(void)
{
	zr_slab_cache_flush(g_arena);
	zr_slab_class_stats st[NSTATS];
	size_t n = slab_stats(g_arena, st);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st[i].in_use, 0);
		assert_int_equal(st[i].orphans, 0);
		assert_int_equal(st[i].cached, 0);
	}
}

static zr_payload alloc_ok(size_t size)
{
	zr_payload p = ZR_PAYLOAD_NULL;
	assert_int_equal(zr_payload_alloc(g_arena, size, &p), 0);
	assert_true(p.v != 0);
	return p;
}

static void free_ok(zr_payload p)
{
	assert_int_equal(zr_payload_free(g_arena, p), 0);
}

/* Allocate, check the usable size, write and read the whole payload. */
static zr_payload alloc_checked(size_t size, size_t usable, unsigned tag)
{
	zr_payload p = alloc_ok(size);
	void *ptr = NULL;
	size_t got = 0;
	assert_int_equal(zr_payload_resolve(g_arena, p, &ptr, &got), 0);
	assert_int_equal(got, usable);
	assert_ptr_equal(ptr, zr_payload_ptr(g_arena, p));
	assert_int_equal(zr_payload_owner(g_arena, p), g_info.self);
	fill(ptr, usable, tag);
	return p;
}

/* ---- sizes ------------------------------------------------------------------- */

static void test_sizes(void **state)
{
	(void)state;
	static const size_t sizes[][2] = {
		{1, 64},          {63, 64},         {64, 64},       {65, 128},
		{100, 128},       {1000, 1024},     {4096, 4096},   {4097, 8192},
		{32768, 32768},   {65535, 65536},   {65536, 65536}, {65537, 65537},
		{(size_t)1 << 20, (size_t)1 << 20}, {300001, 300001},
	};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	zr_payload p[N];
	for (unsigned i = 0; i < N; i++)
		p[i] = alloc_checked(sizes[i][0], sizes[i][1], i);
	/* all alive at once: no two overlap */
	for (unsigned i = 0; i < N; i++) {
		assert_true(intact(zr_payload_ptr(g_arena, p[i]), sizes[i][1], i));
		free_ok(p[i]);
		assert_null(zr_payload_ptr(g_arena, p[i]));
	}
	/* the largest payload the arena takes */
	assert_true(g_info.max_payload > ((size_t)1 << 20));
	zr_payload big = alloc_checked(g_info.max_payload, g_info.max_payload, 99);
	assert_true(intact(zr_payload_ptr(g_arena, big), g_info.max_payload, 99));
	free_ok(big);
	expect_nothing_in_use();
}

static void test_stat_layout(void **state)
{
	(void)state;
	zr_slab_class_stats st[NSTATS];
	size_t n = slab_stats(g_arena, st);
	assert_int_equal(n, 12); /* 64 B .. 64 KiB, then the large heap */
	for (size_t i = 0; i + 1 < n; i++) {
		assert_int_equal(st[i].block_size, (uint64_t)64 << i);
		assert_true(st[i].blocks > 0);
		assert_int_equal(st[i].free, st[i].blocks);
	}
	assert_int_equal(st[n - 1].block_size, 0);
	assert_true(st[n - 1].blocks * LARGE_PAGE >= g_info.max_payload);
	zr_payload p[3];
	for (unsigned i = 0; i < 3; i++)
		p[i] = alloc_ok(10);
	slab_stats(g_arena, st);
	assert_int_equal(st[0].in_use, 3);
	assert_true(st[0].high_water >= 3);
	assert_int_equal(st[0].in_use + st[0].cached + st[0].free, st[0].blocks);
	for (unsigned i = 0; i < 3; i++)
		free_ok(p[i]);
	zr_slab_stat(g_arena, st, 5, &n); /* a short array */
	assert_int_equal(n, 5);
	expect_nothing_in_use();
}
