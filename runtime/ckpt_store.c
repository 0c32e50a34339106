/* runtime/ckpt_store.c: the files of a checkpoint store (ckpt_format.h):
 * names, atomic writes, and reading manifests and chunks back with every
 * length checked against the file and the format's limits before use.
 *
 * Synchronisation map: none shared; the temp-name counter is a relaxed
 * counter that only has to hand out distinct numbers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "arena_impl.h"
#include "ckpt_format.h"

#define MAN_MAX_CHUNKS (ZRI_CKPT_IMAGE_MAX / ZRI_CKPT_CHUNK_MIN)

static _Atomic uint32_t tmp_counter;

int zri_ckpt_bad(struct zri_ckpt_problem *p, const char *file, uint64_t offset, int rc,
		 const char *fmt, ...)
{
	va_list ap;
	snprintf(p->file, sizeof(p->file), "%s", file);
	p->offset = offset;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
	return rc;
}

uint64_t zri_ckpt_chdr_sum(const struct zri_ckpt_chdr *h)
{
	return XXH3_64bits(h, offsetof(struct zri_ckpt_chdr, hdr_sum));
}

int zri_ckpt_check_dir(const char *dir, zr_diag *diag)
{
	if (!dir || !dir[0])
		return zri_diag_set(diag, -EINVAL, "checkpoint directory not given");
	if (strlen(dir) > ZRI_CKPT_DIR_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG,
				    "checkpoint directory name longer than %d bytes",
				    ZRI_CKPT_DIR_MAX);
	return 0;
}

void zri_ckpt_man_path(char *out, const char *dir, uint64_t seq)
{
	snprintf(out, ZRI_CKPT_PATH_MAX, "%s/ckpt-%016llx.zcm", dir, (unsigned long long)seq);
}

void zri_ckpt_chunk_path(char *out, const char *dir, uint64_t lo, uint64_t hi)
{
	snprintf(out, ZRI_CKPT_PATH_MAX, "%s/chunks/%016llx%016llx.zch", dir,
		 (unsigned long long)hi, (unsigned long long)lo);
}

static bool parse_hex(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

bool zri_ckpt_chunk_name(const char *name, uint64_t *lo, uint64_t *hi)
{
	return strlen(name) == 36 && !strcmp(name + 32, ".zch") && parse_hex(name, 16, hi) &&
	       parse_hex(name + 16, 16, lo);
}

bool zri_ckpt_is_tmp(const char *name)
{
	return strstr(name, ".tmp-") != NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int scan_push(uint64_t **v, size_t *n, size_t *cap, uint64_t seq)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		uint64_t *p = realloc(*v, c * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = seq;
	return 0;
}

int zri_ckpt_scan(const char *dir, uint64_t **seqs, size_t *n, zr_diag *diag)
{
	DIR *d = opendir(dir);
	if (!d)
		return zri_diag_set(diag, -errno, "cannot open checkpoint directory %s: %s", dir,
				    strerror(errno));
	uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *s = de->d_name;
		uint64_t seq;
		if (strlen(s) == 25 && !strncmp(s, "ckpt-", 5) && !strcmp(s + 21, ".zcm") &&
		    parse_hex(s + 5, 16, &seq) && seq != 0)
			rc = scan_push(&v, &cnt, &cap, seq);
	}
	closedir(d);
	if (rc) {
		free(v);
		return zri_diag_set(diag, rc, "out of memory listing %s", dir);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*seqs = v;
	*n = cnt;
	return 0;
}

/* Read exactly len bytes at off; 0, -errno, or 1 for end of file. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 1;
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Open `path` and read all of it (at most max bytes) into a malloc'ed buffer. */
static int slurp(const char *path, uint64_t min, uint64_t max, void **out, uint64_t *len,
		 struct zri_ckpt_problem *p)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zri_ckpt_bad(p, path, 0, errno == ENOENT ? ZR_ECORRUPT : -errno,
				    "cannot open: %s", strerror(errno));
	struct stat st;
	int rc = fstat(fd, &st) ? -errno : 0;
	uint64_t size = rc ? 0 : (uint64_t)st.st_size;
	void *buf = NULL;
	if (rc)
		zri_ckpt_bad(p, path, 0, rc, "cannot stat: %s", strerror(-rc));
	else if (!S_ISREG(st.st_mode) || size < min || size > max)
		rc = zri_ckpt_bad(p, path, size, ZR_ECORRUPT, "file size %llu outside %llu..%llu",
				  (unsigned long long)size, (unsigned long long)min,
				  (unsigned long long)max);
	else if (!(buf = malloc(size)))
		rc = zri_ckpt_bad(p, path, 0, -ENOMEM, "no memory for %llu bytes",
				  (unsigned long long)size);
	else if ((rc = read_at(fd, buf, size, 0)) != 0)
		rc = zri_ckpt_bad(p, path, 0, rc > 0 ? ZR_ECORRUPT : rc, "cannot read: %s",
				  rc > 0 ? "file shrank" : strerror(-rc));
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = size;
	return 0;
}

