/* Host offsets to device addresses, and the parts of a zr_gpu handle that
 * need no CUDA call. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu_impl.h"
#include "zring/slab.h"

int zri_gpu_fail(zr_diag *diag, int rc, const char *fmt, ...)
{
	if (diag) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
		diag->code = rc;
	}
	return rc;
}

int zri_gpu_check_pid(const zr_gpu *g, zr_diag *diag)
{
	if (g && g->pid != getpid())
		return zri_gpu_fail(
			diag, ZR_ENOTSUP,
			"GPU handle opened by pid %d used in pid %d: CUDA state does not "
			"survive fork; start GPU agents by exec",
			(int)g->pid, (int)getpid());
	return 0;
}

void zr_gpu_config_init(zr_gpu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->device = 0;
	cfg->sync = ZR_GPU_SYNC_SPIN;
	cfg->piece_bytes = (uint64_t)1 << 30;
}

void zr_gpu_info_get(const zr_gpu *g, zr_gpu_info *out)
{
	*out = g->info;
}

int zr_gpu_offset_ptr(const zr_gpu *g, uint64_t off, uint64_t len, void **dev)
{
	*dev = NULL;
	if (!g)
		return -EINVAL;
	int rc = zri_gpu_check_pid(g, NULL);
	if (rc)
		return rc;
	if (off > g->size || len > g->size - off)
		return -ERANGE;
	if (g->contiguous) {
		*dev = g->dev_base + off;
		return 0;
	}
	/* Pieces are registered in order, each but the last of the same size. */
	uint64_t piece = g->pieces[0].len;
	uint64_t i = off / piece;
	uint64_t in = off - i * piece;
	if (i >= g->npieces || len > g->pieces[i].len - in)
		return -ERANGE; /* crosses into a piece the device sees elsewhere */
	*dev = g->pieces[i].dev + in;
	return 0;
}

int zri_gpu_to_dev(const zr_gpu *g, const void *host, uint64_t len, void **dev)
{
	*dev = NULL;
	if (!g) {
		*dev = (void *)(uintptr_t)host;
		return 0;
	}
	const uint8_t *p = host;
	if (p < g->host_base)
		return -ERANGE;
	return zr_gpu_offset_ptr(g, (uint64_t)(p - g->host_base), len, dev);
}

uint64_t zri_gpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int zr_gpu_payload_ptr(const zr_gpu *g, zr_payload p, void **dev, size_t *size)
{
	*dev = NULL;
	if (!g)
		return -EINVAL;
	void *host;
	size_t n;
	int rc = zr_payload_resolve(g->arena, p, &host, &n);
	if (rc)
		return rc;
	rc = zri_gpu_to_dev(g, host, n, dev);
	if (rc == 0 && size)
		*size = n;
	return rc;
}

int zr_gpu_span_get(const zr_gpu *g, const zr_arena *a, zr_gpu_span *out)
{
	memset(out, 0, sizeof(*out));
	if (!g) {
		zr_arena_info info;
		zr_arena_info_get(a, &info);
		out->base = zr_arena_base(a);
		out->size = info.size;
		return 0;
	}
	int rc = zri_gpu_check_pid(g, NULL);
	if (rc)
		return rc;
	if (a != g->arena || !g->contiguous)
		return -ERANGE;
	out->base = g->dev_base;
	out->size = g->size;
	return 0;
}
