/* Blobs: data too large for an arena, each in a file of its own, mapped
 * MAP_SHARED so that producer and consumer read and write it in place.
 *
 * A blob lives in /dev/shm (tmpfs, the default) or in a directory the
 * caller names, e.g. on NVMe: "<dir>/zring-blob-<name>". The file is a
 * 4 KiB header (magic, version, data size, creator pid and uid, creation
 * time, a resize generation, an XXH3 checksum of the rest of the header),
 * then the data. A job carries the blob's path (at most ZR_BLOB_PATH_MAX
 * bytes); the receiver opens it with zr_blob_open_path().
 *
 * Nothing in a blob file is trusted: every open and refresh validates the
 * header against the file. Other processes may write the data at any time;
 * the library never reads the data itself, so what the data holds is the
 * caller's to check.
 *
 * A new blob appears under its name only once complete (O_TMPFILE, then a
 * link), so an opener never sees it half made. Creation reserves the file's
 * space (posix_fallocate) unless ZR_BLOB_SPARSE: the space is then certain,
 * not a SIGBUS on first touch. Only blobs on tmpfs (/dev/shm) can later be
 * registered with CUDA: recent kernels refuse long-term pins of other file
 * mappings (DESIGN decision 11).
 *
 * Shared file mappings have one hard rule: touching a page past the end of
 * the file raises SIGBUS. A blob that one process shrinks must not be read
 * past its new size by any other process that still maps the old size; the
 * library cannot prevent that, only report sizes (zr_blob_refresh()). */
#ifndef ZRING_BLOB_H
#define ZRING_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zr_blob zr_blob;

enum zr_blob_flags {
	ZR_BLOB_READONLY = 1u << 0, /* open: map PROT_READ from an O_RDONLY descriptor */
	ZR_BLOB_GROUP = 1u << 1,    /* create: mode 0660 instead of 0600 */
	ZR_BLOB_SPARSE = 1u << 2,   /* create: reserve no space (here and in later grows) */
};

#define ZR_BLOB_NAME_MAX ZR_NAME_MAX /* longest blob name, without the NUL */
#define ZR_BLOB_PATH_MAX 200	     /* longest blob path, without the NUL */
#define ZR_BLOB_DATA_OFFSET 4096u    /* where the data starts in the file */
#define ZR_BLOB_TO_END UINT64_MAX    /* zr_blob_stream(): the window runs to the end */

/** What a blob's header says, copied out (as of open or the last refresh). */
typedef struct zr_blob_info {
	uint64_t size;	     /* bytes of data */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint64_t generation; /* resizes since creation */
	uint32_t creator_pid;
	uint32_t creator_uid;
	unsigned flags; /* ZR_BLOB_GROUP and ZR_BLOB_SPARSE as created */
	bool readonly;	/* this handle */
	bool tmpfs;	/* the file lives in memory: zr_blob_sync() has nothing to do */
} zr_blob_info;

/**
 * Create a blob of `size` bytes of data (zero-filled) and map it read-write.
 * @param[in]  dir    Directory; NULL means /dev/shm. Must exist.
 * @param[in]  name   One path component, 1..ZR_BLOB_NAME_MAX bytes, no '/'.
 *                    The file is "<dir>/zring-blob-<name>", at most
 *                    ZR_BLOB_PATH_MAX bytes.
 * @param[in]  size   Bytes of data, at least 1.
 * @param[in]  flags  0, ZR_BLOB_GROUP, ZR_BLOB_SPARSE.
 * @param[out] out    Set on success only.
 * @param[out] diag   Optional: filled with a message on failure.
 * Safety:    any thread. Two processes creating the same name: one wins,
 *            the other gets -EEXIST.
 * Ownership: *out is process-local; release it with zr_blob_close(). The
 *            file stays until zr_blob_unlink(), whoever created it.
 * Blocking:  reserving the space writes metadata (tmpfs: allocates and
 *            zeroes every page), in time proportional to `size`, unless
 *            ZR_BLOB_SPARSE.
 * @return 0, -EINVAL (NULL out or name, empty name or dir, '/' in name,
 *         size 0, unknown flag, hugetlbfs), -ENAMETOOLONG, -EFBIG (size
 *         beyond what a file can hold), -EEXIST, -ENOENT (no such dir), ZR_ENOSPACE
 *         (the filesystem has less free space than the file needs; the
 *         message gives both), -errno.
 */
