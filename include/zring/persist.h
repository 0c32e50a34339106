/* Persistence: a journal of job events, checkpoints of the arena, and
 * restore from both (DESIGN decision 10).
 *
 * Journal. An arena created with a journal directory (zr_arena_config.
 * journal) records every job event: submit (with its payload), claim,
 * complete (with its result), fail, cancel, expire, release, requeue, and
 * agent registrations. Each process that opens the arena read-write appends
 * to a stream of its own (segment files "<dir>/zj-<stream>-<segno>.zjl");
 * a global LSN, drawn from a counter in the arena, orders the records of
 * all streams. A journal thread per process writes the records through
 * io_uring (registered buffers, O_DIRECT where the filesystem takes it).
 * Every record carries its length, type, LSN and an XXH3-64 checksum.
 *
 * Durability:
 *   NONE   written every flush interval, never fdatasync'ed: survives the
 *          death of any process, not a power cut.
 *   ASYNC  written and fdatasync'ed every flush interval (2 ms by default):
 *          a power cut loses at most the last interval.
 *   SYNC   group commit: a call that changes a job returns only once the
 *          batch holding its record is fdatasync'ed.
 *
 * Records are written after the change they describe is made, while the
 * job is still held (BUSY), so the LSN order of one job's records is the
 * order of its changes. Other processes may see a change before its record
 * is durable; under SYNC the call that made it does not return before.
 *
 * Checkpoints. A checkpoint is the arena's image cut into chunks, each
 * XXH3-128 content-addressed, zstd-compressed (stored raw when that saves
 * under 10 %) and stored once in "<dir>/chunks/"; a manifest
 * "<dir>/ckpt-<seq>.zcm" lists every chunk of the image. FULL writes every
 * chunk; INCREMENTAL only those whose hash changed since the previous
 * checkpoint; DIFFERENTIAL those changed since the last FULL one. Taken
 * while producers and workers run: the copy is fuzzy, and the manifest
 * records the LSN read before copying; restore replays every record from
 * that LSN on, which brings every job the copy caught mid-change to its
 * last journaled state.
 *
 * Restore builds a new arena: the newest checkpoint whose manifest and
 * chunks all verify, its jobs extracted (nothing in the image is trusted:
 * every record and payload handle is validated), then the journal replayed
 * from the checkpoint's LSN in LSN order. A torn tail (the last record of a
 * stream cut by a crash) ends that stream; a corrupt record followed by
 * valid ones is reported and the state is rolled back to just before it:
 * no record from its LSN on is applied. Jobs that were PROCESSING come back
 * PENDING with one more retry (their claims died with the old processes).
 * Agents come back as dead placeholders that keep their inboxes for a
 * successor registering under the same name. Times are carried over as
 * remaining durations, less the wall-clock time that passed meanwhile. */
#ifndef ZRING_PERSIST_H
#define ZRING_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "export.h"
#include "job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- journal ---------------------------------------------------------------- */

enum zr_durability {
	ZR_DURABILITY_NONE = 0,
	ZR_DURABILITY_ASYNC = 1,
	ZR_DURABILITY_SYNC = 2,
};

enum zr_journal_flags {
	ZR_JOURNAL_NO_DIRECT = 1u << 0, /* never O_DIRECT (buffered writes) */
};

#define ZR_JOURNAL_DIR_MAX 255

typedef struct zr_journal_config {
	const char *dir;	    /* existing directory; at most ZR_JOURNAL_DIR_MAX bytes */
	uint32_t durability;	    /* zr_durability (default ASYNC) */
	uint32_t flags;		    /* zr_journal_flags */
	uint32_t flush_interval_us; /* NONE and ASYNC: write every this long (default 2000) */
	uint32_t buffer_bytes;	    /* per process, two of them (default 4 MiB) */
	uint64_t segment_bytes;	    /* rotate segments at this size (default 64 MiB) */
} zr_journal_config;

/** Defaults for a journal in `dir`. */
ZR_API void zr_journal_config_init(zr_journal_config *cfg, const char *dir);

