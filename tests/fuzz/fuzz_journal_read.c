/* tests/fuzz/fuzz_journal_read.c (label fuzz): reading journal segments
 * written by someone else.
 *
 * Each input becomes the journal directory /tmp/zring-fuzz-<pid>-jnl:
 *   byte 0     options (OPT_* below)
 *   bytes 1-2  with OPT_SPLIT: where the input is split (x 8, little-endian)
 *   bytes 3..  segment "zj-00000001-00000000.zjl"
 * With OPT_SPLIT the bytes from the split point on go to a second segment
 * "zj-00000001-00000001.zjl" behind a copy of the first one's header (its
 * segno set to 1, checksum recomputed); with OPT_LINK too, that header's
 * link to the first segment (prev_end, prev_last_lsn, prev_records) is set
 * as a writer would from the records before the split, else it stays as
 * the input has it (a broken chain, mostly). With OPT_FIX_SUMS every record that
 * still has its magic and a length that fits gets its checksum recomputed,
 * so mutations reach the field checks behind the checksum.
 * zr_jreader_open/next/close then read the directory from LSN 1, once as
 * restore does and once with ZR_JREADER_KEEP_GOING: nothing may crash, LSNs
 * must increase, every returned record's data must lie inside its record
 * (every byte is read, for the sanitizers), no record at or past the
 * rollback point may come back, and the stats must agree with what came.
 * With ZR_FUZZ_JNL_CORPUS=<dir> set, the first input also writes a seed
 * corpus there (small journals written by a real arena). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "runtime/jnl_format.h"
#include "test.h"
#include "zring/persist.h"

#ifdef ZR_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define OPT_SPLIT 0x01u
#define OPT_FIX_SUMS 0x02u
#define OPT_LINK 0x04u
#define PREFIX 3u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], seg0[128], seg1[128];
static pid_t owner;
static uint8_t buf[(size_t)1 << 20];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (getpid() == owner && dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, uint64_t a, uint64_t b)
{
	fprintf(stderr, "fuzz_journal_read: %s (%llu, %llu)\n", what, (unsigned long long)a,
		(unsigned long long)b);
	cleanup();
	abort();
}

static void put(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (len && write(fd, p, len) != (ssize_t)len))
		die("write a file", (uint64_t)errno, len);
	close(fd);
}

/* ---- the seed corpus ----------------------------------------------------------- */

/* Walk the records of a segment's bytes as far as they look whole: where
 * they end, with the LSN of the last one and how many (PADs not counted),
 * as a writer would put them in the next segment's header. `near`: the
 * record boundary closest to it goes to *split (may be NULL). */
static size_t data_end(const uint8_t *p, size_t len, struct zri_jseg_hdr *link, size_t near,
		       size_t *split)
{
	size_t off = ZRI_JSEG_HDR_BYTES;
	struct zri_jrec_hdr h;
	if (split)
		*split = off;
	while (off + sizeof(h) <= len) {
		memcpy(&h, p + off, sizeof(h));
		if (h.magic != ZRI_JREC_MAGIC || h.len == 0 || h.len > len - off)
			break;
		if (link && h.type != ZR_JREC_PAD) {
			link->prev_last_lsn = h.lsn;
			link->prev_records++;
		}
		off += h.len;
		if (split && *split <= near && (off <= near || off - near < near - *split))
			*split = off;
	}
	if (link)
		link->prev_end = off;
	return off;
}

