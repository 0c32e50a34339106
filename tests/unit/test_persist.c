/* tests/unit/test_persist.c: the journal and restore.
 *
 * A loaded arena (jobs in every status, payloads of every size class)
 * goes through journal + checkpoint + more work + restore, and the
 * restored arena holds the same jobs, by UUID, with the same bytes.
 * Damage to the journal is reported and rolled back, never loaded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test.h"
#include "zring/persist.h"

struct fx {
	char dir[128], jdir[160], cdir[160];
	char name[64];
	zr_arena *a;
	zr_agent *prod, *work;
};

static void rm_rf(const char *path)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static zr_agent *agent(zr_arena *a, const char *name)
{
	zr_agent *ag;
	assert_int_equal(zr_agent_register(a, name, NULL, &ag), 0);
	return ag;
}

static void fx_open(struct fx *f, uint32_t durability)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/zring-persist-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->jdir, sizeof(f->jdir), "%s/journal", f->dir);
	snprintf(f->cdir, sizeof(f->cdir), "%s/ckpt", f->dir);
	assert_int_equal(mkdir(f->jdir, 0700), 0);
	zr_journal_config jc;
	zr_journal_config_init(&jc, f->jdir);
	jc.durability = durability;
	jc.segment_bytes = 1u << 20; /* rotate often */
	jc.buffer_bytes = 256u << 10;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)16 << 20);
	cfg.journal = &jc;
	f->a = zr_test_arena_cfg(&cfg, f->name);
	f->prod = agent(f->a, "producer");
	f->work = agent(f->a, "worker");
}

static void fx_close(struct fx *f)
{
	if (f->prod)
		zr_agent_unregister(f->prod);
	if (f->work)
		zr_agent_unregister(f->work);
	if (f->a)
		assert_int_equal(zr_arena_close(f->a), 0);
	assert_int_equal(zr_arena_unlink(f->name), 0);
	zr_test_forget(f->name);
	rm_rf(f->dir);
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static zr_job_id submit(zr_agent *ag, size_t len, uint32_t prio, uint64_t seed, bool delayed)
{
	zr_arena *a = zr_agent_arena(ag);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.prio = prio;
	b.max_retries = 2;
	if (delayed)
		b.delay_ns = 60ull * 1000000000u;
	assert_int_equal(zr_job_builder_meta(&b, "seed", "x"), 0);
	if (len) {
		assert_int_equal(zr_payload_alloc(a, len, &b.payload), 0);
		fill(zr_payload_ptr(a, b.payload), len, seed);
		b.payload_len = len;
	}
	zr_job_id id;
	assert_int_equal(zr_job_submit(ag, &b, &id, NULL), 0);
	return id;
}

/* Claim one job and finish it as `how` says: 0 complete (with a result),
 * 1 fail with retry, 2 fail for good, 3 leave it processing. */
static void work_one(struct fx *f, int how, uint64_t seed)
{
	zr_claim c;
	assert_int_equal(zr_job_claim(f->work, &c), 1);
	if (how == 0) {
		zr_payload r;
		size_t n = 100 + seed % 3000;
		assert_int_equal(zr_payload_alloc(f->a, n, &r), 0);
		fill(zr_payload_ptr(f->a, r), n, seed ^ 0xabc);
		assert_int_equal(zr_job_complete(f->work, &c, r, n), 0);
	} else if (how == 1 || how == 2) {
		assert_int_equal(zr_job_fail(f->work, &c, "boom", how == 1), 0);
	}
}

/* Jobs in every status, payloads from 0 B to 1 MiB (every size class). */
static void load(struct fx *f, uint64_t seed)
{
	static const size_t sizes[] = {0, 1, 60, 200, 900, 3000, 9000, 40000, 200000, 1 << 20};
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			submit(f->prod, sizes[i], (uint32_t)(i % 4), seed + i + 100u * round,
			       false);
	for (int i = 0; i < 6; i++)
		work_one(f, 0, seed + (uint64_t)i);
	work_one(f, 1, seed);
	work_one(f, 2, seed);
	work_one(f, 3, seed);
	zr_job_id c = submit(f->prod, 64, 0, seed, false);
	assert_int_equal(zr_job_cancel(f->a, c), 0);
	submit(f->prod, 128, 1, seed, true); /* DELAYED */
}

/* Every live job of `a`, sorted by UUID. */
static zr_job_info *jobs_of(zr_arena *a, size_t *n)
{
	zr_job_info *v = calloc(4096, sizeof(*v));
	assert_non_null(v);
	assert_int_equal(zr_jobs_list(a, NULL, v, 4096, n), 0);
	return v;
}

static const zr_job_info *by_uuid(const zr_job_info *v, size_t n, const uint8_t u[16])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(v[i].uuid, u, 16))
			return &v[i];
	return NULL;
}

