/* The process table: one slot per attached process, claimed by one CAS that
 * records the pid, so a slot's process can be judged dead (pid gone, or a
 * different process under a reused pid: start times differ) even if it died
 * right after claiming. Owner ids carry the slot's generation, so whatever a
 * dead incarnation left behind is told apart from the slot's next user.
 *
 * Synchronisation map:
 *   R1 claim: release store of a_start   -> A1 alive: acquire load of a_start
 *   The claim and release CASes on a_word are acq_rel: a new claimant must
 *   see the previous user's release complete before reusing the slot. */
#include <stdatomic.h>
#include <unistd.h>

#include "arena_impl.h"
#include "prim.h"

static bool try_claim(zr_arena *a, uint32_t i, uint64_t w, uint32_t pid, uint64_t start)
{
	struct zri_proc *p = &a->procs[i];
	uint32_t gen = ZRI_PROC_GEN(w) + 1;
	uint64_t mine = zri_proc_word(pid, gen, ZRI_PROC_ACTIVE);
	/* acq_rel: see the previous user's release; relaxed on failure: retried */
	if (!atomic_compare_exchange_strong_explicit(&p->a_word, &w, mine, memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	/* relaxed: read only by this slot's users, after the CAS above */
	atomic_store_explicit(&p->a_heartbeat, zri_now_ns(), memory_order_relaxed);
	/* R1: pairs with A1 in zri_owner_alive(); tagged with our generation, so
	 * that until this store the previous occupant's start is not taken for
	 * ours (that would make us look dead to a reaper) */
	atomic_store_explicit(&p->a_start, zri_proc_start_word(start, gen), memory_order_release);
	a->self_idx = i;
	a->self = zri_owner_make(i, gen);
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		a->classes[c].free_ring.self = a->self;
	a->job_free.self = a->self;
	return true;
}

int zri_proc_claim(zr_arena *a)
{
	uint32_t pid = (uint32_t)getpid();
	uint64_t start = zri_proc_start_time(pid); /* before the claim: keeps its window short */
	/* free slots first; a dead process's slot only when none is left. The
	 * search starts at pid % max_procs so that short-lived attachers spread
	 * over the slots instead of wrapping the generation of the first one. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < a->max_procs; k++) {
			uint32_t i = (pid + k) % a->max_procs;
			/* acquire: pairs with the release CAS in zri_proc_release() */
			uint64_t w =
				atomic_load_explicit(&a->procs[i].a_word, memory_order_acquire);
			bool free_slot = ZRI_PROC_STATE(w) == ZRI_PROC_FREE;
			if (pass == 0 && !free_slot)
				continue;
			if (pass == 1 &&
			    (free_slot || zri_owner_alive(a, zri_owner_make(i, ZRI_PROC_GEN(w)))))
				continue;
			if (try_claim(a, i, w, pid, start))
				return 0;
		}
	}
	return ZR_EPROCFULL;
}

void zri_proc_release(zr_arena *a)
{
	if (a->readonly || a->self == 0)
		return;
	struct zri_proc *p = &a->procs[a->self_idx];
	/* acquire: see the slot as we left it (a reaper may have freed it) */
	uint64_t w = atomic_load_explicit(&p->a_word, memory_order_acquire);
	if (ZRI_PROC_STATE(w) != ZRI_PROC_ACTIVE ||
	    zri_owner_make(a->self_idx, ZRI_PROC_GEN(w)) != a->self)
		return;
	/* acq_rel: pairs with the claim; relaxed on failure: a reaper freed it */
	atomic_compare_exchange_strong_explicit(&p->a_word, &w,
						zri_proc_word(0, ZRI_PROC_GEN(w), ZRI_PROC_FREE),
						memory_order_acq_rel, memory_order_relaxed);
}

/* A recovery pass asks about the same few owners once per record or block,
 * and each answer reads /proc (microseconds). Within one pass on one thread
 * the answers are remembered: "dead" never changes (owner ids carry a
 * generation), and an "alive" that goes stale during the pass only leaves
 * that owner's repairs to the next pass. */
static _Thread_local struct zri_alive_memo *tl_memo;

bool zri_alive_memo_begin(const zr_arena *a, struct zri_alive_memo *m)
{
	if (tl_memo)
		return false; /* an outer pass remembers already */
	m->arena = a;
	m->n = 0;
	tl_memo = m;
	return true;
}

void zri_alive_memo_end(bool began)
{
	if (began)
		tl_memo = NULL;
}

static bool owner_alive_now(const zr_arena *a, uint32_t owner)
{
	struct zri_proc *p = &a->procs[zri_owner_idx(owner)];
	/* acquire: pairs with the claim CAS; the pid in the word is the claimant's */
	uint64_t w = atomic_load_explicit(&p->a_word, memory_order_acquire);
	if (ZRI_PROC_STATE(w) != ZRI_PROC_ACTIVE ||
	    (ZRI_PROC_GEN(w) & ((1u << ZRI_OWNER_GEN_BITS) - 1)) != zri_owner_gen(owner))
		return false;
	/* A1: pairs with R1 in try_claim(); another generation's start is ignored */
	uint64_t start = atomic_load_explicit(&p->a_start, memory_order_acquire);
	return zri_pid_alive(ZRI_PROC_PID(w), zri_proc_start_of(w, start));
}

bool zri_owner_alive(const void *arena, uint32_t owner)
{
	const zr_arena *a = arena;
	if (owner == 0 || zri_owner_idx(owner) >= a->max_procs)
		return false;
	if (owner == a->self)
		return true;
	struct zri_alive_memo *m = tl_memo;
	if (!m || m->arena != a)
		return owner_alive_now(a, owner);
	for (uint32_t i = 0; i < m->n; i++)
		if (m->owner[i] == owner)
			return m->alive[i];
	bool alive = owner_alive_now(a, owner);
	if (m->n < ZRI_ALIVE_MEMO) {
		m->owner[m->n] = owner;
		m->alive[m->n++] = alive;
	}
	return alive;
}

bool zr_arena_owner_alive(const zr_arena *a, uint32_t owner)
{
	return zri_owner_alive(a, owner);
}

uint32_t zri_proc_reap(zr_arena *a)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < a->max_procs; i++) {
		/* acquire: as in zri_proc_claim() */
		uint64_t w = atomic_load_explicit(&a->procs[i].a_word, memory_order_acquire);
		if (ZRI_PROC_STATE(w) != ZRI_PROC_ACTIVE ||
		    zri_owner_alive(a, zri_owner_make(i, ZRI_PROC_GEN(w))))
			continue;
		/* acq_rel: as in zri_proc_release(); relaxed on failure: skipped */
		if (atomic_compare_exchange_strong_explicit(
			    &a->procs[i].a_word, &w,
			    zri_proc_word(0, ZRI_PROC_GEN(w), ZRI_PROC_FREE), memory_order_acq_rel,
			    memory_order_relaxed))
			n++;
	}
	return n;
}

void zri_proc_count(const zr_arena *a, uint32_t *attached, uint32_t *dead)
{
	*attached = *dead = 0;
	for (uint32_t i = 0; i < a->max_procs; i++) {
		/* acquire: as in zri_proc_claim() */
		uint64_t w = atomic_load_explicit(&a->procs[i].a_word, memory_order_acquire);
		if (ZRI_PROC_STATE(w) != ZRI_PROC_ACTIVE)
			continue;
		(*attached)++;
		if (!zri_owner_alive(a, zri_owner_make(i, ZRI_PROC_GEN(w))))
			(*dead)++;
	}
}
