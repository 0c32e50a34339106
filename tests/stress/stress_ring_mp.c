/* tests/stress/stress_ring_mp.c (label stress): producers and consumers in
 * separate PROCESSES over one ring, each child attached to the arena by name
 * (so each holds its own process slot).
 *
 * Entries are magic (8 bits) | producer (8 bits) | sequence (48 bits).
 * Consumers count every entry in a MAP_SHARED tally made before the fork and
 * check that each producer's sequences reach them in increasing order (the
 * ring keeps FIFO order per producer). At the end: every entry counted
 * exactly once, the ring empty, enqueued == dequeued == total, every child's
 * process slot released, zr_ring_check and zr_arena_check clean. The parent
 * runs both checks concurrently with the traffic, and a watchdog turns a
 * hang into a failure with a ring dump. Throughput is printed, never checked.
 *
 * Options: --seed N, --entries N (per producer), --timeout SECONDS. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness/stress.h"

#define MAGIC UINT64_C(0xa5)
#define MAX_PROD 4
#define MAX_CONS 4
#define MAX_BURST 128
_Static_assert(MAX_PROD + MAX_CONS <= ZR_STRESS_MAX_CHILDREN, "family too small");
#define PUBLISH_EVERY 1024u

/* Check, dumping the ring first (expr is evaluated twice: no side effects). */
#define RCHECK(expr, r, ...)                                                                       \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			zr_ring_dump(stderr, r);                                                   \
			ZR_CHECK(expr, __VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

struct variant {
	const char *name; /* also the ring's name */
	uint32_t kind;
	unsigned producers;
	unsigned consumers;
	unsigned burst; /* 0: single calls; else random bursts of 1..burst */
	uint32_t capacity;
};

static const struct variant variants[] = {
	{"mpmc-2x2", ZR_RING_MPMC, 2, 2, 0, 1024},
	{"mpmc-3x2-burst", ZR_RING_MPMC, 3, 2, 32, 1024},
	{"spsc-1x1", ZR_RING_SPSC, 1, 1, 0, 1024},
	{"spsc-1x1-burst", ZR_RING_SPSC, 1, 1, 128, 1024},
	/* small rings: full and empty all the time, many laps */
	{"mpmc-2x2-cap8", ZR_RING_MPMC, 2, 2, 0, 8},
	{"spsc-1x1-cap4", ZR_RING_SPSC, 1, 1, 0, 4},
};

/* Shared by the parent and its children (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	_Atomic uint32_t ready;	   /* children attached */
	_Atomic uint32_t go;	   /* set by the parent once all are ready */
	_Atomic uint32_t failed;   /* a child or the parent failed: all stop */
	_Atomic uint64_t consumed; /* entries tallied by all consumers */
	_Atomic uint64_t end_ns;   /* latest consumer finish */
	_Atomic uint64_t per_consumer[MAX_CONS];
};

static struct zr_stress_opt opt; /* count: entries per producer */

static bool stopped(struct shared *sh)
{
	/* relaxed: a stop flag; nothing is read on the strength of it */
	return atomic_load_explicit(&sh->failed, memory_order_relaxed) != 0;
}

/* Busy retry; yield now and then so that a preempted peer on the same core
 * gets to run (the machine may have fewer cores than children). */
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

static int produce(zr_ring *r, const struct variant *v, unsigned id, struct shared *sh)
{
	uint64_t buf[MAX_BURST];
	uint64_t rng = zr_test_seed ^ (0x100u + id);
	unsigned spins = 0;
	for (uint64_t seq = 0; seq < opt.count;) {
		unsigned n = pick_burst(v, &rng, opt.count - seq);
		for (unsigned i = 0; i < n; i++)
			buf[i] = zr_stress_tag(MAGIC, id, seq + i);
		for (unsigned done = 0; done < n;) {
			unsigned k = v->burst ? zr_ring_enqueue_burst(r, buf + done, n - done)
					      : (unsigned)zr_ring_enqueue(r, buf[done]);
			done += k;
			if (k)
				continue;
			if (stopped(sh))
				return 0; /* another child failed and said why */
			backoff(&spins);
		}
		seq += n;
	}
	return 0;
}

struct tally {
	int64_t last[MAX_PROD]; /* last sequence seen per producer */
	uint64_t got;
	uint64_t pending; /* not yet added to sh->consumed */
};

