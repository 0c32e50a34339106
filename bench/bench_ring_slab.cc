// bench/bench_ring_slab.cc: rings and payload slabs, each against a
// baseline measured in the same run (STYLE 3.8).
//
//   BM_ring_{spsc,mpmc}/burst:N          enqueue + dequeue of N entries, one thread
//   BM_ring_{spsc,mpmc}_poll_empty       dequeue from an empty ring
//   BM_ring_{spsc,mpmc}_xthread/burst:N  producer thread -> consumer thread
//   BM_ring_{spsc,mpmc}_roundtrip        ping-pong through two rings
//   BM_baseline_pingpong                 one atomic word each way, same threads
//   BM_slab_alloc_free/size:N            payload alloc + free (threads 1 and 2)
//   BM_baseline_malloc_free/size:N       glibc malloc + free of the same size
//
// Two-thread benchmarks pin thread 0 and thread 1 to the first two CPUs this
// process may use (when there are two), and report real time. Their "Time"
// column divides by the iterations of both threads; use items_per_second, or
// the round_trip counter (seconds per round trip) for the ping-pongs.
// Refuses to measure in a Debug or sanitized build; listing and the smoke run
// (--benchmark_min_time of 0.01 s or less) are allowed everywhere.
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

namespace
{

constexpr unsigned kMaxBurst = 128;
constexpr uint32_t kRingCap = 1024;
constexpr unsigned kYieldEvery = 4096; // failed polls before a yield (one CPU only)

struct Ends {
	zr_ring *prod = nullptr; // each side has its own handle: SPSC handles cache
	zr_ring *cons = nullptr; // the other side's index
};

struct Globals {
	zr_arena *arena = nullptr;
	Ends single[3], xthread[3], ping[3], pong[3]; // indexed by zr_ring_kind
	int cpu[2] = {-1, -1};
	bool pinned = false;
} g;

// A handle opened by the thread that uses it: handles the main thread
// opened one after the other may share a cache line, and a spinning
// consumer writes its handle (the cached tail) on every empty poll.
class Local
{
      public:
	explicit Local(const zr_ring *shared)
	{
		if (zr_ring_open(g.arena, zr_ring_name(shared), &r_) != 0)
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

const char *kind_name(uint32_t kind)
{
	return kind == ZR_RING_SPSC ? "spsc" : "mpmc";
}

int make_ring(const std::string &name, uint32_t kind, Ends *e)
{
	zr_ring_config cfg = {kind, kRingCap, ZR_WAIT_SPIN};
	int rc = zr_ring_create(g.arena, name.c_str(), &cfg, &e->prod);
	if (rc == 0)
		rc = zr_ring_open(g.arena, name.c_str(), &e->cons);
	if (rc)
		std::fprintf(stderr, "ring %s: %s\n", name.c_str(), zr_strerror(rc));
	return rc;
}

// One arena for the whole run; its name is removed at once, so nothing is
// left in /dev/shm whatever way the program ends.
int setup_arena()
{
	char name[64];
	std::snprintf(name, sizeof(name), "zring-bench-%d", (int)getpid());
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)64 << 20);
	zr_diag d{};
	int rc = zr_arena_create(name, &cfg, &g.arena, &d);
	if (rc) {
		std::fprintf(stderr, "zr_arena_create(%s): %s: %s\n", name, zr_strerror(rc), d.msg);
		return rc;
	}
	rc = zr_arena_unlink(name);
	for (uint32_t k : {ZR_RING_SPSC, ZR_RING_MPMC}) {
		std::string n = kind_name(k);
		rc = rc ? rc : make_ring(n + "-single", k, &g.single[k]);
		rc = rc ? rc : make_ring(n + "-xthread", k, &g.xthread[k]);
		rc = rc ? rc : make_ring(n + "-ping", k, &g.ping[k]);
		rc = rc ? rc : make_ring(n + "-pong", k, &g.pong[k]);
	}
	return rc;
}

void find_cpus()
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	int n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			g.cpu[n++] = c;
	g.pinned = n == 2;
}

