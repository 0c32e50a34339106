/* Claiming jobs: at each priority the agent's inbox, then the shared queue.
 *
 * An entry is taken from its ring in two phases (take, release): while the
 * ring slot still names us we move the record PENDING -> PROCESSING. If we
 * die in between, the ring's repair publishes the entry again; if we die
 * after, recovery finds the record held by a dead agent. An entry whose job
 * is no longer pending (cancelled, expired, claimed through a duplicate
 * entry, or being changed by someone who will queue it again) is skipped.
 *
 * A blocking claim sleeps on the agent's doorbell futex. It first sets its
 * bit in the idle map so that submitters to the shared queue can pick it:
 *   F2 claimer: idle bit ; waiters++ ; seq_cst fence ; look again
 *   F1 submitter: push ; seq_cst fence ; read the idle map (job_submit.c)
 * so either the submitter sees the bit or the claimer sees the entry. */
#include <errno.h>
#include <string.h>

#include "job_impl.h"

static void note_stale(zr_agent *ag)
{
	zri_own_add(&ag->rec->a_stale, 1);
}

/* PENDING -> PROCESSING for `ag`. 1: ours; 0: not claimable (skip it). */
static int claim_record(zr_agent *ag, zr_job_id id, uint64_t now, zr_claim *out)
{
	zr_arena *a = ag->a;
	struct zri_job *j = zri_job_at(a, id, NULL);
	if (!j)
		return 0;
	/* A1: pairs with R1 of submit/commit: the record's fields are visible */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
	for (unsigned spins = 0;; spins++) {
		if (ZRI_JS_GEN(s) != ZRI_ID_GEN(id))
			return 0;
		if (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY) {
			/* whoever holds it queues it again if it ends pending */
			if (spins > ZRI_BUSY_SPINS)
				return 0;
			zri_cpu_relax();
			/* acquire: as A1 */
			s = atomic_load_explicit(&j->a_state, memory_order_acquire);
			continue;
		}
		if (ZRI_JS_STATUS(s) != ZR_JOB_PENDING)
			return 0;
		if (zri_js_begin(a, j, &s, ZR_JOB_PROCESSING, ZRI_JS_ATTEMPT(s) + 1))
			break;
	}
	uint32_t attempt = ZRI_JS_ATTEMPT(s);
	uint64_t lease = zri_ld(&j->a_lease_ns);
	zri_st(&j->a_holder, ag->id);
	zri_st(&j->a_claim_ns, now);
	zri_st(&j->a_due_ns, now + lease);
	uint64_t k = zri_ld(&j->a_kind);
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->attempt = attempt;
	out->prio = ZRI_KIND_PRIO(k);
	out->type = ZRI_KIND_TYPE(k);
	out->flags = ZRI_KIND_FLAGS(k);
	out->retries = ZRI_KIND_RETRIES(k);
	out->source = (uint32_t)zri_ld(&j->a_agents);
	out->submit_ns = zri_ld(&j->a_submit_ns);
	out->lease_end_ns = now + lease;
	zr_payload p = {zri_ld(&j->a_payload)};
	if (p.v) {
		out->data = zr_payload_ptr(a, p);
		out->len = out->data ? zri_ld(&j->a_payload_len) : 0;
	}
	zri_js_commit(a, j, ZR_JOB_PROCESSING, ag->id, attempt, 0);
	zri_jobs_due(a, now + lease);
	zri_own_add(&ag->rec->a_claimed, 1);
	zri_hist_add(ag->rec->a_claim_hist, now > out->submit_ns ? now - out->submit_ns : 0);
	return 1;
}

/* Pop from one level of one queue until a job is claimed or it is empty.
 * Returns 1, 0 or -1 (the head is held half-done by a live process). */
static int from_ring(zr_agent *ag, struct zr_ring *r, uint64_t now, zr_claim *out)
{
	for (;;) {
		uint64_t e, ticket;
		int rc = zri_mpmc_take(r, &e, &ticket);
		if (rc != 1)
			return rc;
		int got = claim_record(ag, e, now, out);
		zri_mpmc_release(r, ticket);
		if (got)
			return 1;
		note_stale(ag);
	}
}

