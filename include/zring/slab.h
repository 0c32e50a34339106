/* Payloads: blocks of the arena's heap, written and read in place.
 *
 * Small payloads (up to 64 KiB) come from size classes with lock-free free
 * queues and per-thread caches; larger ones, up to the arena's maximum, from
 * a page heap. A handle is the block's offset plus a generation: a stale or
 * forged handle is detected, never dereferenced. Each block records the
 * process that owns it; what a dead process owned becomes an orphan that
 * stays valid for whoever holds its handle until zr_slab_free_orphans(). */
#ifndef ZRING_SLAB_H
#define ZRING_SLAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "err.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Offset (in 64-byte units, low 40 bits) plus generation (high 24 bits). 0 is null. */
typedef struct zr_payload {
	uint64_t v;
} zr_payload;

#define ZR_PAYLOAD_NULL ((zr_payload){0})
#define ZR_SLAB_MAX_CLASSES 16

/**
 * Allocate a payload of `size` bytes owned by the calling process.
 * Safety: any thread of any read-write attachment.
 * Blocking: never for small sizes; large ones take a robust process-shared
 *           mutex held for a scan of the page table (waiting at most 5 s).
 * @return 0, -EINVAL (size 0), ZR_ETOOBIG (above the arena's max_payload),
 *         -ENOMEM (class or page heap exhausted), -ETIMEDOUT (the large
 *         heap's lock stayed held), ZR_EREADONLY, ZR_ECORRUPT.
 */
ZR_API ZR_NODISCARD int zr_payload_alloc(zr_arena *a, size_t size, zr_payload *out);

/**
 * Free a payload, whoever owns it.
 * @return 0, ZR_EDOUBLEFREE (already free), ZR_ESTALE (freed and reused since
 *         the handle was made), -EINVAL (not a payload handle), ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_payload_free(zr_arena *a, zr_payload p);

/** Address of a payload in this process's mapping, or NULL if the handle is
 * stale, free or not a payload (zr_payload_resolve() says which). */
ZR_API void *zr_payload_ptr(const zr_arena *a, zr_payload p);

/**
 * Resolve a handle: its address and usable size (the class size for small
 * payloads, the requested size for large ones).
 * @return 0, ZR_ESTALE, ZR_EDOUBLEFREE (the block is free), -EINVAL.
 */
ZR_API ZR_NODISCARD int zr_payload_resolve(const zr_arena *a, zr_payload p, void **ptr,
					   size_t *size);

/** Give up ownership: the payload is never reclaimed as a dead process's. */
ZR_API ZR_NODISCARD int zr_payload_disown(zr_arena *a, zr_payload p);
/** Take ownership (of an orphan or disowned payload, or another's). */
ZR_API ZR_NODISCARD int zr_payload_adopt(zr_arena *a, zr_payload p);
/** Owner id of a live payload (0: disowned), or a negative error. */
ZR_API int64_t zr_payload_owner(const zr_arena *a, zr_payload p);

/** Return this thread's cached blocks of arena `a` to the shared queues. */
ZR_API void zr_slab_cache_flush(zr_arena *a);

/** Decide whether an orphan is still referenced (return non-zero to keep it). */
typedef int (*zr_payload_keep_fn)(void *ctx, zr_payload p);

/**
 * Free orphans (payloads whose owner died), except those `keep` keeps.
 * @param[in]  keep   NULL frees them all: only safe once nothing holds them.
 * @param[out] freed  Optional count.
 * @return 0, ZR_EREADONLY.
 */
ZR_API ZR_NODISCARD int zr_slab_free_orphans(zr_arena *a, zr_payload_keep_fn keep, void *ctx,
					     uint64_t *freed);

typedef struct zr_slab_class_stats {
	uint64_t block_size; /* 0 for the large-page heap; pages are then the unit */
	uint64_t blocks;     /* blocks (or pages) in all */
	uint64_t in_use;     /* allocated to callers, orphans included */
	uint64_t cached;     /* held in per-thread caches */
	uint64_t free;	     /* in the shared free queue (or free pages) */
	uint64_t high_water; /* most blocks ever out of the shared queue at once */
	uint64_t failed;     /* allocations refused for lack of space */
	uint64_t orphans;    /* owned by dead processes, not yet freed */
} zr_slab_class_stats;

/**
 * Counters of every size class plus the large heap (last entry).
 * @param[out] n  Number of entries written (at most cap).
 * Works on a read-only attachment; scans block metadata (O(blocks)).
 */
ZR_API void zr_slab_stat(const zr_arena *a, zr_slab_class_stats *out, size_t cap, size_t *n);

typedef struct zr_slab_owner_usage {
	uint32_t owner;	 /* owner id; 0 = disowned */
	uint32_t pid;	 /* last pid seen in that process slot, 0 if unknown */
	uint64_t blocks; /* small blocks and large allocations */
	uint64_t bytes;
	int alive;
} zr_slab_owner_usage;

/** Payload use by owner (to attribute exhaustion). O(blocks). */
ZR_API void zr_slab_usage_by_owner(const zr_arena *a, zr_slab_owner_usage *out, size_t cap,
				   size_t *n);

ZR_API void zr_slab_dump(FILE *f, const zr_arena *a);

#ifdef __cplusplus
}
#endif
#endif
