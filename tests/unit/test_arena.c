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
/* a cmocka test case */
#define TEST(name) static void name(void **state __attribute__((unused)))

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

static int teardown(void **state __attribute__((unused)))
{
	for (unsigned i = 0; i < ntracked; i++) {
		if (strncmp(tracked[i], "/dev/shm/", 9) != 0)
			zri_registry_forget(tracked[i]); /* a file-backed arena's link */
		if (unlink(tracked[i]) != 0 && errno != ENOENT)
			fprintf(stderr, "teardown: cannot remove %s\n", tracked[i]);
	}
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

/* Read a segment's header into *h, or write it back (with a recomputed
 * checksum when `fix`). */
static void hdr_io(const char *path, struct zri_header *h, bool wr, bool fix)
{
	if (fix)
		h->checksum = zri_header_checksum(h);
	int fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = wr ? pwrite(fd, h, sizeof(*h), 0) : pread(fd, h, sizeof(*h), 0);
	close(fd);
	assert_int_equal(n, sizeof(*h));
}

/* A fresh small arena, closed; its header copied to *h when h is not NULL. */
static void make_closed(char name[64], char path[PATH_MAX], struct zri_header *h)
{
	new_name(name, path);
	assert_int_equal(zr_arena_close(create_small(name, 0, 0)), 0);
	if (h)
		hdr_io(path, h, false, false);
}

/* A new file of `len` bytes of junk. */
static void write_junk(const char *path, size_t len)
{
	static uint8_t junk[3 * ZRI_HDR_BYTES];
	memset(junk, 0xa5, sizeof(junk));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	ssize_t n = len ? write(fd, junk, len) : 0;
	close(fd);
	assert_int_equal(n, len);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
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
static struct child_report dead_attacher(const char *name, size_t alloc)
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
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(n, sizeof(r));
	return r;
}

/* Find `name` in zr_arena_list(); false if absent. */
static bool list_find(const char *name, zr_arena_entry *out)
{
	static zr_arena_entry v[1024];
	size_t n = 0;
	assert_int_equal(zr_arena_list(v, 1024, &n), 0);
	for (size_t i = 0; i < n && i < 1024; i++) {
		if (!strcmp(v[i].name, name)) {
			*out = v[i];
			return true;
		}
	}
	return false;
}

/* ---- configuration, create, open, close, unlink ------------------------- */

TEST(test_config_defaults)
{
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

TEST(test_create_open_close_unlink)
{
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
	/* reopened after every handle closed */
	assert_int_equal(zr_arena_close(open_ok(slashed, ZR_ARENA_READONLY)), 0);
	assert_int_equal(zr_arena_unlink(slashed), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(zr_arena_unlink(name), -ENOENT);
	expect_open(name, -ENOENT, "no such arena");
	assert_int_equal(zr_arena_open(name, ZR_ARENA_READONLY, &a, NULL), -ENOENT);
}

TEST(test_create_eexist)
{
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_cfg(name, NULL); /* NULL: defaults of 16 MiB */
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_int_equal(in.size, 16 * MIB);
	assert_int_equal(in.max_procs, 64);
	assert_int_equal(in.max_rings, 64);
	zr_arena *b = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_arena_create(name, NULL, &b, &d), -EEXIST);
	assert_int_equal(d.code, -EEXIST);
	assert_null(b);
	/* the failed create left the existing arena alone */
	zr_arena *c = open_ok(name, 0);
	assert_int_equal(zr_arena_check(c, NULL), 0);
	assert_int_equal(zr_arena_close(c), 0);
	assert_int_equal(zr_arena_close(a), 0);
}

static void expect_bad_name(const char *name, int want)
{
	zr_arena *a = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_arena_create(name, NULL, &a, &d), want); /* the name is checked first */
	assert_int_equal(d.code, want);
	assert_true(d.msg[0] != '\0');
	assert_null(a);
	memset(&d, 0, sizeof(d));
	assert_int_equal(zr_arena_open(name, 0, &a, &d), want);
	assert_int_equal(d.code, want);
	assert_null(a);
	assert_int_equal(zr_arena_unlink(name), want);
}

TEST(test_bad_names)
{
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

TEST(test_create_bad_config)
{
	for (unsigned i = 0; i < 7; i++) {
		zr_arena_config cfg;
		zr_arena_config_init(&cfg, i == 0   ? ZR_ARENA_MIN_SIZE - 1
					   : i == 1 ? ((size_t)1 << 46) + 4096 /* 64 TiB */
						    : ZR_ARENA_MIN_SIZE);
		switch (i) {
		case 2: cfg.max_procs = 0; break;
		case 3: cfg.max_procs = ZRI_MAX_PROCS + 1; break;
		case 4: cfg.max_rings = 0; break;
		case 5: cfg.small_percent = 101; break;
		case 6: cfg.ring_bytes = ZR_ARENA_MIN_SIZE; break; /* no room for the tables */
		default: break;
		}
		expect_bad_config(&cfg);
	}
}

/* ---- opening damaged segments ------------------------------------------- */

TEST(test_foreign)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	write_junk(path, 3 * ZRI_HDR_BYTES);
	expect_open(name, ZR_EFOREIGN, "magic");
	zr_diag d;
	assert_int_equal(open_fail(name, ZR_ARENA_READONLY, &d), ZR_EFOREIGN);
	zr_arena_entry e;
	assert_false(list_find(name, &e)); /* not a zring arena: not listed */
}

/* A file shorter than a header whose bytes are not zring's is not a zring
 * segment: ZR_EFOREIGN, not ZR_ETRUNC ("shorter than its header says"). */
TEST(test_foreign_short)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	write_junk(path, 100);
	expect_open(name, ZR_EFOREIGN, NULL);
}

