/* tests/unit/test_job_repair.c: every repair of a job record left BUSY by a
 * dead writer, staged directly. A child process attaches, starts the
 * transition exactly as the runtime does (BUSY toward the target status,
 * written under its owner id, side fields half written) and is SIGKILLed
 * before committing; recovery must then finish or undo it as job_recover.c
 * says, and leave nothing behind:
 *   PROCESSING (claim)          -> PENDING, claimable again
 *   COMPLETED, FAILED, DELAYED  -> PENDING with retries + 1, a result half
 *                                  attached by complete freed
 *                                  (FAILED for good on the last retry)
 *   CANCELLED, EXPIRED          -> finished (EXPIRED drops the payload)
 *   PENDING (publish)           -> PENDING, claimable again
 *   FREE (release)              -> removed */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/job_impl.h"
#include "jobs.h"

static zr_job_id submit(uint32_t max_retries)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.max_retries = max_retries;
	assert_int_equal(zr_payload_alloc(jt.a, 256, &b.payload), 0);
	memset(zr_payload_ptr(jt.a, b.payload), 0x5a, 256);
	b.payload_len = 256;
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	return id;
}

enum stage_how {
	FROM_RECORD, /* begin from the record as it is */
	AFTER_CLAIM, /* the child claims it first (it is the holder) */
	WITH_RESULT, /* AFTER_CLAIM, and a result half attached */
};

/* In a child: attach, begin `id`'s move to `target`, die before the commit. */
static void stage(zr_job_id id, uint32_t target, enum stage_how how)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		zr_arena *a;
		if (zr_arena_open(jt.name, 0, &a, NULL) != 0)
			_exit(10);
		zr_agent *ag = NULL;
		zr_claim c = {0};
		uint32_t attempt;
		if (how != FROM_RECORD) {
			if (zr_agent_register(a, "stager", NULL, &ag) != 0 ||
			    zr_job_claim(ag, &c) != 1 || c.id != id)
				_exit(11);
		}
		struct zri_job *j = zri_job_at(a, id, NULL);
		uint64_t s = atomic_load(&j->a_state);
		attempt = ZRI_JS_ATTEMPT(s);
		if (!zri_js_begin(a, j, &s, target, attempt))
			_exit(12);
		if (how == WITH_RESULT) {
			zr_payload r;
			if (zr_payload_alloc(a, 512, &r) != 0)
				_exit(13);
			zri_st(&j->a_result, r.v);
			zri_st(&j->a_result_len, 512);
		}
		raise(SIGKILL);
		_exit(14);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static zr_jobs_recover_report recover(void)
{
	zr_jobs_recover_report rep = {0};
	assert_int_equal(zr_jobs_recover(jt.a, &rep), 0);
	assert_true(rep.jobs_repaired >= 1);
	return rep;
}

static zr_job_info info_of(zr_job_id id)
{
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, id, &info), 0);
	return info;
}

/* The job is pending again: our worker claims and completes it; release. */
static void claim_finish_release(zr_job_id id)
{
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(c.id, id);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	assert_int_equal(zr_job_release(jt.a, id), 0);
}

/* Nothing left: no payload, no record, no half-done slot; the arena checks. */
static void expect_clean(void)
{
	zr_jobs_recover_report rep = {0};
	assert_int_equal(zr_jobs_recover(jt.a, &rep), 0);
	zr_slab_cache_flush(jt.a);
	zr_slab_class_stats st[ZR_SLAB_MAX_CLASSES + 1];
	size_t n;
	zr_slab_stat(jt.a, st, ZR_SLAB_MAX_CLASSES + 1, &n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(st[i].in_use, 0);
		assert_int_equal(st[i].cached, 0);
	}
	zr_jobs_stats js;
	zr_jobs_stat(jt.a, &js);
	for (uint32_t s = ZR_JOB_FREE + 1; s < ZR_JOB_STATUS_COUNT; s++)
		assert_int_equal(js.by_status[s], 0);
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(jt.a, &d), 0);
}

