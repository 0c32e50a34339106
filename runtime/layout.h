/* Every struct that lives in shared memory, in one place.
 *
 * Rules: offsets, never pointers; writers of hot words sit on their own
 * 128-byte blocks (adjacent-line prefetch); every size and offset other
 * processes rely on is in the layout fingerprint (layout.c), so an arena
 * written by another build is refused with ZR_ELAYOUT. */
#ifndef ZR_LAYOUT_H
#define ZR_LAYOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "zring/agent.h"
#include "zring/arena.h"
#include "zring/hist.h"
#include "zring/job.h"
#include "zring/ring.h"
#include "zring/slab.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define ZRI_LINE 128 /* spacing of independently written words */
#define ZRI_ALIGN(x, a) (((x) + ((a)-1)) & ~((uint64_t)(a)-1))

#define ZRI_MAGIC 0x314e5241474e525aULL /* "ZRNGARN1" */
#define ZRI_LAYOUT_VERSION 6u /* 4: agents and jobs; 5: free rings with slack; 6: journal */
#define ZRI_HDR_BYTES 8192u
#define ZRI_HDR_IMMUTABLE 4096u
#define ZRI_MAX_SECTIONS 8u
#define ZRI_MAX_PROCS 4095u
#define ZRI_SMALL_CLASSES 11u /* 64 B .. 64 KiB */
#define ZRI_SMALL_MIN_SHIFT 6u
#define ZRI_LARGE_PAGE ((uint64_t)64 << 10)

/* Slots of a size class's free ring: twice its blocks. Recovery races can
 * leave a stale duplicate entry (dropped by its generation when taken); with
 * exactly one slot per block, one duplicate makes the ring full while a block
 * is still to be returned, and that block stays cached for good. */
#define ZRI_FREE_RING_SLOTS(nblocks) (2 * (uint64_t)(nblocks))

/* ---- owner ids --------------------------------------------------------
 * owner = (slot index + 1) | gen << 12: 22 bits, 0 = nobody. The generation
 * tells a dead incarnation of a slot from the process that reuses it. */
#define ZRI_OWNER_IDX_BITS 12u
#define ZRI_OWNER_GEN_BITS 10u
#define ZRI_OWNER_BITS (ZRI_OWNER_IDX_BITS + ZRI_OWNER_GEN_BITS)
#define ZRI_OWNER_MASK ((1u << ZRI_OWNER_BITS) - 1u)

static inline uint32_t zri_owner_make(uint32_t idx, uint32_t gen)
{
	return (idx + 1u) | ((gen & ((1u << ZRI_OWNER_GEN_BITS) - 1u)) << ZRI_OWNER_IDX_BITS);
}
static inline uint32_t zri_owner_idx(uint32_t owner) /* caller checks owner != 0 */
{
	return (owner & ((1u << ZRI_OWNER_IDX_BITS) - 1u)) - 1u;
}
static inline uint32_t zri_owner_gen(uint32_t owner)
{
	return owner >> ZRI_OWNER_IDX_BITS;
}

/* ---- header ------------------------------------------------------------ */
enum zri_section_kind {
	ZRI_SEC_PROCS = 1,     /* struct zri_proc[max_procs] */
	ZRI_SEC_RINGDIR = 2,   /* struct zri_ringdir + zri_dirent[max_rings] */
	ZRI_SEC_RINGHEAP = 3,  /* rings, carved by a bump pointer */
	ZRI_SEC_SLAB = 4,      /* per class: stats, meta, free ring, blocks */
	ZRI_SEC_LARGE = 5,     /* large heap: control, page meta, pages */
	ZRI_SEC_PROCSTATS = 6, /* per process and class: cached block counts */
	ZRI_SEC_JOBS = 7,      /* jobs control, agent table, job records, free ring */
};

struct zri_section {
	uint32_t kind;
	uint32_t reserved;
	uint64_t offset; /* from the arena base */
	uint64_t size;
	uint64_t count;
};

