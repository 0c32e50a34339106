/* runtime/slab.c: small payloads (64 B .. 64 KiB) from size classes.
 *
 * Each class has a block array, one metadata word per block and a free
 * queue: an MPMC ring (rings/ring_mpmc.c) of entries gen << 32 | block.
 * Why a ring and not a Treiber stack: a process killed between popping a
 * stack and recording the block as its own leaks the block for good; the
 * ring's two-phase take lets us record ownership while the slot still names
 * us, so a kill at any instruction leaves the block findable (see below).
 * The ring's positions make it ABA-safe; the entry's generation and the
 * metadata CAS make a duplicate entry harmless.
 *
 * Block metadata word: gen (32) | owner (22) | state (zri_block_state).
 *   refill: take (b,g) from the ring; CAS meta FREE|FLUSHING(g) -> CACHED(g, me);
 *           release the ring slot. Killed before release: the repair
 *           republishes the entry; the CAS (done or not) decides the block.
 *           A failed CAS means a stale duplicate: dropped.
 *   alloc:  CACHED(g, me) -> ALLOC(g+1, me) (only the owner touches its cache)
 *   free:   CAS ALLOC|ORPHAN(g) -> CACHED(g, me) into this thread's cache.
 *   flush:  CAS CACHED(g, me) -> FLUSHING(g, me); enqueue (b,g); CAS -> FREE(g).
 *           Killed in between: recovery sees FLUSHING or CACHED of a dead
 *           owner and puts the block back (a duplicate entry is harmless).
 * The generation moves on at every allocation, so a handle from an earlier
 * life of the block is stale (24 bits of it are in the handle).
 *
 * Synchronisation map:
 *   Payload bytes are handed over by the rings that carry handles, and block
 *   reuse is ordered by the free ring (the release and acquire of ring_mpmc.c): a block's last
 *   user flushed it before enqueueing, and the next refiller took it after
 *   dequeueing. So metadata CASes order nothing else and are relaxed, except
 *   A2/R2: resolve's acquire load pairs with the release store of ALLOC, so
 *   a reader of a handle sees the metadata of the allocation it names. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>

#include "arena_impl.h"
#include "slab_impl.h"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static _Thread_local struct zri_tcache *tl_caches;
static _Thread_local struct zri_tcache *tl_last;

static void flush_all(struct zri_tcache *tc)
{
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		zri_tcache_flush(tc->arena, tc, c, tc->n[c]);
}

/* Thread exit: return the thread's cached blocks of every open arena. */
static void thread_exit(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&cache_lock);
	for (struct zri_tcache *tc = tl_caches; tc; tc = tc->next_in_thread) {
		if (!tc->arena)
			continue;
		flush_all(tc);
		struct zri_tcache **pp = &tc->arena->tcaches;
		while (*pp && *pp != tc)
			pp = &(*pp)->next_in_arena;
		if (*pp)
			*pp = tc->next_in_arena;
		tc->arena = NULL;
	}
	pthread_mutex_unlock(&cache_lock);
	while (tl_caches) {
		struct zri_tcache *next = tl_caches->next_in_thread;
		free(tl_caches);
		tl_caches = next;
	}
	tl_last = NULL;
}

/* A forked child must not use its parent's cached blocks (they are recorded
 * as the parent's); it opens the arena anew. The lock is held across fork
 * so that the child does not inherit it taken by another parent thread. */
static void before_fork(void)
{
	pthread_mutex_lock(&cache_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&cache_lock);
}

static void after_fork_child(void)
{
	tl_caches = NULL;
	tl_last = NULL;
	pthread_mutex_unlock(&cache_lock);
}

