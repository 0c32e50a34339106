/* crash_ring: SIGKILL producers and consumers of an MPMC ring at random
 * moments, over and over, and check after each kill that the survivors keep
 * making progress; at the end, that every entry whose enqueue returned was
 * dequeued exactly once or was held by a killed consumer (then reported),
 * and that no payload block stays leaked after recovery.
 *
 * Entries are payload handles; each payload holds (role, seq, magic). A
 * producer writes `attempted` before enqueueing and `returned` after, so a
 * restarted producer never reuses a sequence and the checker knows which
 * entries were "maybe" (killed between the two). Consumers dequeue into a
 * receipt word in shared memory, so a consumer killed inside the call
 * leaves a record of what it may have held.
 *
 * Usage: crash_ring [--seed N] [--kills N] (default 1000) [--kind spsc]
 * (MPMC: two producers and two consumers; SPSC: one of each, each role
 * taken over by a new process after every kill). */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

#define ROLES 2		   /* most producer roles, and consumer roles */
#define MAX_SEQ (1u << 26) /* per producer role; a producer that reaches it idles */
#define PAYLOAD_MAGIC 0x5a52434bu
#define MAX_HELD 4096

struct payload_head {
	uint32_t magic;
	uint32_t role;
	uint64_t seq;
};

struct producer_state {
	_Atomic uint64_t attempted; /* highest seq handed to enqueue */
	_Atomic uint64_t returned;  /* highest seq whose enqueue returned true */
	_Atomic int stop;
	pid_t pid;
};

struct consumer_state {
	_Atomic uint64_t receipt; /* zr_ring_dequeue writes here */
	_Atomic uint64_t consumed;
	_Atomic int stop;
	pid_t pid;
};

struct shared {
	char arena[64];
	struct producer_state prod[ROLES];
	struct consumer_state cons[ROLES];
	uint64_t maybe_lo[ROLES][2048], maybe_hi[ROLES][2048]; /* (lo, hi] per kill */
	uint32_t nmaybe[ROLES];
	uint64_t held[MAX_HELD]; /* receipts of killed consumers */
	uint32_t nheld;
	int roles; /* in use: 2 for MPMC, 1 for SPSC */
	_Atomic uint8_t tally[ROLES][MAX_SEQ];
};

static struct shared *sh;

static int open_ring(zr_arena **a, zr_ring **r)
{
	zr_diag d;
	if (zr_arena_open(sh->arena, 0, a, &d) != 0) {
		fprintf(stderr, "child: open: %s\n", d.msg);
		return -1;
	}
	return zr_ring_open(*a, "crash", r) == 0 ? 0 : -1;
}

static size_t payload_size(uint64_t *rng)
{
	uint64_t x = zr_test_rand(rng) % 1000;
	if (x == 0)
		return 100u << 10; /* large path: takes the robust mutex */
	return sizeof(struct payload_head) + 64 + (size_t)(zr_test_rand(rng) % 2048);
}

static void producer_main(int role, uint64_t seed)
{
	zr_arena *a;
	zr_ring *r;
	if (open_ring(&a, &r))
		_exit(3);
	struct producer_state *ps = &sh->prod[role];
	uint64_t rng = seed;
	uint64_t seq = atomic_load(&ps->attempted) + 1;
	while (!atomic_load_explicit(&ps->stop, memory_order_relaxed)) {
		if (seq >= MAX_SEQ) {
			zr_test_sleep_ns(1000000);
			continue;
		}
		zr_payload p;
		if (zr_payload_alloc(a, payload_size(&rng), &p) != 0) {
			sched_yield();
			continue;
		}
		struct payload_head *h = zr_payload_ptr(a, p);
		*h = (struct payload_head){PAYLOAD_MAGIC, (uint32_t)role, seq};
		memset(h + 1, (int)seq, 64); /* payloads are written in place */
		atomic_store(&ps->attempted, seq);
		bool queued;
		while (!(queued = zr_ring_enqueue(r, p.v)) &&
		       !atomic_load_explicit(&ps->stop, memory_order_relaxed))
			sched_yield();
		if (!queued) {
			if (zr_payload_free(a, p) != 0)
				_exit(5);
			break;
		}
		atomic_store(&ps->returned, seq);
		seq++;
	}
	zr_ring_close(r);
	zr_arena_close(a);
	_exit(0);
}

