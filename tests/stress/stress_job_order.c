/* tests/stress/stress_job_order.c (label stress): priority order and TTL
 * expiry across PROCESSES.
 *
 * Order: in each round two producer processes submit jobs at random
 * priorities, each one either to the worker's inbox or to the shared queue,
 * while the worker process waits at a gate. Then the worker drains them
 * all with non-blocking claims and checks what zr_job_claim() promises:
 * priorities never go back up, at each priority its own inbox comes before
 * the shared queue, and within one priority and one queue each producer's
 * jobs come in the order they were submitted.
 *
 * TTL: a producer process submits jobs with a short TTL to an agent that
 * never claims; a reaper running in another process expires them; the
 * producer's zr_job_wait() sees each one EXPIRED with its payload freed, and
 * once released the slab is idle again.
 *
 * Options: --rounds N (default 40), --timeout S. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/stress.h"

#define PRODUCERS 2u
#define PER_ROUND 500u /* per producer: inbox levels hold 1024 */
#define TTL_JOBS 300u
#define TTL_NS 50000000ull

struct shared {
	_Atomic uint32_t failed;
	_Atomic uint32_t submitted_round[PRODUCERS]; /* last round each producer finished */
	_Atomic uint32_t gate;			     /* the round the worker may drain */
	_Atomic uint32_t drained;		     /* the last round the worker drained */
	_Atomic uint64_t claims;
	_Atomic uint32_t ttl_done; /* the TTL producer is through: the reaper may go */
	uint32_t rounds;
};

/* What each job carries, in place. */
struct order_tag {
	uint32_t producer, round, seq, prio;
	uint32_t shared; /* submitted to the shared queue */
};

static struct shared *sh;
static char g_arena[64];

static int fail_child(const char *what, int rc)
{
	printf("child %d: %s: %s\n", (int)getpid(), what, zr_strerror(rc));
	atomic_store(&sh->failed, 1);
	return 1;
}

static int attach(const char *name, zr_arena **a, zr_agent **ag)
{
	int rc = zr_arena_open(g_arena, 0, a, NULL);
	if (rc == 0 && name)
		rc = zr_agent_register(*a, name, NULL, ag);
	return rc;
}

static bool wait_until(_Atomic uint32_t *w, uint32_t want, uint64_t deadline)
{
	while (atomic_load(w) < want) {
		if (atomic_load(&sh->failed) || zr_test_now_ns() > deadline)
			return false;
		zr_test_sleep_ns(20000);
	}
	return true;
}

/* ---- order --------------------------------------------------------------- */

static int producer(unsigned me, uint64_t seed, unsigned timeout_s)
{
	zr_arena *a;
	zr_agent *ag;
	int rc = attach(me ? "producer-1" : "producer-0", &a, &ag);
	if (rc)
		return fail_child("attach", rc);
	uint32_t worker = zr_agent_lookup(a, "worker");
	zr_job_id *ids = calloc(PER_ROUND, sizeof(*ids));
	uint64_t rng = seed, deadline = zr_stress_deadline(timeout_s);
	for (uint32_t round = 1; round <= sh->rounds && rc == 0; round++) {
		/* a round starts once the worker has drained the last one whole */
		if (!wait_until(&sh->drained, round - 1, deadline))
			rc = -ETIMEDOUT;
		for (uint32_t seq = 0; seq < PER_ROUND && rc == 0; seq++) {
			uint64_t r = zr_test_rand(&rng);
			zr_job_builder b;
			zr_job_builder_init(&b, ZR_JOB_QUERY);
			b.prio = (uint32_t)(r % ZR_PRIO_COUNT);
			b.target = (r >> 8) & 1 ? 0 : worker;
			rc = zr_payload_alloc(a, sizeof(struct order_tag), &b.payload);
			if (rc)
				break;
			*(struct order_tag *)zr_payload_ptr(a, b.payload) =
				(struct order_tag){me, round, seq, b.prio, b.target == 0};
			b.payload_len = sizeof(struct order_tag);
			rc = zr_job_submit(ag, &b, &ids[seq], NULL);
		}
		atomic_store(&sh->submitted_round[me], round);
		/* the worker drains and completes; then we release ours */
		for (uint32_t seq = 0; seq < PER_ROUND && rc == 0; seq++) {
			zr_job_info info;
			uint64_t now = zr_test_now_ns();
			rc = now < deadline
				     ? zr_job_wait(a, ids[seq], (int64_t)(deadline - now), &info)
				     : -ETIMEDOUT;
			if (rc == 0 && info.status != ZR_JOB_COMPLETED)
				rc = -EPROTO;
			if (rc == 0)
				rc = zr_job_release(a, ids[seq]);
		}
	}
	free(ids);
	if (rc)
		return fail_child("producer", rc);
	zr_agent_unregister(ag);
	return zr_arena_close(a) ? 1 : 0;
}

