/* The last step of a restore: a new arena of the old one's shape, its
 * agents as dead placeholders, then every job, put in as it was left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jnl_impl.h"
#include "job_impl.h"
#include "restore_impl.h"

static uint64_t to_mono(uint64_t wall, uint64_t now_mono, uint64_t now_real)
{
	if (wall == 0 || wall == UINT64_MAX)
		return wall;
	int64_t d = (int64_t)(wall - now_real); /* negative: already past */
	if (d < 0 && (uint64_t)-d >= now_mono)
		return 1;
	return now_mono + (uint64_t)d;
}

static uint32_t new_agent(const struct rstate *st, uint32_t old)
{
	for (size_t i = 0; old && i < st->nagents; i++)
		if (st->agents[i].old_id == old)
			return st->agents[i].new_id;
	return 0;
}

static int make_agents(struct rstate *st, zr_arena *a)
{
	for (size_t i = 0; i < st->nagents; i++) {
		struct ragent *g = &st->agents[i];
		/* several old ids of one name (re-registrations) share one placeholder */
		for (size_t k = 0; k < i && !g->new_id; k++)
			if (!strcmp(st->agents[k].name, g->name))
				g->new_id = st->agents[k].new_id;
		if (g->new_id)
			continue;
		int rc = zri_agent_placeholder(a, g->name, g->kind, g->on_death, &g->new_id);
		if (rc)
			return rc;
		st->rep->agents++;
	}
	return 0;
}

static int copy_in(zr_arena *a, const uint8_t *src, uint64_t len, zr_payload *out)
{
	out->v = 0;
	if (!src || !len)
		return 0;
	int rc = zr_payload_alloc(a, len, out);
	if (rc == 0)
		memcpy(zr_payload_ptr(a, *out), src, len);
	return rc;
}

/* A job that was being processed: its claim died with the old processes. */
static void reclaim(struct rjob *r, zr_restore_report *rep)
{
	uint32_t retries = (uint32_t)(r->kind >> 48) & 0xffff;
	uint32_t maxr = (uint32_t)(r->kind >> 32) & 0xffff;
	r->kind = (r->kind & 0x0000ffffffffffffull) | (uint64_t)((retries + 1) & 0xffff) << 48;
	r->holder = 0;
	r->due = 0;
	if (retries + 1 > maxr) {
		r->status = ZR_JOB_FAILED;
		snprintf(r->error, sizeof(r->error),
			 "restored: its claim was lost, no retries left");
	} else {
		r->status = ZR_JOB_PENDING;
	}
	rep->jobs_reclaimed++;
}

static int put_job(struct rstate *st, zr_arena *a, struct rjob *r, uint64_t now_mono,
		   uint64_t now_real)
{
	if (r->status == ZR_JOB_PROCESSING)
		reclaim(r, st->rep);
	struct zri_job_image im;
	memset(&im, 0, sizeof(im));
	memcpy(im.uuid, r->uuid, 16);
	im.kind = r->kind;
	im.source = new_agent(st, r->source);
	im.target = new_agent(st, r->target);
	im.status = r->status;
	im.attempt = r->attempt;
	im.submit_ns = to_mono(r->submit, now_mono, now_real);
	im.claim_ns = to_mono(r->claim, now_mono, now_real);
	im.finish_ns = to_mono(r->finish, now_mono, now_real);
	im.expire_ns = to_mono(r->expire, now_mono, now_real);
	im.due_ns = to_mono(r->due, now_mono, now_real);
	im.ttl_ns = r->ttl_ns;
	im.lease_ns = r->lease_ns;
	im.interval_ns = r->interval_ns;
	im.backoff = r->backoff;
	memcpy(im.type_name, r->type_name, sizeof(im.type_name));
	memcpy(im.meta, r->meta, sizeof(im.meta));
	memcpy(im.error, r->error, sizeof(im.error));
	im.payload_len = r->payload_len;
	im.result_len = r->result_len;
	int rc = copy_in(a, r->payload, r->payload_len, &im.payload);
	if (rc == 0)
		rc = copy_in(a, r->result, r->result_len, &im.result);
	zr_job_id id;
	if (rc == 0)
		rc = zri_job_insert(a, &im, &id);
	if (rc) {
		if (im.payload.v)
			ZRI_IGNORE(zr_payload_free(a, im.payload));
		if (im.result.v)
			ZRI_IGNORE(zr_payload_free(a, im.result));
		st->rep->jobs_dropped++;
		rs_problem(st, "restore", 0, "a job did not fit in the new arena: %s",
			   zr_strerror(rc));
		return 0;
	}
	st->rep->jobs++;
	st->rep->jobs_by_status[r->status]++;
	st->rep->payload_bytes += r->payload_len + r->result_len;
	return 0;
}

int rs_build(struct rstate *st, const zr_restore_config *cfg, uint64_t lineage, zr_arena **out,
	     zr_diag *diag)
{
	const struct zri_config_copy *c = &st->config;
	zr_arena_config ac;
	zr_arena_config_init(&ac, c->size);
	ac.flags = cfg->arena_flags;
	ac.max_procs = c->max_procs;
	ac.max_rings = c->max_rings;
	ac.ring_bytes = c->ring_bytes;
	ac.max_payload = c->max_payload;
	ac.small_percent = c->small_percent;
	ac.max_agents = c->max_agents;
	ac.max_jobs = c->max_jobs;
	ac.inbox_capacity = c->inbox_capacity;
	zr_journal_config jc;
	struct zri_journal_seed seed = {0};
	if (cfg->journal_dir) {
		zr_journal_config_init(&jc, cfg->journal_dir);
		jc.durability = cfg->durability;
		ac.journal = &jc;
		uint64_t max = st->rep->journal.max_lsn;
		seed.lineage = lineage;
		seed.next_lsn = (max > st->rep->begin_lsn ? max : st->rep->begin_lsn) + 1;
		seed.next_stream = (uint64_t)st->rep->journal.max_stream + 1;
	}
	zr_arena *a;
	int rc = zri_arena_create_seeded(cfg->name, &ac, &seed, &a, diag);
	if (rc)
		return rc;
	rc = make_agents(st, a);
	uint64_t now_mono = zri_now_ns(), now_real = zri_realtime_ns();
	for (size_t i = 0; rc == 0 && i < st->cap; i++) {
		struct rjob *r = &st->jobs[i];
		if (r->used && r->status != ZR_JOB_FREE && r->status != ZR_JOB_BUILDING)
			rc = put_job(st, a, r, now_mono, now_real);
	}
	if (rc == 0 && a->journal)
		rc = zr_journal_flush(a, -1);
	if (rc) {
		zri_diag_set(diag, rc, "restore: building %s: %s", cfg->name, zr_strerror(rc));
		zr_arena_close(a);
		ZRI_IGNORE(zr_arena_unlink(cfg->name));
		return rc;
	}
	*out = a;
	return 0;
}
