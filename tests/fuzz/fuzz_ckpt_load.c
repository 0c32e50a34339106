/* tests/fuzz/fuzz_ckpt_load.c (label fuzz): loading a checkpoint whose
 * manifest or chunk file was written by someone else.
 *
 * A template store (a 256 KiB image in four 64 KiB chunks: text, random
 * (stored raw), zeros, stamped) is written once per process with
 * zri_ckpt_write() into /tmp/zring-fuzz-<pid>-ckpt. Each input replaces
 * one of its files:
 *   byte 0     options (OPT_* below)
 *   byte 1     which file: 0 the manifest, k > 0 the chunk of entry (k-1) % 4
 *   bytes 2..  the new contents of that file
 * then zri_ckpt_load() and zr_ckpt_list(verify) run over the store, and the
 * file is put back. Their results must agree, only documented codes may
 * come back, a chunk can only load with its original content, and nothing
 * may crash. An image above 64 MiB is only listed, not loaded (the load
 * would allocate all of it).
 * With ZR_FUZZ_CKPT_CORPUS=<dir> set, the first input also writes the seed
 * corpus (the template's files, as inputs) into <dir>. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "runtime/ckpt_format.h"
#include "runtime/ckpt_impl.h"

#ifdef ZR_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

#define OPT_FIX_SUMS 0x01u /* recompute the file's checksums after the replacement */
#define PREFIX 2u
#define CB ((uint32_t)64 << 10)
#define NCHUNK 4u
#define LOAD_MAX ((uint64_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct file {
	char path[ZRI_CKPT_PATH_MAX];
	uint8_t *data;
	size_t len;
};

static char dir[64];
static pid_t owner;
static uint8_t image[NCHUNK * CB];
static struct file files[1 + NCHUNK]; /* the manifest, then entry 0..3's chunk */
static uint8_t buf[(size_t)1 << 20];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (getpid() == owner && dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, int rc, const char *msg)
{
	fprintf(stderr, "fuzz_ckpt_load: %s: rc %d (%s) %s\n", what, rc, zr_strerror(rc),
		msg ? msg : "");
	cleanup();
	abort();
}

static void put(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (len && write(fd, p, len) != (ssize_t)len))
		die("write a file", -errno, path);
	close(fd);
}

static void slurp(struct file *f)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		die("read the template", -errno, f->path);
	f->len = (size_t)st.st_size;
	f->data = malloc(f->len);
	if (!f->data || read(fd, f->data, f->len) != (ssize_t)f->len)
		die("read the template", -errno, f->path);
	close(fd);
}

static void make_image(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < CB; i++) {
		image[i] = (uint8_t) "zring checkpoint fuzz text "[i % 27];
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		image[CB + i] = (uint8_t)x;
		image[3 * CB + i] = (uint8_t)(i % 4096 == 0 ? 0x5a : 0);
	}
}

static void write_corpus(const char *to)
{
	static const struct {
		const char *name;
		uint8_t opts, which;
	} seeds[] = {{"00-manifest", 0, 0},    {"01-manifest-fix", OPT_FIX_SUMS, 0},
		     {"02-chunk-text", 0, 1},  {"03-chunk-raw", 0, 2},
		     {"04-chunk-zeros", 0, 3}, {"05-chunk-stamp-fix", OPT_FIX_SUMS, 4}};
	for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
		const struct file *f = &files[seeds[k].which];
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", to, seeds[k].name);
		buf[0] = seeds[k].opts;
		buf[1] = seeds[k].which;
		memcpy(buf + PREFIX, f->data, f->len);
		put(path, buf, PREFIX + f->len);
	}
}

