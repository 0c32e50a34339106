/* Device side of GPU agents: a persistent kernel polls an SPSC ring in host
 * memory, reads payloads in place, and publishes completions, all through
 * views made on the host by zr_gpu_ring_view() and zr_gpu_span_get().
 *
 * Include it from .cu files; it also compiles as plain C or C++ for the
 * host, where the same functions run on a CPU thread with C11-equivalent
 * atomics (the CPU path of zring/gpu.h, and how the tests check the
 * protocol without a GPU).
 *
 * Memory model. The ring is zring's SPSC ring (rings/ring_spsc.c): the
 * producer is the only writer of the tail, the consumer the only writer of
 * the head, so the GPU never needs an atomic read-modify-write on a word a
 * CPU also writes (PCIe has no host-native atomics). Every load of the
 * other side's index is ld.acquire.sys and every store of one's own index
 * is st.release.sys: system scope, because the other side is a CPU.
 *   consumer: acquire tail (pairs with the CPU producer's release of it in
 *     zri_spsc_enqueue(): the slot and the payload it names are visible),
 *     read the slot, release head (pairs with the producer's acquire of
 *     the head: the slot may be reused only after we read it).
 *   producer: acquire head (pairs with the CPU consumer's release in
 *     zri_spsc_dequeue(): the slot is free), write the slot, release tail
 *     (pairs with the consumer's acquire: slot and results visible).
 * Several threads of a block: let one thread poll or push and put
 * __syncthreads() between it and the others. The barrier orders their
 * payload reads after its acquire, and their result writes before its
 * release (PTX memory model: causality order is transitive through the
 * barrier and release is cumulative), so no further fence is needed.
 *
 * Nothing read from shared memory is trusted: an index more than a lap
 * away returns ZR_ECORRUPT, and zr_gpu_at() bounds-checks offsets. */
#ifndef ZRING_GPU_DEVICE_H
#define ZRING_GPU_DEVICE_H

#include <stdint.h>

#include "gpu.h"

#if defined(__CUDACC__)
#define ZR_GPU_HD __host__ __device__
#else
#define ZR_GPU_HD
#endif

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 700
#error "zring/gpu_device.h needs sm_70 or newer (acquire/release at system scope)"
#endif

#if !defined(__CUDA_ARCH__)
#include <sched.h>
#endif

/* Longest sleep between polls of an empty ring, in ns (back-off doubles
 * from 32 ns up to this). One poll reads host memory over PCIe, about 1 us. */
#ifndef ZR_GPU_BACKOFF_MAX_NS
#define ZR_GPU_BACKOFF_MAX_NS 1024u
#endif

ZR_GPU_HD static inline uint64_t zr_gpu_load_acquire(const uint64_t *p)
{
#if defined(__CUDA_ARCH__)
	uint64_t v;
	asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
#else
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#endif
}

