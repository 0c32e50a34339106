/* CPU placement: pin an agent's thread by core list, NUMA node, spread over
 * physical cores or near a GPU, and bind an arena's pages to a NUMA node.
 *
 * Built on hwloc. The machine's topology is loaded once per process, on the
 * first call that needs it, with PCI discovery on (GPUs are found through
 * it), and never reloaded: cpus or GPUs hot-plugged later are not seen. The
 * topology is restricted to what this process may use (its cgroup cpuset):
 * a cpu that exists but is outside it is reported as not usable.
 *
 * Cpu numbers are the operating system's (as in /proc/cpuinfo, taskset -c
 * and /sys/devices/system/cpu/cpuN), NUMA nodes likewise (numactl -H). GPUs
 * are numbered in PCI bus order, as nvidia-smi numbers them; CUDA numbers
 * them the same way only with CUDA_DEVICE_ORDER=PCI_BUS_ID, and
 * CUDA_VISIBLE_DEVICES is not applied here. */
#ifndef ZRING_PLACE_H
#define ZRING_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "arena.h"
#include "err.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zr_place_kind {
	ZR_PLACE_NONE = 0,     /* leave the binding as it is; report it */
	ZR_PLACE_CORES = 1,    /* the cpus of a list */
	ZR_PLACE_NUMA = 2,     /* every cpu of one NUMA node */
	ZR_PLACE_SPREAD = 3,   /* one physical core per agent */
	ZR_PLACE_NEAR_GPU = 4, /* the cpus closest to an NVIDIA GPU */
};

/** What placement to ask for. Only the field of `kind` is read. */
typedef struct zr_place_spec {
	uint32_t kind;	       /* zr_place_kind */
	const char *cores;     /* ZR_PLACE_CORES: OS cpu numbers, "0,2-3" (not owned) */
	int32_t numa_node;     /* ZR_PLACE_NUMA: OS index of the node */
	uint32_t spread_index; /* ZR_PLACE_SPREAD: this agent's index among those spread */
	int32_t gpu;	       /* ZR_PLACE_NEAR_GPU: the n-th NVIDIA GPU in PCI bus order */
} zr_place_spec;

#define ZR_PLACE_CPUS_LEN 64  /* zr_placement.cpus, with the NUL */
#define ZR_PLACE_NOTE_LEN 128 /* zr_placement.note, with the NUL */

/** What a placement did. Plain data of fixed layout (204 bytes, 4-byte
 * aligned, no pointers): it may be copied into shared memory. */
typedef struct zr_placement {
	uint32_t kind;		      /* what was asked (zr_place_kind) */
	int32_t numa_node;	      /* node of the cpus bound to; -1: several or unknown */
	uint32_t ncpus;		      /* cpus in the binding */
	char cpus[ZR_PLACE_CPUS_LEN]; /* the binding, "0-1"; ends in "..." if cut */
	char note[ZR_PLACE_NOTE_LEN]; /* one line: what was done, or how it differs */
} zr_placement;

/** Recommended size of the buffer given to zr_place_describe(). */
#define ZR_PLACE_DESCRIBE_LEN 256

/**
 * Pin the calling thread as `spec` says.
 *
 * ZR_PLACE_CORES binds to exactly the listed cpus. ZR_PLACE_NUMA binds to
 * every cpu of the node. ZR_PLACE_SPREAD gives agent i the physical core
 * i mod ncores, in hwloc's logical order (neighbouring cores first), and
 * binds it to the first hardware thread of that core, so no two agents
 * share a core through SMT siblings until there are more agents than cores;
 * beyond that the index wraps and the note says which core is shared.
 * ZR_PLACE_NEAR_GPU binds to the cpus of the GPU's nearest non-I/O ancestor
 * in the topology (usually its package, or the group of cpus of its NUMA
 * node); where the firmware gives the device no locality that is every
 * cpu, and the note says so.
 * ZR_PLACE_NONE changes nothing and reports the current binding.
 *
 * Only the calling thread is bound; threads it creates afterwards inherit
 * the binding. Memory policy is not changed (first touch then allocates on
 * the node of the cpu that touches).
 *
 * @param[in]  spec  From zr_place_parse() or filled by hand.
 * @param[out] out   Optional; set on success only.
 * @param[out] diag  Optional: the exact reason of a failure.
 * Safety:    any thread; binds only the caller.
 * Ownership: nothing is kept; spec->cores is read during the call only.
 * Blocking:  the first call in a process loads the topology (reads /sys:
 *            milliseconds, tens of them on large machines); then never.
 * @return 0; -EINVAL (malformed spec, unknown kind, a cpu that does not
 *         exist or is not usable by this process, a NUMA node without
 *         cpus: the message names what exists); ZR_ENODEV (no such NUMA
 *         node or GPU: the message lists those that exist); ZR_ENOTSUP (the
 *         OS refused the binding: the message has its reason, or hwloc's
 *         library does not match the headers zring was built with);
 *         -ENOMEM; -errno (the topology could not be loaded).
 */
