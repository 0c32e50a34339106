/* `zring verify DIR` and `zring journal dump DIR`: every checksum of a
 * journal or checkpoint directory, and a journal's records in LSN order. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_problem(void *ctx, const char *file, uint64_t off, const char *what)
{
	struct cli_problems *p = ctx;
	p->n++;
	if (p->list) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_text(file));
		json_object_set_new(o, "offset", json_u64(off));
		json_object_set_new(o, "what", json_text(what));
		json_array_append_new(p->list, o);
	} else {
		fprintf(stderr, "problem: %s @%llu: %s\n", file, (unsigned long long)off, what);
	}
}

int cli_pick(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

/* What DIR holds: journal segments, checkpoint manifests. */
static int survey(const char *dir, bool *journal, bool *ckpt)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (!strncmp(e->d_name, "zj-", 3) && n > 4 && !strcmp(e->d_name + n - 4, ".zjl"))
			*journal = true;
		if (!strncmp(e->d_name, "ckpt-", 5) && n > 4 && !strcmp(e->d_name + n - 4, ".zcm"))
			*ckpt = true;
	}
	closedir(d);
	return 0;
}

static int verify_journal(const char *dir, struct cli_problems *p, zr_jreader_stats *st)
{
	zr_jreader *r;
	zr_diag d = {0};
	int rc = zr_jreader_open(dir, 0, 1, ZR_JREADER_KEEP_GOING, cli_problem, p, &r, &d);
	if (rc)
		return cli_fail(cli_exit_for(rc), "verify: %s", d.msg);
	zr_jrec rec;
	while ((rc = zr_jreader_next(r, &rec)) == 1)
		;
	zr_jreader_stats_get(r, st);
	zr_jreader_close(r);
	if (rc < 0)
		return cli_fail(EXIT_ERROR, "verify: reading %s: %s", dir, zr_strerror(rc));
	return 0;
}

int cmd_verify(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "verify: needs DIR (see zring verify --help)");
	const char *dir = o->argv[0];
	bool has_j = false, has_c = false;
	int rc = survey(dir, &has_j, &has_c);
	if (rc)
		return cli_fail(rc == -ENOENT ? EXIT_NOT_FOUND : EXIT_ERROR, "verify: %s: %s", dir,
				strerror(-rc));
	if (!has_j && !has_c)
		return cli_fail(EXIT_NOT_FOUND,
				"verify: %s holds no journal segment (zj-*.zjl) and "
				"no checkpoint (ckpt-*.zcm)",
				dir);
	struct cli_problems p = {o->json ? json_array() : NULL, 0};
	zr_jreader_stats js = {0};
	if (has_j && (rc = verify_journal(dir, &p, &js)) != 0) {
		json_decref(p.list);
		return rc;
	}
	size_t n = 0, bad = 0;
	zr_ckpt_entry *e = NULL;
	if (has_c) {
		zr_diag d = {0};
		rc = zr_ckpt_list(dir, false, NULL, NULL, NULL, 0, &n, &d);
		e = rc == 0 && n ? calloc(n, sizeof(*e)) : NULL;
		if (rc == 0 && n && !e)
			rc = -ENOMEM;
		if (rc == 0 && n)
			rc = zr_ckpt_list(dir, true, cli_problem, &p, e, n, &n, &d);
		if (rc) {
			free(e);
			json_decref(p.list);
			return cli_fail(cli_exit_for(rc), "verify: %s", d.msg);
		}
		for (size_t i = 0; i < n; i++)
			bad += !e[i].valid;
	}
	bool damaged = p.n || bad || js.corrupt || js.torn_tails || js.bad_segments;
	if (o->json) {
		json_t *doc = json_doc("verify");
		json_object_set_new(doc, "dir", json_text(dir));
		json_object_set_new(doc, "ok", json_boolean(!damaged));
		if (has_j) {
			json_t *j = json_object();
			json_object_set_new(j, "lineage", json_u64(js.lineage));
			json_object_set_new(j, "streams", json_u64(js.streams));
			json_object_set_new(j, "segments", json_u64(js.segments));
			json_object_set_new(j, "records", json_u64(js.records));
			json_object_set_new(j, "max_lsn", json_u64(js.max_lsn));
			json_object_set_new(j, "torn_tails", json_u64(js.torn_tails));
			json_object_set_new(j, "corrupt", json_u64(js.corrupt));
			json_object_set_new(j, "bad_segments", json_u64(js.bad_segments));
			json_object_set_new(doc, "journal", j);
		}
		json_t *cks = json_array();
		for (size_t i = 0; i < n; i++) {
			json_t *c = json_object();
			json_object_set_new(c, "seq", json_u64(e[i].seq));
			json_object_set_new(c, "valid", json_boolean(e[i].valid));
			json_object_set_new(c, "begin_lsn", json_u64(e[i].begin_lsn));
			json_object_set_new(c, "chunks", json_u64(e[i].chunks));
			json_array_append_new(cks, c);
		}
		json_object_set_new(doc, "checkpoints", cks);
		json_object_set_new(doc, "problems", p.list);
		json_emit(doc);
	} else {
		if (has_j)
			printf("journal: %u streams, %u segments, %llu records up to LSN %llu; "
			       "%llu torn tails, %llu corrupt records, %llu bad segments\n",
			       js.streams, js.segments, (unsigned long long)js.records,
			       (unsigned long long)js.max_lsn, (unsigned long long)js.torn_tails,
			       (unsigned long long)js.corrupt, (unsigned long long)js.bad_segments);
		for (size_t i = 0; i < n; i++)
			printf("checkpoint %llu: %s, from LSN %llu, %llu chunks\n",
			       (unsigned long long)e[i].seq, e[i].valid ? "ok" : "DAMAGED",
			       (unsigned long long)e[i].begin_lsn, (unsigned long long)e[i].chunks);
		printf("%s\n", damaged ? "damage found" : "ok");
	}
	free(e);
	return damaged ? EXIT_CORRUPT : EXIT_OK;
}

