/* tests/gpu/gpu_register.cu: registration of an arena with CUDA. A 64 MiB
 * /dev/shm arena is registered in 8 pieces; a kernel reads a 40 MiB payload
 * that the CPU wrote (across piece boundaries) and writes another that the
 * CPU then checks; registering twice is refused; a forked child's handle
 * refuses to work; unregistering lets the arena be registered again.
 * Without a CUDA device it exits 77: skipped. */
#include <cuda_runtime.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_common.h"
#include "gpu_proc.h"
extern "C" {
#include "test.h"
}

__global__ void sum_words(const uint64_t *p, size_t n, unsigned long long *out)
{
	unsigned long long s = 0;
	for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
		s += p[i] * (i | 1);
	atomicAdd(out, s); /* device memory: no CPU touches it */
}

__global__ void fill_words(uint64_t *p, size_t n, uint64_t seed)
{
	for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
		p[i] = seed ^ (i * 0x9e3779b97f4a7c15ull);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	char name[64];
	zr_arena *a = zr_test_arena((size_t)64 << 20, name);
	zr_gpu_config cfg;
	zr_gpu_config_init(&cfg);
	cfg.piece_bytes = (uint64_t)8 << 20;
	zr_gpu *g = NULL;
	zr_diag d = {};
	int rc = zr_test_gpu_open(a, &cfg, &g);
	if (rc) {
		(void)zr_arena_close(a);
		return rc;
	}
	zr_gpu_info info;
	zr_gpu_info_get(g, &info);
	printf("device %d: %s (sm_%d%d), %u pieces, %llu bytes in %.1f ms, same address: %d\n",
	       info.device, info.name, info.cc_major, info.cc_minor, info.pieces,
	       (unsigned long long)info.registered, (double)info.register_ns / 1e6,
	       info.same_address);
	ZR_CHECK(info.pieces == 8 && info.registered == ((uint64_t)64 << 20), "pieces %u",
		 info.pieces);

	zr_gpu *again = NULL;
	rc = zr_gpu_open(a, &cfg, &again, &d);
	ZR_CHECK(rc == -EEXIST, "second registration: %s %s", zr_strerror(rc), d.msg);

	/* a payload that spans pieces, written by the CPU, read by the GPU */
	size_t bytes = (size_t)40 << 20, n = bytes / 8;
	zr_payload p;
	ZR_CHECK_RC(zr_payload_alloc(a, bytes, &p));
	uint64_t *host = (uint64_t *)zr_payload_ptr(a, p);
	unsigned long long want = 0;
	for (size_t i = 0; i < n; i++) {
		host[i] = zr_test_rand(&zr_test_seed);
		want += host[i] * (i | 1);
	}
	void *dev = NULL;
	size_t size = 0;
	rc = zr_gpu_payload_ptr(g, p, &dev, &size);
	if (rc == -ERANGE) { /* pieces not contiguous on the device: say so, stop here */
		printf("skipped: this device does not see the pieces contiguously\n");
		return 77;
	}
	ZR_CHECK(rc == 0 && size >= bytes, "payload ptr: %s", zr_strerror(rc));
	unsigned long long *sum_dev = NULL, got = 0;
	ZR_CHECK(cudaMalloc(&sum_dev, sizeof(*sum_dev)) == cudaSuccess, "cudaMalloc");
	ZR_CHECK(cudaMemset(sum_dev, 0, sizeof(*sum_dev)) == cudaSuccess, "cudaMemset");
	sum_words<<<132, 256>>>((const uint64_t *)dev, n, sum_dev);
	ZR_CHECK(cudaMemcpy(&got, sum_dev, sizeof(got), cudaMemcpyDeviceToHost) == cudaSuccess,
		 "kernel: %s", cudaGetErrorString(cudaGetLastError()));
	ZR_CHECK(got == want, "GPU sum %llx, CPU sum %llx", got, want);

	/* written by the GPU, read by the CPU */
	fill_words<<<132, 256>>>((uint64_t *)dev, n, 42);
	ZR_CHECK(cudaDeviceSynchronize() == cudaSuccess, "fill: %s",
		 cudaGetErrorString(cudaGetLastError()));
	for (size_t i = 0; i < n; i++)
		ZR_CHECK(host[i] == (42 ^ (i * 0x9e3779b97f4a7c15ull)), "word %zu", i);
	cudaFree(sum_dev);

	/* bounds */
	ZR_CHECK(zr_gpu_offset_ptr(g, ((uint64_t)64 << 20) - 8, 16, &dev) == -ERANGE,
		 "past the end");
	ZR_CHECK(zr_gpu_offset_ptr(g, ((uint64_t)64 << 20) - 8, 8, &dev) == 0, "last word");

	/* a forked child's handle refuses to work and closes without CUDA */
	pid_t pid = fork();
	if (pid == 0)
		_exit(zr_gpu_offset_ptr(g, 0, 8, &dev) == ZR_ENOTSUP && zr_gpu_close(g) == 0 ? 0
											     : 1);
	int st = 0;
	waitpid(pid, &st, 0);
	ZR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "forked child used the handle");

	ZR_CHECK_RC(zr_payload_free(a, p));
	ZR_CHECK_RC(zr_gpu_close(g));
	ZR_CHECK_RC(zr_gpu_open(a, &cfg, &g, &d)); /* unregistered: can register again */
	ZR_CHECK_RC(zr_gpu_close(g));
	(void)zr_arena_close(a);
	printf("ok\n");
	return 0;
}
