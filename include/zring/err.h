/* Error codes. Every fallible function returns int: 0, -errno for an
 * operating-system failure, or a zr_err value below -5000. The values are
 * ABI: append only. */
#ifndef ZRING_ERR_H
#define ZRING_ERR_H

#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zr_err {
	ZR_OK = 0,
	ZR_ELAYOUT = -5001,	/* arena written by a build with another layout fingerprint */
	ZR_ECORRUPT = -5002,	/* invariant or checksum failed; what and where is in the diag */
	ZR_ELEASE = -5003,	/* job lease expired before completion */
	ZR_ESTALE = -5004,	/* handle generation no longer matches the object */
	ZR_ENOTSUP = -5005,	/* feature not compiled in, or refused by the OS (binding) */
	ZR_ENODEV = -5006,	/* no device at run time */
	ZR_EFOREIGN = -5007,	/* not a zring arena or blob (bad magic) */
	ZR_EVERSION = -5008,	/* another layout version */
	ZR_ETRUNC = -5009,	/* segment or file shorter than its header says */
	ZR_ENOTREADY = -5010,	/* creator died before the arena or blob was initialised */
	ZR_EOWNER = -5011,	/* owned by another user */
	ZR_ENOSPACE = -5012,	/* not enough free space in the backing filesystem */
	ZR_EDOUBLEFREE = -5013, /* payload freed twice */
	ZR_ETOOBIG = -5014,	/* request above the configured maximum */
	ZR_EPROCFULL = -5015,	/* process table full */
	ZR_EPOISONED = -5016,	/* arena was poisoned after a detected corruption */
	ZR_EREADONLY = -5017,	/* operation needs a writable attachment or blob handle */
	ZR_EFULL = -5018,	/* job table or queue full: try again later */
	ZR_EGPU = -5019,	/* a CUDA call failed; the diag names it */
};

/**
 * Name an error code.
 * @param[in] rc  Any value returned by a zring function (0, -errno or zr_err).
 * @return A static string; never NULL.
 * Safety: any thread. Blocking: never.
 */
ZR_API const char *zr_strerror(int rc);

/** Detailed diagnostic filled by functions that take one (may be NULL). */
typedef struct zr_diag {
	int code;      /* same value the function returned */
	char msg[256]; /* one line saying what is wrong and where */
} zr_diag;

#ifdef __cplusplus
}
#endif
#endif
