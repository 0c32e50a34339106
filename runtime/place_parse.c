/* Placement specs from text: "none", "cores:0,2-3", "numa:N", "spread:N",
 * "gpu:N". Syntax only; whether the cpus, node or GPU exist is for
 * zr_place_self(), which has the topology. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arena_impl.h"
#include "place_impl.h"
#include "zring/place.h"

#define KINDS "none, cores:LIST, numa:N, spread:N or gpu:N"

/* A decimal number at *p, at most max; advances *p past it.
 * Returns 0, 1 when *p is not a digit, 2 when the number is above max. */
static int read_uint(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return 1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return 2;
	}
	*p = s;
	*out = v;
	return 0;
}

/* One cpu number of a list at *p. */
static int read_cpu(const char **p, const char *list, uint64_t *out, zr_diag *diag)
{
	int r = read_uint(p, ZRI_CPU_MAX, out);
	if (r == 2)
		return zri_diag_set(diag, -EINVAL,
				    "cores: the cpu number at offset %td of \"%s\" is above %u",
				    *p - list, list, ZRI_CPU_MAX);
	if (r)
		return zri_diag_set(diag, -EINVAL,
				    "cores: expected a cpu number at offset %td of \"%s\"",
				    *p - list, list);
	return 0;
}

int zri_cpulist_parse(const char *s, hwloc_bitmap_t set, zr_diag *diag)
{
	if (!s || !*s)
		return zri_diag_set(diag, -EINVAL,
				    "cores: empty cpu list (expected a list such as 0,2-3)");
	const char *p = s;
	for (;;) {
		uint64_t lo, hi;
		int rc = read_cpu(&p, s, &lo, diag);
		if (rc)
			return rc;
		hi = lo;
		if (*p == '-') {
			p++;
			if ((rc = read_cpu(&p, s, &hi, diag)))
				return rc;
			if (hi < lo)
				return zri_diag_set(
					diag, -EINVAL,
					"cores: range %llu-%llu in \"%s\" runs backwards",
					(unsigned long long)lo, (unsigned long long)hi, s);
		}
		if (set && hwloc_bitmap_set_range(set, (unsigned)lo, (int)hi) != 0)
			return zri_diag_set(diag, -ENOMEM, "cores: no memory for a cpu set");
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return zri_diag_set(diag, -EINVAL,
					    "cores: unexpected '%c' at offset %td of \"%s\" "
					    "(expected ',' or '-')",
					    isprint((unsigned char)*p) ? *p : '?', p - s, s);
		p++;
	}
}

/* The number after "kind:", all of the rest of the text. */
static int read_index(const char *kind, const char *arg, uint64_t max, uint64_t *out, zr_diag *diag)
{
	const char *p = arg;
	int r = read_uint(&p, max, out);
	if (r == 2)
		return zri_diag_set(diag, -EINVAL, "%s: \"%s\" is too large (at most %llu)", kind,
				    arg, (unsigned long long)max);
	if (r || *p)
		return zri_diag_set(diag, -EINVAL,
				    "%s: \"%s\" is not a number (expected %s:N, N decimal)", kind,
				    arg, kind);
	return 0;
}

/* Does `text` start with "kind:"? Then *arg is what follows. */
static int has_kind(const char *text, const char *kind, const char **arg)
{
	size_t n = strlen(kind);
	if (strncmp(text, kind, n) != 0 || text[n] != ':')
		return 0;
	*arg = text + n + 1;
	return 1;
}

int zr_place_parse(const char *text, zr_place_spec *out, zr_diag *diag)
{
	if (!text || !out)
		return zri_diag_set(diag, -EINVAL, "placement: no text or no spec to fill");
	zr_place_spec s = {.kind = ZR_PLACE_NONE, .numa_node = -1, .gpu = -1};
	const char *arg;
	uint64_t v = 0;
	int rc = 0;
	if (strcmp(text, "none") == 0) {
		s.kind = ZR_PLACE_NONE;
	} else if (has_kind(text, "cores", &arg)) {
		s.kind = ZR_PLACE_CORES;
		s.cores = arg;
		rc = zri_cpulist_parse(arg, NULL, diag);
	} else if (has_kind(text, "numa", &arg)) {
		s.kind = ZR_PLACE_NUMA;
		rc = read_index("numa", arg, INT32_MAX, &v, diag);
		s.numa_node = (int32_t)v;
	} else if (has_kind(text, "spread", &arg)) {
		s.kind = ZR_PLACE_SPREAD;
		rc = read_index("spread", arg, UINT32_MAX, &v, diag);
		s.spread_index = (uint32_t)v;
	} else if (has_kind(text, "gpu", &arg)) {
		s.kind = ZR_PLACE_NEAR_GPU;
		rc = read_index("gpu", arg, INT32_MAX, &v, diag);
		s.gpu = (int32_t)v;
	} else {
		return zri_diag_set(diag, -EINVAL,
				    "placement \"%.64s\" not understood: expected %s", text, KINDS);
	}
	if (rc == 0)
		*out = s;
	return rc;
}
