/* tests/stress/stress_ring_threads.c (label stress): the checks of
 * stress_ring_mp.c with THREADS of one process, so that ThreadSanitizer sees
 * every access (it cannot see races between processes). MPMC 2x2, SPSC 1x1,
 * single calls and random bursts, small rings that wrap all the time, and
 * the priority inbox with every producer pushing at all four levels (strict,
 * then with a share).
 *
 * Entries are magic (8 bits) | producer (8 bits) | sequence (48 bits); an
 * inbox entry's level is a hash of producer and sequence, so a consumer can
 * check the level it came from. Each consumer checks FIFO order per producer
 * (per producer and level for the inbox); a shared tally checks every entry
 * arrives exactly once. At the end the ring is empty, its counters say
 * enqueued == dequeued == total, and zr_ring_check and zr_arena_check pass
 * (the main thread also runs them during the traffic). A watchdog turns a
 * hang into a failure with a dump. Throughput is printed, never checked.
 *
 * Options: --seed N, --entries N (per producer), --timeout SECONDS. */
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

#define MAGIC UINT64_C(0x5a)
#define MAX_PROD 4
#define MAX_CONS 4
#define MAX_BURST 128
#define PUBLISH_EVERY 1024u
#define KIND_INBOX 100u

struct variant {
	const char *name; /* also the ring's or inbox's name */
	uint32_t kind;	  /* ZR_RING_SPSC, ZR_RING_MPMC or KIND_INBOX */
	unsigned producers;
	unsigned consumers;
	unsigned burst; /* 0: single calls; else random bursts of 1..burst */
	uint32_t capacity;
	uint32_t share; /* inbox only */
};

static const struct variant variants[] = {
	{"mpmc-2x2", ZR_RING_MPMC, 2, 2, 0, 1024, 0},
	{"mpmc-2x2-burst", ZR_RING_MPMC, 2, 2, 32, 1024, 0},
	{"mpmc-2x2-cap8", ZR_RING_MPMC, 2, 2, 0, 8, 0},
	{"spsc-1x1", ZR_RING_SPSC, 1, 1, 0, 1024, 0},
	{"spsc-1x1-burst", ZR_RING_SPSC, 1, 1, 128, 1024, 0},
	{"spsc-1x1-cap4", ZR_RING_SPSC, 1, 1, 0, 4, 0},
	{"inbox-2x2", KIND_INBOX, 2, 2, 0, 256, 0},
	{"inbox-2x2-share4", KIND_INBOX, 2, 2, 0, 64, 4},
};

/* One variant's run, shared by its threads. */
struct run {
	const struct variant *v;
	zr_arena *a;
	_Atomic uint8_t *counts; /* per (producer, seq) */
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t failed;
	_Atomic uint32_t finished;
	_Atomic uint64_t consumed;
	_Atomic uint64_t end_ns;
	uint64_t per_consumer[MAX_CONS];
};

enum role { PRODUCER, CONSUMER };

struct worker {
	struct run *run;
	enum role role;
	unsigned id;
	int rc;
	pthread_t tid;
};

/* A thread's own handle on the ring or inbox. */
struct endpoint {
	zr_ring *r;
	zr_inbox *ib;
};

static struct zr_stress_opt opt; /* count: entries per producer */