static int man_check_fields(const struct zri_ckpt_mhdr *h, uint64_t seq, uint64_t size,
			    const char *path, struct zri_ckpt_problem *p)
{
	uint64_t cb = h->chunk_bytes;
#define BAD(field, ...)                                                                            \
	zri_ckpt_bad(p, path, offsetof(struct zri_ckpt_mhdr, field), ZR_ECORRUPT, __VA_ARGS__)
	if (h->seq != seq)
		return BAD(seq, "seq %llu, but the file is named for %llu",
			   (unsigned long long)h->seq, (unsigned long long)seq);
	if (h->kind > ZR_CKPT_DIFFERENTIAL)
		return BAD(kind, "unknown kind %u", h->kind);
	if (h->parent >= seq || h->last_full > seq)
		return BAD(parent, "parent %llu / last full %llu not before seq %llu",
			   (unsigned long long)h->parent, (unsigned long long)h->last_full,
			   (unsigned long long)seq);
	if (cb < ZRI_CKPT_CHUNK_MIN || cb > ZRI_CKPT_CHUNK_MAX || (cb & (cb - 1)))
		return BAD(chunk_bytes, "chunk size %llu is not a power of two in 64 KiB..16 MiB",
			   (unsigned long long)cb);
	if (h->image_bytes == 0 || h->image_bytes > ZRI_CKPT_IMAGE_MAX)
		return BAD(image_bytes, "image size %llu outside 1..1 TiB",
			   (unsigned long long)h->image_bytes);
	if (h->nchunks != (h->image_bytes + cb - 1) / cb)
		return BAD(nchunks, "%llu chunks for %llu bytes in chunks of %llu",
			   (unsigned long long)h->nchunks, (unsigned long long)h->image_bytes,
			   (unsigned long long)cb);
	if (size != zri_ckpt_man_bytes(h->nchunks))
		return BAD(nchunks, "file size %llu, %llu chunks need %llu",
			   (unsigned long long)size, (unsigned long long)h->nchunks,
			   (unsigned long long)zri_ckpt_man_bytes(h->nchunks));
	if (memchr(h->arena, 0, sizeof(h->arena)) == NULL)
		return BAD(arena, "arena name not terminated");
#undef BAD
	return 0;
}

static int man_check_entries(const struct zri_ckpt_man *m, const char *path,
			     struct zri_ckpt_problem *p)
{
	uint64_t cb = m->h.chunk_bytes, n = m->h.nchunks;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t want = i + 1 < n ? cb : m->h.image_bytes - (n - 1) * cb;
		if (m->ent[i].raw_len != want)
			return zri_ckpt_bad(p, path,
					    sizeof(m->h) + i * sizeof(m->ent[0]) +
						    offsetof(struct zri_ckpt_ment, raw_len),
					    ZR_ECORRUPT, "chunk %llu has length %llu, not %llu",
					    (unsigned long long)i,
					    (unsigned long long)m->ent[i].raw_len,
					    (unsigned long long)want);
	}
	return 0;
}

