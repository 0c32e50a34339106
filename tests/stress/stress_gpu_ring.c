/* tests/stress/stress_gpu_ring.c: the persistent-kernel protocol with a CPU
 * in the GPU's place. The consumer runs zr_test_consume() from
 * tests/gpu/gpu_common.h, the very loop the gpu_persistent kernel runs,
 * compiled for the host: it takes message offsets from an SPSC ring,
 * checksums each message in place, and answers on a second ring. The
 * producer (zr_test_feed) checks every answer.
 *   --procs    the producer is another process (the default)
 *   --threads  producer and consumer are threads of this process, so that
 *              TSan sees both sides' atomics
 *   --entries N  messages (default 200000) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu/gpu_common.h"
#include "gpu/gpu_feed.h"
#include "stress.h"

struct side {
	zr_arena *a;
	zr_ring *in, *out;
};

static void open_side(const char *name, struct side *s)
{
	zr_diag d = {0};
	int rc = zr_arena_open(name, 0, &s->a, &d);
	if (rc == 0 && (rc = zr_ring_open(s->a, "to_gpu", &s->in)) == 0)
		rc = zr_ring_open(s->a, "from_gpu", &s->out);
	if (rc) {
		fprintf(stderr, "open %s: %s %s\n", name, zr_strerror(rc), d.msg);
		exit(1);
	}
}

static void close_side(struct side *s)
{
	zr_ring_close(s->in);
	zr_ring_close(s->out);
	(void)zr_arena_close(s->a);
}

static struct zr_stress_opt opt;

static int produce(const char *name)
{
	struct side s;
	open_side(name, &s);
	struct zr_test_feed_report rep;
	int rc = zr_test_feed(s.a, s.in, s.out, opt.count, zr_test_seed,
			      (uint64_t)opt.timeout_s * 1000000000u, &rep);
	printf("producer: sent %llu, back %llu, ring full %llu times: %s%s\n",
	       (unsigned long long)rep.sent, (unsigned long long)rep.done,
	       (unsigned long long)rep.full, zr_strerror(rc), rep.why[0] ? rep.why : "");
	close_side(&s);
	fflush(stdout);
	return rc == 0 ? 0 : 1;
}

static int64_t consume(struct side *s)
{
	zr_gpu_ring in, out;
	zr_gpu_span span;
	zr_diag d = {0};
	int rc = zr_gpu_ring_view(NULL, s->in, ZR_GPU_CONSUMER, &in, &d);
	if (rc == 0)
		rc = zr_gpu_ring_view(NULL, s->out, ZR_GPU_PRODUCER, &out, &d);
	if (rc == 0)
		rc = zr_gpu_span_get(NULL, s->a, &span);
	if (rc) {
		fprintf(stderr, "views: %s %s\n", zr_strerror(rc), d.msg);
		return rc;
	}
	return zr_test_consume(&in, &out, &span, NULL);
}

static void *producer_thread(void *arg)
{
	return (void *)(intptr_t)produce(arg);
}

int main(int argc, char **argv)
{
	bool threads = false;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--threads"))
			threads = true;
	zr_test_init(argc, argv);
	zr_stress_parse(argc, argv, "--entries", 200000, &opt);
	char name[64];
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)32 << 20);
	zr_arena *a = zr_test_arena_cfg(&cfg, name);
	zr_ring_config rc_in = {.kind = ZR_RING_SPSC, .capacity = 256, .wait = ZR_WAIT_SPIN};
	zr_ring_config rc_out = rc_in;
	zr_ring *r1, *r2;
	if (zr_ring_create(a, "to_gpu", &rc_in, &r1) ||
	    zr_ring_create(a, "from_gpu", &rc_out, &r2)) {
		fprintf(stderr, "ring create failed\n");
		return 1;
	}
	zr_ring_close(r1);
	zr_ring_close(r2);
	int fail = 0;
	pid_t child = -1;
	pthread_t t;
	if (threads) {
		if (pthread_create(&t, NULL, producer_thread, name))
			return 1;
	} else if ((child = fork()) == 0) {
		_exit(produce(name));
	}
	struct side s;
	open_side(name, &s);
	uint64_t t0 = zr_test_now_ns();
	int64_t n = consume(&s);
	double secs = (double)(zr_test_now_ns() - t0) / 1e9;
	printf("consumer (%s): %lld messages in %.2f s, %.0f k/s\n", threads ? "threads" : "procs",
	       (long long)n, secs, (double)n / secs / 1e3);
	if (n != (int64_t)opt.count) {
		fprintf(stderr, "consumer handled %lld of %llu\n", (long long)n,
			(unsigned long long)opt.count);
		fail = 1;
	}
	if (threads) {
		void *ret;
		pthread_join(t, &ret);
		fail |= (int)(intptr_t)ret;
	} else {
		int st = 0;
		waitpid(child, &st, 0);
		fail |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	zr_diag d = {0};
	if (zr_arena_check(s.a, &d) != 0) {
		fprintf(stderr, "arena check: %s\n", d.msg);
		fail = 1;
	}
	close_side(&s);
	(void)zr_arena_close(a);
	printf("%s\n", fail ? "FAIL" : "ok");
	return fail;
}
