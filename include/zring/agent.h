/* Agents: the named actors that submit and claim jobs.
 *
 * An agent is registered by one thread of an attached process and is used
 * by one thread at a time. Each agent has a priority inbox (kept by name:
 * a successor registering under the same name finds the jobs left in it)
 * and claims from it first, then from the arena's shared queue. An agent is
 * dead when its process is (pid gone, or the pid reused by another process:
 * start times differ), or when it missed its heartbeat for longer than its
 * timeout; zr_jobs_recover() then marks it dead and takes back its jobs. */
#ifndef ZRING_AGENT_H
#define ZRING_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "export.h"
#include "hist.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zr_agent zr_agent;

#define ZR_AGENT_NAME_MAX 39 /* without the NUL */
#define ZR_AGENT_CAPS_MAX 63 /* comma-separated capability strings */

enum zr_agent_kind { ZR_AGENT_CPU = 1, ZR_AGENT_GPU = 2 };

/* What happens to the jobs waiting in a dead agent's inbox. */
enum zr_agent_on_death {
	ZR_ON_DEATH_KEEP = 0,	   /* left for the next agent registered under its name */
	ZR_ON_DEATH_TO_SHARED = 1, /* moved to the shared queue for any agent */
};

enum zr_agent_status { ZR_AGENT_FREE = 0, ZR_AGENT_ALIVE = 1, ZR_AGENT_DEAD = 2 };

typedef struct zr_agent_config {
	uint32_t kind;	       /* zr_agent_kind */
	uint32_t on_death;     /* zr_agent_on_death */
	const char *caps;      /* optional, e.g. "fp16,avx512" */
	uint64_t heartbeat_ns; /* dead after this long without zr_agent_heartbeat(); 0: never */
	uint32_t wait;	       /* zr_wait_mode for blocking claims (default SPIN_FUTEX) */
	uint32_t reserved;
} zr_agent_config;

/** Placement recorded for an agent (see zring/place.h); text, for tools. */
typedef struct zr_agent_place_info {
	int32_t numa_node; /* -1 when not pinned or several */
	uint32_t ncpus;	   /* 0 when not pinned */
	char cpus[64];	   /* e.g. "0-1" */
	char note[128];	   /* how the placement was chosen, or why it differs */
} zr_agent_place_info;

typedef struct zr_agent_info {
	uint32_t id; /* agent id: index + generation; 0 is nobody */
	uint32_t status;
	uint32_t kind;
	uint32_t on_death;
	uint32_t pid;
	uint32_t tid;
	uint32_t owner; /* process owner id in the arena */
	char name[ZR_AGENT_NAME_MAX + 1];
	char caps[ZR_AGENT_CAPS_MAX + 1];
	uint64_t registered_ns; /* CLOCK_MONOTONIC */
	uint64_t heartbeat_ns;	/* last sign of life, CLOCK_MONOTONIC */
	uint64_t heartbeat_timeout_ns;
	uint64_t dead_ns; /* when marked dead, 0 if alive */
	zr_agent_place_info place;
	uint32_t inbox_depth; /* jobs waiting in its inbox, all levels */
	/* counters kept by the agent itself */
	uint64_t submitted;
	uint64_t claimed;
	uint64_t completed;
	uint64_t failed; /* zr_job_fail() calls, retried or not */
	uint64_t stale;	 /* queue entries skipped: job cancelled, expired or claimed */
} zr_agent_info;

/** Defaults: CPU, keep the inbox, no heartbeat timeout, spin then sleep. */
ZR_API void zr_agent_config_init(zr_agent_config *cfg);

/**
 * Register the calling thread as agent `name` in arena `a`. A dead agent of
 * the same name is replaced (its inbox, and the jobs in it, are taken
 * over); a live one makes this fail.
 * Ownership: *out is process-local; release with zr_agent_unregister().
 * Blocking: creating the agent's inbox on first use takes the arena's
 *           directory lock (at most 5 s).
 * @return 0, -EINVAL (bad name or config), -EEXIST (a live agent has the
 *         name), -ENOSPC (agent table or ring space full), ZR_EREADONLY,
 *         ZR_ECORRUPT, -ETIMEDOUT, -ENOMEM.
 */
ZR_API ZR_NODISCARD int zr_agent_register(zr_arena *a, const char *name, const zr_agent_config *cfg,
					  zr_agent **out);

/**
 * Leave: the agent's jobs in processing go back to pending (retry count
 * unchanged) and its slot is freed; its inbox stays for a successor.
 * NULL is accepted. The handle is freed.
 */
ZR_API void zr_agent_unregister(zr_agent *ag);

/** Record a sign of life (one relaxed store; call it from the agent's loop). */
ZR_API void zr_agent_heartbeat(zr_agent *ag);

/** This agent's id, as stored in jobs (source, target, holder). */
ZR_API uint32_t zr_agent_id(const zr_agent *ag);
ZR_API zr_arena *zr_agent_arena(const zr_agent *ag);

/**
 * Record the placement of this agent in the agent table (zr_place_self()
 * does this when given the agent). Blocking: never.
 */
ZR_API void zr_agent_set_place(zr_agent *ag, const zr_agent_place_info *place);

/**
 * Find an agent by name (alive or dead). Works read-only.
 * @return its id, or 0 when no agent has that name.
 */
ZR_API uint32_t zr_agent_lookup(const zr_arena *a, const char *name);

/**
 * Copy out one agent (by id). Works read-only.
 * @return 0, ZR_ESTALE (the slot is free or holds another agent now), -EINVAL.
 */
ZR_API ZR_NODISCARD int zr_agent_get(const zr_arena *a, uint32_t id, zr_agent_info *out);

/**
 * List agents whose status is in `status_mask` (1u << zr_agent_status; 0 for
 * all but free slots), with liveness judged now (an agent whose process died
 * is reported DEAD even before recovery marked it).
 * @param[out] n  Agents found (may exceed cap).
 */
ZR_API void zr_agent_list(const zr_arena *a, unsigned status_mask, zr_agent_info *out, size_t cap,
			  size_t *n);

/** Latency histograms recorded by this agent: submit->claim of the jobs it
 * claimed, claim->complete of the jobs it completed (copied out). */
ZR_API void zr_agent_hist(const zr_arena *a, uint32_t id, zr_hist *claim, zr_hist *complete);

#ifdef __cplusplus
}
#endif
#endif