int zri_ckpt_man_read(const char *dir, uint64_t seq, struct zri_ckpt_man *m,
		      struct zri_ckpt_problem *p)
{
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_man_path(path, dir, seq);
	void *buf = NULL;
	uint64_t size = 0, sum;
	int rc = slurp(path, zri_ckpt_man_bytes(1), zri_ckpt_man_bytes(MAN_MAX_CHUNKS), &buf, &size,
		       p);
	if (rc)
		return rc;
	memcpy(&m->h, buf, sizeof(m->h));
	memcpy(&sum, (uint8_t *)buf + size - 8, 8);
	if (m->h.magic != ZRI_CKPT_MAN_MAGIC)
		rc = zri_ckpt_bad(p, path, 0, ZR_ECORRUPT, "not a checkpoint manifest (magic)");
	else if (m->h.version != ZRI_CKPT_VERSION)
		rc = zri_ckpt_bad(p, path, 8, ZR_ECORRUPT, "manifest version %u, not %u",
				  m->h.version, ZRI_CKPT_VERSION);
	else if (sum != XXH3_64bits(buf, size - 8))
		rc = zri_ckpt_bad(p, path, size - 8, ZR_ECORRUPT, "manifest checksum mismatch");
	else
		rc = man_check_fields(&m->h, seq, size, path, p);
	m->ent = NULL;
	if (rc == 0) {
		/* the entries are the bytes after the header: reuse the buffer */
		memmove(buf, (uint8_t *)buf + sizeof(m->h), size - sizeof(m->h) - 8);
		m->ent = buf;
		if ((rc = man_check_entries(m, path, p)) != 0)
			m->ent = NULL;
	}
	if (rc)
		free(buf);
	return rc;
}

void zri_ckpt_man_free(struct zri_ckpt_man *m)
{
	free(m->ent);
	m->ent = NULL;
}

/* Check a chunk header against the file size and the entry that names it. */
static int chdr_check(const struct zri_ckpt_chdr *h, uint64_t fsize, const struct zri_ckpt_ment *e,
		      const char *path, struct zri_ckpt_problem *p)
{
#define BAD(field, ...)                                                                            \
	zri_ckpt_bad(p, path, offsetof(struct zri_ckpt_chdr, field), ZR_ECORRUPT, __VA_ARGS__)
	if (h->magic != ZRI_CKPT_CHUNK_MAGIC)
		return BAD(magic, "not a checkpoint chunk (magic)");
	if (h->hdr_sum != zri_ckpt_chdr_sum(h))
		return BAD(hdr_sum, "chunk header checksum mismatch");
	if (h->version != ZRI_CKPT_VERSION)
		return BAD(version, "chunk version %u, not %u", h->version, ZRI_CKPT_VERSION);
	if (h->raw_lo != e->lo || h->raw_hi != e->hi)
		return BAD(raw_lo, "chunk header names another content hash");
	if (h->raw_len != e->raw_len)
		return BAD(raw_len, "chunk length %llu, the manifest says %llu",
			   (unsigned long long)h->raw_len, (unsigned long long)e->raw_len);
	if (h->stored_len != fsize - sizeof(*h))
		return BAD(stored_len, "stored length %llu, the file holds %llu",
			   (unsigned long long)h->stored_len,
			   (unsigned long long)(fsize - sizeof(*h)));
	if (h->codec == ZRI_CODEC_RAW
		    ? h->stored_len != h->raw_len
		    : h->codec != ZRI_CODEC_ZSTD || h->stored_len > ZSTD_compressBound(h->raw_len))
		return BAD(codec, "codec %u with %llu stored bytes for %llu", h->codec,
			   (unsigned long long)h->stored_len, (unsigned long long)h->raw_len);
#undef BAD
	return 0;
}

static int rbuf_fit(struct zri_ckpt_rbuf *rb, size_t need)
{
	if (!rb->dctx && !(rb->dctx = ZSTD_createDCtx()))
		return -ENOMEM;
	if (rb->cap >= need)
		return 0;
	void *b = realloc(rb->stored, need);
	if (!b)
		return -ENOMEM;
	rb->stored = b;
	rb->cap = need;
	return 0;
}

