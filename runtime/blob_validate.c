/* Checking a blob header read from a file that anyone with access may have
 * written. Nothing in it is trusted; tests/fuzz/fuzz_blob_open.c feeds this
 * random bytes. The order of the checks decides the code: no header at all,
 * someone else's file, a short file, another version, a damaged header, a
 * header that contradicts itself, then a file shorter than its header says. */
#include <string.h>
#include <xxhash.h>

#include "arena_impl.h"
#include "blob_impl.h"

uint64_t zri_blob_checksum(const struct zri_blob_header *h)
{
	return XXH3_64bits(h, offsetof(struct zri_blob_header, checksum));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The magic, or as much of it as the file has. */
static int check_magic(const uint8_t *p, size_t len, uint64_t file_size, const char *what,
		       zr_diag *diag)
{
	const uint64_t magic = ZRI_BLOB_MAGIC;
	size_t n = len < sizeof(magic) ? len : sizeof(magic);
	if (all_zero(p, n))
		return zri_diag_set(diag, ZR_ENOTREADY,
				    "%s has no blob header (%llu bytes, the first %zu zero): "
				    "its creator died while making it, or it is no blob",
				    what, (unsigned long long)file_size, n);
	if (memcmp(p, &magic, n) != 0) {
		uint64_t seen = 0;
		memcpy(&seen, p, n);
		return zri_diag_set(diag, ZR_EFOREIGN,
				    "%s is not a zring blob (magic %#llx, want %#llx)", what,
				    (unsigned long long)seen, (unsigned long long)magic);
	}
	if (len < ZRI_BLOB_HDR_BYTES)
		return zri_diag_set(diag, ZR_ETRUNC,
				    "%s has %zu bytes, shorter than the %u-byte blob header", what,
				    len, ZRI_BLOB_HDR_BYTES);
	return 0;
}

int zri_blob_validate(const void *bytes, size_t len, uint64_t file_size, const char *what,
		      zr_diag *diag)
{
	int rc = check_magic(bytes, len, file_size, what, diag);
	if (rc)
		return rc;
	struct zri_blob_header h;
	memcpy(&h, bytes, sizeof(h));
	if (h.version != ZRI_BLOB_VERSION)
		return zri_diag_set(diag, ZR_EVERSION,
				    "%s: blob format version %u, this build reads %u", what,
				    h.version, ZRI_BLOB_VERSION);
	uint64_t sum = zri_blob_checksum(&h);
	if (h.checksum != sum)
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "%s: blob header checksum %#llx, computed %#llx (damaged, "
				    "or a resize was rewriting it: open again)",
				    what, (unsigned long long)h.checksum, (unsigned long long)sum);
	if (h.header_bytes != ZRI_BLOB_HDR_BYTES || (h.flags & ~(uint32_t)ZRI_BLOB_FLAGS_KEPT) ||
	    h.data_size == 0 || h.data_size > ZRI_BLOB_MAX_DATA ||
	    h.data_size > SIZE_MAX - ZRI_BLOB_HDR_BYTES)
		return zri_diag_set(diag, ZR_ECORRUPT,
				    "%s: blob header contradicts itself (header %u bytes, flags "
				    "%#x, data %llu bytes)",
				    what, h.header_bytes, h.flags, (unsigned long long)h.data_size);
	if (file_size < ZRI_BLOB_HDR_BYTES + h.data_size)
		return zri_diag_set(diag, ZR_ETRUNC,
				    "%s has %llu bytes but its header says %u + %llu: truncated",
				    what, (unsigned long long)file_size, ZRI_BLOB_HDR_BYTES,
				    (unsigned long long)h.data_size);
	return 0;
}
