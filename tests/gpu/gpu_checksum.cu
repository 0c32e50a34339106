/* tests/gpu/gpu_checksum.cu: a GPU agent checksums payloads that a CPU
 * producer process wrote, in place, and the producer reads the results.
 * The producer (an exec of this binary) submits jobs with random payloads
 * to the "gpu-worker" agent and checks each job's 8-byte result against its
 * own checksum; this process runs a zr_gpu_worker whose kernel computes
 * them (one thread per job, through the items' device addresses).
 *   --cpu   the same with no GPU: the worker's CPU path runs the kernel's
 *           function on the host (label unit: runs in CI everywhere).
 * Without a CUDA device (and without --cpu) it exits 77: skipped. */
#include <cuda_runtime.h>
#include <errno.h>
#include <stdlib.h>

#include <vector>

#include "gpu_common.h"
#include "gpu_proc.h"
extern "C" {
#include "test.h"
}
#include "zring/job.h"

__global__ void sum_kernel(zr_gpu_item *items, unsigned n)
{
	unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		zr_test_sum_item(&items[i]);
}

static int gpu_launch(void *, zr_gpu_item *items, unsigned n, void *stream)
{
	sum_kernel<<<(n + 63) / 64, 64, 0, (cudaStream_t)stream>>>(items, n);
	return 0;
}

static int cpu_launch(void *, zr_gpu_item *items, unsigned n, void *)
{
	for (unsigned i = 0; i < n; i++)
		zr_test_sum_item(&items[i]);
	return 0;
}

