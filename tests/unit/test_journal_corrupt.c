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
 * One kind of damage the reader cannot see: the newest segment cut exactly
 * at a record boundary (or to its bare header). That is what a crash
 * leaves, so the stream just ends there; the records returned must still
 * be a prefix. Such cases are counted and printed. An older segment cut so
 * is caught by the chain (the next segment's header says where its data
 * ended) and must be reported like any other damage.
 *
 * Then, deterministically, on a journal of two streams (two processes) of
 * several segments each: an older segment cut at a record boundary, one
 * zeroed from a record boundary on, one missing, one cut at its closing PAD,
 * and a segment of format version 1. Each must be reported (the version 1
 * one refused), and reading and zr_restore must stop exactly before the
 * first LSN that may have been lost, in every stream. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

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
	uint64_t cases, detected, harmless, crash_cut, restores, rollbacks;
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

/* The reader cannot see this one (see the top of the file): the newest
 * segment cut at a record boundary. */
static bool invisible(size_t which, size_t len, enum damage kind)
{
	if (kind != TRUNCATE || len < sizeof(struct zri_jseg_hdr) || which + 1 != g.nseg)
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
			assert_true(o.prefix);
			c.crash_cut += o.returned < g.nrec;
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
	printf("cases %llu: detected %llu, harmless %llu, the newest segment cut at a record "
	       "boundary (a crash's prefix) %llu, in %.1f s\n",
	       (unsigned long long)c.cases, (unsigned long long)c.detected,
	       (unsigned long long)c.harmless, (unsigned long long)c.crash_cut,
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

/* ---- the chain of segments, deterministically ------------------------------------ */

static struct {
	char dir[128], jdir[160];
	uint64_t lsn[MAX_RECS]; /* every record of the journal, in LSN order */
	size_t n;
} ch;

struct at {
	size_t off, len;
	uint64_t lsn; /* 0: a PAD */
};

struct segcopy {
	char path[300];
	uint8_t *bytes;
	size_t len;
	struct at rec[MAX_RECS];
	size_t nrec;
};

struct seen {
	int problems;
	char file[300], what[256];
};

static void note_problem(void *ctx, const char *file, uint64_t off, const char *what)
{
	struct seen *s = ctx;
	(void)off;
	if (s->problems++ == 0) {
		snprintf(s->file, sizeof(s->file), "%s", file);
		snprintf(s->what, sizeof(s->what), "%s", what);
	}
}

/* Jobs with 40-100 KiB payloads, every other one claimed and completed. */
static int chain_events(zr_arena *a, const char *agent_name, int jobs, uint64_t seed)
{
	zr_agent *ag;
	if (zr_agent_register(a, agent_name, NULL, &ag) != 0)
		return -1;
	for (int i = 0; i < jobs; i++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		size_t n = 40000 + (size_t)(zr_test_rand(&seed) % 60000);
		if (zr_payload_alloc(a, n, &b.payload) != 0)
			return -2;
		memset(zr_payload_ptr(a, b.payload), i, n);
		b.payload_len = n;
		zr_job_id id;
		if (zr_job_submit(ag, &b, &id, NULL) != 0)
			return -3;
		zr_claim c;
		zr_payload r;
		if (i % 2 && (zr_job_claim(ag, &c) != 1 || zr_payload_alloc(a, 64, &r) != 0 ||
			      zr_job_complete(ag, &c, r, 64) != 0))
			return -4;
	}
	zr_agent_unregister(ag);
	return zr_journal_flush(a, -1);
}

/* Stream 1 (this process): 3+ segments of 1 MiB, around stream 2 (a child
 * process): 2+ segments, so that the LSNs of the streams interleave. */
static void chain_setup(void)
{
	snprintf(ch.dir, sizeof(ch.dir), "/tmp/zring-jchain-XXXXXX");
	assert_non_null(mkdtemp(ch.dir));
	snprintf(ch.jdir, sizeof(ch.jdir), "%s/journal", ch.dir);
	assert_int_equal(mkdir(ch.jdir, 0700), 0);
	zr_journal_config jc;
	zr_journal_config_init(&jc, ch.jdir);
	jc.segment_bytes = 1u << 20;
	jc.buffer_bytes = 256u << 10;
	jc.durability = ZR_DURABILITY_NONE;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)32 << 20);
	cfg.journal = &jc;
	/* Fork before this process has a journal thread (TSan refuses threads
	 * started after a multi-threaded fork): the child waits for the name. */
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char cname[64] = {0};
		close(go[1]);
		if (read(go[0], cname, sizeof(cname) - 1) <= 0)
			_exit(9);
		zr_arena *b;
		if (zr_arena_open(cname, 0, &b, NULL) != 0)
			_exit(10);
		int rc = chain_events(b, "child", 30, 2);
		_exit(zr_arena_close(b) == 0 && rc == 0 ? 0 : 11);
	}
	close(go[0]);
	char name[64];
	zr_arena *a = zr_test_arena_cfg(&cfg, name);
	assert_int_equal(chain_events(a, "first", 24, 1), 0);
	assert_true(write(go[1], name, strlen(name)) == (ssize_t)strlen(name));
	close(go[1]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(chain_events(a, "second", 24, 3), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	zr_test_forget(name);

	zr_jreader *r;
	assert_int_equal(zr_jreader_open(ch.jdir, 0, 1, 0, NULL, NULL, &r, NULL), 0);
	zr_jrec rec;
	while (zr_jreader_next(r, &rec) == 1) {
		assert_true(ch.n < MAX_RECS);
		ch.lsn[ch.n++] = rec.lsn;
	}
	zr_jreader_stats st;
	zr_jreader_stats_get(r, &st);
	zr_jreader_close(r);
	assert_int_equal(st.corrupt + st.torn_tails + st.bad_segments, 0);
	assert_int_equal(st.streams, 2);
}

static void chain_load(struct segcopy *c, uint32_t stream, uint32_t segno)
{
	snprintf(c->path, sizeof(c->path), "%s/zj-%08x-%08x.zjl", ch.jdir, stream, segno);
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	c->len = (size_t)st.st_size;
	c->bytes = malloc(c->len);
	assert_non_null(c->bytes);
	assert_int_equal(read(fd, c->bytes, c->len), (ssize_t)c->len);
	close(fd);
	c->nrec = 0;
	struct zri_jrec_hdr h;
	for (size_t off = ZRI_JSEG_HDR_BYTES; off + sizeof(h) <= c->len; off += h.len) {
		memcpy(&h, c->bytes + off, sizeof(h));
		if (h.magic != ZRI_JREC_MAGIC)
			break;
		assert_true(c->nrec < MAX_RECS);
		c->rec[c->nrec++] = (struct at){off, h.len, h.type == ZR_JREC_PAD ? 0 : h.lsn};
	}
	assert_true(c->nrec > 2);
}

static void chain_put(const struct segcopy *c, size_t len, size_t zero_from)
{
	int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, c->bytes, len), (ssize_t)len);
	if (zero_from < len) {
		uint8_t *z = calloc(1, len - zero_from);
		assert_non_null(z);
		assert_int_equal(pwrite(fd, z, len - zero_from, (off_t)zero_from),
				 (ssize_t)(len - zero_from));
		free(z);
	}
	close(fd);
}

