#ifndef ZR_INBOX_IMPL_H
#define ZR_INBOX_IMPL_H

#include "../runtime/prim.h"
#include "ring_impl.h"

struct zr_inbox {
	struct zri_inbox *hdr;
	struct zr_ring levels[ZR_PRIO_COUNT];
};

#endif
