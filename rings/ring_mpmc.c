/* rings/ring_mpmc.c: the bounded MPMC ring that a killed process cannot block.
 *
 * Why this algorithm. The published bounded MPMC rings (DPDK rte_ring, ck_ring,
 * Vyukov's) split an operation into "reserve a position" (a CAS on a shared
 * index) and "publish it" (a later store). A producer SIGKILLed between the two
 * leaves a hole that every consumer waits on for ever. Here the reservation is
 * made on the slot itself and names the process that made it:
 *
 *   slot state = pos (40 bits) | owner (22 bits) | kind (2 bits)
 *   FREE(p)            waits for the producer of position p
 *   WRITING(p, owner)  owner reserved position p and is writing the value
 *   FULL(p)            the value of position p is published
 *   TAKEN(p, owner)    owner is reading the value of position p
 *
 *   producer: FREE(t) -CAS-> WRITING(t, me); write value; FULL(t)  (store)
 *   consumer: FULL(h) -CAS-> TAKEN(h, me);  read value;  FREE(h + cap) (store)
 *
 * a_head and a_tail are hints: whoever finds the slot of position t already
 * reserved helps the index past it (a CAS that may fail harmlessly), so a
 * process that dies right after reserving does not stop the index. A slot that
 * stays WRITING or TAKEN is checked after a short spin: if its owner is dead
 * (pid plus start time, from the arena's process table), the observer repairs
 * it with one CAS:
 *   WRITING(p, dead) -> FREE(p + cap)  the entry was never published (its
 *                                      enqueue had not returned): dropped;
 *   TAKEN(p, dead)   -> FULL(p + cap)  the dead consumer had not finished its
 *                                      dequeue: the same value is published
 *                                      again one lap later (redelivered).
 * A live owner that is merely preempted is waited for, as in any bounded ring;
 * only death is repaired, so a repair never races a writer that can still act.
 * That rests on the death verdict being right (runtime/proc.c: the slot's
 * pid, its start time tagged with the slot generation, and its threads, so
 * that neither a reused pid, a process still claiming its slot nor one whose
 * main thread exited is taken for dead): the owner's closing stores (R1, R2)
 * are plain stores, a CAS cheaper, and would undo a repair made in error.
 * Positions are stored modulo 2^40: a stale reader would have to sleep through
 * 2^40 operations for a CAS to match a wrong lap, and even then it would only
 * reserve a slot that is genuinely free for that lap.
 *
 * Synchronisation map:
 *   R1 enqueue: release store FULL(t)      -> A1 dequeue: acquire load of the
 *      state; the value written before R1 is visible to the consumer.
 *   R2 dequeue: release store FREE(h+cap)  -> A2 enqueue: acquire load of the
 *      state; the consumer's read of the old value happens before the next
 *      producer overwrites it.
 *   The reserving CASes and the index-helping CASes are relaxed: the slot state
 *   they compare is the only thing they decide, and the data each side then
 *   touches was already ordered by A1/A2 (see each line). A repair CAS is a
 *   read-modify-write, so a redelivered FULL(p+cap) stays in R1's release
 *   sequence and A1 still sees the original value.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "../runtime/prim.h"
#include "ring_impl.h"

#define POS_BITS 40
#define POS_MASK ((UINT64_C(1) << POS_BITS) - 1)
#define SETTLE_SPINS 128
#define RETRY_LIMIT (1u << 20) /* only a corrupt ring loops this long */

static inline uint64_t st_make(uint64_t pos, uint32_t owner, uint32_t kind)
{
	return (pos & POS_MASK) << 24 | (uint64_t)(owner & ZRI_OWNER_MASK) << 2 | kind;
}
static inline uint64_t st_pos(uint64_t st)
{
	return st >> 24;
}
static inline uint32_t st_owner(uint64_t st)
{
	return (uint32_t)(st >> 2) & ZRI_OWNER_MASK;
}
static inline uint32_t st_kind(uint64_t st)
{
	return (uint32_t)st & 3u;
}

/* Signed distance from position p to the position a slot state names. */
static inline int64_t pos_dist(uint64_t st, uint64_t p)
{
	return (int64_t)((st_pos(st) - p) << (64 - POS_BITS)) >> (64 - POS_BITS);
}

static inline struct zri_slot *slot_at(const struct zr_ring *r, uint64_t pos)
{
	return &((struct zri_slot *)r->slots)[pos & r->mask];
}

static inline void help_advance(_Atomic uint64_t *index, uint64_t seen)
{
	/* relaxed: the index is a hint; a failed CAS means someone else moved it */
	atomic_compare_exchange_strong_explicit(index, &seen, seen + 1, memory_order_relaxed,
						memory_order_relaxed);
}

