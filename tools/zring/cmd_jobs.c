/* `zring jobs`, `zring job` and `zring dlq`: the job table, one record in
 * full with the first bytes of its payload, and the dead letters. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

struct list_ctx {
	zr_arena *a;
	zr_job_filter f;
	zr_job_info *rows;
	size_t cap, n;
};

static int list(void *ctx)
{
	struct list_ctx *c = ctx;
	return zr_jobs_list(c->a, &c->f, c->rows, c->cap, &c->n);
}

static const char *type_of(const zr_job_info *j)
{
	return j->type == ZR_JOB_CUSTOM && j->type_name[0] ? j->type_name
							   : zr_job_type_name(j->type);
}

static void print_rows(const zr_arena *a, const zr_job_info *r, size_t n, size_t total, bool dlq)
{
	uint64_t now = cli_now_mono();
	printf("%-20s %-10s %-8s %-13s %-16s %-16s %-16s %7s %9s %9s%s\n", "id", "status",
	       "priority", "type", "source", "target", "holder", "retries", "age", "payload",
	       dlq ? "  error" : "");
	for (size_t i = 0; i < n; i++) {
		const zr_job_info *j = &r[i];
		char src[48], dst[48], hold[48], age[32], pay[32], tries[24];
		snprintf(tries, sizeof(tries), "%u/%u", j->retries, j->max_retries);
		printf("%-20llu %-10s %-8s %-13.13s %-16.16s %-16.16s %-16.16s %7s %9s %9s%s%s\n",
		       (unsigned long long)j->id, zr_job_status_name(j->status),
		       zr_prio_name(j->prio), type_of(j),
		       agent_name(a, j->source, src, sizeof(src)),
		       j->target ? agent_name(a, j->target, dst, sizeof(dst)) : "(shared)",
		       agent_name(a, j->holder, hold, sizeof(hold)), tries,
		       fmt_age(age, sizeof(age), j->submit_ns, now),
		       fmt_bytes(pay, sizeof(pay), j->payload_len), dlq ? "  " : "",
		       dlq ? j->error : "");
	}
	if (total > n)
		printf("(%zu more; --limit N shows more)\n", total - n);
	else if (n == 0)
		printf("(no jobs)\n");
}

static json_t *rows_json(const zr_arena *a, const char *cmd, const zr_job_info *r, size_t n,
			 size_t total)
{
	uint64_t now = cli_now_mono();
	json_t *d = json_doc(cmd), *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char s[48], t[48], h[48];
		json_array_append_new(
			arr, json_job(&r[i], agent_name(a, r[i].source, s, sizeof(s)),
				      r[i].target ? agent_name(a, r[i].target, t, sizeof(t)) : "",
				      r[i].holder ? agent_name(a, r[i].holder, h, sizeof(h)) : NULL,
				      now));
	}
	json_object_set_new(d, "matched", json_u64(total));
	json_object_set_new(d, "jobs", arr);
	return d;
}

struct print_ctx {
	const zr_arena *a;
	const char *cmd;
	const struct list_ctx *c;
	bool json, dlq;
};

/* Printing resolves agent names in the arena: under the guard too. */
static int print_list(void *ctx)
{
	const struct print_ctx *p = ctx;
	size_t shown = p->c->n < p->c->cap ? p->c->n : p->c->cap;
	if (p->json)
		json_emit(rows_json(p->a, p->cmd, p->c->rows, shown, p->c->n));
	else
		print_rows(p->a, p->c->rows, shown, p->c->n, p->dlq);
	return 0;
}

static int list_jobs(const struct cli_opts *o, const char *cmd, uint32_t status_mask)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "%s: give one arena (see zring %s --help)", cmd, cmd);
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct list_ctx c = {.a = a};
	c.f.status_mask = status_mask;
	if (o->status) {
		long m = parse_status_mask(o->status);
		if (m < 0) {
			zr_arena_close(a);
			return cli_fail(EXIT_USAGE,
					"%s: unknown status in '%s' (pending, delayed, "
					"processing, completed, failed, cancelled, expired)",
					cmd, o->status);
		}
		c.f.status_mask = (uint32_t)m;
	}
	if (o->priority) {
		long m = parse_prio_mask(o->priority);
		if (m < 0) {
			zr_arena_close(a);
			return cli_fail(
				EXIT_USAGE,
				"%s: unknown priority in '%s' (critical, high, normal, low)", cmd,
				o->priority);
		}
		c.f.prio_mask = (uint32_t)m;
	}
	if (o->agent && !(c.f.agent = parse_agent(a, o->agent))) {
		zr_arena_close(a);
		return cli_fail(EXIT_NOT_FOUND, "%s: no agent '%s' in %s", cmd, o->agent,
				o->argv[0]);
	}
	c.cap = o->limit > 0 ? (size_t)o->limit : 50;
	c.rows = calloc(c.cap, sizeof(*c.rows));
	uint64_t off = 0;
	rc = c.rows ? cli_guarded(a, list, &c, &off) : -ENOMEM;
	if (rc == -EFAULT)
		rc = cli_fault_exit(a, off);
	else if (rc)
		rc = cli_fail(EXIT_ERROR, "%s: %s", cmd, zr_strerror(rc));
	else {
		struct print_ctx p = {a, cmd, &c, o->json, status_mask != 0};
		if (cli_guarded(a, print_list, &p, &off) == -EFAULT)
			rc = cli_fault_exit(a, off);
	}
	free(c.rows);
	zr_arena_close(a);
	return rc;
}

