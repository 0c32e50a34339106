/* `zring stat` as text: a headline with what is wrong, then the jobs, the
 * agents, the rings and inboxes, and the payload heap. `zring top` draws
 * the same text once per refresh. */
#include <string.h>

#include "snapshot.h"

#define FINDINGS_MAX 32

static void header(FILE *f, const struct snap *s)
{
	const zr_arena_info *i = &s->info;
	char sz[32], user[64], when[32], age[32], pay[32];
	uint64_t up = s->real_ns > i->created_ns ? s->real_ns - i->created_ns : 0;
	fprintf(f, "arena %s  %s  %s  owner %s  creator pid %u  created %s (%s ago)\n", i->name,
		i->file_backed ? "file" : "shm", fmt_bytes(sz, sizeof(sz), i->size),
		fmt_user(user, sizeof(user), i->uid), i->creator_pid,
		fmt_time(when, sizeof(when), i->created_ns), fmt_dur(age, sizeof(age), up));
	uint32_t alive = 0;
	for (size_t k = 0; k < s->nagents; k++)
		alive += s->agents[k].status == ZR_AGENT_ALIVE;
	fprintf(f,
		"config: processes %u attached (%u dead) of %u  rings %zu of %u  agents %u alive "
		"of %zu (max %u)  jobs %llu of %u  max payload %s\n",
		i->procs_attached, i->procs_dead, i->max_procs, s->nrings, i->max_rings, alive,
		s->nagents, s->jobs.max_agents,
		(unsigned long long)(s->jobs.max_jobs - s->jobs.by_status[ZR_JOB_FREE]),
		s->jobs.max_jobs, fmt_bytes(pay, sizeof(pay), i->max_payload));
}

static void health(FILE *f, const struct snap *cur, const struct snap *prev)
{
	struct finding fd[FINDINGS_MAX];
	size_t n = snap_findings(cur, prev, fd, FINDINGS_MAX);
	if (n == 0) {
		fprintf(f, "health: ok\n");
		return;
	}
	fprintf(f, "health: %zu finding%s\n", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-8s %s\n", fd[i].severity, fd[i].what);
}

static void jobs(FILE *f, const struct snap *cur, const struct snap *prev)
{
	const zr_jobs_stats *j = &cur->jobs;
	fprintf(f, "\njobs        %9s %9s %9s %9s %9s\n", "critical", "high", "normal", "low",
		"total");
	static const uint32_t order[] = {ZR_JOB_PENDING,   ZR_JOB_DELAYED, ZR_JOB_PROCESSING,
					 ZR_JOB_COMPLETED, ZR_JOB_FAILED,  ZR_JOB_CANCELLED,
					 ZR_JOB_EXPIRED,   ZR_JOB_BUILDING};
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		uint32_t st = order[k];
		fprintf(f, "  %-10s", zr_job_status_name(st));
		for (unsigned p = 0; p < ZR_PRIO_COUNT; p++)
			fprintf(f, "%9llu ", (unsigned long long)j->by_status_prio[st][p]);
		fprintf(f, "%9llu\n", (unsigned long long)j->by_status[st]);
	}
	const struct {
		const char *name;
		uint64_t now, before;
	} c[] = {
		{"submitted", j->submitted, prev ? prev->jobs.submitted : 0},
		{"claimed", j->claimed, prev ? prev->jobs.claimed : 0},
		{"completed", j->completed, prev ? prev->jobs.completed : 0},
		{"failed", j->failed, prev ? prev->jobs.failed : 0},
		{"retried", j->retried, prev ? prev->jobs.retried : 0},
		{"dead letters", j->dead_letters, prev ? prev->jobs.dead_letters : 0},
		{"recovered", j->recovered, prev ? prev->jobs.recovered : 0},
		{"lease expired", j->lease_expired, prev ? prev->jobs.lease_expired : 0},
		{"expired", j->expired, prev ? prev->jobs.expired : 0},
		{"cancelled", j->cancelled, prev ? prev->jobs.cancelled : 0},
		{"refused full", j->full, prev ? prev->jobs.full : 0},
	};
	fprintf(f, "totals      ");
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		double r;
		char rb[32];
		bool have = snap_rate(cur, prev, c[k].now, c[k].before, &r);
		fprintf(f, "%s%s %llu%s%s%s",
			k && k % 4 == 0 ? "\n            "
			: k		? "  "
					: "",
			c[k].name, (unsigned long long)c[k].now, have ? " (" : "",
			have ? fmt_rate(rb, sizeof(rb), r, true) : "", have ? ")" : "");
	}
	char b[32];
	fprintf(f, "\n            bytes stored %s\n", fmt_bytes(b, sizeof(b), j->bytes_stored));
	fprintf(f, "latency     %9s %9s %9s %9s %9s %9s %9s\n", "count", "mean", "p50", "p90",
		"p99", "p99.9", "max");
	const zr_hist *h[2] = {&j->claim_latency, &j->complete_latency};
	const char *hn[2] = {"claim wait", "run time"}; /* submit->claim, claim->complete */
	for (int k = 0; k < 2; k++) {
		char v[6][32];
		fprintf(f, "  %-10s%9llu %9s %9s %9s %9s %9s %9s\n", hn[k],
			(unsigned long long)h[k]->count,
			fmt_dur(v[0], 32, h[k]->count ? h[k]->sum / h[k]->count : 0),
			fmt_dur(v[1], 32, zr_hist_percentile(h[k], 50)),
			fmt_dur(v[2], 32, zr_hist_percentile(h[k], 90)),
			fmt_dur(v[3], 32, zr_hist_percentile(h[k], 99)),
			fmt_dur(v[4], 32, zr_hist_percentile(h[k], 99.9)),
			fmt_dur(v[5], 32, h[k]->max));
	}
}

