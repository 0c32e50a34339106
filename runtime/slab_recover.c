/* runtime/slab_recover.c: what a dead process held, orphans, counters and
 * the invariant check of the payload heap. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "slab_impl.h"

/* Move a dead owner's CACHED block, or a FLUSHING one that never reached
 * the free queue, into our cache. Returns true if it was ours to move.
 * The free queue of the class was repaired for this owner first (see
 * zri_slab_recover()), so it holds no half-done slot of the dead: an entry
 * is there or not, and the block does not get a second one. */
static bool reclaim_block(zr_arena *a, struct zri_tcache *tc, uint32_t c, uint64_t b, uint64_t w)
{
	struct zri_class_rt *rt = &a->classes[c];
	uint64_t mine = zri_blk_word(ZRI_BLK_GEN(w), a->self, ZRI_BLK_CACHED);
	/* relaxed: the block's bytes are not read; reuse is ordered by the free
	 * ring as for any flushed block */
	if (!atomic_compare_exchange_strong_explicit(&rt->meta[b], &w, mine, memory_order_relaxed,
						     memory_order_relaxed))
		return false;
	if (zri_tcache_push(a, tc, c, b) != 0)
		/* relaxed: as above; a later recovery pass tries again */
		atomic_store_explicit(&rt->meta[b], w, memory_order_relaxed);
	return true;
}

/* Return or orphan one block of a dead owner. */
static void recover_block(zr_arena *a, struct zri_tcache *tc, uint32_t c, uint64_t b, uint64_t w,
			  uint64_t *freed, uint64_t *orphaned)
{
	struct zri_class_rt *rt = &a->classes[c];
	uint32_t s = ZRI_BLK_STATE(w), owner = ZRI_BLK_OWNER(w);
	if (s == ZRI_BLK_ALLOC) {
		uint64_t orphan = zri_blk_word(ZRI_BLK_GEN(w), owner, ZRI_BLK_ORPHAN);
		/* relaxed: ownership changes order no data */
		if (atomic_compare_exchange_strong_explicit(
			    &rt->meta[b], &w, orphan, memory_order_relaxed, memory_order_relaxed))
			(*orphaned)++;
	} else if (s == ZRI_BLK_FLUSHING &&
		   zri_mpmc_contains(&rt->free_ring, (uint64_t)ZRI_BLK_GEN(w) << 32 | b)) {
		/* died after enqueueing it: it is free already, say so */
		uint64_t fr = zri_blk_word(ZRI_BLK_GEN(w), 0, ZRI_BLK_FREE);
		/* relaxed: a refiller's claim CAS settles any race */
		if (atomic_compare_exchange_strong_explicit(
			    &rt->meta[b], &w, fr, memory_order_relaxed, memory_order_relaxed))
			(*freed)++;
	} else if (reclaim_block(a, tc, c, b, w)) {
		(*freed)++;
	}
}

void zri_slab_recover(zr_arena *a, uint64_t *freed, uint64_t *orphaned)
{
	struct zri_tcache *tc = zri_tcache_get(a);
	if (!tc)
		return;
	uint64_t drops = 0, redelivers = 0;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		struct zri_class_rt *rt = &a->classes[c];
		uint32_t repaired_for[16], nrep = 0; /* dead owners seen: few at once */
		for (uint64_t b = 0; b < rt->nblocks; b++) {
			/* relaxed: each change below is a CAS on this value */
			uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
			uint32_t s = ZRI_BLK_STATE(w), owner = ZRI_BLK_OWNER(w);
			if (s == ZRI_BLK_FREE || s == ZRI_BLK_ORPHAN || owner == 0 ||
			    zri_owner_alive(a, owner))
				continue;
			/* The owner may have died after the ring repairs of
			 * zr_arena_recover(), holding a free-queue slot of this
			 * class: repair it first (it drops the entry, as the block
			 * is claimed), or a later repair would republish an entry
			 * for a block we are about to put back: a duplicate. */
			uint32_t k = 0;
			while (k < nrep && repaired_for[k] != owner)
				k++;
			if (k == nrep) {
				zri_mpmc_repair(&rt->free_ring, &drops, &redelivers);
				if (nrep < 16)
					repaired_for[nrep++] = owner;
			}
			recover_block(a, tc, c, b, w, freed, orphaned);
		}
		if (tc->n[c] > ZRI_TCACHE_BATCH)
			zri_tcache_flush(a, tc, c, tc->n[c] - ZRI_TCACHE_BATCH);
	}
}