int cmd_jobs(const struct cli_opts *o)
{
	return list_jobs(o, "jobs", 0);
}

int cmd_dlq(const struct cli_opts *o)
{
	if (o->status)
		return cli_fail(EXIT_USAGE,
				"dlq: lists failed jobs only; use `zring jobs --status`");
	return list_jobs(o, "dlq", 1u << ZR_JOB_FAILED);
}

/* ---- one job ---------------------------------------------------------------- */

struct one_ctx {
	zr_arena *a;
	zr_job_id id;
	zr_job_info j;
	uint8_t head[4096], rhead[4096];
	size_t nhead, nrhead;
	int payload_rc, result_rc;
	size_t want;
	const char *text; /* the id as given */
};

/* Copy the first bytes of a payload out of shared memory (it may be freed
 * and reused meanwhile: what is shown is what was there). */
static int copy_head(const zr_arena *a, zr_payload p, uint64_t len, uint8_t *out, size_t want,
		     size_t *n)
{
	void *ptr = NULL;
	size_t size = 0;
	*n = 0;
	if (!p.v)
		return 0;
	int rc = zr_payload_resolve(a, p, &ptr, &size);
	if (rc)
		return rc;
	size_t k = want < len ? want : (size_t)len;
	k = k < size ? k : size;
	memcpy(out, ptr, k);
	*n = k;
	return 0;
}

static int one(void *ctx)
{
	struct one_ctx *c = ctx;
	int rc = parse_job_id(c->a, c->text, &c->id); /* a UUID is looked up in the arena */
	if (rc)
		return rc == -ENOENT ? ZR_ESTALE : rc;
	rc = zr_job_get(c->a, c->id, &c->j);
	if (rc)
		return rc;
	c->payload_rc =
		copy_head(c->a, c->j.payload, c->j.payload_len, c->head, c->want, &c->nhead);
	c->result_rc = copy_head(c->a, c->j.result, c->j.result_len, c->rhead, c->want, &c->nrhead);
	return 0;
}

static void hexdump(const char *title, const uint8_t *b, size_t n, uint64_t total, int rc)
{
	printf("%s:", title);
	if (rc) {
		printf(" (cannot be read: %s)\n", zr_strerror(rc));
		return;
	}
	if (total == 0) {
		printf(" (none)\n");
		return;
	}
	printf(" first %zu of %llu bytes\n", n, (unsigned long long)total);
	for (size_t i = 0; i < n; i += 16) {
		printf("  %08zx ", i);
		for (size_t k = 0; k < 16; k++)
			printf(k < n - i ? " %02x" : "   ", k < n - i ? b[i + k] : 0);
		printf("  |");
		for (size_t k = 0; k < 16 && i + k < n; k++)
			putchar(isprint(b[i + k]) ? b[i + k] : '.');
		printf("|\n");
	}
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);
	for (size_t i = 0; s && i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	json_t *j = s ? json_stringn(s, 2 * n) : json_null();
	free(s);
	return j;
}

