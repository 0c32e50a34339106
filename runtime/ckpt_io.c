/* runtime/ckpt_io.c: chunk files written through io_uring, several in
 * flight per checkpoint thread. Each file is a write linked to an
 * fdatasync; the thread compresses its next chunk meanwhile, and the
 * filesystem folds the fsyncs in flight into few journal commits (one
 * fsync at a time cost one commit each: 0.1-0.3 ms per chunk).
 *
 * A file is renamed to its name only once its fdatasync has completed,
 * as zri_ckpt_put does. Anything unexpected from the ring (a short write,
 * a failed or cancelled fsync) is redone synchronously, so the errors
 * reported are those of plain pwrite and fdatasync. Without io_uring
 * (kernel too old, seccomp) every put is synchronous. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_io.h"

static void slot_reset(struct zri_ckpt_aw_slot *s)
{
	s->fd = -1;
	s->busy = false;
	s->cqes = 0;
	s->wrote = 0;
	s->synced = 0;
}

int zri_ckpt_aw_init(struct zri_ckpt_aw *w, size_t buf_cap)
{
	memset(w, 0, sizeof(*w));
	for (unsigned i = 0; i < ZRI_CKPT_AW_DEPTH; i++) {
		slot_reset(&w->slot[i]);
		w->slot[i].cap = buf_cap;
		if (!(w->slot[i].buf = malloc(buf_cap)))
			return -ENOMEM;
	}
	w->ring_ok = io_uring_queue_init(2 * ZRI_CKPT_AW_DEPTH, &w->ring, 0) == 0;
	w->use_ring = w->ring_ok;
	return 0;
}

/* Both completions are in: make the file durable and give it its name. */
static int slot_finish(struct zri_ckpt_aw_slot *s, zr_diag *d)
{
	size_t total = sizeof(s->h) + s->len;
	const char *what = "write";
	int rc = 0;
	if (s->wrote != (int64_t)total || s->synced != 0) {
		/* the ring said no, or wrote short: once more, plainly */
		rc = zri_ckpt_write_all(s->fd, s->iov, 2);
		if (rc == 0 && fdatasync(s->fd) != 0) {
			rc = -errno;
			what = "fdatasync";
		}
	}
	if (close(s->fd) != 0 && rc == 0) {
		rc = -errno;
		what = "close";
	}
	if (rc == 0 && rename(s->tmp, s->path) != 0) {
		rc = -errno;
		what = "rename";
	}
	if (rc)
		unlink(s->tmp);
	slot_reset(s);
	return rc ? zri_ckpt_put_error(d, -rc, what, s->tmp) : 0;
}

/* The ring failed: stop using it and finish every busy slot plainly. */
static int abandon_ring(struct zri_ckpt_aw *w, zr_diag *d)
{
	int first = 0;
	w->use_ring = false;
	for (unsigned i = 0; i < ZRI_CKPT_AW_DEPTH; i++) {
		struct zri_ckpt_aw_slot *s = &w->slot[i];
		if (!s->busy)
			continue;
		s->wrote = s->synced = -ECANCELED;
		zr_diag scratch = {0};
		int rc = slot_finish(s, first ? &scratch : d);
		first = first ? first : rc;
	}
	return first;
}

/* Wait for one completion and file it; finish its slot if it was the last. */
static int reap_one(struct zri_ckpt_aw *w, zr_diag *d)
{
	struct io_uring_cqe *cqe;
	int rc;
	do
		rc = io_uring_wait_cqe(&w->ring, &cqe);
	while (rc == -EINTR);
	if (rc)
		return abandon_ring(w, d);
	uint64_t ud = cqe->user_data;
	struct zri_ckpt_aw_slot *s = &w->slot[ud >> 1];
	if (ud & 1)
		s->synced = cqe->res;
	else
		s->wrote = cqe->res;
	io_uring_cqe_seen(&w->ring, cqe);
	return --s->cqes == 0 ? slot_finish(s, d) : 0;
}

int zri_ckpt_aw_slot(struct zri_ckpt_aw *w, struct zri_ckpt_aw_slot **out, zr_diag *d)
{
	for (;;) {
		for (unsigned i = 0; i < ZRI_CKPT_AW_DEPTH; i++)
			if (!w->slot[i].busy) {
				*out = &w->slot[i];
				return 0;
			}
		int rc = reap_one(w, d);
		if (rc)
			return rc;
	}
}

int zri_ckpt_aw_put(struct zri_ckpt_aw *w, struct zri_ckpt_aw_slot *s, const char *path, zr_diag *d)
{
	s->iov[0] = (struct iovec){&s->h, sizeof(s->h)};
	s->iov[1] = (struct iovec){s->buf, s->len};
	if (!w->use_ring)
		return zri_ckpt_put(path, s->iov, 2, d);
	snprintf(s->path, sizeof(s->path), "%s", path);
	zri_ckpt_tmp_name(s->tmp, sizeof(s->tmp), path);
	s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (s->fd < 0) {
		int e = errno;
		s->fd = -1;
		return zri_ckpt_put_error(d, e, "create", s->tmp);
	}
	uint64_t id = (uint64_t)(s - w->slot) << 1;
	/* 2 * depth entries and at most two per busy slot: never full */
	struct io_uring_sqe *wr = io_uring_get_sqe(&w->ring);
	struct io_uring_sqe *fs = io_uring_get_sqe(&w->ring);
	io_uring_prep_writev(wr, s->fd, s->iov, 2, 0);
	io_uring_sqe_set_data64(wr, id);
	wr->flags |= IOSQE_IO_LINK;
	io_uring_prep_fsync(fs, s->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(fs, id | 1);
	s->busy = true;
	s->cqes = 2;
	int rc = io_uring_submit(&w->ring);
	if (rc == 2)
		return 0;
	/* Not taken, or only in part (a resource shortage): what is left in
	 * the submission queue must never go in later, so the ring is used no
	 * more; the slot finishes plainly, after its one completion if any. */
	w->use_ring = false;
	s->wrote = s->synced = -ECANCELED;
	s->cqes = rc > 0 ? (unsigned)rc : 0;
	return s->cqes ? 0 : slot_finish(s, d);
}

int zri_ckpt_aw_drain(struct zri_ckpt_aw *w, zr_diag *d)
{
	int first = 0;
	for (;;) {
		bool busy = false;
		for (unsigned i = 0; i < ZRI_CKPT_AW_DEPTH; i++)
			busy |= w->slot[i].busy;
		if (!busy)
			return first;
		zr_diag scratch = {0};
		int rc = reap_one(w, first ? &scratch : d);
		first = first ? first : rc;
	}
}

void zri_ckpt_aw_fini(struct zri_ckpt_aw *w)
{
	if (w->ring_ok) {
		zr_diag scratch = {0};
		(void)zri_ckpt_aw_drain(w, &scratch); // errors were reported to the puts
		io_uring_queue_exit(&w->ring);
	}
	for (unsigned i = 0; i < ZRI_CKPT_AW_DEPTH; i++)
		free(w->slot[i].buf);
}
