/* GPU agents: CUDA kernels that read payloads in place in the arena.
 *
 * A GPU-agent process opens a zr_gpu handle on its attached arena: the
 * whole mapping is registered with cudaHostRegister (portable, mapped), so
 * a kernel dereferences payloads where the CPU producer wrote them, with
 * no cudaMemcpy. Two ways to feed kernels:
 *
 *   host proxy   a zr_gpu_worker claims jobs for an agent, launches your
 *                kernel on a batch (zr_gpu_item descriptors holding device
 *                addresses of payloads and result payloads) and completes
 *                the jobs from what the kernel wrote;
 *   persistent   your kernel polls an SPSC ring in host memory itself
 *                (zring/gpu_device.h) and publishes completions into
 *                another one; zr_gpu_ring_view() gives it the ring.
 *
 * The module lives in its own library, zring_gpu (link zring::zring_gpu),
 * so CPU-only agents never load the CUDA runtime. Built without the CUDA
 * toolkit, zr_gpu_open() returns ZR_ENOTSUP; built with it and run where
 * no driver or device is, ZR_ENODEV. The diag says which. Everything that
 * takes a NULL zr_gpu also works without a GPU: rings and workers then
 * hand out host addresses and the "kernel" runs on the CPU (a fallback
 * path and what the CPU side of the tests runs).
 *
 * Rules a GPU agent must follow:
 *  - Start GPU agents by exec (posix_spawn, fork + exec), never by forking
 *    a process that already called into CUDA: the child inherits a CUDA
 *    context it cannot use. Every call through a handle opened before a
 *    fork returns ZR_ENOTSUP in the child.
 *  - Only tmpfs (/dev/shm, memfd) and hugetlbfs arenas can be registered:
 *    Linux refuses long-term pins of other file mappings. zr_gpu_open()
 *    checks the filesystem first and says so.
 *  - Call zr_gpu_close() before zr_arena_close(): it unregisters the
 *    mapping while it still exists.
 *  - CPUs and the GPU never do atomic read-modify-write on one word (PCIe
 *    gives no host-native atomics). A ring used by a kernel is SPSC, whose
 *    head and tail each have one writer; see zring/gpu_device.h. */
#ifndef ZRING_GPU_H
#define ZRING_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "arena.h"
#include "err.h"
#include "export.h"
#include "ring.h"
#include "slab.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zr_gpu zr_gpu;
typedef struct zr_gpu_worker zr_gpu_worker;

/* How a host thread waits for the GPU (cudaSetDeviceFlags). */
enum zr_gpu_sync {
	ZR_GPU_SYNC_SPIN = 0,  /* lowest latency; burns the waiting core */
	ZR_GPU_SYNC_YIELD = 1, /* spin with sched_yield */
	ZR_GPU_SYNC_BLOCK = 2, /* sleep: frees the core, adds a wake-up (tens of us) */
};

typedef struct zr_gpu_config {
	int device;	      /* CUDA device ordinal (default 0) */
	uint32_t sync;	      /* zr_gpu_sync (default SPIN) */
	uint64_t piece_bytes; /* register the arena in pieces of at most this (default 1 GiB) */
} zr_gpu_config;

/** Defaults: device 0, spin, pieces of 1 GiB. Blocking: never. */
ZR_API void zr_gpu_config_init(zr_gpu_config *cfg);

/**
 * Register the mapping of an attached arena with the GPU.
 * @param[in]  a    A read-write or read-only attachment on tmpfs or hugetlbfs.
 * @param[in]  cfg  NULL takes the defaults.
 * @param[out] out  Set on success only.
 * @param[out] diag Optional: why not, naming the CUDA call and its error.
 * Ownership: *out is process-local; release with zr_gpu_close() before
 *            closing the arena.
 * Blocking: yes: creates the CUDA context on first use (hundreds of ms)
 *           and pins every page of the arena.
 * @return 0; ZR_ENOTSUP (built without CUDA, the filesystem cannot be
 *         pinned, or the device cannot map host memory); ZR_ENODEV (no
 *         driver, no device, or no such ordinal); -EEXIST (this mapping is
 *         already registered); -ENOMEM; ZR_EGPU (another CUDA failure).
 */
ZR_API ZR_NODISCARD int zr_gpu_open(zr_arena *a, const zr_gpu_config *cfg, zr_gpu **out,
				    zr_diag *diag);

/** Unregister and free. NULL is accepted. @return 0 or ZR_EGPU (the
 * handle is freed anyway). */
ZR_API int zr_gpu_close(zr_gpu *g);

