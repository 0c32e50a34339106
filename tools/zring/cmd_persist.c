/* `zring checkpoint` and `zring restore`: the persistence of persist.h
 * from the command line. A checkpoint reads the arena read-only, under the
 * fault guard; a restore creates a new arena and leaves it in place. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* by zr_ckpt_kind, and zr_durability */
static const char *const kind_names[] = {"full", "incremental", "differential"};
static const char *const durability_names[] = {"none", "async", "sync"};

struct take {
	zr_arena *a;
	zr_ckpt_config cfg;
	zr_ckpt_report rep;
	zr_diag diag;
	int rc;
};

static int take_checkpoint(void *ctx)
{
	struct take *t = ctx;
	t->rc = zr_checkpoint(t->a, &t->cfg, &t->rep, &t->diag);
	return 0;
}

static void print_checkpoint(const char *arena, const zr_ckpt_report *r)
{
	char b1[32], b2[32], b3[32];
	double s = (double)r->total_ns / 1e9;
	printf("checkpoint %llu of %s: %s", (unsigned long long)r->seq, arena,
	       kind_names[r->kind % 3]);
	if (r->parent)
		printf(" (parent %llu)", (unsigned long long)r->parent);
	printf(", LSN %llu..%llu\n", (unsigned long long)r->begin_lsn,
	       (unsigned long long)r->end_lsn);
	printf("  image %s in %llu chunks: %llu written (%s), %llu unchanged, %llu dedup, %llu "
	       "raw\n",
	       fmt_bytes(b1, sizeof(b1), r->bytes_image), (unsigned long long)r->chunks,
	       (unsigned long long)r->chunks_written,
	       fmt_bytes(b2, sizeof(b2), r->bytes_compressed),
	       (unsigned long long)r->chunks_unchanged, (unsigned long long)r->chunks_dedup,
	       (unsigned long long)r->chunks_raw);
	printf("  took %s (%s/s, %u thread%s)\n", fmt_dur(b1, sizeof(b1), r->total_ns),
	       fmt_bytes(b3, sizeof(b3), s > 0 ? (uint64_t)((double)r->bytes_image / s) : 0),
	       r->threads, r->threads == 1 ? "" : "s");
	if (r->removed_checkpoints || r->removed_chunks || r->removed_segments)
		printf("  retention removed %llu checkpoints, %llu chunks, %llu journal segments\n",
		       (unsigned long long)r->removed_checkpoints,
		       (unsigned long long)r->removed_chunks,
		       (unsigned long long)r->removed_segments);
}

static json_t *checkpoint_json(const zr_ckpt_report *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "seq", json_u64(r->seq));
	json_object_set_new(o, "parent", json_u64(r->parent));
	json_object_set_new(o, "kind", json_string(kind_names[r->kind % 3]));
	json_object_set_new(o, "begin_lsn", json_u64(r->begin_lsn));
	json_object_set_new(o, "end_lsn", json_u64(r->end_lsn));
	json_object_set_new(o, "chunks", json_u64(r->chunks));
	json_object_set_new(o, "chunks_written", json_u64(r->chunks_written));
	json_object_set_new(o, "chunks_unchanged", json_u64(r->chunks_unchanged));
	json_object_set_new(o, "chunks_dedup", json_u64(r->chunks_dedup));
	json_object_set_new(o, "chunks_raw", json_u64(r->chunks_raw));
	json_object_set_new(o, "bytes_image", json_u64(r->bytes_image));
	json_object_set_new(o, "bytes_compressed", json_u64(r->bytes_compressed));
	json_object_set_new(o, "threads", json_u64(r->threads));
	json_object_set_new(o, "total_ns", json_u64(r->total_ns));
	json_object_set_new(o, "removed_checkpoints", json_u64(r->removed_checkpoints));
	json_object_set_new(o, "removed_chunks", json_u64(r->removed_chunks));
	json_object_set_new(o, "removed_segments", json_u64(r->removed_segments));
	return o;
}

