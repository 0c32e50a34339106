/* crash_persist: SIGKILL the writer of a SYNC journal, and a process taking
 * checkpoints, at random moments; then lose the arena (unlink, as a reboot
 * loses /dev/shm) and restore it. Every job whose submit returned must come
 * back, by UUID, with its payload bytes.
 *
 * Each round gets a fresh directory under /tmp and a fresh arena journaled
 * there under SYNC. A producer child opens the arena, registers and submits
 * small jobs whose payload is stamped with a sequence number; after each
 * submit that returned 0 it records the UUID in a MAP_SHARED tally and then
 * publishes the sequence number. The parent kills it 20..200 ms later.
 * Rounds rotate through three modes:
 *   JOURNAL  restore from the journal only;
 *   CKPT     the parent takes a checkpoint through a read-only attachment
 *            mid-run; restore from checkpoint + journal, and from a copy of
 *            the journal alone (which the checkpoint's retention may have
 *            trimmed: then that restore must refuse with ZR_ECORRUPT);
 *   CKPT_KILL  a second child loops zr_checkpoint (keep_last 2, so retention
 *            runs too) and is killed at a random moment, usually mid-write;
 *            restore from the newest valid checkpoint + journal.
 * A job beyond the last published sequence number may or may not be there
 * (its submit may have returned just before the kill); none may be there
 * beyond the last one attempted.
 *
 * Usage: crash_persist [--seed N] [--rounds N] (default 30, 15 under
 * sanitizers). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "zring/persist.h"

#define MAX_SEQ (1u << 16)
#define PAYLOAD_MAX 200u
#define MAX_JOBS 8192u

enum mode { JOURNAL, CKPT, CKPT_KILL, MODES };

struct shared {
	char arena[64];
	char cdir[160];
	_Atomic uint64_t attempted; /* highest seq handed to zr_job_submit */
	_Atomic uint64_t acked;	    /* every seq up to here returned 0; its uuid is set */
	_Atomic uint64_t ckpts;	    /* checkpoints the checkpointing child completed */
	uint8_t uuid[MAX_SEQ][16];
};

static struct shared *sh;

struct round {
	char dir[128], jdir[160], jcopy[160], cdir[160];
	enum mode mode;
	uint64_t rng;
};

static void rm_rf(const char *path)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

static size_t payload_len(uint64_t seq)
{
	return 8 + (size_t)(seq * 37 % (PAYLOAD_MAX - 8));
}

static void stamp(uint8_t *p, size_t n, uint64_t seq)
{
	memcpy(p, &seq, 8);
	for (size_t i = 8; i < n; i++)
		p[i] = (uint8_t)(seq * 131 + i * 7);
}

/* ---- children ---------------------------------------------------------------- */

#define CHILD_CHECK(expr, ...)                                                                     \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: pid %d: %s: ", __FILE__, __LINE__, (int)getpid(),  \
				#expr);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			_exit(1);                                                                  \
		}                                                                                  \
	} while (0)

static void producer(void)
{
	zr_arena *a;
	zr_diag d = {0};
	int rc = zr_arena_open(sh->arena, 0, &a, &d);
	CHILD_CHECK(rc == 0, "open: %s", d.msg);
	zr_agent *ag;
	rc = zr_agent_register(a, "producer", NULL, &ag);
	CHILD_CHECK(rc == 0, "register: %s", zr_strerror(rc));
	for (uint64_t seq = 1; seq < MAX_SEQ; seq++) {
		zr_job_builder b;
		zr_job_builder_init(&b, ZR_JOB_COMPUTE);
		size_t n = payload_len(seq);
		rc = zr_payload_alloc(a, n, &b.payload);
		CHILD_CHECK(rc == 0, "alloc: %s", zr_strerror(rc));
		stamp(zr_payload_ptr(a, b.payload), n, seq);
		b.payload_len = n;
		atomic_store(&sh->attempted, seq);
		zr_job_id id;
		rc = zr_job_submit(ag, &b, &id, sh->uuid[seq]);
		if (rc == ZR_EFULL) { /* the table is full: wait for the kill */
			CHILD_CHECK(zr_payload_free(a, b.payload) == 0, "free");
			for (;;)
				pause();
		}
		CHILD_CHECK(rc == 0, "submit %" PRIu64 ": %s", seq, zr_strerror(rc));
		atomic_store(&sh->acked, seq);
	}
	for (;;)
		pause();
}