static void consume_one(zr_arena *a, struct consumer_state *cs, uint64_t v)
{
	zr_payload p = {v};
	struct payload_head *h = zr_payload_ptr(a, p);
	if (!h || h->magic != PAYLOAD_MAGIC || h->role >= (uint32_t)sh->roles ||
	    h->seq >= MAX_SEQ) {
		fprintf(stderr, "consumer: bad payload handle %#llx\n", (unsigned long long)v);
		_exit(4);
	}
	atomic_fetch_add(&sh->tally[h->role][h->seq], 1);
	atomic_fetch_add(&cs->consumed, 1);
	if (zr_payload_free(a, p) != 0)
		_exit(5);
}

static void consumer_main(int role)
{
	zr_arena *a;
	zr_ring *r;
	if (open_ring(&a, &r))
		_exit(3);
	struct consumer_state *cs = &sh->cons[role];
	for (;;) {
		/* the receipt lives in shared memory: see zr_ring_dequeue() */
		uint64_t v;
		if (zr_ring_dequeue(r, (uint64_t *)&cs->receipt)) {
			v = atomic_load(&cs->receipt);
			consume_one(a, cs, v);
			continue;
		}
		if (atomic_load_explicit(&cs->stop, memory_order_relaxed))
			break;
		sched_yield();
	}
	zr_ring_close(r);
	zr_arena_close(a);
	_exit(0);
}

static pid_t spawn(int producer, int role, uint64_t seed)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (producer)
			producer_main(role, seed);
		consumer_main(role);
	}
	return pid;
}

/* Wait until every surviving role made progress; victim is (producer?, role). */
static int survivors_progress(zr_ring *r, int vprod, int vrole)
{
	uint64_t p0[ROLES], c0[ROLES];
	for (int i = 0; i < sh->roles; i++) {
		p0[i] = atomic_load(&sh->prod[i].returned);
		c0[i] = atomic_load(&sh->cons[i].consumed);
	}
	/* A blocked ring never moves again; 10 s tells it from a starved core
	 * (2 cores, five processes, sanitizers, other load). */
	for (int spin = 0; spin < 100000; spin++) {
		/* a producer may be stopped by a full ring and a consumer by an
		 * empty one (SPSC with its partner dead); anything else must move */
		uint32_t count = zr_ring_count(r);
		int done = 1;
		for (int i = 0; i < sh->roles; i++) {
			if (!(vprod && vrole == i) && atomic_load(&sh->prod[i].returned) == p0[i] &&
			    p0[i] < MAX_SEQ - 2 && count < zr_ring_capacity(r))
				done = 0;
			if (!(!vprod && vrole == i) &&
			    atomic_load(&sh->cons[i].consumed) == c0[i] && count > 0)
				done = 0;
		}
		if (done)
			return 0;
		zr_test_sleep_ns(100000);
	}
	return -1;
}