TEST(test_trunc)
{
	char name[64], path[PATH_MAX];
	make_closed(name, path, NULL);
	assert_int_equal(truncate(path, (off_t)(ZR_ARENA_MIN_SIZE / 2)), 0);
	expect_open(name, ZR_ETRUNC, "524288");
	expect_open(name, ZR_ETRUNC, "1048576");
	zr_diag d;
	assert_int_equal(open_fail(name, ZR_ARENA_READONLY, &d), ZR_ETRUNC);
	/* shorter than the header, but starting with zring's magic */
	assert_int_equal(truncate(path, 4096), 0);
	expect_open(name, ZR_ETRUNC, "4096");
}

/* ---- header patches: open must refuse each with its own code -------------- */

struct patch {
	int rc;
	bool fix; /* recompute the checksum, so that only the intended check trips */
	const char *msg;
};

#define WANT(rc, fix, msg)                                                                         \
	return (struct patch)                                                                      \
	{                                                                                          \
		rc, fix, msg                                                                       \
	}
#define CORRUPT(msg) WANT(ZR_ECORRUPT, true, msg)
#define NPATCHES 29u /* then the state tests */

static uint64_t largest_payload(const struct zri_header *h)
{
	uint64_t largest = h->large.npages * h->large.page_size;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		if (h->classes[c].nblocks && h->classes[c].block_size > largest)
			largest = h->classes[c].block_size;
	return largest;
}

