// bench/bench_bounds.cc: the bounds zring is measured against, in the same
// run as everything else (names: bench/README.md).
//
//   rt/impl:pingpong/size:8           one cache line each way: the physical floor
//   wake/impl:futex_pingpong          the same, each side asleep on a futex
//   copy/impl:memcpy/size:N           one memcpy of N bytes, warm buffers
//   rt/impl:pipe/size:N               N bytes down a pipe, 8 back; blocking reads
//   rt/impl:pipe_spin/size:N          the same with non-blocking reads polled
//   rt/impl:unix_socket/size:N        the same on an AF_UNIX stream socketpair
//   rt/impl:unix_socket_spin/size:N
//   stream/impl:pipe/size:N           one-way messages of N bytes, blocking
//   stream/impl:unix_socket/size:N
//
// In a round trip the sender writes a fresh stamp into the first and last
// 8 bytes of its buffer inside the timed window; the receiver reads every
// byte (a copying transport has to) and checks both stamps. In a stream the
// sender writes each message in full and the receiver checks every line.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>
#include <memory>

#include "xproc.h"

namespace
{

using namespace zr_bench;

constexpr size_t kSizes[] = {64, 4096, 65536, 1 << 20};
constexpr size_t kMaxSize = 1 << 20;

// ---- memcpy -----------------------------------------------------------------

void bm_memcpy(benchmark::State &state)
{
	size_t n = (size_t)state.range(0);
	std::vector<char> src(n, 'z'), dst(n);
	for (auto _ : state) {
		std::memcpy(dst.data(), src.data(), n);
		benchmark::ClobberMemory();
	}
	state.SetBytesProcessed((int64_t)(state.iterations() * n));
}

// ---- futex ping-pong ----------------------------------------------------------

long futex(std::atomic<uint32_t> *w, int op, uint32_t val)
{
	return syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), op, val, nullptr, nullptr, 0);
}

// Sleep while *w == old; `give_up()` is asked every 10 ms.
template <class GiveUp>
bool futex_wait_change(std::atomic<uint32_t> *w, uint32_t old, GiveUp give_up)
{
	timespec slice = {0, 10000000};
	// acquire: the value the other side stored before waking us
	while (w->load(std::memory_order_acquire) == old) {
		syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), FUTEX_WAIT, old, &slice,
			nullptr, 0);
		if (give_up())
			return false;
	}
	return true;
}

struct FutexLines {
	alignas(64) std::atomic<uint32_t> ping{0};
	alignas(64) std::atomic<uint32_t> pong{0};
};

// Each side sleeps at once (no spin), so every round trip is two wake-ups:
// what a blocking transport pays at the least.
void bm_futex_pingpong(benchmark::State &state)
{
	Pin pin(0);
	Child child(sizeof(FutexLines), [](Control *ctl, void *shared) {
		auto *l = new (shared) FutexLines();
		// release: the constructed lines are visible before ready
		ctl->ready.store(1, std::memory_order_release);
		// relaxed: stop is a flag, no data hangs on it
		auto stop = [ctl] { return ctl->stop.load(std::memory_order_relaxed) != 0; };
		for (uint32_t i = 0;; i++) {
			if (!futex_wait_change(&l->ping, i, stop))
				return 0;
			// release: pairs with the parent's acquire in futex_wait_change
			l->pong.store(i + 1, std::memory_order_release);
			futex(&l->pong, FUTEX_WAKE, 1);
		}
	});
	auto *l = static_cast<FutexLines *>(child.shared());
	uint32_t i = 0;
	timed_round_trips(state, child, 0, [&] {
		// release: pairs with the child's acquire in futex_wait_change
		l->ping.store(++i, std::memory_order_release);
		futex(&l->ping, FUTEX_WAKE, 1);
		return futex_wait_change(&l->pong, i - 1, [&] { return child.gone(); });
	});
}

// ---- pipes and sockets ------------------------------------------------------------

