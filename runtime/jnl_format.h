/* The journal's on-disk format, shared by the writer (journal.c,
 * jnl_event.c), the reader (jnl_read.c) and the fuzz target.
 *
 * A segment file "zj-<stream, 8 hex>-<segno, 8 hex>.zjl" is a 4 KiB header
 * (struct zri_jseg_hdr, then zeros) and then records back to back, each a
 * multiple of 8 bytes. The space after the last record is zeros (files
 * are preallocated), so a zero magic where a record should start ends the
 * segment cleanly. Little-endian, fixed-width fields throughout. */
#ifndef ZR_JNL_FORMAT_H
#define ZR_JNL_FORMAT_H

#include <stdint.h>

#include "layout.h"
#include "zring/agent.h"
#include "zring/arena.h"
#include "zring/job.h"

#define ZRI_JSEG_MAGIC 0x3147455352524a5aull /* "ZJRRSEG1" */
#define ZRI_JSEG_VERSION 1u
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
	uint64_t checksum;	       /* XXH3-64 of the bytes before it */
};
_Static_assert(sizeof(struct zri_jseg_hdr) == 168, "segment header");

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
