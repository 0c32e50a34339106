/* tests/fuzz/fuzz_blob_open.c (label fuzz): opening a blob whose header
 * and length were written by someone else.
 *
 * The image is a real blob of 8 KiB (created once per process, then read
 * back as a template) with the input overlaid on its header:
 *   byte 0     options (OPT_* below)
 *   byte 1     where the overlay starts, in 16-byte units (0 .. 4080)
 *   bytes 2-3  new file length in 64-byte units, little-endian (OPT_TRUNCATE)
 *   bytes 4..  overlay bytes: replace (or XOR, OPT_XOR) the header from there
 * zri_blob_validate() checks the header bytes against the length; the image
 * is then written to /dev/shm/zring-fuzz-<pid>-blob and opened with
 * zr_blob_open_path() read-only and read-write. A blob that opens is
 * streamed, read, refreshed, resized (read-write) and synced, then closed.
 * Any crash, sanitizer report, hang or violated contract (abort()) is a bug. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/arena_impl.h"
#include "runtime/blob_impl.h"

#ifdef ZR_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define OPT_FIX_CHECKSUM 0x01u /* recompute the checksum after the overlay */
#define OPT_TRUNCATE 0x02u     /* file length from bytes 2-3 instead of the template's */
#define OPT_KEEP_ID 0x04u      /* restore magic and version */
#define OPT_XOR 0x80u	       /* XOR the overlay into the header instead of replacing */
#define PREFIX 4u
#define TEMPLATE_DATA 8192u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *tmpl; /* the template blob file, whole */
static size_t tmpl_len;
static char img_path[64];
static pid_t owner; /* the process whose files these are */
static struct zri_blob_header hdr;

/* Outcomes, printed at exit when ZR_FUZZ_STATS is set: are the checks reached? */
static struct {
	unsigned long inputs, opened, rc[32];
} stats;

static void cleanup(void)
{
	if (getpid() != owner)
		return;
	unlink(img_path);
	if (!getenv("ZR_FUZZ_STATS"))
		return;
	fprintf(stderr, "fuzz_blob_open: %lu inputs, opened %lu times\n", stats.inputs,
		stats.opened);
	for (int i = 1; i < 32; i++)
		if (stats.rc[i])
			fprintf(stderr, "  open -> %s: %lu\n", zr_strerror(-5000 - i), stats.rc[i]);
}

static void die(const char *what, int rc, const zr_diag *d)
{
	fprintf(stderr, "fuzz_blob_open: %s: rc %d (%s) %s\n", what, rc, zr_strerror(rc),
		d ? d->msg : "");
	cleanup();
	abort();
}

static void load_template(void)
{
	owner = getpid();
	snprintf(img_path, sizeof(img_path), "/dev/shm/zring-fuzz-%d-blob", (int)owner);
	atexit(cleanup);
#ifdef ZR_SANITIZED
	__sanitizer_set_death_callback(cleanup); /* remove the file after a report too */
#endif
	char name[64];
	snprintf(name, sizeof(name), "zring-fuzz-%d", (int)owner);
	zr_blob *b = NULL;
	zr_diag d = {0};
	int rc = zr_blob_create(NULL, name, TEMPLATE_DATA, 0, &b, &d);
	if (rc)
		die("create the template", rc, &d);
	for (size_t i = 0; i < TEMPLATE_DATA; i++)
		((uint8_t *)zr_blob_data(b))[i] = (uint8_t)(i * 7);
	tmpl_len = ZRI_BLOB_HDR_BYTES + TEMPLATE_DATA;
	tmpl = malloc(tmpl_len);
	int fd = open(zr_blob_path(b), O_RDONLY | O_CLOEXEC);
	if (!tmpl || fd < 0 || pread(fd, tmpl, tmpl_len, 0) != (ssize_t)tmpl_len)
		die("read the template", -errno, NULL);
	close(fd);
	if ((rc = zr_blob_unlink(NULL, name)) != 0 || (rc = zr_blob_close(b)) != 0)
		die("remove the template", rc, NULL);
}

