/* Latency histograms: log-linear buckets (HDR style), 8 per power of two,
 * so every recorded value is known within 12.5%, from 1 ns to about 18
 * minutes. Histograms of the same shape merge by adding buckets; the arena
 * keeps one pair per agent and zr_jobs_stat() merges them. */
#ifndef ZRING_HIST_H
#define ZRING_HIST_H

#include <stdint.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZR_HIST_SUB_BITS 3
#define ZR_HIST_BUCKETS (41 << ZR_HIST_SUB_BITS)

typedef struct zr_hist {
	uint64_t count;
	uint64_t sum; /* of the recorded values, for the mean */
	uint64_t max;
	uint64_t bucket[ZR_HIST_BUCKETS];
} zr_hist;

/** Bucket of a value, and the largest value that falls into a bucket. */
ZR_API unsigned zr_hist_bucket(uint64_t v);
ZR_API uint64_t zr_hist_bucket_top(unsigned bucket);

/** Add one value. Not thread-safe: one writer per histogram. */
ZR_API void zr_hist_record(zr_hist *h, uint64_t v);
/** Add every bucket of `src` to `dst`. */
ZR_API void zr_hist_merge(zr_hist *dst, const zr_hist *src);
/**
 * The value at percentile `p` (0 < p <= 100): the top of the bucket that
 * holds it, never above the largest value recorded. 0 when empty.
 */
ZR_API uint64_t zr_hist_percentile(const zr_hist *h, double p);

#ifdef __cplusplus
}
#endif
#endif