struct zri_slab_class {
	uint64_t block_size;
	uint64_t nblocks;   /* a power of two: the free ring holds them all */
	uint64_t stats_off; /* struct zri_class_stats */
	uint64_t meta_off;  /* _Atomic uint64_t[nblocks] */
	uint64_t ring_off;  /* free ring (struct zri_ring), capacity nblocks */
	uint64_t data_off;  /* blocks */
};

/* Where the job layer's parts are (all inside the JOBS section). */
struct zri_jobs_layout {
	uint32_t max_agents;
	uint32_t max_jobs;
	uint32_t free_capacity;	  /* of the free ring: a power of two >= max_jobs */
	uint32_t inbox_capacity;  /* per level of each agent's inbox */
	uint32_t shared_capacity; /* per level of the shared queue */
	uint32_t reserved;
	uint64_t ctl_off;    /* struct zri_jobs_ctl */
	uint64_t agents_off; /* struct zri_agent[max_agents] */
	uint64_t recs_off;   /* struct zri_job[max_jobs] */
	uint64_t free_off;   /* MPMC ring of free record indices (gen << 32 | index) */
	uint64_t end_off;
};

struct zri_large_layout {
	uint64_t page_size;
	uint64_t npages;
	uint64_t ctl_off;  /* struct zri_large_ctl */
	uint64_t meta_off; /* struct zri_page_meta[npages] */
	uint64_t data_off;
};

/* The configuration the arena was created with, as given (restore makes
 * an arena of the same shape from a checkpoint). */
struct zri_config_copy {
	uint64_t size;
	uint64_t ring_bytes;
	uint64_t max_payload;
	uint32_t flags;
	uint32_t max_procs;
	uint32_t max_rings;
	uint32_t small_percent;
	uint32_t max_agents;
	uint32_t max_jobs;
	uint32_t inbox_capacity;
	uint32_t reserved;
};

/* The journal (runtime/journal.c), in the mutable part of the header: the
 * settings are written by the creator before READY (or by restore before
 * anyone else opens the arena) and read-only after; the counters are
 * shared by every process's stream. */
struct zri_journal_ctl {
	uint32_t enabled;
	uint32_t durability;
	uint32_t flags;
	uint32_t flush_interval_us;
	uint32_t buffer_bytes;
	uint32_t reserved;
	uint64_t segment_bytes;
	uint64_t lineage; /* random at creation, kept by restore: names the journal */
	char dir[256];
	uint8_t pad0[ZRI_LINE - (40 + 256) % ZRI_LINE];
	_Atomic uint64_t a_next_lsn; /* every record of every stream draws one */
	uint8_t pad1[ZRI_LINE - 8];
	_Atomic uint64_t a_next_stream;
	_Atomic uint64_t a_records; /* added per flushed batch */
	_Atomic uint64_t a_bytes;
	_Atomic uint64_t a_lost;
	_Atomic uint64_t a_ckpt_lsn; /* begin LSN of the last checkpoint */
	uint8_t pad2[ZRI_LINE - 40];
};

enum zri_arena_state {
	ZRI_ARENA_INIT = 0, /* zero-filled: creator has not finished */
	ZRI_ARENA_READY = 1,
	ZRI_ARENA_POISONED = 2,
};

struct zri_header {
	union {
		struct {
			/* immutable after creation, covered by `checksum` */
			uint64_t magic;
			uint32_t layout_version;
			uint32_t header_bytes;
			uint64_t fingerprint;
			uint64_t arena_size;
			uint64_t created_ns;
			uint32_t creator_pid;
			uint32_t creator_uid;
			uint64_t creator_start; /* creator's start time, clock ticks since boot */
			char name[ZR_NAME_MAX + 1];
			uint32_t max_procs;
			uint32_t max_rings;
			uint64_t max_payload;
			uint32_t nsections;
			uint32_t nclasses;
			uint32_t flags;
			uint32_t reserved;
			struct zri_section sections[ZRI_MAX_SECTIONS];
			struct zri_slab_class classes[ZRI_SMALL_CLASSES];
			struct zri_large_layout large;
			struct zri_jobs_layout jobs;
			struct zri_config_copy config;
			uint64_t checksum; /* XXH3-64 of every byte before it */
		};
		uint8_t immutable_bytes[ZRI_HDR_IMMUTABLE];
	};
	/* mutable */
	_Atomic uint32_t a_state; /* zri_arena_state */
	uint32_t pad_state;
	char poison_reason[120];
	struct zri_journal_ctl journal;
	uint8_t pad_end[ZRI_HDR_BYTES - ZRI_HDR_IMMUTABLE - 128 - sizeof(struct zri_journal_ctl)];
};

