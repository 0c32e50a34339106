/* runtime/ring_dir.c: the arena's directory of named rings and inboxes.
 *
 * Creation is rare, so it takes the directory's robust mutex; lookups never
 * lock. An entry is built while FREE and published by a release store of
 * READY (R1), which lookups read with acquire (A1). Ring memory is carved
 * from the ring heap by a bump pointer and is not reused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../rings/inbox_impl.h"
#include "arena_impl.h"

static int check_name(const char *name)
{
	if (!name || !*name)
		return -EINVAL;
	return strlen(name) > ZR_NAME_MAX ? -ENAMETOOLONG : 0;
}

static bool valid_config(const zr_ring_config *cfg)
{
	uint32_t c = cfg->capacity;
	return (cfg->kind == ZR_RING_SPSC || cfg->kind == ZR_RING_MPMC) && c >= 2 &&
	       c <= (1u << 30) && !(c & (c - 1)) && cfg->wait <= ZR_WAIT_SPIN_FUTEX;
}

/* Find a READY entry by name; NULL if none. */
static struct zri_dirent *find(const zr_arena *a, const char *name)
{
	for (uint32_t i = 0; i < a->max_rings; i++) {
		struct zri_dirent *e = &a->dirents[i];
		/* A1: pairs with R1 in publish(); the object is built */
		if (atomic_load_explicit(&e->a_state, memory_order_acquire) == ZRI_DIRENT_READY &&
		    !strncmp(e->name, name, sizeof(e->name)))
			return e;
	}
	return NULL;
}

/* Reserve `bytes` of ring heap and a free entry; called under the lock. */
static int reserve(zr_arena *a, const char *name, uint64_t bytes, struct zri_dirent **ent,
		   uint64_t *off)
{
	if (find(a, name))
		return -EEXIST;
	struct zri_dirent *e = NULL;
	for (uint32_t i = 0; i < a->max_rings && !e; i++)
		/* relaxed: entries change only under the lock we hold */
		if (atomic_load_explicit(&a->dirents[i].a_state, memory_order_relaxed) ==
		    ZRI_DIRENT_FREE)
			e = &a->dirents[i];
	/* relaxed: the bump pointer changes only under the lock */
	uint64_t used = atomic_load_explicit(&a->dir->a_heap_used, memory_order_relaxed);
	bytes = ZRI_ALIGN(bytes, ZRI_LINE);
	if (!e || used > a->ringheap_size || bytes > a->ringheap_size - used)
		return -ENOSPC;
	/* relaxed: under the lock, as above */
	atomic_store_explicit(&a->dir->a_heap_used, used + bytes, memory_order_relaxed);
	memset(a->base + a->ringheap_off + used, 0, bytes);
	*ent = e;
	*off = a->ringheap_off + used;
	return 0;
}

static void publish(struct zri_dirent *e, uint32_t kind, const char *name, uint64_t off,
		    uint64_t bytes)
{
	e->kind = kind;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->offset = off;
	e->bytes = bytes;
	/* R1: pairs with A1 in find() */
	atomic_store_explicit(&e->a_state, ZRI_DIRENT_READY, memory_order_release);
}

/* Validate an entry read from shared memory: the object lies in the ring heap. */
static int entry_bounds(const zr_arena *a, const struct zri_dirent *e, uint64_t *limit)
{
	uint64_t lo = a->ringheap_off, hi = a->ringheap_off + a->ringheap_size;
	if (e->offset < lo || e->offset >= hi || e->offset % 64 || e->bytes > hi - e->offset)
		return ZR_ECORRUPT;
	*limit = e->bytes;
	return 0;
}

static int bind_ring(zr_arena *a, struct zr_ring *r, uint64_t off, uint64_t limit, zr_diag *d)
{
	return zri_ring_bind(r, zri_arena_at(a, off), limit, a->self, zri_owner_alive, a, d);
}

/* What differs between the kinds of directory object. */
struct obj_kind {
	uint32_t kind;	    /* zri_dirent_kind */
	size_t handle_size; /* the process-local handle */
	void (*init)(zr_arena *a, uint64_t off, const void *cfg, const char *name);
	int (*bind)(zr_arena *a, void *handle, uint64_t off, uint64_t limit);
};

