/* runtime/ckpt_read.c: loading a checkpoint image back from the store
 * (ckpt_format.h) and listing what a store holds. Nothing read from disk
 * is used before it is checked: manifests and chunk headers against their
 * checksums, file sizes and the format's limits, chunk contents against
 * their XXH3-128 names. A checkpoint that fails any check is reported and
 * the next older one tried. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena_impl.h"
#include "ckpt_format.h"
#include "ckpt_impl.h"

void zr_ckpt_config_init(zr_ckpt_config *cfg, const char *dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = dir;
	cfg->kind = ZR_CKPT_INCREMENTAL;
	cfg->level = 3;
	cfg->chunk_bytes = (uint32_t)1 << 20; /* 256 KiB cost 4x the file creations */
}

static void report(zr_problem_fn fn, void *ctx, const struct zri_ckpt_problem *p)
{
	if (fn)
		fn(ctx, p->file, p->offset, p->what);
}

static void fill_entry(zr_ckpt_entry *e, const struct zri_ckpt_man *m, bool valid)
{
	memset(e, 0, sizeof(*e));
	e->seq = m->h.seq;
	e->parent = m->h.parent;
	e->kind = m->h.kind;
	e->valid = valid;
	e->begin_lsn = m->h.begin_lsn;
	e->end_lsn = m->h.end_lsn;
	e->created_ns = m->h.created_ns;
	e->created_mono_ns = m->h.created_mono_ns;
	e->image_bytes = m->h.image_bytes;
	e->chunks = m->h.nchunks;
	e->stored_bytes = m->h.stored_bytes;
	e->lineage = m->h.lineage;
	memcpy(e->arena, m->h.arena, sizeof(e->arena)); /* terminated: checked on reading */
}

/* Loading an image with a few threads: each takes chunk indices from a
 * counter and decodes into its own part of the image. The counter and the
 * stop hint are relaxed (distinct indices are all they give); the first
 * problem by chunk index is kept under the lock; pthread_join publishes
 * the image and the problem to the caller. */
struct loader {
	const char *dir;
	const struct zri_ckpt_man *m;
	uint8_t *image;
	_Atomic uint64_t next;
	_Atomic bool stop;
	pthread_mutex_t lock;
	uint64_t bad_index; /* the lowest failing chunk, UINT64_MAX: none */
	int rc;
	struct zri_ckpt_problem *p;
};

static void *load_work(void *arg)
{
	struct loader *l = arg;
	struct zri_ckpt_rbuf rb = {0};
	struct zri_ckpt_problem mine;
	/* relaxed: a hint; the problem itself is under the lock */
	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		/* relaxed: only distinct indices are needed; join publishes the rest */
		uint64_t i = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed);
		if (i >= l->m->h.nchunks)
			break;
		uint8_t *dst = l->image + i * l->m->h.chunk_bytes;
		int rc = zri_ckpt_chunk_read(l->dir, &l->m->ent[i], dst, &rb, &mine);
		if (rc == 0)
			continue;
		pthread_mutex_lock(&l->lock);
		if (i < l->bad_index) {
			l->bad_index = i;
			l->rc = rc;
			*l->p = mine;
		}
		pthread_mutex_unlock(&l->lock);
		/* relaxed: a hint to stop early */
		atomic_store_explicit(&l->stop, true, memory_order_relaxed);
	}
	zri_ckpt_rbuf_free(&rb);
	return NULL;
}

/* Threads for loading an image: one below 16 MiB, else up to 4 CPUs. */
static unsigned load_threads(const struct zri_ckpt_man *m)
{
	if (m->h.image_bytes < ((uint64_t)16 << 20))
		return 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned t = cpus > 4 ? 4 : cpus > 1 ? (unsigned)cpus : 1;
	return m->h.nchunks < t ? (unsigned)m->h.nchunks : t;
}

static int load_parallel(const char *dir, const struct zri_ckpt_man *m, uint8_t *image,
			 struct zri_ckpt_problem *p)
{
	struct loader l = {.dir = dir, .m = m, .image = image, .bad_index = UINT64_MAX, .p = p};
	if (pthread_mutex_init(&l.lock, NULL) != 0)
		return zri_ckpt_bad(p, dir, 0, -ENOMEM, "no memory for a lock");
	pthread_t tid[4];
	unsigned n = load_threads(m), started = 0;
	while (started + 1 < n && pthread_create(&tid[started], NULL, load_work, &l) == 0)
		started++;
	load_work(&l); /* this thread too; fewer helpers only make it slower */
	for (unsigned t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&l.lock);
	return l.rc;
}

/* Every chunk of m into image, or, with image NULL, each into a scratch buffer. */
static int read_chunks(const char *dir, const struct zri_ckpt_man *m, uint8_t *image,
		       struct zri_ckpt_problem *p)
{
	if (image && load_threads(m) > 1)
		return load_parallel(dir, m, image, p);
	struct zri_ckpt_rbuf rb = {0};
	uint8_t *scratch = image ? NULL : malloc(m->h.chunk_bytes);
	int rc = 0;
	if (!image && !scratch)
		rc = zri_ckpt_bad(p, dir, 0, -ENOMEM, "no memory for a chunk");
	for (uint64_t i = 0; rc == 0 && i < m->h.nchunks; i++) {
		uint8_t *dst = image ? image + i * m->h.chunk_bytes : scratch;
		rc = zri_ckpt_chunk_read(dir, &m->ent[i], dst, &rb, p);
	}
	zri_ckpt_rbuf_free(&rb);
	free(scratch);
	return rc;
}

