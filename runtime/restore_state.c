/* Restore's working state: jobs by UUID, agents by old id, and how each
 * journal record changes them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore_impl.h"

void rs_init(struct rstate *st, zr_restore_report *rep, zr_problem_fn fn, void *ctx)
{
	memset(st, 0, sizeof(*st));
	st->rep = rep;
	st->fn = fn;
	st->ctx = ctx;
}

void rs_free(struct rstate *st)
{
	for (size_t i = 0; i < st->cap; i++) {
		free(st->jobs[i].payload);
		free(st->jobs[i].result);
	}
	free(st->jobs);
	free(st->agents);
	memset(st, 0, sizeof(*st));
}

void rs_report(void *ctx, const char *file, uint64_t off, const char *what)
{
	struct rstate *st = ctx;
	if (!st->rep->first_problem[0]) {
		size_t cap = sizeof(st->rep->first_problem);
		int n = snprintf(st->rep->first_problem, cap, "%.100s @%llu: ", file,
				 (unsigned long long)off);
		snprintf(st->rep->first_problem + n, cap - (size_t)n, "%.120s", what);
	}
	if (st->fn)
		st->fn(st->ctx, file, off, what);
}

void rs_problem(struct rstate *st, const char *file, uint64_t off, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rs_report(st, file, off, what);
}

uint64_t rs_wall(struct clock_ref ref, uint64_t mono)
{
	if (mono == 0 || mono == UINT64_MAX)
		return mono;
	return ref.real_ns + (mono - ref.mono_ns); /* wraps back when mono < ref */
}

/* ---- jobs by UUID ---------------------------------------------------------- */

static uint64_t uuid_hash(const uint8_t u[16])
{
	uint64_t a, b;
	memcpy(&a, u, 8);
	memcpy(&b, u + 8, 8);
	return (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
}

static struct rjob *slot_of(struct rstate *st, const uint8_t u[16])
{
	size_t mask = st->cap - 1;
	for (size_t i = uuid_hash(u) & mask;; i = (i + 1) & mask)
		if (!st->jobs[i].used || !memcmp(st->jobs[i].uuid, u, 16))
			return &st->jobs[i];
}

static int grow(struct rstate *st)
{
	size_t old = st->cap, cap = old ? 2 * old : 1024;
	struct rjob *prev = st->jobs;
	st->jobs = calloc(cap, sizeof(*st->jobs));
	if (!st->jobs) {
		st->jobs = prev;
		return -ENOMEM;
	}
	st->cap = cap;
	for (size_t i = 0; i < old; i++)
		if (prev[i].used)
			*slot_of(st, prev[i].uuid) = prev[i];
	free(prev);
	return 0;
}

static struct rjob *find(struct rstate *st, const uint8_t u[16])
{
	if (!st->cap)
		return NULL;
	struct rjob *r = slot_of(st, u);
	return r->used ? r : NULL;
}

static int set_bytes(uint8_t **dst, uint64_t *dlen, const void *src, uint64_t len)
{
	free(*dst);
	*dst = NULL;
	*dlen = 0;
	if (!src || !len)
		return 0;
	*dst = malloc(len);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, len);
	*dlen = len;
	return 0;
}

int rs_put(struct rstate *st, const struct rjob *j, const void *payload, uint64_t plen,
	   const void *result, uint64_t rlen, bool whole)
{
	if ((st->n + 1) * 4 > st->cap * 3 && grow(st) != 0)
		return -ENOMEM;
	struct rjob *r = slot_of(st, j->uuid);
	if (!r->used)
		st->n++;
	uint8_t *p = r->used ? r->payload : NULL, *res = r->used ? r->result : NULL;
	uint64_t pl = r->used ? r->payload_len : 0, rl = r->used ? r->result_len : 0;
	*r = *j;
	r->used = true;
	r->payload = p;
	r->payload_len = pl;
	r->result = res;
	r->result_len = rl;
	int rc = 0;
	if (whole) {
		rc = set_bytes(&r->payload, &r->payload_len, payload, plen);
		if (rc == 0)
			rc = set_bytes(&r->result, &r->result_len, result, rlen);
	}
	return rc;
}

