/* The machine as hwloc sees it: one topology per process, the NVIDIA GPUs
 * in it, and a one-line description.
 *
 * The topology is loaded on first use under pthread_once and then only
 * read (hwloc allows concurrent readers). It is never destroyed: it lives
 * as long as the process, like the bindings it serves. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "arena_impl.h"
#include "place_impl.h"
#include "zring/place.h"

#define NVIDIA_VENDOR 0x10de
#define PCI_CLASS_DISPLAY 0x03 /* high byte of the class: VGA, XGA, 3D controller */

static pthread_once_t topo_once = PTHREAD_ONCE_INIT;
static hwloc_topology_t topo;
static int topo_rc;
static char topo_msg[160];

static void topo_load(void)
{
	unsigned v = hwloc_get_api_version();
	if ((v >> 16) != (HWLOC_API_VERSION >> 16)) {
		topo_rc = ZR_ENOTSUP;
		snprintf(topo_msg, sizeof(topo_msg),
			 "the hwloc library has API %#x, zring was built for %#x", v,
			 (unsigned)HWLOC_API_VERSION);
		return;
	}
	hwloc_topology_t t;
	if (hwloc_topology_init(&t) != 0) {
		topo_rc = errno ? -errno : -ENOMEM;
		snprintf(topo_msg, sizeof(topo_msg), "hwloc could not start: %s",
			 strerror(-topo_rc));
		return;
	}
	/* GPUs, NICs and other PCI devices that matter; bridges dropped */
	if (hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) != 0 ||
	    hwloc_topology_load(t) != 0) {
		topo_rc = errno ? -errno : -EIO;
		snprintf(topo_msg, sizeof(topo_msg),
			 "hwloc could not load the machine topology: %s", strerror(-topo_rc));
		hwloc_topology_destroy(t);
		return;
	}
	topo = t;
}

int zri_place_topo(hwloc_topology_t *out, zr_diag *diag)
{
	pthread_once(&topo_once, topo_load);
	if (topo_rc)
		return zri_diag_set(diag, topo_rc, "%s", topo_msg);
	*out = topo;
	return 0;
}

void zri_place_list(char *buf, size_t cap, hwloc_const_bitmap_t set)
{
	int n = hwloc_bitmap_list_snprintf(buf, cap, set);
	if (n < 0 || (size_t)n < cap || cap < 8)
		return;
	size_t end = cap - 4;
	while (end > 0 && buf[end - 1] != ',')
		end--;
	memcpy(buf + (end ? end : cap - 4), "...", 4);
}

int zri_place_node_of(hwloc_topology_t t, hwloc_const_cpuset_t set)
{
	int found = -1;
	for (hwloc_obj_t n = NULL; (n = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, n));) {
		if (!hwloc_bitmap_intersects(n->cpuset, set))
			continue;
		if (found >= 0)
			return -1;
		found = (int)n->os_index;
	}
	return found;
}

void zri_place_bus_id(char buf[16], hwloc_obj_t d)
{
	const struct hwloc_pcidev_attr_s *p = &d->attr->pcidev;
	snprintf(buf, 16, "%04x:%02x:%02x.%x", p->domain & 0xffffu, p->bus, p->dev, p->func);
}

hwloc_obj_t zri_place_gpu(hwloc_topology_t t, int n, struct zri_gpus *g)
{
	hwloc_obj_t hit = NULL;
	memset(g, 0, sizeof(*g));
	for (hwloc_obj_t d = NULL; (d = hwloc_get_next_pcidev(t, d));) {
		g->npci++;
		if (d->attr->pcidev.vendor_id != NVIDIA_VENDOR ||
		    (d->attr->pcidev.class_id >> 8) != PCI_CLASS_DISPLAY)
			continue;
		if (g->count == n)
			hit = d;
		char b[16];
		zri_place_bus_id(b, d);
		int node = zri_place_node_of(t, hwloc_get_non_io_ancestor_obj(t, d)->cpuset);
		char where[24] = "";
		if (node >= 0)
			snprintf(where, sizeof(where), " node %d", node);
		size_t len = strlen(g->list);
		if (len + 32 < sizeof(g->list))
			snprintf(g->list + len, sizeof(g->list) - len, "%s%s%s", len ? ", " : "", b,
				 where);
		else if (len + 4 < sizeof(g->list) && !strstr(g->list, "..."))
			memcpy(g->list + len, "...", 4);
		g->count++;
	}
	return hit;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

int zr_place_describe(char *buf, size_t cap)
{
	hwloc_topology_t t;
	zr_diag d;
	if (!buf || !cap)
		return -EINVAL;
	int rc = zri_place_topo(&t, &d);
	if (rc) {
		snprintf(buf, cap, "%s", d.msg);
		return rc;
	}
	char cpus[64], nodes[64];
	struct zri_gpus g;
	int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
	int ncore = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
	int npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
	int nnode = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
	zri_place_list(cpus, sizeof(cpus), hwloc_topology_get_topology_cpuset(t));
	zri_place_list(nodes, sizeof(nodes), hwloc_topology_get_topology_nodeset(t));
	zri_place_gpu(t, -1, &g);
	int n = snprintf(buf, cap,
			 "%d package%s, %d core%s, %d PU%s (cpus %s), %d NUMA node%s (%s), "
			 "%d NVIDIA GPU%s%s%s%s",
			 npkg, plural(npkg), ncore, plural(ncore), npu, plural(npu), cpus, nnode,
			 plural(nnode), nodes, g.count, plural(g.count), g.count ? " (" : "",
			 g.list, g.count ? ")" : "");
	if (n >= 0 && (size_t)n >= cap && cap >= 4)
		memcpy(buf + cap - 4, "...", 4);
	return 0;
}