/* Apply patch i to a header; returns what open must say about it. */
static struct patch apply_patch(struct zri_header *h, unsigned i)
{
	struct zri_section *s = h->sections;
	switch (i) {
	case 0:
		h->layout_version = ZRI_LAYOUT_VERSION + 1;
		WANT(ZR_EVERSION, true, "this build reads");
	case 1: h->fingerprint ^= 1; WANT(ZR_ELAYOUT, true, "fingerprint");
	case 2: h->magic ^= 0xff; WANT(ZR_EFOREIGN, true, "magic");
	case 3: h->name[3] ^= 0x20; WANT(ZR_ECORRUPT, false, "checksum"); /* one flipped byte */
	case 4: h->checksum ^= 1ull << 40; WANT(ZR_ECORRUPT, false, "checksum");
	case 5: h->header_bytes = ZRI_HDR_IMMUTABLE; CORRUPT("header size");
	case 6: h->nsections = 0; CORRUPT("section table has 0 entries");
	case 7: h->nsections = ZRI_MAX_SECTIONS + 1; CORRUPT("section table has 9 entries");
	case 8: h->nsections = 4; CORRUPT("lacks a section");
	case 9: s[0].kind = 0; CORRUPT("unknown or repeated kind 0");
	case 10: s[0].kind = ZRI_SEC_PROCSTATS; CORRUPT("unknown or repeated kind 6");
	case 11: s[1].kind = s[0].kind; CORRUPT("unknown or repeated kind");
	case 12: s[2].offset = h->arena_size; CORRUPT("outside");
	case 13: s[0].offset = 64; CORRUPT("outside");
	case 14: s[1].offset += 8; CORRUPT("outside");
	case 15: s[4].size = h->arena_size; CORRUPT("outside");
	case 16: s[1].offset = s[0].offset; CORRUPT("overlap");
	case 17: h->max_procs++; CORRUPT("process table");
	case 18: h->max_procs = 0; CORRUPT("process table of 0 slots");
	case 19: h->max_rings++; CORRUPT("ring directory");
	case 20: h->nclasses = ZRI_SMALL_CLASSES - 1; CORRUPT("size classes");
	case 21: h->classes[3].block_size = 100; CORRUPT("size class 3");
	case 22: h->classes[0].nblocks = 3; CORRUPT("size class 0");
	case 23: h->classes[0].meta_off = h->arena_size; CORRUPT("size class 0");
	case 24: h->classes[0].ring_off += 8; CORRUPT("size class 0");
	case 25: h->large.page_size = 4096; CORRUPT("large heap");
	case 26: h->large.npages += 1000; CORRUPT("large heap");
	case 27: h->large.data_off = h->arena_size; CORRUPT("large heap");
	case 28: h->max_payload = largest_payload(h) + 1; CORRUPT("max payload");
	case 29: memset(h, 0, ZRI_HDR_IMMUTABLE); WANT(ZR_ENOTREADY, false, "never written");
	case 30:
		atomic_store_explicit(&h->a_state, ZRI_ARENA_POISONED, memory_order_relaxed);
		snprintf(h->poison_reason, sizeof(h->poison_reason), "unit test poison");
		WANT(ZR_EPOISONED, false, "unit test poison");
	default: fail_msg("no patch %u", i);
	}
	WANT(0, false, "");
}

/* Open a small arena patched with each of patches[lo, hi), read-only and
 * read-write, then restored. */
static void run_patches(unsigned lo, unsigned hi)
{
	char name[64], path[PATH_MAX];
	struct zri_header orig, h;
	make_closed(name, path, &orig);
	assert_int_equal(orig.nsections, 6);
	assert_true(orig.classes[0].nblocks > 0 && orig.large.npages > 0);
	for (unsigned i = lo; i < hi; i++) {
		h = orig;
		struct patch want = apply_patch(&h, i);
		hdr_io(path, &h, true, want.fix);
		zr_diag d;
		int rc = open_fail(name, ZR_ARENA_READONLY, &d);
		if (rc != want.rc || !strstr(d.msg, want.msg))
			fail_msg("patch %u: got %d (%s) \"%s\", want %d \"%s\"", i, rc,
				 zr_strerror(rc), d.msg, want.rc, want.msg);
		assert_int_equal(open_fail(name, 0, &d), want.rc);
	}
	hdr_io(path, &orig, true, false);
	assert_int_equal(zr_arena_close(open_ok(name, 0)), 0); /* restored */
}

TEST(test_version_and_layout)
{
	run_patches(0, 3);
}

TEST(test_corrupt_checksum)
{
	run_patches(3, 6);
}

TEST(test_corrupt_sections)
{
	run_patches(6, NPATCHES);
}

TEST(test_poisoned)
{
	run_patches(30, 31);
}

/* ---- arenas whose creator did not finish -------------------------------- */

/* An empty segment: its creator died between creating and sizing it, or is
 * still about to size it. read_header() waits its 100 ms for it to grow,
 * then reports ZR_ENOTREADY whatever the file's age. */
TEST(test_notready_empty)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	write_junk(path, 0);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	expect_open(name, ZR_ENOTREADY, "empty");
	assert_true(clock_ns(CLOCK_MONOTONIC) - t0 >= 100000000u);
	zr_arena_entry e;
	assert_false(list_find(name, &e));
}

/* Put the arena back in state INIT as if `creator` were creating it: open
 * fails with `want` naming the pid, after its 100 ms wait or at once;
 * zr_arena_list() says ZR_ENOTREADY and whether it is stale. */
