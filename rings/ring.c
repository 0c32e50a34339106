/* rings/ring.c: the public ring calls over the SPSC and MPMC cores, the
 * header validation done when a handle binds, counters and dumps. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ring_impl.h"

static uint32_t slot_bytes(uint32_t kind)
{
	return kind == ZR_RING_MPMC ? (uint32_t)sizeof(struct zri_slot)
				    : (uint32_t)sizeof(uint64_t);
}

uint64_t zri_ring_bytes(uint32_t kind, uint32_t capacity)
{
	return sizeof(struct zri_ring) + (uint64_t)capacity * slot_bytes(kind);
}

void zri_ring_init(struct zri_ring *h, uint32_t kind, uint32_t capacity, uint32_t wait,
		   const char *name)
{
	h->magic = ZRI_RING_MAGIC;
	h->kind = kind;
	h->capacity = capacity;
	h->mask = capacity - 1;
	h->wait_mode = wait;
	h->shift = (uint32_t)__builtin_ctz(capacity);
	h->slots_off = sizeof(struct zri_ring);
	snprintf(h->name, sizeof(h->name), "%s", name);
	if (kind == ZR_RING_MPMC) {
		struct zri_slot *s = (void *)((char *)h + h->slots_off);
		for (uint32_t i = 0; i < capacity; i++)
			/* relaxed: the ring is published later by the directory entry (R) */
			atomic_store_explicit(&s[i].a_state, (uint64_t)i << 24,
					      memory_order_relaxed);
	}
}

static int corrupt(zr_diag *diag, const char *what, const struct zri_ring *h)
{
	if (diag) {
		diag->code = ZR_ECORRUPT;
		snprintf(diag->msg, sizeof(diag->msg), "ring header at %p: %s", (const void *)h,
			 what);
	}
	return ZR_ECORRUPT;
}

int zri_ring_bind(struct zr_ring *r, struct zri_ring *h, uint64_t limit, uint32_t self,
		  zri_alive_fn alive, const void *alive_ctx, zr_diag *diag)
{
	/* Nothing read from the arena is trusted: check before any use. */
	if (limit < sizeof(*h))
		return corrupt(diag, "truncated", h);
	if (h->magic != ZRI_RING_MAGIC)
		return corrupt(diag, "bad magic", h);
	if (h->kind != ZR_RING_SPSC && h->kind != ZR_RING_MPMC)
		return corrupt(diag, "unknown kind", h);
	if (h->capacity < 2 || h->capacity > (1u << 30) || (h->capacity & (h->capacity - 1)) ||
	    h->mask != h->capacity - 1)
		return corrupt(diag, "capacity is not a power of two in 2..2^30", h);
	if (h->wait_mode > ZR_WAIT_SPIN_FUTEX)
		return corrupt(diag, "unknown wait mode", h);
	if (h->slots_off != sizeof(*h) || zri_ring_bytes(h->kind, h->capacity) > limit)
		return corrupt(diag, "slots lie outside the ring's space", h);
	if (!memchr(h->name, '\0', sizeof(h->name)))
		return corrupt(diag, "name is not NUL-terminated", h);
	memset(r, 0, sizeof(*r));
	r->hdr = h;
	r->slots = (char *)h + h->slots_off;
	r->kind = h->kind;
	r->capacity = h->capacity;
	r->mask = h->mask;
	r->wait_mode = h->wait_mode;
	r->self = self;
	r->alive = alive;
	r->alive_ctx = alive_ctx;
	return 0;
}

bool zr_ring_enqueue(zr_ring *r, uint64_t v)
{
	bool ok = r->kind == ZR_RING_MPMC ? zri_mpmc_enqueue(r, v) : zri_spsc_enqueue(r, v);
	if (ok && r->wait_mode != ZR_WAIT_SPIN)
		zri_ring_notify(r);
	return ok;
}

bool zr_ring_dequeue(zr_ring *r, uint64_t *out)
{
	return r->kind == ZR_RING_MPMC ? zri_mpmc_dequeue(r, out) : zri_spsc_dequeue(r, out);
}

