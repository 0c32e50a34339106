// bench/bench_slab.cc: the payload slab and the priority inbox in one
// process, each beside a baseline measured in the same run. Names:
// bench/README.md. (The rings, beside their peers: bench_rings.)
//
//   slab/impl:zring_slab/size:N[/threads:2]   payload alloc + free
//   slab/impl:malloc/size:N[/threads:2]       glibc malloc + free of the same size
//   inbox/impl:zring_inbox/level:L            push at level L, then pop
//   inbox/impl:zring_inbox_low/burst:N        N entries at the lowest level, popped
//                                             one by one: what an empty upper level
//                                             costs a pop
//   inbox/impl:zring_mpmc/burst:1             the same through one MPMC ring
//   poll_empty/impl:zring_inbox               pop from an empty inbox
//
// Two-thread slab runs report real time; use items_per_second. Refuses to
// measure in a Debug or sanitized build; listing and the smoke run
// (--benchmark_min_time of 0.01 s or less) are allowed everywhere.
#include "bench_common.h"

namespace
{

using namespace zr_bench;

constexpr unsigned kMaxBurst = 128;

struct Globals {
	zr_arena *arena = nullptr;
	zr_inbox *inbox = nullptr;
	Ends ring; // MPMC
} g;

// One arena for the whole run, its inbox and ring made at start.
int setup_arena()
{
	int rc = create_arena("zring-bench-slab", &g.arena);
	zr_inbox_config cfg = {kRingCap, ZR_WAIT_SPIN, 0};
	rc = rc ? rc : zr_inbox_create(g.arena, "inbox", &cfg, &g.inbox);
	rc = rc ? rc : make_ring(g.arena, "ring", ZR_RING_MPMC, &g.ring);
	return rc;
}

// ---- the priority inbox -------------------------------------------------------

void bm_inbox_level(benchmark::State &state)
{
	unsigned level = (unsigned)state.range(0), got = 0;
	uint64_t v = 0;
	for (auto _ : state) {
		bool in = zr_inbox_push(g.inbox, level, v);
		bool out = zr_inbox_pop(g.inbox, &v, &got);
		if (!in || !out || got != level) {
			state.SkipWithError("inbox did not take or give the entry");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// A burst at the lowest level, then popped one by one: each pop looks at
// the three empty levels above first.
void bm_inbox_low(benchmark::State &state)
{
	unsigned burst = (unsigned)state.range(0);
	uint64_t v = 0;
	for (auto _ : state) {
		unsigned in = 0, out = 0;
		for (unsigned i = 0; i < burst; i++)
			in += zr_inbox_push(g.inbox, ZR_PRIO_LOW, i);
		for (unsigned i = 0; i < burst; i++)
			out += zr_inbox_pop(g.inbox, &v, nullptr);
		benchmark::DoNotOptimize(v);
		if (in != burst || out != burst) {
			state.SkipWithError("inbox did not take or give the whole burst");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * burst);
}

void bm_ring_burst(benchmark::State &state)
{
	unsigned burst = (unsigned)state.range(0);
	uint64_t v = 0;
	for (auto _ : state) {
		unsigned in = 0, out = 0;
		for (unsigned i = 0; i < burst; i++)
			in += zr_ring_enqueue(g.ring.prod, i);
		for (unsigned i = 0; i < burst; i++)
			out += zr_ring_dequeue(g.ring.cons, &v);
		benchmark::DoNotOptimize(v);
		if (in != burst || out != burst) {
			state.SkipWithError("ring did not take or give the whole burst");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * burst);
}

void bm_inbox_poll_empty(benchmark::State &state)
{
	uint64_t v = 0;
	for (auto _ : state) {
		bool got = zr_inbox_pop(g.inbox, &v, nullptr);
		benchmark::DoNotOptimize(got);
	}
	state.SetItemsProcessed((int64_t)state.iterations());
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

void add_sizes(benchmark::internal::Benchmark *b)
{
	b->ArgName("size");
	for (int64_t s = 64; s <= 65536; s *= 2)
		b->Arg(s); // every small class
	b->Arg(256 << 10); // the large-page heap
	b->Arg(1 << 20);
}

void register_all()
{
	for (int threads : {1, 2}) {
		auto *s = benchmark::RegisterBenchmark("slab/impl:zring_slab", bm_slab_alloc_free);
		auto *m = benchmark::RegisterBenchmark("slab/impl:malloc", bm_baseline_malloc_free);
		add_sizes(s->Threads(threads));
		add_sizes(m->Threads(threads));
		if (threads > 1) {
			s->UseRealTime();
			m->UseRealTime();
		}
	}
	benchmark::RegisterBenchmark("inbox/impl:zring_inbox", bm_inbox_level)
		->ArgName("level")
		->DenseRange(0, ZR_PRIO_COUNT - 1);
	for (int n : {1, 32})
		benchmark::RegisterBenchmark("inbox/impl:zring_inbox_low", bm_inbox_low)
			->ArgName("burst")
			->Arg(n);
	for (int n : {1, 32})
		benchmark::RegisterBenchmark("inbox/impl:zring_mpmc", bm_ring_burst)
			->ArgName("burst")
			->Arg(n);
	benchmark::RegisterBenchmark("poll_empty/impl:zring_inbox", bm_inbox_poll_empty);
}

} // namespace

int main(int argc, char **argv)
{
	if (!start("bench_slab", &argc, argv))
		return 1;
	if (setup_arena() != 0)
		return 1;
	add_context("threads pinned to cpu " + std::to_string(cpus.cpu[0]) + " and cpu " +
		    std::to_string(cpus.cpu[1]));
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	zr_slab_cache_flush(g.arena);
	zr_inbox_close(g.inbox);
	zr_ring_close(g.ring.prod);
	zr_ring_close(g.ring.cons);
	return zr_arena_close(g.arena) == 0 ? 0 : 1;
}
