/* tests/unit/test_arena_list.c (label unit): file-backed arenas in
 * zr_arena_list() through the registry in /dev/shm/.zring-files, and
 * zr_arena_remove_stale() for them and for /dev/shm arenas; zr_arena_gc()
 * leaves file-backed arenas alone and prunes dangling registry links.
 *
 * A stale arena is made by a child that creates (or opens) it and
 * _exit()s without closing: its process slot stays ACTIVE under a dead pid.
 * Files live in /tmp/zring-test-<pid>-XXXXXX, removed with their links by
 * each test's teardown. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/arena_impl.h"
#include "test.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

static char dir[PATH_MAX];
static char files[4][PATH_MAX];
static unsigned nfiles;
static char shm_name[64];

static int setup(void **state __attribute__((unused)))
{
	snprintf(dir, sizeof(dir), "/tmp/zring-test-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(dir))
		return -1;
	nfiles = 0;
	shm_name[0] = '\0';
	return 0;
}

static int teardown(void **state __attribute__((unused)))
{
	for (unsigned i = 0; i < nfiles; i++) {
		zri_registry_forget(files[i]);
		(void)unlink(files[i]);
	}
	if (shm_name[0] && zr_arena_unlink(shm_name) != 0)
		shm_name[0] = '\0'; /* removed by the test */
	return rmdir(dir) == 0 ? 0 : -1;
}

/* A new file path in the test's directory (a test name: zring-test-<pid>-<n>). */
static const char *new_file(void)
{
	assert_true(nfiles < 4);
	char real[PATH_MAX];
	assert_non_null(realpath(dir, real)); /* /tmp may be a link */
	assert_true(strlen(real) < PATH_MAX - 80);
	snprintf(files[nfiles], PATH_MAX, "%.*s/%s", PATH_MAX - 80, real, zr_test_name());
	return files[nfiles++];
}

static zr_arena *create_file(const char *path)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create_file(path, &cfg, &a, &d);
	if (rc)
		fail_msg("create_file %s: %s", path, d.msg);
	return a;
}

/* The entry of zr_arena_list() with this path; false if absent. */
static bool listed(const char *path, zr_arena_entry *out)
{
	size_t n = 0;
	assert_int_equal(zr_arena_list(NULL, 0, &n), 0);
	zr_arena_entry *v = calloc(n + 8, sizeof(*v));
	assert_non_null(v);
	size_t m = 0;
	assert_int_equal(zr_arena_list(v, n + 8, &m), 0);
	bool found = false;
	for (size_t i = 0; i < m && i < n + 8 && !found; i++)
		if (!strcmp(v[i].path, path)) {
			*out = v[i];
			found = true;
		}
	free(v);
	return found;
}

static bool link_exists(const char *path)
{
	char link[PATH_MAX];
	struct stat st;
	assert_int_equal(zri_registry_path(path, link, sizeof(link)), 0);
	return lstat(link, &st) == 0 && S_ISLNK(st.st_mode);
}

/* A child creates (file arena at `path`) or opens (/dev/shm arena `name`)
 * and dies without closing. */
