/* tests/stress/stress_check_live.c (label stress): zr_arena_check_each()
 * reports nothing on a healthy arena written at full speed by others.
 *
 * A producer process submits jobs (payloads of every small class and the
 * large heap, half to the worker's inbox, half to the shared queue, all
 * priorities) and pushes values through an MPMC ring; a worker process
 * claims them, fails one in eight on its first attempt (DELAYED, back
 * after its backoff), completes and releases the others, and drains the
 * ring. Meanwhile the parent, attached read-only, walks the whole arena in
 * a loop: any violation is a false positive and fails the test.
 *
 * Options: --seed N, --ms N (duration, default 1000). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define WORKER "live-worker"

static long duration_ms = 1000;
static char arena_name[64];

static int child_open(zr_arena **a, zr_agent **ag, const char *name)
{
	ZR_CHECK_RC(zr_arena_open(arena_name, 0, a, NULL));
	ZR_CHECK_RC(zr_agent_register(*a, name, NULL, ag));
	return 0;
}

static size_t pick_size(uint64_t *rng)
{
	uint64_t r = zr_test_rand(rng);
	if (r % 16 == 0)
		return 65536 + (size_t)(r >> 8) % 200000; /* large heap */
	return 1 + (size_t)(r >> 8) % (1u << (6 + r % 11));
}

static int producer(uint64_t deadline)
{
	zr_arena *a;
	zr_agent *ag;
	zr_ring *ring;
	if (child_open(&a, &ag, "live-producer"))
		return 1;
	ZR_CHECK_RC(zr_ring_open(a, "live.ring", &ring));
	uint32_t target;
	while (!(target = zr_agent_lookup(a, WORKER)))
		zr_test_sleep_ns(100000);
	uint64_t rng = zr_test_seed | 1, n = 0;
	while (zr_test_now_ns() < deadline) {
		zr_job_builder b;
		zr_job_builder_init(&b, (uint32_t)(1 + n % 5));
		b.prio = (uint32_t)(zr_test_rand(&rng) % ZR_PRIO_COUNT);
		b.target = n % 2 ? target : 0;
		b.backoff_ns = 200000;
		b.max_retries = 2;
		size_t size = pick_size(&rng);
		int rc = zr_payload_alloc(a, size, &b.payload);
		if (rc == -ENOMEM || rc == ZR_ETOOBIG) {
			zr_test_sleep_ns(50000);
			continue;
		}
		ZR_CHECK(rc == 0, "alloc %zu: %s", size, zr_strerror(rc));
		memset(zr_payload_ptr(a, b.payload), (int)n, size);
		b.payload_len = size;
		zr_job_id id;
		while ((rc = zr_job_submit(ag, &b, &id, NULL)) == ZR_EFULL &&
		       zr_test_now_ns() < deadline)
			zr_test_sleep_ns(50000);
		if (rc == ZR_EFULL) {
			ZR_CHECK_RC(zr_payload_free(a, b.payload));
			break;
		}
		ZR_CHECK(rc == 0, "submit: %s", zr_strerror(rc));
		if (!zr_ring_enqueue(ring, n))
			zr_test_sleep_ns(10000);
		n++;
	}
	zr_ring_close(ring);
	zr_agent_unregister(ag);
	ZR_CHECK_RC(zr_arena_close(a));
	printf("producer: %" PRIu64 " jobs\n", n);
	return 0;
}

static int worker(uint64_t deadline)
{
	zr_arena *a;
	zr_agent *ag;
	zr_ring *ring;
	if (child_open(&a, &ag, WORKER))
		return 1;
	ZR_CHECK_RC(zr_ring_open(a, "live.ring", &ring));
	uint64_t n = 0, v;
	while (zr_test_now_ns() < deadline) {
		zr_claim c;
		while (zr_ring_dequeue(ring, &v))
			;
		int rc = zr_job_claim_wait(ag, &c, 5000000);
		if (rc == 0)
			continue;
		ZR_CHECK(rc == 1, "claim: %s", zr_strerror(rc));
		if (c.retries == 0 && c.id % 8 == 0) {
			ZR_CHECK_RC(zr_job_fail(ag, &c, "once", true));
			continue;
		}
		ZR_CHECK_RC(zr_job_complete(ag, &c, ZR_PAYLOAD_NULL, 0));
		ZR_CHECK_RC(zr_job_release(a, c.id));
		n++;
	}
	zr_ring_close(ring);
	zr_agent_unregister(ag);
	ZR_CHECK_RC(zr_arena_close(a));
	printf("worker: %" PRIu64 " jobs\n", n);
	return 0;
}

static int print_violation(void *ctx, const zr_violation *v)
{
	(void)ctx;
	fprintf(stderr, "violation under load: %s | %s | %#" PRIx64 " | %s\n", v->area, v->where,
		v->offset, v->msg);
	return 0;
}

static pid_t spawn(int (*fn)(uint64_t), uint64_t deadline)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = fn(deadline);
		fflush(stdout);
		_exit(rc);
	}
	return pid;
}

static int wait_ok(pid_t pid, const char *who)
{
	int st = 0;
	ZR_CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", who);
	ZR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exited with status %#x", who, st);
	return 0;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--ms"))
			duration_ms = strtol(argv[i + 1], NULL, 0);
	zr_arena *a = zr_test_arena((size_t)16 << 20, arena_name);
	zr_ring_config rc = {ZR_RING_MPMC, 256, ZR_WAIT_SPIN};
	zr_ring *ring;
	ZR_CHECK_RC(zr_ring_create(a, "live.ring", &rc, &ring));
	zr_ring_close(ring);
	uint64_t start = zr_test_now_ns(), deadline = start + (uint64_t)duration_ms * 1000000;
	pid_t w = spawn(worker, deadline), p = spawn(producer, deadline);
	zr_arena *ro = NULL;
	ZR_CHECK_RC(zr_arena_open(arena_name, ZR_ARENA_READONLY, &ro, NULL));
	uint64_t walks = 0, bad = 0;
	while (zr_test_now_ns() < deadline + 50000000) {
		bad += zr_arena_check_each(ro, print_violation, NULL);
		walks++;
	}
	printf("parent: %" PRIu64 " walks, %" PRIu64 " violations\n", walks, bad);
	int failed = wait_ok(w, "worker") | wait_ok(p, "producer");
	ZR_CHECK(!failed, "a child failed");
	ZR_CHECK(bad == 0, "%" PRIu64 " violations reported on a healthy arena", bad);
	ZR_CHECK(walks >= 3, "only %" PRIu64 " walks in %ld ms", walks, duration_ms);
	zr_diag d = {0};
	ZR_CHECK(zr_arena_check(a, &d) == 0, "check at the end: %s", d.msg);
	ZR_CHECK_RC(zr_arena_close(ro));
	ZR_CHECK_RC(zr_arena_close(a));
	return ZR_TEST_PASS;
}
