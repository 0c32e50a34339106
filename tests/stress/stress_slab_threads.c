/* tests/stress/stress_slab_threads.c (label stress): threads of one process
 * allocate payloads of random sizes (64 B .. 256 KiB: every small class and
 * the large-page heap) from one arena, write a pattern derived from
 * (thread, sequence) over the whole payload, and pass the handles to other
 * threads through MPMC rings (one inbound ring per thread, any thread may
 * send to it). The receiver resolves the handle, verifies every byte in
 * place and frees it; some payloads are freed by the thread that allocated
 * them, and now and then a second free checks that a double free is refused.
 * A shared tally checks that every payload was freed exactly once.
 *
 * At the end each thread flushes its cache (zr_slab_cache_flush) and exits;
 * zr_slab_stat must then show nothing in use, nothing cached and no orphan
 * in any class or the large heap, and zr_arena_check must pass.
 *
 * Options: --seed N, --ops N (payloads per thread), --timeout SECONDS. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/test.h"

#define THREADS 4u
#define MAGIC UINT64_C(0xc3)
#define MIN_SIZE 64u
#define MAX_SIZE ((size_t)256 << 10)
#define RING_CAP 64u
#define DRAIN_MAX 8u
#define ENOMEM_LIMIT 2000000u
#define POLL_NS 20000000L
#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)

struct shared {
	zr_arena *a;
	zr_ring *inbound[THREADS]; /* creator's handles; threads open their own */
	_Atomic uint8_t *counts;   /* frees per (thread, seq) */
	_Atomic uint64_t outstanding; /* sent and not yet freed by the receiver */
	_Atomic uint32_t producing_done;
	_Atomic uint32_t failed;
	_Atomic uint32_t finished;
	_Atomic uint64_t nomem;    /* allocations refused for lack of space, retried */
	_Atomic uint64_t bytes;    /* written and verified */
};

struct worker {
	struct shared *sh;
	unsigned id;
	int rc;
	pthread_t tid;
	zr_ring *in;               /* own inbound ring */
	zr_ring *out[THREADS];     /* every thread's inbound ring */
	uint64_t rng;
};

static struct {
	uint64_t ops;
	unsigned timeout_s;
	char arena[64];
} opt;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool stopped(struct shared *sh)
{
	/* relaxed: a stop flag; nothing is read on the strength of it */
	return atomic_load_explicit(&sh->failed, memory_order_relaxed) != 0;
}

static uint64_t make_tag(unsigned thread, uint64_t seq)
{
	return MAGIC << 56 | (uint64_t)thread << 48 | seq;
}

