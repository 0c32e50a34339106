/* tests/gpu/gpu_persistent.cu: a persistent kernel consumes an SPSC ring in
 * host memory that a CPU producer process feeds. Thread 0 of the kernel
 * runs zr_test_consume() (tests/gpu/gpu_common.h): it polls the ring with
 * system-scope acquire loads, checksums each message in place, and answers
 * on a second ring with system-scope release stores. The producer (an exec
 * of this binary running zr_test_feed) checks every answer.
 *   --cpu   the same loop on a host thread, with host views (label unit).
 * Without a CUDA device (and without --cpu) it exits 77: skipped. */
#include <cuda_runtime.h>
#include <stdlib.h>

#include <thread>

#include "gpu_common.h"
#include "gpu_feed.h"
#include "gpu_proc.h"
extern "C" {
#include "test.h"
}

__global__ void consume_kernel(zr_gpu_ring in, zr_gpu_ring out, zr_gpu_span span,
			       const uint32_t *stop, long long *handled)
{
	if (blockIdx.x == 0 && threadIdx.x == 0)
		*handled = zr_test_consume(&in, &out, &span, stop);
}

static int producer(const char *name, uint64_t n)
{
	zr_arena *a = NULL;
	zr_ring *in = NULL, *out = NULL;
	zr_diag d = {};
	int rc = zr_arena_open(name, 0, &a, &d);
	if (rc == 0 && (rc = zr_ring_open(a, "to_gpu", &in)) == 0)
		rc = zr_ring_open(a, "from_gpu", &out);
	struct zr_test_feed_report rep = {};
	if (rc == 0)
		rc = zr_test_feed(a, in, out, n, zr_test_seed, 120000000000ull, &rep);
	printf("producer: sent %llu, back %llu (%s) %s %s\n", (unsigned long long)rep.sent,
	       (unsigned long long)rep.done, zr_strerror(rc), d.msg, rep.why);
	zr_ring_close(in);
	zr_ring_close(out);
	(void)zr_arena_close(a);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const char *count = zr_test_arg(argc, argv, "--count");
	uint64_t n = count ? strtoull(count, NULL, 10) : 100000;
	if (const char *name = zr_test_arg(argc, argv, "--producer"))
		return producer(name, n);
	bool cpu = zr_test_has(argc, argv, "--cpu");
	char name[64];
	zr_arena *a = zr_test_arena((size_t)32 << 20, name);
	zr_ring_config rcfg = {ZR_RING_SPSC, 256, ZR_WAIT_SPIN};
	zr_ring *in = NULL, *out = NULL;
	ZR_CHECK_RC(zr_ring_create(a, "to_gpu", &rcfg, &in));
	ZR_CHECK_RC(zr_ring_create(a, "from_gpu", &rcfg, &out));
	zr_gpu *g = NULL;
	zr_diag d = {};
	if (!cpu) {
		int rc = zr_test_gpu_open(a, NULL, &g);
		if (rc) {
			(void)zr_arena_close(a);
			return rc;
		}
	}
	zr_gpu_ring vin, vout;
	zr_gpu_span span;
	ZR_CHECK_RC(zr_gpu_ring_view(g, in, ZR_GPU_CONSUMER, &vin, &d));
	ZR_CHECK_RC(zr_gpu_ring_view(g, out, ZR_GPU_PRODUCER, &vout, &d));
	ZR_CHECK_RC(zr_gpu_span_get(g, a, &span));

	/* stop word and result: pinned and mapped for the kernel; plain memory
	 * for the CPU thread */
	uint32_t *stop = NULL, *stop_dev = NULL;
	long long *handled = NULL, *handled_dev = NULL;
	if (g) {
		ZR_CHECK(cudaHostAlloc(&stop, 64, cudaHostAllocMapped) == cudaSuccess,
			 "cudaHostAlloc");
		handled = (long long *)(stop + 8);
		ZR_CHECK(cudaHostGetDevicePointer((void **)&stop_dev, stop, 0) == cudaSuccess,
			 "cudaHostGetDevicePointer");
		handled_dev = (long long *)(stop_dev + 8);
	} else {
		stop = stop_dev = (uint32_t *)calloc(1, 64);
		handled = handled_dev = (long long *)(stop + 8);
	}
	*stop = 0;
	*handled = -1;
	std::thread cpu_consumer;
	uint64_t t0 = zr_test_now_ns();
	if (g) {
		consume_kernel<<<1, 32>>>(vin, vout, span, stop_dev, handled_dev);
		ZR_CHECK(cudaGetLastError() == cudaSuccess, "launch");
	} else {
		cpu_consumer =
			std::thread([&] { *handled = zr_test_consume(&vin, &vout, &span, stop); });
	}
	pid_t pid = zr_test_spawn_producer(name, (unsigned long long)n,
					   (unsigned long long)zr_test_seed);
	int ok = 0, exited = pid < 0;
	uint64_t deadline = zr_test_now_ns() + 240000000000ull;
	while (!exited && zr_test_now_ns() < deadline) {
		exited = zr_test_reaped(pid, &ok);
		zr_test_sleep_ns(1000000);
	}
	if (!ok) /* the producer may not have sent its stop entry */
		__atomic_store_n(stop, 1u, __ATOMIC_RELEASE);
	if (g)
		ZR_CHECK(cudaDeviceSynchronize() == cudaSuccess, "kernel: %s",
			 cudaGetErrorString(cudaGetLastError()));
	else
		cpu_consumer.join();
	double secs = (double)(zr_test_now_ns() - t0) / 1e9;
	printf("%s consumer: %lld messages in %.2f s (%.0f k/s, producer included)\n",
	       g ? "GPU" : "CPU", *handled, secs, (double)*handled / secs / 1e3);
	ZR_CHECK(exited && ok, "producer failed or did not finish");
	ZR_CHECK(*handled == (long long)n, "consumer handled %lld of %llu", *handled,
		 (unsigned long long)n);
	if (g)
		cudaFreeHost(stop);
	else
		free(stop);
	ZR_CHECK_RC(zr_gpu_close(g));
	ZR_CHECK_RC(zr_arena_check(a, &d));
	zr_ring_close(in);
	zr_ring_close(out);
	(void)zr_arena_close(a);
	printf("ok\n");
	return 0;
}
