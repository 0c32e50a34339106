/* zring_demo: producer and worker processes, pinned, exchange jobs at all
 * four priorities through one arena, payloads written and read in place;
 * one worker is killed with SIGKILL midway and its jobs are recovered; a
 * closing summary checks that every job completed exactly once and that
 * nothing leaked.
 *
 * Usage: zring_demo [--jobs N] (per producer, default 100000)
 *                   [--no-kill] [--keep] (leave the arena for `zring stat`)
 * Exit status: 0 when every check holds, 1 otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

#define KILL_AT 0.4 /* of all jobs finished */

struct options {
	uint32_t jobs;
	bool kill, keep;
};

static int parse(int argc, char **argv, struct options *o)
{
	*o = (struct options){100000, true, false};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			unsigned long n = strtoul(argv[++i], NULL, 0);
			if (n == 0 || n > DEMO_MAX_JOBS) {
				fprintf(stderr, "zring_demo: --jobs takes 1 .. %u\n",
					DEMO_MAX_JOBS);
				return -1;
			}
			o->jobs = (uint32_t)n;
		} else if (!strcmp(argv[i], "--no-kill")) {
			o->kill = false;
		} else if (!strcmp(argv[i], "--keep")) {
			o->keep = true;
		} else {
			fprintf(stderr, "usage: zring_demo [--jobs N] [--no-kill] [--keep]\n");
			return -1;
		}
	}
	return 0;
}

static pid_t spawn(struct demo_board *bd, int (*role)(struct demo_board *, int), int index)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(role(bd, index));
	return pid;
}

/* Wait until the workers are registered, so producers can target them. */
static int wait_workers(zr_arena *a)
{
	for (int tries = 0; tries < 5000; tries++) {
		if (zr_agent_lookup(a, "worker-0") && zr_agent_lookup(a, "worker-1"))
			return 0;
		usleep(1000);
	}
	fprintf(stderr, "zring_demo: the workers did not register within 5 s\n");
	return -1;
}

/* SIGKILL worker-1 once KILL_AT of the jobs are done, then recover. */
static void kill_midway(struct demo_board *bd, zr_arena *a, pid_t victim, uint64_t total,
			uint64_t t0)
{
	while (atomic_load(&bd->finished) < (uint64_t)(KILL_AT * (double)total))
		usleep(500);
	zr_agent_info info = {0};
	DEMO_IGNORE(zr_agent_get(a, zr_agent_lookup(a, "worker-1"), &info));
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	uint64_t t = demo_now_ns();
	zr_jobs_recover_report rep = {0};
	int rc = zr_jobs_recover(a, &rep);
	printf("  t=%.2f s  SIGKILL worker-1 (pid %d, %" PRIu64 " completions so far, inbox %u)\n",
	       (double)(t - t0) / 1e9, (int)victim, atomic_load(&bd->completions[1]),
	       info.inbox_depth);
	printf("            recovered in %.0f us: %u agent dead, %" PRIu64
	       " jobs it held back to pending, %" PRIu64 " inbox jobs to the shared queue, %" PRIu64
	       " payloads freed, %" PRIu64 " half-done records repaired%s\n",
	       (double)(demo_now_ns() - t) / 1e3, rep.agents_dead, rep.jobs_requeued,
	       rep.jobs_moved, rep.payloads_freed, rep.jobs_repaired,
	       rc ? " (recovery FAILED)" : "");
}

static void print_placements(const struct demo_board *bd)
{
	const char *roles[] = {"producer-0", "producer-1", "worker-0", "worker-1"};
	printf("  placement (hwloc, one core each where there are enough):\n");
	for (int i = 0; i < DEMO_PRODUCERS + DEMO_WORKERS; i++)
		printf("    %-10s cpus %-4s %s\n", roles[i], bd->place[i].cpus, bd->place[i].note);
}

static double us(const zr_hist *h, double pct)
{
	return (double)zr_hist_percentile(h, pct) / 1e3;
}

static void latency_row(const char *label, const zr_hist *h)
{
	printf("    %-9s %9" PRIu64 " %8.1f %8.1f %8.1f %8.1f %8.1f\n", label, h->count, us(h, 50),
	       us(h, 90), us(h, 99), us(h, 99.9), (double)h->max / 1e3);
}

static void print_latency(const struct demo_board *bd, const zr_jobs_stats *js)
{
	printf("  latency, submit -> complete (us), by priority:\n");
	printf("    %-9s %9s %8s %8s %8s %8s %8s\n", "", "jobs", "p50", "p90", "p99", "p99.9",
	       "max");
	zr_hist all = {0};
	for (uint32_t p = 0; p < ZR_PRIO_COUNT; p++) {
		zr_hist h = {0};
		for (int i = 0; i < DEMO_PRODUCERS; i++)
			zr_hist_merge(&h, &bd->latency[i][p]);
		zr_hist_merge(&all, &h);
		latency_row(zr_prio_name(p), &h);
	}
	latency_row("all", &all);
	printf("  inside the runtime: submit -> claim p50 %.1f us p99 %.1f us; claim -> complete "
	       "p50 %.1f us p99 %.1f us\n",
	       us(&js->claim_latency, 50), us(&js->claim_latency, 99),
	       us(&js->complete_latency, 50), us(&js->complete_latency, 99));
}

/* Tally the board: lost or doubled jobs. */
static uint64_t count_doubles(const struct demo_board *bd)
{
	uint64_t doubles = 0;
	for (int p = 0; p < DEMO_PRODUCERS; p++)
		for (uint32_t s = 0; s < bd->jobs; s++)
			doubles += atomic_load(&bd->tally[p][s]) > 1;
	return doubles;
}

