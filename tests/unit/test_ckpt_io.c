/* tests/unit/test_ckpt_io.c (label unit): the io_uring chunk writer
 * (runtime/ckpt_io.c): more files than it keeps in flight come out whole
 * under their names with no temp left, through the ring and without it;
 * a file that cannot be created is an error naming it; nothing is left
 * half-written. */
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
#include "runtime/ckpt_io.h"

#define TEST(name) static void name(void **state __attribute__((unused)))
#define FILES (3 * ZRI_CKPT_AW_DEPTH + 1)
#define CAP ((size_t)200 << 10)

static char dir[64];

static int setup(void **state __attribute__((unused)))
{
	snprintf(dir, sizeof(dir), "/tmp/zring-ckptio-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state __attribute__((unused)))
{
	rm_tree(dir);
	dir[0] = '\0';
	return 0;
}

/* File k: a header stamped with k, then k*997 % CAP bytes of a pattern. */
static size_t body_len(unsigned k)
{
	return (size_t)k * 997 % CAP;
}

static uint8_t body_byte(unsigned k, size_t i)
{
	return (uint8_t)(k * 31 + i * 7 + (i >> 9));
}

static void put_all(struct zri_ckpt_aw *w)
{
	for (unsigned k = 0; k < FILES; k++) {
		struct zri_ckpt_aw_slot *s;
		zr_diag d = {0};
		assert_int_equal(zri_ckpt_aw_slot(w, &s, &d), 0);
		assert_true(s->cap >= CAP);
		memset(&s->h, 0, sizeof(s->h));
		s->h.magic = ZRI_CKPT_CHUNK_MAGIC;
		s->h.raw_len = k;
		s->len = body_len(k);
		for (size_t i = 0; i < s->len; i++)
			s->buf[i] = body_byte(k, i);
		char path[ZRI_CKPT_PATH_MAX];
		snprintf(path, sizeof(path), "%s/f%03u", dir, k);
		assert_int_equal(zri_ckpt_aw_put(w, s, path, &d), 0);
	}
	zr_diag d = {0};
	assert_int_equal(zri_ckpt_aw_drain(w, &d), 0);
	assert_int_equal(zri_ckpt_aw_drain(w, &d), 0); /* nothing in flight: at once */
}

static void check_all(void)
{
	uint8_t *buf = malloc(sizeof(struct zri_ckpt_chdr) + CAP);
	assert_non_null(buf);
	for (unsigned k = 0; k < FILES; k++) {
		char path[ZRI_CKPT_PATH_MAX];
		snprintf(path, sizeof(path), "%s/f%03u", dir, k);
		int fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		ssize_t n = read(fd, buf, sizeof(struct zri_ckpt_chdr) + CAP);
		close(fd);
		assert_int_equal(n, (ssize_t)(sizeof(struct zri_ckpt_chdr) + body_len(k)));
		struct zri_ckpt_chdr h;
		memcpy(&h, buf, sizeof(h));
		assert_int_equal(h.magic, ZRI_CKPT_CHUNK_MAGIC);
		assert_int_equal(h.raw_len, k);
		for (size_t i = 0; i < body_len(k); i++)
			if (buf[sizeof(h) + i] != body_byte(k, i))
				fail_msg("file %u byte %zu differs", k, i);
	}
	free(buf);
	/* and nothing else: no temp file left */
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.') {
			assert_false(zri_ckpt_is_tmp(de->d_name));
			n++;
		}
	closedir(d);
	assert_int_equal(n, FILES);
}

TEST(test_through_the_ring)
{
	struct zri_ckpt_aw w;
	assert_int_equal(zri_ckpt_aw_init(&w, CAP), 0);
	if (!w.ring_ok)
		print_message("io_uring unavailable here: the plain path is what ran\n");
	put_all(&w);
	zri_ckpt_aw_fini(&w);
	check_all();
}

TEST(test_without_the_ring)
{
	struct zri_ckpt_aw w;
	assert_int_equal(zri_ckpt_aw_init(&w, CAP), 0);
	w.use_ring = false; /* as after a failed submission */
	put_all(&w);
	zri_ckpt_aw_fini(&w);
	check_all();
}

TEST(test_create_fails)
{
	struct zri_ckpt_aw w;
	assert_int_equal(zri_ckpt_aw_init(&w, CAP), 0);
	for (int ring = 1; ring >= 0; ring--) {
		w.use_ring = ring && w.ring_ok;
		struct zri_ckpt_aw_slot *s;
		zr_diag d = {0};
		assert_int_equal(zri_ckpt_aw_slot(&w, &s, &d), 0);
		s->len = 10;
		char path[ZRI_CKPT_PATH_MAX];
		snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
		assert_int_equal(zri_ckpt_aw_put(&w, s, path, &d), -ENOENT);
		assert_non_null(strstr(d.msg, "no/such/dir/f"));
		assert_int_equal(zri_ckpt_aw_drain(&w, &d), 0);
	}
	zri_ckpt_aw_fini(&w);
	DIR *dd = opendir(dir);
	struct dirent *de;
	while ((de = readdir(dd)) != NULL)
		assert_true(de->d_name[0] == '.');
	closedir(dd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_through_the_ring),
		T(test_without_the_ring),
		T(test_create_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
