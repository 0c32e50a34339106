/* The job layer's internal interfaces: record access, the state-word
 * transitions, queues and timers, shared by agent*.c and job_*.c.
 *
 * A transition that writes fields other than the state word goes through
 * BUSY: CAS the state to (new status | BUSY | writer), write the fields,
 * then publish the state without BUSY (release). Readers copy a record
 * between two loads of the state word and retry if it changed or was BUSY
 * (a seqlock). A writer that dies while BUSY is found by recovery, which
 * finishes or undoes the change according to the new status (job_recover.c). */
#ifndef ZR_JOB_IMPL_H
#define ZR_JOB_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../rings/inbox_impl.h"
#include "arena_impl.h"
#include "prim.h"
#include "zring/agent.h"
#include "zring/job.h"

/* Drop a result on purpose (the functions are warn_unused_result). */
#define ZRI_IGNORE(call)                                                                           \
	do {                                                                                       \
		if (call) {                                                                        \
		}                                                                                  \
	} while (0)

struct zr_agent {
	zr_arena *a;
	struct zri_agent *rec;
	uint32_t id;
	uint32_t idx;
	uint32_t wait_mode;
	zr_inbox *inbox;
};

/* ---- ids ------------------------------------------------------------------ */
static inline zr_job_id zri_job_id(uint32_t idx, uint32_t gen)
{
	return (uint64_t)(gen & 0xffffffu) << 32 | (idx + 1u);
}
/* Record of a job id, or NULL when the index is out of range. */
static inline struct zri_job *zri_job_at(const zr_arena *a, zr_job_id id, uint32_t *idx)
{
	uint32_t i = (uint32_t)id - 1u;
	if ((uint32_t)id == 0 || i >= a->max_jobs || (id >> 56))
		return NULL;
	if (idx)
		*idx = i;
	return &a->jobs[i];
}
#define ZRI_ID_GEN(id) ((uint32_t)((id) >> 32) & 0xffffffu)

static inline uint32_t zri_agent_idx(uint32_t id) /* caller checks id != 0 */
{
	return zri_owner_idx(id);
}

/* ---- relaxed field access (ordered by the state word) --------------------- */
static inline uint64_t zri_ld(const _Atomic uint64_t *w)
{
	/* relaxed: every field is ordered by a_state (seqlock, see the top) */
	return atomic_load_explicit(w, memory_order_relaxed);
}
static inline void zri_st(_Atomic uint64_t *w, uint64_t v)
{
	/* relaxed: published by the release store of a_state */
	atomic_store_explicit(w, v, memory_order_relaxed);
}
void zri_st_text(_Atomic uint64_t *words, size_t nwords, const char *s, size_t len);
void zri_ld_text(const _Atomic uint64_t *words, size_t nwords, char *out);

/* a_kind packing */
#define ZRI_KIND(type, prio, flags, maxr, retries)                                                 \
	((uint64_t)((type)&0xffu) | (uint64_t)((prio)&0xffu) << 8 |                                \
	 (uint64_t)((flags)&0xffffu) << 16 | (uint64_t)((maxr)&0xffffu) << 32 |                    \
	 (uint64_t)((retries)&0xffffu) << 48)
#define ZRI_KIND_TYPE(k) ((uint32_t)(k)&0xffu)
#define ZRI_KIND_PRIO(k) ((uint32_t)((k) >> 8) & 0xffu)
#define ZRI_KIND_FLAGS(k) ((uint32_t)((k) >> 16) & 0xffffu)
#define ZRI_KIND_MAXR(k) ((uint32_t)((k) >> 32) & 0xffffu)
#define ZRI_KIND_RETRIES(k) ((uint32_t)((k) >> 48) & 0xffffu)

static inline bool zri_status_final(uint32_t st)
{
	return st == ZR_JOB_COMPLETED || st == ZR_JOB_FAILED || st == ZR_JOB_CANCELLED ||
	       st == ZR_JOB_EXPIRED;
}

/* ---- transitions --------------------------------------------------------- */
/* Try to move *seen (the caller's last load) to `status` | BUSY, written by
 * this process. On failure *seen holds the current word. */
bool zri_js_begin(const zr_arena *a, struct zri_job *j, uint64_t *seen, uint32_t status,
		  uint32_t attempt);
/* Publish the end of a BUSY transition: status and holder as given, the
 * WAITERS flag kept from what waiters added meanwhile (and acted on: the
 * waiters are woken, and the flag cleared). The change is journaled first
 * (while BUSY: see jnl_impl.h). */
void zri_js_commit(zr_arena *a, struct zri_job *j, uint32_t status, uint32_t holder,
		   uint32_t attempt, uint32_t keep_flags);
/* Wake zr_job_wait() sleepers of a record (when `state` had WAITERS). */
void zri_js_wake(struct zri_job *j, uint64_t state);

/* Consistent copy of a record; 0, or ZR_ESTALE when gen does not match
 * (gen_check false: copy whatever lives there), -EAGAIN when it stayed
 * BUSY for too long. */
int zri_job_snapshot(const zr_arena *a, uint32_t idx, uint32_t gen, bool gen_check,
		     zr_job_info *out);

