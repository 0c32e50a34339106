/* tools/demo: the producer and worker processes. Producers write payloads
 * in place and submit jobs at all four priorities, some to a named worker,
 * some to the shared queue; they keep DEMO_WINDOW jobs in flight and, for
 * the oldest, wait until it is final, check the worker's result and release
 * it. Workers claim, check the payload in place, fail a few jobs once on
 * purpose (they come back after a backoff), and complete the rest with a
 * result payload. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demo.h"

uint64_t demo_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t demo_checksum(const void *p, size_t n)
{
	/* FNV-1a: enough to notice a payload read from the wrong place */
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

int demo_attach(struct demo_board *bd, const char *name, uint32_t on_death, unsigned spread,
		unsigned slot, zr_arena **a, zr_agent **ag)
{
	zr_diag d = {0};
	int rc = zr_arena_open(bd->arena, 0, a, &d);
	if (rc) {
		fprintf(stderr, "%s: open %s: %s\n", name, bd->arena, d.msg);
		return rc;
	}
	zr_agent_config cfg;
	zr_agent_config_init(&cfg);
	cfg.on_death = on_death;
	rc = zr_agent_register(*a, name, &cfg, ag);
	if (rc) {
		fprintf(stderr, "%s: register: %s\n", name, zr_strerror(rc));
		return rc;
	}
	zr_place_spec spec = {.kind = ZR_PLACE_SPREAD, .spread_index = spread};
	if (zr_agent_place(*ag, &spec, &bd->place[slot], &d) != 0)
		snprintf(bd->place[slot].note, sizeof(bd->place[slot].note), "not pinned: %.100s",
			 d.msg);
	return 0;
}

/* ---- producer ------------------------------------------------------------- */

struct in_flight {
	zr_job_id id;
	uint32_t prio;
	uint64_t checksum;
};

