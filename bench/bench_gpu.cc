// bench/bench_gpu.cc: the GPU module (zring/gpu.h) against its baselines,
// in one run.
//
//   gpu_read/impl:inplace/bytes:N          a kernel sums the N bytes of a payload
//                                          where it lies, in the registered
//                                          arena (host memory, read over PCIe)
//   gpu_read/impl:memcpy/bytes:N           cudaMemcpyAsync of the payload (a
//                                          pinned copy: the arena is registered)
//                                          to device memory, then the same kernel
//   gpu_read/impl:device_resident/bytes:N  the same kernel over a copy already
//                                          in device memory (the floor)
//   gpu_signal/impl:persistent             one 8-byte entry CPU -> GPU -> CPU
//                                          through two SPSC rings of the arena,
//                                          answered by a persistent kernel
//   gpu_signal/impl:proxy                  the same, answered by a host thread
//                                          that launches a kernel per entry
//   gpu_signal/impl:cpu_echo               the same, answered by a host thread
//                                          (the floor: no GPU at all)
//
// bench/README.md says how to read each row. gpu_read times each iteration
// by the wall clock from the first CUDA call to the end of
// cudaStreamSynchronize() (UseManualTime), and reports the GPU's own time
// from CUDA events beside it. gpu_signal runs a fixed count of round trips,
// every one timed (exact percentiles): 100,000 unless --zr_rt_iters=N or
// ZR_BENCH_RT_ITERS says otherwise.
//
// Without a CUDA device (or driver) every benchmark ends at once with
// "skipped: no CUDA device: <why zr_gpu_open() refused>". The arena is
// named zring-bench-gpu-<pid> and its name is removed as soon as it is
// made, so nothing is left in /dev/shm whatever way the program ends.
// Refuses to measure in a Debug build; listing and the smoke run are allowed.
#include "bench_gpu_kernels.h"
#include "xproc.h"
#include "zring/gpu_device.h"

#include <cuda_runtime_api.h>

#include <cerrno>
#include <cinttypes>
#include <string>
#include <thread>
#include <utility>

namespace
{

using namespace zr_bench;
namespace kg = zr_bench_gpu;

constexpr size_t kArenaBytes = (size_t)256 << 20;
constexpr size_t kProbeBytes = (size_t)2 << 20; // enough to ask zr_gpu_open() why not
constexpr uint64_t kDefaultRtIters = 100000;
constexpr unsigned kWarmup = 64;	    // round trips before the timed ones
constexpr uint64_t kAnswerNs = 5000000000u; // a round trip not answered by then has failed
constexpr const char *kInRing = "gpu-in";   // CPU -> answering side
constexpr const char *kOutRing = "gpu-out"; // answering side -> CPU (ZR_WAIT_SPIN)

struct Globals {
	zr_arena *arena = nullptr;
	zr_gpu *gpu = nullptr;
	zr_gpu_info info{};
	std::string why; // when set, every benchmark ends at once with it
	uint64_t rt_iters = kDefaultRtIters;
	char name[64] = "";
} g;

// Runs f when the scope ends: the CUDA and arena resources of one run.
template <class F> class Defer
{
      public:
	explicit Defer(F f) : f_(f)
	{
	}
	~Defer()
	{
		f_();
	}
	Defer(const Defer &) = delete;
	Defer &operator=(const Defer &) = delete;

      private:
	F f_;
};

std::string cuda_msg(cudaError_t e, const char *call)
{
	return std::string(call) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

// The first failed CUDA call of a sequence: c(cudaX(...), "cudaX") && c(...)
// stops at the first failure and remembers it.
class Cuda
{
      public:
	bool operator()(cudaError_t e, const char *call)
	{
		if (e_ == cudaSuccess && e != cudaSuccess) {
			e_ = e;
			call_ = call;
		}
		return e_ == cudaSuccess;
	}
	bool ok() const
	{
		return e_ == cudaSuccess;
	}
	std::string msg() const
	{
		return cuda_msg(e_, call_);
	}
	// False, and the benchmark ends with the failed call, after a failure.
	bool check(benchmark::State &state) const
	{
		if (!ok())
			state.SkipWithError(msg().c_str());
		return ok();
	}

      private:
	cudaError_t e_ = cudaSuccess;
	const char *call_ = "";
};

void fail(benchmark::State &state, const std::string &why)
{
	state.SkipWithError(why.c_str());
}

// Ends the benchmark when there is no GPU to measure; else makes the
// device current on this thread (CUDA keeps it per thread).
bool gpu_ready(benchmark::State &state)
{
	if (!g.why.empty()) {
		fail(state, g.why);
		return false;
	}
	Cuda c;
	c(cudaSetDevice(g.info.device), "cudaSetDevice");
	return c.check(state);
}

// ---- gpu_read ---------------------------------------------------------------

enum class Read { kInplace, kMemcpy, kDeviceResident };

// Fill the payload with words that differ everywhere; returns their sum
// modulo 2^64, which the kernel must find.
uint64_t fill_pattern(uint64_t *w, size_t bytes, uint64_t seed)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < bytes / 8; i++) {
		w[i] = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
		sum += w[i];
	}
	return sum;
}

