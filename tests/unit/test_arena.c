/* tests/unit/test_arena.c (label unit): every public arena call and every
 * error path of creating and opening an arena.
 *
 * Segments are crafted by patching the header of a real arena through its
 * /dev/shm file (pread/pwrite), recomputing the checksum where only one
 * later check should trip. Every test unlinks what it made in its teardown,
 * so a failing case leaves nothing in /dev/shm either. Runs as root on CI:
 * the ownership test is skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/arena_impl.h"
#include "test.h"

#define MIB ((size_t)1 << 20)
#define FOREIGN_UID 4242u
#define MAX_TRACK 32

/* ---- what the current test made, removed by its teardown ---------------- */

static char tracked[MAX_TRACK][PATH_MAX];
static unsigned ntracked;
static char tracked_dir[64];

static void track(const char *path)
{
	assert_true(ntracked < MAX_TRACK);
	snprintf(tracked[ntracked++], PATH_MAX, "%s", path);
}

/* A fresh arena name, removed at teardown; path (optional) gets its file. */
static void new_name(char name[64], char path[PATH_MAX])
{
	char p[PATH_MAX];
	snprintf(name, 64, "%s", zr_test_name());
	snprintf(p, sizeof(p), "/dev/shm/%s", name);
	track(p);
	if (path)
		snprintf(path, PATH_MAX, "%s", p);
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < ntracked; i++)
		if (unlink(tracked[i]) != 0 && errno != ENOENT)
			fprintf(stderr, "teardown: cannot remove %s\n", tracked[i]);
	ntracked = 0;
	if (tracked_dir[0] && rmdir(tracked_dir) != 0)
		fprintf(stderr, "teardown: cannot remove %s\n", tracked_dir);
	tracked_dir[0] = '\0';
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void msg_has(const zr_diag *d, const char *s)
{
	if (!strstr(d->msg, s))
		fail_msg("diag \"%s\" lacks \"%s\"", d->msg, s);
}

static zr_arena *create_cfg(const char *name, const zr_arena_config *cfg)
{
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create(name, cfg, &a, &d);
	if (rc != 0)
		fail_msg("create %s: %s: %s", name, zr_strerror(rc), d.msg);
	assert_non_null(a);
	return a;
}

/* A small arena (1 MiB, not prefaulted) with `flags` and `max_procs` (0: default). */
static zr_arena *create_small(const char *name, unsigned flags, uint32_t max_procs)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = flags | ZR_ARENA_NO_PREFAULT;
	if (max_procs)
		cfg.max_procs = max_procs;
	return create_cfg(name, &cfg);
}

static zr_arena *open_ok(const char *name, unsigned flags)
{
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_open(name, flags, &a, &d);
	if (rc != 0)
		fail_msg("open %s: %s: %s", name, zr_strerror(rc), d.msg);
	assert_non_null(a);
	return a;
}

/* Open that must fail: returns the code; checks *out and diag->code. */
static int open_fail(const char *name, unsigned flags, zr_diag *d)
{
	zr_arena *a = NULL;
	memset(d, 0, sizeof(*d));
	int rc = zr_arena_open(name, flags, &a, d);
	if (rc == 0) {
		zr_arena_close(a);
		fail_msg("open %s succeeded, expected an error", name);
	}
	assert_null(a);
	assert_int_equal(d->code, rc);
	return rc;
}

static void expect_open(const char *name, int want, const char *msg_part)
{
	zr_diag d;
	int rc = open_fail(name, 0, &d);
	if (rc != want)
		fail_msg("open %s: got %d (%s), want %d (%s); diag: %s", name, rc, zr_strerror(rc),
			 want, zr_strerror(want), d.msg);
	if (msg_part)
		msg_has(&d, msg_part);
}

static void hdr_read(const char *path, struct zri_header *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = pread(fd, h, sizeof(*h), 0);
	close(fd);
	assert_int_equal(n, sizeof(*h));
}

/* Write a header back, with a recomputed checksum when `fix`. */
static void hdr_write(const char *path, struct zri_header *h, bool fix)
{
	if (fix)
		h->checksum = zri_header_checksum(h);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = pwrite(fd, h, sizeof(*h), 0);
	close(fd);
	assert_int_equal(n, sizeof(*h));
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	ssize_t n = len ? write(fd, buf, len) : 0;
	close(fd);
	assert_int_equal(n, len);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The pid of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return pid;
}

struct child_report {
	uint32_t self;
	uint64_t payload;
};

static void child_attach(const char *name, size_t alloc, int fd)
{
	struct child_report r = {0, 0};
	zr_arena *a = NULL;
	zr_payload p = ZR_PAYLOAD_NULL;
	if (zr_arena_open(name, 0, &a, NULL) == 0) {
		zr_arena_info in;
		zr_arena_info_get(a, &in);
		r.self = in.self;
		if (alloc && zr_payload_alloc(a, alloc, &p) == 0)
			r.payload = p.v;
	}
	ssize_t w = write(fd, &r, sizeof(r));
	_exit(w == (ssize_t)sizeof(r) && r.self && (!alloc || r.payload) ? 0 : 1);
}

