/* Building and submitting jobs, and the queues they travel through.
 *
 * Submit takes a free record (taking its index from the free ring, claiming
 * the record with a CAS while the ring slot still names us, then releasing
 * the slot: a death in between is repaired either way), writes it in
 * BUILDING, publishes PENDING (or DELAYED) with a release store and only
 * then pushes the id, so a claimer never pops a job it cannot see. A dead
 * submitter's records are found by recovery: BUILDING ones are freed, and
 * PENDING ones it pushed are pushed again (a duplicate entry is harmless:
 * claims are CASes on the record, and an entry whose job is not pending is
 * skipped). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <zstd.h>

#include "jnl_impl.h"
#include "job_impl.h"

void zr_job_builder_init(zr_job_builder *b, uint32_t type)
{
	memset(b, 0, sizeof(*b));
	b->type = type;
	b->prio = ZR_PRIO_NORMAL;
	b->max_retries = 3;
	b->ttl_ns = ZR_JOB_DEFAULT_TTL_NS;
	b->lease_ns = ZR_JOB_DEFAULT_LEASE_NS;
	b->backoff_ns = 1000000;
	b->backoff_max_ns = 1000000000;
}

int zr_job_builder_meta(zr_job_builder *b, const char *key, const char *value)
{
	size_t k = key ? strlen(key) : 0, v = value ? strlen(value) : 0;
	if (k == 0)
		return -EINVAL;
	/* pairs are "key\0value\0", and the block ends with an extra NUL */
	if (b->meta_used + k + v + 2 + 1 > ZR_JOB_META_BYTES)
		return -ENOSPC;
	memcpy(b->meta + b->meta_used, key, k + 1);
	memcpy(b->meta + b->meta_used + k + 1, value ? value : "", v + 1);
	b->meta_used += (uint32_t)(k + v + 2);
	return 0;
}

const char *zr_job_meta_get(const char meta[ZR_JOB_META_BYTES], const char *key)
{
	size_t i = 0;
	while (i < ZR_JOB_META_BYTES && meta[i]) {
		const char *k = meta + i;
		size_t kl = strnlen(k, ZR_JOB_META_BYTES - i);
		size_t vi = i + kl + 1;
		if (vi >= ZR_JOB_META_BYTES)
			break;
		const char *v = meta + vi;
		size_t vl = strnlen(v, ZR_JOB_META_BYTES - vi);
		if (vi + vl >= ZR_JOB_META_BYTES)
			break;
		if (strcmp(k, key) == 0)
			return v;
		i = vi + vl + 1;
	}
	return NULL;
}

/* ---- queues ------------------------------------------------------------------ */

zr_inbox *zri_jobs_shared(zr_arena *a)
{
	/* acquire: pairs with the release CAS below: the handle is built */
	zr_inbox *ib = atomic_load_explicit(&a->shared, memory_order_acquire);
	if (ib)
		return ib;
	int rc = zr_inbox_open(a, "zr.shared", &ib);
	if (rc == -ENOENT && !a->readonly) {
		zr_inbox_config cfg = {a->shared_capacity, ZR_WAIT_SPIN, 0};
		rc = zr_inbox_create(a, "zr.shared", &cfg, &ib);
		if (rc == -EEXIST)
			rc = zr_inbox_open(a, "zr.shared", &ib);
	}
	if (rc)
		return NULL;
	zr_inbox *none = NULL;
	/* release: publishes the handle; acquire on failure: take the winner's */
	if (!atomic_compare_exchange_strong_explicit(&a->shared, &none, ib, memory_order_acq_rel,
						     memory_order_acquire)) {
		zr_inbox_close(ib);
		ib = none;
	}
	return ib;
}

/* Wake one agent asleep in a blocking claim, for a job in the shared queue. */
void zri_jobs_wake_idle(zr_arena *a)
{
	/* F1: pairs with F2 in the claimer (claim.c): either we see its idle bit,
	 * or it sees our entry when it looks again */
	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t w = 0; w < (a->max_agents + 63) / 64; w++) {
		/* relaxed: ordered by F1 */
		uint64_t bits = atomic_load_explicit(&a->jctl->a_idle[w], memory_order_relaxed);
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			uint64_t m = UINT64_C(1) << b;
			/* relaxed: whoever clears the bit wakes that agent */
			if (atomic_fetch_and_explicit(&a->jctl->a_idle[w], ~m,
						      memory_order_relaxed) &
			    m) {
				struct zri_agent *r = &a->agents[w * 64 + b];
				zri_waitq_notify(&r->a_futex, &r->a_waiters, &r->a_wakes);
				return;
			}
			bits &= ~m;
		}
	}
}

