/* `zring gc`: remove stale arenas, those whose attached processes are all
 * dead (or whose creator died before finishing). It lists them and asks
 * first; --yes removes without asking, --dry-run only lists. Each arena is
 * checked for staleness again just before it is removed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

static bool confirm(size_t n)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return false;
	fprintf(tty, "remove %zu stale arena%s? [y/N] ", n, n == 1 ? "" : "s");
	fflush(tty);
	char line[16] = {0};
	bool yes = fgets(line, sizeof(line), tty) && (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}

int cmd_gc(const struct cli_opts *o)
{
	if (o->argc)
		return cli_fail(EXIT_USAGE, "gc: takes no arguments (see zring gc --help)");
	size_t n = 0, stale = 0;
	zr_arena_entry *e = cli_list_arenas("gc", &n);
	if (!e)
		return EXIT_ERROR;
	for (size_t i = 0; i < n; i++)
		if (e[i].stale)
			e[stale++] = e[i];
	if (!o->json)
		for (size_t i = 0; i < stale; i++)
			printf("stale: %s (%u dead processes, creator pid %u)\n",
			       e[i].file_backed ? e[i].path : e[i].name, e[i].procs_dead,
			       e[i].creator_pid);
	bool go = stale && !o->dry_run;
	if (go && !o->yes) {
		if (o->json || !isatty(STDIN_FILENO)) {
			free(e);
			return cli_fail(EXIT_USAGE,
					"gc: %zu stale arenas; not asking without a "
					"terminal: pass --yes to remove them or --dry-run",
					stale);
		}
		go = confirm(stale);
	}
	json_t *removed = json_array(), *kept = json_array();
	size_t gone = 0;
	for (size_t i = 0; i < stale; i++) {
		const char *what = e[i].file_backed ? e[i].path : e[i].name;
		int r = go ? zr_arena_remove_stale(&e[i]) : -ECANCELED;
		if (r == 0) {
			gone++;
			json_array_append_new(removed, json_text(what));
			if (!o->json)
				printf("removed %s\n", what);
			continue;
		}
		json_t *k = json_object();
		json_object_set_new(k, "name", json_text(what));
		json_object_set_new(k, "why",
				    json_string(r == -ECANCELED ? "not asked to remove"
						: r == -EBUSY	? "alive again"
								: zr_strerror(r)));
		json_array_append_new(kept, k);
		if (!o->json && r != -ECANCELED)
			printf("kept %s: %s\n", what,
			       r == -EBUSY ? "a process attached meanwhile" : zr_strerror(r));
	}
	if (o->json) {
		json_t *d = json_doc("gc");
		json_object_set_new(d, "stale", json_u64(stale));
		json_object_set_new(d, "removed", removed);
		json_object_set_new(d, "kept", kept);
		json_emit(d);
	} else {
		json_decref(removed);
		json_decref(kept);
		if (stale == 0)
			printf("no stale arenas\n");
		else if (!go)
			printf("nothing removed\n");
	}
	free(e);
	return EXIT_OK;
}