ZR_API ZR_NODISCARD int zr_place_self(const zr_place_spec *spec, zr_placement *out, zr_diag *diag);

/**
 * Parse a placement from a command line or the environment:
 * "none", "cores:LIST" (LIST as in taskset -c: "0,2-3"), "numa:N",
 * "spread:N" or "gpu:N", N decimal. Only the syntax is checked here;
 * whether the cpus, node or GPU exist is checked by zr_place_self().
 * @param[in]  text  NUL-terminated; must outlive *out when it is "cores:",
 *                   since out->cores points into it.
 * @param[out] out   Set on success only.
 * @param[out] diag  Optional: what is wrong and where.
 * Safety: any thread. Blocking: never.
 * @return 0 or -EINVAL.
 */
ZR_API ZR_NODISCARD int zr_place_parse(const char *text, zr_place_spec *out, zr_diag *diag);

/**
 * Bind the pages of an arena's mapping to NUMA node `node`, moving those
 * already placed elsewhere (hwloc_set_area_membind(), BIND | MIGRATE).
 *
 * For arenas in /dev/shm and on hugetlbfs the policy is kept by the shared
 * segment itself, so pages faulted later by any process follow it. Pages
 * already mapped by other processes as well are not moved: call this right
 * after creating the arena, before others attach (with ZR_ARENA_NO_PREFAULT
 * only the pages written at creation need moving). On an ordinary file
 * only this process's mapping gets the policy.
 *
 * @param[in]  a     A read-write attachment.
 * @param[in]  node  OS index of a NUMA node with memory.
 * @param[out] diag  Optional: the exact reason of a failure.
 * Safety:    any thread, concurrently with users of the arena (their
 *            accesses may wait while a page moves).
 * Blocking:  copies every page placed on another node.
 * @return 0, -EINVAL (a NULL arena or a negative node), ZR_EREADONLY (an
 *         inspection must not change placement), ZR_ENODEV (no such node:
 *         the message lists those that exist), ZR_ENOTSUP (the OS refused:
 *         the message has its reason), -ENOMEM, -errno (topology).
 */
ZR_API ZR_NODISCARD int zr_arena_bind_node(zr_arena *a, int node, zr_diag *diag);

/**
 * Describe the machine in one line: packages, cores, hardware threads and
 * the cpus usable here, NUMA nodes, and the NVIDIA GPUs with their node,
 * e.g. "1 package, 2 cores, 2 PUs (cpus 0-1), 1 NUMA node (0), 0 NVIDIA GPUs".
 * @param[out] buf  Always NUL-terminated when cap > 0; a line that does not
 *                  fit ends in "...". On a topology failure it receives the
 *                  reason instead.
 * @param[in]  cap  Bytes in buf; ZR_PLACE_DESCRIBE_LEN is enough for most
 *                  machines.
 * Safety: any thread. Blocking: as zr_place_self().
 * @return 0, -EINVAL (buf NULL or cap 0), ZR_ENOTSUP or -errno (the
 *         topology could not be loaded).
 */
ZR_API ZR_NODISCARD int zr_place_describe(char *buf, size_t cap);

/**
 * Pin the calling thread (which must be the agent's) as zr_place_self()
 * does, and record the placement in the agent table for tools.
 * @return as zr_place_self().
 */
ZR_API ZR_NODISCARD int zr_agent_place(zr_agent *ag, const zr_place_spec *spec, zr_placement *out,
				       zr_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
