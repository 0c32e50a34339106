// bench/bench_iceoryx.cc: Eclipse iceoryx publish/subscribe round trips
// between two processes, against the cross-process floor measured in the
// same run (names: bench/README.md).
//
//   rt/impl:pingpong/size:8            one cache line each way: the floor
//   rt/impl:iceoryx/size:N             N = 64, 4096, 65536, 1048576: a chunk of N
//                                      bytes on "ping", 8 bytes back on "pong",
//                                      both sides busy-polling take()
//   wake/impl:iceoryx_waitset/size:64  the same, each side asleep in a WaitSet
//
// The protocol is zring's ("The payload round trips" in the README): the
// parent loans a chunk, writes a fresh sequence number into its first and
// last 8 bytes inside the timed window and publishes it; the child takes it,
// checks both stamps and the chunk's payload size, releases it and publishes
// the number back in an 8-byte chunk, which the parent checks. The body of
// a chunk is written once, the first time the parent is loaned that chunk:
// iceoryx hands out chunks from a pool (in this ping-pong it reloans the one
// chunk the child has just released), and untimed warm-up round trips meet
// them first, so no body is written in the timed window.
//
// Processes. iceoryx's runtime is a per-process singleton that registers
// with the RouDi daemon by name; a forked copy of an initialised runtime is
// not a runtime of its own. So the child (a Child from xproc.h, pinned to the
// second CPU) execs this program again with kChildFlag, and the new image
// initialises its own runtime under a name unique to the run. The parent's
// runtime is initialised once, on first use, and serves every benchmark.
// The Control region does not survive exec: the child says ready just
// before it, and the parent waits (at most kSetupNs) until both services are
// matched before timing. The child ends on a stop stamp, when the parent's
// publisher goes away, or with the parent (PR_SET_PDEATHSIG survives exec).
//
// RouDi. On the first iceoryx benchmark the program starts its own iox-roudi
// (the path found at configure time, else the first on PATH) with its own
// mempools (kRoudiConfig), waits for "RouDi is ready for clients" in its
// output, and stops it with SIGTERM at exit, after the parent's runtime has
// unregistered (atexit runs in reverse order; a RouDi that stops first
// SIGTERMs its registered clients). It gets SIGTERM when this program dies
// (PR_SET_PDEATHSIG) and then removes its own files; if it dies or does not
// exit cleanly, its shared memory and /tmp files are removed here and the
// iceoryx benchmarks still to run fail (without RouDi iceoryx aborts). If
// another RouDi is running (its lock is held), the iceoryx benchmarks are
// skipped and it is left alone: its mempools and its other clients would be
// measured too, and stopping it is not ours to do.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>

#include <cerrno>
#include <optional>
#include <string>

#include "xproc.h"

#ifdef ZR_HAVE_ICEORYX
#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/mepoo/chunk_header.hpp"
#include "iceoryx_posh/popo/untyped_publisher.hpp"
#include "iceoryx_posh/popo/untyped_subscriber.hpp"
#include "iceoryx_posh/popo/wait_set.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"
#include "iceoryx_versions.hpp"
#endif

#ifndef ZR_IOX_ROUDI
#define ZR_IOX_ROUDI ""
#endif

