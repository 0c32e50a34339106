/* Where the invariant checks report what they find: zr_arena_check_each()
 * passes each report to its caller, zr_arena_check() and zr_ring_check()
 * keep the first one in a zr_diag. The checks read live shared memory and
 * go on after a violation; reports are capped per component (a ring, a
 * size class, a table) so that one scribbled region cannot flood the
 * caller. */
#ifndef ZR_CHECK_SINK_H
#define ZR_CHECK_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zring/arena.h"

#define ZRI_SINK_CAP 16u /* reports per component; the rest are counted */

struct zri_sink {
	const uint8_t *base; /* the arena's mapping: offsets of bad words */
	uint64_t size;
	uint32_t max_procs; /* owner ids must name a slot below it; 0: unknown */
	zr_violation_fn fn;
	void *ctx;
	size_t found;	  /* violations found, reported or only counted */
	bool stop;	  /* fn asked to stop: checks return at once */
	uint32_t in_part; /* violations found in the current component */
};

/* A sink that keeps the first violation in *diag (may be NULL) and stops. */
void zri_sink_diag(struct zri_sink *s, const void *base, uint64_t size, uint32_t max_procs,
		   zr_diag *diag);
/* Start a component: its reports are capped at ZRI_SINK_CAP. */
void zri_sink_part(struct zri_sink *s);
/* Report a violation of `area` at `where`; `word` is the bad word in the
 * mapping (NULL: none). Returns false once the walk must stop. */
bool zri_sink_report(struct zri_sink *s, const char *area, const char *where, const void *word,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* End a component: if it had more than the cap, one report says how many
 * more, "in this `unit`". Returns false once the walk must stop. */
bool zri_sink_part_end(struct zri_sink *s, const char *area, const char *where, const char *unit);

#endif