/* ---- queues -------------------------------------------------------------- */
/* The shared queue, opened (or created) on first use; NULL on failure. */
zr_inbox *zri_jobs_shared(zr_arena *a);
/* Inbox of agent `id` (by its name: kept for a successor), cached per process. */
zr_inbox *zri_agent_inbox(zr_arena *a, uint32_t id);
/* Push a job id where it belongs (target inbox, or the shared queue when
 * there is no target or the target died with on_death TO_SHARED) and wake
 * a sleeper. Returns 0 or ZR_EFULL. */
int zri_job_enqueue(zr_arena *a, zr_job_id id, uint32_t target, uint32_t prio);
/* Wake one agent asleep in a blocking claim (a job is in the shared queue). */
void zri_jobs_wake_idle(zr_arena *a);
/* Put a record back on the free ring. The caller stored FREE(gen) naming
 * itself as holder; the holder is cleared once the entry is queued, so a
 * FREE record still naming a dead process may never have been queued, and
 * recovery queues it again (under a new generation: an entry that was
 * queued becomes a stale duplicate, which takers skip). */
void zri_job_free_slot(zr_arena *a, uint32_t idx, uint32_t gen);
/* Free a record's payload and result, and clear both fields. */
void zri_job_drop_payloads(zr_arena *a, struct zri_job *j);

/* job_blob.c: a builder's blob reference is whole (0 or -EINVAL); remove
 * the file of a blob the job owns, given the job's payload. */
int zri_job_blob_check(const zr_arena *a, const zr_job_builder *b);
void zri_job_blob_drop(zr_arena *a, struct zri_job *j, zr_payload p);

/* ---- agents ------------------------------------------------------------- */
void zri_agent_cache_free(zr_arena *a);
/* Is agent `id` registered, in that generation, and alive now? */
bool zri_agent_alive(const zr_arena *a, uint32_t id);
/* The agent record of an id of the current generation, else NULL. */
struct zri_agent *zri_agent_rec(const zr_arena *a, uint32_t id, uint64_t *word);

/* ---- timers and counters -------------------------------------------------- */
/* Lower the earliest-due hint to t (no store when it is already earlier). */
void zri_jobs_due(zr_arena *a, uint64_t t);
static inline void zri_jc_add(zr_arena *a, unsigned c, uint64_t n)
{
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(&a->jctl->a_counter[c], n, memory_order_relaxed);
}
/* Single-writer counter of the calling agent: a load and a store, no lock. */
static inline void zri_own_add(_Atomic uint64_t *c, uint64_t n)
{
	/* relaxed: one writer; readers want a recent value only */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}
void zri_hist_add(_Atomic uint64_t *h, uint64_t v); /* agent histogram, one writer */
void zri_hist_load(const _Atomic uint64_t *h, zr_hist *out);

/* Requeue after a failure, a lost lease or a dead holder: DELAYED for its
 * backoff, or FAILED for good once out of retries. The caller holds BUSY. */
uint32_t zri_job_retry(zr_arena *a, struct zri_job *j, const char *why, uint64_t now);

/* Finish a BUSY transition into PENDING and queue the job; when its queue
 * is full it waits 1 ms in DELAYED and is queued by the timer. */
void zri_job_publish_pending(zr_arena *a, struct zri_job *j, uint32_t idx, uint32_t attempt);
/* Finish a BUSY transition into FREE: payloads freed, new generation, back
 * on the free ring, waiters woken. */
void zri_job_remove(zr_arena *a, struct zri_job *j, uint32_t idx);
/* Submit one run of a recurring job (a copy of template record `j`). */
int zri_job_spawn(zr_arena *a, struct zri_job *j);
/* Requeue a job whose holder is gone: retries + 1, then PENDING at once or
 * FAILED for good. The caller holds BUSY. Returns the new status. */
uint32_t zri_job_requeue_now(zr_arena *a, struct zri_job *j, uint32_t idx, uint32_t attempt,
			     const char *why);

/* ---- restore (restore.c) --------------------------------------------------- */
/* Register agent `name` and mark it dead at once: it keeps its inbox for a
 * successor of the same name. */
int zri_agent_placeholder(zr_arena *a, const char *name, uint32_t kind, uint32_t on_death,
			  uint32_t *id);

/* A whole job, as restore rebuilt it; times are this arena's CLOCK_MONOTONIC. */
struct zri_job_image {
	uint8_t uuid[16];
	uint64_t kind; /* as a_kind */
	uint32_t source, target, holder, status, attempt;
	zr_payload payload, result; /* allocated in the arena, owned by the caller until taken */
	uint64_t payload_len, result_len;
	uint64_t submit_ns, claim_ns, finish_ns, expire_ns, due_ns;
	uint64_t ttl_ns, lease_ns, interval_ns, backoff;
	char type_name[ZR_JOB_TYPE_NAME_MAX + 1];
	char meta[ZR_JOB_META_BYTES];
	char error[ZR_JOB_ERROR_MAX + 1];
};
/* Put a job in the table as it is (journaled like a submit), queue it if
 * PENDING; the job takes the payload and result over on success. 0, ZR_EFULL. */
int zri_job_insert(zr_arena *a, const struct zri_job_image *im, zr_job_id *id);

/* How many times to spin on a BUSY record before deciding its writer may be dead. */
#define ZRI_BUSY_SPINS 4096
/* Blocking calls poll this long before they sleep: a futex wake costs the
 * waker a system call and the sleeper ~30 us on this class of machine, more
 * than most waits last when the other side is running. */
#define ZRI_SPIN_BEFORE_SLEEP_NS 20000u

#endif
