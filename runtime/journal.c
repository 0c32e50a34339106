/* This process's journal stream: two append buffers and a writer thread
 * that hands the full one to io_uring (a fixed-buffer write, linked to an
 * fdatasync unless durability is NONE) while callers fill the other.
 *
 * Group commit falls out of the double buffer: while one batch is being
 * written and synced, every record appended meanwhile collects in the
 * other, and goes out in the next submission. A caller that must wait
 * (SYNC) and finds no batch in flight writes its batch itself: handing
 * it to the thread cost two futex wakeups (about 30 us each here) on top
 * of the fdatasync. Otherwise it sleeps on cv_done and leads the next
 * batch when this one is durable. The thread flushes when a buffer is
 * half full, or every flush interval. One flush at a time (`writing`):
 * the flusher of the moment alone touches the file, the ring and the
 * buffer being written, outside the lock.
 *
 * Ahead of the records, a syncing stream writes zeros over the segment's
 * preallocated space, 1 MiB at a time: posix_fallocate leaves unwritten
 * extents, and the first write into one makes fdatasync commit the
 * extent's conversion, a filesystem journal commit per batch (ext4: about
 * 1.6x the time of a sync that only overwrites).
 *
 * O_DIRECT needs every write 4 KiB aligned in memory, length and file
 * offset: a batch is padded with a PAD record to the next 4 KiB, and
 * buffers come from posix_memalign. Where the filesystem refuses O_DIRECT
 * (tmpfs) the stream falls back to buffered writes; where io_uring is not
 * available (seccomp, old kernels) to pwrite and fdatasync.
 *
 * A batch that does not fit in the rest of the segment goes to a new one
 * (a batch larger than a segment gets one to itself, which grows past
 * segment_bytes). The new segment's header links it to the old one: where
 * the old one's data ended (file_off, PADs included) and the LSN and count
 * of the records written to it (see jnl_format.h). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "jnl_format.h"
#include "jnl_impl.h"
#include "prim.h"

struct zri_journal {
	struct zri_journal_ctl *ctl;
	pthread_mutex_t lock;
	pthread_cond_t cv_work; /* the writer sleeps here */
	pthread_cond_t cv_done; /* appenders wait here for room or durability */
	/* under lock */
	uint8_t *buf[2];
	size_t cap; /* of each buffer, without the padding slack */
	size_t used;
	int active;
	uint64_t pos;	   /* stream bytes appended */
	uint64_t done_pos; /* written (NONE) or durable up to here */
	uint64_t want_pos; /* someone waits for done_pos to reach this */
	uint64_t pending_records, pending_bytes;
	uint64_t last_lsn, durable_lsn;
	size_t grow_to; /* a record larger than a buffer waits for this */
	bool writing, stop;
	int error;
	uint64_t flushes, syncs;
	uint64_t last_flush_ns;
	/* the flusher of the moment only (set before the thread starts) */
	uint32_t stream, segno, durability;
	uint64_t interval_ns, seg_bytes, file_off;
	uint64_t seg_records, seg_last_lsn; /* written to the current segment */
	int dirfd, fd;
	bool direct, uring, thread_started;
	struct io_uring ring;
	uint8_t *hdr_page;  /* 4 KiB, aligned: segment headers */
	uint8_t *zeros;	    /* ZERO_BUF bytes, aligned; NULL until needed */
	uint64_t zeroed_to; /* the segment's blocks below this are written */
	uint32_t zeroed_segno;
	pthread_t thread;
	char arena[ZR_NAME_MAX + 1];
	struct zri_config_copy config;
};

static size_t slack(void)
{
	return 2 * ZRI_JDIRECT_ALIGN; /* room for the PAD record */
}

static int alloc_buffers(size_t cap, uint8_t *out[2])
{
	for (int i = 0; i < 2; i++) {
		void *p = NULL;
		if (posix_memalign(&p, ZRI_JDIRECT_ALIGN, cap + slack()) != 0) {
			if (i)
				free(out[0]);
			return -ENOMEM;
		}
		memset(p, 0, cap + slack());
		out[i] = p;
	}
	return 0;
}

