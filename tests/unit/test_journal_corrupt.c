/* tests/unit/test_journal_corrupt.c: a sweep of damage over a journal.
 *
 * A journal of a few hundred events (submits with payloads up to 12 KiB,
 * claims, completions with results, agents) in 1 MiB segments is written
 * once. Then thousands of cases each damage one segment (flip a random bit
 * past the header, flip a bit in the header, or truncate the file), read the
 * whole journal from LSN 1, and put the file back. The reader must never
 * crash; every record it returns must equal the original record of that LSN;
 * the records returned must be a prefix of the original ones (one stream:
 * the reader stops before the damage); and damage must be reported unless it
 * is provably harmless (a flip in the unused rest of the 4 KiB header block,
 * a truncation inside the zero tail). A few dozen damaged copies also go
 * through zr_restore, which must never apply a record past the rollback
 * point.
 *
 * One kind of damage the reader cannot see: a segment cut exactly at a
 * record boundary (or to its bare header). Nothing in a segment says where
 * its data ends, and LSNs are global (other streams hold the gaps), so the
 * stream seems to end there (the newest segment: what a crash leaves, the
 * records returned are still a prefix) or to go on cleanly in the next
 * segment (an older one: records silently missing in the middle). Such
 * cases are counted and printed, not failed. */
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

#include "runtime/jnl_format.h"
#include "test.h"
#include "zring/persist.h"

#define MAX_SEGS 16
#define MAX_RECS 4096

struct orig {
	uint64_t lsn;
	uint32_t type;
	zr_job_info job;
	uint8_t *data;
	uint64_t data_len;
	char agent_name[ZR_AGENT_NAME_MAX + 1];
};

struct segfile {
	char path[300];
	uint8_t *bytes;
	size_t len;
	size_t data_end; /* where the records (PADs included) end */
};

static struct {
	char dir[128], jdir[160], scratch[160];
	struct segfile seg[MAX_SEGS];
	size_t nseg;
	struct orig rec[MAX_RECS];
	size_t nrec;
} g;

struct counts {
	uint64_t cases, detected, harmless, silent_loss, restores, rollbacks;
};

static void rm_rf(const char *path)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static void put_file(const struct segfile *s, size_t len)
{
	int fd = open(s->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s->bytes, len), (ssize_t)len);
	close(fd);
}

static void flip_bit(const struct segfile *s, size_t off, unsigned bit)
{
	int fd = open(s->path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	uint8_t b = (uint8_t)(s->bytes[off] ^ (1u << bit));
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/* ---- the journal -------------------------------------------------------------- */

static void write_journal(void)
{
	zr_journal_config jc;
	zr_journal_config_init(&jc, g.jdir);
	jc.segment_bytes = 1u << 20;
	jc.buffer_bytes = 256u << 10;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)32 << 20);
	cfg.journal = &jc;
	char name[64];
	zr_arena *a = zr_test_arena_cfg(&cfg, name);
	zr_agent *prod, *work;
	assert_int_equal(zr_agent_register(a, "producer", NULL, &prod), 0);
	assert_int_equal(zr_agent_register(a, "worker", NULL, &work), 0);
	uint64_t rng = 42;
	for (int i = 0; i < 400; i++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		size_t n = (size_t)(zr_test_rand(&rng) % 12000);
		if (n) {
			assert_int_equal(zr_payload_alloc(a, n, &b.payload), 0);
			uint8_t *p = zr_payload_ptr(a, b.payload);
			for (size_t k = 0; k < n; k++)
				p[k] = (uint8_t)(i * 31 + k);
			b.payload_len = n;
		}
		zr_job_id id;
		assert_int_equal(zr_job_submit(prod, &b, &id, NULL), 0);
		if (i % 3 == 0) {
			zr_claim c;
			assert_int_equal(zr_job_claim(work, &c), 1);
			zr_payload r;
			assert_int_equal(zr_payload_alloc(a, 100, &r), 0);
			memset(zr_payload_ptr(a, r), i, 100);
			assert_int_equal(zr_job_complete(work, &c, r, 100), 0);
		}
	}
	assert_int_equal(zr_journal_flush(a, -1), 0);
	zr_agent_unregister(prod);
	zr_agent_unregister(work);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	zr_test_forget(name);
}

static void load_segments(void)
{
	for (uint32_t sn = 0; sn < MAX_SEGS; sn++) {
		struct segfile *s = &g.seg[g.nseg];
		snprintf(s->path, sizeof(s->path), "%s/zj-00000001-%08x.zjl", g.jdir, sn);
		int fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		s->len = (size_t)st.st_size;
		s->bytes = malloc(s->len);
		assert_non_null(s->bytes);
		assert_int_equal(read(fd, s->bytes, s->len), (ssize_t)s->len);
		close(fd);
		size_t off = ZRI_JSEG_HDR_BYTES;
		struct zri_jrec_hdr h;
		while (off + sizeof(h) <= s->len) {
			memcpy(&h, s->bytes + off, sizeof(h));
			if (h.magic != ZRI_JREC_MAGIC)
				break;
			off += h.len;
		}
		s->data_end = off;
		g.nseg++;
	}
	assert_true(g.nseg >= 2);
}

