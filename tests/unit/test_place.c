/* tests/unit/test_place.c (label unit): CPU placement. Parsing of every
 * form and of malformed text, pinning by core list, NUMA node, spread and
 * near-GPU, the binding of an arena to a node, and the machine line.
 *
 * Nothing about the machine is assumed: the test loads its own hwloc
 * topology and reads the binding back with sched_getaffinity(), and counts
 * NVIDIA GPUs in /sys/bus/pci, apart from the library. Without a GPU,
 * ZR_ENODEV is the expected outcome of "near GPU", not a skip. Every test
 * restores the thread's original affinity in its teardown. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>

#include "runtime/place_impl.h"
#include "test.h"

#define TEST(name) static void name(void **state __attribute__((unused)))

static hwloc_topology_t topo; /* the test's own view of the machine */
static hwloc_bitmap_t orig;   /* affinity of the main thread at start */
static unsigned max_cpus;     /* bits in the cpu sets given to the kernel */

/* ---- helpers ------------------------------------------------------------ */

static void msg_has(const zr_diag *d, const char *s)
{
	if (!strstr(d->msg, s))
		fail_msg("diag \"%s\" lacks \"%s\"", d->msg, s);
}

static void str_has(const char *what, const char *s, const char *part)
{
	if (!strstr(s, part))
		fail_msg("%s \"%s\" lacks \"%s\"", what, s, part);
}

/* The calling thread's affinity, from the kernel. */
static hwloc_bitmap_t affinity(void)
{
	cpu_set_t *cs = CPU_ALLOC(max_cpus);
	size_t sz = CPU_ALLOC_SIZE(max_cpus);
	assert_non_null(cs);
	assert_int_equal(sched_getaffinity(0, sz, cs), 0);
	hwloc_bitmap_t b = hwloc_bitmap_alloc();
	for (unsigned c = 0; c < max_cpus; c++)
		if (CPU_ISSET_S(c, sz, cs))
			hwloc_bitmap_set(b, c);
	CPU_FREE(cs);
	return b;
}

static void set_affinity(hwloc_const_bitmap_t b)
{
	cpu_set_t *cs = CPU_ALLOC(max_cpus);
	size_t sz = CPU_ALLOC_SIZE(max_cpus);
	assert_non_null(cs);
	CPU_ZERO_S(sz, cs);
	for (int c = hwloc_bitmap_first(b); c >= 0; c = hwloc_bitmap_next(b, c))
		CPU_SET_S((unsigned)c, sz, cs);
	assert_int_equal(sched_setaffinity(0, sz, cs), 0);
	CPU_FREE(cs);
}

static void expect_affinity(hwloc_const_bitmap_t want)
{
	hwloc_bitmap_t got = affinity(), hw = hwloc_bitmap_alloc();
	assert_int_equal(hwloc_get_cpubind(topo, hw, HWLOC_CPUBIND_THREAD), 0);
	char g[256], w[256];
	hwloc_bitmap_list_snprintf(g, sizeof(g), got);
	hwloc_bitmap_list_snprintf(w, sizeof(w), want);
	if (!hwloc_bitmap_isequal(got, want) || !hwloc_bitmap_isequal(hw, want))
		fail_msg("thread bound to cpus %s, want %s", g, w);
	hwloc_bitmap_free(got);
	hwloc_bitmap_free(hw);
}

static void expect_list(const char *s, hwloc_const_bitmap_t want)
{
	char w[256];
	hwloc_bitmap_list_snprintf(w, sizeof(w), want);
	assert_string_equal(s, w);
}

/* Place by text, which must succeed. */
static zr_placement place_ok(const char *text)
{
	zr_place_spec s;
	zr_placement p;
	zr_diag d = {0};
	int rc = zr_place_parse(text, &s, &d);
	if (rc)
		fail_msg("parse \"%s\": %s: %s", text, zr_strerror(rc), d.msg);
	rc = zr_place_self(&s, &p, &d);
	if (rc)
		fail_msg("place \"%s\": %s: %s", text, zr_strerror(rc), d.msg);
	return p;
}

