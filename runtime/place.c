/* Pinning threads and binding arena memory with hwloc: what a spec asks
 * for, checked against the topology (place_topo.c), then bound. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "arena_impl.h"
#include "place_impl.h"
#include "zring/place.h"

/* zr_placement may be copied into shared memory: its layout is fixed. */
_Static_assert(sizeof(zr_placement) == 204, "zr_placement layout");
_Static_assert(_Alignof(zr_placement) == 4, "zr_placement alignment");
_Static_assert(offsetof(zr_placement, cpus) == 12, "zr_placement.cpus");
_Static_assert(offsetof(zr_placement, note) == 76, "zr_placement.note");

/* Is `idx` in `usable`? Else say whether it exists at all (in `all`). */
static int check_index(int idx, hwloc_const_bitmap_t all, hwloc_const_bitmap_t usable,
		       const char *what, int code, zr_diag *diag)
{
	char l[96];
	if (hwloc_bitmap_isset(usable, (unsigned)idx))
		return 0;
	if (!hwloc_bitmap_isset(all, (unsigned)idx)) {
		zri_place_list(l, sizeof(l), all);
		return zri_diag_set(diag, code, "%s %d does not exist: this machine has %ss %s",
				    what, idx, what, l);
	}
	zri_place_list(l, sizeof(l), usable);
	return zri_diag_set(diag, code,
			    "%s %d is not usable by this process (offline or outside its cgroup): "
			    "usable %ss %s",
			    what, idx, what, l);
}

static int want_cores(hwloc_topology_t t, const char *cores, hwloc_bitmap_t set, zr_diag *diag)
{
	int rc = zri_cpulist_parse(cores, set, diag);
	for (int c = hwloc_bitmap_first(set); rc == 0 && c >= 0; c = hwloc_bitmap_next(set, c))
		rc = check_index(c, hwloc_topology_get_complete_cpuset(t),
				 hwloc_topology_get_topology_cpuset(t), "cpu", -EINVAL, diag);
	return rc;
}

static int find_node(hwloc_topology_t t, int node, hwloc_obj_t *out, zr_diag *diag)
{
	if (node < 0)
		return zri_diag_set(diag, -EINVAL, "numa: %d is not a node number", node);
	int rc = check_index(node, hwloc_topology_get_complete_nodeset(t),
			     hwloc_topology_get_topology_nodeset(t), "NUMA node", ZR_ENODEV, diag);
	if (rc == 0)
		*out = hwloc_get_numanode_obj_by_os_index(t, (unsigned)node);
	return rc;
}

static int want_numa(hwloc_topology_t t, int node, hwloc_bitmap_t set, char *note, zr_diag *diag)
{
	hwloc_obj_t n;
	int rc = find_node(t, node, &n, diag);
	if (rc)
		return rc;
	if (hwloc_bitmap_iszero(n->cpuset))
		return zri_diag_set(diag, -EINVAL,
				    "NUMA node %d has no cpus usable here (memory only, or outside "
				    "this process's cgroup)",
				    node);
	hwloc_bitmap_copy(set, n->cpuset);
	snprintf(note, ZR_PLACE_NOTE_LEN, "numa: every cpu of node %d", node);
	return 0;
}

static int want_spread(hwloc_topology_t t, uint32_t idx, hwloc_bitmap_t set, char *note)
{
	hwloc_obj_type_t type = HWLOC_OBJ_CORE;
	int n = hwloc_get_nbobjs_by_type(t, type);
	if (n <= 0) { /* no core level on this platform: hardware threads */
		type = HWLOC_OBJ_PU;
		n = hwloc_get_nbobjs_by_type(t, type);
	}
	unsigned i = idx % (unsigned)n;
	hwloc_obj_t core = hwloc_get_obj_by_type(t, type, i);
	hwloc_bitmap_copy(set, core->cpuset);
	hwloc_bitmap_singlify(set); /* its first hardware thread */
	int cpu = hwloc_bitmap_first(set);
	if (idx < (unsigned)n)
		snprintf(note, ZR_PLACE_NOTE_LEN, "spread: agent %u on core %u of %d (cpu %d)", idx,
			 i, n, cpu);
	else
		snprintf(note, ZR_PLACE_NOTE_LEN,
			 "spread: agent %u wraps: %u or more agents on %d core%s, core %u "
			 "shared (cpu %d)",
			 idx, idx + 1, n, n == 1 ? "" : "s", i, cpu);
	return 0;
}

