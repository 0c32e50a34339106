/* Blobs inside the runtime: the file header, the handle, and what
 * blob.c (create, open, close), blob_io.c (resize, sync, stream) and
 * blob_validate.c (the header check, fuzzed) share.
 *
 * The header is not in runtime/layout.h: it is the format of a file of its
 * own, not of the arena, so it has its own magic and version and is kept
 * out of the arena's layout fingerprint. Its offsets are pinned below by
 * _Static_assert instead; changing one means a new ZRI_BLOB_VERSION. */
#ifndef ZR_BLOB_IMPL_H
#define ZR_BLOB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "zring/blob.h"

#define ZRI_BLOB_MAGIC 0x31424c42474e525aULL /* "ZRNGBLB1" */
#define ZRI_BLOB_VERSION 1u
#define ZRI_BLOB_HDR_BYTES ZR_BLOB_DATA_OFFSET
#define ZRI_BLOB_PREFIX "zring-blob-"
#define ZRI_BLOB_FLAGS_KEPT (ZR_BLOB_GROUP | ZR_BLOB_SPARSE) /* recorded in the header */
/* largest data size: the file's length must fit an off_t */
#define ZRI_BLOB_MAX_DATA ((uint64_t)INT64_MAX - ZRI_BLOB_HDR_BYTES)

/* The first 4 KiB of a blob file. Written by its creator and by whoever
 * resizes it; read by every opener, which trusts none of it. The checksum
 * covers every byte before it, padding included, so any change is seen. */
struct zri_blob_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_bytes; /* ZRI_BLOB_HDR_BYTES */
	uint64_t data_size;    /* the data follows the header */
	uint64_t generation;   /* resizes since creation */
	uint64_t created_ns;   /* CLOCK_REALTIME */
	uint32_t creator_pid;
	uint32_t creator_uid;
	uint32_t flags; /* ZRI_BLOB_FLAGS_KEPT */
	uint32_t reserved;
	uint8_t pad[ZRI_BLOB_HDR_BYTES - 56 - 8];
	uint64_t checksum; /* XXH3_64bits of bytes [0, 4088) */
};

_Static_assert(sizeof(struct zri_blob_header) == ZRI_BLOB_HDR_BYTES, "blob header is 4 KiB");
_Static_assert(offsetof(struct zri_blob_header, version) == 8, "blob header: version");
_Static_assert(offsetof(struct zri_blob_header, data_size) == 16, "blob header: data_size");
_Static_assert(offsetof(struct zri_blob_header, generation) == 24, "blob header: generation");
_Static_assert(offsetof(struct zri_blob_header, created_ns) == 32, "blob header: created_ns");
_Static_assert(offsetof(struct zri_blob_header, creator_pid) == 40, "blob header: creator_pid");
_Static_assert(offsetof(struct zri_blob_header, flags) == 48, "blob header: flags");
_Static_assert(offsetof(struct zri_blob_header, pad) == 56, "blob header: pad");
_Static_assert(offsetof(struct zri_blob_header, checksum) == ZRI_BLOB_HDR_BYTES - 8,
	       "blob header: the checksum closes it");

struct zr_blob {
	uint8_t *base;	  /* the mapping: header, then data */
	uint64_t map_len; /* bytes mapped */
	uint64_t size;	  /* bytes of data this handle may touch */
	int fd;		  /* kept for resize, refresh and sync */
	bool readonly;
	bool tmpfs;
	struct zri_blob_header hdr; /* private copy, as validated or last written */
	char path[ZR_BLOB_PATH_MAX + 1];
};

/* blob_validate.c */
uint64_t zri_blob_checksum(const struct zri_blob_header *h);
/* Check the first `len` bytes of a file of `file_size` bytes as a blob
 * header (bytes need no alignment). `what` names the file in messages.
 * Returns 0 or a ZR_E* code with diag filled. */
int zri_blob_validate(const void *bytes, size_t len, uint64_t file_size, const char *what,
		      zr_diag *diag);

/* blob.c: read and validate the header of an open blob file into *h,
 * rereading while a resize rewrites it. */
int zri_blob_load(int fd, const char *path, struct zri_blob_header *h, zr_diag *diag);
/* blob_io.c: ZR_ENOSPACE, with both numbers, unless `need` <= `avail`. */
int zri_blob_room(uint64_t avail, uint64_t need, const char *where, zr_diag *diag);
/* Make the file `total` bytes long, reserving [from, total) unless `sparse`. */
int zri_blob_extend(int fd, const char *path, uint64_t from, uint64_t total, bool sparse,
		    zr_diag *diag);

#endif