ZR_GPU_HD static inline uint32_t zr_gpu_load_acquire32(const uint32_t *p)
{
#if defined(__CUDA_ARCH__)
	uint32_t v;
	asm volatile("ld.acquire.sys.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
	return v;
#else
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
#endif
}

ZR_GPU_HD static inline void zr_gpu_store_release(uint64_t *p, uint64_t v)
{
#if defined(__CUDA_ARCH__)
	asm volatile("st.release.sys.u64 [%0], %1;" : : "l"(p), "l"(v) : "memory");
#else
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
#endif
}

/* Slot words: ordered by the acquire or release on the index next to them,
 * but still atomic (strong) accesses so that the compiler and the L1 cache
 * never split or keep them. */
ZR_GPU_HD static inline uint64_t zr_gpu_load_relaxed(const uint64_t *p)
{
#if defined(__CUDA_ARCH__)
	uint64_t v;
	asm volatile("ld.relaxed.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
#else
	return __atomic_load_n(p, __ATOMIC_RELAXED);
#endif
}

ZR_GPU_HD static inline void zr_gpu_store_relaxed(uint64_t *p, uint64_t v)
{
#if defined(__CUDA_ARCH__)
	asm volatile("st.relaxed.sys.u64 [%0], %1;" : : "l"(p), "l"(v) : "memory");
#else
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
#endif
}

/* Sleep about ns between polls, without spinning the memory system. */
ZR_GPU_HD static inline void zr_gpu_backoff(unsigned ns)
{
#if defined(__CUDA_ARCH__)
	__nanosleep(ns);
#else
	if (ns >= ZR_GPU_BACKOFF_MAX_NS)
		sched_yield();
#if defined(__x86_64__) || defined(__i386__)
	else
		__builtin_ia32_pause();
#endif
#endif
}

/**
 * Consumer: take the next entry.
 * @return 1 (*out set), 0 (empty), ZR_ECORRUPT (the tail is behind the
 *         head or more than a lap ahead: the ring is not what it was).
 */
ZR_GPU_HD static inline int zr_gpu_ring_poll(zr_gpu_ring *r, uint64_t *out)
{
	if (r->seen == r->pos) {
		/* A1: pairs with R1 in zri_spsc_enqueue(); slots below it are written */
		uint64_t t = zr_gpu_load_acquire(r->tail);
		if (t - r->pos > (uint64_t)r->mask + 1)
			return ZR_ECORRUPT;
		r->seen = t;
		if (t == r->pos)
			return 0;
	}
	/* relaxed: ordered after A1 above; the producer reuses it only after R2 */
	*out = zr_gpu_load_relaxed(&r->slots[r->pos & r->mask]);
	r->pos++;
	/* R2: pairs with A2 in zri_spsc_enqueue(); the slot may be reused */
	zr_gpu_store_release(r->head, r->pos);
	return 1;
}

/**
 * Consumer: take up to n entries with one store of the head (one PCIe
 * write for the batch). @return entries taken, or ZR_ECORRUPT.
 */
ZR_GPU_HD static inline int zr_gpu_ring_poll_burst(zr_gpu_ring *r, uint64_t *out, unsigned n)
{
	if (r->seen - r->pos < n) {
		/* A1: pairs with R1 in zri_spsc_enqueue() */
		uint64_t t = zr_gpu_load_acquire(r->tail);
		if (t - r->pos > (uint64_t)r->mask + 1)
			return ZR_ECORRUPT;
		r->seen = t;
	}
	uint64_t avail = r->seen - r->pos;
	unsigned k = avail < n ? (unsigned)avail : n;
	for (unsigned i = 0; i < k; i++)
		/* relaxed: ordered after A1; free for reuse only after R2 */
		out[i] = zr_gpu_load_relaxed(&r->slots[(r->pos + i) & r->mask]);
	if (k == 0)
		return 0;
	r->pos += k;
	/* R2: pairs with A2 in zri_spsc_enqueue() */
	zr_gpu_store_release(r->head, r->pos);
	return (int)k;
}

/**
 * Consumer: wait for an entry, backing off from 32 ns to
 * ZR_GPU_BACKOFF_MAX_NS between polls, until *stop (a word the host sets;
 * NULL: never) is non-zero.
 * @return 1 (*out set), 0 (stopped), ZR_ECORRUPT.
 */
ZR_GPU_HD static inline int zr_gpu_ring_wait(zr_gpu_ring *r, uint64_t *out, const uint32_t *stop)
{
	unsigned ns = 32;
	for (;;) {
		int rc = zr_gpu_ring_poll(r, out);
		if (rc != 0)
			return rc;
		/* acquire: whatever the host wrote before setting it is visible */
		if (stop && zr_gpu_load_acquire32(stop))
			return 0;
		zr_gpu_backoff(ns);
		if (ns < ZR_GPU_BACKOFF_MAX_NS)
			ns *= 2;
	}
}

/**
 * Producer: publish one entry.
 * @return 1, 0 (full: the CPU consumer has not caught up), ZR_ECORRUPT
 *         (the head is ahead of the tail).
 */
ZR_GPU_HD static inline int zr_gpu_ring_push(zr_gpu_ring *r, uint64_t v)
{
	uint64_t cap = (uint64_t)r->mask + 1;
	if (r->pos - r->seen >= cap) {
		/* A2: pairs with R2 in zri_spsc_dequeue(); slots below it are free */
		uint64_t h = zr_gpu_load_acquire(r->head);
		if (r->pos - h > cap)
			return ZR_ECORRUPT;
		r->seen = h;
		if (r->pos - h >= cap)
			return 0;
	}
	/* relaxed: the slot is ours until R1 publishes it */
	zr_gpu_store_relaxed(&r->slots[r->pos & r->mask], v);
	r->pos++;
	/* R1: pairs with A1 in zri_spsc_dequeue(); slot and results visible */
	zr_gpu_store_release(r->tail, r->pos);
	return 1;
}

/** Producer: push, backing off while the ring is full, until *stop.
 * @return 1, 0 (stopped), ZR_ECORRUPT. */
ZR_GPU_HD static inline int zr_gpu_ring_push_wait(zr_gpu_ring *r, uint64_t v, const uint32_t *stop)
{
	unsigned ns = 32;
	for (;;) {
		int rc = zr_gpu_ring_push(r, v);
		if (rc != 0)
			return rc;
		/* acquire: as in zr_gpu_ring_wait() */
		if (stop && zr_gpu_load_acquire32(stop))
			return 0;
		zr_gpu_backoff(ns);
		if (ns < ZR_GPU_BACKOFF_MAX_NS)
			ns *= 2;
	}
}

/** Address of len bytes at offset off of the arena, or NULL when any of
 * them lies outside it (offsets read from rings are not trusted). */
ZR_GPU_HD static inline void *zr_gpu_at(const zr_gpu_span *s, uint64_t off, uint64_t len)
{
	if (off > s->size || len > s->size - off)
		return 0;
	return s->base + off;
}

#endif
