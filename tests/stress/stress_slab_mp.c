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
 * Options: --seed N, --ops N (payloads per producer), --timeout SECONDS,
 * --max-size BYTES (64 .. 262144; above 65536 the large-page heap serves them,
 * below only when a class runs dry). */
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

#include "tests/harness/stress.h"

#define PRODUCERS 2u
#define CONSUMERS 2u
#define CHILDREN (PRODUCERS + CONSUMERS)
#define MAGIC UINT64_C(0x3c)
#define RING_NAME "handles"
#define RING_CAP 128u
#define ENOMEM_LIMIT 2000000u
#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)

/* Shared by the parent and its children (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic uint32_t failed;
	_Atomic uint32_t owner[PRODUCERS]; /* each producer's owner id */
	_Atomic uint64_t consumed;	   /* payloads freed by consumers or producers */
	_Atomic uint64_t nomem;		   /* allocations refused for lack of space */
	_Atomic uint64_t bytes;		   /* verified */
	_Atomic uint8_t counts[];	   /* frees per (producer, seq) */
};

/* A child's view. */
struct child {
	struct shared *sh;
	zr_arena *a;
	zr_ring *r;
	unsigned id;
	uint64_t rng;
};

static struct zr_stress_opt opt; /* count: payloads per producer */

static bool stopped(struct shared *sh)
{
	/* relaxed: a stop flag; nothing is read on the strength of it */
	return atomic_load_explicit(&sh->failed, memory_order_relaxed) != 0;
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
#define CCHECK(expr, c, ...)                                                                       \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fail_dump(c);                                                              \
			ZR_CHECK(expr, __VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

static int check_header(struct child *c, zr_payload p, const uint64_t head[2], size_t usable)
{
	uint64_t tag = head[0], size = head[1];
	unsigned from = zr_stress_tag_from(tag);
	uint64_t seq = zr_stress_tag_seq(tag);
	CCHECK(tag >> 56 == MAGIC && from < PRODUCERS && seq < opt.count && size <= usable &&
		       size >= ZR_STRESS_MIN_SIZE,
	       c,
	       "child %u: payload %#" PRIx64 " has header %#" PRIx64 " size %" PRIu64
	       " (usable %zu)",
	       c->id, p.v, tag, size, usable);
	int64_t owner = zr_payload_owner(c->a, p);
	/* relaxed: written by the producer before it made any payload */
	uint32_t want = atomic_load_explicit(&c->sh->owner[from], memory_order_relaxed);
	CCHECK(owner == (int64_t)want, c,
	       "child %u: payload of producer %u owned by %" PRId64 ", not %u", c->id, from, owner,
	       want);
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
	unsigned from = zr_stress_tag_from(head[0]);
	uint64_t seq = zr_stress_tag_seq(head[0]);
	size_t bad = zr_stress_verify(ptr, head[1], head[0]);
	CCHECK(bad == head[1], c,
	       "child %u: payload of producer %u seq %" PRIu64 " (%" PRIu64
	       " bytes) differs at byte %zu",
	       c->id, from, seq, head[1], bad);
	rc = zr_payload_free(c->a, p);
	CCHECK(rc == 0, c, "child %u: free %#" PRIx64 ": %s", c->id, p.v, zr_strerror(rc));
	/* relaxed: a tally, read by the parent after the children exited */
	unsigned before = atomic_fetch_add_explicit(&c->sh->counts[from * opt.count + seq], 1,
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
	size_t size = zr_stress_pick_size(&c->rng, opt.max_size), usable = 0;
	void *ptr = NULL;
	if (alloc_one(c, size, p))
		return ZR_TEST_FAIL;
	int rc = zr_payload_resolve(c->a, *p, &ptr, &usable);
	CCHECK(rc == 0 && usable >= size, c,
	       "producer %u: new payload %#" PRIx64 " of %zu bytes:"
	       " resolve %s, usable %zu",
	       c->id, p->v, size, zr_strerror(rc), usable);
	zr_stress_fill(ptr, size, zr_stress_tag(MAGIC, c->id, seq));
	return 0;
}

static int produce(struct child *c)
{
	unsigned spins = 0;
	for (uint64_t seq = 0; seq < opt.count; seq++) {
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
	uint64_t total = opt.count * PRODUCERS, v;
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

enum role { PRODUCER, CONSUMER };

static int child_run(struct shared *sh, enum role role, unsigned id)
{
	struct child c = {.sh = sh, .id = id, .rng = zr_test_seed ^ (role << 8 | id)};
	zr_diag d = {0};
	int rc = zr_arena_open(opt.arena, 0, &c.a, &d);
	ZR_CHECK(rc == 0, "child: zr_arena_open(%s): %s: %s", opt.arena, zr_strerror(rc), d.msg);
	ZR_CHECK_RC(zr_ring_open(c.a, RING_NAME, &c.r));
	if (role == PRODUCER) {
		zr_arena_info info;
		zr_arena_info_get(c.a, &info);
		/* relaxed: read by consumers after they dequeued this producer's
		 * payloads, which the ring ordered after this store */
		atomic_store_explicit(&sh->owner[id], info.self, memory_order_relaxed);
	}
	/* relaxed: the start barrier orders no data (the ring does) */
	atomic_fetch_add_explicit(&sh->ready, 1, memory_order_relaxed);
	while (!atomic_load_explicit(&sh->go, memory_order_relaxed) && !stopped(sh))
		sched_yield();
	rc = role == PRODUCER ? produce(&c) : consume_all(&c);
	zr_ring_close(c.r);
	int crc = zr_arena_close(c.a); /* flushes this process's caches */
	ZR_CHECK(crc == 0, "child: zr_arena_close: %s", zr_strerror(crc));
	return rc;
}

static pid_t spawn(struct shared *sh, enum role role, unsigned id)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		_exit(ZR_TEST_FAIL);
	int rc = child_run(sh, role, id);
	if (rc)
		/* relaxed: a stop flag */
		atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
	_exit(rc);
}

static void dump_all(zr_arena *a, zr_ring *r)
{
	zr_ring_dump(stderr, r);
	zr_slab_dump(stderr, a);
}

/* The invariants hold at any instant, whatever the children do. */
static int check_live(zr_arena *a, zr_ring *r)
{
	zr_diag d = {0};
	zr_slab_class_stats st[NSTATS];
	size_t n;
	zr_slab_stat(a, st, NSTATS, &n);
	int rc = zr_ring_check(r, &d);
	if (rc == 0)
		rc = zr_arena_check(a, &d);
	if (rc)
		dump_all(a, r);
	ZR_CHECK(rc == 0, "check during the traffic: %s", d.msg);
	return 0;
}

static int check_end(zr_arena *a, zr_ring *r, struct shared *sh)
{
	uint64_t bad = 0, x;
	zr_stress_tally(sh->counts, opt.count * PRODUCERS, opt.count, "payload of producer",
			"freed", &bad, NULL);
	bool empty = !zr_ring_dequeue(r, &x);
	if (bad || !empty)
		dump_all(a, r);
	ZR_CHECK(bad == 0 && empty, "%" PRIu64 " payloads not freed exactly once; ring %s", bad,
		 empty ? "empty" : "not empty");
	if (zr_stress_slab_idle(a, "after every child closed")) {
		dump_all(a, r);
		return ZR_TEST_FAIL;
	}
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	ZR_CHECK(info.procs_attached == 1, "%u process slots in use after the children closed",
		 info.procs_attached);
	return check_live(a, r);
}

static int spawn_family(struct zr_stress_family *f, struct shared *sh)
{
	for (unsigned i = 0; i < CHILDREN; i++) {
		f->pid[i] =
			i < CONSUMERS ? spawn(sh, CONSUMER, i) : spawn(sh, PRODUCER, i - CONSUMERS);
		f->done[i] = f->pid[i] <= 0;
		f->n = i + 1;
		ZR_CHECK(f->pid[i] > 0, "fork: %s", strerror(errno));
	}
	/* see child_run() */
	return zr_stress_wait_ready(&sh->ready, CHILDREN, &sh->failed, opt.timeout_s);
}

static int run(zr_arena *a, struct shared *sh)
{
	zr_ring_config cfg = {.kind = ZR_RING_MPMC, .capacity = RING_CAP, .wait = ZR_WAIT_SPIN};
	zr_ring *r = NULL;
	ZR_CHECK_RC(zr_ring_create(a, RING_NAME, &cfg, &r));
	struct zr_stress_family f = {.n = 0};
	int rc = spawn_family(&f, sh);
	uint64_t t0 = zr_test_now_ns();
	/* relaxed: a start flag; the ring orders the data */
	atomic_store_explicit(&sh->go, 1, memory_order_relaxed);
	if (rc)
		zr_stress_kill_all(&f);
	else
		rc = zr_stress_wait_family(&f, a, r, &sh->failed, opt.timeout_s, check_live,
					   dump_all);
	if (rc == 0)
		rc = check_end(a, r, sh);
	if (rc == 0) {
		double s = (double)(zr_test_now_ns() - t0) / 1e9;
		printf("%u producers x %" PRIu64 " payloads to %u consumers: %.3f s, "
		       "%.0f payloads/s, %.1f MiB verified, %" PRIu64
		       " allocations retried for lack of space\n",
		       PRODUCERS, opt.count, CONSUMERS, s, (double)(opt.count * PRODUCERS) / s,
		       (double)atomic_load_explicit(&sh->bytes, memory_order_relaxed) / 1048576.0,
		       atomic_load_explicit(&sh->nomem, memory_order_relaxed));
	}
	zr_ring_close(r);
	return rc;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	zr_stress_parse(argc, argv, "--ops", 50000, &opt);
	zr_arena *a = zr_test_arena(64u << 20, opt.arena);
	size_t bytes = sizeof(struct shared) + (size_t)(opt.count * PRODUCERS);
	struct shared *sh =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return ZR_TEST_FAIL;
	}
	int rc = run(a, sh);
	munmap(sh, bytes);
	if (zr_arena_close(a) != 0 && rc == 0)
		rc = ZR_TEST_FAIL;
	printf("%s\n", rc ? "FAIL" : "PASS");
	return rc;
}