int zri_job_enqueue(zr_arena *a, zr_job_id id, uint32_t target, uint32_t prio)
{
	zr_inbox *ib = NULL;
	struct zri_agent *r = NULL;
	if (target) {
		uint64_t w = 0;
		uint32_t i = zri_agent_idx(target);
		r = i < a->max_agents ? &a->agents[i] : NULL;
		if (r)
			/* acquire: pairs with R1 in agent.c */
			w = atomic_load_explicit(&r->a_word, memory_order_acquire);
		bool to_shared = !r || (ZRI_AGENT_STATUS(w) == ZRI_AGENT_DEAD &&
					r->on_death == ZR_ON_DEATH_TO_SHARED);
		if (!to_shared)
			ib = zri_agent_inbox(a, target);
		if (!ib)
			r = NULL; /* the name is gone from the slot: any agent may take it */
	}
	if (!ib)
		ib = zri_jobs_shared(a);
	if (!ib || !zr_inbox_push(ib, prio, id))
		return ZR_EFULL;
	if (r)
		zri_waitq_notify(&r->a_futex, &r->a_waiters, &r->a_wakes);
	else
		zri_jobs_wake_idle(a);
	return 0;
}

/* ---- records ------------------------------------------------------------------ */

/* FREE(gen) -> BUILDING, ours. 1: taken; 0: a stale entry (recovery queued
 * the record again under a later generation); -1: the record is in use. */
static int claim_free(zr_arena *a, uint32_t idx, uint32_t gen)
{
	struct zri_job *j = &a->jobs[idx];
	uint64_t s = zri_js_make(gen, 0, 0, 0, ZR_JOB_FREE);
	uint64_t mine = zri_js_make(gen, 0, a->self, 0, ZR_JOB_BUILDING);
	/* acq_rel: see the last user's writes; relaxed on failure: looked at below */
	while (!atomic_compare_exchange_strong_explicit(&j->a_state, &s, mine, memory_order_acq_rel,
							memory_order_relaxed)) {
		if (ZRI_JS_GEN(s) != gen)
			return 0;
		/* FREE still naming its freer, who queued it and has yet to clear
		 * the holder (zri_job_free_slot): it is ours all the same */
		if (ZRI_JS_STATUS(s) != ZR_JOB_FREE || (ZRI_JS_FLAGS(s) & ZRI_JS_BUSY))
			return -1;
	}
	return 1;
}

/* Take a free record and hold it in BUILDING. Returns its index or -1. */
static int64_t take_record(zr_arena *a, uint32_t *gen)
{
	for (int tries = 0; tries < 16; tries++) {
		uint64_t e, ticket;
		int rc = zri_mpmc_take(&a->job_free, &e, &ticket);
		if (rc == 0)
			return -1;
		if (rc < 0) {
			zri_cpu_relax();
			continue;
		}
		uint32_t idx = (uint32_t)e;
		int got = idx < a->max_jobs ? claim_free(a, idx, (uint32_t)(e >> 32)) : -1;
		zri_mpmc_release(&a->job_free, ticket);
		if (got > 0) {
			*gen = (uint32_t)(e >> 32);
			return idx;
		}
		if (got < 0) {
			zri_arena_poison(a, "job free ring holds a record that is not free", e);
			return -1;
		}
	}
	return -1;
}

/* Undo take_record(): a new generation, back on the free ring. */
static void give_back_record(zr_arena *a, uint32_t idx, uint32_t gen)
{
	uint32_t next = (gen + 1) & 0xffffffu;
	/* release: the record's fields are done with before it is reused; we
	 * stay its holder until it is on the free ring (zri_job_free_slot) */
	atomic_store_explicit(&a->jobs[idx].a_state, zri_js_make(next, 0, a->self, 0, ZR_JOB_FREE),
			      memory_order_release);
	zri_job_free_slot(a, idx, next);
}

