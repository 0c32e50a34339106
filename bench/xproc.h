// bench/xproc.h: the cross-process harness every benchmark program shares.
//
// A Child is a forked process pinned to the second CPU (the benchmark
// thread pins itself to the first with Pin(0)); both see one MAP_SHARED
// anonymous region at the same address, so a pointer-based peer structure
// placed there works in both. Samples keeps every round trip's time and
// reports exact percentiles as counters. The names and counters the report
// (bench/report.py) reads are described in bench/README.md.
#ifndef ZRING_BENCH_XPROC_H
#define ZRING_BENCH_XPROC_H

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <new>
#include <vector>

#include "bench_common.h"

namespace zr_bench
{

constexpr uint64_t kSetupNs = 5000000000u; // a child that is not ready by then has failed

inline uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// The head of the shared region: how parent and child coordinate.
struct Control {
	alignas(64) std::atomic<uint32_t> ready{0};
	std::atomic<uint32_t> stop{0};
	std::atomic<uint32_t> failed{0};
	std::atomic<uint32_t> value{0}; // one word the child hands back (an agent id)
};

// Pin the whole calling process (the child) to one CPU.
inline void pin_process(int cpu)
{
	if (!cpus.pinned)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

// A child process running `body(Control *, void *shared)` until it returns
// (its exit status: 0 for success) or Control::stop is set. The child dies
// with the thread that forked it (PR_SET_PDEATHSIG). The body should set
// Control::ready once it can serve, and look at Control::stop whenever it
// waits (relax() returning true is a good moment).
class Child
{
      public:
	template <class Body> Child(size_t shared_bytes, Body body) : bytes_(shared_bytes)
	{
		void *m = mmap(nullptr, sizeof(Control) + bytes_, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			err_ = "mmap of the shared region failed";
			return;
		}
		ctl_ = new (m) Control();
		std::fflush(nullptr);
		pid_t parent = getpid();
		pid_ = fork();
		if (pid_ == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
				_exit(1);
			pin_process(cpus.cpu[1]);
			int rc = body(ctl_, shared());
			if (rc)
				ctl_->failed.store(1, std::memory_order_relaxed);
			_exit(rc ? 1 : 0);
		}
		if (pid_ < 0) {
			err_ = "fork failed";
			return;
		}
		wait_ready();
	}
	~Child()
	{
		if (ctl_)
			ctl_->stop.store(1, std::memory_order_relaxed);
		uint64_t deadline = now_ns() + kSetupNs;
		int status;
		while (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0) {
			if (now_ns() > deadline)
				kill(pid_, SIGKILL);
			usleep(200);
		}
		if (ctl_)
			munmap(ctl_, sizeof(Control) + bytes_);
	}
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;

	// Null once the child is ready; else why it is not.
	const char *error() const
	{
		return err_;
	}
	Control *ctl() const
	{
		return ctl_;
	}
	void *shared() const
	{
		return reinterpret_cast<char *>(ctl_) + sizeof(Control);
	}
	// The child failed or exited. Costs a waitpid: ask it only now and then.
	bool gone()
	{
		int status;
		if (ctl_->failed.load(std::memory_order_relaxed))
			return true;
		if (pid_ > 0 && waitpid(pid_, &status, WNOHANG) == pid_) {
			pid_ = -1;
			return true;
		}
		return pid_ <= 0;
	}

      private:
	void wait_ready()
	{
		uint64_t deadline = now_ns() + kSetupNs;
		// acquire: what the child set up before ready is visible after
		while (!ctl_->ready.load(std::memory_order_acquire)) {
			if (gone() || now_ns() > deadline) {
				err_ = "child process did not start";
				return;
			}
			usleep(100);
		}
	}
	size_t bytes_;
	Control *ctl_ = nullptr;
	pid_t pid_ = -1;
	const char *err_ = nullptr;
};

// Iterations for a fixed-count benchmark: `wanted`, capped by the
// environment variable ZR_BENCH_RT_ITERS (the CI smoke run sets it small).
inline int64_t rt_iterations(int64_t wanted)
{
	const char *cap = std::getenv("ZR_BENCH_RT_ITERS");
	long long n = cap ? std::atoll(cap) : 0;
	return n > 0 && n < wanted ? (int64_t)n : wanted;
}

// The payload protocol of bench/README.md: a sequence number in the first
// and the last 8 bytes, written in place; the body is left as it is.
inline void stamp(void *p, size_t n, uint64_t seq)
{
	std::memcpy(p, &seq, 8);
	std::memcpy(static_cast<char *>(p) + n - 8, &seq, 8);
}

inline bool stamped(const void *p, size_t n, uint64_t seq)
{
	uint64_t head, tail;
	if (!p || n < 8)
		return false;
	std::memcpy(&head, p, 8);
	std::memcpy(&tail, static_cast<const char *>(p) + n - 8, 8);
	return head == seq && tail == seq;
}

// A stream writes the whole message and the reader checks one word in every
// cache line, and both stamps: the data really moves between the cores, so
// GB/s means bytes moved.
inline void fill(void *p, size_t n, uint64_t seq)
{
	for (size_t i = 0; i + 8 <= n; i += 8)
		std::memcpy(static_cast<char *>(p) + i, &seq, 8);
}

inline bool filled(const void *p, size_t n, uint64_t seq)
{
	uint64_t w;
	for (size_t i = 0; p && i + 8 <= n; i += 64) {
		std::memcpy(&w, static_cast<const char *>(p) + i, 8);
		if (w != seq)
			return false;
	}
	return stamped(p, n, seq);
}

// An arena for one cross-process run, made by the parent under a unique
// name "<prefix>-<pid>-<n>" with `rings` rings (at most two) of kRingCap
// entries, named ring(0), ring(1); children attach by name (attached()).
// The name is removed by unlink() once they have attached, or at the
// latest when the object goes, so none outlives the run.
class NamedArena
{
      public:
	NamedArena() = default;
	NamedArena(const NamedArena &) = delete;
	NamedArena &operator=(const NamedArena &) = delete;
	~NamedArena()
	{
		unlink();
		if (a_)
			zr_arena_close(a_);
	}
	int create(const char *prefix, size_t bytes, uint32_t kind, unsigned rings)
	{
		static unsigned made;
		std::snprintf(name_, sizeof(name_), "%s-%d-%u", prefix, (int)getpid(), made++);
		zr_arena_config cfg;
		zr_arena_config_init(&cfg, bytes);
		zr_diag d{};
		int rc = zr_arena_create(name_, &cfg, &a_, &d);
		if (rc) {
			std::fprintf(stderr, "zr_arena_create(%s): %s: %s\n", name_,
				     zr_strerror(rc), d.msg);
			a_ = nullptr;
			return rc;
		}
		linked_ = true;
		zr_ring_config rcfg = {kind, kRingCap, ZR_WAIT_SPIN};
		for (unsigned i = 0; i < rings && rc == 0; i++) {
			zr_ring *r;
			rc = i < 2 ? zr_ring_create(a_, ring(i), &rcfg, &r) : -EINVAL;
			if (rc == 0)
				zr_ring_close(r);
		}
		return rc;
	}
	void unlink()
	{
		if (linked_ && zr_arena_unlink(name_) != 0)
			std::fprintf(stderr, "%s left in /dev/shm\n", name_);
		linked_ = false;
	}
	const char *name() const
	{
		return name_;
	}
	zr_arena *get() const
	{
		return a_;
	}
	static constexpr const char *ring(unsigned i)
	{
		return i == 0 ? "x0" : "x1";
	}

      private:
	char name_[64] = "";
	zr_arena *a_ = nullptr;
	bool linked_ = false;
};

// In a child: attach to the parent's arena by name, run body(arena), detach.
template <class Body> int attached(const char *name, Body body)
{
	zr_arena *a = nullptr;
	zr_diag d{};
	int rc = zr_arena_open(name, 0, &a, &d);
	if (rc) {
		std::fprintf(stderr, "child: zr_arena_open(%s): %s: %s\n", name, zr_strerror(rc),
			     d.msg);
		return 1;
	}
	rc = body(a);
	return zr_arena_close(a) == 0 ? rc : 1;
}

// Busy-wait for `done()`; false when the child has gone meanwhile.
template <class Done> inline bool spin_until(Child &child, Done done)
{
	for (unsigned spins = 0; !done();)
		if (relax(&spins) && child.gone())
			return false;
	return true;
}

// Every sample of one run, in nanoseconds; exact percentiles, no buckets.
class Samples
{
      public:
	void reserve(size_t n)
	{
		ns_.reserve(n);
	}
	void add(uint64_t ns)
	{
		ns_.push_back(ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns);
	}
	// Counters p50_ns p90_ns p99_ns p999_ns max_ns mean_ns and samples.
	void report(benchmark::State &state)
	{
		if (ns_.empty())
			return;
		std::sort(ns_.begin(), ns_.end());
		auto at = [&](double p) {
			size_t i = (size_t)(p / 100.0 * (double)(ns_.size() - 1) + 0.5);
			return (double)ns_[std::min(i, ns_.size() - 1)];
		};
		double sum = 0;
		for (uint32_t v : ns_)
			sum += v;
		state.counters["p50_ns"] = at(50);
		state.counters["p90_ns"] = at(90);
		state.counters["p99_ns"] = at(99);
		state.counters["p999_ns"] = at(99.9);
		state.counters["max_ns"] = (double)ns_.back();
		state.counters["mean_ns"] = sum / (double)ns_.size();
		state.counters["samples"] = (double)ns_.size();
	}

      private:
	std::vector<uint32_t> ns_;
};

// Run `one()` (a round trip, true on success) once per iteration, timing
// each with one clock read per iteration (the previous read ends the last
// one), and report the percentiles and the round_trip rate. `bytes` per
// round trip, when non-zero, gives bytes_per_second.
template <class F>
inline void timed_round_trips(benchmark::State &state, Child &child, size_t bytes, F one)
{
	if (child.error()) {
		state.SkipWithError(child.error());
		return;
	}
	Samples s;
	s.reserve((size_t)std::min<int64_t>(state.max_iterations, 1 << 20));
	uint64_t prev = now_ns();
	for (auto _ : state) {
		if (!one()) {
			state.SkipWithError(child.gone() ? "child process failed"
							 : "round trip failed");
			break;
		}
		uint64_t t = now_ns();
		s.add(t - prev);
		prev = t;
	}
	set_round_trip(state);
	if (bytes)
		state.SetBytesProcessed((int64_t)(state.iterations() * bytes));
	s.report(state);
}

// The physical floor, measured by every program that reports round trips:
// one cache line each way between the two pinned processes. Register as
// "rt/impl:pingpong/size:8" with UseRealTime().
inline void bm_xproc_pingpong(benchmark::State &state)
{
	struct Lines {
		alignas(64) std::atomic<uint64_t> ping{0};
		alignas(64) std::atomic<uint64_t> pong{0};
	};
	Pin pin(0);
	Child child(sizeof(Lines), [](Control *ctl, void *shared) {
		auto *l = new (shared) Lines();
		// release: the constructed lines are visible before ready
		ctl->ready.store(1, std::memory_order_release);
		unsigned spins = 0;
		for (uint64_t i = 1;; i++) {
			// acquire/release pair with the parent's: each side sees the
			// other's number only after its own was taken
			while (l->ping.load(std::memory_order_acquire) != i)
				if (relax(&spins) && ctl->stop.load(std::memory_order_relaxed))
					return 0;
			l->pong.store(i, std::memory_order_release);
		}
	});
	auto *l = static_cast<Lines *>(child.shared());
	uint64_t i = 0;
	timed_round_trips(state, child, 0, [&] {
		l->ping.store(++i, std::memory_order_release);
		return spin_until(child,
				  [&] { return l->pong.load(std::memory_order_acquire) == i; });
	});
}

} // namespace zr_bench

#endif
