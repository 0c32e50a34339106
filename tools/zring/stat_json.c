/* `zring stat --json`: the snapshot as one object (schema zring-cli/1).
 * Counters are totals since the arena's creation; *_per_s keys are rates
 * over the sampling interval and null when no interval was sampled. */
#include <string.h>

#include "snapshot.h"

#define FINDINGS_MAX 64

static json_t *rate(const struct snap *cur, const struct snap *prev, uint64_t now, uint64_t before)
{
	double r;
	return snap_rate(cur, prev, now, before, &r) ? json_real(r) : json_null();
}

static json_t *arena(const struct snap *s)
{
	const zr_arena_info *i = &s->info;
	char user[64];
	json_t *o = json_object();
	json_object_set_new(o, "name", json_text(i->name));
	json_object_set_new(o, "file_backed", json_boolean(i->file_backed));
	json_object_set_new(o, "size", json_u64(i->size));
	json_object_set_new(o, "owner_uid", json_u64(i->uid));
	json_object_set_new(o, "owner", json_text(fmt_user(user, sizeof(user), i->uid)));
	json_object_set_new(o, "creator_pid", json_u64(i->creator_pid));
	json_object_set_new(o, "created_unix_ns", json_u64(i->created_ns));
	json_object_set_new(o, "age_ns",
			    json_u64(s->real_ns > i->created_ns ? s->real_ns - i->created_ns : 0));
	json_object_set_new(o, "max_procs", json_u64(i->max_procs));
	json_object_set_new(o, "max_rings", json_u64(i->max_rings));
	json_object_set_new(o, "max_agents", json_u64(s->jobs.max_agents));
	json_object_set_new(o, "max_jobs", json_u64(s->jobs.max_jobs));
	json_object_set_new(o, "max_payload", json_u64(i->max_payload));
	json_object_set_new(o, "procs_attached", json_u64(i->procs_attached));
	json_object_set_new(o, "procs_dead", json_u64(i->procs_dead));
	return o;
}

