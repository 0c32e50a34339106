/* crash_job: SIGKILL producers and workers of the job layer at random
 * moments, hundreds of times, and check after each kill that every role
 * keeps making progress; at the end, that every job whose submit returned
 * ended COMPLETED or FAILED for good, none was completed twice, and no
 * payload or job record stays behind once recovery ran and the jobs were
 * released.
 *
 * Two producers submit at all four priorities, a third each to worker-0,
 * worker-1 and the shared queue, with payloads of mixed sizes stamped in
 * place (zr_stress_fill). They keep a window of outstanding jobs: they
 * wait for the oldest to be final, record its status in the tally, then
 * release it. Two workers (agents worker-0, which keeps its inbox for a
 * successor, and worker-1, whose inbox goes to the shared queue when it
 * dies) verify every payload byte in place, fail one job in five on its
 * first try (retried after a backoff), fail one in 97 for good, and complete
 * the others, half with a result. A killed role is taken over at once by a
 * new process under the same agent name; the parent runs zr_jobs_recover()
 * after every kill.
 *
 * The tally lives in an anonymous MAP_SHARED map, by (producer, sequence):
 * a producer writes `attempted` before submitting and the id after the
 * submit returned, so a job whose submit may or may not have happened is
 * known (a "maybe", tolerated). A worker writes the tag of the job it is
 * about to complete in `completing` and counts the completion once
 * zr_job_complete returned 0; a worker killed in between leaves the tag
 * behind, and only such a job may end COMPLETED without being counted.
 *
 * At the end every child stops and is reaped, recovery runs, and the
 * parent itself registers as worker-0 and worker-1 and works off what is
 * left until every job is final; it then releases every job and checks the
 * tally, the slab (nothing in use, cached or orphaned) and the arena.
 *
 * Usage: crash_job [--seed N] [--kills N] (default 300, 100 under
 * sanitizers). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/job_impl.h"
#include "tests/harness/stress.h"

#define PRODUCERS 2u
#define WORKERS 2u
#define ROLES (PRODUCERS + WORKERS) /* roles 0, 1: producers; 2, 3: workers */
#define MAX_SEQ (1u << 22)	    /* per producer; one that reaches it only reaps */
#define WINDOW 256u		    /* outstanding jobs per producer */
#define MAGIC UINT64_C(0x4b)
#define MAX_SIZE ((size_t)128 << 10)
#define MAX_RETRIES 8u
#define FAIL_ONCE 5u		/* seq % 5 == 0: failed on the first try, retried */
#define FAIL_FOR_GOOD 97u	/* seq % 97 == 0: failed for good */
#define LEASE_NS 60000000000ull /* never runs out: dead holders are recovered */
#define PROGRESS_NS 10000000000ull
#define POLL_NS 20000000ll

struct prod_state {
	_Atomic uint64_t attempted; /* highest seq handed to zr_job_submit */
	_Atomic uint64_t returned;  /* highest seq whose submit returned 0 */
	_Atomic uint64_t acked;	    /* every seq up to here is final, recorded, released */
	_Atomic uint64_t ops;	    /* submits and reaps: progress */
};

struct work_state {
	_Atomic uint64_t completing; /* tag of the job being completed, 0: none */
	_Atomic uint64_t ops;	     /* jobs finished: progress */
	_Atomic uint64_t completed, failed_once, failed_for_good;
};

struct shared {
	char arena[64];
	_Atomic uint32_t stop;
	_Atomic uint32_t failed;
	pid_t pid[ROLES];
	uint32_t kills[ROLES];
	struct prod_state prod[PRODUCERS];
	struct work_state work[WORKERS + 1];	   /* the last one: the parent at the end */
	_Atomic uint64_t ids[PRODUCERS][MAX_SEQ];  /* written once submit returned */
	_Atomic uint8_t fin[PRODUCERS][MAX_SEQ];   /* final status, once seen */
	_Atomic uint8_t done[PRODUCERS][MAX_SEQ];  /* zr_job_complete returned 0 */
	_Atomic uint8_t maybe[PRODUCERS][MAX_SEQ]; /* its completer was killed mid-way */
};

static struct shared *sh;

/* Print a failure of a child, mark the run failed and leave. */
#define CHILD_CHECK(expr, ...)                                                                     \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: pid %d: %s: ", __FILE__, __LINE__, (int)getpid(),  \
				#expr);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			atomic_store(&sh->failed, 1);                                              \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

/* Same, for code the parent shares: print and return -1. */
#define SOFT_CHECK(expr, ...)                                                                      \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: pid %d: %s: ", __FILE__, __LINE__, (int)getpid(),  \
				#expr);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static zr_arena *open_arena(void)
{
	zr_arena *a;
	zr_diag d = {0};
	int rc = zr_arena_open(sh->arena, 0, &a, &d);
	CHILD_CHECK(rc == 0, "open: %s", d.msg);
	return a;
}