/* Place by text, which must fail with `want`; the binding must not move. */
static void place_fail(const char *text, int want, const char *msg_part)
{
	zr_place_spec s;
	zr_placement p = {.ncpus = 777};
	zr_diag d = {0};
	hwloc_bitmap_t before = affinity();
	assert_int_equal(zr_place_parse(text, &s, NULL), 0);
	int rc = zr_place_self(&s, &p, &d);
	if (rc != want)
		fail_msg("place \"%s\": got %d (%s), want %d (%s); diag: %s", text, rc,
			 zr_strerror(rc), want, zr_strerror(want), d.msg);
	assert_int_equal(d.code, rc);
	msg_has(&d, msg_part);
	assert_int_equal(p.ncpus, 777); /* out untouched */
	expect_affinity(before);
	hwloc_bitmap_free(before);
}

/* The one NUMA node whose cpus contain `cpus`, -1 if none or several. */
static int node_of(hwloc_const_bitmap_t cpus)
{
	int found = -1;
	for (hwloc_obj_t n = NULL; (n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n));)
		if (hwloc_bitmap_intersects(n->cpuset, cpus)) {
			if (found >= 0)
				return -1;
			found = (int)n->os_index;
		}
	return found;
}

/* NVIDIA GPUs, counted from /sys without hwloc. */
static int sysfs_gpus(void)
{
	DIR *dir = opendir("/sys/bus/pci/devices");
	int n = 0;
	if (!dir)
		return 0;
	for (struct dirent *e; (e = readdir(dir));) {
		char path[512];
		unsigned vendor = 0, cls = 0;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int ok = fscanf(f, "%x", &vendor) == 1;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class", e->d_name);
		if (!ok || !(f = fopen(path, "r")))
			continue;
		ok = fscanf(f, "%x", &cls) == 1;
		fclose(f);
		n += ok && vendor == 0x10de && (cls >> 16) == 0x03;
	}
	closedir(dir);
	return n;
}

/* ---- parsing ------------------------------------------------------------ */

TEST(test_parse_forms)
{
	zr_place_spec s;
	const char *cores = "cores:0,2-3";
	assert_int_equal(zr_place_parse("none", &s, NULL), 0);
	assert_int_equal(s.kind, ZR_PLACE_NONE);
	assert_int_equal(zr_place_parse(cores, &s, NULL), 0);
	assert_int_equal(s.kind, ZR_PLACE_CORES);
	assert_ptr_equal(s.cores, cores + 6); /* points into the text */
	assert_int_equal(zr_place_parse("numa:12", &s, NULL), 0);
	assert_int_equal(s.kind, ZR_PLACE_NUMA);
	assert_int_equal(s.numa_node, 12);
	assert_int_equal(zr_place_parse("numa:2147483647", &s, NULL), 0);
	assert_int_equal(s.numa_node, INT32_MAX);
	assert_int_equal(zr_place_parse("spread:4294967295", &s, NULL), 0);
	assert_int_equal(s.kind, ZR_PLACE_SPREAD);
	assert_int_equal(s.spread_index, UINT32_MAX);
	assert_int_equal(zr_place_parse("gpu:3", &s, NULL), 0);
	assert_int_equal(s.kind, ZR_PLACE_NEAR_GPU);
	assert_int_equal(s.gpu, 3);
	assert_int_equal(zr_place_parse("cores:65535", &s, NULL), 0);
	assert_int_equal(zr_place_parse("cores:007,1-1", &s, NULL), 0);
}