static int try_claim(zr_agent *ag, zr_claim *out)
{
	zr_arena *a = ag->a;
	uint64_t now = zri_now_ns();
	/* relaxed: a hint; the tick itself re-reads the records */
	if (now >= atomic_load_explicit(&a->jctl->a_next_due, memory_order_relaxed))
		ZRI_IGNORE(zr_jobs_tick(a, NULL));
	zr_inbox *sh = zri_jobs_shared(a);
	int busy = 0;
	for (unsigned lvl = 0; lvl < ZR_PRIO_COUNT; lvl++) {
		int rc = from_ring(ag, &ag->inbox->levels[lvl], now, out);
		if (rc == 1)
			return 1;
		busy |= rc < 0;
		if (!sh)
			continue;
		rc = from_ring(ag, &sh->levels[lvl], now, out);
		if (rc == 1)
			return 1;
		busy |= rc < 0;
	}
	return busy ? -1 : 0;
}

int zr_job_claim(zr_agent *ag, zr_claim *out)
{
	if (ag->a->readonly)
		return ZR_EREADONLY;
	return try_claim(ag, out) == 1 ? 1 : 0;
}

struct wait_ctx {
	zr_agent *ag;
	zr_claim *out;
};

static int try_fn(void *obj, uint64_t *unused, unsigned *prio)
{
	(void)unused;
	(void)prio;
	struct wait_ctx *c = obj;
	return try_claim(c->ag, c->out);
}

static void set_idle(zr_agent *ag, bool idle)
{
	_Atomic uint64_t *w = &ag->a->jctl->a_idle[ag->idx / 64];
	uint64_t m = UINT64_C(1) << (ag->idx % 64);
	/* relaxed: ordered by F2 (the fence in the futex wait path) */
	if (idle)
		atomic_fetch_or_explicit(w, m, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(w, ~m, memory_order_relaxed);
}

int zr_job_claim_wait(zr_agent *ag, zr_claim *out, int64_t timeout_ns)
{
	zr_arena *a = ag->a;
	if (a->readonly)
		return ZR_EREADONLY;
	if (try_claim(ag, out) == 1)
		return 1;
	if (timeout_ns == 0)
		return 0;
	uint64_t start = zri_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
	uint64_t spin_until = ag->wait_mode == ZR_WAIT_SPIN ? deadline
			      : ag->wait_mode == ZR_WAIT_SPIN_FUTEX
				      ? start + ZRI_SPIN_BEFORE_SLEEP_NS
				      : start;
	while (zri_now_ns() < spin_until) {
		for (int i = 0; i < 16; i++) {
			if (try_claim(ag, out) == 1)
				return 1;
			zri_cpu_relax();
		}
	}
	if (ag->wait_mode == ZR_WAIT_SPIN)
		return 0;
	struct zri_agent *r = ag->rec;
	struct zri_waitq q = {ZR_WAIT_FUTEX, &r->a_futex, &r->a_waiters, &r->a_kicks, &r->a_waits};
	struct wait_ctx ctx = {ag, out};
	for (;;) {
		uint64_t now = zri_now_ns();
		if (now >= deadline)
			return 0;
		/* relaxed: a hint, as in try_claim() */
		uint64_t due = atomic_load_explicit(&a->jctl->a_next_due, memory_order_relaxed);
		uint64_t until = due < deadline ? due : deadline;
		int64_t left = until > now ? (int64_t)(until - now) : 1;
		if (until == UINT64_MAX)
			left = -1;
		set_idle(ag, true);
		uint64_t unused;
		int rc = zri_waitq_wait(&q, try_fn, &ctx, &unused, NULL, left);
		set_idle(ag, false);
		if (rc == 0) {
			/* we may have been woken for the shared queue while our inbox
			 * had work: pass the wake on if the shared queue is not empty */
			zr_inbox *sh = zri_jobs_shared(a);
			if (sh && zr_inbox_count(sh) > 0)
				zri_jobs_wake_idle(a);
			return 1;
		}
		if (rc != -ETIMEDOUT)
			return rc;
	}
}

void zr_agent_wake(zr_agent *ag)
{
	zri_waitq_kick(&ag->rec->a_futex, &ag->rec->a_kicks);
}

int zr_job_peek(zr_agent *ag, bool shared, zr_job_info *out)
{
	zr_inbox *ib = shared ? zri_jobs_shared(ag->a) : ag->inbox;
	if (!ib)
		return 0;
	for (unsigned lvl = 0; lvl < ZR_PRIO_COUNT; lvl++) {
		uint64_t ids[32];
		unsigned n = zri_mpmc_peek(&ib->levels[lvl], ids, 32);
		for (unsigned i = 0; i < n; i++) {
			uint32_t idx;
			if (!zri_job_at(ag->a, ids[i], &idx))
				continue;
			if (zri_job_snapshot(ag->a, idx, ZRI_ID_GEN(ids[i]), true, out) == 0 &&
			    out->status == ZR_JOB_PENDING)
				return 1;
		}
	}
	return 0;
}