ZR_API ZR_NODISCARD int zr_blob_create(const char *dir, const char *name, size_t size,
				       unsigned flags, zr_blob **out, zr_diag *diag);

/**
 * Open the blob "<dir>/zring-blob-<name>" (dir NULL: /dev/shm).
 * @param[in] flags  0 (read-write) or ZR_BLOB_READONLY.
 * Same contract as zr_blob_open_path().
 */
ZR_API ZR_NODISCARD int zr_blob_open(const char *dir, const char *name, unsigned flags,
				     zr_blob **out, zr_diag *diag);

/**
 * Open a blob by the path zr_blob_path() gave its creator, and map it.
 * @param[in]  path   At most ZR_BLOB_PATH_MAX bytes; a regular file, not a
 *                    symbolic link.
 * @param[in]  flags  0 (read-write) or ZR_BLOB_READONLY.
 * @param[out] out    Set on success only.
 * @param[out] diag   Optional: filled with a message on failure.
 * Safety:    any thread, while other processes write or resize the blob.
 * Ownership: as zr_blob_create(); closing never removes the file.
 * Blocking:  reads the header; while a resize rewrites it, retries a few
 *            times 100 us apart.
 * @return 0, -EINVAL, -ENAMETOOLONG, -ENOENT, -ELOOP (a symbolic link),
 *         -EACCES, ZR_EOWNER (owned by another user, unless mode 0660 and
 *         our group), ZR_EFOREIGN (not a blob: bad magic, not a regular
 *         file), ZR_ENOTREADY (no header: all zero), ZR_EVERSION,
 *         ZR_ECORRUPT (checksum, or a header that contradicts itself),
 *         ZR_ETRUNC (the file is shorter than the header says), -errno.
 */
ZR_API ZR_NODISCARD int zr_blob_open_path(const char *path, unsigned flags, zr_blob **out,
					  zr_diag *diag);

/**
 * Address of the data in this process (the header is not part of it). It
 * is read-only memory for a ZR_BLOB_READONLY handle: a store raises SIGSEGV.
 * Valid until zr_blob_resize(), zr_blob_refresh() or zr_blob_close() on
 * this handle, any of which may move it.
 * Safety: any thread. Blocking: never. NULL for a NULL handle.
 */
ZR_API void *zr_blob_data(const zr_blob *b);

/** Bytes of data this handle maps (0 for NULL). Safety: any thread. Blocking: never. */
ZR_API size_t zr_blob_size(const zr_blob *b);

/** Path of the blob's file, owned by the handle ("" for NULL).
 * Safety: any thread. Blocking: never. */
ZR_API const char *zr_blob_path(const zr_blob *b);

/** Copy out what the header said at open or at the last refresh or resize.
 * Safety: any thread. Blocking: never. */
ZR_API void zr_blob_info_get(const zr_blob *b, zr_blob_info *out);

/**
 * Change the data size: the file is cut or extended (new bytes read as
 * zero; reserved unless the blob was created ZR_BLOB_SPARSE), remapped
 * (the data address may change) and its header rewritten. Data up to the
 * smaller of the two sizes is kept. Other handles keep their old size
 * until they call zr_blob_refresh(); after a shrink, they must not touch
 * the data past the new size (SIGBUS).
 * @param[out] diag  Optional.
 * Safety:    no other thread may use this handle during the call. One
 *            process resizes a blob at a time (no lock is taken).
 * Blocking:  like zr_blob_create() for the bytes added.
 * @return 0, -EINVAL (NULL handle, size 0), -EFBIG, ZR_EREADONLY,
 *         ZR_ESTALE (another handle resized it since this one last looked:
 *         zr_blob_refresh() and try again), ZR_ENOSPACE, the header
 *         errors of zr_blob_open_path(), -errno (the blob keeps its old
 *         size and mapping).
 */
