/* The GPU module's handle and the seam between its CUDA-independent parts
 * (addresses, ring views, workers) and the CUDA runtime calls, which live
 * in gpu_cuda.c, or in gpu_none.c for a build without the toolkit. */
#ifndef ZR_GPU_IMPL_H
#define ZR_GPU_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zring/gpu.h"

/* One cudaHostRegister call's range and where the device sees it. */
struct zri_gpu_piece {
	uint8_t *host;
	uint8_t *dev;
	uint64_t len;
};

struct zr_gpu {
	const zr_arena *arena;
	uint8_t *host_base; /* the arena's mapping in this process */
	uint64_t size;
	pid_t pid; /* process that opened it: a forked child may not use it */
	uint32_t npieces;
	bool contiguous;   /* the pieces' device ranges follow each other */
	uint8_t *dev_base; /* device address of host_base when contiguous */
	struct zri_gpu_piece *pieces;
	zr_gpu_info info;
};

/* Fill diag (may be NULL) with a formatted message; returns rc. */
int zri_gpu_fail(zr_diag *diag, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Device address of len bytes of this process's mapping of the arena at
 * host; the host address itself when g is NULL (the CPU path).
 * @return 0, -ERANGE, ZR_ENOTSUP (forked). */
int zri_gpu_to_dev(const zr_gpu *g, const void *host, uint64_t len, void **dev);

/* CLOCK_MONOTONIC in ns. (libzring's own is not exported to this library.) */
uint64_t zri_gpu_now_ns(void);

/* ZR_ENOTSUP with a message when g was opened by another process (fork). */
int zri_gpu_check_pid(const zr_gpu *g, zr_diag *diag);

/* CUDA runtime seam. Each returns 0 or a zring error with the CUDA call
 * named in diag; without the toolkit they return ZR_ENOTSUP. A stream is
 * a cudaStream_t. */
/* Make g's device current on the calling thread (CUDA keeps it per thread). */
int zri_gpu_bind_thread(const zr_gpu *g, zr_diag *diag);
int zri_gpu_stream_create(const zr_gpu *g, void **stream, zr_diag *diag);
void zri_gpu_stream_destroy(const zr_gpu *g, void *stream);
/* Pinned host memory mapped for the device: *host for the CPU, *dev for kernels. */
int zri_gpu_pinned_alloc(const zr_gpu *g, size_t bytes, void **host, void **dev, zr_diag *diag);
void zri_gpu_pinned_free(const zr_gpu *g, void *host);
/* After a launch callback: did it leave a launch error behind? */
int zri_gpu_launch_check(const zr_gpu *g, zr_diag *diag);
int zri_gpu_stream_sync(const zr_gpu *g, void *stream, zr_diag *diag);

#endif
