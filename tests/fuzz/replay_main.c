/* tests/fuzz/replay_main.c: runs a fuzz target without libFuzzer (after
 * zstd's regression_driver.c), so every build exercises it under ctest.
 *
 *   fuzz_<target>_replay [--seed N] [--random N] [--verbose] CORPUS_DIR|FILE...
 *
 * Every corpus file goes through LLVMFuzzerTestOneInput() once, then N
 * (default 3000) random mutations of them: bit flips, byte sets, small
 * integers written over, truncations and appended bytes. The mutations
 * follow from the seed printed as seed=N, so `--seed N` replays a failing
 * run. An input that aborts or runs longer than WATCHDOG_S seconds is named
 * (file, or seed and iteration); --verbose names every input before it runs
 * (for crashes a sanitizer reports). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

#define REPLAY_MAX_INPUT ((size_t)1 << 20)
#define MAX_SEEDS 4096
#define DEFAULT_RANDOM 3000ul
#define WATCHDOG_S 20u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	uint8_t *data;
	size_t size;
	char *name;
};

static struct input seeds[MAX_SEEDS];
static size_t nseeds;
static char current[512]; /* what runs now, for the watchdog */
static bool verbose;

static void say_current(const char *what)
{
	ssize_t w = write(STDERR_FILENO, what, strlen(what));
	w = write(STDERR_FILENO, current, strlen(current));
	(void)w;
}

static void on_alarm(int sig)
{
	(void)sig;
	say_current("replay: input hangs: ");
	_exit(ZR_TEST_FAIL);
}

static void on_abort(int sig)
{
	say_current("replay: aborted on ");
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run(const uint8_t *data, size_t size)
{
	if (verbose)
		say_current("replay: ");
	alarm(WATCHDOG_S);
	LLVMFuzzerTestOneInput(data, size);
	alarm(0);
}

static int load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = malloc(REPLAY_MAX_INPUT);
	size_t n = buf ? fread(buf, 1, REPLAY_MAX_INPUT, f) : 0;
	fclose(f);
	if (!buf || nseeds == MAX_SEEDS) {
		free(buf);
		fprintf(stderr, "replay: too many or too large inputs at %s\n", path);
		return -1;
	}
	uint8_t *fit = realloc(buf, n ? n : 1);
	seeds[nseeds].data = fit ? fit : buf;
	seeds[nseeds].size = n;
	seeds[nseeds].name = strdup(path);
	nseeds++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every regular file of a directory, in name order. */
static int load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char *names[MAX_SEEDS];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < MAX_SEEDS)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = load_file(path);
		free(names[i]);
	}
	return rc;
}

/* One random edit of buf (size *n, capacity cap). */
static void mutate_once(uint8_t *buf, size_t *n, size_t cap, uint64_t *rng)
{
	static const uint64_t interesting[] = {0,	   1,	       0x7f,	    0x80,
					       0xff,	   0x7fffffff, 0x80000000u, 0xffffffffu,
					       UINT64_MAX, 1ull << 40, 64,	    8192};
	uint64_t r = zr_test_rand(rng);
	size_t pos = *n ? (size_t)(zr_test_rand(rng) % *n) : 0;
	switch (r % 6) {
	case 0: /* flip one bit */
		if (*n)
			buf[pos] ^= (uint8_t)(1u << ((r >> 8) % 8));
		break;
	case 1: /* set one byte */
		if (*n)
			buf[pos] = (uint8_t)(r >> 8);
		break;
	case 2: { /* write a small integer (1, 2, 4 or 8 bytes, little-endian) */
		uint64_t v = interesting[(r >> 8) % (sizeof(interesting) / sizeof(interesting[0]))];
		size_t w = (size_t)1 << ((r >> 16) % 4);
		for (size_t i = 0; i < w && pos + i < *n; i++)
			buf[pos + i] = (uint8_t)(v >> (8 * i));
		break;
	}
	case 3: /* truncate */ *n = pos; break;
	case 4: /* append up to 16 random bytes */
		for (unsigned k = (unsigned)((r >> 8) % 16) + 1; k && *n < cap; k--)
			buf[(*n)++] = (uint8_t)zr_test_rand(rng);
		break;
	default: /* add to a byte */
		if (*n)
			buf[pos] = (uint8_t)(buf[pos] + (uint8_t)((r >> 8) % 32) - 16);
		break;
	}
}

static int run_random(unsigned long count, uint64_t seed)
{
	uint64_t rng = seed ? seed : 1;
	size_t cap = 64;
	for (size_t i = 0; i < nseeds; i++)
		if (seeds[i].size + 64 > cap)
			cap = seeds[i].size + 64;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -1;
	for (unsigned long it = 0; it < count; it++) {
		size_t n = 0;
		const struct input *from = nseeds ? &seeds[zr_test_rand(&rng) % nseeds] : NULL;
		if (from) {
			memcpy(buf, from->data, from->size);
			n = from->size;
		}
		for (unsigned k = (unsigned)(zr_test_rand(&rng) % 4) + 1; k; k--)
			mutate_once(buf, &n, cap, &rng);
		snprintf(current, sizeof(current), "seed=%" PRIu64 " iteration %lu (from %s)\n",
			 seed, it, from ? from->name : "nothing");
		run(buf, n);
	}
	free(buf);
	return 0;
}

static int parse_args(int argc, char **argv, unsigned long *count)
{
	int rc = 0;
	for (int i = 1; i < argc && rc == 0; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			i++; /* read by zr_test_init() */
		} else if (!strcmp(argv[i], "--random") && i + 1 < argc) {
			*count = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr,
				"usage: %s [--seed N] [--random N] [--verbose] "
				"CORPUS_DIR|FILE...\n",
				argv[0]);
			rc = -1;
		} else {
			struct stat st;
			bool dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
			rc = dir ? load_dir(argv[i]) : load_file(argv[i]);
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	unsigned long count = DEFAULT_RANDOM;
	signal(SIGALRM, on_alarm);
	signal(SIGABRT, on_abort);
	int rc = parse_args(argc, argv, &count);
	for (size_t i = 0; rc == 0 && i < nseeds; i++) {
		snprintf(current, sizeof(current), "corpus file %s\n", seeds[i].name);
		run(seeds[i].data, seeds[i].size);
	}
	if (rc == 0)
		rc = run_random(count, zr_test_seed);
	if (rc == 0)
		printf("replayed %zu corpus files and %lu random mutations\n", nseeds, count);
	for (size_t i = 0; i < nseeds; i++) {
		free(seeds[i].data);
		free(seeds[i].name);
	}
	return rc == 0 ? ZR_TEST_PASS : ZR_TEST_FAIL;
}
