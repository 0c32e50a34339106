/* tests/unit/test_job.c: agents and the job lifecycle in one process: every
 * transition and the illegal ones, priorities, retries with backoff, leases,
 * cancel, TTL, delays, recurring jobs, waiting, compression, metadata,
 * a full table, and recovery of a killed worker and of a process killed
 * while freeing a record (fork). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/job_impl.h"
#include "jobs.h"

static zr_arena *arena_with_jobs(uint32_t max_jobs, char *name)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)8 << 20);
	if (max_jobs)
		cfg.max_jobs = max_jobs;
	snprintf(name, 64, "%s", zr_test_name());
	zr_arena *a = NULL;
	zr_diag d;
	int rc = zr_arena_create(name, &cfg, &a, &d);
	if (rc)
		fail_msg("create: %s", d.msg);
	return a;
}

static zr_job_id submit_bytes(zr_agent *ag, uint32_t prio, uint32_t target, const char *text)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.prio = prio;
	b.target = target;
	if (text) {
		size_t n = strlen(text) + 1;
		assert_int_equal(zr_payload_alloc(jt.a, n, &b.payload), 0);
		memcpy(zr_payload_ptr(jt.a, b.payload), text, n);
		b.payload_len = n;
	}
	zr_job_id id = 0;
	assert_int_equal(zr_job_submit(ag, &b, &id, NULL), 0);
	assert_true(id != 0);
	return id;
}

static uint32_t status_of(zr_job_id id)
{
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, id, &info), 0);
	return info.status;
}

static void test_submit_claim_complete(void **state)
{
	(void)state;
	uint8_t uuid[16];
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_QUERY);
	assert_int_equal(zr_payload_alloc(jt.a, 100, &b.payload), 0);
	memcpy(zr_payload_ptr(jt.a, b.payload), "hello", 6);
	b.payload_len = 6;
	assert_int_equal(zr_job_builder_meta(&b, "model", "llama"), 0);
	assert_int_equal(zr_job_builder_meta(&b, "shard", "3"), 0);
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, uuid), 0);
	assert_int_equal(uuid[6] >> 4, 7); /* UUIDv7 */
	assert_int_equal(uuid[8] >> 6, 2);
	assert_int_equal(status_of(id), ZR_JOB_PENDING);

	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(c.id, id);
	assert_int_equal(c.type, ZR_JOB_QUERY);
	assert_int_equal(c.len, 6);
	assert_string_equal(c.data, "hello"); /* in place */
	assert_ptr_equal(c.data, zr_payload_ptr(jt.a, b.payload));
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, id, &info), 0);
	assert_int_equal(info.status, ZR_JOB_PROCESSING);
	assert_int_equal(info.holder, zr_agent_id(jt.work));
	assert_int_equal(info.source, zr_agent_id(jt.prod));
	assert_string_equal(zr_job_meta_get(info.meta, "model"), "llama");
	assert_string_equal(zr_job_meta_get(info.meta, "shard"), "3");
	assert_null(zr_job_meta_get(info.meta, "nope"));
	assert_memory_equal(info.uuid, uuid, 16);

	zr_payload res;
	assert_int_equal(zr_payload_alloc(jt.a, 64, &res), 0);
	memcpy(zr_payload_ptr(jt.a, res), "world", 6);
	assert_int_equal(zr_job_complete(jt.work, &c, res, 6), 0);
	assert_int_equal(zr_job_wait(jt.a, id, 0, &info), 0);
	assert_int_equal(info.status, ZR_JOB_COMPLETED);
	assert_string_equal(zr_payload_ptr(jt.a, info.result), "world");
	assert_true(info.finish_ns >= info.claim_ns && info.claim_ns >= info.submit_ns);

	/* illegal: complete again, cancel, requeue a completed job */
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), ZR_ELEASE);
	assert_int_equal(zr_job_fail(jt.work, &c, "x", true), ZR_ELEASE);
	assert_int_equal(zr_job_cancel(jt.a, id), -EALREADY);
	assert_int_equal(zr_job_requeue(jt.a, id), -EBUSY);
	assert_int_equal(zr_job_claim(jt.work, &c), 0);

	zr_jobs_stats st;
	zr_jobs_stat(jt.a, &st);
	assert_int_equal(st.submitted, 1);
	assert_int_equal(st.claimed, 1);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.by_status[ZR_JOB_COMPLETED], 1);
	assert_int_equal(st.claim_latency.count, 1);
	assert_int_equal(st.complete_latency.count, 1);

	/* release frees the record and both payloads; the id goes stale */
	assert_int_equal(zr_job_release(jt.a, id), 0);
	assert_int_equal(zr_job_get(jt.a, id, &info), ZR_ESTALE);
	assert_int_equal(zr_job_release(jt.a, id), ZR_ESTALE);
	assert_int_equal(zr_payload_resolve(jt.a, res, &(void *){0}, &(size_t){0}), ZR_EDOUBLEFREE);
	assert_int_equal(zr_job_get(jt.a, 0, &info), -EINVAL);
	assert_int_equal(zr_job_get(jt.a, (uint64_t)1 << 31, &info), -EINVAL);
}