/* UUIDv7: 48 bits of Unix milliseconds, then random bits (RFC 9562). */
/* Unix time in ms for UUIDv7 from the monotonic `now` we read anyway: the
 * offset between the clocks is refreshed once a second (clock reads cost
 * tens of ns on some VMs, and a submit already needs one). */
static uint64_t unix_ms(uint64_t now)
{
	static _Thread_local uint64_t offset, taken;
	if (!taken || now - taken > 1000000000u) {
		offset = zri_realtime_ns() - now;
		taken = now;
	}
	return (now + offset) / 1000000;
}

static void make_uuid(uint8_t u[16], uint64_t now)
{
	static _Thread_local uint64_t s[2];
	if (!s[0] && !s[1]) {
		if (getrandom(s, sizeof(s), 0) != sizeof(s) || (!s[0] && !s[1])) {
			s[0] = zri_realtime_ns() | 1;
			s[1] = (uint64_t)(uintptr_t)&s ^ zri_now_ns();
		}
	}
	/* xorshift128+: uniqueness, not secrecy */
	uint64_t x = s[0], y = s[1];
	s[0] = y;
	x ^= x << 23;
	s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
	uint64_t r1 = s[1] + y, r2 = r1 * 0x9e3779b97f4a7c15ull;
	uint64_t ms = unix_ms(now);
	for (int i = 0; i < 6; i++)
		u[i] = (uint8_t)(ms >> (40 - 8 * i));
	for (int i = 6; i < 16; i++)
		u[i] = (uint8_t)((i < 11 ? r1 : r2) >> (8 * (i % 8)));
	u[6] = (uint8_t)(0x70 | (u[6] & 0x0f));
	u[8] = (uint8_t)(0x80 | (u[8] & 0x3f));
}

/* Compress a payload into a new one if it shrinks; *out stays null if not. */
static int compress_payload(zr_arena *a, zr_payload src, uint64_t len, int level, zr_payload *out,
			    uint64_t *out_len)
{
	void *p;
	size_t size;
	int rc = zr_payload_resolve(a, src, &p, &size);
	if (rc)
		return rc;
	if (len > size)
		return -EINVAL;
	size_t bound = ZSTD_compressBound(len);
	void *tmp = malloc(bound);
	if (!tmp)
		return -ENOMEM;
	size_t n = ZSTD_compress(tmp, bound, p, len, level);
	out->v = 0;
	if (!ZSTD_isError(n) && n < len && zr_payload_alloc(a, n, out) == 0) {
		memcpy(zr_payload_ptr(a, *out), tmp, n);
		*out_len = n;
	}
	free(tmp);
	return 0;
}

static int check_builder(zr_arena *a, const zr_job_builder *b)
{
	if (b->type < ZR_JOB_COMPUTE || b->type > ZR_JOB_CUSTOM || b->prio >= ZR_PRIO_COUNT ||
	    b->max_retries > 0xffff || b->compress_level < 0 || b->compress_level > 22 ||
	    b->meta_used > ZR_JOB_META_BYTES - 1 || (b->payload_len && !b->payload.v) ||
	    (b->type == ZR_JOB_CUSTOM && !b->type_name[0]))
		return -EINVAL;
	if (b->target && zri_agent_idx(b->target) >= a->max_agents)
		return -EINVAL;
	if (b->payload.v) {
		void *p;
		size_t size;
		int rc = zr_payload_resolve(a, b->payload, &p, &size);
		if (rc)
			return rc == -EINVAL ? -EINVAL : ZR_ESTALE;
		if (b->payload_len > size)
			return -EINVAL;
	}
	return zri_job_blob_check(a, b);
}

