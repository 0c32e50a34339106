/* tests/stress/stress_job_mp.c (label stress): jobs across PROCESSES.
 * Two producer processes submit jobs at every priority, half to the shared
 * queue and half to a named worker, with payloads of mixed sizes (every
 * small class and the large-page heap) written with a pattern derived from
 * (producer, sequence). Two worker processes claim with a blocking claim,
 * verify every payload byte in place, fail one job in five on its first
 * attempt (it must come back after its backoff with retries == 1), and
 * complete the others with a result naming the job. Producers keep a window
 * of outstanding jobs, wait for the oldest (zr_job_wait), check its result
 * and release it.
 *
 * At the end: every job completed exactly once (a MAP_SHARED tally of
 * successful completions), the arena's counters agree, no payload is in use,
 * cached or orphaned, and zr_arena_check passes.
 *
 * Options: --seed N, --ops N (jobs per producer), --timeout S, --max-size B. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/stress.h"

#define PRODUCERS 2u
#define WORKERS 2u
#define MAGIC UINT64_C(0x4a)
#define WINDOW 512u

struct shared {
	_Atomic uint32_t ready;
	_Atomic uint32_t stop;
	_Atomic uint32_t failed;
	_Atomic uint64_t fails_done; /* first attempts failed on purpose */
	_Atomic uint8_t counts[];    /* successful completions per (producer, seq) */
};

static struct zr_stress_opt opt;

#define CHILD_CHECK(sh, expr, ...)                                                                 \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #expr);                 \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			atomic_store(&(sh)->failed, 1);                                            \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static void producer(struct shared *sh, unsigned me)
{
	zr_arena *a;
	zr_agent *ag;
	char name[16];
	snprintf(name, sizeof(name), "producer-%u", me);
	CHILD_CHECK(sh, zr_arena_open(opt.arena, 0, &a, NULL) == 0, "open");
	CHILD_CHECK(sh, zr_agent_register(a, name, NULL, &ag) == 0, "register");
	atomic_fetch_add(&sh->ready, 1);
	uint32_t target = 0;
	while (!(target = zr_agent_lookup(a, "worker-0")) && !atomic_load(&sh->failed))
		zr_test_sleep_ns(1000000);
	uint64_t rng = zr_test_seed * 31 + me + 1;
	zr_job_id window[WINDOW];
	uint64_t seqs[WINDOW];
	uint64_t head = 0;
	for (uint64_t seq = 0; seq < opt.count + WINDOW; seq++) {
		unsigned slot = (unsigned)(seq % WINDOW);
		if (seq >= WINDOW) { /* the oldest must be done */
			zr_job_info info;
			int rc = zr_job_wait(a, window[slot], 60000000000ll, &info);
			CHILD_CHECK(sh, rc == 0, "wait seq %" PRIu64 ": %s", seqs[slot],
				    zr_strerror(rc));
			CHILD_CHECK(sh, info.status == ZR_JOB_COMPLETED, "seq %" PRIu64 " is %s",
				    seqs[slot], zr_job_status_name(info.status));
			uint64_t tag = zr_stress_tag(MAGIC, me, seqs[slot]);
			uint64_t *res = zr_payload_ptr(a, info.result);
			CHILD_CHECK(sh, res && info.result_len == 8 && *res == tag, "result");
			CHILD_CHECK(sh, info.retries == (seqs[slot] % 5 == 0), "retries %u",
				    info.retries);
			CHILD_CHECK(sh, zr_job_release(a, window[slot]) == 0, "release");
			head++;
		}
		if (seq >= opt.count)
			continue;
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		b.prio = (uint32_t)(zr_test_rand(&rng) % ZR_PRIO_COUNT);
		b.target = seq % 2 ? target : 0;
		b.backoff_ns = 100000;
		size_t size = zr_stress_pick_size(&rng, opt.max_size);
		uint64_t tag = zr_stress_tag(MAGIC, me, seq);
		int rc;
		while ((rc = zr_payload_alloc(a, size, &b.payload)) == -ENOMEM)
			zr_test_sleep_ns(100000);
		CHILD_CHECK(sh, rc == 0, "alloc %zu: %s", size, zr_strerror(rc));
		zr_stress_fill(zr_payload_ptr(a, b.payload), size, tag);
		b.payload_len = size;
		while ((rc = zr_job_submit(ag, &b, &window[slot], NULL)) == ZR_EFULL)
			zr_test_sleep_ns(100000);
		CHILD_CHECK(sh, rc == 0, "submit: %s", zr_strerror(rc));
		seqs[slot] = seq;
	}
	zr_agent_unregister(ag);
	CHILD_CHECK(sh, zr_arena_close(a) == 0, "close");
	_exit(0);
}