static void test_claim_repaired(void **state)
{
	(void)state;
	zr_job_id id = submit(3);
	stage(id, ZR_JOB_PROCESSING, FROM_RECORD);
	recover();
	zr_job_info info = info_of(id);
	assert_int_equal(info.status, ZR_JOB_PENDING);
	assert_int_equal(info.retries, 0); /* the claim never happened */
	claim_finish_release(id);
	expect_clean();
}

/* Only complete attaches a result; fail and backoff die with none. */
static void finishing_repaired(uint32_t target)
{
	zr_job_id id = submit(3);
	stage(id, target, target == ZR_JOB_COMPLETED ? WITH_RESULT : AFTER_CLAIM);
	recover();
	zr_job_info info = info_of(id);
	assert_int_equal(info.status, ZR_JOB_PENDING);
	assert_int_equal(info.retries, 1);
	assert_int_equal(info.result.v, 0); /* the half-attached result was freed */
	assert_non_null(strstr(info.error, "died"));
	claim_finish_release(id);
	expect_clean();
}

static void test_complete_repaired(void **state)
{
	(void)state;
	finishing_repaired(ZR_JOB_COMPLETED);
}

static void test_fail_repaired(void **state)
{
	(void)state;
	finishing_repaired(ZR_JOB_FAILED);
}

static void test_backoff_repaired(void **state)
{
	(void)state;
	finishing_repaired(ZR_JOB_DELAYED);
}

static void test_last_retry_fails_for_good(void **state)
{
	(void)state;
	zr_job_id id = submit(0);
	stage(id, ZR_JOB_COMPLETED, WITH_RESULT);
	zr_jobs_recover_report rep = recover();
	assert_int_equal(rep.jobs_failed, 1);
	zr_job_info info = info_of(id);
	assert_int_equal(info.status, ZR_JOB_FAILED); /* on the dead-letter list */
	assert_int_equal(info.result.v, 0);
	assert_int_equal(zr_job_release(jt.a, id), 0);
	expect_clean();
}

static void test_cancel_and_expiry_finished(void **state)
{
	(void)state;
	zr_job_id id = submit(3);
	stage(id, ZR_JOB_CANCELLED, FROM_RECORD);
	recover();
	zr_job_info info = info_of(id);
	assert_int_equal(info.status, ZR_JOB_CANCELLED);
	assert_true(info.finish_ns != 0);
	assert_int_equal(zr_job_release(jt.a, id), 0);

	id = submit(3);
	stage(id, ZR_JOB_EXPIRED, FROM_RECORD);
	recover();
	info = info_of(id);
	assert_int_equal(info.status, ZR_JOB_EXPIRED);
	assert_int_equal(info.payload.v, 0); /* dropped with the expiry */
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 0); /* its queue entry is stale */
	assert_int_equal(zr_job_release(jt.a, id), 0);
	expect_clean();
}

static void test_publish_repaired(void **state)
{
	(void)state;
	zr_job_id id = submit(3);
	stage(id, ZR_JOB_PENDING, FROM_RECORD);
	recover();
	assert_int_equal(info_of(id).status, ZR_JOB_PENDING);
	claim_finish_release(id);
	/* the first queue entry and the one recovery added: one claim, one stale */
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 0);
	expect_clean();
}

static void test_release_repaired(void **state)
{
	(void)state;
	zr_job_id id = submit(3);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	stage(id, ZR_JOB_FREE, FROM_RECORD);
	recover();
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, id, &info), ZR_ESTALE); /* removed */
	expect_clean();
}

#define T(f) cmocka_unit_test_setup_teardown(f, zr_test_jobs_setup, zr_test_jobs_teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_claim_repaired),
		T(test_complete_repaired),
		T(test_fail_repaired),
		T(test_backoff_repaired),
		T(test_last_retry_fails_for_good),
		T(test_cancel_and_expiry_finished),
		T(test_publish_repaired),
		T(test_release_repaired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