static zr_agent *register_as(zr_arena *a, const char *name, uint32_t on_death)
{
	zr_agent_config cfg;
	zr_agent_config_init(&cfg);
	cfg.on_death = on_death;
	zr_agent *ag = NULL;
	/* the predecessor is dead: register marks it and takes its slot over */
	int rc = zr_agent_register(a, name, &cfg, &ag);
	return rc == 0 ? ag : NULL;
}

/* ---- the final state of a job ---------------------------------------------- */

static bool tag_ok(uint64_t tag)
{
	return tag >> 56 == MAGIC && zr_stress_tag_from(tag) < PRODUCERS &&
	       zr_stress_tag_seq(tag) < MAX_SEQ;
}

/* Is a final snapshot of the job (producer `from`, seq) what it should be? */
static int check_final(const zr_arena *a, const zr_job_info *in, unsigned from, uint64_t seq)
{
	uint64_t tag = zr_stress_tag(MAGIC, from, seq);
	const uint64_t *p = zr_payload_ptr(a, in->payload);
	SOFT_CHECK(p && *p == tag, "job %#" PRIx64 " (%u, %" PRIu64 "): payload tag lost", in->id,
		   from, seq);
	if (in->status == ZR_JOB_FAILED) {
		SOFT_CHECK(seq % FAIL_FOR_GOOD == 0 || in->retries > in->max_retries,
			   "job %#" PRIx64 " (%u, %" PRIu64 ") FAILED with retries %u of %u: %s",
			   in->id, from, seq, in->retries, in->max_retries, in->error);
		return 0;
	}
	SOFT_CHECK(in->status == ZR_JOB_COMPLETED, "job %#" PRIx64 " (%u, %" PRIu64 ") is %s",
		   in->id, from, seq, zr_job_status_name(in->status));
	SOFT_CHECK(seq % FAIL_FOR_GOOD != 0, "job (%u, %" PRIu64 ") completed", from, seq);
	SOFT_CHECK(seq % FAIL_ONCE != 0 || in->retries >= 1,
		   "job (%u, %" PRIu64 ") completed without its retry", from, seq);
	if (in->result.v) {
		const unsigned char *r = zr_payload_ptr(a, in->result);
		SOFT_CHECK(r && zr_stress_verify(r, in->result_len, tag) == in->result_len,
			   "job (%u, %" PRIu64 "): result damaged", from, seq);
	}
	return 0;
}

/* ---- producers ---------------------------------------------------------- */

struct producer {
	zr_arena *a;
	zr_agent *ag;
	unsigned me;
	uint32_t targets[WORKERS];
	uint64_t rng;
	uint64_t next; /* seq to submit next */
};

/* Wait up to timeout_ns for the oldest outstanding job: record its final
 * status, then release it. 1: the window moved; 0: not final yet. */
static int reap_oldest(struct producer *p, int64_t timeout_ns)
{
	struct prod_state *ps = &sh->prod[p->me];
	uint64_t seq = atomic_load(&ps->acked) + 1;
	if (seq >= p->next)
		return 0;
	zr_job_id id = atomic_load(&sh->ids[p->me][seq]);
	if (id != 0) {
		zr_job_info in;
		int rc = zr_job_wait(p->a, id, timeout_ns, &in);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			return 0;
		/* gone: a killed predecessor recorded and released it */
		CHILD_CHECK(rc == 0 || (rc == ZR_ESTALE && atomic_load(&sh->fin[p->me][seq])),
			    "producer %u seq %" PRIu64 " job %#" PRIx64 ": wait: %s", p->me, seq,
			    id, zr_strerror(rc));
		if (rc == 0) {
			CHILD_CHECK(check_final(p->a, &in, p->me, seq) == 0, "bad final state");
			atomic_store(&sh->fin[p->me][seq], (uint8_t)in.status);
			rc = zr_job_release(p->a, id);
			CHILD_CHECK(rc == 0, "release %#" PRIx64 ": %s", id, zr_strerror(rc));
		}
	} /* else: a killed predecessor's maybe; the checker finds it at the end */
	atomic_store(&ps->acked, seq);
	atomic_fetch_add(&ps->ops, 1);
	return 1;
}