/* The stored bytes (already read into src) into dst, checked. */
static int chunk_decode(const struct zri_ckpt_chdr *h, const void *src, void *dst,
			struct zri_ckpt_rbuf *rb, const char *path, struct zri_ckpt_problem *p)
{
	if (XXH3_64bits(src, h->stored_len) != h->stored_sum)
		return zri_ckpt_bad(p, path, sizeof(*h), ZR_ECORRUPT,
				    "stored bytes checksum mismatch");
	if (h->codec == ZRI_CODEC_ZSTD) {
		size_t r = ZSTD_decompressDCtx(rb->dctx, dst, h->raw_len, src, h->stored_len);
		if (ZSTD_isError(r) || r != h->raw_len)
			return zri_ckpt_bad(p, path, sizeof(*h), ZR_ECORRUPT,
					    "zstd frame does not decode to %llu bytes: %s",
					    (unsigned long long)h->raw_len,
					    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short");
	}
	XXH128_hash_t x = XXH3_128bits(dst, h->raw_len);
	if (x.low64 != h->raw_lo || x.high64 != h->raw_hi)
		return zri_ckpt_bad(p, path, sizeof(*h), ZR_ECORRUPT,
				    "content does not match its XXH3-128 name");
	return 0;
}

int zri_ckpt_chunk_read(const char *dir, const struct zri_ckpt_ment *e, void *dst,
			struct zri_ckpt_rbuf *rb, struct zri_ckpt_problem *p)
{
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_chunk_path(path, dir, e->lo, e->hi);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zri_ckpt_bad(p, path, 0, errno == ENOENT ? ZR_ECORRUPT : -errno,
				    "cannot open chunk: %s", strerror(errno));
	struct zri_ckpt_chdr h;
	struct stat st;
	int rc = fstat(fd, &st) ? -errno : 0;
	if (rc)
		zri_ckpt_bad(p, path, 0, rc, "cannot stat chunk: %s", strerror(-rc));
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(h))
		rc = zri_ckpt_bad(p, path, 0, ZR_ECORRUPT, "chunk file of %lld bytes",
				  (long long)st.st_size);
	else if ((rc = read_at(fd, &h, sizeof(h), 0)) != 0)
		rc = zri_ckpt_bad(p, path, 0, rc > 0 ? ZR_ECORRUPT : rc, "cannot read chunk");
	else
		rc = chdr_check(&h, (uint64_t)st.st_size, e, path, p);
	void *src = dst;
	if (rc == 0 && h.codec == ZRI_CODEC_ZSTD) {
		if ((rc = rbuf_fit(rb, h.stored_len ? h.stored_len : 1)) != 0)
			zri_ckpt_bad(p, path, 0, rc, "no memory to read the chunk");
		src = rb->stored;
	}
	if (rc == 0 && (rc = read_at(fd, src, h.stored_len, sizeof(h))) != 0)
		rc = zri_ckpt_bad(p, path, sizeof(h), rc > 0 ? ZR_ECORRUPT : rc,
				  "cannot read chunk bytes");
	close(fd);
	return rc ? rc : chunk_decode(&h, src, dst, rb, path, p);
}

void zri_ckpt_rbuf_free(struct zri_ckpt_rbuf *rb)
{
	free(rb->stored);
	ZSTD_freeDCtx(rb->dctx);
	rb->stored = NULL;
	rb->dctx = NULL;
	rb->cap = 0;
}

bool zri_ckpt_chunk_present(const char *dir, uint64_t lo, uint64_t hi)
{
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_chunk_path(path, dir, lo, hi);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct zri_ckpt_chdr h;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size >= sizeof(h) &&
		  read_at(fd, &h, sizeof(h), 0) == 0;
	close(fd);
	if (!ok || h.raw_len > ZRI_CKPT_CHUNK_MAX)
		return false;
	struct zri_ckpt_ment e = {.lo = lo, .hi = hi, .raw_len = h.raw_len};
	struct zri_ckpt_problem p;
	return chdr_check(&h, (uint64_t)st.st_size, &e, path, &p) == 0;
}

int zri_ckpt_write_all(int fd, const struct iovec *iov, int n)
{
	off_t off = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (left) {
			ssize_t w = pwrite(fd, b, left, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			b += w;
			off += w;
			left -= (size_t)w;
		}
	}
	return 0;
}

