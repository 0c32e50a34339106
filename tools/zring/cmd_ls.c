/* `zring ls`: the arenas of this host, /dev/shm and file-backed ones, with
 * who made them, who is attached and how many jobs wait; stale ones (every
 * attached process dead) are flagged for `zring gc`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

struct row {
	zr_arena_entry e;
	bool opened;
	uint32_t agents_alive, agents_dead;
	uint64_t pending;
	char error[320];
};

struct count_ctx {
	zr_arena *a;
	struct row *r;
};

static int count(void *ctx)
{
	struct count_ctx *c = ctx;
	size_t n = 0;
	zr_agent_list(c->a, 0, NULL, 0, &n);
	zr_agent_info *g = calloc(n + 1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	size_t found = 0;
	zr_agent_list(c->a, 0, g, n, &found);
	for (size_t i = 0; i < found && i < n; i++) {
		c->r->agents_alive += g[i].status == ZR_AGENT_ALIVE;
		c->r->agents_dead += g[i].status == ZR_AGENT_DEAD;
	}
	free(g);
	zr_jobs_stats st;
	zr_jobs_stat(c->a, &st);
	c->r->pending = st.by_status[ZR_JOB_PENDING] + st.by_status[ZR_JOB_DELAYED];
	return 0;
}

static void inspect(struct row *r)
{
	if (r->e.open_rc) {
		snprintf(r->error, sizeof(r->error), "%s", zr_strerror(r->e.open_rc));
		return;
	}
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = cli_open_entry(&r->e, &a, &d);
	if (rc) {
		snprintf(r->error, sizeof(r->error), "%s", d.msg[0] ? d.msg : zr_strerror(rc));
		return;
	}
	struct count_ctx c = {a, r};
	uint64_t off = 0;
	rc = cli_guarded(a, count, &c, &off);
	if (rc == -EFAULT)
		snprintf(r->error, sizeof(r->error), "reading it faulted at offset %#llx",
			 (unsigned long long)off);
	r->opened = rc == 0;
	zr_arena_close(a);
}

static const char *state_of(const struct row *r)
{
	if (r->e.stale)
		return "stale";
	if (r->e.open_rc == ZR_ENOTREADY)
		return "not-ready";
	if (r->error[0])
		return "unreadable";
	return "ok";
}

int cmd_ls(const struct cli_opts *o)
{
	if (o->argc)
		return cli_fail(EXIT_USAGE, "ls: takes no arguments (see zring ls --help)");
	size_t n = 0;
	zr_arena_entry *e = cli_list_arenas("ls", &n);
	if (!e)
		return EXIT_ERROR;
	struct row *rows = calloc(n + 1, sizeof(*rows));
	if (!rows) {
		free(e);
		return cli_fail(EXIT_ERROR, "ls: out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].e = e[i];
		inspect(&rows[i]);
	}
	if (o->json) {
		json_t *d = json_doc("ls"), *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			char user[64];
			json_t *x = json_object();
			json_object_set_new(x, "name", json_text(r->e.name));
			json_object_set_new(x, "path", json_text(r->e.path));
			json_object_set_new(x, "file_backed", json_boolean(r->e.file_backed));
			json_object_set_new(x, "size", json_u64(r->e.size));
			json_object_set_new(x, "owner_uid", json_u64(r->e.uid));
			json_object_set_new(x, "owner",
					    json_text(fmt_user(user, sizeof(user), r->e.uid)));
			json_object_set_new(x, "creator_pid", json_u64(r->e.creator_pid));
			json_object_set_new(x, "procs_alive", json_u64(r->e.procs_alive));
			json_object_set_new(x, "procs_dead", json_u64(r->e.procs_dead));
			json_object_set_new(x, "agents_alive",
					    r->opened ? json_u64(r->agents_alive) : json_null());
			json_object_set_new(x, "agents_dead",
					    r->opened ? json_u64(r->agents_dead) : json_null());
			json_object_set_new(x, "jobs_pending",
					    r->opened ? json_u64(r->pending) : json_null());
			json_object_set_new(x, "stale", json_boolean(r->e.stale));
			json_object_set_new(x, "state", json_string(state_of(r)));
			json_object_set_new(x, "error",
					    r->error[0] ? json_text(r->error) : json_null());
			json_array_append_new(arr, x);
		}
		json_object_set_new(d, "arenas", arr);
		json_emit(d);
	} else {
		printf("%-32s %10s %-10s %8s %11s %11s %8s  %s\n", "name", "size", "owner",
		       "creator", "procs a/d", "agents a/d", "pending", "state");
		for (size_t i = 0; i < n; i++) {
			const struct row *r = &rows[i];
			char sz[32], user[64], pa[24], ag[24], pend[24];
			snprintf(pa, sizeof(pa), "%u/%u", r->e.procs_alive, r->e.procs_dead);
			snprintf(ag, sizeof(ag), r->opened ? "%u/%u" : "-", r->agents_alive,
				 r->agents_dead);
			snprintf(pend, sizeof(pend), r->opened ? "%llu" : "-",
				 (unsigned long long)r->pending);
			printf("%-32s %10s %-10s %8u %11s %11s %8s  %s",
			       r->e.file_backed ? r->e.path : r->e.name,
			       fmt_bytes(sz, sizeof(sz), r->e.size),
			       fmt_user(user, sizeof(user), r->e.uid), r->e.creator_pid, pa, ag,
			       pend, state_of(r));
			if (r->error[0])
				printf(": %s", r->error);
			printf("\n");
		}
		if (n == 0)
			printf("(no zring arenas)\n");
	}
	free(rows);
	free(e);
	return EXIT_OK;
}
