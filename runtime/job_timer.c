/* Time-driven changes: delays and retry backoff, leases, TTL expiry,
 * removal of old final jobs, recurring schedules, and the reaper thread.
 *
 * The timer structure is the records themselves (each holds its due time)
 * plus one word, a_next_due, the earliest due time any of them may have.
 * The hint may be early, never late: writers lower it when they set a due
 * time, and a tick sets it to now + 1 s before scanning and lowers it again
 * to what it found, so even a ticker that dies mid-scan delays timers by a
 * second at most. Checking it is one load on the claim path. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "job_impl.h"

#define TICK_SAFETY_NS 1000000000ull /* longest wait between two scans */
#define TICK_HOLD_NS 100000000ull    /* a tick older than this is presumed dead */

static void expire_one(zr_arena *a, struct zri_job *j, uint64_t s, uint64_t now, zr_tick_report *r)
{
	if (!zri_js_begin(a, j, &s, ZR_JOB_EXPIRED, ZRI_JS_ATTEMPT(s)))
		return;
	zri_job_drop_payloads(a, j); /* a job not yet run has no result */
	zri_st(&j->a_finish_ns, now);
	zri_js_commit(a, j, ZR_JOB_EXPIRED, a->self, ZRI_JS_ATTEMPT(s), 0);
	zri_jc_add(a, ZRI_JC_EXPIRED, 1);
	r->expired++;
}

static uint64_t min_u64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

/* One record; returns when it next needs the timer (UINT64_MAX: never). */
static uint64_t tick_one(zr_arena *a, uint32_t idx, uint64_t now, zr_tick_report *r)
{
	struct zri_job *j = &a->jobs[idx];
	/* A1: pairs with R1 of commits: the due times of this state are visible */
	uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
	uint32_t st = ZRI_JS_STATUS(s);
	if (st == ZR_JOB_FREE || st == ZR_JOB_BUILDING)
		return UINT64_MAX;
	if (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY)
		return now + 10000000; /* look again soon; recovery settles dead writers */
	uint64_t expire = zri_ld(&j->a_expire_ns);
	uint64_t due = zri_ld(&j->a_due_ns);
	uint32_t flags = ZRI_KIND_FLAGS(zri_ld(&j->a_kind));
	switch (st) {
	case ZR_JOB_PENDING:
		if (expire <= now) {
			expire_one(a, j, s, now, r);
			return now + ZR_JOB_LINGER_NS;
		}
		return expire;
	case ZR_JOB_DELAYED:
		if (expire <= now) {
			expire_one(a, j, s, now, r);
			return now + ZR_JOB_LINGER_NS;
		}
		if (due > now)
			return min_u64(due, expire);
		if (flags & ZR_JOBF_RECURRING) {
			uint64_t every = zri_ld(&j->a_interval_ns);
			uint64_t next = due + every;
			if (next <= now)
				next = now + every; /* runs missed while nobody ticked */
			if (!zri_js_begin(a, j, &s, ZR_JOB_DELAYED, ZRI_JS_ATTEMPT(s)))
				return now;
			zri_st(&j->a_due_ns, next);
			zri_js_commit(a, j, ZR_JOB_DELAYED, a->self, ZRI_JS_ATTEMPT(s), 0);
			if (zri_job_spawn(a, j) == 0)
				r->recurring_runs++;
			return next;
		}
		if (zri_js_begin(a, j, &s, ZR_JOB_PENDING, ZRI_JS_ATTEMPT(s))) {
			zri_job_publish_pending(a, j, idx, ZRI_JS_ATTEMPT(s));
			r->due++;
		}
		return now + 1000000; /* a full queue puts it back in DELAYED */
	case ZR_JOB_PROCESSING: {
		if (due > now)
			return due;
		uint64_t k = zri_ld(&j->a_kind);
		bool last = ZRI_KIND_RETRIES(k) + 1 > ZRI_KIND_MAXR(k);
		if (!zri_js_begin(a, j, &s, last ? ZR_JOB_FAILED : ZR_JOB_PENDING,
				  ZRI_JS_ATTEMPT(s)))
			return now;
		zri_jc_add(a, ZRI_JC_LEASE_EXPIRED, 1);
		r->lease_expired++;
		zri_job_requeue_now(a, j, idx, ZRI_JS_ATTEMPT(s), "lease expired");
		return now + 1000000;
	}
	case ZR_JOB_COMPLETED:
	case ZR_JOB_CANCELLED:
	case ZR_JOB_EXPIRED: {
		uint64_t fin = zri_ld(&j->a_finish_ns);
		uint64_t gone = fin + ZR_JOB_LINGER_NS;
		if (expire != UINT64_MAX && expire > gone)
			gone = expire;
		if (gone > now)
			return gone;
		if (zri_js_begin(a, j, &s, ZR_JOB_FREE, 0)) {
			zri_job_remove(a, j, idx);
			r->removed++;
		}
		return UINT64_MAX;
	}
	default: /* FAILED stays on the dead-letter list until released */ return UINT64_MAX;
	}
}

