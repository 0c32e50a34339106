/* Restore: a checkpoint's jobs, then the journal from its LSN, gathered in
 * process memory by UUID (restore_state.c), then put into a new arena.
 *
 * The image is read as an arena of its own, bound over a private copy
 * after its header validates; job records are taken as their state word
 * says (a BUSY word already names the new status: see job_submit.c), and
 * every payload handle is resolved through the slab's own checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_impl.h"
#include "jnl_impl.h"
#include "jnl_read.h"
#include "job_impl.h"
#include "restore_impl.h"

/* ---- the image -------------------------------------------------------------- */

static int bind_image(void *img, size_t size, zr_arena **out, zr_diag *diag)
{
	zr_arena *ia = calloc(1, sizeof(*ia));
	if (!ia)
		return -ENOMEM;
	ia->base = img;
	ia->size = size;
	ia->hdr = img;
	ia->readonly = true;
	snprintf(ia->name, sizeof(ia->name), "%s", "checkpoint image");
	int rc = zri_header_validate(ia->hdr, size, diag);
	if (rc == 0)
		rc = zri_arena_bind(ia, ia->hdr, diag);
	if (rc) {
		free(ia);
		return rc;
	}
	*out = ia;
	return 0;
}

static const void *image_bytes(const zr_arena *ia, uint64_t handle, uint64_t len, bool *bad)
{
	if (!handle)
		return NULL;
	void *p;
	size_t size;
	zr_payload pl = {handle};
	if (zr_payload_resolve(ia, pl, &p, &size) != 0 || len > size) {
		*bad = true;
		return NULL;
	}
	return p;
}

static int load_image_jobs(struct rstate *st, const zr_arena *ia, struct clock_ref ref)
{
	for (uint32_t i = 0; i < ia->max_agents; i++) {
		const struct zri_agent *r = &ia->agents[i];
		/* relaxed: a private copy */
		uint64_t w = atomic_load_explicit(&r->a_word, memory_order_relaxed);
		uint32_t s = ZRI_AGENT_STATUS(w);
		if (s != ZRI_AGENT_ALIVE && s != ZRI_AGENT_DEAD)
			continue;
		char name[ZR_AGENT_NAME_MAX + 1];
		memcpy(name, r->name, ZR_AGENT_NAME_MAX);
		name[ZR_AGENT_NAME_MAX] = 0;
		int rc = rs_agent(st, zri_owner_make(i, ZRI_AGENT_GEN(w)), name, r->kind,
				  r->on_death);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < ia->max_jobs; i++) {
		const struct zri_job *j = &ia->jobs[i];
		/* relaxed: a private copy */
		uint64_t s = atomic_load_explicit(&j->a_state, memory_order_relaxed);
		uint32_t status = ZRI_JS_STATUS(s);
		if (status == ZR_JOB_FREE || status == ZR_JOB_BUILDING ||
		    status >= ZR_JOB_STATUS_COUNT)
			continue;
		struct rjob r;
		memset(&r, 0, sizeof(r));
		uint64_t u[2] = {zri_ld(&j->a_uuid[0]), zri_ld(&j->a_uuid[1])};
		memcpy(r.uuid, u, 16);
		r.kind = zri_ld(&j->a_kind);
		uint64_t ag = zri_ld(&j->a_agents);
		r.source = (uint32_t)ag;
		r.target = (uint32_t)(ag >> 32);
		r.holder = (uint32_t)zri_ld(&j->a_holder);
		r.status = status;
		r.attempt = ZRI_JS_ATTEMPT(s);
		r.submit = rs_wall(ref, zri_ld(&j->a_submit_ns));
		r.claim = rs_wall(ref, zri_ld(&j->a_claim_ns));
		r.finish = rs_wall(ref, zri_ld(&j->a_finish_ns));
		r.expire = rs_wall(ref, zri_ld(&j->a_expire_ns));
		r.due = rs_wall(ref, zri_ld(&j->a_due_ns));
		r.ttl_ns = zri_ld(&j->a_ttl_ns);
		r.lease_ns = zri_ld(&j->a_lease_ns);
		r.interval_ns = zri_ld(&j->a_interval_ns);
		r.backoff = zri_ld(&j->a_backoff);
		zri_ld_text(j->a_type_name, 3, r.type_name);
		zri_ld_text(j->a_meta, ZR_JOB_META_BYTES / 8, r.meta);
		zri_ld_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, r.error);
		bool bad = false;
		uint64_t plen = zri_ld(&j->a_payload_len), rlen = zri_ld(&j->a_result_len);
		const void *p = image_bytes(ia, zri_ld(&j->a_payload), plen, &bad);
		const void *res = image_bytes(ia, zri_ld(&j->a_result), rlen, &bad);
		if (bad || (plen && !p) || (rlen && !res)) {
			st->rep->jobs_dropped++;
			rs_problem(st, "checkpoint image", i,
				   "job record %u: payload handle does not resolve", i);
			continue;
		}
		int rc = rs_put(st, &r, p, plen, res, rlen, true);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the journal ------------------------------------------------------------- */

static int replay(struct rstate *st, const char *dir, uint64_t lineage, uint64_t from,
		  zr_problem_fn fn, void *ctx, zr_diag *diag)
{
	zr_jreader *r;
	int rc = zr_jreader_open(dir, lineage, from, 0, fn, ctx, &r, diag);
	if (rc)
		return rc;
	uint32_t stream, segno;
	if (from == 1 && !zri_jreader_from_start(r, &stream, &segno)) {
		/* trimmed for a checkpoint: replaying what is left would load a
		 * state that never existed (the jobs of the trimmed part missing) */
		zr_jreader_close(r);
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "journal %s does not go back to LSN 1 (stream %u starts at "
				    "segment %u, the older ones were trimmed): restore needs "
				    "the checkpoint it was trimmed for",
				    dir, stream, segno);
	}
	if (!st->config.size)
		zri_jreader_config(r, &st->config);
	zr_jrec rec;
	while ((rc = zr_jreader_next(r, &rec)) == 1) {
		rc = rs_apply(st, &rec);
		if (rc)
			break;
		st->rep->records_applied++;
		st->rep->last_lsn = rec.lsn;
	}
	zr_jreader_stats_get(r, &st->rep->journal);
	zr_jreader_close(r);
	if (rc < 0)
		return zri_diag_set(diag, rc, "reading the journal in %s: %s", dir,
				    zr_strerror(rc));
	if (st->rep->journal.rollback_lsn)
		rs_problem(st, dir, 0,
			   "corruption: rolled back to LSN %llu; %llu later records not applied",
			   (unsigned long long)(st->rep->journal.rollback_lsn - 1),
			   (unsigned long long)st->rep->journal.not_applied);
	return 0;
}

