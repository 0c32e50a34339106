/* rings/inbox.c: the priority inbox, four MPMC rings (critical, high,
 * normal, low) popped in strict priority order, with an optional share that
 * starts one pop in N at a lower level so that no level starves. */
#include <stdatomic.h>

#include "inbox_impl.h"

bool zr_inbox_push(zr_inbox *ib, unsigned prio, uint64_t v)
{
	if (prio >= ZR_PRIO_COUNT || !zri_mpmc_enqueue(&ib->levels[prio], v))
		return false;
	if (ib->hdr->wait_mode != ZR_WAIT_SPIN)
		zri_ring_notify(&ib->levels[prio]);
	return true;
}

/* First level to look at: 0 (strict) or, one pop in `share`, the next
 * lower level in round robin. */
static unsigned first_level(zr_inbox *ib)
{
	uint32_t share = ib->hdr->share;
	if (share < 2)
		return 0;
	/* relaxed: only spreads pops over levels; no data depends on it */
	uint64_t n = atomic_fetch_add_explicit(&ib->hdr->a_pops, 1, memory_order_relaxed);
	if (n % share != share - 1)
		return 0;
	return 1 + (unsigned)((n / share) % (ZR_PRIO_COUNT - 1));
}

/* One pop, with the three outcomes of a ring take (see zri_try_fn). */
static int pop_ex(void *obj, uint64_t *out, unsigned *prio)
{
	zr_inbox *ib = obj;
	unsigned start = first_level(ib);
	int busy = 0;
	for (unsigned i = 0; i < ZR_PRIO_COUNT; i++) {
		unsigned lvl = (start + i) % ZR_PRIO_COUNT;
		int rc = zri_mpmc_dequeue_ex(&ib->levels[lvl], out);
		if (rc == 1) {
			if (prio)
				*prio = lvl;
			return 1;
		}
		busy |= rc < 0;
	}
	return busy ? -1 : 0;
}

bool zr_inbox_pop(zr_inbox *ib, uint64_t *out, unsigned *prio)
{
	return pop_ex(ib, out, prio) == 1;
}

int zr_inbox_pop_wait(zr_inbox *ib, uint64_t *out, unsigned *prio, int64_t timeout_ns)
{
	struct zri_inbox *h = ib->hdr;
	struct zri_waitq q = {h->wait_mode, &h->a_futex, &h->a_waiters, &h->a_kicks, &h->a_waits};
	return zri_waitq_wait(&q, pop_ex, ib, out, prio, timeout_ns);
}

zr_ring *zr_inbox_level(zr_inbox *ib, unsigned prio)
{
	return prio < ZR_PRIO_COUNT ? &ib->levels[prio] : NULL;
}

uint32_t zr_inbox_count(const zr_inbox *ib)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < ZR_PRIO_COUNT; i++)
		n += zr_ring_count(&ib->levels[i]);
	return n;
}

void zr_inbox_wake_all(zr_inbox *ib)
{
	zri_waitq_kick(&ib->hdr->a_futex, &ib->hdr->a_kicks);
}
