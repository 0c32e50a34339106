/* Names and the parsing of command-line values: statuses, priorities,
 * job ids (number or UUID) and agents (name or id). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static long parse_mask(const char *s, const char *(*name)(uint32_t), uint32_t count)
{
	long mask = 0;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint32_t i = 0;
		while (i < count && strcasecmp(t, name(i)))
			i++;
		if (i == count)
			return -1;
		mask |= 1l << i;
	}
	return mask ? mask : -1;
}

long parse_status_mask(const char *s)
{
	return parse_mask(s, zr_job_status_name, ZR_JOB_STATUS_COUNT);
}

long parse_prio_mask(const char *s)
{
	return parse_mask(s, zr_prio_name, ZR_PRIO_COUNT);
}

void uuid_text(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t k = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[u[i] >> 4];
		out[k++] = hex[u[i] & 15];
	}
	out[k] = 0;
}

static int find_by_uuid(const zr_arena *a, const char *s, zr_job_id *out)
{
	zr_jobs_stats st;
	zr_jobs_stat(a, &st);
	zr_job_info *all = calloc(st.max_jobs ? st.max_jobs : 1, sizeof(*all));
	size_t n = 0;
	if (!all || zr_jobs_list(a, NULL, all, st.max_jobs, &n)) {
		free(all);
		return -ENOMEM;
	}
	int rc = -ENOENT;
	char u[37];
	for (size_t i = 0; i < n && i < st.max_jobs && rc; i++) {
		uuid_text(all[i].uuid, u);
		if (!strcasecmp(u, s)) {
			*out = all[i].id;
			rc = 0;
		}
	}
	free(all);
	return rc;
}

int parse_job_id(const zr_arena *a, const char *s, zr_job_id *out)
{
	if (strlen(s) == 36 && s[8] == '-')
		return find_by_uuid(a, s, out);
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || !end || *end || v == 0 || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

uint32_t parse_agent(const zr_arena *a, const char *s)
{
	uint32_t id = zr_agent_lookup(a, s);
	if (id)
		return id;
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 0);
	zr_agent_info info;
	if (end && !*end && v && v <= UINT32_MAX && zr_agent_get(a, (uint32_t)v, &info) == 0)
		return (uint32_t)v;
	return 0;
}

const char *agent_name(const zr_arena *a, uint32_t id, char *buf, size_t cap)
{
	zr_agent_info info;
	if (id == 0)
		snprintf(buf, cap, "-");
	else if (zr_agent_get(a, id, &info) == 0)
		snprintf(buf, cap, "%s", info.name);
	else
		snprintf(buf, cap, "#%u", id); /* the agent left; its slot holds another now */
	return buf;
}

const char *kind_name(uint32_t k)
{
	return k == ZR_RING_SPSC ? "spsc" : k == ZR_RING_MPMC ? "mpmc" : "?";
}

const char *agent_status_name(uint32_t s)
{
	return s == ZR_AGENT_ALIVE ? "alive" : s == ZR_AGENT_DEAD ? "dead" : "free";
}

bool meta_next(const char meta[ZR_JOB_META_BYTES], size_t *pos, char key[ZR_JOB_META_BYTES],
	       char val[ZR_JOB_META_BYTES])
{
	size_t i = *pos;
	if (i >= ZR_JOB_META_BYTES || !meta[i])
		return false;
	size_t kl = strnlen(meta + i, ZR_JOB_META_BYTES - i);
	if (i + kl + 1 >= ZR_JOB_META_BYTES)
		return false; /* a key without its value */
	const char *v = meta + i + kl + 1;
	size_t vl = strnlen(v, ZR_JOB_META_BYTES - i - kl - 1);
	snprintf(key, ZR_JOB_META_BYTES, "%.*s", (int)kl, meta + i);
	snprintf(val, ZR_JOB_META_BYTES, "%.*s", (int)vl, v);
	*pos = i + kl + vl + 2;
	return true;
}