static void load_template(void)
{
	owner = getpid();
	snprintf(dir, sizeof(dir), "/tmp/zring-fuzz-%d-ckpt", (int)owner);
	atexit(cleanup);
#ifdef ZR_SANITIZED
	__sanitizer_set_death_callback(cleanup);
#endif
	make_image();
	zr_ckpt_config cfg;
	zr_ckpt_config_init(&cfg, dir);
	cfg.kind = ZR_CKPT_FULL;
	cfg.chunk_bytes = CB;
	cfg.threads = 1;
	struct zri_ckpt_meta m = {.begin_lsn = 1};
	zr_ckpt_report rep;
	uint64_t oldest;
	zr_diag d = {0};
	int rc = zri_ckpt_write(image, sizeof(image), &m, &cfg, &rep, &oldest, &d);
	if (rc)
		die("write the template", rc, d.msg);
	struct zri_ckpt_man man;
	struct zri_ckpt_problem p;
	if ((rc = zri_ckpt_man_read(dir, 1, &man, &p)) != 0)
		die("read the template manifest", rc, p.what);
	zri_ckpt_man_path(files[0].path, dir, 1);
	for (unsigned i = 0; i < NCHUNK; i++)
		zri_ckpt_chunk_path(files[1 + i].path, dir, man.ent[i].lo, man.ent[i].hi);
	zri_ckpt_man_free(&man);
	for (unsigned i = 0; i <= NCHUNK; i++)
		slurp(&files[i]);
	const char *to = getenv("ZR_FUZZ_CKPT_CORPUS");
	if (to)
		write_corpus(to);
}

/* Make the checksums of a replaced file right again, where its length allows. */
static void fix_sums(uint8_t *p, size_t len, bool manifest)
{
	if (manifest) {
		if (len >= sizeof(struct zri_ckpt_mhdr) + 8) {
			uint64_t s = XXH3_64bits(p, len - 8);
			memcpy(p + len - 8, &s, 8);
		}
		return;
	}
	struct zri_ckpt_chdr h;
	if (len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	if (h.stored_len <= len - sizeof(h))
		h.stored_sum = XXH3_64bits(p + sizeof(h), (size_t)h.stored_len);
	h.hdr_sum = zri_ckpt_chdr_sum(&h);
	memcpy(p, &h, sizeof(h));
}

static bool documented(int rc)
{
	return rc == 0 || rc == ZR_ECORRUPT || rc == -ENOMEM;
}

static void check(unsigned which, const uint8_t *p, size_t len)
{
	uint64_t img_bytes = sizeof(image);
	if (which == 0 && len >= sizeof(struct zri_ckpt_mhdr))
		memcpy(&img_bytes, p + offsetof(struct zri_ckpt_mhdr, image_bytes), 8);
	zr_diag d = {0};
	int rc = 0;
	if (img_bytes <= LOAD_MAX) {
		void *got = NULL;
		size_t sz = 0;
		uint64_t skipped = 0;
		zr_ckpt_entry e;
		rc = zri_ckpt_load(dir, 0, NULL, NULL, &got, &sz, &e, &skipped, &d);
		if (!documented(rc) || (rc && (d.code != rc || !d.msg[0])) || skipped != (rc != 0))
			die("load", rc, d.msg);
		if (rc == 0 && (sz != e.image_bytes || (which && memcmp(got, image, sz))))
			die("loaded another image", rc, NULL);
		free(got);
	}
	zr_ckpt_entry e;
	size_t n = 0;
	int lrc = zr_ckpt_list(dir, true, NULL, NULL, &e, 1, &n, &d);
	if (lrc || n != 1 || (img_bytes <= LOAD_MAX && rc != -ENOMEM && e.valid != (rc == 0)))
		die("list disagrees with load", lrc, d.msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!owner)
		load_template();
	if (size < PREFIX || size - PREFIX > sizeof(buf))
		return 0;
	unsigned which = data[1] == 0 ? 0 : 1 + (data[1] - 1u) % NCHUNK;
	size_t len = size - PREFIX;
	memcpy(buf, data + PREFIX, len);
	if (data[0] & OPT_FIX_SUMS)
		fix_sums(buf, len, which == 0);
	put(files[which].path, buf, len);
	check(which, buf, len);
	put(files[which].path, files[which].data, files[which].len);
	return 0;
}
