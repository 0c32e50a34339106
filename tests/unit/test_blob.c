/* tests/unit/test_blob.c (label unit): every public blob call and every
 * error path of creating and opening a blob.
 *
 * Blobs are named zr_test_name() (zring-test-<pid>-<n>), so their files
 * are /dev/shm/zring-blob-zring-test-<pid>-<n>, which the shm leak check
 * looks for too. Bad files are crafted by patching a real blob through its
 * file (pread/pwrite). Every test removes what it made in its teardown, so
 * a failing case leaves nothing in /dev/shm or /tmp either. Runs as root on
 * CI: the ownership test is skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/blob_impl.h"
#include "test.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define HDR ZR_BLOB_DATA_OFFSET
#define FOREIGN_UID 4242u
#define MAX_TRACK 16
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

static int teardown(void **state __attribute__((unused)))
{
	for (unsigned i = 0; i < ntracked; i++)
		if (remove(tracked[i]) != 0 && errno != ENOENT)
			fprintf(stderr, "teardown: cannot remove %s\n", tracked[i]);
	ntracked = 0;
	if (tracked_dir[0] && rmdir(tracked_dir) != 0)
		fprintf(stderr, "teardown: cannot remove %s\n", tracked_dir);
	tracked_dir[0] = '\0';
	return 0;
}

/* A fresh blob name in `dir` (NULL: /dev/shm); path gets its file. */
static void new_name(const char *dir, char name[64], char path[PATH_MAX])
{
	snprintf(name, 64, "%s", zr_test_name());
	snprintf(path, PATH_MAX, "%s/zring-blob-%s", dir ? dir : "/dev/shm", name);
	track(path);
}

/* A fresh directory under /tmp, removed (once empty) at teardown. */
static const char *make_tmpdir(void)
{
	snprintf(tracked_dir, sizeof(tracked_dir), "/tmp/zring-test-XXXXXX");
	assert_non_null(mkdtemp(tracked_dir));
	return tracked_dir;
}

/* ---- helpers ------------------------------------------------------------ */

static void msg_has(const zr_diag *d, const char *s)
{
	if (!strstr(d->msg, s))
		fail_msg("diag \"%s\" lacks \"%s\"", d->msg, s);
}

static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void fill(zr_blob *b, uint64_t from, uint64_t to)
{
	uint8_t *p = zr_blob_data(b);
	for (uint64_t i = from; i < to; i++)
		p[i] = pat(i);
}

static void expect_pattern(const zr_blob *b, uint64_t from, uint64_t to)
{
	const uint8_t *p = zr_blob_data(b);
	for (uint64_t i = from; i < to; i++)
		if (p[i] != pat(i))
			fail_msg("%s: byte %llu is %#x, want %#x", zr_blob_path(b),
				 (unsigned long long)i, p[i], pat(i));
}

static zr_blob *create_ok(const char *dir, const char *name, size_t size, unsigned flags)
{
	zr_blob *b = NULL;
	zr_diag d = {0};
	int rc = zr_blob_create(dir, name, size, flags, &b, &d);
	if (rc != 0)
		fail_msg("create %s: %s: %s", name, zr_strerror(rc), d.msg);
	assert_non_null(b);
	return b;
}

static zr_blob *open_ok(const char *path, unsigned flags)
{
	zr_blob *b = NULL;
	zr_diag d = {0};
	int rc = zr_blob_open_path(path, flags, &b, &d);
	if (rc != 0)
		fail_msg("open %s: %s: %s", path, zr_strerror(rc), d.msg);
	assert_non_null(b);
	return b;
}

/* An open that must fail with `want`, a diag of the same code, a message
 * holding `part` (if any), and *out untouched. */
static void expect_open(const char *path, unsigned flags, int want, const char *part)
{
	zr_blob *b = NULL;
	zr_diag d = {0};
	int rc = zr_blob_open_path(path, flags, &b, &d);
	if (rc == 0)
		zr_blob_close(b);
	if (rc != want)
		fail_msg("open %s: got %d (%s), want %d (%s); diag: %s", path, rc, zr_strerror(rc),
			 want, zr_strerror(want), d.msg);
	assert_null(b);
	assert_int_equal(d.code, rc);
	assert_true(d.msg[0] != '\0');
	if (part)
		msg_has(&d, part);
}

