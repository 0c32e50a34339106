/* Kernels that use each function of zring/gpu_device.h, compiled to PTX by
 * ptx_check.sh, which checks the memory operations each one must contain
 * (and that none does an atomic read-modify-write on host memory). */
#include "zring/gpu_device.h"

extern "C" __global__ void probe_poll(zr_gpu_ring r, uint64_t *out)
{
	zr_gpu_ring_poll(&r, out);
}

extern "C" __global__ void probe_poll_burst(zr_gpu_ring r, uint64_t *out)
{
	zr_gpu_ring_poll_burst(&r, out, 8);
}

extern "C" __global__ void probe_wait(zr_gpu_ring r, uint64_t *out, const uint32_t *stop)
{
	zr_gpu_ring_wait(&r, out, stop);
}

extern "C" __global__ void probe_push(zr_gpu_ring r, uint64_t v)
{
	zr_gpu_ring_push(&r, v);
}

extern "C" __global__ void probe_push_wait(zr_gpu_ring r, uint64_t v, const uint32_t *stop)
{
	zr_gpu_ring_push_wait(&r, v, stop);
}
