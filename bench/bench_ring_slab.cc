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
#include "bench_common.h"

namespace
{

using namespace zr_bench;

constexpr unsigned kMaxBurst = 128;

struct Globals {
	zr_arena *arena = nullptr;
	Ends single[3], xthread[3], ping[3], pong[3]; // indexed by zr_ring_kind
} g;

const char *kind_name(uint32_t kind)
{
	return kind == ZR_RING_SPSC ? "spsc" : "mpmc";
}

// One arena for the whole run, its rings made at start.
int setup_arena()
{
	int rc = create_arena("zring-bench", &g.arena);
	for (uint32_t k : {ZR_RING_SPSC, ZR_RING_MPMC}) {
		std::string n = kind_name(k);
		rc = rc ? rc : make_ring(g.arena, (n + "-single").c_str(), k, &g.single[k]);
		rc = rc ? rc : make_ring(g.arena, (n + "-xthread").c_str(), k, &g.xthread[k]);
		rc = rc ? rc : make_ring(g.arena, (n + "-ping").c_str(), k, &g.ping[k]);
		rc = rc ? rc : make_ring(g.arena, (n + "-pong").c_str(), k, &g.pong[k]);
	}
	return rc;
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
	Local r(g.arena, zr_ring_name(g.xthread[kind].prod));
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

void bm_ring_roundtrip(benchmark::State &state, uint32_t kind)
{
	ring_roundtrip(state, g.arena, zr_ring_name(g.ping[kind].prod),
		       zr_ring_name(g.pong[kind].prod));
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

} // namespace

int main(int argc, char **argv)
{
	if (!allowed_to_run("bench_ring_slab", argc, argv))
		return 1;
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	find_cpus();
	if (setup_arena() != 0)
		return 1;
	add_context("threads pinned to cpu " + std::to_string(cpus.cpu[0]) + " and cpu " +
		    std::to_string(cpus.cpu[1]));
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
