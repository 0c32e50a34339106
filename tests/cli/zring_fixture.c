/* zring_fixture: arenas for the `zring` tool's tests (tests/cli/test_zring.py).
 *
 *   zring_fixture golden NAME
 *       A small arena in a fixed state: agents alpha and beta (alive, held
 *       by this process), ring "events" with three entries, jobs in every
 *       status with known payloads. Prints "ready" and waits for stdin to
 *       close, then removes the arena.
 *   zring_fixture golden-file PATH
 *       The same, file-backed at PATH.
 *   zring_fixture stale NAME
 *       A child creates the arena, registers an agent and dies without
 *       closing: the arena is left stale for `zring gc`.
 *   zring_fixture workload NAME
 *       Two producer and two worker processes move jobs (and entries of the
 *       ring "events") at full speed. Prints "running". On the line
 *       "quiesce" on stdin they finish what is in flight and stop (alive,
 *       idle); the fixture then prints one JSON line: what the processes
 *       counted themselves and what the runtime's counters say. On EOF it
 *       stops them and removes the arena.
 *
 * Exit status 0, or 1 with a message if the fixture could not be built. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zring.h"

#define DIE(...)                                                                                   \
	do {                                                                                       \
		fprintf(stderr, "zring_fixture: " __VA_ARGS__);                                    \
		fputc('\n', stderr);                                                               \
		exit(1);                                                                           \
	} while (0)
#define TRY(call)                                                                                  \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		if (rc_ < 0)                                                                       \
			DIE("%s: %s", #call, zr_strerror(rc_));                                    \
	} while (0)

static zr_arena *create(const char *name, size_t size)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, size);
	cfg.max_jobs = 1024;
	cfg.max_agents = 8;
	zr_arena *a = NULL;
	zr_diag d = {0};
	bool file = strchr(name, '/') != NULL;
	/* a leftover of a killed run */
	if (file ? unlink(name) : zr_arena_unlink(name)) {
	}
	if (file ? zr_arena_create_file(name, &cfg, &a, &d) : zr_arena_create(name, &cfg, &a, &d))
		DIE("create %s: %s", name, d.msg);
	return a;
}

static void remove_arena(const char *name)
{
	if (strchr(name, '/') ? unlink(name) : zr_arena_unlink(name))
		DIE("cannot remove %s", name);
}

static zr_agent *agent(zr_arena *a, const char *name)
{
	zr_agent_config cfg;
	zr_agent_config_init(&cfg);
	zr_agent *g = NULL;
	TRY(zr_agent_register(a, name, &cfg, &g));
	return g;
}

static zr_job_id submit(zr_agent *from, uint32_t prio, uint32_t target, const char *text,
			uint32_t max_retries)
{
	zr_arena *a = zr_agent_arena(from);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.prio = prio;
	b.target = target;
	b.max_retries = max_retries;
	if (text) {
		size_t n = strlen(text);
		TRY(zr_payload_alloc(a, n, &b.payload));
		memcpy(zr_payload_ptr(a, b.payload), text, n);
		b.payload_len = n;
	}
	TRY(zr_job_builder_meta(&b, "fixture", "golden"));
	zr_job_id id = 0;
	TRY(zr_job_submit(from, &b, &id, NULL));
	return id;
}

static void wait_eof(void)
{
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		;
}

/* ---- golden -------------------------------------------------------------- */