int cmd_checkpoint(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE,
				"checkpoint: needs ARENA (see zring checkpoint --help)");
	if (!o->dir)
		return cli_fail(EXIT_USAGE, "checkpoint: --dir is required");
	struct take t = {0};
	zr_ckpt_config_init(&t.cfg, o->dir);
	int kind = o->kind ? cli_pick(o->kind, kind_names, 3) : (int)t.cfg.kind;
	if (kind < 0)
		return cli_fail(EXIT_USAGE,
				"checkpoint: --kind is full, incremental or differential");
	t.cfg.kind = (uint32_t)kind;
	if (o->level)
		t.cfg.level = o->level;
	if (o->threads)
		t.cfg.threads = o->threads;
	t.cfg.keep_last = o->keep;
	int rc = cli_attach(o->argv[0], &t.a);
	if (rc)
		return rc;
	uint64_t off = 0;
	if (cli_guarded(t.a, take_checkpoint, &t, &off) == -EFAULT) {
		rc = cli_fault_exit(t.a, off);
		zr_arena_close(t.a);
		return rc;
	}
	zr_arena_close(t.a);
	if (t.rc)
		return cli_fail(cli_exit_for(t.rc), "checkpoint: %s", t.diag.msg);
	if (o->json) {
		json_t *d = json_doc("checkpoint");
		json_object_set_new(d, "arena", json_text(o->argv[0]));
		json_object_set_new(d, "dir", json_text(o->dir));
		json_object_set_new(d, "checkpoint", checkpoint_json(&t.rep));
		json_emit(d);
	} else {
		print_checkpoint(o->argv[0], &t.rep);
	}
	return EXIT_OK;
}

/* ---- restore ------------------------------------------------------------------ */

static void print_restore(const char *name, const zr_restore_report *r)
{
	char b[32];
	if (r->ckpt_seq)
		printf("restored %s from checkpoint %llu", name, (unsigned long long)r->ckpt_seq);
	else
		printf("restored %s from the journal alone", name);
	printf(" + %llu journal records from LSN %llu (last %llu)\n",
	       (unsigned long long)r->records_applied, (unsigned long long)r->begin_lsn,
	       (unsigned long long)r->last_lsn);
	printf("  jobs %llu:", (unsigned long long)r->jobs);
	for (uint32_t s = 0; s < ZR_JOB_STATUS_COUNT; s++)
		if (r->jobs_by_status[s])
			printf(" %s %llu", zr_job_status_name(s),
			       (unsigned long long)r->jobs_by_status[s]);
	printf("\n  %llu were processing and are pending again; %llu agents as placeholders; "
	       "payloads %s\n",
	       (unsigned long long)r->jobs_reclaimed, (unsigned long long)r->agents,
	       fmt_bytes(b, sizeof(b), r->payload_bytes));
	if (r->ckpts_invalid)
		printf("  %llu newer checkpoints did not verify and were passed over\n",
		       (unsigned long long)r->ckpts_invalid);
	const zr_jreader_stats *j = &r->journal;
	if (j->torn_tails || j->corrupt || j->bad_segments)
		printf("  journal: %llu torn tails, %llu corrupt records, %llu bad segments\n",
		       (unsigned long long)j->torn_tails, (unsigned long long)j->corrupt,
		       (unsigned long long)j->bad_segments);
	if (j->rollback_lsn)
		printf("  ROLLED BACK before LSN %llu: %llu valid later records not applied\n",
		       (unsigned long long)j->rollback_lsn, (unsigned long long)j->not_applied);
	if (r->jobs_dropped || r->records_orphan)
		printf("  %llu jobs dropped, %llu records of unknown jobs\n",
		       (unsigned long long)r->jobs_dropped, (unsigned long long)r->records_orphan);
	if (r->new_ckpt_seq)
		printf("  new full checkpoint %llu\n", (unsigned long long)r->new_ckpt_seq);
	printf("  took %s\n", fmt_dur(b, sizeof(b), r->total_ns));
}

