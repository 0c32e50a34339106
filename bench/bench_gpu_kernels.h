// bench/bench_gpu_kernels.h: the kernels of bench_gpu, behind plain host
// functions. bench_gpu_kernels.cu (nvcc) defines them; bench_gpu.cc (the
// host compiler) only calls them, so no CUDA C++ reaches the host compiler
// and the static library of the kernels is linked by the host linker.
//
// Every function returns the CUDA error of the launch (cudaGetLastError()
// right after it), never synchronises, and leaves checking the kernel's
// completion to the caller's cudaStreamSynchronize().
#ifndef ZRING_BENCH_GPU_KERNELS_H
#define ZRING_BENCH_GPU_KERNELS_H

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "zring/gpu.h"

namespace zr_bench_gpu
{

// Threads per block of the reduction.
constexpr unsigned kSumThreads = 256;

// What the persistent echo kernel leaves in mapped pinned memory when it
// ends; the host reads it after cudaStreamSynchronize().
struct EchoStatus {
	uint64_t echoed; // entries answered
	int64_t rc;	 // 0: stopped by the host; ZR_ECORRUPT: a ring index was off
	uint64_t ended;	 // 1 once the kernel has written the two above
};

// Load every kernel now (CUDA loads modules lazily, at a kernel's first
// launch): a device the fat binary has no code for fails here, once.
cudaError_t preload();

// Blocks for the reduction over `bytes`: enough to cover it, at most what
// keeps every SM of `device` full (grid-stride beyond that).
cudaError_t sum_blocks(int device, size_t bytes, unsigned *blocks);

// *acc += the sum, modulo 2^64, of the 64-bit words of p[0 .. bytes). p
// may be device memory or mapped host memory (a registered arena): the
// kernel reads it in place either way. p 16-byte aligned, bytes a multiple
// of 16, acc device memory.
cudaError_t launch_sum(const void *p, size_t bytes, unsigned long long *acc, unsigned blocks,
		       cudaStream_t s);

// The persistent echo: one block of kEchoThreads threads; thread 0 waits
// on `in` (zr_gpu_ring_wait) and answers each entry v with v + 1 on `out`
// (zr_gpu_ring_push_wait), with a barrier between it and the others after
// each entry, as a kernel that shares the work would have; it returns when
// *stop (mapped pinned memory) becomes non-zero, or a ring is corrupt.
constexpr unsigned kEchoThreads = 32;
cudaError_t launch_echo_persistent(const zr_gpu_ring &in, const zr_gpu_ring &out,
				   const uint32_t *stop, EchoStatus *status, cudaStream_t s);

// The host proxy's kernel: *out = *in + 1, one thread (both mapped pinned
// memory, device addresses).
cudaError_t launch_echo_once(const uint64_t *in, uint64_t *out, cudaStream_t s);

} // namespace zr_bench_gpu

#endif
