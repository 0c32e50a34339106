/* Chunk files written through io_uring, several in flight (ckpt_io.c).
 * One writer per checkpoint thread; not thread-safe. */
#ifndef ZR_CKPT_IO_H
#define ZR_CKPT_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "ckpt_format.h"

#define ZRI_CKPT_AW_DEPTH 8u /* files in flight per thread */

struct zri_ckpt_aw_slot {
	struct zri_ckpt_chdr h; /* written first */
	uint8_t *buf;		/* then len bytes of this, cap of them allocated */
	size_t cap, len;
	int fd;
	bool busy;
	unsigned cqes;	       /* completions still to come */
	int64_t wrote, synced; /* their results */
	struct iovec iov[2];
	char path[ZRI_CKPT_PATH_MAX];
	char tmp[ZRI_CKPT_PATH_MAX + 32];
};

struct zri_ckpt_aw {
	struct io_uring ring;
	bool ring_ok, use_ring; /* made; still trusted */
	struct zri_ckpt_aw_slot slot[ZRI_CKPT_AW_DEPTH];
};

/* Slots with buffers of buf_cap bytes; -ENOMEM (call fini anyway). */
int zri_ckpt_aw_init(struct zri_ckpt_aw *w, size_t buf_cap);
/* A slot to fill (h, buf, len), waiting for one in flight if need be. */
int zri_ckpt_aw_slot(struct zri_ckpt_aw *w, struct zri_ckpt_aw_slot **out, zr_diag *d);
/* Start writing the slot's file to `path` (temp, fdatasync, rename). */
int zri_ckpt_aw_put(struct zri_ckpt_aw *w, struct zri_ckpt_aw_slot *s, const char *path,
		    zr_diag *d);
/* Wait until every file put is durable and named; the first error. */
int zri_ckpt_aw_drain(struct zri_ckpt_aw *w, zr_diag *d);
void zri_ckpt_aw_fini(struct zri_ckpt_aw *w);

#endif
