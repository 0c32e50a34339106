/* Finishing jobs (complete, fail, cancel, release, requeue) and observing
 * them (get, wait, payload_read). Each change is one BUSY transition on the
 * state word (job_core.c); a claim is proved by (holder, attempt), so a
 * worker whose lease ran out learns it from ZR_ELEASE instead of recording
 * a second completion. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <zstd.h>

#include "jnl_impl.h"
#include "job_impl.h"

/* Load the state of a record, waiting out a short BUSY. */
static int settled_state(const struct zri_job *j, zr_job_id id, uint64_t *out)
{
	for (unsigned spins = 0;; spins++) {
		/* A1: pairs with R1 of commits: the fields of this state are visible */
		uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
		if (ZRI_JS_GEN(s) != ZRI_ID_GEN(id) || ZRI_JS_STATUS(s) == ZR_JOB_FREE)
			return ZR_ESTALE;
		if (!(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY)) {
			*out = s;
			return 0;
		}
		if (spins > 64 * ZRI_BUSY_SPINS)
			return -EAGAIN; /* a dead writer: recovery will settle it */
		zri_cpu_relax();
	}
}

void zri_job_publish_pending(zr_arena *a, struct zri_job *j, uint32_t idx, uint32_t attempt)
{
	uint64_t k = zri_ld(&j->a_kind);
	uint32_t target = (uint32_t)(zri_ld(&j->a_agents) >> 32);
	zri_js_commit(a, j, ZR_JOB_PENDING, a->self, attempt, 0);
	/* relaxed: our own commit; only the generation is needed */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_relaxed);
	zr_job_id id = zri_job_id(idx, ZRI_JS_GEN(s));
	if (zri_job_enqueue(a, id, target, ZRI_KIND_PRIO(k)) == 0)
		return;
	/* the queue is full: wait a millisecond in DELAYED and try again then */
	if (settled_state(j, id, &s) == 0 && ZRI_JS_STATUS(s) == ZR_JOB_PENDING &&
	    zri_js_begin(a, j, &s, ZR_JOB_DELAYED, ZRI_JS_ATTEMPT(s))) {
		uint64_t due = zri_now_ns() + 1000000;
		zri_st(&j->a_due_ns, due);
		zri_js_commit(a, j, ZR_JOB_DELAYED, a->self, ZRI_JS_ATTEMPT(s), 0);
		zri_jobs_due(a, due);
	}
}

/* Begin a holder's transition: the claim must still be ours. On success
 * *s is the BUSY word. A cancel request turns it into CANCELLED. */
static int begin_holder(zr_agent *ag, const zr_claim *c, struct zri_job **jp, uint64_t *sp,
			uint32_t status)
{
	zr_arena *a = ag->a;
	if (a->readonly)
		return ZR_EREADONLY;
	struct zri_job *j = zri_job_at(a, c->id, NULL);
	if (!j)
		return -EINVAL;
	for (;;) {
		uint64_t s;
		int rc = settled_state(j, c->id, &s);
		if (rc)
			return rc == -EAGAIN ? ZR_ELEASE : rc;
		if (ZRI_JS_STATUS(s) != ZR_JOB_PROCESSING || ZRI_JS_HOLDER(s) != ag->id ||
		    ZRI_JS_ATTEMPT(s) != (c->attempt & 0xffu))
			return ZR_ELEASE;
		bool cancel = ZRI_JS_FLAGS(s) & ZRI_JS_CANCEL;
		if (!zri_js_begin(a, j, &s, cancel ? ZR_JOB_CANCELLED : status, ZRI_JS_ATTEMPT(s)))
			continue;
		*jp = j;
		*sp = s;
		if (cancel) {
			zri_st(&j->a_finish_ns, zri_now_ns());
			zri_js_commit(a, j, ZR_JOB_CANCELLED, a->self, ZRI_JS_ATTEMPT(s), 0);
			zri_jc_add(a, ZRI_JC_CANCELLED, 1);
			return -ECANCELED;
		}
		return 0;
	}
}