static void checkpointer(void)
{
	zr_arena *a;
	zr_diag d = {0};
	int rc = zr_arena_open(sh->arena, ZR_ARENA_READONLY, &a, &d);
	CHILD_CHECK(rc == 0, "open: %s", d.msg);
	zr_ckpt_config cc;
	zr_ckpt_config_init(&cc, sh->cdir);
	cc.keep_last = 2;
	cc.chunk_bytes = 64u << 10;
	for (;;) {
		zr_ckpt_report rep;
		rc = zr_checkpoint(a, &cc, &rep, &d);
		CHILD_CHECK(rc == 0, "checkpoint: %s: %s", zr_strerror(rc), d.msg);
		atomic_fetch_add(&sh->ckpts, 1);
	}
}

static pid_t spawn(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(0);
	}
	return pid;
}

/* Kill a child; it must not have ended on its own. */
static int kill_child(pid_t pid, const char *who)
{
	int st;
	kill(pid, SIGKILL);
	ZR_CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", who);
	ZR_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s ended on its own: status %#x", who,
		 st);
	return 0;
}

/* ---- the parent ---------------------------------------------------------------- */

static int create(struct round *r)
{
	snprintf(r->dir, sizeof(r->dir), "/tmp/zring-crash-persist-XXXXXX");
	ZR_CHECK(mkdtemp(r->dir), "mkdtemp: %s", strerror(errno));
	snprintf(r->jdir, sizeof(r->jdir), "%s/journal", r->dir);
	snprintf(r->jcopy, sizeof(r->jcopy), "%s/journal-copy", r->dir);
	snprintf(r->cdir, sizeof(r->cdir), "%s/ckpt", r->dir);
	ZR_CHECK(mkdir(r->jdir, 0700) == 0, "mkdir: %s", strerror(errno));
	zr_journal_config jc;
	zr_journal_config_init(&jc, r->jdir);
	jc.durability = ZR_DURABILITY_SYNC;
	jc.segment_bytes = 1u << 20; /* the smallest */
	jc.buffer_bytes = 64u << 10;
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)16 << 20);
	cfg.max_jobs = MAX_JOBS;
	cfg.journal = &jc;
	zr_arena *a = zr_test_arena_cfg(&cfg, sh->arena);
	/* closed before forking: the children start without the journal thread */
	ZR_CHECK_RC(zr_arena_close(a));
	snprintf(sh->cdir, sizeof(sh->cdir), "%s", r->cdir);
	atomic_store(&sh->attempted, 0);
	atomic_store(&sh->acked, 0);
	atomic_store(&sh->ckpts, 0);
	return 0;
}

static long rand_ms(struct round *r, long lo, long hi)
{
	return lo + (long)(zr_test_rand(&r->rng) % (uint64_t)(hi - lo + 1));
}

/* Run the producer (and the checkpointer) and kill them. */
static int run_children(struct round *r, uint64_t *ckpt_seq)
{
	pid_t prod = spawn(producer), ck = 0;
	long ms = rand_ms(r, 20, 200);
	if (r->mode == CKPT) {
		zr_test_sleep_ns(ms / 2 * 1000000);
		zr_arena *a;
		zr_diag d = {0};
		int rc = zr_arena_open(sh->arena, ZR_ARENA_READONLY, &a, &d);
		ZR_CHECK(rc == 0, "open: %s", d.msg);
		zr_ckpt_config cc;
		zr_ckpt_config_init(&cc, r->cdir);
		zr_ckpt_report rep;
		rc = zr_checkpoint(a, &cc, &rep, &d);
		ZR_CHECK(rc == 0, "checkpoint: %s: %s", zr_strerror(rc), d.msg);
		*ckpt_seq = rep.seq;
		ZR_CHECK_RC(zr_arena_close(a));
		zr_test_sleep_ns((ms - ms / 2) * 1000000);
	} else if (r->mode == CKPT_KILL) {
		ck = spawn(checkpointer);
		zr_test_sleep_ns(ms * 1000000);
		ZR_CHECK(kill_child(ck, "checkpointer") == 0, "kill");
		zr_test_sleep_ns(rand_ms(r, 1, 20) * 1000000);
	} else {
		zr_test_sleep_ns(ms * 1000000);
	}
	return kill_child(prod, "producer");
}