/* Build an object of `bytes` under the directory lock and publish it. */
static int obj_create(zr_arena *a, const char *name, const struct obj_kind *k, const void *cfg,
		      uint64_t bytes, void **out)
{
	if (a->readonly)
		return ZR_EREADONLY;
	void *h = malloc(k->handle_size);
	if (!h)
		return -ENOMEM;
	uint64_t off = 0;
	struct zri_dirent *e = NULL;
	int rc = zri_robust_lock(&a->dir->lock);
	if (rc < 0) {
		free(h);
		return rc;
	}
	rc = reserve(a, name, bytes, &e, &off);
	if (rc == 0) {
		k->init(a, off, cfg, name);
		rc = k->bind(a, h, off, bytes);
	}
	if (rc == 0)
		publish(e, k->kind, name, off, bytes);
	zri_robust_unlock(&a->dir->lock);
	if (rc) {
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

static int obj_open(zr_arena *a, const char *name, const struct obj_kind *k, void **out)
{
	int rc = check_name(name);
	if (rc)
		return rc;
	struct zri_dirent *e = find(a, name);
	uint64_t limit;
	if (!e || e->kind != k->kind)
		return -ENOENT;
	if (entry_bounds(a, e, &limit))
		return zri_arena_poison(a, "a ring directory entry points outside the ring heap",
					e->offset);
	void *h = malloc(k->handle_size);
	if (!h)
		return -ENOMEM;
	rc = k->bind(a, h, e->offset, limit);
	if (rc) {
		free(h);
		return rc == ZR_ECORRUPT
			       ? zri_arena_poison(a, "a ring header fails its checks", e->offset)
			       : rc;
	}
	*out = h;
	return 0;
}

static void ring_init(zr_arena *a, uint64_t off, const void *cfg, const char *name)
{
	const zr_ring_config *c = cfg;
	zri_ring_init(zri_arena_at(a, off), c->kind, c->capacity, c->wait, name);
}

static int ring_bind(zr_arena *a, void *handle, uint64_t off, uint64_t limit)
{
	return bind_ring(a, handle, off, limit, NULL);
}

static const struct obj_kind ring_kind = {ZRI_OBJ_RING, sizeof(zr_ring), ring_init, ring_bind};

int zr_ring_create(zr_arena *a, const char *name, const zr_ring_config *cfg, zr_ring **out)
{
	int rc = check_name(name);
	if (rc)
		return rc;
	if (!cfg || !valid_config(cfg))
		return -EINVAL;
	void *h = NULL;
	rc = obj_create(a, name, &ring_kind, cfg, zri_ring_bytes(cfg->kind, cfg->capacity), &h);
	if (rc == 0)
		*out = h;
	return rc;
}

int zr_ring_open(zr_arena *a, const char *name, zr_ring **out)
{
	void *h = NULL;
	int rc = obj_open(a, name, &ring_kind, &h);
	if (rc == 0)
		*out = h;
	return rc;
}

void zr_ring_close(zr_ring *r)
{
	free(r);
}

static uint64_t inbox_bytes(uint32_t capacity)
{
	return sizeof(struct zri_inbox) + ZR_PRIO_COUNT * zri_ring_bytes(ZR_RING_MPMC, capacity);
}

static int bind_inbox(zr_arena *a, zr_inbox *ib, uint64_t off, uint64_t limit)
{
	struct zri_inbox *h = zri_arena_at(a, off);
	if (limit < sizeof(*h) || h->magic != ZRI_INBOX_MAGIC || h->wait_mode > ZR_WAIT_SPIN_FUTEX)
		return ZR_ECORRUPT;
	ib->hdr = h;
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
		uint64_t ro = h->ring_off[p];
		if (ro < off + sizeof(*h) || ro >= off + limit || ro % 64)
			return ZR_ECORRUPT;
		int rc = bind_ring(a, &ib->levels[p], ro, off + limit - ro, NULL);
		if (rc)
			return rc;
		if (ib->levels[p].kind != ZR_RING_MPMC)
			return ZR_ECORRUPT;
		ib->levels[p].inbox = h;
	}
	return 0;
}

static void init_inbox(zr_arena *a, uint64_t off, const zr_inbox_config *cfg, const char *name)
{
	struct zri_inbox *h = zri_arena_at(a, off);
	static const char *const level[] = {"critical", "high", "normal", "low"};
	h->magic = ZRI_INBOX_MAGIC;
	h->share = cfg->share;
	h->wait_mode = cfg->wait;
	snprintf(h->name, sizeof(h->name), "%s", name);
	uint64_t ro = off + sizeof(*h);
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
		char rn[ZR_NAME_MAX + 1];
		snprintf(rn, sizeof(rn), "%.38s.%s", name, level[p]);
		zri_ring_init(zri_arena_at(a, ro), ZR_RING_MPMC, cfg->capacity, cfg->wait, rn);
		h->ring_off[p] = ro;
		ro += zri_ring_bytes(ZR_RING_MPMC, cfg->capacity);
	}
}

