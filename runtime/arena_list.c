/* Finding arenas in /dev/shm and removing stale ones. Headers and process
 * tables are read with pread into private memory: listing never maps, locks
 * or writes a live arena. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena_impl.h"
#include "prim.h"

#define SHM_DIR "/dev/shm"

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

/* Fill *e for the segment `name`; false if it is not a zring arena at all. */
static bool inspect(const char *name, zr_arena_entry *e)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", SHM_DIR, name);
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
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
	return zring;
}

int zr_arena_list(zr_arena_entry *out, size_t cap, size_t *n)
{
	DIR *d = opendir(SHM_DIR);
	if (!d)
		return -errno;
	*n = 0;
	struct dirent *de;
	zr_arena_entry e;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > ZR_NAME_MAX)
			continue;
		if (!inspect(de->d_name, &e))
			continue;
		if (*n < cap)
			out[*n] = e;
		(*n)++;
	}
	closedir(d);
	return 0;
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
		if (!list[i].stale || list[i].uid != geteuid())
			continue;
		if (zr_arena_unlink(list[i].name) == 0)
			gone++;
	}
	free(list);
	if (removed)
		*removed = gone;
	return rc;
}
