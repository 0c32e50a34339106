// bench/bench_job.cc: the job layer (submit -> claim -> complete -> release),
// each against baselines measured in the same run. Names: bench/README.md.
//
// One thread:
//   job_cycle/impl:zring_job/shared:S   submit a 64-byte job to its own inbox (S=0)
//                                       or the shared queue (S=1), claim, complete,
//                                       release
//   job_cycle/impl:zring_mpmc           MPMC ring enqueue + dequeue of one entry
//   job_cycle/impl:zring_alloc_mpmc     the same plus payload alloc, write, free
// Two threads of one process (thread 0 on the first CPU, thread 1 on the second):
//   mt_rt/impl:zring_job/wait:W         thread 0 submits to thread 1's agent and
//                                       waits (futex: zr_job_wait; poll: spin on
//                                       zr_job_get); thread 1 claims and completes
//   mt_rt/impl:pingpong, mt_rt/impl:zring_mpmc   the floors
// Two processes (a worker process forked for each run, pinned to the second
// CPU, attached to the arena by name):
//   rt/impl:zring_job/size:N            round trip of a job with an N-byte payload
//                                       written (stamped) and read in place
//   rt/impl:pingpong/size:8, rt/impl:zring_mpmc/size:8   the floors
//   wake/impl:zring_job_spin/size:64    worker and client only poll
//   wake/impl:zring_job_futex/size:64   worker sleeps at once on its inbox futex
//   stream/impl:zring_job/size:N/window:W   jobs/s and GB/s with W outstanding;
//                                       the payload written in full and every
//                                       cache line of it read by the worker
//   stream/impl:zring_mpmc/size:8/window:W  the same through a ring pair
//   producers/impl:zring_job/producers:P    P producer processes, one worker
//
// Refuses to measure in a Debug or sanitized build; listing and the smoke
// run (--benchmark_min_time of 0.01 s or less) are allowed everywhere.
#include <cerrno>
#include <memory>

#include "xproc.h"

namespace
{

using namespace zr_bench;

constexpr size_t kSmall = 64;
constexpr size_t kSizes[] = {64, 4096, 65536, 1 << 20};
constexpr int64_t kSliceNs = 10000000; // blocking calls wake this often to look around
constexpr unsigned kMaxWindow = 256;
constexpr size_t kXprocArena = (size_t)128 << 20; // a window of 1 MiB payloads fits

struct Globals {
	zr_arena *arena = nullptr; // in-process benchmarks; its name is removed at once
	Ends single, ping, pong;   // MPMC rings
} g;

// Set when one thread of a two-thread job benchmark fails: the other stops
// working, and both run out their iterations, so neither waits for ever at
// the library's end barrier. Sticky: later job round trips report it too.
std::atomic<bool> g_abort{false};

// An agent registered by the thread that uses it, for one run.
class Agent
{
      public:
	Agent(zr_arena *a, const char *name, uint32_t wait = ZR_WAIT_SPIN_FUTEX)
	{
		zr_agent_config cfg;
		zr_agent_config_init(&cfg);
		cfg.wait = wait;
		if (!a || zr_agent_register(a, name, &cfg, &ag_) != 0)
			ag_ = nullptr;
	}
	~Agent()
	{
		zr_agent_unregister(ag_);
	}
	Agent(const Agent &) = delete;
	Agent &operator=(const Agent &) = delete;
	zr_agent *get() const
	{
		return ag_;
	}