/* ---- process table ----------------------------------------------------- */
enum zri_proc_state { ZRI_PROC_FREE = 0, ZRI_PROC_ACTIVE = 1 };

/* a_word = pid << 32 | gen << 8 | state. Claimed by one CAS, so the pid of
 * every claimed slot is known even if its process dies at once. */
struct zri_proc {
	_Atomic uint64_t a_word;
	_Atomic uint64_t a_start;     /* start time (clock ticks) << 24 | gen: see below */
	_Atomic uint64_t a_heartbeat; /* CLOCK_MONOTONIC ns of the last sign of life */
	uint8_t pad[ZRI_LINE - 24];
};

static inline uint64_t zri_proc_word(uint32_t pid, uint32_t gen, uint32_t state)
{
	return (uint64_t)pid << 32 | (uint64_t)(gen & 0xffffffu) << 8 | state;
}
#define ZRI_PROC_PID(w) ((uint32_t)((w) >> 32))
#define ZRI_PROC_GEN(w) ((uint32_t)(((w) >> 8) & 0xffffffu))
#define ZRI_PROC_STATE(w) ((uint32_t)((w)&0xffu))

/* a_start is written after the claim CAS, so it may still hold the previous
 * occupant's start time for a moment: it carries the generation it belongs
 * to, and a start time of another generation is ignored (pid checked alone). */
static inline uint64_t zri_proc_start_word(uint64_t start, uint32_t gen)
{
	return start << 24 | (gen & 0xffffffu);
}
static inline uint64_t zri_proc_start_of(uint64_t word, uint64_t start_word)
{
	return (start_word & 0xffffffu) == ZRI_PROC_GEN(word) ? start_word >> 24 : 0;
}

/* ---- ring directory ---------------------------------------------------- */
enum zri_dirent_state { ZRI_DIRENT_FREE = 0, ZRI_DIRENT_READY = 1 };
enum zri_dirent_kind { ZRI_OBJ_RING = 1, ZRI_OBJ_INBOX = 2 };

struct zri_dirent {
	_Atomic uint32_t a_state; /* R: release after the object is built */
	uint32_t kind;		  /* zri_dirent_kind */
	char name[ZR_NAME_MAX + 1];
	uint64_t offset; /* of the ring or inbox */
	uint64_t bytes;
};

struct zri_ringdir {
	pthread_mutex_t lock;	      /* robust, process-shared */
	_Atomic uint64_t a_heap_used; /* bump pointer into the ring heap */
	uint8_t pad[ZRI_LINE - sizeof(pthread_mutex_t) - 8];
};

/* ---- rings --------------------------------------------------------------
 * MPMC slot state word: pos (40 bits) << 24 | owner (22 bits) << 2 | kind. */
enum zri_slot_kind {
	ZRI_SLOT_FREE = 0,    /* waits for the producer of `pos` */
	ZRI_SLOT_WRITING = 1, /* producer `owner` is writing the value for `pos` */
	ZRI_SLOT_FULL = 2,    /* value for `pos` published */
	ZRI_SLOT_TAKEN = 3,   /* consumer `owner` is reading the value of `pos` */
};

struct zri_slot {
	_Atomic uint64_t a_state;
	_Atomic uint64_t a_value; /* relaxed: ordered by a_state */
};

#define ZRI_RING_MAGIC 0x5a52524eu /* "ZRRN" */