static void inbox_init(zr_arena *a, uint64_t off, const void *cfg, const char *name)
{
	init_inbox(a, off, cfg, name);
}

static int inbox_bind(zr_arena *a, void *handle, uint64_t off, uint64_t limit)
{
	return bind_inbox(a, handle, off, limit);
}

static const struct obj_kind inbox_kind = {ZRI_OBJ_INBOX, sizeof(zr_inbox), inbox_init, inbox_bind};

int zr_inbox_create(zr_arena *a, const char *name, const zr_inbox_config *cfg, zr_inbox **out)
{
	int rc = check_name(name);
	if (rc)
		return rc;
	zr_ring_config rc_cfg = {ZR_RING_MPMC, cfg ? cfg->capacity : 0, cfg ? cfg->wait : 0};
	if (!cfg || !valid_config(&rc_cfg))
		return -EINVAL;
	void *h = NULL;
	rc = obj_create(a, name, &inbox_kind, cfg, inbox_bytes(cfg->capacity), &h);
	if (rc == 0)
		*out = h;
	return rc;
}

int zr_inbox_open(zr_arena *a, const char *name, zr_inbox **out)
{
	void *h = NULL;
	int rc = obj_open(a, name, &inbox_kind, &h);
	if (rc == 0)
		*out = h;
	return rc;
}

void zr_inbox_close(zr_inbox *ib)
{
	free(ib);
}

/* Visit every ring of the directory, SPSC and MPMC (inbox levels included). */
static int each_ring(const zr_arena *a, int (*fn)(struct zr_ring *, void *), void *ctx)
{
	for (uint32_t i = 0; i < a->max_rings; i++) {
		struct zri_dirent *e = &a->dirents[i];
		uint64_t limit;
		/* A1: pairs with R1 in publish() */
		if (atomic_load_explicit(&e->a_state, memory_order_acquire) != ZRI_DIRENT_READY)
			continue;
		if (entry_bounds(a, e, &limit))
			return ZR_ECORRUPT;
		zr_inbox ib;
		int rc;
		if (e->kind == ZRI_OBJ_INBOX) {
			rc = bind_inbox((zr_arena *)a, &ib, e->offset, limit);
			for (unsigned p = 0; rc == 0 && p < ZR_PRIO_COUNT; p++)
				rc = fn(&ib.levels[p], ctx);
		} else {
			rc = bind_ring((zr_arena *)a, &ib.levels[0], e->offset, limit, NULL);
			if (rc == 0)
				rc = fn(&ib.levels[0], ctx);
		}
		if (rc)
			return rc;
	}
	return 0;
}

struct repair_counts {
	uint64_t drops, redelivers;
};

static int repair_one(struct zr_ring *r, void *ctx)
{
	struct repair_counts *c = ctx;
	if (r->kind == ZR_RING_MPMC)
		zri_mpmc_repair(r, &c->drops, &c->redelivers);
	return 0;
}

void zri_ringdir_repair(zr_arena *a, uint64_t *drops, uint64_t *redelivers)
{
	struct repair_counts c = {0, 0};
	(void)each_ring(a, repair_one, &c);
	for (uint32_t k = 0; k < ZRI_SMALL_CLASSES; k++)
		if (a->classes[k].nblocks)
			repair_one(&a->classes[k].free_ring, &c);
	*drops += c.drops;
	*redelivers += c.redelivers;
}