static void fill_builder(struct producer *p, zr_job_builder *b)
{
	zr_job_builder_init(b, ZR_JOB_COMPUTE);
	uint64_t r = zr_test_rand(&p->rng);
	b->prio = (uint32_t)(r % ZR_PRIO_COUNT);
	unsigned to = (unsigned)((r >> 8) % (WORKERS + 1));
	b->target = to < WORKERS ? p->targets[to] : 0;
	b->max_retries = MAX_RETRIES;
	b->lease_ns = LEASE_NS;
	b->ttl_ns = 3600ull * 1000000000ull; /* never expires during the test */
	b->backoff_ns = 100000;
	b->backoff_max_ns = 10000000;
}

/* Submit seq p->next. false: stopped first (the payload was freed). */
static bool submit_next(struct producer *p)
{
	struct prod_state *ps = &sh->prod[p->me];
	uint64_t seq = p->next;
	zr_job_builder b;
	fill_builder(p, &b);
	size_t size = zr_stress_pick_size(&p->rng, MAX_SIZE);
	int rc;
	while ((rc = zr_payload_alloc(p->a, size, &b.payload)) == -ENOMEM) {
		if (atomic_load(&sh->stop))
			return false;
		zr_test_sleep_ns(100000);
	}
	CHILD_CHECK(rc == 0, "alloc %zu: %s", size, zr_strerror(rc));
	zr_stress_fill(zr_payload_ptr(p->a, b.payload), size, zr_stress_tag(MAGIC, p->me, seq));
	b.payload_len = size;
	atomic_store(&ps->attempted, seq);
	zr_job_id id;
	while ((rc = zr_job_submit(p->ag, &b, &id, NULL)) == ZR_EFULL) {
		if (atomic_load(&sh->stop)) {
			CHILD_CHECK(zr_payload_free(p->a, b.payload) == 0, "free");
			return false;
		}
		zr_test_sleep_ns(100000);
	}
	CHILD_CHECK(rc == 0, "submit seq %" PRIu64 ": %s", seq, zr_strerror(rc));
	atomic_store(&sh->ids[p->me][seq], id);
	atomic_store(&ps->returned, seq);
	atomic_fetch_add(&ps->ops, 1);
	p->next = seq + 1;
	return true;
}

static void producer_main(unsigned me, uint64_t seed)
{
	struct producer p = {.a = open_arena(), .me = me, .rng = seed};
	char name[32];
	snprintf(name, sizeof(name), "producer-%u", me);
	p.ag = register_as(p.a, name, ZR_ON_DEATH_KEEP);
	CHILD_CHECK(p.ag, "register %s", name);
	for (unsigned w = 0; w < WORKERS; w++) {
		snprintf(name, sizeof(name), "worker-%u", w);
		while (!(p.targets[w] = zr_agent_lookup(p.a, name)) && !atomic_load(&sh->stop))
			zr_test_sleep_ns(1000000);
	}
	/* never reuse a sequence a killed predecessor may have submitted */
	p.next = atomic_load(&sh->prod[me].attempted) + 1;
	while (!atomic_load(&sh->stop)) {
		bool full = p.next > atomic_load(&sh->prod[me].acked) + WINDOW || p.next >= MAX_SEQ;
		if (reap_oldest(&p, full ? POLL_NS : 0) || full)
			continue;
		if (!submit_next(&p))
			break;
	}
	zr_agent_unregister(p.ag);
	CHILD_CHECK(zr_arena_close(p.a) == 0, "close");
	_exit(0);
}

/* ---- workers ------------------------------------------------------------ */

/* Complete a claim, half the time with a result; counted once it returned 0. */
static int complete_one(zr_agent *ag, struct work_state *ws, const zr_claim *c, uint64_t tag)
{
	zr_arena *a = zr_agent_arena(ag);
	unsigned from = zr_stress_tag_from(tag);
	uint64_t seq = zr_stress_tag_seq(tag);
	zr_payload res = ZR_PAYLOAD_NULL;
	size_t len = seq % 2 ? 16 + (size_t)(seq % 3) * 1000 : 0;
	int rc;
	if (len) {
		while ((rc = zr_payload_alloc(a, len, &res)) == -ENOMEM)
			zr_test_sleep_ns(100000);
		SOFT_CHECK(rc == 0, "result alloc: %s", zr_strerror(rc));
		zr_stress_fill(zr_payload_ptr(a, res), len, tag);
	}
	atomic_store(&ws->completing, tag);
	rc = zr_job_complete(ag, c, res, len);
	SOFT_CHECK(rc == 0, "complete %#" PRIx64 " (%u, %" PRIu64 "): %s", c->id, from, seq,
		   zr_strerror(rc));
	atomic_fetch_add(&sh->done[from][seq], 1);
	atomic_store(&ws->completing, 0);
	atomic_fetch_add(&ws->completed, 1);
	return 0;
}

