/* zring: shared-memory IPC for agents on one host. The umbrella header. */
#ifndef ZRING_H
#define ZRING_H

#include "zring/version.h"
#include "zring/err.h"
#include "zring/arena.h"
#include "zring/ring.h"
#include "zring/slab.h"
#include "zring/hist.h"
#include "zring/persist.h"
#include "zring/agent.h"
#include "zring/job.h"
#include "zring/place.h"
#include "zring/blob.h"
#include "zring/gpu.h" /* link zring::zring_gpu to use it */

#endif