struct zri_ring {
	/* immutable after creation */
	uint32_t magic;
	uint32_t kind;
	uint32_t capacity;
	uint32_t mask;
	uint32_t wait_mode;
	uint32_t shift;	    /* log2(capacity) */
	uint64_t slots_off; /* from the ring header */
	char name[ZR_NAME_MAX + 1];
	uint8_t pad0[ZRI_LINE - 80];
	/* producers */
	_Atomic uint64_t a_tail;
	uint8_t pad1[ZRI_LINE - 8];
	/* consumers */
	_Atomic uint64_t a_head;
	uint8_t pad2[ZRI_LINE - 8];
	/* producer-side counters: written on slow paths only */
	_Atomic uint64_t a_full;
	_Atomic uint64_t a_wakes;
	_Atomic uint64_t a_drops;
	uint8_t pad3[ZRI_LINE - 24];
	/* consumer-side counters */
	_Atomic uint64_t a_empty;
	_Atomic uint64_t a_waits;
	_Atomic uint64_t a_redelivers;
	uint8_t pad4[ZRI_LINE - 24];
	/* sleepers */
	_Atomic uint32_t a_futex;   /* bumped by producers that saw a sleeper */
	_Atomic uint32_t a_waiters; /* consumers inside the futex path */
	_Atomic uint32_t a_kicks;   /* bumped by zr_ring_wake_all(): sleepers return */
	uint8_t pad5[ZRI_LINE - 12];
};

#define ZRI_INBOX_MAGIC 0x5a52494eu /* "ZRIN" */
struct zri_inbox {
	uint32_t magic;
	uint32_t share;
	uint32_t wait_mode;
	uint32_t reserved;
	uint64_t ring_off[ZR_PRIO_COUNT]; /* from the arena base */
	char name[ZR_NAME_MAX + 1];
	uint8_t pad0[ZRI_LINE - 96];
	_Atomic uint64_t a_pops; /* drives the `share` rotation */
	uint8_t pad1[ZRI_LINE - 8];
	_Atomic uint32_t a_futex;
	_Atomic uint32_t a_waiters;
	_Atomic uint64_t a_waits;
	_Atomic uint64_t a_wakes;
	_Atomic uint32_t a_kicks;
	uint8_t pad2[ZRI_LINE - 28];
};

/* ---- slab ----------------------------------------------------------------
 * Block meta word: gen (32) << 32 | owner (22) << 8 | state. */
enum zri_block_state {
	ZRI_BLK_FREE = 0,     /* in the free ring (or about to be, see FLUSHING) */
	ZRI_BLK_CACHED = 1,   /* in a per-thread cache of `owner` */
	ZRI_BLK_ALLOC = 2,    /* handed out; owner 0 = disowned */
	ZRI_BLK_FLUSHING = 3, /* `owner` is putting it into the free ring */
	ZRI_BLK_ORPHAN = 4,   /* allocated by `owner`, which died */
};

static inline uint64_t zri_blk_word(uint32_t gen, uint32_t owner, uint32_t state)
{
	return (uint64_t)gen << 32 | (uint64_t)(owner & ZRI_OWNER_MASK) << 8 | state;
}
#define ZRI_BLK_GEN(w) ((uint32_t)((w) >> 32))
/* Does a handle's 24-bit generation name the block's current life? */
#define ZRI_BLK_GEN_IS(w, handle_gen)                                                              \
	((ZRI_BLK_GEN(w) & ((1u << ZRI_PAYLOAD_GEN_BITS) - 1)) == (handle_gen))
#define ZRI_BLK_OWNER(w) ((uint32_t)(((w) >> 8) & ZRI_OWNER_MASK))
#define ZRI_BLK_STATE(w) ((uint32_t)((w)&0xffu))

struct zri_class_stats {
	_Atomic uint64_t a_taken; /* blocks claimed out of the free ring */
	uint8_t pad0[ZRI_LINE - 8];
	_Atomic uint64_t a_returned; /* blocks put back into it */
	uint8_t pad1[ZRI_LINE - 8];
	_Atomic uint64_t a_high_water;
	_Atomic uint64_t a_failed;
	uint8_t pad2[ZRI_LINE - 16];
};

