/* `zring agents ARENA`: every agent, alive or dead, with its process,
 * placement, heartbeat, inbox and counters, and its own latency. */
#include <errno.h>
#include <stdlib.h>

#include "snapshot.h"

struct agents_ctx {
	zr_arena *a;
	const struct cli_opts *o;
	struct snap s;
};

static void print_agent(const zr_arena *a, const struct snap *s, const zr_agent_info *g)
{
	char hb[32], to[32], up[32], p50[32], p99[32], c50[32], c99[32];
	zr_hist claim, done;
	zr_agent_hist(a, g->id, &claim, &done);
	printf("agent %s (id %u): %s, %s, pid %u tid %u, process owner %u\n", g->name, g->id,
	       agent_status_name(g->status), g->kind == ZR_AGENT_GPU ? "gpu" : "cpu", g->pid,
	       g->tid, g->owner);
	printf("  heartbeat %s ago (timeout %s)  registered %s ago  on death: %s\n",
	       fmt_age(hb, sizeof(hb), g->heartbeat_ns, s->mono_ns),
	       g->heartbeat_timeout_ns ? fmt_dur(to, sizeof(to), g->heartbeat_timeout_ns) : "none",
	       fmt_age(up, sizeof(up), g->registered_ns, s->mono_ns),
	       g->on_death == ZR_ON_DEATH_TO_SHARED ? "inbox to the shared queue"
						    : "inbox kept for a successor");
	printf("  placement: cpus %s  numa %d%s%s\n",
	       g->place.ncpus ? g->place.cpus : "(not pinned)", g->place.numa_node,
	       g->place.note[0] ? "  " : "", g->place.note);
	if (g->caps[0])
		printf("  caps: %s\n", g->caps);
	printf("  inbox %u  submitted %llu  claimed %llu  completed %llu  failed %llu  stale "
	       "%llu\n",
	       g->inbox_depth, (unsigned long long)g->submitted, (unsigned long long)g->claimed,
	       (unsigned long long)g->completed, (unsigned long long)g->failed,
	       (unsigned long long)g->stale);
	printf("  latency: submit>claim p50 %s p99 %s (%llu)  claim>done p50 %s p99 %s (%llu)\n",
	       fmt_dur(p50, sizeof(p50), zr_hist_percentile(&claim, 50)),
	       fmt_dur(p99, sizeof(p99), zr_hist_percentile(&claim, 99)),
	       (unsigned long long)claim.count,
	       fmt_dur(c50, sizeof(c50), zr_hist_percentile(&done, 50)),
	       fmt_dur(c99, sizeof(c99), zr_hist_percentile(&done, 99)),
	       (unsigned long long)done.count);
}

static int show(void *ctx)
{
	struct agents_ctx *c = ctx;
	if (snap_take_agents(c->a, &c->s))
		return -ENOMEM;
	if (!c->o->json) {
		for (size_t i = 0; i < c->s.nagents; i++)
			print_agent(c->a, &c->s, &c->s.agents[i]);
		if (c->s.nagents == 0)
			printf("(no agents)\n");
		return 0;
	}
	json_t *d = json_doc("agents"), *arr = json_array();
	for (size_t i = 0; i < c->s.nagents; i++) {
		const zr_agent_info *g = &c->s.agents[i];
		zr_hist claim, done;
		zr_agent_hist(c->a, g->id, &claim, &done);
		json_t *x = stat_agent_json(&c->s, NULL, g), *lat = json_object();
		json_object_set_new(lat, "submit_to_claim", json_hist(&claim));
		json_object_set_new(lat, "claim_to_complete", json_hist(&done));
		json_object_set_new(x, "latency", lat);
		json_array_append_new(arr, x);
	}
	json_object_set_new(d, "agents", arr);
	json_emit(d);
	return 0;
}

int cmd_agents(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "agents: give one arena (see zring agents --help)");
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct agents_ctx c = {.a = a, .o = o};
	uint64_t off = 0;
	rc = cli_guarded(a, show, &c, &off);
	if (rc == -EFAULT)
		rc = cli_fault_exit(a, off);
	else if (rc)
		rc = cli_fail(EXIT_ERROR, "agents: out of memory");
	snap_free(&c.s);
	zr_arena_close(a);
	return rc;
}