static void test_bad_builders(void **state)
{
	(void)state;
	zr_job_builder b;
	zr_job_id id;
	zr_job_builder_init(&b, 0);
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	zr_job_builder_init(&b, ZR_JOB_CUSTOM); /* custom needs a name */
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	snprintf(b.type_name, sizeof(b.type_name), "resize");
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.prio = 4;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.payload_len = 10; /* length without a payload */
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	assert_int_equal(zr_payload_alloc(jt.a, 64, &b.payload), 0);
	b.payload_len = 65; /* longer than the block */
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	assert_int_equal(zr_payload_free(jt.a, b.payload), 0);
	b.payload_len = 10; /* freed: stale */
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), ZR_ESTALE);
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	int rc = 0;
	for (int i = 0; i < 40 && rc == 0; i++)
		rc = zr_job_builder_meta(&b, "key", "value");
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(zr_job_builder_meta(&b, "", "v"), -EINVAL);
}

static void test_priority_order(void **state)
{
	(void)state;
	uint32_t me = zr_agent_id(jt.work);
	zr_job_id low = submit_bytes(jt.prod, ZR_PRIO_LOW, me, "low");
	zr_job_id sh_high = submit_bytes(jt.prod, ZR_PRIO_HIGH, 0, "shared-high");
	zr_job_id normal = submit_bytes(jt.prod, ZR_PRIO_NORMAL, me, "normal");
	zr_job_id high = submit_bytes(jt.prod, ZR_PRIO_HIGH, me, "high");
	zr_job_id crit = submit_bytes(jt.prod, ZR_PRIO_CRITICAL, 0, "critical");
	zr_job_id want[] = {crit, high, sh_high, normal, low};
	zr_job_info peek;
	assert_int_equal(zr_job_peek(jt.work, false, &peek), 1);
	assert_int_equal(peek.id, high); /* own inbox's first */
	assert_int_equal(zr_job_peek(jt.work, true, &peek), 1);
	assert_int_equal(peek.id, crit);
	for (size_t i = 0; i < 5; i++) {
		zr_claim c;
		assert_int_equal(zr_job_claim(jt.work, &c), 1);
		assert_int_equal(c.id, want[i]);
		assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	}
	assert_int_equal(zr_job_peek(jt.work, false, &peek), 0);
	/* a job for the worker is not claimed by the producer agent */
	submit_bytes(jt.prod, ZR_PRIO_NORMAL, me, "mine");
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.prod, &c), 0);
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
}