static void die_attached(const char *path, const char *name)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		zr_arena *a = NULL;
		zr_arena_config cfg;
		zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
		cfg.flags = ZR_ARENA_NO_PREFAULT;
		int rc = path ? zr_arena_create_file(path, &cfg, &a, NULL)
			      : zr_arena_open(name, 0, &a, NULL);
		_exit(rc == 0 ? 0 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(test_file_listed)
{
	const char *path = new_file();
	zr_arena *a = create_file(path);
	assert_true(link_exists(path));
	struct stat st;
	assert_int_equal(stat("/dev/shm/.zring-files", &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	zr_arena_entry e;
	assert_true(listed(path, &e));
	assert_true(e.file_backed);
	assert_string_equal(e.name, strrchr(path, '/') + 1);
	assert_int_equal(e.size, ZR_ARENA_MIN_SIZE);
	assert_int_equal(e.uid, (uint32_t)geteuid());
	assert_int_equal(e.creator_pid, (uint32_t)getpid());
	assert_int_equal(e.procs_alive, 1);
	assert_int_equal(e.open_rc, 0);
	assert_false(e.stale);
	assert_int_equal(zr_arena_remove_stale(&e), -EBUSY); /* alive */
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_true(listed(path, &e)); /* closed cleanly: listed, not stale */
	assert_false(e.stale);
	assert_int_equal(zr_arena_remove_stale(&e), -EBUSY);
	size_t removed = 0;
	assert_int_equal(zr_arena_gc(&removed), 0);
	assert_int_equal(access(path, F_OK), 0); /* gc leaves file-backed arenas alone */
	assert_true(link_exists(path));
}

TEST(test_file_stale_removed)
{
	const char *path = new_file();
	die_attached(path, NULL);
	assert_true(link_exists(path)); /* made by the child */
	zr_arena_entry e;
	assert_true(listed(path, &e));
	assert_true(e.file_backed);
	assert_int_equal(e.procs_alive, 0);
	assert_int_equal(e.procs_dead, 1);
	assert_true(e.stale);
	size_t removed = 0;
	assert_int_equal(zr_arena_gc(&removed), 0);
	assert_int_equal(access(path, F_OK), 0); /* stale, but file-backed: kept by gc */
	assert_true(link_exists(path));
	assert_int_equal(zr_arena_remove_stale(&e), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(link_exists(path));
	assert_false(listed(path, &e));
	assert_int_equal(zr_arena_remove_stale(&e), -ENOENT);
}

/* Stale when listed, alive again when removal is asked: kept. */
TEST(test_file_came_back)
{
	const char *path = new_file();
	die_attached(path, NULL);
	zr_arena_entry e;
	assert_true(listed(path, &e));
	assert_true(e.stale);
	zr_arena *a = NULL;
	assert_int_equal(zr_arena_open_file(path, 0, &a, NULL), 0);
	assert_int_equal(zr_arena_remove_stale(&e), -EBUSY);
	assert_int_equal(access(path, F_OK), 0);
	assert_true(link_exists(path));
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_remove_stale(&e), 0); /* the dead slot is still there */
	assert_int_equal(access(path, F_OK), -1);
}

TEST(test_dangling_links)
{
	const char *gone = new_file(), *foreign = new_file();
	assert_int_equal(zr_arena_close(create_file(gone)), 0);
	assert_int_equal(zr_arena_close(create_file(foreign)), 0);
	zr_arena_entry e;
	assert_true(listed(gone, &e));
	assert_true(listed(foreign, &e));
	assert_int_equal(unlink(gone), 0); /* behind the library's back */
	int fd = open(foreign, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an arena", 12), 12);
	close(fd);
	assert_true(link_exists(gone));
	assert_false(listed(gone, &e));
	assert_false(listed(foreign, &e));
	size_t removed = 0;
	assert_int_equal(zr_arena_gc(&removed), 0);
	assert_false(link_exists(gone));
	assert_false(link_exists(foreign));
	assert_int_equal(access(foreign, F_OK), 0); /* not ours to delete: only its link */
}

TEST(test_shm_remove_stale)
{
	snprintf(shm_name, sizeof(shm_name), "%s", zr_test_name());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	zr_arena *a = NULL;
	assert_int_equal(zr_arena_create(shm_name, &cfg, &a, NULL), 0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "/dev/shm/%s", shm_name);
	zr_arena_entry e;
	assert_true(listed(path, &e));
	assert_false(e.file_backed);
	assert_string_equal(e.name, shm_name);
	assert_int_equal(zr_arena_remove_stale(&e), -EBUSY);
	die_attached(NULL, shm_name);
	assert_int_equal(zr_arena_close(a), 0);
	assert_true(listed(path, &e));
	assert_true(e.stale);
	assert_int_equal(zr_arena_remove_stale(&e), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(zr_arena_remove_stale(&e), -ENOENT);
	zr_arena_entry bad = e;
	bad.file_backed = true;
	snprintf(bad.path, sizeof(bad.path), "relative/path");
	assert_int_equal(zr_arena_remove_stale(&bad), -EINVAL);
	assert_int_equal(zr_arena_remove_stale(NULL), -EINVAL);
	bad.file_backed = false;
	snprintf(bad.name, sizeof(bad.name), "../etc");
	assert_int_equal(zr_arena_remove_stale(&bad), -EINVAL);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_stale_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_came_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dangling_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shm_remove_stale, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
