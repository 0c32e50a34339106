/* The `zring` inspection tool: shared declarations.
 *
 * Every command attaches read-only (PROT_READ, no process slot) and reads
 * through the public API only. Reads of shared memory run under a fault
 * guard, so a segment cut short or a structure pointing outside it ends in
 * a message, never a crash. */
#ifndef ZRING_CLI_H
#define ZRING_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "zring.h"

#define CLI_SCHEMA "zring-cli/1"

/* Exit codes (documented in `zring --help` and tools/zring/README.md). */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_ERROR = 1,	    /* could not read: foreign, truncated, version, permission, I/O */
	EXIT_USAGE = 2,	    /* bad command line */
	EXIT_CORRUPT = 3,   /* the arena breaks its invariants (check), or is poisoned */
	EXIT_NOT_FOUND = 4, /* no such arena, ring, job or agent */
};

/* Options common to every command. */
struct cli_opts {
	bool json;
	bool prometheus;
	bool yes, dry_run;
	double interval_s;  /* rates: sample twice this far apart; 0: none */
	long iterations;    /* top: frames to draw (0: until q) */
	long limit;	    /* rows of lists */
	long bytes;	    /* job: payload bytes shown */
	const char *status; /* jobs filters */
	const char *agent;
	const char *priority;
	/* persistence */
	const char *dir, *journal, *kind, *durability;
	int level;
	uint32_t threads, keep;
	uint64_t seq, from;
	bool no_checkpoint;
	int argc; /* positional arguments after the command */
	char **argv;
};

struct cli_cmd {
	const char *name;
	int (*run)(const struct cli_opts *o);
	const char *args;    /* positional arguments, for usage */
	const char *summary; /* one line */
	const char *help;    /* the rest of `zring CMD --help` */
	const char *options; /* the options it takes, e.g. "json,interval" */
};

extern const struct cli_cmd cli_commands[];

int cmd_ls(const struct cli_opts *o);
int cmd_stat(const struct cli_opts *o);
int cmd_top(const struct cli_opts *o);
int cmd_jobs(const struct cli_opts *o);
int cmd_job(const struct cli_opts *o);
int cmd_dlq(const struct cli_opts *o);
int cmd_ring(const struct cli_opts *o);
int cmd_agents(const struct cli_opts *o);
int cmd_check(const struct cli_opts *o);
int cmd_gc(const struct cli_opts *o);
int cmd_checkpoint(const struct cli_opts *o);
int cmd_restore(const struct cli_opts *o);
int cmd_verify(const struct cli_opts *o);
int cmd_journal(const struct cli_opts *o);

/* ---- persistence commands (cmd_journal.c) -------------------------------- */

/* Problems found in journal or checkpoint files: collected for --json,
 * printed to stderr otherwise; counted either way. */
struct cli_problems {
	json_t *list;
	uint64_t n;
};
/* A zr_problem_fn; ctx is a struct cli_problems. */
void cli_problem(void *ctx, const char *file, uint64_t off, const char *what);
/* Index of s in names[0..n), or -1. */
int cli_pick(const char *s, const char *const *names, int n);

/* ---- attaching (attach.c) ------------------------------------------------ */

/* Open ARENA (a /dev/shm name, or a path when it holds a '/') read-only.
 * On failure prints why to stderr and returns the exit code to use. */
int cli_attach(const char *arena, zr_arena **out);
/* The arenas of this host, copied out (free() it); NULL after printing why. */
zr_arena_entry *cli_list_arenas(const char *cmd, size_t *n);
/* Open an arena zr_arena_list() found, read-only, by name or path. */
int cli_open_entry(const zr_arena_entry *e, zr_arena **out, zr_diag *d);
/* Exit code for a zring error code. */
int cli_exit_for(int rc);
/* Print "zring CMD: message" to stderr; returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the fault guard (guard.c) ------------------------------------------- */

/* Run fn(ctx) with SIGBUS/SIGSEGV caught for reads of the arena mapped at
 * [base, base + size): a fault there returns -EFAULT with *fault_off set to
 * the offset; a fault elsewhere is a bug and is re-raised. */
int cli_guarded(const zr_arena *a, int (*fn)(void *ctx), void *ctx, uint64_t *fault_off);
/* Report a fault of cli_guarded() and return the exit code. */
int cli_fault_exit(const zr_arena *a, uint64_t off);

/* ---- formatting (fmt.c) -------------------------------------------------- */

uint64_t cli_now_mono(void);
uint64_t cli_now_real(void);
/* Human forms into buf (returned): "1.50 GiB", "12.3 ms", "4.1k". */
const char *fmt_bytes(char *buf, size_t cap, uint64_t v);
const char *fmt_dur(char *buf, size_t cap, uint64_t ns);
const char *fmt_count(char *buf, size_t cap, double v);
const char *fmt_rate(char *buf, size_t cap, double per_s, bool have);
/* Age of a CLOCK_MONOTONIC stamp now, or "-" when 0. */
const char *fmt_age(char *buf, size_t cap, uint64_t stamp_ns, uint64_t now_ns);
const char *fmt_user(char *buf, size_t cap, uint32_t uid);
const char *fmt_time(char *buf, size_t cap, uint64_t realtime_ns);

/* ---- JSON output (json.c) ------------------------------------------------ */

/* A document {"schema", "command", ...} to fill and print. */
json_t *json_doc(const char *command);
/* Print one object and a newline to stdout; frees it. */
void json_emit(json_t *doc);
/* Integers beyond 2^53 lose nothing in jansson (json_int_t is 64-bit). */
json_t *json_u64(uint64_t v);
/* A string from shared memory: bytes outside printable ASCII become '?'. */
json_t *json_text(const char *s);
json_t *json_hist(const zr_hist *h);
json_t *json_job(const zr_job_info *j, const char *source, const char *target, const char *holder,
		 uint64_t now_ns);

/* ---- names and parsing (names.c) ----------------------------------------- */

/* Parse "pending,failed" into a zr_job_status mask; -1 if a name is unknown. */
long parse_status_mask(const char *s);
long parse_prio_mask(const char *s);
/* Job id: decimal, 0x-hex, or a UUID (looked up in the table). */
int parse_job_id(const zr_arena *a, const char *s, zr_job_id *out);
/* Agent by name or numeric id; 0 when unknown. */
uint32_t parse_agent(const zr_arena *a, const char *s);
/* "name" of an agent id (or "-" / "#id" when none is known) into buf. */
const char *agent_name(const zr_arena *a, uint32_t id, char *buf, size_t cap);
void uuid_text(const uint8_t uuid[16], char out[37]);
/* The next "key\0value\0" pair of a job's metadata from *pos (start at 0);
 * false at the end or at a damaged pair. */
bool meta_next(const char meta[ZR_JOB_META_BYTES], size_t *pos, char key[ZR_JOB_META_BYTES],
	       char val[ZR_JOB_META_BYTES]);
const char *kind_name(uint32_t ring_kind);
const char *agent_status_name(uint32_t s);

#endif