static json_t *jobs(const struct snap *cur, const struct snap *prev)
{
	const zr_jobs_stats *j = &cur->jobs;
	const zr_jobs_stats *p = prev ? &prev->jobs : NULL;
	json_t *o = json_object(), *by = json_object(), *matrix = json_object();
	for (uint32_t st = 1; st < ZR_JOB_STATUS_COUNT; st++) {
		json_object_set_new(by, zr_job_status_name(st), json_u64(j->by_status[st]));
		json_t *row = json_object();
		for (unsigned pr = 0; pr < ZR_PRIO_COUNT; pr++)
			json_object_set_new(row, zr_prio_name(pr),
					    json_u64(j->by_status_prio[st][pr]));
		json_object_set_new(matrix, zr_job_status_name(st), row);
	}
	json_object_set_new(o, "free_records", json_u64(j->by_status[ZR_JOB_FREE]));
	json_object_set_new(o, "by_status", by);
	json_object_set_new(o, "by_status_priority", matrix);
	json_object_set_new(o, "bytes_stored", json_u64(j->bytes_stored));
	json_t *t = json_object(), *r = json_object();
#define TOTAL(k)                                                                                   \
	do {                                                                                       \
		json_object_set_new(t, #k, json_u64(j->k));                                        \
		json_object_set_new(r, #k "_per_s", rate(cur, prev, j->k, p ? p->k : 0));          \
	} while (0)
	TOTAL(submitted);
	TOTAL(submitted_bytes);
	TOTAL(claimed);
	TOTAL(completed);
	TOTAL(failed);
	TOTAL(dead_letters);
	TOTAL(cancelled);
	TOTAL(expired);
	TOTAL(retried);
	TOTAL(lease_expired);
	TOTAL(recovered);
	TOTAL(released);
	TOTAL(stale);
	TOTAL(full);
#undef TOTAL
	json_t *sp = json_object();
	for (unsigned pr = 0; pr < ZR_PRIO_COUNT; pr++)
		json_object_set_new(sp, zr_prio_name(pr), json_u64(j->submitted_by_prio[pr]));
	json_object_set_new(t, "submitted_by_priority", sp);
	json_object_set_new(o, "totals", t);
	json_object_set_new(o, "rates", r);
	json_t *lat = json_object();
	json_object_set_new(lat, "submit_to_claim", json_hist(&j->claim_latency));
	json_object_set_new(lat, "claim_to_complete", json_hist(&j->complete_latency));
	json_object_set_new(o, "latency", lat);
	return o;
}

json_t *stat_agent_json(const struct snap *cur, const struct snap *prev, const zr_agent_info *g)
{
	const zr_agent_info *p = snap_find_agent(prev, g->id);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_u64(g->id));
	json_object_set_new(o, "name", json_text(g->name));
	json_object_set_new(o, "status", json_string(agent_status_name(g->status)));
	json_object_set_new(o, "kind", json_string(g->kind == ZR_AGENT_GPU ? "gpu" : "cpu"));
	json_object_set_new(o, "pid", json_u64(g->pid));
	json_object_set_new(o, "tid", json_u64(g->tid));
	json_object_set_new(o, "process_owner", json_u64(g->owner));
	json_object_set_new(o, "caps", json_text(g->caps));
	json_object_set_new(
		o, "on_death",
		json_string(g->on_death == ZR_ON_DEATH_TO_SHARED ? "to_shared" : "keep"));
	json_object_set_new(o, "heartbeat_age_ns",
			    g->heartbeat_ns ? json_u64(cur->mono_ns > g->heartbeat_ns
							       ? cur->mono_ns - g->heartbeat_ns
							       : 0)
					    : json_null());
	json_object_set_new(o, "heartbeat_timeout_ns", json_u64(g->heartbeat_timeout_ns));
	json_object_set_new(
		o, "registered_age_ns",
		json_u64(cur->mono_ns > g->registered_ns ? cur->mono_ns - g->registered_ns : 0));
	json_t *pl = json_object();
	json_object_set_new(pl, "numa_node", json_integer(g->place.numa_node));
	json_object_set_new(pl, "ncpus", json_u64(g->place.ncpus));
	json_object_set_new(pl, "cpus", json_text(g->place.cpus));
	json_object_set_new(pl, "note", json_text(g->place.note));
	json_object_set_new(o, "placement", pl);
	json_object_set_new(o, "inbox_depth", json_u64(g->inbox_depth));
	json_object_set_new(o, "submitted", json_u64(g->submitted));
	json_object_set_new(o, "claimed", json_u64(g->claimed));
	json_object_set_new(o, "completed", json_u64(g->completed));
	json_object_set_new(o, "failed", json_u64(g->failed));
	json_object_set_new(o, "stale", json_u64(g->stale));
	json_object_set_new(o, "completed_per_s",
			    p ? rate(cur, prev, g->completed, p->completed) : json_null());
	return o;
}

static json_t *ring_stats(const struct snap *cur, const struct snap *prev, const zr_ring_stats *s,
			  const zr_ring_stats *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "capacity", json_u64(s->capacity));
	json_object_set_new(o, "depth", json_u64(s->count));
	json_object_set_new(o, "enqueued", json_u64(s->enqueued));
	json_object_set_new(o, "dequeued", json_u64(s->dequeued));
	json_object_set_new(o, "full", json_u64(s->full));
	json_object_set_new(o, "empty", json_u64(s->empty));
	json_object_set_new(o, "waits", json_u64(s->waits));
	json_object_set_new(o, "wakes", json_u64(s->wakes));
	json_object_set_new(o, "drops", json_u64(s->drops));
	json_object_set_new(o, "redelivers", json_u64(s->redelivers));
	json_object_set_new(o, "enqueued_per_s",
			    p ? rate(cur, prev, s->enqueued, p->enqueued) : json_null());
	json_object_set_new(o, "dequeued_per_s",
			    p ? rate(cur, prev, s->dequeued, p->dequeued) : json_null());
	return o;
}

