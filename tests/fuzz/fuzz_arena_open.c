/* tests/fuzz/fuzz_arena_open.c (label fuzz): opening an arena whose header
 * and section table were written by someone else.
 *
 * The image is a real 1 MiB arena (created once per process, then read back
 * as a template) with the input overlaid on its header:
 *   byte 0     options (OPT_* below)
 *   byte 1     where the overlay starts, in 16-byte units (0 .. 4080)
 *   bytes 2-3  new file length in 64-byte units, little-endian (OPT_TRUNCATE)
 *   bytes 4..  overlay bytes: replace (or XOR, OPT_XOR) the header from there
 * The image is written to /dev/shm/zring-fuzz-<pid>-img and opened with
 * zr_arena_open_file() read-only and read-write; an arena that opens is
 * checked, described, recovered and allocated from, then closed. Images the
 * opener would wait 100 ms for (no header yet, or a live creator still in
 * INIT) are only validated in memory, so a run never sleeps.
 * Any crash, sanitizer report, hang or violated contract (abort()) is a bug. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/arena_impl.h"
#include "runtime/prim.h"

#ifdef ZR_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define OPT_FIX_CHECKSUM 0x01u /* recompute the checksum after the overlay */
#define OPT_TRUNCATE 0x02u     /* file length from bytes 2-3 instead of the arena's */
#define OPT_KEEP_ID 0x04u      /* restore magic, version, header size, fingerprint */
#define OPT_STATE 0x08u	       /* a_state := INIT, READY, POISONED or 0x7f by bits 4-5 */
#define OPT_POISON_TEXT 0x40u  /* poison_reason without a terminating NUL */
#define OPT_XOR 0x80u	       /* XOR the overlay into the header instead of replacing */
#define PREFIX 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *tmpl; /* the template arena, whole */
static size_t tmpl_len;
static char tmpl_path[64], img_path[64];
static pid_t owner;	      /* the process whose files these are */
static struct zri_header hdr; /* the image's header */

/* Outcomes, printed at exit when ZR_FUZZ_STATS is set: are the checks reached? */
static struct {
	unsigned long inputs, validated, opened[2], rc[32];
} stats;

static unsigned rc_slot(int rc)
{
	if (rc == 0)
		return 0;
	return rc <= -5000 && rc > -5031 ? (unsigned)(-rc - 5000) : 31; /* 31: -errno */
}

static void cleanup(void)
{
	if (getpid() != owner)
		return;
	unlink(tmpl_path);
	unlink(img_path);
	if (!getenv("ZR_FUZZ_STATS"))
		return;
	fprintf(stderr, "fuzz_arena_open: %lu inputs, %lu valid headers, opened %lu ro %lu rw\n",
		stats.inputs, stats.validated, stats.opened[0], stats.opened[1]);
	for (int i = 1; i < 32; i++)
		if (stats.rc[i])
			fprintf(stderr, "  open -> %s: %lu\n",
				i == 31 ? "-errno" : zr_strerror(-5000 - i), stats.rc[i]);
}

static void die(const char *what, int rc, const zr_diag *d)
{
	fprintf(stderr, "fuzz_arena_open: %s: rc %d (%s) %s\n", what, rc, zr_strerror(rc),
		d ? d->msg : "");
	cleanup();
	abort();
}

/* The template: a fresh arena with one small and one large payload still
 * allocated by a process that has since detached (work for recovery). */
static void make_template(const char *name)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, ZR_ARENA_MIN_SIZE);
	cfg.flags = ZR_ARENA_NO_PREFAULT;
	cfg.max_procs = 8;
	cfg.max_rings = 8;
	zr_arena *a = NULL;
	zr_diag d = {0};
	int rc = zr_arena_create(name, &cfg, &a, &d);
	if (rc)
		die("create the template", rc, &d);
	zr_payload p;
	if ((rc = zr_payload_alloc(a, 100, &p)) != 0 || (rc = zr_payload_alloc(a, 70000, &p)) != 0)
		die("allocate in the template", rc, NULL);
	if ((rc = zr_arena_close(a)) != 0)
		die("close the template", rc, NULL);
}