static void on_problem(void *ctx, const char *file, uint64_t off, const char *what)
{
	(void)ctx;
	if (getenv("ZR_CRASH_VERBOSE"))
		fprintf(stderr, "problem: %s @%" PRIu64 ": %s\n", file, off, what);
}

/* Every acknowledged job is in `a` with its bytes; none beyond `attempted`. */
static int verify(zr_arena *a, uint64_t acked, uint64_t attempted, const char *how)
{
	zr_job_info *v = calloc(MAX_JOBS, sizeof(*v));
	ZR_CHECK(v, "calloc");
	size_t n = 0;
	ZR_CHECK_RC(zr_jobs_list(a, NULL, v, MAX_JOBS, &n));
	bool *seen = calloc(attempted + 1, 1);
	ZR_CHECK(seen, "calloc");
	int bad = 0;
	for (size_t i = 0; i < n && !bad; i++) {
		uint64_t seq = 0;
		const uint8_t *p = zr_payload_ptr(a, v[i].payload);
		if (p && v[i].payload_len >= 8)
			memcpy(&seq, p, 8);
		if (seq < 1 || seq > attempted || seen[seq] ||
		    v[i].payload_len != payload_len(seq)) {
			fprintf(stderr,
				"%s: job %zu of %zu: seq %" PRIu64 " (attempted %" PRIu64
				") len %" PRIu64 "%s\n",
				how, i, n, seq, attempted, v[i].payload_len,
				seq <= attempted && seq && seen[seq] ? " twice" : "");
			bad = 1;
			break;
		}
		seen[seq] = true;
		uint8_t want[PAYLOAD_MAX];
		stamp(want, payload_len(seq), seq);
		if (memcmp(p, want, payload_len(seq)) != 0 ||
		    (seq <= acked && memcmp(v[i].uuid, sh->uuid[seq], 16) != 0)) {
			fprintf(stderr, "%s: job seq %" PRIu64 ": payload or uuid differs\n", how,
				seq);
			bad = 1;
		}
	}
	for (uint64_t s = 1; s <= acked && !bad; s++)
		if (!seen[s]) {
			fprintf(stderr,
				"%s: job seq %" PRIu64 " (of %" PRIu64
				" acknowledged, %zu restored)"
				" is missing\n",
				how, s, acked, n);
			bad = 1;
		}
	free(seen);
	free(v);
	ZR_CHECK(!bad, "%s: restored jobs differ from the acknowledged ones", how);
	return 0;
}

/* Restore and verify. trimmed: non-NULL when retention may have removed the
 * journal's first segments; the restore must then refuse (ZR_ECORRUPT). */
static int restore_check(const char *ckpt_dir, const char *jdir, uint64_t acked, uint64_t attempted,
			 const char *how, zr_restore_report *rep, int *trimmed)
{
	char name[80];
	snprintf(name, sizeof(name), "%s-r", sh->arena);
	zr_restore_config rc = {.name = name,
				.ckpt_dir = ckpt_dir,
				.journal_dir = jdir,
				.durability = ZR_DURABILITY_NONE,
				.no_checkpoint = true};
	zr_arena *out = NULL;
	zr_diag d = {0};
	int e = zr_restore(&rc, on_problem, NULL, &out, rep, &d);
	if (trimmed && e == ZR_ECORRUPT && strstr(d.msg, "does not go back to LSN 1")) {
		*trimmed = 1;
		return 0;
	}
	ZR_CHECK(e == 0, "%s: restore: %s: %s", how, zr_strerror(e), d.msg);
	int bad = verify(out, acked, attempted, how);
	if (bad)
		fprintf(stderr,
			"%s: ckpt %" PRIu64 " (invalid %" PRIu64 ") begin %" PRIu64 " last %" PRIu64
			" applied %" PRIu64 " torn %" PRIu64 " corrupt %" PRIu64
			" rollback %" PRIu64 " problem '%s'\n",
			how, rep->ckpt_seq, rep->ckpts_invalid, rep->begin_lsn, rep->last_lsn,
			rep->records_applied, rep->journal.torn_tails, rep->journal.corrupt,
			rep->journal.rollback_lsn, rep->first_problem);
	ZR_CHECK_RC(zr_arena_close(out));
	ZR_CHECK_RC(zr_arena_unlink(name));
	return bad;
}