static int complete_job(zr_agent *ag, const zr_claim *c, zr_payload result, uint64_t result_len)
{
	zr_arena *a = ag->a;
	if (result.v) {
		void *p;
		size_t size;
		int rc = zr_payload_resolve(a, result, &p, &size);
		if (rc)
			return rc == -EINVAL ? -EINVAL : ZR_ESTALE;
		if (result_len > size)
			return -EINVAL;
	} else if (result_len) {
		return -EINVAL;
	}
	struct zri_job *j;
	uint64_t s;
	int rc = begin_holder(ag, c, &j, &s, ZR_JOB_COMPLETED);
	if (rc)
		return rc;
	uint64_t now = zri_now_ns();
	zri_st(&j->a_result, result.v);
	zri_st(&j->a_result_len, result_len);
	zri_st(&j->a_finish_ns, now);
	if (result.v)
		ZRI_IGNORE(zr_payload_disown(a, result)); /* the job owns it now */
	uint64_t claimed = zri_ld(&j->a_claim_ns);
	zri_js_commit(a, j, ZR_JOB_COMPLETED, a->self, ZRI_JS_ATTEMPT(s), 0);
	zri_own_add(&ag->rec->a_completed, 1);
	zri_hist_add(ag->rec->a_complete_hist, now > claimed ? now - claimed : 0);
	return 0;
}

static int fail_job(zr_agent *ag, const zr_claim *c, const char *error, bool retry)
{
	zr_arena *a = ag->a;
	struct zri_job *j = zri_job_at(a, c->id, NULL);
	if (!j)
		return -EINVAL;
	uint64_t k = zri_ld(&j->a_kind);
	bool last = !retry || ZRI_KIND_RETRIES(k) + 1 > ZRI_KIND_MAXR(k);
	uint64_t s;
	int rc = begin_holder(ag, c, &j, &s, last ? ZR_JOB_FAILED : ZR_JOB_DELAYED);
	if (rc)
		return rc;
	uint64_t now = zri_now_ns();
	uint32_t status;
	if (retry) {
		status = zri_job_retry(a, j, error ? error : "failed", now);
	} else {
		k = zri_ld(&j->a_kind);
		zri_st(&j->a_kind, ZRI_KIND(ZRI_KIND_TYPE(k), ZRI_KIND_PRIO(k), ZRI_KIND_FLAGS(k),
					    ZRI_KIND_MAXR(k), ZRI_KIND_RETRIES(k) + 1));
		const char *e = error ? error : "failed";
		zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, e, strlen(e));
		zri_st(&j->a_finish_ns, now);
		zri_jc_add(a, ZRI_JC_DEAD_LETTERS, 1);
		status = ZR_JOB_FAILED;
	}
	zri_js_commit(a, j, status, a->self, ZRI_JS_ATTEMPT(s), 0);
	zri_own_add(&ag->rec->a_failed, 1);
	return 0;
}

int zr_job_extend(zr_agent *ag, const zr_claim *c, uint64_t lease_ns)
{
	struct zri_job *j;
	uint64_t s;
	int rc = begin_holder(ag, c, &j, &s, ZR_JOB_PROCESSING);
	if (rc)
		return rc;
	uint64_t due = zri_now_ns() + lease_ns;
	zri_st(&j->a_due_ns, due);
	zri_js_commit(ag->a, j, ZR_JOB_PROCESSING, ag->id, ZRI_JS_ATTEMPT(s), 0);
	zri_jobs_due(ag->a, due);
	return 0;
}

static int cancel_job(zr_arena *a, zr_job_id id)
{
	if (a->readonly)
		return ZR_EREADONLY;
	struct zri_job *j = zri_job_at(a, id, NULL);
	if (!j)
		return -EINVAL;
	for (;;) {
		uint64_t s;
		int rc = settled_state(j, id, &s);
		if (rc)
			return rc;
		uint32_t st = ZRI_JS_STATUS(s);
		if (zri_status_final(st))
			return -EALREADY;
		if (st == ZR_JOB_BUILDING)
			return ZR_ESTALE;
		if (st == ZR_JOB_PROCESSING) {
			/* acq_rel: a flag for the holder; relaxed on failure: retried */
			if (atomic_compare_exchange_strong_explicit(
				    &j->a_state, &s, s | ZRI_JS_CANCEL, memory_order_acq_rel,
				    memory_order_relaxed))
				return 1;
			continue;
		}
		/* PENDING or DELAYED: its queue entry, if any, is skipped later */
		if (!zri_js_begin(a, j, &s, ZR_JOB_CANCELLED, ZRI_JS_ATTEMPT(s)))
			continue;
		zri_st(&j->a_finish_ns, zri_now_ns());
		zri_js_commit(a, j, ZR_JOB_CANCELLED, a->self, ZRI_JS_ATTEMPT(s), 0);
		zri_jc_add(a, ZRI_JC_CANCELLED, 1);
		return 0;
	}
}

