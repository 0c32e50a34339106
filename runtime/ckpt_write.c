/* runtime/ckpt_write.c: taking a checkpoint of an image into the store
 * (ckpt_format.h), with a small pool of threads that take chunk indices
 * from a counter. Each copies its chunk out of the live image, hashes the
 * copy, decides whether it must be stored, compresses it and hands it to
 * its io_uring writer (ckpt_io.c), which keeps several files in flight.
 * The manifest is written once every chunk it names is durable.
 *
 * Synchronisation map: the workers share only the index counter and the
 * stop flag (relaxed: pthread_join orders everything they wrote before
 * the caller reads it), and a mutex over the set of hashes being stored
 * and the first error. The image is read
 * with relaxed loads: other processes write it meanwhile, the copy is
 * fuzzy by design (replay from begin_lsn repairs it) and needs only
 * untorn 64-bit words. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "arena_impl.h"
#include "ckpt_format.h"
#include "ckpt_impl.h"
#include "ckpt_io.h"
#include "prim.h"

#define MAX_THREADS 64u
#define AUTO_ONE_THREAD ((uint64_t)64 << 20)

struct pool {
	const uint8_t *base;
	uint64_t size, n;
	uint32_t cb;
	int level;
	bool full;
	const char *dir;
	const struct zri_ckpt_man *parent; /* NULL: none */
	struct zri_ckpt_ment *ent;	   /* out, one per chunk */
	_Atomic uint64_t next;
	_Atomic bool stop;
	pthread_mutex_t lock; /* guards the fields below */
	struct zri_ckpt_set claimed;
	int rc;
	zr_diag diag;
};

struct worker {
	struct pool *p;
	pthread_t tid;
	uint8_t *raw;
	struct zri_ckpt_aw aw;
	ZSTD_CCtx *cctx;
	uint64_t written, unchanged, dedup, raw_n, bytes;
};

static void pool_fail(struct pool *p, int rc, const zr_diag *d)
{
	pthread_mutex_lock(&p->lock);
	if (p->rc == 0) {
		p->rc = rc;
		p->diag = *d;
	}
	pthread_mutex_unlock(&p->lock);
	/* relaxed: a hint to stop early; the error itself is under the lock */
	atomic_store_explicit(&p->stop, true, memory_order_relaxed);
}

static void copy_chunk(uint64_t *dst, const uint8_t *src, size_t len)
{
	const _Atomic uint64_t *s = (const _Atomic uint64_t *)(uintptr_t)src;
	for (size_t k = 0; k < len / 8; k++)
		/* relaxed: a fuzzy copy of memory others write; see the map above */
		dst[k] = atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)&s[k],
					      memory_order_relaxed);
}

static int store_chunk(struct worker *w, const struct zri_ckpt_ment *e, zr_diag *d)
{
	struct pool *p = w->p;
	struct zri_ckpt_aw_slot *s;
	int rc = zri_ckpt_aw_slot(&w->aw, &s, d);
	if (rc)
		return rc;
	size_t len = (size_t)e->raw_len;
	size_t c = ZSTD_compressCCtx(w->cctx, s->buf, s->cap, w->raw, len, p->level);
	bool raw = ZSTD_isError(c) || (uint64_t)c * 10 > (uint64_t)len * 9;
	if (raw)
		memcpy(s->buf, w->raw, len); /* cap >= compressBound(len) > len */
	s->len = raw ? len : c;
	s->h = (struct zri_ckpt_chdr){
		.magic = ZRI_CKPT_CHUNK_MAGIC,
		.version = ZRI_CKPT_VERSION,
		.codec = raw ? ZRI_CODEC_RAW : ZRI_CODEC_ZSTD,
		.raw_len = len,
		.stored_len = raw ? len : c,
		.raw_lo = e->lo,
		.raw_hi = e->hi,
	};
	s->h.stored_sum = XXH3_64bits(s->buf, s->len);
	s->h.hdr_sum = zri_ckpt_chdr_sum(&s->h);
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_chunk_path(path, p->dir, e->lo, e->hi);
	if ((rc = zri_ckpt_aw_put(&w->aw, s, path, d)) != 0)
		return rc;
	w->written++;
	w->raw_n += raw;
	w->bytes += sizeof(s->h) + s->len;
	return 0;
}

