/* Binding the process-local views of an arena to its mapping, and
 * formatting the sections of a new one. */
#include <stdatomic.h>
#include <string.h>

#include "arena_impl.h"

#define at zri_arena_at

/* A free-queue entry held by a dead refiller goes back only if the block is
 * still free; if the refiller claimed it, recovery returns the block. */
static bool free_entry_unclaimed(const void *ctx, uint64_t e)
{
	const struct zri_class_rt *rt = ctx;
	uint64_t b = e & 0xffffffffu;
	if (b >= rt->nblocks)
		return false;
	/* relaxed: the refiller is dead; only recovery changes its blocks */
	uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
	uint32_t s = ZRI_BLK_STATE(w);
	return ZRI_BLK_GEN(w) == (uint32_t)(e >> 32) &&
	       (s == ZRI_BLK_FREE || s == ZRI_BLK_FLUSHING);
}

static int bind_classes(zr_arena *a, const struct zri_header *h, zr_diag *diag)
{
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		const struct zri_slab_class *k = &h->classes[c];
		struct zri_class_rt *rt = &a->classes[c];
		rt->block_size = k->block_size;
		rt->nblocks = k->nblocks;
		rt->data_off = k->data_off;
		rt->meta = at(a, k->meta_off);
		rt->stats = at(a, k->stats_off);
		if (!k->nblocks)
			continue;
		int rc =
			zri_ring_bind(&rt->free_ring, at(a, k->ring_off), k->data_off - k->ring_off,
				      a->self, zri_owner_alive, a, diag);
		if (rc)
			return rc;
		rt->free_ring.keep_taken = free_entry_unclaimed;
		rt->free_ring.keep_ctx = rt;
		if (rt->free_ring.kind != ZR_RING_MPMC ||
		    rt->free_ring.capacity != ZRI_FREE_RING_SLOTS(k->nblocks))
			return zri_diag_set(
				diag, ZR_ECORRUPT,
				"free queue of size class %u does not match its %llu blocks", c,
				(unsigned long long)k->nblocks);
	}
	return 0;
}

int zri_arena_bind(zr_arena *a, const struct zri_header *h, zr_diag *diag)
{
	const struct zri_section *procs = zri_header_section(h, ZRI_SEC_PROCS);
	const struct zri_section *dir = zri_header_section(h, ZRI_SEC_RINGDIR);
	const struct zri_section *heap = zri_header_section(h, ZRI_SEC_RINGHEAP);
	a->procs = at(a, procs->offset);
	a->max_procs = h->max_procs;
	a->dir = at(a, dir->offset);
	a->dirents = at(a, dir->offset + sizeof(struct zri_ringdir));
	a->max_rings = h->max_rings;
	a->ringheap_off = heap->offset;
	a->ringheap_size = heap->size;
	a->lctl = at(a, h->large.ctl_off);
	a->pmeta = at(a, h->large.meta_off);
	a->npages = h->large.npages;
	a->page_size = h->large.page_size;
	a->large_data_off = h->large.data_off;
	a->max_payload = h->max_payload;
	int rc = bind_classes(a, h, diag);
	return rc ? rc : zri_jobs_bind(a, h, diag);
}

/* Format a new arena's sections (before zri_arena_bind(): rings must exist
 * to be bound), then, once bound, fill the free queues. */
void zri_arena_format(zr_arena *a)
{
	const struct zri_header *h = a->hdr;
	struct zri_ringdir *dir = at(a, zri_header_section(h, ZRI_SEC_RINGDIR)->offset);
	struct zri_large_ctl *lctl = at(a, h->large.ctl_off);
	zri_robust_init(&dir->lock);
	zri_robust_init(&lctl->lock);
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		const struct zri_slab_class *k = &h->classes[c];
		if (k->nblocks)
			zri_ring_init(at(a, k->ring_off), ZR_RING_MPMC,
				      (uint32_t)ZRI_FREE_RING_SLOTS(k->nblocks), ZR_WAIT_SPIN,
				      "slab-free");
	}
	zri_jobs_format(a);
}

void zri_arena_fill_free(zr_arena *a)
{
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		if (a->classes[c].nblocks)
			zri_mpmc_fill_sequence(&a->classes[c].free_ring, a->classes[c].nblocks);
	zri_jobs_fill_free(a);
}