/* Fork a child that attaches to `name` read-write, allocates `alloc` bytes
 * (if not 0) and exits without closing. Reaped before returning. */
static struct child_report dead_attacher(const char *name, size_t alloc, pid_t *pid_out)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_attach(name, alloc, p[1]);
	}
	close(p[1]);
	struct child_report r = {0, 0};
	ssize_t n = read(p[0], &r, sizeof(r));
	close(p[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(n, sizeof(r));
	if (pid_out)
		*pid_out = pid;
	return r;
}

/* Find `name` in zr_arena_list(); false if absent. */
static bool list_find(const char *name, zr_arena_entry *out)
{
	size_t n = 0;
	assert_int_equal(zr_arena_list(NULL, 0, &n), 0);
	size_t cap = n + 16;
	zr_arena_entry *v = calloc(cap, sizeof(*v));
	assert_non_null(v);
	int rc = zr_arena_list(v, cap, &n);
	bool found = false;
	for (size_t i = 0; rc == 0 && i < n && i < cap; i++) {
		if (!strcmp(v[i].name, name)) {
			*out = v[i];
			found = true;
		}
	}
	free(v);
	assert_int_equal(rc, 0);
	return found;
}

/* ---- configuration, create, open, close, unlink ------------------------- */

static void test_config_defaults(void **state)
{
	(void)state;
	zr_arena_config cfg;
	memset(&cfg, 0xa5, sizeof(cfg));
	zr_arena_config_init(&cfg, 64 * MIB);
	assert_int_equal(cfg.size, 64 * MIB);
	assert_int_equal(cfg.flags, 0);
	assert_int_equal(cfg.max_procs, 64);
	assert_int_equal(cfg.max_rings, 64);
	assert_int_equal(cfg.ring_bytes, 8 * MIB);
	assert_int_equal(cfg.max_payload, ZR_DEFAULT_MAX_PAYLOAD);
	assert_int_equal(cfg.small_percent, 50);
}

static void test_create_open_close_unlink(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX], slashed[80];
	new_name(name, path);
	snprintf(slashed, sizeof(slashed), "/%s", name);
	zr_arena *a = create_small(slashed, 0, 0); /* a leading '/' is allowed */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, ZR_ARENA_MIN_SIZE);
	zr_arena *b = open_ok(name, 0);
	zr_arena_info in;
	zr_arena_info_get(b, &in);
	assert_string_equal(in.name, name);
	assert_int_equal(in.procs_attached, 2);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_close(NULL), 0);
	a = open_ok(slashed, ZR_ARENA_READONLY); /* reopen after every handle closed */
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(slashed), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(zr_arena_unlink(name), -ENOENT);
	expect_open(name, -ENOENT, "no such arena");
}

static void test_create_default_config(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_cfg(name, NULL); /* NULL: defaults of 16 MiB */
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_int_equal(in.size, 16 * MIB);
	assert_int_equal(in.max_procs, 64);
	assert_int_equal(in.max_rings, 64);
	assert_int_equal(zr_arena_check(a, NULL), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_create_eexist(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_arena *b = NULL;
	zr_diag d = {0};
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	assert_int_equal(zr_arena_create(name, &cfg, &b, &d), -EEXIST);
	assert_int_equal(d.code, -EEXIST);
	assert_null(b);
	assert_int_equal(zr_arena_create(name, NULL, &b, NULL), -EEXIST);
	/* the failed creates left the existing arena alone */
	zr_arena *c = open_ok(name, 0);
	assert_int_equal(zr_arena_check(c, NULL), 0);
	assert_int_equal(zr_arena_close(c), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void expect_bad_name(const char *name, int want)
{
	zr_arena *a = NULL;
	zr_diag d = {0};
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	assert_int_equal(zr_arena_create(name, &cfg, &a, &d), want);
	assert_int_equal(d.code, want);
	assert_true(d.msg[0] != '\0');
	assert_null(a);
	memset(&d, 0, sizeof(d));
	assert_int_equal(zr_arena_open(name, 0, &a, &d), want);
	assert_int_equal(d.code, want);
	assert_null(a);
	assert_int_equal(zr_arena_unlink(name), want);
}

static void test_bad_names(void **state)
{
	(void)state;
	expect_bad_name(NULL, -EINVAL);
	expect_bad_name("", -EINVAL);
	expect_bad_name("/", -EINVAL);
	expect_bad_name("a/b", -EINVAL);
	expect_bad_name("/a/b", -EINVAL);
	expect_bad_name(".", -EINVAL);
	expect_bad_name("..", -EINVAL);
	char name[64], longest[ZR_NAME_MAX + 2], slashed[ZR_NAME_MAX + 3];
	new_name(name, NULL);
	memset(longest, 'x', sizeof(longest));
	memcpy(longest, name, strlen(name));
	longest[ZR_NAME_MAX + 1] = '\0';
	expect_bad_name(longest, -ENAMETOOLONG); /* 48 bytes */
	longest[ZR_NAME_MAX] = '\0';
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/dev/shm/%s", longest);
	track(path);
	snprintf(slashed, sizeof(slashed), "/%s", longest);
	zr_arena *a = create_small(slashed, 0, 0); /* 47 bytes after the '/' */
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_string_equal(in.name, longest);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(longest), 0);
}

static void expect_bad_config(const zr_arena_config *cfg)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_arena_create(name, cfg, &a, &d), -EINVAL);
	assert_int_equal(d.code, -EINVAL);
	assert_null(a);
	assert_int_equal(access(path, F_OK), -1); /* nothing created */
}

static void test_create_bad_config(void **state)
{
	(void)state;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE - 1);
	expect_bad_config(&cfg);
	zr_arena_config_init(&cfg, ((size_t)1 << 46) + 4096);
	expect_bad_config(&cfg);
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.max_procs = 0;
	expect_bad_config(&cfg);
	cfg.max_procs = ZRI_MAX_PROCS + 1;
	expect_bad_config(&cfg);
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.max_rings = 0;
	expect_bad_config(&cfg);
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.small_percent = 101;
	expect_bad_config(&cfg);
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.ring_bytes = ZR_ARENA_MIN_SIZE; /* rings leave no room for the tables */
	expect_bad_config(&cfg);
}

