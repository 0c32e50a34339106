/* runtime/arena_check.c: the invariant walk of a whole arena, for
 * zr_arena_check_each() and zr_arena_check().
 *
 * Every check reads live shared memory that writers keep changing, through
 * what may be a read-only mapping: it takes no lock, never sleeps, never
 * waits for a writer, and reports only states that no writer produces at
 * any instant. Words are checked alone where that is enough; where a check
 * relates several words (a job's state and its fields, an agent's status
 * and its identity), they are read between two loads of the word that
 * publishes them and nothing is said if that word moved meanwhile.
 * Nothing read is trusted: indices and owner ids are range-checked before
 * use, and every walk has a fixed bound (the table sizes bound at open).
 *
 * Synchronisation map (all reads):
 *   A1 agents: acquire load of a_word, pairs with the release store of ALIVE
 *      in agent.c: the identity of a registered agent is written.
 *   A2 jobs: acquire load of a_state, pairs with the release commits of
 *      job_core.c and job_submit.c: the fields of that state are written.
 *   F1 acquire fences before re-reading those words: a reader that saw a
 *      field rewritten later sees the word change too (pairs with the fence
 *      after BUSY in zri_js_begin(), and with the claim of an agent slot). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "job_impl.h"

#define ZRI_PID_LIMIT 4194304u /* PID_MAX_LIMIT on 64-bit Linux */

/* ---- process table -------------------------------------------------------- */

static void check_procs(const zr_arena *a, struct zri_sink *s)
{
	char where[64];
	zri_sink_part(s);
	for (uint32_t i = 0; i < a->max_procs && !s->stop; i++) {
		const struct zri_proc *p = &a->procs[i];
		/* relaxed: each word is checked alone; nothing it publishes is read */
		uint64_t w = atomic_load_explicit(&p->a_word, memory_order_relaxed);
		uint32_t st = ZRI_PROC_STATE(w), pid = ZRI_PROC_PID(w);
		snprintf(where, sizeof(where), "process slot %u", i);
		if (st > ZRI_PROC_ACTIVE)
			zri_sink_report(s, "procs", where, &p->a_word,
					"slot word %#" PRIx64
					" has state %u (FREE or ACTIVE expected)",
					w, st);
		else if (st == ZRI_PROC_FREE && pid != 0)
			zri_sink_report(s, "procs", where, &p->a_word,
					"FREE slot word %#" PRIx64 " still names pid %u", w, pid);
		else if (st == ZRI_PROC_ACTIVE && (pid == 0 || pid > ZRI_PID_LIMIT))
			zri_sink_report(s, "procs", where, &p->a_word,
					"ACTIVE slot word %#" PRIx64 " names pid %u, not a pid", w,
					pid);
	}
	zri_sink_part_end(s, "procs", "process table", "table");
}

/* ---- rings not in the directory ------------------------------------------- */

static void check_free_rings(const zr_arena *a, struct zri_sink *s)
{
	char where[64];
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES && !s->stop; c++) {
		if (!a->classes[c].nblocks)
			continue;
		snprintf(where, sizeof(where), "ring slab-free (size class %u)", c);
		zri_ring_check(&a->classes[c].free_ring, where, s);
	}
	if (!s->stop)
		zri_ring_check(&a->job_free, "ring job-free", s);
}

/* ---- agents ---------------------------------------------------------------- */

#define AGENT_WORD_BITS (0xffffffULL << 32 | 0xffULL << 24 | ZRI_OWNER_MASK)

/* Identity of an ALIVE or DEAD agent, copied while a_word stays `w`
 * (a successor rewrites it while JOINING). False when it moved. */
static bool agent_identity(const struct zri_agent *r, uint64_t w, char *name, uint32_t *kind,
			   uint32_t *on_death)
{
	memcpy(name, r->name, ZR_AGENT_NAME_MAX + 1);
	*kind = r->kind;
	*on_death = r->on_death;
	/* F1: acquire fence: the copies above happen before the re-read */
	atomic_thread_fence(memory_order_acquire);
	/* relaxed: ordered by the fence (seqlock reader) */
	return atomic_load_explicit(&r->a_word, memory_order_relaxed) == w;
}

