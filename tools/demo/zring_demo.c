/* zring_demo: producers and workers in separate processes exchange payloads
 * through a priority inbox in one arena, written and read in place; one
 * producer is killed midway and the arena is recovered; a closing summary.
 *
 * Usage: zring_demo [--messages N] (per producer, default 200000) */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zring.h"

#define PRODUCERS 2
#define WORKERS 2
#define MAGIC 0x44454d4fu

struct message {
	uint32_t magic;
	uint32_t producer;
	uint64_t seq;
	uint64_t sent_ns;
	uint32_t len;
	uint32_t checksum;
};

struct board { /* process-shared counters, outside the arena */
	_Atomic uint64_t received[ZR_PRIO_COUNT];
	_Atomic uint64_t bytes;
	_Atomic uint64_t bad;
	_Atomic uint64_t lat_ns_sum;
	_Atomic uint64_t lat_max_ns;
	_Atomic int stop;
};

static char arena_name[64];
static struct board *board;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t sum_bytes(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

static int attach(zr_arena **a, zr_inbox **ib)
{
	zr_diag d;
	int rc = zr_arena_open(arena_name, 0, a, &d);
	if (rc) {
		fprintf(stderr, "zring_demo: %s\n", d.msg);
		return rc;
	}
	return zr_inbox_open(*a, "jobs", ib);
}

static void produce(unsigned id, uint64_t count)
{
	zr_arena *a;
	zr_inbox *ib;
	if (attach(&a, &ib))
		_exit(2);
	uint64_t rng = id * 7919 + 1;
	for (uint64_t seq = 0; seq < count && !atomic_load(&board->stop); seq++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		uint32_t len = 64 + (uint32_t)(rng >> 40) % 4000;
		zr_payload p;
		if (zr_payload_alloc(a, sizeof(struct message) + len, &p) != 0) {
			seq--;
			continue;
		}
		struct message *m = zr_payload_ptr(a, p); /* written in place */
		uint8_t *body = (uint8_t *)(m + 1);
		memset(body, (int)seq, len);
		*m = (struct message){MAGIC, id, seq, now_ns(), len, sum_bytes(body, len)};
		unsigned prio = (unsigned)(rng >> 33) % ZR_PRIO_COUNT;
		while (!zr_inbox_push(ib, prio, p.v))
			sched_yield();
	}
	zr_inbox_close(ib);
	zr_arena_close(a);
	_exit(0);
}

static void note_latency(uint64_t sent)
{
	uint64_t lat = now_ns() - sent;
	atomic_fetch_add(&board->lat_ns_sum, lat);
	uint64_t max = atomic_load(&board->lat_max_ns);
	while (lat > max && !atomic_compare_exchange_weak(&board->lat_max_ns, &max, lat))
		;
}

static void work(void)
{
	zr_arena *a;
	zr_inbox *ib;
	if (attach(&a, &ib))
		_exit(2);
	uint64_t v;
	unsigned prio;
	for (;;) {
		int rc = zr_inbox_pop_wait(ib, &v, &prio, 50000000);
		if (rc == -ETIMEDOUT && atomic_load(&board->stop))
			break;
		if (rc)
			continue;
		zr_payload p = {v};
		const struct message *m = zr_payload_ptr(a, p); /* read in place */
		if (!m || m->magic != MAGIC ||
		    sum_bytes((const uint8_t *)(m + 1), m->len) != m->checksum)
			atomic_fetch_add(&board->bad, 1);
		else
			atomic_fetch_add(&board->bytes, sizeof(*m) + m->len);
		if (m)
			note_latency(m->sent_ns);
		atomic_fetch_add(&board->received[prio], 1);
		if (zr_payload_free(a, p) != 0)
			atomic_fetch_add(&board->bad, 1);
	}
	zr_inbox_close(ib);
	zr_arena_close(a);
	_exit(0);
}

static pid_t spawn(void (*fn)(void), unsigned id, uint64_t count)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (fn)
			fn();
		produce(id, count);
	}
	return pid;
}

