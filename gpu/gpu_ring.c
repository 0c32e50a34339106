/* Kernels' views of SPSC rings (zring/gpu_device.h holds the code that
 * uses them). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "../rings/ring_impl.h"
#include "gpu_impl.h"

int zr_gpu_ring_view(const zr_gpu *g, zr_ring *r, uint32_t role, zr_gpu_ring *out, zr_diag *diag)
{
	memset(out, 0, sizeof(*out));
	int rc = zri_gpu_check_pid(g, diag);
	if (rc)
		return rc;
	if (r->kind != ZR_RING_SPSC)
		return zri_gpu_fail(diag, -EINVAL,
				    "ring %s is not SPSC: a GPU cannot take part in an MPMC ring "
				    "(it would need atomic read-modify-write over PCIe)",
				    zr_ring_name(r));
	if (role != ZR_GPU_CONSUMER && role != ZR_GPU_PRODUCER)
		return zri_gpu_fail(diag, -EINVAL, "role %u is neither consumer nor producer",
				    role);
	if (role == ZR_GPU_PRODUCER && r->wait_mode != ZR_WAIT_SPIN)
		return zri_gpu_fail(
			diag, -EINVAL,
			"ring %s sleeps on a futex (wait mode %u): a kernel cannot wake "
			"its CPU consumer; create it with ZR_WAIT_SPIN",
			zr_ring_name(r), r->wait_mode);
	if (r->self == 0)
		return zri_gpu_fail(diag, ZR_EREADONLY, "ring %s is attached read-only",
				    zr_ring_name(r));
	struct zri_ring *h = r->hdr;
	void *tail, *head, *slots;
	if ((rc = zri_gpu_to_dev(g, &h->a_tail, 8, &tail)) ||
	    (rc = zri_gpu_to_dev(g, &h->a_head, 8, &head)) ||
	    (rc = zri_gpu_to_dev(g, r->slots, (uint64_t)r->capacity * 8, &slots)))
		return zri_gpu_fail(diag, rc, "ring %s lies outside the registered arena",
				    zr_ring_name(r));
	out->tail = tail;
	out->head = head;
	out->slots = slots;
	out->mask = r->mask;
	out->role = role;
	/* The view starts where the ring is now. The other side may move on
	 * meanwhile; `seen` is only a bound that the device code refreshes. */
	if (role == ZR_GPU_CONSUMER) {
		/* A1: pairs with R1 in zri_spsc_enqueue(); the entries below are written */
		out->seen = atomic_load_explicit(&h->a_tail, memory_order_acquire);
		/* relaxed: the kernel will be the only writer of the head */
		out->pos = atomic_load_explicit(&h->a_head, memory_order_relaxed);
	} else {
		/* A2: pairs with R2 in zri_spsc_dequeue(); slots below it are free */
		out->seen = atomic_load_explicit(&h->a_head, memory_order_acquire);
		/* relaxed: the kernel will be the only writer of the tail */
		out->pos = atomic_load_explicit(&h->a_tail, memory_order_relaxed);
	}
	uint64_t gap = role == ZR_GPU_CONSUMER ? out->seen - out->pos : out->pos - out->seen;
	if (gap > r->capacity)
		return zri_gpu_fail(diag, ZR_ECORRUPT,
				    "ring %s: head and tail are more than a lap apart",
				    zr_ring_name(r));
	return 0;
}
