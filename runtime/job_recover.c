/* Recovery of the job layer after deaths: agents whose process died or who
 * missed their heartbeat are marked dead; the jobs they held go back to
 * pending with the retry count raised; records left half-changed by a dead
 * process are finished or undone; the inboxes of dead agents that asked for
 * it are moved to the shared queue; then the rings and the slab are
 * repaired (zr_arena_recover) and payloads a dead process allocated and
 * never attached to a job are freed.
 *
 * Repairs of a BUSY record by the status it was moving to:
 *   PROCESSING (claim)            -> PENDING, queued again
 *   COMPLETED, FAILED, DELAYED    -> the holder's end: requeued (retry + 1),
 *                                    a half-attached result freed
 *   CANCELLED, EXPIRED            -> finished
 *   PENDING                       -> published and queued again
 *   FREE (release, removal)       -> removed
 * A FREE record (not BUSY) that still names a dead freer may be missing
 * from the free ring: it is queued again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job_impl.h"

uint32_t zri_job_requeue_now(zr_arena *a, struct zri_job *j, uint32_t idx, uint32_t attempt,
			     const char *why)
{
	uint64_t k = zri_ld(&j->a_kind);
	uint32_t retries = ZRI_KIND_RETRIES(k) + 1;
	zri_st(&j->a_kind, ZRI_KIND(ZRI_KIND_TYPE(k), ZRI_KIND_PRIO(k), ZRI_KIND_FLAGS(k),
				    ZRI_KIND_MAXR(k), retries));
	zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, why, strlen(why));
	if (retries > ZRI_KIND_MAXR(k)) {
		zri_st(&j->a_finish_ns, zri_now_ns());
		zri_jc_add(a, ZRI_JC_DEAD_LETTERS, 1);
		zri_js_commit(a, j, ZR_JOB_FAILED, a->self, attempt, 0);
		return ZR_JOB_FAILED;
	}
	zri_jc_add(a, ZRI_JC_RETRIED, 1);
	zri_job_publish_pending(a, j, idx, attempt);
	return ZR_JOB_PENDING;
}

/* Is the writer or holder named by a state word gone? */
static bool holder_dead(const zr_arena *a, uint64_t s)
{
	uint32_t h = ZRI_JS_HOLDER(s);
	if (ZRI_JS_STATUS(s) == ZR_JOB_PROCESSING && !(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY))
		return !zri_agent_alive(a, h);
	return h != 0 && !zri_owner_alive(a, h);
}

/* Take over a record whose writer or holder is dead: same status, BUSY,
 * written by us. */
static bool take_over(const zr_arena *a, struct zri_job *j, uint64_t *s, uint32_t status)
{
	uint64_t seen = *s;
	while (!zri_js_begin(a, j, s, status, ZRI_JS_ATTEMPT(seen))) {
		/* a waiter adding its flag meanwhile is no reason to give up: the
		 * job would stay with its dead holder until the next recovery */
		if ((*s & ~(uint64_t)ZRI_JS_WAITERS) != (seen & ~(uint64_t)ZRI_JS_WAITERS))
			return false;
		seen = *s;
	}
	return true;
}

static void repair_busy(zr_arena *a, struct zri_job *j, uint32_t idx, uint64_t s,
			zr_jobs_recover_report *rep)
{
	uint32_t st = ZRI_JS_STATUS(s), att = ZRI_JS_ATTEMPT(s);
	uint64_t k = zri_ld(&j->a_kind);
	bool last = ZRI_KIND_RETRIES(k) + 1 > ZRI_KIND_MAXR(k);
	switch (st) {
	case ZR_JOB_PROCESSING:
		if (take_over(a, j, &s, ZR_JOB_PENDING))
			zri_job_publish_pending(a, j, idx, att);
		break;
	case ZR_JOB_COMPLETED:
	case ZR_JOB_FAILED:
	case ZR_JOB_DELAYED:
		if (!take_over(a, j, &s, last ? ZR_JOB_FAILED : ZR_JOB_PENDING))
			return;
		if (st == ZR_JOB_COMPLETED) {
			zr_payload r = {zri_ld(&j->a_result)};
			if (r.v)
				ZRI_IGNORE(zr_payload_free(a, r));
			zri_st(&j->a_result, 0);
			zri_st(&j->a_result_len, 0);
		}
		if (zri_job_requeue_now(a, j, idx, att, "holder died while finishing") ==
		    ZR_JOB_FAILED)
			rep->jobs_failed++;
		break;
	case ZR_JOB_CANCELLED:
	case ZR_JOB_EXPIRED:
		if (!take_over(a, j, &s, st))
			return;
		if (st == ZR_JOB_EXPIRED)
			zri_job_drop_payloads(a, j);
		zri_st(&j->a_finish_ns, zri_now_ns());
		zri_js_commit(a, j, st, a->self, att, 0);
		break;
	case ZR_JOB_PENDING:
		if (take_over(a, j, &s, ZR_JOB_PENDING))
			zri_job_publish_pending(a, j, idx, att);
		break;
	case ZR_JOB_FREE:
		if (take_over(a, j, &s, ZR_JOB_FREE))
			zri_job_remove(a, j, idx);
		break;
	default: zri_arena_poison(a, "job record BUSY in an impossible status", idx); return;
	}
	rep->jobs_repaired++;
}