/* Verify a claimed job's payload in place, then fail or complete it. */
static int process(zr_agent *ag, struct work_state *ws, const zr_claim *c)
{
	SOFT_CHECK(c->data && c->len >= 16, "job %#" PRIx64 ": payload %p len %" PRIu64, c->id,
		   c->data, c->len);
	uint64_t tag = *(const uint64_t *)c->data;
	SOFT_CHECK(tag_ok(tag), "job %#" PRIx64 ": bad tag %#" PRIx64, c->id, tag);
	unsigned from = zr_stress_tag_from(tag);
	uint64_t seq = zr_stress_tag_seq(tag);
	size_t bad = zr_stress_verify(c->data, c->len, tag);
	SOFT_CHECK(bad == c->len,
		   "job %#" PRIx64 " (%u, %" PRIu64 "): payload byte %zu of %" PRIu64, c->id, from,
		   seq, bad, c->len);
	SOFT_CHECK(!atomic_load(&sh->fin[from][seq]) && atomic_load(&sh->done[from][seq]) == 0,
		   "job %#" PRIx64 " (%u, %" PRIu64 ") claimed after it was final", c->id, from,
		   seq);
	int rc;
	if (seq % FAIL_FOR_GOOD == 0) {
		rc = zr_job_fail(ag, c, "fails for good", false);
		SOFT_CHECK(rc == 0, "fail %#" PRIx64 ": %s", c->id, zr_strerror(rc));
		atomic_fetch_add(&ws->failed_for_good, 1);
	} else if (seq % FAIL_ONCE == 0 && c->retries == 0) {
		rc = zr_job_fail(ag, c, "first try fails", true);
		SOFT_CHECK(rc == 0, "fail %#" PRIx64 ": %s", c->id, zr_strerror(rc));
		atomic_fetch_add(&ws->failed_once, 1);
	} else if (complete_one(ag, ws, c, tag) != 0) {
		return -1;
	}
	atomic_fetch_add(&ws->ops, 1);
	return 0;
}

static uint32_t on_death_of(unsigned w)
{
	return w == 0 ? ZR_ON_DEATH_KEEP : ZR_ON_DEATH_TO_SHARED;
}

static void worker_main(unsigned me)
{
	zr_arena *a = open_arena();
	char name[32];
	snprintf(name, sizeof(name), "worker-%u", me);
	zr_agent *ag = register_as(a, name, on_death_of(me));
	CHILD_CHECK(ag, "register %s", name);
	struct work_state *ws = &sh->work[me];
	while (!atomic_load(&sh->stop)) {
		zr_claim c;
		int rc = zr_job_claim_wait(ag, &c, POLL_NS);
		if (rc == 0)
			continue;
		CHILD_CHECK(rc == 1, "claim: %s", zr_strerror(rc));
		CHILD_CHECK(process(ag, ws, &c) == 0, "worker %u", me);
	}
	zr_agent_unregister(ag);
	CHILD_CHECK(zr_arena_close(a) == 0, "close");
	_exit(0);
}

/* ---- the parent: kills ------------------------------------------------------ */

static pid_t spawn(unsigned role, uint64_t seed)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		if (role < PRODUCERS)
			producer_main(role, seed);
		worker_main(role - PRODUCERS);
	}
	return pid;
}

static uint64_t role_ops(unsigned role)
{
	return role < PRODUCERS ? atomic_load(&sh->prod[role].ops)
				: atomic_load(&sh->work[role - PRODUCERS].ops);
}

/* A producer at MAX_SEQ with its window empty, or every worker once both
 * producers are there, may rest. */
static bool may_rest(unsigned role)
{
	bool all = true;
	for (unsigned i = 0; i < PRODUCERS; i++) {
		uint64_t att = atomic_load(&sh->prod[i].attempted);
		bool idle = att >= MAX_SEQ - 1 && atomic_load(&sh->prod[i].acked) >= att;
		if (role == i)
			return idle;
		all &= idle;
	}
	return all;
}

/* A child that ended on its own failed (or crashed): say so. */
static int reap_unexpected(void)
{
	int st;
	pid_t pid = waitpid(-1, &st, WNOHANG);
	if (pid <= 0)
		return 0;
	fprintf(stderr, "child %d ended on its own: status %#x\n", (int)pid, st);
	return -1;
}

