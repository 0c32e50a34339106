// bench/bench_rings.cc: zring's rings beside their peers, in one run.
//
//   single/impl:X/burst:N          enqueue then dequeue N entries, one thread
//   poll_empty/impl:X              one dequeue from an empty ring
//   xthread/impl:X/burst:N         producer thread -> consumer thread, N per call
//   mt_rt/impl:X                   one entry each way through two rings, two threads
//   mt_rt/impl:pingpong            one cache line each way (the floor)
//   rt/impl:X/size:8               the same between two processes (xproc.h)
//   rt/impl:pingpong/size:8        one cache line each way between the processes
//   producers/impl:X/producers:P   P processes stream into one MPMC ring; the
//                                  parent drains it and counts the entries
//
// X is zring_spsc, zring_mpmc, rte_ring_sp, rte_ring_mp, ck_ring_spsc,
// ck_ring_mpmc, boost_spsc_queue or boost_queue (bench/README.md). Every
// ring has 1024 slots of 8-byte entries; rte_ring and ck_ring keep one slot
// empty, so they hold 1023. A peer whose package was not found at configure
// time is still listed, and its benchmarks end at once with "skipped:
// <package> not installed".
//
// How each library is called, as its users would: zring through its
// library (zring_static, no LTO: a call per operation); rte_ring, ck_ring
// and Boost.Lockfree inline from their headers. Bursts use the library's
// burst call where it has one (zr_ring_*_burst, rte_ring_*_burst_elem,
// spsc_queue::push/pop of an array); ck_ring and boost::lockfree::queue
// have none, so a burst is a loop of single operations.
//
// Two-thread benchmarks pin thread 0 and 1 to the first two CPUs; a child
// process is pinned to the second CPU and the benchmark thread to the first.
// The cross-process round trips run a fixed count of iterations, every one
// timed (exact percentiles): 1,000,000 unless --zr_rt_iters=N or the
// environment variable ZR_BENCH_RT_ITERS says otherwise. Refuses to measure
// in a Debug or sanitized build; listing and the smoke run are allowed.
#include "ring_impls.h"
#include "xproc.h"

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