/** Number of CUDA devices visible (0 without a driver or a CUDA build). */
ZR_API int zr_gpu_device_count(void);

/** What zr_gpu_open() found, copied out. */
typedef struct zr_gpu_info {
	int device;
	char name[96]; /* e.g. "NVIDIA H100 80GB HBM3" */
	int cc_major;  /* compute capability */
	int cc_minor;
	uint32_t pieces;   /* cudaHostRegister calls made */
	bool same_address; /* kernels use the CPU's addresses (CanUseHostPointerForRegisteredMem) */
	uint64_t registered;  /* bytes */
	uint64_t register_ns; /* time taken by the registration */
} zr_gpu_info;

ZR_API void zr_gpu_info_get(const zr_gpu *g, zr_gpu_info *out);

/**
 * Device address of `len` bytes at `off` from the arena base.
 * @return 0, -ERANGE (outside the arena, or across two registered pieces
 *         that the device does not see contiguously), -EINVAL (g NULL),
 *         ZR_ENOTSUP (forked).
 * Blocking: never.
 */
ZR_API ZR_NODISCARD int zr_gpu_offset_ptr(const zr_gpu *g, uint64_t off, uint64_t len, void **dev);

/** Device address of a payload and its usable size. Same as zr_gpu_offset_ptr()
 * plus zr_payload_resolve()'s errors (ZR_ESTALE, ZR_EDOUBLEFREE, -EINVAL). */
ZR_API ZR_NODISCARD int zr_gpu_payload_ptr(const zr_gpu *g, zr_payload p, void **dev, size_t *size);

/* ---- rings a kernel reads or writes (persistent kernels) ------------------ */

enum zr_gpu_role {
	ZR_GPU_CONSUMER = 1, /* the kernel dequeues; a CPU process enqueues */
	ZR_GPU_PRODUCER = 2, /* the kernel enqueues; a CPU process dequeues */
};

/* A ring as a kernel sees it: plain data, passed to the kernel by value or
 * kept in device memory. Fill with zr_gpu_ring_view(); use with the
 * functions of zring/gpu_device.h. One kernel thread owns a view at a time.
 * pos and seen live in the view, so a kernel that got it by value advances
 * its own copy: make a fresh view for each launch. */
typedef struct zr_gpu_ring {
	uint64_t *tail;	 /* written by the producer only */
	uint64_t *head;	 /* written by the consumer only */
	uint64_t *slots; /* capacity entries */
	uint64_t pos;	 /* the owner's own index (its head or tail) */
	uint64_t seen;	 /* the other side's index as last read */
	uint32_t mask;
	uint32_t role; /* zr_gpu_role */
} zr_gpu_ring;

/* The arena as a kernel sees it, for bounds-checked access to offsets read
 * from rings (zr_gpu_at() in zring/gpu_device.h). */
typedef struct zr_gpu_span {
	uint8_t *base;
	uint64_t size;
} zr_gpu_span;

/**
 * Make a kernel's view of an SPSC ring.
 * @param[in] g     NULL: host addresses (a CPU thread runs the device code).
 * @param[in] role  ZR_GPU_CONSUMER or ZR_GPU_PRODUCER: the kernel's side.
 *                  The other side is a CPU process using zr_ring_enqueue()
 *                  or zr_ring_dequeue(); one view per side at a time.
 * The CPU consumer of a ring the kernel produces must poll (ZR_WAIT_SPIN):
 * a kernel cannot wake a futex, so a ring with another wait mode is refused.
 * @return 0, -EINVAL (not SPSC, bad role, a sleeping wait mode for
 *         ZR_GPU_PRODUCER), ZR_EREADONLY, -ERANGE, ZR_ENOTSUP (forked).
 */
ZR_API ZR_NODISCARD int zr_gpu_ring_view(const zr_gpu *g, zr_ring *r, uint32_t role,
					 zr_gpu_ring *out, zr_diag *diag);

/** The whole arena as the kernel sees it. @return 0, -ERANGE (registered in
 * pieces the device does not see contiguously), ZR_ENOTSUP (forked). */
ZR_API ZR_NODISCARD int zr_gpu_span_get(const zr_gpu *g, const zr_arena *a, zr_gpu_span *out);

/* ---- host-proxy workers ---------------------------------------------------- */

/* One job of a batch, in memory the kernel reads and writes (pinned host
 * memory mapped for the device). Addresses are device addresses. */
