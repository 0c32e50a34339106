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

#endif
