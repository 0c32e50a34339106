/* `zring ring ARENA NAME`: a ring's (or an inbox's) counters and the
 * entries now in it, oldest first. Entries of the job layer's queues are
 * job ids: their job's status, priority and age are shown beside them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

struct ring_ctx {
	zr_arena *a;
	const char *name;
	struct snap s; /* only its ring list part is used */
	struct snap_ring r;
	uint64_t *entries[ZR_PRIO_COUNT];
	unsigned n[ZR_PRIO_COUNT];
	unsigned cap;
	int rc;
};

static int peek_all(zr_ring *r, struct ring_ctx *c, unsigned l)
{
	c->entries[l] = calloc(c->cap, sizeof(uint64_t));
	if (!c->entries[l])
		return -ENOMEM;
	zr_ring_stat(r, &c->r.st[l]);
	c->n[l] = zr_ring_peek(r, c->entries[l], c->cap);
	return 0;
}

static int read_ring(void *ctx)
{
	struct ring_ctx *c = ctx;
	zr_ring *r = NULL;
	zr_inbox *ib = NULL;
	snprintf(c->r.e.name, sizeof(c->r.e.name), "%s", c->name);
	int rc = zr_ring_open(c->a, c->name, &r);
	if (rc == 0) {
		c->r.e.kind = zr_ring_kind(r);
		c->r.e.capacity = zr_ring_capacity(r);
		rc = peek_all(r, c, 0);
		zr_ring_close(r);
		return rc;
	}
	if (rc != -ENOENT || (rc = zr_inbox_open(c->a, c->name, &ib)) != 0)
		return rc;
	c->r.e.inbox = true;
	c->r.jobs_inbox = snap_is_jobs_inbox(c->name);
	for (unsigned l = 0; rc == 0 && l < ZR_PRIO_COUNT; l++) {
		zr_ring *lv = zr_inbox_level(ib, l);
		c->r.e.kind = zr_ring_kind(lv);
		c->r.e.capacity = zr_ring_capacity(lv);
		rc = peek_all(lv, c, l);
	}
	zr_inbox_close(ib);
	return rc;
}

static void print_entries(const struct ring_ctx *c, unsigned l)
{
	uint64_t now = cli_now_mono();
	for (unsigned i = 0; i < c->n[l]; i++) {
		uint64_t v = c->entries[l][i];
		printf("  %6u  %#018llx  %20llu", i, (unsigned long long)v, (unsigned long long)v);
		zr_job_info j;
		char age[32];
		if (c->r.jobs_inbox && zr_job_get(c->a, v, &j) == 0)
			printf("  job %s %s, %s old", zr_job_status_name(j.status),
			       zr_prio_name(j.prio), fmt_age(age, sizeof(age), j.submit_ns, now));
		else if (c->r.jobs_inbox)
			printf("  (job released: skipped by claimers)");
		printf("\n");
	}
	const zr_ring_stats *st = &c->r.st[l];
	if (st->count > c->n[l])
		printf("  (%u entries in all; --limit N shows more)\n", st->count);
	else if (c->n[l] == 0)
		printf("  (empty)\n");
}

static void print_ring(const struct ring_ctx *c)
{
	unsigned levels = c->r.e.inbox ? ZR_PRIO_COUNT : 1;
	printf("%s %s: %s, capacity %u%s\n", c->r.e.inbox ? "inbox" : "ring", c->r.e.name,
	       kind_name(c->r.e.kind), c->r.e.capacity, c->r.e.inbox ? " per level" : "");
	for (unsigned l = 0; l < levels; l++) {
		const zr_ring_stats *st = &c->r.st[l];
		if (c->r.e.inbox)
			printf("level %s:", zr_prio_name(l));
		printf("  depth %u  enqueued %llu  dequeued %llu  full %llu  empty %llu  waits "
		       "%llu  "
		       "wakes %llu  drops %llu  redelivers %llu\n",
		       st->count, (unsigned long long)st->enqueued,
		       (unsigned long long)st->dequeued, (unsigned long long)st->full,
		       (unsigned long long)st->empty, (unsigned long long)st->waits,
		       (unsigned long long)st->wakes, (unsigned long long)st->drops,
		       (unsigned long long)st->redelivers);
		printf("  %6s  %18s  %20s\n", "#", "entry (hex)", "entry");
		print_entries(c, l);
	}
}

static int print_guarded(void *ctx)
{
	print_ring(ctx);
	return 0;
}

static json_t *ring_json(const struct ring_ctx *c)
{
	struct snap cur = {.mono_ns = cli_now_mono()};
	json_t *d = json_doc("ring");
	json_t *r = stat_ring_json(&cur, NULL, &c->r);
	unsigned levels = c->r.e.inbox ? ZR_PRIO_COUNT : 1;
	json_t *all = json_array();
	for (unsigned l = 0; l < levels; l++) {
		json_t *e = json_array();
		for (unsigned i = 0; i < c->n[l]; i++)
			json_array_append_new(e, json_u64(c->entries[l][i]));
		json_array_append_new(all, e);
	}
	json_object_set_new(r, "entries", c->r.e.inbox ? all : json_incref(json_array_get(all, 0)));
	if (!c->r.e.inbox)
		json_decref(all);
	json_object_set_new(d, "ring", r);
	return d;
}

int cmd_ring(const struct cli_opts *o)
{
	if (o->argc != 2)
		return cli_fail(EXIT_USAGE,
				"ring: give an arena and a ring name (see zring ring --help)");
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct ring_ctx c = {.a = a, .name = o->argv[1]};
	c.cap = o->limit > 0 ? (unsigned)(o->limit < (1 << 24) ? o->limit : (1 << 24)) : 64;
	uint64_t off = 0;
	rc = cli_guarded(a, read_ring, &c, &off);
	if (rc == -EFAULT)
		rc = cli_fault_exit(a, off);
	else if (rc == -ENOENT)
		rc = cli_fail(EXIT_NOT_FOUND,
			      "no ring or inbox '%s' in %s (`zring stat` lists them)", o->argv[1],
			      o->argv[0]);
	else if (rc)
		rc = cli_fail(cli_exit_for(rc), "ring %s: %s", o->argv[1],
			      rc == ZR_ECORRUPT ? "its header fails its checks (`zring check`)"
						: zr_strerror(rc));
	else if (o->json)
		json_emit(ring_json(&c));
	else if (cli_guarded(a, print_guarded, &c, &off) == -EFAULT)
		rc = cli_fault_exit(a, off);
	for (unsigned l = 0; l < ZR_PRIO_COUNT; l++)
		free(c.entries[l]);
	zr_arena_close(a);
	return rc;
}