typedef struct zr_journal_stats {
	bool enabled;
	uint32_t durability;
	char dir[ZR_JOURNAL_DIR_MAX + 1];
	uint64_t next_lsn;	 /* the LSN the next record gets (all processes) */
	uint64_t records;	 /* appended by all processes since creation */
	uint64_t bytes;		 /* of those records */
	uint64_t lost;		 /* events not journaled: a stream that failed (see diag) */
	uint64_t checkpoint_lsn; /* begin LSN of the last checkpoint taken, 0 if none */
	/* this process's stream */
	uint32_t stream;
	bool direct;	      /* O_DIRECT in use */
	bool uring;	      /* io_uring in use (false: pwrite fallback) */
	uint64_t flushes;     /* io_uring submissions */
	uint64_t syncs;	      /* fdatasyncs */
	uint64_t durable_lsn; /* every record of this stream up to here is durable */
	int error;	      /* first write error of this stream, 0 if none */
} zr_journal_stats;

/** What the journal of `a` looks like now (read-only attachments too). */
ZR_API void zr_journal_stat(const zr_arena *a, zr_journal_stats *out);

/**
 * Wait until every record this process appended so far is written (NONE)
 * or durable (ASYNC, SYNC). For a clean shutdown, and for tests.
 * @return 0, -EIO (the stream failed; its first error is in stats.error),
 *         -ENOENT (the arena has no journal), -ETIMEDOUT (timeout_ns, < 0 for ever).
 */
ZR_API ZR_NODISCARD int zr_journal_flush(zr_arena *a, int64_t timeout_ns);

/* ---- reading journals (zring journal dump, verify, restore) ----------------- */

enum zr_jrec_type {
	ZR_JREC_PAD = 0,      /* filler to a 4 KiB boundary (O_DIRECT); never returned */
	ZR_JREC_SUBMIT = 1,   /* with the payload */
	ZR_JREC_CLAIM = 2,    /* now PROCESSING (a claim, or a lease extended) */
	ZR_JREC_COMPLETE = 3, /* with the result */
	ZR_JREC_FAIL = 4,     /* failed for good: a dead letter */
	ZR_JREC_RETRY = 5,    /* DELAYED: a retry's backoff, a delay, a full queue */
	ZR_JREC_REQUEUE = 6,  /* PENDING again: due, lease over, holder gone, requeued */
	ZR_JREC_CANCEL = 7,
	ZR_JREC_EXPIRE = 8,
	ZR_JREC_RELEASE = 9, /* the record is freed */
	ZR_JREC_AGENT = 16,  /* an agent registered: id and name */
	ZR_JREC_TYPE_MAX = 16,
};

/** One decoded journal record; pointers stay valid until the next call. */
typedef struct zr_jrec {
	uint64_t lsn;
	uint32_t type;	  /* zr_jrec_type */
	uint32_t stream;  /* writer's stream */
	uint64_t time_ns; /* CLOCK_MONOTONIC of the writer when it was appended */
	uint64_t wall_ns; /* the same moment on CLOCK_REALTIME (from the segment's clock pair) */
	/* jobs: the job as the event left it */
	zr_job_info job;  /* payload/result handles are those of the writing arena */
	const void *data; /* SUBMIT: the payload bytes; COMPLETE: the result bytes */
	uint64_t data_len;
	uint64_t ttl_ns;   /* SUBMIT: of each run */
	uint64_t lease_ns; /* SUBMIT */
	/* AGENT */
	uint32_t agent_id;
	uint32_t agent_kind;
	uint32_t agent_on_death;
	char agent_name[ZR_AGENT_NAME_MAX + 1];
	/* where it was read */
	const char *file;
	uint64_t offset;
} zr_jrec;

typedef struct zr_jreader zr_jreader;

/** One problem found while reading: a file, an offset, what is wrong. */
typedef void (*zr_problem_fn)(void *ctx, const char *file, uint64_t offset, const char *what);

enum zr_jreader_flags {
	ZR_JREADER_KEEP_GOING = 1u << 0, /* after a corrupt record, resync and read on */
};