/* Repair a slot whose owner is dead: WRITING -> FREE one lap on (drop);
 * TAKEN -> FULL one lap on (redeliver), unless the ring's user says the
 * entry was already consumed (keep_taken). Returns true if this call or a
 * racing one changed the state. */
static bool repair_slot(struct zr_ring *r, struct zri_slot *s, uint64_t st)
{
	uint64_t p = st_pos(st);
	bool writing = st_kind(st) == ZRI_SLOT_WRITING;
	bool redeliver = !writing;
	if (redeliver && r->keep_taken)
		/* relaxed: the owner is dead, nobody else writes a TAKEN slot's value */
		redeliver = r->keep_taken(r->keep_ctx,
					  atomic_load_explicit(&s->a_value, memory_order_relaxed));
	uint64_t fixed = st_make(p + r->capacity, 0, redeliver ? ZRI_SLOT_FULL : ZRI_SLOT_FREE);
	/* relaxed: an RMW, so FULL(p+cap) stays in R1's release sequence (see map) */
	if (!atomic_compare_exchange_strong_explicit(&s->a_state, &st, fixed, memory_order_relaxed,
						     memory_order_relaxed))
		return true;
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(redeliver ? &r->hdr->a_redelivers : &r->hdr->a_drops, 1,
				  memory_order_relaxed);
	/* a sleeper may have been waiting on this very slot: no producer will
	 * wake it for an entry that was already published, or for a drop */
	if (r->wait_mode != ZR_WAIT_SPIN || r->inbox)
		zri_ring_notify(r);
	return true;
}

/* A slot in WRITING or TAKEN changes only by its owner's hand, or by a repair
 * once the owner is dead. Spin a little; then repair if the owner is dead.
 * Returns true if the state moved (the caller re-reads it). */
static bool settle(struct zr_ring *r, struct zri_slot *s, uint64_t st)
{
	for (int i = 0; i < SETTLE_SPINS; i++) {
		zri_cpu_relax();
		/* relaxed: only compared; the caller re-reads with acquire */
		if (atomic_load_explicit(&s->a_state, memory_order_relaxed) != st)
			return true;
	}
	if (!r->alive || r->alive(r->alive_ctx, st_owner(st)))
		return false;
	return repair_slot(r, s, st);
}

bool zri_mpmc_enqueue(struct zr_ring *r, uint64_t v)
{
	struct zri_ring *h = r->hdr;
	for (unsigned tries = 0; tries < RETRY_LIMIT; tries++) {
		/* relaxed: a hint; the slot CAS below decides who owns position t */
		uint64_t t = atomic_load_explicit(&h->a_tail, memory_order_relaxed);
		struct zri_slot *s = slot_at(r, t);
		/* A2: pairs with R2 in zri_mpmc_dequeue(); the old value was read */
		uint64_t st = atomic_load_explicit(&s->a_state, memory_order_acquire);
		int64_t d = pos_dist(st, t);
		if (d == 0 && st_kind(st) == ZRI_SLOT_FREE) {
			/* relaxed: ordering with the consumer came from A2 */
			if (!atomic_compare_exchange_weak_explicit(
				    &s->a_state, &st, st_make(t, r->self, ZRI_SLOT_WRITING),
				    memory_order_relaxed, memory_order_relaxed))
				continue;
			help_advance(&h->a_tail, t);
			/* relaxed: published by R1 */
			atomic_store_explicit(&s->a_value, v, memory_order_relaxed);
			/* R1: pairs with A1 in zri_mpmc_dequeue(); publishes a_value */
			atomic_store_explicit(&s->a_state, st_make(t, 0, ZRI_SLOT_FULL),
					      memory_order_release);
			return true;
		}
		if (d >= 0) { /* position t is reserved already: move the tail on */
			help_advance(&h->a_tail, t);
			continue;
		}
		if (d != -(int64_t)r->capacity)
			continue; /* our view of the tail was stale */
		/* the previous lap's entry is still here: full, unless its owner died */
		if (st_kind(st) != ZRI_SLOT_FULL && settle(r, s, st))
			continue;
		/* relaxed: statistics only */
		atomic_fetch_add_explicit(&h->a_full, 1, memory_order_relaxed);
		return false;
	}
	return false;
}

/* Reserve the next published entry: FULL(h) -> TAKEN(h, me).
 * Returns 1 (taken), 0 (empty) or -1 (the head slot is held half-done by a
 * live process: empty for now, and it may take a repair, not a producer's
 * wake, to change that). */