static int do_chunk(struct worker *w, uint64_t i, zr_diag *d)
{
	struct pool *p = w->p;
	uint64_t off = i * p->cb;
	size_t len = (size_t)(p->size - off < p->cb ? p->size - off : p->cb);
	copy_chunk((uint64_t *)(void *)w->raw, p->base + off, len);
	XXH128_hash_t x = XXH3_128bits(w->raw, len);
	struct zri_ckpt_ment *e = &p->ent[i];
	*e = (struct zri_ckpt_ment){.lo = x.low64, .hi = x.high64, .raw_len = len};
	const struct zri_ckpt_man *par = p->parent;
	if (par && i < par->h.nchunks && par->ent[i].lo == e->lo && par->ent[i].hi == e->hi &&
	    zri_ckpt_chunk_present(p->dir, e->lo, e->hi)) {
		w->unchanged++;
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	bool fresh = zri_ckpt_set_add(&p->claimed, e->lo, e->hi);
	pthread_mutex_unlock(&p->lock);
	if (!fresh || (!p->full && zri_ckpt_chunk_present(p->dir, e->lo, e->hi))) {
		w->dedup++;
		return 0;
	}
	return store_chunk(w, e, d);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	zr_diag d = {0};
	for (;;) {
		/* relaxed: the stop flag is a hint; errors are kept under the lock */
		if (atomic_load_explicit(&p->stop, memory_order_relaxed))
			break;
		/* relaxed: only distinct indices are needed; pthread_join publishes the rest */
		uint64_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (i >= p->n)
			break;
		int rc = do_chunk(w, i, &d);
		if (rc) {
			pool_fail(p, rc, &d);
			break;
		}
	}
	int rc = zri_ckpt_aw_drain(&w->aw, &d); /* every chunk durable before join */
	if (rc)
		pool_fail(p, rc, &d);
	return NULL;
}

static int worker_init(struct worker *w, struct pool *p)
{
	memset(w, 0, sizeof(*w));
	w->p = p;
	w->raw = malloc(p->cb);
	w->cctx = ZSTD_createCCtx();
	int rc = zri_ckpt_aw_init(&w->aw, ZSTD_compressBound(p->cb));
	return rc ? rc : w->raw && w->cctx ? 0 : -ENOMEM;
}

static void worker_fini(struct worker *w)
{
	free(w->raw);
	zri_ckpt_aw_fini(&w->aw);
	ZSTD_freeCCtx(w->cctx);
}

/* Run `nt` workers (the caller is the first); sums their counts into rep. */
static int pool_run(struct pool *p, uint32_t nt, zr_ckpt_report *rep, zr_diag *diag)
{
	struct worker *w = calloc(nt, sizeof(*w)); /* ~20 KiB each: not on the stack */
	if (!w)
		return zri_diag_set(diag, -ENOMEM, "no memory for %u checkpoint threads", nt);
	uint32_t inited = 0, running = 1;
	int rc = 0;
	while (inited < nt && rc == 0)
		rc = worker_init(&w[inited++], p);
	for (; running < nt && rc == 0; running++)
		if ((rc = -pthread_create(&w[running].tid, NULL, work, &w[running])) != 0)
			break; /* threads 1 .. running-1 run */
	if (rc) {
		/* relaxed: the hint to stop; pthread_join below waits for them */
		atomic_store_explicit(&p->stop, true, memory_order_relaxed);
	} else {
		work(&w[0]);
	}
	for (uint32_t t = 0; t < inited; t++) {
		if (t > 0 && t < running)
			pthread_join(w[t].tid, NULL);
		rep->chunks_written += w[t].written;
		rep->chunks_unchanged += w[t].unchanged;
		rep->chunks_dedup += w[t].dedup;
		rep->chunks_raw += w[t].raw_n;
		rep->bytes_compressed += w[t].bytes;
		worker_fini(&w[t]);
	}
	free(w);
	if (rc)
		return zri_diag_set(diag, rc, "cannot start checkpoint threads: %s",
				    zr_strerror(rc));
	if (p->rc && diag)
		*diag = p->diag;
	return p->rc;
}

static uint32_t thread_count(const zr_ckpt_config *cfg, uint64_t size, uint64_t n)
{
	uint64_t t = cfg->threads;
	if (t == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		t = size <= AUTO_ONE_THREAD ? 1 : (cpus < 4 ? (cpus > 1 ? (uint64_t)cpus : 1) : 4);
	}
	if (t > MAX_THREADS)
		t = MAX_THREADS;
	return (uint32_t)(t < n ? t : n);
}

static int check_args(const void *base, size_t size, const struct zri_ckpt_meta *m,
		      const zr_ckpt_config *cfg, zr_diag *diag)
{
	if (!base || !m || !cfg || !size || size % 8 || (uintptr_t)base % 8 ||
	    size > ZRI_CKPT_IMAGE_MAX)
		return zri_diag_set(diag, -EINVAL,
				    "checkpoint of %zu bytes: image must be 8-byte aligned, "
				    "1 B..1 TiB, a multiple of 8",
				    size);
	uint32_t cb = cfg->chunk_bytes;
	if (cb < ZRI_CKPT_CHUNK_MIN || cb > ZRI_CKPT_CHUNK_MAX || (cb & (cb - 1)))
		return zri_diag_set(diag, -EINVAL,
				    "chunk_bytes %u is not a power of two in 64 KiB..16 MiB", cb);
	if (cfg->kind > ZR_CKPT_DIFFERENTIAL || cfg->level < 1 || cfg->level > 19)
		return zri_diag_set(diag, -EINVAL, "checkpoint kind %u or zstd level %d unknown",
				    cfg->kind, cfg->level);
	return zri_ckpt_check_dir(cfg->dir, diag);
}

/* The newest manifest that reads back (of kind FULL for a differential). */
static uint64_t find_parent(const char *dir, const uint64_t *seqs, size_t n, bool want_full,
			    struct zri_ckpt_man *out)
{
	struct zri_ckpt_problem pr;
	for (size_t k = n; k-- > 0;) {
		if (zri_ckpt_man_read(dir, seqs[k], out, &pr) != 0)
			continue;
		if (!want_full || out->h.kind == ZR_CKPT_FULL)
			return seqs[k];
		zri_ckpt_man_free(out);
	}
	return 0;
}

/* Make dir and dir/chunks; the new seq is one past the highest name. */
static int prepare(const zr_ckpt_config *cfg, uint64_t *seq, uint64_t *parent,
		   struct zri_ckpt_man *par, zr_diag *diag)
{
	char path[ZRI_CKPT_PATH_MAX];
	bool made;
	int rc = zri_ckpt_mkdir(cfg->dir, &made, diag);
	snprintf(path, sizeof(path), "%s/chunks", cfg->dir);
	if (rc == 0 && (rc = zri_ckpt_mkdir(path, &made, diag)) == 0 && made)
		rc = zri_ckpt_sync_dir(cfg->dir, diag);
	uint64_t *seqs = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = zri_ckpt_scan(cfg->dir, &seqs, &n, diag);
	if (rc)
		return rc;
	*seq = n ? seqs[n - 1] + 1 : 1;
	*parent = 0;
	if (cfg->kind != ZR_CKPT_FULL)
		*parent = find_parent(cfg->dir, seqs, n, cfg->kind == ZR_CKPT_DIFFERENTIAL, par);
	free(seqs);
	return 0;
}

/* The renames of this run's chunks: one fsync of chunks/. */
static int sync_chunk_dir(const struct pool *p, const zr_ckpt_report *r, zr_diag *diag)
{
	char path[ZRI_CKPT_PATH_MAX];
	snprintf(path, sizeof(path), "%s/chunks", p->dir);
	return r->chunks_written ? zri_ckpt_sync_dir(path, diag) : 0;
}

static int write_manifest(const struct pool *p, const struct zri_ckpt_mhdr *h, zr_diag *diag)
{
	uint64_t sum;
	size_t ents = (size_t)p->n * sizeof(p->ent[0]);
	XXH3_state_t *st = XXH3_createState();
	if (!st)
		return zri_diag_set(diag, -ENOMEM, "no memory for the manifest checksum");
	XXH3_64bits_reset(st);
	XXH3_64bits_update(st, h, sizeof(*h));
	XXH3_64bits_update(st, p->ent, ents);
	sum = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_man_path(path, p->dir, h->seq);
	struct iovec iov[3] = {{(void *)(uintptr_t)h, sizeof(*h)}, {p->ent, ents}, {&sum, 8}};
	int rc = zri_ckpt_put(path, iov, 3, diag);
	return rc ? rc : zri_ckpt_sync_dir(p->dir, diag);
}

static void fill_header(struct zri_ckpt_mhdr *h, const struct pool *p,
			const struct zri_ckpt_meta *m, const zr_ckpt_report *r)
{
	memset(h, 0, sizeof(*h));
	h->magic = ZRI_CKPT_MAN_MAGIC;
	h->version = ZRI_CKPT_VERSION;
	h->kind = r->kind;
	h->seq = r->seq;
	h->parent = r->parent;
	h->last_full = r->kind == ZR_CKPT_FULL		 ? r->seq
		       : r->kind == ZR_CKPT_DIFFERENTIAL ? r->parent
							 : p->parent->h.last_full;
	h->begin_lsn = m->begin_lsn;
	h->end_lsn = m->end_lsn;
	h->lineage = m->lineage;
	h->created_ns = zri_realtime_ns();
	h->created_mono_ns = zri_now_ns();
	h->image_bytes = p->size;
	h->chunk_bytes = p->cb;
	h->nchunks = p->n;
	h->stored_bytes = r->bytes_compressed;
	h->written = r->chunks_written;
	h->unchanged = r->chunks_unchanged;
	h->dedup = r->chunks_dedup;
	h->raw = r->chunks_raw;
	memcpy(h->arena, m->arena, strnlen(m->arena, ZR_NAME_MAX));
}

/* Copy, store the chunks, then the manifest. */
static int take(struct pool *p, uint32_t nt, struct zri_ckpt_meta *m, zr_ckpt_report *r,
		uint64_t t0, zr_diag *diag)
{
	int rc = zri_ckpt_set_init(&p->claimed, p->n);
	if (rc == 0 && pthread_mutex_init(&p->lock, NULL) != 0)
		rc = -ENOMEM;
	if (rc) {
		zri_ckpt_set_free(&p->claimed);
		return zri_diag_set(diag, rc, "no memory for a checkpoint of %llu chunks",
				    (unsigned long long)p->n);
	}
	rc = pool_run(p, nt, r, diag);
	pthread_mutex_destroy(&p->lock);
	zri_ckpt_set_free(&p->claimed);
	m->end_lsn = m->lsn_now ? m->lsn_now(m->lsn_ctx) : m->begin_lsn;
	r->end_lsn = m->end_lsn;
	r->copy_ns = zri_now_ns() - t0;
	if (rc == 0)
		rc = sync_chunk_dir(p, r, diag);
	struct zri_ckpt_mhdr h;
	fill_header(&h, p, m, r);
	return rc ? rc : write_manifest(p, &h, diag);
}

int zri_ckpt_write(const void *base, size_t size, struct zri_ckpt_meta *m,
		   const zr_ckpt_config *cfg, zr_ckpt_report *rep, uint64_t *oldest_begin,
		   zr_diag *diag)
{
	uint64_t t0 = zri_now_ns();
	int rc = check_args(base, size, m, cfg, diag);
	if (rc)
		return rc;
	zr_ckpt_report r = {0};
	struct zri_ckpt_man par = {0};
	if ((rc = prepare(cfg, &r.seq, &r.parent, &par, diag)) != 0)
		return rc;
	struct pool p = {.base = base,
			 .size = size,
			 .cb = cfg->chunk_bytes,
			 .level = cfg->level,
			 .dir = cfg->dir,
			 .parent = r.parent ? &par : NULL};
	p.n = (size + p.cb - 1) / p.cb;
	p.full = r.parent == 0;
	r.kind = p.full ? ZR_CKPT_FULL : cfg->kind;
	r.threads = thread_count(cfg, size, p.n);
	r.begin_lsn = m->begin_lsn;
	r.chunks = p.n;
	r.bytes_image = size;
	p.ent = calloc(p.n, sizeof(p.ent[0]));
	if (!p.ent)
		rc = zri_diag_set(diag, -ENOMEM, "no memory for %llu manifest entries",
				  (unsigned long long)p.n);
	if (rc == 0)
		rc = take(&p, r.threads, m, &r, t0, diag);
	free(p.ent);
	zri_ckpt_man_free(&par);
	if (rc)
		return rc;
	uint64_t oldest = m->begin_lsn;
	rc = zri_ckpt_retain(cfg->dir, cfg, &r, &oldest, diag);
	r.total_ns = zri_now_ns() - t0;
	if (rep)
		*rep = r;
	if (oldest_begin && rc == 0)
		*oldest_begin = oldest;
	return rc;
}
