/* runtime/slab_large.c: payloads above 64 KiB, up to the arena's maximum,
 * as runs of 64 KiB pages: still zero copy, written and read in place.
 *
 * The page table has one word per page, meaningful at the head of a run
 * (same encoding as small blocks: gen | owner | state). Allocation is rare
 * and costs a scan, so it holds a robust process-shared mutex; freeing is
 * one CAS and takes no lock. Every change is a single atomic store, so the
 * table is consistent whenever a holder dies; the next locker only
 * recomputes the pages-in-use counter.
 *
 * Synchronisation map:
 *   R1 alloc: release store of ALLOC (after npages and len) -> A1 resolve and
 *      the allocation scan: acquire load of the word, then npages/len.
 *   R2 free: release CAS to FREE -> A1 the allocation scan: the last user's
 *      reads of the pages happen before the next owner writes them. A
 *      scanner that still sees ALLOC only skips the run. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "slab_impl.h"

static uint64_t page_off(const zr_arena *a, uint64_t page)
{
	return a->large_data_off + page * a->page_size;
}

static bool is_head(uint64_t w)
{
	uint32_t s = ZRI_BLK_STATE(w);
	return s == ZRI_BLK_ALLOC || s == ZRI_BLK_ORPHAN;
}

/* Length of the run at page i, sanitised: a corrupt npages skips one page. */
static uint64_t run_len(const zr_arena *a, uint64_t i)
{
	/* relaxed: ordered by the acquire load of the head word (A1) */
	uint64_t n = atomic_load_explicit(&a->pmeta[i].a_npages, memory_order_relaxed);
	return n == 0 || n > a->npages - i ? 1 : n;
}

static uint64_t count_used(const zr_arena *a)
{
	uint64_t used = 0;
	for (uint64_t i = 0; i < a->npages;) {
		/* A1: pairs with R1 in zri_large_alloc() */
		uint64_t w = atomic_load_explicit(&a->pmeta[i].a_word, memory_order_acquire);
		uint64_t n = is_head(w) ? run_len(a, i) : 1;
		if (is_head(w))
			used += n;
		i += n;
	}
	return used;
}

/* First fit: index of `need` free pages, or npages if none. Under the lock. */
static uint64_t find_run(const zr_arena *a, uint64_t need)
{
	uint64_t run = 0;
	for (uint64_t i = 0; i < a->npages;) {
		/* A1: pairs with R1 below */
		uint64_t w = atomic_load_explicit(&a->pmeta[i].a_word, memory_order_acquire);
		if (is_head(w)) {
			run = 0;
			i += run_len(a, i);
			continue;
		}
		if (++run == need)
			return i + 1 - need;
		i++;
	}
	return a->npages;
}

int zri_large_alloc(zr_arena *a, size_t size, zr_payload *out)
{
	struct zri_large_ctl *ctl = a->lctl;
	uint64_t need = (size + a->page_size - 1) / a->page_size;
	if (need > a->npages)
		return -ENOMEM;
	int locked = zri_robust_lock(&ctl->lock);
	if (locked < 0)
		return locked;
	if (locked == 1)
		/* relaxed: under the lock */
		atomic_store_explicit(&ctl->a_pages_used, count_used(a), memory_order_relaxed);
	uint64_t first = find_run(a, need);
	if (first == a->npages) {
		zri_robust_unlock(&ctl->lock);
		/* relaxed: statistics only */
		atomic_fetch_add_explicit(&ctl->a_failed, 1, memory_order_relaxed);
		return -ENOMEM;
	}
	struct zri_page_meta *m = &a->pmeta[first];
	/* relaxed: the head is FREE and we hold the lock */
	uint32_t gen = ZRI_BLK_GEN(atomic_load_explicit(&m->a_word, memory_order_relaxed)) + 1;
	/* relaxed: published by R1 below */
	atomic_store_explicit(&m->a_npages, (uint32_t)need, memory_order_relaxed);
	atomic_store_explicit(&m->a_len, size, memory_order_relaxed);
	/* R1: pairs with A1 in find_run() and zri_large_resolve() */
	atomic_store_explicit(&m->a_word, zri_blk_word(gen, a->self, ZRI_BLK_ALLOC),
			      memory_order_release);
	/* relaxed: statistics only */
	uint64_t used =
		atomic_fetch_add_explicit(&ctl->a_pages_used, need, memory_order_relaxed) + need;
	if (used > atomic_load_explicit(&ctl->a_high_water, memory_order_relaxed))
		atomic_store_explicit(&ctl->a_high_water, used, memory_order_relaxed);
	zri_robust_unlock(&ctl->lock);
	out->v = zri_payload_make(page_off(a, first), gen);
	return 0;
}

static bool locate_page(const zr_arena *a, uint64_t off, uint64_t *page)
{
	if (a->npages == 0 || off < a->large_data_off ||
	    off >= a->large_data_off + a->npages * a->page_size ||
	    (off - a->large_data_off) % a->page_size)
		return false;
	*page = (off - a->large_data_off) / a->page_size;
	return true;
}

