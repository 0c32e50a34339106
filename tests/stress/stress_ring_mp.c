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

#include "tests/harness/test.h"

#define MAGIC UINT64_C(0xa5)
#define SEQ_BITS 48
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)
#define MAX_PROD 4
#define MAX_CONS 4
#define MAX_BURST 128
#define PUBLISH_EVERY 1024u
#define POLL_NS 20000000L

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

static struct {
	uint64_t entries; /* per producer */
	unsigned timeout_s;
	char arena[64];
} opt;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t make_entry(unsigned producer, uint64_t seq)
{
	return MAGIC << 56 | (uint64_t)producer << SEQ_BITS | seq;
}

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
	for (uint64_t seq = 0; seq < opt.entries;) {
		unsigned n = pick_burst(v, &rng, opt.entries - seq);
		for (unsigned i = 0; i < n; i++)
			buf[i] = make_entry(id, seq + i);
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
	unsigned p = (unsigned)(e >> SEQ_BITS) & 0xffu;
	uint64_t seq = e & SEQ_MASK;
	RCHECK(e >> 56 == MAGIC, r, "consumer %u: entry %#" PRIx64 " has a bad magic", cid, e);
	RCHECK(p < v->producers && seq < opt.entries, r,
	       "consumer %u: entry %#" PRIx64 " names no entry that was sent", cid, e);
	RCHECK((int64_t)seq > t->last[p], r,
	       "consumer %u: producer %u seq %" PRIu64 " came after seq %" PRId64
	       " (per-producer FIFO broken)",
	       cid, p, seq, t->last[p]);
	t->last[p] = (int64_t)seq;
	/* relaxed: a tally, read by the parent after the children exited */
	unsigned before =
		atomic_fetch_add_explicit(&counts[p * opt.entries + seq], 1, memory_order_relaxed);
	RCHECK(before == 0, r, "consumer %u: producer %u seq %" PRIu64 " delivered %u times", cid,
	       p, seq, before + 1);
	t->got++;
	t->pending++;
	return 0;
}

static void note_end(struct shared *sh)
{
	uint64_t now = now_ns();
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
	uint64_t total = opt.entries * v->producers;
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

struct family {
	pid_t pid[MAX_PROD + MAX_CONS];
	bool done[MAX_PROD + MAX_CONS];
	unsigned n;
};

static void kill_all(struct family *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		if (f->done[i] || f->pid[i] <= 0)
			continue;
		kill(f->pid[i], SIGKILL);
		waitpid(f->pid[i], NULL, 0);
		f->done[i] = true;
	}
}

/* One exited child: mark it and say whether it failed. */
static int reap_one(struct family *f, pid_t pid, int status, struct shared *sh)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->pid[i] == pid)
			f->done[i] = true;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "child %d %s %d\n", (int)pid,
		WIFEXITED(status) ? "exited with" : "was killed by signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
	return ZR_TEST_FAIL;
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

/* Wait for every child; a watchdog turns a hang into a failure. */
static int wait_family(struct family *f, zr_arena *a, zr_ring *r, struct shared *sh)
{
	uint64_t deadline = now_ns() + (uint64_t)opt.timeout_s * 1000000000u;
	unsigned left = f->n;
	int rc = 0;
	while (left) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			rc |= reap_one(f, pid, status, sh);
			left--;
			continue;
		}
		if (now_ns() > deadline) {
			fprintf(stderr, "watchdog: %u children still running after %u s\n", left,
				opt.timeout_s);
			zr_ring_dump(stderr, r);
			atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
			kill_all(f);
			return ZR_TEST_FAIL;
		}
		if (!rc && check_live(a, r)) {
			atomic_store_explicit(&sh->failed, 1, memory_order_relaxed);
			rc = ZR_TEST_FAIL;
		}
		nanosleep(&(struct timespec){0, POLL_NS}, NULL);
	}
	return rc;
}

/* Report the first lost or duplicated entries, and how many. */
static int check_tally(const struct variant *v, zr_ring *r, _Atomic uint8_t *counts)
{
	uint64_t total = opt.entries * v->producers, lost = 0, dup = 0;
	for (uint64_t i = 0; i < total; i++) {
		unsigned c = atomic_load_explicit(&counts[i], memory_order_relaxed);
		if (c == 1)
			continue;
		if ((c == 0 ? lost++ : dup++) < 5)
			fprintf(stderr, "%s: producer %u seq %" PRIu64 " counted %u times\n",
				v->name, (unsigned)(i / opt.entries), i % opt.entries, c);
	}
	RCHECK(lost == 0 && dup == 0, r, "%s: %" PRIu64 " entries lost, %" PRIu64 " duplicated",
	       v->name, lost, dup);
	return 0;
}

static int check_end(const struct variant *v, zr_arena *a, zr_ring *r, struct shared *sh,
		     _Atomic uint8_t *counts)
{
	uint64_t total = opt.entries * v->producers, x, sum = 0;
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

static int spawn_family(const struct variant *v, struct family *f, struct shared *sh,
			_Atomic uint8_t *counts)
{
	f->n = 0;
	for (unsigned c = 0; c < v->consumers; c++)
		f->pid[f->n++] = spawn(v, CONSUMER, c, sh, counts);
	for (unsigned p = 0; p < v->producers; p++)
		f->pid[f->n++] = spawn(v, PRODUCER, p, sh, counts);
	for (unsigned i = 0; i < f->n; i++)
		ZR_CHECK(f->pid[i] > 0, "fork: %s", strerror(errno));
	uint64_t deadline = now_ns() + (uint64_t)opt.timeout_s * 1000000000u;
	/* relaxed: see child_run() */
	while (atomic_load_explicit(&sh->ready, memory_order_relaxed) < f->n && !stopped(sh)) {
		ZR_CHECK(now_ns() < deadline, "watchdog: children not attached after %u s",
			 opt.timeout_s);
		sched_yield();
	}
	return stopped(sh) ? ZR_TEST_FAIL : 0;
}

static void report(const struct variant *v, struct shared *sh, uint64_t t0)
{
	uint64_t total = opt.entries * v->producers;
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
	size_t tally_bytes = (size_t)(opt.entries * v->producers);
	struct shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	_Atomic uint8_t *counts =
		mmap(NULL, tally_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZR_CHECK(sh != MAP_FAILED && counts != MAP_FAILED, "mmap: %s", strerror(errno));
	struct family f = {.n = 0};
	int rc = spawn_family(v, &f, sh, counts);
	uint64_t t0 = now_ns();
	/* relaxed: a start flag; the ring orders the data */
	atomic_store_explicit(&sh->go, 1, memory_order_relaxed);
	if (rc)
		kill_all(&f);
	else
		rc = wait_family(&f, a, r, sh);
	if (rc == 0)
		rc = check_end(v, a, r, sh, counts);
	if (rc == 0)
		report(v, sh, t0);
	munmap(counts, tally_bytes);
	munmap(sh, sizeof(*sh));
	zr_ring_close(r);
	return rc;
}

static void parse_args(int argc, char **argv)
{
	opt.entries = zr_test_scale(2000000);
	opt.timeout_s = zr_test_sanitized() ? 240 : 120;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--entries"))
			opt.entries = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--timeout"))
			opt.timeout_s = (unsigned)strtoul(argv[i + 1], NULL, 0);
	}
	if (opt.entries == 0 || opt.entries > SEQ_MASK)
		opt.entries = 1;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	parse_args(argc, argv);
	printf("entries per producer: %" PRIu64 "\n", opt.entries);
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
