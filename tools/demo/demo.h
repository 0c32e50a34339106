/* tools/demo: what the demo's processes share outside the arena (a board of
 * tallies in an anonymous shared mapping made before the forks), and the
 * two roles. The arena itself carries the jobs; the board only lets the
 * parent check afterwards that none was lost or done twice. */
#ifndef ZRING_DEMO_H
#define ZRING_DEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zring.h"

#define DEMO_PRODUCERS 2
#define DEMO_WORKERS 2
#define DEMO_MAX_JOBS (1u << 20) /* per producer */
#define DEMO_WINDOW 256		 /* jobs a producer has in flight */
#define DEMO_MAGIC 0x4f4d4544u	 /* "DEMO" */

/* A result we have no better use for (the call already said what it could). */
#define DEMO_IGNORE(call)                                                                          \
	do {                                                                                       \
		if (call) {                                                                        \
		}                                                                                  \
	} while (0)

/* The head of every payload, written by the producer in place. */
struct demo_payload {
	uint32_t magic;
	uint32_t producer;
	uint32_t seq;
	uint32_t len; /* bytes after this head */
	uint64_t checksum;
};

/* What the worker returns, in a result payload of its own. */
struct demo_result {
	uint32_t magic;
	uint32_t worker;
	uint64_t checksum; /* of the payload, as the worker read it */
};

struct demo_board {
	char arena[64];
	uint32_t jobs;	     /* per producer */
	uint32_t fail_every; /* a worker fails one job in this many on its first attempt */
	_Atomic int stop_workers;
	_Atomic uint64_t finished;	/* jobs seen final by their producers */
	_Atomic uint64_t payload_bytes; /* written by producers */
	_Atomic uint64_t bad_payloads;	/* failed a worker's check */
	_Atomic uint64_t bad_results;	/* failed a producer's check */
	_Atomic uint64_t not_completed; /* final but not COMPLETED */
	_Atomic uint64_t full_waits;	/* submits that found the table full */
	_Atomic uint64_t failed_on_purpose;
	_Atomic uint64_t completions[DEMO_WORKERS];
	/* per producer, per priority: submit -> complete, from the job's own
	 * timestamps (one writer each: zr_hist is not shared-writer safe) */
	zr_hist latency[DEMO_PRODUCERS][ZR_PRIO_COUNT];
	uint64_t done_by_prio[DEMO_PRODUCERS][ZR_PRIO_COUNT];
	zr_placement place[DEMO_PRODUCERS + DEMO_WORKERS];
	/* completions recorded by workers, per job: a 2 is a double completion */
	_Atomic uint8_t tally[DEMO_PRODUCERS][DEMO_MAX_JOBS];
};

uint64_t demo_checksum(const void *p, size_t n);
uint64_t demo_now_ns(void);

/* Child process bodies: return the exit status. */
int demo_producer(struct demo_board *bd, int index);
int demo_worker(struct demo_board *bd, int index);

/* Attach to the board's arena and register agent `name`, pinned by spread
 * index `spread` (recorded in bd->place[slot]). */
int demo_attach(struct demo_board *bd, const char *name, uint32_t on_death, unsigned spread,
		unsigned slot, zr_arena **a, zr_agent **ag);

#endif