static void write_record(uint32_t source, struct zri_job *j, const zr_job_builder *b,
			 zr_payload payload, uint64_t len, uint32_t flags, uint64_t now,
			 uint8_t uuid[16])
{
	zri_st(&j->a_kind, ZRI_KIND(b->type, b->prio, flags, b->max_retries, 0));
	zri_st(&j->a_agents, (uint64_t)b->target << 32 | source);
	zri_st(&j->a_holder, 0);
	zri_st(&j->a_payload, payload.v);
	zri_st(&j->a_payload_len, len);
	zri_st(&j->a_result, 0);
	zri_st(&j->a_result_len, 0);
	zri_st(&j->a_submit_ns, now);
	zri_st(&j->a_claim_ns, 0);
	zri_st(&j->a_finish_ns, 0);
	uint64_t ttl = b->ttl_ns ? b->ttl_ns : ZR_JOB_DEFAULT_TTL_NS;
	zri_st(&j->a_expire_ns, b->interval_ns ? UINT64_MAX : now + b->delay_ns + ttl);
	zri_st(&j->a_ttl_ns, ttl);
	zri_st(&j->a_lease_ns, b->lease_ns ? b->lease_ns : ZR_JOB_DEFAULT_LEASE_NS);
	zri_st(&j->a_interval_ns, b->interval_ns);
	uint64_t bo = b->backoff_ns / 1000, bmax = b->backoff_max_ns / 1000;
	if (bo == 0)
		bo = 1;
	if (bmax < bo)
		bmax = bo;
	zri_st(&j->a_backoff, (bmax > 0xffffffffu ? 0xffffffffu : bmax) << 32 |
				      (bo > 0xffffffffu ? 0xffffffffu : bo));
	zri_st(&j->a_due_ns, b->delay_ns || b->interval_ns
				     ? now + (b->delay_ns ? b->delay_ns : b->interval_ns)
				     : 0);
	uint64_t u[2];
	memcpy(u, uuid, 16);
	zri_st(&j->a_uuid[0], u[0]);
	zri_st(&j->a_uuid[1], u[1]);
	zri_st_text(j->a_type_name, 3, b->type_name, strnlen(b->type_name, ZR_JOB_TYPE_NAME_MAX));
	zri_st_text(j->a_meta, ZR_JOB_META_BYTES / 8, b->meta, b->meta_used);
	zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, "", 0);
}

/* Submit on behalf of agent `source`; counters go to `rec` when not NULL. */
static int submit(zr_arena *a, uint32_t source, struct zri_agent *rec, const zr_job_builder *b,
		  uint32_t extra_flags, zr_job_id *id, uint8_t uuid_out[16])
{
	if (a->readonly)
		return ZR_EREADONLY;
	int rc = check_builder(a, b);
	if (rc)
		return rc;
	zr_payload payload = b->payload, packed = ZR_PAYLOAD_NULL;
	uint64_t len = b->payload_len, packed_len = 0;
	uint32_t flags = (b->interval_ns ? ZR_JOBF_RECURRING : 0) | b->job_flags | extra_flags;
	if (b->compress_level > 0 && payload.v && len > 0) {
		rc = compress_payload(a, payload, len, b->compress_level, &packed, &packed_len);
		if (rc)
			return rc;
		if (packed.v) {
			payload = packed;
			len = packed_len;
			flags |= ZR_JOBF_COMPRESSED;
		}
	}
	uint32_t gen;
	int64_t idx = take_record(a, &gen);
	if (idx < 0) {
		if (packed.v)
			ZRI_IGNORE(zr_payload_free(a, packed));
		zri_jc_add(a, ZRI_JC_FULL, 1);
		return ZR_EFULL;
	}
	struct zri_job *j = &a->jobs[idx];
	uint64_t now = zri_now_ns();
	uint8_t uuid[16];
	make_uuid(uuid, now);
	write_record(source, j, b, payload, len, flags, now, uuid);
	/* attached: no longer reclaimed as an orphan if we die (recovery frees a
	 * BUILDING record's payload itself) */
	if (payload.v)
		ZRI_IGNORE(zr_payload_disown(a, payload));
	bool later = b->delay_ns || b->interval_ns;
	zr_job_id jid = zri_job_id((uint32_t)idx, gen);
	if (a->journal) {
		/* Show the new status, BUSY, before the record draws its LSN: a
		 * checkpoint copying this record either sees it or replays the
		 * record (persist.h). Others leave a BUSY record alone.
		 * relaxed: the release fetch_add of the LSN orders it */
		uint32_t st = later ? ZR_JOB_DELAYED : ZR_JOB_PENDING;
		atomic_store_explicit(&j->a_state, zri_js_make(gen, 0, a->self, ZRI_JS_BUSY, st),
				      memory_order_relaxed);
		zri_jnl_job(a, j, ZR_JREC_SUBMIT, st, a->self, 0);
	}
	/* R1: pairs with A1 of claimers and readers: the record is written */
	atomic_store_explicit(
		&j->a_state,
		zri_js_make(gen, 0, a->self, 0, later ? ZR_JOB_DELAYED : ZR_JOB_PENDING),
		memory_order_release);
	if (later) {
		zri_jobs_due(a, zri_ld(&j->a_due_ns));
	} else if ((rc = zri_job_enqueue(a, jid, b->target, b->prio)) != 0) {
		/* not queued: nobody can have seen the id; take it back. BUILDING
		 * again first: if we die now, recovery frees the record and its
		 * payload instead of queueing a job whose submit failed.
		 * relaxed: while we live nobody acts on a record holding our
		 * id that was never handed out */
		atomic_store_explicit(&j->a_state, zri_js_make(gen, 0, a->self, 0, ZR_JOB_BUILDING),
				      memory_order_relaxed);
		if (a->journal)
			zri_jnl_job(a, j, ZR_JREC_RELEASE, ZR_JOB_FREE, 0, 0);
		if (payload.v)
			ZRI_IGNORE(zr_payload_adopt(a, payload));
		zri_st(&j->a_payload, 0);
		give_back_record(a, (uint32_t)idx, gen);
		if (packed.v)
			ZRI_IGNORE(zr_payload_free(a, packed));
		zri_jc_add(a, ZRI_JC_FULL, 1);
		return rc;
	}
	zri_jobs_due(a, zri_ld(&j->a_expire_ns));
	if (packed.v) /* the job keeps the compressed copy */
		ZRI_IGNORE(zr_payload_free(a, b->payload));
	if (rec) {
		zri_own_add(&rec->a_submitted, 1);
		zri_own_add(&rec->a_submitted_bytes, b->payload_len);
		zri_own_add(&rec->a_submitted_prio[b->prio], 1);
	} else {
		zri_jc_add(a, ZRI_JC_SUBMITTED, 1);
		zri_jc_add(a, ZRI_JC_SUBMITTED_BYTES, b->payload_len);
		zri_jc_add(a, ZRI_JC_SUBMITTED_PRIO + b->prio, 1);
	}
	if (id)
		*id = jid;
	if (uuid_out)
		memcpy(uuid_out, uuid, 16);
	return 0;
}

