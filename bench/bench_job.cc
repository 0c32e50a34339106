// bench/bench_job.cc: the job layer (submit -> claim -> complete -> release),
// each against baselines measured in the same run (STYLE 3.8).
//
// One thread:
//   BM_job_cycle_1thread/shared:S         submit a job with a 64-byte payload
//                                         (allocated, written in place) to its
//                                         own inbox (S=0) or the shared queue
//                                         (S=1), claim, complete, release
//   BM_baseline_ring_mpmc_1thread         MPMC ring enqueue + dequeue of one entry
//   BM_baseline_alloc_ring_1thread        the same plus payload alloc, write, free
// Two threads of one process (thread 0 on the first CPU, thread 1 on the second):
//   BM_job_roundtrip/wait:W               thread 0 submits to thread 1's agent and
//                                         waits (W=futex: zr_job_wait; W=poll: spin
//                                         on zr_job_get); thread 1 claim_wait()s and
//                                         completes; thread 0 releases
//   BM_baseline_pingpong                  one atomic word each way
//   BM_baseline_ring_mpmc_roundtrip       one MPMC ring each way
// Two processes (a worker process forked for each run, pinned to the second
// CPU, attached to a fresh arena by name):
//   BM_xproc_job_roundtrip/wait:W         as BM_job_roundtrip
//   BM_xproc_baseline_pingpong            one atomic word each way, shared mapping
//   BM_xproc_baseline_ring_mpmc_roundtrip one MPMC ring each way
//   BM_xproc_job_stream/window:N          submit with N jobs outstanding, wait for
//                                         the oldest and release it: jobs/s
//   BM_xproc_baseline_ring_mpmc_stream/window:N  N entries outstanding, echoed back
//
// Round trips report the round_trip counter (seconds per round trip); the
// cross-process ones also p50 and p99 from a zr_hist of every round trip
// (log-linear buckets: within 12.5%), timed with one clock read per
// iteration, which their round_trip includes too. Everything reports real
// time. Refuses to measure in a Debug or sanitized build; listing and the
// smoke run (--benchmark_min_time of 0.01 s or less) are allowed everywhere.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>

#include "bench_common.h"