int zr_jobs_tick(zr_arena *a, zr_tick_report *rep)
{
	if (a->readonly)
		return ZR_EREADONLY;
	zr_tick_report r = {0};
	uint64_t now = zri_now_ns();
	struct zri_jobs_ctl *c = a->jctl;
	/* relaxed: only spreads the work; two ticks at once are merely wasteful */
	uint64_t t = atomic_load_explicit(&c->a_tick_ns, memory_order_relaxed);
	if ((t && now - t < TICK_HOLD_NS) ||
	    !atomic_compare_exchange_strong_explicit(&c->a_tick_ns, &t, now, memory_order_relaxed,
						     memory_order_relaxed))
		return 0;
	/* acq_rel: the value we replace was written by a submitter after its
	 * record (release sequence), so the scan below sees that record */
	atomic_exchange_explicit(&c->a_next_due, now + TICK_SAFETY_NS, memory_order_acq_rel);
	uint64_t next = UINT64_MAX;
	for (uint32_t i = 0; i < a->max_jobs; i++)
		next = min_u64(next, tick_one(a, i, now, &r));
	zri_jobs_due(a, next);
	/* relaxed: see above */
	atomic_store_explicit(&c->a_tick_ns, 0, memory_order_relaxed);
	if (rep) {
		rep->due += r.due;
		rep->recurring_runs += r.recurring_runs;
		rep->lease_expired += r.lease_expired;
		rep->expired += r.expired;
		rep->removed += r.removed;
		rep->requeued += r.requeued;
	}
	return 0;
}

/* ---- the reaper thread ------------------------------------------------------ */

struct zr_reaper {
	zr_arena *a;
	uint64_t interval_ns;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	zr_tick_report ticks;
	zr_jobs_recover_report rec;
};

static void *reaper_main(void *arg)
{
	zr_reaper *r = arg;
	uint64_t last_recover = 0;
	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		pthread_mutex_unlock(&r->lock);
		uint64_t now = zri_now_ns();
		if (now - last_recover >= r->interval_ns) {
			ZRI_IGNORE(zr_jobs_recover(r->a, &r->rec));
			last_recover = now;
		}
		ZRI_IGNORE(zr_jobs_tick(r->a, &r->ticks));
		/* relaxed: a hint */
		uint64_t due = atomic_load_explicit(&r->a->jctl->a_next_due, memory_order_relaxed);
		now = zri_now_ns();
		uint64_t wake = min_u64(last_recover + r->interval_ns, due);
		if (wake < now + 100000)
			wake = now + 100000; /* at most one pass per 100 us */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t abs_ns =
			(uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + (wake - now);
		ts.tv_sec = (time_t)(abs_ns / 1000000000ull);
		ts.tv_nsec = (long)(abs_ns % 1000000000ull);
		pthread_mutex_lock(&r->lock);
		if (!r->stop)
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int zr_reaper_start(zr_arena *a, uint64_t interval_ns, zr_reaper **out)
{
	if (!a || !out || interval_ns == 0)
		return -EINVAL;
	if (a->readonly)
		return ZR_EREADONLY;
	zr_reaper *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->a = a;
	r->interval_ns = interval_ns;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->lock, NULL);
	int e = pthread_create(&r->thread, NULL, reaper_main, r);
	if (e) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return -e;
	}
	*out = r;
	return 0;
}

void zr_reaper_stop(zr_reaper *r, zr_tick_report *ticks, zr_jobs_recover_report *rec)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	if (ticks)
		*ticks = r->ticks;
	if (rec)
		*rec = r->rec;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