static int free_if_orphan(zr_arena *a, _Atomic uint64_t *m, uint64_t off, zr_payload_keep_fn keep,
			  void *ctx, uint64_t *freed)
{
	/* relaxed: zr_payload_free() re-checks with a CAS */
	uint64_t w = atomic_load_explicit(m, memory_order_relaxed);
	if (ZRI_BLK_STATE(w) != ZRI_BLK_ORPHAN)
		return 0;
	zr_payload p = {zri_payload_make(off, ZRI_BLK_GEN(w))};
	if (keep && keep(ctx, p))
		return 0;
	if (zr_payload_free(a, p) == 0)
		(*freed)++;
	return 0;
}

int zr_slab_free_orphans(zr_arena *a, zr_payload_keep_fn keep, void *ctx, uint64_t *freed)
{
	if (a->readonly)
		return ZR_EREADONLY;
	uint64_t n = 0;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		struct zri_class_rt *rt = &a->classes[c];
		for (uint64_t b = 0; b < rt->nblocks; b++)
			free_if_orphan(a, &rt->meta[b], rt->data_off + b * rt->block_size, keep,
				       ctx, &n);
	}
	for (uint64_t i = 0; i < a->npages; i++)
		free_if_orphan(a, &a->pmeta[i].a_word, a->large_data_off + i * a->page_size, keep,
			       ctx, &n);
	if (freed)
		*freed = n;
	return 0;
}

static void class_stat(const zr_arena *a, uint32_t c, zr_slab_class_stats *s)
{
	const struct zri_class_rt *rt = &a->classes[c];
	memset(s, 0, sizeof(*s));
	s->block_size = rt->block_size;
	s->blocks = rt->nblocks;
	for (uint64_t b = 0; b < rt->nblocks; b++) {
		/* relaxed: a snapshot for display */
		uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
		switch (ZRI_BLK_STATE(w)) {
		case ZRI_BLK_ALLOC: s->in_use++; break;
		case ZRI_BLK_ORPHAN:
			s->in_use++;
			s->orphans++;
			break;
		case ZRI_BLK_CACHED: s->cached++; break;
		default: s->free++; break;
		}
	}
	/* relaxed: counters for display */
	s->high_water = atomic_load_explicit(&rt->stats->a_high_water, memory_order_relaxed);
	s->failed = atomic_load_explicit(&rt->stats->a_failed, memory_order_relaxed);
}

static void large_stat(const zr_arena *a, zr_slab_class_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->blocks = a->npages;
	for (uint64_t i = 0; i < a->npages;) {
		/* relaxed: a snapshot for display */
		uint64_t w = atomic_load_explicit(&a->pmeta[i].a_word, memory_order_relaxed);
		uint32_t st = ZRI_BLK_STATE(w);
		/* relaxed: a snapshot for display */
		uint64_t n = atomic_load_explicit(&a->pmeta[i].a_npages, memory_order_relaxed);
		if ((st == ZRI_BLK_ALLOC || st == ZRI_BLK_ORPHAN) && n && n <= a->npages - i) {
			s->in_use += n;
			s->orphans += st == ZRI_BLK_ORPHAN ? n : 0;
			i += n;
		} else {
			s->free++;
			i++;
		}
	}
	/* relaxed: counters for display */
	s->high_water = atomic_load_explicit(&a->lctl->a_high_water, memory_order_relaxed);
	s->failed = atomic_load_explicit(&a->lctl->a_failed, memory_order_relaxed);
}

void zr_slab_stat(const zr_arena *a, zr_slab_class_stats *out, size_t cap, size_t *n)
{
	size_t k = 0;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES && k < cap; c++)
		class_stat(a, c, &out[k++]);
	if (k < cap)
		large_stat(a, &out[k++]);
	*n = k;
}

