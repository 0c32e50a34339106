/* Checking an arena header read from shared memory or a file. Nothing in it
 * is trusted: every offset, size and count is checked before use, and the
 * fuzz target tests/fuzz/fuzz_arena_open.c feeds this random bytes. */
#include <stdatomic.h>
#include <stddef.h>
#include <xxhash.h>

#include "arena_impl.h"

uint64_t zri_header_checksum(const struct zri_header *h)
{
	return XXH3_64bits(h, offsetof(struct zri_header, checksum));
}

const struct zri_section *zri_header_section(const struct zri_header *h, uint32_t kind)
{
	uint32_t n = h->nsections < ZRI_MAX_SECTIONS ? h->nsections : ZRI_MAX_SECTIONS;
	for (uint32_t i = 0; i < n; i++)
		if (h->sections[i].kind == kind)
			return &h->sections[i];
	return NULL;
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

static int check_sections(const struct zri_header *h, zr_diag *diag)
{
	if (h->nsections == 0 || h->nsections > ZRI_MAX_SECTIONS)
		return zri_diag_set(diag, ZR_ECORRUPT, "section table has %u entries (1..%u)",
				    h->nsections, ZRI_MAX_SECTIONS);
	uint32_t seen = 0;
	for (uint32_t i = 0; i < h->nsections; i++) {
		const struct zri_section *s = &h->sections[i];
		if (s->kind < ZRI_SEC_PROCS || s->kind > ZRI_SEC_JOBS ||
		    s->kind == ZRI_SEC_PROCSTATS || (seen & (1u << s->kind)))
			return zri_diag_set(diag, ZR_ECORRUPT,
					    "section %u has unknown or repeated kind %u", i,
					    s->kind);
		seen |= 1u << s->kind;
		if (!range_ok(s->offset, s->size, ZRI_HDR_BYTES, h->arena_size) || s->offset % 64)
			return zri_diag_set(
				diag, ZR_ECORRUPT,
				"section %u (kind %u) at %#llx + %#llx lies outside the "
				"arena of %#llx bytes",
				i, s->kind, (unsigned long long)s->offset,
				(unsigned long long)s->size, (unsigned long long)h->arena_size);
		for (uint32_t j = 0; j < i; j++) {
			const struct zri_section *o = &h->sections[j];
			if (s->offset < o->offset + o->size && o->offset < s->offset + s->size)
				return zri_diag_set(diag, ZR_ECORRUPT, "sections %u and %u overlap",
						    j, i);
		}
	}
	if (seen != (1u << ZRI_SEC_PROCS | 1u << ZRI_SEC_RINGDIR | 1u << ZRI_SEC_RINGHEAP |
		     1u << ZRI_SEC_SLAB | 1u << ZRI_SEC_LARGE | 1u << ZRI_SEC_JOBS))
		return zri_diag_set(diag, ZR_ECORRUPT, "section table lacks a section (mask %#x)",
				    seen);
	const struct zri_section *p = zri_header_section(h, ZRI_SEC_PROCS);
	if (h->max_procs == 0 || h->max_procs > ZRI_MAX_PROCS || p->count != h->max_procs ||
	    p->size < (uint64_t)h->max_procs * sizeof(struct zri_proc))
		return zri_diag_set(diag, ZR_ECORRUPT, "process table of %u slots does not fit",
				    h->max_procs);
	const struct zri_section *d = zri_header_section(h, ZRI_SEC_RINGDIR);
	if (h->max_rings == 0 || d->count != h->max_rings ||
	    d->size <
		    sizeof(struct zri_ringdir) + (uint64_t)h->max_rings * sizeof(struct zri_dirent))
		return zri_diag_set(diag, ZR_ECORRUPT, "ring directory of %u entries does not fit",
				    h->max_rings);
	return 0;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* The job layer's parts must lie, in order and without overlap, inside the
 * JOBS section, with the counts the section declares. */
static int check_jobs(const struct zri_header *h, zr_diag *diag)
{
	const struct zri_section *s = zri_header_section(h, ZRI_SEC_JOBS);
	const struct zri_jobs_layout *j = &h->jobs;
	uint64_t lo = s->offset, hi = s->offset + s->size;
	bool ok =
		j->max_agents >= 1 && j->max_agents <= ZRI_MAX_AGENTS && j->max_jobs >= 2 &&
		j->max_jobs <= (UINT32_C(1) << 30) && s->count == j->max_jobs &&
		is_pow2(j->free_capacity) && j->free_capacity >= j->max_jobs &&
		is_pow2(j->inbox_capacity) && j->inbox_capacity <= (UINT32_C(1) << 24) &&
		j->shared_capacity == j->free_capacity && j->ctl_off == lo &&
		j->ctl_off % ZRI_LINE == 0 && j->agents_off % ZRI_LINE == 0 &&
		j->recs_off % ZRI_LINE == 0 && j->free_off % ZRI_LINE == 0 &&
		j->agents_off >= j->ctl_off + sizeof(struct zri_jobs_ctl) &&
		range_ok(j->agents_off, (uint64_t)j->max_agents * sizeof(struct zri_agent), lo,
			 hi) &&
		j->recs_off >= j->agents_off + (uint64_t)j->max_agents * sizeof(struct zri_agent) &&
		range_ok(j->recs_off, (uint64_t)j->max_jobs * sizeof(struct zri_job), lo, hi) &&
		j->free_off >= j->recs_off + (uint64_t)j->max_jobs * sizeof(struct zri_job) &&
		j->end_off == j->free_off + zri_ring_bytes(ZR_RING_MPMC, j->free_capacity) &&
		j->end_off <= hi;
	if (!ok)
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "job tables (%u agents, %u jobs) do not fit their section at "
				    "%#llx + %#llx",
				    j->max_agents, j->max_jobs, (unsigned long long)lo,
				    (unsigned long long)s->size);
	return 0;
}

static int check_classes(const struct zri_header *h, zr_diag *diag)
{
	const struct zri_section *s = zri_header_section(h, ZRI_SEC_SLAB);
	uint64_t lo = s->offset, hi = s->offset + s->size;
	if (h->nclasses != ZRI_SMALL_CLASSES)
		return zri_diag_set(diag, ZR_ECORRUPT, "%u size classes, expected %u", h->nclasses,
				    ZRI_SMALL_CLASSES);
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++) {
		const struct zri_slab_class *k = &h->classes[c];
		uint64_t n = k->nblocks;
		bool ok = k->block_size == (UINT64_C(1) << (ZRI_SMALL_MIN_SHIFT + c)) &&
			  (n == 0 || (n >= 2 && n <= (UINT64_C(1) << 29) && !(n & (n - 1)))) &&
			  range_ok(k->stats_off, sizeof(struct zri_class_stats), lo, hi) &&
			  k->stats_off % ZRI_LINE == 0 && range_ok(k->meta_off, n * 8, lo, hi) &&
			  k->meta_off % 8 == 0 &&
			  range_ok(k->data_off, n * k->block_size, lo, hi) && k->data_off % 64 == 0;
		if (ok && n)
			ok = range_ok(
				     k->ring_off,
				     zri_ring_bytes(ZR_RING_MPMC, (uint32_t)ZRI_FREE_RING_SLOTS(n)),
				     lo, hi) &&
			     k->ring_off % 64 == 0;
		/* in the order zri_layout_plan() writes, disjoint: stats, meta,
		 * ring, blocks, then the next class */
		uint64_t meta_end = k->meta_off + n * 8;
		uint64_t ring_end =
			n ? k->ring_off + zri_ring_bytes(ZR_RING_MPMC,
							 (uint32_t)ZRI_FREE_RING_SLOTS(n))
			  : meta_end;
		if (ok)
			ok = k->stats_off >= lo &&
			     k->meta_off >= k->stats_off + sizeof(struct zri_class_stats) &&
			     (n == 0 || k->ring_off >= meta_end) && k->data_off >= ring_end;
		if (ok)
			lo = k->data_off + n * k->block_size;
		if (!ok)
			return zri_diag_set(
				diag, ZR_ECORRUPT,
				"size class %u (%llu blocks of %llu bytes) lies outside "
				"the slab section",
				c, (unsigned long long)n, (unsigned long long)k->block_size);
	}
	return 0;
}

