/* The arena: one POSIX shared-memory segment (or a file, e.g. on hugetlbfs)
 * that holds the process table, the rings and the payload heap.
 *
 * Every process that opens an arena read-write takes a slot in its process
 * table; the slot's owner id (index plus generation) marks the ring slots and
 * payload blocks the process holds, so that whatever a dead process held can
 * be found and repaired (zr_arena_recover()). */
#ifndef ZRING_ARENA_H
#define ZRING_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zr_arena zr_arena;
struct zr_journal_config;

#define ZR_NAME_MAX 47 /* longest arena or ring name, without the NUL */
#define ZR_DEFAULT_MAX_PAYLOAD ((size_t)100 << 20)

enum zr_arena_flags {
	ZR_ARENA_GROUP = 1u << 0,	/* create with mode 0660 instead of 0600 */
	ZR_ARENA_NO_PREFAULT = 1u << 1, /* skip touching every page at creation */
	ZR_ARENA_READONLY = 1u << 2,	/* open: map PROT_READ, take no process slot */
};

typedef struct zr_arena_config {
	size_t size;		 /* bytes in all; at least ZR_ARENA_MIN_SIZE */
	unsigned flags;		 /* zr_arena_flags */
	uint32_t max_procs;	 /* process table slots (default 64, at most 4095) */
	uint32_t max_rings;	 /* ring directory entries (default 64) */
	size_t ring_bytes;	 /* space for rings (default size / 8) */
	size_t max_payload;	 /* largest payload (default 100 MiB; clamped to what fits) */
	uint32_t small_percent;	 /* share of the payload space for small classes (default 50) */
	uint32_t max_agents;	 /* agent table slots (default size / 256 KiB, 8 .. 64) */
	uint32_t max_jobs;	 /* job records (default size / 8 KiB, 256 .. 2^20) */
	uint32_t inbox_capacity; /* per priority level of each agent's inbox (default 1024) */
	uint32_t reserved;
	/* NULL: no journal. Else every process that opens the arena read-write
	 * journals its job events there (zring/persist.h). */
	const struct zr_journal_config *journal;
} zr_arena_config;

#define ZR_ARENA_MIN_SIZE ((size_t)1 << 20)

/** Information about an open arena, copied out. */
typedef struct zr_arena_info {
	char name[ZR_NAME_MAX + 1];
	size_t size;
	size_t max_payload; /* effective largest payload */
	uint32_t max_procs;
	uint32_t max_rings;
	uint32_t creator_pid;
	uint32_t uid;
	uint64_t created_ns;	 /* CLOCK_REALTIME */
	uint32_t self;		 /* this process's owner id, 0 for a read-only attachment */
	uint32_t procs_attached; /* slots in use, alive or not */
	uint32_t procs_dead;	 /* of those, owned by dead processes */
	bool readonly;
	bool file_backed;
} zr_arena_info;

/** One arena found by zr_arena_list(). */
typedef struct zr_arena_entry {
	char name[ZR_NAME_MAX + 1];
	size_t size; /* of the segment */
	uint32_t uid;
	uint32_t creator_pid;
	uint32_t procs_alive;
	uint32_t procs_dead;
	int open_rc;	  /* 0 when the header was readable, else why not */
	bool stale;	  /* attached processes are all dead, or creator died before ready */
	bool file_backed; /* made by zr_arena_create_file() (found through its registry link) */
	char path[4096];  /* "/dev/shm/<name>" or the file's absolute path */
} zr_arena_entry;

/**
 * Fill a configuration with the defaults for an arena of `size` bytes.
 * Safety: any thread. Blocking: never.
 */
ZR_API void zr_arena_config_init(zr_arena_config *cfg, size_t size);

/**
 * Create a named arena in /dev/shm and attach to it read-write.
 * @param[in]  name  "[/]name", at most ZR_NAME_MAX bytes, no other '/'.
 * @param[in]  cfg   From zr_arena_config_init(); NULL takes defaults of 16 MiB.
 * @param[out] out   Set on success only.
 * @param[out] diag  Optional: filled with a message on failure.
 * Ownership: *out is process-local; release with zr_arena_close(). The
 *            segment lives until zr_arena_unlink().
 * Blocking:  writes every page once (prefault) unless ZR_ARENA_NO_PREFAULT.
 * @return 0, -EEXIST, -EINVAL, -ENAMETOOLONG, ZR_ENOSPACE (free space of
 *         /dev/shm below `size`; the message gives both), -errno.
 */
