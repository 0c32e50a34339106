/* Job and agent events, encoded from the records the caller holds. */
#include <errno.h>
#include <string.h>

#include "jnl_format.h"
#include "jnl_impl.h"
#include "job_impl.h"

/* The calling thread's last record, for zri_jnl_sync(). */
static _Thread_local struct {
	const struct zri_journal *j;
	uint64_t pos;
} last;

static uint32_t type_of(uint32_t status)
{
	switch (status) {
	case ZR_JOB_PROCESSING: return ZR_JREC_CLAIM;
	case ZR_JOB_COMPLETED: return ZR_JREC_COMPLETE;
	case ZR_JOB_FAILED: return ZR_JREC_FAIL;
	case ZR_JOB_DELAYED: return ZR_JREC_RETRY;
	case ZR_JOB_PENDING: return ZR_JREC_REQUEUE;
	case ZR_JOB_CANCELLED: return ZR_JREC_CANCEL;
	case ZR_JOB_EXPIRED: return ZR_JREC_EXPIRE;
	default: return ZR_JREC_RELEASE;
	}
}

/* Bytes of a payload in place, or NULL (a handle that does not resolve is
 * journaled without its bytes: restore then drops the job, and says so). */
static const void *bytes_of(const zr_arena *a, uint64_t handle, uint64_t len)
{
	void *p;
	size_t size;
	zr_payload pl = {handle};
	if (!handle || !len || zr_payload_resolve(a, pl, &p, &size) != 0 || len > size)
		return NULL;
	return p;
}

void zri_jnl_job(zr_arena *a, const struct zri_job *job, uint32_t type, uint32_t status,
		 uint32_t holder, uint32_t attempt)
{
	struct zri_journal *jn = a->journal;
	if (!jn)
		return;
	if (!type)
		type = type_of(status);
	/* relaxed: we hold the record; the word only gives us its generation */
	uint64_t s = atomic_load_explicit(&job->a_state, memory_order_relaxed);
	uint32_t idx = (uint32_t)(job - a->jobs);
	struct zri_jrec_job b = {
		.uuid = {zri_ld(&job->a_uuid[0]), zri_ld(&job->a_uuid[1])},
		.id = zri_job_id(idx, ZRI_JS_GEN(s)),
		.time_ns = zri_now_ns(),
		.kind = zri_ld(&job->a_kind),
		.agents = zri_ld(&job->a_agents),
		.status = status,
		.attempt = attempt,
		.holder = holder,
		.due_ns = zri_ld(&job->a_due_ns),
		.claim_ns = zri_ld(&job->a_claim_ns),
		.finish_ns = zri_ld(&job->a_finish_ns),
		.expire_ns = zri_ld(&job->a_expire_ns),
	};
	struct zri_jrec_submit sub;
	char error[ZR_JOB_ERROR_MAX + 1];
	struct iovec iov[4];
	int n = 0;
	iov[n++] = (struct iovec){&b, sizeof(b)};
	const void *data = NULL;
	if (type == ZR_JREC_SUBMIT) {
		memset(&sub, 0, sizeof(sub));
		sub.submit_ns = zri_ld(&job->a_submit_ns);
		sub.ttl_ns = zri_ld(&job->a_ttl_ns);
		sub.lease_ns = zri_ld(&job->a_lease_ns);
		sub.interval_ns = zri_ld(&job->a_interval_ns);
		sub.backoff = zri_ld(&job->a_backoff);
		sub.payload_len = zri_ld(&job->a_payload_len);
		zri_ld_text(job->a_type_name, 3, sub.type_name);
		zri_ld_text(job->a_meta, ZR_JOB_META_BYTES / 8, sub.meta);
		b.extra |= ZRI_JX_SUBMIT;
		iov[n++] = (struct iovec){&sub, sizeof(sub)};
		data = bytes_of(a, zri_ld(&job->a_payload), sub.payload_len);
		b.data_len = data ? sub.payload_len : 0;
	} else if (type == ZR_JREC_COMPLETE) {
		uint64_t len = zri_ld(&job->a_result_len);
		data = bytes_of(a, zri_ld(&job->a_result), len);
		b.data_len = data ? len : 0;
	}
	if (status == ZR_JOB_FAILED || status == ZR_JOB_DELAYED) {
		zri_ld_text(job->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, error);
		b.extra |= ZRI_JX_ERROR;
		iov[n++] = (struct iovec){error, sizeof(error)};
	}
	if (data)
		iov[n++] = (struct iovec){(void *)(uintptr_t)data, b.data_len};
	last.j = jn;
	last.pos = zri_journal_append(jn, type, iov, n);
}

void zri_jnl_agent(zr_arena *a, uint32_t id, const char *name, uint32_t kind, uint32_t on_death)
{
	struct zri_journal *jn = a->journal;
	if (!jn)
		return;
	struct zri_jrec_agent r = {.id = id, .kind = kind, .on_death = on_death};
	strncpy(r.name, name, ZR_AGENT_NAME_MAX);
	struct iovec iov = {&r, sizeof(r)};
	last.j = jn;
	last.pos = zri_journal_append(jn, ZR_JREC_AGENT, &iov, 1);
}

int zri_jnl_sync(zr_arena *a)
{
	struct zri_journal *jn = a->journal;
	if (!jn || a->hdr->journal.durability != ZR_DURABILITY_SYNC || last.j != jn)
		return 0;
	if (!last.pos)
		return -EIO; /* the stream failed: the change is not journaled */
	return zri_journal_wait(jn, last.pos, -1);
}
