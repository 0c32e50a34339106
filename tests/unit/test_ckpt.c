/* tests/unit/test_ckpt.c (label unit): the checkpoint store
 * (runtime/ckpt_*.c) through zri_ckpt_write(), zri_ckpt_load() and
 * zr_ckpt_list(): round trips, what each kind writes, dedup and raw
 * counts, retention, falling back past a damaged checkpoint, and the same
 * result with one thread or three. Every test works in its own mkdtemp()
 * directory under /tmp, removed by the teardown. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "ckpt_util.h"

#define TEST(name) static void name(void **state __attribute__((unused)))
#define CB64 ((uint32_t)(64 * KIB))

static char dir[64];
static uint64_t rng;

static int setup(void **state __attribute__((unused)))
{
	snprintf(dir, sizeof(dir), "/tmp/zring-ckpt-XXXXXX");
	rng = zr_test_seed ? zr_test_seed : 1;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state __attribute__((unused)))
{
	rm_tree(dir);
	dir[0] = '\0';
	return 0;
}

/* Problems reported by the store. */
struct probs {
	unsigned n;
	char file[ZRI_CKPT_PATH_MAX];
	char what[256];
};

static void on_problem(void *ctx, const char *file, uint64_t offset, const char *what)
{
	struct probs *p = ctx;
	(void)offset;
	if (p->n++ == 0) {
		snprintf(p->file, sizeof(p->file), "%s", file);
		snprintf(p->what, sizeof(p->what), "%s", what);
	}
}

/* An image whose chunks are all different: random, text and stamped. */
static uint8_t *distinct_image(size_t size, uint32_t cb)
{
	uint8_t *img = malloc(size);
	assert_non_null(img);
	for (size_t i = 0; i < size / cb; i++)
		fill_chunk(img + i * cb, cb, (enum fill)(1 + i % 3), i + 1, &rng);
	return img;
}

static void load_check(uint64_t seq, const void *want, size_t size, uint64_t want_seq)
{
	void *img = NULL;
	size_t got = 0;
	uint64_t skipped = 99;
	zr_ckpt_entry e;
	zr_diag d = {0};
	int rc = zri_ckpt_load(dir, seq, NULL, NULL, &img, &got, &e, &skipped, &d);
	if (rc)
		fail_msg("load %llu: %d %s", (unsigned long long)seq, rc, d.msg);
	assert_int_equal(got, size);
	assert_int_equal(e.seq, want_seq);
	assert_int_equal(skipped, 0);
	assert_true(memcmp(img, want, size) == 0);
	free(img);
}

