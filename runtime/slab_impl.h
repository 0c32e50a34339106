#ifndef ZR_SLAB_IMPL_H
#define ZR_SLAB_IMPL_H

#include "arena_impl.h"

#define ZRI_TCACHE_CAP 64u
#define ZRI_TCACHE_BATCH 32u
#define ZRI_FLUSH_RETRIES 100000u /* yields: a preempted peer gets its time slice */

/* A thread's cache of blocks of one arena (process memory; the blocks are
 * recorded CACHED by this process in the arena, so a crash loses none). */
struct zri_tcache {
	zr_arena *arena; /* NULL once the arena was closed */
	struct zri_tcache *next_in_arena;
	struct zri_tcache *next_in_thread;
	uint32_t n[ZRI_SMALL_CLASSES];
	uint64_t e[ZRI_SMALL_CLASSES][ZRI_TCACHE_CAP]; /* block indices */
};

/* Blocks a thread may hold of one class: small classes get small caches,
 * so that a thread that only frees (or only allocates) cannot hoard them. */
static inline unsigned zri_tcache_limit(const struct zri_class_rt *rt)
{
	uint64_t l = rt->nblocks / 16;
	return l < 2 ? 2 : l > ZRI_TCACHE_CAP ? ZRI_TCACHE_CAP : (unsigned)l;
}

/* Move a live block (ALLOC or ORPHAN, of the handle's generation) to
 * state/owner with one CAS: the check that catches double frees and stale
 * handles. `order`: the CAS's success order. Returns 0, ZR_ESTALE or
 * ZR_EDOUBLEFREE; *old gets the word replaced. */
static inline int zri_blk_from_live(_Atomic uint64_t *m, uint32_t gen, uint32_t owner,
				    uint32_t state, memory_order order, uint64_t *old)
{
	/* relaxed: the CAS below decides */
	uint64_t w = atomic_load_explicit(m, memory_order_relaxed);
	for (;;) {
		uint32_t s = ZRI_BLK_STATE(w);
		if (!ZRI_BLK_GEN_IS(w, gen))
			return ZR_ESTALE;
		if (s != ZRI_BLK_ALLOC && s != ZRI_BLK_ORPHAN)
			return ZR_EDOUBLEFREE;
		/* relaxed on failure: retried with the value seen */
		if (atomic_compare_exchange_weak_explicit(
			    m, &w, zri_blk_word(ZRI_BLK_GEN(w), owner, state), order,
			    memory_order_relaxed)) {
			*old = w;
			return 0;
		}
	}
}

struct zri_tcache *zri_tcache_get(zr_arena *a);
unsigned zri_tcache_refill(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned want);
void zri_tcache_flush(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned count);
int zri_tcache_push(zr_arena *a, struct zri_tcache *tc, uint32_t c, uint64_t b);
bool zri_slab_locate(const zr_arena *a, uint64_t off, uint32_t *cls, uint64_t *blk);
int zri_slab_resolve(const zr_arena *a, zr_payload p, void **ptr, size_t *size,
		     _Atomic uint64_t **word);

#endif