namespace
{

using namespace zr_bench;

const char kChildFlag[] = "--zr-iceoryx-child";
constexpr uint64_t kStop = UINT64_MAX; // a stamp that ends the child
constexpr int kWarmup = 64;	       // untimed round trips before each run

// Set when a round trip fails (not when a benchmark is skipped): exit 1.
bool g_failed = false;

#ifdef ZR_HAVE_ICEORYX

// ---- RouDi ------------------------------------------------------------------

// Mempool chunk sizes include iceoryx's chunk header (40 bytes), so each
// payload size gets the next pool up; 8-byte replies and 64-byte pings
// share the first. A ping-pong holds two or three chunks at a time.
const char kRoudiConfig[] = "[general]\nversion = 1\n\n[[segment]]\n\n"
			    "[[segment.mempool]]\nsize = 128\ncount = 512\n\n"
			    "[[segment.mempool]]\nsize = 8192\ncount = 64\n\n"
			    "[[segment.mempool]]\nsize = 131072\ncount = 32\n\n"
			    "[[segment.mempool]]\nsize = 2097152\ncount = 16\n";
const char kRoudiLock[] = "/tmp/iox-unique-roudi.lock";
constexpr uint64_t kRoudiStopNs = 10000000000u;

// The iox-roudi to run: the configure-time path, else the first on PATH.
std::string find_roudi()
{
	if (ZR_IOX_ROUDI[0] && access(ZR_IOX_ROUDI, X_OK) == 0)
		return ZR_IOX_ROUDI;
	const char *path = std::getenv("PATH");
	std::string dirs = path ? path : "/usr/bin:/bin";
	for (size_t at = 0; at <= dirs.size();) {
		size_t end = dirs.find(':', at);
		end = end == std::string::npos ? dirs.size() : end;
		std::string f = dirs.substr(at, end - at) + "/iox-roudi";
		if (end > at && access(f.c_str(), X_OK) == 0)
			return f;
		at = end + 1;
	}
	return "";
}

// True when a RouDi holds its lock (flock, as iceoryx's FileLock takes it).
bool roudi_lock_held()
{
	int fd = open(kRoudiLock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd); // drops the lock if we took it
	return held;
}

// An unnamed temporary file holding `text`; null on failure.
FILE *temp_with(const char *text)
{
	FILE *f = std::tmpfile();
	if (f && (std::fputs(text, f) < 0 || std::fflush(f) != 0)) {
		std::fclose(f);
		f = nullptr;
	}
	return f;
}

// Every name this program gives a runtime (and so an IPC socket and its
// lock in /tmp) is kRunPrefix<pid>[-<run>]. A run that was killed cannot
// remove them: the next run does, for each pid that no longer exists.
const char kRunPrefix[] = "zr-bench-iceoryx-";

void reap_stale_sockets()
{
	DIR *d = opendir("/tmp");
	if (!d)
		return;
	size_t len = std::strlen(kRunPrefix);
	while (dirent *e = readdir(d)) {
		if (std::strncmp(e->d_name, kRunPrefix, len) != 0)
			continue;
		long pid = std::strtol(e->d_name + len, nullptr, 10);
		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

// The RouDi this program started: one for the whole run. Its config and
// its output are unnamed temporary files, so neither can be left behind;
// RouDi reads the config as /proc/self/fd/3.
class Roudi
{
      public:
	// Null once RouDi serves; else why the iceoryx benchmarks cannot run.
	const char *start();
	// False once RouDi has died; its files are removed then.
	bool alive();
	void stop();

      private:
	bool spawn(const std::string &exe);
	bool wait_ready();
	void remove_leftovers();
	std::string log() const;
	pid_t pid_ = -1;
	bool tried_ = false;
	const char *err_ = nullptr;
	FILE *cfg_ = nullptr;
	FILE *log_ = nullptr;
};
Roudi g_roudi;

const char *Roudi::start()
{
	if (tried_)
		return err_;
	tried_ = true;
	std::string exe = find_roudi();
	if (exe.empty())
		return err_ = "skipped: iox-roudi not found";
	if (roudi_lock_held())
		return err_ = "skipped: another iox-roudi is running (not ours to measure or stop)";
	reap_stale_sockets();
	cfg_ = temp_with(kRoudiConfig);
	log_ = temp_with("");
	if (!cfg_ || !log_)
		return err_ = "cannot make temporary files for RouDi";
	std::atexit([] { g_roudi.stop(); });
	if (!spawn(exe) || !wait_ready()) {
		std::fprintf(stderr, "bench_iceoryx: iox-roudi says:\n%s\n", log().c_str());
		stop();
		return err_ = "iox-roudi did not start";
	}
	return nullptr;
}

bool Roudi::spawn(const std::string &exe)
{
	const char *argv[] = {exe.c_str(), "-c", "/proc/self/fd/3", nullptr};
	int cfg = fileno(cfg_), out = fileno(log_);
	std::fflush(nullptr);
	pid_t parent = getpid();
	pid_ = fork();
	if (pid_ == 0) {
		// SIGTERM lets RouDi remove its files when this program dies
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(1);
		if (dup2(out, 1) < 0 || dup2(out, 2) < 0 || dup2(cfg, 3) < 0)
			_exit(1);
		close_range(4, ~0u, 0);
		execv(argv[0], const_cast<char *const *>(argv));
		_exit(127);
	}
	return pid_ > 0;
}

// What RouDi has written so far (the first 4 KiB).
std::string Roudi::log() const
{
	char buf[4096];
	ssize_t n = log_ ? pread(fileno(log_), buf, sizeof(buf) - 1, 0) : -1;
	return std::string(buf, n > 0 ? (size_t)n : 0);
}

bool Roudi::wait_ready()
{
	uint64_t deadline = now_ns() + kSetupNs;
	while (now_ns() < deadline) {
		int status;
		if (waitpid(pid_, &status, WNOHANG) == pid_) {
			pid_ = -1;
			return false;
		}
		if (log().find("RouDi is ready for clients") != std::string::npos)
			return true;
		usleep(1000);
	}
	return false;
}

bool Roudi::alive()
{
	int status;
	if (pid_ <= 0 || waitpid(pid_, &status, WNOHANG) != pid_)
		return pid_ > 0;
	pid_ = -1;
	std::fprintf(stderr, "bench_iceoryx: iox-roudi died:\n%s\n", log().c_str());
	remove_leftovers();
	return false;
}

// SIGTERM, then SIGKILL after kRoudiStopNs; an unclean end leaves files
// that are ours to remove.
void Roudi::stop()
{
	int status = 0;
	bool clean = true;
	if (pid_ > 0) {
		kill(pid_, SIGTERM);
		uint64_t deadline = now_ns() + kRoudiStopNs;
		while (waitpid(pid_, &status, WNOHANG) == 0) {
			if (deadline && now_ns() > deadline) {
				std::fprintf(stderr, "bench_iceoryx: iox-roudi ignored SIGTERM\n");
				kill(pid_, SIGKILL);
				deadline = 0;
			}
			usleep(1000);
		}
		clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		pid_ = -1;
	}
	if (!clean) {
		std::fprintf(stderr, "bench_iceoryx: iox-roudi did not shut down cleanly:\n%s\n",
			     log().c_str());
		remove_leftovers();
	}
	for (FILE **f : {&cfg_, &log_})
		if (*f) {
			std::fclose(*f);
			*f = nullptr;
		}
}

// What a RouDi that did not shut down leaves behind; only when no other
// RouDi has taken the lock since.
void Roudi::remove_leftovers()
{
	if (roudi_lock_held())
		return;
	group *g = getgrgid(getegid()); // the payload segment is named after it
	std::string seg = g ? std::string("/dev/shm/") + g->gr_name : "";
	for (const char *f : {"/dev/shm/iceoryx_mgmt", "/tmp/roudi", "/tmp/roudi.lock", kRoudiLock})
		unlink(f);
	if (!seg.empty())
		unlink(seg.c_str());
}

// ---- both ends ----------------------------------------------------------------

using iox::popo::ChunkReceiveResult;
using Sub = iox::popo::UntypedSubscriber;
using Pub = iox::popo::UntypedPublisher;

iox::capro::IdString_t id_string(const std::string &s)
{
	return iox::capro::IdString_t(iox::cxx::TruncateToCapacity, s.c_str());
}

void init_runtime(const std::string &name)
{
	iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn);
	iox::runtime::PoshRuntime::initRuntime(
		iox::RuntimeName_t(iox::cxx::TruncateToCapacity, name.c_str()));
}

// One side's publisher and subscriber for a run: the services are named
// after the run, so no stale peer of an earlier run can match.
struct Link {
	Pub out;
	Sub in;
	Link(const std::string &run, const char *out_event, const char *in_event)
	    : out({id_string("zr-bench"), id_string(out_event), id_string(run)}),
	      in({id_string("zr-bench"), id_string(in_event), id_string(run)})
	{
	}
};

enum class Got { chunk, none, error };

Got take(Sub &in, const void **p)
{
	auto r = in.take();
	if (!r.has_error()) {
		*p = r.value();
		return Got::chunk;
	}
	return r.get_error() == ChunkReceiveResult::NO_CHUNK_AVAILABLE ? Got::none : Got::error;
}

uint32_t payload_size(const void *p)
{
	return iox::mepoo::ChunkHeader::fromUserPayload(p)->userPayloadSize();
}

// The chunks whose body has been written: each is written once, the first
// time it is loaned.
class Bodies
{
      public:
	void fill_once(char *p, size_t n)
	{
		for (const void *q : seen_)
			if (q == p)
				return;
		if (seen_.size() < 64)
			seen_.push_back(p);
		std::memset(p, 'z', n);
	}

      private:
	std::vector<const void *> seen_;
};

// Loan n bytes, stamp the first and last 8 with `seq`, publish.
bool send(Pub &out, size_t n, uint64_t seq, Bodies *bodies)
{
	auto r = out.loan((uint32_t)n);
	if (r.has_error()) {
		std::fprintf(stderr, "bench_iceoryx: loan of %zu bytes failed (%d)\n", n,
			     (int)r.get_error());
		return false;
	}
	char *p = static_cast<char *>(r.value());
	if (bodies)
		bodies->fill_once(p, n);
	std::memcpy(p, &seq, 8);
	std::memcpy(p + n - 8, &seq, 8);
	out.publish(p);
	return true;
}

// ---- the child ------------------------------------------------------------------

using WaitSet = iox::popo::WaitSet<>;
constexpr auto kWaitSlice = iox::units::Duration::fromMilliseconds(10);

// Check ping number `seq` of n bytes at p and answer it; 1 on a stop
// stamp, -1 on a wrong chunk or a failed answer.
int answer(Link &l, const void *p, size_t n, uint64_t seq)
{
	uint64_t head, tail;
	std::memcpy(&head, p, 8);
	std::memcpy(&tail, static_cast<const char *>(p) + n - 8, 8);
	uint32_t len = payload_size(p);
	l.in.release(p);
	if (head == kStop)
		return 1;
	if (len != n || head != seq || tail != seq) {
		std::fprintf(
			stderr,
			"bench_iceoryx child: chunk %u bytes, stamps %llu %llu; want %zu, %llu\n",
			len, (unsigned long long)head, (unsigned long long)tail, n,
			(unsigned long long)seq);
		return -1;
	}
	return send(l.out, 8, seq, nullptr) ? 0 : -1;
}

// Serve pings until a stop stamp, or until the parent's publisher goes (or
// never comes: a parent that gave up before the services matched).
int serve(Link &l, size_t n, WaitSet *ws)
{
	bool subscribed = false;
	unsigned spins = 0;
	uint64_t deadline = now_ns() + kSetupNs;
	for (uint64_t seq = 1;;) {
		const void *p;
		Got g = take(l.in, &p);
		if (g == Got::error)
			return 1;
		if (g == Got::chunk) {
			int rc = answer(l, p, n, seq++);
			if (rc)
				return rc < 0;
			continue;
		}
		if (ws ? !ws->timedWait(kWaitSlice).empty() : !relax(&spins))
			continue;
		// a moment to look around: has the parent's publisher gone?
		bool sub = l.in.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED;
		if (subscribed && !sub)
			return 0;
		if (!subscribed && !sub && now_ns() > deadline)
			return 1;
		subscribed = subscribed || sub;
	}
}

// The exec'd child: argv is kChildFlag, runtime name, run, size, mode.
int child_main(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	init_runtime(argv[2]);
	Link l(argv[3], "pong", "ping");
	size_t n = std::strtoull(argv[4], nullptr, 10);
	if (std::strcmp(argv[5], "waitset") != 0)
		return serve(l, n, nullptr);
	WaitSet ws;
	if (ws.attachState(l.in, iox::popo::SubscriberState::HAS_DATA).has_error())
		return 1;
	return serve(l, n, &ws);
}

// ---- the parent -------------------------------------------------------------------

// RouDi and this process's runtime, once for the run. Called before the
// benchmark thread pins itself: RouDi and the runtime's threads inherit the
// caller's CPU mask. Without RouDi, making a publisher would abort.
const char *iceoryx_up()
{
	static bool up = false;
	if (up)
		return g_roudi.alive() ? nullptr : "iox-roudi died";
	if (const char *why = g_roudi.start())
		return why;
	init_runtime(kRunPrefix + std::to_string(getpid()));
	up = true;
	return nullptr;
}

// In the forked child: say ready (the Control region is gone after exec),
// then become the iceoryx child.
int exec_child(Control *ctl, char *const *argv)
{
	// release: nothing to publish but readiness; what the child needs is in argv
	ctl->ready.store(1, std::memory_order_release);
	close_range(3, ~0u, 0); // the parent's iceoryx descriptors are not the child's
	execv("/proc/self/exe", argv);
	std::fprintf(stderr, "bench_iceoryx: exec of the child failed: %s\n", strerror(errno));
	return 1;
}

// Both services matched: the child subscribed to ping and offers pong.
bool matched(Link &l, Child &child)
{
	uint64_t deadline = now_ns() + kSetupNs;
	while (!l.out.hasSubscribers() ||
	       l.in.getSubscriptionState() != iox::SubscribeState::SUBSCRIBED) {
		if (child.gone() || now_ns() > deadline)
			return false;
		usleep(1000);
	}
	return true;
}

// Wait for the child's answer: busy-polling, or asleep in `ws`.
bool receive(Link &l, Child &child, WaitSet *ws, const void **p)
{
	Got g;
	if (!ws)
		return spin_until(child, [&] { return (g = take(l.in, p)) != Got::none; }) &&
		       g == Got::chunk;
	while ((g = take(l.in, p)) == Got::none)
		if (ws->timedWait(kWaitSlice).empty() && child.gone())
			return false;
	return g == Got::chunk;
}

// Removes a child's IPC socket and its lock, which a killed child leaves
// in /tmp; the names are this run's own.
struct SocketGuard {
	std::string path;
	~SocketGuard()
	{
		unlink(path.c_str());
		unlink((path + ".lock").c_str());
	}
};

// A round trip or its setup did not work: unlike a skip, the program fails.
void fail(benchmark::State &state, const char *why)
{
	state.SkipWithError(why);
	g_failed = true;
}

void bm_iceoryx(benchmark::State &state, size_t n, bool sleep)
{
	static unsigned runs = 0;
	if (const char *why = iceoryx_up())
		return std::strncmp(why, "skipped:", 8) ? fail(state, why)
							: state.SkipWithError(why);
	Pin pin(0);
	std::string run = std::to_string(getpid()) + "-" + std::to_string(runs++);
	std::string name = kRunPrefix + run, size = std::to_string(n);
	SocketGuard socket{"/tmp/" + name};
	char *argv[] = {const_cast<char *>("bench_iceoryx"),
			const_cast<char *>(kChildFlag),
			name.data(),
			run.data(),
			size.data(),
			const_cast<char *>(sleep ? "waitset" : "spin"),
			nullptr};
	Child child(0, [&](Control *ctl, void *) { return exec_child(ctl, argv); });
	Link l(run, "ping", "pong");
	std::optional<WaitSet> ws;
	if (sleep)
		ws.emplace();
	if (ws && ws->attachState(l.in, iox::popo::SubscriberState::HAS_DATA).has_error())
		return fail(state, "WaitSet::attachState failed");
	if (!child.error() && !matched(l, child))
		return fail(state, child.gone() ? "child process failed"
						: "iceoryx services did not match");
	Bodies bodies;
	uint64_t seq = 0;
	auto one = [&] {
		const void *p;
		if (!send(l.out, n, ++seq, &bodies) || !receive(l, child, ws ? &*ws : nullptr, &p))
			return false;
		uint64_t back;
		std::memcpy(&back, p, 8);
		bool ok = back == seq && payload_size(p) == 8;
		l.in.release(p);
		return ok;
	};
	for (int i = 0; i < kWarmup && !child.error(); i++)
		if (!one())
			return fail(state, "warm-up round trip failed");
	timed_round_trips(state, child, n, one); // bytes/s as bench_bounds gives its rt sizes
	g_failed = g_failed || state.error_occurred();
	(void)send(l.out, n, kStop, &bodies);
}

#else // !ZR_HAVE_ICEORYX

void bm_iceoryx(benchmark::State &state, size_t, bool)
{
	state.SkipWithError("skipped: libiceoryx-posh-dev not installed");
}

#endif

// ---- registration ---------------------------------------------------------------

void register_all()
{
	benchmark::RegisterBenchmark("rt/impl:pingpong/size:8", bm_xproc_pingpong)
		->Iterations(rt_iterations(1000000))
		->UseRealTime();
	// A zero-copy round trip does not grow with the size (~2 us here): the
	// bigger sizes get half as many only to keep the whole run short.
	struct {
		size_t size;
		int64_t iters;
	} rts[] = {{64, 1000000}, {4096, 500000}, {65536, 500000}, {1 << 20, 500000}};
	for (auto &r : rts)
		benchmark::RegisterBenchmark(
			("rt/impl:iceoryx/size:" + std::to_string(r.size)).c_str(), bm_iceoryx,
			r.size, false)
			->Iterations(rt_iterations(r.iters))
			->UseRealTime();
	// a sleeping round trip costs tens of microseconds on the VM
	benchmark::RegisterBenchmark("wake/impl:iceoryx_waitset/size:64", bm_iceoryx, 64, true)
		->Iterations(rt_iterations(20000))
		->UseRealTime();
}

void add_iceoryx_context()
{
	add_context("parent on cpu " + std::to_string(cpus.cpu[0]) + ", child process on cpu " +
		    std::to_string(cpus.cpu[1]));
#ifdef ZR_HAVE_ICEORYX
	benchmark::AddCustomContext("iceoryx_version", ICEORYX_LATEST_RELEASE_VERSION);
	std::string roudi = find_roudi();
	benchmark::AddCustomContext("iox_roudi", roudi.empty() ? "not found" : roudi);
#else
	benchmark::AddCustomContext("iceoryx_version", "not installed");
#endif
}

} // namespace

int main(int argc, char **argv)
{
#ifdef ZR_HAVE_ICEORYX
	if (argc > 1 && std::strcmp(argv[1], kChildFlag) == 0)
		return child_main(argc, argv);
#endif
	if (!start("bench_iceoryx", &argc, argv))
		return 1;
	add_iceoryx_context();
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return g_failed ? 1 : 0;
}
