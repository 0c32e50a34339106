/* Internals shared by the placement files: place_topo.c (the topology and
 * what is in it), place_parse.c (specs from text) and place.c (binding). */
#ifndef ZR_PLACE_IMPL_H
#define ZR_PLACE_IMPL_H

#include <stddef.h>

#include <hwloc.h>

#include "zring/err.h"

/* Largest cpu number a list may name (Linux's NR_CPUS is at most 8192). */
#define ZRI_CPU_MAX 65535u

/* The process's topology, loaded on the first call (with important PCI
 * devices). Returns 0, or the load failure (same code every call) + diag. */
int zri_place_topo(hwloc_topology_t *out, zr_diag *diag);

/* `set` as a list, "0,2-3"; when it does not fit, cut after a ',' and
 * ended with "...". cap >= 8. */
void zri_place_list(char *buf, size_t cap, hwloc_const_bitmap_t set);

/* OS index of the one NUMA node whose cpus meet `set`; -1 if none or several. */
int zri_place_node_of(hwloc_topology_t t, hwloc_const_cpuset_t set);

/* PCI address of a PCI device object, "0000:1b:00.0". */
void zri_place_bus_id(char buf[16], hwloc_obj_t d);

/* The NVIDIA GPUs (vendor 0x10de, display class) in PCI bus order. */
struct zri_gpus {
	int count;     /* GPUs found */
	int npci;      /* PCI devices hwloc kept */
	char list[96]; /* "0000:1b:00.0 node 0, ..." */
};

/* The n-th GPU, or NULL (n < 0 just counts); *g describes all of them. */
hwloc_obj_t zri_place_gpu(hwloc_topology_t t, int n, struct zri_gpus *g);

/* Parse a cpu list, "0,2-3" (the syntax of taskset -c and of /sys cpulist
 * files), into `set` (NULL: check the syntax only). Returns 0, -EINVAL or
 * -ENOMEM, with the reason in diag. */
int zri_cpulist_parse(const char *s, hwloc_bitmap_t set, zr_diag *diag);

#endif
