/* Jobs: typed, prioritised units of work with a payload, moved between
 * agents through the arena.
 *
 * The jobs table is the source of truth; queues carry job ids. Every state
 * change is a compare-and-swap on the job's state word, so exactly one
 * agent wins a claim, and completion is recorded once. Lifecycle:
 *
 *   submit ──▶ PENDING ──claim──▶ PROCESSING ──complete──▶ COMPLETED
 *                 ▲  │                 │ fail, retries left ─▶ DELAYED ─(backoff)─▶ PENDING
 *   delay ─▶ DELAYED │                 │ fail, none left ────▶ FAILED (dead letters)
 *                    ├─cancel─▶ CANCELLED   lease over / agent dead ─▶ PENDING (retry + 1)
 *                    └─TTL────▶ EXPIRED
 *
 * A final job (COMPLETED, FAILED, CANCELLED, EXPIRED) keeps its record
 * until zr_job_release(), or until its TTL has passed and it has been final
 * for ZR_JOB_LINGER_NS (FAILED jobs stay until released: the dead-letter
 * list). Payloads attached to a job belong to it: they are freed with the
 * record. Time-driven changes (delays, backoff, leases, TTL, recurring
 * jobs) happen in zr_jobs_tick(), called by claimers when something is due,
 * by zr_reaper_start()'s thread, or by the application. */
#ifndef ZRING_JOB_H
#define ZRING_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "arena.h"
#include "blob.h"
#include "err.h"
#include "export.h"
#include "hist.h"
#include "slab.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Job handle: index + 1 in the low 32 bits, generation above. 0 is null. */
typedef uint64_t zr_job_id;

enum zr_job_type {
	ZR_JOB_COMPUTE = 1,
	ZR_JOB_DATA_TRANSFER = 2,
	ZR_JOB_MODEL_UPDATE = 3,
	ZR_JOB_QUERY = 4,
	ZR_JOB_CONTROL = 5,
	ZR_JOB_CUSTOM = 6, /* named by zr_job_builder.type_name */
};

enum zr_job_status {
	ZR_JOB_FREE = 0, /* no job (released) */
	ZR_JOB_BUILDING = 1,
	ZR_JOB_PENDING = 2,
	ZR_JOB_PROCESSING = 3,
	ZR_JOB_COMPLETED = 4,
	ZR_JOB_FAILED = 5, /* failed for good: on the dead-letter list */
	ZR_JOB_CANCELLED = 6,
	ZR_JOB_EXPIRED = 7,
	ZR_JOB_DELAYED = 8, /* waits for its time: delay, retry backoff, next run */
	ZR_JOB_STATUS_COUNT = 9,
};

enum zr_job_flags {
	ZR_JOBF_COMPRESSED = 1u << 0, /* payload is a zstd frame (see zr_job_payload_read) */
	ZR_JOBF_BLOB = 1u << 1,	      /* payload holds a blob path (zring/blob.h) */
	ZR_JOBF_RECURRING = 1u << 2,  /* a schedule: each run submits a copy */
	ZR_JOBF_RESULT_COMPRESSED = 1u << 3,
};

#define ZR_JOB_TYPE_NAME_MAX 23
#define ZR_JOB_META_BYTES 128 /* "key\0value\0" pairs */
#define ZR_JOB_ERROR_MAX 79
#define ZR_JOB_DEFAULT_TTL_NS (300ull * 1000000000ull)
#define ZR_JOB_DEFAULT_LEASE_NS (30ull * 1000000000ull)
#define ZR_JOB_LINGER_NS (10ull * 1000000000ull)

