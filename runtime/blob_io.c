/* runtime/blob_io.c: changing a blob's size, making it durable, and moving
 * its data in and out (include/zring/blob.h).
 *
 * Resizing keeps one rule, so that an opener reading the header at any
 * moment never maps a page past the end of the file: the file is at least
 * as long as its header says. Growing extends the file first and rewrites
 * the header last; shrinking rewrites the header first and cuts the file
 * last. The header is rewritten with plain stores: an opener that reads it
 * meanwhile sees a checksum mismatch, or an old header with the new length,
 * and reads again (zri_blob_load()). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "arena_impl.h"
#include "blob_impl.h"

#define READ_AHEAD_MAX ((uint64_t)16 << 20) /* most asked of the kernel at once */

int zri_blob_room(uint64_t avail, uint64_t need, const char *where, zr_diag *diag)
{
	if (need <= avail)
		return 0;
	return zri_diag_set(diag, ZR_ENOSPACE,
			    "blob needs %llu bytes but %s has %llu free; free some space "
			    "(or enlarge it, e.g. docker --shm-size) or ask for less",
			    (unsigned long long)need, where, (unsigned long long)avail);
}

int zri_blob_extend(int fd, const char *path, uint64_t from, uint64_t total, bool sparse,
		    zr_diag *diag)
{
	if (ftruncate(fd, (off_t)total) != 0)
		return zri_diag_set(diag, -errno, "cannot size %s to %llu bytes: %s", path,
				    (unsigned long long)total, strerror(errno));
	if (sparse)
		return 0;
	int e = posix_fallocate(fd, (off_t)from, (off_t)(total - from));
	if (e == ENOSPC)
		return zri_diag_set(diag, ZR_ENOSPACE,
				    "could not reserve %llu bytes for %s (filesystem full)",
				    (unsigned long long)(total - from), path);
	if (e && e != EOPNOTSUPP && e != EINVAL)
		return zri_diag_set(diag, -e, "cannot reserve space for %s: %s", path, strerror(e));
	return 0;
}

