/* The checkpoint store on disk, and the helpers its three files share
 * (ckpt_store.c: files, names, checks; ckpt_write.c: taking one;
 * ckpt_gc.c: retention; ckpt_read.c: loading and listing).
 *
 * <dir>/ckpt-<seq as 16 hex>.zcm   one manifest per checkpoint:
 *     struct zri_ckpt_mhdr, nchunks x struct zri_ckpt_ment, then the
 *     XXH3-64 of everything before it (uint64).
 * <dir>/chunks/<32 hex>.zch   one file per distinct chunk content, named
 *     by the XXH3-128 of its raw bytes (canonical, high half first):
 *     struct zri_ckpt_chdr, then stored_len bytes (raw, or one zstd frame).
 *     One flat directory: a fan-out of subdirectories cost a mkdir and a
 *     directory fsync each per checkpoint, and ext4 indexes large ones.
 * Every field is fixed-width little-endian (the structs are written as
 * they are, and only little-endian hosts build this file). New files are
 * written under "<final name>.tmp-<pid>-<n>", fsync'ed, renamed and their
 * directory fsync'ed; a manifest is written only once every chunk it
 * names is durable. */
#ifndef ZR_CKPT_FORMAT_H
#define ZR_CKPT_FORMAT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zring/persist.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the checkpoint format is little-endian");

#define ZRI_CKPT_CHUNK_MAGIC 0x4b4e4843504b525aull /* "ZRKPCHNK" */
#define ZRI_CKPT_MAN_MAGIC 0x4e414d43504b525aull   /* "ZRKPCMAN" */
#define ZRI_CKPT_VERSION 2u			   /* 2: flat chunks/ */
#define ZRI_CODEC_RAW 0u
#define ZRI_CODEC_ZSTD 1u
#define ZRI_CKPT_CHUNK_MIN ((uint32_t)64 << 10)
#define ZRI_CKPT_CHUNK_MAX ((uint32_t)16 << 20)
#define ZRI_CKPT_IMAGE_MAX ((uint64_t)1 << 40)
#define ZRI_CKPT_PATH_MAX 1024 /* longest path the store builds */
#define ZRI_CKPT_DIR_MAX (ZRI_CKPT_PATH_MAX - 96)
#define ZRI_CKPT_TMP_AGE_NS ((uint64_t)60 * 1000000000u) /* stale temp files */

struct zri_ckpt_chdr {
	uint64_t magic;
	uint32_t version;
	uint32_t codec; /* ZRI_CODEC_* */
	uint64_t raw_len;
	uint64_t stored_len;
	uint64_t stored_sum; /* XXH3-64 of the stored bytes */
	uint64_t raw_lo;     /* XXH3-128 of the raw bytes */
	uint64_t raw_hi;
	uint64_t hdr_sum; /* XXH3-64 of the 56 bytes before */
};
_Static_assert(sizeof(struct zri_ckpt_chdr) == 64, "chunk header is 64 bytes");

struct zri_ckpt_mhdr {
	uint64_t magic;
	uint32_t version;
	uint32_t kind; /* zr_ckpt_kind actually taken */
	uint64_t seq;
	uint64_t parent;    /* compared with; 0: none */
	uint64_t last_full; /* seq of the newest FULL at or before this one */
	uint64_t begin_lsn, end_lsn, lineage;
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint64_t image_bytes;
	uint32_t chunk_bytes;
	uint32_t reserved;
	uint64_t nchunks;
	uint64_t stored_bytes; /* of the chunks this checkpoint wrote */
	uint64_t written, unchanged, dedup, raw;
	char arena[ZR_NAME_MAX + 1];
	uint64_t created_mono_ns; /* the same moment as created_ns on CLOCK_MONOTONIC */
	uint8_t pad[64];
};
_Static_assert(sizeof(struct zri_ckpt_mhdr) == 256, "manifest header is 256 bytes");

struct zri_ckpt_ment {
	uint64_t lo, hi; /* XXH3-128 of the raw chunk */
	uint64_t raw_len;
};
_Static_assert(sizeof(struct zri_ckpt_ment) == 24, "manifest entry is 24 bytes");

