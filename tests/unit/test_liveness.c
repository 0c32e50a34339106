/* Liveness verdicts that must never be wrong, because a process judged dead
 * has its ring slots repaired and its cached blocks taken while it runs:
 * a forked child using (or closing) the handles it inherited, and a process
 * whose main thread has exited while other threads go on. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test.h"

static zr_arena *g_arena;
static char g_name[64];

static int setup(void **state)
{
	(void)state;
	g_arena = zr_test_arena((size_t)4 << 20, g_name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return zr_arena_close(g_arena);
}

/* Child side of the fork test: the inherited handle is a read-only view,
 * closing it only unmaps, and an own attachment allocates blocks that the
 * parent's cache does not also hold. Sends its handles to `out`. */
static int child_after_fork(int out)
{
	zr_payload p;
	if (zr_payload_alloc(g_arena, 64, &p) != ZR_EREADONLY)
		return 2;
	if (zr_arena_close(g_arena) != 0)
		return 3;
	zr_arena *own = NULL;
	if (zr_arena_open(g_name, 0, &own, NULL) != 0)
		return 4;
	for (int i = 0; i < 32; i++) {
		if (zr_payload_alloc(own, 64, &p) != 0)
			return 5;
		if (write(out, &p, sizeof(p)) != sizeof(p))
			return 6;
	}
	return zr_arena_close(own) == 0 ? 0 : 7; /* its blocks become orphans */
}

static void test_fork_inherited_handle(void **state)
{
	(void)state;
	zr_payload p[32];
	for (int i = 0; i < 32; i++) /* fill this thread's cache */
		assert_int_equal(zr_payload_alloc(g_arena, 64, &p[i]), 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(zr_payload_free(g_arena, p[i]), 0);
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		_exit(child_after_fork(fd[1]));
	}
	close(fd[1]);
	zr_payload theirs[32];
	size_t got = 0; /* the child writes them one by one: read until all came */
	ssize_t n;
	while (got < sizeof(theirs) &&
	       (n = read(fd[0], (char *)theirs + got, sizeof(theirs) - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, sizeof(theirs));
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	zr_arena_info info;
	zr_arena_info_get(g_arena, &info);
	assert_true(zr_arena_owner_alive(g_arena, info.self)); /* our slot is still ours */
	assert_int_equal(info.procs_attached, 1);
	for (int i = 0; i < 32; i++) { /* from our cache: none of them is the child's */
		assert_int_equal(zr_payload_alloc(g_arena, 64, &p[i]), 0);
		for (int j = 0; j < 32; j++)
			assert_true((p[i].v & ((1ULL << 40) - 1)) !=
				    (theirs[j].v & ((1ULL << 40) - 1)));
	}
	for (int i = 0; i < 32; i++) {
		assert_int_equal(zr_payload_free(g_arena, p[i]), 0);
		assert_int_equal(zr_payload_free(g_arena, theirs[i]),
				 0); /* orphans: any may free */
	}
}

struct zombie_child {
	int hold; /* the helper thread exits when this pipe closes */
};

static void *hold_thread(void *arg)
{
	char c;
	struct zombie_child *z = arg;
	ssize_t n = read(z->hold, &c, 1);
	(void)n;
	_exit(0);
}

/* The main thread exits; the process lives on in another thread. */
static void zombie_leader_main(int up, int hold)
{
	zr_arena *a = NULL;
	zr_arena_info info = {0};
	if (zr_arena_open(g_name, 0, &a, NULL) == 0)
		zr_arena_info_get(a, &info);
	static struct zombie_child z;
	z.hold = hold;
	pthread_t th;
	if (pthread_create(&th, NULL, hold_thread, &z) != 0)
		_exit(1);
	if (write(up, &info.self, sizeof(info.self)) != sizeof(info.self))
		_exit(1);
	pthread_exit(NULL);
}

static void test_zombie_leader_is_alive(void **state)
{
	(void)state;
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		zombie_leader_main(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	uint32_t id = 0;
	assert_int_equal(read(up[0], &id, sizeof(id)), (ssize_t)sizeof(id));
	close(up[0]);
	struct timespec ts = {0, 50000000}; /* let the main thread exit */
	nanosleep(&ts, NULL);
	assert_true(zr_arena_owner_alive(g_arena, id));
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_int_equal(rep.procs_dead, 0);
	close(down[1]); /* the last thread exits */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_false(zr_arena_owner_alive(g_arena, id));
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_inherited_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zombie_leader_is_alive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