/* Map `len` bytes of the file again; on failure nothing changes. */
static int remap(zr_blob *b, uint64_t len)
{
	void *p = mremap(b->base, b->map_len, len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return -errno;
	b->base = p;
	b->map_len = len;
	return 0;
}

/* Only size, generation and checksum change: three stores, so the window
 * in which a reader can catch a torn header is a few nanoseconds wide. */
static void publish(zr_blob *b, const struct zri_blob_header *h)
{
	struct zri_blob_header *shared = (struct zri_blob_header *)(void *)b->base;
	shared->data_size = h->data_size;
	shared->generation = h->generation;
	shared->checksum = h->checksum;
	b->hdr = *h;
	b->size = h->data_size;
}

static int grow(zr_blob *b, const struct zri_blob_header *h, zr_diag *diag)
{
	uint64_t now = ZRI_BLOB_HDR_BYTES + b->size, total = ZRI_BLOB_HDR_BYTES + h->data_size;
	struct statvfs sv;
	if (fstatvfs(b->fd, &sv) != 0)
		return zri_diag_set(diag, -errno, "cannot read free space for %s: %s", b->path,
				    strerror(errno));
	int rc = zri_blob_room((uint64_t)sv.f_bavail * sv.f_frsize, total - now, b->path, diag);
	if (rc == 0)
		rc = zri_blob_extend(b->fd, b->path, now, total, h->flags & ZR_BLOB_SPARSE, diag);
	if (rc == 0 && (rc = remap(b, total)) != 0)
		zri_diag_set(diag, rc, "cannot map %s anew: %s", b->path, strerror(-rc));
	if (rc) {
		if (ftruncate(b->fd, (off_t)now) != 0) {
			/* a file longer than its header says is still a valid blob */
		}
		return rc;
	}
	publish(b, h);
	return 0;
}

static int shrink(zr_blob *b, const struct zri_blob_header *h, zr_diag *diag)
{
	uint64_t total = ZRI_BLOB_HDR_BYTES + h->data_size;
	struct zri_blob_header old = b->hdr;
	publish(b, h);
	if (ftruncate(b->fd, (off_t)total) != 0) {
		int rc = zri_diag_set(diag, -errno, "cannot cut %s to %llu bytes: %s", b->path,
				      (unsigned long long)total, strerror(errno));
		publish(b, &old);
		return rc;
	}
	if (remap(b, total) != 0) {
		/* keep the longer mapping: the handle uses only b->size bytes of it */
	}
	return 0;
}

int zr_blob_resize(zr_blob *b, size_t size, zr_diag *diag)
{
	if (!b || size == 0)
		return zri_diag_set(diag, -EINVAL, "blob resize: %s", b ? "size 0" : "no handle");
	if (b->readonly)
		return zri_diag_set(diag, ZR_EREADONLY, "%s is open read-only", b->path);
	if ((uint64_t)size > ZRI_BLOB_MAX_DATA)
		return zri_diag_set(diag, -EFBIG, "blob of %zu bytes is larger than a file can be",
				    size);
	struct zri_blob_header h;
	int rc = zri_blob_load(b->fd, b->path, &h, diag);
	if (rc)
		return rc;
	if (h.generation != b->hdr.generation || h.data_size != b->size)
		return zri_diag_set(diag, ZR_ESTALE,
				    "%s was resized to %llu bytes since this handle mapped %llu: "
				    "refresh, then resize",
				    b->path, (unsigned long long)h.data_size,
				    (unsigned long long)b->size);
	if (size == b->size)
		return 0;
	h.data_size = size;
	h.generation++;
	h.checksum = zri_blob_checksum(&h);
	return size > b->size ? grow(b, &h, diag) : shrink(b, &h, diag);
}

int zr_blob_refresh(zr_blob *b, zr_diag *diag)
{
	if (!b)
		return zri_diag_set(diag, -EINVAL, "blob refresh: no handle");
	struct zri_blob_header h;
	int rc = zri_blob_load(b->fd, b->path, &h, diag);
	if (rc)
		return rc;
	uint64_t total = ZRI_BLOB_HDR_BYTES + h.data_size;
	if (total != b->map_len && (rc = remap(b, total)) != 0)
		return zri_diag_set(diag, rc, "cannot map %llu bytes of %s: %s",
				    (unsigned long long)total, b->path, strerror(-rc));
	b->hdr = h;
	b->size = h.data_size;
	return 0;
}

int zr_blob_sync(zr_blob *b)
{
	if (!b)
		return -EINVAL;
	if (b->tmpfs)
		return 0; /* memory: nothing to write back, nothing survives a reboot */
	if (msync(b->base, b->map_len, MS_SYNC) != 0)
		return -errno;
	return fdatasync(b->fd) == 0 ? 0 : -errno;
}

/* Ask the kernel to start reading [off, off + len) of the data from disk. */
static void read_ahead(const zr_blob *b, uint64_t off, uint64_t len, uintptr_t page)
{
	uintptr_t at = (uintptr_t)(b->base + ZRI_BLOB_HDR_BYTES + off);
	uintptr_t start = at & ~(page - 1);
	if (madvise((void *)start, (size_t)(len + (at - start)), MADV_WILLNEED) != 0) {
		/* advice only */
	}
}

int zr_blob_stream(const zr_blob *b, uint64_t offset, uint64_t length, size_t chunk,
		   zr_blob_chunk_fn fn, void *ctx)
{
	if (!b || !fn || chunk == 0)
		return -EINVAL;
	if (offset > b->size)
		return -ERANGE;
	if (length == ZR_BLOB_TO_END)
		length = b->size - offset;
	else if (length > b->size - offset)
		return -ERANGE;
	const uint8_t *data = b->base + ZRI_BLOB_HDR_BYTES;
	uint64_t end = offset + length;
	uint64_t ahead = chunk < READ_AHEAD_MAX ? chunk : READ_AHEAD_MAX;
	long page = b->tmpfs ? 0 : sysconf(_SC_PAGESIZE);
	for (uint64_t off = offset; off < end;) {
		size_t n = end - off < chunk ? (size_t)(end - off) : chunk;
		if (page > 0 && end - off > n)
			read_ahead(b, off + n, end - off - n < ahead ? end - off - n : ahead,
				   (uintptr_t)page);
		int rc = fn(ctx, data + off, n, off);
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

static bool in_data(const zr_blob *b, uint64_t offset, size_t len)
{
	return offset <= b->size && len <= b->size - offset;
}

int zr_blob_write_at(zr_blob *b, uint64_t offset, const void *src, size_t len)
{
	if (!b || (!src && len))
		return -EINVAL;
	if (b->readonly)
		return ZR_EREADONLY;
	if (!in_data(b, offset, len))
		return -ERANGE;
	if (len)
		memcpy(b->base + ZRI_BLOB_HDR_BYTES + offset, src, len);
	return 0;
}

int zr_blob_read_at(const zr_blob *b, uint64_t offset, void *dst, size_t len)
{
	if (!b || (!dst && len))
		return -EINVAL;
	if (!in_data(b, offset, len))
		return -ERANGE;
	if (len)
		memcpy(dst, b->base + ZRI_BLOB_HDR_BYTES + offset, len);
	return 0;
}
