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

#include "runtime/arena_impl.h"
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
		{1, 64},
		{63, 64},
		{64, 64},
		{65, 128},
		{100, 128},
		{1000, 1024},
		{4096, 4096},
		{4097, 8192},
		{32768, 32768},
		{65535, 65536},
		{65536, 65536},
		{65537, 65537},
		{(size_t)1 << 20, (size_t)1 << 20},
		{300001, 300001},
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

/* ---- bad handles ------------------------------------------------------------ */

static void expect_handle_rc(zr_payload p, int rc)
{
	void *ptr = (void *)&ptr;
	size_t size = 0;
	assert_int_equal(zr_payload_resolve(g_arena, p, &ptr, &size), rc);
	assert_null(zr_payload_ptr(g_arena, p));
	assert_int_equal(zr_payload_owner(g_arena, p), rc);
	assert_int_equal(zr_payload_disown(g_arena, p), rc);
	assert_int_equal(zr_payload_adopt(g_arena, p), rc);
	assert_int_equal(zr_payload_free(g_arena, p), rc);
}

static void test_bad_sizes_and_handles(void **state)
{
	(void)state;
	zr_payload p = ZR_PAYLOAD_NULL;
	assert_int_equal(zr_payload_alloc(g_arena, 0, &p), -EINVAL);
	assert_int_equal(zr_payload_alloc(g_arena, g_info.max_payload + 1, &p), ZR_ETOOBIG);
	assert_int_equal(zr_payload_alloc(g_arena, SIZE_MAX, &p), ZR_ETOOBIG);
	assert_int_equal(p.v, 0);
	expect_handle_rc(ZR_PAYLOAD_NULL, -EINVAL);
	expect_handle_rc((zr_payload){12345}, -EINVAL);	     /* offset in the ring heap */
	expect_handle_rc((zr_payload){UINT64_MAX}, -EINVAL); /* past the end */
	/* the middle of a 128-byte block, one 64-byte unit in */
	zr_payload q = alloc_checked(100, 128, 1);
	expect_handle_rc((zr_payload){q.v + 1}, -EINVAL);
	/* the right block with another generation */
	expect_handle_rc((zr_payload){q.v + ((uint64_t)5 << 40)}, ZR_ESTALE);
	zr_payload l = alloc_checked(100000, 100000, 2);
	expect_handle_rc((zr_payload){l.v + 1}, -EINVAL); /* inside the run */
	expect_handle_rc((zr_payload){l.v + ((uint64_t)5 << 40)}, ZR_ESTALE);
	assert_true(intact(zr_payload_ptr(g_arena, q), 128, 1));
	assert_true(intact(zr_payload_ptr(g_arena, l), 100000, 2));
	free_ok(q);
	free_ok(l);
	expect_nothing_in_use();
}

static void test_double_free(void **state)
{
	(void)state;
	zr_payload s = alloc_ok(100), l = alloc_ok(200000);
	free_ok(s);
	free_ok(l);
	expect_handle_rc(s, ZR_EDOUBLEFREE); /* in this thread's cache */
	expect_handle_rc(l, ZR_EDOUBLEFREE);
	zr_slab_cache_flush(g_arena);
	expect_handle_rc(s, ZR_EDOUBLEFREE); /* back in the shared free queue */
	expect_nothing_in_use();
}

/* Allocate `size` until the block of `old` comes back (the shared free
 * queue is FIFO: up to a whole class); the others are freed. */
static zr_payload realloc_same_block(zr_payload old, size_t size)
{
	enum { MAX = 4096 };
	static zr_payload keep[MAX];
	const uint64_t off_mask = (UINT64_C(1) << 40) - 1;
	zr_payload p = ZR_PAYLOAD_NULL;
	unsigned n = 0;
	for (; n < MAX; n++) {
		p = alloc_ok(size);
		if ((p.v & off_mask) == (old.v & off_mask))
			break;
		keep[n] = p;
	}
	assert_true(n < MAX);
	for (unsigned i = 0; i < n; i++)
		free_ok(keep[i]);
	assert_true(p.v != old.v);
	return p;
}