static void test_retry_backoff_dead_letter(void **state)
{
	(void)state;
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.max_retries = 2;
	b.backoff_ns = 1000000; /* 1 ms, then 2 ms */
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	for (uint32_t round = 0; round < 3; round++) {
		zr_claim c;
		uint64_t t0 = zr_test_now_ns();
		int got = 0;
		while (!(got = zr_job_claim(jt.work, &c)) && zr_test_now_ns() - t0 < 2000000000)
			zr_test_sleep_ns(200000);
		assert_int_equal(got, 1);
		assert_int_equal(c.retries, round);
		if (round > 0) /* waited its backoff */
			assert_true(zr_test_now_ns() - t0 >= (500000ull << round));
		assert_int_equal(zr_job_fail(jt.work, &c, "disk on fire", true), 0);
		uint32_t st = status_of(id);
		assert_int_equal(st, round < 2 ? ZR_JOB_DELAYED : ZR_JOB_FAILED);
		assert_int_equal(zr_job_claim(jt.work, &c), 0); /* not before its time */
	}
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, id, &info), 0);
	assert_string_equal(info.error, "disk on fire");
	assert_int_equal(info.retries, 3);
	zr_job_filter f = {1u << ZR_JOB_FAILED, 0, 0, 0};
	zr_job_info dlq[4];
	size_t n;
	assert_int_equal(zr_jobs_list(jt.a, &f, dlq, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dlq[0].id, id);
	/* back from the dead letters, with its retries reset */
	assert_int_equal(zr_job_requeue(jt.a, id), 0);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(c.retries, 0);
	assert_int_equal(zr_job_fail(jt.work, &c, "no retry", false), 0);
	assert_int_equal(status_of(id), ZR_JOB_FAILED);
	zr_jobs_stats st;
	zr_jobs_stat(jt.a, &st);
	assert_int_equal(st.dead_letters, 2);
	assert_int_equal(st.retried, 2);
}

static void test_lease_expiry(void **state)
{
	(void)state;
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.lease_ns = 1000000;
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	zr_claim slow, fast;
	assert_int_equal(zr_job_claim(jt.work, &slow), 1);
	assert_int_equal(zr_job_extend(jt.work, &slow, 1000000), 0);
	zr_test_sleep_ns(3000000);
	zr_tick_report r = {0};
	assert_int_equal(zr_jobs_tick(jt.a, &r), 0);
	assert_int_equal(r.lease_expired, 1);
	assert_int_equal(status_of(id), ZR_JOB_PENDING);
	assert_int_equal(zr_job_claim(jt.prod, &fast), 1); /* anyone: it was untargeted */
	assert_int_equal(fast.retries, 1);
	/* the slow worker's completion is refused: recorded once only */
	assert_int_equal(zr_job_complete(jt.work, &slow, ZR_PAYLOAD_NULL, 0), ZR_ELEASE);
	assert_int_equal(zr_job_extend(jt.work, &slow, 1000), ZR_ELEASE);
	assert_int_equal(zr_job_complete(jt.prod, &fast, ZR_PAYLOAD_NULL, 0), 0);
	assert_int_equal(status_of(id), ZR_JOB_COMPLETED);
}

static void test_cancel(void **state)
{
	(void)state;
	zr_job_id a = submit_bytes(jt.prod, ZR_PRIO_NORMAL, 0, "a");
	zr_job_id b = submit_bytes(jt.prod, ZR_PRIO_NORMAL, 0, "b");
	assert_int_equal(zr_job_cancel(jt.a, a), 0);
	assert_int_equal(status_of(a), ZR_JOB_CANCELLED);
	assert_int_equal(zr_job_cancel(jt.a, a), -EALREADY);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1); /* a's entry is skipped */
	assert_int_equal(c.id, b);
	assert_false(zr_job_cancel_requested(jt.a, &c));
	assert_int_equal(zr_job_cancel(jt.a, b), 1); /* processing: asked */
	assert_true(zr_job_cancel_requested(jt.a, &c));
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), -ECANCELED);
	assert_int_equal(status_of(b), ZR_JOB_CANCELLED);
	zr_agent_info info;
	assert_int_equal(zr_agent_get(jt.a, zr_agent_id(jt.work), &info), 0);
	assert_int_equal(info.stale, 1);
	assert_int_equal(zr_job_release(jt.a, a), 0);
	assert_int_equal(zr_job_cancel(jt.a, a), ZR_ESTALE);
}