static void check_agent(const zr_arena *a, uint32_t i, struct zri_sink *s)
{
	const struct zri_agent *r = &a->agents[i];
	char where[64], name[ZR_AGENT_NAME_MAX + 1];
	uint32_t kind, on_death;
	snprintf(where, sizeof(where), "agent %u", i);
	/* A1: pairs with R1 in agent.c: a registered agent's identity is written */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
	uint32_t st = ZRI_AGENT_STATUS(w), owner = ZRI_AGENT_OWNER(w);
	if (w & ~AGENT_WORD_BITS)
		zri_sink_report(s, "agents", where, &r->a_word,
				"agent word %#" PRIx64 " has bits outside gen, status and owner",
				w);
	else if (st > ZRI_AGENT_JOINING)
		zri_sink_report(s, "agents", where, &r->a_word,
				"agent word %#" PRIx64 " has status %u (0..3 expected)", w, st);
	else if (owner && zri_owner_idx(owner) >= a->max_procs)
		zri_sink_report(s, "agents", where, &r->a_word,
				"owner %#x is beyond the %u process slots", owner, a->max_procs);
	else if (st != ZRI_AGENT_FREE && owner == 0)
		zri_sink_report(s, "agents", where, &r->a_word,
				"agent in status %u names no owner process", st);
	else if ((st == ZRI_AGENT_ALIVE || st == ZRI_AGENT_DEAD) &&
		 agent_identity(r, w, name, &kind, &on_death)) {
		if (!memchr(name, '\0', sizeof(name)))
			zri_sink_report(s, "agents", where, r->name, "name is not NUL-terminated");
		else if (kind != ZR_AGENT_CPU && kind != ZR_AGENT_GPU)
			zri_sink_report(s, "agents", where, &r->kind, "agent %s has kind %u", name,
					kind);
		else if (on_death > ZR_ON_DEATH_TO_SHARED)
			zri_sink_report(s, "agents", where, &r->on_death,
					"agent %s has on_death %u", name, on_death);
	}
}

static void check_agents(const zr_arena *a, struct zri_sink *s)
{
	zri_sink_part(s);
	for (uint32_t i = 0; i < a->max_agents && !s->stop; i++)
		check_agent(a, i, s);
	zri_sink_part_end(s, "agents", "agent table", "table");
}

/* ---- jobs ------------------------------------------------------------------ */

static bool agent_id_ok(const zr_arena *a, uint32_t id)
{
	return id == 0 || zri_agent_idx(id) < a->max_agents;
}

/* The state word alone: a status, known flags, and a holder that names a
 * process slot (an agent slot while PROCESSING and not BUSY). */
static bool check_job_word(const zr_arena *a, const struct zri_job *j, uint64_t w,
			   const char *where, struct zri_sink *s)
{
	uint32_t st = ZRI_JS_STATUS(w), fl = ZRI_JS_FLAGS(w), holder = ZRI_JS_HOLDER(w);
	bool busy = fl & ZRI_JS_BUSY;
	const char *bad = NULL;
	if (st >= ZR_JOB_STATUS_COUNT)
		bad = "has an unknown status";
	else if ((fl & ~(uint32_t)(ZRI_JS_BUSY | ZRI_JS_WAITERS | ZRI_JS_CANCEL)) || (w >> 30 & 3u))
		bad = "has bits set outside its fields";
	else if (st == ZR_JOB_PROCESSING && !busy &&
		 (holder == 0 || zri_agent_idx(holder) >= a->max_agents))
		bad = "is PROCESSING but its holder names no agent slot";
	else if ((st != ZR_JOB_PROCESSING || busy) && holder &&
		 zri_owner_idx(holder) >= a->max_procs)
		bad = "names a holder beyond the process table";
	if (bad)
		zri_sink_report(s, "jobs", where, &j->a_state,
				"state %#" PRIx64 " (status %u, holder %#x) %s", w, st, holder,
				bad);
	return !bad;
}

