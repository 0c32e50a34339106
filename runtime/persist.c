/* The public face of the journal and of checkpoints of a live arena:
 * settings, statistics, flushing, and zr_checkpoint(). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_impl.h"
#include "jnl_impl.h"
#include "jnl_read.h"
#include "prim.h"

void zr_journal_config_init(zr_journal_config *cfg, const char *dir)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = dir;
	cfg->durability = ZR_DURABILITY_ASYNC;
	cfg->flush_interval_us = 2000;
	cfg->buffer_bytes = 4u << 20;
	cfg->segment_bytes = (uint64_t)64 << 20;
}

static uint64_t random_lineage(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v) || v == 0)
		v = zri_realtime_ns() ^ (uint64_t)getpid() << 40;
	return v ? v : 1;
}

int zri_journal_configure(zr_arena *a, const zr_journal_config *cfg,
			  const struct zri_journal_seed *seed, zr_diag *diag)
{
	struct zri_journal_ctl *c = &a->hdr->journal;
	/* relaxed: nobody else sees the arena before READY */
	atomic_store_explicit(&c->a_next_lsn, seed ? seed->next_lsn : 1, memory_order_relaxed);
	atomic_store_explicit(&c->a_next_stream, seed ? seed->next_stream : 1,
			      memory_order_relaxed);
	if (!cfg || !cfg->dir)
		return 0;
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(cfg->dir, real) || stat(real, &st) != 0)
		return zri_diag_set(diag, -errno, "journal directory %s: %s", cfg->dir,
				    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return zri_diag_set(diag, -ENOTDIR, "journal directory %s is not a directory",
				    cfg->dir);
	if (strlen(real) > ZR_JOURNAL_DIR_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG,
				    "journal directory %s is longer than %d bytes", real,
				    ZR_JOURNAL_DIR_MAX);
	if (cfg->durability > ZR_DURABILITY_SYNC || cfg->buffer_bytes < (64u << 10) ||
	    cfg->buffer_bytes > (1u << 30) || cfg->segment_bytes < (1u << 20) ||
	    cfg->flush_interval_us < 50 || cfg->flush_interval_us > 10000000 ||
	    (cfg->flags & ~ZR_JOURNAL_NO_DIRECT))
		return zri_diag_set(diag, -EINVAL,
				    "journal settings out of range: durability %u, buffer %u B "
				    "(64 KiB .. 1 GiB), segment %llu B (>= 1 MiB), interval %u us "
				    "(50 .. 10^7)",
				    cfg->durability, cfg->buffer_bytes,
				    (unsigned long long)cfg->segment_bytes, cfg->flush_interval_us);
	memcpy(c->dir, real, strlen(real) + 1); /* fits: checked above */
	c->durability = cfg->durability;
	c->flags = cfg->flags;
	c->flush_interval_us = cfg->flush_interval_us;
	c->buffer_bytes = cfg->buffer_bytes;
	c->segment_bytes = cfg->segment_bytes;
	c->lineage = seed && seed->lineage ? seed->lineage : random_lineage();
	c->enabled = 1;
	return 0;
}

void zr_journal_stat(const zr_arena *a, zr_journal_stats *out)
{
	memset(out, 0, sizeof(*out));
	const struct zri_journal_ctl *c = &a->hdr->journal;
	out->enabled = c->enabled;
	out->durability = c->durability;
	if (memchr(c->dir, 0, sizeof(c->dir)))
		snprintf(out->dir, sizeof(out->dir), "%s", c->dir);
	/* relaxed: statistics */
	out->next_lsn = atomic_load_explicit(&c->a_next_lsn, memory_order_relaxed);
	out->records = atomic_load_explicit(&c->a_records, memory_order_relaxed);
	out->bytes = atomic_load_explicit(&c->a_bytes, memory_order_relaxed);
	out->lost = atomic_load_explicit(&c->a_lost, memory_order_relaxed);
	out->checkpoint_lsn = atomic_load_explicit(&c->a_ckpt_lsn, memory_order_relaxed);
	if (a->journal)
		zri_journal_stream_stat(a->journal, out);
}

int zr_journal_flush(zr_arena *a, int64_t timeout_ns)
{
	if (!a || !a->journal)
		return -ENOENT;
	return zri_journal_wait(a->journal, zri_journal_position(a->journal), timeout_ns);
}

/* ---- checkpoints of a live arena ---------------------------------------------- */

static uint64_t lsn_now(void *ctx)
{
	const struct zri_journal_ctl *c = ctx;
	/* relaxed: end_lsn is informative (how far the journal got during the copy) */
	return atomic_load_explicit(&c->a_next_lsn, memory_order_relaxed);
}

int zr_checkpoint(zr_arena *a, const zr_ckpt_config *cfg, zr_ckpt_report *rep, zr_diag *diag)
{
	if (!a || !cfg || !cfg->dir || !rep)
		return zri_diag_set(diag, -EINVAL, "checkpoint: missing arena, settings or report");
	struct zri_journal_ctl *c = &a->hdr->journal;
	struct zri_ckpt_meta m = {
		.lineage = c->enabled ? c->lineage : 0, .lsn_now = lsn_now, .lsn_ctx = c};
	snprintf(m.arena, sizeof(m.arena), "%s", a->name);
	/* A1: pairs with R2 in zri_journal_append(): every change whose record
	 * drew an LSN below the one read here was made before that record, so
	 * the copy that starts now sees it, or a later state. */
	m.begin_lsn = atomic_load_explicit(&c->a_next_lsn, memory_order_acquire);
	uint64_t oldest = 0;
	int rc = zri_ckpt_write(a->base, a->size, &m, cfg, rep, &oldest, diag);
	if (rc)
		return rc;
	if (!a->readonly)
		/* relaxed: statistics for the tool */
		atomic_store_explicit(&c->a_ckpt_lsn, m.begin_lsn, memory_order_relaxed);
	if (c->enabled && oldest > 1)
		rep->removed_segments = zri_journal_trim(c->dir, c->lineage, oldest);
	return 0;
}