/* A FREE record still naming its freer, who died before or just after
 * queueing it on the free ring: queue it under a new generation (an entry
 * the freer did queue is then stale, and skipped by takers). */
static void requeue_free(zr_arena *a, struct zri_job *j, uint32_t idx, uint64_t s,
			 zr_jobs_recover_report *rep)
{
	uint32_t next = (ZRI_JS_GEN(s) + 1) & 0xffffffu;
	/* acq_rel: the freer's writes stay ordered before the next user's (as
	 * R1 of zri_job_remove); relaxed on failure: a taker of the queued
	 * entry claimed it, or another recoverer requeued it */
	if (!atomic_compare_exchange_strong_explicit(&j->a_state, &s,
						     zri_js_make(next, 0, a->self, 0, ZR_JOB_FREE),
						     memory_order_acq_rel, memory_order_relaxed))
		return;
	zri_job_free_slot(a, idx, next);
	rep->jobs_repaired++;
}

static void recover_record(zr_arena *a, uint32_t idx, zr_jobs_recover_report *rep)
{
	struct zri_job *j = &a->jobs[idx];
	/* A1: pairs with R1 of commits and submit */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
	uint32_t st = ZRI_JS_STATUS(s);
	if (st == ZR_JOB_FREE && !(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY)) {
		if (holder_dead(a, s))
			requeue_free(a, j, idx, s, rep);
		return;
	}
	if (st > ZR_JOB_DELAYED) {
		zri_arena_poison(a, "job record in an unknown status", idx);
		return;
	}
	if (!holder_dead(a, s))
		return;
	if (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY) {
		repair_busy(a, j, idx, s, rep);
		return;
	}
	uint64_t k = zri_ld(&j->a_kind);
	switch (st) {
	case ZR_JOB_BUILDING: /* the submit never returned: drop it */
		if (take_over(a, j, &s, ZR_JOB_FREE)) {
			zri_job_remove(a, j, idx);
			rep->jobs_repaired++;
		}
		break;
	case ZR_JOB_PENDING: /* its queue entry may have died with it */
		if (take_over(a, j, &s, ZR_JOB_PENDING)) {
			zri_job_publish_pending(a, j, idx, ZRI_JS_ATTEMPT(s));
			rep->jobs_repaired++;
		}
		break;
	case ZR_JOB_PROCESSING: {
		bool last = ZRI_KIND_RETRIES(k) + 1 > ZRI_KIND_MAXR(k);
		if (!take_over(a, j, &s, last ? ZR_JOB_FAILED : ZR_JOB_PENDING))
			break;
		zri_jc_add(a, ZRI_JC_RECOVERED, 1);
		if (zri_job_requeue_now(a, j, idx, ZRI_JS_ATTEMPT(s), "agent died") ==
		    ZR_JOB_FAILED)
			rep->jobs_failed++;
		else
			rep->jobs_requeued++;
		break;
	}
	default: /* DELAYED and final records need nobody alive */ break;
	}
}

/* Move the entries of a dead agent's inbox to the shared queue. */
static void drain_inbox(zr_arena *a, uint32_t id, zr_jobs_recover_report *rep)
{
	zr_inbox *ib = zri_agent_inbox(a, id);
	if (!ib)
		return;
	for (unsigned lvl = 0; lvl < ZR_PRIO_COUNT; lvl++) {
		struct zr_ring *r = &ib->levels[lvl];
		uint64_t e, ticket;
		while (zri_mpmc_take(r, &e, &ticket) == 1) {
			uint32_t idx;
			struct zri_job *j = zri_job_at(a, e, &idx);
			/* A1: as above */
			uint64_t s =
				j ? atomic_load_explicit(&j->a_state, memory_order_acquire) : 0;
			/* pending: re-published by us, it goes where its dead target
			 * sends it (the shared queue); a death here leaves it PENDING
			 * under our id, which the next recovery queues again */
			if (j && ZRI_JS_GEN(s) == ZRI_ID_GEN(e) &&
			    ZRI_JS_STATUS(s) == ZR_JOB_PENDING &&
			    !(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY) &&
			    take_over(a, j, &s, ZR_JOB_PENDING)) {
				zri_job_publish_pending(a, j, idx, ZRI_JS_ATTEMPT(s));
				rep->jobs_moved++;
			}
			zri_mpmc_release(r, ticket);
		}
	}
}