static void print_job(const zr_arena *a, const struct one_ctx *c)
{
	const zr_job_info *j = &c->j;
	uint64_t now = cli_now_mono();
	char u[37], b1[48], b2[48], b3[48], t1[32], t2[32], t3[32];
	uuid_text(j->uuid, u);
	printf("job %llu (index %llu, generation %llu)  uuid %s\n", (unsigned long long)j->id,
	       (unsigned long long)(j->id & 0xffffffffu) - 1, (unsigned long long)(j->id >> 32), u);
	printf("  status %s  priority %s  type %s  flags %#x\n", zr_job_status_name(j->status),
	       zr_prio_name(j->prio), type_of(j), j->flags);
	printf("  source %s  target %s  holder %s\n", agent_name(a, j->source, b1, sizeof(b1)),
	       j->target ? agent_name(a, j->target, b2, sizeof(b2)) : "(shared queue)",
	       agent_name(a, j->holder, b3, sizeof(b3)));
	printf("  retries %u of %u  attempt %u  backoff %s (max %s)\n", j->retries, j->max_retries,
	       j->attempt, fmt_dur(t1, sizeof(t1), j->backoff_ns),
	       fmt_dur(t2, sizeof(t2), j->backoff_max_ns));
	printf("  submitted %s ago  claimed %s ago  finished %s ago\n",
	       fmt_age(t1, sizeof(t1), j->submit_ns, now),
	       fmt_age(t2, sizeof(t2), j->claim_ns, now),
	       fmt_age(t3, sizeof(t3), j->finish_ns, now));
	if (j->expire_ns)
		printf("  ttl: %s %s\n", j->expire_ns > now ? "expires in" : "expired",
		       fmt_dur(t1, sizeof(t1),
			       j->expire_ns > now ? j->expire_ns - now : now - j->expire_ns));
	if (j->due_ns && (j->status == ZR_JOB_DELAYED || j->status == ZR_JOB_PROCESSING))
		printf("  %s %s %s\n", j->status == ZR_JOB_PROCESSING ? "lease ends" : "due",
		       j->due_ns > now ? "in" : "since",
		       fmt_dur(t1, sizeof(t1),
			       j->due_ns > now ? j->due_ns - now : now - j->due_ns));
	if (j->interval_ns)
		printf("  recurring every %s\n", fmt_dur(t1, sizeof(t1), j->interval_ns));
	printf("  meta:");
	char key[ZR_JOB_META_BYTES], val[ZR_JOB_META_BYTES];
	for (size_t pos = 0; meta_next(j->meta, &pos, key, val);)
		printf(" %s=%s", key, val);
	printf("%s\n", j->meta[0] ? "" : " (none)");
	if (j->error[0])
		printf("  error: %s\n", j->error);
	hexdump("payload", c->head, c->nhead, j->payload_len, c->payload_rc);
	hexdump("result", c->rhead, c->nrhead, j->result_len, c->result_rc);
}

static int print_job_guarded(void *ctx)
{
	const struct one_ctx *c = ctx;
	print_job(c->a, c);
	return 0;
}

static int emit_job(void *ctx)
{
	const struct one_ctx *c = ctx;
	const zr_job_info *j = &c->j;
	char s[48], t[48], h[48];
	json_t *d = json_doc("job");
	json_t *job = json_job(j, agent_name(c->a, j->source, s, sizeof(s)),
			       j->target ? agent_name(c->a, j->target, t, sizeof(t)) : "",
			       j->holder ? agent_name(c->a, j->holder, h, sizeof(h)) : NULL,
			       cli_now_mono());
	json_object_set_new(job, "payload_head_hex", hex_json(c->head, c->nhead));
	json_object_set_new(job, "result_head_hex", hex_json(c->rhead, c->nrhead));
	json_object_set_new(d, "job", job);
	json_emit(d);
	return 0;
}

int cmd_job(const struct cli_opts *o)
{
	if (o->argc != 2)
		return cli_fail(EXIT_USAGE,
				"job: give an arena and a job id (see zring job --help)");
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct one_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		zr_arena_close(a);
		return cli_fail(EXIT_ERROR, "out of memory");
	}
	c->a = a;
	c->want = o->bytes > 0 ? (size_t)(o->bytes < 4096 ? o->bytes : 4096) : 64;
	c->text = o->argv[1];
	uint64_t off = 0;
	rc = cli_guarded(a, one, c, &off);
	if (rc == -EFAULT)
		rc = cli_fault_exit(a, off);
	else if (rc == -EINVAL)
		rc = cli_fail(EXIT_USAGE,
			      "job: '%s' is not a job id of this arena (a number or a UUID)",
			      o->argv[1]);
	else if (rc == ZR_ESTALE)
		rc = cli_fail(EXIT_NOT_FOUND,
			      "job %s: no such job (released, or the id is from another life)",
			      o->argv[1]);
	else if (rc)
		rc = cli_fail(cli_exit_for(rc), "job %s: %s", o->argv[1], zr_strerror(rc));
	if (rc == 0 && cli_guarded(a, o->json ? emit_job : print_job_guarded, c, &off) == -EFAULT)
		rc = cli_fault_exit(a, off);
	free(c);
	zr_arena_close(a);
	return rc;
}