/* Check, dumping the ring or inbox first (expr is evaluated twice). */
#define ECHECK(expr, ep, ...)                                                                      \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			ep_dump(ep);                                                               \
			ZR_CHECK(expr, __VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

static void ep_dump(const struct endpoint *e)
{
	if (e->r)
		zr_ring_dump(stderr, e->r);
	for (unsigned l = 0; e->ib && l < ZR_PRIO_COUNT; l++)
		zr_ring_dump(stderr, zr_inbox_level(e->ib, l));
}

static int ep_open(zr_arena *a, const struct variant *v, struct endpoint *e)
{
	e->r = NULL;
	e->ib = NULL;
	if (v->kind == KIND_INBOX)
		ZR_CHECK_RC(zr_inbox_open(a, v->name, &e->ib));
	else
		ZR_CHECK_RC(zr_ring_open(a, v->name, &e->r));
	return 0;
}

static void ep_close(struct endpoint *e)
{
	zr_ring_close(e->r);
	zr_inbox_close(e->ib);
}

/* The inbox level of an entry: a hash, so every producer uses all four. */
static unsigned level_of(unsigned producer, uint64_t seq)
{
	uint64_t x = (seq ^ (uint64_t)producer << 52 ^ zr_test_seed) * 0x9e3779b97f4a7c15ULL;
	return (unsigned)(x >> 62);
}

static bool stopped(struct run *run)
{
	/* relaxed: a stop flag; nothing is read on the strength of it */
	return atomic_load_explicit(&run->failed, memory_order_relaxed) != 0;
}

/* Busy retry; yield now and then so that a preempted peer gets the core. */
static void backoff(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

static unsigned pick_burst(const struct variant *v, uint64_t *rng, uint64_t left)
{
	uint64_t n = v->burst ? 1 + zr_test_rand(rng) % v->burst : 1;
	return (unsigned)(n < left ? n : left);
}

/* Put n entries of producer p from seq on; returns how many went in. */
static unsigned ep_put(struct endpoint *e, const struct variant *v, const uint64_t *buf, unsigned n,
		       unsigned p, uint64_t seq)
{
	if (e->ib)
		return (unsigned)zr_inbox_push(e->ib, level_of(p, seq), buf[0]);
	if (v->burst)
		return zr_ring_enqueue_burst(e->r, buf, n);
	return (unsigned)zr_ring_enqueue(e->r, buf[0]);
}

static int produce(struct endpoint *e, struct run *run, unsigned id)
{
	const struct variant *v = run->v;
	uint64_t buf[MAX_BURST];
	uint64_t rng = zr_test_seed ^ (0x100u + id);
	unsigned spins = 0;
	for (uint64_t seq = 0; seq < opt.count;) {
		unsigned n = pick_burst(v, &rng, opt.count - seq);
		for (unsigned i = 0; i < n; i++)
			buf[i] = zr_stress_tag(MAGIC, id, seq + i);
		for (unsigned done = 0; done < n;) {
			unsigned k = ep_put(e, v, buf + done, n - done, id, seq + done);
			done += k;
			if (k)
				continue;
			if (stopped(run))
				return 0; /* another thread failed and said why */
			backoff(&spins);
		}
		seq += n;
	}
	return 0;
}

struct tally {
	int64_t last[MAX_PROD][ZR_PRIO_COUNT]; /* last sequence per producer and level */
	uint64_t got;
	uint64_t pending; /* not yet added to run->consumed */
};

static int take_entry(struct endpoint *e, struct run *run, struct tally *t, uint64_t x,
		      unsigned prio, unsigned cid)
{
	unsigned p = zr_stress_tag_from(x);
	uint64_t seq = zr_stress_tag_seq(x);
	ECHECK(x >> 56 == MAGIC, e, "consumer %u: entry %#" PRIx64 " has a bad magic", cid, x);
	ECHECK(p < run->v->producers && seq < opt.count, e,
	       "consumer %u: entry %#" PRIx64 " names no entry that was sent", cid, x);
	unsigned lvl = e->ib ? level_of(p, seq) : 0;
	ECHECK(prio == lvl, e,
	       "consumer %u: producer %u seq %" PRIu64 " popped at level %u, pushed at %u", cid, p,
	       seq, prio, lvl);
	ECHECK((int64_t)seq > t->last[p][lvl], e,
	       "consumer %u: producer %u level %u seq %" PRIu64 " came after seq %" PRId64
	       " (per-producer FIFO broken)",
	       cid, p, lvl, seq, t->last[p][lvl]);
	t->last[p][lvl] = (int64_t)seq;
	/* relaxed: a tally, read by the main thread after joining */
	unsigned before = atomic_fetch_add_explicit(&run->counts[p * opt.count + seq], 1,
						    memory_order_relaxed);
	ECHECK(before == 0, e, "consumer %u: producer %u seq %" PRIu64 " delivered %u times", cid,
	       p, seq, before + 1);
	t->got++;
	t->pending++;
	return 0;
}

/* Get up to `want` entries (and their levels, for the inbox). */
static unsigned ep_get(struct endpoint *e, const struct variant *v, uint64_t *buf, unsigned *prio,
		       unsigned want)
{
	*prio = 0;
	if (e->ib)
		return (unsigned)zr_inbox_pop(e->ib, buf, prio);
	if (v->burst)
		return zr_ring_dequeue_burst(e->r, buf, want);
	return (unsigned)zr_ring_dequeue(e->r, buf);
}

static void note_end(struct run *run)
{
	uint64_t now = zr_test_now_ns();
	/* relaxed: a statistic */
	uint64_t seen = atomic_load_explicit(&run->end_ns, memory_order_relaxed);
	while (now > seen &&
	       !atomic_compare_exchange_weak_explicit(&run->end_ns, &seen, now,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static int consume(struct endpoint *e, struct run *run, unsigned cid)
{
	const struct variant *v = run->v;
	struct tally t;
	uint64_t buf[MAX_BURST], rng = zr_test_seed ^ (0x200u + cid);
	uint64_t total = opt.count * v->producers;
	unsigned spins = 0, prio;
	memset(&t, 0xff, sizeof(t.last)); /* -1 everywhere */
	t.got = t.pending = 0;
	for (;;) {
		unsigned k = ep_get(e, v, buf, &prio, pick_burst(v, &rng, MAX_BURST));
		for (unsigned i = 0; i < k; i++)
			if (take_entry(e, run, &t, buf[i], prio, cid))
				return ZR_TEST_FAIL;
		if (k && t.pending < PUBLISH_EVERY)
			continue;
		/* relaxed: a progress count; the tally itself is checked at the end */
		atomic_fetch_add_explicit(&run->consumed, t.pending, memory_order_relaxed);
		t.pending = 0;
		if (k)
			continue;
		if (atomic_load_explicit(&run->consumed, memory_order_relaxed) >= total ||
		    stopped(run))
			break;
		backoff(&spins);
	}
	run->per_consumer[cid] = t.got; /* read after pthread_join */
	note_end(run);
	return 0;
}

static int worker_run(struct worker *w)
{
	struct run *run = w->run;
	struct endpoint e;
	if (ep_open(run->a, run->v, &e))
		return ZR_TEST_FAIL;
	/* relaxed: the start barrier orders no data (the ring does) */
	atomic_fetch_add_explicit(&run->ready, 1, memory_order_relaxed);
	while (!atomic_load_explicit(&run->go, memory_order_relaxed) && !stopped(run))
		sched_yield();
	int rc = w->role == PRODUCER ? produce(&e, run, w->id) : consume(&e, run, w->id);
	ep_close(&e);
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = worker_run(w);
	if (w->rc)
		/* relaxed: a stop flag */
		atomic_store_explicit(&w->run->failed, 1, memory_order_relaxed);
	/* relaxed: the main thread joins before it reads anything else */
	atomic_fetch_add_explicit(&w->run->finished, 1, memory_order_relaxed);
	return NULL;
}

static int check_live(struct run *run, struct endpoint *e)
{
	zr_diag d = {0};
	int rc = 0;
	if (e->r)
		rc = zr_ring_check(e->r, &d);
	for (unsigned l = 0; e->ib && l < ZR_PRIO_COUNT && rc == 0; l++)
		rc = zr_ring_check(zr_inbox_level(e->ib, l), &d);
	ECHECK(rc == 0, e, "%s: zr_ring_check: %s", run->v->name, d.msg);
	rc = zr_arena_check(run->a, &d);
	ECHECK(rc == 0, e, "%s: zr_arena_check: %s", run->v->name, d.msg);
	return 0;
}

/* After the watchdog fired: the workers see the stop flag in their retry
 * loops; one that does not return within 5 s is stuck inside a library call,
 * so remove the arena and exit without joining. */
static void stop_or_die(struct run *run, unsigned n)
{
	zr_stress_finish_or_die(&run->finished, n, opt.arena);
}

/* Wait for every worker to finish; a watchdog turns a hang into a failure. */
static int watch(struct run *run, struct endpoint *e, unsigned n)
{
	uint64_t deadline = zr_stress_deadline(opt.timeout_s);
	int rc = 0;
	/* relaxed: see worker_main() */
	while (atomic_load_explicit(&run->finished, memory_order_relaxed) < n) {
		if (zr_test_now_ns() > deadline) {
			fprintf(stderr,
				"watchdog: %s still running after %u s (seed=%" PRIu64 ")\n",
				run->v->name, opt.timeout_s, zr_test_seed);
			ep_dump(e);
			atomic_store_explicit(&run->failed, 1, memory_order_relaxed);
			stop_or_die(run, n);
			return ZR_TEST_FAIL;
		}
		if (!rc && check_live(run, e)) {
			atomic_store_explicit(&run->failed, 1, memory_order_relaxed);
			rc = ZR_TEST_FAIL;
		}
		nanosleep(&(struct timespec){0, ZR_STRESS_POLL_NS}, NULL);
	}
	return rc;
}

static int check_tally(struct run *run, struct endpoint *e)
{
	uint64_t total = opt.count * run->v->producers, lost = 0, dup = 0;
	char who[64];
	snprintf(who, sizeof(who), "%s: producer", run->v->name);
	zr_stress_tally(run->counts, total, opt.count, who, "counted", &lost, &dup);
	ECHECK(lost == 0 && dup == 0, e, "%s: %" PRIu64 " entries lost, %" PRIu64 " duplicated",
	       run->v->name, lost, dup);
	uint64_t sum = 0;
	for (unsigned c = 0; c < run->v->consumers; c++)
		sum += run->per_consumer[c];
	ECHECK(sum == total, e, "consumers report %" PRIu64 " entries of %" PRIu64, sum, total);
	return 0;
}

/* One ring's end state: empty, and its counters agree with `want`. */
static int check_ring_end(struct endpoint *e, zr_ring *r, uint64_t want)
{
	uint64_t x;
	bool empty = !zr_ring_dequeue(r, &x) && zr_ring_count(r) == 0;
	ECHECK(empty, e, "ring %s not empty at the end", zr_ring_name(r));
	zr_ring_stats s;
	zr_ring_stat(r, &s);
	ECHECK(s.enqueued == want && s.dequeued == want && s.count == 0, e,
	       "ring %s: stat enqueued %" PRIu64 " dequeued %" PRIu64 " count %u, want %" PRIu64,
	       zr_ring_name(r), s.enqueued, s.dequeued, s.count, want);
	ECHECK(s.drops == 0 && s.redelivers == 0, e,
	       "ring %s: drops %" PRIu64 " redelivers %" PRIu64, zr_ring_name(r), s.drops,
	       s.redelivers);
	return 0;
}

static int check_end(struct run *run, struct endpoint *e)
{
	const struct variant *v = run->v;
	if (check_tally(run, e))
		return ZR_TEST_FAIL;
	if (e->r && check_ring_end(e, e->r, opt.count * v->producers))
		return ZR_TEST_FAIL;
	uint64_t want[ZR_PRIO_COUNT] = {0};
	for (unsigned p = 0; e->ib && p < v->producers; p++)
		for (uint64_t s = 0; s < opt.count; s++)
			want[level_of(p, s)]++;
	for (unsigned l = 0; e->ib && l < ZR_PRIO_COUNT; l++)
		if (check_ring_end(e, zr_inbox_level(e->ib, l), want[l]))
			return ZR_TEST_FAIL;
	ECHECK(!e->ib || zr_inbox_count(e->ib) == 0, e, "inbox %s not empty", v->name);
	return check_live(run, e);
}

static int create_target(zr_arena *a, const struct variant *v, struct endpoint *e)
{
	e->r = NULL;
	e->ib = NULL;
	if (v->kind == KIND_INBOX) {
		zr_inbox_config cfg = {
			.capacity = v->capacity, .wait = ZR_WAIT_SPIN, .share = v->share};
		ZR_CHECK_RC(zr_inbox_create(a, v->name, &cfg, &e->ib));
	} else {
		zr_ring_config cfg = {
			.kind = v->kind, .capacity = v->capacity, .wait = ZR_WAIT_SPIN};
		ZR_CHECK_RC(zr_ring_create(a, v->name, &cfg, &e->r));
	}
	return 0;
}

/* Start the workers, wait until all are attached, then let them go. */
static int start_workers(struct run *run, struct worker *w, unsigned *n)
{
	const struct variant *v = run->v;
	*n = 0;
	for (unsigned i = 0; i < v->consumers + v->producers; i++) {
		w[i] = (struct worker){.run = run,
				       .role = i < v->consumers ? CONSUMER : PRODUCER,
				       .id = i < v->consumers ? i : i - v->consumers};
		int rc = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (rc) {
			atomic_store_explicit(&run->failed, 1, memory_order_relaxed);
			fprintf(stderr, "pthread_create: %s\n", strerror(rc));
			return ZR_TEST_FAIL;
		}
		(*n)++;
	}
	/* relaxed: see worker_run() */
	while (atomic_load_explicit(&run->ready, memory_order_relaxed) < *n && !stopped(run))
		sched_yield();
	atomic_store_explicit(&run->go, 1, memory_order_relaxed);
	return stopped(run) ? ZR_TEST_FAIL : 0;
}

static void report(struct run *run, uint64_t t0)
{
	const struct variant *v = run->v;
	uint64_t total = opt.count * v->producers;
	/* relaxed: written by joined threads */
	double s = (double)(atomic_load_explicit(&run->end_ns, memory_order_relaxed) - t0) / 1e9;
	printf("%-18s %u producer(s) x %u consumer(s): %" PRIu64
	       " entries in %.3f s, %.2f M entries/s\n",
	       v->name, v->producers, v->consumers, total, s, (double)total / s / 1e6);
}

static int run_variant(const struct variant *v, zr_arena *a)
{
	struct run run = {.v = v, .a = a};
	struct endpoint e;
	struct worker w[MAX_PROD + MAX_CONS];
	unsigned n;
	if (create_target(a, v, &e))
		return ZR_TEST_FAIL;
	run.counts = calloc(opt.count * v->producers, 1);
	ZR_CHECK(run.counts != NULL, "calloc of the tally failed");
	uint64_t t0 = zr_test_now_ns();
	int rc = start_workers(&run, w, &n);
	if (rc == 0)
		rc = watch(&run, &e, n);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		rc |= w[i].rc;
	}
	if (rc == 0)
		rc = check_end(&run, &e);
	if (rc == 0)
		report(&run, t0);
	free((void *)run.counts);
	ep_close(&e);
	return rc;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	zr_stress_parse(argc, argv, "--entries", 2000000, &opt);
	printf("entries per producer: %" PRIu64 "\n", opt.count);
	zr_arena *a = zr_test_arena(8u << 20, opt.arena);
	int rc = 0;
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]) && !rc; i++)
		rc = run_variant(&variants[i], a);
	if (rc == 0) {
		zr_diag d = {0};
		int crc = zr_arena_check(a, &d);
		if (crc)
			fprintf(stderr, "zr_arena_check at the end: %s\n", d.msg);
		rc = crc ? ZR_TEST_FAIL : 0;
	}
	if (zr_arena_close(a) != 0 && rc == 0)
		rc = ZR_TEST_FAIL;
	printf("%s\n", rc ? "FAIL" : "PASS");
	return rc;
}