static int take_entry(zr_ring *r, const struct variant *v, struct tally *t, uint64_t e,
		      _Atomic uint8_t *counts, unsigned cid)
{
	unsigned p = zr_stress_tag_from(e);
	uint64_t seq = zr_stress_tag_seq(e);
	RCHECK(e >> 56 == MAGIC, r, "consumer %u: entry %#" PRIx64 " has a bad magic", cid, e);
	RCHECK(p < v->producers && seq < opt.count, r,
	       "consumer %u: entry %#" PRIx64 " names no entry that was sent", cid, e);
	RCHECK((int64_t)seq > t->last[p], r,
	       "consumer %u: producer %u seq %" PRIu64 " came after seq %" PRId64
	       " (per-producer FIFO broken)",
	       cid, p, seq, t->last[p]);
	t->last[p] = (int64_t)seq;
	/* relaxed: a tally, read by the parent after the children exited */
	unsigned before =
		atomic_fetch_add_explicit(&counts[p * opt.count + seq], 1, memory_order_relaxed);
	RCHECK(before == 0, r, "consumer %u: producer %u seq %" PRIu64 " delivered %u times", cid,
	       p, seq, before + 1);
	t->got++;
	t->pending++;
	return 0;
}

static void note_end(struct shared *sh)
{
	uint64_t now = zr_test_now_ns();
	/* relaxed: a statistic */
	uint64_t seen = atomic_load_explicit(&sh->end_ns, memory_order_relaxed);
	while (now > seen &&
	       !atomic_compare_exchange_weak_explicit(&sh->end_ns, &seen, now, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static int consume(zr_ring *r, const struct variant *v, unsigned cid, struct shared *sh,
		   _Atomic uint8_t *counts)
{
	struct tally t = {.got = 0};
	uint64_t buf[MAX_BURST];
	uint64_t rng = zr_test_seed ^ (0x200u + cid);
	uint64_t total = opt.count * v->producers;
	unsigned spins = 0;
	for (unsigned i = 0; i < MAX_PROD; i++)
		t.last[i] = -1;
	for (;;) {
		unsigned want = pick_burst(v, &rng, MAX_BURST);
		unsigned k = v->burst ? zr_ring_dequeue_burst(r, buf, want)
				      : (unsigned)zr_ring_dequeue(r, buf);
		for (unsigned i = 0; i < k; i++)
			if (take_entry(r, v, &t, buf[i], counts, cid))
				return ZR_TEST_FAIL;
		if (k && t.pending < PUBLISH_EVERY)
			continue;
		/* relaxed: a progress count; the tally itself is checked at the end */
		atomic_fetch_add_explicit(&sh->consumed, t.pending, memory_order_relaxed);
		t.pending = 0;
		if (k)
			continue;
		if (atomic_load_explicit(&sh->consumed, memory_order_relaxed) >= total ||
		    stopped(sh))
			break;
		backoff(&spins);
	}
	atomic_store_explicit(&sh->per_consumer[cid], t.got, memory_order_relaxed);
	note_end(sh);
	return 0;
}

enum role { PRODUCER, CONSUMER };

static int child_run(const struct variant *v, enum role role, unsigned id, struct shared *sh,
		     _Atomic uint8_t *counts)
{
	zr_arena *a = NULL;
	zr_ring *r = NULL;
	zr_diag d = {0};
	int rc = zr_arena_open(opt.arena, 0, &a, &d);
	ZR_CHECK(rc == 0, "child: zr_arena_open(%s): %s: %s", opt.arena, zr_strerror(rc), d.msg);
	ZR_CHECK_RC(zr_ring_open(a, v->name, &r));
	/* relaxed: the start barrier orders no data (the ring does) */
	atomic_fetch_add_explicit(&sh->ready, 1, memory_order_relaxed);
	while (!atomic_load_explicit(&sh->go, memory_order_relaxed) && !stopped(sh))
		sched_yield();
	rc = role == PRODUCER ? produce(r, v, id, sh) : consume(r, v, id, sh, counts);
	zr_ring_close(r);
	int crc = zr_arena_close(a);
	ZR_CHECK(crc == 0, "child: zr_arena_close: %s", zr_strerror(crc));
	return rc;
}

static pid_t spawn(const struct variant *v, enum role role, unsigned id, struct shared *sh,
		   _Atomic uint8_t *counts)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
		_exit(ZR_TEST_FAIL);
	int rc = child_run(v, role, id, sh, counts);
	if (rc)
		/* relaxed: a stop flag */
		atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
	_exit(rc);
}

static void dump_ring(zr_arena *a, zr_ring *r)
{
	(void)a;
	zr_ring_dump(stderr, r);
}

/* The arena and ring invariants hold at any instant, whatever writers do. */
static int check_live(zr_arena *a, zr_ring *r)
{
	zr_diag d = {0};
	int rc = zr_ring_check(r, &d);
	RCHECK(rc == 0, r, "zr_ring_check during traffic: %s", d.msg);
	rc = zr_arena_check(a, &d);
	RCHECK(rc == 0, r, "zr_arena_check during traffic: %s", d.msg);
	return 0;
}

/* Report the first lost or duplicated entries, and how many. */
static int check_tally(const struct variant *v, zr_ring *r, _Atomic uint8_t *counts)
{
	uint64_t lost = 0, dup = 0;
	char who[64];
	snprintf(who, sizeof(who), "%s: producer", v->name);
	zr_stress_tally(counts, opt.count * v->producers, opt.count, who, "counted", &lost, &dup);
	RCHECK(lost == 0 && dup == 0, r, "%s: %" PRIu64 " entries lost, %" PRIu64 " duplicated",
	       v->name, lost, dup);
	return 0;
}

static int check_end(const struct variant *v, zr_arena *a, zr_ring *r, struct shared *sh,
		     _Atomic uint8_t *counts)
{
	uint64_t total = opt.count * v->producers, x, sum = 0;
	if (check_tally(v, r, counts))
		return ZR_TEST_FAIL;
	for (unsigned c = 0; c < v->consumers; c++)
		sum += atomic_load_explicit(&sh->per_consumer[c], memory_order_relaxed);
	RCHECK(sum == total, r, "consumers report %" PRIu64 " entries of %" PRIu64, sum, total);
	bool empty = !zr_ring_dequeue(r, &x) && zr_ring_count(r) == 0;
	RCHECK(empty, r, "%s: ring not empty at the end", v->name);
	zr_ring_stats s;
	zr_ring_stat(r, &s);
	RCHECK(s.enqueued == total && s.dequeued == total && s.count == 0, r,
	       "%s: stat enqueued %" PRIu64 " dequeued %" PRIu64 " count %u, want %" PRIu64,
	       v->name, s.enqueued, s.dequeued, s.count, total);
	RCHECK(s.drops == 0 && s.redelivers == 0, r,
	       "%s: drops %" PRIu64 " redelivers %" PRIu64 " with no process killed", v->name,
	       s.drops, s.redelivers);
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	ZR_CHECK(info.procs_attached == 1, "%s: %u process slots in use after the children closed",
		 v->name, info.procs_attached);
	return check_live(a, r);
}

static int spawn_family(const struct variant *v, struct zr_stress_family *f, struct shared *sh,
			_Atomic uint8_t *counts)
{
	f->n = 0;
	for (unsigned c = 0; c < v->consumers; c++)
		f->pid[f->n++] = spawn(v, CONSUMER, c, sh, counts);
	for (unsigned p = 0; p < v->producers; p++)
		f->pid[f->n++] = spawn(v, PRODUCER, p, sh, counts);
	for (unsigned i = 0; i < f->n; i++)
		ZR_CHECK(f->pid[i] > 0, "fork: %s", strerror(errno));
	/* see child_run() */
	return zr_stress_wait_ready(&sh->ready, f->n, &sh->failed, opt.timeout_s);
}

static void report(const struct variant *v, struct shared *sh, uint64_t t0)
{
	uint64_t total = opt.count * v->producers;
	/* relaxed: written by children that have exited */
	double s = (double)(atomic_load_explicit(&sh->end_ns, memory_order_relaxed) - t0) / 1e9;
	printf("%-16s %u producer(s) x %u consumer(s): %" PRIu64
	       " entries in %.3f s, %.2f M entries/s\n",
	       v->name, v->producers, v->consumers, total, s, (double)total / s / 1e6);
}

static int run_variant(const struct variant *v, zr_arena *a)
{
	zr_ring_config cfg = {.kind = v->kind, .capacity = v->capacity, .wait = ZR_WAIT_SPIN};
	zr_ring *r = NULL;
	ZR_CHECK_RC(zr_ring_create(a, v->name, &cfg, &r));
	size_t tally_bytes = (size_t)(opt.count * v->producers);
	struct shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	_Atomic uint8_t *counts =
		mmap(NULL, tally_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZR_CHECK(sh != MAP_FAILED && counts != MAP_FAILED, "mmap: %s", strerror(errno));
	struct zr_stress_family f = {.n = 0};
	int rc = spawn_family(v, &f, sh, counts);
	uint64_t t0 = zr_test_now_ns();
	/* relaxed: a start flag; the ring orders the data */
	atomic_store_explicit(&sh->go, 1, memory_order_relaxed);
	if (rc)
		zr_stress_kill_all(&f);
	else
		rc = zr_stress_wait_family(&f, a, r, &sh->failed, opt.timeout_s, check_live,
					   dump_ring);
	if (rc == 0)
		rc = check_end(v, a, r, sh, counts);
	if (rc == 0)
		report(v, sh, t0);
	munmap(counts, tally_bytes);
	munmap(sh, sizeof(*sh));
	zr_ring_close(r);
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
	int crc = zr_arena_close(a);
	if (rc == 0 && crc != 0) {
		fprintf(stderr, "zr_arena_close: %s\n", zr_strerror(crc));
		rc = ZR_TEST_FAIL;
	}
	printf("%s\n", rc ? "FAIL" : "PASS");
	return rc;
}