static int kill_one(zr_arena *a, zr_ring *r, uint64_t *rng, int kill_no)
{
	int vprod = (int)(zr_test_rand(rng) & 1),
	    vrole = (int)(zr_test_rand(rng) % (uint64_t)sh->roles);
	pid_t *pid = vprod ? &sh->prod[vrole].pid : &sh->cons[vrole].pid;
	uint64_t before = vprod ? atomic_load(&sh->prod[vrole].returned) : 0;
	kill(*pid, SIGKILL);
	int st;
	waitpid(*pid, &st, 0);
	if (vprod) {
		uint64_t att = atomic_load(&sh->prod[vrole].attempted);
		uint64_t ret = atomic_load(&sh->prod[vrole].returned);
		uint32_t k = sh->nmaybe[vrole]++ % 2048;
		sh->maybe_lo[vrole][k] = ret < before ? before : ret;
		sh->maybe_hi[vrole][k] = att;
	} else if (sh->nheld < MAX_HELD) {
		sh->held[sh->nheld++] = atomic_load(&sh->cons[vrole].receipt);
	}
	if (survivors_progress(r, vprod, vrole) != 0) {
		fprintf(stderr, "kill %d (%s %d): survivors made no progress in 10 s\n", kill_no,
			vprod ? "producer" : "consumer", vrole);
		zr_ring_dump(stderr, r);
		zr_slab_dump(stderr, a);
		for (int i = 0; i < sh->roles; i++)
			fprintf(stderr,
				"producer %d pid %d attempted %llu returned %llu, consumer %d pid "
				"%d consumed %llu\n",
				i, (int)sh->prod[i].pid,
				(unsigned long long)atomic_load(&sh->prod[i].attempted),
				(unsigned long long)atomic_load(&sh->prod[i].returned), i,
				(int)sh->cons[i].pid,
				(unsigned long long)atomic_load(&sh->cons[i].consumed));
		if (getenv("ZR_CRASH_HOLD")) /* keep the processes for gdb */
			sleep(600);
		return -1;
	}
	zr_recover_report rep = {0};
	ZR_CHECK_RC(zr_arena_recover(a, &rep));
	*pid = spawn(vprod, vrole, zr_test_rand(rng));
	return 0;
}

static int stop_all(zr_ring *r)
{
	for (int i = 0; i < sh->roles; i++)
		atomic_store(&sh->prod[i].stop, 1);
	for (int i = 0; i < sh->roles; i++) {
		int st;
		waitpid(sh->prod[i].pid, &st, 0);
		ZR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer %d exit status %#x", i,
			 st);
	}
	for (int spin = 0; zr_ring_count(r) > 0; spin++) {
		ZR_CHECK(spin < 50000, "ring never drained: %u left", zr_ring_count(r));
		zr_test_sleep_ns(100000);
	}
	for (int i = 0; i < sh->roles; i++)
		atomic_store(&sh->cons[i].stop, 1);
	for (int i = 0; i < sh->roles; i++) {
		int st;
		waitpid(sh->cons[i].pid, &st, 0);
		ZR_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "consumer %d exit status %#x", i,
			 st);
	}
	return 0;
}

static bool in_maybe(int role, uint64_t seq)
{
	uint32_t n = sh->nmaybe[role] < 2048 ? sh->nmaybe[role] : 2048;
	for (uint32_t k = 0; k < n; k++)
		if (seq > sh->maybe_lo[role][k] && seq <= sh->maybe_hi[role][k])
			return true;
	return false;
}

static bool in_held(zr_arena *a, int role, uint64_t seq)
{
	for (uint32_t k = 0; k < sh->nheld; k++) {
		/* the payload of a held entry was never freed: read who it was */
		struct payload_head *h = zr_payload_ptr(a, (zr_payload){sh->held[k]});
		if (h && h->magic == PAYLOAD_MAGIC && h->role == (uint32_t)role && h->seq == seq)
			return true;
	}
	return false;
}

/* Every returned entry exactly once, or held by a killed consumer. */
static int verify_entries(zr_arena *a, uint64_t *held_out)
{
	uint64_t held = 0;
	for (int role = 0; role < sh->roles; role++) {
		uint64_t ret = atomic_load(&sh->prod[role].returned);
		uint64_t att = atomic_load(&sh->prod[role].attempted);
		for (uint64_t seq = 1; seq <= att && seq < MAX_SEQ; seq++) {
			uint8_t t = atomic_load(&sh->tally[role][seq]);
			ZR_CHECK(t <= 1, "producer %d seq %llu dequeued %u times", role,
				 (unsigned long long)seq, t);
			if (t == 1 || seq > ret || in_maybe(role, seq))
				continue;
			ZR_CHECK(in_held(a, role, seq),
				 "producer %d seq %llu: enqueue returned, never dequeued, "
				 "not held by a killed consumer",
				 role, (unsigned long long)seq);
			printf("held by a killed consumer: producer %d seq %llu\n", role,
			       (unsigned long long)seq);
			held++;
		}
	}
	*held_out = held;
	return 0;
}

