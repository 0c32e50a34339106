/* tests/unit/test_ring_repair.c: the states a killed process leaves in a
 * ring, crafted by hand, and their repair (rings/ring_mpmc.c):
 *   WRITING(p, dead) -> FREE(p + cap): the entry is dropped;
 *   TAKEN(p, dead)   -> FULL(p + cap): the entry is published again.
 * Repairs happen on the way (a producer or consumer that meets the slot) or
 * through zr_arena_recover(); a slot of a live owner is never touched. Also:
 * an SPSC ring whose producer is SIGKILLed mid-stream is taken over. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rings/inbox_impl.h"
#include "rings/ring_impl.h"
#include "test.h"

static zr_arena *g_arena;
static char g_name[64];

/* The slot state encoding of rings/ring_mpmc.c. */
#define POS_MASK ((UINT64_C(1) << 40) - 1)

static uint64_t st_make(uint64_t pos, uint32_t owner, uint32_t kind)
{
	return (pos & POS_MASK) << 24 | (uint64_t)(owner & ZRI_OWNER_MASK) << 2 | kind;
}

static struct zri_slot *slot_of(zr_ring *r, uint64_t pos)
{
	return &((struct zri_slot *)r->slots)[pos & r->mask];
}

static void set_slot(zr_ring *r, uint64_t pos, uint32_t owner, uint32_t kind)
{
	atomic_store(&slot_of(r, pos)->a_state, st_make(pos, owner, kind));
}

static int setup(void **state)
{
	(void)state;
	g_arena = zr_test_arena((size_t)2 << 20, g_name);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	int rc = zr_arena_close(g_arena);
	if (zr_arena_unlink(g_name) == 0)
		zr_test_forget(g_name);
	return rc;
}

static zr_ring *new_ring(uint32_t kind, uint32_t cap)
{
	zr_ring_config cfg = {kind, cap, ZR_WAIT_SPIN};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &cfg, &r), 0);
	return r;
}

static zr_ring_stats stat_of(const zr_ring *r)
{
	zr_ring_stats s;
	zr_ring_stat(r, &s);
	return s;
}

/* A child attaches read-write, reports its owner id and then either exits
 * at once without detaching, or waits until *hold is closed. */
struct owner {
	pid_t pid;
	uint32_t id;
	int hold; /* write end the child waits on; -1 when it exits at once */
};

static struct owner spawn_owner(bool stay)
{
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		zr_arena *a = NULL;
		zr_arena_info info = {0};
		if (zr_arena_open(g_name, 0, &a, NULL) == 0)
			zr_arena_info_get(a, &info);
		bool ok = write(up[1], &info.self, sizeof(info.self)) == sizeof(info.self);
		char c;
		if (stay)
			ok = read(down[0], &c, 1) >= 0 && ok;
		_exit(ok ? 0 : 1); /* no zr_arena_close(): a crash, as far as the arena knows */
	}
	close(up[1]);
	close(down[0]);
	struct owner o = {pid, 0, down[1]};
	assert_int_equal(read(up[0], &o.id, sizeof(o.id)), sizeof(o.id));
	close(up[0]);
	assert_true(o.id != 0);
	if (!stay)
		o.hold = -1;
	return o;
}

static void reap_owner(struct owner *o)
{
	if (o->hold >= 0)
		close(o->hold);
	int st = 0;
	assert_int_equal(waitpid(o->pid, &st, 0), o->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static uint32_t dead_owner(void)
{
	struct owner o = spawn_owner(false);
	reap_owner(&o);
	assert_false(zr_arena_owner_alive(g_arena, o.id));
	return o.id;
}

/* Dequeue everything; the values must be want[0 .. n-1] in order. */
static void drain_expect(zr_ring *r, const uint64_t *want, unsigned n)
{
	uint64_t v;
	for (unsigned i = 0; i < n; i++) {
		assert_true(zr_ring_dequeue(r, &v));
		assert_int_equal(v, want[i]);
	}
	assert_false(zr_ring_dequeue(r, &v));
}

/* ---- repairs on the way ---------------------------------------------------- */

/* A producer reserved position 0 and died before publishing; it may or may
 * not have moved the tail on. Later entries must still come out, at once. */
static void writing_dead_at_head(bool tail_moved)
{
	uint32_t dead = dead_owner();
	zr_ring *r = new_ring(ZR_RING_MPMC, 8);
	set_slot(r, 0, dead, ZRI_SLOT_WRITING);
	atomic_store(&r->hdr->a_tail, tail_moved ? 1 : 0);
	assert_true(zr_ring_enqueue(r, 101));
	assert_true(zr_ring_enqueue(r, 102));
	uint64_t v = 0, t0 = zr_test_now_ns();
	assert_true(zr_ring_dequeue(r, &v));
	assert_true(zr_test_now_ns() - t0 < 100000000); /* repaired, not waited for */
	assert_int_equal(v, 101);
	assert_int_equal(stat_of(r).drops, 1);
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 102);
	assert_false(zr_ring_dequeue(r, &v));
	/* the repaired slot serves the next lap: the ring holds 8 again */
	uint64_t want[8];
	for (unsigned i = 0; i < 8; i++) {
		want[i] = 200 + i;
		assert_true(zr_ring_enqueue(r, want[i]));
	}
	assert_false(zr_ring_enqueue(r, 999));
	drain_expect(r, want, 8);
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.drops, 1);
	assert_int_equal(s.redelivers, 0);
	assert_int_equal(s.enqueued, 10);
	assert_int_equal(s.dequeued, 10);
	assert_int_equal(zr_ring_check(r, NULL), 0);
	zr_ring_close(r);
}

