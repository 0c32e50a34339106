/* tests/unit/test_gpu_host.c: the GPU module without a GPU. zr_gpu_open()
 * says why it cannot (built without CUDA, or no driver or device), ring
 * views refuse what a kernel cannot use, the device code of
 * zring/gpu_device.h keeps the SPSC protocol with a CPU on the other side,
 * and a worker with no zr_gpu runs the whole host-proxy loop on the CPU:
 * claims, in-place items, results, failures and rejections. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/gpu_common.h"
#include "jobs.h"
#include "runtime/layout.h"
#include "rings/ring_impl.h"
#include "zring/job.h"

static void test_open_says_why(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	zr_gpu *g = (zr_gpu *)1;
	zr_diag d = {0};
	int rc = zr_gpu_open(a, NULL, &g, &d);
	if (rc == 0) { /* a GPU is here: the gpu-labelled tests cover it */
		assert_int_equal(zr_gpu_close(g), 0);
		assert_int_equal(zr_arena_close(a), 0);
		skip();
	}
	assert_null(g);
	assert_int_equal(d.code, rc);
	assert_true(strlen(d.msg) > 10);
#ifdef ZR_HAVE_CUDA
	assert_int_equal(rc, ZR_ENODEV);
	assert_int_equal(zr_gpu_device_count(), 0);
#else
	assert_int_equal(rc, ZR_ENOTSUP);
	assert_non_null(strstr(d.msg, "without the CUDA toolkit"));
#endif
	print_message("zr_gpu_open: %s: %s\n", zr_strerror(rc), d.msg);
	assert_int_equal(zr_gpu_close(NULL), 0);
	void *dev = (void *)1;
	assert_int_equal(zr_gpu_offset_ptr(NULL, 0, 8, &dev), -EINVAL);
	assert_null(dev);
	assert_int_equal(zr_arena_close(a), 0);
}

/* Only tmpfs and hugetlbfs pages can be pinned: a file-backed arena on a
 * disk filesystem is refused before any CUDA call, with or without a GPU. */
static void test_open_refuses_disk_files(void **state)
{
	(void)state;
	char path[PATH_MAX];
	struct statfs sf;
	if (!getcwd(path, sizeof(path) - 64) || statfs(path, &sf) != 0 ||
	    sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC)
		skip(); /* the test directory is not on a disk filesystem */
	snprintf(path + strlen(path), 64, "/%s.arena", zr_test_name());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)2 << 20);
	zr_arena *a = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_arena_create_file(path, &cfg, &a, &d), 0);
	zr_gpu *g = NULL;
	int rc = zr_gpu_open(a, NULL, &g, &d);
	assert_int_equal(rc, ZR_ENOTSUP);
	assert_null(g);
#ifdef ZR_HAVE_CUDA
	assert_non_null(strstr(d.msg, "only tmpfs (/dev/shm) and hugetlbfs"));
#endif
	assert_int_equal(zr_arena_close(a), 0);
	assert_int_equal(unlink(path), 0);
	size_t removed = 0;
	assert_int_equal(zr_arena_gc(&removed), 0); /* drops the registry link */
}

static zr_ring *make_ring(zr_arena *a, const char *name, uint32_t kind, uint32_t cap, uint32_t wait)
{
	zr_ring_config cfg = {.kind = kind, .capacity = cap, .wait = wait};
	zr_ring *r = NULL;
	assert_int_equal(zr_ring_create(a, name, &cfg, &r), 0);
	return r;
}

static void test_view_refuses(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	zr_ring *mpmc = make_ring(a, "mpmc", ZR_RING_MPMC, 64, ZR_WAIT_SPIN);
	zr_ring *futex = make_ring(a, "futex", ZR_RING_SPSC, 64, ZR_WAIT_FUTEX);
	zr_gpu_ring v;
	zr_diag d = {0};
	assert_int_equal(zr_gpu_ring_view(NULL, mpmc, ZR_GPU_CONSUMER, &v, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "not SPSC"));
	assert_int_equal(zr_gpu_ring_view(NULL, futex, ZR_GPU_PRODUCER, &v, &d), -EINVAL);
	assert_non_null(strstr(d.msg, "ZR_WAIT_SPIN"));
	assert_int_equal(zr_gpu_ring_view(NULL, futex, 7, &v, &d), -EINVAL);
	/* a kernel may consume a futex ring: the CPU producer wakes no one */
	assert_int_equal(zr_gpu_ring_view(NULL, futex, ZR_GPU_CONSUMER, &v, &d), 0);
	/* head and tail more than a lap apart */
	atomic_store_explicit(&futex->hdr->a_tail, 1000, memory_order_relaxed);
	assert_int_equal(zr_gpu_ring_view(NULL, futex, ZR_GPU_CONSUMER, &v, &d), ZR_ECORRUPT);
	zr_ring_close(mpmc);
	zr_ring_close(futex);
	assert_int_equal(zr_arena_close(a), 0);
}