/* Everything back: no payload block, no job record, the arena checks out. */
static uint64_t count_leaks(zr_arena *a, const zr_jobs_stats *js, char *why, size_t cap)
{
	zr_slab_class_stats st[ZR_SLAB_MAX_CLASSES + 1];
	size_t n = 0;
	zr_slab_stat(a, st, ZR_SLAB_MAX_CLASSES + 1, &n);
	uint64_t blocks = 0, records = 0;
	for (size_t i = 0; i < n; i++)
		blocks += st[i].in_use + st[i].cached;
	for (uint32_t s = ZR_JOB_FREE + 1; s < ZR_JOB_STATUS_COUNT; s++)
		records += js->by_status[s];
	zr_diag d = {0};
	int check = zr_arena_check(a, &d);
	snprintf(why, cap,
		 "payload blocks in use %" PRIu64 ", job records in use %" PRIu64
		 ", arena check %.120s",
		 blocks, records, check ? d.msg : "ok");
	return blocks + records + (check != 0);
}

static int summary(struct demo_board *bd, zr_arena *a, double secs, uint64_t total)
{
	zr_jobs_recover_report rep = {0};
	DEMO_IGNORE(zr_jobs_recover(a, &rep)); /* the exited: nothing should be left */
	zr_slab_cache_flush(a);
	zr_jobs_stats js;
	zr_jobs_stat(a, &js);
	uint64_t finished = atomic_load(&bd->finished), doubles = count_doubles(bd);
	uint64_t lost = total - finished + atomic_load(&bd->not_completed);
	uint64_t bad = atomic_load(&bd->bad_payloads) + atomic_load(&bd->bad_results);
	char why[320];
	uint64_t leaks = count_leaks(a, &js, why, sizeof(why));
	printf("\nsummary\n");
	printf("  jobs        %" PRIu64 " submitted, %" PRIu64 " completed: %.0f jobs/s, %.0f MB/s "
	       "of payload (64 B .. 16 KiB) written and read in place, %.2f s\n",
	       js.submitted, js.completed, (double)finished / secs,
	       (double)atomic_load(&bd->payload_bytes) / secs / 1e6, secs);
	printf("  by worker   worker-0 %" PRIu64 ", worker-1 %" PRIu64 "\n",
	       atomic_load(&bd->completions[0]), atomic_load(&bd->completions[1]));
	print_latency(bd, &js);
	printf("  retries     %" PRIu64 " (failed once on purpose %" PRIu64
	       ", taken back from the dead %" PRIu64 "), table full %" PRIu64 " times\n",
	       js.retried, atomic_load(&bd->failed_on_purpose), js.recovered,
	       atomic_load(&bd->full_waits));
	printf("  checks      lost %" PRIu64 ", completed twice %" PRIu64 ", bad payloads or "
	       "results %" PRIu64 "\n",
	       lost, doubles, bad);
	printf("  leaks: %" PRIu64 " (%s)\n", leaks, why);
	return lost || doubles || bad || leaks ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse(argc, argv, &o) != 0)
		return 2;
	struct demo_board *bd = mmap(NULL, sizeof(*bd), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bd == MAP_FAILED)
		return perror("zring_demo: mmap"), 1;
	bd->jobs = o.jobs;
	bd->fail_every = 100;
	snprintf(bd->arena, sizeof(bd->arena), "zring-demo-%d", (int)getpid());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)64 << 20);
	zr_arena *a;
	zr_diag d;
	if (zr_arena_create(bd->arena, &cfg, &a, &d) != 0)
		return fprintf(stderr, "zring_demo: %s\n", d.msg), 1;
	char machine[ZR_PLACE_DESCRIBE_LEN];
	if (zr_place_describe(machine, sizeof(machine)) != 0)
		snprintf(machine, sizeof(machine), "topology unknown");
	uint64_t total = (uint64_t)o.jobs * DEMO_PRODUCERS;
	printf("zring demo: %d producers, %d workers, %" PRIu64
	       " jobs at four priorities, arena %s (64 MiB)\n  machine: %s\n",
	       DEMO_PRODUCERS, DEMO_WORKERS, total, bd->arena, machine);

	pid_t workers[DEMO_WORKERS], producers[DEMO_PRODUCERS];
	for (int i = 0; i < DEMO_WORKERS; i++)
		workers[i] = spawn(bd, demo_worker, i);
	int rc = wait_workers(a);
	uint64_t t0 = demo_now_ns();
	for (int i = 0; rc == 0 && i < DEMO_PRODUCERS; i++)
		producers[i] = spawn(bd, demo_producer, i);
	if (rc == 0 && o.kill)
		kill_midway(bd, a, workers[1], total, t0);
	int status, failed = rc != 0;
	for (int i = 0; rc == 0 && i < DEMO_PRODUCERS; i++)
		failed |= waitpid(producers[i], &status, 0) < 0 || status != 0;
	double secs = (double)(demo_now_ns() - t0) / 1e9;
	atomic_store(&bd->stop_workers, 1);
	for (int i = 0; i < DEMO_WORKERS; i++)
		if (!(o.kill && i == 1))
			failed |= waitpid(workers[i], &status, 0) < 0 || status != 0;
	print_placements(bd);
	failed |= summary(bd, a, secs, total);
	zr_arena_close(a);
	if (o.keep)
		printf("arena %s kept: inspect it with `build/release/tools/zring stat %s`;\n"
		       "`zring gc` removes it once stale, or `rm /dev/shm/%s`\n",
		       bd->arena, bd->arena, bd->arena);
	else if (zr_arena_unlink(bd->arena) != 0)
		failed = 1;
	printf("%s\n", failed ? "demo FAILED" : "demo ok");
	return failed;
}