/* After recovery and freeing orphans, every block is free again. */
static int verify_no_leak(zr_arena *a, zr_recover_report *rep)
{
	uint64_t freed = 0;
	ZR_CHECK_RC(zr_arena_recover(a, rep));
	ZR_CHECK_RC(zr_slab_free_orphans(a, NULL, NULL, &freed));
	zr_slab_cache_flush(a);
	zr_slab_class_stats st[ZR_SLAB_MAX_CLASSES];
	size_t n;
	zr_slab_stat(a, st, ZR_SLAB_MAX_CLASSES, &n);
	zr_slab_owner_usage u[64];
	size_t nu;
	zr_slab_usage_by_owner(a, u, 64, &nu);
	for (size_t i = 0; i < nu; i++)
		printf("owner %u pid %u alive %d blocks %llu\n", u[i].owner, u[i].pid, u[i].alive,
		       (unsigned long long)u[i].blocks);
	for (size_t i = 0; i < n; i++)
		ZR_CHECK(st[i].in_use == 0 && st[i].cached == 0 && st[i].orphans == 0,
			 "class %zu (block %llu): in_use %llu cached %llu orphans %llu after "
			 "recovery",
			 i, (unsigned long long)st[i].block_size, (unsigned long long)st[i].in_use,
			 (unsigned long long)st[i].cached, (unsigned long long)st[i].orphans);
	printf("orphans freed at the end: %llu\n", (unsigned long long)freed);
	zr_diag d = {0};
	ZR_CHECK(zr_arena_check(a, &d) == 0, "arena check: %s", d.msg);
	return 0;
}

static int run(zr_arena *a, zr_ring *r, int kills)
{
	uint64_t rng = zr_test_seed;
	for (int i = 0; i < sh->roles; i++) {
		sh->prod[i].pid = spawn(1, i, zr_test_rand(&rng));
		sh->cons[i].pid = spawn(0, i, 0);
	}
	for (int k = 0; k < kills; k++) {
		zr_test_sleep_ns((long)(zr_test_rand(&rng) % 2000000));
		if (kill_one(a, r, &rng, k) != 0) {
			for (int i = 0; i < sh->roles; i++) {
				kill(sh->prod[i].pid, SIGKILL);
				kill(sh->cons[i].pid, SIGKILL);
			}
			while (wait(NULL) > 0)
				;
			return ZR_TEST_FAIL;
		}
	}
	return stop_all(r);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	int kills = 1000;
	uint32_t kind = ZR_RING_MPMC;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--kills"))
			kills = atoi(argv[i + 1]);
		if (!strcmp(argv[i], "--kind") && !strcmp(argv[i + 1], "spsc"))
			kind = ZR_RING_SPSC;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ZR_CHECK(sh != MAP_FAILED, "mmap of the shared tally failed");
	zr_arena *a = zr_test_arena(32u << 20, sh->arena);
	zr_ring *r;
	sh->roles = kind == ZR_RING_SPSC ? 1 : ROLES;
	zr_ring_config cfg = {kind, 256, ZR_WAIT_SPIN};
	ZR_CHECK_RC(zr_ring_create(a, "crash", &cfg, &r));
	if (run(a, r, kills) != 0)
		return ZR_TEST_FAIL;
	uint64_t held = 0;
	if (verify_entries(a, &held) != 0)
		return ZR_TEST_FAIL;
	zr_recover_report rep = {0};
	if (verify_no_leak(a, &rep) != 0)
		return ZR_TEST_FAIL;
	zr_ring_stats rs;
	zr_ring_stat(r, &rs);
	uint64_t total = 0;
	for (int i = 0; i < sh->roles; i++)
		total += atomic_load(&sh->cons[i].consumed);
	printf("kills %d: entries dequeued %llu, held by killed consumers %llu, ring drops %llu, "
	       "redelivers %llu\n",
	       kills, (unsigned long long)total, (unsigned long long)held,
	       (unsigned long long)rs.drops, (unsigned long long)rs.redelivers);
	ZR_CHECK(zr_ring_count(r) == 0, "ring not empty at the end");
	zr_ring_close(r);
	zr_arena_close(a);
	return ZR_TEST_PASS;
}
