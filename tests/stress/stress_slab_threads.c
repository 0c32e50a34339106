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
 * Options: --seed N, --ops N (payloads per thread), --timeout SECONDS,
 * --max-size BYTES (64 .. 262144; above 65536 the large-page heap serves them,
 * below only when a class runs dry). */
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

#include "tests/harness/stress.h"

#define THREADS 4u
#define MAGIC UINT64_C(0xc3)
#define RING_CAP 64u
#define DRAIN_MAX 8u
#define ENOMEM_LIMIT 2000000u
#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)

struct shared {
	zr_arena *a;
	zr_ring *inbound[THREADS];    /* creator's handles; threads open their own */
	_Atomic uint8_t *counts;      /* frees per (thread, seq) */
	_Atomic uint64_t outstanding; /* sent and not yet freed by the receiver */
	_Atomic uint32_t producing_done;
	_Atomic uint32_t failed;
	_Atomic uint32_t finished;
	_Atomic uint64_t nomem; /* allocations refused for lack of space, retried */
	_Atomic uint64_t bytes; /* written and verified */
};

struct worker {
	struct shared *sh;
	unsigned id;
	int rc;
	pthread_t tid;
	zr_ring *in;	       /* own inbound ring */
	zr_ring *out[THREADS]; /* every thread's inbound ring */
	uint64_t rng;
};

static struct zr_stress_opt opt; /* count: payloads per thread */

static bool stopped(struct shared *sh)
{
	/* relaxed: a stop flag; nothing is read on the strength of it */
	return atomic_load_explicit(&sh->failed, memory_order_relaxed) != 0;
}

static void slab_dump_fail(struct shared *sh)
{
	zr_slab_dump(stderr, sh->a);
	/* relaxed: a stop flag */
	atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
}