namespace
{

using namespace zr_bench;

constexpr size_t kPayload = 64;
constexpr int64_t kSliceNs = 10000000;	   // blocking calls wake this often to look around
constexpr uint64_t kSetupNs = 5000000000u; // a peer that is not ready by then has failed
constexpr unsigned kMaxWindow = 256;

struct Globals {
	zr_arena *arena = nullptr; // in-process benchmarks; its name is removed at once
	Ends single, ping, pong;   // MPMC rings
	unsigned peers = 0;	   // arenas made for worker processes, for unique names
} g;

// Set when one thread of a two-thread job benchmark fails: the other stops
// working, and both run out their iterations, so neither waits for ever at
// the library's end barrier. Sticky: later job round trips report it too.
std::atomic<bool> g_abort{false};

uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// An agent registered by the thread that uses it, for one run.
class Agent
{
      public:
	Agent(zr_arena *a, const char *name)
	{
		if (!a || zr_agent_register(a, name, nullptr, &ag_) != 0)
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

// Allocate a 64-byte payload, write it in place and submit it to `target`.
int submit_one(zr_agent *ag, uint32_t target, uint64_t tag, zr_job_id *id)
{
	zr_arena *a = zr_agent_arena(ag);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.target = target;
	int rc = zr_payload_alloc(a, kPayload, &b.payload);
	if (rc)
		return rc;
	auto *p = static_cast<uint64_t *>(zr_payload_ptr(a, b.payload));
	for (size_t i = 0; i < kPayload / 8; i++)
		p[i] = tag + i;
	b.payload_len = kPayload;
	rc = zr_job_submit(ag, &b, id, nullptr);
	if (rc && zr_payload_free(a, b.payload) != 0)
		std::fprintf(stderr, "bench_job: payload of a refused job not freed\n");
	return rc;
}

// What a worker does with the payload: read every word of it.
void consume(const zr_claim &c)
{
	uint64_t sum = 0;
	const auto *p = static_cast<const uint64_t *>(c.data);
	for (uint64_t i = 0; p && i < c.len / 8; i++)
		sum += p[i];
	benchmark::DoNotOptimize(sum);
}

// Claim one job (waiting as the agent's wait mode says) and complete it.
// `stop` is asked between waits of kSliceNs. Returns 0, 1 (stopped) or a
// negative error.
template <class Stop> int serve_one(zr_agent *ag, Stop stop)
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
	consume(c);
	return zr_job_complete(ag, &c, ZR_PAYLOAD_NULL, 0);
}

// Wait until job `id` is final, by the futex (zr_job_wait) or by polling
// zr_job_get, then release it. `gone` is asked between waits.
template <class Gone> int finish_one(zr_arena *a, zr_job_id id, bool futex, Gone gone)
{
	int rc;
	if (futex) {
		while ((rc = zr_job_wait(a, id, kSliceNs, nullptr)) == -ETIMEDOUT || rc == -EINTR)
			if (gone())
				return -ECHILD;
	} else {
		zr_job_info info;
		for (unsigned spins = 0;;) {
			rc = zr_job_get(a, id, &info); // -EAGAIN: caught mid-change
			if (rc == 0 &&
			    (info.status == ZR_JOB_COMPLETED || info.status == ZR_JOB_FAILED ||
			     info.status == ZR_JOB_CANCELLED || info.status == ZR_JOB_EXPIRED))
				break;
			if (rc != 0 && rc != -EAGAIN)
				return rc;
			if (relax(&spins) && gone())
				return -ECHILD;
		}
	}
	return rc ? rc : zr_job_release(a, id);
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
	uint64_t tag = 0;
	for (auto _ : state) {
		zr_job_id id;
		zr_claim c;
		int rc = submit_one(ag.get(), target, tag++, &id);
		if (rc == 0)
			rc = zr_job_claim(ag.get(), &c) == 1 ? 0 : -ENOENT;
		if (rc == 0) {
			consume(c);
			rc = zr_job_complete(ag.get(), &c, ZR_PAYLOAD_NULL, 0);
		}
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

// The least a job layer could do: a payload written in place and its
// handle passed through a ring, then freed.
void bm_baseline_alloc_ring_1thread(benchmark::State &state)
{
	zr_ring *r = g.single.prod;
	uint64_t tag = 0;
	for (auto _ : state) {
		zr_payload p;
		if (zr_payload_alloc(g.arena, kPayload, &p) != 0) {
			state.SkipWithError("zr_payload_alloc failed");
			break;
		}
		auto *w = static_cast<uint64_t *>(zr_payload_ptr(g.arena, p));
		for (size_t i = 0; i < kPayload / 8; i++)
			w[i] = tag + i;
		tag++;
		bool in = zr_ring_enqueue(r, p.v);
		bool out = zr_ring_dequeue(r, &p.v);
		zr_claim c{};
		c.data = zr_payload_ptr(g.arena, p);
		c.len = kPayload;
		consume(c);
		if (!in || !out || zr_payload_free(g.arena, p) != 0) {
			state.SkipWithError("ring or zr_payload_free failed");
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
	uint64_t tag = 0;
	for (auto _ : state) {
		if (g_abort.load(std::memory_order_relaxed))
			continue; // run out the iterations: see g_abort
		int rc;
		if (first) {
			zr_job_id id;
			rc = submit_one(ag.get(), target, tag++, &id);
			rc = rc ? rc : finish_one(g.arena, id, futex, gone);
		} else {
			rc = serve_one(ag.get(), gone);
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

enum class Mode { ping, ring, job };

// Shared between the benchmark process and its worker (MAP_SHARED).
struct Shared {
	alignas(64) std::atomic<uint32_t> ready{0};
	std::atomic<uint32_t> stop{0};
	std::atomic<uint32_t> failed{0};
	std::atomic<uint32_t> worker{0}; // the worker's agent id
	alignas(64) std::atomic<uint64_t> ping{0};
	alignas(64) std::atomic<uint64_t> pong{0};
};

void pin_self(int cpu)
{
	if (!cpus.pinned)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

int child_ping(Shared *sh)
{
	sh->ready.store(1, std::memory_order_release);
	unsigned spins = 0;
	for (uint64_t i = 1;; i++) {
		while (sh->ping.load(std::memory_order_acquire) != i)
			if (relax(&spins) && sh->stop.load(std::memory_order_relaxed))
				return 0;
		sh->pong.store(i, std::memory_order_release);
	}
}

// Echo every entry of x-ping back on x-pong.
int child_ring(zr_arena *a, Shared *sh)
{
	Local in(a, "x-ping"), out(a, "x-pong");
	if (!in.get() || !out.get())
		return 1;
	sh->ready.store(1, std::memory_order_release);
	unsigned spins = 0;
	for (uint64_t v;;) {
		while (!zr_ring_dequeue(in.get(), &v))
			if (relax(&spins) && sh->stop.load(std::memory_order_relaxed))
				return 0;
		while (!zr_ring_enqueue(out.get(), v))
			if (relax(&spins) && sh->stop.load(std::memory_order_relaxed))
				return 0;
	}
}

int child_job(zr_arena *a, Shared *sh)
{
	Agent ag(a, "x-worker");
	if (!ag.get())
		return 1;
	sh->worker.store(zr_agent_id(ag.get()), std::memory_order_relaxed);
	sh->ready.store(1, std::memory_order_release);
	int rc;
	auto stop = [sh] { return sh->stop.load(std::memory_order_relaxed) != 0; };
	while ((rc = serve_one(ag.get(), stop)) == 0)
		;
	if (rc < 0)
		std::fprintf(stderr, "bench_job worker: %s\n", zr_strerror(rc));
	return rc < 0;
}

// The worker process: attach by name, serve until told to stop. Never
// returns; dies with the thread that forked it (PR_SET_PDEATHSIG).
[[noreturn]] void child_main(const char *name, Shared *sh, Mode mode, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	pin_self(cpus.cpu[1]);
	zr_arena *a = nullptr;
	zr_diag d{};
	int rc = zr_arena_open(name, 0, &a, &d);
	if (rc) {
		std::fprintf(stderr, "worker: zr_arena_open(%s): %s: %s\n", name, zr_strerror(rc),
			     d.msg);
		sh->failed.store(1, std::memory_order_relaxed);
		_exit(1);
	}
	rc = mode == Mode::ping	  ? child_ping(sh)
	     : mode == Mode::ring ? child_ring(a, sh)
				  : child_job(a, sh);
	if (rc)
		sh->failed.store(1, std::memory_order_relaxed);
	_exit(zr_arena_close(a) == 0 ? rc : 1);
}

// A worker process for one run, with its own arena: created here under a
// unique name, opened by the worker, and unlinked as soon as the worker
// has attached (or at once on failure), so no name outlives the run.
class Peer
{
      public:
	explicit Peer(Mode mode);
	~Peer();
	Peer(const Peer &) = delete;
	Peer &operator=(const Peer &) = delete;
	const char *error() const
	{
		return err_;
	}
	zr_arena *arena() const
	{
		return a_;
	}
	Shared *shared() const
	{
		return sh_;
	}
	bool gone(); // the worker failed or exited

      private:
	bool start(Mode mode);
	bool wait_ready();
	char name_[64];
	zr_arena *a_ = nullptr;
	Shared *sh_ = nullptr;
	pid_t pid_ = -1;
	bool linked_ = false;
	const char *err_ = nullptr;
};

Peer::Peer(Mode mode)
{
	std::snprintf(name_, sizeof(name_), "zring-bench-job-%d-%u", (int)getpid(), g.peers++);
	void *m = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED) {
		err_ = "mmap failed";
		return;
	}
	sh_ = new (m) Shared();
	if (!start(mode) || !wait_ready())
		return; // the destructor unlinks
	if (zr_arena_unlink(name_) == 0)
		linked_ = false;
}

bool Peer::start(Mode mode)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, (size_t)16 << 20);
	zr_diag d{};
	if (zr_arena_create(name_, &cfg, &a_, &d) != 0) {
		std::fprintf(stderr, "zr_arena_create(%s): %s\n", name_, d.msg);
		err_ = "zr_arena_create failed";
		return false;
	}
	linked_ = true;
	Ends ping, pong;
	if (make_ring(a_, "x-ping", ZR_RING_MPMC, &ping) ||
	    make_ring(a_, "x-pong", ZR_RING_MPMC, &pong)) {
		err_ = "ring create failed";
		return false;
	}
	for (Ends *e : {&ping, &pong}) {
		zr_ring_close(e->prod);
		zr_ring_close(e->cons);
	}
	std::fflush(nullptr);
	pid_t parent = getpid();
	pid_ = fork();
	if (pid_ == 0)
		child_main(name_, sh_, mode, parent);
	if (pid_ < 0)
		err_ = "fork failed";
	return pid_ > 0;
}

bool Peer::wait_ready()
{
	uint64_t deadline = now_ns() + kSetupNs;
	while (!sh_->ready.load(std::memory_order_acquire)) {
		if (gone() || now_ns() > deadline) {
			err_ = "worker process did not start";
			return false;
		}
		usleep(100);
	}
	return true;
}

bool Peer::gone()
{
	int status;
	if (sh_->failed.load(std::memory_order_relaxed))
		return true;
	if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
		pid_ = -1;
		return true;
	}
	return false;
}

Peer::~Peer()
{
	if (sh_)
		sh_->stop.store(1, std::memory_order_relaxed);
	uint64_t deadline = now_ns() + kSetupNs;
	int status;
	while (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0) {
		if (now_ns() > deadline)
			kill(pid_, SIGKILL);
		usleep(200);
	}
	if (linked_ && zr_arena_unlink(name_) != 0)
		std::fprintf(stderr, "bench_job: %s left in /dev/shm\n", name_);
	if (a_)
		zr_arena_close(a_);
	if (sh_)
		munmap(sh_, sizeof(Shared));
}

void set_percentiles(benchmark::State &state, const zr_hist &h)
{
	state.counters["p50"] = (double)zr_hist_percentile(&h, 50) * 1e-9;
	state.counters["p99"] = (double)zr_hist_percentile(&h, 99) * 1e-9;
}

// Run `one` (a round trip, true on success) once per iteration; record each
// round trip in a histogram by one clock read per iteration.
template <class F> void timed_round_trips(benchmark::State &state, Peer &peer, F one)
{
	if (peer.error()) {
		state.SkipWithError(peer.error());
		return;
	}
	auto *h = new zr_hist();
	uint64_t prev = now_ns();
	for (auto _ : state) {
		if (!one()) {
			state.SkipWithError(peer.gone() ? "worker process failed"
							: "round trip failed");
			break;
		}
		uint64_t t = now_ns();
		zr_hist_record(h, t - prev);
		prev = t;
	}
	set_round_trip(state);
	set_percentiles(state, *h);
	delete h;
}

void bm_xproc_pingpong(benchmark::State &state)
{
	Pin pin(0);
	Peer peer(Mode::ping);
	Shared *sh = peer.shared();
	uint64_t i = 0;
	unsigned spins = 0;
	timed_round_trips(state, peer, [&] {
		sh->ping.store(++i, std::memory_order_release);
		while (sh->pong.load(std::memory_order_acquire) != i)
			if (relax(&spins) && peer.gone())
				return false;
		return true;
	});
}

void bm_xproc_ring_roundtrip(benchmark::State &state)
{
	Pin pin(0);
	Peer peer(Mode::ring);
	Local out(peer.arena(), "x-ping"), in(peer.arena(), "x-pong");
	uint64_t v = 0;
	unsigned spins = 0;
	timed_round_trips(state, peer, [&] {
		if (!out.get() || !in.get() || !zr_ring_enqueue(out.get(), v))
			return false; // the ring is empty between round trips
		while (!zr_ring_dequeue(in.get(), &v))
			if (relax(&spins) && peer.gone())
				return false;
		return true;
	});
}

void bm_xproc_job_roundtrip(benchmark::State &state, bool futex)
{
	Pin pin(0);
	Peer peer(Mode::job);
	zr_arena *a = peer.arena();
	Agent ag(a, "x-client");
	uint32_t target = peer.error() ? 0 : peer.shared()->worker.load();
	uint64_t tag = 0;
	auto gone = [&] { return peer.gone(); };
	timed_round_trips(state, peer, [&] {
		zr_job_id id;
		int rc = ag.get() ? submit_one(ag.get(), target, tag++, &id) : -EINVAL;
		rc = rc ? rc : finish_one(a, id, futex, gone);
		if (rc)
			std::fprintf(stderr, "xproc job round trip: %s\n", zr_strerror(rc));
		return rc == 0;
	});
}

// Jobs streamed to the worker process with up to N outstanding: when the
// window is full, wait for the oldest (zr_job_wait) and release it.
void bm_xproc_job_stream(benchmark::State &state)
{
	Pin pin(0);
	Peer peer(Mode::job);
	zr_arena *a = peer.arena();
	Agent ag(a, "x-client");
	if (peer.error() || !ag.get()) {
		state.SkipWithError(peer.error() ? peer.error() : "zr_agent_register failed");
		return;
	}
	uint32_t target = peer.shared()->worker.load();
	unsigned n = (unsigned)state.range(0);
	zr_job_id win[kMaxWindow];
	uint64_t head = 0, tail = 0;
	auto gone = [&] { return peer.gone(); };
	int rc = 0;
	for (auto _ : state) {
		if (tail - head == n)
			rc = finish_one(a, win[head++ % n], true, gone);
		rc = rc ? rc : submit_one(ag.get(), target, tail, &win[tail % n]);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		tail++;
	}
	while (rc == 0 && head != tail)
		rc = finish_one(a, win[head++ % n], true, gone);
	state.SetItemsProcessed((int64_t)state.iterations());
}

// The same stream through a pair of MPMC rings, echoed by the worker.
void bm_xproc_ring_stream(benchmark::State &state)
{
	Pin pin(0);
	Peer peer(Mode::ring);
	Local out(peer.arena(), "x-ping"), in(peer.arena(), "x-pong");
	if (peer.error() || !out.get() || !in.get()) {
		state.SkipWithError(peer.error() ? peer.error() : "zr_ring_open failed");
		return;
	}
	unsigned n = (unsigned)state.range(0), outstanding = 0;
	// take echoes back until at most `keep` are outstanding
	auto drain_to = [&](unsigned keep) {
		uint64_t v;
		for (unsigned spins = 0; outstanding > keep;)
			if (zr_ring_dequeue(in.get(), &v))
				outstanding--;
			else if (relax(&spins) && peer.gone())
				return false;
		return true;
	};
	for (auto _ : state) {
		if (!drain_to(n - 1) || !zr_ring_enqueue(out.get(), outstanding)) {
			state.SkipWithError("worker process failed");
			break;
		}
		outstanding++;
	}
	(void)drain_to(0);
	state.SetItemsProcessed((int64_t)state.iterations());
}

// ---- registration ---------------------------------------------------------

void register_all()
{
	benchmark::RegisterBenchmark("BM_job_cycle_1thread", bm_job_cycle)
		->ArgName("shared")
		->Arg(0)
		->Arg(1);
	benchmark::RegisterBenchmark("BM_baseline_ring_mpmc_1thread", bm_baseline_ring_1thread);
	benchmark::RegisterBenchmark("BM_baseline_alloc_ring_1thread",
				     bm_baseline_alloc_ring_1thread);
	for (bool futex : {true, false}) {
		std::string w = futex ? "futex" : "poll";
		benchmark::RegisterBenchmark(("BM_job_roundtrip/wait:" + w).c_str(),
					     bm_job_roundtrip, futex)
			->Threads(2)
			->UseRealTime();
	}
	benchmark::RegisterBenchmark("BM_baseline_pingpong", bm_baseline_pingpong)
		->Threads(2)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_baseline_ring_mpmc_roundtrip", bm_baseline_ring_roundtrip)
		->Threads(2)
		->UseRealTime();
	for (bool futex : {true, false}) {
		std::string w = futex ? "futex" : "poll";
		benchmark::RegisterBenchmark(("BM_xproc_job_roundtrip/wait:" + w).c_str(),
					     bm_xproc_job_roundtrip, futex)
			->UseRealTime();
	}
	benchmark::RegisterBenchmark("BM_xproc_baseline_pingpong", bm_xproc_pingpong)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_xproc_baseline_ring_mpmc_roundtrip",
				     bm_xproc_ring_roundtrip)
		->UseRealTime();
	for (auto *b : {benchmark::RegisterBenchmark("BM_xproc_job_stream", bm_xproc_job_stream),
			benchmark::RegisterBenchmark("BM_xproc_baseline_ring_mpmc_stream",
						     bm_xproc_ring_stream)})
		b->ArgName("window")->Arg(16)->Arg((int64_t)kMaxWindow)->UseRealTime();
}

void add_job_context()
{
	add_context("thread 0 / parent on cpu " + std::to_string(cpus.cpu[0]) +
		    ", thread 1 / worker process on cpu " + std::to_string(cpus.cpu[1]));
	benchmark::AddCustomContext("payload_bytes", std::to_string(kPayload));
}

} // namespace

int main(int argc, char **argv)
{
	if (!allowed_to_run("bench_job", argc, argv))
		return 1;
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	find_cpus();
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
	return zr_arena_close(g.arena) == 0 && !g_abort.load() ? 0 : 1;
}
