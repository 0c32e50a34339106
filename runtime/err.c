/* Error names and the diagnostic helper. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arena_impl.h"
#include "zring/err.h"
#include "zring/version.h"

const char *zr_strerror(int rc)
{
	switch (rc) {
	case ZR_OK: return "success";
	case ZR_ELAYOUT: return "arena has another layout fingerprint (built by another zring)";
	case ZR_ECORRUPT: return "arena or blob data is corrupt";
	case ZR_ELEASE: return "lease expired";
	case ZR_ESTALE: return "stale handle";
	case ZR_ENOTSUP: return "not supported by this build or this system";
	case ZR_ENODEV: return "no device";
	case ZR_EFOREIGN: return "not a zring arena or blob";
	case ZR_EVERSION: return "arena or blob has another layout version";
	case ZR_ETRUNC: return "arena or blob is truncated";
	case ZR_ENOTREADY: return "creator died before the arena or blob was ready";
	case ZR_EOWNER: return "arena or blob is owned by another user";
	case ZR_ENOSPACE: return "not enough free space in the filesystem";
	case ZR_EDOUBLEFREE: return "payload already freed";
	case ZR_ETOOBIG: return "size above the configured maximum";
	case ZR_EPROCFULL: return "arena process table is full";
	case ZR_EPOISONED: return "arena was poisoned after a corruption";
	case ZR_EREADONLY: return "attached or opened read-only";
	case ZR_EFULL: return "job table or queue full";
	case ZR_EGPU: return "CUDA call failed";
	default: break;
	}
	if (rc < 0 && rc > -4096)
		return strerror(-rc);
	return "unknown zring error";
}

const char *zr_version(void)
{
	return ZR_VERSION_STRING;
}

int zri_diag_set(zr_diag *diag, int code, const char *fmt, ...)
{
	if (diag) {
		va_list ap;
		va_start(ap, fmt);
		diag->code = code;
		vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