static int golden(const char *name)
{
	zr_arena *a = create(name, (size_t)8 << 20);
	zr_agent *alpha = agent(a, "alpha"), *beta = agent(a, "beta");
	zr_ring_config rc = {ZR_RING_SPSC, 16, ZR_WAIT_SPIN};
	zr_ring *ev = NULL;
	TRY(zr_ring_create(a, "events", &rc, &ev));
	for (uint64_t v = 1; v <= 3; v++)
		if (!zr_ring_enqueue(ev, v * 1000))
			DIE("events full");
	uint32_t beta_id = zr_agent_id(beta);
	/* what stays pending: one per priority in the shared queue, two in beta's inbox */
	submit(alpha, ZR_PRIO_CRITICAL, 0, "critical work", 3);
	submit(alpha, ZR_PRIO_HIGH, 0, "high work", 3);
	submit(alpha, ZR_PRIO_LOW, 0, "low work", 3);
	submit(alpha, ZR_PRIO_NORMAL, beta_id, "for beta 1", 3);
	submit(alpha, ZR_PRIO_NORMAL, beta_id, "for beta 2", 3);
	/* beta claims its two: completes one, fails the other for good */
	zr_claim c;
	if (zr_job_claim(beta, &c) != 1)
		DIE("beta found nothing to claim");
	TRY(zr_job_complete(beta, &c, ZR_PAYLOAD_NULL, 0));
	if (zr_job_claim(beta, &c) != 1)
		DIE("beta found nothing to claim");
	TRY(zr_job_fail(beta, &c, "disk on fire", false));
	/* alpha claims the critical one and keeps it: processing */
	if (zr_job_claim(alpha, &c) != 1)
		DIE("alpha found nothing to claim");
	/* one cancelled */
	zr_job_id x = submit(alpha, ZR_PRIO_LOW, 0, "never mind", 3);
	TRY(zr_job_cancel(a, x));
	printf("ready\n");
	fflush(stdout);
	wait_eof();
	zr_ring_close(ev);
	zr_agent_unregister(alpha);
	zr_agent_unregister(beta);
	zr_arena_close(a);
	remove_arena(name);
	return 0;
}

