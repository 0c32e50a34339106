#include "test.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t zr_test_seed;
static unsigned name_counter;
static char created[64][64];
static unsigned ncreated;
static pid_t creator;

/* Unlink every arena this process created, whatever way the test ends. */
static void unlink_created(void)
{
	if (getpid() != creator)
		return;
	for (unsigned i = 0; i < ncreated; i++)
		if (created[i][0] && zr_arena_unlink(created[i]) != 0)
			continue; /* already gone */
}

void zr_test_forget(const char *name)
{
	for (unsigned i = 0; i < ncreated; i++)
		if (!strcmp(created[i], name))
			created[i][0] = '\0';
}

void zr_test_init(int argc, char **argv)
{
	zr_test_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--seed"))
			zr_test_seed = strtoull(argv[i + 1], NULL, 0);
	printf("seed=%" PRIu64 "\n", zr_test_seed);
	fflush(stdout);
}

const char *zr_test_name(void)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "zring-test-%d-%u", (int)getpid(), name_counter++);
	return buf;
}

zr_arena *zr_test_arena(size_t size, char *name_out)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, size);
	return zr_test_arena_cfg(&cfg, name_out);
}

zr_arena *zr_test_arena_cfg(const zr_arena_config *cfg_in, char *name_out)
{
	zr_arena_config cfg = *cfg_in;
	size_t size = cfg.size;
	const char *name = zr_test_name();
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create(name, &cfg, &a, &d);
	if (rc) {
		fprintf(stderr, "zr_test_arena(%zu): %s: %s\n", size, zr_strerror(rc), d.msg);
		abort();
	}
	if (ncreated == 0) {
		creator = getpid();
		atexit(unlink_created);
	}
	if (ncreated < 64)
		snprintf(created[ncreated++], sizeof(created[0]), "%s", name);
	if (name_out)
		strcpy(name_out, name);
	return a;
}

uint64_t zr_test_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint64_t zr_test_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void zr_test_sleep_ns(long ns)
{
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	nanosleep(&ts, NULL);
}

int zr_test_sanitized(void)
{
#ifdef ZR_SANITIZED
	return 1;
#else
	return 0;
#endif
}

uint64_t zr_test_scale(uint64_t n)
{
	return zr_test_sanitized() ? n / 10 + 1 : n;
}