static void test_ttl_and_delay(void **state)
{
	(void)state;
	zr_slab_class_stats before[ZR_SLAB_MAX_CLASSES + 1], after[ZR_SLAB_MAX_CLASSES + 1];
	size_t n;
	zr_slab_stat(jt.a, before, ZR_SLAB_MAX_CLASSES + 1, &n);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_DATA_TRANSFER);
	b.ttl_ns = 1000000;
	assert_int_equal(zr_payload_alloc(jt.a, 200, &b.payload), 0);
	b.payload_len = 200;
	zr_job_id ttl;
	assert_int_equal(zr_job_submit(jt.prod, &b, &ttl, NULL), 0);
	zr_test_sleep_ns(2000000);
	zr_tick_report r = {0};
	assert_int_equal(zr_jobs_tick(jt.a, &r), 0);
	assert_int_equal(r.expired, 1);
	assert_int_equal(status_of(ttl), ZR_JOB_EXPIRED);
	zr_slab_stat(jt.a, after, ZR_SLAB_MAX_CLASSES + 1, &n);
	for (size_t i = 0; i < n; i++) /* its payload was freed */
		assert_int_equal(after[i].in_use, before[i].in_use);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 0);

	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.delay_ns = 5000000;
	zr_job_id later;
	uint64_t t0 = zr_test_now_ns();
	assert_int_equal(zr_job_submit(jt.prod, &b, &later, NULL), 0);
	assert_int_equal(status_of(later), ZR_JOB_DELAYED);
	assert_int_equal(zr_job_claim(jt.work, &c), 0);
	/* a blocking claim wakes for the timer, without a reaper */
	assert_int_equal(zr_job_claim_wait(jt.work, &c, 2000000000), 1);
	assert_true(zr_test_now_ns() - t0 >= 5000000);
	assert_int_equal(c.id, later);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
}

static void test_recurring(void **state)
{
	(void)state;
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_CONTROL);
	b.interval_ns = 3000000;
	assert_int_equal(zr_payload_alloc(jt.a, 8, &b.payload), 0);
	memcpy(zr_payload_ptr(jt.a, b.payload), "tick", 5);
	b.payload_len = 5;
	zr_job_id sched;
	assert_int_equal(zr_job_submit(jt.prod, &b, &sched, NULL), 0);
	int runs = 0;
	uint64_t t0 = zr_test_now_ns();
	while (runs < 3 && zr_test_now_ns() - t0 < 2000000000ull) {
		zr_claim c;
		if (zr_job_claim_wait(jt.work, &c, 100000000) == 1) {
			assert_int_equal(c.type, ZR_JOB_CONTROL);
			assert_string_equal(c.data, "tick");
			assert_true(c.id != sched);
			assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
			runs++;
		}
	}
	assert_int_equal(runs, 3);
	assert_true(zr_test_now_ns() - t0 >= 8000000);
	assert_int_equal(zr_job_cancel(jt.a, sched), 0);
	zr_test_sleep_ns(7000000);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 0);
}

static void *complete_later(void *arg)
{
	zr_claim *c = arg;
	zr_test_sleep_ns(20000000);
	assert_int_equal(zr_job_complete(jt.work, c, ZR_PAYLOAD_NULL, 0), 0);
	return NULL;
}

static void test_wait(void **state)
{
	(void)state;
	zr_job_id id = submit_bytes(jt.prod, ZR_PRIO_HIGH, 0, "w");
	zr_job_info info;
	assert_int_equal(zr_job_wait(jt.a, id, 1000000, &info), -ETIMEDOUT);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	pthread_t t;
	pthread_create(&t, NULL, complete_later, &c);
	assert_int_equal(zr_job_wait(jt.a, id, -1, &info), 0);
	assert_int_equal(info.status, ZR_JOB_COMPLETED);
	pthread_join(t, NULL);
}

struct blocked {
	zr_agent *ag;
	zr_claim c;
	int rc;
};

static void *claim_blocking(void *arg)
{
	struct blocked *b = arg;
	b->rc = zr_job_claim_wait(b->ag, &b->c, 5000000000ll);
	return NULL;
}

