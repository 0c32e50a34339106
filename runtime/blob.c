/* runtime/blob.c: creating, opening and closing blobs (include/zring/blob.h).
 *
 * A blob is made in an unnamed file (O_TMPFILE in its directory): sized,
 * reserved, header written, then linked under its name, which fails with
 * EEXIST if the name was taken meanwhile. Openers thus never see a blob
 * half made. Where O_TMPFILE or the link is not possible, the file is made
 * under its name directly (O_EXCL), and an opener meanwhile gets
 * ZR_ENOTREADY (header still zero) or ZR_ETRUNC.
 *
 * An opener takes the header into private memory with pread, validates the
 * copy and maps the size the copy gives: a process that scribbles on the
 * header later cannot change our view until we ask (zr_blob_refresh()). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "arena_impl.h"
#include "blob_impl.h"
#include "prim.h"

#define SHM_DIR "/dev/shm"
#define LOAD_TRIES 8	      /* header reads while a resize rewrites it */
#define LOAD_PAUSE_NS 100000L /* between two of them */

/* "<dir>/zring-blob-<name>" into path[ZR_BLOB_PATH_MAX + 1]. */
static int blob_path(const char *dir, const char *name, char *path, zr_diag *diag)
{
	if (!name || !*name || strchr(name, '/'))
		return zri_diag_set(diag, -EINVAL, "blob name \"%s\" must be one path component",
				    name ? name : "(null)");
	size_t n = strlen(name);
	if (n > ZR_BLOB_NAME_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG, "blob name is %zu bytes, at most %d", n,
				    ZR_BLOB_NAME_MAX);
	if (!dir)
		dir = SHM_DIR;
	size_t d = strlen(dir);
	while (d > 0 && dir[d - 1] == '/')
		d--; /* "/dev/shm/" and "/" name directories too */
	if (!*dir)
		return zri_diag_set(diag, -EINVAL, "blob directory is empty (NULL means %s)",
				    SHM_DIR);
	if (d + 1 + strlen(ZRI_BLOB_PREFIX) + n > ZR_BLOB_PATH_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG, "blob path %.*s/%s%s is longer than %d",
				    (int)d, dir, ZRI_BLOB_PREFIX, name, ZR_BLOB_PATH_MAX);
	snprintf(path, ZR_BLOB_PATH_MAX + 1, "%.*s/%s%s", (int)d, dir, ZRI_BLOB_PREFIX, name);
	return 0;
}

static bool on_fs(int fd, long magic)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && (long)sf.f_type == magic;
}

int zri_blob_load(int fd, const char *path, struct zri_blob_header *h, zr_diag *diag)
{
	struct zri_blob_header prev;
	uint64_t prev_len = 0;
	for (int i = 0;; i++) {
		/* header before length: a grow extends the file before it stamps
		 * the header, so a new header never comes with an old length */
		memset(h, 0, sizeof(*h));
		ssize_t got = pread(fd, h, sizeof(*h), 0);
		struct stat st;
		if (got < 0 || fstat(fd, &st) != 0)
			return zri_diag_set(diag, -errno, "cannot read %s: %s", path,
					    strerror(errno));
		uint64_t len = (uint64_t)st.st_size;
		int rc = zri_blob_validate(h, (size_t)got, len, path, diag);
		/* A resize running meanwhile shows as a torn header (ZR_ECORRUPT) or,
		 * when it shrinks, an old header with the new length (ZR_ETRUNC).
		 * Both change between two reads; damage does not. */
		bool racy = rc == ZR_ECORRUPT || rc == ZR_ETRUNC;
		if (!racy || i + 1 == LOAD_TRIES ||
		    (i > 0 && len == prev_len && !memcmp(h, &prev, sizeof(prev))))
			return rc;
		prev = *h;
		prev_len = len;
		struct timespec ts = {0, LOAD_PAUSE_NS};
		nanosleep(&ts, NULL);
	}
}

/* Map the file behind b->fd as its validated header b->hdr says. */
static int map_blob(zr_blob *b, zr_diag *diag)
{
	uint64_t len = ZRI_BLOB_HDR_BYTES + b->hdr.data_size;
	int prot = b->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *p = mmap(NULL, len, prot, MAP_SHARED, b->fd, 0);
	if (p == MAP_FAILED)
		return zri_diag_set(diag, -errno, "cannot map %llu bytes of %s: %s",
				    (unsigned long long)len, b->path, strerror(errno));
	b->base = p;
	b->map_len = len;
	b->size = b->hdr.data_size;
	b->tmpfs = on_fs(b->fd, TMPFS_MAGIC);
	return 0;
}

