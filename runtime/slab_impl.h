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

struct zri_tcache *zri_tcache_get(zr_arena *a);
unsigned zri_tcache_refill(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned want);
void zri_tcache_flush(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned count);
int zri_tcache_push(zr_arena *a, struct zri_tcache *tc, uint32_t c, uint64_t b);
bool zri_slab_locate(const zr_arena *a, uint64_t off, uint32_t *cls, uint64_t *blk);
int zri_slab_resolve(const zr_arena *a, zr_payload p, void **ptr, size_t *size,
		     _Atomic uint64_t **word);

#endif
