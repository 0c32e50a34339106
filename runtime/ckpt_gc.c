/* runtime/ckpt_gc.c: retention of a checkpoint store. After a checkpoint
 * is written, manifests beyond keep_last (by seq) or older than keep_ns
 * are removed, never the newest one and never one that does not read back
 * (what cannot be read is not deleted). Then every chunk no kept manifest
 * names is removed, unless some manifest did not read back (its chunks
 * are unknown, so none is removed). Temp files older than a minute (from
 * writers that died) go too. One writer per directory at a time: a chunk
 * another process has written but not yet named in its manifest would be
 * removed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena_impl.h"
#include "ckpt_format.h"
#include "prim.h"

struct gc {
	const char *dir;
	uint64_t *seqs;
	size_t n;
	struct zri_ckpt_man *man;
	bool *ok, *drop;
	uint64_t now;
};

static bool is_old_tmp(int dfd, const char *name, uint64_t now)
{
	struct stat st;
	if (!zri_ckpt_is_tmp(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	uint64_t t = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
	return now > t && now - t > ZRI_CKPT_TMP_AGE_NS;
}

/* Sweep one directory: stale temps always, unreferenced chunks if `refs`. */
static int sweep(const char *path, const struct zri_ckpt_set *refs, uint64_t now, uint64_t *removed,
		 zr_diag *diag)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0
				       : zri_diag_set(diag, -errno, "cannot open %s: %s", path,
						      strerror(errno));
	int dfd = dirfd(d), rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		uint64_t lo, hi;
		bool chunk = refs && zri_ckpt_chunk_name(de->d_name, &lo, &hi) &&
			     !zri_ckpt_set_has(refs, lo, hi);
		if (!chunk && !is_old_tmp(dfd, de->d_name, now))
			continue;
		if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT)
			rc = zri_diag_set(diag, -errno, "cannot remove %s/%s: %s", path, de->d_name,
					  strerror(errno));
		else if (chunk)
			(*removed)++;
	}
	closedir(d);
	return rc;
}

static int sweep_chunks(const struct gc *g, const struct zri_ckpt_set *refs, uint64_t *removed,
			zr_diag *diag)
{
	char path[ZRI_CKPT_PATH_MAX];
	snprintf(path, sizeof(path), "%s/chunks", g->dir);
	int rc = sweep(path, refs, g->now, removed, diag);
	return rc ? rc : sweep(g->dir, NULL, g->now, removed, diag);
}

/* The chunks every kept manifest names. */
static int kept_refs(const struct gc *g, struct zri_ckpt_set *refs, zr_diag *diag)
{
	uint64_t total = 0;
	for (size_t k = 0; k < g->n; k++)
		if (!g->drop[k])
			total += g->man[k].h.nchunks;
	if (zri_ckpt_set_init(refs, total) != 0)
		return zri_diag_set(diag, -ENOMEM, "no memory for %llu chunk names",
				    (unsigned long long)total);
	for (size_t k = 0; k < g->n; k++)
		for (uint64_t i = 0; !g->drop[k] && i < g->man[k].h.nchunks; i++)
			zri_ckpt_set_add(refs, g->man[k].ent[i].lo, g->man[k].ent[i].hi);
	return 0;
}

static void decide(struct gc *g, const zr_ckpt_config *cfg)
{
	for (size_t k = 0; k + 1 < g->n; k++) {
		uint64_t age =
			g->now > g->man[k].h.created_ns ? g->now - g->man[k].h.created_ns : 0;
		bool count = cfg->keep_last && g->n - k > cfg->keep_last;
		bool old = cfg->keep_ns && age > cfg->keep_ns;
		g->drop[k] = g->ok[k] && (count || old);
	}
}

static int drop_manifests(const struct gc *g, uint64_t *removed, zr_diag *diag)
{
	char path[ZRI_CKPT_PATH_MAX];
	for (size_t k = 0; k < g->n; k++) {
		if (!g->drop[k])
			continue;
		zri_ckpt_man_path(path, g->dir, g->seqs[k]);
		if (unlink(path) != 0 && errno != ENOENT)
			return zri_diag_set(diag, -errno, "cannot remove %s: %s", path,
					    strerror(errno));
		(*removed)++;
	}
	return *removed ? zri_ckpt_sync_dir(g->dir, diag) : 0;
}

static int retain(struct gc *g, const zr_ckpt_config *cfg, zr_ckpt_report *rep,
		  uint64_t *oldest_begin, zr_diag *diag)
{
	bool all_ok = true;
	struct zri_ckpt_problem pr;
	for (size_t k = 0; k < g->n; k++) {
		g->ok[k] = zri_ckpt_man_read(g->dir, g->seqs[k], &g->man[k], &pr) == 0;
		all_ok &= g->ok[k];
	}
	decide(g, cfg);
	int rc = drop_manifests(g, &rep->removed_checkpoints, diag);
	for (size_t k = g->n; rc == 0 && k-- > 0;)
		if (g->ok[k] && !g->drop[k] && g->man[k].h.begin_lsn < *oldest_begin)
			*oldest_begin = g->man[k].h.begin_lsn;
	struct zri_ckpt_set refs = {0};
	if (rc == 0 && all_ok)
		rc = kept_refs(g, &refs, diag);
	if (rc == 0)
		rc = sweep_chunks(g, all_ok ? &refs : NULL, &rep->removed_chunks, diag);
	zri_ckpt_set_free(&refs);
	return rc;
}

int zri_ckpt_retain(const char *dir, const zr_ckpt_config *cfg, zr_ckpt_report *rep,
		    uint64_t *oldest_begin, zr_diag *diag)
{
	struct gc g = {.dir = dir, .now = zri_realtime_ns()};
	int rc = zri_ckpt_scan(dir, &g.seqs, &g.n, diag);
	if (rc)
		return rc;
	g.man = calloc(g.n + 1, sizeof(*g.man));
	g.ok = calloc(g.n + 1, sizeof(bool));
	g.drop = calloc(g.n + 1, sizeof(bool));
	if (g.man && g.ok && g.drop)
		rc = retain(&g, cfg, rep, oldest_begin, diag);
	else
		rc = zri_diag_set(diag, -ENOMEM, "no memory to apply retention in %s", dir);
	for (size_t k = 0; g.man && k < g.n; k++)
		zri_ckpt_man_free(&g.man[k]);
	free(g.man);
	free(g.ok);
	free(g.drop);
	free(g.seqs);
	return rc;
}