static void count_owner(const zr_arena *a, zr_slab_owner_usage *out, size_t cap, size_t *n,
			uint64_t w, uint64_t bytes)
{
	uint32_t st = ZRI_BLK_STATE(w);
	if (st != ZRI_BLK_ALLOC && st != ZRI_BLK_ORPHAN && st != ZRI_BLK_CACHED)
		return;
	uint32_t owner = ZRI_BLK_OWNER(w);
	size_t i = 0;
	while (i < *n && out[i].owner != owner)
		i++;
	if (i == *n) {
		if (*n == cap)
			return;
		memset(&out[i], 0, sizeof(out[i]));
		out[i].owner = owner;
		out[i].alive = zri_owner_alive(a, owner);
		if (owner && zri_owner_idx(owner) < a->max_procs) {
			/* relaxed: a snapshot for display */
			uint64_t pw = atomic_load_explicit(&a->procs[zri_owner_idx(owner)].a_word,
							   memory_order_relaxed);
			/* the slot's pid is the owner's only while the slot is in that life */
			if ((ZRI_PROC_GEN(pw) & ((1u << ZRI_OWNER_GEN_BITS) - 1)) ==
			    zri_owner_gen(owner))
				out[i].pid = ZRI_PROC_PID(pw);
		}
		(*n)++;
	}
	out[i].blocks++;
	out[i].bytes += bytes;
}

void zr_slab_usage_by_owner(const zr_arena *a, zr_slab_owner_usage *out, size_t cap, size_t *n)
{
	*n = 0;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		const struct zri_class_rt *rt = &a->classes[c];
		for (uint64_t b = 0; b < rt->nblocks; b++)
			/* relaxed: a snapshot for display */
			count_owner(a, out, cap, n,
				    atomic_load_explicit(&rt->meta[b], memory_order_relaxed),
				    rt->block_size);
	}
	for (uint64_t i = 0; i < a->npages; i++) {
		/* relaxed: a snapshot for display */
		uint64_t w = atomic_load_explicit(&a->pmeta[i].a_word, memory_order_relaxed);
		if (ZRI_BLK_STATE(w) == ZRI_BLK_ALLOC || ZRI_BLK_STATE(w) == ZRI_BLK_ORPHAN)
			/* relaxed: a snapshot for display */
			count_owner(a, out, cap, n, w,
				    atomic_load_explicit(&a->pmeta[i].a_len, memory_order_relaxed));
	}
}

/* Block metadata no writer produces: an unknown state, an owner beyond the
 * process table, a cached block nobody holds. */
static void check_class(const zr_arena *a, uint32_t c, struct zri_sink *s)
{
	const struct zri_class_rt *rt = &a->classes[c];
	char where[64], part[64];
	snprintf(part, sizeof(part), "size class %u", c);
	zri_sink_part(s);
	for (uint64_t b = 0; b < rt->nblocks && !s->stop; b++) {
		/* relaxed: a snapshot; only states no writer produces are reported */
		uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
		uint32_t st = ZRI_BLK_STATE(w), owner = ZRI_BLK_OWNER(w);
		bool bad = st > ZRI_BLK_ORPHAN || (owner && zri_owner_idx(owner) >= a->max_procs) ||
			   (st == ZRI_BLK_CACHED && owner == 0);
		if (!bad)
			continue;
		snprintf(where, sizeof(where), "size class %u block %" PRIu64, c, b);
		zri_sink_report(s, "slab", where, &rt->meta[b],
				"metadata %#" PRIx64 " (state %u, owner %#x) is impossible", w, st,
				owner);
	}
	zri_sink_part_end(s, "slab", part, "size class");
}

void zri_slab_check(const zr_arena *a, struct zri_sink *s)
{
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES && !s->stop; c++)
		check_class(a, c, s);
}

void zr_slab_dump(FILE *f, const zr_arena *a)
{
	zr_slab_class_stats s[ZRI_SMALL_CLASSES + 1];
	size_t n;
	zr_slab_stat(a, s, ZRI_SMALL_CLASSES + 1, &n);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"%s %8" PRIu64 ": blocks %" PRIu64 " in_use %" PRIu64 " cached %" PRIu64
			" free %" PRIu64 " high_water %" PRIu64 " failed %" PRIu64
			" orphans %" PRIu64 "\n",
			s[i].block_size ? "class" : "large", s[i].block_size, s[i].blocks,
			s[i].in_use, s[i].cached, s[i].free, s[i].high_water, s[i].failed,
			s[i].orphans);
}
