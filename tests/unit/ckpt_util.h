/* tests/unit/ckpt_util.h: helpers for the checkpoint store tests
 * (test_ckpt.c, test_ckpt_corrupt.c): a temp directory, synthetic images
 * and taking a checkpoint with one call. Header-only: each test is one
 * program. */
#ifndef ZR_TEST_CKPT_UTIL_H
#define ZR_TEST_CKPT_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/ckpt_format.h"
#include "runtime/ckpt_impl.h"
#include "test.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

enum fill { FILL_ZERO, FILL_RANDOM, FILL_TEXT, FILL_STAMP };

static inline void fill_chunk(uint8_t *p, size_t len, enum fill how, uint64_t stamp, uint64_t *rng)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog; zring ckpt ";
	switch (how) {
	case FILL_ZERO: memset(p, 0, len); break;
	case FILL_RANDOM:
		for (size_t i = 0; i + 8 <= len; i += 8) {
			uint64_t v = zr_test_rand(rng);
			memcpy(p + i, &v, 8);
		}
		break;
	case FILL_TEXT:
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)words[(i + stamp * 7) % (sizeof(words) - 1)];
		memcpy(p, &stamp, 8);
		break;
	case FILL_STAMP:
		memset(p, 0, len);
		for (size_t i = 0; i + 8 <= len; i += 4096)
			memcpy(p + i, &stamp, 8);
		break;
	}
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void rm_tree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline zr_ckpt_config ckpt_cfg(const char *dir, uint32_t kind, uint32_t chunk)
{
	zr_ckpt_config cfg;
	zr_ckpt_config_init(&cfg, dir);
	cfg.kind = kind;
	cfg.chunk_bytes = chunk;
	cfg.threads = 1;
	return cfg;
}

/* Take a checkpoint; prints the diag on failure. */
static inline int ckpt_take(const zr_ckpt_config *cfg, const void *img, size_t size, uint64_t begin,
			    zr_ckpt_report *rep, uint64_t *oldest)
{
	struct zri_ckpt_meta m = {.begin_lsn = begin, .lineage = 0x1234};
	snprintf(m.arena, sizeof(m.arena), "ckpt-test");
	zr_diag d = {0};
	uint64_t o = 0;
	int rc = zri_ckpt_write(img, size, &m, cfg, rep, oldest ? oldest : &o, &d);
	if (rc)
		fprintf(stderr, "zri_ckpt_write: %d %s\n", rc, d.msg);
	return rc;
}

#endif