json_t *stat_ring_json(const struct snap *cur, const struct snap *prev, const struct snap_ring *r)
{
	const struct snap_ring *p = snap_find_ring(prev, r->e.name);
	json_t *o;
	if (!r->e.inbox) {
		o = r->bad ? json_object() : ring_stats(cur, prev, &r->st[0], p ? &p->st[0] : NULL);
	} else {
		o = json_object();
		json_t *lv = json_array();
		for (unsigned l = 0; !r->bad && l < ZR_PRIO_COUNT; l++) {
			json_t *x = ring_stats(cur, prev, &r->st[l], p ? &p->st[l] : NULL);
			json_object_set_new(x, "priority", json_string(zr_prio_name(l)));
			json_object_set_new(x, "oldest_age_ns",
					    r->jobs_inbox ? json_u64(r->oldest_ns[l])
							  : json_null());
			json_array_append_new(lv, x);
		}
		json_object_set_new(o, "carries_jobs", json_boolean(r->jobs_inbox));
		json_object_set_new(o, "levels", lv);
	}
	json_object_set_new(o, "name", json_text(r->e.name));
	json_object_set_new(o, "kind", json_string(kind_name(r->e.kind)));
	json_object_set_new(o, "offset", json_u64(r->e.offset));
	json_object_set_new(o, "readable", json_boolean(!r->bad));
	return o;
}

static json_t *slab(const struct snap *s)
{
	json_t *o = json_object(), *cl = json_array(), *own = json_array();
	for (size_t i = 0; i < s->nslab; i++) {
		const zr_slab_class_stats *c = &s->slab[i];
		json_t *x = json_object();
		json_object_set_new(x, "class", json_string(c->block_size ? "small" : "large"));
		json_object_set_new(x, "block_size", json_u64(c->block_size));
		json_object_set_new(x, "blocks", json_u64(c->blocks));
		json_object_set_new(x, "in_use", json_u64(c->in_use));
		json_object_set_new(x, "cached", json_u64(c->cached));
		json_object_set_new(x, "free", json_u64(c->free));
		json_object_set_new(x, "high_water", json_u64(c->high_water));
		json_object_set_new(x, "failed", json_u64(c->failed));
		json_object_set_new(x, "orphans", json_u64(c->orphans));
		json_array_append_new(cl, x);
	}
	for (size_t i = 0; i < s->nowners; i++) {
		const zr_slab_owner_usage *u = &s->owners[i];
		json_t *x = json_object(), *names = json_array();
		for (size_t k = 0; u->owner && k < s->nagents; k++)
			if (s->agents[k].owner == u->owner)
				json_array_append_new(names, json_text(s->agents[k].name));
		json_object_set_new(x, "owner", json_u64(u->owner));
		json_object_set_new(x, "pid", json_u64(u->pid));
		json_object_set_new(x, "alive", u->owner ? json_boolean(u->alive) : json_null());
		json_object_set_new(x, "agents", names);
		json_object_set_new(x, "blocks", json_u64(u->blocks));
		json_object_set_new(x, "bytes", json_u64(u->bytes));
		json_array_append_new(own, x);
	}
	json_object_set_new(o, "classes", cl);
	json_object_set_new(o, "by_owner", own);
	return o;
}

json_t *stat_json(const struct snap *cur, const struct snap *prev)
{
	json_t *d = json_doc("stat");
	json_object_set_new(d, "arena", arena(cur));
	json_object_set_new(d, "interval_ns", json_u64(prev ? cur->mono_ns - prev->mono_ns : 0));
	struct finding fd[FINDINGS_MAX];
	size_t n = snap_findings(cur, prev, fd, FINDINGS_MAX);
	json_t *fa = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_object();
		json_object_set_new(x, "severity", json_string(fd[i].severity));
		json_object_set_new(x, "what", json_text(fd[i].what));
		json_array_append_new(fa, x);
	}
	json_object_set_new(d, "findings", fa);
	json_object_set_new(d, "jobs", jobs(cur, prev));
	json_t *ag = json_array();
	for (size_t i = 0; i < cur->nagents; i++)
		json_array_append_new(ag, stat_agent_json(cur, prev, &cur->agents[i]));
	json_object_set_new(d, "agents", ag);
	json_t *rings = json_array(), *inboxes = json_array();
	for (size_t i = 0; i < cur->nrings; i++)
		json_array_append_new(cur->rings[i].e.inbox ? inboxes : rings,
				      stat_ring_json(cur, prev, &cur->rings[i]));
	json_object_set_new(d, "rings", rings);
	json_object_set_new(d, "inboxes", inboxes);
	json_object_set_new(d, "rings_corrupt", json_boolean(cur->rings_corrupt));
	json_object_set_new(d, "payloads", slab(cur));
	return d;
}