static int check_large(const struct zri_header *h, zr_diag *diag)
{
	const struct zri_section *s = zri_header_section(h, ZRI_SEC_LARGE);
	const struct zri_large_layout *l = &h->large;
	uint64_t lo = s->offset, hi = s->offset + s->size;
	if (l->page_size != ZRI_LARGE_PAGE || l->npages > (UINT64_C(1) << 32) ||
	    s->count != l->npages || !range_ok(l->ctl_off, sizeof(struct zri_large_ctl), lo, hi) ||
	    l->ctl_off % ZRI_LINE ||
	    !range_ok(l->meta_off, l->npages * sizeof(struct zri_page_meta), lo, hi) ||
	    l->meta_off % 8 || l->meta_off < l->ctl_off + sizeof(struct zri_large_ctl) ||
	    (l->npages && (!range_ok(l->data_off, l->npages * l->page_size, lo, hi) ||
			   l->data_off % l->page_size ||
			   l->data_off < l->meta_off + l->npages * sizeof(struct zri_page_meta))))
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "large heap of %llu pages lies outside its section",
				    (unsigned long long)l->npages);
	uint64_t largest = l->npages * l->page_size;
	for (uint32_t c = 0; c < ZRI_SMALL_CLASSES; c++)
		if (h->classes[c].nblocks && h->classes[c].block_size > largest)
			largest = h->classes[c].block_size;
	if (h->max_payload > largest)
		return zri_diag_set(diag, ZR_ECORRUPT, "max payload %llu exceeds the heap (%llu)",
				    (unsigned long long)h->max_payload,
				    (unsigned long long)largest);
	return 0;
}

