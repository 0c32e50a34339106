/* Restore's working state: jobs by UUID and agents by old id, gathered
 * from a checkpoint image and the journal (restore.c), then built into a
 * new arena (restore_build.c). Times are kept as CLOCK_REALTIME so that
 * they survive a reboot. */
#ifndef ZR_RESTORE_IMPL_H
#define ZR_RESTORE_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "zring/persist.h"

/* A clock pair: the same moment on CLOCK_MONOTONIC and CLOCK_REALTIME. */
struct clock_ref {
	uint64_t mono_ns, real_ns;
};

struct rjob {
	uint8_t uuid[16];
	bool used;
	uint32_t status, attempt, source, target, holder;
	uint64_t kind;
	/* CLOCK_REALTIME; 0 and UINT64_MAX kept as they are */
	uint64_t submit, claim, finish, expire, due;
	uint64_t ttl_ns, lease_ns, interval_ns, backoff;
	char type_name[ZR_JOB_TYPE_NAME_MAX + 1];
	char meta[ZR_JOB_META_BYTES];
	char error[ZR_JOB_ERROR_MAX + 1];
	uint8_t *payload, *result;
	uint64_t payload_len, result_len;
};

struct ragent {
	uint32_t old_id, new_id, kind, on_death;
	char name[ZR_AGENT_NAME_MAX + 1];
};

struct rstate {
	struct rjob *jobs; /* open addressing by UUID */
	size_t cap, n;
	struct ragent *agents;
	size_t nagents;
	struct zri_config_copy config;
	zr_restore_report *rep;
	zr_problem_fn fn;
	void *ctx;
};

void rs_init(struct rstate *st, zr_restore_report *rep, zr_problem_fn fn, void *ctx);
void rs_free(struct rstate *st);
/* A problem: kept in rep->first_problem if it is the first, passed on to
 * the caller's fn. rs_report is a zr_problem_fn (ctx: the rstate). */
void rs_report(void *ctx, const char *file, uint64_t off, const char *what);
void rs_problem(struct rstate *st, const char *file, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
uint64_t rs_wall(struct clock_ref ref, uint64_t mono);
int rs_agent(struct rstate *st, uint32_t id, const char *name, uint32_t kind, uint32_t on_death);
/* Add or replace a whole job (copies the bytes). */
int rs_put(struct rstate *st, const struct rjob *j, const void *payload, uint64_t plen,
	   const void *result, uint64_t rlen, bool whole);
/* Apply one journal record. */
int rs_apply(struct rstate *st, const zr_jrec *rec);
/* Make the arena. */
int rs_build(struct rstate *st, const zr_restore_config *cfg, uint64_t lineage, zr_arena **out,
	     zr_diag *diag);

#endif
