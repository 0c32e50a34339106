/* Taking a snapshot of an arena and judging it: see snapshot.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

#define MAX_OWNERS 256
#define PEEK_AHEAD 8 /* entries looked at to find the oldest live job */

bool snap_is_jobs_inbox(const char *name)
{
	return !strcmp(name, "zr.shared") || !strncmp(name, "zr.in.", 6);
}

/* Submission age of the oldest job still queued at this level. */
static uint64_t oldest_job_age(zr_arena *a, zr_ring *level, uint64_t now)
{
	uint64_t ids[PEEK_AHEAD];
	unsigned n = zr_ring_peek(level, ids, PEEK_AHEAD);
	for (unsigned i = 0; i < n; i++) {
		zr_job_info j;
		/* entries of cancelled or expired jobs stay until a claimer skips them */
		if (zr_job_get(a, ids[i], &j) == 0 && j.status == ZR_JOB_PENDING && j.submit_ns)
			return now > j.submit_ns ? now - j.submit_ns : 1;
	}
	return 0;
}

static void take_ring(zr_arena *a, struct snap_ring *r, uint64_t now)
{
	if (r->e.inbox) {
		zr_inbox *ib = NULL;
		if (zr_inbox_open(a, r->e.name, &ib)) {
			r->bad = true;
			return;
		}
		r->jobs_inbox = snap_is_jobs_inbox(r->e.name);
		for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
			zr_ring *lv = zr_inbox_level(ib, p);
			zr_ring_stat(lv, &r->st[p]);
			if (r->jobs_inbox && r->st[p].count)
				r->oldest_ns[p] = oldest_job_age(a, lv, now);
		}
		zr_inbox_close(ib);
		return;
	}
	zr_ring *ring = NULL;
	if (zr_ring_open(a, r->e.name, &ring)) {
		r->bad = true;
		return;
	}
	zr_ring_stat(ring, &r->st[0]);
	zr_ring_close(ring);
}

int snap_take(zr_arena *a, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->mono_ns = cli_now_mono();
	s->real_ns = cli_now_real();
	zr_arena_info_get(a, &s->info);
	zr_jobs_stat(a, &s->jobs);
	size_t n = 0;
	s->rings_corrupt = zr_ring_list(a, NULL, 0, &n) != 0;
	s->rings = calloc(n + 1, sizeof(*s->rings));
	zr_ring_entry *e = calloc(n + 1, sizeof(*e));
	s->owners = calloc(MAX_OWNERS, sizeof(*s->owners));
	if (!s->rings || !e || !s->owners) {
		free(e);
		return -ENOMEM;
	}
	size_t found = 0;
	s->rings_corrupt |= zr_ring_list(a, e, n, &found) != 0;
	s->nrings = found < n ? found : n; /* a ring created meanwhile waits for the next look */
	for (size_t i = 0; i < s->nrings; i++) {
		s->rings[i].e = e[i];
		take_ring(a, &s->rings[i], s->mono_ns);
	}
	free(e);
	zr_slab_stat(a, s->slab, ZR_SLAB_MAX_CLASSES + 1, &s->nslab);
	zr_slab_usage_by_owner(a, s->owners, MAX_OWNERS, &s->nowners);
	return snap_take_agents(a, s);
}

int snap_take_agents(zr_arena *a, struct snap *s)
{
	size_t n = 0, found = 0;
	s->mono_ns = s->mono_ns ? s->mono_ns : cli_now_mono();
	zr_agent_list(a, 0, NULL, 0, &n);
	s->agents = calloc(n + 1, sizeof(*s->agents));
	if (!s->agents)
		return -ENOMEM;
	zr_agent_list(a, 0, s->agents, n, &found);
	s->nagents = found < n ? found : n;
	return 0;
}

void snap_free(struct snap *s)
{
	free(s->rings);
	free(s->owners);
	free(s->agents);
	memset(s, 0, sizeof(*s));
}

bool snap_rate(const struct snap *cur, const struct snap *prev, uint64_t now_v, uint64_t prev_v,
	       double *out)
{
	if (!prev || cur->mono_ns <= prev->mono_ns) {
		*out = 0;
		return false;
	}
	double dt = (double)(cur->mono_ns - prev->mono_ns) / 1e9;
	*out = now_v >= prev_v ? (double)(now_v - prev_v) / dt : 0;
	return true;
}

const zr_agent_info *snap_find_agent(const struct snap *prev, uint32_t id)
{
	for (size_t i = 0; prev && i < prev->nagents; i++)
		if (prev->agents[i].id == id)
			return &prev->agents[i];
	return NULL;
}

const struct snap_ring *snap_find_ring(const struct snap *prev, const char *name)
{
	for (size_t i = 0; prev && i < prev->nrings; i++)
		if (!strcmp(prev->rings[i].e.name, name))
			return &prev->rings[i];
	return NULL;
}

/* ---- findings ------------------------------------------------------------ */

struct sink {
	struct finding *out;
	size_t cap, n;
};

__attribute__((format(printf, 3, 4))) static void add(struct sink *k, const char *sev,
						      const char *fmt, ...)
{
	if (k->n >= k->cap)
		return;
	struct finding *f = &k->out[k->n++];
	f->severity = sev;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
}

#define SLOW_NS 1000000000ull /* a queued job older than this is worth a line */