static void test_claim_wait_wakes(void **state)
{
	(void)state;
	zr_agent_config cfg;
	zr_agent_config_init(&cfg);
	cfg.wait = ZR_WAIT_FUTEX;
	zr_agent *sleeper;
	assert_int_equal(zr_agent_register(jt.a, "sleeper", &cfg, &sleeper), 0);
	for (int targeted = 0; targeted < 2; targeted++) {
		struct blocked b = {sleeper, {0}, 99};
		pthread_t t;
		pthread_create(&t, NULL, claim_blocking, &b);
		zr_test_sleep_ns(30000000); /* let it fall asleep */
		zr_job_id id = submit_bytes(jt.prod, ZR_PRIO_LOW,
					    targeted ? zr_agent_id(sleeper) : 0, "z");
		pthread_join(t, NULL);
		assert_int_equal(b.rc, 1);
		assert_int_equal(b.c.id, id);
		assert_int_equal(zr_job_complete(sleeper, &b.c, ZR_PAYLOAD_NULL, 0), 0);
	}
	zr_claim c;
	assert_int_equal(zr_job_claim_wait(sleeper, &c, 2000000), 0); /* timeout */
	zr_agent_unregister(sleeper);
}

static void test_compression(void **state)
{
	(void)state;
	size_t n = 60000;
	char *text = malloc(n);
	for (size_t i = 0; i < n; i++)
		text[i] = "zring compresses "[i % 17];
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_MODEL_UPDATE);
	b.compress_level = 3;
	assert_int_equal(zr_payload_alloc(jt.a, n, &b.payload), 0);
	memcpy(zr_payload_ptr(jt.a, b.payload), text, n);
	b.payload_len = n;
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_true(c.flags & ZR_JOBF_COMPRESSED);
	assert_true(c.len < n / 10);
	char *back = malloc(n);
	size_t len = 0;
	assert_int_equal(zr_job_payload_read(jt.a, &c, back, 10, &len), -ENOBUFS);
	assert_int_equal(len, n);
	assert_int_equal(zr_job_payload_read(jt.a, &c, back, n, &len), 0);
	assert_memory_equal(back, text, n);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	/* incompressible: kept raw */
	uint64_t s = 42;
	for (size_t i = 0; i < n; i++)
		text[i] = (char)zr_test_rand(&s);
	assert_int_equal(zr_payload_alloc(jt.a, n, &b.payload), 0);
	memcpy(zr_payload_ptr(jt.a, b.payload), text, n);
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_false(c.flags & ZR_JOBF_COMPRESSED);
	assert_int_equal(c.len, n);
	assert_memory_equal(c.data, text, n);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	free(text);
	free(back);
}

static void test_agents(void **state)
{
	(void)state;
	zr_agent *dup;
	assert_int_equal(zr_agent_register(jt.a, "worker", NULL, &dup), -EEXIST);
	assert_int_equal(zr_agent_register(jt.a, "bad/name", NULL, &dup), -EINVAL);
	assert_int_equal(zr_agent_register(jt.a, "", NULL, &dup), -EINVAL);
	assert_int_equal(zr_agent_lookup(jt.a, "worker"), zr_agent_id(jt.work));
	assert_int_equal(zr_agent_lookup(jt.a, "nobody"), 0);
	zr_agent_info list[8];
	size_t n;
	zr_agent_list(jt.a, 1u << ZR_AGENT_ALIVE, list, 8, &n);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].pid, (uint32_t)getpid());
	zr_agent_place_info p = {0, 2, "0-1", "test placement"};
	zr_agent_set_place(jt.work, &p);
	zr_agent_info info;
	assert_int_equal(zr_agent_get(jt.a, zr_agent_id(jt.work), &info), 0);
	assert_string_equal(info.place.cpus, "0-1");
	/* pinned for real: cpu 0 exists everywhere; the table says so */
	zr_place_spec spec;
	assert_int_equal(zr_place_parse("cores:0", &spec, NULL), 0);
	zr_placement pl;
	cpu_set_t saved;
	assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(zr_agent_place(jt.prod, &spec, &pl, NULL), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved), 0);
	assert_int_equal(zr_agent_get(jt.a, zr_agent_id(jt.prod), &info), 0);
	assert_string_equal(info.place.cpus, "0");
	assert_int_equal(info.place.ncpus, 1);
	assert_string_equal(info.name, "producer");
	/* leaving gives back what it holds; a successor gets its inbox */
	zr_agent *temp;
	assert_int_equal(zr_agent_register(jt.a, "temp", NULL, &temp), 0);
	uint32_t temp_id = zr_agent_id(temp);
	zr_job_id held = submit_bytes(jt.prod, ZR_PRIO_NORMAL, temp_id, "held");
	zr_job_id left = submit_bytes(jt.prod, ZR_PRIO_NORMAL, temp_id, "left");
	zr_claim c;
	assert_int_equal(zr_job_claim(temp, &c), 1);
	assert_int_equal(c.id, held);
	zr_agent_unregister(temp);
	assert_int_equal(status_of(held), ZR_JOB_PENDING);
	assert_int_equal(zr_agent_get(jt.a, temp_id, &info), ZR_ESTALE);
	assert_int_equal(zr_job_claim(jt.work, &c), 0); /* kept for a successor */
	assert_int_equal(zr_agent_register(jt.a, "temp", NULL, &temp), 0);
	assert_true(zr_agent_id(temp) != temp_id);
	zr_job_id got[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(zr_job_claim(temp, &c), 1);
		got[i] = c.id;
		assert_int_equal(zr_job_complete(temp, &c, ZR_PAYLOAD_NULL, 0), 0);
	}
	assert_true((got[0] == left && got[1] == held) || (got[0] == held && got[1] == left));
	zr_agent_unregister(temp);
}