/* Every role (the new process included) finishes something within 10 s. */
static int all_progress(void)
{
	uint64_t before[ROLES];
	for (unsigned r = 0; r < ROLES; r++)
		before[r] = role_ops(r);
	uint64_t deadline = zr_test_now_ns() + PROGRESS_NS;
	while (zr_test_now_ns() < deadline) {
		if (atomic_load(&sh->failed) || reap_unexpected())
			return -1;
		bool done = true;
		for (unsigned r = 0; r < ROLES; r++)
			done &= role_ops(r) != before[r] || may_rest(r);
		if (done)
			return 0;
		zr_test_sleep_ns(200000);
	}
	for (unsigned r = 0; r < ROLES; r++)
		if (role_ops(r) == before[r] && !may_rest(r))
			fprintf(stderr, "%s %u: no progress in 10 s (ops %" PRIu64 ")\n",
				r < PRODUCERS ? "producer" : "worker", r % PRODUCERS, before[r]);
	return -1;
}

static void dump_job(const zr_arena *a, const char *who, uint64_t seq, zr_job_id id)
{
	zr_job_info in;
	int rc = id ? zr_job_get(a, id, &in) : ZR_ESTALE;
	if (rc) {
		fprintf(stderr, "  %s seq %" PRIu64 " job %#" PRIx64 ": %s\n", who, seq, id,
			id ? zr_strerror(rc) : "submit never returned");
		return;
	}
	fprintf(stderr,
		"  %s seq %" PRIu64 " job %#" PRIx64 ": %s prio %s target %u holder %u retries "
		"%u/%u attempt %u error '%s'\n",
		who, seq, id, zr_job_status_name(in.status), zr_prio_name(in.prio), in.target,
		in.holder, in.retries, in.max_retries, in.attempt, in.error);
}

/* What every role was doing, the oldest jobs each producer waits for, the
 * agents, and the table by status. */
static void dump_state(const zr_arena *a)
{
	for (unsigned i = 0; i < PRODUCERS; i++) {
		struct prod_state *ps = &sh->prod[i];
		uint64_t acked = atomic_load(&ps->acked), ret = atomic_load(&ps->returned);
		fprintf(stderr,
			"producer %u pid %d: attempted %" PRIu64 " returned %" PRIu64
			" acked %" PRIu64 " ops %" PRIu64 "\n",
			i, (int)sh->pid[i], atomic_load(&ps->attempted), ret, acked,
			atomic_load(&ps->ops));
		for (uint64_t s = acked + 1; s <= ret && s <= acked + 8; s++)
			dump_job(a, "oldest", s, atomic_load(&sh->ids[i][s]));
	}
	for (unsigned w = 0; w < WORKERS; w++)
		fprintf(stderr, "worker %u pid %d: ops %" PRIu64 " completing %#" PRIx64 "\n", w,
			(int)sh->pid[PRODUCERS + w], atomic_load(&sh->work[w].ops),
			atomic_load(&sh->work[w].completing));
	zr_agent_info ai[16];
	size_t n;
	zr_agent_list(a, 0, ai, 16, &n);
	for (size_t i = 0; i < n && i < 16; i++)
		fprintf(stderr, "agent %s id %#x status %u pid %u inbox %u claimed %" PRIu64 "\n",
			ai[i].name, ai[i].id, ai[i].status, ai[i].pid, ai[i].inbox_depth,
			ai[i].claimed);
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	for (unsigned s = 0; s < ZR_JOB_STATUS_COUNT; s++)
		if (st.by_status[s] && s != ZR_JOB_FREE)
			fprintf(stderr, "jobs %s: %" PRIu64 "\n", zr_job_status_name(s),
				st.by_status[s]);
}

static void kill_all(void)
{
	for (unsigned r = 0; r < ROLES; r++)
		kill(sh->pid[r], SIGKILL);
	while (wait(NULL) > 0)
		;
}

/* Before the victim's state is gone: a completion it may have made uncounted. */
static void note_victim(unsigned role)
{
	if (role < PRODUCERS)
		return;
	uint64_t t = atomic_load(&sh->work[role - PRODUCERS].completing);
	if (t && tag_ok(t))
		atomic_store(&sh->maybe[zr_stress_tag_from(t)][zr_stress_tag_seq(t)], 1);
	atomic_store(&sh->work[role - PRODUCERS].completing, 0);
}

static int kill_one(zr_arena *a, uint64_t *rng, int kill_no, zr_jobs_recover_report *rep)
{
	unsigned role = (unsigned)(zr_test_rand(rng) % ROLES);
	int st;
	kill(sh->pid[role], SIGKILL);
	waitpid(sh->pid[role], &st, 0);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		fprintf(stderr, "kill %d: role %u had ended on its own: status %#x\n", kill_no,
			role, st);
		return -1;
	}
	sh->kills[role]++;
	note_victim(role);
	int rc = zr_jobs_recover(a, rep);
	if (rc) {
		fprintf(stderr, "kill %d: recover: %s\n", kill_no, zr_strerror(rc));
		return -1;
	}
	sh->pid[role] = spawn(role, zr_test_rand(rng));
	if (all_progress() != 0) {
		fprintf(stderr, "kill %d (%s %u): the roles made no progress\n", kill_no,
			role < PRODUCERS ? "producer" : "worker", role % PRODUCERS);
		dump_state(a);
		if (getenv("ZR_CRASH_HOLD")) /* keep the processes for gdb */
			sleep(600);
		return -1;
	}
	return 0;
}