/* Check one directory entry's object: its bounds, its header, its rings. */
static void check_entry(const zr_arena *a, uint32_t i, struct zri_dirent *e, struct zri_sink *s)
{
	char where[64];
	uint64_t limit;
	snprintf(where, sizeof(where), "ring %.47s", e->name);
	zri_sink_part(s); /* at most one report here; each ring then has its own cap */
	zr_inbox ib;
	zr_diag d = {0};
	if (entry_bounds(a, e, &limit))
		zri_sink_report(s, "rings", where, &e->offset,
				"directory entry %u: object at %#llx + %#llx lies outside the ring "
				"heap",
				i, (unsigned long long)e->offset, (unsigned long long)e->bytes);
	else if (e->kind == ZRI_OBJ_INBOX && bind_inbox((zr_arena *)a, &ib, e->offset, limit))
		zri_sink_report(s, "rings", where, zri_arena_at(a, e->offset),
				"directory entry %u: inbox header fails its checks", i);
	else if (e->kind == ZRI_OBJ_RING &&
		 bind_ring((zr_arena *)a, &ib.levels[0], e->offset, limit, &d))
		zri_sink_report(s, "rings", where, zri_arena_at(a, e->offset),
				"directory entry %u: %s", i, d.msg);
	else if (e->kind != ZRI_OBJ_RING && e->kind != ZRI_OBJ_INBOX)
		zri_sink_report(s, "rings", where, &e->kind, "directory entry %u: unknown kind %u",
				i, e->kind);
	else
		for (unsigned p = 0; p < (e->kind == ZRI_OBJ_INBOX ? ZR_PRIO_COUNT : 1u); p++) {
			snprintf(where, sizeof(where), "ring %.47s", ib.levels[p].hdr->name);
			zri_ring_check(&ib.levels[p], where, s);
		}
}

void zri_ringdir_check(const zr_arena *a, struct zri_sink *s)
{
	zri_sink_part(s);
	for (uint32_t i = 0; i < a->max_rings; i++) {
		struct zri_dirent *e = &a->dirents[i];
		/* relaxed: only the value is checked, nothing it publishes is read */
		uint32_t st = atomic_load_explicit(&e->a_state, memory_order_relaxed);
		if (st != ZRI_DIRENT_READY && st != ZRI_DIRENT_FREE &&
		    !zri_sink_report(s, "rings", "ring directory", &e->a_state,
				     "directory entry %u: state %u is neither FREE nor READY", i,
				     st))
			return;
	}
	zri_sink_part_end(s, "rings", "ring directory", "directory");
	for (uint32_t i = 0; i < a->max_rings && !s->stop; i++) {
		struct zri_dirent *e = &a->dirents[i];
		/* A1: pairs with R1 in publish() */
		if (atomic_load_explicit(&e->a_state, memory_order_acquire) == ZRI_DIRENT_READY)
			check_entry(a, i, e, s);
	}
}

/* Describe one READY entry; ZR_ECORRUPT if it or its object fails checks. */
static int describe(const zr_arena *a, const struct zri_dirent *e, zr_ring_entry *out)
{
	uint64_t limit;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, e->name, ZR_NAME_MAX);
	out->offset = e->offset;
	if (entry_bounds(a, e, &limit))
		return ZR_ECORRUPT;
	zr_inbox ib;
	int rc;
	if (e->kind == ZRI_OBJ_INBOX) {
		rc = bind_inbox((zr_arena *)a, &ib, e->offset, limit);
		out->inbox = true;
	} else if (e->kind == ZRI_OBJ_RING) {
		rc = bind_ring((zr_arena *)a, &ib.levels[0], e->offset, limit, NULL);
	} else {
		return ZR_ECORRUPT;
	}
	if (rc)
		return ZR_ECORRUPT;
	out->kind = ib.levels[0].kind;
	out->capacity = ib.levels[0].capacity;
	return 0;
}

int zr_ring_list(const zr_arena *a, zr_ring_entry *out, size_t cap, size_t *n)
{
	int rc = 0;
	*n = 0;
	for (uint32_t i = 0; i < a->max_rings; i++) {
		const struct zri_dirent *e = &a->dirents[i];
		/* A1: pairs with R1 in publish(); the entry's fields are written */
		if (atomic_load_explicit(&e->a_state, memory_order_acquire) != ZRI_DIRENT_READY)
			continue;
		/* a private copy: a scribbled entry cannot change between check and use */
		struct zri_dirent c = {.kind = e->kind, .offset = e->offset, .bytes = e->bytes};
		memcpy(c.name, e->name, sizeof(c.name));
		zr_ring_entry d;
		if (describe(a, &c, &d)) {
			rc = ZR_ECORRUPT;
			continue;
		}
		if (*n < cap)
			out[*n] = d;
		(*n)++;
	}
	return rc;
}