static void stale_case(size_t size, size_t usable)
{
	zr_payload p1 = alloc_checked(size, usable, 1);
	free_ok(p1);
	zr_payload p2 = realloc_same_block(p1, size);
	void *ptr = NULL;
	assert_int_equal(zr_payload_resolve(g_arena, p2, &ptr, NULL), 0);
	fill(ptr, usable, 2);
	expect_handle_rc(p1, ZR_ESTALE);
	/* the new owner's payload was not touched by any of those */
	assert_true(intact(zr_payload_ptr(g_arena, p2), usable, 2));
	free_ok(p2);
	expect_handle_rc(p1, ZR_ESTALE);
	expect_handle_rc(p2, ZR_EDOUBLEFREE);
}

static void test_stale(void **state)
{
	(void)state;
	stale_case(200, 256);
	stale_case(150000, 150000);
	/* and through the shared queue: flush, then take it again */
	zr_payload p1 = alloc_ok(64);
	free_ok(p1);
	zr_slab_cache_flush(g_arena);
	zr_payload p2 = realloc_same_block(p1, 64);
	assert_int_equal(zr_payload_resolve(g_arena, p1, NULL, NULL), ZR_ESTALE);
	free_ok(p2);
	expect_nothing_in_use();
}

/* ---- exhaustion -------------------------------------------------------------- */

static zr_payload g_many[4096];

/* Allocate `size` until it fails; returns how many succeeded. */
static unsigned alloc_until_full(size_t size, int *rc)
{
	unsigned n = 0;
	while (n < 4096 && (*rc = zr_payload_alloc(g_arena, size, &g_many[n])) == 0)
		n++;
	assert_true(n < 4096);
	return n;
}

static void test_exhaustion(void **state)
{
	(void)state;
	zr_slab_class_stats st[NSTATS];
	size_t ns = slab_stats(g_arena, st), top = ns - 2, large = ns - 1;
	uint64_t blocks = st[top].blocks, pages = st[large].blocks;
	int rc = 0;
	/* 64 KiB: the top class, then the large heap (one page each), then -ENOMEM */
	unsigned n = alloc_until_full(LARGE_PAGE, &rc);
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(n, blocks + pages);
	slab_stats(g_arena, st);
	assert_int_equal(st[top].in_use, blocks);
	assert_int_equal(st[large].in_use, pages);
	assert_true(st[top].failed > 0);
	assert_true(st[large].failed > 0);
	assert_int_equal(st[large].high_water, pages);
	for (unsigned i = 0; i < n; i++)
		free_ok(g_many[i]);
	zr_payload p = alloc_ok(LARGE_PAGE); /* everything is back */
	free_ok(p);
	p = alloc_ok(pages * LARGE_PAGE < g_info.max_payload ? pages * LARGE_PAGE
							     : g_info.max_payload);
	free_ok(p);

	/* 64 B: class 0 runs out, then larger classes serve */
	uint64_t before = st[0].failed;
	for (n = 0; n < 4096; n++) {
		size_t size = 0;
		g_many[n] = alloc_ok(64);
		assert_int_equal(zr_payload_resolve(g_arena, g_many[n], NULL, &size), 0);
		if (size != 64)
			break;
	}
	assert_int_equal(n, st[0].blocks);
	slab_stats(g_arena, st);
	assert_true(st[0].failed > before);
	assert_int_equal(st[0].in_use, n);
	for (unsigned i = 0; i <= n; i++)
		free_ok(g_many[i]);
	expect_nothing_in_use();
}

/* A stale duplicate in a free ring (left by a recovery race) is dropped when
 * taken, and while queued it must not stop any block from going back: the
 * free ring has a slot for every block and room for duplicates besides. */
static void test_duplicate_free_entry(void **state)
{
	(void)state;
	struct zri_class_rt *rt = &g_arena->classes[0];
	/* relaxed: single-threaded test */
	uint64_t w = atomic_load_explicit(&rt->meta[0], memory_order_relaxed);
	assert_int_equal(ZRI_BLK_STATE(w), ZRI_BLK_FREE);
	assert_true(zri_mpmc_enqueue(&rt->free_ring, (uint64_t)ZRI_BLK_GEN(w) << 32 | 0));
	unsigned n = 0;
	for (; n < 4096; n++) {
		size_t size = 0;
		g_many[n] = alloc_ok(64);
		assert_int_equal(zr_payload_resolve(g_arena, g_many[n], NULL, &size), 0);
		if (size != 64)
			break;
	}
	assert_int_equal(n, rt->nblocks);
	for (unsigned i = 0; i <= n; i++)
		free_ok(g_many[i]);
	zr_slab_cache_flush(g_arena);
	zr_slab_class_stats st[NSTATS];
	slab_stats(g_arena, st);
	assert_int_equal(st[0].cached, 0);
	assert_int_equal(st[0].free, st[0].blocks);
	expect_nothing_in_use();
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(g_arena, &d), 0);
}