/* Ask every child to stop and reap it; each must exit 0 within 30 s. */
static int stop_all(const zr_arena *a)
{
	atomic_store(&sh->stop, 1);
	uint64_t deadline = zr_test_now_ns() + 30000000000ull;
	for (unsigned left = ROLES; left > 0;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			ZR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %#x",
				 (int)pid, st);
			left--;
			continue;
		}
		if (zr_test_now_ns() > deadline) {
			dump_state(a);
			kill_all();
			ZR_CHECK(0, "%u children did not stop in 30 s", left);
		}
		zr_test_sleep_ns(1000000);
	}
	return 0;
}

static int run(zr_arena *a, int kills, zr_jobs_recover_report *rep)
{
	uint64_t rng = zr_test_seed;
	for (unsigned r = ROLES; r-- > 0;) /* workers first: producers look them up */
		sh->pid[r] = spawn(r, zr_test_rand(&rng));
	for (int k = 0; k < kills; k++) {
		zr_test_sleep_ns((long)(zr_test_rand(&rng) % 3000000));
		if (atomic_load(&sh->failed) || kill_one(a, &rng, k, rep) != 0) {
			kill_all();
			return ZR_TEST_FAIL;
		}
	}
	return stop_all(a);
}

/* ---- the parent: the end --------------------------------------------------- */

static uint64_t unfinished(const zr_arena *a)
{
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	return st.by_status[ZR_JOB_BUILDING] + st.by_status[ZR_JOB_PENDING] +
	       st.by_status[ZR_JOB_PROCESSING] + st.by_status[ZR_JOB_DELAYED];
}

/* Work off what the children left, as worker-0 and worker-1, until every
 * job is final. */
static int finish_leftovers(zr_arena *a, zr_agent *ag[WORKERS], uint64_t *processed)
{
	struct work_state *ws = &sh->work[WORKERS];
	uint64_t deadline = zr_test_now_ns() + 30000000000ull;
	for (;;) {
		bool any = false;
		for (unsigned w = 0; w < WORKERS; w++) {
			zr_claim c;
			int rc;
			while ((rc = zr_job_claim(ag[w], &c)) == 1) {
				ZR_CHECK(process(ag[w], ws, &c) == 0, "processing a leftover");
				any = true;
			}
			ZR_CHECK(rc == 0, "claim: %s", zr_strerror(rc));
		}
		if (!any && unfinished(a) == 0)
			break;
		if (zr_test_now_ns() > deadline) {
			dump_state(a);
			ZR_CHECK(0, "%" PRIu64 " jobs never became final", unfinished(a));
		}
		if (!any)
			zr_test_sleep_ns(1000000); /* retries wait for their backoff */
	}
	*processed = atomic_load(&ws->ops);
	return 0;
}

/* Record the final status of one job left in the table, and release it. */
static int settle_one(zr_arena *a, const zr_job_info *in)
{
	const uint64_t *p = zr_payload_ptr(a, in->payload);
	ZR_CHECK(p && tag_ok(*p), "job %#" PRIx64 " without a stamped payload", in->id);
	unsigned from = zr_stress_tag_from(*p);
	uint64_t seq = zr_stress_tag_seq(*p);
	zr_job_id id = atomic_load(&sh->ids[from][seq]);
	ZR_CHECK(id == 0 || id == in->id,
		 "job %#" PRIx64 " carries (%u, %" PRIu64 ") which was submitted as %#" PRIx64,
		 in->id, from, seq, id);
	ZR_CHECK(seq <= atomic_load(&sh->prod[from].attempted),
		 "job (%u, %" PRIu64 ") beyond what was attempted", from, seq);
	ZR_CHECK(check_final(a, in, from, seq) == 0, "left in the table");
	atomic_store(&sh->fin[from][seq], (uint8_t)in->status);
	ZR_CHECK_RC(zr_job_release(a, in->id));
	return 0;
}