static json_t *restore_json(const zr_restore_report *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "ckpt_seq", json_u64(r->ckpt_seq));
	json_object_set_new(o, "ckpts_invalid", json_u64(r->ckpts_invalid));
	json_object_set_new(o, "begin_lsn", json_u64(r->begin_lsn));
	json_object_set_new(o, "last_lsn", json_u64(r->last_lsn));
	json_object_set_new(o, "records_applied", json_u64(r->records_applied));
	json_object_set_new(o, "records_orphan", json_u64(r->records_orphan));
	json_object_set_new(o, "torn_tails", json_u64(r->journal.torn_tails));
	json_object_set_new(o, "corrupt_records", json_u64(r->journal.corrupt));
	json_object_set_new(o, "bad_segments", json_u64(r->journal.bad_segments));
	json_object_set_new(o, "rollback_lsn", json_u64(r->journal.rollback_lsn));
	json_object_set_new(o, "not_applied", json_u64(r->journal.not_applied));
	json_object_set_new(o, "jobs", json_u64(r->jobs));
	json_t *by = json_object();
	for (uint32_t s = 1; s < ZR_JOB_STATUS_COUNT; s++)
		json_object_set_new(by, zr_job_status_name(s), json_u64(r->jobs_by_status[s]));
	json_object_set_new(o, "jobs_by_status", by);
	json_object_set_new(o, "jobs_reclaimed", json_u64(r->jobs_reclaimed));
	json_object_set_new(o, "jobs_dropped", json_u64(r->jobs_dropped));
	json_object_set_new(o, "agents", json_u64(r->agents));
	json_object_set_new(o, "payload_bytes", json_u64(r->payload_bytes));
	json_object_set_new(o, "new_ckpt_seq", json_u64(r->new_ckpt_seq));
	json_object_set_new(o, "total_ns", json_u64(r->total_ns));
	return o;
}

int cmd_restore(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "restore: needs the NAME of the arena to create");
	if (!o->dir && !o->journal)
		return cli_fail(EXIT_USAGE, "restore: give --dir (checkpoints) and/or --journal");
	zr_restore_config cfg = {.name = o->argv[0],
				 .ckpt_dir = o->dir,
				 .journal_dir = o->journal,
				 .ckpt_seq = o->seq,
				 .durability = ZR_DURABILITY_ASYNC,
				 .no_checkpoint = o->no_checkpoint};
	int dur =
		o->durability ? cli_pick(o->durability, durability_names, 3) : (int)cfg.durability;
	if (dur < 0)
		return cli_fail(EXIT_USAGE, "restore: --durability is none, async or sync");
	cfg.durability = (uint32_t)dur;
	struct cli_problems problems = {o->json ? json_array() : NULL, 0};
	zr_arena *a = NULL;
	zr_restore_report rep;
	zr_diag d = {0};
	int rc = zr_restore(&cfg, cli_problem, &problems, &a, &rep, &d);
	if (rc) {
		json_decref(problems.list);
		return cli_fail(rc == ZR_ECORRUPT ? EXIT_CORRUPT : cli_exit_for(rc), "restore: %s",
				d.msg);
	}
	zr_arena_close(a);
	bool damaged = rep.ckpts_invalid || rep.journal.corrupt || rep.journal.bad_segments;
	if (o->json) {
		json_t *doc = json_doc("restore");
		json_object_set_new(doc, "arena", json_text(o->argv[0]));
		json_object_set_new(doc, "restore", restore_json(&rep));
		json_object_set_new(doc, "problems", problems.list);
		json_emit(doc);
	} else {
		print_restore(o->argv[0], &rep);
	}
	return damaged ? EXIT_CORRUPT : EXIT_OK;
}