/* ---- ownership ---------------------------------------------------------------- */

static void test_disown_adopt(void **state)
{
	(void)state;
	zr_payload s = alloc_ok(500), l = alloc_ok(70000);
	zr_payload both[2] = {s, l};
	for (unsigned i = 0; i < 2; i++) {
		zr_payload p = both[i];
		assert_int_equal(zr_payload_owner(g_arena, p), g_info.self);
		assert_int_equal(zr_payload_disown(g_arena, p), 0);
		assert_int_equal(zr_payload_owner(g_arena, p), 0);
		assert_non_null(zr_payload_ptr(g_arena, p));	    /* still allocated */
		assert_int_equal(zr_payload_disown(g_arena, p), 0); /* idempotent */
		assert_int_equal(zr_payload_adopt(g_arena, p), 0);
		assert_int_equal(zr_payload_owner(g_arena, p), g_info.self);
		assert_int_equal(zr_payload_adopt(g_arena, p), 0);
		assert_int_equal(zr_payload_disown(g_arena, p), 0);
	}
	zr_slab_owner_usage u[8];
	size_t n = 0;
	zr_slab_usage_by_owner(g_arena, u, 8, &n);
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (u[i].owner != 0)
			continue;
		found = true;
		assert_int_equal(u[i].blocks, 2);
		assert_int_equal(u[i].bytes, 512 + 70000);
		assert_int_equal(u[i].alive, 0); /* nobody */
	}
	assert_true(found);
	/* a disowned payload is no one's orphan: recovery leaves it alone */
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_int_equal(rep.blocks_orphaned, 0);
	free_ok(s); /* anyone may free it */
	free_ok(l);
	expect_nothing_in_use();
}

/* ---- orphans of a dead process ------------------------------------------------ */

enum { ORPHANS = 5, CHILD_PAYLOADS = ORPHANS + 1 };
static const size_t child_sizes[CHILD_PAYLOADS] = {100, 100, 100, 100, 200000, 100};

/* Child: attach, allocate, write, send the handles, die holding them. The
 * last one is disowned first, so it is nobody's orphan. */
static void orphan_child(int fd)
{
	zr_arena *a = NULL;
	zr_payload p[CHILD_PAYLOADS];
	if (zr_arena_open(g_name, 0, &a, NULL) != 0)
		_exit(2);
	for (unsigned i = 0; i < CHILD_PAYLOADS; i++) {
		if (zr_payload_alloc(a, child_sizes[i], &p[i]) != 0)
			_exit(3);
		fill(zr_payload_ptr(a, p[i]), child_sizes[i], 10 + i);
	}
	if (zr_payload_disown(a, p[ORPHANS]) != 0)
		_exit(4);
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	bool ok = write(fd, &info.self, sizeof(info.self)) == sizeof(info.self) &&
		  write(fd, p, sizeof(p)) == sizeof(p);
	_exit(ok ? 0 : 5);
}

static uint32_t run_orphan_child(zr_payload *p)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		orphan_child(fds[1]);
	}
	close(fds[1]);
	uint32_t owner = 0;
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(read(fds[0], &owner, sizeof(owner)), sizeof(owner));
	ssize_t want = (ssize_t)(CHILD_PAYLOADS * sizeof(*p));
	assert_int_equal(read(fds[0], p, (size_t)want), want);
	close(fds[0]);
	return owner;
}

static int keep_one(void *ctx, zr_payload p)
{
	return p.v == ((const zr_payload *)ctx)->v;
}

static void expect_dead_owner_usage(uint32_t owner, uint64_t blocks, uint64_t bytes)
{
	zr_slab_owner_usage u[16];
	size_t n = 0;
	zr_slab_usage_by_owner(g_arena, u, 16, &n);
	for (size_t i = 0; i < n; i++) {
		if (u[i].owner != owner)
			continue;
		assert_int_equal(u[i].alive, 0);
		assert_int_equal(u[i].blocks, blocks);
		assert_int_equal(u[i].bytes, bytes);
		return;
	}
	fail_msg("no usage entry for owner %u", owner);
}