bool zr_job_cancel_requested(const zr_arena *a, const zr_claim *c)
{
	const struct zri_job *j = zri_job_at(a, c->id, NULL);
	if (!j)
		return false;
	/* relaxed: a poll; the complete/fail CAS is what decides */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_relaxed);
	return ZRI_JS_GEN(s) != ZRI_ID_GEN(c->id) || (ZRI_JS_FLAGS(s) & ZRI_JS_CANCEL) ||
	       ZRI_JS_STATUS(s) == ZR_JOB_CANCELLED;
}

void zri_job_remove(zr_arena *a, struct zri_job *j, uint32_t idx)
{
	if (a->journal)
		zri_jnl_job(a, j, ZR_JREC_RELEASE, ZR_JOB_FREE, 0, 0);
	zri_job_drop_payloads(a, j);
	/* relaxed: we hold BUSY; the CAS below re-reads waiters' flag */
	uint64_t cur = atomic_load_explicit(&j->a_state, memory_order_relaxed);
	uint32_t next = (ZRI_JS_GEN(cur) + 1) & 0xffffffu;
	/* release: the record is done with before it can be taken again (we
	 * stay its holder until it is on the free ring); relaxed on failure:
	 * a waiter added its flag, retry */
	while (!atomic_compare_exchange_weak_explicit(&j->a_state, &cur,
						      zri_js_make(next, 0, a->self, 0, ZR_JOB_FREE),
						      memory_order_release, memory_order_relaxed))
		;
	zri_js_wake(j, cur);
	zri_job_free_slot(a, idx, next);
	zri_jc_add(a, ZRI_JC_RELEASED, 1);
}

/* Begin moving job `id` from a status `from` accepts to `to` (BUSY held on
 * success, *sp the BUSY word); -EBUSY when its status is not accepted. */
static int begin_by_id(zr_arena *a, zr_job_id id, bool (*from)(uint32_t), uint32_t to,
		       struct zri_job **jp, uint32_t *idxp, uint64_t *sp)
{
	if (a->readonly)
		return ZR_EREADONLY;
	struct zri_job *j = zri_job_at(a, id, idxp);
	if (!j)
		return -EINVAL;
	for (;;) {
		uint64_t s;
		int rc = settled_state(j, id, &s);
		if (rc)
			return rc;
		if (!from(ZRI_JS_STATUS(s)))
			return -EBUSY;
		if (zri_js_begin(a, j, &s, to, to == ZR_JOB_FREE ? 0 : ZRI_JS_ATTEMPT(s))) {
			*jp = j;
			*sp = s;
			return 0;
		}
	}
}

static bool is_failed(uint32_t st)
{
	return st == ZR_JOB_FAILED;
}

static int release_job(zr_arena *a, zr_job_id id)
{
	struct zri_job *j;
	uint32_t idx;
	uint64_t s;
	int rc = begin_by_id(a, id, zri_status_final, ZR_JOB_FREE, &j, &idx, &s);
	if (rc == 0)
		zri_job_remove(a, j, idx);
	return rc;
}

static int requeue_job(zr_arena *a, zr_job_id id)
{
	struct zri_job *j;
	uint32_t idx;
	uint64_t s;
	int rc = begin_by_id(a, id, is_failed, ZR_JOB_PENDING, &j, &idx, &s);
	if (rc)
		return rc;
	uint64_t k = zri_ld(&j->a_kind);
	zri_st(&j->a_kind, ZRI_KIND(ZRI_KIND_TYPE(k), ZRI_KIND_PRIO(k), ZRI_KIND_FLAGS(k),
				    ZRI_KIND_MAXR(k), 0));
	zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, "", 0);
	zri_st(&j->a_finish_ns, 0);
	zri_job_publish_pending(a, j, idx, ZRI_JS_ATTEMPT(s));
	return 0;
}

int zr_job_get(const zr_arena *a, zr_job_id id, zr_job_info *out)
{
	uint32_t idx;
	if (!zri_job_at(a, id, &idx))
		return -EINVAL;
	return zri_job_snapshot(a, idx, ZRI_ID_GEN(id), true, out);
}

