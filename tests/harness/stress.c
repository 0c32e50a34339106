#include "stress.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 512u /* words written or read per memcpy */
#define NSTATS (ZR_SLAB_MAX_CLASSES + 1)

void zr_stress_parse(int argc, char **argv, const char *count_flag, uint64_t count_default,
		     struct zr_stress_opt *o)
{
	o->count = zr_test_scale(count_default);
	o->timeout_s = zr_test_sanitized() ? 240 : 120;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], count_flag))
			o->count = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--timeout"))
			o->timeout_s = (unsigned)strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--max-size"))
			o->max_size = (size_t)strtoull(argv[i + 1], NULL, 0);
	}
	if (o->max_size < ZR_STRESS_MIN_SIZE || o->max_size > ZR_STRESS_MAX_SIZE)
		o->max_size = ZR_STRESS_MAX_SIZE;
	if (o->count == 0 || o->count > ZR_STRESS_SEQ_MASK)
		o->count = 1;
}

uint64_t zr_stress_deadline(unsigned seconds)
{
	return zr_test_now_ns() + (uint64_t)seconds * 1000000000u;
}

uint64_t zr_stress_tag(uint64_t magic, unsigned from, uint64_t seq)
{
	return magic << 56 | (uint64_t)from << ZR_STRESS_SEQ_BITS | seq;
}

unsigned zr_stress_tag_from(uint64_t tag)
{
	return (unsigned)(tag >> ZR_STRESS_SEQ_BITS) & 0xffu;
}

uint64_t zr_stress_tag_seq(uint64_t tag)
{
	return tag & ZR_STRESS_SEQ_MASK;
}

/* Word i of the payload tagged `tag` (words 0 and 1 hold tag and size). */
static uint64_t pattern(uint64_t tag, uint64_t i)
{
	uint64_t x = (tag ^ i * 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
	return x ^ x >> 31;
}

/* Words i .. i+n-1 of the payload tagged `tag`: tag, size, then the pattern. */
static void make_chunk(uint64_t *buf, size_t i, size_t n, uint64_t tag, size_t size)
{
	for (size_t k = 0; k < n; k++)
		buf[k] = pattern(tag, i + k);
	if (i == 0) {
		buf[0] = tag;
		buf[1] = size;
	}
}

/* Bytes of the chunk of CHUNK words at word i (the last one may be short). */
static size_t chunk_bytes(size_t i, size_t size)
{
	size_t left = size - 8 * i;
	return left < 8 * CHUNK ? left : 8 * CHUNK;
}

/* Write in chunks: one memcpy per chunk keeps sanitizer builds fast. */
void zr_stress_fill(unsigned char *p, size_t size, uint64_t tag)
{
	uint64_t buf[CHUNK];
	for (size_t i = 0; 8 * i < size; i += CHUNK) {
		size_t bytes = chunk_bytes(i, size);
		make_chunk(buf, i, (bytes + 7) / 8, tag, size);
		memcpy(p + 8 * i, buf, bytes);
	}
}

size_t zr_stress_verify(const unsigned char *p, size_t size, uint64_t tag)
{
	uint64_t got[CHUNK], want[CHUNK];
	for (size_t i = 0; 8 * i < size; i += CHUNK) {
		size_t bytes = chunk_bytes(i, size);
		memcpy(got, p + 8 * i, bytes);
		make_chunk(want, i, (bytes + 7) / 8, tag, size);
		for (size_t k = 0; k < bytes / 8; k++)
			if (got[k] != want[k])
				return 8 * (i + k);
		for (size_t b = bytes & ~(size_t)7; b < bytes; b++)
			if (((unsigned char *)got)[b] != ((unsigned char *)want)[b])
				return 8 * i + b;
	}
	return size;
}

size_t zr_stress_pick_size(uint64_t *rng, size_t max_size)
{
	uint64_t r = zr_test_rand(rng);
	unsigned shift = 6 + (unsigned)(r % 13); /* 2^6 .. 2^18 */
	size_t size = (size_t)1 << shift;
	if ((r >> 8) % 8)
		size += (size_t)((r >> 16) % size);
	return size < max_size ? size : max_size;
}

void zr_stress_tally(const _Atomic uint8_t *counts, uint64_t total, uint64_t per, const char *who,
		     const char *verb, uint64_t *lost, uint64_t *dup)
{
	for (uint64_t i = 0; i < total; i++) {
		/* relaxed: written by producers and consumers that have finished */
		unsigned c = atomic_load_explicit(&counts[i], memory_order_relaxed);
		if (c == 1)
			continue;
		uint64_t *n = c == 0 || !dup ? lost : dup;
		if ((*n)++ < 5)
			fprintf(stderr, "%s %u seq %" PRIu64 " %s %u times\n", who,
				(unsigned)(i / per), i % per, verb, c);
	}
}

void zr_stress_kill_all(struct zr_stress_family *f)
{
	for (unsigned i = 0; i < f->n; i++) {
		if (f->done[i] || f->pid[i] <= 0)
			continue;
		kill(f->pid[i], SIGKILL);
		waitpid(f->pid[i], NULL, 0);
		f->done[i] = true;
	}
}

int zr_stress_reap_one(struct zr_stress_family *f, pid_t pid, int status, _Atomic uint32_t *failed)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->pid[i] == pid)
			f->done[i] = true;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "child %d %s %d\n", (int)pid,
		WIFEXITED(status) ? "exited with" : "was killed by signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	/* relaxed: a stop flag */
	atomic_store_explicit(failed, 1, memory_order_relaxed);
	return ZR_TEST_FAIL;
}

