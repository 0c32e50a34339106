/* The CPU producer of the persistent-consumer tests (stress_gpu_ring on a
 * CPU thread or process, gpu_persistent on a GPU): it writes messages into
 * payloads, sends their offsets, and checks that each comes back exactly
 * once with the right checksum. */
#ifndef ZR_TEST_GPU_FEED_H
#define ZR_TEST_GPU_FEED_H

#include <stdint.h>

#include "zring/ring.h"
#include "zring/slab.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zr_test_feed_report {
	uint64_t sent, done;
	uint64_t bad_sum; /* came back with another checksum */
	uint64_t bad_off; /* came back naming no message in flight */
	uint64_t dup;	  /* came back twice */
	uint64_t full;	  /* enqueue attempts that found the ring full */
	char why[256];	  /* the first problem, for the log */
};

/* Send n messages (sizes 0 .. 2 KiB from seed) and collect the answers;
 * then send the stop entry. Payloads are freed as they come back.
 * @return 0 when every message came back once and right, -ETIMEDOUT,
 *         -ENOMEM, or ZR_ECORRUPT (wrong answers: see rep). */
int zr_test_feed(zr_arena *a, zr_ring *in, zr_ring *out, uint64_t n, uint64_t seed,
		 uint64_t timeout_ns, struct zr_test_feed_report *rep);

#ifdef __cplusplus
}
#endif
#endif
