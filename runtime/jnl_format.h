/* The journal's on-disk format, shared by the writer (journal.c,
 * jnl_event.c), the reader (jnl_read.c) and the fuzz target.
 *
 * Each process that writes has its own stream, a sequence of segment files
 * "zj-<stream, 8 hex>-<segno, 8 hex>.zjl", segno counting from 0. A segment
 * is a 4 KiB header (struct zri_jseg_hdr, then zeros) and then records back
 * to back, each a multiple of 8 bytes. The space after the last record is
 * zeros (files are preallocated; a clean close truncates the newest one to
 * its data), so a zero magic where a record should start ends the segment
 * cleanly. Little-endian, fixed-width fields throughout.
 *
 * The segments of a stream form a chain: a segment opened by rotation
 * (segno > 0) says in its header where the previous one's data ended
 * (prev_end, a file offset: the end of its last record, where the next one
 * would have gone; PAD records count, they are data the reader walks over),
 * the LSN of its last record (prev_last_lsn) and how many records it holds
 * (prev_records; neither counts PADs, which have no LSN). Segment 0 has
 * zeros there. A reader that reaches the end of segment n's data checks it
 * against segment n+1's header, so an older segment cut (or zeroed) at a
 * record boundary, which looks like a clean end, is seen as the loss it is;
 * and a segno missing between two segments of a stream is a lost segment.
 * Only the newest segment of a stream may end anywhere: a crash leaves its
 * tail torn or short.
 *
 * Version 1 headers had no chain; this build refuses to read them. */
#ifndef ZR_JNL_FORMAT_H
#define ZR_JNL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "zring/agent.h"
#include "zring/arena.h"
#include "zring/job.h"

#define ZRI_JSEG_MAGIC 0x3147455352524a5aull /* "ZJRRSEG1" */
#define ZRI_JSEG_VERSION 2u
#define ZRI_JSEG_V1_SUM_AT 160u /* where version 1 kept its checksum: to name it */
#define ZRI_JSEG_HDR_BYTES 4096u
#define ZRI_JREC_MAGIC 0x4352525au /* "ZRRC" */
#define ZRI_JREC_ALIGN 8u
#define ZRI_JDIRECT_ALIGN 4096u
#define ZRI_JREC_MAX ((uint64_t)1 << 31) /* no record is longer */

struct zri_jseg_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_bytes;
	uint64_t lineage;
	uint32_t stream;
	uint32_t segno;
	uint64_t mono_ns; /* a clock pair taken at creation: CLOCK_MONOTONIC */
	uint64_t real_ns; /* and CLOCK_REALTIME */
	uint32_t pid;
	uint32_t durability;
	char arena[ZR_NAME_MAX + 1];
	struct zri_config_copy config; /* the arena's shape: restore without a checkpoint */
	/* the previous segment of the stream (segno - 1); zeros in segment 0 */
	uint64_t prev_end;	/* file offset where its data ended (PADs included) */
	uint64_t prev_last_lsn; /* LSN of its last record, 0 if none */
	uint64_t prev_records;	/* its records, PADs not counted */
	uint64_t checksum;	/* XXH3-64 of the bytes before it */
};
_Static_assert(sizeof(struct zri_jseg_hdr) == 192, "segment header");
_Static_assert(offsetof(struct zri_jseg_hdr, prev_end) == ZRI_JSEG_V1_SUM_AT, "v1 checksum");

/* Every record starts with this; checksum covers [8, len). */
struct zri_jrec_hdr {
	uint64_t checksum;
	uint32_t magic;
	uint32_t len; /* whole record, a multiple of 8, >= sizeof(this) */
	uint64_t lsn; /* 0 for PAD */
	uint16_t type;
	uint16_t version;
	uint32_t stream;
};
_Static_assert(sizeof(struct zri_jrec_hdr) == 32, "record header");

enum zri_jrec_extra {
	ZRI_JX_SUBMIT = 1u << 0, /* struct zri_jrec_submit follows the job block */
	ZRI_JX_ERROR = 1u << 1,	 /* then the error text, ZR_JOB_ERROR_MAX + 1 bytes */
};

/* A job event: the job as the change left it. */
struct zri_jrec_job {
	uint64_t uuid[2];
	uint64_t id;
	uint64_t time_ns; /* CLOCK_MONOTONIC when appended */
	uint64_t kind;	  /* the record's a_kind: type, prio, flags, max retries, retries */
	uint64_t agents;  /* source | target << 32 */
	uint32_t status;
	uint32_t attempt;
	uint32_t holder; /* PROCESSING: the agent */
	uint32_t extra;	 /* zri_jrec_extra */
	uint64_t due_ns;
	uint64_t claim_ns;
	uint64_t finish_ns;
	uint64_t expire_ns;
	uint64_t data_len; /* payload (SUBMIT) or result (COMPLETE) bytes at the end */
};
_Static_assert(sizeof(struct zri_jrec_job) == 104, "job block");

/* What a job keeps from its submission. */
struct zri_jrec_submit {
	uint64_t submit_ns;
	uint64_t ttl_ns;
	uint64_t lease_ns;
	uint64_t interval_ns;
	uint64_t backoff; /* as a_backoff: first | max << 32, in us */
	uint64_t payload_len;
	char type_name[ZR_JOB_TYPE_NAME_MAX + 1];
	char meta[ZR_JOB_META_BYTES];
};
_Static_assert(sizeof(struct zri_jrec_submit) == 200, "submit block");

struct zri_jrec_agent {
	uint32_t id;
	uint32_t kind;
	uint32_t on_death;
	uint32_t reserved;
	char name[ZR_AGENT_NAME_MAX + 1];
};
_Static_assert(sizeof(struct zri_jrec_agent) == 56, "agent block");

static inline uint64_t zri_jrec_round(uint64_t n)
{
	return (n + ZRI_JREC_ALIGN - 1) & ~(uint64_t)(ZRI_JREC_ALIGN - 1);
}

#endif
