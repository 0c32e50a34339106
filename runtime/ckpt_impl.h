/* Checkpoint store internals: chunked, content-addressed images on disk.
 * zr_checkpoint() (persist.c) and zr_restore() (restore.c) sit on top. */
#ifndef ZR_CKPT_IMPL_H
#define ZR_CKPT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "zring/persist.h"

/* What the caller knows about the image it hands over. */
struct zri_ckpt_meta {
	uint64_t begin_lsn; /* journal LSN read before the copy started */
	uint64_t end_lsn;   /* filled in by zri_ckpt_write: read again after the copy */
	uint64_t lineage;   /* the journal's lineage, 0 without a journal */
	char arena[ZR_NAME_MAX + 1];
	/* read after the copy for end_lsn; NULL: end_lsn = begin_lsn */
	uint64_t (*lsn_now)(void *ctx);
	void *lsn_ctx;
};

/* Write a checkpoint of [base, base + size) into cfg->dir. The image may be
 * written by other processes meanwhile: it is read with relaxed 64-bit
 * atomic loads (size and base are multiples of 8). Then retention runs;
 * *oldest_begin gets the begin LSN of the oldest checkpoint kept (the
 * journal before it can go). Fills every field of rep but removed_segments
 * and copy_ns/total_ns measure this call. */
int zri_ckpt_write(const void *base, size_t size, struct zri_ckpt_meta *m,
		   const zr_ckpt_config *cfg, zr_ckpt_report *rep, uint64_t *oldest_begin,
		   zr_diag *diag);

/* Load checkpoint `seq` (0: the newest whose manifest and chunks all
 * verify) into a malloc'ed image. Newer checkpoints that fail are reported
 * through fn and counted in *skipped. Returns 0, -ENOENT (no checkpoint),
 * ZR_ECORRUPT (none verifies, or `seq` does not), -errno. */
int zri_ckpt_load(const char *dir, uint64_t seq, zr_problem_fn fn, void *ctx, void **image,
		  size_t *size, zr_ckpt_entry *entry, uint64_t *skipped, zr_diag *diag);

#endif
