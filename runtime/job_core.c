/* The job layer's core: binding its tables, the state-word transitions,
 * consistent snapshots, the free list of records and the timer hint.
 *
 * Synchronisation map (state word a_state of a record):
 *   R1 commit: release store/CAS of the state without BUSY
 *        -> A1 snapshot, claim, cancel, wait: acquire load or CAS of a_state
 *   F1 begin: release fence after the CAS that set BUSY, before the field
 *        writes -> F2 snapshot: acquire fence after the field reads, before
 *        the second load of a_state (a reader that saw a field written in
 *        BUSY then sees BUSY or a later state, and retries)
 *   Claims of a record from the free ring: the take/release of the ring slot
 *   (ring_mpmc.c) plus the acq_rel CAS FREE -> BUILDING. */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnl_impl.h"
#include "job_impl.h"

void zri_st_text(_Atomic uint64_t *words, size_t nwords, const char *s, size_t len)
{
	/* whole words: every submit rewrites the text fields of a reused record
	 * (29 words), mostly with empty strings */
	size_t cap = nwords * 8 - 1; /* the last byte stays a terminator */
	if (len > cap)
		len = cap;
	for (size_t w = 0, at = 0; w < nwords; w++, at += 8) {
		uint64_t v = 0;
		if (at < len)
			memcpy(&v, s + at, len - at < 8 ? len - at : 8);
		zri_st(&words[w], v);
	}
}

void zri_ld_text(const _Atomic uint64_t *words, size_t nwords, char *out)
{
	for (size_t w = 0; w < nwords; w++) {
		uint64_t v = zri_ld(&words[w]);
		memcpy(out + w * 8, &v, 8); /* the byte order zri_st_text() wrote */
	}
	out[nwords * 8 - 1] = 0; /* never trust the terminator */
}

/* ---- binding -------------------------------------------------------------- */

/* A free-ring entry held by a taker that died before claiming its record.
 * The ring would publish it again in its own slot one lap later, where no
 * taker reaches it until `capacity` more records have been freed: with the
 * whole table in use that may be never. So the record is queued afresh
 * under its next generation (the old entry, dropped, would be stale), the
 * way a freer queues it: naming us until it is on the ring, so that if we
 * die halfway recovery queues it again (see requeue_free in job_recover.c).
 * If the taker had claimed the record, it is BUILDING and recovery frees it.
 * Runs inside ring repairs, also those of our own takes and pushes. */
static bool free_entry_requeue(const void *ctx, uint64_t e)
{
	zr_arena *a = (zr_arena *)(uintptr_t)ctx; /* bound read-write: repairs write */
	uint32_t idx = (uint32_t)e, gen = (uint32_t)(e >> 32);
	if (idx >= a->max_jobs || a->readonly)
		return false;
	struct zri_job *j = &a->jobs[idx];
	/* relaxed: the CAS below decides; its acq_rel orders the record */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_relaxed);
	uint32_t next = (gen + 1) & 0xffffffu;
	/* any holder: a freer that queued this entry may not have cleared
	 * itself yet; its clearing CAS then fails harmlessly */
	while (ZRI_JS_STATUS(s) == ZR_JOB_FREE && !(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY) &&
	       ZRI_JS_GEN(s) == gen) {
		/* acq_rel: as requeue_free(); relaxed on failure: look again */
		if (atomic_compare_exchange_weak_explicit(
			    &j->a_state, &s, zri_js_make(next, 0, a->self, 0, ZR_JOB_FREE),
			    memory_order_acq_rel, memory_order_relaxed)) {
			zri_job_free_slot(a, idx, next);
			break;
		}
	}
	return false; /* drop the old entry */
}

int zri_jobs_bind(zr_arena *a, const struct zri_header *h, zr_diag *diag)
{
	const struct zri_jobs_layout *j = &h->jobs;
	a->jctl = zri_arena_at(a, j->ctl_off);
	a->agents = zri_arena_at(a, j->agents_off);
	a->jobs = zri_arena_at(a, j->recs_off);
	a->max_agents = j->max_agents;
	a->max_jobs = j->max_jobs;
	a->inbox_capacity = j->inbox_capacity;
	a->shared_capacity = j->shared_capacity;
	int rc = zri_ring_bind(&a->job_free, zri_arena_at(a, j->free_off), j->end_off - j->free_off,
			       a->self, zri_owner_alive, a, diag);
	if (rc)
		return rc;
	if (a->job_free.kind != ZR_RING_MPMC || a->job_free.capacity != j->free_capacity)
		return zri_diag_set(diag, ZR_ECORRUPT, "free ring of the job table is damaged");
	a->job_free.keep_taken = free_entry_requeue;
	a->job_free.keep_ctx = a;
	return 0;
}

void zri_jobs_format(zr_arena *a)
{
	const struct zri_jobs_layout *j = &a->hdr->jobs;
	zri_ring_init(zri_arena_at(a, j->free_off), ZR_RING_MPMC, j->free_capacity, ZR_WAIT_SPIN,
		      "job-free");
	struct zri_jobs_ctl *ctl = zri_arena_at(a, j->ctl_off);
	/* relaxed: the arena is published by its READY state (release) */
	atomic_store_explicit(&ctl->a_next_due, UINT64_MAX, memory_order_relaxed);
}

