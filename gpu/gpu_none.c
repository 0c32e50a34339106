/* The CUDA seam of a build without the CUDA toolkit: no handle can be
 * opened, so everything that needs one says why. What works without a GPU
 * (ring views and workers with a NULL zr_gpu) lives elsewhere and still
 * works. */
#include <errno.h>

#include "gpu_impl.h"

#define NO_CUDA                                                                                    \
	"zring was built without the CUDA toolkit (none found at configure time, or ZR_CUDA=OFF)"

int zr_gpu_open(zr_arena *a, const zr_gpu_config *cfg, zr_gpu **out, zr_diag *diag)
{
	(void)a;
	(void)cfg;
	*out = NULL;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}

int zr_gpu_close(zr_gpu *g)
{
	return g ? ZR_ENOTSUP : 0;
}

int zr_gpu_device_count(void)
{
	return 0;
}

int zri_gpu_bind_thread(const zr_gpu *g, zr_diag *diag)
{
	(void)g;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}

int zri_gpu_stream_create(const zr_gpu *g, void **stream, zr_diag *diag)
{
	(void)g;
	*stream = NULL;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}

void zri_gpu_stream_destroy(const zr_gpu *g, void *stream)
{
	(void)g;
	(void)stream;
}

int zri_gpu_pinned_alloc(const zr_gpu *g, size_t bytes, void **host, void **dev, zr_diag *diag)
{
	(void)g;
	(void)bytes;
	*host = *dev = NULL;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}

void zri_gpu_pinned_free(const zr_gpu *g, void *host)
{
	(void)g;
	(void)host;
}

int zri_gpu_launch_check(const zr_gpu *g, zr_diag *diag)
{
	(void)g;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}

int zri_gpu_stream_sync(const zr_gpu *g, void *stream, zr_diag *diag)
{
	(void)g;
	(void)stream;
	return zri_gpu_fail(diag, ZR_ENOTSUP, NO_CUDA);
}