struct zri_page_meta {
	_Atomic uint64_t a_word;   /* zri_blk_word; FREE or ALLOC/ORPHAN at a run's head */
	_Atomic uint32_t a_npages; /* relaxed; written under the large lock before a_word */
	uint32_t reserved;
	_Atomic uint64_t a_len; /* relaxed, as a_npages */
};

struct zri_large_ctl {
	pthread_mutex_t lock; /* robust, process-shared: allocation only */
	_Atomic uint64_t a_pages_used;
	_Atomic uint64_t a_high_water;
	_Atomic uint64_t a_failed;
	uint8_t pad[ZRI_LINE - sizeof(pthread_mutex_t) - 24];
};

/* handle: gen (24) << 40 | offset >> 6 (40 bits) */
#define ZRI_PAYLOAD_GEN_BITS 24u
#define ZRI_PAYLOAD_OFF_BITS 40u

static inline uint64_t zri_payload_make(uint64_t off, uint32_t gen)
{
	return (uint64_t)(gen & ((1u << ZRI_PAYLOAD_GEN_BITS) - 1u)) << ZRI_PAYLOAD_OFF_BITS |
	       (off >> 6);
}
#define ZRI_PAYLOAD_OFF(v) (((v) & ((1ULL << ZRI_PAYLOAD_OFF_BITS) - 1)) << 6)
#define ZRI_PAYLOAD_GEN(v) ((uint32_t)((v) >> ZRI_PAYLOAD_OFF_BITS))

/* ---- agents ----------------------------------------------------------------
 * a_word = gen (24) << 32 | status << 24 | owner (22): the process that
 * registered it. Agent id = (index + 1) | gen << 12, like owner ids. */
#define ZRI_MAX_AGENTS 1024u
enum zri_agent_state {
	ZRI_AGENT_FREE = 0,
	ZRI_AGENT_ALIVE = 1,
	ZRI_AGENT_DEAD = 2,
	ZRI_AGENT_JOINING = 3, /* claimed; identity being written */
};
static inline uint64_t zri_agent_word(uint32_t gen, uint32_t status, uint32_t owner)
{
	return (uint64_t)(gen & 0xffffffu) << 32 | (uint64_t)(status & 0xffu) << 24 |
	       (owner & ZRI_OWNER_MASK);
}
#define ZRI_AGENT_GEN(w) ((uint32_t)((w) >> 32) & 0xffffffu)
#define ZRI_AGENT_STATUS(w) ((uint32_t)((w) >> 24) & 0xffu)
#define ZRI_AGENT_OWNER(w) ((uint32_t)(w)&ZRI_OWNER_MASK)

struct zri_agent {
	/* identity: written while JOINING, or under a_seq (placement) */
	_Atomic uint64_t a_word;
	_Atomic uint32_t a_seq; /* odd while the text below is rewritten */
	uint32_t pid;
	uint32_t tid;
	uint32_t kind;
	uint32_t on_death;
	uint32_t wait_mode;
	uint64_t registered_ns;
	_Atomic uint64_t a_dead_ns;
	char name[ZR_AGENT_NAME_MAX + 1];
	char caps[ZR_AGENT_CAPS_MAX + 1];
	int32_t place_node;
	uint32_t place_ncpus;
	char place_cpus[64];
	char place_note[128];
	uint8_t pad0[3 * ZRI_LINE - 352];
	/* liveness, written by the agent */
	_Atomic uint64_t a_heartbeat_ns;
	_Atomic uint64_t a_heartbeat_timeout_ns;
	uint8_t pad1[ZRI_LINE - 16];
	/* doorbell: where its blocking claims sleep */
	_Atomic uint32_t a_futex;
	_Atomic uint32_t a_waiters;
	_Atomic uint32_t a_kicks;
	uint32_t name_gen; /* first generation of the slot under this name */
	_Atomic uint64_t a_waits;
	_Atomic uint64_t a_wakes;
	uint8_t pad2[ZRI_LINE - 32];
	/* counters, written by the agent only */
	_Atomic uint64_t a_submitted;
	_Atomic uint64_t a_submitted_bytes;
	_Atomic uint64_t a_claimed;
	_Atomic uint64_t a_completed;
	_Atomic uint64_t a_failed;
	_Atomic uint64_t a_stale;
	_Atomic uint64_t a_submitted_prio[ZR_PRIO_COUNT];
	uint8_t pad3[2 * ZRI_LINE - 80];
	/* latency histograms, written by the agent only */
	_Atomic uint64_t a_claim_hist[ZR_HIST_BUCKETS + 3]; /* count, sum, max, buckets */
	_Atomic uint64_t a_complete_hist[ZR_HIST_BUCKETS + 3];
	uint8_t pad4[ZRI_LINE - ((2 * (ZR_HIST_BUCKETS + 3) * 8) % ZRI_LINE)];
};