TEST(test_parse_malformed)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"", "expected none, cores:LIST, numa:N, spread:N or gpu:N"},
		{"bogus", "placement \"bogus\" not understood"},
		{"none:1", "not understood"},
		{"NUMA:0", "not understood"},
		{"cores", "not understood"},
		{"cores:", "empty cpu list"},
		{"cores:a", "expected a cpu number at offset 0 of \"a\""},
		{"cores: 1", "expected a cpu number at offset 0"},
		{"cores:0,,1", "expected a cpu number at offset 2 of \"0,,1\""},
		{"cores:0,", "expected a cpu number at offset 2"},
		{"cores:1-", "expected a cpu number at offset 2"},
		{"cores:-1", "expected a cpu number at offset 0"},
		{"cores:3-1", "range 3-1 in \"3-1\" runs backwards"},
		{"cores:0;1", "unexpected ';' at offset 1 of \"0;1\" (expected ',' or '-')"},
		{"cores:0-1-2", "unexpected '-' at offset 3"},
		{"cores:65536", "at offset 0 of \"65536\" is above 65535"},
		{"cores:1,99999999999999999999", "is above 65535"},
		{"numa:", "numa: \"\" is not a number"},
		{"numa:-1", "numa: \"-1\" is not a number (expected numa:N, N decimal)"},
		{"numa:1x", "\"1x\" is not a number"},
		{"numa:2147483648", "numa: \"2147483648\" is too large (at most 2147483647)"},
		{"spread:", "spread: \"\" is not a number"},
		{"spread:x", "spread: \"x\" is not a number"},
		{"spread:4294967296", "is too large (at most 4294967295)"},
		{"gpu:", "gpu: \"\" is not a number"},
		{"gpu:0 ", "gpu: \"0 \" is not a number"},
		{"gpu:99999999999999999999", "too large"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		zr_place_spec s = {.kind = 99};
		zr_diag d = {0};
		int rc = zr_place_parse(cases[i].text, &s, &d);
		if (rc != -EINVAL)
			fail_msg("parse \"%s\": got %d, want -EINVAL", cases[i].text, rc);
		assert_int_equal(d.code, -EINVAL);
		msg_has(&d, cases[i].msg);
		assert_int_equal(s.kind, 99); /* out untouched */
		assert_int_equal(zr_place_parse(cases[i].text, &s, NULL), -EINVAL);
	}
	zr_place_spec s;
	zr_diag d = {0};
	assert_int_equal(zr_place_parse(NULL, &s, &d), -EINVAL);
	msg_has(&d, "no text");
	assert_int_equal(zr_place_parse("none", NULL, NULL), -EINVAL);
}

/* ---- pinning ------------------------------------------------------------ */

TEST(test_pin_each_cpu)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	char text[32], list[256];
	for (int c = hwloc_bitmap_first(all); c >= 0; c = hwloc_bitmap_next(all, c)) {
		snprintf(text, sizeof(text), "cores:%d", c);
		zr_placement p = place_ok(text);
		hwloc_bitmap_only(one, (unsigned)c);
		expect_affinity(one);
		assert_int_equal(p.kind, ZR_PLACE_CORES);
		assert_int_equal(p.ncpus, 1);
		assert_string_equal(p.cpus, text + 6);
		assert_int_equal(p.numa_node, node_of(one));
		str_has("note", p.note, "cores");
	}
	/* all of them at once, as a list */
	hwloc_bitmap_list_snprintf(list, sizeof(list), all);
	snprintf(text, sizeof(text), "cores:%.24s", list);
	if (strlen(list) < 24) {
		zr_placement p = place_ok(text);
		expect_affinity(all);
		assert_int_equal(p.ncpus, (uint32_t)hwloc_bitmap_weight(all));
		expect_list(p.cpus, all);
		assert_int_equal(p.numa_node, node_of(all));
	}
	hwloc_bitmap_free(one);
}

static void *pin_last(void *arg)
{
	int *rc = arg;
	char text[32];
	zr_place_spec s;
	snprintf(text, sizeof(text), "cores:%d",
		 hwloc_bitmap_last(hwloc_topology_get_topology_cpuset(topo)));
	*rc = zr_place_parse(text, &s, NULL);
	if (*rc == 0)
		*rc = zr_place_self(&s, NULL, NULL);
	return NULL;
}

TEST(test_pin_thread_only)
{
	pthread_t th;
	int rc = -1;
	assert_int_equal(pthread_create(&th, NULL, pin_last, &rc), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(rc, 0);
	expect_affinity(orig); /* the other thread's binding is its own */
}

TEST(test_cores_missing)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_complete_cpuset(topo);
	char text[32], want[300], list[256];
	int c = hwloc_bitmap_last(all) + 1;
	hwloc_bitmap_list_snprintf(list, sizeof(list), all);
	snprintf(text, sizeof(text), "cores:%d,%d",
		 hwloc_bitmap_first(hwloc_topology_get_topology_cpuset(topo)), c);
	snprintf(want, sizeof(want), "cpu %d does not exist: this machine has cpus %.40s", c, list);
	place_fail(text, -EINVAL, want);

	/* a cpu that exists but is outside this process's cgroup, if any */
	hwloc_bitmap_t out = hwloc_bitmap_alloc();
	hwloc_bitmap_andnot(out, all, hwloc_topology_get_topology_cpuset(topo));
	if (!hwloc_bitmap_iszero(out)) {
		snprintf(text, sizeof(text), "cores:%d", hwloc_bitmap_first(out));
		snprintf(want, sizeof(want), "cpu %d is not usable by this process",
			 hwloc_bitmap_first(out));
		place_fail(text, -EINVAL, want);
	}
	hwloc_bitmap_free(out);

	/* a spec filled by hand is checked like a parsed one */
	zr_place_spec s = {.kind = ZR_PLACE_CORES, .cores = "2-"};
	zr_diag d = {0};
	assert_int_equal(zr_place_self(&s, NULL, &d), -EINVAL);
	msg_has(&d, "expected a cpu number at offset 2");
	s.cores = NULL;
	assert_int_equal(zr_place_self(&s, NULL, &d), -EINVAL);
	msg_has(&d, "empty cpu list");
}

