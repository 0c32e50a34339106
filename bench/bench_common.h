// bench/bench_common.h: what every benchmark program shares: the two CPUs
// two-thread benchmarks pin to, ring handles, the bare ping-pong and ring
// round-trip baselines, the round-trip counter, and the refusal to measure a Debug or sanitized
// build. Header only: each program is one translation unit.
#ifndef ZRING_BENCH_COMMON_H
#define ZRING_BENCH_COMMON_H

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "zring.h"

#ifndef ZR_GIT_SHA
#define ZR_GIT_SHA "unknown"
#endif
#ifndef ZR_BUILD_TYPE
#define ZR_BUILD_TYPE "unknown"
#endif

namespace zr_bench
{

constexpr uint32_t kRingCap = 1024;
constexpr unsigned kYieldEvery = 4096; // failed polls before a yield (one CPU only)

struct Ends {
	zr_ring *prod = nullptr; // each side has its own handle: SPSC handles cache
	zr_ring *cons = nullptr; // the other side's index
};

// The first two CPUs this process may use; pinned when there are two.
struct Cpus {
	int cpu[2] = {-1, -1};
	bool pinned = false;
};
inline Cpus cpus;

inline void find_cpus()
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	int n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus.cpu[n++] = c;
	cpus.pinned = n == 2;
}

// Pins the calling thread for the lifetime of the object, then restores it.
class Pin
{
      public:
	explicit Pin(int thread_index)
	{
		if (!cpus.pinned)
			return;
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpus.cpu[thread_index & 1], &set);
		ok_ = pthread_getaffinity_np(pthread_self(), sizeof(old_), &old_) == 0 &&
		      pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
	}
	~Pin()
	{
		if (ok_)
			pthread_setaffinity_np(pthread_self(), sizeof(old_), &old_);
	}
	Pin(const Pin &) = delete;
	Pin &operator=(const Pin &) = delete;

      private:
	cpu_set_t old_;
	bool ok_ = false;
};

// Busy wait on a failed poll; yields now and then in case both sides share
// one CPU. Returns true when it yielded: a moment to look for failures.
inline bool relax(unsigned *spins)
{
	if (++*spins == kYieldEvery) {
		*spins = 0;
		sched_yield();
		return true;
	}
	return false;
}

// A ring handle opened by the thread that uses it: handles the main thread
// opened one after the other may share a cache line, and a spinning
// consumer writes its handle (the cached tail) on every empty poll.
class Local
{
      public:
	Local(zr_arena *a, const char *name)
	{
		if (!a || zr_ring_open(a, name, &r_) != 0)
			r_ = nullptr;
	}
	~Local()
	{
		zr_ring_close(r_);
	}
	Local(const Local &) = delete;
	Local &operator=(const Local &) = delete;
	zr_ring *get() const
	{
		return r_;
	}

      private:
	zr_ring *r_ = nullptr;
};

// A ring of kRingCap entries and a second handle on it.
inline int make_ring(zr_arena *a, const char *name, uint32_t kind, Ends *e)
{
	zr_ring_config cfg = {kind, kRingCap, ZR_WAIT_SPIN};
	int rc = zr_ring_create(a, name, &cfg, &e->prod);
	if (rc == 0)
		rc = zr_ring_open(a, name, &e->cons);
	if (rc)
		std::fprintf(stderr, "ring %s: %s\n", name, zr_strerror(rc));
	return rc;
}

// A 64 MiB arena "<prefix>-<pid>" whose name is removed at once, so nothing
// is left in /dev/shm whatever way the program ends.
inline int create_arena(const char *prefix, zr_arena **out)
{
	char name[64];
	std::snprintf(name, sizeof(name), "%s-%d", prefix, (int)getpid());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)64 << 20);
	zr_diag d{};
	int rc = zr_arena_create(name, &cfg, out, &d);
	if (rc) {
		std::fprintf(stderr, "zr_arena_create(%s): %s: %s\n", name, zr_strerror(rc), d.msg);
		return rc;
	}
	return zr_arena_unlink(name);
}

inline void set_round_trip(benchmark::State &state)
{
	state.SetItemsProcessed((int64_t)state.iterations());
	// seconds per round trip: real time divided by thread 0's iterations
	using C = benchmark::Counter;
	state.counters["round_trip"] = C((double)state.iterations(), C::kIsRate | C::kInvert);
}

// The floor for any cross-thread hand-off: one cache line each way.
struct alignas(64) Line {
	std::atomic<uint64_t> v{0};
};
inline Line ping_line, pong_line;