static void test_table_full(void **state)
{
	(void)state;
	char small_name[64];
	zr_arena *small = arena_with_jobs(4, small_name);
	zr_agent *p;
	assert_int_equal(zr_agent_register(small, "p", NULL, &p), 0);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	zr_job_id id;
	for (int i = 0; i < 4; i++)
		assert_int_equal(zr_job_submit(p, &b, &id, NULL), 0);
	assert_int_equal(zr_payload_alloc(small, 64, &b.payload), 0);
	b.payload_len = 64;
	assert_int_equal(zr_job_submit(p, &b, &id, NULL), ZR_EFULL);
	/* the payload is still ours */
	assert_true(zr_payload_owner(small, b.payload) > 0);
	assert_int_equal(zr_payload_free(small, b.payload), 0);
	zr_jobs_stats st;
	zr_jobs_stat(small, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.by_status[ZR_JOB_PENDING], 4);
	zr_agent_unregister(p);
	assert_int_equal(zr_arena_close(small), 0);
	assert_int_equal(zr_arena_unlink(small_name), 0);
}

static void expect_killed(pid_t pid)
{
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_true(WIFSIGNALED(ws));
}

static void test_killed_worker_recovered(void **state)
{
	(void)state;
	zr_job_id id = submit_bytes(jt.prod, ZR_PRIO_NORMAL, 0, "survive me");
	pid_t pid = fork();
	if (pid == 0) {
		zr_arena *a;
		zr_agent *w;
		zr_claim c;
		zr_payload junk;
		if (zr_arena_open(jt.name, 0, &a, NULL) ||
		    zr_agent_register(a, "doomed", NULL, &w) || zr_job_claim(w, &c) != 1 ||
		    zr_payload_alloc(a, 100, &junk))
			_exit(1);
		raise(SIGKILL);
	}
	expect_killed(pid);
	assert_int_equal(status_of(id), ZR_JOB_PROCESSING);
	zr_jobs_recover_report rep = {0};
	assert_int_equal(zr_jobs_recover(jt.a, &rep), 0);
	assert_int_equal(rep.agents_dead, 1);
	assert_int_equal(rep.jobs_requeued, 1);
	assert_int_equal(rep.payloads_freed, 1); /* allocated, never attached */
	zr_agent_info info;
	assert_int_equal(zr_agent_get(jt.a, zr_agent_lookup(jt.a, "doomed"), &info), 0);
	assert_int_equal(info.status, ZR_AGENT_DEAD);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(c.id, id);
	assert_int_equal(c.retries, 1);
	assert_string_equal(c.data, "survive me");
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	assert_int_equal(zr_arena_check(jt.a, NULL), 0);
}

/* The state zri_job_remove leaves when killed after freeing the record:
 * before its entry is on the free ring, or after but before it cleared
 * its name from the record. */