static uint64_t file_len(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void file_io(const char *path, void *buf, size_t len, off_t at, bool wr)
{
	int fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = wr ? pwrite(fd, buf, len, at) : pread(fd, buf, len, at);
	close(fd);
	assert_int_equal(n, len);
}

static void cut(const char *path, off_t len)
{
	assert_int_equal(truncate(path, len), 0);
}

/* A new file of `len` bytes, each `byte`. */
static void write_file(const char *path, size_t len, int byte)
{
	static uint8_t buf[3 * HDR];
	assert_true(len <= sizeof(buf));
	memset(buf, byte, sizeof(buf));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	ssize_t n = len ? write(fd, buf, len) : 0;
	close(fd);
	assert_int_equal(n, len);
}

/* ---- create, write, close, open, read back ------------------------------- */

static void roundtrip(const char *dir, bool tmpfs)
{
	char name[64], path[PATH_MAX];
	new_name(dir, name, path);
	size_t size = MIB + 123;
	zr_blob *b = create_ok(dir, name, size, 0);
	assert_string_equal(zr_blob_path(b), path);
	assert_int_equal(zr_blob_size(b), size);
	assert_int_equal((uintptr_t)zr_blob_data(b) % 4096, 0);
	assert_int_equal(file_len(path), HDR + size);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	const uint8_t *p = zr_blob_data(b);
	assert_int_equal(p[0] | p[size / 2] | p[size - 1], 0); /* starts zeroed */
	fill(b, 0, size);
	zr_blob_info in;
	zr_blob_info_get(b, &in);
	assert_int_equal(in.size, size);
	assert_int_equal(in.creator_pid, (uint32_t)getpid());
	assert_int_equal(in.creator_uid, (uint32_t)geteuid());
	assert_int_equal(in.generation, 0);
	assert_int_equal(in.flags, 0);
	assert_true(in.created_ns > 0);
	assert_false(in.readonly);
	assert_int_equal(in.tmpfs, tmpfs);
	assert_int_equal(zr_blob_sync(b), 0);
	assert_int_equal(zr_blob_close(b), 0);

	zr_blob *r = NULL;
	assert_int_equal(zr_blob_open(dir, name, ZR_BLOB_READONLY, &r, NULL), 0);
	assert_int_equal(zr_blob_size(r), size);
	expect_pattern(r, 0, size);
	zr_blob_info_get(r, &in);
	assert_true(in.readonly);
	assert_int_equal(in.creator_pid, (uint32_t)getpid());
	zr_blob *w = open_ok(path, 0);
	assert_int_equal(zr_blob_write_at(w, 7, "hello", 5), 0);
	char got[6] = {0};
	assert_int_equal(zr_blob_read_at(r, 7, got, 5), 0); /* one file, two mappings */
	assert_string_equal(got, "hello");
	assert_int_equal(zr_blob_close(w), 0);
	assert_int_equal(zr_blob_close(r), 0);
	assert_int_equal(zr_blob_unlink(dir, name), 0);
	assert_int_equal(access(path, F_OK), -1);
}

TEST(test_roundtrip_shm)
{
	roundtrip(NULL, true);
}

TEST(test_roundtrip_dir)
{
	const char *dir = make_tmpdir();
	roundtrip(dir, false);
	char slash[PATH_MAX], name[64], path[PATH_MAX];
	snprintf(slash, sizeof(slash), "%s//", dir); /* trailing slashes are the same dir */
	new_name(dir, name, path);
	assert_int_equal(zr_blob_close(create_ok(slash, name, 10, ZR_BLOB_GROUP)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
}

/* Where the unnamed file cannot be linked (no /proc, no CAP_DAC_READ_SEARCH),
 * creation falls back to making the file under its name with O_EXCL. */
static bool no_link;

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)
{
	if (no_link) {
		errno = ENOENT;
		return -1;
	}
	return (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath, flags);
}

TEST(test_create_without_link)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	no_link = true;
	zr_blob *b = NULL, *c = NULL;
	zr_diag d = {0};
	int rc = zr_blob_create(NULL, name, 5000, ZR_BLOB_GROUP, &b, &d);
	int rc2 = rc ? 0 : zr_blob_create(NULL, name, 5000, 0, &c, &d);
	no_link = false;
	if (rc != 0)
		fail_msg("create without link: %s: %s", zr_strerror(rc), d.msg);
	assert_int_equal(rc2, -EEXIST);
	assert_null(c);
	msg_has(&d, "exists");
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_size, HDR + 5000);
	fill(b, 0, 5000);
	expect_pattern(c = open_ok(path, ZR_BLOB_READONLY), 0, 5000);
	assert_int_equal(zr_blob_close(c), 0);
	assert_int_equal(zr_blob_close(b), 0);
}

/* ---- read-only handles ---------------------------------------------------- */

static void on_segv(int sig)
{
	(void)sig;
	_exit(42);
}

TEST(test_readonly)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	zr_blob *b = create_ok(NULL, name, 3 * KIB, 0);
	fill(b, 0, 3 * KIB);
	zr_blob *r = open_ok(path, ZR_BLOB_READONLY);
	zr_diag d = {0};
	assert_int_equal(zr_blob_write_at(r, 0, "x", 1), ZR_EREADONLY);
	assert_int_equal(zr_blob_resize(r, 8 * KIB, &d), ZR_EREADONLY);
	assert_int_equal(d.code, ZR_EREADONLY);
	msg_has(&d, "read-only");
	assert_int_equal(zr_blob_size(r), 3 * KIB);
	assert_int_equal(zr_blob_sync(r), 0);
	assert_int_equal(zr_blob_refresh(r, NULL), 0);
	expect_pattern(r, 0, 3 * KIB);
	pid_t pid = fork(); /* a store into the read-only mapping faults */
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = {.sa_handler = on_segv};
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		((volatile uint8_t *)zr_blob_data(r))[0] = 1;
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 42);
	expect_pattern(r, 0, 3 * KIB);
	assert_int_equal(zr_blob_close(r), 0);
	assert_int_equal(zr_blob_close(b), 0);
}