static void same_bytes(zr_arena *x, zr_payload px, zr_arena *y, zr_payload py, uint64_t len)
{
	if (!len)
		return;
	const void *a = zr_payload_ptr(x, px), *b = zr_payload_ptr(y, py);
	assert_non_null(a);
	assert_non_null(b);
	assert_memory_equal(a, b, len);
}

/* The restored arena holds what the source held, by UUID. */
static void compare(zr_arena *src, zr_arena *dst, size_t *reclaimed)
{
	size_t ns, nd;
	zr_job_info *s = jobs_of(src, &ns), *d = jobs_of(dst, &nd);
	assert_int_equal(ns, nd);
	*reclaimed = 0;
	for (size_t i = 0; i < ns; i++) {
		const zr_job_info *o = by_uuid(d, nd, s[i].uuid);
		assert_non_null(o);
		uint32_t want = s[i].status;
		if (want == ZR_JOB_PROCESSING) {
			want = ZR_JOB_PENDING;
			assert_int_equal(o->retries, s[i].retries + 1);
			++*reclaimed;
		} else {
			assert_int_equal(o->retries, s[i].retries);
		}
		assert_int_equal(o->status, want);
		assert_int_equal(o->prio, s[i].prio);
		assert_int_equal(o->type, s[i].type);
		assert_int_equal(o->payload_len, s[i].payload_len);
		assert_int_equal(o->result_len, s[i].result_len);
		assert_string_equal(o->meta, s[i].meta);
		assert_string_equal(o->error, s[i].error);
		same_bytes(src, s[i].payload, dst, o->payload, s[i].payload_len);
		same_bytes(src, s[i].result, dst, o->result, s[i].result_len);
	}
	free(s);
	free(d);
}

static zr_arena *restore(struct fx *f, const char *name, bool ckpt, zr_restore_report *rep)
{
	zr_restore_config rc = {.name = name,
				.ckpt_dir = ckpt ? f->cdir : NULL,
				.journal_dir = f->jdir,
				.durability = ZR_DURABILITY_ASYNC};
	zr_arena *out = NULL;
	zr_diag d = {0};
	int r = zr_restore(&rc, NULL, NULL, &out, rep, &d);
	if (r)
		fail_msg("restore: %s: %s", zr_strerror(r), d.msg);
	zr_test_forget(name);
	return out;
}

static void drop(zr_arena *a, const char *name)
{
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* ---- the journal itself ------------------------------------------------------ */

static void test_journal_records(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, ZR_DURABILITY_ASYNC);
	load(&f, 1);
	assert_int_equal(zr_journal_flush(f.a, -1), 0);
	zr_journal_stats js;
	zr_journal_stat(f.a, &js);
	assert_true(js.enabled);
	assert_int_equal(js.error, 0);
	assert_int_equal(js.lost, 0);
	zr_jreader *r;
	assert_int_equal(zr_jreader_open(f.jdir, 0, 1, 0, NULL, NULL, &r, NULL), 0);
	zr_jrec rec;
	uint64_t last = 0, n = 0, by_type[ZR_JREC_TYPE_MAX + 1] = {0};
	int rc;
	while ((rc = zr_jreader_next(r, &rec)) == 1) {
		assert_true(rec.lsn > last);
		last = rec.lsn;
		by_type[rec.type]++;
		n++;
		if (rec.type == ZR_JREC_SUBMIT)
			assert_int_equal(rec.data_len, rec.job.payload_len);
	}
	assert_int_equal(rc, 0);
	zr_jreader_stats st;
	zr_jreader_stats_get(r, &st);
	zr_jreader_close(r);
	assert_int_equal(st.corrupt + st.torn_tails + st.bad_segments, 0);
	assert_true(st.segments > 1); /* 3 MiB of payloads in 1 MiB segments */
	assert_int_equal(n, js.records);
	assert_int_equal(by_type[ZR_JREC_SUBMIT], 32);
	assert_int_equal(by_type[ZR_JREC_AGENT], 2);
	assert_int_equal(by_type[ZR_JREC_COMPLETE], 6);
	assert_int_equal(by_type[ZR_JREC_FAIL], 1);
	assert_int_equal(by_type[ZR_JREC_RETRY], 1);
	assert_int_equal(by_type[ZR_JREC_CANCEL], 1);
	assert_int_equal(by_type[ZR_JREC_CLAIM], 9);
	fx_close(&f);
}