typedef struct zr_gpu_item {
	const void *in;	  /* the payload, read in place; NULL if the job has none */
	void *out;	  /* result payload of out_cap bytes; NULL if result_bytes is 0 */
	uint64_t in_len;  /* payload bytes */
	uint64_t out_cap; /* bytes available at out */
	uint64_t out_len; /* kernel: result bytes written (<= out_cap) */
	uint64_t job;	  /* zr_job_id, for the kernel's information */
	uint32_t type;	  /* job type */
	int32_t status;	  /* kernel: 0 done; else the job fails (and is retried) */
} zr_gpu_item;

/**
 * Launch the kernel on `n` items (n >= 1) on `stream` (a cudaStream_t; NULL
 * on the CPU path, where the function does the work itself). Must not
 * synchronise: the worker does. Items arrive with out_len 0 and status 0.
 * @return 0, or non-zero to fail the whole batch (the jobs are retried).
 */
typedef int (*zr_gpu_launch_fn)(void *user, zr_gpu_item *items, unsigned n, void *stream);

typedef struct zr_gpu_worker_config {
	zr_gpu_launch_fn launch; /* required */
	void *user;		 /* passed to launch */
	uint32_t batch;		 /* most jobs per launch (default 64, at most 4096) */
	uint64_t result_bytes;	 /* result payload allocated per job; 0: none */
	int64_t wait_ns;	 /* how long a step waits for its first job (default 1 ms) */
	uint64_t gather_ns;	 /* then how long it waits for more to fill the batch (default 0) */
} zr_gpu_worker_config;

typedef struct zr_gpu_worker_stats {
	uint64_t batches;	/* launches */
	uint64_t jobs;		/* jobs launched */
	uint64_t completed;	/* completions recorded */
	uint64_t failed;	/* jobs failed: kernel status, launch error, bad result length */
	uint64_t rejected;	/* jobs a GPU cannot read in place: compressed or blob payloads */
	uint64_t lost;		/* completions refused: lease ran out or cancelled meanwhile */
	uint64_t gpu_ns;	/* launch to end of synchronisation, summed */
	uint64_t largest_batch; /* most jobs in one launch */
} zr_gpu_worker_stats;

ZR_API void zr_gpu_worker_config_init(zr_gpu_worker_config *cfg, zr_gpu_launch_fn launch,
				      void *user);

/**
 * Make a worker that feeds agent `ag`'s jobs to a kernel.
 * @param[in] g  NULL: the CPU path (items hold host addresses, no stream).
 * Ownership: *out is process-local and used by the agent's thread only.
 * Blocking: creates a CUDA stream and allocates pinned memory.
 * @return 0, -EINVAL (no launch, batch 0 or too large), -ENOMEM, ZR_ENOTSUP
 *         (forked), ZR_EGPU.
 */
ZR_API ZR_NODISCARD int zr_gpu_worker_create(zr_gpu *g, zr_agent *ag,
					     const zr_gpu_worker_config *cfg, zr_gpu_worker **out,
					     zr_diag *diag);
ZR_API void zr_gpu_worker_destroy(zr_gpu_worker *w);

/**
 * One batch: claim up to `batch` jobs (waiting wait_ns for the first and
 * gather_ns for the rest), allocate their result payloads, launch, wait for
 * the GPU, then complete each job whose item says status 0 with its result
 * (out_len bytes) and fail the others with a retry. Compressed and blob
 * payloads cannot be read in place: those jobs fail for good, counted in
 * `rejected`.
 * Blocking: yes, up to wait_ns + gather_ns plus the kernel's run time.
 * @return jobs finished (0: none was pending), or a negative error: ZR_EGPU
 *         (the launch or the kernel failed; the batch's jobs were failed
 *         with a retry; after a sticky error such as an illegal address
 *         the process must exit, as CUDA requires), -ENOMEM (no result
 *         payloads; the jobs were failed with a retry), ZR_ENOTSUP (forked).
 */
ZR_API ZR_NODISCARD int zr_gpu_worker_step(zr_gpu_worker *w, zr_diag *diag);

/**
 * Run steps until *stop becomes non-zero (read with an acquire load; set it
 * with an atomic or __atomic store) or a step fails; heartbeats the agent
 * between steps.
 * @return 0 when stopped, or the failing step's error.
 */
ZR_API ZR_NODISCARD int zr_gpu_worker_run(zr_gpu_worker *w, const int *stop, zr_diag *diag);

ZR_API void zr_gpu_worker_stat(const zr_gpu_worker *w, zr_gpu_worker_stats *out);

#ifdef __cplusplus
}
#endif
#endif