/* ---- resize and refresh ---------------------------------------------------- */

TEST(test_resize_refresh)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	size_t small = 10000, big = 3 * MIB + 5, tiny = 5000;
	zr_blob *a = create_ok(NULL, name, small, 0);
	fill(a, 0, small);
	zr_blob *b = open_ok(path, 0);
	zr_blob *r = open_ok(path, ZR_BLOB_READONLY);
	assert_int_equal(zr_blob_resize(a, small, NULL), 0); /* same size: nothing to do */
	assert_int_equal(zr_blob_resize(a, 0, NULL), -EINVAL);

	assert_int_equal(zr_blob_resize(a, big, NULL), 0);
	assert_int_equal(zr_blob_size(a), big);
	assert_int_equal(file_len(path), HDR + big);
	expect_pattern(a, 0, small);
	const uint8_t *p = zr_blob_data(a);
	assert_int_equal(p[small] | p[big - 1], 0); /* the new bytes read as zero */
	fill(a, small, big);
	zr_blob_info in;
	zr_blob_info_get(a, &in);
	assert_int_equal(in.generation, 1);

	assert_int_equal(zr_blob_size(b), small); /* others see the old size... */
	zr_diag d = {0};
	assert_int_equal(zr_blob_resize(b, tiny, &d), ZR_ESTALE); /* ...and may not resize */
	msg_has(&d, "refresh");
	assert_int_equal(zr_blob_refresh(b, NULL), 0); /* ...until they refresh */
	assert_int_equal(zr_blob_size(b), big);
	expect_pattern(b, 0, big);

	assert_int_equal(zr_blob_resize(b, tiny, NULL), 0); /* shrink through the other one */
	assert_int_equal(zr_blob_size(b), tiny);
	assert_int_equal(file_len(path), HDR + tiny);
	expect_pattern(b, 0, tiny);
	assert_int_equal(zr_blob_refresh(a, NULL), 0);
	assert_int_equal(zr_blob_size(a), tiny);
	expect_pattern(a, 0, tiny);
	zr_blob_info_get(a, &in);
	assert_int_equal(in.generation, 2);
	assert_int_equal(zr_blob_refresh(r, NULL), 0);
	assert_int_equal(zr_blob_size(r), tiny);
	expect_pattern(r, 0, tiny);
	assert_int_equal(zr_blob_refresh(r, NULL), 0); /* nothing changed: still fine */
	assert_int_equal(zr_blob_close(r), 0);

	zr_blob *c = open_ok(path, 0); /* an opener sees the last size */
	assert_int_equal(zr_blob_size(c), tiny);
	assert_int_equal(zr_blob_close(c), 0);
	assert_int_equal(zr_blob_close(b), 0);
	assert_int_equal(zr_blob_close(a), 0);
}

/* A process resizes over and over while another opens and refreshes: the
 * readers never see an error, and always a size that was published. */
TEST(test_resize_while_reading)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	const size_t sizes[2] = {64 * KIB, 256 * KIB + 3};
	unsigned rounds = (unsigned)zr_test_scale(400);
	zr_blob *a = create_ok(NULL, name, sizes[0], 0);
	zr_blob *r = open_ok(path, ZR_BLOB_READONLY);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 0;
		for (unsigned i = 1; i <= rounds && !bad; i++)
			bad = zr_blob_resize(a, sizes[i % 2], NULL);
		_exit(bad ? 1 : 0);
	}
	int st, rc = 0;
	unsigned reads = 0;
	for (;;) {
		bool done = waitpid(pid, &st, WNOHANG) == pid;
		zr_blob *o = NULL;
		zr_diag d = {0};
		if ((rc = zr_blob_refresh(r, &d)) != 0 || (rc = zr_blob_open_path(path, 0, &o, &d)))
			fail_msg("read %u while resizing: %s: %s", reads, zr_strerror(rc), d.msg);
		size_t s1 = zr_blob_size(r), s2 = zr_blob_size(o);
		assert_int_equal(zr_blob_close(o), 0);
		assert_true(s1 == sizes[0] || s1 == sizes[1]);
		assert_true(s2 == sizes[0] || s2 == sizes[1]);
		reads++;
		if (done)
			break;
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(zr_blob_refresh(r, NULL), 0);
	assert_int_equal(zr_blob_size(r), sizes[rounds % 2]);
	print_message("%u reads during %u resizes\n", reads, rounds);
	assert_int_equal(zr_blob_close(r), 0);
	assert_int_equal(zr_blob_close(a), 0);
}

