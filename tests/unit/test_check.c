/* tests/unit/test_check.c (label unit): zr_arena_check_each() on a healthy
 * arena with rings, payloads, agents and jobs in most statuses (nothing
 * reported, from a read-write and a read-only attachment), on an arena with
 * independent corruptions written through the read-write mapping (each
 * reported with its area, location and offset, also through the read-only
 * one), the per-component cap, stopping early, and a corrupt header (nothing
 * else walked). The multi-process live-load case is
 * tests/stress/stress_check_live.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/job_impl.h"
#include "jobs.h"

#define MAX_SEEN 128

struct seen {
	size_t n;     /* reports received */
	size_t limit; /* stop after this many (0: never) */
	zr_violation v[MAX_SEEN];
};

static int collect(void *ctx, const zr_violation *v)
{
	struct seen *s = ctx;
	if (s->n < MAX_SEEN)
		s->v[s->n] = *v;
	s->n++;
	return s->limit && s->n >= s->limit;
}

static size_t check_into(const zr_arena *a, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return zr_arena_check_each(a, collect, s);
}

static void print_seen(const struct seen *s)
{
	for (size_t i = 0; i < s->n && i < MAX_SEEN; i++)
		fprintf(stderr, "  %s | %s | %#llx | %s\n", s->v[i].area, s->v[i].where,
			(unsigned long long)s->v[i].offset, s->v[i].msg);
}

static void expect_clean(const zr_arena *a)
{
	struct seen s;
	size_t n = check_into(a, &s);
	if (n != 0 || s.n != 0) {
		print_seen(&s);
		fail_msg("%zu violations in a healthy arena", n);
	}
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(a, &d), 0);
}

/* The report of `area` at `offset`; fails the test if there is none. */
static const zr_violation *find(const struct seen *s, const char *area, uint64_t offset)
{
	for (size_t i = 0; i < s->n && i < MAX_SEEN; i++)
		if (!strcmp(s->v[i].area, area) && s->v[i].offset == offset)
			return &s->v[i];
	print_seen(s);
	fail_msg("no %s violation at offset %#llx", area, (unsigned long long)offset);
	return NULL;
}

static uint64_t arena_size(const zr_arena *a)
{
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	return in.size;
}

static uint64_t off_of(const zr_arena *a, const void *p)
{
	return (uint64_t)((const uint8_t *)p - (const uint8_t *)zr_arena_base(a));
}

static zr_arena *open_ro(void)
{
	zr_arena *r = NULL;
	zr_diag d = {0};
	int rc = zr_arena_open(jt.name, ZR_ARENA_READONLY, &r, &d);
	if (rc)
		fail_msg("open read-only: %s", d.msg);
	return r;
}

static zr_job_id submit(uint32_t prio, uint64_t delay_ns, size_t payload)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.prio = prio;
	b.delay_ns = delay_ns;
	b.target = zr_agent_id(jt.work);
	if (payload) {
		assert_int_equal(zr_payload_alloc(jt.a, payload, &b.payload), 0);
		memset(zr_payload_ptr(jt.a, b.payload), 7, payload);
		b.payload_len = payload;
	}
	zr_job_id id = 0;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	return id;
}

static zr_claim claim(void)
{
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	return c;
}

static zr_ring *mpmc_ring(const char *name, uint32_t cap)
{
	zr_ring_config cfg = {ZR_RING_MPMC, cap, ZR_WAIT_SPIN};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(jt.a, name, &cfg, &r), 0);
	return r;
}

/* Rings, payloads and jobs in most statuses: PENDING, PROCESSING,
 * COMPLETED, FAILED, CANCELLED, DELAYED; FREE and released records too. */