int zr_job_wait(zr_arena *a, zr_job_id id, int64_t timeout_ns, zr_job_info *out)
{
	uint32_t idx;
	struct zri_job *j = zri_job_at(a, id, &idx);
	if (!j)
		return -EINVAL;
	uint64_t start = zri_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
	uint64_t spin_until = start + ZRI_SPIN_BEFORE_SLEEP_NS;
	_Atomic uint32_t *futex = (_Atomic uint32_t *)(void *)&j->a_state;
	for (unsigned polls = 0;; polls++) {
		/* A1: pairs with R1 of commits */
		uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
		if (ZRI_JS_GEN(s) != ZRI_ID_GEN(id) || ZRI_JS_STATUS(s) == ZR_JOB_FREE)
			return ZR_ESTALE;
		if (zri_status_final(ZRI_JS_STATUS(s)) && !(ZRI_JS_FLAGS(s) & ZRI_JS_BUSY)) {
			if (!out)
				return 0;
			int rc = zri_job_snapshot(a, idx, ZRI_ID_GEN(id), true, out);
			if (rc != -EAGAIN)
				return rc;
			continue;
		}
		if (polls % 64 != 63 && !(ZRI_JS_FLAGS(s) & ZRI_JS_WAITERS)) {
			zri_cpu_relax(); /* the clock is read every 64 polls */
			continue;
		}
		uint64_t now = zri_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (now < spin_until)
			continue;
		if (!(ZRI_JS_FLAGS(s) & ZRI_JS_WAITERS)) {
			if (a->readonly) {
				zri_futex_wait(futex, (uint32_t)s, 1000000); /* cannot flag: poll */
				continue;
			}
			/* relaxed: the flag only asks the next commit for a wake; a
			 * failed CAS means the word moved: look again */
			if (!atomic_compare_exchange_strong_explicit(
				    &j->a_state, &s, s | ZRI_JS_WAITERS, memory_order_relaxed,
				    memory_order_relaxed))
				continue;
			s |= ZRI_JS_WAITERS;
		}
		int64_t left = deadline == UINT64_MAX ? -1 : (int64_t)(deadline - now);
		/* a BUSY writer that died never wakes us: look again now and then */
		if (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY && (left < 0 || left > 10000000))
			left = 10000000;
		int rc = zri_futex_wait(futex, (uint32_t)s, left);
		if (rc == -EINTR)
			return rc;
	}
}

int zr_job_payload_read(const zr_arena *a, const zr_claim *c, void *dst, size_t cap, size_t *len)
{
	if (!c->data) {
		*len = 0;
		return c->len ? ZR_ESTALE : 0;
	}
	if (!(c->flags & ZR_JOBF_COMPRESSED)) {
		*len = c->len;
		if (cap < c->len)
			return -ENOBUFS;
		memcpy(dst, c->data, c->len);
		return 0;
	}
	(void)a;
	unsigned long long n = ZSTD_getFrameContentSize(c->data, c->len);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
		return ZR_ECORRUPT;
	*len = (size_t)n;
	if (cap < n)
		return -ENOBUFS;
	size_t got = ZSTD_decompress(dst, cap, c->data, c->len);
	if (ZSTD_isError(got) || got != n)
		return ZR_ECORRUPT;
	return 0;
}

/* ---- under SYNC durability, a change returns once its record is durable ---- */

int zr_job_complete(zr_agent *ag, const zr_claim *c, zr_payload result, uint64_t result_len)
{
	int rc = complete_job(ag, c, result, result_len);
	return rc ? rc : zri_jnl_sync(ag->a);
}

int zr_job_fail(zr_agent *ag, const zr_claim *c, const char *error, bool retry)
{
	int rc = fail_job(ag, c, error, retry);
	return rc ? rc : zri_jnl_sync(ag->a);
}

int zr_job_cancel(zr_arena *a, zr_job_id id)
{
	int rc = cancel_job(a, id);
	int s = rc >= 0 ? zri_jnl_sync(a) : 0;
	return s ? s : rc;
}

int zr_job_release(zr_arena *a, zr_job_id id)
{
	int rc = release_job(a, id);
	return rc ? rc : zri_jnl_sync(a);
}

int zr_job_requeue(zr_arena *a, zr_job_id id)
{
	int rc = requeue_job(a, id);
	return rc ? rc : zri_jnl_sync(a);
}