TEST(test_none_and_bad_kind)
{
	zr_placement p = place_ok("none");
	expect_affinity(orig);
	expect_list(p.cpus, orig);
	assert_int_equal(p.ncpus, (uint32_t)hwloc_bitmap_weight(orig));
	str_has("note", p.note, "none");

	zr_place_spec s = {.kind = 99};
	zr_diag d = {0};
	assert_int_equal(zr_place_self(&s, &p, &d), -EINVAL);
	msg_has(&d, "unknown kind 99");
	assert_int_equal(zr_place_self(NULL, &p, &d), -EINVAL);
	msg_has(&d, "no spec");
	assert_int_equal(zr_place_self(&s, NULL, NULL), -EINVAL);
	assert_int_equal(sizeof(zr_placement), 204); /* fixed: may live in the arena */
}

TEST(test_numa)
{
	hwloc_obj_t n = NULL;
	while ((n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n)))
		if (!hwloc_bitmap_iszero(n->cpuset))
			break;
	assert_non_null(n); /* node 0 on most machines */
	char text[32], want[300], list[256];
	snprintf(text, sizeof(text), "numa:%u", n->os_index);
	zr_placement p = place_ok(text);
	expect_affinity(n->cpuset);
	expect_list(p.cpus, n->cpuset);
	assert_int_equal(p.kind, ZR_PLACE_NUMA);
	assert_int_equal(p.numa_node, (int)n->os_index);
	assert_int_equal(p.ncpus, (uint32_t)hwloc_bitmap_weight(n->cpuset));
	str_has("note", p.note, text + 5);
	set_affinity(orig);

	hwloc_const_nodeset_t nodes = hwloc_topology_get_complete_nodeset(topo);
	int missing = hwloc_bitmap_last(nodes) + 1;
	hwloc_bitmap_list_snprintf(list, sizeof(list), nodes);
	snprintf(text, sizeof(text), "numa:%d", missing);
	snprintf(want, sizeof(want),
		 "NUMA node %d does not exist: this machine has NUMA nodes %.40s", missing, list);
	place_fail(text, ZR_ENODEV, want);

	zr_place_spec s = {.kind = ZR_PLACE_NUMA, .numa_node = -1};
	zr_diag d = {0};
	assert_int_equal(zr_place_self(&s, NULL, &d), -EINVAL);
	msg_has(&d, "-1 is not a node number");
}

TEST(test_spread)
{
	hwloc_obj_type_t type = HWLOC_OBJ_CORE;
	int ncores = hwloc_get_nbobjs_by_type(topo, type);
	if (ncores <= 0) { /* no core level: the library spreads over PUs */
		type = HWLOC_OBJ_PU;
		ncores = hwloc_get_nbobjs_by_type(topo, type);
	}
	hwloc_bitmap_t seen = hwloc_bitmap_alloc(), one = hwloc_bitmap_alloc();
	char text[32];
	for (unsigned i = 0; i < 4 || i < (unsigned)ncores + 2; i++) {
		if (i >= 4 && i < (unsigned)ncores - 1)
			continue; /* a big machine: the first four, then the wrap */
		snprintf(text, sizeof(text), "spread:%u", i);
		zr_placement p = place_ok(text);
		hwloc_obj_t core = hwloc_get_obj_by_type(topo, type, i % (unsigned)ncores);
		int cpu = hwloc_bitmap_first(core->cpuset); /* its first hardware thread */
		hwloc_bitmap_only(one, (unsigned)cpu);
		expect_affinity(one);
		assert_int_equal(p.ncpus, 1);
		assert_int_equal(p.numa_node, node_of(one));
		bool wraps = i >= (unsigned)ncores;
		if (wraps != (strstr(p.note, "wraps") != NULL))
			fail_msg("spread:%u on %d cores: note \"%s\"", i, ncores, p.note);
		if (wraps)
			str_has("note", p.note, "shared");
		else if (hwloc_bitmap_isset(seen, (unsigned)cpu))
			fail_msg("spread:%u shares cpu %d before the wrap", i, cpu);
		hwloc_bitmap_set(seen, (unsigned)cpu);
	}
	hwloc_bitmap_free(seen);
	hwloc_bitmap_free(one);
}

