/* tests/unit/test_err.c: zr_strerror() names every error code, and
 * zr_version() matches the header. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "test.h"

/* Every value of enum zr_err other than ZR_OK. */
static const int zr_codes[] = {
	ZR_ELAYOUT,   ZR_ECORRUPT,  ZR_ELEASE,	    ZR_ESTALE,	ZR_ENOTSUP,
	ZR_ENODEV,    ZR_EFOREIGN,  ZR_EVERSION,    ZR_ETRUNC,	ZR_ENOTREADY,
	ZR_EOWNER,    ZR_ENOSPACE,  ZR_EDOUBLEFREE, ZR_ETOOBIG, ZR_EPROCFULL,
	ZR_EPOISONED, ZR_EREADONLY, ZR_EFULL,	    ZR_EGPU,
};
#define NCODES (sizeof(zr_codes) / sizeof(zr_codes[0]))

static void test_every_zr_code_is_named(void **state)
{
	(void)state;
	const char *unknown = zr_strerror(-5999); /* no such code */
	assert_non_null(unknown);
	for (size_t i = 0; i < NCODES; i++) {
		const char *s = zr_strerror(zr_codes[i]);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, unknown);
		assert_null(strcasestr(s, "unknown"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, zr_strerror(zr_codes[j]));
	}
}

static void test_codes_are_contiguous(void **state)
{
	(void)state;
	/* append only: the enum is ZR_ELAYOUT .. ZR_EGPU without holes */
	for (size_t i = 0; i < NCODES; i++)
		assert_int_equal(zr_codes[i], -5001 - (int)i);
	/* the value just past the last one is not named yet */
	assert_string_equal(zr_strerror(-5001 - (int)NCODES), zr_strerror(-5999));
}

static void test_ok_and_errno(void **state)
{
	(void)state;
	const char *ok = zr_strerror(0);
	assert_non_null(ok);
	assert_string_not_equal(ok, zr_strerror(-5999));
	for (size_t i = 0; i < NCODES; i++)
		assert_string_not_equal(ok, zr_strerror(zr_codes[i]));
	static const int errs[] = {ENOENT,    EINVAL, EEXIST, ENOSPC,	   ENOMEM,
				   ETIMEDOUT, EINTR,  EAGAIN, ENAMETOOLONG};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *s = zr_strerror(-errs[i]);
		assert_non_null(s);
		assert_string_equal(s, strerror(errs[i]));
		assert_string_not_equal(s, zr_strerror(-5999));
	}
}

static void test_unknown_codes(void **state)
{
	(void)state;
	static const int odd[] = {-5000, -5999, -100000,	 1,
				  12345, 5001,	-2147483647 - 1, 2147483647};
	const char *unknown = zr_strerror(-5999);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		const char *s = zr_strerror(odd[i]);
		assert_non_null(s);
		assert_string_equal(s, unknown);
	}
	/* an errno value libc does not know still gets a string */
	assert_non_null(zr_strerror(-4000));
}

static void test_version(void **state)
{
	(void)state;
	const char *v = zr_version();
	assert_non_null(v);
	assert_string_equal(v, ZR_VERSION_STRING);
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", ZR_VERSION_MAJOR, ZR_VERSION_MINOR,
		 ZR_VERSION_PATCH);
	assert_string_equal(ZR_VERSION_STRING, want);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_zr_code_is_named),
		cmocka_unit_test(test_codes_are_contiguous),
		cmocka_unit_test(test_ok_and_errno),
		cmocka_unit_test(test_unknown_codes),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
