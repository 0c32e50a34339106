/* `zring stat --prometheus`: counters and gauges in the Prometheus text
 * exposition format (version 0.0.4), every sample labelled with its arena.
 * Metric families are grouped, as the format requires, across arenas. */
#include <stddef.h>
#include <string.h>

#include "snapshot.h"

/* Label values escape backslash, quote and newline. */
static const char *esc(char *buf, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 2 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			buf[n++] = '\\';
			buf[n++] = *s;
		} else if (*s == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else {
			buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
		}
	}
	buf[n] = 0;
	return buf;
}

/* A counter of a stats struct by offset (memcpy: no alignment assumption). */
static unsigned long long field(const void *base, size_t off, bool is32)
{
	if (is32) {
		uint32_t v;
		memcpy(&v, (const char *)base + off, sizeof(v));
		return v;
	}
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

#define ARENA(s) esc(an, sizeof(an), (s)->info.name)

static void arena_families(FILE *f, const struct snap *v, size_t n)
{
	char an[128];
	family(f, "zring_arena_size_bytes", "gauge", "Size of the arena segment.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "zring_arena_size_bytes{arena=\"%s\"} %zu\n", ARENA(&v[i]),
			v[i].info.size);
	family(f, "zring_processes", "gauge", "Processes attached to the arena, by liveness.");
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "zring_processes{arena=\"%s\",state=\"alive\"} %u\n", ARENA(&v[i]),
			v[i].info.procs_attached - v[i].info.procs_dead);
		fprintf(f, "zring_processes{arena=\"%s\",state=\"dead\"} %u\n", ARENA(&v[i]),
			v[i].info.procs_dead);
	}
}

static void job_families(FILE *f, const struct snap *v, size_t n)
{
	char an[128];
	family(f, "zring_jobs", "gauge", "Job records by status and priority, now.");
	for (size_t i = 0; i < n; i++)
		for (uint32_t st = 2; st < ZR_JOB_STATUS_COUNT; st++)
			for (unsigned p = 0; p < ZR_PRIO_COUNT; p++)
				fprintf(f,
					"zring_jobs{arena=\"%s\",status=\"%s\",priority=\"%s\"} "
					"%llu\n",
					ARENA(&v[i]), zr_job_status_name(st), zr_prio_name(p),
					(unsigned long long)v[i].jobs.by_status_prio[st][p]);
	const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
#define C(k, h) {"zring_jobs_" #k "_total", h, offsetof(zr_jobs_stats, k)}
		C(submitted, "Jobs submitted."),
		C(claimed, "Jobs claimed."),
		C(completed, "Jobs completed."),
		C(failed, "Fail calls, retried or not."),
		C(dead_letters, "Jobs failed for good."),
		C(cancelled, "Jobs cancelled."),
		C(expired, "Jobs past their TTL."),
		C(retried, "Jobs requeued after a failure, a lease or a death."),
		C(lease_expired, "Claims whose lease ran out."),
		C(recovered, "Jobs taken back from dead agents."),
		C(full, "Submits refused: job table or queue full."),
#undef C
	};
	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		family(f, c[k].name, "counter", c[k].help);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s{arena=\"%s\"} %llu\n", c[k].name, ARENA(&v[i]),
				field(&v[i].jobs, c[k].off, false));
	}
	family(f, "zring_job_latency_seconds", "summary",
	       "Job latency: submit to claim, and claim to complete.");
	static const double q[] = {0.5, 0.9, 0.99, 0.999};
	for (size_t i = 0; i < n; i++) {
		const zr_hist *h[2] = {&v[i].jobs.claim_latency, &v[i].jobs.complete_latency};
		const char *stage[2] = {"claim", "complete"};
		for (int k = 0; k < 2; k++) {
			for (int x = 0; x < 4; x++)
				fprintf(f,
					"zring_job_latency_seconds{arena=\"%s\",stage=\"%s\","
					"quantile=\"%g\"} %.9f\n",
					ARENA(&v[i]), stage[k], q[x],
					(double)zr_hist_percentile(h[k], q[x] * 100) / 1e9);
			fprintf(f,
				"zring_job_latency_seconds_sum{arena=\"%s\",stage=\"%s\"} %.9f\n",
				ARENA(&v[i]), stage[k], (double)h[k]->sum / 1e9);
			fprintf(f,
				"zring_job_latency_seconds_count{arena=\"%s\",stage=\"%s\"} %llu\n",
				ARENA(&v[i]), stage[k], (unsigned long long)h[k]->count);
		}
	}
}