/* Check one claim against the previous; 0 or a description in `why`. */
static int check_order(const struct order_tag *t, const struct order_tag *prev,
		       uint32_t last_seq[2][ZR_PRIO_COUNT][PRODUCERS], char *why, size_t cap)
{
	if (prev && t->prio < prev->prio)
		snprintf(why, cap, "priority %u claimed after %u", t->prio, prev->prio);
	else if (prev && t->prio == prev->prio && prev->shared && !t->shared)
		snprintf(why, cap, "own inbox after the shared queue at priority %u", t->prio);
	else if (last_seq[t->shared][t->prio][t->producer] != UINT32_MAX &&
		 t->seq <= last_seq[t->shared][t->prio][t->producer])
		snprintf(why, cap, "producer %u seq %u after seq %u (priority %u, %s)", t->producer,
			 t->seq, last_seq[t->shared][t->prio][t->producer], t->prio,
			 t->shared ? "shared" : "inbox");
	else
		return 0;
	return -1;
}

static int drain_round(zr_agent *ag, uint32_t round)
{
	uint32_t last_seq[2][ZR_PRIO_COUNT][PRODUCERS];
	memset(last_seq, 0xff, sizeof(last_seq));
	struct order_tag prev = {0};
	for (uint32_t n = 0; n < PRODUCERS * PER_ROUND; n++) {
		zr_claim c;
		int got = zr_job_claim(ag, &c);
		if (got != 1) {
			printf("round %u: claim %u of %u found %s\n", round, n,
			       PRODUCERS * PER_ROUND, got == 0 ? "nothing" : zr_strerror(got));
			return -1;
		}
		struct order_tag t = *(const struct order_tag *)c.data;
		char why[160];
		if (t.round != round ||
		    check_order(&t, n ? &prev : NULL, last_seq, why, sizeof(why))) {
			printf("round %u claim %u: %s\n", round, n,
			       t.round != round ? "a job of another round" : why);
			return -1;
		}
		last_seq[t.shared][t.prio][t.producer] = t.seq;
		prev = t;
		int rc = zr_job_complete(ag, &c, ZR_PAYLOAD_NULL, 0);
		if (rc)
			return fail_child("complete", rc);
		atomic_fetch_add(&sh->claims, 1);
	}
	return 0;
}

static int worker(unsigned timeout_s)
{
	zr_arena *a;
	zr_agent *ag;
	int rc = attach("worker", &a, &ag);
	if (rc)
		return fail_child("attach", rc);
	uint64_t deadline = zr_stress_deadline(timeout_s);
	for (uint32_t round = 1; round <= sh->rounds; round++) {
		if (!wait_until(&sh->gate, round, deadline) || drain_round(ag, round) != 0) {
			atomic_store(&sh->failed, 1);
			return 1;
		}
		atomic_store(&sh->drained, round);
	}
	zr_agent_unregister(ag);
	return zr_arena_close(a) ? 1 : 0;
}

/* The parent opens the gate once both producers have submitted a round. */
static int run_order(zr_arena *a, const struct zr_stress_opt *o)
{
	struct zr_stress_family fam = {0};
	pid_t pid = fork();
	if (pid == 0)
		_exit(worker(o->timeout_s));
	fam.pid[fam.n++] = pid;
	uint64_t deadline = zr_stress_deadline(o->timeout_s);
	while (!zr_agent_lookup(a, "worker"))
		if (zr_test_now_ns() > deadline || atomic_load(&sh->failed))
			return ZR_TEST_FAIL;
	for (unsigned i = 0; i < PRODUCERS; i++) {
		uint64_t seed = zr_test_seed + i + 1;
		if ((pid = fork()) == 0)
			_exit(producer(i, seed, o->timeout_s));
		fam.pid[fam.n++] = pid;
	}
	for (uint32_t round = 1; round <= sh->rounds; round++) {
		bool ok = true;
		for (unsigned i = 0; i < PRODUCERS && ok; i++)
			ok = wait_until(&sh->submitted_round[i], round, deadline);
		if (!ok) {
			zr_stress_kill_all(&fam);
			ZR_CHECK(false, "round %u: producers did not submit in time", round);
		}
		atomic_store(&sh->gate, round);
	}
	return zr_stress_wait_family(&fam, a, NULL, &sh->failed, o->timeout_s, NULL, NULL);
}