/* ---- journal dump ------------------------------------------------------------ */

static void print_record(const zr_jrec *r)
{
	char t[40];
	printf("%10llu  s%-3u %s  %-8s", (unsigned long long)r->lsn, r->stream,
	       fmt_time(t, sizeof(t), r->wall_ns), zr_jrec_type_name(r->type));
	if (r->type == ZR_JREC_AGENT) {
		printf(" agent %u %s\n", r->agent_id, r->agent_name);
		return;
	}
	const zr_job_info *j = &r->job;
	printf(" job %#llx %-10s %-8s retries %u/%u", (unsigned long long)j->id,
	       zr_job_status_name(j->status), zr_prio_name(j->prio), j->retries, j->max_retries);
	if (r->data_len)
		printf(" %s %llu B", r->type == ZR_JREC_SUBMIT ? "payload" : "result",
		       (unsigned long long)r->data_len);
	if (j->error[0]) {
		json_t *e = json_text(j->error); /* printable only */
		printf(" error \"%s\"", json_string_value(e));
		json_decref(e);
	}
	printf("\n");
}

static json_t *record_json(const zr_jrec *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "lsn", json_u64(r->lsn));
	json_object_set_new(o, "stream", json_u64(r->stream));
	json_object_set_new(o, "type", json_string(zr_jrec_type_name(r->type)));
	json_object_set_new(o, "wall_ns", json_u64(r->wall_ns));
	if (r->type == ZR_JREC_AGENT) {
		json_object_set_new(o, "agent_id", json_u64(r->agent_id));
		json_object_set_new(o, "agent_name", json_text(r->agent_name));
	} else {
		json_object_set_new(o, "job", json_job(&r->job, "", "", "", r->time_ns));
		json_object_set_new(o, "data_len", json_u64(r->data_len));
	}
	return o;
}

int cmd_journal(const struct cli_opts *o)
{
	if (o->argc != 2 || strcmp(o->argv[0], "dump"))
		return cli_fail(EXIT_USAGE, "journal: usage: zring journal dump DIR");
	const char *dir = o->argv[1];
	struct cli_problems p = {NULL, 0};
	zr_jreader *r;
	zr_diag d = {0};
	int rc = zr_jreader_open(dir, 0, o->from, ZR_JREADER_KEEP_GOING, cli_problem, &p, &r, &d);
	if (rc)
		return cli_fail(rc == -ENOENT ? EXIT_NOT_FOUND : cli_exit_for(rc), "journal: %s",
				d.msg);
	json_t *list = o->json ? json_array() : NULL;
	zr_jrec rec;
	long n = 0;
	while ((o->limit == 0 || n < o->limit) && (rc = zr_jreader_next(r, &rec)) == 1) {
		n++;
		if (list)
			json_array_append_new(list, record_json(&rec));
		else
			print_record(&rec);
	}
	zr_jreader_stats st;
	zr_jreader_stats_get(r, &st);
	zr_jreader_close(r);
	if (rc < 0) {
		json_decref(list);
		return cli_fail(EXIT_ERROR, "journal: reading %s: %s", dir, zr_strerror(rc));
	}
	if (list) {
		json_t *doc = json_doc("journal");
		json_object_set_new(doc, "dir", json_text(dir));
		json_object_set_new(doc, "records", list);
		json_object_set_new(doc, "problems", json_u64(p.n));
		json_emit(doc);
	}
	return p.n ? EXIT_CORRUPT : EXIT_OK;
}
