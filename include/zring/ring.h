/* Bounded rings of 8-byte entries in an arena, shared across processes,
 * and the priority inbox built from four of them.
 *
 * Kinds, fixed at creation and recorded in shared memory:
 *   ZR_RING_SPSC  one producer and one consumer at a time (Lamport ring).
 *   ZR_RING_MPMC  any number of producers and competing consumers.
 * A process killed at any instruction inside a ring operation never blocks
 * the others: rings/ring_mpmc.c explains how. Entries keep FIFO order per
 * producer, except one held by a consumer that died before finishing its
 * dequeue: it is published again in its own slot one lap later, so it comes
 * out after about `capacity` more entries have been enqueued (counted in
 * zr_ring_stats.redelivers; until then zr_ring_count() does not include it).
 *
 * Full and empty are outcomes: the hot path returns bool or a count. */
#ifndef ZRING_RING_H
#define ZRING_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena.h"
#include "err.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zr_ring zr_ring;
typedef struct zr_inbox zr_inbox;

enum zr_ring_kind { ZR_RING_SPSC = 1, ZR_RING_MPMC = 2 };

enum zr_wait_mode {
	ZR_WAIT_SPIN = 0,	/* waiters poll; producers never check for sleepers */
	ZR_WAIT_FUTEX = 1,	/* waiters sleep on a process-shared futex at once */
	ZR_WAIT_SPIN_FUTEX = 2, /* waiters spin about 20 us, then sleep */
};

typedef struct zr_ring_config {
	uint32_t kind;	   /* zr_ring_kind */
	uint32_t capacity; /* entries; a power of two, 2 .. 2^30 */
	uint32_t wait;	   /* zr_wait_mode */
} zr_ring_config;

typedef struct zr_ring_stats {
	uint64_t enqueued;   /* entries published */
	uint64_t dequeued;   /* entries handed to consumers */
	uint64_t full;	     /* enqueue attempts that found the ring full */
	uint64_t empty;	     /* dequeue attempts that found it empty (counted in batches
			      * of 64 per handle: the shared count lags a little) */
	uint64_t waits;	     /* sleeps on the futex */
	uint64_t wakes;	     /* wake system calls made by producers */
	uint64_t drops;	     /* entries of producers that died mid-enqueue, dropped */
	uint64_t redelivers; /* entries of consumers that died mid-dequeue, republished */
	uint32_t capacity;
	uint32_t count; /* entries in the ring now */
} zr_ring_stats;

/**
 * Create a ring in the arena.
 * @param[in]  name  At most ZR_NAME_MAX bytes, unique in the arena.
 * @param[out] out   Set on success only.
 * Ownership: *out is process-local; release with zr_ring_close(). The ring
 *            lives as long as the arena.
 * Blocking:  takes the arena's directory lock (a robust process-shared
 *            mutex; waits at most 5 s, then -ETIMEDOUT).
 * @return 0, -EINVAL (bad kind, capacity or wait mode), -EEXIST,
 *         -ENAMETOOLONG, -ENOSPC (directory or ring space used up),
 *         -ETIMEDOUT, ZR_EREADONLY, ZR_ECORRUPT.
 */
ZR_API ZR_NODISCARD int zr_ring_create(zr_arena *a, const char *name, const zr_ring_config *cfg,
				       zr_ring **out);

/**
 * Attach to an existing ring; works on a read-only arena (for inspection).
 * @return 0, -ENOENT, -ENAMETOOLONG, ZR_ECORRUPT (its header fails checks).
 * Blocking: never.
 */
ZR_API ZR_NODISCARD int zr_ring_open(zr_arena *a, const char *name, zr_ring **out);

/** Release the process-local handle; the ring itself stays. NULL is accepted. */
ZR_API void zr_ring_close(zr_ring *r);

/**
 * Enqueue one entry; false when full. MPMC: also false while the consumer of
 * the oldest entry is inside its dequeue (as with rte_ring, whose space is
 * freed when consumers finish); a slot left half-done by a dead process is
 * repaired on the way instead. SPSC: one producer at a time.
 * Safety: any thread of any process (MPMC). Blocking: never; a slot held
 * by another process costs a short spin and, after it, a liveness check.
 */
ZR_API bool zr_ring_enqueue(zr_ring *r, uint64_t v);

/**
 * Dequeue one entry; false when empty.
 * *out receives the entry before the slot is released, so a consumer that
 * keeps *out in shared memory leaves a receipt of what it held if it is
 * killed inside the call. *out may thus be written when false is returned.
 * Blocking: never.
 */
ZR_API bool zr_ring_dequeue(zr_ring *r, uint64_t *out);

/** Enqueue up to n entries in order; returns how many went in. */
ZR_API unsigned zr_ring_enqueue_burst(zr_ring *r, const uint64_t *v, unsigned n);

/** Dequeue up to n entries; returns how many came out. */
ZR_API unsigned zr_ring_dequeue_burst(zr_ring *r, uint64_t *out, unsigned n);

/**
 * Dequeue one entry, waiting as the ring's wait mode says.
 * @param[in] timeout_ns  < 0 waits for ever, 0 polls once.
 * Blocking: yes, up to timeout_ns. A sleeper wakes when an entry is
 *           published; while the head is held half-done by another process
 *           it also looks again every 10 ms, so the death of that process
 *           (which sends no wake-up) is repaired within about 10 ms.
 *           For the levels of an inbox it sleeps on the inbox.
 * @return 0, -ETIMEDOUT, -EINTR (a signal interrupted the sleep),
 *         -ECANCELED (zr_ring_wake_all() was called while it slept).
 */
