/* Log-linear latency histograms (HDR style): values below 2^SUB are exact;
 * above, each power of two is cut into 2^SUB equal buckets. */
#include <string.h>

#include "job_impl.h"

#define SUB ZR_HIST_SUB_BITS

unsigned zr_hist_bucket(uint64_t v)
{
	if (v < (UINT64_C(1) << SUB))
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned b = ((msb - SUB + 1) << SUB) + (unsigned)((v >> (msb - SUB)) & ((1u << SUB) - 1));
	return b < ZR_HIST_BUCKETS ? b : ZR_HIST_BUCKETS - 1;
}

uint64_t zr_hist_bucket_top(unsigned b)
{
	if (b < (1u << SUB))
		return b;
	unsigned msb = (b >> SUB) + SUB - 1;
	uint64_t sub = b & ((1u << SUB) - 1);
	uint64_t lo = (UINT64_C(1) << msb) | (sub << (msb - SUB));
	return lo + (UINT64_C(1) << (msb - SUB)) - 1;
}

void zr_hist_record(zr_hist *h, uint64_t v)
{
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	h->bucket[zr_hist_bucket(v)]++;
}

void zr_hist_merge(zr_hist *dst, const zr_hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < ZR_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t zr_hist_percentile(const zr_hist *h, double p)
{
	if (h->count == 0 || p <= 0)
		return 0;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	uint64_t seen = 0;
	for (unsigned i = 0; i < ZR_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			uint64_t top = zr_hist_bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}

/* Agent histograms in the arena: [count, sum, max, buckets...], one writer. */
void zri_hist_add(_Atomic uint64_t *h, uint64_t v)
{
	zri_own_add(&h[0], 1);
	zri_own_add(&h[1], v);
	if (v > zri_ld(&h[2]))
		zri_st(&h[2], v);
	zri_own_add(&h[3 + zr_hist_bucket(v)], 1);
}

void zri_hist_load(const _Atomic uint64_t *h, zr_hist *out)
{
	out->count = zri_ld(&h[0]);
	out->sum = zri_ld(&h[1]);
	out->max = zri_ld(&h[2]);
	for (unsigned i = 0; i < ZR_HIST_BUCKETS; i++)
		out->bucket[i] = zri_ld(&h[3 + i]);
}
