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

#include "zring/arena.h"
#include "zring/ring.h"
#include "zring/slab.h"

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

#define ZRI_LINE 128 /* spacing of independently written words */
#define ZRI_ALIGN(x, a) (((x) + ((a)-1)) & ~((uint64_t)(a)-1))

#define ZRI_MAGIC 0x314e5241474e525aULL /* "ZRNGARN1" */
#define ZRI_LAYOUT_VERSION 3u		/* 3: a_start carries its generation */
#define ZRI_HDR_BYTES 8192u
#define ZRI_HDR_IMMUTABLE 4096u
#define ZRI_MAX_SECTIONS 8u
#define ZRI_MAX_PROCS 4095u
#define ZRI_SMALL_CLASSES 11u /* 64 B .. 64 KiB */
#define ZRI_SMALL_MIN_SHIFT 6u
#define ZRI_LARGE_PAGE ((uint64_t)64 << 10)

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

struct zri_large_layout {
	uint64_t page_size;
	uint64_t npages;
	uint64_t ctl_off;  /* struct zri_large_ctl */
	uint64_t meta_off; /* struct zri_page_meta[npages] */
	uint64_t data_off;
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
			uint64_t checksum; /* XXH3-64 of every byte before it */
		};
		uint8_t immutable_bytes[ZRI_HDR_IMMUTABLE];
	};
	/* mutable */
	_Atomic uint32_t a_state; /* zri_arena_state */
	uint32_t pad_state;
	char poison_reason[120];
	uint8_t pad_end[ZRI_HDR_BYTES - ZRI_HDR_IMMUTABLE - 128];
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

_Static_assert(sizeof(struct zri_header) == ZRI_HDR_BYTES, "header size");
_Static_assert(offsetof(struct zri_header, checksum) < 1024, "immutable header fits");
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

/* The layout fingerprint: XXH3 of every size and offset above (layout.c). */
uint64_t zri_layout_fingerprint(void);
/* Writes "struct.field offset size" lines, for the golden layout test. */
void zri_layout_describe(void (*line)(void *ctx, const char *s), void *ctx);

#endif
