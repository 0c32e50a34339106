/* Planning a new arena: where each section goes and how many payload
 * blocks each size class gets. Everything decided here is written into the
 * header's immutable part and checked again by every opener. */
#include <errno.h>
#include <string.h>

#include "arena_impl.h"

#define PAGE 4096u
#define DEFAULT_PROCS 64u
#define DEFAULT_RINGS 64u

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t ceil_pow2(uint64_t x)
{
	return x <= 1 ? 1 : UINT64_C(1) << (64 - __builtin_clzll(x - 1));
}

void zr_arena_config_init(zr_arena_config *cfg, size_t size)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = size;
	cfg->max_procs = DEFAULT_PROCS;
	cfg->max_rings = DEFAULT_RINGS;
	cfg->ring_bytes = size / 8;
	cfg->max_payload = ZR_DEFAULT_MAX_PAYLOAD;
	cfg->small_percent = 50;
	cfg->max_agents = (uint32_t)clamp_u64(size >> 18, 8, 64);
	cfg->max_jobs = (uint32_t)clamp_u64(size >> 13, 256, UINT64_C(1) << 20);
	cfg->inbox_capacity = (uint32_t)clamp_u64(ceil_pow2(cfg->max_jobs), 2, 1024);
}

static uint64_t floor_pow2(uint64_t x)
{
	return x ? UINT64_C(1) << (63 - __builtin_clzll(x)) : 0;
}

/* Bytes a class of n blocks takes: stats, meta, free ring, aligned blocks. */
static uint64_t class_bytes(uint64_t n, uint64_t bs)
{
	uint64_t b = sizeof(struct zri_class_stats) + n * sizeof(uint64_t);
	if (n)
		b += zri_ring_bytes(ZR_RING_MPMC, (uint32_t)ZRI_FREE_RING_SLOTS(n));
	return ZRI_ALIGN(b, PAGE) + n * bs;
}

static uint64_t plan_classes(struct zri_header *h, uint64_t off, uint64_t budget)
{
	uint64_t per_class = budget / ZRI_SMALL_CLASSES;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		struct zri_slab_class *k = &h->classes[c];
		uint64_t bs = UINT64_C(1) << (ZRI_SMALL_MIN_SHIFT + c);
		/* a power of two, so the free ring holds every block; 0 or >= 2 */
		uint64_t n = floor_pow2(per_class / (bs + 8 + 2 * sizeof(struct zri_slot)));
		if (n > (UINT64_C(1) << 29))
			n = UINT64_C(1) << 29;
		while (n >= 2 && class_bytes(n, bs) + 2 * PAGE > per_class)
			n /= 2;
		if (n < 2)
			n = 0;
		k->block_size = bs;
		k->nblocks = n;
		k->stats_off = off;
		k->meta_off = off + sizeof(struct zri_class_stats);
		uint64_t end = k->meta_off + n * sizeof(uint64_t);
		k->ring_off = n ? ZRI_ALIGN(end, ZRI_LINE) : 0;
		if (n)
			end = k->ring_off +
			      zri_ring_bytes(ZR_RING_MPMC, (uint32_t)ZRI_FREE_RING_SLOTS(n));
		k->data_off = ZRI_ALIGN(end, PAGE);
		off = k->data_off + n * bs;
	}
	return off;
}

static void add_section(struct zri_header *h, uint32_t kind, uint64_t off, uint64_t size,
			uint64_t count)
{
	struct zri_section *s = &h->sections[h->nsections++];
	s->kind = kind;
	s->offset = off;
	s->size = size;
	s->count = count;
}

/* The job layer: control block, agent table, job records, free ring. */
static int plan_jobs(struct zri_header *h, const zr_arena_config *cfg, uint64_t off, uint64_t *end,
		     zr_diag *diag)
{
	if (cfg->max_agents == 0 || cfg->max_agents > ZRI_MAX_AGENTS)
		return zri_diag_set(diag, -EINVAL, "max_agents %u is outside 1 .. %u",
				    cfg->max_agents, ZRI_MAX_AGENTS);
	if (cfg->max_jobs < 2 || cfg->max_jobs > (UINT32_C(1) << 30))
		return zri_diag_set(diag, -EINVAL, "max_jobs %u is outside 2 .. 2^30",
				    cfg->max_jobs);
	uint32_t cap = cfg->inbox_capacity;
	if (cap < 2 || cap > (UINT32_C(1) << 24) || (cap & (cap - 1)))
		return zri_diag_set(diag, -EINVAL,
				    "inbox_capacity %u is not a power of two in 2 .. 2^24", cap);
	struct zri_jobs_layout *j = &h->jobs;
	j->max_agents = cfg->max_agents;
	j->max_jobs = cfg->max_jobs;
	/* slack for stale duplicates, as for the slab (see ZRI_FREE_RING_SLOTS) */
	j->free_capacity = (uint32_t)ZRI_FREE_RING_SLOTS(ceil_pow2(cfg->max_jobs));
	j->inbox_capacity = cap;
	j->shared_capacity = j->free_capacity;
	j->ctl_off = off;
	j->agents_off = ZRI_ALIGN(off + sizeof(struct zri_jobs_ctl), ZRI_LINE);
	j->recs_off = ZRI_ALIGN(j->agents_off + (uint64_t)j->max_agents * sizeof(struct zri_agent),
				ZRI_LINE);
	j->free_off =
		ZRI_ALIGN(j->recs_off + (uint64_t)j->max_jobs * sizeof(struct zri_job), ZRI_LINE);
	j->end_off = j->free_off + zri_ring_bytes(ZR_RING_MPMC, j->free_capacity);
	*end = j->end_off;
	return 0;
}