TEST(test_near_gpu)
{
	int ngpus = sysfs_gpus();
	char text[32], want[64];
	if (ngpus == 0) {
		/* this machine has none: that is the expected outcome, not a skip */
		place_fail("gpu:0", ZR_ENODEV, "gpu 0: no NVIDIA GPU on this machine");
		place_fail("gpu:1", ZR_ENODEV, "gpu 1: no NVIDIA GPU on this machine (hwloc saw ");
	} else {
		zr_placement p = place_ok("gpu:0");
		hwloc_bitmap_t got = affinity();
		assert_true(p.ncpus > 0);
		assert_int_equal(p.ncpus, (uint32_t)hwloc_bitmap_weight(got));
		expect_list(p.cpus, got);
		str_has("note", p.note, "gpu 0 (");
		hwloc_bitmap_free(got);
		set_affinity(orig);
		snprintf(text, sizeof(text), "gpu:%d", ngpus);
		snprintf(want, sizeof(want), "gpu %d does not exist: found %d NVIDIA GPU", ngpus,
			 ngpus);
		place_fail(text, ZR_ENODEV, want);
	}
	zr_place_spec s = {.kind = ZR_PLACE_NEAR_GPU, .gpu = -2};
	zr_diag d = {0};
	assert_int_equal(zr_place_self(&s, NULL, &d), -EINVAL);
	msg_has(&d, "-2 is not a GPU number");
}

/* ---- arena memory ------------------------------------------------------- */

/* The arena's pages are bound to node `n` and (prefaulted at creation) on it. */
static void expect_area_on(zr_arena *a, hwloc_obj_t n)
{
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	hwloc_membind_policy_t pol;
	assert_int_equal(hwloc_get_area_membind(topo, zr_arena_base(a), info.size, set, &pol,
						HWLOC_MEMBIND_BYNODESET),
			 0);
	assert_int_equal(pol, HWLOC_MEMBIND_BIND);
	assert_true(hwloc_bitmap_isequal(set, n->nodeset));
	assert_int_equal(hwloc_get_area_memlocation(topo, zr_arena_base(a), info.size, set,
						    HWLOC_MEMBIND_BYNODESET),
			 0);
	assert_true(hwloc_bitmap_isincluded(set, n->nodeset));
	hwloc_bitmap_free(set);
}

TEST(test_arena_bind_node)
{
	char name[64], want[300], list[256];
	zr_arena *a = zr_test_arena(ZR_ARENA_MIN_SIZE, name);
	hwloc_obj_t n = NULL;
	while ((n = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, n)))
		if (n->attr->numanode.local_memory > 0)
			break;
	assert_non_null(n);
	zr_diag d = {0};
	int rc = zr_arena_bind_node(a, (int)n->os_index, &d);
	if (rc == ZR_ENOTSUP && strstr(d.msg, strerror(EPERM))) {
		/* a container whose seccomp profile allows mbind() only with
		 * CAP_SYS_NICE (Docker's default): the refusal must be clear */
		print_message("mbind refused here: %s\n", d.msg);
		msg_has(&d, "the OS refused to bind the");
	} else if (rc) {
		fail_msg("bind to node %u: %s: %s", n->os_index, zr_strerror(rc), d.msg);
	} else {
		expect_area_on(a, n);
	}

	hwloc_const_nodeset_t nodes = hwloc_topology_get_complete_nodeset(topo);
	int missing = hwloc_bitmap_last(nodes) + 1;
	hwloc_bitmap_list_snprintf(list, sizeof(list), nodes);
	snprintf(want, sizeof(want),
		 "NUMA node %d does not exist: this machine has NUMA nodes %.40s", missing, list);
	assert_int_equal(zr_arena_bind_node(a, missing, &d), ZR_ENODEV);
	assert_int_equal(d.code, ZR_ENODEV);
	msg_has(&d, want);
	assert_int_equal(zr_arena_bind_node(a, -1, &d), -EINVAL);
	assert_int_equal(zr_arena_bind_node(NULL, 0, &d), -EINVAL);

	zr_arena *r = NULL;
	assert_int_equal(zr_arena_open(name, ZR_ARENA_READONLY, &r, NULL), 0);
	assert_int_equal(zr_arena_bind_node(r, (int)n->os_index, &d), ZR_EREADONLY);
	msg_has(&d, "read-only");
	assert_int_equal(zr_arena_close(r), 0);
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(zr_arena_unlink(name), 0);
	zr_test_forget(name);
}