/* ---- space: reservation, sparse files, the free-space check --------------- */

TEST(test_reserve_and_sparse)
{
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX];
	new_name(NULL, n1, p1);
	new_name(NULL, n2, p2);
	zr_blob *full = create_ok(NULL, n1, 4 * MIB, 0);
	zr_blob *sparse = create_ok(NULL, n2, 4 * MIB, ZR_BLOB_SPARSE);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= 4 * MIB); /* reserved */
	assert_int_equal(stat(p2, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < MIB); /* the header page only */
	zr_blob_info in;
	zr_blob_info_get(sparse, &in);
	assert_int_equal(in.flags, ZR_BLOB_SPARSE);
	assert_int_equal(zr_blob_resize(sparse, 8 * MIB, NULL), 0); /* stays sparse */
	assert_int_equal(stat(p2, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 < MIB);
	assert_int_equal(zr_blob_resize(full, 8 * MIB, NULL), 0); /* stays reserved */
	assert_int_equal(stat(p1, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 >= 8 * MIB);
	assert_int_equal(zr_blob_close(sparse), 0);
	assert_int_equal(zr_blob_close(full), 0);
}

static void expect_enospace(int rc, const zr_diag *d, uint64_t need)
{
	if (rc != ZR_ENOSPACE)
		fail_msg("got %d (%s), want ZR_ENOSPACE: %s", rc, zr_strerror(rc), d->msg);
	assert_int_equal(d->code, ZR_ENOSPACE);
	char want[32];
	snprintf(want, sizeof(want), "%llu", (unsigned long long)need);
	msg_has(d, want);
	const char *has = strstr(d->msg, " has ");
	assert_non_null(has);
	assert_true(strtoull(has + 5, NULL, 10) < need); /* what is free */
	msg_has(d, " free");
}

/* 2 TiB: refused at once with both sizes, leaving nothing behind. Skipped on
 * a filesystem that large. */
static void enospace_in(const char *dir)
{
	struct statvfs sv;
	size_t huge = (size_t)2 << 40;
	assert_int_equal(statvfs(dir ? dir : "/dev/shm", &sv), 0);
	if ((uint64_t)sv.f_bavail * sv.f_frsize >= huge / 2)
		skip();
	char name[64], path[PATH_MAX];
	new_name(dir, name, path);
	zr_blob *b = NULL;
	zr_diag d = {0};
	expect_enospace(zr_blob_create(dir, name, huge, 0, &b, &d), &d, HDR + huge);
	assert_null(b);
	assert_int_equal(access(path, F_OK), -1);
	expect_enospace(zr_blob_create(dir, name, huge, ZR_BLOB_SPARSE, &b, &d), &d, HDR + huge);
	b = create_ok(dir, name, 1000, 0); /* a grow that cannot fit changes nothing */
	fill(b, 0, 1000);
	expect_enospace(zr_blob_resize(b, huge, &d), &d, huge - 1000);
	assert_int_equal(zr_blob_size(b), 1000);
	assert_int_equal(file_len(path), HDR + 1000);
	expect_pattern(b, 0, 1000);
	assert_int_equal(zr_blob_close(b), 0);
	expect_pattern(b = open_ok(path, 0), 0, 1000);
	assert_int_equal(zr_blob_close(b), 0);
}

TEST(test_enospace)
{
	enospace_in(NULL);
	enospace_in(make_tmpdir());
}

TEST(test_sync)
{
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX];
	new_name(NULL, n1, p1);
	zr_blob *b = create_ok(NULL, n1, 2 * MIB, 0);
	fill(b, 0, 2 * MIB);
	assert_int_equal(zr_blob_sync(b), 0); /* tmpfs: nothing to do */
	assert_int_equal(zr_blob_close(b), 0);
	const char *dir = make_tmpdir();
	new_name(dir, n2, p2);
	b = create_ok(dir, n2, 2 * MIB, 0);
	fill(b, 0, 2 * MIB);
	assert_int_equal(zr_blob_resize(b, 3 * MIB, NULL), 0);
	assert_int_equal(zr_blob_sync(b), 0); /* msync + fdatasync */
	assert_int_equal(zr_blob_close(b), 0);
	expect_pattern(b = open_ok(p2, ZR_BLOB_READONLY), 0, 2 * MIB);
	assert_int_equal(zr_blob_size(b), 3 * MIB);
	assert_int_equal(zr_blob_close(b), 0);
}

/* ---- streaming and bounded copies ---------------------------------------- */

struct sink {
	const zr_blob *b;
	uint64_t next, end;
	size_t chunk;
	unsigned calls, stop_at; /* stop_at: return 42 on that call (1-based) */
	bool bad;
};

static int take(void *ctx, const void *data, size_t len, uint64_t offset)
{
	struct sink *s = ctx;
	s->calls++;
	uint64_t want = s->end - offset < s->chunk ? s->end - offset : s->chunk;
	const uint8_t *p = data;
	if (offset != s->next || len != want || len == 0 ||
	    p != (const uint8_t *)zr_blob_data(s->b) + offset)
		s->bad = true;
	for (size_t i = 0; i < len && !s->bad; i++)
		s->bad = p[i] != pat(offset + i);
	s->next = offset + len;
	return s->calls == s->stop_at ? 42 : 0;
}

static void stream_ok(const zr_blob *b, uint64_t off, uint64_t len, size_t chunk)
{
	uint64_t end = len == ZR_BLOB_TO_END ? zr_blob_size(b) : off + len;
	struct sink s = {b, off, end, chunk, 0, 0, false};
	int rc = zr_blob_stream(b, off, len, chunk, take, &s);
	if (rc != 0 || s.bad || s.next != (end > off ? end : off))
		fail_msg("stream [%llu, %llu) by %zu: rc %d, bad %d, stopped at %llu",
			 (unsigned long long)off, (unsigned long long)end, chunk, rc, s.bad,
			 (unsigned long long)s.next);
	assert_int_equal(s.calls, (end - off + chunk - 1) / chunk);
}

static void stream_on(zr_blob *b)
{
	size_t size = zr_blob_size(b);
	static const size_t chunks[] = {1, 7, 1000, 4096, 8192, 10007, 20000, MIB};
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		stream_ok(b, 0, ZR_BLOB_TO_END, chunks[i]);
	stream_ok(b, 100, 5000, 999);  /* a window */
	stream_ok(b, 100, 5000, 1000); /* one dividing it */
	stream_ok(b, size - 10, ZR_BLOB_TO_END, 3);
	stream_ok(b, 0, size, 4096);
	stream_ok(b, 17, 0, 5);		       /* empty: no call */
	stream_ok(b, size, ZR_BLOB_TO_END, 5); /* empty at the end */
	struct sink s = {b, 0, size, 100, 0, 3, false};
	assert_int_equal(zr_blob_stream(b, 0, ZR_BLOB_TO_END, 100, take, &s), 42); /* stop early */
	assert_int_equal(s.calls, 3);
	assert_false(s.bad);
	assert_int_equal(zr_blob_stream(b, size + 1, 0, 5, take, &s), -ERANGE);
	assert_int_equal(zr_blob_stream(b, 10, size - 9, 5, take, &s), -ERANGE);
	assert_int_equal(zr_blob_stream(b, 10, UINT64_MAX - 5, 5, take, &s), -ERANGE);
	assert_int_equal(zr_blob_stream(b, 0, 10, 0, take, &s), -EINVAL);
	assert_int_equal(zr_blob_stream(b, 0, 10, 5, NULL, &s), -EINVAL);
	assert_int_equal(zr_blob_stream(NULL, 0, 10, 5, take, &s), -EINVAL);
}

TEST(test_stream)
{
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX];
	new_name(NULL, n1, p1);
	zr_blob *b = create_ok(NULL, n1, 10007, 0); /* a prime: no chunk divides it */
	fill(b, 0, 10007);
	stream_on(b);
	assert_int_equal(zr_blob_close(b), 0);
	const char *dir = make_tmpdir(); /* outside tmpfs, with read-ahead */
	new_name(dir, n2, p2);
	b = create_ok(dir, n2, 8192 * 3, 0); /* 4096 and 8192 divide it */
	fill(b, 0, 8192 * 3);
	assert_int_equal(zr_blob_close(b), 0);
	stream_on(b = open_ok(p2, ZR_BLOB_READONLY));
	assert_int_equal(zr_blob_close(b), 0);
}