static void summary(zr_arena *a, zr_inbox *ib, double secs, const zr_recover_report *rep,
		    uint64_t orphans)
{
	uint64_t total = 0;
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++)
		total += atomic_load(&board->received[p]);
	printf("\nzring demo: %d producers, %d workers, one producer killed midway\n", PRODUCERS,
	       WORKERS);
	printf("  messages   %" PRIu64
	       " in %.2f s = %.0f msg/s, %.1f MB/s written and read in place\n",
	       total, secs, (double)total / secs, (double)atomic_load(&board->bytes) / secs / 1e6);
	printf("  by priority critical %" PRIu64 ", high %" PRIu64 ", normal %" PRIu64
	       ", low %" PRIu64 "\n",
	       atomic_load(&board->received[0]), atomic_load(&board->received[1]),
	       atomic_load(&board->received[2]), atomic_load(&board->received[3]));
	printf("  latency    mean %.1f us, max %.1f us (send to receive, incl. queueing)\n",
	       total ? (double)atomic_load(&board->lat_ns_sum) / (double)total / 1e3 : 0.0,
	       (double)atomic_load(&board->lat_max_ns) / 1e3);
	printf("  recovery   dead processes %u, ring entries dropped %" PRIu64
	       ", redelivered %" PRIu64 ", cached blocks returned %" PRIu64
	       ", orphans freed %" PRIu64 "\n",
	       rep->procs_dead, rep->ring_drops, rep->ring_redelivers, rep->blocks_freed, orphans);
	zr_slab_class_stats st[ZR_SLAB_MAX_CLASSES];
	size_t n;
	uint64_t leaked = 0;
	zr_slab_stat(a, st, ZR_SLAB_MAX_CLASSES, &n);
	for (size_t i = 0; i < n; i++)
		leaked += st[i].in_use + st[i].cached;
	zr_diag d = {0};
	int check = zr_arena_check(a, &d);
	printf("  corrupt payloads %" PRIu64 ", blocks leaked %" PRIu64
	       ", inbox left %u, check %s\n",
	       atomic_load(&board->bad), leaked, zr_inbox_count(ib), check ? d.msg : "ok");
}

int main(int argc, char **argv)
{
	uint64_t count = 200000;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--messages"))
			count = strtoull(argv[i + 1], NULL, 0);
	board = mmap(NULL, sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	snprintf(arena_name, sizeof(arena_name), "zring-demo-%d", (int)getpid());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)64 << 20);
	zr_arena *a;
	zr_inbox *ib;
	zr_diag d;
	int rc = zr_arena_create(arena_name, &cfg, &a, &d);
	zr_inbox_config icfg = {1024, ZR_WAIT_SPIN_FUTEX, 8};
	if (rc || (rc = zr_inbox_create(a, "jobs", &icfg, &ib)) != 0) {
		fprintf(stderr, "zring_demo: %s\n", rc ? d.msg : zr_strerror(rc));
		return 1;
	}
	uint64_t t0 = now_ns();
	pid_t workers[WORKERS], producers[PRODUCERS];
	for (unsigned i = 0; i < WORKERS; i++)
		workers[i] = spawn(work, i, 0);
	for (unsigned i = 0; i < PRODUCERS; i++)
		producers[i] = spawn(NULL, i, count);
	usleep(100000);
	kill(producers[0], SIGKILL); /* midway: whatever it held must come back */
	zr_recover_report rep = {0};
	for (unsigned i = 0; i < PRODUCERS; i++)
		waitpid(producers[i], NULL, 0);
	while (zr_inbox_count(ib) > 0)
		usleep(1000);
	atomic_store(&board->stop, 1);
	for (unsigned i = 0; i < WORKERS; i++)
		waitpid(workers[i], NULL, 0);
	double secs = (double)(now_ns() - t0) / 1e9;
	uint64_t orphans = 0;
	if (zr_arena_recover(a, &rep) != 0 || zr_slab_free_orphans(a, NULL, NULL, &orphans) != 0)
		fprintf(stderr, "zring_demo: recovery failed\n");
	zr_slab_cache_flush(a);
	summary(a, ib, secs, &rep, orphans);
	zr_inbox_close(ib);
	zr_arena_close(a);
	if (zr_arena_unlink(arena_name) != 0)
		return 1;
	return atomic_load(&board->bad) ? 1 : 0;
}
