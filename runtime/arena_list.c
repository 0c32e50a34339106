/* Finding arenas in /dev/shm and through the registry of file-backed ones,
 * and removing stale ones. Headers and process tables are read with pread
 * into private memory: listing never maps, locks or writes a live arena.
 *
 * The registry: zr_arena_create_file() leaves a symlink
 * /dev/shm/.zring-files/<uid>-<XXH3 of the absolute path, 16 hex digits>
 * to the file (the directory is made mode 01777, like /tmp: anyone adds,
 * only the owner removes). It only serves listing, so it is best effort; a
 * link whose file is gone or is no longer a zring arena is not listed, and
 * zr_arena_gc() removes the caller's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "arena_impl.h"
#include "prim.h"

#define SHM_DIR "/dev/shm"
#define REG_DIR SHM_DIR "/.zring-files"

/* ---- the registry ---------------------------------------------------------- */

/* Absolute, resolved form of `path`; for a file that is gone, `path` itself
 * if it is absolute. */
static bool absolute(const char *path, char out[PATH_MAX])
{
	if (realpath(path, out))
		return true;
	if (path[0] != '/' || strlen(path) >= PATH_MAX)
		return false;
	snprintf(out, PATH_MAX, "%s", path);
	return true;
}

int zri_registry_path(const char *path, char *out, size_t cap)
{
	char abs[PATH_MAX];
	if (!path || !absolute(path, abs))
		return -EINVAL;
	int n = snprintf(out, cap, "%s/%u-%016llx", REG_DIR, (unsigned)geteuid(),
			 (unsigned long long)XXH3_64bits(abs, strlen(abs)));
	return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

void zri_registry_add(const char *path)
{
	char abs[PATH_MAX], link[PATH_MAX];
	if (!realpath(path, abs) || zri_registry_path(abs, link, sizeof(link)) != 0)
		return;
	if (mkdir(REG_DIR, 01777) == 0)
		(void)chmod(REG_DIR, 01777); /* mkdir's mode went through the umask */
	if (symlink(abs, link) != 0 && errno == EEXIST) {
		/* an earlier arena at the same path: point at this one */
		(void)unlink(link);
		(void)symlink(abs, link);
	}
}

void zri_registry_forget(const char *path)
{
	char link[PATH_MAX];
	if (zri_registry_path(path, link, sizeof(link)) == 0)
		(void)unlink(link);
}

/* ---- inspecting one arena ------------------------------------------------------ */

/* Count alive and dead slots from a private copy of the process table. */
static void count_procs(int fd, const struct zri_header *h, zr_arena_entry *e)
{
	const struct zri_section *s = zri_header_section(h, ZRI_SEC_PROCS);
	struct zri_proc p;
	for (uint32_t i = 0; i < h->max_procs; i++) {
		if (pread(fd, &p, sizeof(p), (off_t)(s->offset + i * sizeof(p))) != sizeof(p))
			return;
		/* private copies: plain reads */
		uint64_t w = *(uint64_t *)&p.a_word;
		if (ZRI_PROC_STATE(w) != ZRI_PROC_ACTIVE)
			continue;
		if (zri_pid_alive(ZRI_PROC_PID(w), zri_proc_start_of(w, *(uint64_t *)&p.a_start)))
			e->procs_alive++;
		else
			e->procs_dead++;
	}
}

/* Fill *e for the file at `path` (never following a last symlink); false
 * if it cannot be read or is not a zring arena at all (errno says which:
 * ENOENT when it is gone). */
static bool inspect(const char *path, const char *name, bool file_backed, zr_arena_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->file_backed = file_backed;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0) {
			close(fd);
			errno = EINVAL;
		}
		return false;
	}
	e->size = (size_t)st.st_size;
	e->uid = st.st_uid;
	struct zri_header *h = calloc(1, sizeof(*h));
	bool zring = false;
	if (h && pread(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h) && h->magic == ZRI_MAGIC) {
		zring = true;
		e->creator_pid = h->creator_pid;
		e->open_rc = zri_header_validate(h, (uint64_t)st.st_size, NULL);
		uint32_t state = *(uint32_t *)&h->a_state;
		if (e->open_rc == 0 && state == ZRI_ARENA_READY) {
			count_procs(fd, h, e);
			e->stale = e->procs_alive == 0 && e->procs_dead > 0;
		} else if (state == ZRI_ARENA_INIT) {
			e->open_rc = ZR_ENOTREADY;
			e->stale = !zri_pid_alive(h->creator_pid, h->creator_start);
		}
	}
	free(h);
	close(fd);
	errno = EINVAL;
	return zring;
}

static bool inspect_shm(const char *name, zr_arena_entry *e)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	return inspect(path, name, false, e);
}

/* The file a registry link names, and the arena there; false if the link
 * cannot be read or its file is not a zring arena. Files in /dev/shm are
 * listed by the scan of /dev/shm already. */