/* Check, dumping the slab counters first (expr is evaluated twice). */
#define SCHECK(expr, sh, ...)                                                                      \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			slab_dump_fail(sh);                                                        \
			ZR_CHECK(expr, __VA_ARGS__);                                               \
		}                                                                                  \
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
	unsigned from = zr_stress_tag_from(tag);
	uint64_t seq = zr_stress_tag_seq(tag);
	SCHECK(tag >> 56 == MAGIC && from < THREADS && seq < opt.count && size <= usable &&
		       size >= ZR_STRESS_MIN_SIZE,
	       sh,
	       "thread %u: payload %#" PRIx64 " has header %#" PRIx64 " size %" PRIu64
	       " (usable %zu)",
	       w->id, p.v, tag, size, usable);
	size_t bad = zr_stress_verify(ptr, size, tag);
	SCHECK(bad == size, sh,
	       "thread %u: payload of thread %u seq %" PRIu64 " (%" PRIu64
	       " bytes) differs at byte %zu",
	       w->id, from, seq, size, bad);
	rc = zr_payload_free(sh->a, p);
	SCHECK(rc == 0, sh, "thread %u: free %#" PRIx64 ": %s", w->id, p.v, zr_strerror(rc));
	/* relaxed: a tally, read after the threads were joined */
	unsigned before = atomic_fetch_add_explicit(&sh->counts[from * opt.count + seq], 1,
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

/* Allocate, check the handle, write the pattern over the whole payload. */
static int make_payload(struct worker *w, uint64_t seq, zr_payload *p)
{
	struct shared *sh = w->sh;
	size_t size = zr_stress_pick_size(&w->rng, opt.max_size), usable = 0;
	void *ptr = NULL;
	if (alloc_one(w, size, p))
		return ZR_TEST_FAIL;
	int rc = zr_payload_resolve(sh->a, *p, &ptr, &usable);
	SCHECK(rc == 0 && usable >= size, sh,
	       "thread %u: new payload %#" PRIx64 " of %zu bytes: resolve %s, usable %zu", w->id,
	       p->v, size, zr_strerror(rc), usable);
	int64_t owner = zr_payload_owner(sh->a, *p);
	zr_arena_info info;
	zr_arena_info_get(sh->a, &info);
	SCHECK(owner == (int64_t)info.self, sh,
	       "thread %u: new payload owned by %" PRId64 ", not %u", w->id, owner, info.self);
	zr_stress_fill(ptr, size, zr_stress_tag(MAGIC, w->id, seq));
	return 0;
}

static int produce(struct worker *w)
{
	unsigned got;
	for (uint64_t seq = 0; seq < opt.count && !stopped(w->sh); seq++) {
		zr_payload p;
		if (make_payload(w, seq, &p))
			return ZR_TEST_FAIL;
		bool local = zr_test_rand(&w->rng) % 4 == 0;
		if (local ? consume(w, p) : send_one(w, p))
			return ZR_TEST_FAIL;
		if (drain(w, DRAIN_MAX, &got))
			return ZR_TEST_FAIL;
	}
	return 0;
}

/* Keep receiving until every thread is done and nothing is in flight. */
static int drain_to_end(struct worker *w)
{
	struct shared *sh = w->sh;
	unsigned got, spins = 0;
	/* relaxed: see send_one(); a thread that reads both conditions true
	 * knows every send was counted and every handle freed */
	while (atomic_load_explicit(&sh->producing_done, memory_order_relaxed) < THREADS ||
	       atomic_load_explicit(&sh->outstanding, memory_order_relaxed) != 0) {
		if (stopped(sh))
			return 0;
		if (drain(w, DRAIN_MAX, &got))
			return ZR_TEST_FAIL;
		if (!got && ++spins % 64 == 0)
			sched_yield();
	}
	return 0;
}

static int worker_run(struct worker *w)
{
	struct shared *sh = w->sh;
	for (unsigned i = 0; i < THREADS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "in%u", i);
		ZR_CHECK_RC(zr_ring_open(sh->a, name, &w->out[i]));
	}
	w->in = w->out[w->id];
	int rc = produce(w);
	/* relaxed: see drain_to_end() */
	atomic_fetch_add_explicit(&sh->producing_done, 1, memory_order_relaxed);
	if (rc == 0)
		rc = drain_to_end(w);
	zr_slab_cache_flush(sh->a);
	for (unsigned i = 0; i < THREADS; i++)
		zr_ring_close(w->out[i]);
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = worker_run(w);
	if (w->rc)
		/* relaxed: a stop flag */
		atomic_store_explicit(&w->sh->failed, 1, memory_order_relaxed);
	/* relaxed: the main thread joins before it reads anything else */
	atomic_fetch_add_explicit(&w->sh->finished, 1, memory_order_relaxed);
	return NULL;
}

/* During the run: the invariants hold whatever the workers do, and the
 * read-only counters can be read at any time. */
static int check_live(struct shared *sh)
{
	zr_diag d = {0};
	zr_slab_class_stats st[NSTATS];
	size_t n;
	zr_slab_stat(sh->a, st, NSTATS, &n);
	int rc = zr_arena_check(sh->a, &d);
	SCHECK(rc == 0, sh, "zr_arena_check during the run: %s", d.msg);
	for (unsigned i = 0; i < THREADS; i++) {
		rc = zr_ring_check(sh->inbound[i], &d);
		SCHECK(rc == 0, sh, "zr_ring_check during the run: %s", d.msg);
	}
	return 0;
}

static int watch(struct shared *sh)
{
	uint64_t deadline = zr_stress_deadline(opt.timeout_s);
	int rc = 0;
	/* relaxed: see worker_main() */
	while (atomic_load_explicit(&sh->finished, memory_order_relaxed) < THREADS) {
		if (zr_test_now_ns() > deadline) {
			fprintf(stderr, "watchdog: still running after %u s (seed=%" PRIu64 ")\n",
				opt.timeout_s, zr_test_seed);
			for (unsigned i = 0; i < THREADS; i++)
				zr_ring_dump(stderr, sh->inbound[i]);
			slab_dump_fail(sh);
			return ZR_TEST_FAIL;
		}
		if (!rc && check_live(sh))
			rc = ZR_TEST_FAIL;
		nanosleep(&(struct timespec){0, 5 * ZR_STRESS_POLL_NS}, NULL);
	}
	return rc;
}