static int stale(const char *name)
{
	pid_t pid = fork();
	if (pid < 0)
		DIE("fork: %s", strerror(errno));
	if (pid == 0) {
		zr_arena *a = create(name, (size_t)2 << 20);
		(void)agent(a, "doomed");
		_exit(0); /* no close: its process slot stays taken by a dead pid */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

/* ---- workload ------------------------------------------------------------ */

enum { RUN = 0, QUIESCE = 1, STOP = 2 };
#define PRODUCERS 2
#define WORKERS 2
#define WINDOW 16

/* Shared with the children (anonymous mapping, not in the arena). */
struct tally {
	_Atomic int phase;
	_Atomic int idle;			/* children that finished and wait */
	_Atomic uint64_t submitted;		/* submits that returned 0 */
	_Atomic uint64_t completed;		/* completes that returned 0 */
	_Atomic uint64_t failed;		/* fail calls that returned 0 */
	_Atomic uint64_t released;		/* releases that returned 0 */
	_Atomic uint64_t events_in, events_out; /* ring "events" */
};

static void idle_until_stop(struct tally *t)
{
	atomic_fetch_add(&t->idle, 1);
	while (atomic_load(&t->phase) != STOP)
		usleep(1000);
}

static void producer(const char *name, int k, struct tally *t)
{
	zr_arena *a = NULL;
	TRY(zr_arena_open(name, 0, &a, NULL));
	char an[32];
	snprintf(an, sizeof(an), "producer-%d", k);
	zr_agent *g = agent(a, an);
	zr_ring *ev = NULL;
	TRY(zr_ring_open(a, "events", &ev));
	zr_job_id win[WINDOW] = {0};
	unsigned n = 0, seq = 0;
	for (;;) {
		bool quiesce = atomic_load(&t->phase) != RUN;
		if (quiesce && n == 0)
			break;
		if (!quiesce && n < WINDOW) {
			char text[64];
			snprintf(text, sizeof(text), "job %u of %s", seq, an);
			zr_job_builder b;
			zr_job_builder_init(&b, ZR_JOB_COMPUTE);
			b.prio = seq++ % ZR_PRIO_COUNT;
			b.max_retries = 2;
			b.backoff_ns = 100000;
			if (zr_payload_alloc(a, 256, &b.payload) == 0) {
				memcpy(zr_payload_ptr(a, b.payload), text, strlen(text) + 1);
				b.payload_len = strlen(text) + 1;
				if (zr_job_submit(g, &b, &win[n], NULL) == 0) {
					n++;
					atomic_fetch_add(&t->submitted, 1);
				} else {
					if (zr_payload_free(a, b.payload))
						DIE("free of an unsubmitted payload failed");
				}
			}
			if (zr_ring_enqueue(ev, seq))
				atomic_fetch_add(&t->events_in, 1);
		}
		/* release what finished, keep the rest in order */
		unsigned keep = 0;
		for (unsigned i = 0; i < n; i++) {
			zr_job_info j;
			int rc = zr_job_get(a, win[i], &j);
			bool final = rc == 0 &&
				     (j.status == ZR_JOB_COMPLETED || j.status == ZR_JOB_FAILED ||
				      j.status == ZR_JOB_CANCELLED || j.status == ZR_JOB_EXPIRED);
			if (final && zr_job_release(a, win[i]) == 0)
				atomic_fetch_add(&t->released, 1);
			else if (rc == 0 || rc == -EAGAIN) /* busy: look again next round */
				win[keep++] = win[i];
		}
		n = keep;
		zr_agent_heartbeat(g);
		if (quiesce || n == WINDOW)
			usleep(50);
	}
	idle_until_stop(t);
	zr_ring_close(ev);
	zr_agent_unregister(g);
	zr_arena_close(a);
}

static void worker(const char *name, int k, struct tally *t)
{
	zr_arena *a = NULL;
	TRY(zr_arena_open(name, 0, &a, NULL));
	char an[32];
	snprintf(an, sizeof(an), "worker-%d", k);
	zr_agent *g = agent(a, an);
	zr_ring *ev = NULL;
	TRY(zr_ring_open(a, "events", &ev));
	uint64_t done = 0, v;
	unsigned empty_since_quiesce = 0;
	for (;;) {
		zr_claim c;
		int got = zr_job_claim(g, &c);
		if (got == 1) {
			const char *p = c.data;
			if (!p || c.len == 0 || strncmp(p, "job ", 4))
				DIE("worker-%d: bad payload", k);
			int rc = (++done % 50 == 0) ? zr_job_fail(g, &c, "every 50th fails", true)
						    : zr_job_complete(g, &c, ZR_PAYLOAD_NULL, 0);
			if (rc == 0)
				atomic_fetch_add(done % 50 == 0 ? &t->failed : &t->completed, 1);
		}
		while (zr_ring_dequeue(ev, &v))
			atomic_fetch_add(&t->events_out, 1);
		zr_agent_heartbeat(g);
		if (atomic_load(&t->phase) == RUN)
			continue;
		/* quiescing: stop once the producers are idle and nothing came for a while */
		empty_since_quiesce = got == 1 ? 0 : empty_since_quiesce + 1;
		if (atomic_load(&t->idle) >= PRODUCERS && empty_since_quiesce > 2000)
			break;
		if (got != 1)
			usleep(100);
	}
	idle_until_stop(t);
	zr_ring_close(ev);
	zr_agent_unregister(g);
	zr_arena_close(a);
}

static void print_counts(zr_arena *a, struct tally *t)
{
	zr_jobs_stats s;
	zr_jobs_stat(a, &s);
	zr_ring *ev = NULL;
	TRY(zr_ring_open(a, "events", &ev));
	zr_ring_stats r;
	zr_ring_stat(ev, &r);
	zr_ring_close(ev);
	printf("{\"tally\": {\"submitted\": %" PRIu64 ", \"completed\": %" PRIu64
	       ", \"failed\": %" PRIu64 ", \"released\": %" PRIu64 ", \"events_in\": %" PRIu64
	       ", \"events_out\": %" PRIu64 "},",
	       atomic_load(&t->submitted), atomic_load(&t->completed), atomic_load(&t->failed),
	       atomic_load(&t->released), atomic_load(&t->events_in), atomic_load(&t->events_out));
	printf(" \"runtime\": {\"submitted\": %" PRIu64 ", \"claimed\": %" PRIu64
	       ", \"completed\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"retried\": %" PRIu64
	       ", \"released\": %" PRIu64 ", \"dead_letters\": %" PRIu64 ", \"pending\": %" PRIu64
	       ", \"free_records\": %" PRIu64 ", \"events_enqueued\": %" PRIu64
	       ", \"events_dequeued\": %" PRIu64 ", \"events_depth\": %u}}\n",
	       s.submitted, s.claimed, s.completed, s.failed, s.retried, s.released, s.dead_letters,
	       s.by_status[ZR_JOB_PENDING], s.by_status[ZR_JOB_FREE], r.enqueued, r.dequeued,
	       r.count);
	fflush(stdout);
}

/* ---- journaled ----------------------------------------------------------------
 * An arena journaling to DIR (SYNC): 40 jobs with payloads, some completed,
 * one failed for good, one processing; left in place for the tool. */
static int journaled(const char *name, const char *dir)
{
	zr_journal_config jc;
	zr_journal_config_init(&jc, dir);
	jc.durability = ZR_DURABILITY_SYNC;
	jc.segment_bytes = 1u << 20;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)16 << 20);
	cfg.max_jobs = 1024;
	cfg.journal = &jc;
	zr_arena *a = NULL;
	zr_diag d = {0};
	if (zr_arena_unlink(name)) {
	}
	if (zr_arena_create(name, &cfg, &a, &d))
		DIE("create %s: %s", name, d.msg);
	zr_agent *p, *w;
	TRY(zr_agent_register(a, "producer", NULL, &p));
	TRY(zr_agent_register(a, "worker", NULL, &w));
	for (int i = 0; i < 40; i++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		b.prio = (uint32_t)(i % 4);
		size_t len = (size_t)64 << (i % 12);
		TRY(zr_payload_alloc(a, len, &b.payload));
		memset(zr_payload_ptr(a, b.payload), 'a' + i % 26, len);
		b.payload_len = len;
		zr_job_id id;
		TRY(zr_job_submit(p, &b, &id, NULL));
	}
	for (int i = 0; i < 12; i++) {
		zr_claim c;
		if (zr_job_claim(w, &c) != 1)
			DIE("claim");
		if (i == 10)
			TRY(zr_job_fail(w, &c, "for good", false));
		else if (i < 10)
			TRY(zr_job_complete(w, &c, ZR_PAYLOAD_NULL, 0));
	}
	TRY(zr_journal_flush(a, -1));
	zr_agent_unregister(p);
	zr_agent_unregister(w);
	zr_arena_close(a);
	return 0;
}