static void load_records(void)
{
	zr_jreader *r;
	assert_int_equal(zr_jreader_open(g.jdir, 0, 1, 0, NULL, NULL, &r, NULL), 0);
	zr_jrec rec;
	int rc;
	while ((rc = zr_jreader_next(r, &rec)) == 1) {
		assert_true(g.nrec < MAX_RECS);
		struct orig *o = &g.rec[g.nrec++];
		o->lsn = rec.lsn;
		o->type = rec.type;
		o->job = rec.job;
		o->data_len = rec.data_len;
		memcpy(o->agent_name, rec.agent_name, sizeof(o->agent_name));
		if (rec.data_len) {
			o->data = malloc(rec.data_len);
			assert_non_null(o->data);
			memcpy(o->data, rec.data, rec.data_len);
		}
	}
	assert_int_equal(rc, 0);
	zr_jreader_stats st;
	zr_jreader_stats_get(r, &st);
	zr_jreader_close(r);
	assert_int_equal(st.corrupt + st.torn_tails + st.bad_segments, 0);
	assert_true(g.nrec > 400);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g.dir, sizeof(g.dir), "/tmp/zring-jcorrupt-XXXXXX");
	assert_non_null(mkdtemp(g.dir));
	snprintf(g.jdir, sizeof(g.jdir), "%s/journal", g.dir);
	snprintf(g.scratch, sizeof(g.scratch), "%s/scratch", g.dir);
	assert_int_equal(mkdir(g.jdir, 0700), 0);
	write_journal();
	load_segments();
	load_records();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < g.nseg; i++)
		free(g.seg[i].bytes);
	for (size_t i = 0; i < g.nrec; i++)
		free(g.rec[i].data);
	rm_rf(g.dir);
	return 0;
}

/* ---- one case ------------------------------------------------------------------ */

struct outcome {
	size_t returned; /* a prefix of g.rec of this length */
	bool reported;
	bool prefix;
	zr_jreader_stats st;
};

static void count_problem(void *ctx, const char *file, uint64_t off, const char *what)
{
	(void)file, (void)off, (void)what;
	*(int *)ctx += 1;
}

static void same_record(const zr_jrec *rec, const struct orig *o)
{
	assert_int_equal(rec->lsn, o->lsn);
	assert_int_equal(rec->type, o->type);
	assert_memory_equal(&rec->job, &o->job, sizeof(o->job));
	assert_int_equal(rec->data_len, o->data_len);
	if (o->data_len)
		assert_memory_equal(rec->data, o->data, o->data_len);
	assert_string_equal(rec->agent_name, o->agent_name);
}

/* Read everything; every record returned is the original of its LSN. */
static void read_all(unsigned flags, struct outcome *out)
{
	int problems = 0;
	zr_jreader *r;
	assert_int_equal(zr_jreader_open(g.jdir, 0, 1, flags, count_problem, &problems, &r, NULL),
			 0);
	zr_jrec rec;
	int rc;
	size_t k = 0, i = 0;
	uint64_t last = 0;
	out->prefix = true;
	while ((rc = zr_jreader_next(r, &rec)) == 1) {
		assert_true(rec.lsn > last);
		last = rec.lsn;
		while (i < g.nrec && g.rec[i].lsn < rec.lsn)
			i++;
		assert_true(i < g.nrec); /* an LSN the journal never had */
		same_record(&rec, &g.rec[i]);
		if (i != k)
			out->prefix = false;
		k++;
		i++;
	}
	assert_int_equal(rc, 0);
	zr_jreader_stats_get(r, &out->st);
	zr_jreader_close(r);
	if (out->st.rollback_lsn)
		assert_true(last < out->st.rollback_lsn);
	out->returned = k;
	out->reported =
		problems > 0 || out->st.corrupt + out->st.torn_tails + out->st.bad_segments > 0;
	assert_int_equal(problems > 0,
			 out->st.corrupt + out->st.torn_tails + out->st.bad_segments > 0);
}

enum damage { FLIP_DATA, FLIP_HEADER, TRUNCATE, DAMAGES };

/* Damage one segment as `rng` says; true if the damage is harmless. */
static bool damage(uint64_t *rng, size_t *which, size_t *keep, enum damage *kind)
{
	size_t si = (size_t)(zr_test_rand(rng) % g.nseg);
	const struct segfile *s = &g.seg[si];
	*which = si;
	*keep = s->len;
	*kind = (enum damage)(zr_test_rand(rng) % DAMAGES);
	unsigned bit = (unsigned)(zr_test_rand(rng) % 8);
	if (*kind == FLIP_DATA) {
		size_t off = ZRI_JSEG_HDR_BYTES + zr_test_rand(rng) % (s->len - ZRI_JSEG_HDR_BYTES);
		flip_bit(s, off, bit);
		return false; /* in a record, a PAD or the zero tail: all reported */
	}
	if (*kind == FLIP_HEADER) {
		size_t off = zr_test_rand(rng) % ZRI_JSEG_HDR_BYTES;
		if (zr_test_rand(rng) % 2)
			off %= sizeof(struct zri_jseg_hdr);
		flip_bit(s, off, bit);
		return off >= sizeof(struct zri_jseg_hdr); /* nobody reads the rest */
	}
	size_t len = (size_t)(zr_test_rand(rng) % s->len);
	if (zr_test_rand(rng) % 4 == 0) /* near the end of the data */
		len = s->data_end - 64 + zr_test_rand(rng) % 128;
	if (len > s->len)
		len = s->len - 1;
	put_file(s, len);
	*keep = len;
	return len >= s->data_end;
}