static void expect_init(pid_t creator, int want, bool waits, bool stale)
{
	char name[64], path[PATH_MAX], pidstr[32];
	struct zri_header h;
	make_closed(name, path, &h);
	h.creator_pid = (uint32_t)creator;
	atomic_store_explicit(&h.a_state, ZRI_ARENA_INIT, memory_order_relaxed);
	hdr_io(path, &h, true, true);
	snprintf(pidstr, sizeof(pidstr), "pid %d", (int)creator);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	expect_open(name, want, pidstr);
	uint64_t waited = clock_ns(CLOCK_MONOTONIC) - t0;
	if (waits ? waited < 100000000u : waited >= 90000000u)
		fail_msg("open took %llu ns", (unsigned long long)waited);
	zr_arena_entry e;
	assert_true(list_find(name, &e));
	assert_int_equal(e.open_rc, ZR_ENOTREADY);
	assert_int_equal(e.creator_pid, (uint32_t)creator);
	assert_int_equal(e.stale, stale);
}

/* The creator died before publishing READY: ZR_ENOTREADY at once, stale. */
TEST(test_notready_dead_creator)
{
	expect_init(dead_pid(), ZR_ENOTREADY, false, true);
}

/* INIT with a live creator: waits 100 ms, then -EAGAIN; not stale. */
TEST(test_still_being_created)
{
	expect_init(getpid(), -EAGAIN, true, false);
}

/* Header never written (magic 0) but a state word set: 100 ms wait, then ZR_ENOTREADY. */
TEST(test_notready_zero_magic)
{
	run_patches(29, 30);
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

/* Mode 0600, or 0660 with ZR_ARENA_GROUP, whatever the umask; as root, an
 * arena given to another user opens only through its group. */
TEST(test_modes_and_owner)
{
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX], uidstr[32];
	new_name(n1, p1);
	new_name(n2, p2);
	mode_t old = umask(0077);
	assert_int_equal(zr_arena_close(create_small(n1, 0, 0)), 0);
	assert_int_equal(zr_arena_close(create_small(n2, ZR_ARENA_GROUP, 0)), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	if (geteuid() != 0)
		skip(); /* needs root to give the segments away */
	chown_path(p1, FOREIGN_UID, (gid_t)-1);
	snprintf(uidstr, sizeof(uidstr), "uid %u", FOREIGN_UID);
	expect_open(n1, ZR_EOWNER, uidstr);
	zr_diag d;
	assert_int_equal(open_fail(n1, ZR_ARENA_READONLY, &d), ZR_EOWNER);
	zr_arena_entry e;
	assert_true(list_find(n1, &e));
	assert_int_equal(e.uid, FOREIGN_UID);
	chown_path(p2, FOREIGN_UID, getegid()); /* mode 0660 and our group: allowed */
	assert_int_equal(zr_arena_close(open_ok(n2, 0)), 0);
	chown_path(p2, FOREIGN_UID, FOREIGN_UID); /* another group: refused */
	expect_open(n2, ZR_EOWNER, uidstr);
}

/* ---- file-backed arenas --------------------------------------------------- */

static void make_tmpdir(char path[PATH_MAX])
{
	snprintf(tracked_dir, sizeof(tracked_dir), "/tmp/zring-test-%d-XXXXXX", (int)getpid());
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

TEST(test_file_backed)
{
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

/* A 2 TiB create (named when `name`, else at `path`) must fail with both
 * sizes in the message and leave no file. Skipped on a huge filesystem. */
static void expect_enospace(const char *dir, const char *name, const char *path, unsigned flags)
{
	struct statvfs sv;
	assert_int_equal(statvfs(dir, &sv), 0);
	size_t size = (size_t)2 << 40;
	if ((uint64_t)sv.f_bavail * sv.f_frsize >= size / 2)
		skip();
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, size);
	cfg.flags = flags;
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = name ? zr_arena_create(name, &cfg, &a, &d)
		      : zr_arena_create_file(path, &cfg, &a, &d);
	assert_null(a);
	if (rc != ZR_ENOSPACE)
		fail_msg("create of %zu bytes: got %d (%s): %s", size, rc, zr_strerror(rc), d.msg);
	assert_int_equal(d.code, ZR_ENOSPACE);
	char want[32];
	snprintf(want, sizeof(want), "%zu", size);
	msg_has(&d, want);
	const char *has = strstr(d.msg, " has ");
	assert_non_null(has);
	assert_true(strtoull(has + 5, NULL, 10) < size); /* what is free */
	msg_has(&d, " free");
	assert_int_equal(access(path, F_OK), -1);
}

TEST(test_enospace)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	expect_enospace("/dev/shm", name, path, 0);
	expect_enospace("/dev/shm", name, path, ZR_ARENA_NO_PREFAULT); /* checked before writing */
	make_tmpdir(path);
	expect_enospace(tracked_dir, NULL, path, ZR_ARENA_NO_PREFAULT);
}

/* ---- attachments ---------------------------------------------------------- */

TEST(test_readonly)
{
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
	assert_int_equal(zr_arena_recover(r, NULL), ZR_EREADONLY);
	assert_int_equal(zr_slab_free_orphans(r, NULL, NULL, NULL), ZR_EREADONLY);
	assert_int_equal(zr_arena_check(r, NULL), 0);
	zr_slab_class_stats s[ZR_SLAB_MAX_CLASSES];
	size_t n = 0;
	zr_slab_stat(r, s, ZR_SLAB_MAX_CLASSES, &n);
	assert_int_equal(n, ZRI_SMALL_CLASSES + 1);
	assert_int_equal(((const struct zri_header *)zr_arena_base(r))->magic, ZRI_MAGIC);
	assert_int_equal(zr_arena_close(r), 0);
	assert_int_equal(zr_payload_free(a, p), 0);
	assert_int_equal(zr_arena_close(a), 0);
}

TEST(test_procfull)
{
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
	(void)dead_attacher(name, 0);
	b = open_ok(name, 0);
	zr_arena_info in;
	zr_arena_info_get(b, &in);
	assert_int_equal(in.procs_attached, 1);
	assert_int_equal(in.procs_dead, 0);
	assert_int_equal(zr_arena_close(b), 0);
}

TEST(test_info)
{
	char name[64];
	new_name(name, NULL);
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, 4 * MIB);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	cfg.max_procs = 8;
	cfg.max_rings = 16;
	cfg.max_payload = (size_t)1 << 30; /* clamped to what fits */
	uint64_t t0 = clock_ns(CLOCK_REALTIME);
	zr_arena *a = create_cfg(name, &cfg);
	uint64_t t1 = clock_ns(CLOCK_REALTIME);
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
}

