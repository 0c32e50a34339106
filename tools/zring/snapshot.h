/* A snapshot of everything `zring stat` shows, taken in one pass through
 * the public read-only API, and the findings an operator should see first.
 * Two snapshots taken apart give the rates. */
#ifndef ZRING_CLI_SNAPSHOT_H
#define ZRING_CLI_SNAPSHOT_H

#include "cli.h"

struct snap_ring {
	zr_ring_entry e;
	zr_ring_stats st[ZR_PRIO_COUNT]; /* one per level for an inbox, else [0] */
	/* age of the oldest entry per level, for the job layer's inboxes
	 * (entries are job ids there); 0 when empty or unknown */
	uint64_t oldest_ns[ZR_PRIO_COUNT];
	bool jobs_inbox;
	bool bad; /* failed to open: listed in findings */
};

struct snap {
	uint64_t mono_ns, real_ns;
	zr_arena_info info;
	zr_jobs_stats jobs;
	struct snap_ring *rings;
	size_t nrings;
	bool rings_corrupt;
	zr_slab_class_stats slab[ZR_SLAB_MAX_CLASSES + 1];
	size_t nslab;
	zr_slab_owner_usage *owners;
	size_t nowners;
	zr_agent_info *agents;
	size_t nagents;
};

/* Take a snapshot (under the caller's fault guard). 0 or -ENOMEM. */
int snap_take(zr_arena *a, struct snap *s);
void snap_free(struct snap *s);
/* Only the clock and the agents (what `zring agents` needs). */
int snap_take_agents(zr_arena *a, struct snap *s);

/* snap_take() under the fault guard; an exit code (the message printed). */
int snap_take_guarded(zr_arena *a, struct snap *s);
void cli_sleep(double seconds);

/* Rate of a counter between two snapshots (prev may be NULL: no rate). */
bool snap_rate(const struct snap *cur, const struct snap *prev, uint64_t now_v, uint64_t prev_v,
	       double *out);
/* The job layer's inboxes carry job ids: the shared queue and agents' inboxes. */
bool snap_is_jobs_inbox(const char *name);
/* The agent of prev with the same id, or NULL. */
const zr_agent_info *snap_find_agent(const struct snap *prev, uint32_t id);
/* The ring of prev with the same name, or NULL. */
const struct snap_ring *snap_find_ring(const struct snap *prev, const char *name);

/* ---- findings: what is wrong, most serious first ---- */
struct finding {
	const char *severity; /* "critical", "warning", "info" */
	char what[200];
};
/* Fill up to cap findings; returns how many. */
size_t snap_findings(const struct snap *cur, const struct snap *prev, struct finding *out,
		     size_t cap);

/* Renderers of `stat` (stat_text.c, stat_json.c, stat_prom.c). */
void stat_text(FILE *f, const struct snap *cur, const struct snap *prev);
json_t *stat_json(const struct snap *cur, const struct snap *prev);
/* Several arenas at once: the format groups each metric family. */
void stat_prom(FILE *f, const struct snap *v, size_t n);
/* Pieces of stat_json reused by `agents` and `ring`. */
json_t *stat_agent_json(const struct snap *cur, const struct snap *prev, const zr_agent_info *g);
json_t *stat_ring_json(const struct snap *cur, const struct snap *prev, const struct snap_ring *r);

#endif