static zr_blob *blob_new(const char *path, bool readonly)
{
	zr_blob *b = calloc(1, sizeof(*b));
	if (b) {
		b->fd = -1;
		b->readonly = readonly;
		snprintf(b->path, sizeof(b->path), "%s", path);
	}
	return b;
}

static void blob_free(zr_blob *b)
{
	if (b->base)
		munmap(b->base, b->map_len);
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

/* Size, reserve and stamp a new file, still private to us. */
static int build(const zr_blob *b, mode_t mode, zr_diag *diag)
{
	if (fchmod(b->fd, mode) != 0) /* the exact mode, whatever the umask */
		return zri_diag_set(diag, -errno, "cannot chmod %s: %s", b->path, strerror(errno));
	int rc = zri_blob_extend(b->fd, b->path, 0, ZRI_BLOB_HDR_BYTES + b->hdr.data_size,
				 b->hdr.flags & ZR_BLOB_SPARSE, diag);
	if (rc)
		return rc;
	if (pwrite(b->fd, &b->hdr, sizeof(b->hdr), 0) != (ssize_t)sizeof(b->hdr))
		return zri_diag_set(diag, -EIO, "cannot write the header of %s", b->path);
	return 0;
}

/* Give the unnamed file its name; -EEXIST if taken. Without /proc, linking
 * by descriptor needs CAP_DAC_READ_SEARCH. */
static int link_tmpfile(int fd, const char *path)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == EEXIST)
		return -EEXIST;
	return linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