struct producer {
	struct demo_board *bd;
	zr_arena *a;
	zr_agent *ag;
	int index;
	uint32_t targets[DEMO_WORKERS];
	struct in_flight win[DEMO_WINDOW];
	unsigned head, n; /* oldest in win[head], n in flight */
	uint64_t rng;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Mostly normal work, some urgent, some background. */
static uint32_t pick_prio(uint64_t r)
{
	unsigned x = (unsigned)(r % 100);
	return x < 5	? ZR_PRIO_CRITICAL
	       : x < 20 ? ZR_PRIO_HIGH
	       : x < 80 ? ZR_PRIO_NORMAL
			: ZR_PRIO_LOW;
}

/* Wait for the oldest job in flight, check what the worker said, release. */
static int retire_oldest(struct producer *p)
{
	struct in_flight *f = &p->win[p->head];
	zr_job_info info;
	int rc = zr_job_wait(p->a, f->id, 60ll * 1000000000, &info);
	if (rc) {
		fprintf(stderr, "producer-%d: job %llu not final after 60 s: %s\n", p->index,
			(unsigned long long)f->id, zr_strerror(rc));
		return rc;
	}
	struct demo_board *bd = p->bd;
	if (info.status != ZR_JOB_COMPLETED) {
		atomic_fetch_add(&bd->not_completed, 1);
	} else {
		const struct demo_result *res = zr_payload_ptr(p->a, info.result);
		if (!res || info.result_len != sizeof(*res) || res->magic != DEMO_MAGIC ||
		    res->checksum != f->checksum)
			atomic_fetch_add(&bd->bad_results, 1);
		zr_hist_record(&bd->latency[p->index][f->prio], info.finish_ns - info.submit_ns);
		bd->done_by_prio[p->index][f->prio]++;
	}
	if (zr_job_release(p->a, f->id) != 0)
		atomic_fetch_add(&bd->not_completed, 1);
	atomic_fetch_add(&bd->finished, 1);
	p->head = (p->head + 1) % DEMO_WINDOW;
	p->n--;
	return 0;
}

/* A payload of 64 B .. 16 KiB (log-uniform), written in place. */
static int make_payload(struct producer *p, uint32_t seq, zr_payload *out, uint64_t *len,
			uint64_t *sum)
{
	uint64_t r = next_rand(&p->rng);
	size_t size = (size_t)64 << (r % 9);
	size -= (r >> 8) % (size / 2);
	if (size < sizeof(struct demo_payload))
		size = sizeof(struct demo_payload);
	int rc;
	while ((rc = zr_payload_alloc(p->a, size, out)) == -ENOMEM && p->n > 0)
		if ((rc = retire_oldest(p)) != 0)
			return rc;
	if (rc)
		return rc;
	struct demo_payload *h = zr_payload_ptr(p->a, *out);
	uint8_t *body = (uint8_t *)(h + 1);
	uint32_t body_len = (uint32_t)(size - sizeof(*h));
	for (uint32_t i = 0; i < body_len; i++)
		body[i] = (uint8_t)(seq * 7 + i);
	*h = (struct demo_payload){DEMO_MAGIC, (uint32_t)p->index, seq, body_len,
				   demo_checksum(body, body_len)};
	*len = size;
	*sum = h->checksum;
	atomic_fetch_add(&p->bd->payload_bytes, size);
	return 0;
}

static int submit_one(struct producer *p, uint32_t seq)
{
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	uint64_t r = next_rand(&p->rng);
	b.prio = pick_prio(r);
	/* half to a named worker's inbox, half to whoever is free */
	b.target = (r >> 32) & 1 ? p->targets[(r >> 33) % DEMO_WORKERS] : 0;
	b.max_retries = 3;
	b.backoff_ns = 200000;
	uint64_t sum;
	int rc = make_payload(p, seq, &b.payload, &b.payload_len, &sum);
	if (rc)
		return rc;
	zr_job_id id;
	while ((rc = zr_job_submit(p->ag, &b, &id, NULL)) == ZR_EFULL && p->n > 0) {
		atomic_fetch_add(&p->bd->full_waits, 1);
		if ((rc = retire_oldest(p)) != 0)
			break;
	}
	if (rc) {
		fprintf(stderr, "producer-%d: submit: %s\n", p->index, zr_strerror(rc));
		DEMO_IGNORE(zr_payload_free(p->a, b.payload));
		return rc;
	}
	p->win[(p->head + p->n) % DEMO_WINDOW] = (struct in_flight){id, b.prio, sum};
	p->n++;
	return 0;
}

int demo_producer(struct demo_board *bd, int index)
{
	struct producer p = {.bd = bd, .index = index, .rng = 0x9e3779b97f4a7c15ull * (index + 1)};
	char name[32];
	snprintf(name, sizeof(name), "producer-%d", index);
	if (demo_attach(bd, name, ZR_ON_DEATH_KEEP, (unsigned)index, (unsigned)index, &p.a,
			&p.ag) != 0)
		return 1;
	for (int w = 0; w < DEMO_WORKERS; w++) {
		char wn[32];
		snprintf(wn, sizeof(wn), "worker-%d", w);
		/* workers register before producers start (see main) */
		p.targets[w] = zr_agent_lookup(p.a, wn);
	}
	int rc = 0;
	for (uint32_t seq = 0; seq < bd->jobs && rc == 0; seq++) {
		if (p.n == DEMO_WINDOW)
			rc = retire_oldest(&p);
		if (rc == 0)
			rc = submit_one(&p, seq);
	}
	while (rc == 0 && p.n > 0)
		rc = retire_oldest(&p);
	zr_agent_unregister(p.ag);
	zr_arena_close(p.a);
	return rc ? 1 : 0;
}

/* ---- worker --------------------------------------------------------------- */

static bool payload_ok(const zr_claim *c, uint64_t *sum)
{
	const struct demo_payload *h = c->data; /* read in place: no copy */
	if (!h || c->len < sizeof(*h) || h->magic != DEMO_MAGIC || h->producer >= DEMO_PRODUCERS ||
	    h->len != c->len - sizeof(*h))
		return false;
	*sum = demo_checksum(h + 1, h->len);
	return *sum == h->checksum;
}

static int work_one(struct demo_board *bd, zr_arena *a, zr_agent *ag, int index, zr_claim *c)
{
	uint64_t sum = 0;
	if (!payload_ok(c, &sum)) {
		atomic_fetch_add(&bd->bad_payloads, 1);
		return zr_job_fail(ag, c, "payload checksum mismatch", false);
	}
	const struct demo_payload *h = c->data;
	if (c->retries == 0 && h->seq % bd->fail_every == (uint32_t)index) {
		atomic_fetch_add(&bd->failed_on_purpose, 1);
		return zr_job_fail(ag, c, "failed on purpose: retried after a backoff", true);
	}
	zr_payload res;
	int rc = zr_payload_alloc(a, sizeof(struct demo_result), &res);
	if (rc)
		return zr_job_fail(ag, c, "no room for the result", true);
	*(struct demo_result *)zr_payload_ptr(a, res) =
		(struct demo_result){DEMO_MAGIC, (uint32_t)index, sum};
	uint32_t producer = h->producer, seq = h->seq; /* the job may go once completed */
	rc = zr_job_complete(ag, c, res, sizeof(struct demo_result));
	if (rc) {
		DEMO_IGNORE(zr_payload_free(a, res));
		return rc == ZR_ELEASE || rc == -ECANCELED ? 0 : rc;
	}
	atomic_fetch_add(&bd->tally[producer][seq], 1);
	atomic_fetch_add(&bd->completions[index], 1);
	return 0;
}

int demo_worker(struct demo_board *bd, int index)
{
	char name[32];
	snprintf(name, sizeof(name), "worker-%d", index);
	zr_arena *a;
	zr_agent *ag;
	/* a dead worker's queued jobs go to the shared queue for the others */
	if (demo_attach(bd, name, ZR_ON_DEATH_TO_SHARED, (unsigned)index,
			DEMO_PRODUCERS + (unsigned)index, &a, &ag) != 0)
		return 1;
	int rc = 0;
	while (rc == 0) {
		zr_claim c;
		int got = zr_job_claim_wait(ag, &c, 20000000);
		if (got < 0 && got != -EINTR) {
			rc = got;
			break;
		}
		if (got == 1)
			rc = work_one(bd, a, ag, index, &c);
		else if (atomic_load(&bd->stop_workers))
			break;
	}
	if (rc)
		fprintf(stderr, "%s: %s\n", name, zr_strerror(rc));
	zr_agent_unregister(ag);
	zr_arena_close(a);
	return rc ? 1 : 0;
}