static void populate(void)
{
	zr_ring *r = mpmc_ring("c.mpmc", 16);
	zr_ring_config sc = {ZR_RING_SPSC, 8, ZR_WAIT_SPIN};
	zr_ring *sp = NULL;
	assert_int_equal(zr_ring_create(jt.a, "c.spsc", &sc, &sp), 0);
	for (uint64_t i = 0; i < 40; i++) { /* a few laps */
		assert_true(zr_ring_enqueue(r, i));
		uint64_t v;
		if (i % 3)
			assert_true(zr_ring_dequeue(r, &v));
	}
	assert_true(zr_ring_enqueue(sp, 1));
	zr_payload big;
	assert_int_equal(zr_payload_alloc(jt.a, 300 << 10, &big), 0); /* large heap */
	zr_job_id done = submit(ZR_PRIO_HIGH, 0, 100);
	zr_job_id failed = submit(ZR_PRIO_LOW, 0, 0);
	(void)submit(ZR_PRIO_NORMAL, 0, 70000); /* stays PROCESSING */
	zr_claim c = claim();
	assert_int_equal(c.id, done);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	c = claim();
	assert_int_equal(zr_job_fail(jt.work, &c, "no", false), 0);
	(void)failed;
	c = claim();
	(void)submit(ZR_PRIO_CRITICAL, 0, 10);		   /* PENDING */
	(void)submit(ZR_PRIO_NORMAL, 3600000000000ull, 0); /* DELAYED */
	zr_job_id gone = submit(ZR_PRIO_NORMAL, 3600000000000ull, 0);
	assert_int_equal(zr_job_cancel(jt.a, gone), 0);
	zr_job_id rel = submit(ZR_PRIO_NORMAL, 3600000000000ull, 0);
	assert_int_equal(zr_job_cancel(jt.a, rel), 0);
	assert_int_equal(zr_job_release(jt.a, rel), 0);
	zr_ring_close(sp);
	zr_ring_close(r);
}

static void test_healthy(void **state)
{
	(void)state;
	expect_clean(jt.a);
	populate();
	expect_clean(jt.a);
	zr_arena *r = open_ro();
	expect_clean(r);
	assert_int_equal(zr_arena_close(r), 0);
	zr_diag d = {0};
	zr_ring *ring = NULL;
	assert_int_equal(zr_ring_open(jt.a, "c.mpmc", &ring), 0);
	assert_int_equal(zr_ring_check(ring, &d), 0);
	zr_ring_close(ring);
}

/* ---- corruptions ------------------------------------------------------------ */

/* Each scribble: the word, its old value (restored at the end), the area
 * that must report it. */
struct scribble {
	_Atomic uint64_t *w;
	uint64_t old;
	const char *area;
	const char *where; /* a part of the report's where */
};

static void scribble(struct scribble *s, _Atomic uint64_t *w, uint64_t v, const char *area,
		     const char *where)
{
	s->w = w;
	s->old = atomic_load(w);
	s->area = area;
	s->where = where;
	atomic_store(w, v);
}

static void expect_reported(const zr_arena *a, const struct seen *s, const struct scribble *sc,
			    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const zr_violation *v = find(s, sc[i].area, off_of(jt.a, sc[i].w));
		if (!strstr(v->where, sc[i].where))
			fail_msg("%s report at \"%s\" lacks \"%s\"", sc[i].area, v->where,
				 sc[i].where);
		assert_true(v->msg[0] != '\0');
		assert_true(v->offset < arena_size(a));
	}
}

static size_t corrupt_all(struct scribble *sc, char where_job[64], char where_agent[64])
{
	size_t n = 0;
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_open(jt.a, "c.mpmc", &r), 0);
	struct zri_slot *slots = r->slots;
	uint64_t st = atomic_load(&slots[3].a_state);
	/* a FREE or FULL slot that names an owner */
	scribble(&sc[n++], &slots[3].a_state, st | (uint64_t)5 << 2, "rings", "c.mpmc");
	zr_ring_close(r);
	/* slab block metadata with an unknown state */
	_Atomic uint64_t *meta = jt.a->classes[0].meta;
	scribble(&sc[n++], &meta[5], zri_blk_word(ZRI_BLK_GEN(atomic_load(&meta[5])), 0, 9), "slab",
		 "size class 0 block 5");
	/* a job record's priority */
	zr_job_id id = submit(ZR_PRIO_NORMAL, 0, 0);
	uint32_t idx;
	struct zri_job *j = zri_job_at(jt.a, id, &idx);
	uint64_t k = atomic_load(&j->a_kind);
	scribble(&sc[n++], &j->a_kind, (k & ~(uint64_t)0xff00) | (uint64_t)9 << 8, "jobs", "job");
	snprintf(where_job, 64, "job %u", idx);
	/* another job's status */
	id = submit(ZR_PRIO_NORMAL, 0, 0);
	j = zri_job_at(jt.a, id, NULL);
	scribble(&sc[n++], &j->a_state, atomic_load(&j->a_state) | 0xf, "jobs", "job");
	/* an agent's status */
	uint32_t ai = zri_agent_idx(zr_agent_id(jt.prod));
	_Atomic uint64_t *aw = &jt.a->agents[ai].a_word;
	uint64_t w = atomic_load(aw);
	scribble(&sc[n++], aw, zri_agent_word(ZRI_AGENT_GEN(w), 7, ZRI_AGENT_OWNER(w)), "agents",
		 "agent");
	snprintf(where_agent, 64, "agent %u", ai);
	/* a process slot's state */
	_Atomic uint64_t *pw = &jt.a->procs[jt.a->max_procs - 1].a_word;
	scribble(&sc[n++], pw, zri_proc_word(0, 3, 5), "procs", "process slot");
	/* a large page word in a state pages never have */
	_Atomic uint64_t *lw = &jt.a->pmeta[jt.a->npages - 1].a_word;
	scribble(&sc[n++], lw, zri_blk_word(1, 0, ZRI_BLK_CACHED), "large", "large page");
	return n;
}

