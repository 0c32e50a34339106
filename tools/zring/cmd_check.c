/* `zring check ARENA`: every invariant the library knows, on a live arena,
 * each violation with its area, where and the arena offset (exit 3). */
#include <errno.h>
#include <stdlib.h>

#include "snapshot.h"

#define SHOW_MAX 1000 /* violations kept for the report; all are counted */

struct check_ctx {
	zr_arena *a;
	zr_violation *v;
	size_t kept, total;
};

static int keep(void *ctx, const zr_violation *v)
{
	struct check_ctx *c = ctx;
	if (c->kept < SHOW_MAX)
		c->v[c->kept++] = *v;
	return 0;
}

static int run(void *ctx)
{
	struct check_ctx *c = ctx;
	c->total = zr_arena_check_each(c->a, keep, c);
	return 0;
}

int cmd_check(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "check: give one arena (see zring check --help)");
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct check_ctx c = {.a = a, .v = calloc(SHOW_MAX, sizeof(zr_violation))};
	uint64_t off = 0;
	rc = c.v ? cli_guarded(a, run, &c, &off) : -ENOMEM;
	if (rc == -EFAULT) {
		rc = cli_fault_exit(a, off);
	} else if (rc) {
		rc = cli_fail(EXIT_ERROR, "check: out of memory");
	} else if (o->json) {
		json_t *d = json_doc("check"), *arr = json_array();
		for (size_t i = 0; i < c.kept; i++) {
			json_t *x = json_object();
			json_object_set_new(x, "area", json_text(c.v[i].area ? c.v[i].area : "?"));
			json_object_set_new(x, "where", json_text(c.v[i].where));
			json_object_set_new(x, "offset",
					    c.v[i].offset == UINT64_MAX ? json_null()
									: json_u64(c.v[i].offset));
			json_object_set_new(x, "what", json_text(c.v[i].msg));
			json_array_append_new(arr, x);
		}
		json_object_set_new(d, "arena", json_text(o->argv[0]));
		json_object_set_new(d, "ok", json_boolean(c.total == 0));
		json_object_set_new(d, "violations_found", json_u64(c.total));
		json_object_set_new(d, "violations", arr);
		json_emit(d);
		rc = c.total ? EXIT_CORRUPT : EXIT_OK;
	} else {
		for (size_t i = 0; i < c.kept; i++) {
			printf("violation: %-7s %-24s", c.v[i].area ? c.v[i].area : "?",
			       c.v[i].where);
			if (c.v[i].offset != UINT64_MAX)
				printf(" at %#10llx", (unsigned long long)c.v[i].offset);
			printf(": %s\n", c.v[i].msg);
		}
		if (c.total > c.kept)
			printf("(%zu more violations not shown)\n", c.total - c.kept);
		if (c.total)
			printf("%s: %zu violation%s of the arena's invariants\n", o->argv[0],
			       c.total, c.total == 1 ? "" : "s");
		else
			printf("%s: ok (header, processes, rings, payloads, agents, jobs)\n",
			       o->argv[0]);
		rc = c.total ? EXIT_CORRUPT : EXIT_OK;
	}
	free(c.v);
	zr_arena_close(a);
	return rc;
}