void zri_jobs_fill_free(zr_arena *a)
{
	zri_mpmc_fill_sequence(&a->job_free, a->max_jobs); /* generation 0 */
}

void zri_jobs_detach(zr_arena *a)
{
	zri_agent_cache_free(a);
	/* relaxed: no other thread may use the arena while it is closed */
	zr_inbox *sh = atomic_exchange_explicit(&a->shared, NULL, memory_order_relaxed);
	zr_inbox_close(sh);
}

/* ---- transitions ------------------------------------------------------- */

bool zri_js_begin(const zr_arena *a, struct zri_job *j, uint64_t *seen, uint32_t status,
		  uint32_t attempt)
{
	uint64_t s = *seen;
	uint64_t busy = zri_js_make(
		ZRI_JS_GEN(s), attempt, a->self,
		ZRI_JS_BUSY | (ZRI_JS_FLAGS(s) & (ZRI_JS_WAITERS | ZRI_JS_CANCEL)), status);
	/* acquire: see the fields of the state we replace (pairs with R1);
	 * relaxed on failure: the caller looks at the new word */
	if (!atomic_compare_exchange_strong_explicit(&j->a_state, seen, busy, memory_order_acquire,
						     memory_order_relaxed))
		return false;
	/* F1: pairs with F2 in zri_job_snapshot(): our field writes come after BUSY */
	atomic_thread_fence(memory_order_release);
	*seen = busy;
	return true;
}

void zri_js_wake(struct zri_job *j, uint64_t state)
{
	if (ZRI_JS_FLAGS(state) & ZRI_JS_WAITERS)
		zri_futex_wake((_Atomic uint32_t *)(void *)&j->a_state, INT_MAX);
}

void zri_js_commit(zr_arena *a, struct zri_job *j, uint32_t status, uint32_t holder,
		   uint32_t attempt, uint32_t keep_flags)
{
	if (a->journal)
		zri_jnl_job(a, j, 0, status, holder, attempt);
	/* relaxed: only waiters change a BUSY word (adding WAITERS), and the CAS
	 * below re-reads it */
	uint64_t cur = atomic_load_explicit(&j->a_state, memory_order_relaxed);
	uint64_t next;
	do {
		next = zri_js_make(ZRI_JS_GEN(cur), attempt, holder, keep_flags & ZRI_JS_CANCEL,
				   status);
		/* R1 (release): publishes the fields written while BUSY; relaxed on
		 * failure: a waiter added its flag, take it into account */
	} while (!atomic_compare_exchange_weak_explicit(
		&j->a_state, &cur, next, memory_order_release, memory_order_relaxed));
	zri_js_wake(j, cur);
}

int zri_job_snapshot(const zr_arena *a, uint32_t idx, uint32_t gen, bool gen_check,
		     zr_job_info *out)
{
	const struct zri_job *j = &a->jobs[idx];
	for (unsigned spins = 0;; spins++) {
		/* A1: pairs with R1: the fields of this state are visible */
		uint64_t s1 = atomic_load_explicit(&j->a_state, memory_order_acquire);
		if (gen_check && (ZRI_JS_GEN(s1) != gen || ZRI_JS_STATUS(s1) == ZR_JOB_FREE))
			return ZR_ESTALE;
		if (ZRI_JS_FLAGS(s1) & ZRI_JS_BUSY) {
			if (spins > ZRI_BUSY_SPINS)
				return -EAGAIN;
			zri_cpu_relax();
			continue;
		}
		memset(out, 0, sizeof(*out));
		out->id = zri_job_id(idx, ZRI_JS_GEN(s1));
		out->status = ZRI_JS_STATUS(s1);
		out->attempt = ZRI_JS_ATTEMPT(s1);
		uint64_t k = zri_ld(&j->a_kind);
		out->type = ZRI_KIND_TYPE(k);
		out->prio = ZRI_KIND_PRIO(k);
		out->flags = ZRI_KIND_FLAGS(k);
		out->max_retries = ZRI_KIND_MAXR(k);
		out->retries = ZRI_KIND_RETRIES(k);
		uint64_t ag = zri_ld(&j->a_agents);
		out->source = (uint32_t)ag;
		out->target = (uint32_t)(ag >> 32);
		if (out->status == ZR_JOB_PROCESSING)
			out->holder = ZRI_JS_HOLDER(s1);
		out->payload.v = zri_ld(&j->a_payload);
		out->payload_len = zri_ld(&j->a_payload_len);
		out->result.v = zri_ld(&j->a_result);
		out->result_len = zri_ld(&j->a_result_len);
		out->submit_ns = zri_ld(&j->a_submit_ns);
		out->claim_ns = zri_ld(&j->a_claim_ns);
		out->finish_ns = zri_ld(&j->a_finish_ns);
		out->expire_ns = zri_ld(&j->a_expire_ns);
		out->due_ns = zri_ld(&j->a_due_ns);
		out->interval_ns = zri_ld(&j->a_interval_ns);
		uint64_t bo = zri_ld(&j->a_backoff);
		out->backoff_ns = (bo & 0xffffffffu) * 1000;
		out->backoff_max_ns = (bo >> 32) * 1000;
		for (int i = 0; i < 2; i++) {
			uint64_t u = zri_ld(&j->a_uuid[i]);
			memcpy(out->uuid + 8 * i, &u, 8);
		}
		zri_ld_text(j->a_type_name, 3, out->type_name);
		zri_ld_text(j->a_meta, ZR_JOB_META_BYTES / 8, out->meta);
		out->meta[ZR_JOB_META_BYTES - 2] = 0; /* pairs end in two NULs */
		zri_ld_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, out->error);
		/* F2: pairs with F1 in zri_js_begin() */
		atomic_thread_fence(memory_order_acquire);
		/* relaxed: ordered by F2 */
		uint64_t s2 = atomic_load_explicit(&j->a_state, memory_order_relaxed);
		if ((s1 & ~(uint64_t)ZRI_JS_WAITERS) == (s2 & ~(uint64_t)ZRI_JS_WAITERS))
			return 0;
	}
}