static int settle_all(zr_arena *a, uint64_t *left)
{
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	zr_job_info *in = calloc(st.max_jobs, sizeof(*in));
	ZR_CHECK(in, "calloc");
	size_t n = 0;
	zr_job_filter f = {0};
	int rc = zr_jobs_list(a, &f, in, st.max_jobs, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = settle_one(a, &in[i]);
	free(in);
	ZR_CHECK_RC(rc);
	*left = n;
	return 0;
}

/* The records the full table did not reach: their state word, and whether
 * the free ring still holds an entry for them (and where the ring stands). */
static void dump_untaken(zr_arena *a)
{
	for (uint32_t i = 0; i < a->max_jobs; i++) {
		uint64_t s = atomic_load(&a->jobs[i].a_state);
		if (ZRI_JS_STATUS(s) == ZR_JOB_DELAYED)
			continue;
		uint64_t e = (uint64_t)ZRI_JS_GEN(s) << 32 | i;
		fprintf(stderr,
			"record %u: state %#" PRIx64 " (status %u gen %u holder %#x flags %#x), "
			"free ring %s it\n",
			i, s, ZRI_JS_STATUS(s), ZRI_JS_GEN(s), (unsigned)ZRI_JS_HOLDER(s),
			(unsigned)ZRI_JS_FLAGS(s),
			zri_mpmc_contains(&a->job_free, e) ? "holds" : "lacks");
	}
	zr_ring_stats rs;
	zr_ring_stat(&a->job_free, &rs);
	fprintf(stderr,
		"job free ring: head %" PRIu64 " tail %" PRIu64 " count %u drops %" PRIu64
		" redelivers %" PRIu64 "\n",
		atomic_load(&a->job_free.hdr->a_head), atomic_load(&a->job_free.hdr->a_tail),
		rs.count, rs.drops, rs.redelivers);
	for (uint32_t k = 0; k < a->job_free.capacity; k++) {
		struct zri_slot *sl = &((struct zri_slot *)a->job_free.slots)[k];
		uint64_t st = atomic_load(&sl->a_state);
		if ((st & 3) != ZRI_SLOT_FREE) /* print what the slot holds */
			fprintf(stderr, "  slot %u state %#" PRIx64 " value %#" PRIx64 "\n", k, st,
				atomic_load(&sl->a_value));
	}
}

/* Every record found its way back to the free list: as many jobs as the
 * table holds can be submitted (delayed, so nothing runs them) and no more;
 * they are cancelled and released again. */
static int verify_records_free(zr_arena *a, zr_agent *ag)
{
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	zr_job_id *ids = calloc((size_t)st.max_jobs + 1, sizeof(*ids));
	ZR_CHECK(ids, "calloc");
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_CONTROL);
	b.delay_ns = 3600ull * 1000000000ull;
	uint32_t n = 0;
	int rc = 0;
	while (n <= st.max_jobs && (rc = zr_job_submit(ag, &b, &ids[n], NULL)) == 0)
		n++;
	if (n != st.max_jobs)
		dump_untaken(a);
	for (uint32_t i = 0; i < n; i++)
		if (zr_job_cancel(a, ids[i]) != 0 || zr_job_release(a, ids[i]) != 0)
			rc = -1;
	free(ids);
	if (n != st.max_jobs) { /* lost from the free ring, or a duplicate poisoned it */
		zr_diag d = {0};
		int crc = zr_arena_check(a, &d);
		fprintf(stderr, "arena check: %s %s\n", zr_strerror(crc), d.msg);
		dump_state(a);
	}
	ZR_CHECK(n == st.max_jobs, "%u of %u job records could be taken (then: %s)", n, st.max_jobs,
		 zr_strerror(rc));
	ZR_CHECK(rc == ZR_EFULL, "cancel or release of a delayed job failed");
	return 0;
}

struct totals {
	uint64_t returned, completed, failed, maybe_submits, maybe_done;
};

/* Every job whose submit returned is COMPLETED (counted once, or by a
 * worker killed before it could count) or FAILED (never counted). */
static int verify_tally(struct totals *t)
{
	for (unsigned p = 0; p < PRODUCERS; p++) {
		uint64_t att = atomic_load(&sh->prod[p].attempted);
		for (uint64_t seq = 1; seq <= att; seq++) {
			uint8_t f = atomic_load(&sh->fin[p][seq]),
				d = atomic_load(&sh->done[p][seq]);
			bool maybe = atomic_load(&sh->maybe[p][seq]);
			ZR_CHECK(d <= 1, "job (%u, %" PRIu64 ") completed %u times", p, seq, d);
			if (atomic_load(&sh->ids[p][seq]) == 0) {
				t->maybe_submits++;
				continue;
			}
			t->returned++;
			ZR_CHECK(f == ZR_JOB_COMPLETED || f == ZR_JOB_FAILED,
				 "job (%u, %" PRIu64 ") %#" PRIx64 ": submit returned, ended %s", p,
				 seq, atomic_load(&sh->ids[p][seq]),
				 f ? zr_job_status_name(f) : "lost");
			ZR_CHECK(f == ZR_JOB_COMPLETED ? d == 1 || maybe : d == 0,
				 "job (%u, %" PRIu64 ") is %s but counted %u completions%s", p, seq,
				 zr_job_status_name(f), d, maybe ? " (maybe one more)" : "");
			t->completed += f == ZR_JOB_COMPLETED;
			t->failed += f == ZR_JOB_FAILED;
			t->maybe_done += f == ZR_JOB_COMPLETED && d == 0;
		}
	}
	return 0;
}