struct totals {
	uint64_t acked, ckpt_used, ckpts_invalid, torn, trimmed, rounds_by_mode[MODES];
};

static int one_round(struct round *r, struct totals *t)
{
	if (create(r) != 0)
		return -1;
	uint64_t ckpt_seq = 0;
	if (run_children(r, &ckpt_seq) != 0)
		return -1;
	uint64_t acked = atomic_load(&sh->acked), attempted = atomic_load(&sh->attempted);
	/* the machine "reboots": /dev/shm is gone, the files are not */
	ZR_CHECK_RC(zr_arena_unlink(sh->arena));
	zr_test_forget(sh->arena);
	zr_restore_report rep;
	if (r->mode == CKPT) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", r->jdir, r->jcopy);
		ZR_CHECK(system(cmd) == 0, "%s", cmd);
		if (restore_check(r->cdir, r->jdir, acked, attempted, "ckpt+journal", &rep, NULL))
			return -1;
		ZR_CHECK(rep.ckpt_seq == ckpt_seq, "used checkpoint %" PRIu64 ", took %" PRIu64,
			 rep.ckpt_seq, ckpt_seq);
		t->ckpt_used += rep.ckpt_seq != 0;
		int trimmed = 0;
		if (restore_check(NULL, r->jcopy, acked, attempted, "journal copy", &rep, &trimmed))
			return -1;
		t->trimmed += trimmed;
	} else if (r->mode == CKPT_KILL) {
		if (restore_check(r->cdir, r->jdir, acked, attempted, "ckpt(killed)+journal", &rep,
				  NULL))
			return -1;
		t->ckpt_used += rep.ckpt_seq != 0;
		t->ckpts_invalid += rep.ckpts_invalid;
	} else if (restore_check(NULL, r->jdir, acked, attempted, "journal", &rep, NULL)) {
		return -1;
	}
	t->torn += rep.journal.torn_tails;
	t->acked += acked;
	t->rounds_by_mode[r->mode]++;
	rm_rf(r->dir);
	return 0;
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	int rounds = zr_test_sanitized() ? 15 : 30;
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[i + 1]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZR_CHECK(sh != MAP_FAILED, "mmap of the shared tally failed");
	uint64_t rng = zr_test_seed, t0 = zr_test_now_ns();
	struct totals t = {0};
	for (int k = 0; k < rounds; k++) {
		struct round r = {.mode = (enum mode)(k % MODES), .rng = zr_test_rand(&rng)};
		if (one_round(&r, &t) != 0) {
			fprintf(stderr, "round %d (mode %d) failed; files kept in %s\n", k, r.mode,
				r.dir);
			return ZR_TEST_FAIL;
		}
	}
	printf("rounds %d (journal %" PRIu64 ", ckpt %" PRIu64 ", ckpt killed %" PRIu64
	       ") in %.1f s: acknowledged jobs %" PRIu64 ", checkpoints used %" PRIu64
	       ", invalid skipped %" PRIu64 ", torn tails %" PRIu64
	       ", trimmed journals refused %" PRIu64 "\n",
	       rounds, t.rounds_by_mode[JOURNAL], t.rounds_by_mode[CKPT],
	       t.rounds_by_mode[CKPT_KILL], (double)(zr_test_now_ns() - t0) / 1e9, t.acked,
	       t.ckpt_used, t.ckpts_invalid, t.torn, t.trimmed);
	return ZR_TEST_PASS;
}