TEST(test_roundtrip)
{
	size_t size = 12 * MIB, cb = 256 * KIB;
	uint8_t *img = malloc(size);
	assert_non_null(img);
	for (size_t i = 0; i < size / cb; i++) /* zeros, random and text, in turn */
		fill_chunk(img + i * cb, cb, (enum fill)(i % 3), i, &rng);
	zr_ckpt_config cfg;
	zr_ckpt_config_init(&cfg, dir);
	cfg.kind = ZR_CKPT_FULL;
	cfg.chunk_bytes = (uint32_t)cb;
	zr_ckpt_report r;
	assert_int_equal(ckpt_take(&cfg, img, size, 77, &r, NULL), 0);
	assert_int_equal(r.seq, 1);
	assert_int_equal(r.kind, ZR_CKPT_FULL);
	assert_int_equal(r.chunks, 48);
	assert_int_equal(r.chunks_dedup, 15); /* 16 zero chunks, one stored */
	assert_int_equal(r.chunks_written, 33);
	assert_int_equal(r.chunks_raw, 16); /* the random ones */
	assert_int_equal(r.begin_lsn, 77);
	assert_int_equal(r.end_lsn, 77); /* no lsn_now */
	assert_int_equal(r.bytes_image, size);
	assert_true(r.bytes_compressed < size);
	load_check(0, img, size, 1);
	zr_ckpt_entry e[4];
	size_t n = 0;
	zr_diag d;
	assert_int_equal(zr_ckpt_list(dir, true, NULL, NULL, e, 4, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_true(e[0].valid);
	assert_int_equal(e[0].chunks, 48);
	assert_int_equal(e[0].lineage, 0x1234);
	assert_string_equal(e[0].arena, "ckpt-test");
	assert_int_equal(e[0].stored_bytes, r.bytes_compressed);
	free(img);
}

static void change(uint8_t *img, uint32_t cb, size_t idx, uint64_t stamp)
{
	fill_chunk(img + idx * cb, cb, FILL_STAMP, stamp, &rng);
}

TEST(test_incremental_differential)
{
	size_t size = 2 * MIB, n = size / CB64;
	uint8_t *img = distinct_image(size, CB64), *v[4];
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_INCREMENTAL, CB64);
	zr_ckpt_report r;
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r, NULL), 0);
	assert_int_equal(r.kind, ZR_CKPT_FULL); /* no parent yet */
	assert_int_equal(r.chunks_written, n);
	v[0] = malloc(size);
	memcpy(v[0], img, size);
	change(img, CB64, 3, 1001);
	change(img, CB64, 10, 1002);
	change(img, CB64, 31, 1003);
	assert_int_equal(ckpt_take(&cfg, img, size, 2, &r, NULL), 0);
	assert_int_equal(r.kind, ZR_CKPT_INCREMENTAL);
	assert_int_equal(r.parent, 1);
	assert_int_equal(r.chunks_written, 3);
	assert_int_equal(r.chunks_unchanged, n - 3);
	assert_int_equal(r.chunks_dedup, 0);
	v[1] = malloc(size);
	memcpy(v[1], img, size);
	change(img, CB64, 0, 2001);
	change(img, CB64, 3, 2002); /* 3 changed again */
	assert_int_equal(ckpt_take(&cfg, img, size, 3, &r, NULL), 0);
	assert_int_equal(r.parent, 2);
	assert_int_equal(r.chunks_written, 2);
	assert_int_equal(r.chunks_unchanged, n - 2);
	v[2] = malloc(size);
	memcpy(v[2], img, size);
	/* since the full: 0, 3, 10, 31 and now 20; only 20 is new content */
	change(img, CB64, 20, 3001);
	cfg.kind = ZR_CKPT_DIFFERENTIAL;
	assert_int_equal(ckpt_take(&cfg, img, size, 4, &r, NULL), 0);
	assert_int_equal(r.kind, ZR_CKPT_DIFFERENTIAL);
	assert_int_equal(r.parent, 1);
	assert_int_equal(r.chunks_written, 1);
	assert_int_equal(r.chunks_dedup, 4);
	assert_int_equal(r.chunks_unchanged, n - 5);
	v[3] = img;
	for (uint64_t s = 1; s <= 4; s++)
		load_check(s, v[s - 1], size, s);
	load_check(0, img, size, 4);
	for (int i = 0; i < 4; i++)
		free(v[i]);
}

TEST(test_dedup_and_raw)
{
	size_t size = 4 * CB64;
	uint8_t *img = malloc(size);
	fill_chunk(img, CB64, FILL_RANDOM, 0, &rng);
	fill_chunk(img + CB64, CB64, FILL_TEXT, 5, &rng);
	memcpy(img + 2 * CB64, img, CB64); /* the same random chunk twice */
	fill_chunk(img + 3 * CB64, CB64, FILL_RANDOM, 0, &rng);
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_FULL, CB64);
	zr_ckpt_report r;
	for (int round = 0; round < 2; round++) { /* a second full rewrites them */
		assert_int_equal(ckpt_take(&cfg, img, size, 1, &r, NULL), 0);
		assert_int_equal(r.chunks_written, 3);
		assert_int_equal(r.chunks_dedup, 1);
		assert_int_equal(r.chunks_raw, 2); /* random data does not compress */
		assert_true(r.bytes_compressed > 3 * 64 + 2 * CB64);
		assert_true(r.bytes_compressed < 3 * 64 + 3 * CB64);
	}
	load_check(0, img, size, 2);
	memset(img, 0, size); /* zeros compress */
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r, NULL), 0);
	assert_int_equal(r.chunks_written, 1);
	assert_int_equal(r.chunks_dedup, 3);
	assert_int_equal(r.chunks_raw, 0);
	load_check(0, img, size, 3);
	free(img);
}

