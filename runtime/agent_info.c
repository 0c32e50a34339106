/* Agents: leaving, and reading the agent table (for tools and tests). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job_impl.h"

/* Give back the jobs `ag` holds in processing (retry count unchanged). */
static void release_held(zr_agent *ag)
{
	zr_arena *a = ag->a;
	for (uint32_t i = 0; i < a->max_jobs; i++) {
		struct zri_job *j = &a->jobs[i];
		/* A1: pairs with R1 of commits */
		uint64_t s = atomic_load_explicit(&j->a_state, memory_order_acquire);
		if (ZRI_JS_STATUS(s) != ZR_JOB_PROCESSING || (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY) ||
		    ZRI_JS_HOLDER(s) != ag->id)
			continue;
		if (zri_js_begin(a, j, &s, ZR_JOB_PENDING, ZRI_JS_ATTEMPT(s)))
			zri_job_publish_pending(a, j, i, ZRI_JS_ATTEMPT(s));
	}
}

void zr_agent_unregister(zr_agent *ag)
{
	if (!ag)
		return;
	zr_arena *a = ag->a;
	struct zri_agent *r = ag->rec;
	/* relaxed: our own slot */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_relaxed);
	uint32_t gen = ZRI_AGENT_GEN(w);
	bool ours =
		ZRI_AGENT_STATUS(w) == ZRI_AGENT_ALIVE && zri_owner_make(ag->idx, gen) == ag->id;
	if (ours) {
		/* DEAD first: new jobs for us go where on_death says while we leave */
		uint64_t dead = zri_agent_word(gen, ZRI_AGENT_DEAD, ZRI_AGENT_OWNER(w));
		/* acq_rel: as registration; relaxed on failure: recovery got there */
		ours = atomic_compare_exchange_strong_explicit(
			&r->a_word, &w, dead, memory_order_acq_rel, memory_order_relaxed);
	}
	if (ours) {
		release_held(ag);
		if (r->on_death == ZR_ON_DEATH_TO_SHARED) {
			zr_jobs_recover_report rep = {0};
			ZRI_IGNORE(zr_jobs_recover(a, &rep));
		}
		uint64_t dead = zri_agent_word(gen, ZRI_AGENT_DEAD, ZRI_AGENT_OWNER(w));
		/* release: our last writes to the slot come before it can be reused;
		 * relaxed on failure: recovery freed it first */
		atomic_compare_exchange_strong_explicit(&r->a_word, &dead,
							zri_agent_word(gen, ZRI_AGENT_FREE, 0),
							memory_order_release, memory_order_relaxed);
	}
	zr_inbox_close(ag->inbox);
	free(ag);
}

static void copy_text(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n - 1] = 0;
}

static void fill_info(const zr_arena *a, uint32_t i, uint64_t w, zr_agent_info *out)
{
	const struct zri_agent *r = &a->agents[i];
	memset(out, 0, sizeof(*out));
	out->id = zri_owner_make(i, ZRI_AGENT_GEN(w));
	out->status = ZRI_AGENT_STATUS(w);
	if (out->status == ZRI_AGENT_ALIVE && !zri_agent_alive(a, out->id))
		out->status = ZR_AGENT_DEAD; /* judged now, before recovery marks it */
	out->owner = ZRI_AGENT_OWNER(w);
	out->kind = r->kind;
	out->on_death = r->on_death;
	out->pid = r->pid;
	out->tid = r->tid;
	out->registered_ns = r->registered_ns;
	/* relaxed: single values, informational */
	out->heartbeat_ns = atomic_load_explicit(&r->a_heartbeat_ns, memory_order_relaxed);
	out->heartbeat_timeout_ns =
		atomic_load_explicit(&r->a_heartbeat_timeout_ns, memory_order_relaxed);
	out->dead_ns = atomic_load_explicit(&r->a_dead_ns, memory_order_relaxed);
	copy_text(out->name, r->name, sizeof(out->name));
	copy_text(out->caps, r->caps, sizeof(out->caps));
	for (int tries = 0; tries < 100; tries++) {
		/* acquire: pairs with the release in zr_agent_set_place() */
		uint32_t s1 = atomic_load_explicit(&r->a_seq, memory_order_acquire);
		out->place.numa_node = r->place_node;
		out->place.ncpus = r->place_ncpus;
		copy_text(out->place.cpus, r->place_cpus, sizeof(out->place.cpus));
		copy_text(out->place.note, r->place_note, sizeof(out->place.note));
		/* acquire fence: pairs with the writer's release fence */
		atomic_thread_fence(memory_order_acquire);
		/* relaxed: ordered by the fence (seqlock reader) */
		if (!(s1 & 1) && atomic_load_explicit(&r->a_seq, memory_order_relaxed) == s1)
			break;
	}
	out->submitted = zri_ld(&r->a_submitted);
	out->claimed = zri_ld(&r->a_claimed);
	out->completed = zri_ld(&r->a_completed);
	out->failed = zri_ld(&r->a_failed);
	out->stale = zri_ld(&r->a_stale);
	zr_inbox *ib = zri_agent_inbox((zr_arena *)a, out->id);
	out->inbox_depth = ib ? zr_inbox_count(ib) : 0;
}

int zr_agent_get(const zr_arena *a, uint32_t id, zr_agent_info *out)
{
	uint64_t w;
	if (id == 0 || zri_agent_idx(id) >= a->max_agents)
		return -EINVAL;
	if (!zri_agent_rec(a, id, &w) || ZRI_AGENT_STATUS(w) == ZRI_AGENT_FREE ||
	    ZRI_AGENT_STATUS(w) == ZRI_AGENT_JOINING)
		return ZR_ESTALE;
	fill_info(a, zri_agent_idx(id), w, out);
	return 0;
}

void zr_agent_list(const zr_arena *a, unsigned mask, zr_agent_info *out, size_t cap, size_t *n)
{
	size_t found = 0;
	for (uint32_t i = 0; i < a->max_agents; i++) {
		/* A1: pairs with R1 in agent.c */
		uint64_t w = atomic_load_explicit(&a->agents[i].a_word, memory_order_acquire);
		uint32_t st = ZRI_AGENT_STATUS(w);
		if (st != ZRI_AGENT_ALIVE && st != ZRI_AGENT_DEAD)
			continue;
		zr_agent_info info;
		fill_info(a, i, w, &info);
		if (mask && !(mask & (1u << info.status)))
			continue;
		if (found < cap)
			out[found] = info;
		found++;
	}
	*n = found;
}

void zr_agent_hist(const zr_arena *a, uint32_t id, zr_hist *claim, zr_hist *complete)
{
	if (claim)
		memset(claim, 0, sizeof(*claim));
	if (complete)
		memset(complete, 0, sizeof(*complete));
	const struct zri_agent *r = zri_agent_rec(a, id, NULL);
	if (!r)
		return;
	if (claim)
		zri_hist_load(r->a_claim_hist, claim);
	if (complete)
		zri_hist_load(r->a_complete_hist, complete);
}