int zri_ckpt_put_error(zr_diag *diag, int e, const char *what, const char *path)
{
	if (e == ENOSPC || e == EDQUOT)
		return zri_diag_set(diag, ZR_ENOSPACE, "cannot %s %s: filesystem full", what, path);
	return zri_diag_set(diag, -e, "cannot %s %s: %s", what, path, strerror(e));
}

void zri_ckpt_tmp_name(char *out, size_t cap, const char *path)
{
	/* relaxed: only distinct numbers are needed; the pid separates processes */
	uint32_t k = atomic_fetch_add_explicit(&tmp_counter, 1, memory_order_relaxed);
	snprintf(out, cap, "%s.tmp-%d-%u", path, (int)getpid(), k);
}

int zri_ckpt_put(const char *path, const struct iovec *iov, int n, zr_diag *diag)
{
	char tmp[ZRI_CKPT_PATH_MAX + 32];
	zri_ckpt_tmp_name(tmp, sizeof(tmp), path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return zri_ckpt_put_error(diag, errno, "create", tmp);
	int rc = zri_ckpt_write_all(fd, iov, n);
	const char *what = "write";
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
		what = "fsync";
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
		what = "close";
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -errno;
		what = "rename";
	}
	if (rc == 0)
		return 0;
	unlink(tmp);
	return zri_ckpt_put_error(diag, -rc, what, tmp);
}

int zri_ckpt_sync_dir(const char *path, zr_diag *diag)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return zri_diag_set(diag, -errno, "cannot open directory %s: %s", path,
				    strerror(errno));
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	if (rc && rc != -EINVAL)
		return zri_diag_set(diag, rc, "cannot fsync directory %s: %s", path, strerror(-rc));
	return 0;
}

int zri_ckpt_mkdir(const char *path, bool *made, zr_diag *diag)
{
	struct stat st;
	*made = false;
	if (mkdir(path, 0755) == 0) {
		*made = true;
		return 0;
	}
	if (errno != EEXIST)
		return zri_ckpt_put_error(diag, errno, "create directory", path);
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return zri_diag_set(diag, -ENOTDIR, "%s exists and is not a directory", path);
	return 0;
}

/* ---- a set of 128-bit hashes: open addressing, linear probing ---------- */

int zri_ckpt_set_init(struct zri_ckpt_set *s, uint64_t expect)
{
	size_t n = 16;
	while (n < expect * 2 + 1)
		n *= 2;
	s->slot = calloc(n, 2 * sizeof(uint64_t));
	s->mask = n - 1;
	s->has_zero = false;
	return s->slot ? 0 : -ENOMEM;
}

static size_t set_find(const struct zri_ckpt_set *s, uint64_t lo, uint64_t hi)
{
	size_t i = (size_t)(lo ^ (hi >> 7)) & s->mask;
	while ((s->slot[2 * i] | s->slot[2 * i + 1]) != 0 &&
	       (s->slot[2 * i] != lo || s->slot[2 * i + 1] != hi))
		i = (i + 1) & s->mask;
	return i;
}

bool zri_ckpt_set_add(struct zri_ckpt_set *s, uint64_t lo, uint64_t hi)
{
	if ((lo | hi) == 0) {
		bool was = s->has_zero;
		s->has_zero = true;
		return !was;
	}
	size_t i = set_find(s, lo, hi);
	if (s->slot[2 * i] == lo && s->slot[2 * i + 1] == hi)
		return false;
	s->slot[2 * i] = lo;
	s->slot[2 * i + 1] = hi;
	return true;
}

bool zri_ckpt_set_has(const struct zri_ckpt_set *s, uint64_t lo, uint64_t hi)
{
	if ((lo | hi) == 0)
		return s->has_zero;
	size_t i = set_find(s, lo, hi);
	return s->slot[2 * i] == lo && s->slot[2 * i + 1] == hi;
}

void zri_ckpt_set_free(struct zri_ckpt_set *s)
{
	free(s->slot);
	s->slot = NULL;
}