static void test_sync_group_commit(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, ZR_DURABILITY_SYNC);
	for (int i = 0; i < 50; i++) {
		submit(f.prod, 64, 2, (uint64_t)i, false);
		zr_journal_stats js;
		zr_journal_stat(f.a, &js);
		/* submit returned: its record (the newest of this stream) is durable */
		assert_int_equal(js.durable_lsn, js.next_lsn - 1);
	}
	zr_journal_stats js;
	zr_journal_stat(f.a, &js);
	assert_true(js.syncs >= 1);
	fx_close(&f);
}

/* ---- restore ------------------------------------------------------------------ */

static void test_restore_checkpoint_and_journal(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, ZR_DURABILITY_ASYNC);
	load(&f, 7);
	zr_ckpt_config cc;
	zr_ckpt_config_init(&cc, f.cdir);
	zr_ckpt_report cr;
	zr_diag d = {0};
	assert_int_equal(zr_checkpoint(f.a, &cc, &cr, &d), 0);
	load(&f, 9); /* after the checkpoint: from the journal only */
	zr_job_info some[8];
	size_t n;
	zr_job_filter done = {.status_mask = 1u << ZR_JOB_COMPLETED};
	assert_int_equal(zr_jobs_list(f.a, &done, some, 8, &n), 0);
	assert_int_equal(zr_job_release(f.a, some[0].id), 0);
	assert_int_equal(zr_journal_flush(f.a, -1), 0);

	char name[80];
	snprintf(name, sizeof(name), "%s-r", f.name);
	zr_restore_report rep;
	zr_arena *r = restore(&f, name, true, &rep);
	assert_int_equal(rep.ckpt_seq, cr.seq);
	assert_int_equal(rep.begin_lsn, cr.begin_lsn);
	assert_true(rep.records_applied > 0);
	assert_int_equal(rep.journal.corrupt, 0);
	assert_string_equal(rep.first_problem, "");
	size_t reclaimed;
	compare(f.a, r, &reclaimed);
	assert_int_equal(reclaimed, 2);
	assert_int_equal(rep.jobs_reclaimed, 2);
	/* the agents came back as dead placeholders that keep their inboxes */
	assert_int_not_equal(zr_agent_lookup(r, "worker"), 0);
	zr_agent *w;
	assert_int_equal(zr_agent_register(r, "worker", NULL, &w), 0);
	zr_claim c;
	assert_int_equal(zr_job_claim(w, &c), 1);
	zr_agent_unregister(w);
	drop(r, name);
	fx_close(&f);
}

static void test_restore_journal_only(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, ZR_DURABILITY_SYNC);
	load(&f, 3);
	char name[80];
	snprintf(name, sizeof(name), "%s-j", f.name);
	zr_restore_report rep;
	zr_arena *r = restore(&f, name, false, &rep);
	assert_int_equal(rep.ckpt_seq, 0);
	size_t reclaimed;
	compare(f.a, r, &reclaimed);
	drop(r, name);
	fx_close(&f);
}

/* Flip a byte in the middle of the journal: reported, rolled back before it. */
static void test_restore_rolls_back_corruption(void **state)
{
	(void)state;
	struct fx f;
	fx_open(&f, ZR_DURABILITY_ASYNC);
	load(&f, 5);
	assert_int_equal(zr_journal_flush(f.a, -1), 0);
	/* the first segment of the stream: rotated, so valid records follow it */
	char seg[300];
	snprintf(seg, sizeof(seg), "%s/zj-00000001-00000000.zjl", f.jdir);
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	uint8_t byte;
	off_t at = 4096 + 20000;
	assert_int_equal(pread(fd, &byte, 1, at), 1);
	byte ^= 0x10;
	assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	close(fd);
	char name[80];
	snprintf(name, sizeof(name), "%s-c", f.name);
	zr_restore_report rep;
	zr_arena *r = restore(&f, name, false, &rep);
	assert_int_equal(rep.journal.corrupt, 1);
	assert_true(rep.journal.rollback_lsn > 1);
	assert_true(rep.journal.not_applied > 0);
	assert_true(rep.last_lsn < rep.journal.rollback_lsn);
	assert_non_null(strstr(rep.first_problem, "corrupt"));
	size_t n;
	free(jobs_of(r, &n));
	assert_true(n < 32); /* the jobs after the damage are not there */
	drop(r, name);
	fx_close(&f);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_records),
		cmocka_unit_test(test_sync_group_commit),
		cmocka_unit_test(test_restore_checkpoint_and_journal),
		cmocka_unit_test(test_restore_journal_only),
		cmocka_unit_test(test_restore_rolls_back_corruption),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