/* One checkpoint, whole: its manifest, then every chunk into a new image. */
static int load_one(const char *dir, uint64_t seq, struct zri_ckpt_man *m, void **image,
		    struct zri_ckpt_problem *p)
{
	int rc = zri_ckpt_man_read(dir, seq, m, p);
	if (rc)
		return rc;
	uint8_t *img = malloc((size_t)m->h.image_bytes);
	if (!img)
		rc = zri_ckpt_bad(p, dir, 0, -ENOMEM, "no memory for an image of %llu bytes",
				  (unsigned long long)m->h.image_bytes);
	else
		rc = read_chunks(dir, m, img, p);
	if (rc) {
		free(img);
		zri_ckpt_man_free(m);
		return rc;
	}
	*image = img;
	return 0;
}

static int pick(const char *dir, const uint64_t *seqs, size_t n, uint64_t seq, size_t *from,
		size_t *to, zr_diag *diag)
{
	*from = 0;
	*to = n;
	if (seq == 0)
		return n ? 0 : zri_diag_set(diag, -ENOENT, "no checkpoint in %s", dir);
	for (size_t k = 0; k < n; k++)
		if (seqs[k] == seq) {
			*from = k;
			*to = k + 1;
			return 0;
		}
	return zri_diag_set(diag, -ENOENT, "no checkpoint %llu in %s", (unsigned long long)seq,
			    dir);
}

int zri_ckpt_load(const char *dir, uint64_t seq, zr_problem_fn fn, void *ctx, void **image,
		  size_t *size, zr_ckpt_entry *entry, uint64_t *skipped, zr_diag *diag)
{
	int rc = zri_ckpt_check_dir(dir, diag);
	if (rc == 0 && (!image || !size))
		rc = zri_diag_set(diag, -EINVAL, "zri_ckpt_load: no place for the image");
	uint64_t *seqs = NULL, bad = 0;
	size_t n = 0, from = 0, to = 0;
	if (rc == 0 && (rc = zri_ckpt_scan(dir, &seqs, &n, diag)) == 0)
		rc = pick(dir, seqs, n, seq, &from, &to, diag);
	struct zri_ckpt_problem p = {{0}, 0, {0}}, first = p;
	for (size_t k = to; rc == 0 && k-- > from;) {
		struct zri_ckpt_man m;
		void *img;
		int r = load_one(dir, seqs[k], &m, &img, &p);
		if (r == 0) {
			if (entry)
				fill_entry(entry, &m, true);
			*image = img;
			*size = (size_t)m.h.image_bytes;
			zri_ckpt_man_free(&m);
			free(seqs);
			if (skipped)
				*skipped = bad;
			return 0;
		}
		report(fn, ctx, &p);
		if (bad++ == 0)
			first = p;
	}
	free(seqs);
	if (skipped)
		*skipped = bad;
	if (rc)
		return rc;
	return zri_diag_set(
		diag, ZR_ECORRUPT, "no checkpoint verifies (%llu tried); newest: %s at %llu: %s",
		(unsigned long long)bad, first.file, (unsigned long long)first.offset, first.what);
}

/* Read (and with verify, check every chunk of) the manifest of seq. */
static void list_one(const char *dir, uint64_t seq, bool verify, zr_problem_fn fn, void *ctx,
		     zr_ckpt_entry *e)
{
	struct zri_ckpt_man m;
	struct zri_ckpt_problem p;
	if (zri_ckpt_man_read(dir, seq, &m, &p) != 0) {
		report(fn, ctx, &p);
		memset(e, 0, sizeof(*e));
		e->seq = seq;
		return;
	}
	bool valid = true;
	if (verify && read_chunks(dir, &m, NULL, &p) != 0) {
		report(fn, ctx, &p);
		valid = false;
	}
	fill_entry(e, &m, valid);
	zri_ckpt_man_free(&m);
}

int zr_ckpt_list(const char *dir, bool verify, zr_problem_fn fn, void *ctx, zr_ckpt_entry *out,
		 size_t cap, size_t *n, zr_diag *diag)
{
	int rc = zri_ckpt_check_dir(dir, diag);
	if (rc == 0 && (!n || (cap && !out)))
		rc = zri_diag_set(diag, -EINVAL, "zr_ckpt_list: no place for the entries");
	uint64_t *seqs = NULL;
	size_t cnt = 0;
	if (rc == 0)
		rc = zri_ckpt_scan(dir, &seqs, &cnt, diag);
	if (rc)
		return rc;
	for (size_t k = 0; k < cnt && k < cap; k++)
		list_one(dir, seqs[k], verify, fn, ctx, &out[k]);
	free(seqs);
	*n = cnt;
	return 0;
}
