/* tests/stress/stress_slab_mp.c (label stress): payloads across PROCESSES.
 * Producer processes allocate payloads of random sizes (64 B .. 256 KiB,
 * every small class and the large-page heap), write a pattern derived from
 * (producer, sequence) over the whole payload and enqueue the handles on an
 * MPMC ring; consumer processes resolve each handle in their own mapping,
 * verify every byte in place (zero copy), check the payload is still owned
 * by its producer (which may have exited meanwhile) and free it. Producers
 * free a few payloads themselves, and now and then a second free checks
 * that a double free is refused. Every child opened the arena by name and
 * closes it before it exits, which flushes its caches.
 *
 * At the end: every payload freed exactly once (a MAP_SHARED tally),
 * zr_slab_stat shows nothing in use, nothing cached and no orphan anywhere,
 * every process slot but the parent's is released, and zr_arena_check passes
 * (the parent also runs it during the traffic). A watchdog turns a hang into
 * a failure with a dump of the ring and the slab.
 *
 * Options: --seed N, --ops N (payloads per producer), --timeout SECONDS. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/test.h"

#define PRODUCERS 2u
#define CONSUMERS 2u
#define CHILDREN (PRODUCERS + CONSUMERS)
#define MAGIC UINT64_C(0x3c)
#define MIN_SIZE 64u
#define MAX_SIZE ((size_t)256 << 10)
#define RING_NAME "handles"
#define RING_CAP 128u
#define ENOMEM_LIMIT 2000000u
#define POLL_NS 20000000L
#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)

/* Shared by the parent and its children (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t failed;
	_Atomic uint32_t owner[PRODUCERS]; /* each producer's owner id */
	_Atomic uint64_t consumed;         /* payloads freed by consumers or producers */
	_Atomic uint64_t nomem;            /* allocations refused for lack of space */
	_Atomic uint64_t bytes;            /* verified */
	_Atomic uint8_t counts[];          /* frees per (producer, seq) */
};

/* A child's view. */
struct child {
	struct shared *sh;
	zr_arena *a;
	zr_ring *r;
	unsigned id;
	uint64_t rng;
};