static bool inspect_link(const char *link_name, zr_arena_entry *e, bool *dangling)
{
	char link[PATH_MAX], target[PATH_MAX];
	*dangling = false;
	snprintf(link, sizeof(link), "%s/%s", REG_DIR, link_name);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	if (target[0] != '/' || !base[1] ||
	    (base - target == (ptrdiff_t)strlen(SHM_DIR) &&
	     !strncmp(target, SHM_DIR, strlen(SHM_DIR))))
		return false;
	char name[ZR_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%.*s", ZR_NAME_MAX, base + 1); /* as create_file names it */
	if (inspect(target, name, true, e))
		return true;
	*dangling = errno == ENOENT || errno == ENOTDIR || errno == EINVAL; /* gone, or not zring */
	return false;
}

/* ---- listing -------------------------------------------------------------------- */

static void add(zr_arena_entry *out, size_t cap, size_t *n, const zr_arena_entry *e)
{
	if (*n < cap)
		out[*n] = *e;
	(*n)++;
}

static void list_registry(zr_arena_entry *out, size_t cap, size_t *n, zr_arena_entry *e)
{
	DIR *d = opendir(REG_DIR);
	if (!d)
		return; /* no file-backed arena was ever made here */
	struct dirent *de;
	bool dangling;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && inspect_link(de->d_name, e, &dangling))
			add(out, cap, n, e);
	closedir(d);
}

int zr_arena_list(zr_arena_entry *out, size_t cap, size_t *n)
{
	DIR *d = opendir(SHM_DIR);
	if (!d)
		return -errno;
	*n = 0;
	struct dirent *de;
	zr_arena_entry *e = malloc(sizeof(*e));
	if (!e) {
		closedir(d);
		return -ENOMEM;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > ZR_NAME_MAX)
			continue;
		if (inspect_shm(de->d_name, e))
			add(out, cap, n, e);
	}
	closedir(d);
	list_registry(out, cap, n, e);
	free(e);
	return 0;
}

/* ---- removing -------------------------------------------------------------------- */

int zr_arena_remove_stale(const zr_arena_entry *e)
{
	if (!e || !e->name[0] || strchr(e->name, '/') || e->name[0] == '.' ||
	    (e->file_backed && (e->path[0] != '/' || !memchr(e->path, '\0', sizeof(e->path)))))
		return -EINVAL;
	char path[PATH_MAX];
	if (e->file_backed)
		snprintf(path, sizeof(path), "%s", e->path);
	else
		snprintf(path, sizeof(path), "%s/%.*s", SHM_DIR, ZR_NAME_MAX, e->name);
	zr_arena_entry *now = malloc(sizeof(*now));
	if (!now)
		return -ENOMEM;
	int rc = 0;
	if (!inspect(path, e->name, e->file_backed, now))
		rc = errno == ENOENT ? -ENOENT : -EINVAL;
	else if (now->uid != (uint32_t)geteuid())
		rc = -EPERM;
	else if (!now->stale)
		rc = -EBUSY; /* came back to life, or never was stale */
	else if (unlink(path) != 0)
		rc = -errno;
	free(now);
	if (e->file_backed && (rc == 0 || rc == -ENOENT))
		zri_registry_forget(path);
	return rc;
}

/* Remove the caller's registry links whose file is gone or no longer a
 * zring arena. */
static void prune_registry(void)
{
	DIR *d = opendir(REG_DIR);
	zr_arena_entry *e = malloc(sizeof(*e));
	if (!d || !e) {
		if (d)
			closedir(d);
		free(e);
		return;
	}
	char mine[16], link[PATH_MAX];
	int len = snprintf(mine, sizeof(mine), "%u-", (unsigned)geteuid());
	struct dirent *de;
	bool dangling;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, mine, (size_t)len) != 0 ||
		    inspect_link(de->d_name, e, &dangling))
			continue;
		snprintf(link, sizeof(link), "%s/%s", REG_DIR, de->d_name);
		struct stat st;
		if (dangling && lstat(link, &st) == 0 && st.st_uid == geteuid())
			(void)unlink(link);
	}
	closedir(d);
	free(e);
}

int zr_arena_gc(size_t *removed)
{
	size_t n = 0, cap = 0;
	int rc = zr_arena_list(NULL, 0, &cap);
	if (rc)
		return rc;
	zr_arena_entry *list = calloc(cap ? cap : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	rc = zr_arena_list(list, cap, &n);
	size_t gone = 0;
	for (size_t i = 0; rc == 0 && i < n && i < cap; i++) {
		/* file-backed arenas are left to zr_arena_remove_stale() */
		if (list[i].file_backed || !list[i].stale || list[i].uid != geteuid())
			continue;
		if (zr_arena_unlink(list[i].name) == 0)
			gone++;
	}
	free(list);
	prune_registry();
	if (removed)
		*removed = gone;
	return rc;
}