int rs_agent(struct rstate *st, uint32_t id, const char *name, uint32_t kind, uint32_t on_death)
{
	for (size_t i = 0; i < st->nagents; i++)
		if (st->agents[i].old_id == id) {
			snprintf(st->agents[i].name, sizeof(st->agents[i].name), "%s", name);
			return 0;
		}
	struct ragent *v = realloc(st->agents, (st->nagents + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	st->agents = v;
	struct ragent *g = &v[st->nagents++];
	memset(g, 0, sizeof(*g));
	g->old_id = id;
	g->kind = kind;
	g->on_death = on_death;
	snprintf(g->name, sizeof(g->name), "%s", name);
	return 0;
}

/* ---- journal records --------------------------------------------------------- */

static void volatile_fields(struct rjob *r, const zr_jrec *rec, struct clock_ref ref)
{
	const zr_job_info *i = &rec->job;
	r->status = i->status;
	r->attempt = i->attempt;
	r->holder = i->holder;
	r->kind = (uint64_t)(i->type & 0xff) | (uint64_t)(i->prio & 0xff) << 8 |
		  (uint64_t)(i->flags & 0xffff) << 16 | (uint64_t)(i->max_retries & 0xffff) << 32 |
		  (uint64_t)(i->retries & 0xffff) << 48;
	r->source = i->source;
	r->target = i->target;
	r->claim = rs_wall(ref, i->claim_ns);
	r->finish = rs_wall(ref, i->finish_ns);
	r->expire = rs_wall(ref, i->expire_ns);
	r->due = rs_wall(ref, i->due_ns);
}

int rs_apply(struct rstate *st, const zr_jrec *rec)
{
	if (rec->type == ZR_JREC_AGENT)
		return rs_agent(st, rec->agent_id, rec->agent_name, rec->agent_kind,
				rec->agent_on_death);
	struct clock_ref ref = {rec->time_ns, rec->wall_ns};
	const zr_job_info *i = &rec->job;
	if (rec->type == ZR_JREC_SUBMIT) {
		struct rjob r;
		memset(&r, 0, sizeof(r));
		memcpy(r.uuid, i->uuid, 16);
		volatile_fields(&r, rec, ref);
		r.submit = rs_wall(ref, i->submit_ns);
		r.ttl_ns = rec->ttl_ns;
		r.lease_ns = rec->lease_ns;
		r.interval_ns = i->interval_ns;
		r.backoff = (i->backoff_max_ns / 1000) << 32 | (i->backoff_ns / 1000 & 0xffffffffu);
		memcpy(r.type_name, i->type_name, sizeof(r.type_name));
		memcpy(r.meta, i->meta, sizeof(r.meta));
		if (rec->data_len != i->payload_len)
			rs_problem(st, rec->file, rec->offset,
				   "LSN %llu: submit without its payload bytes",
				   (unsigned long long)rec->lsn);
		struct rjob *old = find(st, i->uuid);
		const void *res = old ? old->result : NULL;
		uint64_t rlen = old ? old->result_len : 0;
		uint8_t *keep = NULL;
		if (res) { /* a restored job's COMPLETE follows its SUBMIT: keep both */
			keep = malloc(rlen);
			if (!keep)
				return -ENOMEM;
			memcpy(keep, res, rlen);
		}
		int rc = rs_put(st, &r, rec->data, rec->data_len, keep, keep ? rlen : 0, true);
		free(keep);
		return rc;
	}
	struct rjob *r = find(st, i->uuid);
	if (!r || r->status == ZR_JOB_FREE) {
		st->rep->records_orphan++;
		return 0;
	}
	volatile_fields(r, rec, ref);
	if (i->error[0] || rec->type == ZR_JREC_FAIL || rec->type == ZR_JREC_RETRY)
		memcpy(r->error, i->error, sizeof(r->error));
	if (rec->type == ZR_JREC_COMPLETE)
		return set_bytes(&r->result, &r->result_len, rec->data, rec->data_len);
	if (rec->type == ZR_JREC_RELEASE) {
		r->status = ZR_JOB_FREE;
		return set_bytes(&r->payload, &r->payload_len, NULL, 0) ||
		       set_bytes(&r->result, &r->result_len, NULL, 0);
	}
	return 0;
}