int zr_job_submit(zr_agent *ag, const zr_job_builder *b, zr_job_id *id, uint8_t uuid_out[16])
{
	if (!ag || !b || !id)
		return -EINVAL;
	int rc = submit(ag->a, ag->id, ag->rec, b, 0, id, uuid_out);
	return rc ? rc : zri_jnl_sync(ag->a);
}

int zri_job_spawn(zr_arena *a, struct zri_job *j)
{
	zr_job_builder b;
	uint64_t k = zri_ld(&j->a_kind);
	zr_job_builder_init(&b, ZRI_KIND_TYPE(k));
	b.prio = ZRI_KIND_PRIO(k);
	b.max_retries = ZRI_KIND_MAXR(k);
	uint64_t ag = zri_ld(&j->a_agents);
	b.target = (uint32_t)(ag >> 32);
	b.ttl_ns = zri_ld(&j->a_ttl_ns);
	b.lease_ns = zri_ld(&j->a_lease_ns);
	uint64_t bo = zri_ld(&j->a_backoff);
	b.backoff_ns = (bo & 0xffffffffu) * 1000;
	b.backoff_max_ns = (bo >> 32) * 1000;
	char meta[ZR_JOB_META_BYTES];
	zri_ld_text(j->a_type_name, 3, b.type_name);
	zri_ld_text(j->a_meta, ZR_JOB_META_BYTES / 8, meta);
	memcpy(b.meta, meta, sizeof(meta));
	b.meta_used = ZR_JOB_META_BYTES - 1;
	zr_payload src = {zri_ld(&j->a_payload)};
	uint64_t len = zri_ld(&j->a_payload_len);
	if (src.v && len) {
		void *p = zr_payload_ptr(a, src);
		if (!p || zr_payload_alloc(a, len, &b.payload) != 0)
			return -ENOMEM;
		memcpy(zr_payload_ptr(a, b.payload), p, len);
		b.payload_len = len;
	}
	uint32_t keep = ZRI_KIND_FLAGS(k) & (ZR_JOBF_COMPRESSED | ZR_JOBF_BLOB);
	int rc = submit(a, (uint32_t)ag, NULL, &b, keep, NULL, NULL);
	if (rc && b.payload.v)
		ZRI_IGNORE(zr_payload_free(a, b.payload));
	return rc;
}