static void test_orphans(void **state)
{
	(void)state;
	zr_payload p[CHILD_PAYLOADS];
	uint32_t dead = run_orphan_child(p);
	assert_true(dead != 0 && dead != g_info.self);
	assert_false(zr_arena_owner_alive(g_arena, dead));
	zr_arena_info info;
	zr_arena_info_get(g_arena, &info);
	assert_int_equal(info.procs_dead, 1);
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_int_equal(rep.procs_dead, 1);
	zr_arena_info_get(g_arena, &info);
	assert_int_equal(info.procs_dead, 0);
	assert_int_equal(rep.blocks_orphaned, ORPHANS);
	assert_true(rep.blocks_freed > 0); /* what the child's thread cache held */
	for (unsigned i = 0; i < CHILD_PAYLOADS; i++) {
		void *ptr = zr_payload_ptr(g_arena, p[i]);
		assert_non_null(ptr); /* orphans stay valid for whoever holds the handle */
		assert_true(intact(ptr, child_sizes[i], 10 + i));
		assert_int_equal(zr_payload_owner(g_arena, p[i]), i < ORPHANS ? dead : 0);
	}
	zr_slab_class_stats st[NSTATS];
	size_t ns = slab_stats(g_arena, st);
	assert_int_equal(st[1].orphans, ORPHANS - 1); /* the 100-byte ones */
	assert_int_equal(st[ns - 1].orphans, (200000 + LARGE_PAGE - 1) / LARGE_PAGE);
	expect_dead_owner_usage(dead, ORPHANS, (ORPHANS - 1) * 128 + 200000);

	/* adopted: ours now, no longer an orphan */
	assert_int_equal(zr_payload_adopt(g_arena, p[1]), 0);
	assert_int_equal(zr_payload_owner(g_arena, p[1]), g_info.self);
	uint64_t freed = 99;
	assert_int_equal(zr_slab_free_orphans(g_arena, keep_one, &p[0], &freed), 0);
	assert_int_equal(freed, ORPHANS - 2);
	assert_true(intact(zr_payload_ptr(g_arena, p[0]), child_sizes[0], 10));
	for (unsigned i = 2; i < ORPHANS; i++)
		assert_int_equal(zr_payload_resolve(g_arena, p[i], NULL, NULL), ZR_EDOUBLEFREE);
	ns = slab_stats(g_arena, st);
	uint64_t left = 0;
	for (size_t i = 0; i < ns; i++)
		left += st[i].orphans;
	assert_int_equal(left, 1);
	assert_int_equal(zr_slab_free_orphans(g_arena, NULL, NULL, &freed), 0);
	assert_int_equal(freed, 1);
	assert_int_equal(zr_payload_resolve(g_arena, p[0], NULL, NULL), ZR_EDOUBLEFREE);
	assert_int_equal(zr_slab_free_orphans(g_arena, NULL, NULL, NULL), 0);
	free_ok(p[1]);
	free_ok(p[ORPHANS]);
	expect_nothing_in_use();
	zr_recover_report again = {0};
	assert_int_equal(zr_arena_recover(g_arena, &again), 0);
	assert_int_equal(again.procs_dead + again.blocks_freed + again.blocks_orphaned, 0);
}

/* ---- zero copy between processes ---------------------------------------------- */

static void reader_child(const zr_payload *p, zr_payload reply)
{
	zr_arena *a = NULL;
	if (zr_arena_open(g_name, 0, &a, NULL) != 0)
		_exit(2);
	static const size_t sizes[2] = {4096, 300000};
	for (unsigned i = 0; i < 2; i++) {
		const void *ptr = zr_payload_ptr(a, p[i]);
		if (!ptr || !intact(ptr, sizes[i], 21 + i))
			_exit(3);
	}
	void *r = zr_payload_ptr(a, reply);
	if (!r)
		_exit(4);
	fill(r, 4096, 23);
	if (zr_payload_free(a, p[0]) != 0 || zr_payload_free(a, p[1]) != 0)
		_exit(5);
	_exit(zr_arena_close(a) == 0 ? 0 : 6);
}

