/* Attaching to an arena read-only, and turning zring errors into the
 * tool's exit codes with a message that says what is wrong. */
#include <errno.h>
#include <stdarg.h>
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