ZR_API ZR_NODISCARD int zr_arena_create(const char *name, const zr_arena_config *cfg,
					zr_arena **out, zr_diag *diag);

/**
 * Create a file-backed arena at `path` (hugetlbfs, tmpfs or a plain file).
 * Same contract as zr_arena_create(); the free-space check uses the
 * filesystem of `path`, and on hugetlbfs the size must be a multiple of the
 * huge page size (-EINVAL otherwise). Only tmpfs and hugetlbfs arenas can be
 * registered with CUDA later (long-term pins of other file mappings fail).
 * Listing: on success a symlink /dev/shm/.zring-files/<uid>-<XXH3 of the
 * absolute path, 16 hex digits> is made to the file, so that
 * zr_arena_list() finds it. Best effort: failing to make the link does not
 * fail the creation (the arena is then only missing from the listing).
 */
ZR_API ZR_NODISCARD int zr_arena_create_file(const char *path, const zr_arena_config *cfg,
					     zr_arena **out, zr_diag *diag);

/**
 * Attach to an existing named arena.
 * @param[in] flags  0 or ZR_ARENA_READONLY.
 * Blocking: waits up to 100 ms for an arena still being created.
 * @return 0, -ENOENT (no such name), ZR_EFOREIGN (not a zring segment),
 *         ZR_ETRUNC (shorter than its header says), ZR_EVERSION,
 *         ZR_ELAYOUT (another build's struct layout), ZR_ECORRUPT (header
 *         checksum or section table), ZR_ENOTREADY (creator died before it
 *         was ready), ZR_EOWNER (owned by another user), ZR_EPOISONED (a
 *         process found a broken invariant in it; the message says which),
 *         ZR_EPROCFULL, -EAGAIN (still being created), -errno.
 */
ZR_API ZR_NODISCARD int zr_arena_open(const char *name, unsigned flags, zr_arena **out,
				      zr_diag *diag);

/** Attach to a file-backed arena; same contract as zr_arena_open(). */
ZR_API ZR_NODISCARD int zr_arena_open_file(const char *path, unsigned flags, zr_arena **out,
					   zr_diag *diag);

/**
 * Detach: flush this process's payload caches, release its process slot
 * and unmap. Payloads the process still owns become orphans
 * (see zr_slab_free_orphans()). NULL is accepted.
 * Fork: a child inherits its parent's handles only as read-only views (the
 * process slot, caches and ring ownership stay the parent's); it calls
 * zr_arena_open() for its own attachment, and closing an inherited handle
 * only unmaps it. Ring handles opened before the fork must not be used to
 * enqueue or dequeue in the child.
 * Safety: no other thread may use `a` or its rings during or after the call.
 * @return 0 or -errno from munmap.
 */
ZR_API int zr_arena_close(zr_arena *a);

/** Remove the name of an arena; attached processes keep their mapping.
 * @return 0, -ENOENT, -EINVAL, -errno. */
ZR_API ZR_NODISCARD int zr_arena_unlink(const char *name);

/**
 * List the zring arenas in /dev/shm (other files are skipped) and the
 * file-backed ones registered by zr_arena_create_file() (see there): their
 * entries have file_backed set, `path` the file and `name` its base name.
 * A registry link whose file is gone or no longer a zring arena is skipped.
 * @param[out] out  Array of `cap` entries; may be NULL when cap is 0.
 * @param[out] n    Number of arenas found (may exceed cap).
 * Blocking: reads /dev/shm, the registry and each arena's header with
 *           pread; never maps an arena or waits on a lock.
 * @return 0 or -errno.
 */
ZR_API ZR_NODISCARD int zr_arena_list(zr_arena_entry *out, size_t cap, size_t *n);

/**
 * Remove every stale /dev/shm arena of the calling user (all attached
 * processes dead, or the creator died before it was ready), and the
 * caller's registry links whose file is gone or no longer a zring arena.
 * File-backed arenas are never deleted here, stale or not: a file outside
 * /dev/shm may be precious; remove one with zr_arena_remove_stale().
 * @param[out] removed  Optional count of arenas unlinked.
 * @return 0 or -errno.
 */
ZR_API ZR_NODISCARD int zr_arena_gc(size_t *removed);

