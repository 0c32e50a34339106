/* runtime/arena.c: creating, opening and closing arenas.
 *
 * Creation writes the header (with the creator's pid) while the state word
 * is still INIT, formats every section, and only then publishes READY (R1).
 * An opener reads the header with pread into private memory, waits a little
 * for an arena still being created, validates the private copy and takes
 * every layout decision from it: a process that scribbles on the shared
 * header later cannot move our view of the sections. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena_impl.h"
#include "jnl_impl.h"
#include "prim.h"

#define SHM_DIR "/dev/shm"
#define OPEN_WAIT_NS 100000000u /* wait for an arena being created */
#define YOUNG_NS 2000000000u	/* a segment this young may still be in creation */

static int shm_path(const char *name, char *path, size_t cap, char *clean, zr_diag *diag)
{
	if (!name)
		return zri_diag_set(diag, -EINVAL, "arena name is NULL");
	if (name[0] == '/')
		name++;
	size_t n = strlen(name);
	if (n == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return zri_diag_set(diag, -EINVAL, "arena name \"%s\" must be one path component",
				    name);
	if (n > ZR_NAME_MAX)
		return zri_diag_set(diag, -ENAMETOOLONG, "arena name is %zu bytes, at most %d", n,
				    ZR_NAME_MAX);
	snprintf(path, cap, "%s/%s", SHM_DIR, name);
	snprintf(clean, ZR_NAME_MAX + 1, "%s", name);
	return 0;
}

static int preflight(const char *path, uint64_t size, zr_diag *diag)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	uint64_t avail, page;
	int rc = zri_fs_free_bytes(dir, &avail, &page);
	if (rc)
		return zri_diag_set(diag, rc, "cannot read free space of %s: %s", dir,
				    zr_strerror(rc));
	if (page > 4096 && size % page)
		return zri_diag_set(diag, -EINVAL,
				    "arena size %llu is not a multiple of %s's page size %llu "
				    "(hugetlbfs maps whole huge pages)",
				    (unsigned long long)size, dir, (unsigned long long)page);
	if (avail < size)
		return zri_diag_set(diag, ZR_ENOSPACE,
				    "arena needs %llu bytes but %s has %llu free; "
				    "enlarge it (e.g. docker --shm-size) or ask for less",
				    (unsigned long long)size, dir, (unsigned long long)avail);
	return 0;
}

/* Open arenas of this process. A forked child inherits the mappings and the
 * handles, but not the process slot, the caches or the right to act for
 * the parent: its copies become read-only, and closing one only unmaps. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t open_once = PTHREAD_ONCE_INIT;
static zr_arena *open_list;

static void fork_prepare(void)
{
	pthread_mutex_lock(&open_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&open_lock);
}

static void fork_child(void)
{
	for (zr_arena *a = open_list; a; a = a->next_open) {
		a->inherited = true;
		a->readonly = true; /* every call that acts for the parent refuses */
		a->tcaches = NULL;  /* the parent's caches: not ours to flush */
	}
	pthread_mutex_unlock(&open_lock);
}

static void open_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void registry_add(zr_arena *a)
{
	pthread_once(&open_once, open_init);
	pthread_mutex_lock(&open_lock);
	a->next_open = open_list;
	open_list = a;
	pthread_mutex_unlock(&open_lock);
}

static void registry_remove(zr_arena *a)
{
	pthread_mutex_lock(&open_lock);
	zr_arena **pp = &open_list;
	while (*pp && *pp != a)
		pp = &(*pp)->next_open;
	if (*pp)
		*pp = a->next_open;
	pthread_mutex_unlock(&open_lock);
}

static zr_arena *arena_new(void)
{
	zr_arena *a = calloc(1, sizeof(*a));
	if (a)
		a->pid = getpid();
	return a;
}

static void arena_unmap(zr_arena *a)
{
	if (a->base)
		munmap(a->base, a->size);
	free(a);
}