/** What to submit; fill with zr_job_builder_init() then set fields. */
typedef struct zr_job_builder {
	uint32_t type;	 /* zr_job_type */
	uint32_t prio;	 /* zr_prio (ZR_PRIO_NORMAL by default) */
	uint32_t target; /* agent id, 0: the shared queue */
	uint32_t max_retries;
	uint64_t ttl_ns;	 /* from submission; default 300 s */
	uint64_t lease_ns;	 /* how long a claim holds the job; default 30 s */
	uint64_t delay_ns;	 /* wait this long before it can be claimed */
	uint64_t interval_ns;	 /* > 0: recurring; a copy is submitted every interval */
	uint64_t backoff_ns;	 /* first retry delay, doubled per retry; default 1 ms */
	uint64_t backoff_max_ns; /* default 1 s */
	zr_payload payload;	 /* optional; the job takes it over on success */
	uint64_t payload_len;	 /* bytes used in it (<= its size) */
	int compress_level; /* 0: off (zero copy). 1..19: zstd, kept raw if it does not shrink */
	char type_name[ZR_JOB_TYPE_NAME_MAX + 1];
	char meta[ZR_JOB_META_BYTES];
	uint32_t meta_used;
	uint32_t job_flags; /* ZR_JOBF_BLOB, set by zr_job_builder_blob(); else 0 */
} zr_job_builder;

/** A snapshot of a job, consistent as of one moment. */
typedef struct zr_job_info {
	zr_job_id id;
	uint8_t uuid[16]; /* UUIDv7, for references outside the arena */
	uint32_t type;
	uint32_t prio;
	uint32_t status;
	uint32_t flags;	 /* zr_job_flags */
	uint32_t source; /* agent ids */
	uint32_t target;
	uint32_t holder; /* agent processing it (PROCESSING only) */
	uint32_t retries;
	uint32_t max_retries;
	uint32_t attempt; /* claims so far (mod 256) */
	zr_payload payload;
	uint64_t payload_len;
	zr_payload result;
	uint64_t result_len;
	uint64_t submit_ns; /* CLOCK_MONOTONIC */
	uint64_t claim_ns;
	uint64_t finish_ns;
	uint64_t expire_ns; /* TTL deadline */
	uint64_t due_ns;    /* DELAYED: when it becomes pending; PROCESSING: lease end */
	uint64_t interval_ns;
	uint64_t backoff_ns;
	uint64_t backoff_max_ns;
	char type_name[ZR_JOB_TYPE_NAME_MAX + 1];
	char meta[ZR_JOB_META_BYTES];
	char error[ZR_JOB_ERROR_MAX + 1];
} zr_job_info;

/** A claimed job: what the worker needs, with the payload in place. */
typedef struct zr_claim {
	zr_job_id id;
	uint32_t attempt; /* proves the claim on complete/fail */
	uint32_t prio;
	uint32_t type;
	uint32_t flags;
	uint32_t source;
	uint32_t retries;
	void *data;   /* payload in this process's mapping; NULL if none */
	uint64_t len; /* payload bytes (compressed size if ZR_JOBF_COMPRESSED) */
	uint64_t submit_ns;
	uint64_t lease_end_ns;
} zr_claim;

/* ---- building and submitting --------------------------------------------- */

/** Defaults: COMPUTE, NORMAL, shared queue, 3 retries, TTL 300 s, lease 30 s. */
ZR_API void zr_job_builder_init(zr_job_builder *b, uint32_t type);
/** Add a metadata pair. @return 0, -EINVAL (empty key), -ENOSPC (128 bytes used up). */
ZR_API ZR_NODISCARD int zr_job_builder_meta(zr_job_builder *b, const char *key, const char *value);
/** Look up a metadata value in a builder's or a snapshot's meta block. */
ZR_API const char *zr_job_meta_get(const char meta[ZR_JOB_META_BYTES], const char *key);

/**
 * Submit a job from agent `ag`. On success the job owns b->payload (it is
 * freed with the job); on failure the caller still does.
 * @param[out] id    The job's handle.
 * @param[out] uuid  Optional: its UUIDv7.
 * Blocking: never (compression, when asked, runs in the caller).
 * @return 0, -EINVAL (bad builder: type, prio, lengths; target not an agent),
 *         ZR_ESTALE (payload handle stale), ZR_EFULL (job table or the
 *         target queue full: try again later), ZR_EREADONLY, ZR_ECORRUPT.
 */