/* The device code against the CPU's ring functions, both directions. */
static void test_device_code_keeps_the_protocol(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	zr_ring *in = make_ring(a, "in", ZR_RING_SPSC, 8, ZR_WAIT_SPIN);
	zr_ring *out = make_ring(a, "out", ZR_RING_SPSC, 8, ZR_WAIT_SPIN);
	zr_gpu_ring vin, vout;
	assert_int_equal(zr_gpu_ring_view(NULL, in, ZR_GPU_CONSUMER, &vin, NULL), 0);
	assert_int_equal(zr_gpu_ring_view(NULL, out, ZR_GPU_PRODUCER, &vout, NULL), 0);
	uint64_t v = 0, burst[8];
	assert_int_equal(zr_gpu_ring_poll(&vin, &v), 0);
	for (uint64_t i = 0; i < 40; i++) {
		assert_true(zr_ring_enqueue(in, i + 100));
		assert_int_equal(zr_gpu_ring_poll(&vin, &v), 1);
		assert_int_equal(v, i + 100);
		assert_int_equal(zr_gpu_ring_push(&vout, v * 2), 1);
		assert_true(zr_ring_dequeue(out, &v));
		assert_int_equal(v, (i + 100) * 2);
	}
	/* full from both sides */
	for (uint64_t i = 0; i < 8; i++)
		assert_true(zr_ring_enqueue(in, i));
	assert_false(zr_ring_enqueue(in, 99));
	assert_int_equal(zr_gpu_ring_poll_burst(&vin, burst, 5), 5);
	assert_int_equal(zr_gpu_ring_poll_burst(&vin, burst + 5, 8), 3);
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(burst[i], i);
	assert_int_equal(zr_ring_count(in), 0);
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(zr_gpu_ring_push(&vout, i), 1);
	assert_int_equal(zr_gpu_ring_push(&vout, 8), 0);
	uint32_t stop = 1;
	assert_int_equal(zr_gpu_ring_push_wait(&vout, 8, &stop), 0);
	assert_int_equal(zr_gpu_ring_wait(&vin, &v, &stop), 0);
	assert_true(zr_ring_dequeue(out, &v));
	assert_int_equal(zr_gpu_ring_push(&vout, 8), 1);
	assert_int_equal(zr_ring_count(out), 8);
	/* indices scribbled by a third party are corruption, not a wild read */
	atomic_store_explicit(&in->hdr->a_tail, vin.pos + 9, memory_order_relaxed);
	vin.seen = vin.pos;
	assert_int_equal(zr_gpu_ring_poll(&vin, &v), ZR_ECORRUPT);
	assert_int_equal(zr_gpu_ring_poll_burst(&vin, burst, 8), ZR_ECORRUPT);
	atomic_store_explicit(&out->hdr->a_head, vout.pos + 1, memory_order_relaxed);
	vout.seen = vout.pos - 8;
	assert_int_equal(zr_gpu_ring_push(&vout, 1), ZR_ECORRUPT);
	zr_ring_close(in);
	zr_ring_close(out);
	assert_int_equal(zr_arena_close(a), 0);
}

static void test_span_bounds(void **state)
{
	(void)state;
	char name[64];
	zr_arena *a = zr_test_arena((size_t)4 << 20, name);
	zr_gpu_span s;
	assert_int_equal(zr_gpu_span_get(NULL, a, &s), 0);
	assert_ptr_equal(s.base, zr_arena_base(a));
	assert_int_equal(s.size, (uint64_t)4 << 20);
	assert_non_null(zr_gpu_at(&s, 0, s.size));
	assert_null(zr_gpu_at(&s, 1, s.size));
	assert_null(zr_gpu_at(&s, s.size + 1, 0));
	assert_null(zr_gpu_at(&s, 64, UINT64_MAX - 32)); /* no wrap-around */
	/* a message whose length points past the end sums to 0, unread */
	struct zr_test_msg *m = (struct zr_test_msg *)(void *)(s.base + s.size - 64);
	m->len = 100;
	m->seq = 1;
	assert_int_equal(zr_test_msg_sum(&s, s.size - 64), 0);
	m->len = 48;
	assert_true(zr_test_msg_sum(&s, s.size - 64) != 0);
	assert_int_equal(zr_arena_close(a), 0);
}

