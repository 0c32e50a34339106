/* Process-local ring handle and the ring cores, shared by rings/ and runtime/. */
#ifndef ZR_RING_IMPL_H
#define ZR_RING_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/layout.h"
#include "check_sink.h"
#include "zring/ring.h"

/* Is the process behind owner id `owner` still running? Repairs of a slot
 * left half-done are made only when this says no. */
typedef bool (*zri_alive_fn)(const void *ctx, uint32_t owner);

struct zr_ring {
	struct zri_ring *hdr;
	void *slots;   /* struct zri_slot[] (MPMC) or _Atomic uint64_t[] (SPSC) */
	uint32_t kind; /* copies of the immutable header, checked at bind */
	uint32_t capacity;
	uint32_t mask;
	uint32_t wait_mode;
	uint32_t self;		      /* this process's owner id (0 when read-only) */
	uint64_t cached_head;	      /* SPSC producer's last view of a_head */
	uint64_t cached_tail;	      /* SPSC consumer's last view of a_tail */
	_Atomic uint32_t empty_batch; /* empty polls not yet added to a_empty */
	zri_alive_fn alive;
	const void *alive_ctx;
	struct zri_inbox *inbox; /* set for the levels of an inbox: wake its sleepers */
	/* Optional: whether an entry held by a dead consumer should be published
	 * again (true) or was already consumed in effect (false: dropped). */
	bool (*keep_taken)(const void *ctx, uint64_t value);
	const void *keep_ctx;
};

/* Empty polls are counted in the handle and added to the shared a_empty
 * ZRI_EMPTY_BATCH at a time: a consumer spinning on empty levels would
 * otherwise pay a locked add on every poll (a third of an empty inbox
 * poll). The shared count lags by less than a batch per handle, and the
 * last partial batch of a closed handle is not added. */
#define ZRI_EMPTY_BATCH 64u

static inline void zri_count_empty(struct zr_ring *r)
{
	/* relaxed load and store, no RMW: threads sharing a handle may lose a
	 * count now and then; statistics only */
	uint32_t n = atomic_load_explicit(&r->empty_batch, memory_order_relaxed) + 1;
	if (n < ZRI_EMPTY_BATCH) {
		/* relaxed: as above */
		atomic_store_explicit(&r->empty_batch, n, memory_order_relaxed);
		return;
	}
	/* relaxed: as above */
	atomic_store_explicit(&r->empty_batch, 0, memory_order_relaxed);
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(&r->hdr->a_empty, n, memory_order_relaxed);
}

/* Bytes a ring of this kind and capacity takes (header + slots). */
uint64_t zri_ring_bytes(uint32_t kind, uint32_t capacity);
/* Initialise a ring header in zeroed memory. */
void zri_ring_init(struct zri_ring *h, uint32_t kind, uint32_t capacity, uint32_t wait,
		   const char *name);
/* Validate a ring header read from shared memory (limit: bytes available
 * from h onwards) and bind a handle to it. Returns 0 or ZR_ECORRUPT. */
int zri_ring_bind(struct zr_ring *r, struct zri_ring *h, uint64_t limit, uint32_t self,
		  zri_alive_fn alive, const void *alive_ctx, zr_diag *diag);

bool zri_spsc_enqueue(struct zr_ring *r, uint64_t v);
bool zri_spsc_dequeue(struct zr_ring *r, uint64_t *out);
/* Copy up to cap entries from the head on, without taking them. */
unsigned zri_spsc_peek(const struct zr_ring *r, uint64_t *out, unsigned cap);
bool zri_mpmc_enqueue(struct zr_ring *r, uint64_t v);
bool zri_mpmc_dequeue(struct zr_ring *r, uint64_t *out);

/* Two-phase dequeue for callers that must act while the entry is still
 * attributed to them (the slab's free queues): take marks the slot TAKEN by
 * this process, release frees it. If the process dies between the two, the
 * entry is published again (redelivered) by the repair. */
int zri_mpmc_take(struct zr_ring *r, uint64_t *out, uint64_t *ticket);
/* Dequeue with the take's three outcomes (1, 0, -1 as zri_mpmc_take()). */
int zri_mpmc_dequeue_ex(struct zr_ring *r, uint64_t *out);
void zri_mpmc_release(struct zr_ring *r, uint64_t ticket);

/* Fill an unshared, empty ring with 0 .. n-1. */
void zri_mpmc_fill_sequence(struct zr_ring *r, uint64_t n);

/* Repair every slot left half-done by a dead process. Adds to the counts. */
void zri_mpmc_repair(struct zr_ring *r, uint64_t *drops, uint64_t *redelivers);

/* Copy up to cap published entries from the head on, without taking them. */
unsigned zri_mpmc_peek(const struct zr_ring *r, uint64_t *out, unsigned cap);

/* Is `value` published (or being taken) in the ring? O(capacity). */
bool zri_mpmc_contains(const struct zr_ring *r, uint64_t value);

/* Wake sleepers after entries were published (no syscall if none sleep). */
void zri_ring_notify(struct zr_ring *r);

/* Check a ring's indices and slots; violations go to `s` as `where` (e.g.
 * "ring zr.shared.high"), capped per ring. Never blocks. */
void zri_ring_check(const struct zr_ring *r, const char *where, struct zri_sink *s);
void zri_mpmc_check_slots(const struct zr_ring *r, uint64_t head, const char *where,
			  struct zri_sink *s);

/* Sleeping and waking, shared by rings and inboxes (ring_wait.c). A try
 * returns 1 (got one), 0 (empty) or -1 (held by a live process half-way:
 * the sleeper then wakes every ZRI_BUSY_SLEEP_NS to let a repair happen). */
typedef int (*zri_try_fn)(void *obj, uint64_t *out, unsigned *prio);
#define ZRI_BUSY_SLEEP_NS 10000000
void zri_waitq_notify(_Atomic uint32_t *futex, _Atomic uint32_t *waiters, _Atomic uint64_t *wakes);
struct zri_waitq {
	uint32_t mode;
	_Atomic uint32_t *futex; /* changes on every wake */
	_Atomic uint32_t *waiters;
	_Atomic uint32_t *kicks; /* changes on wake_all */
	_Atomic uint64_t *waits;
};
int zri_waitq_wait(const struct zri_waitq *q, zri_try_fn try, void *obj, uint64_t *out,
		   unsigned *prio, int64_t timeout_ns);
void zri_waitq_kick(_Atomic uint32_t *futex, _Atomic uint32_t *kicks);

#endif
