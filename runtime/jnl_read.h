/* Journal directory upkeep shared by checkpoints (retention). */
#ifndef ZR_JNL_READ_H
#define ZR_JNL_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "zring/persist.h"

/* The arena's shape as the journal's segment headers give it (size 0: none). */
void zri_jreader_config(const zr_jreader *r, struct zri_config_copy *out);

/* Does every stream still hold its first segment (segno 0)? If not,
 * retention trimmed it and the journal does not go back to LSN 1: false,
 * with the first such stream and its oldest segment in *stream, *segno. */
bool zri_jreader_from_start(const zr_jreader *r, uint32_t *stream, uint32_t *segno);

/* Remove segments of `lineage` in `dir` whose every record has an LSN
 * below `below`: never a stream's newest segment while its writer lives.
 * Returns how many were removed. */
uint64_t zri_journal_trim(const char *dir, uint64_t lineage, uint64_t below);

#endif