static void test_modes(void **state)
{
	(void)state;
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX];
	new_name(n1, p1);
	new_name(n2, p2);
	mode_t old = umask(0077); /* the mode must not depend on the umask */
	zr_arena *a = create_small(n1, 0, 0);
	zr_arena *b = create_small(n2, ZR_ARENA_GROUP, 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_unlink(n1), 0);
	assert_int_equal(zr_arena_unlink(n2), 0);
}

/* ---- opening damaged segments ------------------------------------------- */

static void test_open_enoent(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	expect_open(name, -ENOENT, "no such arena");
	zr_arena *a = NULL;
	assert_int_equal(zr_arena_open(name, ZR_ARENA_READONLY, &a, NULL), -ENOENT);
	assert_null(a);
}

static void test_foreign(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	static uint8_t junk[3 * ZRI_HDR_BYTES];
	memset(junk, 0xa5, sizeof(junk));
	write_file(path, junk, sizeof(junk));
	expect_open(name, ZR_EFOREIGN, "magic");
	zr_diag d;
	assert_int_equal(open_fail(name, ZR_ARENA_READONLY, &d), ZR_EFOREIGN);
	zr_arena_entry e;
	assert_false(list_find(name, &e)); /* not a zring arena: not listed */
}

/* A file shorter than a header whose bytes are not zring's is not a zring
 * segment: ZR_EFOREIGN, not ZR_ETRUNC ("shorter than its header says"). */
static void test_foreign_short(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	uint8_t junk[100];
	memset(junk, 0xa5, sizeof(junk));
	write_file(path, junk, sizeof(junk));
	expect_open(name, ZR_EFOREIGN, NULL);
}