/* Make the file: unnamed then linked, or named at once (see the top). */
static int make_file(zr_blob *b, const char *dir, mode_t mode, zr_diag *diag)
{
	b->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (b->fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return zri_diag_set(diag, -errno, "cannot create a file in %s: %s", dir,
				    strerror(errno));
	if (b->fd >= 0) {
		int rc = build(b, mode, diag);
		if (rc)
			return rc;
		rc = link_tmpfile(b->fd, b->path);
		if (rc == 0 || rc == -EEXIST)
			return rc ? zri_diag_set(diag, rc, "blob %s exists", b->path) : 0;
		close(b->fd); /* cannot link it: make it under its name instead */
	}
	b->fd = open(b->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (b->fd < 0)
		return zri_diag_set(diag, -errno, "cannot create %s: %s", b->path,
				    errno == EEXIST ? "blob exists" : strerror(errno));
	int rc = build(b, mode, diag);
	if (rc)
		unlink(b->path);
	return rc;
}

/* Before any file exists: the name is free and the space is there. */
static int preflight(const char *path, const char *dir, uint64_t total, zr_diag *diag)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return zri_diag_set(diag, -EEXIST, "blob %s exists", path);
	struct statfs sf;
	if (statfs(dir, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC)
		return zri_diag_set(diag, -EINVAL, "%s is hugetlbfs, which cannot hold blobs", dir);
	uint64_t avail, page;
	int rc = zri_fs_free_bytes(dir, &avail, &page);
	if (rc)
		return zri_diag_set(diag, rc, "cannot read free space of %s: %s", dir,
				    zr_strerror(rc));
	return zri_blob_room(avail, total, dir, diag);
}

static void header_init(struct zri_blob_header *h, uint64_t size, unsigned flags)
{
	memset(h, 0, sizeof(*h));
	h->magic = ZRI_BLOB_MAGIC;
	h->version = ZRI_BLOB_VERSION;
	h->header_bytes = ZRI_BLOB_HDR_BYTES;
	h->data_size = size;
	h->created_ns = zri_realtime_ns();
	h->creator_pid = (uint32_t)getpid();
	h->creator_uid = (uint32_t)geteuid();
	h->flags = flags & ZRI_BLOB_FLAGS_KEPT;
	h->checksum = zri_blob_checksum(h);
}

int zr_blob_create(const char *dir, const char *name, size_t size, unsigned flags, zr_blob **out,
		   zr_diag *diag)
{
	char path[ZR_BLOB_PATH_MAX + 1];
	if (!out || size == 0 || (flags & ~(unsigned)ZRI_BLOB_FLAGS_KEPT))
		return zri_diag_set(diag, -EINVAL, "blob create: out %s, size %zu, flags %#x",
				    out ? "set" : "NULL", size, flags);
	if ((uint64_t)size > ZRI_BLOB_MAX_DATA)
		return zri_diag_set(diag, -EFBIG, "blob of %zu bytes is larger than a file can be",
				    size);
	int rc = blob_path(dir, name, path, diag);
	if (rc)
		return rc;
	char parent[ZR_BLOB_PATH_MAX + 1];
	snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(path, '/') - path), path);
	const char *d = parent[0] ? parent : "/";
	if ((rc = preflight(path, d, ZRI_BLOB_HDR_BYTES + (uint64_t)size, diag)) != 0)
		return rc;
	zr_blob *b = blob_new(path, false);
	if (!b)
		return zri_diag_set(diag, -ENOMEM, "out of memory");
	header_init(&b->hdr, size, flags);
	rc = make_file(b, d, (flags & ZR_BLOB_GROUP) ? 0660 : 0600, diag);
	if (rc == 0 && (rc = map_blob(b, diag)) != 0)
		unlink(path);
	if (rc) {
		blob_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Why open() failed, in the codes of include/zring/blob.h. */
static int open_error(const char *path, int err, zr_diag *diag)
{
	struct stat st;
	if ((err == EACCES || err == EPERM) && lstat(path, &st) == 0 &&
	    zri_check_owner(&st, path, diag) != 0)
		return ZR_EOWNER;
	if (err == ELOOP)
		return zri_diag_set(diag, -ELOOP, "%s is a symbolic link, not a blob", path);
	return zri_diag_set(diag, -err, "%s: %s", path,
			    err == ENOENT ? "no such blob" : strerror(err));
}

/* The descriptor is a regular file of ours holding a valid blob: map it. */
static int attach(zr_blob *b, zr_diag *diag)
{
	struct stat st;
	if (fstat(b->fd, &st) != 0)
		return zri_diag_set(diag, -errno, "cannot stat %s: %s", b->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return zri_diag_set(diag, ZR_EFOREIGN, "%s is not a regular file, not a blob",
				    b->path);
	int rc = zri_check_owner(&st, b->path, diag);
	if (rc == 0)
		rc = zri_blob_load(b->fd, b->path, &b->hdr, diag);
	return rc ? rc : map_blob(b, diag);
}

int zr_blob_open_path(const char *path, unsigned flags, zr_blob **out, zr_diag *diag)
{
	if (!out || !path || !*path || (flags & ~(unsigned)ZR_BLOB_READONLY))
		return zri_diag_set(diag, -EINVAL, "blob open: out %s, path \"%s\", flags %#x",
				    out ? "set" : "NULL", path ? path : "(null)", flags);
	if (strlen(path) > ZR_BLOB_PATH_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG, "blob path is %zu bytes, at most %d",
				    strlen(path), ZR_BLOB_PATH_MAX);
	bool ro = flags & ZR_BLOB_READONLY;
	zr_blob *b = blob_new(path, ro);
	if (!b)
		return zri_diag_set(diag, -ENOMEM, "out of memory");
	/* O_NONBLOCK: a FIFO planted under the name must not hang us */
	b->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int rc = b->fd < 0 ? open_error(path, errno, diag) : attach(b, diag);
	if (rc) {
		blob_free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int zr_blob_open(const char *dir, const char *name, unsigned flags, zr_blob **out, zr_diag *diag)
{
	char path[ZR_BLOB_PATH_MAX + 1];
	int rc = blob_path(dir, name, path, diag);
	return rc ? rc : zr_blob_open_path(path, flags, out, diag);
}

int zr_blob_close(zr_blob *b)
{
	if (!b)
		return 0;
	int rc = munmap(b->base, b->map_len) == 0 ? 0 : -errno;
	if (close(b->fd) != 0 && rc == 0)
		rc = -errno;
	free(b);
	return rc;
}

int zr_blob_unlink(const char *dir, const char *name)
{
	char path[ZR_BLOB_PATH_MAX + 1];
	int rc = blob_path(dir, name, path, NULL);
	if (rc)
		return rc;
	return unlink(path) == 0 ? 0 : -errno;
}

void *zr_blob_data(const zr_blob *b)
{
	return b ? b->base + ZRI_BLOB_HDR_BYTES : NULL;
}

size_t zr_blob_size(const zr_blob *b)
{
	return b ? (size_t)b->size : 0;
}

const char *zr_blob_path(const zr_blob *b)
{
	return b ? b->path : "";
}

void zr_blob_info_get(const zr_blob *b, zr_blob_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!b)
		return;
	out->size = b->size;
	out->created_ns = b->hdr.created_ns;
	out->generation = b->hdr.generation;
	out->creator_pid = b->hdr.creator_pid;
	out->creator_uid = b->hdr.creator_uid;
	out->flags = b->hdr.flags;
	out->readonly = b->readonly;
	out->tmpfs = b->tmpfs;
}