int zri_mpmc_take(struct zr_ring *r, uint64_t *out, uint64_t *ticket)
{
	struct zri_ring *h = r->hdr;
	int rc = 0;
	for (unsigned tries = 0; tries < RETRY_LIMIT; tries++) {
		/* relaxed: a hint, as a_tail above */
		uint64_t hd = atomic_load_explicit(&h->a_head, memory_order_relaxed);
		struct zri_slot *s = slot_at(r, hd);
		/* A1: pairs with R1 in zri_mpmc_enqueue(); the value is visible */
		uint64_t st = atomic_load_explicit(&s->a_state, memory_order_acquire);
		int64_t d = pos_dist(st, hd);
		uint32_t k = st_kind(st);
		if (d > 0 || (d == 0 && k == ZRI_SLOT_TAKEN)) {
			help_advance(&h->a_head, hd); /* consumed or being consumed */
			continue;
		}
		/* the previous lap's taker still holds the slot: nothing at hd yet */
		bool held = d == -(int64_t)r->capacity && k == ZRI_SLOT_TAKEN;
		if (d < 0 && !held)
			continue; /* stale view of the head */
		if (d == 0 && k == ZRI_SLOT_FREE)
			break; /* nothing published at the head: empty */
		if (held || k == ZRI_SLOT_WRITING) {
			if (settle(r, s, st))
				continue;
			rc = -1; /* a live process is still at it: empty for now */
			break;
		}
		/* relaxed: the value was made visible by A1, and only this CAS's
		 * winner may release the slot for the next producer */
		if (!atomic_compare_exchange_weak_explicit(
			    &s->a_state, &st, st_make(hd, r->self, ZRI_SLOT_TAKEN),
			    memory_order_relaxed, memory_order_relaxed))
			continue;
		help_advance(&h->a_head, hd);
		/* relaxed: stable until we release the slot (R2) */
		*out = atomic_load_explicit(&s->a_value, memory_order_relaxed);
		*ticket = hd;
		return 1;
	}
	zri_count_empty(r);
	return rc;
}

void zri_mpmc_release(struct zr_ring *r, uint64_t ticket)
{
	/* R2: pairs with A2 in zri_mpmc_enqueue(); our read of the value is done */
	atomic_store_explicit(&slot_at(r, ticket)->a_state,
			      st_make(ticket + r->capacity, 0, ZRI_SLOT_FREE),
			      memory_order_release);
}

int zri_mpmc_dequeue_ex(struct zr_ring *r, uint64_t *out)
{
	uint64_t ticket;
	int rc = zri_mpmc_take(r, out, &ticket);
	if (rc == 1)
		zri_mpmc_release(r, ticket);
	return rc;
}

bool zri_mpmc_dequeue(struct zr_ring *r, uint64_t *out)
{
	return zri_mpmc_dequeue_ex(r, out) == 1;
}

void zri_mpmc_repair(struct zr_ring *r, uint64_t *drops, uint64_t *redelivers)
{
	for (uint32_t i = 0; i < r->capacity; i++) {
		struct zri_slot *s = &((struct zri_slot *)r->slots)[i];
		/* acquire: pairs with R1 (and the RMWs in its release sequence), so
		 * that keep_taken() reads the value the TAKEN state refers to */
		uint64_t st = atomic_load_explicit(&s->a_state, memory_order_acquire);
		uint32_t k = st_kind(st);
		if (k != ZRI_SLOT_WRITING && k != ZRI_SLOT_TAKEN)
			continue;
		if (!r->alive || r->alive(r->alive_ctx, st_owner(st)))
			continue;
		/* relaxed: statistics only, compared before and after */
		uint64_t d0 = atomic_load_explicit(&r->hdr->a_drops, memory_order_relaxed);
		uint64_t r0 = atomic_load_explicit(&r->hdr->a_redelivers, memory_order_relaxed);
		repair_slot(r, s, st);
		*drops += atomic_load_explicit(&r->hdr->a_drops, memory_order_relaxed) - d0;
		*redelivers +=
			atomic_load_explicit(&r->hdr->a_redelivers, memory_order_relaxed) - r0;
	}
}

bool zri_mpmc_contains(const struct zr_ring *r, uint64_t value)
{
	for (uint32_t i = 0; i < r->capacity; i++) {
		const struct zri_slot *s = &((const struct zri_slot *)r->slots)[i];
		/* acquire: pairs with R1; the value read next is the one published */
		uint64_t st = atomic_load_explicit(&s->a_state, memory_order_acquire);
		uint32_t k = st_kind(st);
		if (k != ZRI_SLOT_FULL && k != ZRI_SLOT_TAKEN)
			continue;
		/* relaxed: ordered by the acquire above */
		uint64_t v = atomic_load_explicit(&s->a_value, memory_order_relaxed);
		/* acquire: the state re-read after the value, so that a slot reused
		 * meanwhile does not count */
		if (v == value && atomic_load_explicit(&s->a_state, memory_order_acquire) == st)
			return true;
	}
	return false;
}