/**
 * Read every stream of a journal directory merged in LSN order, from
 * `from_lsn` on. Every record's checksum and fields are checked; a segment
 * header that does not verify makes that segment unreadable.
 * Without ZR_JREADER_KEEP_GOING, reading stops for good at the first
 * corrupt record of any stream that is not a torn tail: zr_jreader_next()
 * then returns 0 and zr_jreader_stats() says where (the rollback point).
 * Records lost between two segments of a stream (a missing segment, or an
 * older segment cut short, even at a record boundary) are corruption too.
 * @param[in] lineage  0: any (error if the directory holds several);
 *                     else only segments of that journal lineage.
 * @return 0, -ENOENT (no directory), -EINVAL (several lineages),
 *         ZR_EVERSION (segments of an older journal format), -errno.
 */
ZR_API ZR_NODISCARD int zr_jreader_open(const char *dir, uint64_t lineage, uint64_t from_lsn,
					unsigned flags, zr_problem_fn fn, void *ctx,
					zr_jreader **out, zr_diag *diag);
/** @return 1 (a record in *out), 0 (no more), negative error (-errno, I/O). */
ZR_API ZR_NODISCARD int zr_jreader_next(zr_jreader *r, zr_jrec *out);

typedef struct zr_jreader_stats {
	uint64_t lineage;
	uint32_t streams;
	uint32_t segments;
	uint64_t bytes;	       /* of segments read */
	uint64_t records;      /* returned */
	uint64_t skipped;      /* below from_lsn */
	uint64_t torn_tails;   /* streams whose last record was cut short */
	uint64_t corrupt;      /* records that failed their checksum or checks (not torn
				* tails), and breaks between a stream's segments */
	uint64_t bad_segments; /* segment headers that failed */
	uint64_t max_lsn;      /* highest valid LSN seen in any stream */
	uint32_t max_stream;   /* highest stream id seen */
	uint64_t rollback_lsn; /* 0, or the LSN reading stopped before (corruption) */
	uint64_t not_applied;  /* valid records at or past rollback_lsn */
} zr_jreader_stats;

ZR_API void zr_jreader_stats_get(const zr_jreader *r, zr_jreader_stats *out);
ZR_API void zr_jreader_close(zr_jreader *r);

ZR_API const char *zr_jrec_type_name(uint32_t type);

/* ---- checkpoints -------------------------------------------------------------- */

enum zr_ckpt_kind {
	ZR_CKPT_FULL = 0,
	ZR_CKPT_INCREMENTAL = 1,
	ZR_CKPT_DIFFERENTIAL = 2,
};

typedef struct zr_ckpt_config {
	const char *dir;      /* created if missing */
	uint32_t kind;	      /* zr_ckpt_kind (default INCREMENTAL; FULL when there is no parent) */
	int level;	      /* zstd level 1..19 (default 3) */
	uint32_t threads;     /* compression threads (default: 1 up to 64 MiB, else up to 4) */
	uint32_t chunk_bytes; /* 64 KiB .. 16 MiB, a power of two (default 1 MiB) */
	uint32_t keep_last;   /* retention: keep the newest N (0: no count limit) */
	uint32_t reserved;
	uint64_t keep_ns; /* retention: keep those younger than this (0: no age limit) */
} zr_ckpt_config;

ZR_API void zr_ckpt_config_init(zr_ckpt_config *cfg, const char *dir);

typedef struct zr_ckpt_report {
	uint64_t seq;
	uint64_t parent; /* the checkpoint compared with (0: none) */
	uint32_t kind;
	uint32_t threads;
	uint64_t begin_lsn;	   /* replay from here */
	uint64_t end_lsn;	   /* next LSN when the copy ended */
	uint64_t chunks;	   /* in the image */
	uint64_t chunks_written;   /* new chunk files */
	uint64_t chunks_unchanged; /* same hash as in the parent: not written */
	uint64_t chunks_dedup;	   /* changed, but their content was stored already */
	uint64_t chunks_raw;	   /* stored raw (did not compress below 0.9) */
	uint64_t bytes_image;
	uint64_t bytes_compressed; /* of the chunks written */
	uint64_t copy_ns, total_ns;
	uint64_t removed_checkpoints, removed_chunks, removed_segments; /* retention */
} zr_ckpt_report;

