// bench/bench_gpu_kernels.cu: the kernels bench_gpu measures and their
// launch functions (bench_gpu_kernels.h). Compiled by nvcc for every
// architecture in CMAKE_CUDA_ARCHITECTURES (sm_80 and sm_90 with their PTX).
#include "bench_gpu_kernels.h"

#include "zring/gpu_device.h"

namespace zr_bench_gpu
{
namespace
{

// Grid-stride sum of 16-byte vectors, four loads in flight per thread (a
// read of mapped host memory crosses PCIe: about a microsecond each), a
// warp then block reduction, and one atomicAdd per block.
__global__ void __launch_bounds__(kSumThreads)
	sum_kernel(const ulonglong2 *p, size_t n, unsigned long long *acc)
{
	size_t stride = (size_t)gridDim.x * blockDim.x;
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	unsigned long long s = 0;
	for (; i + 3 * stride < n; i += 4 * stride) {
		ulonglong2 a = p[i], b = p[i + stride], c = p[i + 2 * stride],
			   d = p[i + 3 * stride];
		s += a.x + a.y + b.x + b.y + c.x + c.y + d.x + d.y;
	}
	for (; i < n; i += stride) {
		ulonglong2 a = p[i];
		s += a.x + a.y;
	}
	for (int o = 16; o > 0; o >>= 1)
		s += __shfl_down_sync(0xffffffffu, s, o);
	__shared__ unsigned long long warp_sum[kSumThreads / 32];
	if ((threadIdx.x & 31) == 0)
		warp_sum[threadIdx.x >> 5] = s;
	__syncthreads();
	if (threadIdx.x == 0) {
		unsigned long long t = 0;
		for (unsigned w = 0; w < kSumThreads / 32; w++)
			t += warp_sum[w];
		atomicAdd(acc, t);
	}
}

// See launch_echo_persistent() in the header. Only thread 0 touches the
// rings (one owner per view); the barriers order the others' use of an
// entry after its acquire and before the next release (gpu_device.h).
__global__ void __launch_bounds__(kEchoThreads)
	echo_persistent_kernel(zr_gpu_ring in, zr_gpu_ring out, const uint32_t *stop,
			       EchoStatus *status)
{
	__shared__ int s_rc;
	uint64_t echoed = 0;
	for (;;) {
		if (threadIdx.x == 0) {
			uint64_t v = 0;
			int rc = zr_gpu_ring_wait(&in, &v, stop);
			if (rc == 1)
				rc = zr_gpu_ring_push_wait(&out, v + 1, stop);
			if (rc == 1)
				echoed++;
			s_rc = rc;
		}
		__syncthreads();
		int rc = s_rc;
		__syncthreads(); // every thread has read s_rc before thread 0 writes it again
		if (rc != 1) {
			if (threadIdx.x == 0) {
				status->echoed = echoed;
				status->rc = rc; // 0: stopped, or ZR_ECORRUPT
				__threadfence_system();
				status->ended = 1;
			}
			return;
		}
	}
}

__global__ void echo_once_kernel(const uint64_t *in, uint64_t *out)
{
	*out = *in + 1;
}

// Before a launch: drop a non-sticky error an earlier call left behind (a
// cudaStreamQuery() that found work pending, say), which every call that
// can fail has already reported through its own return value; after it:
// the launch's own error. A sticky error is returned by the launch anyway.
void clear_error()
{
	(void)cudaGetLastError();
}

cudaError_t launched()
{
	return cudaGetLastError();
}

} // namespace

cudaError_t preload()
{
	cudaFuncAttributes attr;
	cudaError_t e = cudaFuncGetAttributes(&attr, sum_kernel);
	if (e == cudaSuccess)
		e = cudaFuncGetAttributes(&attr, echo_persistent_kernel);
	if (e == cudaSuccess)
		e = cudaFuncGetAttributes(&attr, echo_once_kernel);
	return e;
}

cudaError_t sum_blocks(int device, size_t bytes, unsigned *blocks)
{
	int sms = 0, per_sm = 0;
	cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
	if (e == cudaSuccess)
		e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, sum_kernel,
								  (int)kSumThreads, 0);
	if (e != cudaSuccess)
		return e;
	size_t vectors = bytes / 16;
	size_t want = (vectors + kSumThreads - 1) / kSumThreads;
	size_t most = (size_t)sms * (size_t)(per_sm > 0 ? per_sm : 1);
	*blocks = (unsigned)(want < 1 ? 1 : want < most ? want : most);
	return cudaSuccess;
}

cudaError_t launch_sum(const void *p, size_t bytes, unsigned long long *acc, unsigned blocks,
		       cudaStream_t s)
{
	clear_error();
	sum_kernel<<<blocks, kSumThreads, 0, s>>>(static_cast<const ulonglong2 *>(p), bytes / 16,
						  acc);
	return launched();
}

cudaError_t launch_echo_persistent(const zr_gpu_ring &in, const zr_gpu_ring &out,
				   const uint32_t *stop, EchoStatus *status, cudaStream_t s)
{
	clear_error();
	echo_persistent_kernel<<<1, kEchoThreads, 0, s>>>(in, out, stop, status);
	return launched();
}

cudaError_t launch_echo_once(const uint64_t *in, uint64_t *out, cudaStream_t s)
{
	clear_error();
	echo_once_kernel<<<1, 1, 0, s>>>(in, out);
	return launched();
}

} // namespace zr_bench_gpu