namespace
{

using namespace zr_bench;

constexpr unsigned kMaxBurst = 128;
constexpr uint64_t kDefaultRtIters = 1000000;
constexpr unsigned kIdShift = 56; // producers: producer id above, sequence below
constexpr uint64_t kSeqMask = (1ull << kIdShift) - 1;
constexpr unsigned kDrainBatch = 1024;	    // producers: entries per iteration at most,
constexpr uint64_t kDrainSliceNs = 1000000; // or this long, whichever ends first

// ---- the rings of the in-process benchmarks, made at start ---------------

enum Role { kSingle, kXthread, kPing, kPong, kRoles };
const char *const kRoleName[kRoles] = {"single", "xthread", "ping", "pong"};

struct Globals {
	zr_arena *arena = nullptr;
	std::vector<void *> blocks; // the peers' rings, freed at exit
	uint64_t rt_iters = kDefaultRtIters;
} g;

template <class R> struct Home {
	static inline Where ring[kRoles];
	static inline char names[kRoles][ZR_NAME_MAX + 1];
};

template <class R> int make_home()
{
	if (R::kSkip)
		return 0;
	for (int k = 0; k < kRoles; k++) {
		Where &w = Home<R>::ring[k];
		if (R::kArena) {
			char *n = Home<R>::names[k];
			std::snprintf(n, sizeof(Home<R>::names[k]), "%s-%s", R::kName,
				      kRoleName[k]);
			w = in_arena(g.arena, n);
		} else {
			w.mem = std::aligned_alloc(64, round64(R::bytes()));
			if (!w.mem)
				return -ENOMEM;
			g.blocks.push_back(w.mem);
		}
		int rc = R::create(w);
		if (rc) {
			std::fprintf(stderr, "bench_rings: %s %s: %s\n", R::kName, kRoleName[k],
				     zr_strerror(rc));
			return rc;
		}
	}
	return 0;
}

template <class... R> int make_homes(Impls<R...>)
{
	int rc = create_arena("zring-bench-rings", &g.arena);
	((rc = rc ? rc : make_home<R>()), ...);
	return rc;
}

// ---- one thread -----------------------------------------------------------

template <class R> bool skipped(benchmark::State &state)
{
	if (R::kSkip)
		state.SkipWithError(R::kSkip);
	return R::kSkip != nullptr;
}

template <class R> void bm_single(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	R r(Home<R>::ring[kSingle]);
	unsigned burst = (unsigned)state.range(0);
	uint64_t buf[kMaxBurst] = {};
	if (!r.ok()) {
		state.SkipWithError("ring open failed");
		return;
	}
	for (auto _ : state) {
		unsigned in, out;
		if (burst == 1) {
			in = r.put(buf[0]);
			out = r.get(buf);
		} else {
			in = r.put_burst(buf, burst);
			out = r.get_burst(buf, burst);
		}
		benchmark::DoNotOptimize(buf[0]);
		if (in != burst || out != burst) {
			state.SkipWithError("ring did not take or give the whole burst");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations() * burst);
}

template <class R> void bm_poll_empty(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	R r(Home<R>::ring[kSingle]);
	uint64_t v = 0;
	if (!r.ok()) {
		state.SkipWithError("ring open failed");
		return;
	}
	for (auto _ : state) {
		bool got = r.get(&v);
		benchmark::DoNotOptimize(got);
		if (got) {
			state.SkipWithError("the ring was not empty");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// ---- two threads ----------------------------------------------------------

// Set when one thread of a two-thread run fails, so the other stops waiting
// for it (and both reach the library's end barrier); cleared before each run.
std::atomic<bool> g_abort{false};

void clear_abort(const benchmark::State &)
{
	// relaxed: Setup runs before the run's threads are started
	g_abort.store(false, std::memory_order_relaxed);
}

void fail(benchmark::State &state, const char *why)
{
	// relaxed: only one thread prints; the flag orders nothing
	if (!g_abort.exchange(true, std::memory_order_relaxed))
		std::fprintf(stderr, "bench_rings: %s\n", why);
	state.SkipWithError(why);
}

// Busy-wait for done(); false when the other thread failed meanwhile.
template <class Done> bool wait_for(Done done)
{
	for (unsigned spins = 0; !done();)
		// relaxed: a flag to stop on, it orders nothing
		if (relax(&spins) && g_abort.load(std::memory_order_relaxed))
			return false;
	return true;
}

template <class R> bool put_all(R &r, const uint64_t *buf, unsigned burst)
{
	unsigned done = 0;
	return wait_for([&] {
		done += burst == 1 ? (unsigned)r.put(buf[0])
				   : r.put_burst(buf + done, burst - done);
		return done == burst;
	});
}

template <class R> bool get_all(R &r, uint64_t *buf, unsigned burst)
{
	unsigned done = 0;
	return wait_for([&] {
		done += burst == 1 ? (unsigned)r.get(buf) : r.get_burst(buf + done, burst - done);
		return done == burst;
	});
}

// Thread 0 sends a count, thread 1 checks every entry against its own; both
// run the same iterations, so the ring is empty again when the run ends.
template <class R> void bm_xthread(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	Pin pin(state.thread_index());
	R r(Home<R>::ring[kXthread]);
	unsigned burst = (unsigned)state.range(0);
	uint64_t buf[kMaxBurst] = {};
	uint64_t seq = 0, bad = 0;
	if (!r.ok()) {
		fail(state, "ring open failed");
		return;
	}
	bool producer = state.thread_index() == 0;
	for (auto _ : state) {
		if (producer) {
			for (unsigned i = 0; i < burst; i++)
				buf[i] = seq++;
			if (!put_all(r, buf, burst)) {
				fail(state, "the consumer thread failed");
				break;
			}
			continue;
		}
		if (!get_all(r, buf, burst)) {
			fail(state, "the producer thread failed");
			break;
		}
		for (unsigned i = 0; i < burst; i++)
			bad |= buf[i] ^ seq++;
		if (bad) {
			fail(state, "entries came out changed or out of order");
			break;
		}
	}
	if (producer)
		state.SetItemsProcessed((int64_t)state.iterations() * burst);
}

// Thread 0 sends a count on ping and waits for it on pong; thread 1 checks
// it and echoes it.
template <class R> void bm_mt_rt(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	Pin pin(state.thread_index());
	bool first = state.thread_index() == 0;
	R out(Home<R>::ring[first ? kPing : kPong]);
	R in(Home<R>::ring[first ? kPong : kPing]);
	uint64_t seq = 0, v = 0;
	if (!out.ok() || !in.ok()) {
		fail(state, "ring open failed");
		return;
	}
	for (auto _ : state) {
		seq++;
		if ((first && !wait_for([&] { return out.put(seq); })) ||
		    !wait_for([&] { return in.get(&v); }) ||
		    (!first && !wait_for([&] { return out.put(v); }))) {
			fail(state, "the other thread failed");
			break;
		}
		if (v != seq) {
			fail(state, "a different entry came back");
			break;
		}
	}
	if (first)
		set_round_trip(state);
}

// ---- two or more processes ------------------------------------------------

// The child's half of a round trip: echo each entry of ping on pong,
// checking it is the next count.
template <class R> int echo(Control *ctl, Where ping, Where pong)
{
	R in(ping), out(pong);
	if (!in.ok() || !out.ok())
		return 1;
	// release: the rings this child made are visible to the parent
	ctl->ready.store(1, std::memory_order_release);
	unsigned spins = 0;
	for (uint64_t want = 1;; want++) {
		uint64_t v;
		while (!in.get(&v))
			// relaxed: a flag to stop on, it orders nothing
			if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
				return 0;
		if (v != want)
			return 1;
		while (!out.put(v))
			// relaxed: as above
			if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
				return 0;
	}
}

// zring's rings are in an arena the child opens by name; a peer's are in
// the Child's shared region, initialised by the child before it is ready.
template <class R> void bm_rt(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	Pin pin(0);
	NamedArena na;
	size_t stride = round64(R::bytes());
	if constexpr (R::kArena) {
		if (na.create("zring-bench-rings", (size_t)16 << 20, R::kKind, 2) != 0) {
			state.SkipWithError("zr_arena_create failed");
			return;
		}
	}
	Child child(2 * stride, [&](Control *ctl, void *shared) {
		if constexpr (R::kArena) {
			return attached(na.name(), [&](zr_arena *a) {
				return echo<R>(ctl, in_arena(a, na.ring(0)),
					       in_arena(a, na.ring(1)));
			});
		} else {
			Where ping = mem_at(shared, 0), pong = mem_at(shared, stride);
			if (R::create(ping) != 0 || R::create(pong) != 0)
				return 1;
			return echo<R>(ctl, ping, pong);
		}
	});
	na.unlink();
	Where ping = mem_at(child.shared(), 0), pong = mem_at(child.shared(), stride);
	if (R::kArena) {
		ping = in_arena(na.get(), na.ring(0));
		pong = in_arena(na.get(), na.ring(1));
	}
	R out(ping), in(pong);
	uint64_t seq = 0;
	timed_round_trips(state, child, 0, [&] {
		uint64_t want = ++seq, got = 0;
		if (!out.ok() || !in.ok() || !out.put(want))
			return false; // the ring is empty between round trips
		return spin_until(child, [&] { return in.get(&got); }) && got == want;
	});
}

// A MAP_SHARED anonymous region the parent makes before forking producers.
class Region
{
      public:
	explicit Region(size_t bytes) : bytes_(bytes)
	{
		p_ = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
			  0);
		if (p_ == MAP_FAILED)
			p_ = nullptr;
	}
	~Region()
	{
		if (p_)
			munmap(p_, bytes_);
	}
	Region(const Region &) = delete;
	Region &operator=(const Region &) = delete;
	void *get() const
	{
		return p_;
	}

      private:
	size_t bytes_;
	void *p_;
};

// A producer process: once the parent says go, enqueue id:0, id:1, ..
// until stopped. Stop is looked at after every entry: a producer stuck
// behind another one (see bm_producers) may get one entry in per time slice.
template <class R> int produce(Control *ctl, const std::atomic<uint32_t> *go, Where w, uint64_t id)
{
	R r(w);
	if (!r.ok())
		return 1;
	// release: the handle is open before the parent counts this child ready
	ctl->ready.store(1, std::memory_order_release);
	unsigned spins = 0;
	// relaxed: the ring was made before the fork; go orders nothing
	while (!go->load(std::memory_order_relaxed))
		// relaxed: a flag to stop on, it orders nothing
		if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
			return 0;
	// relaxed: as above
	for (uint64_t seq = 0; !ctl->stop.load(std::memory_order_relaxed); seq++)
		while (!r.put(id << kIdShift | seq))
			// relaxed: as above
			if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
				return 0;
	return 0;
}

// The producer processes of one run. All are told to stop before the
// first is waited for, so none waits on a stopped one.
class Team
{
      public:
	~Team()
	{
		for (auto &k : kids)
			if (k->ctl())
				// relaxed: Child's destructor sets it the same way
				k->ctl()->stop.store(1, std::memory_order_relaxed);
	}
	bool any_gone()
	{
		for (auto &k : kids)
			if (k->gone())
				return true;
		return false;
	}
	std::vector<std::unique_ptr<Child>> kids;
};

// P producer processes, all pinned by Child to the second CPU, stream into
// one MPMC ring; the parent, on the first, drains it and checks that each
// producer's entries come in order. items_per_second counts the entries.
//
// The machine this was written on has 2 CPUs, so P > 1 time-shares one
// CPU. rte_ring's and ck_ring's MP enqueue make a producer wait, spinning,
// until the producers that reserved slots before it have published: one
// preempted inside its enqueue stalls the others for the rest of their
// time slice, and two can take turns doing so (a convoy of one entry per
// time slice). That is part of what is measured (DPDK documents its
// MP rings as not preemption-safe), but it makes the rate swing by orders
// of magnitude within a run. So one iteration is a batch: up to
// kDrainBatch entries, or kDrainSliceNs, whichever ends first; this bounds
// how far Google Benchmark's iteration estimate can overshoot.
template <class R> void bm_producers(benchmark::State &state)
{
	if (skipped<R>(state))
		return;
	Pin pin(0);
	unsigned n = (unsigned)state.range(0);
	NamedArena na;
	Region region(64 + round64(R::bytes())); // the go flag, then a peer's ring
	if (!region.get()) {
		state.SkipWithError("mmap failed");
		return;
	}
	auto *go = new (region.get()) std::atomic<uint32_t>(0);
	Where w = mem_at(region.get(), 64);
	int rc;
	if constexpr (R::kArena) {
		rc = na.create("zring-bench-rings", (size_t)16 << 20, R::kKind, 1);
		w = in_arena(na.get(), na.ring(0));
	} else {
		rc = R::create(w);
	}
	if (rc) {
		state.SkipWithError("ring create failed");
		return;
	}
	Team team;
	for (uint64_t id = 0; id < n; id++) {
		team.kids.push_back(std::make_unique<Child>(0, [&, id](Control *ctl, void *) {
			if constexpr (R::kArena) {
				return attached(na.name(), [&](zr_arena *a) {
					return produce<R>(ctl, go, in_arena(a, na.ring(0)), id);
				});
			} else {
				return produce<R>(ctl, go, w, id);
			}
		}));
		if (team.kids.back()->error()) {
			state.SkipWithError(team.kids.back()->error());
			return;
		}
	}
	na.unlink();
	R in(w);
	std::vector<uint64_t> next(n, 0);
	uint64_t total = 0;
	const char *err = nullptr;
	// relaxed: the children only wait for it; nothing is published with it
	go->store(1, std::memory_order_relaxed);
	for (auto _ : state) {
		uint64_t start = now_ns(), v = 0;
		unsigned got = 0, spins = 0, idle = 0;
		while (got < kDrainBatch && !err) {
			if (!in.get(&v)) {
				if (++idle % 64 == 0 && now_ns() - start > kDrainSliceNs)
					break;
				if (relax(&spins) && team.any_gone())
					err = "a producer process failed";
				continue;
			}
			uint64_t id = v >> kIdShift;
			if (id >= n || (v & kSeqMask) != next[id]++)
				err = "a producer's entries came out of order";
			got++;
		}
		total += got;
		if (err) {
			state.SkipWithError(err);
			break;
		}
	}
	state.SetItemsProcessed((int64_t)total);
}

// ---- registration ---------------------------------------------------------

template <class R> std::string bench_name(const char *group)
{
	return std::string(group) + "/impl:" + R::kName;
}

template <class R> void add_single()
{
	auto *b = benchmark::RegisterBenchmark(bench_name<R>("single").c_str(), bm_single<R>);
	b->ArgName("burst");
	for (int n : {1, 8, 32, 128})
		b->Arg(n);
}

template <class R> void add_poll_empty()
{
	benchmark::RegisterBenchmark(bench_name<R>("poll_empty").c_str(), bm_poll_empty<R>);
}

template <class R> void add_xthread()
{
	benchmark::RegisterBenchmark(bench_name<R>("xthread").c_str(), bm_xthread<R>)
		->ArgName("burst")
		->Arg(1)
		->Arg(32)
		->Threads(2)
		->UseRealTime()
		->Setup(clear_abort);
}

template <class R> void add_mt_rt()
{
	benchmark::RegisterBenchmark(bench_name<R>("mt_rt").c_str(), bm_mt_rt<R>)
		->Threads(2)
		->UseRealTime()
		->Setup(clear_abort);
}

template <class R> void add_rt()
{
	benchmark::RegisterBenchmark(bench_name<R>("rt").c_str(), bm_rt<R>)
		->ArgName("size")
		->Arg(8)
		->Iterations((benchmark::IterationCount)g.rt_iters)
		->UseRealTime();
}

template <class R> void add_producers()
{
	if (!R::kMulti)
		return;
	benchmark::RegisterBenchmark(bench_name<R>("producers").c_str(), bm_producers<R>)
		->ArgName("producers")
		->Arg(1)
		->Arg(2)
		->Arg(3)
		->UseRealTime();
}

// Group by group, every implementation side by side within each.
template <class... R> void register_all(Impls<R...>)
{
	(add_single<R>(), ...);
	(add_poll_empty<R>(), ...);
	(add_xthread<R>(), ...);
	(add_mt_rt<R>(), ...);
	benchmark::RegisterBenchmark("mt_rt/impl:pingpong", bm_baseline_pingpong)
		->Threads(2)
		->UseRealTime();
	(add_rt<R>(), ...);
	benchmark::RegisterBenchmark("rt/impl:pingpong", bm_xproc_pingpong)
		->ArgName("size")
		->Arg(8)
		->Iterations((benchmark::IterationCount)g.rt_iters)
		->UseRealTime();
	(add_producers<R>(), ...);
}

#ifndef ZR_RTE_RING_VERSION
#define ZR_RTE_RING_VERSION "not installed (libdpdk-dev)"
#endif
#ifndef ZR_CK_VERSION
#define ZR_CK_VERSION "not installed (libck-dev)"
#endif
#ifndef ZR_BOOST_VERSION
#define ZR_BOOST_VERSION "not installed (libboost-dev)"
#endif

void add_rings_context()
{
	add_context("thread 0 / parent on cpu " + std::to_string(cpus.cpu[0]) +
		    ", thread 1 / child processes on cpu " + std::to_string(cpus.cpu[1]));
	benchmark::AddCustomContext("rte_ring", ZR_RTE_RING_VERSION);
	benchmark::AddCustomContext("ck", ZR_CK_VERSION);
	benchmark::AddCustomContext("boost_lockfree", ZR_BOOST_VERSION);
	benchmark::AddCustomContext("ring_slots", std::to_string(kRingCap) +
							  " of 8 bytes (rte_ring and ck_ring "
							  "hold one entry fewer)");
	benchmark::AddCustomContext("rt_iterations", std::to_string(g.rt_iters));
}

} // namespace

int main(int argc, char **argv)
{
	if (!parse_rt_iters("bench_rings", &argc, argv, &g.rt_iters) ||
	    !start("bench_rings", &argc, argv))
		return 1;
	if (make_homes(All{}) != 0)
		return 1;
	add_rings_context();
	register_all(All{});
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	for (void *p : g.blocks)
		std::free(p); // plain memory: the peers' rings need no teardown
	return zr_arena_close(g.arena) == 0 ? 0 : 1;
}
