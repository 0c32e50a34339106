/* The CUDA runtime calls of the GPU module: registration of the arena,
 * streams and pinned memory for workers. Built only with the toolkit; the
 * runtime is linked statically, so a machine without CUDA needs nothing
 * installed and every call here fails with ZR_ENODEV. */
#include <cuda_runtime_api.h>
#include <errno.h>
#include <libgen.h>
#include <linux/magic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "../runtime/arena_impl.h"
#include "gpu_impl.h"

#define HUGE_ALIGN ((uint64_t)2 << 20) /* pieces end on huge page boundaries */

static int cuda_code(cudaError_t e)
{
	switch ((int)e) { /* int: the enum has some hundred values */
	case cudaSuccess: return 0;
	case cudaErrorNoDevice:
	case cudaErrorInsufficientDriver:
	case cudaErrorInvalidDevice:
	case cudaErrorStubLibrary:
	case cudaErrorDevicesUnavailable:
	case cudaErrorSystemNotReady:
	case cudaErrorSystemDriverMismatch:
	case cudaErrorCompatNotSupportedOnDevice: return ZR_ENODEV;
	case cudaErrorMemoryAllocation: return -ENOMEM;
	case cudaErrorHostMemoryAlreadyRegistered: return -EEXIST;
	case cudaErrorNotSupported: return ZR_ENOTSUP;
	default: return ZR_EGPU;
	}
}

static int cuda_fail(zr_diag *diag, cudaError_t e, const char *call)
{
	return zri_gpu_fail(diag, cuda_code(e), "%s: %s (%s)", call, cudaGetErrorName(e),
			    cudaGetErrorString(e));
}

/* Only tmpfs and hugetlbfs pages can be pinned for the long term. */
static int check_filesystem(const zr_arena *a, zr_diag *diag)
{
	struct statfs sf;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", a->path);
	if (statfs(a->path, &sf) != 0 && statfs(dirname(dir), &sf) != 0)
		return zri_gpu_fail(diag, -errno, "cannot statfs %s: %s", a->path, strerror(errno));
	if (sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC)
		return 0;
	return zri_gpu_fail(diag, ZR_ENOTSUP,
			    "arena %s is on a filesystem of type 0x%lx: only tmpfs (/dev/shm) and "
			    "hugetlbfs arenas can be registered with CUDA (Linux refuses long-term "
			    "pins of other file mappings)",
			    a->path, (unsigned long)sf.f_type);
}

static int select_device(const zr_gpu_config *cfg, zr_gpu_info *info, zr_diag *diag)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess)
		return zri_gpu_fail(diag, ZR_ENODEV,
				    "no usable CUDA driver or device: cudaGetDeviceCount: %s (%s)",
				    cudaGetErrorName(e), cudaGetErrorString(e));
	if (cfg->device < 0 || cfg->device >= n)
		return zri_gpu_fail(diag, ZR_ENODEV, "no CUDA device %d (%d visible)", cfg->device,
				    n);
	if ((e = cudaSetDevice(cfg->device)) != cudaSuccess)
		return cuda_fail(diag, e, "cudaSetDevice");
	unsigned flags = cudaDeviceMapHost;
	flags |= cfg->sync == ZR_GPU_SYNC_BLOCK	  ? cudaDeviceScheduleBlockingSync
		 : cfg->sync == ZR_GPU_SYNC_YIELD ? cudaDeviceScheduleYield
						  : cudaDeviceScheduleSpin;
	e = cudaSetDeviceFlags(flags);
	if (e == cudaErrorSetOnActiveProcess)
		(void)cudaGetLastError(); /* a context exists already: keep its flags */
	else if (e != cudaSuccess)
		return cuda_fail(diag, e, "cudaSetDeviceFlags");
	struct cudaDeviceProp prop;
	if ((e = cudaGetDeviceProperties(&prop, cfg->device)) != cudaSuccess)
		return cuda_fail(diag, e, "cudaGetDeviceProperties");
	int map = 0, reg = 1, same = 0;
	if ((e = cudaDeviceGetAttribute(&map, cudaDevAttrCanMapHostMemory, cfg->device)) !=
	    cudaSuccess)
		return cuda_fail(diag, e, "cudaDeviceGetAttribute(CanMapHostMemory)");
	if (cudaDeviceGetAttribute(&reg, cudaDevAttrHostRegisterSupported, cfg->device) !=
	    cudaSuccess) {
		(void)cudaGetLastError(); /* older drivers do not know it */
		reg = 1;
	}
	if (cudaDeviceGetAttribute(&same, cudaDevAttrCanUseHostPointerForRegisteredMem,
				   cfg->device) != cudaSuccess) {
		(void)cudaGetLastError();
		same = 0;
	}
	if (!map || !reg)
		return zri_gpu_fail(diag, ZR_ENOTSUP, "CUDA device %d (%s) cannot %s host memory",
				    cfg->device, prop.name, map ? "register" : "map");
	info->device = cfg->device;
	snprintf(info->name, sizeof(info->name), "%.95s", prop.name);
	info->cc_major = prop.major;
	info->cc_minor = prop.minor;
	info->same_address = same != 0;
	return 0;
}

static void unregister_pieces(zr_gpu *g)
{
	for (uint32_t i = 0; i < g->npieces; i++)
		(void)cudaHostUnregister(g->pieces[i].host);
	g->npieces = 0;
}