static void worker(struct shared *sh, unsigned me)
{
	zr_arena *a;
	zr_agent *ag;
	char name[16];
	snprintf(name, sizeof(name), "worker-%u", me);
	CHILD_CHECK(sh, zr_arena_open(opt.arena, 0, &a, NULL) == 0, "open");
	CHILD_CHECK(sh, zr_agent_register(a, name, NULL, &ag) == 0, "register");
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->stop)) {
		zr_claim c;
		int rc = zr_job_claim_wait(ag, &c, 50000000);
		if (rc == 0)
			continue;
		CHILD_CHECK(sh, rc == 1, "claim: %s", zr_strerror(rc));
		uint64_t tag = *(const uint64_t *)c.data;
		unsigned from = zr_stress_tag_from(tag);
		uint64_t seq = zr_stress_tag_seq(tag);
		CHILD_CHECK(sh, from < PRODUCERS && seq < opt.count, "tag %#" PRIx64, tag);
		size_t bad = zr_stress_verify(c.data, c.len, tag);
		CHILD_CHECK(sh, bad == c.len, "payload byte %zu of %" PRIu64, bad, c.len);
		if (seq % 5 == 0 && c.retries == 0) {
			CHILD_CHECK(sh, zr_job_fail(ag, &c, "first try fails", true) == 0, "fail");
			atomic_fetch_add(&sh->fails_done, 1);
			continue;
		}
		zr_payload res;
		while ((rc = zr_payload_alloc(a, 8, &res)) == -ENOMEM)
			zr_test_sleep_ns(100000);
		CHILD_CHECK(sh, rc == 0, "result alloc");
		memcpy(zr_payload_ptr(a, res), &tag, 8);
		rc = zr_job_complete(ag, &c, res, 8);
		CHILD_CHECK(sh, rc == 0, "complete: %s", zr_strerror(rc));
		atomic_fetch_add(&sh->counts[from * opt.count + seq], 1);
	}
	zr_agent_unregister(ag);
	CHILD_CHECK(sh, zr_arena_close(a) == 0, "close");
	_exit(0);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	zr_stress_parse(argc, argv, "--ops", 500000, &opt);
	if (opt.max_size > ((size_t)128 << 10))
		opt.max_size = (size_t)128 << 10;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)96 << 20);
	cfg.max_jobs = 4096;
	zr_arena *a;
	zr_diag d;
	snprintf(opt.arena, sizeof(opt.arena), "%s", zr_test_name());
	ZR_CHECK(zr_arena_create(opt.arena, &cfg, &a, &d) == 0, "create: %s", d.msg);
	uint64_t total = PRODUCERS * opt.count;
	struct shared *sh = mmap(NULL, sizeof(*sh) + total, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZR_CHECK(sh != MAP_FAILED, "mmap");
	pid_t kids[PRODUCERS + WORKERS];
	for (unsigned i = 0; i < WORKERS; i++)
		if ((kids[i] = fork()) == 0)
			worker(sh, i);
	for (unsigned i = 0; i < PRODUCERS; i++)
		if ((kids[WORKERS + i] = fork()) == 0)
			producer(sh, i);
	uint64_t t0 = zr_test_now_ns(), deadline = zr_stress_deadline(opt.timeout_s);
	/* every child has it open: remove the name now, so no exit path leaks it */
	int ready = zr_stress_wait_ready(&sh->ready, PRODUCERS + WORKERS, &sh->failed, 60);
	ZR_CHECK(zr_arena_unlink(opt.arena) == 0, "unlink");
	if (ready) {
		for (unsigned i = 0; i < PRODUCERS + WORKERS; i++)
			kill(kids[i], SIGKILL);
		return ZR_TEST_FAIL;
	}
	int status, bad = 0;
	for (unsigned done = 0; done < PRODUCERS;) { /* producers end when all is done */
		pid_t p = waitpid(-1, &status, WNOHANG);
		if (p > 0) {
			bad |= !WIFEXITED(status) || WEXITSTATUS(status);
			done++;
			continue;
		}
		if (bad || atomic_load(&sh->failed) || zr_test_now_ns() > deadline) {
			fprintf(stderr, "failed or timed out after %.1f s\n",
				(double)(zr_test_now_ns() - t0) / 1e9);
			for (unsigned i = 0; i < PRODUCERS + WORKERS; i++)
				kill(kids[i], SIGKILL);
			return ZR_TEST_FAIL;
		}
		zr_test_sleep_ns(5000000);
	}
	atomic_store(&sh->stop, 1);
	for (unsigned i = 0; i < WORKERS; i++) {
		pid_t p = waitpid(-1, &status, 0);
		bad |= p < 0 || !WIFEXITED(status) || WEXITSTATUS(status);
	}
	double secs = (double)(zr_test_now_ns() - t0) / 1e9;
	ZR_CHECK(!bad && !atomic_load(&sh->failed), "a child failed");
	uint64_t lost = 0, dup = 0;
	zr_stress_tally(sh->counts, total, opt.count, "producer", "completed", &lost, &dup);
	ZR_CHECK(lost == 0 && dup == 0, "%" PRIu64 " never completed, %" PRIu64 " twice", lost,
		 dup);
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	uint64_t want_fails = 0;
	for (uint64_t s = 0; s < opt.count; s += 5)
		want_fails += PRODUCERS;
	ZR_CHECK(st.completed == total && st.submitted == total && st.retried == want_fails &&
			 atomic_load(&sh->fails_done) == want_fails &&
			 st.by_status[ZR_JOB_FREE] == st.max_jobs,
		 "counters: completed %" PRIu64 " submitted %" PRIu64 " retried %" PRIu64,
		 st.completed, st.submitted, st.retried);
	ZR_CHECK(zr_stress_slab_idle(a, "after every job was released") == 0, "slab");
	ZR_CHECK(zr_arena_check(a, &d) == 0, "check: %s", d.msg);
	printf("%" PRIu64 " jobs in %.2f s (%.0f jobs/s), claim p50 %" PRIu64 " ns p99 %" PRIu64
	       " ns, complete p50 %" PRIu64 " ns\n",
	       total, secs, (double)total / secs, zr_hist_percentile(&st.claim_latency, 50),
	       zr_hist_percentile(&st.claim_latency, 99),
	       zr_hist_percentile(&st.complete_latency, 50));
	ZR_CHECK(zr_arena_close(a) == 0, "close");
	return ZR_TEST_PASS;
}