static int register_buffers(struct zri_journal *j)
{
	struct iovec iov[2] = {{j->buf[0], j->cap + slack()}, {j->buf[1], j->cap + slack()}};
	return io_uring_register_buffers(&j->ring, iov, 2);
}

/* ---- segments ----------------------------------------------------------- */

static int open_segment(struct zri_journal *j)
{
	char name[64];
	snprintf(name, sizeof(name), "zj-%08x-%08x.zjl", j->stream, j->segno);
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	int fd = j->direct ? openat(j->dirfd, name, flags | O_DIRECT, 0640) : -1;
	if (fd < 0) {
		if (j->direct && errno != EINVAL)
			return -errno;
		j->direct = false; /* the filesystem has no O_DIRECT (tmpfs) */
		fd = openat(j->dirfd, name, flags, 0640);
		if (fd < 0)
			return -errno;
	}
	int e = posix_fallocate(fd, 0, (off_t)j->seg_bytes);
	if (e && e != EOPNOTSUPP && e != EINVAL) {
		close(fd);
		unlinkat(j->dirfd, name, 0);
		return -e;
	}
	struct zri_jseg_hdr h = {
		.magic = ZRI_JSEG_MAGIC,
		.version = ZRI_JSEG_VERSION,
		.hdr_bytes = ZRI_JSEG_HDR_BYTES,
		.lineage = j->ctl->lineage,
		.stream = j->stream,
		.segno = j->segno,
		.mono_ns = zri_now_ns(),
		.real_ns = zri_realtime_ns(),
		.pid = (uint32_t)getpid(),
		.durability = j->durability,
	};
	snprintf(h.arena, sizeof(h.arena), "%s", j->arena);
	h.config = j->config;
	if (j->segno) { /* the chain: what the segment we leave holds */
		h.prev_end = j->file_off;
		h.prev_last_lsn = j->seg_last_lsn;
		h.prev_records = j->seg_records;
	}
	h.checksum = XXH3_64bits(&h, offsetof(struct zri_jseg_hdr, checksum));
	memset(j->hdr_page, 0, ZRI_JSEG_HDR_BYTES);
	memcpy(j->hdr_page, &h, sizeof(h));
	if (pwrite(fd, j->hdr_page, ZRI_JSEG_HDR_BYTES, 0) != ZRI_JSEG_HDR_BYTES ||
	    (j->durability != ZR_DURABILITY_NONE && (fdatasync(fd) != 0 || fsync(j->dirfd) != 0))) {
		int rc = errno ? -errno : -EIO;
		close(fd);
		return rc;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->file_off = ZRI_JSEG_HDR_BYTES;
	j->seg_records = j->seg_last_lsn = 0;
	j->segno++;
	return 0;
}

/* ---- writing a batch ------------------------------------------------------- */

/* Fill to the next 4 KiB boundary with a PAD record (at least a header). */
static size_t pad_direct(struct zri_journal *j, uint8_t *p, size_t n)
{
	size_t r = (ZRI_JDIRECT_ALIGN - n % ZRI_JDIRECT_ALIGN) % ZRI_JDIRECT_ALIGN;
	if (r == 0)
		return n;
	if (r < sizeof(struct zri_jrec_hdr))
		r += ZRI_JDIRECT_ALIGN;
	memset(p + n, 0, r);
	struct zri_jrec_hdr h = {.magic = ZRI_JREC_MAGIC,
				 .len = (uint32_t)r,
				 .type = ZR_JREC_PAD,
				 .version = 1,
				 .stream = j->stream};
	memcpy(p + n, &h, sizeof(h));
	h.checksum = XXH3_64bits(p + n + 8, r - 8);
	memcpy(p + n, &h.checksum, 8);
	return n + r;
}

static int write_plain(struct zri_journal *j, const uint8_t *p, size_t n, uint64_t off, bool sync)
{
	while (n) {
		ssize_t w = pwrite(j->fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return sync && fdatasync(j->fd) != 0 ? -errno : 0;
}

static int write_uring(struct zri_journal *j, int b, size_t n, bool sync)
{
	struct io_uring_sqe *w = io_uring_get_sqe(&j->ring);
	io_uring_prep_write_fixed(w, j->fd, j->buf[b], (unsigned)n, j->file_off, b);
	w->user_data = 1;
	if (sync) {
		w->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *s = io_uring_get_sqe(&j->ring);
		io_uring_prep_fsync(s, j->fd, IORING_FSYNC_DATASYNC);
		s->user_data = 2;
	}
	unsigned want = sync ? 2 : 1;
	int rc = io_uring_submit_and_wait(&j->ring, want);
	if (rc < 0)
		return rc;
	int64_t wrote = -1, synced = sync ? -1 : 0;
	for (unsigned i = 0; i < want; i++) {
		struct io_uring_cqe *c;
		rc = io_uring_wait_cqe(&j->ring, &c);
		if (rc < 0)
			return rc;
		if (c->user_data == 1)
			wrote = c->res;
		else
			synced = c->res;
		io_uring_cqe_seen(&j->ring, c);
	}
	if (wrote < 0)
		return (int)wrote;
	if ((size_t)wrote < n) /* short write: the linked sync was cancelled */
		return write_plain(j, j->buf[b] + wrote, n - (size_t)wrote,
				   j->file_off + (uint64_t)wrote, sync);
	return synced < 0 ? (int)synced : 0;
}

#define ZERO_BUF ((size_t)256 << 10)
#define ZERO_STEP ((uint64_t)1 << 20)

/* Zeros from where the last ones ended (never below the records) up to
 * ZERO_STEP past `end`; the batch's fdatasync then commits the conversion
 * once for the next megabyte of batches. */
static int zero_ahead(struct zri_journal *j, uint64_t end)
{
	if (j->zeroed_segno != j->segno || j->zeroed_to < j->file_off) {
		j->zeroed_segno = j->segno;
		j->zeroed_to = j->file_off; /* 4 KiB aligned under O_DIRECT */
	}
	if (end <= j->zeroed_to)
		return 0;
	if (!j->zeros) {
		void *z;
		if (posix_memalign(&z, ZRI_JDIRECT_ALIGN, ZERO_BUF) != 0)
			return 0; /* only slower without */
		j->zeros = memset(z, 0, ZERO_BUF);
	}
	uint64_t to = end + ZERO_STEP;
	to -= to % ZRI_JDIRECT_ALIGN;
	if (to > j->seg_bytes)
		to = end > j->seg_bytes ? end : j->seg_bytes; /* never grow the file for this */
	if (j->direct)
		to -= to % ZRI_JDIRECT_ALIGN; /* end is aligned there: to >= end */
	while (j->zeroed_to < to) {
		size_t len = to - j->zeroed_to < ZERO_BUF ? (size_t)(to - j->zeroed_to) : ZERO_BUF;
		int rc = write_plain(j, j->zeros, len, j->zeroed_to, false);
		if (rc)
			return rc;
		j->zeroed_to += len;
	}
	return 0;
}

/* Write buffer b's n bytes: `recs` records, the last one `last_lsn`. */
static int write_batch(struct zri_journal *j, int b, size_t n, uint64_t recs, uint64_t last_lsn,
		       bool sync)
{
	if (j->direct)
		n = pad_direct(j, j->buf[b], n);
	if (j->file_off + n > j->seg_bytes && j->file_off > ZRI_JSEG_HDR_BYTES) {
		int rc = open_segment(j);
		if (rc)
			return rc;
	}
	if (sync && j->file_off + n > j->zeroed_to) {
		int rc = zero_ahead(j, j->file_off + n);
		if (rc)
			return rc;
	}
	int rc = j->uring ? write_uring(j, b, n, sync)
			  : write_plain(j, j->buf[b], n, j->file_off, sync);
	if (rc == 0) {
		j->file_off += n;
		j->seg_records += recs;
		j->seg_last_lsn = last_lsn;
	}
	return rc;
}

/* A record larger than a buffer: grow both (nothing is out, the writer
 * holds the lock) and keep what the active one holds. */
static void grow(struct zri_journal *j)
{
	size_t cap = j->cap;
	while (cap < j->grow_to)
		cap *= 2;
	uint8_t *nb[2];
	if (alloc_buffers(cap, nb) != 0) {
		j->error = -ENOMEM;
		return;
	}
	memcpy(nb[j->active], j->buf[j->active], j->used);
	if (j->uring)
		io_uring_unregister_buffers(&j->ring);
	free(j->buf[0]);
	free(j->buf[1]);
	j->buf[0] = nb[0];
	j->buf[1] = nb[1];
	j->cap = cap;
	j->grow_to = 0;
	if (j->uring && register_buffers(j) != 0)
		j->uring = false;
}

/* ---- the writer thread ------------------------------------------------------ */

static bool should_flush(const struct zri_journal *j, uint64_t now)
{
	if (j->used == 0)
		return false;
	return j->stop || j->want_pos > j->done_pos || j->used >= j->cap / 2 || j->grow_to ||
	       now - j->last_flush_ns >= j->interval_ns;
}

static struct timespec abs_mono(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

/* Write and sync the active buffer; called and returns with the lock
 * held, drops it meanwhile. The caller checked !writing and used > 0. */
static void flush_locked(struct zri_journal *j)
{
	int b = j->active;
	size_t n = j->used;
	uint64_t end = j->pos, lsn = j->last_lsn;
	uint64_t recs = j->pending_records, bytes = j->pending_bytes;
	j->active ^= 1;
	j->used = 0;
	j->pending_records = j->pending_bytes = 0;
	j->writing = true;
	pthread_cond_broadcast(&j->cv_done); /* the other buffer has room */
	bool sync = j->durability != ZR_DURABILITY_NONE;
	pthread_mutex_unlock(&j->lock);
	int rc = write_batch(j, b, n, recs, lsn, sync);
	uint64_t now = zri_now_ns();
	pthread_mutex_lock(&j->lock);
	j->last_flush_ns = now;
	j->writing = false;
	j->flushes++;
	if (rc) {
		if (!j->error)
			j->error = rc;
		/* relaxed: statistics */
		atomic_fetch_add_explicit(&j->ctl->a_lost, recs, memory_order_relaxed);
	} else {
		j->syncs += sync;
		j->done_pos = end;
		j->durable_lsn = lsn;
		/* relaxed: statistics */
		atomic_fetch_add_explicit(&j->ctl->a_records, recs, memory_order_relaxed);
		atomic_fetch_add_explicit(&j->ctl->a_bytes, bytes, memory_order_relaxed);
	}
	pthread_cond_broadcast(&j->cv_done);
}

static void *writer_main(void *arg)
{
	struct zri_journal *j = arg;
	pthread_mutex_lock(&j->lock);
	j->last_flush_ns = zri_now_ns();
	for (;;) {
		uint64_t now = zri_now_ns();
		if (j->writing) { /* a caller leads a batch: its end wakes us */
			pthread_cond_wait(&j->cv_done, &j->lock);
			continue;
		}
		if (j->grow_to) {
			grow(j);
			pthread_cond_broadcast(&j->cv_done); /* the large record fits now */
		}
		if (!should_flush(j, now)) {
			if (j->stop || j->error)
				break;
			/* empty: the first append wakes us */
			struct timespec ts = abs_mono(j->used ? j->last_flush_ns + j->interval_ns
							      : now + 1000000000u);
			pthread_cond_timedwait(&j->cv_work, &j->lock, &ts);
			continue;
		}
		flush_locked(j);
	}
	pthread_cond_broadcast(&j->cv_done);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* ---- appending ------------------------------------------------------------- */

uint64_t zri_journal_append(struct zri_journal *j, uint32_t type, const struct iovec *iov, int n)
{
	size_t body = 0;
	for (int i = 0; i < n; i++)
		body += iov[i].iov_len;
	uint64_t len = zri_jrec_round(sizeof(struct zri_jrec_hdr) + body);
	pthread_mutex_lock(&j->lock);
	while (!j->error && j->used + len > j->cap) {
		if (len > j->cap && j->grow_to < len)
			j->grow_to = len;
		pthread_cond_signal(&j->cv_work);
		pthread_cond_wait(&j->cv_done, &j->lock);
	}
	if (j->error || len > ZRI_JREC_MAX) {
		pthread_mutex_unlock(&j->lock);
		/* relaxed: statistics */
		atomic_fetch_add_explicit(&j->ctl->a_lost, 1, memory_order_relaxed);
		return 0;
	}
	uint8_t *p = j->buf[j->active] + j->used;
	struct zri_jrec_hdr h = {.magic = ZRI_JREC_MAGIC,
				 .len = (uint32_t)len,
				 .type = (uint16_t)type,
				 .version = 1,
				 .stream = j->stream};
	/* Ordering the records of one job needs no more than a relaxed RMW:
	 * the caller holds the job (BUSY), whoever changes it next acquires
	 * the state word we release afterwards, so its fetch_add comes later
	 * in this counter's modification order and draws a larger LSN. Under
	 * j->lock our own stream stays in LSN order too.
	 * R2: pairs with A1 in zr_checkpoint(): a checkpoint that reads an
	 * LSN past ours sees the change this record describes. */
	h.lsn = atomic_fetch_add_explicit(&j->ctl->a_next_lsn, 1, memory_order_release);
	memcpy(p, &h, sizeof(h));
	size_t off = sizeof(h);
	for (int i = 0; i < n; i++) {
		memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	memset(p + off, 0, len - off);
	h.checksum = XXH3_64bits(p + 8, len - 8);
	memcpy(p, &h.checksum, 8);
	j->used += len;
	j->pos += len;
	j->pending_records++;
	j->pending_bytes += len;
	j->last_lsn = h.lsn;
	uint64_t pos = j->pos;
	if (j->used == len || (j->used >= j->cap / 2 && !j->writing))
		pthread_cond_signal(&j->cv_work); /* a syscall only if the writer sleeps */
	pthread_mutex_unlock(&j->lock);
	return pos;
}

int zri_journal_wait(struct zri_journal *j, uint64_t pos, int64_t timeout_ns)
{
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : zri_now_ns() + (uint64_t)timeout_ns;
	int rc = 0;
	pthread_mutex_lock(&j->lock);
	while (j->done_pos < pos && !j->error) {
		if (!j->writing && !j->grow_to && j->used) {
			flush_locked(j); /* no batch in flight: lead this one */
			continue;
		}
		if (j->want_pos < pos) {
			j->want_pos = pos;
			pthread_cond_signal(&j->cv_work);
		}
		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&j->cv_done, &j->lock);
		} else {
			if (zri_now_ns() >= deadline) {
				rc = -ETIMEDOUT;
				break;
			}
			struct timespec ts = abs_mono(deadline);
			pthread_cond_timedwait(&j->cv_done, &j->lock, &ts);
		}
	}
	if (rc == 0 && j->done_pos < pos)
		rc = -EIO;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

uint64_t zri_journal_position(struct zri_journal *j)
{
	pthread_mutex_lock(&j->lock);
	uint64_t pos = j->pos;
	pthread_mutex_unlock(&j->lock);
	return pos;
}

void zri_journal_stream_stat(const struct zri_journal *cj, zr_journal_stats *out)
{
	struct zri_journal *j = (struct zri_journal *)cj; /* the lock only */
	pthread_mutex_lock(&j->lock);
	out->stream = j->stream;
	out->direct = j->direct;
	out->uring = j->uring;
	out->flushes = j->flushes;
	out->syncs = j->syncs;
	out->durable_lsn = j->durable_lsn;
	out->error = j->error;
	pthread_mutex_unlock(&j->lock);
}

/* ---- attach and detach ------------------------------------------------------ */

static int ctl_valid(const struct zri_journal_ctl *c)
{
	return memchr(c->dir, 0, sizeof(c->dir)) && c->dir[0] == '/' &&
	       c->durability <= ZR_DURABILITY_SYNC && c->buffer_bytes >= (64u << 10) &&
	       c->buffer_bytes <= (1u << 30) && c->segment_bytes >= (1u << 20) &&
	       c->flush_interval_us >= 50 && c->flush_interval_us <= 10000000;
}

static void journal_free(struct zri_journal *j)
{
	if (j->uring)
		io_uring_queue_exit(&j->ring);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->buf[0]);
	free(j->buf[1]);
	free(j->hdr_page);
	free(j->zeros);
	pthread_cond_destroy(&j->cv_work);
	pthread_cond_destroy(&j->cv_done);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static int start_writer(struct zri_journal *j)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* signals are the application's */
	int e = pthread_create(&j->thread, NULL, writer_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	j->thread_started = e == 0;
	return -e;
}

int zri_journal_attach(zr_arena *a, zr_diag *diag)
{
	struct zri_journal_ctl *c = &a->hdr->journal;
	if (!c->enabled || a->readonly)
		return 0;
	if (!ctl_valid(c))
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "%s: the journal settings in the header are damaged", a->name);
	struct zri_journal *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->ctl = c;
	j->fd = j->dirfd = -1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv_work, &ca);
	pthread_cond_init(&j->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	j->cap = c->buffer_bytes;
	j->durability = c->durability;
	j->interval_ns = (uint64_t)c->flush_interval_us * 1000u;
	j->seg_bytes = c->segment_bytes;
	j->direct = !(c->flags & ZR_JOURNAL_NO_DIRECT);
	snprintf(j->arena, sizeof(j->arena), "%s", a->name);
	j->config = a->hdr->config;
	/* relaxed: a unique number is all we need */
	j->stream = (uint32_t)atomic_fetch_add_explicit(&c->a_next_stream, 1, memory_order_relaxed);
	int rc = 0;
	void *hp = NULL;
	if (posix_memalign(&hp, ZRI_JDIRECT_ALIGN, ZRI_JSEG_HDR_BYTES) != 0 ||
	    alloc_buffers(j->cap, j->buf) != 0)
		rc = -ENOMEM;
	j->hdr_page = hp;
	if (rc == 0) {
		j->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (j->dirfd < 0)
			rc = zri_diag_set(diag, -errno, "journal directory %s: %s", c->dir,
					  strerror(errno));
	}
	if (rc == 0 && (rc = open_segment(j)) != 0)
		zri_diag_set(diag, rc, "cannot create a journal segment in %s: %s", c->dir,
			     zr_strerror(rc));
	if (rc == 0 && io_uring_queue_init(8, &j->ring, 0) == 0) {
		j->uring = true;
		if (register_buffers(j) != 0) {
			io_uring_queue_exit(&j->ring);
			j->uring = false;
		}
	}
	if (rc == 0 && (rc = start_writer(j)) != 0)
		zri_diag_set(diag, rc, "cannot start the journal thread");
	if (rc) {
		journal_free(j);
		return rc;
	}
	a->journal = j;
	return 0;
}

void zri_journal_detach(zr_arena *a)
{
	struct zri_journal *j = a->journal;
	if (!j)
		return;
	a->journal = NULL;
	if (a->inherited) {
		/* a fork's copy: the thread and the buffers' contents are the parent's */
		return;
	}
	pthread_mutex_lock(&j->lock);
	j->stop = true;
	pthread_cond_signal(&j->cv_work);
	pthread_mutex_unlock(&j->lock);
	if (j->thread_started)
		pthread_join(j->thread, NULL);
	if (!j->error && j->fd >= 0 && ftruncate(j->fd, (off_t)j->file_off) != 0)
		j->error = -errno; /* only the preallocated tail stays: harmless */
	journal_free(j);
}