enum class Pipe { pipe, socket };

struct Fds {
	int down[2] = {-1, -1}; // parent -> child: [0] read end, [1] write end
	int up[2] = {-1, -1};	// child -> parent
	~Fds()
	{
		for (int fd : {down[0], down[1], up[0], up[1]})
			if (fd >= 0)
				close(fd);
	}
};

bool open_fds(Pipe kind, Fds *f)
{
	if (kind == Pipe::pipe) {
		if (pipe(f->down) || pipe(f->up))
			return false;
		// as generous as the system allows (1 MiB by default): fewer wake-ups
		(void)fcntl(f->down[1], F_SETPIPE_SZ, (int)kMaxSize);
		return true;
	}
	int a[2], b[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, a))
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, b)) {
		close(a[0]);
		close(a[1]);
		return false;
	}
	int big = (int)kMaxSize;
	for (int fd : {a[0], a[1]}) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	f->down[0] = a[0];
	f->down[1] = a[1];
	f->up[0] = b[0];
	f->up[1] = b[1];
	return true;
}

void set_nonblocking(int fd)
{
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// Move exactly n bytes; a non-blocking end is polled. False on EOF, an
// error, or (when `ctl` is given) a stop request while waiting.
bool read_all(int fd, char *p, size_t n, Control *ctl)
{
	for (unsigned spins = 0; n;) {
		ssize_t k = read(fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			// relaxed: a hint, looked at now and then
			if (relax(&spins) && ctl && ctl->stop.load(std::memory_order_relaxed))
				return false;
		} else {
			return false;
		}
	}
	return true;
}

bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			continue;
		} else {
			return false;
		}
	}
	return true;
}

// The child's side of a round trip: read n bytes, check, answer 8, until
// the parent closes its end (or asks to stop, when polling).
int echo_child(const Fds &f, size_t n, bool spin, Control *ctl)
{
	std::vector<char> buf(n);
	close(f.down[1]); // else the child's own copy would keep EOF away
	close(f.up[0]);
	if (spin)
		set_nonblocking(f.down[0]);
	// release: nothing to publish but readiness; the fds came by fork
	ctl->ready.store(1, std::memory_order_release);
	for (uint64_t seq = 1;; seq++) {
		if (!read_all(f.down[0], buf.data(), n, ctl))
			return 0; // EOF or stop: the parent is done
		if (!stamped(buf.data(), n, seq) || !write_all(f.up[1], (char *)&seq, 8))
			return 1;
	}
}

// Blocking reads end when the parent closes its ends: the Fds destructor
// runs before the Child's, which then reaps a child that saw EOF.
void bm_pipe_rt(benchmark::State &state, Pipe kind, bool spin)
{
	size_t n = (size_t)state.range(0);
	Pin pin(0);
	auto f = std::make_unique<Fds>();
	if (!open_fds(kind, f.get())) {
		state.SkipWithError("pipe or socketpair failed");
		return;
	}
	Child child(0, [&](Control *ctl, void *) { return echo_child(*f, n, spin, ctl); });
	if (spin)
		set_nonblocking(f->up[0]);
	std::vector<char> buf(n, 'z');
	uint64_t seq = 0, back = 0;
	timed_round_trips(state, child, n, [&] {
		stamp(buf.data(), n, ++seq);
		return write_all(f->down[1], buf.data(), n) &&
		       read_all(f->up[0], (char *)&back, 8, nullptr) && back == seq;
	});
	f.reset(); // EOF for a child blocked in read
}