/* Build the image's header from the input; returns the file length. */
static uint64_t build_header(const uint8_t *data, size_t size)
{
	const struct zri_blob_header *t = (const void *)tmpl;
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
		hdr.version = t->version;
	}
	if (opts & OPT_FIX_CHECKSUM)
		hdr.checksum = zri_blob_checksum(&hdr);
	return (opts & OPT_TRUNCATE) ? len * 64 : tmpl_len;
}

/* Write header + template data, cut or extended to `len` bytes. */
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

static bool documented_open_rc(int rc)
{
	switch (rc) {
	case ZR_EFOREIGN:
	case ZR_ENOTREADY:
	case ZR_EVERSION:
	case ZR_ECORRUPT:
	case ZR_ETRUNC: return true;
	default: return rc == 0;
	}
}

static int sum_chunk(void *ctx, const void *data, size_t len, uint64_t offset)
{
	uint64_t *sum = ctx;
	for (size_t i = 0; i < len; i++)
		*sum += ((const uint8_t *)data)[i] ^ (uint8_t)(offset + i);
	return 0;
}

/* Everything a consumer does with a blob it opened. */
static void exercise(zr_blob *b, bool ro)
{
	size_t size = zr_blob_size(b);
	if (size != hdr.data_size)
		die("size is not the header's", (int)size, NULL);
	uint64_t sum = 0;
	int rc = zr_blob_stream(b, 0, ZR_BLOB_TO_END, 1000, sum_chunk, &sum);
	uint8_t last;
	if (rc == 0)
		rc = zr_blob_read_at(b, size - 1, &last, 1);
	if (rc == 0 && (rc = zr_blob_refresh(b, NULL)) == 0 && zr_blob_size(b) != size)
		die("refresh changed the size", rc, NULL);
	if (rc == 0)
		rc = zr_blob_sync(b);
	if (rc)
		die("use an open blob", rc, NULL);
	rc = zr_blob_resize(b, size + 100, NULL);
	if (ro ? rc != ZR_EREADONLY : rc != 0)
		die("grow", rc, NULL);
	if (!ro && ((rc = zr_blob_write_at(b, size + 99, &last, 1)) != 0 ||
		    (rc = zr_blob_resize(b, size, NULL)) != 0 || zr_blob_size(b) != size))
		die("shrink back", rc, NULL);
}

static void try_open(unsigned flags, int valid_rc)
{
	zr_blob *b = NULL;
	zr_diag d = {.code = 1};
	int rc = zr_blob_open_path(img_path, flags, &b, &d);
	stats.opened += rc == 0;
	if (rc <= -5000 && rc > -5032)
		stats.rc[-rc - 5000]++;
	if (!documented_open_rc(rc))
		die("undocumented open code", rc, &d);
	if (rc != valid_rc)
		die("open and the validator disagree", rc, &d);
	if (rc != 0) {
		if (b)
			die("open failed but set *out", rc, &d);
		if (d.code != rc || !d.msg[0])
			die("diag differs from the return code", rc, &d);
		return;
	}
	exercise(b, flags & ZR_BLOB_READONLY);
	if ((rc = zr_blob_close(b)) != 0)
		die("close", rc, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!tmpl)
		load_template();
	uint64_t len = build_header(data, size);
	stats.inputs++;
	zr_diag d;
	size_t have = len < sizeof(hdr) ? (size_t)len : sizeof(hdr);
	int valid_rc = zri_blob_validate(&hdr, have, len, "image", &d);
	if (valid_rc != 0 && (valid_rc != d.code || !d.msg[0]))
		die("validator's diag", valid_rc, &d);
	write_image(len);
	try_open(ZR_BLOB_READONLY, valid_rc);
	try_open(0, valid_rc);
	return 0;
}