static int register_pieces(zr_gpu *g, uint64_t piece, bool readonly, zr_diag *diag)
{
	piece = (piece + HUGE_ALIGN - 1) / HUGE_ALIGN * HUGE_ALIGN;
	uint32_t n = (uint32_t)((g->size + piece - 1) / piece);
	g->pieces = calloc(n, sizeof(*g->pieces));
	if (!g->pieces)
		return -ENOMEM;
	unsigned flags = cudaHostRegisterPortable | cudaHostRegisterMapped;
	if (readonly)
		flags |= cudaHostRegisterReadOnly;
	for (uint32_t i = 0; i < n; i++) {
		struct zri_gpu_piece *p = &g->pieces[i];
		uint64_t off = (uint64_t)i * piece;
		p->host = g->host_base + off;
		p->len = g->size - off < piece ? g->size - off : piece;
		cudaError_t e = cudaHostRegister(p->host, p->len, flags);
		if (e == cudaSuccess) {
			g->npieces = i + 1;
			void *dev = NULL;
			e = cudaHostGetDevicePointer(&dev, p->host, 0);
			p->dev = dev;
		}
		if (e != cudaSuccess) {
			char call[96];
			snprintf(call, sizeof(call), "cudaHostRegister of %s piece %u (%llu bytes)",
				 g->arena->name, i, (unsigned long long)p->len);
			unregister_pieces(g);
			return cuda_fail(diag, e, call);
		}
	}
	g->contiguous = true;
	for (uint32_t i = 1; i < n; i++)
		if (g->pieces[i].dev != g->pieces[i - 1].dev + g->pieces[i - 1].len)
			g->contiguous = false;
	g->dev_base = g->pieces[0].dev;
	g->info.pieces = n;
	g->info.registered = g->size;
	return 0;
}

int zr_gpu_open(zr_arena *a, const zr_gpu_config *cfg_in, zr_gpu **out, zr_diag *diag)
{
	*out = NULL;
	if (!a)
		return zri_gpu_fail(diag, -EINVAL, "no arena");
	zr_gpu_config cfg;
	if (cfg_in)
		cfg = *cfg_in;
	else
		zr_gpu_config_init(&cfg);
	if (cfg.piece_bytes == 0)
		return zri_gpu_fail(diag, -EINVAL, "piece_bytes is 0");
	int rc = check_filesystem(a, diag);
	if (rc)
		return rc;
	zr_gpu *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->arena = a;
	g->host_base = a->base;
	g->size = a->size;
	g->pid = getpid();
	uint64_t t0 = zri_gpu_now_ns();
	rc = select_device(&cfg, &g->info, diag);
	if (rc == 0)
		rc = register_pieces(g, cfg.piece_bytes, a->readonly, diag);
	if (rc) {
		free(g->pieces);
		free(g);
		return rc;
	}
	g->info.register_ns = zri_gpu_now_ns() - t0;
	*out = g;
	return 0;
}

int zr_gpu_close(zr_gpu *g)
{
	if (!g)
		return 0;
	int rc = 0;
	if (g->pid == getpid()) { /* a forked child has nothing registered */
		(void)cudaSetDevice(g->info.device);
		for (uint32_t i = 0; i < g->npieces; i++)
			if (cudaHostUnregister(g->pieces[i].host) != cudaSuccess)
				rc = ZR_EGPU;
	}
	free(g->pieces);
	free(g);
	return rc;
}

int zr_gpu_device_count(void)
{
	int n = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		(void)cudaGetLastError();
		return 0;
	}
	return n;
}

int zri_gpu_bind_thread(const zr_gpu *g, zr_diag *diag)
{
	/* Drop a non-sticky error left by an earlier call of this thread (each
	 * call reported its own): zri_gpu_launch_check() must see only the
	 * launch's. A sticky one comes back from every call anyway. */
	(void)cudaGetLastError();
	cudaError_t e = cudaSetDevice(g->info.device);
	return e == cudaSuccess ? 0 : cuda_fail(diag, e, "cudaSetDevice");
}

int zri_gpu_stream_create(const zr_gpu *g, void **stream, zr_diag *diag)
{
	int rc = zri_gpu_bind_thread(g, diag);
	if (rc)
		return rc;
	cudaStream_t s;
	cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
	if (e != cudaSuccess)
		return cuda_fail(diag, e, "cudaStreamCreateWithFlags");
	*stream = s;
	return 0;
}

void zri_gpu_stream_destroy(const zr_gpu *g, void *stream)
{
	(void)g;
	(void)cudaStreamDestroy((cudaStream_t)stream);
}

int zri_gpu_pinned_alloc(const zr_gpu *g, size_t bytes, void **host, void **dev, zr_diag *diag)
{
	int rc = zri_gpu_bind_thread(g, diag);
	if (rc)
		return rc;
	cudaError_t e = cudaHostAlloc(host, bytes, cudaHostAllocMapped | cudaHostAllocPortable);
	if (e != cudaSuccess) {
		*host = NULL;
		return cuda_fail(diag, e, "cudaHostAlloc");
	}
	memset(*host, 0, bytes);
	if ((e = cudaHostGetDevicePointer(dev, *host, 0)) != cudaSuccess)
		return cuda_fail(diag, e, "cudaHostGetDevicePointer");
	return 0;
}

void zri_gpu_pinned_free(const zr_gpu *g, void *host)
{
	(void)g;
	(void)cudaFreeHost(host);
}

int zri_gpu_launch_check(const zr_gpu *g, zr_diag *diag)
{
	(void)g;
	cudaError_t e = cudaGetLastError();
	return e == cudaSuccess ? 0 : cuda_fail(diag, e, "kernel launch");
}

int zri_gpu_stream_sync(const zr_gpu *g, void *stream, zr_diag *diag)
{
	(void)g;
	cudaError_t e = cudaStreamSynchronize((cudaStream_t)stream);
	return e == cudaSuccess ? 0 : cuda_fail(diag, e, "cudaStreamSynchronize");
}