static void test_corruptions(void **state)
{
	(void)state;
	populate();
	struct scribble sc[8];
	char where_job[64], where_agent[64];
	size_t n = corrupt_all(sc, where_job, where_agent);
	struct seen s;
	size_t found = check_into(jt.a, &s);
	if (found < n || s.n != found) {
		print_seen(&s);
		fail_msg("found %zu, reported %zu, corrupted %zu", found, s.n, n);
	}
	expect_reported(jt.a, &s, sc, n);
	assert_non_null(strstr(find(&s, "jobs", off_of(jt.a, sc[2].w))->where, where_job));
	assert_non_null(strstr(find(&s, "agents", off_of(jt.a, sc[4].w))->where, where_agent));
	/* the same reports, at the same offsets, through a read-only attachment */
	zr_arena *r = open_ro();
	struct seen s2;
	assert_int_equal(check_into(r, &s2), found);
	expect_reported(r, &s2, sc, n);
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(r, &d), ZR_ECORRUPT);
	assert_int_equal(d.code, ZR_ECORRUPT);
	assert_non_null(strstr(d.msg, s.v[0].where)); /* the first one, as the walk found it */
	for (size_t i = n; i-- > 0;)
		atomic_store(sc[i].w, sc[i].old);
	expect_clean(r);
	assert_int_equal(zr_arena_close(r), 0);
	expect_clean(jt.a);
}

/* More than the cap in one ring: 16 reports, then one saying how many more. */
static void test_cap(void **state)
{
	(void)state;
	zr_ring *r = mpmc_ring("c.cap", 64);
	struct zri_slot *slots = r->slots;
	uint64_t old[40];
	for (int i = 0; i < 40; i++) {
		old[i] = atomic_load(&slots[i].a_state);
		atomic_store(&slots[i].a_state, old[i] | (uint64_t)1 << 2); /* FREE with an owner */
	}
	struct seen s;
	assert_int_equal(check_into(jt.a, &s), 40);
	assert_int_equal(s.n, 17);
	for (int i = 0; i < 16; i++)
		assert_int_equal(s.v[i].offset, off_of(jt.a, &slots[i].a_state));
	assert_non_null(strstr(s.v[16].msg, "24 more in this ring"));
	assert_int_equal(s.v[16].offset, UINT64_MAX);
	for (int i = 0; i < 40; i++)
		atomic_store(&slots[i].a_state, old[i]);
	expect_clean(jt.a);
	zr_ring_close(r);
}

static void test_stop_early(void **state)
{
	(void)state;
	populate();
	struct scribble sc[8];
	char where_job[64], where_agent[64];
	size_t n = corrupt_all(sc, where_job, where_agent);
	struct seen s;
	memset(&s, 0, sizeof(s));
	s.limit = 1;
	assert_int_equal(zr_arena_check_each(jt.a, collect, &s), 1);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.limit = 3;
	assert_int_equal(zr_arena_check_each(jt.a, collect, &s), 3);
	assert_int_equal(s.n, 3);
	assert_true(zr_arena_check_each(jt.a, NULL, NULL) >= n); /* no callback: count only */
	for (size_t i = n; i-- > 0;)
		atomic_store(sc[i].w, sc[i].old);
	expect_clean(jt.a);
}

/* A broken header is the only report: the sections it describes are in doubt. */
static void test_header(void **state)
{
	(void)state;
	populate();
	struct scribble sc[8];
	char where_job[64], where_agent[64];
	size_t n = corrupt_all(sc, where_job, where_agent);
	struct zri_header *h = zr_arena_base(jt.a);
	h->name[0] ^= 1;
	struct seen s;
	assert_int_equal(check_into(jt.a, &s), 1);
	assert_string_equal(s.v[0].area, "header");
	assert_non_null(strstr(s.v[0].msg, "checksum"));
	assert_int_equal(s.v[0].offset, 0);
	h->name[0] ^= 1;
	for (size_t i = n; i-- > 0;)
		atomic_store(sc[i].w, sc[i].old);
	expect_clean(jt.a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, zr_test_jobs_setup, zr_test_jobs_teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_healthy),    T(test_corruptions), T(test_cap),
		T(test_stop_early), T(test_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