TEST(test_write_read_at)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	zr_blob *b = create_ok(NULL, name, 100, 0);
	uint8_t buf[101] = {0};
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(zr_blob_write_at(b, 0, buf, 100), 0);
	assert_int_equal(zr_blob_write_at(b, 99, "z", 1), 0);
	assert_int_equal(zr_blob_write_at(b, 100, buf, 0), 0);
	assert_int_equal(zr_blob_write_at(b, 99, buf, 2), -ERANGE);
	assert_int_equal(zr_blob_write_at(b, 0, buf, 101), -ERANGE);
	assert_int_equal(zr_blob_write_at(b, 101, buf, 0), -ERANGE);
	assert_int_equal(zr_blob_write_at(b, UINT64_MAX, buf, 2), -ERANGE);
	assert_int_equal(zr_blob_write_at(b, 0, NULL, 1), -EINVAL);
	assert_int_equal(zr_blob_write_at(b, 0, NULL, 0), 0);
	assert_int_equal(zr_blob_write_at(NULL, 0, buf, 1), -EINVAL);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(zr_blob_read_at(b, 98, buf, 2), 0);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[1], 'z');
	assert_int_equal(zr_blob_read_at(b, 99, buf, 2), -ERANGE);
	assert_int_equal(zr_blob_read_at(b, UINT64_MAX - 1, buf, 4), -ERANGE);
	assert_int_equal(zr_blob_read_at(b, 0, NULL, 1), -EINVAL);
	assert_int_equal(zr_blob_read_at(NULL, 0, buf, 1), -EINVAL);
	assert_int_equal(zr_blob_close(b), 0);
}