/* The LSN of the last record before record k of c (0: none there). */
static uint64_t last_before(const struct segcopy *c, size_t k)
{
	while (k-- > 0)
		if (c->rec[k].lsn)
			return c->rec[k].lsn;
	return 0;
}

static size_t records_from(const struct segcopy *c, size_t k)
{
	size_t n = 0;
	for (; k < c->nrec; k++)
		n += c->rec[k].lsn != 0;
	return n;
}

/* Read and restore the damaged journal: one problem, in `file`; the
 * records returned and applied are exactly the original ones below
 * `rollback` (all of them when 0); `lost` records are gone. */
static void chain_expect(const char *file, uint64_t rollback, size_t lost)
{
	size_t below = 0;
	while (below < ch.n && (!rollback || ch.lsn[below] < rollback))
		below++;
	for (unsigned flags = 0; flags <= ZR_JREADER_KEEP_GOING; flags += ZR_JREADER_KEEP_GOING) {
		struct seen seen = {0};
		zr_jreader *r;
		assert_int_equal(
			zr_jreader_open(ch.jdir, 0, 1, flags, note_problem, &seen, &r, NULL), 0);
		zr_jrec rec;
		size_t k = 0, i = 0;
		int rc;
		while ((rc = zr_jreader_next(r, &rec)) == 1) {
			while (i < ch.n && ch.lsn[i] < rec.lsn)
				i++;
			assert_true(i < ch.n);
			assert_int_equal(rec.lsn, ch.lsn[i]);
			k++;
		}
		assert_int_equal(rc, 0);
		zr_jreader_stats st;
		zr_jreader_stats_get(r, &st);
		zr_jreader_close(r);
		if (seen.problems != 1 || strcmp(seen.file, file) != 0 || st.corrupt != 1)
			fail_msg("%d problems, %llu corrupt; the first in %s: %s", seen.problems,
				 (unsigned long long)st.corrupt, seen.file, seen.what);
		assert_non_null(strstr(seen.what, "corrupt"));
		assert_int_equal(st.torn_tails, 0);
		if (flags) {
			assert_int_equal(st.rollback_lsn, 0);
			assert_int_equal(k, ch.n - lost);
		} else {
			assert_int_equal(st.rollback_lsn, rollback);
			assert_int_equal(k, below);
			assert_int_equal(st.not_applied, ch.n - below - lost);
		}
	}
	/* restore from a copy: the restored arena writes its own stream there */
	char scratch[200], cmd[500], name[64];
	snprintf(scratch, sizeof(scratch), "%s/scratch", ch.dir);
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", ch.jdir, scratch);
	assert_int_equal(system(cmd), 0);
	snprintf(name, sizeof(name), "%s", zr_test_name());
	zr_restore_config rc = {.name = name,
				.journal_dir = scratch,
				.durability = ZR_DURABILITY_NONE,
				.no_checkpoint = true};
	zr_arena *out = NULL;
	zr_restore_report rep;
	zr_diag d = {0};
	int e = zr_restore(&rc, NULL, NULL, &out, &rep, &d);
	if (e)
		fail_msg("restore: %s: %s", zr_strerror(e), d.msg);
	assert_int_equal(rep.journal.rollback_lsn, rollback);
	assert_int_equal(rep.records_applied, below);
	assert_int_equal(rep.last_lsn, below ? ch.lsn[below - 1] : 0);
	assert_non_null(strstr(rep.first_problem, "corrupt"));
	assert_int_equal(zr_arena_close(out), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	rm_rf(scratch);
}

static void test_chain(void **state)
{
	(void)state;
	chain_setup();
	struct segcopy *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *m = malloc(sizeof(*m));
	assert_true(a && b && m);
	struct stat st;
	char third[300];
	snprintf(third, sizeof(third), "%s/zj-00000001-00000002.zjl", ch.jdir);
	assert_int_equal(stat(third, &st), 0); /* stream 1 has 3 segments at least */
	chain_load(a, 1, 0);
	chain_load(m, 1, 1);
	chain_load(b, 2, 0);
	char next[300];
	snprintf(next, sizeof(next), "%s/zj-00000002-00000001.zjl", ch.jdir);
	assert_int_equal(stat(next, &st), 0);

	/* stream 1's first segment cut at a record boundary in its middle */
	size_t k = a->nrec / 2;
	chain_put(a, a->rec[k].off, a->len);
	chain_expect(a->path, last_before(a, k) + 1, records_from(a, k));
	chain_put(a, a->len, a->len);

	/* stream 2's first segment zeroed from a record boundary on */
	k = b->nrec / 3;
	chain_put(b, b->len, b->rec[k].off);
	chain_expect(b->path, last_before(b, k) + 1, records_from(b, k));
	/* or cut to its bare header: nothing of stream 2 was read, so nothing of
	 * any stream can be trusted from LSN 1 on */
	chain_put(b, ZRI_JSEG_HDR_BYTES, b->len);
	chain_expect(b->path, 1, records_from(b, 0));
	chain_put(b, b->len, b->len);

	/* stream 1's second segment missing */
	assert_int_equal(unlink(m->path), 0);
	chain_expect(third, last_before(a, a->nrec) + 1, records_from(m, 0));
	chain_put(m, m->len, m->len);

	/* stream 1's first segment cut where its closing PAD began: no record
	 * is lost (O_DIRECT pads every batch; tmpfs has no O_DIRECT, no PADs) */
	if (a->rec[a->nrec - 1].lsn == 0) {
		chain_put(a, a->rec[a->nrec - 1].off, a->len);
		chain_expect(a->path, 0, 0);
		chain_put(a, a->len, a->len);
	}

	/* a segment written by format version 1 (no chain): refused */
	struct zri_jseg_hdr h;
	memcpy(&h, a->bytes, sizeof(h));
	h.version = 1;
	memset(&h.prev_end, 0, sizeof(h) - ZRI_JSEG_V1_SUM_AT);
	uint64_t sum = XXH3_64bits(&h, ZRI_JSEG_V1_SUM_AT);
	memcpy(&h.prev_end, &sum, sizeof(sum));
	int fd = open(a->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	zr_jreader *r;
	zr_diag d = {0};
	assert_int_equal(zr_jreader_open(ch.jdir, 0, 1, 0, NULL, NULL, &r, &d), ZR_EVERSION);
	assert_non_null(strstr(d.msg, "version 1"));
	chain_put(a, a->len, a->len);
	assert_int_equal(zr_jreader_open(ch.jdir, 0, 1, 0, NULL, NULL, &r, NULL), 0);
	zr_jreader_close(r);

	free(a->bytes);
	free(b->bytes);
	free(m->bytes);
	free(a);
	free(b);
	free(m);
	rm_rf(ch.dir);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_restore_damaged),
		cmocka_unit_test(test_chain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