ZR_API ZR_NODISCARD int zr_blob_resize(zr_blob *b, size_t size, zr_diag *diag);

/**
 * Pick up a size change made through another handle or process: read and
 * validate the header again and remap to the size it gives.
 * Safety:   no other thread may use this handle during the call.
 * Blocking: as zr_blob_open_path().
 * @return 0, -EINVAL (NULL handle), the header errors of
 *         zr_blob_open_path(), -errno (the handle keeps its old mapping).
 */
ZR_API ZR_NODISCARD int zr_blob_refresh(zr_blob *b, zr_diag *diag);

/**
 * Make the data and header durable: msync(MS_SYNC) of the mapping, then
 * fdatasync() of the file. On tmpfs (the default, /dev/shm) nothing
 * survives a reboot anyway: the call succeeds at once. Works on a
 * read-only handle too (it flushes what other handles wrote).
 * Safety:   any thread, concurrently with writers (what they write during
 *           the call may or may not be included).
 * Blocking: until the device has the data.
 * @return 0, -EINVAL (NULL handle), -EIO, -errno.
 */
ZR_API ZR_NODISCARD int zr_blob_sync(zr_blob *b);

/** A consumer of zr_blob_stream(): `data` points into the mapping (valid
 * for the call); `offset` is the chunk's position in the blob's data.
 * Return 0 to go on, anything else to stop. */
typedef int (*zr_blob_chunk_fn)(void *ctx, const void *data, size_t len, uint64_t offset);

/**
 * Hand the data in [offset, offset + length) to `fn` in chunks of `chunk`
 * bytes (the last one shorter), in order, zero copy. Outside tmpfs, the
 * kernel is asked to read the next chunk ahead while `fn` works.
 * @param[in] length  Bytes, or ZR_BLOB_TO_END for the rest of the data.
 * Safety:   any thread, concurrently with writers of the data.
 * Blocking: as long as `fn`, plus page faults (reads from disk).
 * @return 0 once every chunk is handed over (also for length 0), fn's first
 *         non-zero value as is, -EINVAL (NULL handle or fn, chunk 0),
 *         -ERANGE (the window ends past the data).
 */
ZR_API ZR_NODISCARD int zr_blob_stream(const zr_blob *b, uint64_t offset, uint64_t length,
				       size_t chunk, zr_blob_chunk_fn fn, void *ctx);

/**
 * Copy `len` bytes from `src` into the data at `offset`.
 * Safety: any thread; concurrent writers of the same bytes race.
 * Blocking: page faults only.
 * @return 0, -EINVAL (NULL handle, NULL src with len > 0), -ERANGE (past the
 *         data), ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_blob_write_at(zr_blob *b, uint64_t offset, const void *src, size_t len);

/**
 * Copy `len` bytes of the data at `offset` into `dst`.
 * Safety: any thread. Blocking: page faults only.
 * @return 0, -EINVAL (NULL handle, NULL dst with len > 0), -ERANGE.
 */
ZR_API ZR_NODISCARD int zr_blob_read_at(const zr_blob *b, uint64_t offset, void *dst, size_t len);

/**
 * Unmap and release the handle; the file stays. NULL is accepted. A forked
 * child may use and close the handles it inherited (mapping and descriptor
 * are shared with the parent's, each closes its own).
 * Safety: no other thread may use the handle during or after the call.
 * @return 0, or -errno from munmap() or close() (the handle is freed anyway).
 */
ZR_API int zr_blob_close(zr_blob *b);

/**
 * Remove the blob "<dir>/zring-blob-<name>" (dir NULL: /dev/shm). Handles
 * open on it keep working; the space is freed when the last one closes.
 * @return 0, -ENOENT, -EINVAL, -ENAMETOOLONG, -errno.
 */
ZR_API ZR_NODISCARD int zr_blob_unlink(const char *dir, const char *name);

#ifdef __cplusplus
}
#endif
#endif