inline void bm_baseline_pingpong(benchmark::State &state)
{
	Pin pin(state.thread_index());
	unsigned spins = 0;
	uint64_t i = 0;
	if (state.thread_index() == 0) {
		// reset before the start barrier, which orders it for thread 1
		ping_line.v.store(0, std::memory_order_relaxed);
		pong_line.v.store(0, std::memory_order_relaxed);
	}
	for (auto _ : state) {
		i++;
		if (state.thread_index() == 0) {
			ping_line.v.store(i, std::memory_order_release);
			while (pong_line.v.load(std::memory_order_acquire) != i)
				relax(&spins);
		} else {
			while (ping_line.v.load(std::memory_order_acquire) != i)
				relax(&spins);
			pong_line.v.store(i, std::memory_order_release);
		}
	}
	if (state.thread_index() == 0)
		set_round_trip(state);
}

// Two threads on the rings `ping` and `pong` of `a`: thread 0 sends on ping
// and waits on pong; thread 1 echoes.
inline void ring_roundtrip(benchmark::State &state, zr_arena *a, const char *ping, const char *pong)
{
	Pin pin(state.thread_index());
	bool first = state.thread_index() == 0;
	Local out(a, first ? ping : pong);
	Local in(a, first ? pong : ping);
	uint64_t v = 0;
	unsigned spins = 0;
	if (!out.get() || !in.get()) {
		state.SkipWithError("zr_ring_open failed");
		return;
	}
	for (auto _ : state) {
		if (first) {
			while (!zr_ring_enqueue(out.get(), v))
				relax(&spins);
		}
		while (!zr_ring_dequeue(in.get(), &v))
			relax(&spins);
		if (!first) {
			while (!zr_ring_enqueue(out.get(), v))
				relax(&spins);
		}
	}
	if (first)
		set_round_trip(state);
}

inline bool is_measuring_build()
{
#ifdef ZR_SANITIZED
	return false;
#else
	return std::strcmp(ZR_BUILD_TYPE, "Debug") != 0;
#endif
}

// In a Debug or sanitized build only listing and the smoke run are allowed.
inline bool allowed_to_run(const char *program, int argc, char **argv)
{
	if (is_measuring_build())
		return true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!std::strncmp(a, "--benchmark_list_tests", 22) && !std::strstr(a, "=false"))
			return true;
		if (!std::strncmp(a, "--benchmark_min_time=", 21) && std::atof(a + 21) > 0 &&
		    std::atof(a + 21) <= 0.01)
			return true;
	}
	std::fprintf(stderr,
		     "%s: refusing to measure a %s%s build; configure with "
		     "-DCMAKE_BUILD_TYPE=RelWithDebInfo or Release (--benchmark_list_tests and "
		     "--benchmark_min_time=0.001 still run)\n",
		     program, ZR_BUILD_TYPE, is_measuring_build() ? "" : " or sanitized");
	return false;
}

// The start of every program's main(): refuse a Debug or sanitized build
// (see allowed_to_run), let the library take its flags, reject any other,
// and find the CPUs to pin to. False: exit 1.
inline bool start(const char *program, int *argc, char **argv)
{
	if (!allowed_to_run(program, *argc, argv))
		return false;
	benchmark::Initialize(argc, argv);
	if (benchmark::ReportUnrecognizedArguments(*argc, argv))
		return false;
	find_cpus();
	return true;
}

// What was measured and how: recorded in every report.
inline void add_context(const std::string &placement)
{
	benchmark::AddCustomContext("git_sha", ZR_GIT_SHA);
	benchmark::AddCustomContext("build_type", ZR_BUILD_TYPE);
	benchmark::AddCustomContext("zring_version", zr_version());
	benchmark::AddCustomContext("cpus_online", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
	benchmark::AddCustomContext(
		"placement", cpus.pinned ? placement : "unpinned (fewer than 2 cpus allowed)");
}

// --zr_rt_iters=N (taken out of argv), else ZR_BENCH_RT_ITERS, else *iters
// stays as it is. False (after a message naming `prog`) on a bad number.
inline bool parse_rt_iters(const char *prog, int *argc, char **argv, uint64_t *iters)
{
	const char *s = std::getenv("ZR_BENCH_RT_ITERS");
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		if (std::strncmp(argv[i], "--zr_rt_iters=", 14) == 0)
			s = argv[i] + 14;
		else
			argv[out++] = argv[i];
	}
	*argc = out;
	if (!s)
		return true;
	char *end;
	unsigned long long n = std::strtoull(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n == 0) {
		std::fprintf(stderr,
			     "%s: round-trip iterations must be a positive number, not \"%s\"\n",
			     prog, s);
		return false;
	}
	*iters = n;
	return true;
}

} // namespace zr_bench

#endif