int zr_stress_wait_family(struct zr_stress_family *f, zr_arena *a, zr_ring *r,
			  _Atomic uint32_t *failed, unsigned timeout_s,
			  int (*live)(zr_arena *, zr_ring *), void (*dump)(zr_arena *, zr_ring *))
{
	uint64_t deadline = zr_stress_deadline(timeout_s);
	unsigned left = f->n;
	int rc = 0;
	while (left) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			rc |= zr_stress_reap_one(f, pid, status, failed);
			left--;
			continue;
		}
		if (zr_test_now_ns() > deadline) {
			fprintf(stderr, "watchdog: %u children still running after %u s\n", left,
				timeout_s);
			if (dump)
				dump(a, r);
			/* relaxed: a stop flag */
			atomic_store_explicit(failed, 1, memory_order_relaxed);
			zr_stress_kill_all(f);
			return ZR_TEST_FAIL;
		}
		if (!rc && live && live(a, r)) {
			atomic_store_explicit(failed, 1, memory_order_relaxed);
			rc = ZR_TEST_FAIL;
		}
		nanosleep(&(struct timespec){0, ZR_STRESS_POLL_NS}, NULL);
	}
	return rc;
}

int zr_stress_wait_ready(_Atomic uint32_t *ready, unsigned want, _Atomic uint32_t *failed,
			 unsigned timeout_s)
{
	uint64_t deadline = zr_stress_deadline(timeout_s);
	/* relaxed: the start barrier orders no data (the rings do) */
	while (atomic_load_explicit(ready, memory_order_relaxed) < want &&
	       !atomic_load_explicit(failed, memory_order_relaxed)) {
		ZR_CHECK(zr_test_now_ns() < deadline, "watchdog: children not attached after %u s",
			 timeout_s);
		sched_yield();
	}
	return atomic_load_explicit(failed, memory_order_relaxed) ? ZR_TEST_FAIL : 0;
}

void zr_stress_finish_or_die(_Atomic uint32_t *finished, unsigned n, const char *arena)
{
	uint64_t deadline = zr_stress_deadline(5);
	/* relaxed: the caller joins before it reads anything else */
	while (atomic_load_explicit(finished, memory_order_relaxed) < n) {
		if (zr_test_now_ns() > deadline) {
			fprintf(stderr, "watchdog: workers stuck inside a library call\n");
			if (zr_arena_unlink(arena) != 0)
				fprintf(stderr, "zr_arena_unlink(%s) failed\n", arena);
			_exit(ZR_TEST_FAIL);
		}
		nanosleep(&(struct timespec){0, ZR_STRESS_POLL_NS}, NULL);
	}
}

int zr_stress_slab_idle(zr_arena *a, const char *when)
{
	zr_slab_class_stats st[NSTATS];
	size_t n;
	zr_slab_stat(a, st, NSTATS, &n);
	for (size_t i = 0; i < n; i++)
		ZR_CHECK(st[i].in_use == 0 && st[i].cached == 0 && st[i].orphans == 0 &&
				 st[i].free == st[i].blocks,
			 "%s %" PRIu64 ": in_use %" PRIu64 " cached %" PRIu64 " orphans %" PRIu64
			 " free %" PRIu64 " of %" PRIu64 " %s",
			 st[i].block_size ? "class" : "large", st[i].block_size, st[i].in_use,
			 st[i].cached, st[i].orphans, st[i].free, st[i].blocks, when);
	return 0;
}