int zri_large_resolve(const zr_arena *a, uint64_t off, uint32_t gen, void **ptr, size_t *size,
		      _Atomic uint64_t **word)
{
	uint64_t page;
	if (!locate_page(a, off, &page))
		return -EINVAL;
	struct zri_page_meta *m = &a->pmeta[page];
	/* A1: pairs with R1 in zri_large_alloc() */
	uint64_t w = atomic_load_explicit(&m->a_word, memory_order_acquire);
	if (!ZRI_BLK_GEN_IS(w, gen))
		return ZR_ESTALE;
	if (!is_head(w))
		return ZR_EDOUBLEFREE;
	/* relaxed: ordered by A1 above */
	uint64_t len = atomic_load_explicit(&m->a_len, memory_order_relaxed);
	if (len > (a->npages - page) * a->page_size)
		return zri_arena_poison(a, "a large payload's length runs past the heap", off);
	if (ptr)
		*ptr = a->base + off;
	if (size)
		*size = len;
	if (word)
		*word = &m->a_word;
	return 0;
}

int zri_large_free(zr_arena *a, uint64_t off, uint32_t gen)
{
	uint64_t page, old;
	if (!locate_page(a, off, &page))
		return -EINVAL;
	/* before the CAS: the head may be reused as soon as it is FREE */
	uint64_t n = run_len(a, page);
	/* R2: pairs with A1 in find_run(); the last user's reads of the pages
	 * and of npages/len happen before the next allocation's writes */
	int rc = zri_blk_from_live(&a->pmeta[page].a_word, gen, 0, ZRI_BLK_FREE,
				   memory_order_release, &old);
	if (rc == 0)
		/* relaxed: statistics only */
		atomic_fetch_sub_explicit(&a->lctl->a_pages_used, n, memory_order_relaxed);
	return rc;
}

void zri_large_recover(zr_arena *a, uint64_t *orphaned)
{
	for (uint64_t i = 0; i < a->npages;) {
		/* A1: pairs with R1 in zri_large_alloc() */
		uint64_t w = atomic_load_explicit(&a->pmeta[i].a_word, memory_order_acquire);
		uint64_t n = is_head(w) ? run_len(a, i) : 1;
		uint32_t owner = ZRI_BLK_OWNER(w);
		/* relaxed: ownership orders no data */
		if (ZRI_BLK_STATE(w) == ZRI_BLK_ALLOC && owner && !zri_owner_alive(a, owner) &&
		    atomic_compare_exchange_strong_explicit(
			    &a->pmeta[i].a_word, &w,
			    zri_blk_word(ZRI_BLK_GEN(w), owner, ZRI_BLK_ORPHAN),
			    memory_order_relaxed, memory_order_relaxed))
			(*orphaned)++;
		i += n;
	}
}

/* One run head read consistently: npages and len are those of the word
 * (re-read after them: a run freed and allocated again meanwhile has a new
 * generation). False when it moved under us: nothing is reported then. */
static bool read_head(const struct zri_page_meta *m, uint64_t w, uint64_t *n, uint64_t *len)
{
	/* relaxed: ordered by the acquire load of the word (A1) */
	*n = atomic_load_explicit(&m->a_npages, memory_order_relaxed);
	*len = atomic_load_explicit(&m->a_len, memory_order_relaxed);
	/* acquire: a fence; the loads above happen before the re-read below */
	atomic_thread_fence(memory_order_acquire);
	/* relaxed: ordered by the fence above */
	return atomic_load_explicit(&m->a_word, memory_order_relaxed) == w;
}

/* The page table: every word FREE, ALLOC or ORPHAN (pages are never cached
 * or flushed), owners within the process table, and each run head's page
 * count and length inside the heap. Walks runs as the allocator does. */
void zri_large_check(const zr_arena *a, struct zri_sink *s)
{
	char where[64];
	zri_sink_part(s);
	for (uint64_t i = 0; i < a->npages && !s->stop;) {
		const struct zri_page_meta *m = &a->pmeta[i];
		/* A1: pairs with R1 in zri_large_alloc(): npages and len are written */
		uint64_t w = atomic_load_explicit(&m->a_word, memory_order_acquire);
		uint32_t st = ZRI_BLK_STATE(w), owner = ZRI_BLK_OWNER(w);
		uint64_t n = 1, len = 0;
		snprintf(where, sizeof(where), "large page %" PRIu64, i);
		if (st != ZRI_BLK_FREE && !is_head(w))
			zri_sink_report(s, "large", where, &m->a_word,
					"page word %#" PRIx64
					" has state %u (FREE, ALLOC or ORPHAN "
					"expected)",
					w, st);
		else if (owner && zri_owner_idx(owner) >= a->max_procs)
			zri_sink_report(s, "large", where, &m->a_word,
					"page word %#" PRIx64 " names owner %#x, beyond the %u "
					"process slots",
					w, owner, a->max_procs);
		else if (is_head(w) && read_head(m, w, &n, &len) &&
			 (n == 0 || n > a->npages - i || len > n * a->page_size))
			zri_sink_report(s, "large", where, &m->a_npages,
					"run of %" PRIu64 " pages holding %" PRIu64
					" bytes does not fit the %" PRIu64 " pages left",
					n, len, a->npages - i);
		i += is_head(w) ? run_len(a, i) : 1;
	}
	zri_sink_part_end(s, "large", "large heap", "heap");
}