/* ---- jobs ------------------------------------------------------------------
 * State word: gen (24) << 40 | attempt (8) << 32 | holder (22) << 8 |
 * flags (4) << 4 | status (4). The futex of zr_job_wait() is its low half,
 * which changes on every status change. holder names a process owner id
 * (BUILDING, BUSY, PENDING/DELAYED: the last enqueuer, final: the
 * finisher, FREE: the freer until the record is on the free ring, then 0)
 * or an agent id (PROCESSING, not BUSY). */
#define ZRI_JS_BUSY 0x10u    /* `holder` (a process) is writing the record */
#define ZRI_JS_WAITERS 0x20u /* someone sleeps in zr_job_wait() */
#define ZRI_JS_CANCEL 0x40u  /* cancel requested while processing */
#define ZRI_JOB_GEN_BITS 24u

static inline uint64_t zri_js_make(uint32_t gen, uint32_t attempt, uint32_t holder, uint32_t flags,
				   uint32_t status)
{
	return (uint64_t)(gen & 0xffffffu) << 40 | (uint64_t)(attempt & 0xffu) << 32 |
	       (uint64_t)(holder & ZRI_OWNER_MASK) << 8 | (flags & 0xf0u) | (status & 0xfu);
}
#define ZRI_JS_GEN(s) ((uint32_t)((s) >> 40) & 0xffffffu)
#define ZRI_JS_ATTEMPT(s) ((uint32_t)((s) >> 32) & 0xffu)
#define ZRI_JS_HOLDER(s) ((uint32_t)((s) >> 8) & ZRI_OWNER_MASK)
#define ZRI_JS_FLAGS(s) ((uint32_t)(s)&0xf0u)
#define ZRI_JS_STATUS(s) ((uint32_t)(s)&0xfu)

/* Every field is a word read and written with relaxed atomics: a reader
 * copies them between two loads of a_state (a seqlock whose writer is the
 * one that set BUSY or owns the record in BUILDING). */
struct zri_job {
	_Atomic uint64_t a_state;
	_Atomic uint64_t a_due_ns; /* DELAYED: when due; PROCESSING: lease end */
	_Atomic uint64_t
		a_kind; /* type | prio << 8 | flags << 16 | max_retries << 32 | retries << 48 */
	_Atomic uint64_t a_agents; /* source | target << 32 */
	_Atomic uint64_t a_holder; /* agent id of the claim being written, or of the last */
	_Atomic uint64_t a_payload;
	_Atomic uint64_t a_payload_len;
	_Atomic uint64_t a_result;
	_Atomic uint64_t a_result_len;
	_Atomic uint64_t a_submit_ns;
	_Atomic uint64_t a_claim_ns;
	_Atomic uint64_t a_finish_ns;
	_Atomic uint64_t a_expire_ns;
	_Atomic uint64_t a_lease_ns;	/* lease length of each claim */
	_Atomic uint64_t a_interval_ns; /* recurring */
	_Atomic uint64_t a_backoff;	/* first retry delay | max << 32 (in us) */
	_Atomic uint64_t a_uuid[2];
	_Atomic uint64_t a_type_name[3];
	_Atomic uint64_t a_meta[ZR_JOB_META_BYTES / 8];
	_Atomic uint64_t a_error[(ZR_JOB_ERROR_MAX + 1) / 8];
	_Atomic uint64_t a_ttl_ns; /* of each run of a recurring job */
};

