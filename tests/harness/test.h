/* Helpers shared by the test programs: unique arena names, seeds, checks
 * that dump state on failure, and process helpers. Unit tests run their
 * cases through cmocka; stress, crash and fuzz-replay programs use ZR_CHECK. */
#ifndef ZR_TEST_H
#define ZR_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "zring.h"

#define ZR_TEST_PASS 0
#define ZR_TEST_FAIL 1
#define ZR_TEST_SKIP 77

/* Print where and what failed, plus the seed; dump `obj` with `dump`. */
#define ZR_CHECK(expr, ...)                                                                        \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #expr);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, " (seed=%" PRIu64 ")\n", zr_test_seed);                    \
			return ZR_TEST_FAIL;                                                       \
		}                                                                                  \
	} while (0)

/* Same, for a zring return code. */
#define ZR_CHECK_RC(call)                                                                          \
	do {                                                                                       \
		int rc_ = (call);                                                                  \
		ZR_CHECK(rc_ == 0, "%s returned %d (%s)", #call, rc_, zr_strerror(rc_));           \
	} while (0)

extern uint64_t zr_test_seed;

/* Parse --seed N (else pick one from the clock) and print "seed=N". */
void zr_test_init(int argc, char **argv);
/* A fresh arena name: zring-test-<pid>-<n>. */
const char *zr_test_name(void);
/* Create an arena of `size` bytes under a fresh name; aborts the test on
 * failure. The creating process unlinks it at exit. name_out: >= 64 bytes. */
zr_arena *zr_test_arena(size_t size, char *name_out);
/* The same with a configuration of the caller's. */
zr_arena *zr_test_arena_cfg(const zr_arena_config *cfg, char *name_out);
/* Stop unlinking `name` at exit (the test removed it itself). */
void zr_test_forget(const char *name);
/* xorshift64* on a caller-held state */
uint64_t zr_test_rand(uint64_t *state);
/* CLOCK_MONOTONIC in nanoseconds, and a sleep of `ns` nanoseconds. */
uint64_t zr_test_now_ns(void);
void zr_test_sleep_ns(long ns);
/* True when built with sanitizers: stress sizes shrink. */
int zr_test_sanitized(void);
/* Scale a stress count down under sanitizers. */
uint64_t zr_test_scale(uint64_t n);

#endif