/* ---- the whole ------------------------------------------------------------- */

int zr_restore(const zr_restore_config *cfg, zr_problem_fn fn, void *ctx, zr_arena **out,
	       zr_restore_report *rep, zr_diag *diag)
{
	if (!cfg || !cfg->name || !out || !rep || (!cfg->ckpt_dir && !cfg->journal_dir) ||
	    cfg->durability > ZR_DURABILITY_SYNC)
		return zri_diag_set(
			diag, -EINVAL,
			"restore: a name and a checkpoint or journal directory are needed");
	memset(rep, 0, sizeof(*rep));
	uint64_t t0 = zri_now_ns();
	struct rstate st;
	rs_init(&st, rep, fn, ctx);
	void *img = NULL;
	size_t size = 0;
	zr_arena *ia = NULL;
	uint64_t lineage = 0, from = 1;
	int rc = 0;
	if (cfg->ckpt_dir) {
		zr_ckpt_entry e;
		rc = zri_ckpt_load(cfg->ckpt_dir, cfg->ckpt_seq, rs_report, &st, &img, &size, &e,
				   &rep->ckpts_invalid, diag);
		if (rc == 0) {
			rep->ckpt_seq = e.seq;
			lineage = e.lineage;
			from = e.begin_lsn ? e.begin_lsn : 1;
			rc = bind_image(img, size, &ia, diag);
			if (rc == 0)
				rc = load_image_jobs(
					&st, ia,
					(struct clock_ref){e.created_mono_ns, e.created_ns});
			if (rc == 0)
				st.config = ia->hdr->config;
		} else if (rc == -ENOENT && cfg->journal_dir) {
			rc = 0; /* no checkpoint yet: the journal from its start */
		}
	}
	rep->begin_lsn = from;
	if (rc == 0 && cfg->journal_dir)
		rc = replay(&st, cfg->journal_dir, lineage, from, rs_report, &st, diag);
	if (rc == 0 && !st.config.size)
		rc = zri_diag_set(diag, -ENOENT,
				  "restore: found no checkpoint and no journal segment");
	zr_arena *na = NULL;
	if (rc == 0)
		rc = rs_build(&st, cfg, lineage ? lineage : rep->journal.lineage, &na, diag);
	free(ia);
	free(img);
	rs_free(&st);
	if (rc)
		return rc;
	if (!cfg->no_checkpoint && cfg->ckpt_dir) {
		zr_ckpt_config cc;
		zr_ckpt_config_init(&cc, cfg->ckpt_dir);
		cc.kind = ZR_CKPT_FULL;
		zr_ckpt_report cr;
		rc = zr_checkpoint(na, &cc, &cr, diag);
		if (rc) {
			zr_arena_close(na);
			ZRI_IGNORE(zr_arena_unlink(cfg->name));
			return rc;
		}
		rep->new_ckpt_seq = cr.seq;
	}
	rep->total_ns = zri_now_ns() - t0;
	*out = na;
	return 0;
}