/* ---- jobs control ------------------------------------------------------- */
struct zri_jobs_ctl {
	_Atomic uint64_t a_next_due; /* earliest timer of any job (a hint: may be early) */
	_Atomic uint64_t a_tick_ns;  /* when a tick started; others skip for a while */
	uint8_t pad0[ZRI_LINE - 16];
	_Atomic uint64_t a_idle[ZRI_MAX_AGENTS / 64]; /* agents asleep in a blocking claim */
	/* rare events and counters of agents that left */
	_Atomic uint64_t a_counter[32];
};
enum zri_jobs_counter {
	ZRI_JC_SUBMITTED,
	ZRI_JC_SUBMITTED_BYTES,
	ZRI_JC_CLAIMED,
	ZRI_JC_COMPLETED,
	ZRI_JC_FAILED,
	ZRI_JC_STALE,
	ZRI_JC_DEAD_LETTERS,
	ZRI_JC_CANCELLED,
	ZRI_JC_EXPIRED,
	ZRI_JC_RETRIED,
	ZRI_JC_LEASE_EXPIRED,
	ZRI_JC_RECOVERED,
	ZRI_JC_RELEASED,
	ZRI_JC_FULL,
	ZRI_JC_SUBMITTED_PRIO, /* four of them */
	ZRI_JC_COUNT = ZRI_JC_SUBMITTED_PRIO + ZR_PRIO_COUNT,
};

_Static_assert(sizeof(struct zri_header) == ZRI_HDR_BYTES, "header size");
_Static_assert(offsetof(struct zri_header, journal.a_next_lsn) % ZRI_LINE == 0, "lsn line");
_Static_assert(offsetof(struct zri_header, checksum) + 8 <= ZRI_HDR_IMMUTABLE,
	       "immutable header fits");
_Static_assert(offsetof(struct zri_header, a_state) == ZRI_HDR_IMMUTABLE, "state offset");
_Static_assert(sizeof(struct zri_proc) == ZRI_LINE, "proc slot size");
_Static_assert(sizeof(struct zri_dirent) == 72, "dirent size");
_Static_assert(sizeof(struct zri_ringdir) == ZRI_LINE, "ringdir size");
_Static_assert(sizeof(struct zri_slot) == 16, "slot size");
_Static_assert(sizeof(struct zri_ring) == 6 * ZRI_LINE, "ring header size");
_Static_assert(sizeof(struct zri_inbox) == 3 * ZRI_LINE, "inbox header size");
_Static_assert(sizeof(struct zri_class_stats) == 3 * ZRI_LINE, "class stats size");
_Static_assert(sizeof(struct zri_large_ctl) == ZRI_LINE, "large ctl size");
_Static_assert(sizeof(struct zri_page_meta) == 24, "page meta size");
_Static_assert(sizeof(struct zri_job) == 3 * ZRI_LINE, "job record size");
_Static_assert(sizeof(struct zri_agent) % ZRI_LINE == 0, "agent record size");
_Static_assert(offsetof(struct zri_agent, a_heartbeat_ns) == 3 * ZRI_LINE, "agent identity");
_Static_assert(sizeof(struct zri_jobs_ctl) == 4 * ZRI_LINE, "jobs control size");
_Static_assert(ZRI_JC_COUNT <= 32, "jobs counters fit");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "job futex is the state's low half");

/* The layout fingerprint: XXH3 of every size and offset above (layout.c). */
uint64_t zri_layout_fingerprint(void);
/* Writes "struct.field offset size" lines, for the golden layout test. */
void zri_layout_describe(void (*line)(void *ctx, const char *s), void *ctx);

#endif
