/* Jobs that carry a blob: the payload is a small reference (path, size,
 * generation) to a file mapped by zring/blob.h, so the data itself never
 * passes through the arena. A job that owns its blob removes the file when
 * its record is freed. The reference lives in shared memory, so everything
 * read from it is checked before use: a scribbled reference must neither
 * open nor remove a file that is not a blob. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job_impl.h"

#define REF_MAGIC 0x31464552424c425aULL /* "ZBLBREF1" */
#define BLOB_PREFIX "zring-blob-"

struct blob_ref {
	uint64_t magic;
	uint32_t flags; /* zr_job_blob_flags */
	uint32_t path_len;
	uint64_t size; /* data bytes when the job was built */
	uint64_t generation;
	char path[ZR_BLOB_PATH_MAX + 1];
};

/* A copy of the reference in `p` (len bytes), if it is whole and names a
 * blob file; NULL otherwise. Copied first: other processes may write the
 * payload while we look. */
static const struct blob_ref *ref_read(const void *p, uint64_t len, struct blob_ref *copy)
{
	if (!p || len != sizeof(*copy))
		return NULL;
	memcpy(copy, p, sizeof(*copy));
	if (copy->magic != REF_MAGIC || copy->flags & ~(uint32_t)ZR_JOB_BLOB_OWNED ||
	    copy->path_len == 0 || copy->path_len > ZR_BLOB_PATH_MAX ||
	    copy->path[copy->path_len] != '\0' || strlen(copy->path) != copy->path_len)
		return NULL;
	const char *base = strrchr(copy->path, '/');
	base = base ? base + 1 : copy->path;
	if (copy->path[0] != '/' || strncmp(base, BLOB_PREFIX, strlen(BLOB_PREFIX)) != 0 ||
	    strstr(copy->path, "/../"))
		return NULL;
	return copy;
}

int zr_job_builder_blob(zr_arena *a, zr_job_builder *b, const zr_blob *blob, unsigned flags)
{
	if (!a || !b || !blob || b->payload.v || b->compress_level ||
	    flags & ~(unsigned)ZR_JOB_BLOB_OWNED)
		return -EINVAL;
	const char *path = zr_blob_path(blob);
	char abs[PATH_MAX];
	if (path[0] != '/') { /* a relative directory: other processes have other cwds */
		if (!realpath(path, abs))
			return -errno;
		path = abs;
	}
	size_t n = strlen(path);
	if (n == 0 || n > ZR_BLOB_PATH_MAX)
		return -ENAMETOOLONG;
	zr_blob_info info;
	zr_blob_info_get(blob, &info);
	struct blob_ref ref = {.magic = REF_MAGIC,
			       .flags = flags,
			       .path_len = (uint32_t)n,
			       .size = info.size,
			       .generation = info.generation};
	memcpy(ref.path, path, n);
	struct blob_ref check;
	if (!ref_read(&ref, sizeof(ref), &check))
		return -EINVAL; /* not an absolute path to a zring-blob-* file */
	zr_payload p;
	int rc = zr_payload_alloc(a, sizeof(ref), &p);
	if (rc)
		return rc;
	memcpy(zr_payload_ptr(a, p), &ref, sizeof(ref));
	b->payload = p;
	b->payload_len = sizeof(ref);
	b->job_flags |= ZR_JOBF_BLOB;
	return 0;
}

int zri_job_blob_check(const zr_arena *a, const zr_job_builder *b)
{
	if (b->job_flags & ~(uint32_t)ZR_JOBF_BLOB)
		return -EINVAL;
	if (!(b->job_flags & ZR_JOBF_BLOB))
		return 0;
	struct blob_ref copy;
	const struct blob_ref *ref = ref_read(zr_payload_ptr(a, b->payload), b->payload_len, &copy);
	if (!ref || b->compress_level)
		return -EINVAL;
	if (ref->flags & ZR_JOB_BLOB_OWNED && b->interval_ns)
		return -EINVAL; /* every run's copy would remove the shared file */
	return 0;
}

int zr_job_blob_open(const zr_claim *c, unsigned flags, zr_blob **out, uint64_t *size,
		     zr_diag *diag)
{
	if (!c || !out || !(c->flags & ZR_JOBF_BLOB))
		return zri_diag_set(diag, -EINVAL, "the job does not carry a blob");
	struct blob_ref copy;
	const struct blob_ref *ref = ref_read(c->data, c->len, &copy);
	if (!ref)
		return zri_diag_set(
			diag, ZR_ECORRUPT,
			"job %llu: its blob reference (payload of %llu bytes) is damaged",
			(unsigned long long)c->id, (unsigned long long)c->len);
	if (size)
		*size = ref->size;
	return zr_blob_open_path(ref->path, flags, out, diag);
}

void zri_job_blob_drop(zr_arena *a, struct zri_job *j, zr_payload p)
{
	if (!(ZRI_KIND_FLAGS(zri_ld(&j->a_kind)) & ZR_JOBF_BLOB))
		return;
	struct blob_ref copy;
	const struct blob_ref *ref =
		ref_read(zr_payload_ptr(a, p), zri_ld(&j->a_payload_len), &copy);
	/* gone already (a predecessor died after removing it), or not ours to
	 * remove (another user's directory): nothing more can be done here */
	if (ref && ref->flags & ZR_JOB_BLOB_OWNED)
		(void)unlink(ref->path);
}