/* The fields of a job that is submitted and not being written. */
static void check_job_fields(const zr_arena *a, const struct zri_job *j, uint64_t k, uint64_t ag,
			     const char *where, struct zri_sink *s)
{
	uint32_t type = ZRI_KIND_TYPE(k), prio = ZRI_KIND_PRIO(k);
	uint32_t source = (uint32_t)ag, target = (uint32_t)(ag >> 32);
	if (type < ZR_JOB_COMPUTE || type > ZR_JOB_CUSTOM || prio >= ZR_PRIO_COUNT)
		zri_sink_report(s, "jobs", where, &j->a_kind,
				"kind %#" PRIx64 ": type %u (1..6 expected), priority %u (0..3)", k,
				type, prio);
	else if (!agent_id_ok(a, source) || !agent_id_ok(a, target))
		zri_sink_report(s, "jobs", where, &j->a_agents,
				"source %#x or target %#x is beyond the %u agent slots", source,
				target, a->max_agents);
}

static void check_job(const zr_arena *a, uint32_t i, struct zri_sink *s)
{
	const struct zri_job *j = &a->jobs[i];
	char where[64];
	snprintf(where, sizeof(where), "job %u", i);
	for (int tries = 0; tries < 4; tries++) {
		/* A2: pairs with R1 of the commits: the fields of this state are written */
		uint64_t s1 = atomic_load_explicit(&j->a_state, memory_order_acquire);
		if (!check_job_word(a, j, s1, where, s))
			return;
		uint32_t st = ZRI_JS_STATUS(s1);
		if ((ZRI_JS_FLAGS(s1) & ZRI_JS_BUSY) || st == ZR_JOB_FREE || st == ZR_JOB_BUILDING)
			return; /* fields in the making: nothing to hold them to */
		uint64_t k = zri_ld(&j->a_kind), ag = zri_ld(&j->a_agents);
		/* F1: acquire fence, pairs with F1 in zri_js_begin(): a field written
		 * by a later writer comes with its BUSY state in the re-read */
		atomic_thread_fence(memory_order_acquire);
		/* relaxed: ordered by the fence above */
		uint64_t s2 = atomic_load_explicit(&j->a_state, memory_order_relaxed);
		if ((s1 & ~(uint64_t)ZRI_JS_WAITERS) == (s2 & ~(uint64_t)ZRI_JS_WAITERS)) {
			check_job_fields(a, j, k, ag, where, s);
			return;
		}
	}
	/* changed under us four times: busy, not broken */
}

static void check_jobs(const zr_arena *a, struct zri_sink *s)
{
	zri_sink_part(s);
	for (uint32_t i = 0; i < a->max_jobs && !s->stop; i++)
		check_job(a, i, s);
	zri_sink_part_end(s, "jobs", "job table", "table");
}

/* ---- the walk ---------------------------------------------------------------- */

static void walk(const zr_arena *a, struct zri_sink *s)
{
	zr_diag d = {0};
	if (zri_header_validate(a->hdr, a->size, &d) != 0) {
		zri_sink_report(s, "header", "header", a->base, "%s", d.msg);
		return; /* the sections themselves are in doubt */
	}
	check_procs(a, s);
	if (!s->stop)
		zri_ringdir_check(a, s);
	if (!s->stop)
		check_free_rings(a, s);
	if (!s->stop)
		zri_slab_check(a, s);
	if (!s->stop)
		zri_large_check(a, s);
	if (!s->stop)
		check_agents(a, s);
	if (!s->stop)
		check_jobs(a, s);
}

size_t zr_arena_check_each(const zr_arena *a, zr_violation_fn fn, void *ctx)
{
	struct zri_sink s;
	memset(&s, 0, sizeof(s));
	s.base = a->base;
	s.size = a->size;
	s.max_procs = a->max_procs;
	s.fn = fn;
	s.ctx = ctx;
	walk(a, &s);
	return s.found;
}

int zr_arena_check(const zr_arena *a, zr_diag *diag)
{
	struct zri_sink s;
	zri_sink_diag(&s, a->base, a->size, a->max_procs, diag);
	walk(a, &s);
	return s.found ? ZR_ECORRUPT : 0;
}
