/* Host-proxy GPU workers: claim a batch of jobs, launch the user's kernel
 * on their payloads in place, wait, complete the jobs from what the kernel
 * wrote. With no zr_gpu the same loop runs the "kernel" on the CPU. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_impl.h"
#include "zring/job.h"

#define MAX_BATCH 4096u

struct zr_gpu_worker {
	zr_gpu *g; /* NULL: the CPU path */
	zr_agent *ag;
	zr_arena *a;
	zr_gpu_worker_config cfg;
	void *stream;
	zr_gpu_item *items;	/* the CPU's view of the batch */
	zr_gpu_item *items_dev; /* the kernel's (pinned, mapped) */
	zr_claim *claims;
	zr_payload *results;
	zr_gpu_worker_stats st;
};

void zr_gpu_worker_config_init(zr_gpu_worker_config *cfg, zr_gpu_launch_fn launch, void *user)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->launch = launch;
	cfg->user = user;
	cfg->batch = 64;
	cfg->wait_ns = 1000000;
}

int zr_gpu_worker_create(zr_gpu *g, zr_agent *ag, const zr_gpu_worker_config *cfg,
			 zr_gpu_worker **out, zr_diag *diag)
{
	*out = NULL;
	int rc = zri_gpu_check_pid(g, diag);
	if (rc)
		return rc;
	if (!ag || !cfg || !cfg->launch || cfg->batch == 0 || cfg->batch > MAX_BATCH)
		return zri_gpu_fail(diag, -EINVAL,
				    "worker needs an agent, a launch function and a batch of 1..%u",
				    MAX_BATCH);
	if (g && zr_agent_arena(ag) != g->arena)
		return zri_gpu_fail(diag, -EINVAL, "the agent's arena is not the one registered");
	zr_gpu_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->g = g;
	w->ag = ag;
	w->a = zr_agent_arena(ag);
	w->cfg = *cfg;
	w->claims = calloc(cfg->batch, sizeof(*w->claims));
	w->results = calloc(cfg->batch, sizeof(*w->results));
	size_t bytes = cfg->batch * sizeof(zr_gpu_item);
	if (!w->claims || !w->results) {
		rc = -ENOMEM;
	} else if (g) {
		void *host = NULL, *dev = NULL;
		rc = zri_gpu_pinned_alloc(g, bytes, &host, &dev, diag);
		w->items = host;
		w->items_dev = dev;
		if (rc == 0)
			rc = zri_gpu_stream_create(g, &w->stream, diag);
	} else {
		w->items = w->items_dev = calloc(1, bytes);
		rc = w->items ? 0 : -ENOMEM;
	}
	if (rc) {
		zr_gpu_worker_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

void zr_gpu_worker_destroy(zr_gpu_worker *w)
{
	if (!w)
		return;
	if (w->g) {
		if (w->stream)
			zri_gpu_stream_destroy(w->g, w->stream);
		if (w->items)
			zri_gpu_pinned_free(w->g, w->items);
	} else {
		free(w->items);
	}
	free(w->claims);
	free(w->results);
	free(w);
}

void zr_gpu_worker_stat(const zr_gpu_worker *w, zr_gpu_worker_stats *out)
{
	*out = w->st;
}

/* Claim up to cfg.batch jobs. Returns how many, or a negative error. */
static int gather(zr_gpu_worker *w)
{
	int rc = zr_job_claim_wait(w->ag, &w->claims[0], w->cfg.wait_ns);
	if (rc == 0 || rc == -ECANCELED || rc == -EINTR)
		return 0;
	if (rc < 0)
		return rc;
	unsigned n = 1;
	uint64_t deadline = zri_gpu_now_ns() + w->cfg.gather_ns;
	while (n < w->cfg.batch) {
		rc = zr_job_claim(w->ag, &w->claims[n]);
		if (rc == 0) {
			uint64_t t = zri_gpu_now_ns();
			if (t >= deadline)
				break;
			rc = zr_job_claim_wait(w->ag, &w->claims[n], (int64_t)(deadline - t));
			if (rc == -ECANCELED || rc == -EINTR)
				break;
		}
		if (rc < 0)
			break; /* keep what was claimed; the error shows again next step */
		n += (unsigned)rc;
	}
	return (int)n;
}

static void fail_job(zr_gpu_worker *w, const zr_claim *c, const char *why, bool retry)
{
	/* A refused fail (lease over, cancelled) leaves the job to its new state. */
	if (zr_job_fail(w->ag, c, why, retry) != 0)
		w->st.lost++;
	else
		w->st.failed++;
}

/* Free a result payload still ours. It was allocated by this worker a
 * moment ago, so a failure would mean the arena is corrupt; the next
 * zr_arena_check() will say so, nothing here can do better. */
static void free_payload(zr_gpu_worker *w, zr_payload p)
{
	if (p.v && zr_payload_free(w->a, p) != 0)
		w->st.lost++;
}

static void drop_result(zr_gpu_worker *w, unsigned i)
{
	free_payload(w, w->results[i]);
	w->results[i] = ZR_PAYLOAD_NULL;
}

/* Fill the items of the claimed jobs; jobs that cannot run are finished
 * here and dropped from the batch. Returns the jobs left. */
static unsigned prepare(zr_gpu_worker *w, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		zr_claim c = w->claims[i];
		if (c.flags & (ZR_JOBF_COMPRESSED | ZR_JOBF_BLOB)) {
			const char *why =
				c.flags & ZR_JOBF_BLOB
					? "blob payload: a GPU worker reads the arena in place"
					: "compressed payload: a GPU worker reads in place";
			if (zr_job_fail(w->ag, &c, why, false) == 0)
				w->st.rejected++;
			else
				w->st.lost++;
			continue;
		}
		zr_gpu_item it = {.in_len = c.len, .job = c.id, .type = c.type};
		void *in = NULL;
		if (c.data && zri_gpu_to_dev(w->g, c.data, c.len, &in) != 0) {
			fail_job(w, &c, "payload outside the registered arena", false);
			continue;
		}
		it.in = in;
		zr_payload res = ZR_PAYLOAD_NULL;
		if (w->cfg.result_bytes) {
			void *host = NULL, *out = NULL;
			if (zr_payload_alloc(w->a, w->cfg.result_bytes, &res) != 0 ||
			    !(host = zr_payload_ptr(w->a, res)) ||
			    zri_gpu_to_dev(w->g, host, w->cfg.result_bytes, &out) != 0) {
				free_payload(w, res);
				fail_job(w, &c, "no result payload (arena full)", true);
				continue;
			}
			it.out = out;
			it.out_cap = w->cfg.result_bytes;
		}
		w->claims[k] = c;
		w->results[k] = res;
		w->items[k] = it;
		k++;
	}
	return k;
}

static void fail_batch(zr_gpu_worker *w, unsigned n, const char *why)
{
	for (unsigned i = 0; i < n; i++) {
		drop_result(w, i);
		fail_job(w, &w->claims[i], why, true);
	}
}

static void finish(zr_gpu_worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const zr_gpu_item *it = &w->items[i];
		const zr_claim *c = &w->claims[i];
		if (it->status != 0) {
			drop_result(w, i);
			char why[48];
			snprintf(why, sizeof(why), "GPU kernel status %d", (int)it->status);
			fail_job(w, c, why, true);
		} else if (it->out_len > it->out_cap) {
			drop_result(w, i);
			fail_job(w, c, "GPU kernel wrote out_len beyond out_cap", false);
		} else if (zr_job_complete(w->ag, c, w->results[i], it->out_len) == 0) {
			w->results[i] = ZR_PAYLOAD_NULL; /* the job owns it now */
			w->st.completed++;
		} else {
			drop_result(w, i); /* lease over or cancelled: still ours */
			w->st.lost++;
		}
	}
}