static void test_zero_copy_across_processes(void **state)
{
	(void)state;
	zr_payload p[2] = {alloc_checked(4096, 4096, 21), alloc_checked(300000, 300000, 22)};
	zr_payload reply = alloc_ok(4096);
	memset(zr_payload_ptr(g_arena, reply), 0, 4096);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		reader_child(p, reply);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* the child wrote in place, and freed our payloads */
	assert_true(intact(zr_payload_ptr(g_arena, reply), 4096, 23));
	for (unsigned i = 0; i < 2; i++) {
		int rc = zr_payload_resolve(g_arena, p[i], NULL, NULL);
		assert_true(rc == ZR_EDOUBLEFREE || rc == ZR_ESTALE);
		assert_null(zr_payload_ptr(g_arena, p[i]));
		assert_int_equal(zr_payload_free(g_arena, p[i]), rc);
	}
	free_ok(reply);
	expect_nothing_in_use();
}

/* ---- caches, read-only attachments, dump ---------------------------------------- */

static void *churn_main(void *arg)
{
	(void)arg;
	zr_payload p[10];
	for (unsigned i = 0; i < 10; i++)
		if (zr_payload_alloc(g_arena, 64, &p[i]) != 0)
			return (void *)1;
	for (unsigned i = 0; i < 10; i++)
		if (zr_payload_free(g_arena, p[i]) != 0)
			return (void *)2;
	return NULL;
}

static void test_thread_exit_returns_cache(void **state)
{
	(void)state;
	pthread_t th;
	void *ret = (void *)&ret;
	assert_int_equal(pthread_create(&th, NULL, churn_main, NULL), 0);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	zr_slab_class_stats st[NSTATS];
	slab_stats(g_arena, st);
	assert_int_equal(st[0].cached, 0); /* flushed when the thread ended */
	assert_int_equal(st[0].in_use, 0);
	assert_int_equal(st[0].free, st[0].blocks);
	expect_nothing_in_use();
}

static void test_readonly(void **state)
{
	(void)state;
	zr_payload p = alloc_checked(3000, 4096, 31);
	zr_arena *ro = NULL;
	assert_int_equal(zr_arena_open(g_name, ZR_ARENA_READONLY, &ro, NULL), 0);
	void *ptr = NULL;
	size_t size = 0;
	assert_int_equal(zr_payload_resolve(ro, p, &ptr, &size), 0);
	assert_int_equal(size, 4096);
	assert_true(intact(ptr, 4096, 31));
	assert_int_equal(zr_payload_owner(ro, p), g_info.self);
	zr_payload q;
	assert_int_equal(zr_payload_alloc(ro, 10, &q), ZR_EREADONLY);
	assert_int_equal(zr_payload_free(ro, p), ZR_EREADONLY);
	assert_int_equal(zr_payload_disown(ro, p), ZR_EREADONLY);
	assert_int_equal(zr_payload_adopt(ro, p), ZR_EREADONLY);
	assert_int_equal(zr_slab_free_orphans(ro, NULL, NULL, NULL), ZR_EREADONLY);
	assert_int_equal(zr_arena_recover(ro, NULL), ZR_EREADONLY);
	zr_slab_cache_flush(ro); /* nothing to flush */
	zr_slab_class_stats st[NSTATS];
	size_t n = slab_stats(ro, st);
	assert_int_equal(n, 12);
	assert_int_equal(st[6].in_use, 1); /* 4 KiB */
	assert_int_equal(zr_payload_owner(g_arena, p), g_info.self);
	assert_int_equal(zr_arena_close(ro), 0);
	free_ok(p);
	expect_nothing_in_use();
}

static void test_dump(void **state)
{
	(void)state;
	zr_payload p = alloc_ok(100), l = alloc_ok(100000);
	FILE *f = tmpfile();
	assert_non_null(f);
	zr_slab_dump(f, g_arena);
	char buf[8192];
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "class"));
	assert_non_null(strstr(buf, "large"));
	assert_non_null(strstr(buf, "in_use 1"));
	assert_non_null(strstr(buf, "in_use 2")); /* the two pages of l */
	free_ok(p);
	free_ok(l);
	expect_nothing_in_use();
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		CASE(test_sizes),
		CASE(test_stat_layout),
		CASE(test_bad_sizes_and_handles),
		CASE(test_double_free),
		CASE(test_stale),
		CASE(test_exhaustion),
		CASE(test_duplicate_free_entry),
		CASE(test_disown_adopt),
		CASE(test_orphans),
		CASE(test_zero_copy_across_processes),
		CASE(test_thread_exit_returns_cache),
		CASE(test_readonly),
		CASE(test_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