static int producer(const char *name, uint64_t n)
{
	zr_arena *a = NULL;
	zr_agent *ag = NULL;
	zr_diag d = {};
	int rc = zr_arena_open(name, 0, &a, &d);
	if (rc == 0)
		rc = zr_agent_register(a, "cpu-producer", NULL, &ag);
	uint32_t target = 0;
	for (int i = 0; rc == 0 && !target && i < 10000; i++) {
		target = zr_agent_lookup(a, "gpu-worker");
		if (!target)
			zr_test_sleep_ns(1000000);
	}
	if (rc || !target) {
		fprintf(stderr, "producer: %s %s\n", zr_strerror(rc), d.msg);
		return 1;
	}
	uint64_t rng = zr_test_seed | 1;
	std::vector<zr_job_id> ids(n);
	std::vector<uint64_t> sums(n);
	uint64_t good = 0, checked = 0;
	/* Check (and release) job i: its result must be the payload's checksum. */
	auto check = [&](uint64_t i) {
		zr_job_info info;
		int wrc = zr_job_wait(a, ids[i], 60000000000ll, &info);
		if (wrc)
			return wrc;
		uint64_t got = 0;
		const uint8_t *r = (const uint8_t *)zr_payload_ptr(a, info.result);
		for (int k = 0; r && k < 8; k++)
			got |= (uint64_t)r[k] << (8 * k);
		if (info.status == ZR_JOB_COMPLETED && info.result_len == 8 && got == sums[i])
			good++;
		else if (checked - good < 5)
			fprintf(stderr,
				"job %llu: status %s, result_len %llu, sum %llx, want %llx\n",
				(unsigned long long)i, zr_job_status_name(info.status),
				(unsigned long long)info.result_len, (unsigned long long)got,
				(unsigned long long)sums[i]);
		checked++;
		return zr_job_release(a, ids[i]);
	};
	const uint64_t window = 2048; /* jobs in flight: payloads stay within the arena */
	for (uint64_t i = 0; rc == 0 && i < n; i++) {
		if (i >= window && (rc = check(i - window)) != 0)
			break;
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		b.target = target;
		size_t len = 1 + (size_t)(zr_test_rand(&rng) % 4096);
		if ((rc = zr_payload_alloc(a, len, &b.payload)) != 0)
			break;
		uint8_t *p = (uint8_t *)zr_payload_ptr(a, b.payload);
		for (size_t j = 0; j < len; j++)
			p[j] = (uint8_t)zr_test_rand(&rng);
		b.payload_len = len;
		sums[i] = zr_test_fnv(p, len, ZR_TEST_FNV_SEED);
		while ((rc = zr_job_submit(ag, &b, &ids[i], NULL)) == ZR_EFULL)
			zr_test_sleep_ns(100000);
	}
	for (uint64_t i = n > window ? n - window : 0; rc == 0 && i < n; i++)
		rc = check(i);
	printf("producer: %llu of %llu results right (%s)\n", (unsigned long long)good,
	       (unsigned long long)n, zr_strerror(rc));
	zr_agent_unregister(ag);
	(void)zr_arena_close(a);
	return rc == 0 && good == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const char *count = zr_test_arg(argc, argv, "--count");
	uint64_t n = count ? strtoull(count, NULL, 10) : 20000;
	if (const char *name = zr_test_arg(argc, argv, "--producer"))
		return producer(name, n);
	bool cpu = zr_test_has(argc, argv, "--cpu");
	char name[64];
	zr_arena *a = zr_test_arena((size_t)64 << 20, name);
	zr_gpu *g = NULL;
	zr_diag d = {};
	if (!cpu) {
		int rc = zr_test_gpu_open(a, NULL, &g);
		if (rc) {
			(void)zr_arena_close(a);
			return rc;
		}
	}
	zr_agent_config acfg;
	zr_agent_config_init(&acfg);
	acfg.kind = ZR_AGENT_GPU;
	zr_agent *ag = NULL;
	ZR_CHECK_RC(zr_agent_register(a, "gpu-worker", &acfg, &ag));
	zr_gpu_worker_config wcfg;
	zr_gpu_worker_config_init(&wcfg, cpu ? cpu_launch : gpu_launch, NULL);
	wcfg.batch = 256;
	wcfg.result_bytes = 8;
	wcfg.gather_ns = 20000;
	zr_gpu_worker *w = NULL;
	int rc = zr_gpu_worker_create(g, ag, &wcfg, &w, &d);
	ZR_CHECK(rc == 0, "worker: %s %s", zr_strerror(rc), d.msg);
	pid_t pid = zr_test_spawn_producer(name, (unsigned long long)n,
					   (unsigned long long)zr_test_seed);
	ZR_CHECK(pid > 0, "spawn failed");
	int ok = 0, exited = 0;
	uint64_t deadline = zr_test_now_ns() + 240000000000ull;
	while (!exited && zr_test_now_ns() < deadline) {
		rc = zr_gpu_worker_step(w, &d);
		ZR_CHECK(rc >= 0, "step: %s %s", zr_strerror(rc), d.msg);
		exited = zr_test_reaped(pid, &ok);
	}
	zr_gpu_worker_stats st;
	zr_gpu_worker_stat(w, &st);
	printf("%s worker: %llu jobs in %llu batches (largest %llu), %llu completed, %llu failed, "
	       "%.1f us per batch on the %s\n",
	       cpu ? "CPU" : "GPU", (unsigned long long)st.jobs, (unsigned long long)st.batches,
	       (unsigned long long)st.largest_batch, (unsigned long long)st.completed,
	       (unsigned long long)st.failed,
	       st.batches ? (double)st.gpu_ns / (double)st.batches / 1e3 : 0.0,
	       cpu ? "CPU" : "GPU");
	ZR_CHECK(exited, "producer did not finish");
	ZR_CHECK(ok, "producer found wrong results");
	ZR_CHECK(st.completed == n && st.failed == 0, "completed %llu of %llu",
		 (unsigned long long)st.completed, (unsigned long long)n);
	zr_gpu_worker_destroy(w);
	zr_agent_unregister(ag);
	ZR_CHECK_RC(zr_gpu_close(g));
	ZR_CHECK_RC(zr_arena_check(a, &d));
	(void)zr_arena_close(a);
	printf("ok\n");
	return 0;
}
