/* The journal's internal interfaces: this process's stream (journal.c)
 * and the events the job layer records in it (jnl_event.c). */
#ifndef ZR_JNL_IMPL_H
#define ZR_JNL_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "arena_impl.h"
#include "zring/persist.h"

struct zri_journal;
struct zri_job;

/* A restored arena goes on with the journal it was rebuilt from. */
struct zri_journal_seed {
	uint64_t lineage;
	uint64_t next_lsn;
	uint64_t next_stream;
};
/* Write cfg (NULL: none) into a new arena's header, before READY. */
int zri_journal_configure(zr_arena *a, const zr_journal_config *cfg,
			  const struct zri_journal_seed *seed, zr_diag *diag);
int zri_arena_create_seeded(const char *name, const zr_arena_config *cfg,
			    const struct zri_journal_seed *seed, zr_arena **out, zr_diag *diag);
/* Open this process's stream when the arena has a journal (creator and
 * read-write openers); 0 when it has none. */
int zri_journal_attach(zr_arena *a, zr_diag *diag);
/* Write what is buffered, stop the thread, close the files. */
void zri_journal_detach(zr_arena *a);

/* Append one record made of the iovecs (after the record header). Returns
 * the stream position just past it, for zri_journal_wait(); 0 when the
 * stream has failed (the event is counted as lost). Never fails otherwise:
 * waits while both buffers are full. */
uint64_t zri_journal_append(struct zri_journal *j, uint32_t type, const struct iovec *iov, int n);
/* Wait until the stream is written (NONE) or durable up to `pos`.
 * 0, -EIO, -ETIMEDOUT. */
int zri_journal_wait(struct zri_journal *j, uint64_t pos, int64_t timeout_ns);
/* Stream bytes appended so far (for zr_journal_flush()). */
uint64_t zri_journal_position(struct zri_journal *j);
void zri_journal_stream_stat(const struct zri_journal *j, zr_journal_stats *out);

/* Events. The caller holds the job (BUSY, or BUILDING for a submit), so
 * the record's LSN comes after every earlier change of the job and
 * before every later one. */
/* type 0: named after the new status. */
void zri_jnl_job(zr_arena *a, const struct zri_job *job, uint32_t type, uint32_t status,
		 uint32_t holder, uint32_t attempt);
void zri_jnl_agent(zr_arena *a, uint32_t id, const char *name, uint32_t kind, uint32_t on_death);
/* Under SYNC durability, wait until the calling thread's last record is
 * durable; 0 at once otherwise. Public calls that change a job end with
 * it (claims and lease extensions do not wait: losing one only runs the
 * job again after a restore). */
int zri_jnl_sync(zr_arena *a);

#endif