/* A journal of `jobs` submits (half claimed and completed) in `jdir`. */
static void make_journal(const char *jdir, int jobs, size_t payload)
{
	zr_journal_config jc;
	zr_journal_config_init(&jc, jdir);
	jc.flags = ZR_JOURNAL_NO_DIRECT; /* no 4 KiB PADs: small seeds */
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)4 << 20);
	cfg.journal = &jc;
	char name[64];
	zr_arena *a = zr_test_arena_cfg(&cfg, name);
	zr_agent *ag;
	if (zr_agent_register(a, "fuzz", NULL, &ag) != 0)
		die("register", 0, 0);
	for (int i = 0; i < jobs; i++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		if (payload && zr_payload_alloc(a, payload, &b.payload) == 0) {
			memset(zr_payload_ptr(a, b.payload), 'a' + i, payload);
			b.payload_len = payload;
		}
		zr_job_id id;
		if (zr_job_submit(ag, &b, &id, NULL) != 0)
			die("submit", (uint64_t)i, 0);
		zr_claim c;
		if (i % 2 && zr_job_claim(ag, &c) == 1 &&
		    zr_job_complete(ag, &c, b.payload, 0) != 0)
			die("complete", (uint64_t)i, 0);
	}
	if (zr_journal_flush(a, -1) != 0)
		die("flush", 0, 0);
	zr_agent_unregister(ag);
	if (zr_arena_close(a) != 0 || zr_arena_unlink(name) != 0)
		die("close", 0, 0);
	zr_test_forget(name);
}

static void write_corpus(const char *to)
{
	static const struct {
		const char *name;
		uint8_t opts;
		int jobs;
		size_t payload;
	} seeds[] = {{"00-one-submit", 0, 1, 16},
		     {"01-few", 0, 4, 40},
		     {"02-no-payload", 0, 6, 0},
		     {"03-fix-sums", OPT_FIX_SUMS, 3, 100},
		     {"04-split", OPT_SPLIT | OPT_LINK, 8, 24},
		     {"05-split-fix", OPT_SPLIT | OPT_LINK | OPT_FIX_SUMS, 5, 64},
		     {"06-split-unlinked", OPT_SPLIT, 6, 32}};
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		char jdir[128], path[512];
		snprintf(jdir, sizeof(jdir), "%s/seed-%zu", dir, k);
		if (mkdir(jdir, 0700) != 0)
			die("mkdir", (uint64_t)errno, k);
		make_journal(jdir, seeds[k].jobs, seeds[k].payload);
		snprintf(path, sizeof(path), "%s/zj-00000001-00000000.zjl", jdir);
		FILE *f = fopen(path, "rb");
		size_t n = f ? fread(buf + PREFIX, 1, sizeof(buf) - PREFIX, f) : 0;
		if (f)
			fclose(f);
		size_t split;
		n = data_end(buf + PREFIX, n, NULL, 0, NULL);
		data_end(buf + PREFIX, n, NULL, (ZRI_JSEG_HDR_BYTES + n) / 2, &split);
		split /= 8; /* at a record boundary: a clean end when linked */
		buf[0] = seeds[k].opts;
		buf[1] = (uint8_t)split;
		buf[2] = (uint8_t)(split >> 8);
		snprintf(path, sizeof(path), "%s/%s", to, seeds[k].name);
		put(path, buf, PREFIX + n);
	}
}

static void init(void)
{
	owner = getpid();
	snprintf(dir, sizeof(dir), "/tmp/zring-fuzz-%d-jnl", (int)owner);
	snprintf(seg0, sizeof(seg0), "%s/zj-00000001-00000000.zjl", dir);
	snprintf(seg1, sizeof(seg1), "%s/zj-00000001-00000001.zjl", dir);
	atexit(cleanup);
#ifdef ZR_SANITIZED
	__sanitizer_set_death_callback(cleanup);
#endif
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		die("mkdir", (uint64_t)errno, 0);
	const char *to = getenv("ZR_FUZZ_JNL_CORPUS");
	if (to)
		write_corpus(to);
}

/* ---- one input ------------------------------------------------------------------ */

static void fix_sums(uint8_t *p, size_t len)
{
	struct zri_jrec_hdr h;
	for (size_t off = ZRI_JSEG_HDR_BYTES; off + sizeof(h) <= len;) {
		memcpy(&h, p + off, sizeof(h));
		if (h.magic != ZRI_JREC_MAGIC || h.len < sizeof(h) || h.len % 8 ||
		    h.len > len - off)
			break;
		h.checksum = XXH3_64bits(p + off + 8, h.len - 8);
		memcpy(p + off, &h.checksum, 8);
		off += h.len;
	}
}