/* Nothing in use, cached or orphaned in the slab, no job record taken. */
static int verify_no_leak(zr_arena *a, zr_jobs_recover_report *rep)
{
	ZR_CHECK_RC(zr_jobs_recover(a, rep));
	zr_slab_cache_flush(a);
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	ZR_CHECK(st.by_status[ZR_JOB_FREE] == st.max_jobs, "%" PRIu64 " of %u job records taken",
		 st.max_jobs - st.by_status[ZR_JOB_FREE], st.max_jobs);
	ZR_CHECK(zr_stress_slab_idle(a, "after recovery and release") == 0, "slab");
	zr_diag d = {0};
	ZR_CHECK(zr_arena_check(a, &d) == 0, "arena check: %s", d.msg);
	return 0;
}

static int finish(zr_arena *a, zr_jobs_recover_report *rep)
{
	ZR_CHECK_RC(zr_jobs_recover(a, rep));
	zr_agent *ag[WORKERS];
	for (unsigned w = 0; w < WORKERS; w++) {
		char name[32];
		snprintf(name, sizeof(name), "worker-%u", w);
		ag[w] = register_as(a, name, on_death_of(w));
		ZR_CHECK(ag[w], "the parent cannot register as %s", name);
	}
	uint64_t processed = 0, left = 0;
	int bad = finish_leftovers(a, ag, &processed) || settle_all(a, &left) ||
		  verify_records_free(a, ag[0]);
	for (unsigned w = 0; w < WORKERS; w++)
		zr_agent_unregister(ag[w]);
	if (bad)
		return ZR_TEST_FAIL;
	struct totals t = {0};
	if (verify_tally(&t) || verify_no_leak(a, rep))
		return ZR_TEST_FAIL;
	printf("jobs returned %" PRIu64 ": completed %" PRIu64 " (%" PRIu64
	       " by a killed worker), failed %" PRIu64 "; maybe submitted %" PRIu64
	       "; left at the end %" PRIu64 ", processed by the checker %" PRIu64 "\n",
	       t.returned, t.completed, t.maybe_done, t.failed, t.maybe_submits, left, processed);
	return 0;
}

static void print_summary(zr_arena *a, int kills, const zr_jobs_recover_report *rep, double s)
{
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	printf("kills %d (producers %u %u, workers %u %u) in %.1f s\n", kills, sh->kills[0],
	       sh->kills[1], sh->kills[2], sh->kills[3], s);
	printf("recovery: agents dead %u, requeued %" PRIu64 ", failed %" PRIu64 ", moved %" PRIu64
	       ", repaired %" PRIu64 ", payloads freed %" PRIu64 ", blocks freed %" PRIu64 "\n",
	       rep->agents_dead, rep->jobs_requeued, rep->jobs_failed, rep->jobs_moved,
	       rep->jobs_repaired, rep->payloads_freed, rep->arena.blocks_freed);
	printf("jobs: submitted %" PRIu64 " claimed %" PRIu64 " completed %" PRIu64
	       " retried %" PRIu64 " dead letters %" PRIu64 " recovered %" PRIu64
	       " stale entries %" PRIu64 "\n",
	       st.submitted, st.claimed, st.completed, st.retried, st.dead_letters, st.recovered,
	       st.stale);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	/* sanitizers slow this loop about 2x, not 10x (it waits for forks and
	 * registrations more than it computes): a third of the kills, not the
	 * tenth zr_test_scale() gives, keeps the recovery paths covered */
	int kills = zr_test_sanitized() ? 100 : 300;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--kills"))
			kills = atoi(argv[i + 1]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ZR_CHECK(sh != MAP_FAILED, "mmap of the shared tally failed");
	zr_arena *a = zr_test_arena((size_t)96 << 20, sh->arena);
	zr_jobs_recover_report rep = {0};
	uint64_t t0 = zr_test_now_ns();
	if (run(a, kills, &rep) != 0)
		return ZR_TEST_FAIL;
	double secs = (double)(zr_test_now_ns() - t0) / 1e9;
	if (finish(a, &rep) != 0)
		return ZR_TEST_FAIL;
	print_summary(a, kills, &rep, secs);
	ZR_CHECK(zr_arena_close(a) == 0, "close");
	return ZR_TEST_PASS;
}