int zri_header_validate(const struct zri_header *h, uint64_t file_size, zr_diag *diag)
{
	/* h holds the first min(file_size, header) bytes, the rest zeroed */
	if (file_size >= sizeof(h->magic) && h->magic != 0 && h->magic != ZRI_MAGIC)
		return zri_diag_set(diag, ZR_EFOREIGN, "magic %#llx is not zring's %#llx",
				    (unsigned long long)h->magic, (unsigned long long)ZRI_MAGIC);
	if (file_size < ZRI_HDR_BYTES)
		return zri_diag_set(diag, ZR_ETRUNC,
				    "segment has %llu bytes, less than a header (%u)",
				    (unsigned long long)file_size, ZRI_HDR_BYTES);
	if (h->magic == 0)
		return zri_diag_set(
			diag, ZR_ENOTREADY,
			"header was never written: its creator died before initialising it");
	if (h->layout_version != ZRI_LAYOUT_VERSION)
		return zri_diag_set(diag, ZR_EVERSION, "layout version %u, this build reads %u",
				    h->layout_version, ZRI_LAYOUT_VERSION);
	if (h->fingerprint != zri_layout_fingerprint())
		return zri_diag_set(diag, ZR_ELAYOUT,
				    "layout fingerprint %#llx, this build has %#llx",
				    (unsigned long long)h->fingerprint,
				    (unsigned long long)zri_layout_fingerprint());
	if (h->header_bytes != ZRI_HDR_BYTES)
		return zri_diag_set(diag, ZR_ECORRUPT, "header size %u, expected %u",
				    h->header_bytes, ZRI_HDR_BYTES);
	if (h->arena_size > file_size)
		return zri_diag_set(diag, ZR_ETRUNC, "segment has %llu bytes, its header says %llu",
				    (unsigned long long)file_size,
				    (unsigned long long)h->arena_size);
	if (h->checksum != zri_header_checksum(h))
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "header checksum %#llx does not match its contents (%#llx)",
				    (unsigned long long)h->checksum,
				    (unsigned long long)zri_header_checksum(h));
	/* relaxed: a private copy or a snapshot; READY was published before any
	 * opener could get here */
	uint32_t state = atomic_load_explicit(&h->a_state, memory_order_relaxed);
	if (state > ZRI_ARENA_POISONED)
		return zri_diag_set(diag, ZR_ECORRUPT, "arena state word is %#x, not 0..2", state);
	int rc = check_sections(h, diag);
	if (rc == 0)
		rc = check_classes(h, diag);
	if (rc == 0)
		rc = check_large(h, diag);
	if (rc == 0)
		rc = check_jobs(h, diag);
	return rc;
}