/* ---- the free list -------------------------------------------------------- */

#define FREE_PUSH_TRIES (64 + 5000) /* yields, then about 5 s of 1 ms sleeps */

void zri_job_free_slot(zr_arena *a, uint32_t idx, uint32_t gen)
{
	/* The ring holds every record twice over, so it is never full of
	 * entries; but an enqueue also fails while the slot a lap behind is
	 * still TAKEN by a live consumer that was preempted mid-dequeue (on an
	 * oversubscribed host the ring can lap in a few ms; the tool's live
	 * test hit it with 1024 records). Wait for that consumer, yielding;
	 * only a slot held for seconds means corruption. */
	uint64_t entry = (uint64_t)gen << 32 | idx;
	for (unsigned tries = 0; !zri_mpmc_enqueue(&a->job_free, entry); tries++) {
		if (tries >= FREE_PUSH_TRIES) {
			zri_arena_poison(a, "job free ring full while freeing a record", idx);
			return;
		}
		if (tries < 64) {
			sched_yield();
		} else {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	uint64_t mine = zri_js_make(gen, 0, a->self, 0, ZR_JOB_FREE);
	/* relaxed: an RMW in the release sequence of the store that freed the
	 * record; fails when a taker of the entry claimed the record already */
	atomic_compare_exchange_strong_explicit(&a->jobs[idx].a_state, &mine,
						zri_js_make(gen, 0, 0, 0, ZR_JOB_FREE),
						memory_order_relaxed, memory_order_relaxed);
}

void zri_job_drop_payloads(zr_arena *a, struct zri_job *j)
{
	zr_payload p = {zri_ld(&j->a_payload)};
	zr_payload r = {zri_ld(&j->a_result)};
	/* a payload already freed by a dead predecessor returns an error: fine */
	if (p.v) {
		zri_job_blob_drop(a, j, p);
		ZRI_IGNORE(zr_payload_free(a, p));
	}
	if (r.v)
		ZRI_IGNORE(zr_payload_free(a, r));
	zri_st(&j->a_payload, 0);
	zri_st(&j->a_result, 0);
}

/* ---- timers --------------------------------------------------------------- */

void zri_jobs_due(zr_arena *a, uint64_t t)
{
	/* relaxed: a hint; a tick re-derives it from the records, which are the
	 * truth (see zr_jobs_tick) */
	uint64_t cur = atomic_load_explicit(&a->jctl->a_next_due, memory_order_relaxed);
	while (t < cur &&
	       !atomic_compare_exchange_weak_explicit(&a->jctl->a_next_due, &cur, t,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* ---- retries --------------------------------------------------------------- */

uint32_t zri_job_retry(zr_arena *a, struct zri_job *j, const char *why, uint64_t now)
{
	uint64_t k = zri_ld(&j->a_kind);
	uint32_t retries = ZRI_KIND_RETRIES(k) + 1;
	zri_st(&j->a_kind, ZRI_KIND(ZRI_KIND_TYPE(k), ZRI_KIND_PRIO(k), ZRI_KIND_FLAGS(k),
				    ZRI_KIND_MAXR(k), retries));
	if (why)
		zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, why, strlen(why));
	if (retries > ZRI_KIND_MAXR(k)) {
		zri_st(&j->a_finish_ns, now);
		zri_jc_add(a, ZRI_JC_DEAD_LETTERS, 1);
		return ZR_JOB_FAILED;
	}
	uint64_t bo = zri_ld(&j->a_backoff);
	uint64_t base = (bo & 0xffffffffu) * 1000, cap = (bo >> 32) * 1000;
	uint64_t delay = retries - 1 >= 40 ? cap : base << (retries - 1);
	if (delay > cap || delay < base)
		delay = cap;
	zri_st(&j->a_due_ns, now + delay);
	zri_jobs_due(a, now + delay);
	zri_jc_add(a, ZRI_JC_RETRIED, 1);
	return ZR_JOB_DELAYED;
}
