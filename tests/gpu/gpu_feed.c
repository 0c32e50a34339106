/* tests/gpu/gpu_feed.c: see gpu_feed.h. */
#include "gpu_feed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_common.h"
#include "test.h"

struct feed {
	zr_arena *a;
	uint8_t *base;
	uint64_t n;
	zr_payload *handle; /* by sequence; null once back */
	uint32_t *sum;	    /* expected checksum's low 24 bits */
	uint8_t *back;	    /* times each came back */
	struct zr_test_feed_report *rep;
};

static void note(struct feed *f, const char *what, uint64_t entry)
{
	if (!f->rep->why[0])
		snprintf(f->rep->why, sizeof(f->rep->why), "%s (entry 0x%016llx)", what,
			 (unsigned long long)entry);
}

static int make(struct feed *f, uint64_t seq, uint64_t seed, uint64_t *off)
{
	uint64_t rng = seed ^ (seq * 0x9e3779b97f4a7c15ull) ^ 1;
	size_t len = (size_t)(zr_test_rand(&rng) % 2049);
	zr_payload p;
	int rc = zr_payload_alloc(f->a, sizeof(struct zr_test_msg) + len, &p);
	if (rc)
		return rc;
	struct zr_test_msg *m = zr_payload_ptr(f->a, p);
	m->len = len;
	m->seq = seq;
	uint8_t *d = (uint8_t *)(m + 1);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)zr_test_rand(&rng);
	f->sum[seq] = (uint32_t)(zr_test_fnv(d, len, ZR_TEST_FNV_SEED ^ seq) & 0xffffff);
	f->handle[seq] = p;
	*off = (uint64_t)((uint8_t *)m - f->base);
	return 0;
}

static void check(struct feed *f, uint64_t e)
{
	uint64_t off = (e & ((1ull << 40) - 1)) << 6;
	uint32_t sum = (uint32_t)(e >> 40);
	zr_gpu_span s = {f->base, 0};
	zr_arena_info info;
	zr_arena_info_get(f->a, &info);
	s.size = info.size;
	const struct zr_test_msg *m = zr_gpu_at(&s, off, sizeof(*m));
	uint64_t seq = m ? m->seq : UINT64_MAX;
	if (seq >= f->n || !f->handle[seq].v ||
	    (uint8_t *)zr_payload_ptr(f->a, f->handle[seq]) != f->base + off) {
		if (seq < f->n && f->back[seq]) {
			f->rep->dup++;
			note(f, "message came back twice", e);
		} else {
			f->rep->bad_off++;
			note(f, "answer names no message in flight", e);
		}
		return;
	}
	f->back[seq]++;
	f->rep->done++;
	if (sum != f->sum[seq]) {
		f->rep->bad_sum++;
		note(f, "wrong checksum", e);
	}
	if (zr_payload_free(f->a, f->handle[seq]) != 0)
		note(f, "payload free failed", e);
	f->handle[seq] = ZR_PAYLOAD_NULL;
}

int zr_test_feed(zr_arena *a, zr_ring *in, zr_ring *out, uint64_t n, uint64_t seed,
		 uint64_t timeout_ns, struct zr_test_feed_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	struct feed f = {.a = a, .base = zr_arena_base(a), .n = n, .rep = rep};
	f.handle = calloc(n, sizeof(*f.handle));
	f.sum = calloc(n, sizeof(*f.sum));
	f.back = calloc(n, 1);
	int rc = f.handle && f.sum && f.back ? 0 : -ENOMEM;
	uint64_t deadline = zr_test_now_ns() + timeout_ns, pending = UINT64_MAX, e, iter = 0;
	while (rc == 0 && rep->done + rep->dup + rep->bad_off < n) {
		if (pending == UINT64_MAX && rep->sent < n &&
		    (rc = make(&f, rep->sent, seed, &pending)))
			break;
		if (pending != UINT64_MAX) {
			if (zr_ring_enqueue(in, pending)) {
				pending = UINT64_MAX;
				rep->sent++;
			} else {
				rep->full++;
			}
		}
		while (zr_ring_dequeue(out, &e))
			check(&f, e);
		if ((++iter & 255) == 0 && zr_test_now_ns() > deadline) {
			snprintf(rep->why, sizeof(rep->why), "timed out: %llu sent, %llu back",
				 (unsigned long long)rep->sent, (unsigned long long)rep->done);
			rc = -ETIMEDOUT;
		}
	}
	while (!zr_ring_enqueue(in, ZR_TEST_STOP) && zr_test_now_ns() < deadline + 1000000000u)
		;
	if (rc == 0 && (rep->bad_sum || rep->bad_off || rep->dup))
		rc = ZR_ECORRUPT;
	for (uint64_t i = 0; f.handle && i < n; i++)
		if (f.handle[i].v)
			(void)!zr_payload_free(a, f.handle[i]);
	free(f.handle);
	free(f.sum);
	free(f.back);
	return rc;
}
