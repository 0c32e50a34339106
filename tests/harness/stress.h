/* Helpers shared by the stress programs (tests/stress/stress_*.c): option
 * parsing, the clock and watchdog deadlines, the payload pattern and size
 * choice, the exactly-once tally, and the helpers that manage the children
 * of the multi-process variants and the threads of the threaded ones. */
#ifndef ZR_STRESS_H
#define ZR_STRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "test.h"

#define ZR_STRESS_SEQ_BITS 48
#define ZR_STRESS_SEQ_MASK ((UINT64_C(1) << ZR_STRESS_SEQ_BITS) - 1)
#define ZR_STRESS_MIN_SIZE 64u
#define ZR_STRESS_MAX_SIZE ((size_t)256 << 10)
#define ZR_STRESS_POLL_NS 20000000L
#define ZR_STRESS_MAX_CHILDREN 8u

struct zr_stress_opt {
	uint64_t count;	    /* --entries or --ops, per producer: 1 .. 2^48-1 */
	unsigned timeout_s; /* --timeout: the watchdog */
	size_t max_size;    /* --max-size: ZR_STRESS_MIN_SIZE .. ZR_STRESS_MAX_SIZE */
	char arena[64];	    /* the arena's name, for children and the watchdog */
};

/* Parse `count_flag` (default `count_default`, scaled down under
 * sanitizers), --timeout (120 s, 240 s under sanitizers) and --max-size. */
void zr_stress_parse(int argc, char **argv, const char *count_flag, uint64_t count_default,
		     struct zr_stress_opt *o);

/* now + seconds */
uint64_t zr_stress_deadline(unsigned seconds);

/* magic (8 bits) | source (8 bits) | sequence (48 bits) */
uint64_t zr_stress_tag(uint64_t magic, unsigned from, uint64_t seq);
unsigned zr_stress_tag_from(uint64_t tag);
uint64_t zr_stress_tag_seq(uint64_t tag);

/* Write `size` bytes: tag, size, then a pattern derived from the tag. */
void zr_stress_fill(unsigned char *p, size_t size, uint64_t tag);
/* Offset of the first byte that differs from what fill wrote, or size. */
size_t zr_stress_verify(const unsigned char *p, size_t size, uint64_t tag);
/* Log-uniform over 64 B .. 256 KiB, exact class sizes now and then, capped. */
size_t zr_stress_pick_size(uint64_t *rng, size_t max_size);

/* Scan `total` tally counters (`per` per source) for entries not counted
 * exactly once; print the first five as "<who> <from> seq <seq> <verb> <c>
 * times". Counts the zeros in *lost and the others in *dup, or every bad one
 * in *lost when dup is NULL (then five in all are printed, else five each). */
void zr_stress_tally(const _Atomic uint8_t *counts, uint64_t total, uint64_t per, const char *who,
		     const char *verb, uint64_t *lost, uint64_t *dup);

/* The multi-process variants' children. */
struct zr_stress_family {
	pid_t pid[ZR_STRESS_MAX_CHILDREN];
	bool done[ZR_STRESS_MAX_CHILDREN];
	unsigned n;
};

/* SIGKILL and reap every child not yet reaped. */
void zr_stress_kill_all(struct zr_stress_family *f);
/* One exited child: mark it; if it failed, say so, set *failed, and fail. */
int zr_stress_reap_one(struct zr_stress_family *f, pid_t pid, int status, _Atomic uint32_t *failed);
/* Reap every child, running `live(a, r)` every poll until it fails; after
 * timeout_s seconds print how many still run, `dump(a, r)`, kill them all and
 * fail. Any failure sets *failed. live and dump may be NULL. */
int zr_stress_wait_family(struct zr_stress_family *f, zr_arena *a, zr_ring *r,
			  _Atomic uint32_t *failed, unsigned timeout_s,
			  int (*live)(zr_arena *, zr_ring *), void (*dump)(zr_arena *, zr_ring *));
/* Wait until `want` children are ready or *failed; fail on either or after
 * timeout_s seconds. */
int zr_stress_wait_ready(_Atomic uint32_t *ready, unsigned want, _Atomic uint32_t *failed,
			 unsigned timeout_s);

/* The threaded variants, after the watchdog fired: give the threads 5 s to
 * see the stop flag and finish; else they are stuck inside a library call:
 * remove the arena and exit without joining. */
void zr_stress_finish_or_die(_Atomic uint32_t *finished, unsigned n, const char *arena);

/* zr_slab_stat: nothing in use, cached or orphaned, every block free in
 * every class and the large heap; `when` ends the failure message. */
int zr_stress_slab_idle(zr_arena *a, const char *when);

#endif
