/* rings/check_sink.c: the reporting end of the invariant checks (see
 * check_sink.h). Formatting only: no system calls, no allocation. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check_sink.h"

static int keep_first(void *ctx, const zr_violation *v)
{
	zr_diag *diag = ctx;
	if (diag) {
		diag->code = ZR_ECORRUPT;
		snprintf(diag->msg, sizeof(diag->msg), "%.8s: %.63s: %.170s", v->area, v->where,
			 v->msg);
	}
	return 1;
}

void zri_sink_diag(struct zri_sink *s, const void *base, uint64_t size, uint32_t max_procs,
		   zr_diag *diag)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->size = size;
	s->max_procs = max_procs;
	s->fn = keep_first;
	s->ctx = diag;
}

void zri_sink_part(struct zri_sink *s)
{
	s->in_part = 0;
}

static bool emit(struct zri_sink *s, zr_violation *v)
{
	if (s->fn && s->fn(s->ctx, v))
		s->stop = true;
	return !s->stop;
}

bool zri_sink_report(struct zri_sink *s, const char *area, const char *where, const void *word,
		     const char *fmt, ...)
{
	if (s->stop)
		return false;
	s->found++;
	if (s->in_part++ >= ZRI_SINK_CAP)
		return true; /* counted; said once at the end of the component */
	zr_violation v;
	memset(&v, 0, sizeof(v));
	v.area = area;
	snprintf(v.where, sizeof(v.where), "%s", where);
	const uint8_t *p = word;
	v.offset = p && s->base && p >= s->base && (uint64_t)(p - s->base) < s->size
			   ? (uint64_t)(p - s->base)
			   : UINT64_MAX;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v.msg, sizeof(v.msg), fmt, ap);
	va_end(ap);
	return emit(s, &v);
}

bool zri_sink_part_end(struct zri_sink *s, const char *area, const char *where, const char *unit)
{
	if (s->stop)
		return false;
	if (s->in_part <= ZRI_SINK_CAP)
		return true;
	zr_violation v;
	memset(&v, 0, sizeof(v));
	v.area = area;
	snprintf(v.where, sizeof(v.where), "%s", where);
	v.offset = UINT64_MAX;
	snprintf(v.msg, sizeof(v.msg), "%u more in this %s", s->in_part - ZRI_SINK_CAP, unit);
	return emit(s, &v);
}
