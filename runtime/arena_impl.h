/* The process-local arena handle and the runtime's internal interfaces. */
#ifndef ZR_ARENA_IMPL_H
#define ZR_ARENA_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../rings/ring_impl.h"
#include "layout.h"
#include "zring/arena.h"
#include "zring/slab.h"

struct zri_class_rt {
	uint64_t block_size;
	uint64_t nblocks;
	uint64_t data_off; /* from the arena base */
	_Atomic uint64_t *meta;
	struct zri_class_stats *stats;
	struct zr_ring free_ring; /* entries: gen << 32 | block index */
};

struct zri_tcache;

struct zr_arena {
	uint8_t *base;
	uint64_t size;
	struct zri_header *hdr;
	bool readonly;
	bool file_backed;
	bool inherited;	     /* this process is a fork of the one that opened it */
	zr_arena *next_open; /* registry of open arenas, for fork */
	uint32_t self;	     /* owner id; 0 when read-only */
	uint32_t self_idx;
	pid_t pid; /* process that opened this handle */
	char name[ZR_NAME_MAX + 1];
	char path[PATH_MAX];
	struct zri_proc *procs;
	uint32_t max_procs;
	struct zri_ringdir *dir;
	struct zri_dirent *dirents;
	uint32_t max_rings;
	uint64_t ringheap_off;
	uint64_t ringheap_size;
	struct zri_class_rt classes[ZRI_SMALL_CLASSES];
	struct zri_large_ctl *lctl;
	struct zri_page_meta *pmeta;
	uint64_t npages;
	uint64_t page_size;
	uint64_t large_data_off;
	uint64_t max_payload;
	struct zri_tcache *tcaches; /* of every thread; under the global cache lock */
	/* the job layer (agent*.c, job_*.c) */
	struct zri_jobs_ctl *jctl;
	struct zri_agent *agents;
	struct zri_job *jobs;
	uint32_t max_agents;
	uint32_t max_jobs;
	uint32_t inbox_capacity;
	uint32_t shared_capacity;
	struct zr_ring job_free;		   /* free record indices: gen << 32 | index */
	_Atomic(struct zr_inbox *) shared;	   /* the shared queue, opened on first use */
	_Atomic(struct zri_inbox_cache *) inboxes; /* agents' inboxes opened by this process */
	struct zri_journal *journal;		   /* this process's stream, NULL: none */
};

/* Address of an offset in this process's mapping (offsets are checked by
 * the caller; the arena's sections are 64-byte aligned). */
static inline void *zri_arena_at(const zr_arena *a, uint64_t off)
{
	return a->base + off;
}

/* arena_layout.c: plan the sections of a new arena into its header. */
int zri_layout_plan(struct zri_header *h, const zr_arena_config *cfg, zr_diag *diag);
/* arena_validate.c: check a header read from anywhere (fuzzed).
 * file_size: bytes actually present. Returns 0 or a ZR_E* code + diag. */
int zri_header_validate(const struct zri_header *h, uint64_t file_size, zr_diag *diag);
uint64_t zri_header_checksum(const struct zri_header *h);
const struct zri_section *zri_header_section(const struct zri_header *h, uint32_t kind);
/* Bind the process-local views (rings, classes) to a validated mapping. */
int zri_arena_bind(zr_arena *a, const struct zri_header *h, zr_diag *diag);
/* Initialise every section of a freshly planned arena. */
void zri_arena_format(zr_arena *a);
void zri_arena_fill_free(zr_arena *a);

/* job_*.c: bind the job layer's views; close the shared queue handle. */
int zri_jobs_bind(zr_arena *a, const struct zri_header *h, zr_diag *diag);
void zri_jobs_format(zr_arena *a);
void zri_jobs_fill_free(zr_arena *a);
void zri_jobs_detach(zr_arena *a);

/* proc.c: the process table. */
int zri_proc_claim(zr_arena *a);
void zri_proc_release(zr_arena *a);
bool zri_owner_alive(const void *arena, uint32_t owner);

/* Remember zri_owner_alive()'s answers on this thread until _end (proc.c).
 * Returns whether this call started the memo; pass that to _end. */
#define ZRI_ALIVE_MEMO 64
struct zri_alive_memo {
	const struct zr_arena *arena;
	uint32_t n;
	uint32_t owner[ZRI_ALIVE_MEMO];
	bool alive[ZRI_ALIVE_MEMO];
};
bool zri_alive_memo_begin(const struct zr_arena *a, struct zri_alive_memo *m);
void zri_alive_memo_end(bool began);
/* Release slots of dead processes; returns how many. */
uint32_t zri_proc_reap(zr_arena *a);
void zri_proc_count(const zr_arena *a, uint32_t *attached, uint32_t *dead);

/* ring_dir.c: every MPMC ring in the directory, for repairs. */
void zri_ringdir_repair(zr_arena *a, uint64_t *drops, uint64_t *redelivers);
void zri_ringdir_check(const zr_arena *a, struct zri_sink *s);

/* slab.c / slab_large.c / slab_recover.c */
void zri_tcache_detach_arena(zr_arena *a);
void zri_slab_recover(zr_arena *a, uint64_t *freed, uint64_t *orphaned);
void zri_large_recover(zr_arena *a, uint64_t *orphaned);
int zri_large_alloc(zr_arena *a, size_t size, zr_payload *out);
int zri_large_free(zr_arena *a, uint64_t off, uint32_t gen);
int zri_large_resolve(const zr_arena *a, uint64_t off, uint32_t gen, void **ptr, size_t *size,
		      _Atomic uint64_t **word);
void zri_slab_check(const zr_arena *a, struct zri_sink *s);
void zri_large_check(const zr_arena *a, struct zri_sink *s);

/* robust.c: process-shared robust mutexes. */
void zri_robust_init(pthread_mutex_t *m);
#define ZRI_LOCK_TIMEOUT_S 5
/* Lock; returns 1 when the previous holder died (state made consistent),
 * 0 otherwise, -ETIMEDOUT after ZRI_LOCK_TIMEOUT_S, ZR_ECORRUPT for a
 * broken lock (the lock is not held after a negative return). */
int zri_robust_lock(pthread_mutex_t *m);
void zri_robust_unlock(pthread_mutex_t *m);

/* A broken invariant found while working: mark the arena POISONED (new
 * opens then refuse it with ZR_EPOISONED and this reason) and return
 * ZR_ECORRUPT. Read-only attachments only return ZR_ECORRUPT. */
int zri_arena_poison(const zr_arena *a, const char *what, unsigned long long where);

/* arena_list.c: the registry of file-backed arenas (best effort). The
 * link of the file at `path`: /dev/shm/.zring-files/<euid>-<XXH3 of its
 * absolute path>; 0 or -EINVAL, -ENAMETOOLONG. */
int zri_registry_path(const char *path, char *out, size_t cap);
void zri_registry_add(const char *path);    /* after a successful create */
void zri_registry_forget(const char *path); /* remove its link, if any */

/* arena.c: ZR_EOWNER unless the file is ours, or mode 06x0 and our group's. */
struct stat;
int zri_check_owner(const struct stat *st, const char *path, zr_diag *diag);

int zri_diag_set(zr_diag *diag, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