static void judge_agents(const struct snap *s, struct sink *k)
{
	char b[32];
	uint32_t alive = 0;
	for (size_t i = 0; i < s->nagents; i++) {
		const zr_agent_info *g = &s->agents[i];
		if (g->status == ZR_AGENT_ALIVE) {
			alive++;
			uint64_t age =
				s->mono_ns > g->heartbeat_ns ? s->mono_ns - g->heartbeat_ns : 0;
			if (g->heartbeat_timeout_ns && age > g->heartbeat_timeout_ns)
				add(k, "warning",
				    "agent %s (pid %u) missed its heartbeat: last %s ago, timeout "
				    "%s",
				    g->name, g->pid, fmt_dur(b, sizeof(b), age),
				    fmt_dur((char[32]){0}, 32, g->heartbeat_timeout_ns));
		} else if (g->status == ZR_AGENT_DEAD) {
			add(k, "critical", "agent %s (pid %u) is dead; %u jobs wait in its inbox%s",
			    g->name, g->pid, g->inbox_depth,
			    g->inbox_depth && g->on_death == ZR_ON_DEATH_KEEP
				    ? " for a successor of the same name"
				    : "");
		}
	}
	uint64_t pending = s->jobs.by_status[ZR_JOB_PENDING];
	if (pending && alive == 0)
		add(k, "critical", "%llu jobs pending and no agent alive to claim them",
		    (unsigned long long)pending);
}

static void judge_rings(const struct snap *s, const struct snap *prev, struct sink *k)
{
	char b[32];
	if (s->rings_corrupt)
		add(k, "critical", "a ring directory entry fails its checks: run `zring check`");
	for (size_t i = 0; i < s->nrings; i++) {
		const struct snap_ring *r = &s->rings[i];
		if (r->bad) {
			add(k, "critical", "ring %s cannot be opened: its header fails its checks",
			    r->e.name);
			continue;
		}
		const struct snap_ring *p = snap_find_ring(prev, r->e.name);
		unsigned levels = r->e.inbox ? ZR_PRIO_COUNT : 1;
		for (unsigned l = 0; l < levels; l++) {
			const zr_ring_stats *st = &r->st[l];
			char name[ZR_NAME_MAX + 16];
			snprintf(name, sizeof(name), "%s%s%s", r->e.name, r->e.inbox ? "." : "",
				 r->e.inbox ? zr_prio_name(l) : "");
			if (st->capacity && st->count * 10ull >= st->capacity * 9ull)
				add(k, "warning", "%s is %u%% full (%u of %u)", name,
				    (unsigned)(st->count * 100ull / st->capacity), st->count,
				    st->capacity);
			if (p && st->full > p->st[l].full)
				add(k, "warning", "%s refused %llu enqueues (full) in the last %s",
				    name, (unsigned long long)(st->full - p->st[l].full),
				    fmt_dur(b, sizeof(b), s->mono_ns - prev->mono_ns));
			if (r->oldest_ns[l] > SLOW_NS)
				add(k, "warning", "oldest job in %s has waited %s", name,
				    fmt_dur(b, sizeof(b), r->oldest_ns[l]));
		}
	}
}

static void judge_slab(const struct snap *s, struct sink *k)
{
	char b[32];
	uint64_t orphans = 0;
	for (size_t i = 0; i < s->nslab; i++) {
		const zr_slab_class_stats *c = &s->slab[i];
		orphans += c->orphans;
		if (!c->blocks)
			continue;
		const char *what = c->block_size ? fmt_bytes(b, sizeof(b), c->block_size) : "large";
		if (c->in_use * 10 >= c->blocks * 9)
			add(k, "warning", "payload class %s is %llu%% in use", what,
			    (unsigned long long)(c->in_use * 100 / c->blocks));
		if (c->failed)
			add(k, "warning", "payload class %s refused %llu allocations so far", what,
			    (unsigned long long)c->failed);
	}
	if (orphans)
		add(k, "warning", "%llu payload blocks belong to dead processes (orphans)",
		    (unsigned long long)orphans);
}

size_t snap_findings(const struct snap *s, const struct snap *prev, struct finding *out, size_t cap)
{
	struct sink k = {out, cap, 0};
	if (s->info.procs_dead)
		add(&k, "critical",
		    "%u dead processes still hold process slots: recovery has not run "
		    "(zr_jobs_recover, or a reaper thread)",
		    s->info.procs_dead);
	judge_agents(s, &k);
	judge_rings(s, prev, &k);
	judge_slab(s, &k);
	const zr_jobs_stats *j = &s->jobs;
	uint64_t used = j->max_jobs - j->by_status[ZR_JOB_FREE];
	if (j->max_jobs && used * 10 >= (uint64_t)j->max_jobs * 9)
		add(&k, "warning", "job table is %llu%% used (%llu of %u records)",
		    (unsigned long long)(used * 100 / j->max_jobs), (unsigned long long)used,
		    j->max_jobs);
	if (prev && j->full > prev->jobs.full)
		add(&k, "warning", "%llu submits were refused (job table or queue full)",
		    (unsigned long long)(j->full - prev->jobs.full));
	if (j->by_status[ZR_JOB_FAILED])
		add(&k, "info", "%llu jobs failed for good: `zring dlq` lists them",
		    (unsigned long long)j->by_status[ZR_JOB_FAILED]);
	return k.n;
}