static size_t count_chunk_files(void)
{
	size_t n = 0;
	char path[ZRI_CKPT_PATH_MAX];
	snprintf(path, sizeof(path), "%s/chunks", dir);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static size_t distinct_chunks(uint8_t *const *imgs, int k, size_t size, uint32_t cb)
{
	struct zri_ckpt_set s;
	size_t n = 0;
	assert_int_equal(zri_ckpt_set_init(&s, (uint64_t)k * size / cb), 0);
	for (int j = 0; j < k; j++)
		for (size_t i = 0; i < size / cb; i++) {
			XXH128_hash_t x = XXH3_128bits(imgs[j] + i * cb, cb);
			n += zri_ckpt_set_add(&s, x.low64, x.high64);
		}
	zri_ckpt_set_free(&s);
	return n;
}

TEST(test_retention)
{
	size_t size = 1 * MIB;
	uint8_t *img = distinct_image(size, CB64), *v[4];
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_INCREMENTAL, CB64);
	cfg.keep_last = 2;
	zr_ckpt_report r;
	uint64_t oldest = 0;
	for (int s = 0; s < 4; s++) {
		change(img, CB64, (size_t)s, 500 + (uint64_t)s);
		change(img, CB64, 15, 600 + (uint64_t)s); /* each version of 15 replaces the last */
		assert_int_equal(ckpt_take(&cfg, img, size, 10 * (uint64_t)(s + 1), &r, &oldest),
				 0);
		v[s] = malloc(size);
		memcpy(v[s], img, size);
	}
	assert_int_equal(r.seq, 4);
	assert_int_equal(r.removed_checkpoints, 1); /* seq 2; seq 1 went the round before */
	assert_int_equal(r.removed_chunks, 2);	    /* seq 2's chunk 15 and original chunk 2 */
	assert_int_equal(oldest, 30);		    /* begin LSN of seq 3 */
	zr_ckpt_entry e[8];
	size_t n = 0;
	zr_diag d;
	assert_int_equal(zr_ckpt_list(dir, true, NULL, NULL, e, 8, &n, &d), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].seq, 3);
	assert_int_equal(e[1].seq, 4);
	assert_true(e[0].valid && e[1].valid);
	assert_int_equal(count_chunk_files(), distinct_chunks(v + 2, 2, size, CB64));
	load_check(0, v[3], size, 4);
	load_check(3, v[2], size, 3);
	void *img2;
	size_t sz;
	assert_int_equal(zri_ckpt_load(dir, 1, NULL, NULL, &img2, &sz, NULL, NULL, &d), -ENOENT);
	/* an age limit of 1 ns leaves only the newest */
	cfg.keep_last = 0;
	cfg.keep_ns = 1;
	assert_int_equal(ckpt_take(&cfg, img, size, 50, &r, &oldest), 0);
	assert_int_equal(r.removed_checkpoints, 2);
	assert_int_equal(oldest, 50);
	assert_int_equal(count_chunk_files(), distinct_chunks(&img, 1, size, CB64));
	load_check(0, img, size, 5);
	for (int i = 0; i < 4; i++)
		free(v[i]);
	free(img);
}

static void flip_byte(const char *path, off_t off)
{
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	int c = fgetc(f);
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	fputc(c ^ 0x10, f);
	fclose(f);
}