ZR_API ZR_NODISCARD int zr_job_submit(zr_agent *ag, const zr_job_builder *b, zr_job_id *id,
				      uint8_t uuid[16]);

/* ---- blobs as payloads ------------------------------------------------------ */

enum zr_job_blob_flags {
	/* The job owns the blob's file: it is removed when the job's record is
	 * freed (released, expired, or removed after its linger time). Not
	 * with recurring jobs, whose copies share the blob. */
	ZR_JOB_BLOB_OWNED = 1u << 0,
};

/**
 * Make the builder's payload a reference to `blob` (data too large for the
 * arena): a small payload holding the blob's path, size and generation is
 * allocated, and the job is marked ZR_JOBF_BLOB. The worker opens the blob
 * with zr_job_blob_open() and reads it in place. If zr_job_submit() fails,
 * free b->payload as for any payload.
 * @param[in] flags  0 or ZR_JOB_BLOB_OWNED.
 * @return 0, -EINVAL (NULL argument, a payload already set, unknown flag,
 *         compression asked for), -ENAMETOOLONG, -ENOMEM (arena full),
 *         ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_job_builder_blob(zr_arena *a, zr_job_builder *b, const zr_blob *blob,
					    unsigned flags);

/**
 * Open the blob a claimed job carries (ZR_JOBF_BLOB), mapped zero copy.
 * @param[in]  flags  0 or ZR_BLOB_READONLY.
 * @param[out] size   Optional: the data size when the job was built; a
 *                    smaller blob now means it was cut meanwhile.
 * @return 0, -EINVAL (not a blob job, NULL argument), ZR_ECORRUPT (the
 *         reference in the payload is damaged), or zr_blob_open_path()'s
 *         errors (-ENOENT: the file was removed).
 */
ZR_API ZR_NODISCARD int zr_job_blob_open(const zr_claim *c, unsigned flags, zr_blob **out,
					 uint64_t *size, zr_diag *diag);

/* ---- claiming -------------------------------------------------------------- */

/**
 * Claim the highest-priority pending job for `ag`: at each priority its
 * inbox first, then the shared queue. The job moves to PROCESSING under a
 * lease of the builder's lease_ns. Runs zr_jobs_tick() first when a timer
 * is due.
 * @return 1 (claimed, *out filled), 0 (nothing pending), or a negative error.
 * Blocking: never.
 */
ZR_API ZR_NODISCARD int zr_job_claim(zr_agent *ag, zr_claim *out);

/**
 * Claim, waiting up to timeout_ns (< 0: for ever) as the agent's wait mode
 * says (spin about 20 us, then sleep on the agent's futex). Producers wake
 * a sleeping target, or one idle agent for the shared queue.
 * @return 1, 0 (timed out), -EINTR, -ECANCELED (zr_agent_wake()).
 */
ZR_API ZR_NODISCARD int zr_job_claim_wait(zr_agent *ag, zr_claim *out, int64_t timeout_ns);

/** Wake the agent if it sleeps in zr_job_claim_wait(): it returns -ECANCELED. */
ZR_API void zr_agent_wake(zr_agent *ag);

/**
 * Look at the job that would be claimed next from the agent's own inbox
 * (shared == false) or the shared queue, without claiming it.
 * @return 1 (*out filled), 0 (empty), negative error.
 */
ZR_API ZR_NODISCARD int zr_job_peek(zr_agent *ag, bool shared, zr_job_info *out);

/* ---- finishing ---------------------------------------------------------- */

/**
 * Complete a claimed job with an optional result (the job takes it over).
 * @return 0; ZR_ELEASE (the lease ran out and the job was taken back or
 *         claimed again: this completion is not recorded, the result stays
 *         the caller's); -ECANCELED (cancelled while processing: the job is
 *         now CANCELLED, the result stays the caller's); ZR_ESTALE (no such
 *         job any more); -EINVAL.
 */