static void read_dir(unsigned flags)
{
	zr_jreader *r;
	int rc = zr_jreader_open(dir, 0, 1, flags, NULL, NULL, &r, NULL);
	if (rc == ZR_EVERSION)
		return; /* a version 1 header that verifies as one: refused */
	if (rc != 0)
		die("open", (uint64_t)-rc, 0);
	zr_jrec rec;
	uint64_t last = 0, n = 0, sum = 0;
	while ((rc = zr_jreader_next(r, &rec)) == 1) {
		if (rec.lsn <= last)
			die("LSN does not increase", last, rec.lsn);
		last = rec.lsn;
		if (rec.type == ZR_JREC_PAD || rec.type > ZR_JREC_TYPE_MAX)
			die("type", rec.type, rec.lsn);
		if (rec.data_len > ZRI_JREC_MAX || (rec.data_len && !rec.data))
			die("data", rec.data_len, rec.lsn);
		const uint8_t *d = rec.data;
		for (uint64_t i = 0; i < rec.data_len; i++)
			sum += d[i];
		if (rec.job.status >= ZR_JOB_STATUS_COUNT || !rec.file ||
		    rec.offset < ZRI_JSEG_HDR_BYTES)
			die("fields", rec.job.status, rec.offset);
		n++;
	}
	(void)sum;
	if (rc != 0)
		die("next", (uint64_t)-rc, n);
	zr_jreader_stats st;
	zr_jreader_stats_get(r, &st);
	zr_jreader_close(r);
	if (st.records != n || st.max_lsn < last)
		die("stats disagree", st.records, n);
	if (st.rollback_lsn && (last >= st.rollback_lsn || (flags & ZR_JREADER_KEEP_GOING)))
		die("read past the rollback", last, st.rollback_lsn);
	if (st.rollback_lsn && !st.corrupt)
		die("rollback without corruption", st.rollback_lsn, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!owner)
		init();
	if (size < PREFIX || size - PREFIX > sizeof(buf))
		return 0;
	size_t len = size - PREFIX;
	memcpy(buf, data + PREFIX, len);
	if (data[0] & OPT_FIX_SUMS)
		fix_sums(buf, len);
	unlink(seg1);
	size_t split = (size_t)(data[1] | data[2] << 8) * 8;
	if ((data[0] & OPT_SPLIT) && len >= sizeof(struct zri_jseg_hdr) &&
	    split >= ZRI_JSEG_HDR_BYTES && split < len) {
		put(seg0, buf, split);
		static uint8_t two[sizeof(buf) + ZRI_JSEG_HDR_BYTES];
		memcpy(two, buf, ZRI_JSEG_HDR_BYTES < split ? ZRI_JSEG_HDR_BYTES : split);
		struct zri_jseg_hdr h;
		memcpy(&h, two, sizeof(h));
		h.segno = 1;
		if (data[0] & OPT_LINK) {
			h.prev_end = h.prev_last_lsn = h.prev_records = 0;
			data_end(buf, split, &h, 0, NULL);
		}
		h.checksum = XXH3_64bits(&h, offsetof(struct zri_jseg_hdr, checksum));
		memcpy(two, &h, sizeof(h));
		memcpy(two + ZRI_JSEG_HDR_BYTES, buf + split, len - split);
		if (data[0] & OPT_FIX_SUMS)
			fix_sums(two, ZRI_JSEG_HDR_BYTES + len - split);
		put(seg1, two, ZRI_JSEG_HDR_BYTES + len - split);
	} else {
		put(seg0, buf, len);
	}
	read_dir(0);
	read_dir(ZR_JREADER_KEEP_GOING);
	return 0;
}