TEST(test_fallback)
{
	size_t size = 1 * MIB;
	uint8_t *img = distinct_image(size, CB64), *old = malloc(size);
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_INCREMENTAL, CB64);
	zr_ckpt_report r;
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r, NULL), 0);
	memcpy(old, img, size);
	change(img, CB64, 7, 4242);
	assert_int_equal(ckpt_take(&cfg, img, size, 2, &r, NULL), 0);
	char man[ZRI_CKPT_PATH_MAX], chunk[ZRI_CKPT_PATH_MAX];
	zri_ckpt_man_path(man, dir, 2);
	flip_byte(man, 300);
	struct probs p = {0};
	void *got;
	size_t sz;
	uint64_t skipped = 0;
	zr_ckpt_entry e;
	zr_diag d;
	assert_int_equal(zri_ckpt_load(dir, 0, on_problem, &p, &got, &sz, &e, &skipped, &d), 0);
	assert_int_equal(e.seq, 1);
	assert_int_equal(skipped, 1);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.file, man);
	assert_true(memcmp(got, old, size) == 0);
	free(got);
	assert_int_equal(zri_ckpt_load(dir, 2, NULL, NULL, &got, &sz, &e, &skipped, &d),
			 ZR_ECORRUPT);
	assert_non_null(strstr(d.msg, man));
	flip_byte(man, 300); /* repaired; now damage the chunk only seq 2 has */
	XXH128_hash_t x = XXH3_128bits(img + 7 * CB64, CB64);
	zri_ckpt_chunk_path(chunk, dir, x.low64, x.high64);
	flip_byte(chunk, 100);
	memset(&p, 0, sizeof(p));
	assert_int_equal(zri_ckpt_load(dir, 0, on_problem, &p, &got, &sz, &e, &skipped, &d), 0);
	assert_int_equal(e.seq, 1);
	assert_int_equal(skipped, 1);
	assert_string_equal(p.file, chunk);
	free(got);
	zr_ckpt_entry list[4];
	size_t n;
	assert_int_equal(zr_ckpt_list(dir, true, NULL, NULL, list, 4, &n, &d), 0);
	assert_int_equal(n, 2);
	assert_true(list[0].valid);
	assert_false(list[1].valid);
	/* a full checkpoint heals the store */
	cfg.kind = ZR_CKPT_FULL;
	assert_int_equal(ckpt_take(&cfg, img, size, 3, &r, NULL), 0);
	load_check(2, img, size, 2);
	free(img);
	free(old);
}

static void manifest_entries(uint64_t seq, struct zri_ckpt_man *m)
{
	struct zri_ckpt_problem p;
	int rc = zri_ckpt_man_read(dir, seq, m, &p);
	if (rc)
		fail_msg("%s: %s", p.file, p.what);
}

TEST(test_threads_same_result)
{
	size_t size = 8 * MIB;
	uint8_t *img = distinct_image(size, CB64);
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_FULL, CB64);
	zr_ckpt_report r1, r3;
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r1, NULL), 0);
	cfg.threads = 3;
	assert_int_equal(ckpt_take(&cfg, img, size, 1, &r3, NULL), 0);
	assert_int_equal(r3.threads, 3);
	assert_int_equal(r1.chunks_written, r3.chunks_written);
	assert_int_equal(r1.chunks_dedup, r3.chunks_dedup);
	assert_int_equal(r1.chunks_raw, r3.chunks_raw);
	assert_int_equal(r1.bytes_compressed, r3.bytes_compressed);
	struct zri_ckpt_man a, b;
	manifest_entries(1, &a);
	manifest_entries(2, &b);
	assert_int_equal(a.h.nchunks, b.h.nchunks);
	assert_memory_equal(a.ent, b.ent, a.h.nchunks * sizeof(a.ent[0]));
	zri_ckpt_man_free(&a);
	zri_ckpt_man_free(&b);
	change(img, CB64, 5, 7001);
	change(img, CB64, 99, 7002);
	cfg.kind = ZR_CKPT_INCREMENTAL;
	assert_int_equal(ckpt_take(&cfg, img, size, 2, &r3, NULL), 0);
	assert_int_equal(r3.chunks_written, 2);
	assert_int_equal(r3.chunks_unchanged, size / CB64 - 2);
	load_check(0, img, size, 3);
	free(img);
}

/* Another thread keeps writing the image while three threads copy it: the
 * copy is fuzzy, but what was written must load back as the manifest says
 * (and TSan must see no race: both sides use relaxed 64-bit atomics). */
struct scribbler {
	_Atomic uint64_t *words;
	size_t n;
	atomic_bool stop;
};

static void *scribble(void *arg)
{
	struct scribbler *s = arg;
	uint64_t x = 12345;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
		for (int k = 0; k < 64; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			atomic_store_explicit(&s->words[(x >> 20) % s->n], x, memory_order_relaxed);
		}
	return NULL;
}