static int workload(const char *name)
{
	zr_arena *a = create(name, (size_t)32 << 20);
	zr_ring_config rc = {ZR_RING_MPMC, 1024, ZR_WAIT_SPIN};
	zr_ring *ev = NULL;
	TRY(zr_ring_create(a, "events", &rc, &ev));
	zr_ring_close(ev);
	struct tally *t =
		mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		DIE("mmap: %s", strerror(errno));
	memset(t, 0, sizeof(*t));
	pid_t kids[PRODUCERS + WORKERS];
	for (int i = 0; i < PRODUCERS + WORKERS; i++) {
		fflush(stdout);
		kids[i] = fork();
		if (kids[i] < 0)
			DIE("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			if (i < PRODUCERS)
				producer(name, i, t);
			else
				worker(name, i - PRODUCERS, t);
			_exit(0);
		}
	}
	/* "running" once jobs flow: the shared queue exists from the first
	 * submit on, and the test reads it at once (a loaded machine may take
	 * a while to schedule the children) */
	while (atomic_load(&t->submitted) == 0)
		usleep(1000);
	printf("running\n");
	fflush(stdout);
	char line[64];
	bool quiesced = false;
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "quiesce", 7) || quiesced)
			continue;
		atomic_store(&t->phase, QUIESCE);
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (atomic_load(&t->idle) < PRODUCERS + WORKERS) {
			usleep(1000);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec > 60)
				DIE("the workload did not quiesce within 60 s");
		}
		quiesced = true;
		print_counts(a, t);
	}
	atomic_store(&t->phase, STOP);
	int bad = 0;
	for (int i = 0; i < PRODUCERS + WORKERS; i++) {
		int st = 0;
		waitpid(kids[i], &st, 0);
		bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	zr_arena_close(a);
	TRY(zr_arena_unlink(name));
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && (!strcmp(argv[1], "golden") || !strcmp(argv[1], "golden-file")))
		return golden(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "stale"))
		return stale(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "journaled"))
		return journaled(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "workload"))
		return workload(argv[2]);
	fprintf(stderr, "usage: zring_fixture golden|golden-file|stale|workload NAME | journaled "
			"NAME DIR\n");
	return 2;
}