struct ReadTimes {
	double copy_ms = 0;   // cudaMemcpyAsync, by CUDA events (memcpy only)
	double kernel_ms = 0; // the reduction kernel, by CUDA events
};

void bm_read(benchmark::State &state, Read impl)
{
	if (!gpu_ready(state))
		return;
	size_t bytes = (size_t)state.range(0);
	zr_payload pl{};
	int rc = zr_payload_alloc(g.arena, bytes, &pl);
	if (rc) {
		fail(state, "zr_payload_alloc(" + std::to_string(bytes) + "): " + zr_strerror(rc));
		return;
	}
	Defer free_payload([&] {
		if (zr_payload_free(g.arena, pl) != 0)
			std::fprintf(stderr, "bench_gpu: zr_payload_free failed\n");
	});
	auto *host = static_cast<uint64_t *>(zr_payload_ptr(g.arena, pl));
	void *in_place = nullptr;
	size_t usable = 0;
	rc = zr_gpu_payload_ptr(g.gpu, pl, &in_place, &usable);
	if (rc || !host || usable < bytes || bytes % 16 ||
	    ((uintptr_t)host | (uintptr_t)in_place) % 16) {
		fail(state,
		     std::string("zr_gpu_payload_ptr: ") +
			     (rc ? zr_strerror(rc) : "payload too small or not 16-byte aligned"));
		return;
	}
	uint64_t want = fill_pattern(host, bytes, bytes);

	Cuda c;
	unsigned long long *acc = nullptr;
	void *dev_copy = nullptr;
	cudaStream_t s = nullptr;
	cudaEvent_t ev[3] = {};
	unsigned blocks = 0;
	Defer release([&] {
		if (s)
			(void)cudaStreamSynchronize(s); // nothing may still use what is freed below
		for (cudaEvent_t e : ev)
			if (e)
				(void)cudaEventDestroy(e);
		if (s)
			(void)cudaStreamDestroy(s);
		(void)cudaFree(dev_copy);
		(void)cudaFree(acc);
	});
	c(cudaMalloc(reinterpret_cast<void **>(&acc), sizeof(*acc)), "cudaMalloc") &&
		(impl == Read::kInplace || c(cudaMalloc(&dev_copy, bytes), "cudaMalloc")) &&
		c(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate") &&
		c(cudaEventCreate(&ev[0]), "cudaEventCreate") &&
		c(cudaEventCreate(&ev[1]), "cudaEventCreate") &&
		c(cudaEventCreate(&ev[2]), "cudaEventCreate") &&
		c(kg::sum_blocks(g.info.device, bytes, &blocks), "sum_blocks") &&
		c(cudaMemsetAsync(acc, 0, sizeof(*acc), s), "cudaMemsetAsync") &&
		(impl != Read::kDeviceResident ||
		 c(cudaMemcpyAsync(dev_copy, host, bytes, cudaMemcpyHostToDevice, s),
		   "cudaMemcpyAsync")) &&
		c(cudaStreamSynchronize(s), "cudaStreamSynchronize");
	if (!c.check(state))
		return;
	const void *src = impl == Read::kInplace ? in_place : dev_copy;

	// One iteration: [copy,] reduce, wait. The events cost a few hundred
	// ns of launch work, the same in every row.
	auto one = [&](Cuda &k) {
		return k(cudaEventRecord(ev[0], s), "cudaEventRecord") &&
		       (impl != Read::kMemcpy ||
			k(cudaMemcpyAsync(dev_copy, host, bytes, cudaMemcpyHostToDevice, s),
			  "cudaMemcpyAsync")) &&
		       k(cudaEventRecord(ev[1], s), "cudaEventRecord") &&
		       k(kg::launch_sum(src, bytes, acc, blocks, s), "sum kernel launch") &&
		       k(cudaEventRecord(ev[2], s), "cudaEventRecord") &&
		       k(cudaStreamSynchronize(s), "cudaStreamSynchronize (sum kernel)");
	};
	one(c); // warm-up, untimed: first use of the buffers
	if (!c.check(state))
		return;
	ReadTimes t;
	for (auto _ : state) {
		uint64_t t0 = now_ns();
		bool ok = one(c);
		uint64_t t1 = now_ns();
		float copy = 0, kernel = 0;
		ok = ok && c(cudaEventElapsedTime(&copy, ev[0], ev[1]), "cudaEventElapsedTime") &&
		     c(cudaEventElapsedTime(&kernel, ev[1], ev[2]), "cudaEventElapsedTime");
		if (!ok) {
			c.check(state);
			break;
		}
		state.SetIterationTime((double)(t1 - t0) * 1e-9);
		t.copy_ms += copy;
		t.kernel_ms += kernel;
	}
	if (state.error_occurred())
		return;
	// Every launch (the warm-up's too) added the payload's sum to acc.
	unsigned long long got = 0;
	c(cudaMemcpyAsync(&got, acc, sizeof(got), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync") &&
		c(cudaStreamSynchronize(s), "cudaStreamSynchronize");
	if (!c.check(state))
		return;
	uint64_t launches = (uint64_t)state.iterations() + 1;
	if (got != want * launches) {
		fail(state, "the kernel's sum is wrong: read " + std::to_string(got) + ", want " +
				    std::to_string(want * launches));
		return;
	}
	double n = (double)state.iterations();
	state.SetBytesProcessed((int64_t)(state.iterations() * (int64_t)bytes));
	state.counters["gpu_ns"] = (t.copy_ms + t.kernel_ms) * 1e6 / n;
	state.counters["kernel_ns"] = t.kernel_ms * 1e6 / n;
	if (impl == Read::kMemcpy)
		state.counters["copy_ns"] = t.copy_ms * 1e6 / n;
	state.counters["blocks"] = blocks;
}

// ---- gpu_signal -------------------------------------------------------------

enum class Signal { kCpuEcho, kProxy, kPersistent };

// Mapped pinned memory of one gpu_signal run, each word on its own 128 bytes.
struct Words {
	alignas(128) uint32_t stop;	    // host sets it to 1: the persistent kernel returns
	alignas(128) kg::EchoStatus status; // the persistent kernel's last words
	alignas(128) uint64_t in;	    // the proxy's entry, read by its kernel
	alignas(128) uint64_t out;	    // what its kernel answered
};

// The answering host thread (cpu_echo, proxy) and the benchmark thread.
struct Side {
	std::atomic<bool> stop{false};
	std::atomic<bool> ready{false};
	std::atomic<bool> failed{false};
	std::string why; // written before failed is set (release)

	void fail(const std::string &w)
	{
		why = w;
		// release: why is written before; pairs with the acquire in wait_answer()
		failed.store(true, std::memory_order_release);
	}
	bool stopping() const
	{
		// relaxed: a flag to stop on, it orders nothing
		return stop.load(std::memory_order_relaxed);
	}
};

// The answering thread's ends of the two rings, opened by that thread.
struct Ends2 {
	Local in{g.arena, kInRing};
	Local out{g.arena, kOutRing};
	bool ok() const
	{
		return in.get() && out.get();
	}
};

// Enqueue v on out, spinning while it is full, until stopped.
bool answer(Side *side, zr_ring *out, uint64_t v, unsigned *spins)
{
	while (!zr_ring_enqueue(out, v))
		if (relax(spins) && side->stopping())
			return false;
	return true;
}

void cpu_echo_thread(Side *side)
{
	Pin pin(1);
	Ends2 e;
	if (!e.ok())
		return side->fail("zr_ring_open failed in the echo thread");
	// release: the handles are open before the benchmark thread starts
	side->ready.store(true, std::memory_order_release);
	unsigned spins = 0;
	while (!side->stopping()) {
		uint64_t v;
		if (!zr_ring_dequeue(e.in.get(), &v)) {
			relax(&spins);
			continue;
		}
		if (!answer(side, e.out.get(), v + 1, &spins))
			return;
	}
}

// The host proxy: each entry goes to a one-thread kernel through a mapped
// pinned word, and its answer comes back after cudaStreamSynchronize().
void proxy_thread(Side *side, Words *host, Words *dev, cudaStream_t s)
{
	Pin pin(1);
	cudaError_t e = cudaSetDevice(g.info.device);
	if (e != cudaSuccess)
		return side->fail(cuda_msg(e, "cudaSetDevice (proxy thread)"));
	Ends2 ends;
	if (!ends.ok())
		return side->fail("zr_ring_open failed in the proxy thread");
	// release: as in cpu_echo_thread()
	side->ready.store(true, std::memory_order_release);
	unsigned spins = 0;
	while (!side->stopping()) {
		uint64_t v;
		if (!zr_ring_dequeue(ends.in.get(), &v)) {
			relax(&spins);
			continue;
		}
		// relaxed: the launch below orders it before the kernel's read
		__atomic_store_n(&host->in, v, __ATOMIC_RELAXED);
		e = kg::launch_echo_once(&dev->in, &dev->out, s);
		if (e != cudaSuccess)
			return side->fail(cuda_msg(e, "echo kernel launch (proxy thread)"));
		if ((e = cudaStreamSynchronize(s)) != cudaSuccess)
			return side->fail(cuda_msg(e, "cudaStreamSynchronize (proxy thread)"));
		// relaxed: the kernel's write is visible once the stream is synchronised
		uint64_t r = __atomic_load_n(&host->out, __ATOMIC_RELAXED);
		if (!answer(side, ends.out.get(), r, &spins))
			return;
	}
}

// The persistent kernel of one run: stopped through the stop word and
// joined when the object goes, whatever way the benchmark ends.
class Persistent
{
      public:
	Persistent(Words *host, cudaStream_t s) : host_(host), s_(s)
	{
	}
	~Persistent()
	{
		(void)stop();
	}
	Persistent(const Persistent &) = delete;
	Persistent &operator=(const Persistent &) = delete;
	cudaError_t launch(const zr_gpu_ring &in, const zr_gpu_ring &out, Words *dev)
	{
		cudaError_t e = kg::launch_echo_persistent(in, out, &dev->stop, &dev->status, s_);
		running_ = e == cudaSuccess;
		return e;
	}
	// Has the kernel ended (or failed) before it was told to stop?
	cudaError_t query() const
	{
		return running_ ? cudaStreamQuery(s_) : cudaSuccess;
	}
	cudaError_t stop()
	{
		if (!running_)
			return cudaSuccess;
		running_ = false;
		// release: pairs with the kernel's ld.acquire.sys of the stop word
		__atomic_store_n(&host_->stop, 1u, __ATOMIC_RELEASE);
		return cudaStreamSynchronize(s_);
	}

      private:
	Words *host_;
	cudaStream_t s_;
	bool running_ = false;
};

// Take whatever an earlier, failed run left in a ring (no one else uses it now).
void drain(zr_ring *r)
{
	uint64_t v;
	while (zr_ring_dequeue(r, &v)) {
	}
}

// Wait for the answer on `from`; nullptr, or why it did not come. Looks at
// the other side (and the clock) only when relax() yields, every few
// thousand empty polls, so the fast path reads no clock.
template <class Gone> const char *wait_answer(zr_ring *from, uint64_t *r, Gone gone)
{
	unsigned spins = 0;
	uint64_t since = 0;
	while (!zr_ring_dequeue(from, r)) {
		if (!relax(&spins))
			continue;
		if (const char *why = gone())
			return why;
		uint64_t t = now_ns();
		if (since == 0)
			since = t;
		else if (t - since > kAnswerNs)
			return "no answer within 5 s";
	}
	return nullptr;
}

void bm_signal(benchmark::State &state, Signal impl)
{
	Pin pin(0);
	if (!gpu_ready(state))
		return;
	Cuda c;
	cudaStream_t s = nullptr;
	Words *host = nullptr, *dev = nullptr;
	Defer release([&] {
		if (s)
			(void)cudaStreamDestroy(s);
		if (host)
			(void)cudaFreeHost(host);
	});
	c(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate") &&
		c(cudaHostAlloc(reinterpret_cast<void **>(&host), sizeof(Words),
				cudaHostAllocMapped | cudaHostAllocPortable),
		  "cudaHostAlloc") &&
		c(cudaHostGetDevicePointer(reinterpret_cast<void **>(&dev), host, 0),
		  "cudaHostGetDevicePointer");
	if (!c.check(state))
		return;
	new (host) Words();

	// This thread's ends, and the rings emptied of an earlier run's leftovers.
	Local to(g.arena, kInRing), from(g.arena, kOutRing);
	Local in_view(g.arena, kInRing), out_view(g.arena, kOutRing);
	if (!to.get() || !from.get() || !in_view.get() || !out_view.get()) {
		fail(state, "zr_ring_open failed");
		return;
	}
	drain(in_view.get());
	drain(from.get());

	// The answering side. Declared after the resources above, so that it
	// is stopped and joined before they go.
	Side side;
	Persistent kernel(host, s);
	std::thread th;
	Defer join([&] {
		// relaxed: a flag to stop on; join() orders the rest
		side.stop.store(true, std::memory_order_relaxed);
		if (th.joinable())
			th.join();
	});
	if (impl == Signal::kPersistent) {
		zr_gpu_ring vin, vout;
		zr_diag d{};
		int rc = zr_gpu_ring_view(g.gpu, in_view.get(), ZR_GPU_CONSUMER, &vin, &d);
		if (rc == 0)
			rc = zr_gpu_ring_view(g.gpu, out_view.get(), ZR_GPU_PRODUCER, &vout, &d);
		if (rc) {
			fail(state,
			     std::string("zr_gpu_ring_view: ") + zr_strerror(rc) + ": " + d.msg);
			return;
		}
		if (!c(kernel.launch(vin, vout, dev), "persistent kernel launch") ||
		    !c.check(state))
			return;
	} else {
		if (impl == Signal::kCpuEcho)
			th = std::thread(cpu_echo_thread, &side);
		else
			th = std::thread(proxy_thread, &side, host, dev, s);
		// acquire: pairs with the thread's release of ready; its handles are open
		while (!side.ready.load(std::memory_order_acquire) &&
		       !side.failed.load(std::memory_order_acquire))
			std::this_thread::yield();
	}
	// What ended the other side early, if anything (looked at now and then).
	std::string gone_why;
	auto gone = [&]() -> const char * {
		// acquire: pairs with Side::fail(); its why is written
		if (side.failed.load(std::memory_order_acquire))
			return side.why.c_str();
		if (impl != Signal::kPersistent)
			return nullptr;
		cudaError_t e = kernel.query();
		if (e == cudaErrorNotReady)
			return nullptr;
		if (e != cudaSuccess) {
			gone_why = cuda_msg(e, "persistent kernel");
		} else {
			// the stream is done: what the kernel wrote is visible
			const kg::EchoStatus &st = host->status;
			gone_why = "the persistent kernel ended before it was stopped, with rc " +
				   std::to_string(st.rc) + " (" + zr_strerror((int)st.rc) +
				   ") after " + std::to_string(st.echoed) + " answers";
		}
		return gone_why.c_str();
	};

	uint64_t seq = 0;
	auto round_trip = [&]() -> const char * {
		uint64_t v = ++seq, r = 0;
		if (!zr_ring_enqueue(to.get(), v))
			return "the request ring is full"; // it is empty between round trips
		if (const char *why = wait_answer(from.get(), &r, gone))
			return why;
		return r == v + 1 ? nullptr : "a different answer came back";
	};
	for (unsigned i = 0; i < kWarmup; i++) {
		if (const char *why = round_trip()) {
			fail(state, std::string("warm-up: ") + why);
			return;
		}
	}
	Samples samples;
	samples.reserve((size_t)std::min<int64_t>(state.max_iterations, 1 << 22));
	uint64_t prev = now_ns();
	for (auto _ : state) {
		if (const char *why = round_trip()) {
			fail(state, why);
			break;
		}
		uint64_t t = now_ns();
		samples.add(t - prev);
		prev = t;
	}
	if (impl == Signal::kPersistent) {
		cudaError_t e = kernel.stop();
		if (e != cudaSuccess)
			return fail(state,
				    cuda_msg(e, "cudaStreamSynchronize (persistent kernel)"));
		// the kernel has ended: what it wrote is visible after the synchronisation
		const kg::EchoStatus &st = host->status;
		if (!state.error_occurred() && (st.ended != 1 || st.rc != 0 || st.echoed != seq))
			return fail(state, "the persistent kernel ended with rc " +
						   std::to_string(st.rc) + " after " +
						   std::to_string(st.echoed) +
						   " answers, want 0 after " + std::to_string(seq));
	}
	if (state.error_occurred())
		return;
	set_round_trip(state);
	samples.report(state);
}

// ---- setup and registration -------------------------------------------------

// The arena (unlinked at once), the GPU handle and the two rings. Without a
// device only a small arena is made, to ask zr_gpu_open() why not; every
// benchmark then ends with that. False: g.why says what failed.
bool setup()
{
	bool device = zr_gpu_device_count() > 0;
	std::snprintf(g.name, sizeof(g.name), "zring-bench-gpu-%d", (int)getpid());
	zr_arena_config acfg;
	zr_arena_config_init(&acfg, device ? kArenaBytes : kProbeBytes);
	if (!device)
		acfg.flags |= ZR_ARENA_NO_PREFAULT;
	zr_diag d{};
	int rc = zr_arena_create(g.name, &acfg, &g.arena, &d);
	if (rc) {
		g.arena = nullptr;
		g.why = std::string("zr_arena_create(") + g.name + "): " + zr_strerror(rc) + ": " +
			d.msg;
		return false;
	}
	if ((rc = zr_arena_unlink(g.name)) != 0)
		std::fprintf(stderr, "bench_gpu: %s left in /dev/shm: %s\n", g.name,
			     zr_strerror(rc));
	zr_gpu_config cfg;
	zr_gpu_config_init(&cfg);
	cfg.sync = ZR_GPU_SYNC_SPIN;
	d = zr_diag{};
	rc = zr_gpu_open(g.arena, &cfg, &g.gpu, &d);
	if (rc == ZR_ENODEV || rc == ZR_ENOTSUP) {
		g.why = std::string("skipped: no CUDA device: ") + d.msg;
		return false;
	}
	if (rc) {
		g.why = std::string("zr_gpu_open: ") + zr_strerror(rc) + ": " + d.msg;
		return false;
	}
	zr_gpu_info_get(g.gpu, &g.info);
	if (!device) {
		g.why = "zr_gpu_device_count() said 0, yet zr_gpu_open() found a device";
		return false;
	}
	cudaError_t e = kg::preload();
	if (e != cudaSuccess) {
		g.why = std::string("the kernels cannot run on ") + g.info.name + " (sm_" +
			std::to_string(g.info.cc_major) + std::to_string(g.info.cc_minor) +
			"): " + cuda_msg(e, "cudaFuncGetAttributes");
		return false;
	}
	for (const char *name : {kInRing, kOutRing}) {
		zr_ring_config rcfg = {ZR_RING_SPSC, kRingCap, ZR_WAIT_SPIN};
		zr_ring *r = nullptr;
		if ((rc = zr_ring_create(g.arena, name, &rcfg, &r)) != 0) {
			g.why = std::string("zr_ring_create(") + name + "): " + zr_strerror(rc);
			return false;
		}
		zr_ring_close(r);
	}
	return true;
}

int teardown()
{
	int rc = 0;
	if (g.gpu && zr_gpu_close(g.gpu) != 0)
		rc = 1;
	if (g.arena && zr_arena_close(g.arena) != 0)
		rc = 1;
	return rc;
}

void register_all()
{
	const std::pair<const char *, Read> reads[] = {{"inplace", Read::kInplace},
						       {"memcpy", Read::kMemcpy},
						       {"device_resident", Read::kDeviceResident}};
	for (const auto &[name, impl] : reads)
		benchmark::RegisterBenchmark((std::string("gpu_read/impl:") + name).c_str(),
					     bm_read, impl)
			->ArgName("bytes")
			->Arg((int64_t)4 << 10)
			->Arg((int64_t)64 << 10)
			->Arg((int64_t)1 << 20)
			->Arg((int64_t)16 << 20)
			->UseManualTime();
	const std::pair<const char *, Signal> signals[] = {{"persistent", Signal::kPersistent},
							   {"proxy", Signal::kProxy},
							   {"cpu_echo", Signal::kCpuEcho}};
	for (const auto &[name, impl] : signals)
		benchmark::RegisterBenchmark((std::string("gpu_signal/impl:") + name).c_str(),
					     bm_signal, impl)
			->Iterations((benchmark::IterationCount)g.rt_iters)
			->UseRealTime();
}

void add_gpu_context()
{
	add_context("benchmark thread on cpu " + std::to_string(cpus.cpu[0]) +
		    ", echo and proxy threads on cpu " + std::to_string(cpus.cpu[1]));
	int runtime = 0, driver = 0;
	(void)cudaRuntimeGetVersion(&runtime);
	(void)cudaDriverGetVersion(&driver);
	(void)cudaGetLastError();
	benchmark::AddCustomContext("cuda_runtime", std::to_string(runtime));
	benchmark::AddCustomContext("cuda_driver", std::to_string(driver));
	benchmark::AddCustomContext("rt_iterations", std::to_string(g.rt_iters));
	benchmark::AddCustomContext("gpu_backoff_max_ns", std::to_string(ZR_GPU_BACKOFF_MAX_NS));
	if (!g.gpu) {
		benchmark::AddCustomContext("gpu", "none: " + g.why);
		return;
	}
	benchmark::AddCustomContext("gpu", std::string(g.info.name) + ", sm_" +
						   std::to_string(g.info.cc_major) +
						   std::to_string(g.info.cc_minor));
	benchmark::AddCustomContext(
		"gpu_registration",
		std::to_string(g.info.registered >> 20) + " MiB in " +
			std::to_string(g.info.pieces) + " piece(s), " +
			std::to_string(g.info.register_ns / 1000000) + " ms, " +
			(g.info.same_address ? "same addresses" : "device addresses differ"));
}

} // namespace

int main(int argc, char **argv)
{
	if (!parse_rt_iters("bench_gpu", &argc, argv, &g.rt_iters) ||
	    !start("bench_gpu", &argc, argv))
		return 1;
	if (!setup())
		std::fprintf(stderr, "bench_gpu: %s\n", g.why.c_str());
	add_gpu_context();
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return teardown();
}
