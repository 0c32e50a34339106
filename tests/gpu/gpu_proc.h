/* Process plumbing of the gpu tests: a GPU agent is never forked from a
 * process that initialised CUDA, so the CPU side runs as a fresh exec of
 * the same test binary with --producer. */
#ifndef ZR_TEST_GPU_PROC_H
#define ZR_TEST_GPU_PROC_H

#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zring/gpu.h"

extern char **environ;

/* Start this binary again with `--producer <arena> --count <n> --seed <s>`. */
static inline pid_t zr_test_spawn_producer(const char *arena, unsigned long long n,
					   unsigned long long seed)
{
	char count[32], sd[32];
	snprintf(count, sizeof(count), "%llu", n);
	snprintf(sd, sizeof(sd), "%llu", seed);
	char *argv[] = {(char *)"producer",
			(char *)"--producer",
			(char *)arena,
			(char *)"--count",
			count,
			(char *)"--seed",
			sd,
			NULL};
	pid_t pid = -1;
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

/* Has the child exited? 1 (with *ok = exit status 0), 0 (still running). */
static inline int zr_test_reaped(pid_t pid, int *ok)
{
	int st = 0;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return 0;
	*ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!*ok)
		fprintf(stderr, "producer: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 1;
}

/* Register the arena with the GPU: 0, 77 (no CUDA build or device: say so,
 * the test is skipped) or 1 (a failure). */
static inline int zr_test_gpu_open(zr_arena *a, const zr_gpu_config *cfg, zr_gpu **g)
{
	zr_diag d;
	memset(&d, 0, sizeof(d));
	int rc = zr_gpu_open(a, cfg, g, &d);
	if (rc == ZR_ENODEV || rc == ZR_ENOTSUP) {
		printf("skipped: %s: %s\n", zr_strerror(rc), d.msg);
		return 77;
	}
	if (rc)
		fprintf(stderr, "zr_gpu_open: %s: %s\n", zr_strerror(rc), d.msg);
	return rc ? 1 : 0;
}

/* The value after `flag` in argv, or NULL. */
static inline const char *zr_test_arg(int argc, char **argv, const char *flag)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return NULL;
}

static inline int zr_test_has(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return 1;
	return 0;
}

#endif