ZR_API ZR_NODISCARD int zr_job_complete(zr_agent *ag, const zr_claim *c, zr_payload result,
					uint64_t result_len);

/**
 * Fail a claimed job. With retries left it waits backoff * 2^(retries-1)
 * (capped) in DELAYED and is then pending again; without, it is FAILED for
 * good and stays on the dead-letter list.
 * @param[in] error  A short text kept in the job (truncated to 79 bytes).
 * @param[in] retry  false fails it for good at once.
 * @return 0, ZR_ELEASE, -ECANCELED, ZR_ESTALE, -EINVAL, as zr_job_complete().
 */
ZR_API ZR_NODISCARD int zr_job_fail(zr_agent *ag, const zr_claim *c, const char *error, bool retry);

/** Extend the lease of a claimed job to now + lease_ns. @return 0, ZR_ELEASE. */
ZR_API ZR_NODISCARD int zr_job_extend(zr_agent *ag, const zr_claim *c, uint64_t lease_ns);

/**
 * Cancel a job: PENDING or DELAYED ones (and recurring schedules) become
 * CANCELLED at once (@return 0); a PROCESSING one is marked, and its holder
 * gets -ECANCELED on complete or fail (@return 1).
 * @return 0, 1, -EALREADY (final already), ZR_ESTALE, -EINVAL, ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_job_cancel(zr_arena *a, zr_job_id id);

/** Has the job a claim refers to been cancelled? (for long-running work) */
ZR_API bool zr_job_cancel_requested(const zr_arena *a, const zr_claim *c);

/**
 * Remove a final job now, freeing its record, payload and result.
 * @return 0, -EBUSY (not final), ZR_ESTALE, -EINVAL, ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_job_release(zr_arena *a, zr_job_id id);

/** Put a FAILED (dead-letter) job back to pending with its retries reset.
 * @return 0, -EBUSY (not FAILED), ZR_ESTALE, ZR_EFULL. */
ZR_API ZR_NODISCARD int zr_job_requeue(zr_arena *a, zr_job_id id);

/* ---- observing ------------------------------------------------------------ */

/** Consistent snapshot of a job. Works read-only.
 * @return 0, ZR_ESTALE (released, or the id is from another life), -EINVAL. */
ZR_API ZR_NODISCARD int zr_job_get(const zr_arena *a, zr_job_id id, zr_job_info *out);

/**
 * Wait until the job is final: polls its state word for about 20 us, then
 * sleeps on it (futex; the finisher wakes exactly its waiters).
 * @param[out] out  Optional: the final snapshot.
 * @return 0, -ETIMEDOUT, -EINTR, ZR_ESTALE (released meanwhile), -EINVAL.
 */
ZR_API ZR_NODISCARD int zr_job_wait(zr_arena *a, zr_job_id id, int64_t timeout_ns,
				    zr_job_info *out);

/**
 * Copy the payload out, decompressing it if it was compressed.
 * @param[out] len  Bytes written to dst.
 * @return 0, -ENOBUFS (dst too small: *len says how much is needed),
 *         ZR_ECORRUPT (a compressed payload does not decode), ZR_ESTALE.
 */
ZR_API ZR_NODISCARD int zr_job_payload_read(const zr_arena *a, const zr_claim *c, void *dst,
					    size_t cap, size_t *len);

typedef struct zr_job_filter {
	uint32_t status_mask; /* 1u << zr_job_status; 0: every status but FREE */
	uint32_t prio_mask;   /* 1u << zr_prio; 0: every priority */
	uint32_t agent;	      /* 0 or an agent id: source, target or holder */
	uint32_t reserved;
} zr_job_filter;

/**
 * List jobs matching a filter, ordered by priority then submission time.
 * @param[out] n  Matching jobs found (may exceed cap; the first cap in
 *                order are written). Works read-only; O(max_jobs log).
 */
ZR_API ZR_NODISCARD int zr_jobs_list(const zr_arena *a, const zr_job_filter *f, zr_job_info *out,
				     size_t cap, size_t *n);