static void load_template(void)
{
	owner = getpid();
	snprintf(tmpl_path, sizeof(tmpl_path), "/dev/shm/zring-fuzz-%d", (int)owner);
	snprintf(img_path, sizeof(img_path), "/dev/shm/zring-fuzz-%d-img", (int)owner);
	atexit(cleanup);
#ifdef ZR_SANITIZED
	__sanitizer_set_death_callback(cleanup); /* remove the files after a report too */
#endif
	make_template(tmpl_path + strlen("/dev/shm/"));
	int fd = open(tmpl_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		die("open the template", -errno, NULL);
	tmpl_len = (size_t)st.st_size;
	tmpl = malloc(tmpl_len);
	if (!tmpl || pread(fd, tmpl, tmpl_len, 0) != (ssize_t)tmpl_len)
		die("read the template", -errno, NULL);
	close(fd);
	unlink(tmpl_path);
}

/* Build the image's header from the input; returns the file length. */
static uint64_t build_header(const uint8_t *data, size_t size)
{
	const struct zri_header *t = (const void *)tmpl;
	uint8_t opts = size > 0 ? data[0] : 0;
	size_t where = size > 1 ? (size_t)data[1] * 16 : 0;
	uint64_t len = (size > 2 ? data[2] : 0) | (size > 3 ? (uint64_t)data[3] << 8 : 0);
	memcpy(&hdr, tmpl, sizeof(hdr));
	uint8_t *raw = (uint8_t *)&hdr;
	size_t n = size > PREFIX ? size - PREFIX : 0;
	if (n > sizeof(hdr) - where)
		n = sizeof(hdr) - where;
	for (size_t i = 0; i < n; i++)
		raw[where + i] = (opts & OPT_XOR) ? (uint8_t)(raw[where + i] ^ data[PREFIX + i])
						  : data[PREFIX + i];
	if (opts & OPT_KEEP_ID) {
		hdr.magic = t->magic;
		hdr.layout_version = t->layout_version;
		hdr.header_bytes = t->header_bytes;
		hdr.fingerprint = t->fingerprint;
	}
	if (opts & OPT_STATE) {
		static const uint32_t states[4] = {ZRI_ARENA_INIT, ZRI_ARENA_READY,
						   ZRI_ARENA_POISONED, 0x7f};
		atomic_store_explicit(&hdr.a_state, states[(opts >> 4) & 3], memory_order_relaxed);
	}
	if (opts & OPT_POISON_TEXT)
		memset(hdr.poison_reason, 'P', sizeof(hdr.poison_reason));
	if (opts & OPT_FIX_CHECKSUM)
		hdr.checksum = zri_header_checksum(&hdr);
	return (opts & OPT_TRUNCATE) ? len * 64 : tmpl_len;
}

/* Write header + template body, cut or extended to `len` bytes. */
static void write_image(uint64_t len)
{
	int fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create the image", -errno, NULL);
	size_t body = len < tmpl_len ? (size_t)len : tmpl_len;
	size_t head = body < sizeof(hdr) ? body : sizeof(hdr);
	bool ok = pwrite(fd, &hdr, head, 0) == (ssize_t)head &&
		  pwrite(fd, tmpl + head, body - head, (off_t)head) == (ssize_t)(body - head) &&
		  (len <= body || ftruncate(fd, (off_t)len) == 0);
	close(fd);
	if (!ok)
		die("write the image", -errno, NULL);
}

/* Mirrors read_header() in runtime/arena.c: would open return at once? */
static bool opens_at_once(uint64_t len)
{
	if (len < ZRI_HDR_BYTES || hdr.magic == 0)
		return false;
	if (atomic_load_explicit(&hdr.a_state, memory_order_relaxed) != ZRI_ARENA_INIT)
		return true;
	return hdr.magic == ZRI_MAGIC && !zri_pid_alive(hdr.creator_pid, hdr.creator_start);
}

static bool documented_open_rc(int rc)
{
	switch (rc) {
	case ZR_EFOREIGN:
	case ZR_ETRUNC:
	case ZR_EVERSION:
	case ZR_ELAYOUT:
	case ZR_ECORRUPT:
	case ZR_ENOTREADY:
	case ZR_EOWNER:
	case ZR_EPOISONED:
	case ZR_EPROCFULL: return true;
	default: return rc <= 0 && rc > -4096; /* 0 or -errno */
	}
}

/* Allocate, write, resolve and free one payload of `want` bytes. */
static void use_payload(zr_arena *a, size_t want, const zr_arena_info *in)
{
	zr_payload p = ZR_PAYLOAD_NULL;
	int rc = zr_payload_alloc(a, want, &p);
	if (rc == -ENOMEM || rc == ZR_ETOOBIG || rc == ZR_ECORRUPT)
		return;
	if (rc != 0)
		die("payload alloc", rc, NULL);
	void *ptr = NULL;
	size_t usable = 0;
	if ((rc = zr_payload_resolve(a, p, &ptr, &usable)) != 0 || usable < want)
		die("resolve a fresh payload", rc, NULL);
	uintptr_t off = (uintptr_t)ptr - (uintptr_t)zr_arena_base(a);
	if ((uintptr_t)ptr < (uintptr_t)zr_arena_base(a) || off < ZRI_HDR_BYTES || off > in->size ||
	    usable > in->size - off)
		die("payload lies outside the arena", 0, NULL);
	memset(ptr, 0xab, want);
	if ((rc = zr_payload_free(a, p)) != 0)
		die("free a fresh payload", rc, NULL);
	rc = zr_payload_free(a, p);
	if (rc != ZR_EDOUBLEFREE && rc != ZR_ESTALE)
		die("second free", rc, NULL);
}

/* Everything a tool does with an arena it opened. */
static void exercise(zr_arena *a, bool ro, size_t want)
{
	zr_diag d = {0};
	int rc = zr_arena_check(a, &d);
	if (rc != 0 && rc != ZR_ECORRUPT)
		die("check", rc, &d);
	zr_arena_info in;
	zr_arena_info_get(a, &in);
	if (in.readonly != ro || !in.file_backed || in.size != hdr.arena_size)
		die("info does not describe the handle", 0, NULL);
	zr_slab_class_stats st[ZR_SLAB_MAX_CLASSES + 1];
	size_t n = 0;
	zr_slab_stat(a, st, ZR_SLAB_MAX_CLASSES + 1, &n);
	if (n != ZRI_SMALL_CLASSES + 1)
		die("slab stat count", (int)n, NULL);
	zr_recover_report rep = {0};
	rc = zr_arena_recover(a, &rep);
	if (ro ? rc != ZR_EREADONLY : rc != 0 && rc != ZR_ECORRUPT)
		die("recover", rc, NULL);
	if (ro) {
		zr_payload p = ZR_PAYLOAD_NULL;
		if ((rc = zr_payload_alloc(a, want, &p)) != ZR_EREADONLY)
			die("alloc on a read-only attachment", rc, NULL);
		return;
	}
	use_payload(a, want, &in);
	if ((rc = zr_arena_check(a, &d)) != 0 && rc != ZR_ECORRUPT)
		die("check after use", rc, &d);
}

static void try_open(unsigned flags, int valid_rc, size_t want)
{
	zr_arena *a = NULL;
	zr_diag d = {.code = 1};
	int rc = zr_arena_open_file(img_path, flags, &a, &d);
	stats.rc[rc_slot(rc)]++;
	stats.opened[!(flags & ZR_ARENA_READONLY)] += rc == 0;
	if (!documented_open_rc(rc))
		die("undocumented open code", rc, &d);
	if (rc != 0) {
		if (a)
			die("open failed but set *out", rc, &d);
		if (d.code != 1 && d.code != rc)
			die("diag code differs from the return code", rc, &d);
		return;
	}
	if (valid_rc != 0)
		die("open accepted a header zri_header_validate() refuses", valid_rc, NULL);
	exercise(a, flags & ZR_ARENA_READONLY, want);
	if ((rc = zr_arena_close(a)) != 0)
		die("close", rc, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tmpl)
		load_template();
	uint64_t len = build_header(data, size);
	write_image(len);
	zr_diag d;
	int valid_rc = zri_header_validate(&hdr, len, &d);
	stats.inputs++;
	stats.validated += valid_rc == 0;
	if (valid_rc != 0 && (valid_rc != d.code || !d.msg[0]))
		die("validator's diag", valid_rc, &d);
	if (!opens_at_once(len))
		return 0;
	size_t want = 1 + (size > 0 ? (size_t)data[0] * 16 : 0);
	try_open(ZR_ARENA_READONLY, valid_rc, want);
	try_open(0, valid_rc, want);
	return 0;
}