static int want_gpu(hwloc_topology_t t, int gpu, hwloc_bitmap_t set, char *note, zr_diag *diag)
{
	struct zri_gpus g;
	char b[16], l[64];
	if (gpu < 0)
		return zri_diag_set(diag, -EINVAL, "gpu: %d is not a GPU number", gpu);
	hwloc_obj_t d = zri_place_gpu(t, gpu, &g);
	if (!g.count && !g.npci)
		return zri_diag_set(diag, ZR_ENODEV,
				    "gpu %d: no NVIDIA GPU on this machine (hwloc saw no PCI "
				    "device at all: is /sys/bus/pci readable?)",
				    gpu);
	if (!g.count)
		return zri_diag_set(diag, ZR_ENODEV,
				    "gpu %d: no NVIDIA GPU on this machine (hwloc saw %d PCI "
				    "devices, none of vendor 0x10de with a display class)",
				    gpu, g.npci);
	if (!d)
		return zri_diag_set(diag, ZR_ENODEV,
				    "gpu %d does not exist: found %d NVIDIA GPU%s (%s)", gpu,
				    g.count, g.count == 1 ? "" : "s", g.list);
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t, d);
	hwloc_bitmap_copy(set, anc->cpuset);
	zri_place_bus_id(b, d);
	zri_place_list(l, sizeof(l), set);
	snprintf(note, ZR_PLACE_NOTE_LEN, "gpu %d (%s): %s %s", gpu, b,
		 anc->type == HWLOC_OBJ_MACHINE ? "locality unknown, every cpu" : "near cpus", l);
	return 0;
}

/* Bind the calling thread to `set` and describe the binding now in force. */
static int bind_thread(hwloc_topology_t t, hwloc_bitmap_t set, zr_placement *p, zr_diag *diag)
{
	if (p->kind != ZR_PLACE_NONE && hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD) != 0) {
		int e = errno;
		char l[64];
		zri_place_list(l, sizeof(l), set);
		return zri_diag_set(diag, e == ENOMEM ? -ENOMEM : ZR_ENOTSUP,
				    "the OS refused to bind this thread to cpus %s: %s", l,
				    strerror(e));
	}
	/* read back: the kernel's view, e.g. after a cgroup restriction */
	if (hwloc_get_cpubind(t, set, HWLOC_CPUBIND_THREAD) != 0 && p->kind == ZR_PLACE_NONE)
		return zri_diag_set(diag, ZR_ENOTSUP, "cannot read this thread's binding: %s",
				    strerror(errno));
	int w = hwloc_bitmap_weight(set);
	p->ncpus = w > 0 ? (uint32_t)w : 0;
	p->numa_node = zri_place_node_of(t, set);
	zri_place_list(p->cpus, sizeof(p->cpus), set);
	return 0;
}

int zr_place_self(const zr_place_spec *spec, zr_placement *out, zr_diag *diag)
{
	hwloc_topology_t t;
	if (!spec)
		return zri_diag_set(diag, -EINVAL, "placement: no spec");
	int rc = zri_place_topo(&t, diag);
	if (rc)
		return rc;
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (!set)
		return zri_diag_set(diag, -ENOMEM, "placement: no memory for a cpu set");
	zr_placement p = {.kind = spec->kind, .numa_node = -1};
	switch ((enum zr_place_kind)spec->kind) {
	case ZR_PLACE_NONE: snprintf(p.note, sizeof(p.note), "none: binding left as it was"); break;
	case ZR_PLACE_CORES:
		rc = want_cores(t, spec->cores, set, diag);
		snprintf(p.note, sizeof(p.note), "cores: exactly the cpus listed");
		break;
	case ZR_PLACE_NUMA: rc = want_numa(t, spec->numa_node, set, p.note, diag); break;
	case ZR_PLACE_SPREAD: rc = want_spread(t, spec->spread_index, set, p.note); break;
	case ZR_PLACE_NEAR_GPU: rc = want_gpu(t, spec->gpu, set, p.note, diag); break;
	default: rc = zri_diag_set(diag, -EINVAL, "placement: unknown kind %u", spec->kind); break;
	}
	if (rc == 0)
		rc = bind_thread(t, set, &p, diag);
	if (rc == 0 && out)
		*out = p;
	hwloc_bitmap_free(set);
	return rc;
}

int zr_arena_bind_node(zr_arena *a, int node, zr_diag *diag)
{
	hwloc_topology_t t;
	if (!a)
		return zri_diag_set(diag, -EINVAL, "bind: no arena");
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	if (info.readonly)
		return zri_diag_set(diag, ZR_EREADONLY,
				    "bind: arena %s is attached read-only; inspection must not "
				    "move its memory",
				    info.name);
	int rc = zri_place_topo(&t, diag);
	if (rc)
		return rc;
	hwloc_obj_t n;
	if ((rc = find_node(t, node, &n, diag)))
		return rc;
	if (hwloc_set_area_membind(t, zr_arena_base(a), info.size, n->nodeset, HWLOC_MEMBIND_BIND,
				   HWLOC_MEMBIND_MIGRATE | HWLOC_MEMBIND_BYNODESET) != 0) {
		int e = errno;
		return zri_diag_set(diag, e == ENOMEM ? -ENOMEM : ZR_ENOTSUP,
				    "the OS refused to bind the %zu bytes of arena %s to NUMA node "
				    "%d: %s",
				    info.size, info.name, node, strerror(e));
	}
	return 0;
}