static void test_writing_dead_dropped(void **state)
{
	(void)state;
	writing_dead_at_head(true);
	writing_dead_at_head(false);
}

/* A consumer took position 0 (value 10) and died before releasing it. The
 * producer that comes round to that slot publishes it again one lap later. */
static void test_taken_dead_redelivered(void **state)
{
	(void)state;
	uint32_t dead = dead_owner();
	zr_ring *r = new_ring(ZR_RING_MPMC, 8);
	for (uint64_t i = 10; i <= 12; i++)
		assert_true(zr_ring_enqueue(r, i));
	set_slot(r, 0, dead, ZRI_SLOT_TAKEN);
	atomic_store(&r->hdr->a_head, 1);
	uint64_t v;
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 11);
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 12);
	assert_false(zr_ring_dequeue(r, &v));
	for (uint64_t i = 13; i <= 17; i++) /* positions 3 .. 7 */
		assert_true(zr_ring_enqueue(r, i));
	assert_int_equal(stat_of(r).redelivers, 0);
	assert_true(zr_ring_enqueue(r, 18)); /* meets the slot: 10 at 8, 18 at 9 */
	assert_int_equal(stat_of(r).redelivers, 1);
	static const uint64_t want[] = {13, 14, 15, 16, 17, 10, 18};
	drain_expect(r, want, 7);
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.redelivers, 1);
	assert_int_equal(s.drops, 0);
	assert_int_equal(s.enqueued, 9);
	assert_int_equal(s.dequeued, 9);
	assert_int_equal(zr_ring_check(r, NULL), 0);
	zr_ring_close(r);
}

/* ---- repairs by zr_arena_recover() ----------------------------------------- */

/* After the repairs of test_recover_repairs(): every entry comes out once. */
static void use_after_recover(zr_ring *wr, zr_ring *tk, zr_inbox *ib)
{
	/* the dropped position is skipped */
	uint64_t v;
	assert_false(zr_ring_dequeue(wr, &v));
	assert_true(zr_ring_enqueue(wr, 1));
	assert_true(zr_ring_dequeue(wr, &v));
	assert_int_equal(v, 1);
	/* 21 first; 20 again one lap on, after positions 2 .. 7 */
	uint64_t want[8] = {21};
	for (unsigned i = 0; i < 6; i++) {
		want[1 + i] = 40 + i;
		assert_true(zr_ring_enqueue(tk, want[1 + i]));
	}
	want[7] = 20;
	drain_expect(tk, want, 8);
	/* the inbox level: 30 comes back at position 8 of the critical ring */
	for (uint64_t i = 1; i < 8; i++)
		assert_true(zr_inbox_push(ib, ZR_PRIO_CRITICAL, 30 + i));
	unsigned prio = 9, seen30 = 0;
	while (zr_inbox_pop(ib, &v, &prio)) {
		assert_int_equal(prio, ZR_PRIO_CRITICAL);
		seen30 += v == 30;
	}
	assert_int_equal(seen30, 1);
}

/* One scan repairs a dead producer's slot (dropped), a dead consumer's
 * (redelivered) and one in a level of an inbox. */
