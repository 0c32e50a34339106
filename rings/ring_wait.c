/* rings/ring_wait.c: sleeping on an empty ring without a system call on the
 * fast path.
 *
 * A consumer that wants to sleep registers in a_waiters, re-checks the ring
 * and sleeps on a_futex; a producer that published entries checks a_waiters
 * and only then bumps a_futex and calls FUTEX_WAKE. This is the store->load
 * (Dekker) pattern, which needs a full fence on each side:
 *   F1 producer: publish (R1) ; fence ; load a_waiters
 *   F2 consumer: a_waiters++ ; fence ; re-check the ring
 * Either the producer sees the waiter, or the consumer sees the entry. The
 * consumer reads a_futex before its re-check, so a wake between the re-check
 * and FUTEX_WAIT makes the wait return at once. (TSan does not model fences;
 * this pattern can only miss a wake-up, never race on data.) */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>

#include "../runtime/prim.h"
#include "ring_impl.h"

#define SPIN_BEFORE_SLEEP_NS 20000u /* a futex wake costs about 30 us here */

void zri_waitq_notify(_Atomic uint32_t *futex, _Atomic uint32_t *waiters, _Atomic uint64_t *wakes)
{
	/* F1: pairs with F2 in zri_waitq_wait() */
	atomic_thread_fence(memory_order_seq_cst);
	/* relaxed: ordered by F1 */
	if (atomic_load_explicit(waiters, memory_order_relaxed) == 0)
		return;
	/* relaxed: the futex word is a counter that only needs to change */
	atomic_fetch_add_explicit(futex, 1, memory_order_relaxed);
	/* relaxed: statistics only */
	atomic_fetch_add_explicit(wakes, 1, memory_order_relaxed);
	zri_futex_wake(futex, INT_MAX);
}

void zri_ring_notify(struct zr_ring *r)
{
	if (r->inbox)
		zri_waitq_notify(&r->inbox->a_futex, &r->inbox->a_waiters, &r->inbox->a_wakes);
	else
		zri_waitq_notify(&r->hdr->a_futex, &r->hdr->a_waiters, &r->hdr->a_wakes);
}

static int spin_phase(const struct zri_waitq *q, zri_try_fn try, void *obj, uint64_t *out,
		      unsigned *prio, uint64_t start, uint64_t deadline)
{
	uint64_t spin_until = q->mode == ZR_WAIT_SPIN	      ? deadline
			      : q->mode == ZR_WAIT_SPIN_FUTEX ? start + SPIN_BEFORE_SLEEP_NS
							      : start;
	while (zri_now_ns() < spin_until) {
		for (int i = 0; i < 64; i++) {
			if (try(obj, out, prio) == 1)
				return 0;
			zri_cpu_relax();
		}
	}
	return -ETIMEDOUT;
}

/* One registered sleep. Returns 0 (got an entry), 1 (woken: try again),
 * -ETIMEDOUT, -EINTR or -ECANCELED (wake_all). */
static int sleep_once(const struct zri_waitq *q, zri_try_fn try, void *obj, uint64_t *out,
		      unsigned *prio, uint64_t deadline)
{
	/* relaxed: compared by the kernel in FUTEX_WAIT; F2 orders the re-check */
	uint32_t seq = atomic_load_explicit(q->futex, memory_order_relaxed);
	/* relaxed: only compared after the sleep to tell wake_all from a wake */
	uint32_t kicks = atomic_load_explicit(q->kicks, memory_order_relaxed);
	/* relaxed: ordered by F2 */
	atomic_fetch_add_explicit(q->waiters, 1, memory_order_relaxed);
	/* F2: pairs with F1 in zri_waitq_notify() */
	atomic_thread_fence(memory_order_seq_cst);
	int got = try(obj, out, prio);
	int rc = got == 1 ? 0 : 1;
	if (rc == 1) {
		uint64_t now = zri_now_ns();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
		} else {
			/* relaxed: statistics only */
			atomic_fetch_add_explicit(q->waits, 1, memory_order_relaxed);
			int64_t left = deadline == UINT64_MAX ? -1 : (int64_t)(deadline - now);
			if (got < 0 && (left < 0 || left > ZRI_BUSY_SLEEP_NS))
				left = ZRI_BUSY_SLEEP_NS; /* its holder may die: look again */
			int w = zri_futex_wait(q->futex, seq, left);
			rc = (w == -ETIMEDOUT && got < 0) ? 1 : w ? w : 1;
		}
	}
	/* relaxed: a count; a stale view only costs a spare wake */
	atomic_fetch_sub_explicit(q->waiters, 1, memory_order_relaxed);
	/* relaxed: see above */
	if (rc == 1 && atomic_load_explicit(q->kicks, memory_order_relaxed) != kicks)
		rc = -ECANCELED;
	return rc;
}

int zri_waitq_wait(const struct zri_waitq *q, zri_try_fn try, void *obj, uint64_t *out,
		   unsigned *prio, int64_t timeout_ns)
{
	if (try(obj, out, prio) == 1)
		return 0;
	if (timeout_ns == 0)
		return -ETIMEDOUT;
	uint64_t start = zri_now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
	if (spin_phase(q, try, obj, out, prio, start, deadline) == 0)
		return 0;
	if (q->mode == ZR_WAIT_SPIN)
		return -ETIMEDOUT;
	for (;;) {
		int rc = sleep_once(q, try, obj, out, prio, deadline);
		if (rc == 0)
			return 0;
		if (rc != 1 || zri_now_ns() >= deadline) /* timed out, interrupted, kicked */
			return try(obj, out, prio) == 1 ? 0 : rc == 1 ? -ETIMEDOUT : rc;
	}
}

void zri_waitq_kick(_Atomic uint32_t *futex, _Atomic uint32_t *kicks)
{
	/* relaxed: sleepers compare it after waking; the futex word change and
	 * FUTEX_WAKE below make them wake */
	atomic_fetch_add_explicit(kicks, 1, memory_order_relaxed);
	/* relaxed: the word only needs to change for sleepers to return */
	atomic_fetch_add_explicit(futex, 1, memory_order_relaxed);
	zri_futex_wake(futex, INT_MAX);
}

static int ring_try(void *obj, uint64_t *out, unsigned *prio)
{
	zr_ring *r = obj;
	(void)prio;
	if (r->kind == ZR_RING_MPMC)
		return zri_mpmc_dequeue_ex(r, out);
	return zri_spsc_dequeue(r, out) ? 1 : 0;
}

int zr_ring_dequeue_wait(zr_ring *r, uint64_t *out, int64_t timeout_ns)
{
	/* a level of an inbox is woken through the inbox's futex */
	struct zri_waitq q = {r->wait_mode, &r->hdr->a_futex, &r->hdr->a_waiters, &r->hdr->a_kicks,
			      &r->hdr->a_waits};
	if (r->inbox)
		q = (struct zri_waitq){r->inbox->wait_mode, &r->inbox->a_futex,
				       &r->inbox->a_waiters, &r->inbox->a_kicks,
				       &r->inbox->a_waits};
	return zri_waitq_wait(&q, ring_try, r, out, NULL, timeout_ns);
}

void zr_ring_wake_all(zr_ring *r)
{
	zri_waitq_kick(&r->hdr->a_futex, &r->hdr->a_kicks);
}