static void mark_dead_agents(zr_arena *a, zr_jobs_recover_report *rep)
{
	uint64_t now = zri_now_ns();
	for (uint32_t i = 0; i < a->max_agents; i++) {
		struct zri_agent *r = &a->agents[i];
		/* A1: pairs with R1 in agent.c */
		uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
		uint32_t st = ZRI_AGENT_STATUS(w);
		uint32_t id = zri_owner_make(i, ZRI_AGENT_GEN(w));
		bool joining_dead =
			st == ZRI_AGENT_JOINING && !zri_owner_alive(a, ZRI_AGENT_OWNER(w));
		if ((st == ZRI_AGENT_ALIVE && !zri_agent_alive(a, id)) || joining_dead) {
			uint64_t dead = zri_agent_word(
				ZRI_AGENT_GEN(w), joining_dead ? ZRI_AGENT_FREE : ZRI_AGENT_DEAD,
				ZRI_AGENT_OWNER(w));
			/* acq_rel: one recoverer marks it; relaxed on failure: someone did */
			if (atomic_compare_exchange_strong_explicit(&r->a_word, &w, dead,
								    memory_order_acq_rel,
								    memory_order_relaxed)) {
				/* relaxed: informational */
				atomic_store_explicit(&r->a_dead_ns, now, memory_order_relaxed);
				rep->agents_dead += !joining_dead;
			}
		}
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

struct refs {
	uint64_t *v;
	size_t n;
};

static int referenced(void *ctx, zr_payload p)
{
	const struct refs *r = ctx;
	return r->v && bsearch(&p.v, r->v, r->n, sizeof(uint64_t), cmp_u64) != NULL;
}

/* Free orphans that no job refers to. */
static void free_orphans(zr_arena *a, zr_jobs_recover_report *rep)
{
	struct refs refs = {malloc(2 * (size_t)a->max_jobs * sizeof(uint64_t)), 0};
	if (!refs.v)
		return; /* keep them all until memory allows a check */
	for (uint32_t i = 0; i < a->max_jobs; i++) {
		const struct zri_job *j = &a->jobs[i];
		/* relaxed: a referenced payload is disowned, not an orphan; this is
		 * a belt for records whose writer died half-way */
		if (ZRI_JS_STATUS(atomic_load_explicit(&j->a_state, memory_order_relaxed)) ==
		    ZR_JOB_FREE)
			continue;
		uint64_t p = zri_ld(&j->a_payload), r = zri_ld(&j->a_result);
		if (p)
			refs.v[refs.n++] = p;
		if (r)
			refs.v[refs.n++] = r;
	}
	qsort(refs.v, refs.n, sizeof(uint64_t), cmp_u64);
	uint64_t freed = 0;
	ZRI_IGNORE(zr_slab_free_orphans(a, referenced, &refs, &freed));
	rep->payloads_freed += freed;
	free(refs.v);
}

int zr_jobs_recover(zr_arena *a, zr_jobs_recover_report *rep_out)
{
	if (a->readonly)
		return ZR_EREADONLY;
	zr_jobs_recover_report rep = {0};
	struct zri_alive_memo memo;
	bool began = zri_alive_memo_begin(a, &memo);
	mark_dead_agents(a, &rep);
	/* The free ring of records lives outside the ring directory, so
	 * zr_arena_recover() does not see it: a dead taker's slot would stay
	 * until takers came round a whole lap. Its entries are queued afresh
	 * (free_entry_requeue), before the records are looked at. */
	uint64_t drops = 0, redelivers = 0;
	zri_mpmc_repair(&a->job_free, &drops, &redelivers);
	for (uint32_t i = 0; i < a->max_jobs; i++)
		recover_record(a, i, &rep);
	for (uint32_t i = 0; i < a->max_agents; i++) {
		struct zri_agent *r = &a->agents[i];
		/* A1: as above */
		uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
		if (ZRI_AGENT_STATUS(w) == ZRI_AGENT_DEAD && r->on_death == ZR_ON_DEATH_TO_SHARED)
			drain_inbox(a, zri_owner_make(i, ZRI_AGENT_GEN(w)), &rep);
	}
	int rc = zr_arena_recover(a, &rep.arena);
	if (rc == 0)
		free_orphans(a, &rep);
	zri_alive_memo_end(began);
	if (rep_out) {
		rep_out->agents_dead += rep.agents_dead;
		rep_out->jobs_requeued += rep.jobs_requeued;
		rep_out->jobs_failed += rep.jobs_failed;
		rep_out->jobs_moved += rep.jobs_moved;
		rep_out->jobs_repaired += rep.jobs_repaired;
		rep_out->payloads_freed += rep.payloads_freed;
		rep_out->arena.procs_dead += rep.arena.procs_dead;
		rep_out->arena.ring_drops += rep.arena.ring_drops;
		rep_out->arena.ring_redelivers += rep.arena.ring_redelivers;
		rep_out->arena.blocks_freed += rep.arena.blocks_freed;
		rep_out->arena.blocks_orphaned += rep.arena.blocks_orphaned;
	}
	return rc;
}