static void undo(size_t which)
{
	put_file(&g.seg[which], g.seg[which].len);
}

/* The reader cannot see this one (see the top of the file). */
static bool invisible(size_t which, size_t len, enum damage kind)
{
	if (kind != TRUNCATE || len < sizeof(struct zri_jseg_hdr))
		return false;
	if (len <= ZRI_JSEG_HDR_BYTES)
		return true;
	const struct segfile *s = &g.seg[which];
	if (len >= s->data_end)
		return false;
	size_t off = ZRI_JSEG_HDR_BYTES;
	while (off < len) {
		struct zri_jrec_hdr h;
		memcpy(&h, s->bytes + off, sizeof(h));
		if (!h.len)
			break;
		off += h.len;
	}
	return off == len;
}

static void test_sweep(void **state)
{
	(void)state;
	uint64_t rng = zr_test_seed ^ 0x5eed;
	struct counts c = {0};
	uint64_t t0 = zr_test_now_ns();
	uint64_t cases = zr_test_sanitized() ? 600 : 2400;
	for (uint64_t n = 0; n < cases; n++) {
		size_t which, len;
		enum damage kind;
		bool harmless = damage(&rng, &which, &len, &kind);
		struct outcome o;
		read_all(0, &o);
		bool silent = invisible(which, len, kind);
		if (harmless) {
			assert_false(o.reported);
			assert_int_equal(o.returned, g.nrec);
			c.harmless++;
		} else if (silent && !o.reported) {
			/* the newest segment cut so is what a crash leaves: a prefix */
			if (which + 1 == g.nseg)
				assert_true(o.prefix);
			c.silent_loss += o.returned < g.nrec || !o.prefix;
		} else {
			if (!o.reported || !o.prefix)
				fail_msg("case %llu: segment %zu of %zu, damage %d, length %zu: "
					 "reported %d, prefix %d (returned %zu of %zu)",
					 (unsigned long long)n, which, g.nseg, kind, len,
					 o.reported, o.prefix, o.returned, g.nrec);
			c.detected++;
		}
		if (n % 4 == 0) {
			struct outcome k;
			read_all(ZR_JREADER_KEEP_GOING, &k);
			assert_int_equal(k.st.rollback_lsn, 0);
			if (!harmless && !silent)
				assert_true(k.reported);
		}
		c.cases++;
		undo(which);
	}
	printf("cases %llu: detected %llu, harmless %llu, silent loss (a segment cut at a record "
	       "boundary) %llu, in %.1f s\n",
	       (unsigned long long)c.cases, (unsigned long long)c.detected,
	       (unsigned long long)c.harmless, (unsigned long long)c.silent_loss,
	       (double)(zr_test_now_ns() - t0) / 1e9);
	struct outcome o;
	read_all(0, &o);
	assert_false(o.reported);
	assert_int_equal(o.returned, g.nrec);
}

/* zr_restore over damaged copies never applies a record past the rollback. */
static void test_restore_damaged(void **state)
{
	(void)state;
	uint64_t rng = zr_test_seed ^ 0xdead;
	uint64_t rollbacks = 0, cases = zr_test_sanitized() ? 12 : 40;
	for (uint64_t n = 0; n < cases; n++) {
		size_t which, len;
		enum damage kind;
		damage(&rng, &which, &len, &kind);
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", g.jdir, g.scratch);
		assert_int_equal(system(cmd), 0);
		undo(which);
		char name[64];
		snprintf(name, sizeof(name), "%s", zr_test_name());
		zr_restore_config rc = {.name = name,
					.journal_dir = g.scratch,
					.durability = ZR_DURABILITY_NONE,
					.no_checkpoint = true};
		zr_arena *out = NULL;
		zr_restore_report rep;
		zr_diag d = {0};
		int e = zr_restore(&rc, NULL, NULL, &out, &rep, &d);
		if (e == 0) {
			if (rep.journal.rollback_lsn) {
				assert_true(rep.last_lsn < rep.journal.rollback_lsn);
				rollbacks++;
			}
			assert_true(rep.records_applied <= g.nrec);
			assert_int_equal(zr_arena_close(out), 0);
			assert_int_equal(zr_arena_unlink(name), 0);
		} else {
			/* only the first segment's header can leave nothing to restore from */
			assert_true(e == ZR_ECORRUPT || e == -ENOENT);
		}
		rm_rf(g.scratch);
	}
	printf("restores %llu, rolled back %llu\n", (unsigned long long)cases,
	       (unsigned long long)rollbacks);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_restore_damaged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