      private:
	zr_agent *ag_ = nullptr;
};

int setup_arena()
{
	int rc = create_arena("zring-bench-job", &g.arena);
	rc = rc ? rc : make_ring(g.arena, "single", ZR_RING_MPMC, &g.single);
	rc = rc ? rc : make_ring(g.arena, "ping", ZR_RING_MPMC, &g.ping);
	rc = rc ? rc : make_ring(g.arena, "pong", ZR_RING_MPMC, &g.pong);
	return rc;
}

// ---- the job path, both ends --------------------------------------------------

// Allocate an n-byte payload, stamp it (or fill it) in place and submit it
// to `target`.
int submit_one(zr_agent *ag, uint32_t target, size_t n, uint64_t seq, zr_job_id *id,
	       bool whole = false)
{
	zr_arena *a = zr_agent_arena(ag);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.target = target;
	int rc = zr_payload_alloc(a, n, &b.payload);
	if (rc)
		return rc;
	if (whole)
		fill(zr_payload_ptr(a, b.payload), n, seq);
	else
		stamp(zr_payload_ptr(a, b.payload), n, seq);
	b.payload_len = n;
	rc = zr_job_submit(ag, &b, id, nullptr);
	if (rc && zr_payload_free(a, b.payload) != 0)
		std::fprintf(stderr, "bench_job: payload of a refused job not freed\n");
	return rc;
}

// Claim one job (waiting as the agent's wait mode says), check its stamps
// (or every cache line, `whole`) and complete it, or fail it for good when
// they are wrong. `seq`, when given, is the stamp expected (jobs from one
// producer come in order). `stop` is asked between waits of kSliceNs.
// Returns 0, 1 (stopped) or a negative error.
template <class Stop> int serve_one(zr_agent *ag, uint64_t *seq, Stop stop, bool whole = false)
{
	zr_claim c;
	for (;;) {
		int rc = zr_job_claim_wait(ag, &c, kSliceNs);
		if (rc == 1)
			break;
		if (rc != 0 && rc != -EINTR)
			return rc;
		if (stop())
			return 1;
	}
	uint64_t want = 0;
	if (c.data && c.len >= 8)
		std::memcpy(&want, c.data, 8); // no order known: the stamps must agree
	if (seq)
		want = ++*seq;
	if (!(whole ? filled(c.data, c.len, want) : stamped(c.data, c.len, want)))
		return zr_job_fail(ag, &c, "stamp mismatch", false);
	return zr_job_complete(ag, &c, ZR_PAYLOAD_NULL, 0);
}

bool is_final(uint32_t status)
{
	return status == ZR_JOB_COMPLETED || status == ZR_JOB_FAILED ||
	       status == ZR_JOB_CANCELLED || status == ZR_JOB_EXPIRED;
}

// Wait until job `id` is final, by zr_job_wait (spin, then futex) or by
// polling zr_job_get, check it completed, then release it. `gone` is asked
// between waits.
template <class Gone> int finish_one(zr_arena *a, zr_job_id id, bool futex, Gone gone)
{
	int rc;
	zr_job_info info;
	if (futex) {
		while ((rc = zr_job_wait(a, id, kSliceNs, &info)) == -ETIMEDOUT || rc == -EINTR)
			if (gone())
				return -ECHILD;
	} else {
		for (unsigned spins = 0;;) {
			rc = zr_job_get(a, id, &info); // -EAGAIN: caught mid-change
			if (rc == 0 && is_final(info.status))
				break;
			if (rc != 0 && rc != -EAGAIN)
				return rc;
			if (relax(&spins) && gone())
				return -ECHILD;
		}
	}
	if (rc == 0 && info.status != ZR_JOB_COMPLETED)
		rc = -EBADMSG; // the worker found the stamps wrong
	int rel = zr_job_release(a, id);
	return rc ? rc : rel;
}

// ---- one thread ----------------------------------------------------------------

void bm_job_cycle(benchmark::State &state)
{
	Agent ag(g.arena, "cycle");
	if (!ag.get()) {
		state.SkipWithError("zr_agent_register failed");
		return;
	}
	uint32_t target = state.range(0) ? 0 : zr_agent_id(ag.get());
	uint64_t seq = 0;
	for (auto _ : state) {
		zr_job_id id;
		int rc = submit_one(ag.get(), target, kSmall, ++seq, &id);
		if (rc == 0)
			rc = serve_one(ag.get(), nullptr, [] { return true; });
		rc = rc ? rc : zr_job_release(g.arena, id);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

void bm_baseline_ring_1thread(benchmark::State &state)
{
	zr_ring *r = g.single.prod;
	uint64_t v = 0;
	for (auto _ : state) {
		bool in = zr_ring_enqueue(r, v);
		bool out = zr_ring_dequeue(r, &v);
		benchmark::DoNotOptimize(v);
		if (!in || !out) {
			state.SkipWithError("ring did not take or give the entry");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// The least a job layer could do: a payload stamped in place and its
// handle passed through a ring, checked, then freed.
void bm_baseline_alloc_ring_1thread(benchmark::State &state)
{
	zr_ring *r = g.single.prod;
	uint64_t seq = 0;
	for (auto _ : state) {
		zr_payload p;
		if (zr_payload_alloc(g.arena, kSmall, &p) != 0) {
			state.SkipWithError("zr_payload_alloc failed");
			break;
		}
		stamp(zr_payload_ptr(g.arena, p), kSmall, ++seq);
		bool in = zr_ring_enqueue(r, p.v);
		bool out = zr_ring_dequeue(r, &p.v);
		bool ok = stamped(zr_payload_ptr(g.arena, p), kSmall, seq);
		if (!in || !out || !ok || zr_payload_free(g.arena, p) != 0) {
			state.SkipWithError("ring, stamp or zr_payload_free failed");
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
}

// ---- two threads -----------------------------------------------------------

// Thread 1 registers the worker agent; thread 0 finds it by name.
uint32_t find_worker(zr_arena *a, const char *name)
{
	uint64_t deadline = now_ns() + kSetupNs;
	uint32_t id;
	while (!(id = zr_agent_lookup(a, name)) && now_ns() < deadline)
		sched_yield();
	return id;
}

void job_failed(benchmark::State &state, int rc)
{
	if (!g_abort.exchange(true))
		std::fprintf(stderr, "job round trip: %s\n", zr_strerror(rc));
	state.SkipWithError(zr_strerror(rc));
}

void bm_job_roundtrip(benchmark::State &state, bool futex)
{
	Pin pin(state.thread_index());
	bool first = state.thread_index() == 0;
	Agent ag(g.arena, first ? "rt-client" : "rt-worker");
	uint32_t target = first && ag.get() ? find_worker(g.arena, "rt-worker") : 0;
	if (!ag.get() || (first && !target))
		job_failed(state, ag.get() ? -ENOENT : -EAGAIN);
	auto gone = [] { return g_abort.load(std::memory_order_relaxed); };
	uint64_t seq = 0;
	for (auto _ : state) {
		// relaxed: a flag; see g_abort
		if (g_abort.load(std::memory_order_relaxed))
			continue; // run out the iterations: see g_abort
		int rc;
		if (first) {
			zr_job_id id;
			rc = submit_one(ag.get(), target, kSmall, ++seq, &id);
			rc = rc ? rc : finish_one(g.arena, id, futex, gone);
		} else {
			rc = serve_one(ag.get(), &seq, gone);
		}
		if (rc)
			job_failed(state, rc);
	}
	if (first)
		set_round_trip(state);
}

// Thread 0 sends on ping and waits on pong; thread 1 echoes.
void bm_baseline_ring_roundtrip(benchmark::State &state)
{
	ring_roundtrip(state, g.arena, "ping", "pong");
}

// ---- two processes ---------------------------------------------------------

constexpr const char *kPing = NamedArena::ring(0); // parent -> child
constexpr const char *kPong = NamedArena::ring(1); // child -> parent

// An arena for one cross-process run with its two MPMC rings; the child
// opens it by name.
bool make_xarena(NamedArena *xa)
{
	return xa->create("zring-bench-job", kXprocArena, ZR_RING_MPMC, 2) == 0;
}

// The worker: one agent with the given wait mode serving until stopped.
// Its agent id goes to Control::value.
int worker_body(const char *name, uint32_t wait, bool whole, Control *ctl)
{
	return attached(name, [&](zr_arena *a) {
		Agent ag(a, "x-worker", wait);
		if (!ag.get())
			return 1;
		// relaxed: published by the release store of ready below
		ctl->value.store(zr_agent_id(ag.get()), std::memory_order_relaxed);
		// release: the agent id and the registered agent before ready
		ctl->ready.store(1, std::memory_order_release);
		// relaxed: stop is a flag, no data hangs on it
		auto stop = [ctl] { return ctl->stop.load(std::memory_order_relaxed) != 0; };
		uint64_t seq = 0;
		int rc;
		while ((rc = serve_one(ag.get(), &seq, stop, whole)) == 0)
			;
		if (rc < 0)
			std::fprintf(stderr, "bench_job worker: %s\n", zr_strerror(rc));
		return rc < 0 ? 1 : 0;
	});
}

// Echo every entry of kPing back on kPong.
int ring_echo_body(const char *name, Control *ctl)
{
	return attached(name, [&](zr_arena *a) {
		Local in(a, kPing), out(a, kPong);
		if (!in.get() || !out.get())
			return 1;
		// release: readiness; the rings were made before the fork
		ctl->ready.store(1, std::memory_order_release);
		unsigned spins = 0;
		for (uint64_t v;;) {
			while (!zr_ring_dequeue(in.get(), &v))
				// relaxed: stop is a flag, no data hangs on it
				if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
					return 0;
			while (!zr_ring_enqueue(out.get(), v))
				// relaxed: as above
				if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
					return 0;
		}
	});
}

// How the client of a job round trip waits, and how the worker does.
struct Wait {
	bool futex;	 // client: zr_job_wait (spin, then futex) or poll zr_job_get
	uint32_t worker; // the worker agent's zr_wait_mode
};
constexpr Wait kDefaultWait = {true, ZR_WAIT_SPIN_FUTEX};

void bm_xproc_job_roundtrip(benchmark::State &state, Wait w)
{
	size_t n = (size_t)state.range(0);
	Pin pin(0);
	NamedArena xa;
	if (!make_xarena(&xa)) {
		state.SkipWithError("arena setup failed");
		return;
	}
	const char *name = xa.name();
	Child child(0,
		    [&](Control *ctl, void *) { return worker_body(name, w.worker, false, ctl); });
	xa.unlink();
	Agent ag(xa.get(), "x-client");
	// relaxed: Child's constructor acquired ready, which published it
	uint32_t target = child.ctl() ? child.ctl()->value.load(std::memory_order_relaxed) : 0;
	uint64_t seq = 0;
	auto gone = [&] { return child.gone(); };
	timed_round_trips(state, child, n, [&] {
		zr_job_id id;
		int rc = ag.get() ? submit_one(ag.get(), target, n, ++seq, &id) : -EINVAL;
		rc = rc ? rc : finish_one(xa.get(), id, w.futex, gone);
		if (rc)
			std::fprintf(stderr, "xproc job round trip: %s\n", zr_strerror(rc));
		return rc == 0;
	});
}

void bm_xproc_ring_roundtrip(benchmark::State &state)
{
	Pin pin(0);
	NamedArena xa;
	if (!make_xarena(&xa)) {
		state.SkipWithError("arena setup failed");
		return;
	}
	const char *name = xa.name();
	Child child(0, [&](Control *ctl, void *) { return ring_echo_body(name, ctl); });
	xa.unlink();
	Local out(xa.get(), kPing), in(xa.get(), kPong);
	uint64_t v = 0, back = 0;
	timed_round_trips(state, child, 0, [&] {
		if (!out.get() || !in.get() || !zr_ring_enqueue(out.get(), ++v))
			return false; // the ring is empty between round trips
		return spin_until(child, [&] { return zr_ring_dequeue(in.get(), &back); }) &&
		       back == v;
	});
}

// Jobs of `n` bytes, written in full, streamed to the worker process (which
// reads every cache line) with up to `window` outstanding: when the window
// is full, wait for the oldest and release it.
void bm_xproc_job_stream(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	unsigned window = (unsigned)state.range(1);
	Pin pin(0);
	NamedArena xa;
	if (!make_xarena(&xa)) {
		state.SkipWithError("arena setup failed");
		return;
	}
	const char *name = xa.name();
	Child child(0, [&](Control *ctl, void *) {
		return worker_body(name, ZR_WAIT_SPIN_FUTEX, true, ctl);
	});
	xa.unlink();
	Agent ag(xa.get(), "x-client");
	if (child.error() || !ag.get()) {
		state.SkipWithError(child.error() ? child.error() : "zr_agent_register failed");
		return;
	}
	// relaxed: Child's constructor acquired ready, which published it
	uint32_t target = child.ctl()->value.load(std::memory_order_relaxed);
	zr_job_id win[kMaxWindow];
	uint64_t head = 0, tail = 0;
	auto gone = [&] { return child.gone(); };
	int rc = 0;
	for (auto _ : state) {
		if (tail - head == window)
			rc = finish_one(xa.get(), win[head++ % window], true, gone);
		rc = rc ? rc : submit_one(ag.get(), target, n, tail + 1, &win[tail % window], true);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		tail++;
	}
	while (rc == 0 && head != tail)
		rc = finish_one(xa.get(), win[head++ % window], true, gone);
	state.SetItemsProcessed((int64_t)state.iterations());
	state.SetBytesProcessed((int64_t)(state.iterations() * n));
}

// The same stream through a pair of MPMC rings, echoed by the child.
void bm_xproc_ring_stream(benchmark::State &state)
{
	unsigned window = (unsigned)state.range(1);
	Pin pin(0);
	NamedArena xa;
	if (!make_xarena(&xa)) {
		state.SkipWithError("arena setup failed");
		return;
	}
	const char *name = xa.name();
	Child child(0, [&](Control *ctl, void *) { return ring_echo_body(name, ctl); });
	xa.unlink();
	Local out(xa.get(), kPing), in(xa.get(), kPong);
	if (child.error() || !out.get() || !in.get()) {
		state.SkipWithError(child.error() ? child.error() : "zr_ring_open failed");
		return;
	}
	unsigned outstanding = 0;
	// take echoes back until at most `keep` are outstanding
	auto drain_to = [&](unsigned keep) {
		uint64_t v;
		return spin_until(child, [&] {
			while (outstanding > keep && zr_ring_dequeue(in.get(), &v))
				outstanding--;
			return outstanding <= keep;
		});
	};
	for (auto _ : state) {
		if (!drain_to(window - 1) || !zr_ring_enqueue(out.get(), outstanding)) {
			state.SkipWithError("child process failed");
			break;
		}
		outstanding++;
	}
	(void)drain_to(0);
	state.SetItemsProcessed((int64_t)state.iterations());
	state.SetBytesProcessed((int64_t)(state.iterations() * 8));
}

// P producer processes (all on the second CPU) each stream 64-byte jobs,
// 16 outstanding, to one worker agent in this thread (first CPU); an
// iteration is one job claimed and completed here. With 2 CPUs the
// producers share one: this measures the worker's side under contention.
void bm_xproc_job_producers(benchmark::State &state)
{
	unsigned producers = (unsigned)state.range(0);
	constexpr unsigned kWindow = 16;
	Pin pin(0);
	NamedArena xa;
	bool made = make_xarena(&xa);
	Agent worker(xa.get(), "x-worker");
	if (!made || !worker.get()) {
		state.SkipWithError("arena or agent setup failed");
		return;
	}
	const char *name = xa.name();
	uint32_t target = zr_agent_id(worker.get());
	auto producer = [&](Control *ctl, void *) {
		return attached(name, [&](zr_arena *a) {
			char me[32];
			std::snprintf(me, sizeof(me), "x-producer-%d", (int)getpid());
			Agent ag(a, me);
			if (!ag.get())
				return 1;
			// release: readiness only
			ctl->ready.store(1, std::memory_order_release);
			// relaxed: stop is a flag, no data hangs on it
			auto stop = [ctl] {
				return ctl->stop.load(std::memory_order_relaxed) != 0;
			};
			zr_job_id win[kWindow];
			int rc = 0;
			for (uint64_t head = 0, tail = 0; rc == 0 && !stop(); tail++) {
				if (tail - head == kWindow)
					rc = finish_one(a, win[head++ % kWindow], true, stop);
				rc = rc ? rc
					: submit_one(ag.get(), target, kSmall, tail + 1,
						     &win[tail % kWindow]);
			}
			return rc == -ECHILD ? 0 : rc; // -ECHILD: stopped while waiting
		});
	};
	std::vector<std::unique_ptr<Child>> kids;
	for (unsigned i = 0; i < producers; i++)
		kids.push_back(std::make_unique<Child>(0, producer));
	xa.unlink();
	for (auto &k : kids)
		if (k->error()) {
			state.SkipWithError(k->error());
			return;
		}
	auto gone = [&] {
		for (auto &k : kids)
			if (k->gone())
				return true;
		return false;
	};
	for (auto _ : state) {
		int rc = serve_one(worker.get(), nullptr, gone);
		if (rc) {
			state.SkipWithError(rc > 0 ? "a producer process failed" : zr_strerror(rc));
			break;
		}
	}
	state.SetItemsProcessed((int64_t)state.iterations());
	for (auto &k : kids)
		// relaxed: a flag; the producers look at it between waits
		k->ctl()->stop.store(1, std::memory_order_relaxed);
	// complete what they still wait for, so they stop promptly
	zr_claim c;
	while (zr_job_claim(worker.get(), &c) == 1)
		if (zr_job_complete(worker.get(), &c, ZR_PAYLOAD_NULL, 0) != 0)
			break; // the producers then stop at their next slice
}

// ---- registration ---------------------------------------------------------

// 1e6 round trips for a 64-byte job; bigger payloads take longer only when
// something copies, but the allocator's big classes cost more: fewer.
int64_t job_rt_iters(size_t size)
{
	return rt_iterations(size <= 4096 ? 1000000 : size <= 65536 ? 300000 : 100000);
}

void register_all()
{
	benchmark::RegisterBenchmark("job_cycle/impl:zring_job", bm_job_cycle)
		->ArgName("shared")
		->Arg(0)
		->Arg(1);
	benchmark::RegisterBenchmark("job_cycle/impl:zring_mpmc", bm_baseline_ring_1thread);
	benchmark::RegisterBenchmark("job_cycle/impl:zring_alloc_mpmc",
				     bm_baseline_alloc_ring_1thread);
	for (bool futex : {true, false})
		benchmark::RegisterBenchmark(futex ? "mt_rt/impl:zring_job/wait:futex"
						   : "mt_rt/impl:zring_job/wait:poll",
					     bm_job_roundtrip, futex)
			->Threads(2)
			->UseRealTime();
	benchmark::RegisterBenchmark("mt_rt/impl:pingpong", bm_baseline_pingpong)
		->Threads(2)
		->UseRealTime();
	benchmark::RegisterBenchmark("mt_rt/impl:zring_mpmc", bm_baseline_ring_roundtrip)
		->Threads(2)
		->UseRealTime();

	benchmark::RegisterBenchmark("rt/impl:pingpong/size:8", bm_xproc_pingpong)
		->Iterations(rt_iterations(1000000))
		->UseRealTime();
	benchmark::RegisterBenchmark("rt/impl:zring_mpmc/size:8", bm_xproc_ring_roundtrip)
		->Iterations(rt_iterations(1000000))
		->UseRealTime();
	for (size_t s : kSizes)
		benchmark::RegisterBenchmark("rt/impl:zring_job", bm_xproc_job_roundtrip,
					     kDefaultWait)
			->ArgName("size")
			->Arg((int64_t)s)
			->Iterations(job_rt_iters(s))
			->UseRealTime();
	benchmark::RegisterBenchmark("wake/impl:zring_job_spin", bm_xproc_job_roundtrip,
				     Wait{false, ZR_WAIT_SPIN})
		->ArgName("size")
		->Arg((int64_t)kSmall)
		->Iterations(rt_iterations(1000000))
		->UseRealTime();
	benchmark::RegisterBenchmark("wake/impl:zring_job_futex", bm_xproc_job_roundtrip,
				     Wait{true, ZR_WAIT_FUTEX})
		->ArgName("size")
		->Arg((int64_t)kSmall)
		->Iterations(rt_iterations(50000))
		->UseRealTime();

	for (size_t s : kSizes)
		benchmark::RegisterBenchmark("stream/impl:zring_job", bm_xproc_job_stream)
			->ArgNames({"size", "window"})
			->Args({(int64_t)s, 16})
			->UseRealTime();
	benchmark::RegisterBenchmark("stream/impl:zring_job", bm_xproc_job_stream)
		->ArgNames({"size", "window"})
		->Args({(int64_t)kSmall, (int64_t)kMaxWindow})
		->UseRealTime();
	benchmark::RegisterBenchmark("stream/impl:zring_mpmc", bm_xproc_ring_stream)
		->ArgNames({"size", "window"})
		->Args({8, 16})
		->Args({8, (int64_t)kMaxWindow})
		->UseRealTime();
	benchmark::RegisterBenchmark("producers/impl:zring_job", bm_xproc_job_producers)
		->ArgName("producers")
		->DenseRange(1, 3)
		->UseRealTime();
}

void add_job_context()
{
	add_context("thread 0 / parent on cpu " + std::to_string(cpus.cpu[0]) +
		    ", thread 1 / child processes on cpu " + std::to_string(cpus.cpu[1]));
}

} // namespace

int main(int argc, char **argv)
{
	if (!start("bench_job", &argc, argv))
		return 1;
	if (setup_arena() != 0)
		return 1;
	add_job_context();
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	zr_slab_cache_flush(g.arena);
	for (Ends *e : {&g.single, &g.ping, &g.pong}) {
		zr_ring_close(e->prod);
		zr_ring_close(e->cons);
	}
	// relaxed: every benchmark thread has been joined
	return zr_arena_close(g.arena) == 0 && !g_abort.load(std::memory_order_relaxed) ? 0 : 1;
}
