/* `zring stat`: one look at an arena (rates from two samples `--interval`
 * apart), as text, JSON or Prometheus text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "snapshot.h"

void cli_sleep(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

struct take_ctx {
	zr_arena *a;
	struct snap *s;
};

static int take(void *ctx)
{
	struct take_ctx *c = ctx;
	return snap_take(c->a, c->s);
}

int snap_take_guarded(zr_arena *a, struct snap *s)
{
	struct take_ctx c = {a, s};
	uint64_t off = 0;
	int rc = cli_guarded(a, take, &c, &off);
	if (rc == -EFAULT)
		return cli_fault_exit(a, off);
	if (rc)
		return cli_fail(EXIT_ERROR, "out of memory");
	return EXIT_OK;
}

/* Every readable arena of the host, for a scrape without a name. */
static int prometheus_all(void)
{
	size_t n = 0, got = 0;
	zr_arena_entry *e = cli_list_arenas("stat", &n);
	if (!e)
		return EXIT_ERROR;
	struct snap *v = calloc(n + 1, sizeof(*v));
	zr_arena **open = calloc(n + 1, sizeof(*open));
	for (size_t i = 0; v && open && i < n; i++) {
		if (e[i].open_rc)
			continue;
		zr_diag d;
		if (cli_open_entry(&e[i], &open[got], &d))
			continue; /* gone or unreadable meanwhile: not this scrape's business */
		if (snap_take_guarded(open[got], &v[got]) == EXIT_OK)
			got++;
		else
			zr_arena_close(open[got]);
	}
	stat_prom(stdout, v, got);
	for (size_t i = 0; i < got; i++) {
		snap_free(&v[i]);
		zr_arena_close(open[i]);
	}
	free(open);
	free(v);
	free(e);
	return EXIT_OK;
}

int cmd_stat(const struct cli_opts *o)
{
	if (o->prometheus && o->argc == 0)
		return prometheus_all();
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "stat: give one arena (see zring stat --help)");
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct snap prev, cur;
	bool sampled = !o->prometheus && o->interval_s > 0;
	rc = snap_take_guarded(a, sampled ? &prev : &cur);
	if (rc == EXIT_OK && sampled) {
		cli_sleep(o->interval_s);
		rc = snap_take_guarded(a, &cur);
		if (rc)
			snap_free(&prev);
	}
	if (rc) {
		zr_arena_close(a);
		return rc;
	}
	if (o->prometheus)
		stat_prom(stdout, &cur, 1);
	else if (o->json)
		json_emit(stat_json(&cur, sampled ? &prev : NULL));
	else
		stat_text(stdout, &cur, sampled ? &prev : NULL);
	if (sampled)
		snap_free(&prev);
	snap_free(&cur);
	zr_arena_close(a);
	return EXIT_OK;
}