/* ---- names, arguments, existence ------------------------------------------ */

TEST(test_names_and_arguments)
{
	char name[64], path[PATH_MAX], longname[ZR_BLOB_NAME_MAX + 2];
	zr_blob *b = NULL;
	zr_diag d = {0};
	new_name(NULL, name, path);
	assert_int_equal(zr_blob_create(NULL, NULL, 10, 0, &b, &d), -EINVAL);
	assert_int_equal(zr_blob_create(NULL, "", 10, 0, &b, &d), -EINVAL);
	assert_int_equal(zr_blob_create(NULL, "a/b", 10, 0, &b, &d), -EINVAL);
	msg_has(&d, "one path component");
	assert_int_equal(zr_blob_create(NULL, "/a", 10, 0, &b, &d), -EINVAL);
	assert_int_equal(zr_blob_create("", name, 10, 0, &b, &d), -EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0'; /* one byte too long */
	assert_int_equal(zr_blob_create(NULL, longname, 10, 0, &b, &d), -ENAMETOOLONG);
	assert_int_equal(zr_blob_open(NULL, longname, 0, &b, &d), -ENAMETOOLONG);
	assert_int_equal(zr_blob_unlink(NULL, longname), -ENAMETOOLONG);
	char deep[ZR_BLOB_PATH_MAX + 2]; /* one byte too long as a path */
	memset(deep, 'd', sizeof(deep) - 1);
	deep[0] = '/';
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(zr_blob_create(deep, "x", 10, 0, &b, &d), -ENAMETOOLONG);
	assert_int_equal(zr_blob_open_path(deep, 0, &b, &d), -ENAMETOOLONG);
	assert_int_equal(zr_blob_create(NULL, name, 0, 0, &b, &d), -EINVAL);
	msg_has(&d, "size 0,");
	assert_int_equal(zr_blob_create(NULL, name, SIZE_MAX, 0, &b, &d), -EFBIG);
	assert_int_equal(zr_blob_create(NULL, name, 10, ZR_BLOB_READONLY, &b, &d), -EINVAL);
	assert_int_equal(zr_blob_create(NULL, name, 10, 1u << 7, &b, &d), -EINVAL);
	assert_int_equal(zr_blob_create(NULL, name, 10, 0, NULL, &d), -EINVAL);
	assert_int_equal(zr_blob_create("/nonexistent-zring-dir", name, 10, 0, &b, &d), -ENOENT);
	assert_int_equal(zr_blob_open_path(NULL, 0, &b, NULL), -EINVAL);
	assert_int_equal(zr_blob_open_path("", 0, &b, NULL), -EINVAL);
	assert_int_equal(zr_blob_open_path(path, ZR_BLOB_GROUP, &b, NULL), -EINVAL);
	assert_int_equal(zr_blob_open_path(path, 0, NULL, NULL), -EINVAL);
	assert_null(b);
	assert_int_equal(access(path, F_OK), -1); /* nothing was made */
	memset(longname, 'n', ZR_BLOB_NAME_MAX);
	longname[ZR_BLOB_NAME_MAX] = '\0'; /* the longest name works */
	snprintf(path, PATH_MAX, "/dev/shm/zring-blob-%s", longname);
	track(path);
	assert_int_equal(zr_blob_close(create_ok(NULL, longname, 10, 0)), 0);
	assert_int_equal(zr_blob_unlink(NULL, longname), 0);
}

TEST(test_exists_and_missing)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	zr_blob *b = NULL;
	zr_diag d = {0};
	expect_open(path, 0, -ENOENT, "no such blob");
	assert_int_equal(zr_blob_open(NULL, name, 0, &b, &d), -ENOENT);
	assert_int_equal(zr_blob_unlink(NULL, name), -ENOENT);
	zr_blob *a = create_ok(NULL, name, 100, 0);
	assert_int_equal(zr_blob_create(NULL, name, 100, 0, &b, &d), -EEXIST);
	assert_null(b);
	assert_int_equal(d.code, -EEXIST);
	msg_has(&d, "exists");
	assert_int_equal(zr_blob_write_at(a, 0, "kept", 4), 0);
	assert_int_equal(zr_blob_unlink(NULL, name), 0); /* handles keep working */
	expect_open(path, 0, -ENOENT, "no such blob");
	char got[5] = {0};
	assert_int_equal(zr_blob_read_at(a, 0, got, 4), 0);
	assert_string_equal(got, "kept");
	assert_int_equal(zr_blob_resize(a, 9000, NULL), 0);
	assert_int_equal(zr_blob_close(a), 0);
}