/* Word i of the payload tagged `tag` (words 0 and 1 hold tag and size). */
static uint64_t pattern(uint64_t tag, uint64_t i)
{
	uint64_t x = (tag ^ i * 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	return x ^ x >> 31;
}

static void fill(unsigned char *p, size_t size, uint64_t tag)
{
	uint64_t head[2] = {tag, size}, w;
	size_t nw = size / 8;
	memcpy(p, head, sizeof(head));
	for (size_t i = 2; i < nw; i++) {
		w = pattern(tag, i);
		memcpy(p + 8 * i, &w, 8);
	}
	w = pattern(tag, nw);
	memcpy(p + 8 * nw, &w, size % 8);
}

/* Offset of the first byte that differs from the pattern, or size. */
static size_t verify(const unsigned char *p, size_t size, uint64_t tag)
{
	uint64_t w;
	size_t nw = size / 8;
	for (size_t i = 2; i < nw; i++) {
		w = pattern(tag, i);
		if (memcmp(p + 8 * i, &w, 8))
			return 8 * i;
	}
	w = pattern(tag, nw);
	return memcmp(p + 8 * nw, &w, size % 8) ? 8 * nw : size;
}

/* Log-uniform over 64 B .. 256 KiB, with exact class sizes now and then. */
static size_t pick_size(uint64_t *rng)
{
	uint64_t r = zr_test_rand(rng);
	unsigned shift = 6 + (unsigned)(r % 13); /* 2^6 .. 2^18 */
	size_t size = (size_t)1 << shift;
	if ((r >> 8) % 8)
		size += (size_t)((r >> 16) % size);
	return size < MAX_SIZE ? size : MAX_SIZE;
}

static void slab_dump_fail(struct shared *sh)
{
	zr_slab_dump(stderr, sh->a);
	/* relaxed: a stop flag */
	atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
}

/* Check, dumping the slab counters first (expr is evaluated twice). */
#define SCHECK(expr, sh, ...)                                \
	do {                                                 \
		if (!(expr)) {                               \
			slab_dump_fail(sh);                  \
			ZR_CHECK(expr, __VA_ARGS__);         \
		}                                            \
	} while (0)

/* Resolve, verify and free one payload; then check a second free fails. */
static int consume(struct worker *w, zr_payload p)
{
	struct shared *sh = w->sh;
	void *ptr = NULL;
	size_t usable = 0;
	int rc = zr_payload_resolve(sh->a, p, &ptr, &usable);
	SCHECK(rc == 0, sh, "thread %u: resolve %#" PRIx64 ": %s", w->id, p.v, zr_strerror(rc));
	uint64_t head[2];
	memcpy(head, ptr, sizeof(head));
	uint64_t tag = head[0], size = head[1];
	unsigned from = (unsigned)(tag >> 48) & 0xffu;
	uint64_t seq = tag & ((UINT64_C(1) << 48) - 1);
	SCHECK(tag >> 56 == MAGIC && from < THREADS && seq < opt.ops && size <= usable &&
		       size >= MIN_SIZE,
	       sh, "thread %u: payload %#" PRIx64 " has header %#" PRIx64 " size %" PRIu64
	       " (usable %zu)", w->id, p.v, tag, size, usable);
	size_t bad = verify(ptr, size, tag);
	SCHECK(bad == size, sh, "thread %u: payload of thread %u seq %" PRIu64 " (%" PRIu64
	       " bytes) differs at byte %zu", w->id, from, seq, size, bad);
	rc = zr_payload_free(sh->a, p);
	SCHECK(rc == 0, sh, "thread %u: free %#" PRIx64 ": %s", w->id, p.v, zr_strerror(rc));
	/* relaxed: a tally, read after the threads were joined */
	unsigned before = atomic_fetch_add_explicit(&sh->counts[from * opt.ops + seq], 1,
						    memory_order_relaxed);
	SCHECK(before == 0, sh, "thread %u: payload of thread %u seq %" PRIu64 " freed %u times",
	       w->id, from, seq, before + 1);
	atomic_fetch_add_explicit(&sh->bytes, size, memory_order_relaxed);
	if (zr_test_rand(&w->rng) % 64 == 0) {
		rc = zr_payload_free(sh->a, p);
		SCHECK(rc == ZR_EDOUBLEFREE || rc == ZR_ESTALE, sh,
		       "thread %u: second free of %#" PRIx64 " returned %d (%s)", w->id, p.v, rc,
		       zr_strerror(rc));
	}
	return 0;
}

/* Verify and free up to `max` payloads sent to this thread. */
static int drain(struct worker *w, unsigned max, unsigned *got)
{
	uint64_t v;
	*got = 0;
	while (*got < max && zr_ring_dequeue(w->in, &v)) {
		if (consume(w, (zr_payload){v}))
			return ZR_TEST_FAIL;
		/* relaxed: a count; the ring ordered the payload bytes */
		atomic_fetch_sub_explicit(&w->sh->outstanding, 1, memory_order_relaxed);
		(*got)++;
	}
	return 0;
}

static int alloc_one(struct worker *w, size_t size, zr_payload *p)
{
	struct shared *sh = w->sh;
	unsigned got;
	for (unsigned tries = 0;; tries++) {
		int rc = zr_payload_alloc(sh->a, size, p);
		if (rc == 0)
			return 0;
		SCHECK(rc == -ENOMEM && tries < ENOMEM_LIMIT && !stopped(sh), sh,
		       "thread %u: alloc of %zu bytes: %s after %u tries", w->id, size,
		       zr_strerror(rc), tries);
		/* relaxed: a statistic */
		atomic_fetch_add_explicit(&sh->nomem, 1, memory_order_relaxed);
		if (drain(w, DRAIN_MAX, &got))
			return ZR_TEST_FAIL;
		if (!got)
			sched_yield();
	}
}

/* Hand a payload to another thread's ring; drain our own while it is full. */
static int send_one(struct worker *w, zr_payload p)
{
	struct shared *sh = w->sh;
	unsigned to = (w->id + 1 + (unsigned)(zr_test_rand(&w->rng) % (THREADS - 1))) % THREADS;
	unsigned got, spins = 0;
	/* relaxed: counted before the enqueue so that it never reads 0 while a
	 * handle is in flight; the termination check needs no other order */
	atomic_fetch_add_explicit(&sh->outstanding, 1, memory_order_relaxed);
	while (!zr_ring_enqueue(w->out[to], p.v)) {
		if (stopped(sh))
			return ZR_TEST_FAIL;
		if (drain(w, DRAIN_MAX, &got))
			return ZR_TEST_FAIL;
		if (!got && ++spins % 64 == 0)
			sched_yield();
	}
	return 0;
}