unsigned zr_ring_enqueue_burst(zr_ring *r, const uint64_t *v, unsigned n)
{
	unsigned i = 0;
	if (r->kind == ZR_RING_MPMC) {
		while (i < n && zri_mpmc_enqueue(r, v[i]))
			i++;
	} else {
		while (i < n && zri_spsc_enqueue(r, v[i]))
			i++;
	}
	if (i && r->wait_mode != ZR_WAIT_SPIN)
		zri_ring_notify(r);
	return i;
}

unsigned zr_ring_dequeue_burst(zr_ring *r, uint64_t *out, unsigned n)
{
	unsigned i = 0;
	if (r->kind == ZR_RING_MPMC) {
		while (i < n && zri_mpmc_dequeue(r, &out[i]))
			i++;
	} else {
		while (i < n && zri_spsc_dequeue(r, &out[i]))
			i++;
	}
	return i;
}

uint32_t zr_ring_capacity(const zr_ring *r)
{
	return r->capacity;
}

uint32_t zr_ring_count(const zr_ring *r)
{
	/* relaxed: a snapshot; head first so that tail - head cannot underflow
	 * by much when both move (clamped below) */
	uint64_t hd = atomic_load_explicit(&r->hdr->a_head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&r->hdr->a_tail, memory_order_relaxed);
	int64_t n = (int64_t)(t - hd);
	return n < 0 ? 0 : n > (int64_t)r->capacity ? r->capacity : (uint32_t)n;
}

uint32_t zr_ring_free(const zr_ring *r)
{
	return r->capacity - zr_ring_count(r);
}

uint32_t zr_ring_kind(const zr_ring *r)
{
	return r->kind;
}

const char *zr_ring_name(const zr_ring *r)
{
	return r->hdr->name;
}

void zr_ring_stat(const zr_ring *r, zr_ring_stats *out)
{
	const struct zri_ring *h = r->hdr;
	memset(out, 0, sizeof(*out));
	/* relaxed throughout: counters read for display, not to synchronise */
	out->full = atomic_load_explicit(&h->a_full, memory_order_relaxed);
	out->empty = atomic_load_explicit(&h->a_empty, memory_order_relaxed);
	out->waits = atomic_load_explicit(&h->a_waits, memory_order_relaxed);
	out->wakes = atomic_load_explicit(&h->a_wakes, memory_order_relaxed);
	out->drops = atomic_load_explicit(&h->a_drops, memory_order_relaxed);
	out->redelivers = atomic_load_explicit(&h->a_redelivers, memory_order_relaxed);
	/* relaxed: this handle's empty polls not yet added (zri_count_empty) */
	out->empty += atomic_load_explicit(&r->empty_batch, memory_order_relaxed);
	/* relaxed: a snapshot of the indices for display */
	uint64_t hd = atomic_load_explicit(&h->a_head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&h->a_tail, memory_order_relaxed);
	/* the indices count positions; dropped and redelivered ones carried no
	 * new entry (see ring_mpmc.c) */
	uint64_t skipped = out->drops + out->redelivers;
	out->enqueued = t - skipped;
	out->dequeued = hd - skipped;
	out->capacity = r->capacity;
	out->count = zr_ring_count(r);
}