TEST(test_null_handles)
{
	zr_blob_info in;
	memset(&in, 0xff, sizeof(in));
	assert_null(zr_blob_data(NULL));
	assert_int_equal(zr_blob_size(NULL), 0);
	assert_string_equal(zr_blob_path(NULL), "");
	zr_blob_info_get(NULL, &in);
	assert_int_equal(in.size, 0);
	assert_int_equal(zr_blob_close(NULL), 0);
	assert_int_equal(zr_blob_resize(NULL, 10, NULL), -EINVAL);
	assert_int_equal(zr_blob_refresh(NULL, NULL), -EINVAL);
	assert_int_equal(zr_blob_sync(NULL), -EINVAL);
}

/* ---- files that are not (good) blobs ---------------------------------------- */

/* A closed blob of 1000 bytes; its file's header copied to *h. */
static void make_closed(char name[64], char path[PATH_MAX], struct zri_blob_header *h)
{
	new_name(NULL, name, path);
	zr_blob *b = create_ok(NULL, name, 1000, 0);
	fill(b, 0, 1000);
	assert_int_equal(zr_blob_close(b), 0);
	file_io(path, h, sizeof(*h), 0, false);
}

/* Every byte of the header, flipped in turn, is caught with its code. */
TEST(test_corrupt_each_byte)
{
	char name[64], path[PATH_MAX];
	struct zri_blob_header h;
	make_closed(name, path, &h);
	zr_blob *live = open_ok(path, ZR_BLOB_READONLY);
	for (size_t at = 0; at < HDR; at++) {
		uint8_t *raw = (uint8_t *)&h, v = (uint8_t)(raw[at] ^ (1u << (at % 8)));
		file_io(path, &v, 1, (off_t)at, true);
		int want = at < 8 ? ZR_EFOREIGN : at < 12 ? ZR_EVERSION : ZR_ECORRUPT;
		expect_open(path, at % 2 ? ZR_BLOB_READONLY : 0, want, NULL);
		if (at % 512 == 0) {
			zr_diag d = {0};
			assert_int_equal(zr_blob_refresh(live, &d), want);
			assert_int_equal(zr_blob_size(live), 1000); /* the old view stays */
		}
		file_io(path, &raw[at], 1, (off_t)at, true);
	}
	expect_pattern(live, 0, 1000);
	assert_int_equal(zr_blob_refresh(live, NULL), 0);
	assert_int_equal(zr_blob_close(live), 0);
	assert_int_equal(zr_blob_close(open_ok(path, 0)), 0);
}

/* A header with a right checksum that still makes no sense. */
static void expect_patched(const char *path, const struct zri_blob_header *good,
			   struct zri_blob_header *h, int want, const char *part)
{
	h->checksum = zri_blob_checksum(h);
	file_io(path, h, sizeof(*h), 0, true);
	expect_open(path, 0, want, part);
	*h = *good;
}

TEST(test_inconsistent_header)
{
	char name[64], path[PATH_MAX];
	struct zri_blob_header good, h;
	make_closed(name, path, &good);
	h = good;
	h.version = ZRI_BLOB_VERSION + 1;
	expect_patched(path, &good, &h, ZR_EVERSION, "version 2");
	h.header_bytes = 8192;
	expect_patched(path, &good, &h, ZR_ECORRUPT, "contradicts");
	h.flags = 1u << 7;
	expect_patched(path, &good, &h, ZR_ECORRUPT, "flags 0x80");
	h.data_size = 0;
	expect_patched(path, &good, &h, ZR_ECORRUPT, "contradicts");
	h.data_size = UINT64_MAX - 100;
	expect_patched(path, &good, &h, ZR_ECORRUPT, "contradicts");
	h.data_size = 1001;
	expect_patched(path, &good, &h, ZR_ETRUNC, "4096 + 1001");
	h.data_size = (uint64_t)1 << 62;
	expect_patched(path, &good, &h, ZR_ETRUNC, "truncated");
	h.data_size = 999; /* a file longer than its header says is fine */
	h.checksum = zri_blob_checksum(&h);
	file_io(path, &h, sizeof(h), 0, true);
	zr_blob *b = open_ok(path, 0);
	assert_int_equal(zr_blob_size(b), 999);
	expect_pattern(b, 0, 999);
	assert_int_equal(zr_blob_close(b), 0);
}

TEST(test_truncated)
{
	char name[64], path[PATH_MAX];
	struct zri_blob_header h;
	make_closed(name, path, &h);
	cut(path, HDR + 500);
	expect_open(path, 0, ZR_ETRUNC, "4096 + 1000");
	cut(path, 2000);
	expect_open(path, ZR_BLOB_READONLY, ZR_ETRUNC, "shorter than the 4096-byte blob header");
	cut(path, 5); /* a piece of the magic */
	expect_open(path, 0, ZR_ETRUNC, NULL);
	cut(path, 0);
	expect_open(path, 0, ZR_ENOTREADY, "no blob header");
	cut(path, 2 * HDR); /* all zero */
	expect_open(path, ZR_BLOB_READONLY, ZR_ENOTREADY, "no blob header");
}