/* ---- the host-proxy worker on the CPU path ----------------------------- */

struct cpu_kernel {
	unsigned launches;
	unsigned most;
	int refuse;	    /* return this from launch */
	uint64_t fail_type; /* items of this job type get status 5 */
	uint64_t long_type; /* items of this type claim more than out_cap */
};

static int cpu_launch(void *user, zr_gpu_item *items, unsigned n, void *stream)
{
	struct cpu_kernel *k = user;
	assert_null(stream);
	k->launches++;
	if (n > k->most)
		k->most = n;
	if (k->refuse)
		return k->refuse;
	for (unsigned i = 0; i < n; i++) {
		zr_gpu_item *it = &items[i];
		assert_int_equal(it->out_len, 0);
		assert_int_equal(it->status, 0);
		uint64_t sum = zr_test_fnv(it->in, it->in_len, ZR_TEST_FNV_SEED);
		memcpy(it->out, &sum, sizeof(sum));
		it->out_len = sizeof(sum);
		if (it->type == k->fail_type)
			it->status = 5;
		if (it->type == k->long_type)
			it->out_len = it->out_cap + 1;
	}
	return 0;
}

static zr_job_id submit_payload(uint32_t type, const uint8_t *data, size_t n, int level,
				uint32_t retries)
{
	zr_job_builder b;
	zr_job_builder_init(&b, type);
	b.max_retries = retries;
	b.compress_level = level;
	assert_int_equal(zr_payload_alloc(jt.a, n, &b.payload), 0);
	memcpy(zr_payload_ptr(jt.a, b.payload), data, n);
	b.payload_len = n;
	zr_job_id id = 0;
	assert_int_equal(zr_job_submit(jt.prod, &b, &id, NULL), 0);
	return id;
}

static void test_worker_on_cpu(void **state)
{
	(void)state;
	enum { N = 100 };
	uint64_t seed = zr_test_seed;
	uint8_t data[N][300];
	zr_job_id ids[N];
	for (int i = 0; i < N; i++) {
		for (size_t j = 0; j < sizeof(data[i]); j++)
			data[i][j] = (uint8_t)zr_test_rand(&seed);
		ids[i] = submit_payload(ZR_JOB_COMPUTE, data[i], 1 + (size_t)i * 2, 0, 0);
	}
	struct cpu_kernel k = {.fail_type = ZR_JOB_QUERY, .long_type = ZR_JOB_CONTROL};
	zr_gpu_worker_config cfg;
	zr_gpu_worker_config_init(&cfg, cpu_launch, &k);
	cfg.batch = 16;
	cfg.result_bytes = 8;
	cfg.wait_ns = 0;
	zr_gpu_worker *w = NULL;
	zr_diag d = {0};
	assert_int_equal(zr_gpu_worker_create(NULL, jt.work, &cfg, &w, &d), 0);
	int done = 0, rc;
	while ((rc = zr_gpu_worker_step(w, &d)) > 0)
		done += rc;
	assert_int_equal(rc, 0);
	assert_int_equal(done, N);
	zr_gpu_worker_stats st;
	zr_gpu_worker_stat(w, &st);
	assert_int_equal(st.completed, N);
	assert_int_equal(st.jobs, N);
	assert_int_equal(st.largest_batch, 16);
	assert_int_equal(st.batches, (N + 15) / 16);
	assert_int_equal(k.most, 16);
	for (int i = 0; i < N; i++) {
		zr_job_info info;
		assert_int_equal(zr_job_get(jt.a, ids[i], &info), 0);
		assert_int_equal(info.status, ZR_JOB_COMPLETED);
		assert_int_equal(info.result_len, 8);
		uint64_t sum;
		memcpy(&sum, zr_payload_ptr(jt.a, info.result), 8);
		assert_true(sum == zr_test_fnv(data[i], 1 + (size_t)i * 2, ZR_TEST_FNV_SEED));
	}
	zr_gpu_worker_destroy(w);
}

