/* tests/unit/test_job_blob.c: jobs that carry a blob as their payload. The
 * worker reads the producer's bytes in place; an owned blob's file goes with
 * the job, a borrowed one stays; builders that cannot work are refused; a
 * damaged reference is reported, never followed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobs.h"

#define BLOB_BYTES ((size_t)8 << 20) /* the fixture arena's whole size: no payload holds it */

/* A blob named after this test's arena (so the leak check finds leftovers),
 * filled with a pattern derived from `seed`. */
static zr_blob *make_blob(const char *suffix, uint8_t seed)
{
	char name[96];
	snprintf(name, sizeof(name), "%s-%s", jt.name, suffix);
	zr_blob *b = NULL;
	zr_diag d;
	int rc = zr_blob_create(NULL, name, BLOB_BYTES, 0, &b, &d);
	if (rc)
		fail_msg("blob create: %s", d.msg);
	uint8_t *p = zr_blob_data(b);
	for (size_t i = 0; i < BLOB_BYTES; i++)
		p[i] = (uint8_t)(i * 31 + seed);
	return b;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static zr_job_id submit_blob(zr_blob *blob, unsigned flags)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_DATA_TRANSFER);
	assert_int_equal(zr_job_builder_blob(jt.a, &b, blob, flags), 0);
	zr_job_id id;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	return id;
}

/* Claim it, open the blob and check the pattern in place; complete. */
static void work_blob(zr_job_id id, uint8_t seed, const void *producer_data)
{
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	assert_int_equal(c.id, id);
	assert_true(c.flags & ZR_JOBF_BLOB);
	zr_blob *in;
	uint64_t size = 0;
	zr_diag d;
	int rc = zr_job_blob_open(&c, ZR_BLOB_READONLY, &in, &size, &d);
	if (rc)
		fail_msg("blob open: %s", d.msg);
	assert_int_equal(size, BLOB_BYTES);
	assert_int_equal(zr_blob_size(in), BLOB_BYTES);
	const uint8_t *p = zr_blob_data(in);
	for (size_t i = 0; i < BLOB_BYTES; i += 4093)
		assert_int_equal(p[i], (uint8_t)(i * 31 + seed));
	/* the same pages as the producer's mapping: a write there shows here */
	((volatile uint8_t *)producer_data)[7] = 0xa5;
	assert_int_equal(p[7], 0xa5);
	assert_int_equal(zr_blob_close(in), 0);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
}

static void test_owned_blob_goes_with_the_job(void **state)
{
	(void)state;
	zr_blob *blob = make_blob("owned", 3);
	char path[256];
	snprintf(path, sizeof(path), "%s", zr_blob_path(blob));
	zr_job_id id = submit_blob(blob, ZR_JOB_BLOB_OWNED);
	work_blob(id, 3, zr_blob_data(blob));
	assert_true(file_exists(path));
	assert_int_equal(zr_job_release(jt.a, id), 0);
	assert_false(file_exists(path)); /* removed with the record */
	assert_int_equal(zr_blob_close(blob), 0);
	zr_slab_cache_flush(jt.a);
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(jt.a, &d), 0);
}

static void test_borrowed_blob_stays(void **state)
{
	(void)state;
	zr_blob *blob = make_blob("borrowed", 9);
	char path[256];
	snprintf(path, sizeof(path), "%s", zr_blob_path(blob));
	zr_job_id id = submit_blob(blob, 0);
	work_blob(id, 9, zr_blob_data(blob));
	assert_int_equal(zr_job_release(jt.a, id), 0);
	assert_true(file_exists(path));
	assert_int_equal(zr_blob_close(blob), 0);
	assert_int_equal(unlink(path), 0);
}