TEST(test_foreign)
{
	char name[64], path[PATH_MAX], other[64], opath[PATH_MAX], good[64], gpath[PATH_MAX];
	struct zri_blob_header h;
	new_name(NULL, name, path);
	write_file(path, 2 * HDR, 0xa5);
	expect_open(path, 0, ZR_EFOREIGN, "not a zring blob");
	assert_int_equal(remove(path), 0);
	write_file(path, 3, 'a');
	expect_open(path, 0, ZR_EFOREIGN, "not a zring blob");
	assert_int_equal(remove(path), 0);

	zr_arena *a = zr_test_arena(ZR_ARENA_MIN_SIZE, other); /* an arena is no blob */
	snprintf(opath, sizeof(opath), "/dev/shm/%s", other);
	expect_open(opath, ZR_BLOB_READONLY, ZR_EFOREIGN, "magic");
	assert_int_equal(zr_arena_close(a), 0);

	assert_int_equal(mkdir(path, 0700), 0);
	expect_open(path, ZR_BLOB_READONLY, ZR_EFOREIGN, "not a regular file");
	expect_open(path, 0, -EISDIR, NULL);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0); /* must not hang */
	expect_open(path, ZR_BLOB_READONLY, ZR_EFOREIGN, "not a regular file");
	expect_open(path, 0, ZR_EFOREIGN, "not a regular file");
	assert_int_equal(remove(path), 0);
	make_closed(good, gpath, &h);
	assert_int_equal(symlink(gpath, path), 0); /* a name planted elsewhere */
	expect_open(path, 0, -ELOOP, "symbolic link");
	zr_blob *b = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_blob_create(NULL, name, 10, 0, &b, &d), -EEXIST); /* not followed */
}

static void chown_path(const char *path, uid_t uid, gid_t gid)
{
	assert_int_equal(chown(path, uid, gid), 0);
}

/* As root, a blob given to another user opens only through its group. */
TEST(test_owner)
{
	if (geteuid() != 0)
		skip(); /* needs root to give files away */
	char n1[64], p1[PATH_MAX], n2[64], p2[PATH_MAX], uidstr[32];
	new_name(NULL, n1, p1);
	new_name(NULL, n2, p2);
	assert_int_equal(zr_blob_close(create_ok(NULL, n1, 10, 0)), 0);
	assert_int_equal(zr_blob_close(create_ok(NULL, n2, 10, ZR_BLOB_GROUP)), 0);
	snprintf(uidstr, sizeof(uidstr), "uid %u", FOREIGN_UID);
	chown_path(p1, FOREIGN_UID, (gid_t)-1);
	expect_open(p1, 0, ZR_EOWNER, uidstr);
	expect_open(p1, ZR_BLOB_READONLY, ZR_EOWNER, uidstr);
	chown_path(p2, FOREIGN_UID, getegid()); /* mode 0660 and our group: allowed */
	assert_int_equal(zr_blob_close(open_ok(p2, 0)), 0);
	chown_path(p2, FOREIGN_UID, FOREIGN_UID); /* another group: refused */
	expect_open(p2, 0, ZR_EOWNER, uidstr);
}

/* ---- another process ------------------------------------------------------ */

/* The child opens by path, checks the parent's data, and answers in it. */
static int child_reads(const char *path, size_t size)
{
	zr_blob *r = NULL, *w = NULL;
	if (zr_blob_open_path(path, ZR_BLOB_READONLY, &r, NULL) != 0 || zr_blob_size(r) != size)
		return 1;
	const uint8_t *p = zr_blob_data(r);
	for (size_t i = 0; i < size - 8; i++)
		if (p[i] != pat(i))
			return 2;
	if (zr_blob_open_path(path, 0, &w, NULL) != 0 ||
	    zr_blob_write_at(w, size - 8, "childok", 8) != 0)
		return 3;
	return zr_blob_close(w) != 0 || zr_blob_close(r) != 0 ? 4 : 0;
}

TEST(test_fork_child_reads)
{
	char name[64], path[PATH_MAX];
	new_name(NULL, name, path);
	size_t size = 2 * MIB + 1;
	zr_blob *b = create_ok(NULL, name, size, 0);
	fill(b, 0, size);
	char carried[ZR_BLOB_PATH_MAX + 1]; /* what a job would carry */
	snprintf(carried, sizeof(carried), "%s", zr_blob_path(b));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_reads(carried, size));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal((const char *)zr_blob_data(b) + size - 8, "childok");
	assert_int_equal(zr_blob_close(b), 0);
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_roundtrip_shm),
		T(test_roundtrip_dir),
		T(test_create_without_link),
		T(test_readonly),
		T(test_resize_refresh),
		T(test_resize_while_reading),
		T(test_reserve_and_sparse),
		T(test_enospace),
		T(test_sync),
		T(test_stream),
		T(test_write_read_at),
		T(test_names_and_arguments),
		T(test_exists_and_missing),
		T(test_null_handles),
		T(test_corrupt_each_byte),
		T(test_inconsistent_header),
		T(test_truncated),
		T(test_foreign),
		T(test_owner),
		T(test_fork_child_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