void zri_ring_check(const struct zr_ring *r, const char *where, struct zri_sink *s)
{
	const struct zri_ring *h = r->hdr;
	zri_sink_part(s);
	uint64_t hd = 0, t = 0;
	bool stable = false;
	/* The tail is read between two reads of the head that agree: the head
	 * was that value when the tail was read (a checker preempted between
	 * two lone reads would see a tail laps ahead). Under load that keeps
	 * moving the head, the distance is not judged. */
	for (int tries = 0; tries < 8 && !stable; tries++) {
		/* relaxed: hints that only grow; compared, nothing they publish is read */
		hd = atomic_load_explicit(&h->a_head, memory_order_relaxed);
		/* acquire: a fence; keeps the three reads in program order */
		atomic_thread_fence(memory_order_acquire);
		/* relaxed: as above */
		t = atomic_load_explicit(&h->a_tail, memory_order_relaxed);
		/* acquire: a fence, as above */
		atomic_thread_fence(memory_order_acquire);
		/* relaxed: as above */
		stable = atomic_load_explicit(&h->a_head, memory_order_relaxed) == hd;
	}
	/* MPMC indices are hints that may lag by the number of racing threads,
	 * never by more than a lap */
	if (stable &&
	    ((int64_t)(t - hd) < -(int64_t)r->capacity || t - hd > 2 * (uint64_t)r->capacity))
		zri_sink_report(s, "rings", where, &h->a_tail,
				"ring %.47s: tail %" PRIu64 " and head %" PRIu64 " are %" PRId64
				" apart, capacity %u",
				h->name, t, hd, (int64_t)(t - hd), r->capacity);
	if (r->kind == ZR_RING_MPMC)
		zri_mpmc_check_slots(r, hd, where, s);
	zri_sink_part_end(s, "rings", where, "ring");
}

int zr_ring_check(const zr_ring *r, zr_diag *diag)
{
	struct zri_sink s;
	char where[64];
	zri_sink_diag(&s, NULL, 0, 0, diag);
	snprintf(where, sizeof(where), "ring %.47s", r->hdr->name);
	zri_ring_check(r, where, &s);
	return s.found ? ZR_ECORRUPT : 0;
}

static const char *slot_kind_name(uint64_t st)
{
	static const char *const names[] = {"FREE", "WRITING", "FULL", "TAKEN"};
	return names[st & 3u];
}

void zr_ring_dump(FILE *f, const zr_ring *r)
{
	zr_ring_stats s;
	zr_ring_stat(r, &s);
	const struct zri_ring *h = r->hdr;
	fprintf(f,
		"ring %s: %s capacity %u wait %u head %" PRIu64 " tail %" PRIu64
		" count %u\n  enqueued %" PRIu64 " dequeued %" PRIu64 " full %" PRIu64
		" empty %" PRIu64 " waits %" PRIu64 " wakes %" PRIu64 " drops %" PRIu64
		" redelivers %" PRIu64 "\n",
		h->name, r->kind == ZR_RING_MPMC ? "mpmc" : "spsc", r->capacity, r->wait_mode,
		/* relaxed: a snapshot for diagnosis */
		atomic_load_explicit(&h->a_head, memory_order_relaxed),
		atomic_load_explicit(&h->a_tail, memory_order_relaxed), s.count, s.enqueued,
		s.dequeued, s.full, s.empty, s.waits, s.wakes, s.drops, s.redelivers);
	if (r->kind != ZR_RING_MPMC)
		return;
	/* the slots around the head and the tail tell why a ring is stuck */
	/* relaxed: a snapshot for diagnosis */
	uint64_t at[2] = {atomic_load_explicit(&h->a_head, memory_order_relaxed),
			  atomic_load_explicit(&h->a_tail, memory_order_relaxed)};
	for (int k = 0; k < 2; k++) {
		for (uint64_t pos = at[k] - 2; pos != at[k] + 3; pos++) {
			const struct zri_slot *sl =
				&((const struct zri_slot *)r->slots)[pos & r->mask];
			/* relaxed: a snapshot for diagnosis */
			uint64_t st = atomic_load_explicit(&sl->a_state, memory_order_relaxed);
			uint64_t v = atomic_load_explicit(&sl->a_value, memory_order_relaxed);
			fprintf(f,
				"  %s%+d slot %" PRIu64 ": %s pos %" PRIu64
				" owner %u value %#" PRIx64 "\n",
				k ? "tail" : "head", (int)(pos - at[k]), pos & r->mask,
				slot_kind_name(st), st >> 24, (uint32_t)(st >> 2) & ZRI_OWNER_MASK,
				v);
		}
	}
}

unsigned zr_ring_peek(const zr_ring *r, uint64_t *out, unsigned cap)
{
	if (!r || !out || cap == 0)
		return 0;
	return r->kind == ZR_RING_MPMC ? zri_mpmc_peek(r, out, cap) : zri_spsc_peek(r, out, cap);
}