static void test_worker_failures(void **state)
{
	(void)state;
	uint8_t text[4096];
	memset(text, 'z', sizeof(text)); /* compresses well */
	struct cpu_kernel k = {.fail_type = ZR_JOB_QUERY, .long_type = ZR_JOB_CONTROL};
	zr_gpu_worker_config cfg;
	zr_gpu_worker_config_init(&cfg, cpu_launch, &k);
	cfg.result_bytes = 8;
	cfg.wait_ns = 0;
	zr_gpu_worker *w = NULL;
	assert_int_equal(zr_gpu_worker_create(NULL, jt.work, &cfg, &w, NULL), 0);
	zr_job_id packed = submit_payload(ZR_JOB_COMPUTE, text, sizeof(text), 3, 2);
	zr_job_id bad = submit_payload(ZR_JOB_QUERY, text, 10, 0, 0);
	zr_job_id retried = submit_payload(ZR_JOB_QUERY, text, 10, 0, 1);
	zr_job_id too_long = submit_payload(ZR_JOB_CONTROL, text, 10, 0, 2);
	assert_int_equal(zr_gpu_worker_step(w, NULL), 4);
	zr_gpu_worker_stats st;
	zr_gpu_worker_stat(w, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.failed, 3);
	assert_int_equal(st.jobs, 3);
	zr_job_info info;
	assert_int_equal(zr_job_get(jt.a, packed, &info), 0);
	assert_int_equal(info.status, ZR_JOB_FAILED); /* for good: retries cannot help */
	assert_non_null(strstr(info.error, "compressed"));
	assert_int_equal(zr_job_get(jt.a, bad, &info), 0);
	assert_int_equal(info.status, ZR_JOB_FAILED);
	assert_non_null(strstr(info.error, "status 5"));
	assert_int_equal(zr_job_get(jt.a, retried, &info), 0);
	assert_int_equal(info.status, ZR_JOB_DELAYED); /* backoff, then again */
	assert_int_equal(zr_job_get(jt.a, too_long, &info), 0);
	assert_int_equal(info.status, ZR_JOB_FAILED);
	assert_non_null(strstr(info.error, "out_cap"));
	/* a launch refused fails the batch with a retry */
	k.refuse = 1;
	zr_job_id refused = submit_payload(ZR_JOB_COMPUTE, text, 10, 0, 1);
	assert_int_equal(zr_gpu_worker_step(w, NULL), 1);
	assert_int_equal(zr_job_get(jt.a, refused, &info), 0);
	assert_int_equal(info.status, ZR_JOB_DELAYED);
	assert_non_null(strstr(info.error, "refused"));
	/* no result payloads were leaked on any of these paths */
	zr_slab_class_stats cls[ZR_SLAB_MAX_CLASSES + 1];
	size_t n = 0;
	zr_slab_stat(jt.a, cls, ZR_SLAB_MAX_CLASSES + 1, &n);
	uint64_t in_use = 0;
	for (size_t i = 0; i < n; i++)
		in_use += cls[i].in_use;
	assert_int_equal(in_use, 5); /* the five jobs' payloads, no result */
	zr_gpu_worker_destroy(w);
}

static void test_worker_config_checked(void **state)
{
	(void)state;
	zr_gpu_worker_config cfg;
	zr_gpu_worker_config_init(&cfg, NULL, NULL);
	zr_gpu_worker *w = (zr_gpu_worker *)1;
	zr_diag d = {0};
	assert_int_equal(zr_gpu_worker_create(NULL, jt.work, &cfg, &w, &d), -EINVAL);
	assert_null(w);
	cfg.launch = cpu_launch;
	cfg.batch = 5000;
	assert_int_equal(zr_gpu_worker_create(NULL, jt.work, &cfg, &w, &d), -EINVAL);
	cfg.batch = 0;
	assert_int_equal(zr_gpu_worker_create(NULL, jt.work, &cfg, &w, &d), -EINVAL);
}

int main(int argc, char **argv)
{
	zr_test_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_says_why),
		cmocka_unit_test(test_open_refuses_disk_files),
		cmocka_unit_test(test_view_refuses),
		cmocka_unit_test(test_device_code_keeps_the_protocol),
		cmocka_unit_test(test_span_bounds),
		cmocka_unit_test_setup_teardown(test_worker_on_cpu, zr_test_jobs_setup,
						zr_test_jobs_teardown),
		cmocka_unit_test_setup_teardown(test_worker_failures, zr_test_jobs_setup,
						zr_test_jobs_teardown),
		cmocka_unit_test_setup_teardown(test_worker_config_checked, zr_test_jobs_setup,
						zr_test_jobs_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
