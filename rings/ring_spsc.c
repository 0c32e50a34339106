/* rings/ring_spsc.c: the single-producer single-consumer ring (Lamport).
 *
 * One producer and one consumer at a time; either role may pass to another
 * process (after the holder died or stopped), since all state is in shared
 * memory and the cached indices below are only lower bounds.
 * A killed producer leaves at most one written but unpublished slot, which
 * the next producer overwrites; a killed consumer leaves the entry it was
 * reading in the ring (its head store had not happened) for the next one.
 *
 * Synchronisation map:
 *   R1 enqueue: release a_tail -> A1 dequeue: acquire a_tail (slot contents visible)
 *   R2 dequeue: release a_head -> A2 enqueue: acquire a_head (slot free to reuse)
 */
#include <stdatomic.h>
#include <string.h>

#include "ring_impl.h"

static inline _Atomic uint64_t *val_at(const struct zr_ring *r, uint64_t pos)
{
	return &((_Atomic uint64_t *)r->slots)[pos & r->mask];
}

bool zri_spsc_enqueue(struct zr_ring *r, uint64_t v)
{
	struct zri_ring *h = r->hdr;
	/* relaxed: this producer is the only writer of a_tail */
	uint64_t t = atomic_load_explicit(&h->a_tail, memory_order_relaxed);
	if (t - r->cached_head >= r->capacity) {
		/* A2: pairs with R2 in zri_spsc_dequeue(); slots < head are free */
		r->cached_head = atomic_load_explicit(&h->a_head, memory_order_acquire);
		if (t - r->cached_head >= r->capacity) {
			/* relaxed: statistics only */
			atomic_fetch_add_explicit(&h->a_full, 1, memory_order_relaxed);
			return false;
		}
	}
	/* relaxed: the slot is private to the producer until R1 */
	atomic_store_explicit(val_at(r, t), v, memory_order_relaxed);
	/* R1: pairs with A1 in zri_spsc_dequeue(); publishes the slot */
	atomic_store_explicit(&h->a_tail, t + 1, memory_order_release);
	return true;
}

bool zri_spsc_dequeue(struct zr_ring *r, uint64_t *out)
{
	struct zri_ring *h = r->hdr;
	/* relaxed: this consumer is the only writer of a_head */
	uint64_t hd = atomic_load_explicit(&h->a_head, memory_order_relaxed);
	if ((int64_t)(r->cached_tail - hd) <= 0) {
		/* A1: pairs with R1 in zri_spsc_enqueue(); slots < tail are written */
		r->cached_tail = atomic_load_explicit(&h->a_tail, memory_order_acquire);
		if ((int64_t)(r->cached_tail - hd) <= 0) {
			zri_count_empty(r);
			return false;
		}
	}
	/* relaxed: ordered by A1; the producer will not touch it before R2 */
	*out = atomic_load_explicit(val_at(r, hd), memory_order_relaxed);
	/* R2: pairs with A2 in zri_spsc_enqueue(); the slot may be reused */
	atomic_store_explicit(&h->a_head, hd + 1, memory_order_release);
	return true;
}

unsigned zri_spsc_peek(const struct zr_ring *r, uint64_t *out, unsigned cap)
{
	const struct zri_ring *h = r->hdr;
	/* relaxed: the head only grows; entries below it are re-checked below */
	uint64_t hd = atomic_load_explicit(&h->a_head, memory_order_relaxed);
	/* A1: pairs with R1; the slots below the tail are written */
	uint64_t t = atomic_load_explicit(&h->a_tail, memory_order_acquire);
	if ((int64_t)(t - hd) <= 0)
		return 0;
	if (t - hd > r->capacity) /* a scribbled index: read one lap at most */
		hd = t - r->capacity;
	unsigned n = 0;
	for (uint64_t p = hd; p != t && n < cap; p++)
		/* relaxed: ordered by A1 */
		out[n++] = atomic_load_explicit(val_at(r, p), memory_order_relaxed);
	/* Slots the producer may have reused meanwhile lie below the new head:
	 * drop those from the front. The producer writes slots relaxed, so on
	 * a weakly ordered CPU an entry replaced at this very moment may still
	 * show its new value: a display snapshot, never used to consume. */
	/* F1: keeps the value loads above before the head re-read (seqlock reader) */
	atomic_thread_fence(memory_order_acquire);
	/* relaxed: ordered after the value loads by the fence above */
	uint64_t now = atomic_load_explicit(&h->a_head, memory_order_relaxed);
	uint64_t gone = now - hd;
	if ((int64_t)gone <= 0)
		return n;
	if (gone >= n)
		return 0;
	memmove(out, out + gone, (n - gone) * sizeof(*out));
	return n - (unsigned)gone;
}
