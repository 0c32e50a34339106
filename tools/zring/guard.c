/* The fault guard: reads of a live arena can fault when its file is cut
 * short under us (SIGBUS) or when a corrupt structure sends a reader
 * outside the mapping the library checked (SIGSEGV). The tool must then
 * say where, not die. The library is never inside a lock or malloc when it
 * reads the arena for us, so jumping out of it is safe for a process that
 * exits soon after. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

static sigjmp_buf g_jump;
static volatile sig_atomic_t g_armed;
static const char *volatile g_base;
static volatile size_t g_size;
static volatile uintptr_t g_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uintptr_t addr = (uintptr_t)si->si_addr;
	if (g_armed && addr >= (uintptr_t)g_base && addr - (uintptr_t)g_base < g_size) {
		g_addr = addr;
		g_armed = 0;
		siglongjmp(g_jump, 1);
	}
	/* not the arena: a bug in the tool; die of the signal as usual */
	signal(sig, SIG_DFL);
	raise(sig);
}

int cli_guarded(const zr_arena *a, int (*fn)(void *ctx), void *ctx, uint64_t *fault_off)
{
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	struct sigaction sa, old_bus, old_segv;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	g_base = zr_arena_base(a);
	g_size = info.size;
	int rc;
	if (sigsetjmp(g_jump, 1) == 0) {
		g_armed = 1;
		rc = fn(ctx);
		g_armed = 0;
	} else {
		*fault_off = (uint64_t)(g_addr - (uintptr_t)g_base);
		rc = -EFAULT;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return rc;
}

int cli_fault_exit(const zr_arena *a, uint64_t off)
{
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	return cli_fail(EXIT_CORRUPT,
			"%s: reading the arena faulted at offset %#llx of %#llx bytes: the "
			"segment was cut short under us, or a structure in it is corrupt "
			"(`zring check` says which)",
			info.name, (unsigned long long)off, (unsigned long long)info.size);
}