/**
 * Remove one arena found by zr_arena_list() if it is still stale (checked
 * again just before removal, so an arena that came back to life is kept):
 * /dev/shm arenas are unlinked by name, file-backed ones by path, and their
 * registry link is removed.
 * @param[in] e  An entry of zr_arena_list(); name, path and file_backed are used.
 * Safety: any thread. A process that opens the arena between the check and
 *         the unlink keeps its mapping, as after zr_arena_unlink().
 * Blocking: never (pread of the header and the process table).
 * @return 0, -EBUSY (not stale any more), -EPERM (another user's), -ENOENT,
 *         -EINVAL (not a zring arena, or a bad entry), -errno.
 */
ZR_API ZR_NODISCARD int zr_arena_remove_stale(const zr_arena_entry *e);

/** Copy out information about an open arena. Blocking: never. */
ZR_API void zr_arena_info_get(const zr_arena *a, zr_arena_info *out);

/** Base address of the arena in this process's mapping. */
ZR_API void *zr_arena_base(const zr_arena *a);

/**
 * Recovery report: what zr_arena_recover() found and repaired.
 */
typedef struct zr_recover_report {
	uint32_t procs_dead;	  /* dead process slots found (and released) */
	uint64_t ring_drops;	  /* half-written ring entries dropped */
	uint64_t ring_redelivers; /* entries a dead consumer held, published again */
	uint64_t blocks_freed;	  /* payload blocks in dead caches returned */
	uint64_t blocks_orphaned; /* payloads a dead process still owned */
} zr_recover_report;

/**
 * Find dead processes, release their slots, repair every ring slot they
 * left half-done and return their cached payload blocks. Payloads they
 * allocated become orphans, still valid for whoever holds their handles.
 * Safety: any thread, concurrently with live producers and consumers.
 * Blocking: never sleeps; scans every ring and payload block.
 * @param[out] rep  Optional; counts are added to it.
 * @return 0, ZR_EREADONLY, ZR_ECORRUPT.
 */
ZR_API ZR_NODISCARD int zr_arena_recover(zr_arena *a, zr_recover_report *rep);

/**
 * Check the arena's invariants: the walk of zr_arena_check_each(), stopped
 * at the first violation.
 * @param[out] diag  Optional: the first violation and where it is.
 * Safety: any thread, concurrently with writers (only states no writer can
 *         produce are reported). Works on a read-only attachment.
 * @return 0 or ZR_ECORRUPT.
 */
ZR_API ZR_NODISCARD int zr_arena_check(const zr_arena *a, zr_diag *diag);

/** One broken invariant found by zr_arena_check_each(). */
typedef struct zr_violation {
	const char
		*area;	 /* static: "header", "procs", "rings", "slab", "large", "agents", "jobs" */
	char where[64];	 /* e.g. "ring jobs.shared", "class 3 block 17", "job 12", "agent 2" */
	uint64_t offset; /* byte offset in the arena of the bad word, UINT64_MAX if none */
	char msg[256];	 /* what is wrong, one line */
} zr_violation;

/** Called once per violation; return non-zero to stop the walk. */
typedef int (*zr_violation_fn)(void *ctx, const zr_violation *v);

/**
 * Check every invariant of an open arena and report each violation, not only
 * the first: header checksum and section table (if that fails nothing else
 * is walked), process table, every ring of the directory (inbox levels
 * included) and the slab free rings, slab block metadata, the large heap's
 * page table, the agent table and the job table.
 * Reports are capped per component (a ring, a size class, a table) at 16;
 * a last report of the component then says how many more it has.
 * @param[in] fn   Called with each violation; *v is valid during the call
 *                 only. NULL: count only.
 * @param[in] ctx  Passed to fn.
 * Safety: any thread, concurrently with writers; works read-only; only
 *         states no writer can produce are reported (no false positives under load).
 * Blocking: never (bounded work, no locks, no sleeps).
 * @return number of violations found, those counted in an "N more" report
 *         included (the walk stops early if fn says so).
 */
ZR_API size_t zr_arena_check_each(const zr_arena *a, zr_violation_fn fn, void *ctx);

/** Is the process behind owner id `owner` alive? 0 is never alive. */
ZR_API bool zr_arena_owner_alive(const zr_arena *a, uint32_t owner);

#ifdef __cplusplus
}
#endif
#endif