static void agent_families(FILE *f, const struct snap *v, size_t n)
{
	char an[128], gn[128];
	family(f, "zring_agent_up", "gauge", "1 if the agent is alive, 0 if dead.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nagents; k++)
			fprintf(f, "zring_agent_up{arena=\"%s\",agent=\"%s\"} %d\n", ARENA(&v[i]),
				esc(gn, sizeof(gn), v[i].agents[k].name),
				v[i].agents[k].status == ZR_AGENT_ALIVE);
	family(f, "zring_agent_heartbeat_age_seconds", "gauge",
	       "Time since the agent's last heartbeat.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nagents; k++) {
			const zr_agent_info *g = &v[i].agents[k];
			uint64_t age =
				v[i].mono_ns > g->heartbeat_ns ? v[i].mono_ns - g->heartbeat_ns : 0;
			fprintf(f,
				"zring_agent_heartbeat_age_seconds{arena=\"%s\",agent=\"%s\"} "
				"%.6f\n",
				ARENA(&v[i]), esc(gn, sizeof(gn), g->name), (double)age / 1e9);
		}
	family(f, "zring_agent_inbox_depth", "gauge", "Jobs waiting in the agent's inbox.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nagents; k++)
			fprintf(f, "zring_agent_inbox_depth{arena=\"%s\",agent=\"%s\"} %u\n",
				ARENA(&v[i]), esc(gn, sizeof(gn), v[i].agents[k].name),
				v[i].agents[k].inbox_depth);
	family(f, "zring_agent_completed_total", "counter", "Jobs the agent completed.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nagents; k++)
			fprintf(f, "zring_agent_completed_total{arena=\"%s\",agent=\"%s\"} %llu\n",
				ARENA(&v[i]), esc(gn, sizeof(gn), v[i].agents[k].name),
				(unsigned long long)v[i].agents[k].completed);
}

/* One sample per ring and per inbox level. */
static void ring_family(FILE *f, const struct snap *v, size_t n, const char *name, const char *type,
			const char *help, size_t off, bool is32)
{
	char an[128], rn[128];
	family(f, name, type, help);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nrings; k++) {
			const struct snap_ring *r = &v[i].rings[k];
			if (r->bad)
				continue;
			unsigned levels = r->e.inbox ? ZR_PRIO_COUNT : 1;
			for (unsigned l = 0; l < levels; l++) {
				unsigned long long x = field(&r->st[l], off, is32);
				fprintf(f, "%s{arena=\"%s\",ring=\"%s\",level=\"%s\"} %llu\n", name,
					ARENA(&v[i]), esc(rn, sizeof(rn), r->e.name),
					r->e.inbox ? zr_prio_name(l) : "", x);
			}
		}
}

static void ring_families(FILE *f, const struct snap *v, size_t n)
{
	char an[128], rn[128];
#define RF(nm, t, h, field, small)                                                                 \
	ring_family(f, v, n, nm, t, h, offsetof(zr_ring_stats, field), small)
	RF("zring_ring_depth", "gauge", "Entries in the ring now.", count, true);
	RF("zring_ring_capacity", "gauge", "Entries the ring holds.", capacity, true);
	RF("zring_ring_enqueued_total", "counter", "Entries published.", enqueued, false);
	RF("zring_ring_dequeued_total", "counter", "Entries taken.", dequeued, false);
	RF("zring_ring_full_total", "counter", "Enqueues refused: ring full.", full, false);
	RF("zring_ring_drops_total", "counter", "Entries of dead producers dropped.", drops, false);
	RF("zring_ring_redelivers_total", "counter", "Entries of dead consumers republished.",
	   redelivers, false);
#undef RF
	family(f, "zring_inbox_oldest_job_age_seconds", "gauge",
	       "Age of the oldest job queued at a level of a job inbox.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nrings; k++) {
			const struct snap_ring *r = &v[i].rings[k];
			for (unsigned l = 0; r->jobs_inbox && !r->bad && l < ZR_PRIO_COUNT; l++)
				fprintf(f,
					"zring_inbox_oldest_job_age_seconds{arena=\"%s\",ring=\"%"
					"s\","
					"level=\"%s\"} %.6f\n",
					ARENA(&v[i]), esc(rn, sizeof(rn), r->e.name),
					zr_prio_name(l), (double)r->oldest_ns[l] / 1e9);
		}
}

static void slab_families(FILE *f, const struct snap *v, size_t n)
{
	char an[128];
	family(f, "zring_payload_blocks", "gauge", "Payload blocks by size class and state.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nslab; k++) {
			const zr_slab_class_stats *c = &v[i].slab[k];
			const struct {
				const char *st;
				uint64_t x;
			} s[] = {{"in_use", c->in_use},
				 {"cached", c->cached},
				 {"free", c->free},
				 {"orphan", c->orphans}};
			for (int x = 0; x < 4; x++)
				fprintf(f,
					"zring_payload_blocks{arena=\"%s\",class=\"%llu\",state=\"%"
					"s\"} "
					"%llu\n",
					ARENA(&v[i]), (unsigned long long)c->block_size, s[x].st,
					(unsigned long long)s[x].x);
		}
	family(f, "zring_payload_alloc_failed_total", "counter",
	       "Payload allocations refused for lack of space, by class (0: large heap).");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < v[i].nslab; k++)
			fprintf(f,
				"zring_payload_alloc_failed_total{arena=\"%s\",class=\"%llu\"} "
				"%llu\n",
				ARENA(&v[i]), (unsigned long long)v[i].slab[k].block_size,
				(unsigned long long)v[i].slab[k].failed);
}

void stat_prom(FILE *f, const struct snap *v, size_t n)
{
	arena_families(f, v, n);
	job_families(f, v, n);
	agent_families(f, v, n);
	ring_families(f, v, n);
	slab_families(f, v, n);
}