static struct {
	uint64_t ops; /* per producer */
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

static uint64_t make_tag(unsigned producer, uint64_t seq)
{
	return MAGIC << 56 | (uint64_t)producer << 48 | seq;
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

static void fail_dump(struct child *c)
{
	if (c->r)
		zr_ring_dump(stderr, c->r);
	zr_slab_dump(stderr, c->a);
	/* relaxed: a stop flag */
	atomic_store_explicit(&c->sh->failed, 1, memory_order_relaxed);
}

/* Check, dumping ring and slab first (expr is evaluated twice). */
#define CCHECK(expr, c, ...)                                 \
	do {                                                 \
		if (!(expr)) {                               \
			fail_dump(c);                        \
			ZR_CHECK(expr, __VA_ARGS__);         \
		}                                            \
	} while (0)

static int check_header(struct child *c, zr_payload p, const uint64_t head[2], size_t usable)
{
	uint64_t tag = head[0], size = head[1];
	unsigned from = (unsigned)(tag >> 48) & 0xffu;
	uint64_t seq = tag & ((UINT64_C(1) << 48) - 1);
	CCHECK(tag >> 56 == MAGIC && from < PRODUCERS && seq < opt.ops && size <= usable &&
		       size >= MIN_SIZE,
	       c, "child %u: payload %#" PRIx64 " has header %#" PRIx64 " size %" PRIu64
	       " (usable %zu)", c->id, p.v, tag, size, usable);
	int64_t owner = zr_payload_owner(c->a, p);
	/* relaxed: written by the producer before it made any payload */
	uint32_t want = atomic_load_explicit(&c->sh->owner[from], memory_order_relaxed);
	CCHECK(owner == (int64_t)want, c, "child %u: payload of producer %u owned by %" PRId64
	       ", not %u", c->id, from, owner, want);
	return 0;
}

/* Resolve in this process's mapping, verify in place, free, tally. */
static int consume(struct child *c, zr_payload p)
{
	void *ptr = NULL;
	size_t usable = 0;
	uint64_t head[2];
	int rc = zr_payload_resolve(c->a, p, &ptr, &usable);
	CCHECK(rc == 0, c, "child %u: resolve %#" PRIx64 ": %s", c->id, p.v, zr_strerror(rc));
	memcpy(head, ptr, sizeof(head));
	if (check_header(c, p, head, usable))
		return ZR_TEST_FAIL;
	unsigned from = (unsigned)(head[0] >> 48) & 0xffu;
	uint64_t seq = head[0] & ((UINT64_C(1) << 48) - 1);
	size_t bad = verify(ptr, head[1], head[0]);
	CCHECK(bad == head[1], c, "child %u: payload of producer %u seq %" PRIu64 " (%" PRIu64
	       " bytes) differs at byte %zu", c->id, from, seq, head[1], bad);
	rc = zr_payload_free(c->a, p);
	CCHECK(rc == 0, c, "child %u: free %#" PRIx64 ": %s", c->id, p.v, zr_strerror(rc));
	/* relaxed: a tally, read by the parent after the children exited */
	unsigned before = atomic_fetch_add_explicit(&c->sh->counts[from * opt.ops + seq], 1,
						    memory_order_relaxed);
	CCHECK(before == 0, c, "child %u: payload of producer %u seq %" PRIu64 " freed %u times",
	       c->id, from, seq, before + 1);
	atomic_fetch_add_explicit(&c->sh->bytes, head[1], memory_order_relaxed);
	atomic_fetch_add_explicit(&c->sh->consumed, 1, memory_order_relaxed);
	if (zr_test_rand(&c->rng) % 64 == 0) {
		rc = zr_payload_free(c->a, p);
		CCHECK(rc == ZR_EDOUBLEFREE || rc == ZR_ESTALE, c,
		       "child %u: second free of %#" PRIx64 " returned %d (%s)", c->id, p.v, rc,
		       zr_strerror(rc));
	}
	return 0;
}

static int alloc_one(struct child *c, size_t size, zr_payload *p)
{
	for (unsigned tries = 0;; tries++) {
		int rc = zr_payload_alloc(c->a, size, p);
		if (rc == 0)
			return 0;
		if (stopped(c->sh))
			return ZR_TEST_FAIL;
		CCHECK(rc == -ENOMEM && tries < ENOMEM_LIMIT, c,
		       "producer %u: alloc of %zu bytes: %s after %u tries", c->id, size,
		       zr_strerror(rc), tries);
		/* relaxed: a statistic */
		atomic_fetch_add_explicit(&c->sh->nomem, 1, memory_order_relaxed);
		sched_yield(); /* the consumers free */
	}
}

static int make_payload(struct child *c, uint64_t seq, zr_payload *p)
{
	size_t size = pick_size(&c->rng), usable = 0;
	void *ptr = NULL;
	if (alloc_one(c, size, p))
		return ZR_TEST_FAIL;
	int rc = zr_payload_resolve(c->a, *p, &ptr, &usable);
	CCHECK(rc == 0 && usable >= size, c, "producer %u: new payload %#" PRIx64 " of %zu bytes:"
	       " resolve %s, usable %zu", c->id, p->v, size, zr_strerror(rc), usable);
	fill(ptr, size, make_tag(c->id, seq));
	return 0;
}

static int produce(struct child *c)
{
	unsigned spins = 0;
	for (uint64_t seq = 0; seq < opt.ops; seq++) {
		zr_payload p;
		if (make_payload(c, seq, &p))
			return ZR_TEST_FAIL;
		if (zr_test_rand(&c->rng) % 8 == 0) {
			if (consume(c, p))
				return ZR_TEST_FAIL;
			continue;
		}
		while (!zr_ring_enqueue(c->r, p.v)) {
			if (stopped(c->sh))
				return 0; /* another child failed and said why */
			if (++spins % 64 == 0)
				sched_yield();
		}
	}
	return 0;
}

static int consume_all(struct child *c)
{
	uint64_t total = opt.ops * PRODUCERS, v;
	unsigned spins = 0;
	for (;;) {
		if (zr_ring_dequeue(c->r, &v)) {
			if (consume(c, (zr_payload){v}))
				return ZR_TEST_FAIL;
			continue;
		}
		/* relaxed: a progress count; the tally is checked at the end */
		if (atomic_load_explicit(&c->sh->consumed, memory_order_relaxed) >= total ||
		    stopped(c->sh))
			return 0;
		if (++spins % 64 == 0)
			sched_yield();
	}
}