/* Size of a manifest of n chunks (n <= image max / chunk min: no overflow). */
static inline uint64_t zri_ckpt_man_bytes(uint64_t n)
{
	return sizeof(struct zri_ckpt_mhdr) + n * sizeof(struct zri_ckpt_ment) + 8;
}

/* Where a check failed: the file, the byte offset in it, and what. */
struct zri_ckpt_problem {
	char file[ZRI_CKPT_PATH_MAX];
	uint64_t offset;
	char what[200];
};

int zri_ckpt_bad(struct zri_ckpt_problem *p, const char *file, uint64_t offset, int rc,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A manifest read from disk and checked. */
struct zri_ckpt_man {
	struct zri_ckpt_mhdr h;
	struct zri_ckpt_ment *ent; /* h.nchunks of them, malloc'ed */
};

/* Reading chunks: scratch owned by one thread. */
struct zri_ckpt_rbuf {
	void *stored;
	size_t cap;
	void *dctx; /* ZSTD_DCtx */
};

/* ckpt_store.c */
uint64_t zri_ckpt_chdr_sum(const struct zri_ckpt_chdr *h);
int zri_ckpt_check_dir(const char *dir, zr_diag *diag);
void zri_ckpt_man_path(char *out, const char *dir, uint64_t seq);
void zri_ckpt_chunk_path(char *out, const char *dir, uint64_t lo, uint64_t hi);
bool zri_ckpt_chunk_name(const char *name, uint64_t *lo, uint64_t *hi);
/* Seqs of the manifest files (by name), ascending; -ENOENT: no directory. */
int zri_ckpt_scan(const char *dir, uint64_t **seqs, size_t *n, zr_diag *diag);
int zri_ckpt_man_read(const char *dir, uint64_t seq, struct zri_ckpt_man *m,
		      struct zri_ckpt_problem *p);
void zri_ckpt_man_free(struct zri_ckpt_man *m);
int zri_ckpt_chunk_read(const char *dir, const struct zri_ckpt_ment *e, void *dst,
			struct zri_ckpt_rbuf *rb, struct zri_ckpt_problem *p);
void zri_ckpt_rbuf_free(struct zri_ckpt_rbuf *rb);
bool zri_ckpt_chunk_present(const char *dir, uint64_t lo, uint64_t hi);
/* Write iov to `path` atomically (temp, fsync, rename); the caller fsyncs the directory. */
struct iovec;
int zri_ckpt_put(const char *path, const struct iovec *iov, int n, zr_diag *diag);
/* The iovecs back to back from offset 0 of fd, whatever was there. */
int zri_ckpt_write_all(int fd, const struct iovec *iov, int n);
/* "<path>.tmp-<pid>-<n>", distinct within the process */
void zri_ckpt_tmp_name(char *out, size_t cap, const char *path);
/* A failed file operation as the store reports it (ENOSPC: ZR_ENOSPACE). */
int zri_ckpt_put_error(zr_diag *diag, int e, const char *what, const char *path);
int zri_ckpt_sync_dir(const char *path, zr_diag *diag);
int zri_ckpt_mkdir(const char *path, bool *made, zr_diag *diag);
bool zri_ckpt_is_tmp(const char *name);

/* A set of XXH3-128 hashes (not thread-safe). */
struct zri_ckpt_set {
	uint64_t *slot; /* pairs lo, hi; (0, 0) is empty */
	size_t mask;
	bool has_zero;
};
int zri_ckpt_set_init(struct zri_ckpt_set *s, uint64_t expect);
bool zri_ckpt_set_add(struct zri_ckpt_set *s, uint64_t lo, uint64_t hi); /* true: was new */
bool zri_ckpt_set_has(const struct zri_ckpt_set *s, uint64_t lo, uint64_t hi);
void zri_ckpt_set_free(struct zri_ckpt_set *s);

/* ckpt_gc.c: retention after a checkpoint. */
int zri_ckpt_retain(const char *dir, const zr_ckpt_config *cfg, zr_ckpt_report *rep,
		    uint64_t *oldest_begin, zr_diag *diag);

#endif