static void test_removed_blob_is_reported(void **state)
{
	(void)state;
	zr_blob *blob = make_blob("gone", 1);
	zr_job_id id = submit_blob(blob, ZR_JOB_BLOB_OWNED);
	assert_int_equal(unlink(zr_blob_path(blob)), 0);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	zr_blob *in = NULL;
	zr_diag d;
	assert_int_equal(zr_job_blob_open(&c, 0, &in, NULL, &d), -ENOENT);
	assert_null(in);
	assert_int_equal(zr_job_fail(jt.work, &c, "blob gone", false), 0);
	assert_int_equal(zr_job_release(jt.a, id), 0); /* the file is gone already: fine */
	assert_int_equal(zr_blob_close(blob), 0);
}

static void test_refused_builders(void **state)
{
	(void)state;
	zr_blob *blob = make_blob("refused", 0);
	zr_job_builder b;
	zr_job_id id;

	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.compress_level = 3; /* a reference is not data: nothing to compress */
	assert_int_equal(zr_job_builder_blob(jt.a, &b, blob, 0), -EINVAL);
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	assert_int_equal(zr_job_builder_blob(jt.a, &b, blob, 0x80), -EINVAL);
	assert_int_equal(zr_job_builder_blob(jt.a, &b, NULL, 0), -EINVAL);

	/* a payload already set */
	assert_int_equal(zr_payload_alloc(jt.a, 64, &b.payload), 0);
	assert_int_equal(zr_job_builder_blob(jt.a, &b, blob, 0), -EINVAL);
	assert_int_equal(zr_payload_free(jt.a, b.payload), 0);

	/* owned and recurring: every run would remove the file the next needs */
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	assert_int_equal(zr_job_builder_blob(jt.a, &b, blob, ZR_JOB_BLOB_OWNED), 0);
	b.interval_ns = 1000000;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	/* compression asked for after the reference was made */
	b.interval_ns = 0;
	b.compress_level = 1;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	/* the flag without a reference behind it */
	b.compress_level = 0;
	memset(zr_payload_ptr(jt.a, b.payload), 0, (size_t)b.payload_len);
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), -EINVAL);
	assert_int_equal(zr_payload_free(jt.a, b.payload), 0);

	assert_int_equal(unlink(zr_blob_path(blob)), 0);
	assert_int_equal(zr_blob_close(blob), 0);
}

/* Someone scribbles over the reference in shared memory after submit: the
 * worker is told, and release removes nothing. */
static void test_damaged_reference(void **state)
{
	(void)state;
	zr_blob *blob = make_blob("damaged", 5);
	char path[256];
	snprintf(path, sizeof(path), "%s", zr_blob_path(blob));
	zr_job_id id = submit_blob(blob, ZR_JOB_BLOB_OWNED);
	zr_claim c;
	assert_int_equal(zr_job_claim(jt.work, &c), 1);
	char *ref = c.data;
	const char *victim = "/tmp/not-a-blob";
	size_t at = (size_t)(strstr(ref + 32, "/dev/shm") - ref);
	memcpy(ref + at, victim, strlen(victim) + 1); /* path no longer a zring-blob-* */
	zr_blob *in = NULL;
	zr_diag d;
	assert_int_equal(zr_job_blob_open(&c, 0, &in, NULL, &d), ZR_ECORRUPT);
	assert_non_null(strstr(d.msg, "damaged"));
	c.flags &= ~(uint32_t)ZR_JOBF_BLOB;
	assert_int_equal(zr_job_blob_open(&c, 0, &in, NULL, &d), -EINVAL);
	assert_int_equal(zr_job_complete(jt.work, &c, ZR_PAYLOAD_NULL, 0), 0);
	assert_int_equal(zr_job_release(jt.a, id), 0);
	assert_true(file_exists(path)); /* nothing followed the damaged path */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(zr_blob_close(blob), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, zr_test_jobs_setup, zr_test_jobs_teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_owned_blob_goes_with_the_job),
		T(test_borrowed_blob_stays),
		T(test_removed_blob_is_reported),
		T(test_refused_builders),
		T(test_damaged_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