/**
 * Take a checkpoint of `a` (read-only attachments too) into cfg->dir, then
 * apply retention: manifests beyond keep_last/keep_ns are removed, chunks no
 * kept manifest names are removed, and journal segments whose every record
 * is older than the oldest kept checkpoint's begin LSN are removed.
 * Blocking: reads the whole arena and writes and fsyncs the new files.
 * @return 0, -EINVAL, ZR_ENOSPACE, -errno (the message says which file).
 */
ZR_API ZR_NODISCARD int zr_checkpoint(zr_arena *a, const zr_ckpt_config *cfg, zr_ckpt_report *rep,
				      zr_diag *diag);

/** A checkpoint found in a directory, as its manifest says. */
typedef struct zr_ckpt_entry {
	uint64_t seq;
	uint64_t parent;
	uint32_t kind;
	bool valid; /* manifest and every chunk verified (zr_ckpt_list with verify) */
	uint64_t begin_lsn, end_lsn;
	uint64_t created_ns;	  /* CLOCK_REALTIME */
	uint64_t created_mono_ns; /* the same moment on CLOCK_MONOTONIC */
	uint64_t image_bytes;
	uint64_t chunks;
	uint64_t stored_bytes; /* of the chunks this checkpoint wrote */
	uint64_t lineage;      /* of the journal it goes with */
	char arena[ZR_NAME_MAX + 1];
} zr_ckpt_entry;

/**
 * List the checkpoints of a directory, oldest first. With `verify`, every
 * chunk of each is read and checked (valid says the result; problems go to fn).
 * @param[out] n  How many were found (may exceed cap).
 */
ZR_API ZR_NODISCARD int zr_ckpt_list(const char *dir, bool verify, zr_problem_fn fn, void *ctx,
				     zr_ckpt_entry *out, size_t cap, size_t *n, zr_diag *diag);

/* ---- restore ------------------------------------------------------------------ */

typedef struct zr_restore_config {
	const char *name;	 /* the arena to create (must not exist) */
	const char *ckpt_dir;	 /* NULL: journal only, replayed from its start */
	const char *journal_dir; /* NULL: checkpoint only */
	uint64_t ckpt_seq;	 /* 0: the newest that verifies */
	unsigned arena_flags;	 /* zr_arena_flags for the new arena */
	uint32_t durability;	 /* the new arena journals to journal_dir with this */
	bool no_checkpoint;	 /* do not take a FULL checkpoint of the result */
	bool reserved[3];
} zr_restore_config;

typedef struct zr_restore_report {
	uint64_t ckpt_seq;	/* the checkpoint used, 0: none */
	uint64_t ckpts_invalid; /* newer ones skipped: a manifest or chunk failed */
	uint64_t begin_lsn;	/* replay started here */
	uint64_t last_lsn;	/* last record applied */
	uint64_t records_applied;
	uint64_t records_orphan; /* events of jobs neither the image nor the journal knows */
	zr_jreader_stats journal;
	uint64_t jobs;				      /* in the restored arena */
	uint64_t jobs_by_status[ZR_JOB_STATUS_COUNT]; /* as restored */
	uint64_t jobs_reclaimed; /* PROCESSING before: PENDING (or FAILED) now */
	uint64_t jobs_dropped;	 /* did not fit or failed validation */
	uint64_t agents;
	uint64_t payload_bytes;
	uint64_t new_ckpt_seq; /* the checkpoint taken of the result, 0: none */
	uint64_t total_ns;
	char first_problem[256]; /* empty if none */
} zr_restore_report;

/**
 * Rebuild an arena from the newest valid checkpoint and the journal (see
 * the top of this file). Problems (invalid checkpoints, torn tails, corrupt
 * records) are reported through fn and counted in *rep; nothing that fails
 * a check is loaded.
 * @return 0, -EEXIST (the arena exists), -ENOENT (nothing to restore from),
 *         ZR_ECORRUPT (no checkpoint verifies and there is no journal from
 *         LSN 1), -errno.
 */
ZR_API ZR_NODISCARD int zr_restore(const zr_restore_config *cfg, zr_problem_fn fn, void *ctx,
				   zr_arena **out, zr_restore_report *rep, zr_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