/* A binding too long for zr_placement.cpus is cut after a ',' and says so. */
TEST(test_list_truncated)
{
	hwloc_bitmap_t b = hwloc_bitmap_alloc();
	char buf[ZR_PLACE_CPUS_LEN];
	for (unsigned c = 0; c < 400; c += 2)
		hwloc_bitmap_set(b, c);
	zri_place_list(buf, sizeof(buf), b);
	assert_true(strlen(buf) < sizeof(buf));
	assert_string_equal(buf + strlen(buf) - 4, ",...");
	assert_int_equal(strncmp(buf, "0,2,4,6,8,10,", 13), 0);
	hwloc_bitmap_only(b, 7);
	zri_place_list(buf, sizeof(buf), b);
	assert_string_equal(buf, "7");
	hwloc_bitmap_free(b);
}

/* ---- description -------------------------------------------------------- */

TEST(test_describe)
{
	char buf[ZR_PLACE_DESCRIBE_LEN], part[300], list[256];
	assert_int_equal(zr_place_describe(buf, sizeof(buf)), 0);
	print_message("machine: %s\n", buf);
	int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	int npus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
	int nnodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	int ngpus = sysfs_gpus();
	hwloc_bitmap_list_snprintf(list, sizeof(list), hwloc_topology_get_topology_cpuset(topo));
	snprintf(part, sizeof(part), "%d core%s, %d PU%s (cpus %.40s", ncores,
		 ncores == 1 ? "" : "s", npus, npus == 1 ? "" : "s", list);
	str_has("description", buf, part);
	snprintf(part, sizeof(part), "), %d NUMA node", nnodes);
	str_has("description", buf, part);
	snprintf(part, sizeof(part), "%d NVIDIA GPU", ngpus);
	str_has("description", buf, part);
	assert_null(strchr(buf, '\n'));

	char small[12];
	assert_int_equal(zr_place_describe(small, sizeof(small)), 0);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + sizeof(small) - 4, "...");
	assert_int_equal(zr_place_describe(small, 1), 0);
	assert_string_equal(small, "");
	assert_int_equal(zr_place_describe(NULL, 10), -EINVAL);
	assert_int_equal(zr_place_describe(small, 0), -EINVAL);
}

/* ---- driver ------------------------------------------------------------- */

static int group_setup(void **state __attribute__((unused)))
{
	if (hwloc_topology_init(&topo) != 0 || hwloc_topology_load(topo) != 0)
		return -1;
	unsigned last = (unsigned)hwloc_bitmap_last(hwloc_topology_get_complete_cpuset(topo));
	max_cpus = last + 1 > CPU_SETSIZE ? last + 1 : CPU_SETSIZE;
	orig = affinity();
	return 0;
}

static int group_teardown(void **state __attribute__((unused)))
{
	hwloc_bitmap_free(orig);
	hwloc_topology_destroy(topo);
	return 0;
}

static int restore(void **state __attribute__((unused)))
{
	set_affinity(orig);
	return 0;
}

#define T(f) cmocka_unit_test_teardown(f, restore)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		T(test_parse_forms),	T(test_parse_malformed),
		T(test_pin_each_cpu),	T(test_pin_thread_only),
		T(test_cores_missing),	T(test_none_and_bad_kind),
		T(test_numa),		T(test_spread),
		T(test_near_gpu),	T(test_arena_bind_node),
		T(test_list_truncated), T(test_describe),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