/* Is the position a slot names plausible for a head between lo and hi? It
 * is congruent to the slot's index and lies within a few laps of the head:
 * [head - 2 laps, head + 3 laps). */
static bool pos_plausible(const struct zr_ring *r, uint32_t i, uint64_t st, uint64_t lo,
			  uint64_t hi)
{
	int64_t cap = (int64_t)r->capacity;
	if ((st_pos(st) & r->mask) != i)
		return false;
	return pos_dist(st, lo - 2 * (uint64_t)cap) >= 0 &&
	       pos_dist(st, hi + 3 * (uint64_t)cap) < 0;
}

/* Invariants any instant satisfies, whatever live writers do: every slot
 * names a position congruent to its index within a few laps of the head,
 * FREE and FULL slots name no owner (every store of them writes 0), and a
 * WRITING or TAKEN slot's owner is a process slot of the arena. Reports go
 * to `s`; used by zring check and the tests between phases.
 * The head was read before the slots (`head`); a checker that is preempted
 * while writers run laps ahead sees slots beyond it, so a slot that looks
 * too far ahead is judged again against the head read after it. */
void zri_mpmc_check_slots(const struct zr_ring *r, uint64_t head, const char *where,
			  struct zri_sink *s)
{
	for (uint32_t i = 0; i < r->capacity && !s->stop; i++) {
		const struct zri_slot *sl = &((const struct zri_slot *)r->slots)[i];
		/* relaxed: a snapshot for diagnosis; each state is checked alone */
		uint64_t st = atomic_load_explicit(&sl->a_state, memory_order_relaxed);
		uint32_t k = st_kind(st), owner = st_owner(st);
		bool ok = pos_plausible(r, i, st, head, head);
		if (!ok) {
			/* acquire: a fence; the head is re-read after the state above */
			atomic_thread_fence(memory_order_acquire);
			/* relaxed: a hint that only grows; a later value widens the window */
			uint64_t now = atomic_load_explicit(&r->hdr->a_head, memory_order_relaxed);
			ok = pos_plausible(r, i, st, head, now);
		}
		if (!ok)
			zri_sink_report(s, "rings", where, &sl->a_state,
					"ring %.47s: slot %u names position %llu, head is %llu",
					r->hdr->name, i, (unsigned long long)st_pos(st),
					(unsigned long long)head);
		else if ((k == ZRI_SLOT_FREE || k == ZRI_SLOT_FULL) && owner != 0)
			zri_sink_report(s, "rings", where, &sl->a_state,
					"ring %.47s: slot %u is %s but names owner %#x",
					r->hdr->name, i, k == ZRI_SLOT_FREE ? "FREE" : "FULL",
					owner);
		else if (owner && s->max_procs && zri_owner_idx(owner) >= s->max_procs)
			zri_sink_report(s, "rings", where, &sl->a_state,
					"ring %.47s: slot %u is held by owner %#x, beyond the %u "
					"process slots",
					r->hdr->name, i, owner, s->max_procs);
	}
}

/* Fill an empty, unshared ring with the entries 0 .. n-1 (the slab's free
 * queues start full). */
void zri_mpmc_fill_sequence(struct zr_ring *r, uint64_t n)
{
	for (uint64_t i = 0; i < n && i < r->capacity; i++) {
		struct zri_slot *s = slot_at(r, i);
		/* relaxed: the arena is published later by its READY state (release) */
		atomic_store_explicit(&s->a_value, i, memory_order_relaxed);
		atomic_store_explicit(&s->a_state, st_make(i, 0, ZRI_SLOT_FULL),
				      memory_order_relaxed);
	}
	/* relaxed: as above */
	atomic_store_explicit(&r->hdr->a_tail, n, memory_order_relaxed);
}

unsigned zri_mpmc_peek(const struct zr_ring *r, uint64_t *out, unsigned cap)
{
	unsigned n = 0;
	/* relaxed: a hint; positions are checked against each slot's state */
	uint64_t hd = atomic_load_explicit(&r->hdr->a_head, memory_order_relaxed);
	for (uint64_t p = hd; p < hd + r->capacity && n < cap; p++) {
		const struct zri_slot *s = slot_at(r, p);
		/* acquire: pairs with R1; the value read next is the one published */
		uint64_t st = atomic_load_explicit(&s->a_state, memory_order_acquire);
		if (pos_dist(st, p) != 0)
			break; /* not published at p: the end of the entries */
		if (st_kind(st) != ZRI_SLOT_FULL)
			continue;
		/* relaxed: ordered by the acquire above */
		uint64_t v = atomic_load_explicit(&s->a_value, memory_order_relaxed);
		/* acquire: re-read after the value, so a slot reused meanwhile is skipped */
		if (atomic_load_explicit(&s->a_state, memory_order_acquire) == st)
			out[n++] = v;
	}
	return n;
}