/* Give the workers 5 s to see the stop flag; else they are stuck inside a
 * library call: remove the arena and exit without joining. */
static void join_or_die(struct shared *sh, struct worker *w, unsigned n)
{
	zr_stress_finish_or_die(&sh->finished, n, opt.arena);
	for (unsigned i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
}

static int check_end(struct shared *sh)
{
	uint64_t bad = 0;
	zr_stress_tally(sh->counts, opt.count * THREADS, opt.count, "payload of thread", "freed",
			&bad, NULL);
	SCHECK(bad == 0, sh, "%" PRIu64 " payloads not freed exactly once", bad);
	if (zr_stress_slab_idle(sh->a, "after every thread flushed and exited")) {
		slab_dump_fail(sh);
		return ZR_TEST_FAIL;
	}
	zr_diag d = {0};
	int rc = zr_arena_check(sh->a, &d);
	SCHECK(rc == 0, sh, "zr_arena_check at the end: %s", d.msg);
	return 0;
}

static int create_rings(struct shared *sh)
{
	zr_ring_config cfg = {.kind = ZR_RING_MPMC, .capacity = RING_CAP, .wait = ZR_WAIT_SPIN};
	for (unsigned i = 0; i < THREADS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "in%u", i);
		ZR_CHECK_RC(zr_ring_create(sh->a, name, &cfg, &sh->inbound[i]));
	}
	return 0;
}

static int run(struct shared *sh)
{
	struct worker w[THREADS];
	unsigned n = 0;
	int rc = create_rings(sh);
	uint64_t t0 = zr_test_now_ns();
	for (unsigned i = 0; i < THREADS && rc == 0; i++, n++) {
		w[i] = (struct worker){.sh = sh, .id = i, .rng = zr_test_seed ^ (0x300u + i)};
		rc = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		ZR_CHECK(rc == 0, "pthread_create: %s", strerror(rc));
	}
	if (rc == 0)
		rc = watch(sh);
	/* relaxed: a stop flag */
	if (rc)
		atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
	join_or_die(sh, w, n);
	for (unsigned i = 0; i < n; i++)
		rc |= w[i].rc;
	if (rc == 0)
		rc = check_end(sh);
	if (rc == 0) {
		double s = (double)(zr_test_now_ns() - t0) / 1e9;
		printf("%u threads x %" PRIu64 " payloads: %.3f s, %.0f payloads/s, "
		       "%.1f MiB verified, %" PRIu64 " allocations retried for lack of space\n",
		       THREADS, opt.count, s, (double)(opt.count * THREADS) / s,
		       (double)atomic_load_explicit(&sh->bytes, memory_order_relaxed) / 1048576.0,
		       atomic_load_explicit(&sh->nomem, memory_order_relaxed));
	}
	for (unsigned i = 0; i < THREADS && sh->inbound[i]; i++)
		zr_ring_close(sh->inbound[i]);
	return rc;
}

int main(int argc, char **argv)
{
	static struct shared sh;
	zr_test_init(argc, argv);
	zr_stress_parse(argc, argv, "--ops", 50000, &opt);
	sh.a = zr_test_arena(64u << 20, opt.arena);
	sh.counts = calloc(opt.count * THREADS, 1);
	if (!sh.counts) {
		fprintf(stderr, "calloc of the tally failed\n");
		return ZR_TEST_FAIL;
	}
	int rc = run(&sh);
	free((void *)sh.counts);
	if (zr_arena_close(sh.a) != 0 && rc == 0)
		rc = ZR_TEST_FAIL;
	printf("%s\n", rc ? "FAIL" : "PASS");
	return rc;
}