int zri_job_insert(zr_arena *a, const struct zri_job_image *im, zr_job_id *id)
{
	uint32_t gen;
	int64_t idx = take_record(a, &gen);
	if (idx < 0)
		return ZR_EFULL;
	struct zri_job *j = &a->jobs[idx];
	zri_st(&j->a_kind, im->kind);
	zri_st(&j->a_agents, (uint64_t)im->target << 32 | im->source);
	zri_st(&j->a_holder, im->holder);
	zri_st(&j->a_payload, im->payload.v);
	zri_st(&j->a_payload_len, im->payload_len);
	zri_st(&j->a_result, im->result.v);
	zri_st(&j->a_result_len, im->result_len);
	zri_st(&j->a_submit_ns, im->submit_ns);
	zri_st(&j->a_claim_ns, im->claim_ns);
	zri_st(&j->a_finish_ns, im->finish_ns);
	zri_st(&j->a_expire_ns, im->expire_ns);
	zri_st(&j->a_ttl_ns, im->ttl_ns);
	zri_st(&j->a_lease_ns, im->lease_ns);
	zri_st(&j->a_interval_ns, im->interval_ns);
	zri_st(&j->a_backoff, im->backoff);
	zri_st(&j->a_due_ns, im->due_ns);
	uint64_t u[2];
	memcpy(u, im->uuid, 16);
	zri_st(&j->a_uuid[0], u[0]);
	zri_st(&j->a_uuid[1], u[1]);
	zri_st_text(j->a_type_name, 3, im->type_name, strnlen(im->type_name, ZR_JOB_TYPE_NAME_MAX));
	zri_st_text(j->a_meta, ZR_JOB_META_BYTES / 8, im->meta, ZR_JOB_META_BYTES - 1);
	zri_st_text(j->a_error, (ZR_JOB_ERROR_MAX + 1) / 8, im->error,
		    strnlen(im->error, ZR_JOB_ERROR_MAX));
	if (im->payload.v)
		ZRI_IGNORE(zr_payload_disown(a, im->payload));
	if (im->result.v)
		ZRI_IGNORE(zr_payload_disown(a, im->result));
	if (a->journal) {
		/* relaxed: ordered by the LSN's release fetch_add, as in submit() */
		atomic_store_explicit(
			&j->a_state,
			zri_js_make(gen, im->attempt, a->self, ZRI_JS_BUSY, im->status),
			memory_order_relaxed);
		zri_jnl_job(a, j, ZR_JREC_SUBMIT, im->status, im->holder, im->attempt);
		if (im->result.v)
			zri_jnl_job(a, j, ZR_JREC_COMPLETE, im->status, im->holder, im->attempt);
	}
	zr_job_id jid = zri_job_id((uint32_t)idx, gen);
	/* R1: pairs with A1 of claimers and readers: the record is written */
	atomic_store_explicit(&j->a_state, zri_js_make(gen, im->attempt, a->self, 0, im->status),
			      memory_order_release);
	if (im->status == ZR_JOB_PENDING &&
	    zri_job_enqueue(a, jid, im->target, ZRI_KIND_PRIO(im->kind)) != 0) {
		/* its queue is full: wait in DELAYED for the timer to queue it */
		uint64_t s = zri_js_make(gen, im->attempt, a->self, 0, ZR_JOB_PENDING);
		if (zri_js_begin(a, j, &s, ZR_JOB_DELAYED, im->attempt)) {
			zri_st(&j->a_due_ns, zri_now_ns() + 1000000);
			zri_js_commit(a, j, ZR_JOB_DELAYED, a->self, im->attempt, 0);
		}
	}
	if (im->status == ZR_JOB_DELAYED)
		zri_jobs_due(a, zri_ld(&j->a_due_ns));
	if (!zri_status_final(im->status) || im->expire_ns != UINT64_MAX)
		zri_jobs_due(a, im->expire_ns);
	*id = jid;
	return 0;
}
