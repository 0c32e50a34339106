#ifndef ZRING_VERSION_H
#define ZRING_VERSION_H

#include "export.h"

#define ZR_VERSION_MAJOR 0
#define ZR_VERSION_MINOR 1
#define ZR_VERSION_PATCH 0
#define ZR_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif
/** The library's version string (may differ from the header's). */
ZR_API const char *zr_version(void);
#ifdef __cplusplus
}
#endif
#endif
