/* Reading the job table: lists, statistics and names (for tools, tests and
 * the demo). Everything here works on a read-only attachment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job_impl.h"

static bool matches(const zr_job_info *j, const zr_job_filter *f)
{
	if (f->status_mask ? !(f->status_mask & (1u << j->status)) : j->status == ZR_JOB_FREE)
		return false;
	if (f->prio_mask && !(f->prio_mask & (1u << j->prio)))
		return false;
	if (f->agent && j->source != f->agent && j->target != f->agent && j->holder != f->agent)
		return false;
	return true;
}

static int by_prio_then_age(const void *x, const void *y)
{
	const zr_job_info *a = x, *b = y;
	if (a->prio != b->prio)
		return a->prio < b->prio ? -1 : 1;
	return a->submit_ns < b->submit_ns ? -1 : a->submit_ns > b->submit_ns;
}

int zr_jobs_list(const zr_arena *a, const zr_job_filter *f_in, zr_job_info *out, size_t cap,
		 size_t *n)
{
	zr_job_filter f = {0};
	if (f_in)
		f = *f_in;
	zr_job_info *all = malloc((size_t)a->max_jobs * sizeof(*all));
	if (!all)
		return -ENOMEM;
	size_t found = 0;
	for (uint32_t i = 0; i < a->max_jobs; i++) {
		/* relaxed: a quick filter; the snapshot below is the consistent read */
		uint64_t s = atomic_load_explicit(&a->jobs[i].a_state, memory_order_relaxed);
		if (ZRI_JS_STATUS(s) == ZR_JOB_FREE && !(f.status_mask & 1u))
			continue;
		if (zri_job_snapshot(a, i, 0, false, &all[found]) == 0 && matches(&all[found], &f))
			found++;
	}
	qsort(all, found, sizeof(*all), by_prio_then_age);
	memcpy(out, all, (found < cap ? found : cap) * sizeof(*out));
	free(all);
	*n = found;
	return 0;
}

void zr_jobs_stat(const zr_arena *a, zr_jobs_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->max_jobs = a->max_jobs;
	o->max_agents = a->max_agents;
	for (uint32_t i = 0; i < a->max_jobs; i++) {
		const struct zri_job *j = &a->jobs[i];
		/* relaxed: counts of a moving table; each word is read once */
		uint64_t s = atomic_load_explicit(&j->a_state, memory_order_relaxed);
		uint32_t st = ZRI_JS_STATUS(s);
		if (st >= ZR_JOB_STATUS_COUNT)
			continue;
		o->by_status[st]++;
		if (st == ZR_JOB_FREE || st == ZR_JOB_BUILDING)
			continue;
		uint32_t prio = ZRI_KIND_PRIO(zri_ld(&j->a_kind));
		if (prio < ZR_PRIO_COUNT)
			o->by_status_prio[st][prio]++;
		if (st == ZR_JOB_PENDING && prio < ZR_PRIO_COUNT)
			o->pending_by_prio[prio]++;
		o->bytes_stored += zri_ld(&j->a_payload_len) + zri_ld(&j->a_result_len);
	}
	const _Atomic uint64_t *c = a->jctl->a_counter;
	o->submitted = zri_ld(&c[ZRI_JC_SUBMITTED]);
	o->submitted_bytes = zri_ld(&c[ZRI_JC_SUBMITTED_BYTES]);
	o->claimed = zri_ld(&c[ZRI_JC_CLAIMED]);
	o->completed = zri_ld(&c[ZRI_JC_COMPLETED]);
	o->failed = zri_ld(&c[ZRI_JC_FAILED]);
	o->stale = zri_ld(&c[ZRI_JC_STALE]);
	o->dead_letters = zri_ld(&c[ZRI_JC_DEAD_LETTERS]);
	o->cancelled = zri_ld(&c[ZRI_JC_CANCELLED]);
	o->expired = zri_ld(&c[ZRI_JC_EXPIRED]);
	o->retried = zri_ld(&c[ZRI_JC_RETRIED]);
	o->lease_expired = zri_ld(&c[ZRI_JC_LEASE_EXPIRED]);
	o->recovered = zri_ld(&c[ZRI_JC_RECOVERED]);
	o->released = zri_ld(&c[ZRI_JC_RELEASED]);
	o->full = zri_ld(&c[ZRI_JC_FULL]);
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++)
		o->submitted_by_prio[p] = zri_ld(&c[ZRI_JC_SUBMITTED_PRIO + p]);
	for (uint32_t i = 0; i < a->max_agents; i++) {
		const struct zri_agent *r = &a->agents[i];
		o->submitted += zri_ld(&r->a_submitted);
		o->submitted_bytes += zri_ld(&r->a_submitted_bytes);
		o->claimed += zri_ld(&r->a_claimed);
		o->completed += zri_ld(&r->a_completed);
		o->failed += zri_ld(&r->a_failed);
		o->stale += zri_ld(&r->a_stale);
		for (unsigned p = 0; p < ZR_PRIO_COUNT; p++)
			o->submitted_by_prio[p] += zri_ld(&r->a_submitted_prio[p]);
		zr_hist h;
		zri_hist_load(r->a_claim_hist, &h);
		zr_hist_merge(&o->claim_latency, &h);
		zri_hist_load(r->a_complete_hist, &h);
		zr_hist_merge(&o->complete_latency, &h);
	}
}

const char *zr_job_status_name(uint32_t s)
{
	static const char *const names[] = {"free",	  "building",  "pending",
					    "processing", "completed", "failed",
					    "cancelled",  "expired",   "delayed"};
	return s < ZR_JOB_STATUS_COUNT ? names[s] : "invalid";
}

const char *zr_job_type_name(uint32_t t)
{
	static const char *const names[] = {"invalid", "compute", "data_transfer", "model_update",
					    "query",   "control", "custom"};
	return t <= ZR_JOB_CUSTOM ? names[t] : "invalid";
}

const char *zr_prio_name(uint32_t p)
{
	static const char *const names[] = {"critical", "high", "normal", "low"};
	return p < ZR_PRIO_COUNT ? names[p] : "invalid";
}