static void agents(FILE *f, const struct snap *cur, const struct snap *prev)
{
	fprintf(f, "\nagents      %-16s %7s %4s %6s %9s %8s %5s %6s %9s %9s %7s %10s\n", "name",
		"pid", "kind", "status", "heartbeat", "cpus", "numa", "inbox", "claimed",
		"completed", "failed", "done/s");
	for (size_t i = 0; i < cur->nagents; i++) {
		const zr_agent_info *g = &cur->agents[i];
		const zr_agent_info *p = snap_find_agent(prev, g->id);
		double r = 0;
		bool have = p && snap_rate(cur, prev, g->completed, p->completed, &r);
		char hb[32], rb[32];
		fprintf(f, "  %-26s %7u %4s %6s %9s %8s %5d %6u %9llu %9llu %7llu %10s\n", g->name,
			g->pid, g->kind == ZR_AGENT_GPU ? "gpu" : "cpu",
			agent_status_name(g->status),
			fmt_age(hb, sizeof(hb), g->heartbeat_ns, cur->mono_ns),
			g->place.ncpus ? g->place.cpus : "-", g->place.numa_node, g->inbox_depth,
			(unsigned long long)g->claimed, (unsigned long long)g->completed,
			(unsigned long long)g->failed, fmt_rate(rb, sizeof(rb), r, have));
	}
	if (cur->nagents == 0)
		fprintf(f, "  (none)\n");
}

static void ring_row(FILE *f, const char *name, const char *kind, const zr_ring_stats *st,
		     const zr_ring_stats *p, const struct snap *cur, const struct snap *prev,
		     uint64_t oldest, bool ages)
{
	double re = 0, rd = 0;
	bool have = p && snap_rate(cur, prev, st->enqueued, p->enqueued, &re);
	if (p)
		snap_rate(cur, prev, st->dequeued, p->dequeued, &rd);
	char b1[32], b2[32], b3[32];
	fprintf(f, "  %-30s %4s %8u %8u %4u%% %11llu %10s %10s %7llu %5llu %5llu %9s\n", name, kind,
		st->capacity, st->count,
		st->capacity ? (unsigned)(st->count * 100ull / st->capacity) : 0,
		(unsigned long long)st->enqueued, fmt_rate(b1, sizeof(b1), re, have),
		fmt_rate(b2, sizeof(b2), rd, have), (unsigned long long)st->full,
		(unsigned long long)st->drops, (unsigned long long)st->redelivers,
		ages ? (oldest ? fmt_dur(b3, sizeof(b3), oldest) : "-") : "");
}

