/* What the gpu tests share with their CPU sides: the checksum the kernels
 * compute (the same code runs on the device and the host) and the layout
 * of the payloads the CPU producers write. */
#ifndef ZR_TEST_GPU_COMMON_H
#define ZR_TEST_GPU_COMMON_H

#include <stdint.h>

#include "zring/gpu_device.h"

/* A payload of the persistent-kernel tests: this header, then len bytes. */
struct zr_test_msg {
	uint64_t len;
	uint64_t seq;
};

/* FNV-1a, 64 bits: byte-serial on purpose, so a torn or early read of the
 * payload changes it. */
ZR_GPU_HD static inline uint64_t zr_test_fnv(const uint8_t *p, uint64_t n, uint64_t h)
{
	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define ZR_TEST_FNV_SEED 0xcbf29ce484222325ull

/* The message's checksum as the consumer computes it: 0 when the offset or
 * length read from the ring points outside the arena. */
ZR_GPU_HD static inline uint64_t zr_test_msg_sum(const zr_gpu_span *s, uint64_t off)
{
	const struct zr_test_msg *m = (const struct zr_test_msg *)zr_gpu_at(s, off, 16);
	if (!m)
		return 0;
	uint64_t len = m->len; /* read once: checked and used as the same value */
	if (!zr_gpu_at(s, off + 16, len))
		return 0;
	return zr_test_fnv((const uint8_t *)(m + 1), len, ZR_TEST_FNV_SEED ^ m->seq);
}

/* Completion entries: the message's offset in 64-byte units (low 40 bits)
 * and the low 24 bits of its checksum. */
ZR_GPU_HD static inline uint64_t zr_test_done_entry(uint64_t off, uint64_t sum)
{
	return (off >> 6) | ((sum & 0xffffffull) << 40);
}

/* The host-proxy kernel's work on one job: the payload's checksum as the
 * 8-byte result. */
ZR_GPU_HD static inline void zr_test_sum_item(zr_gpu_item *it)
{
	if (it->out_cap < 8) {
		it->status = 1;
		return;
	}
	uint64_t h = zr_test_fnv((const uint8_t *)it->in, it->in_len, ZR_TEST_FNV_SEED);
	uint8_t *o = (uint8_t *)it->out;
	for (int i = 0; i < 8; i++)
		o[i] = (uint8_t)(h >> (8 * i)); /* bytewise: out need not be aligned */
	it->out_len = 8;
}

/* Stop entry: the producer is done. */
#define ZR_TEST_STOP UINT64_MAX

/* The persistent consumer's loop, the same on a GPU thread and a CPU one:
 * take message offsets from `in`, checksum each message in place, publish
 * (offset, checksum) on `out`, until the stop entry or *stop.
 * @return messages handled, or ZR_ECORRUPT from a ring. */
ZR_GPU_HD static inline int64_t zr_test_consume(zr_gpu_ring *in, zr_gpu_ring *out,
						const zr_gpu_span *s, const uint32_t *stop)
{
	int64_t n = 0;
	for (;;) {
		uint64_t off = 0;
		int rc = zr_gpu_ring_wait(in, &off, stop);
		if (rc < 0)
			return rc;
		if (rc == 0 || off == ZR_TEST_STOP)
			return n;
		rc = zr_gpu_ring_push_wait(out, zr_test_done_entry(off, zr_test_msg_sum(s, off)),
					   stop);
		if (rc <= 0)
			return rc < 0 ? rc : n;
		n++;
	}
}

#endif