// Pins the calling thread for the lifetime of the object, then restores it.
class Pin
{
      public:
	explicit Pin(int thread_index)
	{
		if (!g.pinned)
			return;
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(g.cpu[thread_index & 1], &set);
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

// Busy wait on a failed poll; yields now and then in case both threads
// share one CPU.
inline void relax(unsigned *spins)
{
	if (++*spins == kYieldEvery) {
		*spins = 0;
		sched_yield();
	}
}

// ---- rings, one thread ----------------------------------------------------

void bm_ring_single(benchmark::State &state, uint32_t kind)
{
	zr_ring *r = g.single[kind].prod;
	unsigned burst = (unsigned)state.range(0);
	uint64_t buf[kMaxBurst] = {};
	for (auto _ : state) {
		unsigned in, out;
		if (burst == 1) {
			in = zr_ring_enqueue(r, buf[0]);
			out = zr_ring_dequeue(r, buf);
		} else {
			in = zr_ring_enqueue_burst(r, buf, burst);
			out = zr_ring_dequeue_burst(r, buf, burst);
		}
		benchmark::DoNotOptimize(buf[0]);
		if (in != burst || out != burst) {
			state.SkipWithError("ring did not take or give the whole burst");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * burst);
}

void bm_ring_poll_empty(benchmark::State &state, uint32_t kind)
{
	zr_ring *r = g.single[kind].cons;
	uint64_t v = 0;
	for (auto _ : state) {
		bool got = zr_ring_dequeue(r, &v);
		benchmark::DoNotOptimize(got);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// ---- rings, two threads ---------------------------------------------------

void put_all(zr_ring *r, const uint64_t *buf, unsigned burst)
{
	unsigned spins = 0;
	for (unsigned done = 0; done < burst;) {
		unsigned k = burst == 1 ? (unsigned)zr_ring_enqueue(r, buf[0])
					: zr_ring_enqueue_burst(r, buf + done, burst - done);
		done += k;
		if (!k)
			relax(&spins);
	}
}

void get_all(zr_ring *r, uint64_t *buf, unsigned burst)
{
	unsigned spins = 0;
	for (unsigned done = 0; done < burst;) {
		unsigned k = burst == 1 ? (unsigned)zr_ring_dequeue(r, buf)
					: zr_ring_dequeue_burst(r, buf + done, burst - done);
		done += k;
		if (!k)
			relax(&spins);
	}
}

// Thread 0 produces, thread 1 consumes; both run the same iterations, so
// the ring is empty again when the run ends.
void bm_ring_xthread(benchmark::State &state, uint32_t kind)
{
	Pin pin(state.thread_index());
	Local r(g.xthread[kind].prod);
	unsigned burst = (unsigned)state.range(0);
	uint64_t buf[kMaxBurst] = {};
	if (!r.get()) {
		state.SkipWithError("zr_ring_open failed");
	} else if (state.thread_index() == 0) {
		for (auto _ : state)
			put_all(r.get(), buf, burst);
		state.SetItemsProcessed((int64_t)state.iterations() * burst);
	} else {
		for (auto _ : state)
			get_all(r.get(), buf, burst);
		benchmark::DoNotOptimize(buf[0]);
	}
}

void set_round_trip(benchmark::State &state)
{
	state.SetItemsProcessed((int64_t)state.iterations());
	// seconds per round trip: real time divided by thread 0's iterations
	using C = benchmark::Counter;
	state.counters["round_trip"] = C((double)state.iterations(), C::kIsRate | C::kInvert);
}

// Thread 0 sends on ping and waits on pong; thread 1 echoes.
void bm_ring_roundtrip(benchmark::State &state, uint32_t kind)
{
	Pin pin(state.thread_index());
	bool first = state.thread_index() == 0;
	Local out(first ? g.ping[kind].prod : g.pong[kind].prod);
	Local in(first ? g.pong[kind].prod : g.ping[kind].prod);
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

// The floor for any cross-thread hand-off: one cache line each way.
struct alignas(64) Line {
	std::atomic<uint64_t> v{0};
};
Line ping_line, pong_line;

void bm_baseline_pingpong(benchmark::State &state)
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

// ---- payload slabs --------------------------------------------------------

void bm_slab_alloc_free(benchmark::State &state)
{
	size_t size = (size_t)state.range(0);
	for (auto _ : state) {
		zr_payload p;
		if (zr_payload_alloc(g.arena, size, &p) != 0) {
			state.SkipWithError("zr_payload_alloc failed");
			break;
		}
		benchmark::DoNotOptimize(p.v);
		if (zr_payload_free(g.arena, p) != 0) {
			state.SkipWithError("zr_payload_free failed");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void bm_baseline_malloc_free(benchmark::State &state)
{
	size_t size = (size_t)state.range(0);
	for (auto _ : state) {
		void *p = std::malloc(size);
		benchmark::DoNotOptimize(p);
		std::free(p);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// ---- registration ---------------------------------------------------------

void add_bursts(benchmark::internal::Benchmark *b)
{
	b->ArgName("burst");
	for (int n : {1, 8, 32, 128})
		b->Arg(n);
}

void add_sizes(benchmark::internal::Benchmark *b)
{
	b->ArgName("size");
	for (int64_t s = 64; s <= 65536; s *= 2)
		b->Arg(s); // every small class
	b->Arg(256 << 10); // the large-page heap
}

void register_all()
{
	for (uint32_t k : {ZR_RING_SPSC, ZR_RING_MPMC}) {
		std::string n = std::string("BM_ring_") + kind_name(k);
		add_bursts(benchmark::RegisterBenchmark(n.c_str(), bm_ring_single, k));
		benchmark::RegisterBenchmark((n + "_poll_empty").c_str(), bm_ring_poll_empty, k);
		std::string xn = n + "_xthread";
		auto *x = benchmark::RegisterBenchmark(xn.c_str(), bm_ring_xthread, k);
		add_bursts(x->Threads(2)->UseRealTime());
		benchmark::RegisterBenchmark((n + "_roundtrip").c_str(), bm_ring_roundtrip, k)
			->Threads(2)
			->UseRealTime();
	}
	benchmark::RegisterBenchmark("BM_baseline_pingpong", bm_baseline_pingpong)
		->Threads(2)
		->UseRealTime();
	for (int threads : {1, 2}) {
		auto *s = benchmark::RegisterBenchmark("BM_slab_alloc_free", bm_slab_alloc_free);
		auto *m = benchmark::RegisterBenchmark("BM_baseline_malloc_free",
						       bm_baseline_malloc_free);
		add_sizes(s->Threads(threads));
		add_sizes(m->Threads(threads));
		if (threads > 1) {
			s->UseRealTime();
			m->UseRealTime();
		}
	}
}

bool is_measuring_build()
{
#ifdef ZR_SANITIZED
	return false;
#else
	return std::strcmp(ZR_BUILD_TYPE, "Debug") != 0;
#endif
}

// In a Debug or sanitized build only listing and the smoke run are allowed.
bool allowed_to_run(int argc, char **argv)
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
		     "bench_ring_slab: refusing to measure a %s%s build; configure with "
		     "-DCMAKE_BUILD_TYPE=RelWithDebInfo or Release (--benchmark_list_tests and "
		     "--benchmark_min_time=0.001 still run)\n",
		     ZR_BUILD_TYPE, is_measuring_build() ? "" : " or sanitized");
	return false;
}

void add_context()
{
	benchmark::AddCustomContext("git_sha", ZR_GIT_SHA);
	benchmark::AddCustomContext("build_type", ZR_BUILD_TYPE);
	benchmark::AddCustomContext("zring_version", zr_version());
	benchmark::AddCustomContext("cpus_online", std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
	std::string placement = g.pinned ? "threads pinned to cpu " + std::to_string(g.cpu[0]) +
						   " and cpu " + std::to_string(g.cpu[1])
					 : "unpinned (fewer than 2 cpus allowed)";
	benchmark::AddCustomContext("placement", placement);
}

} // namespace

int main(int argc, char **argv)
{
	if (!allowed_to_run(argc, argv))
		return 1;
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	find_cpus();
	if (setup_arena() != 0)
		return 1;
	add_context();
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	zr_slab_cache_flush(g.arena);
	for (Ends *e : {g.single, g.xthread, g.ping, g.pong})
		for (uint32_t k : {ZR_RING_SPSC, ZR_RING_MPMC}) {
			zr_ring_close(e[k].prod);
			zr_ring_close(e[k].cons);
		}
	return zr_arena_close(g.arena) == 0 ? 0 : 1;
}