static void rings(FILE *f, const struct snap *cur, const struct snap *prev)
{
	fprintf(f, "\nrings       %-20s %4s %8s %8s %5s %11s %10s %10s %7s %5s %5s %9s\n", "name",
		"kind", "capacity", "depth", "fill", "enqueued", "in/s", "out/s", "full", "drops",
		"redel", "oldest");
	for (size_t i = 0; i < cur->nrings; i++) {
		const struct snap_ring *r = &cur->rings[i];
		if (r->bad) {
			fprintf(f, "  %-30s (header fails its checks)\n", r->e.name);
			continue;
		}
		const struct snap_ring *p = snap_find_ring(prev, r->e.name);
		if (!r->e.inbox) {
			ring_row(f, r->e.name, kind_name(r->e.kind), &r->st[0],
				 p ? &p->st[0] : NULL, cur, prev, 0, false);
			continue;
		}
		for (unsigned l = 0; l < ZR_PRIO_COUNT; l++) {
			char name[ZR_NAME_MAX + 16];
			snprintf(name, sizeof(name), "%s.%s", r->e.name, zr_prio_name(l));
			ring_row(f, name, "inbx", &r->st[l], p ? &p->st[l] : NULL, cur, prev,
				 r->oldest_ns[l], r->jobs_inbox);
		}
	}
}

/* Agents owning payloads of an owner id, comma-separated. */
static void owner_agents(const struct snap *s, uint32_t owner, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = 0;
	for (size_t i = 0; i < s->nagents && used < cap; i++)
		if (s->agents[i].owner == owner && owner)
			used += (size_t)snprintf(buf + used, cap - used, "%s%s", used ? "," : "",
						 s->agents[i].name);
	if (!buf[0])
		snprintf(buf, cap, owner ? "-" : "(disowned: held by jobs)");
}

static void slab(FILE *f, const struct snap *s)
{
	fprintf(f, "\npayloads    %-10s %9s %9s %9s %9s %5s %10s %8s %8s\n", "class", "blocks",
		"in use", "cached", "free", "use", "high water", "refused", "orphans");
	for (size_t i = 0; i < s->nslab; i++) {
		const zr_slab_class_stats *c = &s->slab[i];
		if (!c->blocks)
			continue;
		char b[32];
		fprintf(f, "  %-20s %9llu %9llu %9llu %9llu %4llu%% %10llu %8llu %8llu\n",
			c->block_size ? fmt_bytes(b, sizeof(b), c->block_size) : "large (pages)",
			(unsigned long long)c->blocks, (unsigned long long)c->in_use,
			(unsigned long long)c->cached, (unsigned long long)c->free,
			(unsigned long long)(c->in_use * 100 / c->blocks),
			(unsigned long long)c->high_water, (unsigned long long)c->failed,
			(unsigned long long)c->orphans);
	}
	fprintf(f, "by owner    %-10s %7s %6s %9s %10s  %s\n", "owner", "pid", "alive", "blocks",
		"bytes", "agents");
	for (size_t i = 0; i < s->nowners; i++) {
		const zr_slab_owner_usage *o = &s->owners[i];
		char b[32], ag[128];
		owner_agents(s, o->owner, ag, sizeof(ag));
		fprintf(f, "  %-20u %7u %6s %9llu %10s  %s\n", o->owner, o->pid,
			o->owner == 0 ? "-"
			: o->alive    ? "yes"
				      : "no",
			(unsigned long long)o->blocks, fmt_bytes(b, sizeof(b), o->bytes), ag);
	}
	if (s->nowners == 0)
		fprintf(f, "  (no payloads in use)\n");
}

void stat_text(FILE *f, const struct snap *cur, const struct snap *prev)
{
	header(f, cur);
	health(f, cur, prev);
	jobs(f, cur, prev);
	agents(f, cur, prev);
	rings(f, cur, prev);
	slab(f, cur);
}
