/* The layout fingerprint: every size and offset other processes rely on,
 * hashed. Add a line here for every field added to runtime/layout.h. */
#include <stddef.h>
#include <stdio.h>
#include <xxhash.h>

#include "layout.h"

struct field {
	const char *name;
	uint64_t offset;
	uint64_t size;
};

/* One table, easier to read packed. */
/* clang-format off */
#define F(type, member) {#type "." #member, offsetof(struct type, member), sizeof(((struct type *)0)->member)}
#define S(type) {#type, 0, sizeof(struct type)}

static const struct field fields[] = {
	S(zri_header),
	F(zri_header, magic),
	F(zri_header, layout_version),
	F(zri_header, header_bytes),
	F(zri_header, fingerprint),
	F(zri_header, arena_size),
	F(zri_header, created_ns),
	F(zri_header, creator_pid),
	F(zri_header, creator_uid),
	F(zri_header, creator_start),
	F(zri_header, name),
	F(zri_header, max_procs),
	F(zri_header, max_rings),
	F(zri_header, max_payload),
	F(zri_header, nsections),
	F(zri_header, nclasses),
	F(zri_header, flags),
	F(zri_header, sections),
	F(zri_header, classes),
	F(zri_header, large),
	F(zri_header, config),
	F(zri_header, journal),
	S(zri_config_copy),
	S(zri_journal_ctl),
	F(zri_journal_ctl, dir),
	F(zri_journal_ctl, a_next_lsn),
	F(zri_journal_ctl, a_next_stream),
	F(zri_journal_ctl, a_ckpt_lsn),
	F(zri_header, jobs),
	S(zri_jobs_layout),
	F(zri_jobs_layout, max_agents),
	F(zri_jobs_layout, max_jobs),
	F(zri_jobs_layout, free_capacity),
	F(zri_jobs_layout, inbox_capacity),
	F(zri_jobs_layout, shared_capacity),
	F(zri_jobs_layout, ctl_off),
	F(zri_jobs_layout, agents_off),
	F(zri_jobs_layout, recs_off),
	F(zri_jobs_layout, free_off),
	F(zri_jobs_layout, end_off),
	S(zri_agent),
	F(zri_agent, a_word),
	F(zri_agent, a_seq),
	F(zri_agent, pid),
	F(zri_agent, tid),
	F(zri_agent, kind),
	F(zri_agent, on_death),
	F(zri_agent, wait_mode),
	F(zri_agent, registered_ns),
	F(zri_agent, a_dead_ns),
	F(zri_agent, name),
	F(zri_agent, caps),
	F(zri_agent, place_node),
	F(zri_agent, place_ncpus),
	F(zri_agent, place_cpus),
	F(zri_agent, place_note),
	F(zri_agent, a_heartbeat_ns),
	F(zri_agent, a_heartbeat_timeout_ns),
	F(zri_agent, a_futex),
	F(zri_agent, a_waiters),
	F(zri_agent, a_kicks),
	F(zri_agent, name_gen),
	F(zri_agent, a_waits),
	F(zri_agent, a_wakes),
	F(zri_agent, a_submitted),
	F(zri_agent, a_submitted_bytes),
	F(zri_agent, a_claimed),
	F(zri_agent, a_completed),
	F(zri_agent, a_failed),
	F(zri_agent, a_stale),
	F(zri_agent, a_submitted_prio),
	F(zri_agent, a_claim_hist),
	F(zri_agent, a_complete_hist),
	S(zri_job),
	F(zri_job, a_state),
	F(zri_job, a_due_ns),
	F(zri_job, a_kind),
	F(zri_job, a_agents),
	F(zri_job, a_holder),
	F(zri_job, a_payload),
	F(zri_job, a_payload_len),
	F(zri_job, a_result),
	F(zri_job, a_result_len),
	F(zri_job, a_submit_ns),
	F(zri_job, a_claim_ns),
	F(zri_job, a_finish_ns),
	F(zri_job, a_expire_ns),
	F(zri_job, a_lease_ns),
	F(zri_job, a_interval_ns),
	F(zri_job, a_backoff),
	F(zri_job, a_uuid),
	F(zri_job, a_type_name),
	F(zri_job, a_meta),
	F(zri_job, a_error),
	F(zri_job, a_ttl_ns),
	S(zri_jobs_ctl),
	F(zri_jobs_ctl, a_next_due),
	F(zri_jobs_ctl, a_tick_ns),
	F(zri_jobs_ctl, a_idle),
	F(zri_jobs_ctl, a_counter),
	F(zri_header, checksum),
	F(zri_header, a_state),
	F(zri_header, poison_reason),
	S(zri_section),
	F(zri_section, kind),
	F(zri_section, offset),
	F(zri_section, size),
	F(zri_section, count),
	S(zri_slab_class),
	F(zri_slab_class, block_size),
	F(zri_slab_class, nblocks),
	F(zri_slab_class, stats_off),
	F(zri_slab_class, meta_off),
	F(zri_slab_class, ring_off),
	F(zri_slab_class, data_off),
	S(zri_large_layout),
	F(zri_large_layout, page_size),
	F(zri_large_layout, npages),
	F(zri_large_layout, ctl_off),
	F(zri_large_layout, meta_off),
	F(zri_large_layout, data_off),
	S(zri_proc),
	F(zri_proc, a_word),
	F(zri_proc, a_start),
	F(zri_proc, a_heartbeat),
	S(zri_dirent),
	F(zri_dirent, a_state),
	F(zri_dirent, kind),
	F(zri_dirent, name),
	F(zri_dirent, offset),
	F(zri_dirent, bytes),
	S(zri_ringdir),
	F(zri_ringdir, lock),
	F(zri_ringdir, a_heap_used),
	S(zri_slot),
	F(zri_slot, a_state),
	F(zri_slot, a_value),
	S(zri_ring),
	F(zri_ring, magic),
	F(zri_ring, kind),
	F(zri_ring, capacity),
	F(zri_ring, mask),
	F(zri_ring, wait_mode),
	F(zri_ring, shift),
	F(zri_ring, slots_off),
	F(zri_ring, name),
	F(zri_ring, a_tail),
	F(zri_ring, a_head),
	F(zri_ring, a_full),
	F(zri_ring, a_wakes),
	F(zri_ring, a_drops),
	F(zri_ring, a_empty),
	F(zri_ring, a_waits),
	F(zri_ring, a_redelivers),
	F(zri_ring, a_futex),
	F(zri_ring, a_waiters),
	F(zri_ring, a_kicks),
	S(zri_inbox),
	F(zri_inbox, magic),
	F(zri_inbox, share),
	F(zri_inbox, wait_mode),
	F(zri_inbox, ring_off),
	F(zri_inbox, name),
	F(zri_inbox, a_pops),
	F(zri_inbox, a_futex),
	F(zri_inbox, a_waiters),
	F(zri_inbox, a_waits),
	F(zri_inbox, a_wakes),
	F(zri_inbox, a_kicks),
	S(zri_class_stats),
	F(zri_class_stats, a_taken),
	F(zri_class_stats, a_returned),
	F(zri_class_stats, a_high_water),
	F(zri_class_stats, a_failed),
	S(zri_page_meta),
	F(zri_page_meta, a_word),
	F(zri_page_meta, a_npages),
	F(zri_page_meta, a_len),
	S(zri_large_ctl),
	F(zri_large_ctl, lock),
	F(zri_large_ctl, a_pages_used),
	F(zri_large_ctl, a_high_water),
	F(zri_large_ctl, a_failed),
};
/* clang-format on */

uint64_t zri_layout_fingerprint(void)
{
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint64_t v[2] = {fields[i].offset, fields[i].size};
		XXH3_64bits_update(st, v, sizeof(v));
	}
	/* encodings packed into words are part of the layout too */
	uint64_t enc[] = {ZRI_OWNER_IDX_BITS, ZRI_OWNER_GEN_BITS, ZRI_PAYLOAD_OFF_BITS,
			  ZRI_SMALL_CLASSES,  ZRI_LARGE_PAGE,	  ZRI_LINE,
			  ZRI_JOB_GEN_BITS,   ZR_HIST_SUB_BITS,	  ZRI_JC_COUNT};
	XXH3_64bits_update(st, enc, sizeof(enc));
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return h;
}

void zri_layout_describe(void (*line)(void *ctx, const char *s), void *ctx)
{
	char buf[160];
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		snprintf(buf, sizeof(buf), "%s %llu %llu", fields[i].name,
			 (unsigned long long)fields[i].offset, (unsigned long long)fields[i].size);
		line(ctx, buf);
	}
}