static void cache_init_once(void)
{
	pthread_key_create(&cache_key, thread_exit);
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static struct zri_tcache *tcache_new(zr_arena *a)
{
	pthread_once(&cache_once, cache_init_once);
	struct zri_tcache *tc = NULL;
	for (struct zri_tcache *t = tl_caches; t && !tc; t = t->next_in_thread)
		if (!t->arena)
			tc = t; /* its arena was closed: reuse the node */
	if (!tc) {
		tc = calloc(1, sizeof(*tc));
		if (!tc)
			return NULL;
		tc->next_in_thread = tl_caches;
		tl_caches = tc;
	}
	memset(tc->n, 0, sizeof(tc->n));
	pthread_mutex_lock(&cache_lock);
	tc->arena = a;
	tc->next_in_arena = a->tcaches;
	a->tcaches = tc;
	pthread_mutex_unlock(&cache_lock);
	pthread_setspecific(cache_key, tc); /* any non-NULL value arms the destructor */
	return tc;
}

struct zri_tcache *zri_tcache_get(zr_arena *a)
{
	if (tl_last && tl_last->arena == a)
		return tl_last;
	for (struct zri_tcache *t = tl_caches; t; t = t->next_in_thread)
		if (t->arena == a)
			return tl_last = t;
	struct zri_tcache *tc = tcache_new(a);
	if (tc)
		tl_last = tc;
	return tc;
}

void zri_tcache_detach_arena(zr_arena *a)
{
	pthread_mutex_lock(&cache_lock);
	for (struct zri_tcache *tc = a->tcaches; tc; tc = tc->next_in_arena) {
		flush_all(tc);
		tc->arena = NULL;
	}
	a->tcaches = NULL;
	pthread_mutex_unlock(&cache_lock);
}

void zr_slab_cache_flush(zr_arena *a)
{
	if (a->readonly)
		return;
	for (struct zri_tcache *t = tl_caches; t; t = t->next_in_thread)
		if (t->arena == a)
			flush_all(t);
}

static void note_taken(struct zri_class_rt *rt, uint64_t n)
{
	/* relaxed: statistics only */
	uint64_t taken =
		atomic_fetch_add_explicit(&rt->stats->a_taken, n, memory_order_relaxed) + n;
	uint64_t out = taken - atomic_load_explicit(&rt->stats->a_returned, memory_order_relaxed);
	/* relaxed: statistics only (a racy maximum) */
	uint64_t hw = atomic_load_explicit(&rt->stats->a_high_water, memory_order_relaxed);
	while (out > hw && out <= rt->nblocks &&
	       !atomic_compare_exchange_weak_explicit(&rt->stats->a_high_water, &hw, out,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

/* Claim one free-queue entry for this thread's cache, or drop it if stale. */
static bool claim_entry(zr_arena *a, struct zri_class_rt *rt, uint64_t e, uint64_t *b_out)
{
	uint64_t b = e & 0xffffffffu;
	uint32_t g = (uint32_t)(e >> 32);
	if (b >= rt->nblocks) { /* not from this queue: dropped, and said */
		(void)zri_arena_poison(a, "a free queue holds a block outside its class", e);
		return false;
	}
	/* relaxed: see the synchronisation map; the CAS decides */
	uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
	for (;;) {
		uint32_t s = ZRI_BLK_STATE(w);
		if (ZRI_BLK_GEN(w) != g || (s != ZRI_BLK_FREE && s != ZRI_BLK_FLUSHING))
			return false; /* a stale duplicate */
		/* relaxed: ordering came from the free ring; see the map */
		if (atomic_compare_exchange_weak_explicit(
			    &rt->meta[b], &w, zri_blk_word(g, a->self, ZRI_BLK_CACHED),
			    memory_order_relaxed, memory_order_relaxed))
			break;
	}
	*b_out = b;
	return true;
}

unsigned zri_tcache_refill(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned want)
{
	struct zri_class_rt *rt = &a->classes[c];
	unsigned got = 0;
	uint64_t e, ticket, b;
	while (got < want && tc->n[c] < ZRI_TCACHE_CAP &&
	       zri_mpmc_take(&rt->free_ring, &e, &ticket) == 1) {
		bool mine = claim_entry(a, rt, e, &b);
		zri_mpmc_release(&rt->free_ring, ticket);
		if (!mine)
			continue;
		tc->e[c][tc->n[c]++] = b;
		got++;
	}
	if (got)
		note_taken(rt, got);
	return got;
}

/* Put (b, g) into the free queue. The queue has a slot for every block, so
 * an enqueue fails only while a live process is inside a take or put on the
 * slot at the tail (possibly preempted): wait for it, yielding the core. */
static bool put_free(struct zri_class_rt *rt, uint64_t entry)
{
	for (unsigned i = 0; i < ZRI_FLUSH_RETRIES; i++) {
		if (zri_mpmc_enqueue(&rt->free_ring, entry))
			return true;
		sched_yield();
	}
	return false;
}

/* Return one block we hold CACHED to the free queue. True when the block
 * left our hands (queued, or claimed by a refiller through a duplicate). */
static bool flush_block(zr_arena *a, struct zri_class_rt *rt, uint64_t b)
{
	/* relaxed: only this owner changes a CACHED block (recovery acts on dead
	 * owners only) */
	uint64_t w = atomic_load_explicit(&rt->meta[b], memory_order_relaxed);
	uint32_t g = ZRI_BLK_GEN(w);
	uint64_t fl = zri_blk_word(g, a->self, ZRI_BLK_FLUSHING);
	/* relaxed: published by the enqueue below (its release) */
	atomic_store_explicit(&rt->meta[b], fl, memory_order_relaxed);
	if (!put_free(rt, (uint64_t)g << 32 | b)) {
		/* relaxed: a stale duplicate entry of (b, g) may have let a refiller
		 * claim the block meanwhile; then it is no longer ours at all */
		uint64_t back = fl;
		return !atomic_compare_exchange_strong_explicit(
			&rt->meta[b], &back, w, memory_order_relaxed, memory_order_relaxed);
	}
	/* relaxed: a refiller may have claimed it already; then this fails */
	atomic_compare_exchange_strong_explicit(&rt->meta[b], &fl, zri_blk_word(g, 0, ZRI_BLK_FREE),
						memory_order_relaxed, memory_order_relaxed);
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(&rt->stats->a_returned, 1, memory_order_relaxed);
	return true;
}

void zri_tcache_flush(zr_arena *a, struct zri_tcache *tc, uint32_t c, unsigned count)
{
	for (unsigned done = 0; done < count && tc->n[c] > 0; done++) {
		if (!flush_block(a, &a->classes[c], tc->e[c][tc->n[c] - 1]))
			break; /* a process stopped inside the queue: keep them cached */
		tc->n[c]--;
	}
}

/* Push a block we hold CACHED into the thread cache, flushing to make room,
 * or straight into the free queue. -EAGAIN only if a process is stopped
 * inside the queue's tail slot for longer than ZRI_FLUSH_RETRIES yields: the
 * block then stays CACHED by us, and returns when this process exits. */
int zri_tcache_push(zr_arena *a, struct zri_tcache *tc, uint32_t c, uint64_t b)
{
	unsigned limit = zri_tcache_limit(&a->classes[c]);
	if (tc->n[c] >= limit)
		zri_tcache_flush(a, tc, c, tc->n[c] - limit / 2);
	if (tc->n[c] < limit) {
		tc->e[c][tc->n[c]++] = b;
		return 0;
	}
	return flush_block(a, &a->classes[c], b) ? 0 : -EAGAIN;
}

static uint32_t class_for(size_t size)
{
	if (size <= 64)
		return 0;
	return (uint32_t)(64 - __builtin_clzll((uint64_t)size - 1)) - ZRI_SMALL_MIN_SHIFT;
}

static int alloc_small(zr_arena *a, uint32_t c, zr_payload *out)
{
	struct zri_tcache *tc = zri_tcache_get(a);
	if (!tc)
		return -ENOMEM;
	for (; c < ZRI_SMALL_CLASSES; c++) {
		struct zri_class_rt *rt = &a->classes[c];
		if (!rt->nblocks)
			continue;
		if (tc->n[c] == 0 &&
		    zri_tcache_refill(a, tc, c, (zri_tcache_limit(rt) + 1) / 2) == 0) {
			/* relaxed: statistics only */
			atomic_fetch_add_explicit(&rt->stats->a_failed, 1, memory_order_relaxed);
			continue; /* exhausted: a larger class will do */
		}
		uint64_t b = tc->e[c][--tc->n[c]];
		/* relaxed: only this owner changes its CACHED block */
		uint32_t g =
			ZRI_BLK_GEN(atomic_load_explicit(&rt->meta[b], memory_order_relaxed)) + 1;
		/* R2: pairs with A2 in zri_slab_resolve() */
		atomic_store_explicit(&rt->meta[b], zri_blk_word(g, a->self, ZRI_BLK_ALLOC),
				      memory_order_release);
		out->v = zri_payload_make(rt->data_off + b * rt->block_size, g);
		return 0;
	}
	return -ENOMEM;
}

int zr_payload_alloc(zr_arena *a, size_t size, zr_payload *out)
{
	if (a->readonly)
		return ZR_EREADONLY;
	if (size == 0)
		return -EINVAL;
	if (size > a->max_payload)
		return ZR_ETOOBIG;
	if (size <= a->classes[ZRI_SMALL_CLASSES - 1].block_size) {
		int rc = alloc_small(a, class_for(size), out);
		if (rc != -ENOMEM || a->npages == 0)
			return rc;
	}
	return zri_large_alloc(a, size, out);
}

/* Find the size class and block of an offset; false if it names none. */
bool zri_slab_locate(const zr_arena *a, uint64_t off, uint32_t *cls, uint64_t *blk)
{
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		const struct zri_class_rt *rt = &a->classes[c];
		if (off < rt->data_off || off >= rt->data_off + rt->nblocks * rt->block_size)
			continue;
		if ((off - rt->data_off) % rt->block_size)
			return false;
		*cls = c;
		*blk = (off - rt->data_off) / rt->block_size;
		return true;
	}
	return false;
}

/* The metadata word a handle refers to, and the usable size and address. */
int zri_slab_resolve(const zr_arena *a, zr_payload p, void **ptr, size_t *size,
		     _Atomic uint64_t **word)
{
	uint64_t off = ZRI_PAYLOAD_OFF(p.v);
	uint32_t gen = ZRI_PAYLOAD_GEN(p.v);
	uint32_t c;
	uint64_t b;
	if (p.v == 0)
		return -EINVAL;
	if (!zri_slab_locate(a, off, &c, &b))
		return zri_large_resolve(a, off, gen, ptr, size, word);
	_Atomic uint64_t *m = &a->classes[c].meta[b];
	/* A2: pairs with R2 in alloc_small() */
	uint64_t w = atomic_load_explicit(m, memory_order_acquire);
	uint32_t s = ZRI_BLK_STATE(w);
	if (!ZRI_BLK_GEN_IS(w, gen))
		return ZR_ESTALE;
	if (s != ZRI_BLK_ALLOC && s != ZRI_BLK_ORPHAN)
		return ZR_EDOUBLEFREE;
	if (ptr)
		*ptr = a->base + off;
	if (size)
		*size = a->classes[c].block_size;
	if (word)
		*word = m;
	return 0;
}

int zr_payload_resolve(const zr_arena *a, zr_payload p, void **ptr, size_t *size)
{
	return zri_slab_resolve(a, p, ptr, size, NULL);
}

void *zr_payload_ptr(const zr_arena *a, zr_payload p)
{
	void *ptr = NULL;
	return zri_slab_resolve(a, p, &ptr, NULL, NULL) == 0 ? ptr : NULL;
}

static int free_small(zr_arena *a, uint32_t c, uint64_t b, uint32_t gen)
{
	struct zri_tcache *tc = zri_tcache_get(a);
	if (!tc)
		return -ENOMEM;
	uint64_t old;
	/* relaxed: the CAS only decides who frees; see the synchronisation map */
	int rc = zri_blk_from_live(&a->classes[c].meta[b], gen, a->self, ZRI_BLK_CACHED,
				   memory_order_relaxed, &old);
	if (rc == 0) /* -EAGAIN: stays CACHED by us outside the cache; see there */
		(void)zri_tcache_push(a, tc, c, b);
	return rc;
}

int zr_payload_free(zr_arena *a, zr_payload p)
{
	if (a->readonly)
		return ZR_EREADONLY;
	uint64_t off = ZRI_PAYLOAD_OFF(p.v);
	uint32_t c;
	uint64_t b;
	if (p.v == 0)
		return -EINVAL;
	if (zri_slab_locate(a, off, &c, &b))
		return free_small(a, c, b, ZRI_PAYLOAD_GEN(p.v));
	return zri_large_free(a, off, ZRI_PAYLOAD_GEN(p.v));
}

/* Change the owner of a live payload: to 0 (disown) or to us (adopt). */
static int set_owner(zr_arena *a, zr_payload p, uint32_t owner)
{
	if (a->readonly)
		return ZR_EREADONLY;
	_Atomic uint64_t *m;
	uint64_t old;
	int rc = zri_slab_resolve(a, p, NULL, NULL, &m);
	/* relaxed: ownership orders no data */
	return rc ? rc
		  : zri_blk_from_live(m, ZRI_PAYLOAD_GEN(p.v), owner, ZRI_BLK_ALLOC,
				      memory_order_relaxed, &old);
}

int zr_payload_disown(zr_arena *a, zr_payload p)
{
	return set_owner(a, p, 0);
}

int zr_payload_adopt(zr_arena *a, zr_payload p)
{
	return set_owner(a, p, a->self);
}

int64_t zr_payload_owner(const zr_arena *a, zr_payload p)
{
	_Atomic uint64_t *m;
	int rc = zri_slab_resolve(a, p, NULL, NULL, &m);
	if (rc)
		return rc;
	/* relaxed: a snapshot */
	return ZRI_BLK_OWNER(atomic_load_explicit(m, memory_order_relaxed));
}
