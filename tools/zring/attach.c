/* Attaching to an arena read-only, and turning zring errors into the
 * tool's exit codes with a message that says what is wrong. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("zring: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

int cli_exit_for(int rc)
{
	switch (rc) {
	case 0: return EXIT_OK;
	case -ENOENT:
	case ZR_ESTALE: return EXIT_NOT_FOUND;
	case ZR_ECORRUPT:
	case ZR_EPOISONED: return EXIT_CORRUPT;
	case -EINVAL: return EXIT_USAGE;
	default: return EXIT_ERROR;
	}
}

/* What an operator can do about an open failure. */
static const char *hint(int rc)
{
	switch (rc) {
	case -ENOENT: return "`zring ls` lists the arenas of this host";
	case ZR_EFOREIGN: return "the segment was not made by zring";
	case ZR_ETRUNC: return "the segment was cut short (disk full, or truncated by hand)";
	case ZR_EVERSION:
	case ZR_ELAYOUT: return "use the zring tool of the build that created it";
	case ZR_ENOTREADY: return "its creator died while creating it; `zring gc` removes it";
	case ZR_EOWNER:
	case -EACCES: return "run as its owner, or create arenas with ZR_ARENA_GROUP";
	case ZR_EPOISONED: return "a process found a broken invariant; the reason above says where";
	default: return NULL;
	}
}

int cli_attach(const char *arena, zr_arena **out)
{
	zr_diag d = {0};
	int rc = strchr(arena, '/') ? zr_arena_open_file(arena, ZR_ARENA_READONLY, out, &d)
				    : zr_arena_open(arena, ZR_ARENA_READONLY, out, &d);
	if (rc == 0)
		return EXIT_OK;
	const char *h = hint(rc);
	cli_fail(0, "%s: %s (%s)%s%s", arena, d.msg[0] ? d.msg : zr_strerror(rc), zr_strerror(rc),
		 h ? "\n  hint: " : "", h ? h : "");
	return cli_exit_for(rc);
}

zr_arena_entry *cli_list_arenas(const char *cmd, size_t *n)
{
	size_t cap = 0, found = 0;
	int rc = zr_arena_list(NULL, 0, &cap);
	zr_arena_entry *e = rc ? NULL : calloc(cap + 1, sizeof(*e));
	if (!e) {
		cli_fail(EXIT_ERROR, "%s: cannot list arenas: %s", cmd,
			 zr_strerror(rc ? rc : -ENOMEM));
		return NULL;
	}
	if (zr_arena_list(e, cap, &found))
		found = 0;		/* /dev/shm went away meanwhile */
	*n = found < cap ? found : cap; /* one created meanwhile waits for the next look */
	return e;
}

int cli_open_entry(const zr_arena_entry *e, zr_arena **out, zr_diag *d)
{
	return e->file_backed ? zr_arena_open_file(e->path, ZR_ARENA_READONLY, out, d)
			      : zr_arena_open(e->name, ZR_ARENA_READONLY, out, d);
}