static int map_fd(zr_arena *a, int fd, uint64_t size, bool populate)
{
	int prot = a->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
	void *p = mmap(NULL, size, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	a->base = p;
	a->size = size;
	a->hdr = p;
	return 0;
}

/* Complete a planned header (private memory) with identity and checksum. */
static void finish_header(struct zri_header *h, uint64_t size, const char *name)
{
	h->magic = ZRI_MAGIC;
	h->layout_version = ZRI_LAYOUT_VERSION;
	h->header_bytes = ZRI_HDR_BYTES;
	h->fingerprint = zri_layout_fingerprint();
	h->arena_size = size;
	h->created_ns = zri_realtime_ns();
	h->creator_pid = (uint32_t)getpid();
	h->creator_uid = (uint32_t)geteuid();
	h->creator_start = zri_proc_start_time(h->creator_pid);
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->checksum = zri_header_checksum(h);
}

/* Size the new file and write its header (state INIT) before the slow
 * prefault, so that an opener meanwhile sees who is creating it and waits
 * (-EAGAIN) instead of finding an empty header. */
static int size_and_stamp(int fd, const char *path, const struct zri_header *h, uint64_t size,
			  mode_t mode, zr_diag *diag)
{
	if (fchmod(fd, mode) != 0 || ftruncate(fd, (off_t)size) != 0)
		return zri_diag_set(diag, -errno, "cannot size %s: %s", path, strerror(errno));
	if (pwrite(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		return zri_diag_set(diag, -EIO, "cannot write the header of %s", path);
	return 0;
}

static int create_at(const char *path, const char *name, const zr_arena_config *cfg_in,
		     bool file_backed, const struct zri_journal_seed *seed, zr_arena **out,
		     zr_diag *diag)
{
	zr_arena_config cfg;
	if (cfg_in)
		cfg = *cfg_in;
	else
		zr_arena_config_init(&cfg, (size_t)16 << 20);
	struct zri_header *plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -ENOMEM;
	int rc = zri_layout_plan(plan, &cfg, diag);
	if (rc == 0)
		rc = preflight(path, cfg.size, diag);
	if (rc == 0)
		finish_header(plan, cfg.size, name);
	zr_arena *a = rc == 0 ? arena_new() : NULL;
	if (rc == 0 && !a)
		rc = -ENOMEM;
	int fd = -1;
	if (rc == 0) {
		mode_t mode = (cfg.flags & ZR_ARENA_GROUP) ? 0660 : 0600;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			rc = zri_diag_set(diag, -errno, "cannot create %s: %s", path,
					  strerror(errno));
		else
			rc = size_and_stamp(fd, path, plan, cfg.size, mode, diag);
	}
	if (rc == 0 && !(cfg.flags & ZR_ARENA_NO_PREFAULT)) {
		int e = posix_fallocate(fd, 0, (off_t)cfg.size);
		if (e == ENOSPC)
			rc = zri_diag_set(diag, ZR_ENOSPACE,
					  "could not reserve %zu bytes in %s (filesystem full)",
					  cfg.size, path);
		else if (e && e != EOPNOTSUPP && e != EINVAL)
			rc = zri_diag_set(diag, -e, "cannot reserve %s: %s", path, strerror(e));
	}
	if (rc == 0 && (rc = map_fd(a, fd, cfg.size, !(cfg.flags & ZR_ARENA_NO_PREFAULT))) != 0)
		zri_diag_set(diag, rc, "cannot map %s: %s", path, zr_strerror(rc));
	if (fd >= 0)
		close(fd);
	if (rc == 0) {
		a->file_backed = file_backed;
		snprintf(a->path, sizeof(a->path), "%s", path);
		snprintf(a->name, sizeof(a->name), "%s", name);
		zri_arena_format(a); /* the header is in place: size_and_stamp() */
		rc = zri_journal_configure(a, cfg.journal, seed, diag);
		if (rc == 0)
			rc = zri_arena_bind(a, a->hdr, diag);
	}
	if (rc == 0) {
		zri_arena_fill_free(a);
		/* R1: pairs with the acquire read of a_state by openers; the sections
		 * are formatted */
		atomic_store_explicit(&a->hdr->a_state, ZRI_ARENA_READY, memory_order_release);
		rc = zri_proc_claim(a);
		if (rc == 0 && (rc = zri_journal_attach(a, diag)) != 0)
			zri_proc_release(a);
	}
	free(plan);
	if (rc != 0) {
		if (fd >= 0 && rc != -EEXIST)
			unlink(path);
		if (a)
			arena_unmap(a);
		return rc;
	}
	registry_add(a);
	if (file_backed)
		zri_registry_add(path); /* for zr_arena_list(); failure only hides it there */
	*out = a;
	return 0;
}

int zr_arena_create(const char *name, const zr_arena_config *cfg, zr_arena **out, zr_diag *diag)
{
	char path[PATH_MAX], clean[ZR_NAME_MAX + 1];
	int rc = shm_path(name, path, sizeof(path), clean, diag);
	return rc ? rc : create_at(path, clean, cfg, false, NULL, out, diag);
}

int zri_arena_create_seeded(const char *name, const zr_arena_config *cfg,
			    const struct zri_journal_seed *seed, zr_arena **out, zr_diag *diag)
{
	char path[PATH_MAX], clean[ZR_NAME_MAX + 1];
	int rc = shm_path(name, path, sizeof(path), clean, diag);
	return rc ? rc : create_at(path, clean, cfg, false, seed, out, diag);
}

int zr_arena_create_file(const char *path, const zr_arena_config *cfg, zr_arena **out,
			 zr_diag *diag)
{
	if (!path || !*path || strlen(path) >= PATH_MAX)
		return zri_diag_set(diag, -EINVAL, "arena path is empty or too long");
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char name[ZR_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%.*s", ZR_NAME_MAX, base);
	return create_at(path, name, cfg, true, NULL, out, diag);
}

static bool in_group(gid_t gid)
{
	if (getegid() == gid)
		return true;
	gid_t groups[256];
	int n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int zri_check_owner(const struct stat *st, const char *path, zr_diag *diag)
{
	uid_t me = geteuid();
	if (st->st_uid == me)
		return 0;
	if ((st->st_mode & 0060) && in_group(st->st_gid))
		return 0;
	return zri_diag_set(diag, ZR_EOWNER, "%s is owned by uid %u (mode %04o); you are uid %u",
			    path, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777),
			    (unsigned)me);
}

static bool is_young(const struct stat *st)
{
	uint64_t ct = (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec;
	return zri_realtime_ns() - ct < YOUNG_NS;
}

/* Read the header into *h, waiting for an arena still being created.
 * Returns 0 with *size set, or why the segment cannot be used. */
static int read_header(int fd, const char *path, struct zri_header *h, uint64_t *size,
		       zr_diag *diag)
{
	uint64_t deadline = zri_now_ns() + OPEN_WAIT_NS;
	for (;;) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			return zri_diag_set(diag, -errno, "cannot stat %s", path);
		*size = (uint64_t)st.st_size;
		memset(h, 0, sizeof(*h));
		ssize_t got = pread(fd, h, sizeof(*h), 0);
		bool waiting = zri_now_ns() < deadline;
		if (got >= (ssize_t)sizeof(h->magic) && h->magic != 0 &&
		    (h->magic != ZRI_MAGIC || got < (ssize_t)sizeof(*h)))
			break; /* foreign, or ours but cut short (a creator sizes the file
				* before writing the magic): validation says which */
		/* a_state read through pread: a private copy, no race on shared memory */
		uint32_t state = *(const uint32_t *)&h->a_state;
		if (got == (ssize_t)sizeof(*h) && h->magic && state != ZRI_ARENA_INIT)
			break;
		if (got == (ssize_t)sizeof(*h) && h->magic == ZRI_MAGIC &&
		    !zri_pid_alive(h->creator_pid, h->creator_start))
			return zri_diag_set(diag, ZR_ENOTREADY,
					    "%s: creator pid %u died before the arena was ready; "
					    "remove it (zring gc)",
					    path, h->creator_pid);
		if (!waiting || !is_young(&st)) {
			if (*size == 0)
				return zri_diag_set(
					diag, ZR_ENOTREADY,
					"%s is empty: its creator died before sizing it", path);
			if (h->magic == ZRI_MAGIC && waiting)
				; /* creator alive and working: keep waiting */
			else if (h->magic == ZRI_MAGIC)
				return zri_diag_set(diag, -EAGAIN,
						    "%s: still being created by pid %u", path,
						    h->creator_pid);
			else
				break; /* let validation name the problem */
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (*(const uint32_t *)&h->a_state == ZRI_ARENA_POISONED)
		return zri_diag_set(diag, ZR_EPOISONED, "%s was poisoned: %.*s", path,
				    (int)sizeof(h->poison_reason), h->poison_reason);
	return 0;
}

static int open_at(const char *path, const char *name, unsigned flags, bool file_backed,
		   zr_arena **out, zr_diag *diag)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return zri_diag_set(diag, -errno, "%s: %s", path,
				    errno == ENOENT ? "no such arena" : strerror(errno));
	int rc = zri_check_owner(&st, path, diag);
	if (rc)
		return rc;
	bool ro = flags & ZR_ARENA_READONLY;
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return zri_diag_set(diag, -errno, "cannot open %s: %s", path, strerror(errno));
	zr_arena *a = arena_new();
	struct zri_header *h = malloc(sizeof(*h));
	uint64_t size = 0;
	rc = (a && h) ? read_header(fd, path, h, &size, diag) : -ENOMEM;
	if (rc == 0)
		rc = zri_header_validate(h, size, diag);
	if (rc == 0) {
		a->readonly = ro;
		rc = map_fd(a, fd, h->arena_size, !ro);
	}
	close(fd);
	if (rc == 0) {
		a->file_backed = file_backed;
		snprintf(a->path, sizeof(a->path), "%s", path);
		snprintf(a->name, sizeof(a->name), "%s", name);
		/* bind from the validated private copy, not from shared memory */
		rc = zri_header_validate(a->hdr, a->size, NULL) == 0 &&
				     !memcmp(a->hdr, h, offsetof(struct zri_header, checksum) + 8)
			     ? zri_arena_bind(a, h, diag)
			     : zri_diag_set(diag, ZR_ECORRUPT, "%s: header changed while opening",
					    path);
	}
	if (rc == 0 && !ro && (rc = zri_proc_claim(a)) != 0)
		zri_diag_set(diag, rc, "%s: all %u process slots are held by live processes", path,
			     a->max_procs);
	else if (rc == 0 && !ro && (rc = zri_journal_attach(a, diag)) != 0)
		zri_proc_release(a);
	free(h);
	if (rc != 0) {
		if (a)
			arena_unmap(a);
		return rc;
	}
	registry_add(a);
	*out = a;
	return 0;
}

int zr_arena_open(const char *name, unsigned flags, zr_arena **out, zr_diag *diag)
{
	char path[PATH_MAX], clean[ZR_NAME_MAX + 1];
	int rc = shm_path(name, path, sizeof(path), clean, diag);
	return rc ? rc : open_at(path, clean, flags, false, out, diag);
}

int zr_arena_open_file(const char *path, unsigned flags, zr_arena **out, zr_diag *diag)
{
	if (!path || !*path || strlen(path) >= PATH_MAX)
		return zri_diag_set(diag, -EINVAL, "arena path is empty or too long");
	const char *base = strrchr(path, '/');
	return open_at(path, base ? base + 1 : path, flags, true, out, diag);
}

int zr_arena_close(zr_arena *a)
{
	if (!a)
		return 0;
	registry_remove(a);
	zri_journal_detach(a);
	zri_jobs_detach(a);
	if (!a->readonly && !a->inherited) {
		zri_tcache_detach_arena(a);
		zri_proc_release(a);
	}
	int rc = munmap(a->base, a->size) == 0 ? 0 : -errno;
	free(a);
	return rc;
}

int zr_arena_unlink(const char *name)
{
	char path[PATH_MAX], clean[ZR_NAME_MAX + 1];
	int rc = shm_path(name, path, sizeof(path), clean, NULL);
	if (rc)
		return rc;
	return unlink(path) == 0 ? 0 : -errno;
}

void zr_arena_info_get(const zr_arena *a, zr_arena_info *out)
{
	const struct zri_header *h = a->hdr;
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", a->name);
	out->size = a->size;
	out->max_payload = a->max_payload;
	out->max_procs = a->max_procs;
	out->max_rings = a->max_rings;
	out->creator_pid = h->creator_pid;
	out->uid = h->creator_uid;
	out->created_ns = h->created_ns;
	out->self = a->self;
	out->readonly = a->readonly;
	out->file_backed = a->file_backed;
	zri_proc_count(a, &out->procs_attached, &out->procs_dead);
}

void *zr_arena_base(const zr_arena *a)
{
	return a->base;
}

int zr_arena_recover(zr_arena *a, zr_recover_report *rep)
{
	if (a->readonly)
		return ZR_EREADONLY;
	zr_recover_report r = {0};
	struct zri_alive_memo memo;
	bool began = zri_alive_memo_begin(a, &memo);
	r.procs_dead = zri_proc_reap(a);
	zri_ringdir_repair(a, &r.ring_drops, &r.ring_redelivers);
	zri_slab_recover(a, &r.blocks_freed, &r.blocks_orphaned);
	zri_large_recover(a, &r.blocks_orphaned);
	zri_alive_memo_end(began);
	if (rep) {
		rep->procs_dead += r.procs_dead;
		rep->ring_drops += r.ring_drops;
		rep->ring_redelivers += r.ring_redelivers;
		rep->blocks_freed += r.blocks_freed;
		rep->blocks_orphaned += r.blocks_orphaned;
	}
	return 0;
}

int zri_arena_poison(const zr_arena *a, const char *what, unsigned long long where)
{
	if (a->readonly)
		return ZR_ECORRUPT;
	uint32_t ready = ZRI_ARENA_READY;
	/* acq_rel: the first poisoner alone writes the reason; relaxed on
	 * failure: poisoned already */
	if (atomic_compare_exchange_strong_explicit(&a->hdr->a_state, &ready, ZRI_ARENA_POISONED,
						    memory_order_acq_rel, memory_order_relaxed))
		snprintf(a->hdr->poison_reason, sizeof(a->hdr->poison_reason), "%s (%#llx), pid %d",
			 what, where, (int)getpid());
	return ZR_ECORRUPT;
}