ZR_API ZR_NODISCARD int zr_ring_dequeue_wait(zr_ring *r, uint64_t *out, int64_t timeout_ns);

/** Wake every sleeper of the ring: each returns -ECANCELED unless an entry
 * came in (e.g. to make them check a stop flag). Spinners are not affected. */
ZR_API void zr_ring_wake_all(zr_ring *r);

ZR_API uint32_t zr_ring_capacity(const zr_ring *r);
/** Entries now in the ring: a snapshot, exact only when it is quiescent. */
ZR_API uint32_t zr_ring_count(const zr_ring *r);
ZR_API uint32_t zr_ring_free(const zr_ring *r);
ZR_API uint32_t zr_ring_kind(const zr_ring *r);
ZR_API const char *zr_ring_name(const zr_ring *r);

/** Read the ring's counters (from shared memory; works read-only). */
ZR_API void zr_ring_stat(const zr_ring *r, zr_ring_stats *out);

/**
 * Check head, tail and every slot state against the ring's invariants.
 * @return 0 or ZR_ECORRUPT with the slot and what is wrong in *diag.
 */
ZR_API ZR_NODISCARD int zr_ring_check(const zr_ring *r, zr_diag *diag);

/**
 * Copy up to `cap` entries now in the ring, oldest first, without taking
 * them. A snapshot: under concurrent use an entry may already be gone or a
 * new one missing, and an MPMC entry held by a consumer half-way is
 * skipped. Works on a read-only attachment; never writes the ring.
 * @return the number of entries written to out.
 */
ZR_API unsigned zr_ring_peek(const zr_ring *r, uint64_t *out, unsigned cap);
/** One object of an arena's ring directory, for tools. */
typedef struct zr_ring_entry {
	char name[ZR_NAME_MAX + 1];
	uint32_t kind;	   /* zr_ring_kind (the levels' kind for an inbox) */
	uint32_t capacity; /* entries (per level for an inbox) */
	bool inbox;	   /* a priority inbox: open it with zr_inbox_open() */
	uint64_t offset;   /* of the object in the arena, for diagnostics */
} zr_ring_entry;
/**
 * List the rings and inboxes of an arena, in directory order.
 * @param[out] out  Array of `cap` entries; may be NULL when cap is 0.
 * @param[out] n    Objects found (may exceed cap).
 * Works on a read-only attachment. Blocking: never (takes no lock).
 * @return 0, or ZR_ECORRUPT when an entry fails its checks (it is skipped,
 *         the others are listed; zr_arena_check_each() says where).
 */
ZR_API ZR_NODISCARD int zr_ring_list(const zr_arena *a, zr_ring_entry *out, size_t cap, size_t *n);
/** Print the ring's header, counters and slot states (for failures). */
ZR_API void zr_ring_dump(FILE *f, const zr_ring *r);

/* ---- priority inbox ---------------------------------------------------- */

enum zr_prio {
	ZR_PRIO_CRITICAL = 0,
	ZR_PRIO_HIGH = 1,
	ZR_PRIO_NORMAL = 2,
	ZR_PRIO_LOW = 3,
	ZR_PRIO_COUNT = 4,
};

typedef struct zr_inbox_config {
	uint32_t capacity; /* per level; a power of two */
	uint32_t wait;	   /* zr_wait_mode */
	uint32_t share;	   /* 0: strict priority. N > 1: one pop in N starts at a
			    * lower level (round robin), so no level starves. */
} zr_inbox_config;

/** Create an inbox of four MPMC rings. Same contract as zr_ring_create(). */
ZR_API ZR_NODISCARD int zr_inbox_create(zr_arena *a, const char *name, const zr_inbox_config *cfg,
					zr_inbox **out);
/** Attach to an inbox. Same contract as zr_ring_open(). */
ZR_API ZR_NODISCARD int zr_inbox_open(zr_arena *a, const char *name, zr_inbox **out);
ZR_API void zr_inbox_close(zr_inbox *ib);

/** Push at a priority; false when that level is full or prio is out of range. */
ZR_API bool zr_inbox_push(zr_inbox *ib, unsigned prio, uint64_t v);

/**
 * Pop the entry of the highest non-empty level (subject to `share`).
 * @param[out] prio  Optional: the level it came from.
 * Receipt semantics as zr_ring_dequeue(). Blocking: never.
 */
ZR_API bool zr_inbox_pop(zr_inbox *ib, uint64_t *out, unsigned *prio);

/** Pop, waiting as the inbox's wait mode says.
 * @return 0, -ETIMEDOUT, -EINTR, -ECANCELED (zr_inbox_wake_all()). */
ZR_API ZR_NODISCARD int zr_inbox_pop_wait(zr_inbox *ib, uint64_t *out, unsigned *prio,
					  int64_t timeout_ns);

/** The ring of one level (for counters and inspection); NULL if out of range. */
ZR_API zr_ring *zr_inbox_level(zr_inbox *ib, unsigned prio);
ZR_API uint32_t zr_inbox_count(const zr_inbox *ib);
ZR_API void zr_inbox_wake_all(zr_inbox *ib);

#ifdef __cplusplus
}
#endif
#endif