TEST(test_list)
{
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

TEST(test_stale_gc)
{
	char name[64], path[PATH_MAX];
	new_name(name, path);
	zr_arena *a = create_small(name, 0, 0);
	(void)dead_attacher(name, 0);
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

TEST(test_owner_alive_and_recover)
{
	char name[64];
	new_name(name, NULL);
	zr_arena *a = create_small(name, 0, 0);
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	assert_true(zr_arena_owner_alive(a, in.self));
	assert_false(zr_arena_owner_alive(a, 0));
	assert_false(zr_arena_owner_alive(a, zri_owner_make(in.max_procs, 1)));
	struct child_report c = dead_attacher(name, 100);
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
	assert_non_null(zr_payload_ptr(a, p));		/* orphans stay valid */
	assert_int_equal(zr_arena_recover(a, &rep), 0); /* counts add up */
	assert_int_equal(rep.procs_dead, 1);
	assert_int_equal(zr_arena_recover(a, NULL), 0);
	uint64_t freed = 0;
	assert_int_equal(zr_slab_free_orphans(a, NULL, NULL, &freed), 0);
	assert_int_equal(freed, 1);
	assert_int_equal(zr_arena_check(a, NULL), 0);
	assert_int_equal(zr_arena_close(a), 0);
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

TEST(test_check)
{
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
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_config_defaults),
		T(test_create_open_close_unlink),
		T(test_create_eexist),
		T(test_bad_names),
		T(test_create_bad_config),
		T(test_foreign),
		T(test_foreign_short),
		T(test_trunc),
		T(test_version_and_layout),
		T(test_corrupt_checksum),
		T(test_corrupt_sections),
		T(test_poisoned),
		T(test_notready_empty),
		T(test_notready_dead_creator),
		T(test_still_being_created),
		T(test_notready_zero_magic),
		T(test_modes_and_owner),
		T(test_enospace),
		T(test_file_backed),
		T(test_readonly),
		T(test_procfull),
		T(test_info),
		T(test_list),
		T(test_stale_gc),
		T(test_owner_alive_and_recover),
		T(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