/* ---- TTL ------------------------------------------------------------------ */

static int ttl_producer(void)
{
	zr_arena *a;
	zr_agent *ag;
	int rc = attach("ttl-producer", &a, &ag);
	if (rc)
		return fail_child("attach", rc);
	zr_job_id ids[TTL_JOBS];
	uint32_t sleeper = zr_agent_lookup(a, "sleeper");
	for (unsigned i = 0; i < TTL_JOBS && rc == 0; i++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_CONTROL);
		b.target = sleeper;
		b.prio = i % ZR_PRIO_COUNT;
		b.ttl_ns = TTL_NS;
		rc = zr_payload_alloc(a, 64u << (i % 8), &b.payload);
		if (rc == 0) {
			b.payload_len = 64;
			rc = zr_job_submit(ag, &b, &ids[i], NULL);
		}
	}
	for (unsigned i = 0; i < TTL_JOBS && rc == 0; i++) {
		zr_job_info info;
		rc = zr_job_wait(a, ids[i], 10ll * 1000000000, &info);
		if (rc == 0 && (info.status != ZR_JOB_EXPIRED || info.payload.v != 0 ||
				info.finish_ns < info.submit_ns + TTL_NS))
			rc = -EPROTO;
		if (rc == 0)
			rc = zr_job_release(a, ids[i]);
	}
	atomic_store(&sh->ttl_done, 1);
	if (rc)
		return fail_child("ttl producer", rc);
	zr_agent_unregister(ag);
	return zr_arena_close(a) ? 1 : 0;
}

static int ttl_reaper(void)
{
	zr_arena *a;
	int rc = attach(NULL, &a, NULL);
	zr_reaper *r = NULL;
	if (rc == 0)
		rc = zr_reaper_start(a, 5000000, &r);
	if (rc)
		return fail_child("reaper", rc);
	while (!atomic_load(&sh->ttl_done) && !atomic_load(&sh->failed))
		zr_test_sleep_ns(1000000);
	zr_reaper_stop(r, NULL, NULL);
	return zr_arena_close(a) ? 1 : 0;
}

static int run_ttl(zr_arena *a, const struct zr_stress_opt *o)
{
	zr_agent *sleeper;
	ZR_CHECK_RC(zr_agent_register(a, "sleeper", NULL, &sleeper));
	struct zr_stress_family fam = {0};
	pid_t pid = fork();
	if (pid == 0)
		_exit(ttl_reaper());
	fam.pid[fam.n++] = pid;
	if ((pid = fork()) == 0)
		_exit(ttl_producer());
	fam.pid[fam.n++] = pid;
	int rc = zr_stress_wait_family(&fam, a, NULL, &sh->failed, o->timeout_s, NULL, NULL);
	zr_jobs_stats js;
	zr_jobs_stat(a, &js);
	ZR_CHECK(js.expired == TTL_JOBS, "%" PRIu64 " jobs expired, %u expected", js.expired,
		 TTL_JOBS);
	zr_agent_unregister(sleeper);
	return rc;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0); /* children leave by _exit() */
	struct zr_stress_opt o;
	zr_stress_parse(argc, argv, "--rounds", 40, &o);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZR_CHECK(sh != MAP_FAILED, "mmap of the shared state failed");
	sh->rounds = (uint32_t)o.count;
	zr_arena *a = zr_test_arena((size_t)32 << 20, g_arena);
	if (run_order(a, &o) != 0)
		return ZR_TEST_FAIL;
	ZR_CHECK(atomic_load(&sh->claims) == (uint64_t)sh->rounds * PRODUCERS * PER_ROUND,
		 "%" PRIu64 " claims, expected %" PRIu64, atomic_load(&sh->claims),
		 (uint64_t)sh->rounds * PRODUCERS * PER_ROUND);
	printf("order: %u rounds of %u jobs claimed in priority, queue and FIFO order\n",
	       sh->rounds, PRODUCERS * PER_ROUND);
	if (run_ttl(a, &o) != 0)
		return ZR_TEST_FAIL;
	printf("ttl: %u jobs expired in another process's reaper, payloads freed\n", TTL_JOBS);
	zr_jobs_recover_report rep = {0};
	ZR_CHECK_RC(zr_jobs_recover(a, &rep));
	if (zr_stress_slab_idle(a, "at the end") != 0)
		return ZR_TEST_FAIL;
	zr_diag d = {0};
	ZR_CHECK(zr_arena_check(a, &d) == 0, "arena check: %s", d.msg);
	zr_arena_close(a);
	return ZR_TEST_PASS;
}
