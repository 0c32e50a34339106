/* Symbol visibility and attribute macros shared by every public header. */
#ifndef ZRING_EXPORT_H
#define ZRING_EXPORT_H

#if defined(ZR_BUILDING_LIBRARY) && !defined(ZR_STATIC)
#define ZR_API __attribute__((visibility("default")))
#else
#define ZR_API
#endif

#define ZR_NODISCARD __attribute__((warn_unused_result))

#endif