static void test_trunc(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(truncate(path, (off_t)(ZR_ARENA_MIN_SIZE / 2)), 0);
	expect_open(name, ZR_ETRUNC, "524288");
	expect_open(name, ZR_ETRUNC, "1048576");
	zr_diag d;
	assert_int_equal(open_fail(name, ZR_ARENA_READONLY, &d), ZR_ETRUNC);
	/* shorter than the header, but starting with zring's magic */
	assert_int_equal(truncate(path, 4096), 0);
	expect_open(name, ZR_ETRUNC, "4096");
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_version_and_layout(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header orig, h;
	hdr_read(path, &orig);
	h = orig;
	h.layout_version = ZRI_LAYOUT_VERSION + 1;
	hdr_write(path, &h, true);
	expect_open(name, ZR_EVERSION, "layout version");
	h = orig;
	h.fingerprint ^= 1;
	hdr_write(path, &h, true);
	expect_open(name, ZR_ELAYOUT, "fingerprint");
	h = orig;
	h.magic ^= 0xff;
	hdr_write(path, &h, true);
	expect_open(name, ZR_EFOREIGN, "magic");
	hdr_write(path, &orig, false);
	a = open_ok(name, 0); /* restored: opens again */
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_corrupt_checksum(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header orig, h;
	hdr_read(path, &orig);
	h = orig;
	h.name[3] ^= 0x20; /* one flipped byte of the immutable header */
	hdr_write(path, &h, false);
	expect_open(name, ZR_ECORRUPT, "checksum");
	h = orig;
	h.checksum ^= 1ull << 40;
	hdr_write(path, &h, false);
	expect_open(name, ZR_ECORRUPT, "checksum");
	h = orig;
	h.header_bytes = ZRI_HDR_IMMUTABLE;
	hdr_write(path, &h, true);
	expect_open(name, ZR_ECORRUPT, "header size");
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* ---- section table patches (checksum recomputed) ------------------------- */

/* Patch i of the section table; false past the last one. */
static bool section_patch(struct zri_header *h, unsigned i)
{
	uint64_t largest = h->large.npages * h->large.page_size;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		if (h->classes[c].nblocks && h->classes[c].block_size > largest)
			largest = h->classes[c].block_size;
	switch (i) {
	case 0: h->nsections = 0; break;
	case 1: h->nsections = ZRI_MAX_SECTIONS + 1; break;
	case 2: h->nsections = 4; break;
	case 3: h->sections[0].kind = 0; break;
	case 4: h->sections[0].kind = ZRI_SEC_PROCSTATS; break;
	case 5: h->sections[1].kind = h->sections[0].kind; break;
	case 6: h->sections[2].offset = h->arena_size; break;
	case 7: h->sections[0].offset = 64; break;
	case 8: h->sections[1].offset += 8; break;
	case 9: h->sections[4].size = h->arena_size; break;
	case 10: h->sections[1].offset = h->sections[0].offset; break;
	case 11: h->max_procs++; break;
	case 12: h->max_procs = 0; break;
	case 13: h->max_rings++; break;
	case 14: h->nclasses = ZRI_SMALL_CLASSES - 1; break;
	case 15: h->classes[3].block_size = 100; break;
	case 16: h->classes[0].nblocks = 3; break;
	case 17: h->classes[0].meta_off = h->arena_size; break;
	case 18: h->classes[0].ring_off += 8; break;
	case 19: h->large.page_size = 4096; break;
	case 20: h->large.npages += 1000; break;
	case 21: h->large.data_off = h->arena_size; break;
	case 22: h->max_payload = largest + 1; break;
	default: return false;
	}
	return true;
}

/* What the diag of patch i must say. */
static const char *const section_patch_msg[] = {
	"section table has 0 entries", "section table has 9 entries", "lacks a section",
	"unknown or repeated kind 0",  "unknown or repeated kind 6",  "unknown or repeated kind",
	"outside",                     "outside",                     "outside",
	"outside",                     "overlap",                     "process table",
	"process table of 0 slots",    "ring directory",              "size classes",
	"size class 3",                "size class 0",                "size class 0",
	"size class 0",                "large heap",                  "large heap",
	"large heap",                  "max payload",
};

static void test_corrupt_sections(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header orig, h;
	hdr_read(path, &orig);
	assert_int_equal(orig.nsections, 5);
	assert_true(orig.classes[0].nblocks > 0 && orig.large.npages > 0);
	unsigned i = 0;
	for (h = orig; section_patch(&h, i); h = orig, i++) {
		assert_true(i < sizeof(section_patch_msg) / sizeof(section_patch_msg[0]));
		hdr_write(path, &h, true);
		zr_diag d;
		int rc = open_fail(name, ZR_ARENA_READONLY, &d);
		if (rc != ZR_ECORRUPT || !strstr(d.msg, section_patch_msg[i]))
			fail_msg("patch %u: got %d (%s) \"%s\", want ZR_ECORRUPT \"%s\"", i, rc,
				 zr_strerror(rc), d.msg, section_patch_msg[i]);
		assert_int_equal(open_fail(name, 0, &d), ZR_ECORRUPT);
	}
	assert_int_equal(i, sizeof(section_patch_msg) / sizeof(section_patch_msg[0]));
	hdr_write(path, &orig, false);
	a = open_ok(name, 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_poisoned(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header h;
	hdr_read(path, &h);
	atomic_store_explicit(&h.a_state, ZRI_ARENA_POISONED, memory_order_relaxed);
	snprintf(h.poison_reason, sizeof(h.poison_reason), "unit test poison");
	hdr_write(path, &h, false);
	expect_open(name, ZR_EPOISONED, "unit test poison");
	zr_diag d;
	assert_int_equal(open_fail(name, ZR_ARENA_READONLY, &d), ZR_EPOISONED);
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* ---- arenas whose creator did not finish -------------------------------- */

/* An empty segment: its creator died between creating and sizing it, or is
 * still about to size it. read_header() waits its 100 ms for it to grow,
 * then reports ZR_ENOTREADY whatever the file's age. */
static void test_notready_empty(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	write_file(path, NULL, 0);
	uint64_t t0 = mono_ns();
	expect_open(name, ZR_ENOTREADY, "empty");
	assert_true(mono_ns() - t0 >= 100000000u);
	zr_arena_entry e;
	assert_false(list_find(name, &e));
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_notready_dead_creator(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX], pidstr[32];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header h;
	hdr_read(path, &h);
	pid_t dead = dead_pid();
	h.creator_pid = (uint32_t)dead;
	atomic_store_explicit(&h.a_state, ZRI_ARENA_INIT, memory_order_relaxed);
	hdr_write(path, &h, true);
	snprintf(pidstr, sizeof(pidstr), "pid %d", (int)dead);
	uint64_t t0 = mono_ns();
	expect_open(name, ZR_ENOTREADY, pidstr);
	assert_true(mono_ns() - t0 < 90000000u); /* known dead: no waiting */
	zr_arena_entry e;
	assert_true(list_find(name, &e));
	assert_int_equal(e.open_rc, ZR_ENOTREADY);
	assert_int_equal(e.creator_pid, (uint32_t)dead);
	assert_true(e.stale);
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* INIT with a live creator: waits 100 ms, then -EAGAIN. */
static void test_still_being_created(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX], pidstr[32];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header h;
	hdr_read(path, &h);
	atomic_store_explicit(&h.a_state, ZRI_ARENA_INIT, memory_order_relaxed);
	hdr_write(path, &h, false);
	snprintf(pidstr, sizeof(pidstr), "pid %d", (int)getpid());
	uint64_t t0 = mono_ns();
	expect_open(name, -EAGAIN, pidstr);
	assert_true(mono_ns() - t0 >= 100000000u);
	zr_arena_entry e;
	assert_true(list_find(name, &e));
	assert_int_equal(e.open_rc, ZR_ENOTREADY);
	assert_false(e.stale); /* its creator is alive */
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* Header never written (magic 0) but a state word set. */
static void test_notready_zero_magic(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	assert_int_equal(zr_arena_close(a), 0);
	struct zri_header h;
	hdr_read(path, &h);
	memset(&h, 0, ZRI_HDR_IMMUTABLE);
	hdr_write(path, &h, false);
	expect_open(name, ZR_ENOTREADY, "never written");
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* ---- ownership and space ------------------------------------------------ */

static void chown_path(const char *path, uid_t uid, gid_t gid)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int rc = fchown(fd, uid, gid);
	close(fd);
	assert_int_equal(rc, 0);
}

static void test_eowner(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* needs root to give the segment away */
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX], uidstr[32];
	new_name(n1, p1);
	new_name(n2, p2);
	zr_arena *a = create_small(n1, 0, 0);
	zr_arena *b = create_small(n2, ZR_ARENA_GROUP, 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_close(b), 0);
	chown_path(p1, FOREIGN_UID, (gid_t)-1);
	snprintf(uidstr, sizeof(uidstr), "uid %u", FOREIGN_UID);
	expect_open(n1, ZR_EOWNER, uidstr);
	zr_diag d;
	assert_int_equal(open_fail(n1, ZR_ARENA_READONLY, &d), ZR_EOWNER);
	zr_arena_entry e;
	assert_true(list_find(n1, &e));
	assert_int_equal(e.uid, FOREIGN_UID);
	/* mode 0660 and our group: allowed */
	chown_path(p2, FOREIGN_UID, getegid());
	a = open_ok(n2, 0);
	assert_int_equal(zr_arena_close(a), 0);
	/* mode 0660 but another group: refused */
	chown_path(p2, FOREIGN_UID, FOREIGN_UID);
	expect_open(n2, ZR_EOWNER, uidstr);
	assert_int_equal(zr_arena_unlink(n1), 0);
	assert_int_equal(zr_arena_unlink(n2), 0);
}

/* The create must fail with both sizes in the message and leave no file. */
static void expect_enospace(int rc, const zr_diag *d, size_t size, const char *path)
{
	char want[32];
	if (rc != ZR_ENOSPACE)
		fail_msg("create of %zu bytes: got %d (%s): %s", size, rc, zr_strerror(rc), d->msg);
	assert_int_equal(d->code, ZR_ENOSPACE);
	snprintf(want, sizeof(want), "%zu", size);
	msg_has(d, want);
	const char *has = strstr(d->msg, " has ");
	assert_non_null(has);
	unsigned long long avail = strtoull(has + 5, NULL, 10);
	assert_true(avail < size);
	msg_has(d, " free");
	assert_int_equal(access(path, F_OK), -1);
}

static void test_enospace(void **state)
{
	(void)state;
	struct statvfs sv;
	assert_int_equal(statvfs("/dev/shm", &sv), 0);
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	size_t size = (size_t)2 << 40;
	if (avail >= size / 2)
		skip(); /* /dev/shm of a terabyte or more */
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, size);
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create(name, &cfg, &a, &d);
	assert_null(a);
	expect_enospace(rc, &d, size, path);
	cfg.flags = ZR_ARENA_NO_PREFAULT; /* the check comes before any write */
	memset(&d, 0, sizeof(d));
	rc = zr_arena_create(name, &cfg, &a, &d);
	expect_enospace(rc, &d, size, path);
}

/* ---- file-backed arenas --------------------------------------------------- */

static void make_tmpdir(char path[PATH_MAX])
{
	snprintf(tracked_dir, sizeof(tracked_dir), "/tmp/zring-test-XXXXXX");
	assert_non_null(mkdtemp(tracked_dir));
	snprintf(path, PATH_MAX, "%s/arena", tracked_dir);
	track(path);
}

static void file_errors(const char *path)
{
	char other[PATH_MAX + 16];
	zr_arena *b = NULL;
	zr_diag d = {0};
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	assert_int_equal(zr_arena_create_file(path, &cfg, &b, &d), -EEXIST);
	assert_int_equal(zr_arena_create_file(NULL, &cfg, &b, NULL), -EINVAL);
	assert_int_equal(zr_arena_create_file("", &cfg, &b, NULL), -EINVAL);
	assert_int_equal(zr_arena_open_file(NULL, 0, &b, NULL), -EINVAL);
	assert_int_equal(zr_arena_open_file("", 0, &b, NULL), -EINVAL);
	snprintf(other, sizeof(other), "%s.missing", path);
	assert_int_equal(zr_arena_open_file(other, 0, &b, &d), -ENOENT);
	msg_has(&d, "no such arena");
	snprintf(other, sizeof(other), "%s.nodir/arena", path);
	assert_int_equal(zr_arena_create_file(other, &cfg, &b, NULL), -ENOENT);
	assert_null(b);
}

static void test_file_backed(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_tmpdir(path);
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, 2 * MIB); /* prefaulted: posix_fallocate on a plain fs */
	zr_arena *a = NULL;
	zr_diag d = {0};
	if (zr_arena_create_file(path, &cfg, &a, &d) != 0)
		fail_msg("create_file %s: %s", path, d.msg);
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_true(in.file_backed);
	assert_string_equal(in.name, "arena");
	assert_int_equal(in.size, 2 * MIB);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	file_errors(path);
	zr_arena *b = NULL, *r = NULL;
	assert_int_equal(zr_arena_open_file(path, 0, &b, NULL), 0);
	assert_int_equal(zr_arena_open_file(path, ZR_ARENA_READONLY, &r, NULL), 0);
	zr_arena_info_get(r, &in);
	assert_true(in.file_backed && in.readonly);
	assert_int_equal(in.procs_attached, 2);
	zr_payload p;
	assert_int_equal(zr_payload_alloc(b, 1000, &p), 0);
	memset(zr_payload_ptr(b, p), 0x5a, 1000);
	assert_int_equal(((uint8_t *)zr_payload_ptr(r, p))[999], 0x5a);
	assert_int_equal(zr_payload_free(a, p), 0);
	assert_int_equal(zr_arena_check(r, NULL), 0);
	assert_int_equal(zr_arena_close(r), 0);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_close(a), 0);
}

static void test_file_enospace(void **state)
{
	(void)state;
	char path[PATH_MAX];
	make_tmpdir(path);
	struct statvfs sv;
	assert_int_equal(statvfs(tracked_dir, &sv), 0);
	size_t size = (size_t)2 << 40;
	if ((uint64_t)sv.f_bavail * sv.f_frsize >= size / 2)
		skip();
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, size);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create_file(path, &cfg, &a, &d);
	assert_null(a);
	expect_enospace(rc, &d, size, path);
}

/* ---- attachments ---------------------------------------------------------- */

static void test_readonly(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_payload p;
	assert_int_equal(zr_payload_alloc(a, 200, &p), 0);
	strcpy(zr_payload_ptr(a, p), "hello");
	zr_arena *r = open_ok(name, ZR_ARENA_READONLY);
	zr_arena_info in;
	zr_arena_info_get(r, &in);
	assert_true(in.readonly);
	assert_int_equal(in.self, 0);
	assert_int_equal(in.procs_attached, 1); /* a read-only attachment takes no slot */
	assert_string_equal(zr_payload_ptr(r, p), "hello");
	zr_payload q = ZR_PAYLOAD_NULL;
	assert_int_equal(zr_payload_alloc(r, 64, &q), ZR_EREADONLY);
	assert_int_equal(q.v, 0);
	assert_int_equal(zr_payload_free(r, p), ZR_EREADONLY);
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(r, &rep), ZR_EREADONLY);
	assert_int_equal(rep.procs_dead, 0);
	uint64_t freed = 0;
	assert_int_equal(zr_slab_free_orphans(r, NULL, NULL, &freed), ZR_EREADONLY);
	assert_int_equal(zr_arena_check(r, NULL), 0);
	zr_slab_class_stats s[ZR_SLAB_MAX_CLASSES];
	size_t n = 0;
	zr_slab_stat(r, s, ZR_SLAB_MAX_CLASSES, &n);
	assert_int_equal(n, ZRI_SMALL_CLASSES + 1);
	assert_int_equal(((const struct zri_header *)zr_arena_base(r))->magic, ZRI_MAGIC);
	assert_int_equal(zr_arena_close(r), 0);
	assert_int_equal(zr_payload_free(a, p), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_procfull(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 1);
	zr_diag d;
	assert_int_equal(open_fail(name, 0, &d), ZR_EPROCFULL);
	msg_has(&d, "all 1 process slots");
	zr_arena *r = open_ok(name, ZR_ARENA_READONLY); /* takes no slot */
	assert_int_equal(zr_arena_close(a), 0);
	zr_arena *b = open_ok(name, 0); /* the slot was released */
	assert_int_equal(open_fail(name, 0, &d), ZR_EPROCFULL);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_close(r), 0);
	/* a dead process's slot is taken over when none is free */
	pid_t pid;
	(void)dead_attacher(name, 0, &pid);
	b = open_ok(name, 0);
	zr_arena_info in;
	zr_arena_info_get(b, &in);
	assert_int_equal(in.procs_attached, 1);
	assert_int_equal(in.procs_dead, 0);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_info(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, 4 * MIB);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	cfg.max_procs = 8;
	cfg.max_rings = 16;
	cfg.max_payload = (size_t)1 << 30; /* clamped to what fits */
	uint64_t t0 = real_ns();
	zr_arena *a = create_cfg(name, &cfg);
	uint64_t t1 = real_ns();
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_string_equal(in.name, name);
	assert_int_equal(in.size, 4 * MIB);
	assert_true(in.max_payload >= 64 * 1024 && in.max_payload < 4 * MIB);
	assert_int_equal(in.max_procs, 8);
	assert_int_equal(in.max_rings, 16);
	assert_int_equal(in.creator_pid, (uint32_t)getpid());
	assert_int_equal(in.uid, (uint32_t)geteuid());
	assert_true(in.created_ns >= t0 && in.created_ns <= t1);
	assert_int_not_equal(in.self, 0);
	assert_int_equal(in.procs_attached, 1);
	assert_int_equal(in.procs_dead, 0);
	assert_false(in.readonly);
	assert_false(in.file_backed);
	zr_payload p;
	assert_int_equal(zr_payload_alloc(a, in.max_payload + 1, &p), ZR_ETOOBIG);
	assert_int_equal(zr_payload_alloc(a, 0, &p), -EINVAL);
	zr_arena *b = open_ok(name, 0);
	zr_arena_info ib;
	zr_arena_info_get(b, &ib);
	assert_int_not_equal(ib.self, in.self);
	assert_int_equal(ib.procs_attached, 2);
	assert_int_equal(ib.creator_pid, in.creator_pid);
	assert_int_equal(ib.created_ns, in.created_ns);
	assert_true(zr_arena_owner_alive(a, ib.self));
	assert_int_equal(zr_arena_close(b), 0);
	assert_false(zr_arena_owner_alive(a, ib.self)); /* released slot */
	zr_arena_info_get(a, &in);
	assert_int_equal(in.procs_attached, 1);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

static void test_list(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_arena_entry e;
	assert_true(list_find(name, &e));
	assert_int_equal(e.size, ZR_ARENA_MIN_SIZE);
	assert_int_equal(e.uid, (uint32_t)geteuid());
	assert_int_equal(e.creator_pid, (uint32_t)getpid());
	assert_int_equal(e.procs_alive, 1);
	assert_int_equal(e.procs_dead, 0);
	assert_int_equal(e.open_rc, 0);
	assert_false(e.stale);
	zr_arena *b = open_ok(name, 0);
	assert_true(list_find(name, &e));
	assert_int_equal(e.procs_alive, 2);
	size_t n = 0, n1 = 0;
	assert_int_equal(zr_arena_list(NULL, 0, &n), 0);
	assert_true(n >= 1);
	zr_arena_entry one;
	assert_int_equal(zr_arena_list(&one, 1, &n1), 0); /* cap below the count */
	assert_true(n1 >= 1);
	assert_int_equal(zr_arena_close(b), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_true(list_find(name, &e));
	assert_int_equal(e.procs_alive, 0);
	assert_false(e.stale); /* closed cleanly: nobody died */
	assert_int_equal(zr_arena_unlink(name), 0);
	assert_false(list_find(name, &e));
}

static void test_stale_gc(void **state)
{
	(void)state;
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	pid_t pid;
	(void)dead_attacher(name, 0, &pid);
	zr_arena_entry e;
	assert_true(list_find(name, &e));
	assert_int_equal(e.procs_alive, 1);
	assert_int_equal(e.procs_dead, 1);
	assert_false(e.stale); /* we are still attached */
	assert_int_equal(zr_arena_close(a), 0);
	assert_true(list_find(name, &e));
	assert_int_equal(e.procs_alive, 0);
	assert_int_equal(e.procs_dead, 1);
	assert_true(e.stale);
	size_t removed = 0;
	assert_int_equal(zr_arena_gc(&removed), 0);
	assert_true(removed >= 1);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(list_find(name, &e));
	assert_int_equal(zr_arena_gc(NULL), 0);
}

static void test_owner_alive_and_recover(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_true(zr_arena_owner_alive(a, in.self));
	assert_false(zr_arena_owner_alive(a, 0));
	assert_false(zr_arena_owner_alive(a, zri_owner_make(in.max_procs, 1)));
	pid_t pid;
	struct child_report c = dead_attacher(name, 100, &pid);
	assert_int_not_equal(c.self, in.self);
	assert_false(zr_arena_owner_alive(a, c.self));
	zr_arena_info_get(a, &in);
	assert_int_equal(in.procs_attached, 2);
	assert_int_equal(in.procs_dead, 1);
	zr_payload p = {c.payload};
	assert_int_equal(zr_payload_owner(a, p), c.self);
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(a, &rep), 0);
	assert_int_equal(rep.procs_dead, 1);
	assert_int_equal(rep.blocks_orphaned, 1);
	assert_int_equal(rep.ring_drops, 0);
	zr_arena_info_get(a, &in);
	assert_int_equal(in.procs_attached, 1);
	assert_int_equal(in.procs_dead, 0);
	assert_non_null(zr_payload_ptr(a, p)); /* orphans stay valid */
	assert_int_equal(zr_arena_recover(a, &rep), 0); /* counts add up */
	assert_int_equal(rep.procs_dead, 1);
	assert_int_equal(zr_arena_recover(a, NULL), 0);
	uint64_t freed = 0;
	assert_int_equal(zr_slab_free_orphans(a, NULL, NULL, &freed), 0);
	assert_int_equal(freed, 1);
	assert_int_equal(zr_arena_check(a, NULL), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

/* ---- zr_arena_check --------------------------------------------------------- */

static void expect_check_rc(const zr_arena *a, int want, const char *msg_part)
{
	zr_diag d = {0};
	int rc = zr_arena_check(a, &d);
	if (rc != want)
		fail_msg("check: got %d (%s), want %d: %s", rc, zr_strerror(rc), want, d.msg);
	if (msg_part)
		msg_has(&d, msg_part);
}

static void test_check(void **state)
{
	(void)state;
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_arena *r = open_ok(name, ZR_ARENA_READONLY);
	expect_check_rc(a, 0, NULL);
	struct zri_header *h = zr_arena_base(a);
	assert_true(h->classes[0].nblocks > 0);
	_Atomic uint64_t *meta = (void *)((uint8_t *)zr_arena_base(a) + h->classes[0].meta_off);
	uint64_t w = atomic_load(&meta[0]);
	atomic_store(&meta[0], zri_blk_word(ZRI_BLK_GEN(w), 0, 7));
	expect_check_rc(a, ZR_ECORRUPT, "size class 0 block 0");
	expect_check_rc(r, ZR_ECORRUPT, "state 7"); /* read-only attachments check too */
	atomic_store(&meta[0], zri_blk_word(0, zri_owner_make(h->max_procs, 0), ZRI_BLK_ALLOC));
	expect_check_rc(a, ZR_ECORRUPT, "size class 0 block 0");
	atomic_store(&meta[0], zri_blk_word(0, 0, ZRI_BLK_CACHED));
	expect_check_rc(a, ZR_ECORRUPT, "size class 0 block 0");
	atomic_store(&meta[0], w);
	expect_check_rc(a, 0, NULL);
	h->name[0] ^= 1; /* the shared header, through the mapping */
	expect_check_rc(r, ZR_ECORRUPT, "checksum");
	h->name[0] ^= 1;
	expect_check_rc(r, 0, NULL);
	assert_int_equal(zr_arena_close(r), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_config_defaults),       T(test_create_open_close_unlink),
		T(test_create_default_config), T(test_create_eexist),
		T(test_bad_names),             T(test_create_bad_config),
		T(test_modes),                 T(test_open_enoent),
		T(test_foreign),               T(test_foreign_short),
		T(test_trunc),                 T(test_version_and_layout),
		T(test_corrupt_checksum),      T(test_corrupt_sections),
		T(test_poisoned),              T(test_notready_empty),
		T(test_notready_dead_creator), T(test_still_being_created),
		T(test_notready_zero_magic),   T(test_eowner),
		T(test_enospace),              T(test_file_backed),
		T(test_file_enospace),         T(test_readonly),
		T(test_procfull),              T(test_info),
		T(test_list),                  T(test_stale_gc),
		T(test_owner_alive_and_recover), T(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