static void test_recover_repairs(void **state)
{
	(void)state;
	uint32_t dead = dead_owner();
	zr_ring *wr = new_ring(ZR_RING_MPMC, 8), *tk = new_ring(ZR_RING_MPMC, 8);
	zr_inbox_config icfg = {8, ZR_WAIT_SPIN, 0};
	zr_inbox *ib = NULL;
	assert_int_equal(zr_inbox_create(g_arena, zr_test_name(), &icfg, &ib), 0);
	zr_ring *crit = zr_inbox_level(ib, ZR_PRIO_CRITICAL);

	set_slot(wr, 0, dead, ZRI_SLOT_WRITING);
	atomic_store(&wr->hdr->a_tail, 1);
	assert_true(zr_ring_enqueue(tk, 20));
	assert_true(zr_ring_enqueue(tk, 21));
	set_slot(tk, 0, dead, ZRI_SLOT_TAKEN);
	atomic_store(&tk->hdr->a_head, 1);
	assert_true(zr_inbox_push(ib, ZR_PRIO_CRITICAL, 30));
	set_slot(crit, 0, dead, ZRI_SLOT_TAKEN);
	atomic_store(&crit->hdr->a_head, 1);

	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_true(rep.procs_dead >= 1);
	assert_int_equal(rep.ring_drops, 1);
	assert_int_equal(rep.ring_redelivers, 2);
	assert_int_equal(stat_of(wr).drops, 1);
	assert_int_equal(stat_of(tk).redelivers, 1);
	assert_int_equal(stat_of(crit).redelivers, 1);
	assert_int_equal(zr_ring_check(wr, NULL), 0);
	assert_int_equal(zr_ring_check(tk, NULL), 0);
	zr_diag d = {0};
	assert_int_equal(zr_arena_check(g_arena, &d), 0);

	/* nothing is left to repair */
	zr_recover_report again = {0};
	assert_int_equal(zr_arena_recover(g_arena, &again), 0);
	assert_int_equal(again.ring_drops + again.ring_redelivers + again.procs_dead, 0);
	use_after_recover(wr, tk, ib);
	zr_inbox_close(ib);
	zr_ring_close(wr);
	zr_ring_close(tk);
}

/* ---- live owners are waited for, never repaired ---------------------------- */

/* WRITING by a live producer: empty for now; neither a consumer nor a
 * recovery scan may touch it, and the producer's store then completes it. */
static void writing_live(uint32_t owner)
{
	zr_ring *r = new_ring(ZR_RING_MPMC, 8);
	set_slot(r, 0, owner, ZRI_SLOT_WRITING);
	atomic_store(&r->hdr->a_tail, 1);
	uint64_t v;
	assert_false(zr_ring_dequeue(r, &v));
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_int_equal(rep.ring_drops, 0);
	assert_false(zr_ring_dequeue(r, &v));
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.drops, 0);
	assert_int_equal(s.empty, 2);
	assert_int_equal(atomic_load(&slot_of(r, 0)->a_state), st_make(0, owner, ZRI_SLOT_WRITING));
	/* the owner finishes its enqueue */
	atomic_store(&slot_of(r, 0)->a_value, 55);
	set_slot(r, 0, 0, ZRI_SLOT_FULL);
	assert_true(zr_ring_dequeue(r, &v));
	assert_int_equal(v, 55);
	zr_ring_close(r);
}

static void test_writing_live_not_repaired(void **state)
{
	(void)state;
	zr_arena_info info;
	zr_arena_info_get(g_arena, &info);
	writing_live(info.self);

	/* another process, alive while we look, then dead */
	struct owner o = spawn_owner(true);
	assert_true(zr_arena_owner_alive(g_arena, o.id));
	writing_live(o.id);
	zr_ring *r = new_ring(ZR_RING_MPMC, 8);
	set_slot(r, 0, o.id, ZRI_SLOT_WRITING);
	atomic_store(&r->hdr->a_tail, 1);
	assert_true(zr_ring_enqueue(r, 3));
	uint64_t v;
	assert_false(zr_ring_dequeue(r, &v)); /* FIFO: 3 waits behind position 0 */
	reap_owner(&o);
	assert_true(zr_ring_dequeue(r, &v)); /* the owner died: position 0 is dropped */
	assert_int_equal(v, 3);
	assert_int_equal(stat_of(r).drops, 1);
	zr_ring_close(r);
}

/* TAKEN by a live consumer: a producer that laps round to it finds the ring
 * full; once the consumer releases the slot the enqueue goes in. */