int zri_layout_plan(struct zri_header *h, const zr_arena_config *cfg, zr_diag *diag)
{
	if (cfg->size < ZR_ARENA_MIN_SIZE || cfg->size > (UINT64_C(1) << 46))
		return zri_diag_set(diag, -EINVAL, "arena size %zu is outside %zu .. 64 TiB",
				    cfg->size, ZR_ARENA_MIN_SIZE);
	if (cfg->max_procs == 0 || cfg->max_procs > ZRI_MAX_PROCS)
		return zri_diag_set(diag, -EINVAL, "max_procs %u is outside 1 .. %u",
				    cfg->max_procs, ZRI_MAX_PROCS);
	if (cfg->max_rings == 0 || cfg->max_rings > 65536 || cfg->small_percent > 100)
		return zri_diag_set(diag, -EINVAL, "max_rings %u or small_percent %u out of range",
				    cfg->max_rings, cfg->small_percent);
	h->max_procs = cfg->max_procs;
	h->max_rings = cfg->max_rings;
	uint64_t off = ZRI_HDR_BYTES;
	uint64_t procs = (uint64_t)cfg->max_procs * sizeof(struct zri_proc);
	add_section(h, ZRI_SEC_PROCS, off, procs, cfg->max_procs);
	off = ZRI_ALIGN(off + procs, PAGE);
	uint64_t dir =
		sizeof(struct zri_ringdir) + (uint64_t)cfg->max_rings * sizeof(struct zri_dirent);
	add_section(h, ZRI_SEC_RINGDIR, off, dir, cfg->max_rings);
	off = ZRI_ALIGN(off + dir, PAGE);
	uint64_t jobs_end = 0;
	int rc = plan_jobs(h, cfg, off, &jobs_end, diag);
	if (rc)
		return rc;
	if (jobs_end + 16 * PAGE > cfg->size)
		return zri_diag_set(
			diag, -EINVAL,
			"arena of %zu bytes cannot hold %u agents and %u jobs (%llu bytes)",
			cfg->size, cfg->max_agents, cfg->max_jobs,
			(unsigned long long)(jobs_end - off));
	add_section(h, ZRI_SEC_JOBS, off, jobs_end - off, cfg->max_jobs);
	off = ZRI_ALIGN(jobs_end, PAGE);
	uint64_t ring_bytes = ZRI_ALIGN(cfg->ring_bytes, PAGE);
	if (off + ring_bytes + 16 * PAGE > cfg->size)
		return zri_diag_set(
			diag, -EINVAL,
			"arena of %zu bytes cannot hold %llu bytes of rings and its tables",
			cfg->size, (unsigned long long)ring_bytes);
	add_section(h, ZRI_SEC_RINGHEAP, off, ring_bytes, 0);
	off += ring_bytes;
	uint64_t payload_space = cfg->size - off;
	uint64_t slab_start = off;
	off = plan_classes(h, off, payload_space * cfg->small_percent / 100);
	h->nclasses = ZRI_SMALL_CLASSES;
	add_section(h, ZRI_SEC_SLAB, slab_start, off - slab_start, ZRI_SMALL_CLASSES);
	/* the large heap takes the rest: control, page table, 64 KiB pages */
	uint64_t lstart = ZRI_ALIGN(off, PAGE);
	uint64_t left = cfg->size > lstart ? cfg->size - lstart : 0;
	uint64_t ctl = sizeof(struct zri_large_ctl);
	uint64_t npages = left > ctl + ZRI_LARGE_PAGE
				  ? (left - ctl - ZRI_LARGE_PAGE) /
					    (ZRI_LARGE_PAGE + sizeof(struct zri_page_meta))
				  : 0;
	h->large.page_size = ZRI_LARGE_PAGE;
	h->large.npages = npages;
	h->large.ctl_off = lstart;
	h->large.meta_off = lstart + ctl;
	h->large.data_off = ZRI_ALIGN(h->large.meta_off + npages * sizeof(struct zri_page_meta),
				      ZRI_LARGE_PAGE);
	uint64_t lend = npages ? h->large.data_off + npages * ZRI_LARGE_PAGE : h->large.meta_off;
	add_section(h, ZRI_SEC_LARGE, lstart, lend - lstart, npages);
	uint64_t largest = npages * ZRI_LARGE_PAGE;
	uint64_t small_max = 0;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		if (h->classes[c].nblocks)
			small_max = h->classes[c].block_size;
	if (largest < small_max)
		largest = small_max;
	h->max_payload = cfg->max_payload < largest ? cfg->max_payload : largest;
	h->config = (struct zri_config_copy){
		.size = cfg->size,
		.ring_bytes = cfg->ring_bytes,
		.max_payload = cfg->max_payload,
		.flags = cfg->flags,
		.max_procs = cfg->max_procs,
		.max_rings = cfg->max_rings,
		.small_percent = cfg->small_percent,
		.max_agents = cfg->max_agents,
		.max_jobs = cfg->max_jobs,
		.inbox_capacity = cfg->inbox_capacity,
	};
	return 0;
}
