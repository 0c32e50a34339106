/* tests/unit/test_ckpt_corrupt.c (label unit): a corruption sweep of the
 * checkpoint store. One small checkpoint (1 MiB image, 64 KiB chunks) is
 * taken, then, thousands of times, one of its files (the manifest or a
 * chunk) is damaged: one random bit flipped, cut at a random length, or
 * removed. Loading that checkpoint must then fail with ZR_ECORRUPT, name
 * the damaged file, and never crash; every byte is checksummed, so no
 * damage may go unnoticed (a load that succeeds would have to give the
 * original image back). The file is restored after each case. The seed
 * is printed; --seed N replays a run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ckpt_util.h"

#define CASES 4000u
#define MAX_FILES 64u
#define CB ((uint32_t)(64 * KIB))

struct file {
	char path[ZRI_CKPT_PATH_MAX];
	uint8_t *data;
	size_t len;
};

static char dir[64];
static struct file files[MAX_FILES];
static unsigned nfiles;
static uint64_t rng;

struct probs {
	unsigned n;
	char file[ZRI_CKPT_PATH_MAX];
};

static void on_problem(void *ctx, const char *file, uint64_t offset, const char *what)
{
	struct probs *p = ctx;
	(void)offset;
	assert_non_null(what);
	if (p->n++ == 0)
		snprintf(p->file, sizeof(p->file), "%s", file);
}

static void put_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void add_file(const char *path)
{
	struct stat st;
	assert_true(nfiles < MAX_FILES);
	assert_int_equal(stat(path, &st), 0);
	struct file *f = &files[nfiles++];
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->len = (size_t)st.st_size;
	f->data = malloc(f->len);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, f->data, f->len), (ssize_t)f->len);
	close(fd);
}

/* The manifest first, then every chunk file. */
static void collect(void)
{
	char path[ZRI_CKPT_PATH_MAX];
	zri_ckpt_man_path(path, dir, 1);
	add_file(path);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/chunks", dir);
	DIR *d = opendir(sub);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
			add_file(path);
		}
	if (d)
		closedir(d);
}

/* Damage one file; returns it. */
static const struct file *damage(char *how, size_t cap)
{
	uint64_t r = zr_test_rand(&rng);
	const struct file *f = &files[r % 4 == 0 ? 0 : 1 + (r >> 8) % (nfiles - 1)];
	uint64_t op = zr_test_rand(&rng) % 20, at = zr_test_rand(&rng) % f->len;
	if (op == 0 && f != &files[0]) { /* a missing manifest is -ENOENT, not damage */
		snprintf(how, cap, "removed %s", f->path);
		assert_int_equal(unlink(f->path), 0);
	} else if (op <= 5) { /* op 0 on the manifest: cut it */
		snprintf(how, cap, "cut %s at %llu", f->path, (unsigned long long)at);
		assert_int_equal(truncate(f->path, (off_t)at), 0);
	} else {
		unsigned bit = (unsigned)(zr_test_rand(&rng) % 8);
		snprintf(how, cap, "flipped bit %u of byte %llu of %s", bit, (unsigned long long)at,
			 f->path);
		f->data[at] ^= (uint8_t)(1u << bit);
		put_file(f->path, f->data, f->len);
		f->data[at] ^= (uint8_t)(1u << bit);
	}
	return f;
}

static void one_case(unsigned i, const uint8_t *img, size_t size, unsigned *passed)
{
	char how[ZRI_CKPT_PATH_MAX + 64];
	const struct file *f = damage(how, sizeof(how));
	struct probs p = {0};
	void *got = NULL;
	size_t sz = 0;
	uint64_t skipped = 0;
	zr_diag d = {0};
	int rc = zri_ckpt_load(dir, 1, on_problem, &p, &got, &sz, NULL, &skipped, &d);
	if (rc == 0) {
		(*passed)++;
		if (sz != size || memcmp(got, img, size) != 0)
			fail_msg("case %u (%s): loaded a different image (seed=%llu)", i, how,
				 (unsigned long long)zr_test_seed);
		free(got);
	} else if (rc != ZR_ECORRUPT || p.n != 1 || strcmp(p.file, f->path) || skipped != 1 ||
		   d.code != rc || !d.msg[0]) {
		fail_msg("case %u (%s): rc %d, %u problems, first in %s, diag %s (seed=%llu)", i,
			 how, rc, p.n, p.file, d.msg, (unsigned long long)zr_test_seed);
	}
	if (i % 16 == 0) { /* listing with verify sees it too */
		zr_ckpt_entry e;
		size_t n = 0;
		assert_int_equal(zr_ckpt_list(dir, true, NULL, NULL, &e, 1, &n, &d), 0);
		assert_int_equal(n, 1);
		assert_int_equal(e.valid, rc == 0);
	}
	put_file(f->path, f->data, f->len);
}

static void test_sweep(void **state __attribute__((unused)))
{
	size_t size = 1 * MIB;
	uint8_t *img = malloc(size);
	assert_non_null(img);
	for (size_t i = 0; i < size / CB; i++)
		fill_chunk(img + i * CB, CB, (enum fill)(i % 4), i + 1, &rng);
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_FULL, CB);
	zr_ckpt_report r;
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r, NULL), 0);
	collect();
	assert_int_equal(nfiles, 1 + r.chunks_written);
	unsigned passed = 0;
	for (unsigned i = 0; i < CASES; i++)
		one_case(i, img, size, &passed);
	assert_int_equal(passed, 0);
	void *got;
	size_t sz;
	zr_diag d;
	assert_int_equal(zri_ckpt_load(dir, 1, NULL, NULL, &got, &sz, NULL, NULL, &d), 0);
	assert_memory_equal(got, img, size);
	free(got);
	free(img);
}

static int setup(void **state __attribute__((unused)))
{
	snprintf(dir, sizeof(dir), "/tmp/zring-ckpt-XXXXXX");
	rng = zr_test_seed ? zr_test_seed : 1;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state __attribute__((unused)))
{
	for (unsigned i = 0; i < nfiles; i++)
		free(files[i].data);
	nfiles = 0;
	rm_tree(dir);
	return 0;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