int zr_gpu_worker_step(zr_gpu_worker *w, zr_diag *diag)
{
	int rc = zri_gpu_check_pid(w->g, diag);
	if (rc == 0 && w->g)
		rc = zri_gpu_bind_thread(w->g, diag);
	if (rc)
		return rc;
	int got = gather(w);
	if (got <= 0)
		return got;
	unsigned n = prepare(w, (unsigned)got);
	if (n == 0)
		return got;
	uint64_t t0 = zri_gpu_now_ns();
	rc = w->cfg.launch(w->cfg.user, w->items_dev, n, w->stream);
	if (rc != 0) {
		fail_batch(w, n, "GPU launch callback refused the batch");
		return got;
	}
	if (w->g && ((rc = zri_gpu_launch_check(w->g, diag)) != 0 ||
		     (rc = zri_gpu_stream_sync(w->g, w->stream, diag)) != 0)) {
		fail_batch(w, n, diag ? diag->msg : "CUDA launch or kernel failed");
		return rc;
	}
	w->st.gpu_ns += zri_gpu_now_ns() - t0;
	w->st.batches++;
	w->st.jobs += n;
	if (n > w->st.largest_batch)
		w->st.largest_batch = n;
	finish(w, n);
	return got;
}

int zr_gpu_worker_run(zr_gpu_worker *w, const int *stop, zr_diag *diag)
{
	/* acquire: pairs with the caller's store of *stop, so what it wrote
	 * before asking us to stop is visible. The int is accessed as an
	 * _Atomic int, which has the same size and alignment on every ABI
	 * zring builds for. */
	while (!atomic_load_explicit((const _Atomic int *)stop, memory_order_acquire)) {
		int rc = zr_gpu_worker_step(w, diag);
		if (rc < 0)
			return rc;
		zr_agent_heartbeat(w->ag);
	}
	return 0;
}