typedef struct zr_jobs_stats {
	uint32_t max_jobs;
	uint32_t max_agents;
	uint64_t by_status[ZR_JOB_STATUS_COUNT];	 /* now, from the table */
	uint64_t pending_by_prio[4];			 /* now */
	uint64_t by_status_prio[ZR_JOB_STATUS_COUNT][4]; /* now; FREE and BUILDING rows stay 0 */
	uint64_t bytes_stored;				 /* payload + result bytes of live jobs */
	uint64_t submitted;				 /* totals since creation */
	uint64_t submitted_by_prio[4];
	uint64_t claimed;
	uint64_t completed;
	uint64_t failed; /* fail calls */
	uint64_t dead_letters;
	uint64_t cancelled;
	uint64_t expired;
	uint64_t retried; /* requeued after a failure, a lease or a death */
	uint64_t lease_expired;
	uint64_t recovered; /* jobs taken back from dead agents */
	uint64_t released;
	uint64_t stale; /* queue entries skipped */
	uint64_t full;	/* submits refused: table or queue full */
	uint64_t submitted_bytes;
	zr_hist claim_latency;	  /* submit -> claim, all agents merged */
	zr_hist complete_latency; /* claim -> complete */
} zr_jobs_stats;

/** Gather the statistics (allocates nothing; O(max_jobs + agents)). Read-only OK. */
ZR_API void zr_jobs_stat(const zr_arena *a, zr_jobs_stats *out);

/* ---- time and recovery ----------------------------------------------------- */

typedef struct zr_tick_report {
	uint64_t due; /* delayed jobs made pending */
	uint64_t recurring_runs;
	uint64_t lease_expired; /* jobs taken back from holders too slow */
	uint64_t expired;	/* jobs past their TTL */
	uint64_t removed;	/* final records freed */
	uint64_t requeued;	/* pending jobs whose queue entry was lost, queued again */
} zr_tick_report;

/**
 * Run every timer that is due: delayed jobs and retries, lease expiry, TTL
 * expiry and removal of old final jobs, recurring schedules. O(max_jobs)
 * when something is due, one atomic load otherwise.
 * @return 0, ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_jobs_tick(zr_arena *a, zr_tick_report *rep);

typedef struct zr_jobs_recover_report {
	uint32_t agents_dead;	 /* agents newly marked dead */
	uint64_t jobs_requeued;	 /* held in processing by the dead: pending again */
	uint64_t jobs_failed;	 /* of those, out of retries: failed for good */
	uint64_t jobs_moved;	 /* from dead inboxes to the shared queue */
	uint64_t jobs_repaired;	 /* left half-changed by a dead process */
	uint64_t payloads_freed; /* allocated by the dead and never attached to a job */
	zr_recover_report arena; /* rings and slab (zr_arena_recover) */
} zr_jobs_recover_report;

/**
 * Find dead agents and processes and take back what they held: see the
 * agent.h header. Safe to run from any process, concurrently with work.
 * @return 0, ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_jobs_recover(zr_arena *a, zr_jobs_recover_report *rep);

typedef struct zr_reaper zr_reaper;
/**
 * Start a thread that calls zr_jobs_recover() and zr_jobs_tick() every
 * interval_ns (and sooner when a timer is due).
 * @return 0, -EINVAL, -errno from pthread_create.
 */
ZR_API ZR_NODISCARD int zr_reaper_start(zr_arena *a, uint64_t interval_ns, zr_reaper **out);
/** Stop and join the thread; NULL is accepted. Reports what it did. */
ZR_API void zr_reaper_stop(zr_reaper *r, zr_tick_report *ticks, zr_jobs_recover_report *rec);

/** Names for tools. */
ZR_API const char *zr_job_status_name(uint32_t status);
ZR_API const char *zr_job_type_name(uint32_t type);
ZR_API const char *zr_prio_name(uint32_t prio);

#ifdef __cplusplus
}
#endif
#endif