static void die_freeing(zr_arena *a, zr_job_id id, bool queued)
{
	uint32_t idx = 0;
	struct zri_job *j = zri_job_at(a, id, &idx);
	if (!j)
		_exit(1);
	uint32_t next = ZRI_ID_GEN(id) + 1;
	atomic_store(&j->a_state, zri_js_make(next, 0, a->self, 0, ZR_JOB_FREE));
	if (queued && !zri_mpmc_enqueue(&a->job_free, (uint64_t)next << 32 | idx))
		_exit(1);
}

/* A table of 4 records, after recovery: every record can be taken again
 * (4 delayed jobs, nothing runs them) and no more; then it goes. */
static void expect_all_records_then_close(zr_arena *small, const char *name, zr_agent *p)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.delay_ns = 3600000000000ull;
	zr_job_id got;
	for (int i = 0; i < 4; i++)
		assert_int_equal(zr_job_submit(p, &b, &got, NULL), 0);
	assert_int_equal(zr_job_submit(p, &b, &got, NULL), ZR_EFULL);
	assert_int_equal(zr_arena_check(small, NULL), 0);
	zr_agent_unregister(p);
	assert_int_equal(zr_arena_close(small), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_killed_freer_recovered(void **state)
{
	(void)state;
	char name[64];
	zr_arena *small = arena_with_jobs(4, name);
	zr_agent *p;
	assert_int_equal(zr_agent_register(small, "p", NULL, &p), 0);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.delay_ns = 3600000000000ull; /* nothing runs them */
	zr_job_id id[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(zr_job_submit(p, &b, &id[i], NULL), 0);
		assert_int_equal(zr_job_cancel(small, id[i]), 0);
	}
	pid_t pid = fork();
	if (pid == 0) {
		zr_arena *a;
		if (zr_arena_open(name, 0, &a, NULL))
			_exit(1);
		die_freeing(a, id[0], false);
		die_freeing(a, id[1], true);
		raise(SIGKILL);
	}
	expect_killed(pid);
	zr_jobs_recover_report rep = {0};
	assert_int_equal(zr_jobs_recover(small, &rep), 0);
	assert_int_equal(rep.jobs_repaired, 2);
	/* the stale entry of id[1] is skipped */
	expect_all_records_then_close(small, name, p);
}

/* A submitter killed after taking a record's entry from the free ring and
 * before claiming the record: recovery queues the record again (the free
 * ring is outside the ring directory, so it is repaired by the job layer). */
static void test_killed_taker_recovered(void **state)
{
	(void)state;
	char name[64];
	zr_arena *small = arena_with_jobs(4, name);
	zr_agent *p;
	assert_int_equal(zr_agent_register(small, "p", NULL, &p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		zr_arena *a;
		uint64_t e, ticket;
		if (zr_arena_open(name, 0, &a, NULL) ||
		    zri_mpmc_take(&a->job_free, &e, &ticket) != 1)
			_exit(1);
		raise(SIGKILL);
	}
	expect_killed(pid);
	zr_jobs_recover_report rep = {0};
	assert_int_equal(zr_jobs_recover(small, &rep), 0);
	expect_all_records_then_close(small, name, p);
}

static void test_reaper(void **state)
{
	(void)state;
	zr_reaper *r;
	assert_int_equal(zr_reaper_start(jt.a, 1000000, &r), 0);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.ttl_ns = 2000000;
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	assert_int_equal(zr_job_wait(jt.a, id, 2000000000, NULL), 0);
	assert_int_equal(status_of(id), ZR_JOB_EXPIRED);
	zr_tick_report t;
	zr_reaper_stop(r, &t, NULL);
	assert_int_equal(t.expired, 1);
	assert_int_equal(zr_reaper_start(jt.a, 0, &r), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, zr_test_jobs_setup, zr_test_jobs_teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_submit_claim_complete),
		T(test_bad_builders),
		T(test_priority_order),
		T(test_retry_backoff_dead_letter),
		T(test_lease_expiry),
		T(test_cancel),
		T(test_ttl_and_delay),
		T(test_recurring),
		T(test_wait),
		T(test_claim_wait_wakes),
		T(test_compression),
		T(test_agents),
		T(test_table_full),
		T(test_killed_worker_recovered),
		T(test_killed_freer_recovered),
		T(test_killed_taker_recovered),
		T(test_reaper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