TEST(test_image_written_meanwhile)
{
	size_t size = 4 * MIB;
	uint8_t *img = distinct_image(size, CB64);
	struct scribbler s = {.words = (_Atomic uint64_t *)(void *)img, .n = size / 8};
	atomic_init(&s.stop, false);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, scribble, &s), 0);
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_FULL, CB64);
	cfg.threads = 3;
	zr_ckpt_report r;
	int rc = ckpt_take(&cfg, img, size, 1, &r, NULL);
	cfg.kind = ZR_CKPT_INCREMENTAL;
	if (rc == 0)
		rc = ckpt_take(&cfg, img, size, 2, &r, NULL);
	atomic_store_explicit(&s.stop, true, memory_order_relaxed);
	pthread_join(t, NULL);
	assert_int_equal(rc, 0);
	for (uint64_t seq = 1; seq <= 2; seq++) {
		void *got;
		size_t sz;
		zr_diag d;
		struct zri_ckpt_man m;
		manifest_entries(seq, &m);
		assert_int_equal(zri_ckpt_load(dir, seq, NULL, NULL, &got, &sz, NULL, NULL, &d), 0);
		for (uint64_t i = 0; i < m.h.nchunks; i++) {
			XXH128_hash_t x = XXH3_128bits((uint8_t *)got + i * CB64, CB64);
			assert_true(x.low64 == m.ent[i].lo && x.high64 == m.ent[i].hi);
		}
		zri_ckpt_man_free(&m);
		free(got);
	}
	free(img);
}

static uint64_t lsn_now(void *ctx)
{
	return *(uint64_t *)ctx;
}

TEST(test_meta_and_args)
{
	size_t size = 256 * KIB;
	uint8_t *img = distinct_image(size, CB64);
	uint64_t now = 999;
	struct zri_ckpt_meta m = {
		.begin_lsn = 5, .lineage = 9, .lsn_now = lsn_now, .lsn_ctx = &now};
	snprintf(m.arena, sizeof(m.arena), "meta");
	zr_ckpt_config cfg = ckpt_cfg(dir, ZR_CKPT_FULL, CB64);
	zr_ckpt_report r;
	zr_diag d = {0};
	uint64_t oldest = 0;
	assert_int_equal(zri_ckpt_write(img, size, &m, &cfg, &r, &oldest, &d), 0);
	assert_int_equal(m.end_lsn, 999);
	assert_int_equal(r.end_lsn, 999);
	assert_int_equal(oldest, 5);
	zr_ckpt_entry e;
	size_t n;
	assert_int_equal(zr_ckpt_list(dir, false, NULL, NULL, &e, 1, &n, &d), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e.begin_lsn, 5);
	assert_int_equal(e.end_lsn, 999);
	assert_int_equal(e.lineage, 9);
	assert_string_equal(e.arena, "meta");
	assert_true(e.created_ns > 0);
	cfg.chunk_bytes = 3 * CB64;
	assert_int_equal(zri_ckpt_write(img, size, &m, &cfg, &r, &oldest, &d), -EINVAL);
	assert_true(d.msg[0] != '\0');
	cfg.chunk_bytes = CB64;
	assert_int_equal(zri_ckpt_write(img, size - 4, &m, &cfg, &r, &oldest, &d), -EINVAL);
	cfg.level = 0;
	assert_int_equal(zri_ckpt_write(img, size, &m, &cfg, &r, &oldest, &d), -EINVAL);
	void *got;
	size_t sz;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/none", dir);
	assert_int_equal(zri_ckpt_load(sub, 0, NULL, NULL, &got, &sz, NULL, NULL, &d), -ENOENT);
	assert_int_equal(zr_ckpt_list(sub, false, NULL, NULL, NULL, 0, &n, &d), -ENOENT);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(zri_ckpt_load(sub, 0, NULL, NULL, &got, &sz, NULL, NULL, &d), -ENOENT);
	assert_int_equal(zr_ckpt_list(sub, false, NULL, NULL, NULL, 0, &n, &d), 0);
	assert_int_equal(n, 0);
	free(img);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_roundtrip),
		T(test_incremental_differential),
		T(test_dedup_and_raw),
		T(test_retention),
		T(test_fallback),
		T(test_threads_same_result),
		T(test_image_written_meanwhile),
		T(test_meta_and_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