// One-way stream: each message written in full; the child reads and checks
// them until EOF and counts them; the run ends when it has read all that was written.
void bm_pipe_stream(benchmark::State &state, Pipe kind)
{
	size_t n = (size_t)state.range(0);
	Pin pin(0);
	Fds f;
	if (!open_fds(kind, &f)) {
		state.SkipWithError("pipe or socketpair failed");
		return;
	}
	Child child(0, [&](Control *ctl, void *) {
		std::vector<char> buf(n);
		close(f.down[1]);
		close(f.up[0]);
		// release: readiness only
		ctl->ready.store(1, std::memory_order_release);
		for (uint64_t seq = 1; read_all(f.down[0], buf.data(), n, nullptr); seq++) {
			if (!filled(buf.data(), n, seq))
				return 1;
			// relaxed: the parent reads the count after the child exits
			ctl->value.store((uint32_t)seq, std::memory_order_relaxed);
		}
		return 0;
	});
	if (child.error()) {
		state.SkipWithError(child.error());
		return;
	}
	std::vector<char> buf(n, 'z');
	uint64_t seq = 0;
	for (auto _ : state) {
		fill(buf.data(), n, ++seq);
		if (!write_all(f.down[1], buf.data(), n)) {
			state.SkipWithError("write failed");
			return;
		}
	}
	close(f.down[1]);
	f.down[1] = -1;
	// the stream is done when the child has read it all and exited
	while (!child.gone())
		usleep(50);
	// relaxed: the child has exited; waitpid ordered its stores
	if ((uint64_t)child.ctl()->value.load(std::memory_order_relaxed) != (uint32_t)seq ||
	    child.ctl()->failed.load(std::memory_order_relaxed)) {
		state.SkipWithError("the reader did not get every message intact");
		return;
	}
	state.SetItemsProcessed((int64_t)state.iterations());
	state.SetBytesProcessed((int64_t)(state.iterations() * n));
}

// ---- registration -------------------------------------------------------------

// Round trips per size: ~1e6 for a floor of ~200 ns; the kernel transports
// cost 5-50 us, and big payloads more, so they get fewer.
int64_t pipe_iters(size_t size, bool spin)
{
	int64_t n = spin ? 200000 : 50000;
	if (size >= 65536)
		n /= 5;
	if (size >= (1 << 20))
		n /= 10;
	return rt_iterations(n);
}

void register_all()
{
	benchmark::RegisterBenchmark("rt/impl:pingpong/size:8", bm_xproc_pingpong)
		->Iterations(rt_iterations(1000000))
		->UseRealTime();
	benchmark::RegisterBenchmark("wake/impl:futex_pingpong", bm_futex_pingpong)
		->Iterations(rt_iterations(50000))
		->UseRealTime();
	for (size_t s : kSizes)
		benchmark::RegisterBenchmark("copy/impl:memcpy", bm_memcpy)
			->ArgName("size")
			->Arg((int64_t)s);
	struct {
		const char *name;
		Pipe kind;
		bool spin;
	} rts[] = {{"pipe", Pipe::pipe, false},
		   {"pipe_spin", Pipe::pipe, true},
		   {"unix_socket", Pipe::socket, false},
		   {"unix_socket_spin", Pipe::socket, true}};
	for (auto &r : rts)
		for (size_t s : kSizes)
			benchmark::RegisterBenchmark((std::string("rt/impl:") + r.name).c_str(),
						     bm_pipe_rt, r.kind, r.spin)
				->ArgName("size")
				->Arg((int64_t)s)
				->Iterations(pipe_iters(s, r.spin))
				->UseRealTime();
	for (Pipe k : {Pipe::pipe, Pipe::socket})
		for (size_t s : kSizes)
			benchmark::RegisterBenchmark(k == Pipe::pipe ? "stream/impl:pipe"
								     : "stream/impl:unix_socket",
						     bm_pipe_stream, k)
				->ArgName("size")
				->Arg((int64_t)s)
				->UseRealTime();
}

} // namespace

int main(int argc, char **argv)
{
	if (!start("bench_bounds", &argc, argv))
		return 1;
	add_context("parent on cpu " + std::to_string(cpus.cpu[0]) + ", child process on cpu " +
		    std::to_string(cpus.cpu[1]));
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