static void test_taken_live_is_full(void **state)
{
	(void)state;
	zr_arena_info info;
	zr_arena_info_get(g_arena, &info);
	zr_ring *r = new_ring(ZR_RING_MPMC, 8);
	assert_true(zr_ring_enqueue(r, 1));
	set_slot(r, 0, info.self, ZRI_SLOT_TAKEN);
	atomic_store(&r->hdr->a_head, 1);
	for (uint64_t i = 2; i <= 8; i++)
		assert_true(zr_ring_enqueue(r, i));
	assert_false(zr_ring_enqueue(r, 9));
	zr_recover_report rep = {0};
	assert_int_equal(zr_arena_recover(g_arena, &rep), 0);
	assert_int_equal(rep.ring_redelivers, 0);
	zr_ring_stats s = stat_of(r);
	assert_int_equal(s.full, 1);
	assert_int_equal(s.redelivers, 0);
	set_slot(r, 8, 0, ZRI_SLOT_FREE); /* the consumer releases position 0 */
	assert_true(zr_ring_enqueue(r, 9));
	static const uint64_t want[] = {2, 3, 4, 5, 6, 7, 8, 9};
	drain_expect(r, want, 8);
	zr_ring_close(r);
}

/* ---- SPSC: the producer role passes on after a SIGKILL --------------------- */

static void spsc_child_producer(const char *ring)
{
	zr_arena *a = NULL;
	zr_ring *r = NULL;
	if (zr_arena_open(g_name, 0, &a, NULL) != 0 || zr_ring_open(a, ring, &r) != 0)
		_exit(2);
	for (uint64_t i = 0;; i++)
		while (!zr_ring_enqueue(r, i))
			;
}

static void test_spsc_producer_killed(void **state)
{
	(void)state;
	enum { CAP = 64, SEEN_BEFORE_KILL = 2000 };
	zr_ring *r = new_ring(ZR_RING_SPSC, CAP);
	char ring[64];
	snprintf(ring, sizeof(ring), "%s", zr_ring_name(r));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		spsc_child_producer(ring);
	uint64_t next = 0, v, deadline = zr_test_now_ns() + 5000000000u;
	while (next < SEEN_BEFORE_KILL && zr_test_now_ns() < deadline) {
		if (!zr_ring_dequeue(r, &v))
			continue;
		if (v != next)
			break;
		next++;
	}
	kill(pid, SIGKILL);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(next, SEEN_BEFORE_KILL);
	/* what the child published before it died, in order */
	uint32_t left = zr_ring_count(r);
	assert_true(left <= CAP);
	while (zr_ring_dequeue(r, &v))
		assert_int_equal(v, next++);
	assert_int_equal(next, SEEN_BEFORE_KILL + left);
	/* this process takes over as producer, for several laps */
	uint64_t in[40], out[40];
	for (unsigned lap = 0; lap < 10; lap++) {
		for (unsigned i = 0; i < 40; i++)
			in[i] = next + i;
		assert_int_equal(zr_ring_enqueue_burst(r, in, 40), 40);
		assert_int_equal(zr_ring_dequeue_burst(r, out, 40), 40);
		assert_memory_equal(in, out, sizeof(in));
		next += 40;
	}
	assert_false(zr_ring_dequeue(r, &v));
	zr_ring_close(r);
}

struct sleeper {
	zr_ring *r;
	uint64_t v;
	int rc;
	uint64_t done_ns;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *sl = arg;
	sl->rc = zr_ring_dequeue_wait(sl->r, &sl->v, (int64_t)5000000000);
	sl->done_ns = zr_test_now_ns();
	return NULL;
}

/* A consumer asleep behind a slot a live producer holds half-written must
 * wake when that producer dies, although no producer will ever notify it. */
static void test_sleeper_wakes_when_holder_dies(void **state)
{
	(void)state;
	zr_ring_config cfg = {ZR_RING_MPMC, 8, ZR_WAIT_FUTEX};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(g_arena, zr_test_name(), &cfg, &r), 0);
	struct owner o = spawn_owner(true);
	set_slot(r, 0, o.id, ZRI_SLOT_WRITING); /* o reserved position 0 */
	atomic_store(&r->hdr->a_tail, 1);
	assert_true(zr_ring_enqueue(r, 42)); /* position 1, published */
	struct sleeper sl = {r, 0, 1, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, sleeper_main, &sl), 0);
	struct timespec ts = {0, 100000000}; /* it finds the head held and sleeps */
	nanosleep(&ts, NULL);
	uint64_t t0 = zr_test_now_ns();
	reap_owner(&o); /* the holder dies: nobody enqueues, nobody recovers */
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sl.rc, 0);
	assert_int_equal(sl.v, 42);
	assert_true(sl.done_ns - t0 < 1000000000u);
	assert_int_equal(stat_of(r).drops, 1);
	zr_ring_close(r);
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		CASE(test_sleeper_wakes_when_holder_dies), CASE(test_writing_dead_dropped),
		CASE(test_taken_dead_redelivered),	   CASE(test_recover_repairs),
		CASE(test_writing_live_not_repaired),	   CASE(test_taken_live_is_full),
		CASE(test_spsc_producer_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
