// bench/bench_persist.cc: the journal, checkpoints and restore, each against
// baselines measured in the same run on the same disk. Names: bench/README.md.
//
// Everything is written under one scratch directory on the real disk:
// $ZR_BENCH_DIR, else <build>/bench-scratch (never /tmp, which may be
// tmpfs); its filesystem is recorded in the context and the directory is
// removed at the end.
//
//   disk_write/impl:pwrite_seq           1 MiB pwrites into a preallocated file,
//                                        fdatasync at the end (bytes/s)
//   disk_sync/impl:pwrite_fdatasync/batch:N   N appends of 150 B, then fdatasync
//                                        (appends/s, syncs/s): what the disk gives
//                                        batched appends
//   journal/impl:<no_journal|none|async|sync>/threads:T   T threads, each with its
//                                        own agent: submit (64 B) -> claim ->
//                                        complete -> release; events/s from the
//                                        journal's record count (4 per job)
//   ckpt/impl:zring_full/level:L/threads:T   zr_checkpoint FULL of a 64 MiB arena
//                                        of mixed payloads (image bytes/s)
//   ckpt/impl:zstd_mem/level:L           ZSTD_compressCCtx of the same image, chunk
//                                        by chunk, one thread, in memory
//   ckpt/impl:zring_incremental/changed:J    an INCREMENTAL after rewriting J payloads
//   ckpt_ratio/impl:zring_full/payload:K    compression ratio of an arena of one kind
//   restore/impl:zring/cache:C           zr_restore of the level-3 FULL checkpoint
//                                        (image bytes/s), chunk files cold or warm
//   restore/impl:zstd_mem_decompress     ZSTD_decompressDCtx of the same chunks
//   restore/impl:disk_read/cache:C       reading the chunk files back
//
// Refuses to measure in a Debug or sanitized build; listing and the smoke
// run (--benchmark_min_time of 0.01 s or less) are allowed everywhere.
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <zstd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "zring/persist.h"

#ifndef ZR_BENCH_SCRATCH
#define ZR_BENCH_SCRATCH "bench-scratch"
#endif

namespace
{

using namespace zr_bench;
using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = (size_t)1 << 20;
constexpr size_t kArenaBytes = 64 * kMiB;
constexpr size_t kSeqFile = 128 * kMiB; // disk_write: bytes per iteration
constexpr size_t kRecord = 150;		// disk_sync: one append
constexpr size_t kJobPayload = 64;	// journal: one job's payload
constexpr uint32_t kChunk = 1u << 20;	// zr_ckpt_config's default chunk_bytes

enum Kind { kZeros = 0, kText = 1, kRandom = 2, kMixed = 3 };
const char *const kKindName[] = {"zeros", "text", "random", "mixed"};

struct Globals {
	std::string dir; // scratch root, removed at the end
	unsigned seq = 0;
	double disk_write_bps = 0; // from disk_write, or measured on first need
	zr_arena *mixed = nullptr; // the checkpointed arena (its name removed at once)
	uint64_t mixed_payload = 0;
	std::string restore_ckpt; // a level-3 FULL checkpoint of `mixed`
	uint64_t restore_stored = 0;
	bool drop_ok = false;
} g;

std::string fresh_dir(const char *what)
{
	std::string d = g.dir + "/" + what + "-" + std::to_string(++g.seq);
	if (mkdir(d.c_str(), 0700) != 0)
		std::fprintf(stderr, "bench_persist: mkdir %s: %s\n", d.c_str(),
			     std::strerror(errno));
	return d;
}

int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
	return remove(path);
}

void rm_rf(const std::string &path)
{
	if (!path.empty())
		nftw(path.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

// Drop the page cache (root only; system-wide). False: reads come from it.
bool drop_caches()
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = write(fd, "3\n", 2) == 2;
	close(fd);
	return ok;
}

double secs(Clock::time_point a, Clock::time_point b)
{
	return std::chrono::duration<double>(b - a).count();
}

// ---- payload kinds ---------------------------------------------------------------

uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

const char *const kWords[] = {
	"job",	     "submit", "claim", "complete", "agent",	 "payload", "arena", "ring",
	"status",    "error",  "retry", "lease",    "priority",	 "worker",  "the",   "a",
	"of",	     "to",     "and",	"value",    "timestamp", "request", "id",    "user",
	"session",   "GET",    "POST",	"200",	    "404",	 "json",    "true",  "false",
	"\"name\":", "{",      "}",	"[",	    "]",	 ",",	    "\n",    "ok",
};

void fill_kind(uint8_t *p, size_t n, int kind, uint64_t *rng)
{
	if (kind == kZeros) {
		std::memset(p, 0, n);
	} else if (kind == kRandom) {
		size_t i = 0;
		for (; i + 8 <= n; i += 8) {
			uint64_t v = xorshift(rng);
			std::memcpy(p + i, &v, 8);
		}
		for (; i < n; i++)
			p[i] = (uint8_t)xorshift(rng);
	} else { // text: words of a small vocabulary, numbers now and then
		size_t i = 0;
		constexpr size_t nw = sizeof(kWords) / sizeof(kWords[0]);
		while (i < n) {
			uint64_t r = xorshift(rng);
			char num[24];
			const char *w = kWords[r % nw];
			if ((r >> 8) % 8 == 0) {
				std::snprintf(num, sizeof(num), "%u", (unsigned)(r >> 16) % 100000);
				w = num;
			}
			for (; *w && i < n; w++)
				p[i++] = (uint8_t)*w;
			if (i < n)
				p[i++] = ' ';
		}
	}
}

// ---- arenas ----------------------------------------------------------------------

// A 64 MiB arena, journaled to `jc` when given; its name is removed at once.
zr_arena *new_arena(const char *prefix, const zr_journal_config *jc)
{
	char name[64];
	std::snprintf(name, sizeof(name), "zring-bench-%s-%d-%u", prefix, (int)getpid(), ++g.seq);
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, kArenaBytes);
	cfg.journal = jc;
	zr_arena *a = nullptr;
	zr_diag d{};
	int rc = zr_arena_create(name, &cfg, &a, &d);
	if (rc) {
		std::fprintf(stderr, "zr_arena_create(%s): %s: %s\n", name, zr_strerror(rc), d.msg);
		return nullptr;
	}
	if (zr_arena_unlink(name) != 0)
		std::fprintf(stderr, "bench_persist: zr_arena_unlink(%s) failed\n", name);
	return a;
}

void close_arena(zr_arena *a)
{
	if (!a)
		return;
	zr_slab_cache_flush(a);
	if (zr_arena_close(a) != 0)
		std::fprintf(stderr, "bench_persist: zr_arena_close failed\n");
}

zr_agent *new_agent(zr_arena *a, const char *name)
{
	zr_agent *ag = nullptr;
	if (!a || zr_agent_register(a, name, nullptr, &ag) != 0)
		return nullptr;
	return ag;
}

// Submit one job of `n` bytes (written by `fill`) to the agent's own inbox.
template <class Fill> int submit_own(zr_agent *ag, size_t n, Fill fill, zr_job_id *id)
{
	zr_arena *a = zr_agent_arena(ag);
	zr_job_builder b;
	zr_job_builder_init(&b, ZR_JOB_COMPUTE);
	b.target = zr_agent_id(ag);
	int rc = zr_payload_alloc(a, n, &b.payload);
	if (rc)
		return rc;
	fill((uint8_t *)zr_payload_ptr(a, b.payload), n);
	b.payload_len = n;
	rc = zr_job_submit(ag, &b, id, nullptr);
	if (rc && zr_payload_free(a, b.payload) != 0)
		std::fprintf(stderr, "bench_persist: payload of a refused job not freed\n");
	return rc;
}

// Claim the job just submitted and complete it (no result).
int claim_complete(zr_agent *ag)
{
	zr_claim c;
	int rc = zr_job_claim(ag, &c);
	if (rc != 1)
		return rc ? rc : -EAGAIN;
	return zr_job_complete(ag, &c, ZR_PAYLOAD_NULL, 0);
}

// An arena loaded with COMPLETED jobs of one payload kind or (kMixed) the
// three in turn, payloads of 128 KiB (the page heap) and 8 and 2 KiB (size
// classes), until every size is refused. *payload: the payload bytes loaded.
zr_arena *loaded_arena(int kind, uint64_t *payload, std::vector<zr_job_id> *ids = nullptr)
{
	static const size_t sizes[] = {128 << 10, 8 << 10, 2 << 10};
	zr_arena *a = new_arena(kKindName[kind], nullptr);
	zr_agent *ag = new_agent(a, "loader");
	if (!ag) {
		close_arena(a);
		return nullptr;
	}
	uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)kind;
	bool full[3] = {false, false, false};
	*payload = 0;
	for (uint64_t i = 0; !(full[0] && full[1] && full[2]); i++) {
		size_t si = i % 3;
		if (full[si])
			continue;
		int k = kind == kMixed ? (int)((i / 3) % 3) : kind;
		zr_job_id id;
		int rc = submit_own(
			ag, sizes[si], [&](uint8_t *p, size_t n) { fill_kind(p, n, k, &rng); },
			&id);
		rc = rc ? rc : claim_complete(ag);
		if (rc) {
			full[si] = true; // this size is refused: the others go on
			continue;
		}
		if (ids)
			ids->push_back(id);
		*payload += sizes[si];
	}
	zr_agent_unregister(ag);
	return a;
}

// ---- 1. the disk -------------------------------------------------------------------

int prealloc_file(const std::string &path, size_t bytes)
{
	int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (posix_fallocate(fd, 0, (off_t)bytes) != 0 || fdatasync(fd) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

// Write `bytes` in 1 MiB pwrites into a fresh preallocated file, fdatasync.
// Returns seconds, < 0 on failure.
double seq_write(const std::string &dir, size_t bytes)
{
	std::string path = dir + "/seq.dat";
	int fd = prealloc_file(path, bytes);
	if (fd < 0)
		return -1;
	std::vector<uint8_t> buf(kMiB);
	uint64_t rng = 7;
	fill_kind(buf.data(), buf.size(), kRandom, &rng);
	auto t0 = Clock::now();
	bool ok = true;
	for (size_t off = 0; ok && off < bytes; off += kMiB)
		ok = pwrite(fd, buf.data(), kMiB, (off_t)off) == (ssize_t)kMiB;
	ok = ok && fdatasync(fd) == 0;
	auto t1 = Clock::now();
	close(fd);
	unlink(path.c_str());
	return ok ? secs(t0, t1) : -1;
}

double disk_write_bps()
{
	if (g.disk_write_bps == 0) {
		std::string d = fresh_dir("seq");
		double s = seq_write(d, kSeqFile);
		rm_rf(d);
		if (s > 0)
			g.disk_write_bps = (double)kSeqFile / s;
	}
	return g.disk_write_bps;
}

void bm_disk_write(benchmark::State &state)
{
	std::string d = fresh_dir("seq");
	double total = 0;
	for (auto _ : state) {
		double s = seq_write(d, kSeqFile);
		if (s < 0) {
			state.SkipWithError("sequential write failed");
			break;
		}
		state.SetIterationTime(s);
		total += s;
	}
	rm_rf(d);
	if (total > 0)
		g.disk_write_bps = (double)(state.iterations() * kSeqFile) / total;
	state.SetBytesProcessed((int64_t)(state.iterations() * kSeqFile));
}

void bm_disk_sync(benchmark::State &state)
{
	size_t batch = (size_t)state.range(0);
	constexpr size_t kFile = 64 * kMiB;
	std::string d = fresh_dir("sync");
	int fd = prealloc_file(d + "/log.dat", kFile);
	if (fd < 0) {
		state.SkipWithError("cannot make the log file");
		rm_rf(d);
		return;
	}
	uint8_t rec[kRecord];
	uint64_t rng = 11;
	fill_kind(rec, sizeof(rec), kRandom, &rng);
	size_t off = 0;
	for (auto _ : state) {
		bool ok = true;
		for (size_t i = 0; i < batch && ok; i++) {
			if (off + kRecord > kFile)
				off = 0;
			ok = pwrite(fd, rec, kRecord, (off_t)off) == (ssize_t)kRecord;
			off += kRecord;
		}
		if (!ok || fdatasync(fd) != 0) {
			state.SkipWithError("append or fdatasync failed");
			break;
		}
	}
	close(fd);
	rm_rf(d);
	using C = benchmark::Counter;
	state.SetItemsProcessed((int64_t)(state.iterations() * batch));
	state.counters["appends_per_second"] = C((double)(state.iterations() * batch), C::kIsRate);
	state.counters["syncs_per_second"] = C((double)state.iterations(), C::kIsRate);
}

// ---- 2. the journal ----------------------------------------------------------------

constexpr uint32_t kNoJournal = 99;
constexpr uint64_t kEventsPerJob = 4; // submit, claim, complete, release

// T threads, each with an agent of its own, run `jobs` cycles each per
// iteration (submit 64 B to its own inbox, claim, complete, release); the
// iteration ends once the journal holds them all (zr_journal_flush).
void bm_journal(benchmark::State &state, uint32_t durability)
{
	unsigned threads = (unsigned)state.range(0);
	uint64_t jobs = durability == ZR_DURABILITY_SYNC ? 400 / threads + 25 : 40000 / threads;
	std::string d = durability == kNoJournal ? std::string() : fresh_dir("journal");
	zr_journal_config jc;
	zr_journal_config_init(&jc, d.c_str());
	if (durability != kNoJournal)
		jc.durability = durability;
	zr_arena *a = new_arena("journal", durability == kNoJournal ? nullptr : &jc);
	std::vector<zr_agent *> ags;
	for (unsigned t = 0; a && t < threads; t++) {
		char name[32];
		std::snprintf(name, sizeof(name), "cycle-%u", t);
		ags.push_back(new_agent(a, name));
	}
	bool setup = a && ags.size() == threads;
	for (zr_agent *ag : ags)
		setup = setup && ag;
	if (!setup) {
		state.SkipWithError("arena or agent setup failed");
		for (zr_agent *ag : ags)
			zr_agent_unregister(ag);
		close_arena(a);
		rm_rf(d);
		return;
	}
	zr_journal_stats s0, s1;
	zr_journal_stat(a, &s0);
	std::atomic<int> err{0};
	uint64_t done = 0;
	for (auto _ : state) {
		auto t0 = Clock::now();
		std::vector<std::thread> ts;
		for (unsigned t = 0; t < threads; t++)
			ts.emplace_back([&, t] {
				zr_agent *ag = ags[t];
				for (uint64_t i = 0; i < jobs; i++) {
					zr_job_id id;
					int rc = submit_own(
						ag, kJobPayload,
						[i](uint8_t *p, size_t n) {
							std::memset(p, (int)i, n);
						},
						&id);
					rc = rc ? rc : claim_complete(ag);
					rc = rc ? rc : zr_job_release(a, id);
					if (rc) {
						// relaxed: the first error, read after the join
						err.store(rc, std::memory_order_relaxed);
						return;
					}
				}
			});
		for (auto &t : ts)
			t.join();
		int rc = durability == kNoJournal ? 0 : zr_journal_flush(a, -1);
		state.SetIterationTime(secs(t0, Clock::now()));
		// relaxed: the threads were joined
		rc = rc ? rc : err.load(std::memory_order_relaxed);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		done += jobs * threads;
	}
	zr_journal_stat(a, &s1);
	for (zr_agent *ag : ags)
		zr_agent_unregister(ag);
	using C = benchmark::Counter;
	double events = durability == kNoJournal ? (double)(done * kEventsPerJob)
						 : (double)(s1.records - s0.records);
	state.SetItemsProcessed((int64_t)events);
	state.counters["events_per_second"] = C(events, C::kIsRate);
	state.counters["jobs_per_second"] = C((double)done, C::kIsRate);
	if (durability != kNoJournal) {
		double syncs = (double)(s1.syncs - s0.syncs);
		state.counters["syncs_per_second"] = C(syncs, C::kIsRate);
		state.counters["events_per_sync"] = syncs > 0 ? events / syncs : 0;
		state.counters["events_per_job"] = done ? events / (double)done : 0;
		state.counters["journal_bytes_per_second"] =
			C((double)(s1.bytes - s0.bytes), C::kIsRate);
		state.counters["o_direct"] = s1.direct;
		state.counters["io_uring"] = s1.uring;
		state.counters["lost"] = (double)s1.lost;
	}
	close_arena(a);
	rm_rf(d);
}

// ---- 3. checkpoints ----------------------------------------------------------------

zr_arena *mixed_arena()
{
	if (!g.mixed)
		g.mixed = loaded_arena(kMixed, &g.mixed_payload);
	return g.mixed;
}

int take(zr_arena *a, const std::string &dir, uint32_t kind, int level, uint32_t threads,
	 zr_ckpt_report *rep)
{
	zr_ckpt_config cc;
	zr_ckpt_config_init(&cc, dir.c_str());
	cc.kind = kind;
	cc.level = level;
	cc.threads = threads;
	zr_diag d{};
	int rc = zr_checkpoint(a, &cc, rep, &d);
	if (rc)
		std::fprintf(stderr, "zr_checkpoint: %s: %s\n", zr_strerror(rc), d.msg);
	return rc;
}

void ckpt_counters(benchmark::State &state, const zr_ckpt_report &r)
{
	state.counters["ratio"] =
		r.bytes_compressed ? (double)r.bytes_image / (double)r.bytes_compressed : 0;
	state.counters["chunks"] = (double)r.chunks;
	state.counters["chunks_written"] = (double)r.chunks_written;
	state.counters["chunks_dedup"] = (double)r.chunks_dedup;
	state.counters["chunks_raw"] = (double)r.chunks_raw;
	state.counters["bytes_compressed"] = (double)r.bytes_compressed;
}

// Each iteration a FULL checkpoint of `a` into a fresh directory, timed by
// the report; sets the bytes and the checkpoint counters of the last one.
zr_ckpt_report time_full(benchmark::State &state, zr_arena *a, const char *prefix, int level,
			 uint32_t threads)
{
	zr_ckpt_report r{};
	for (auto _ : state) {
		std::string d = fresh_dir(prefix);
		int rc = take(a, d, ZR_CKPT_FULL, level, threads, &r);
		rm_rf(d);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		state.SetIterationTime((double)r.total_ns / 1e9);
	}
	state.SetBytesProcessed((int64_t)(state.iterations() * r.bytes_image));
	ckpt_counters(state, r);
	return r;
}

// FULL checkpoints into a fresh directory each (a second FULL into the same
// store would find every chunk stored already).
void bm_ckpt_full(benchmark::State &state)
{
	int level = (int)state.range(0);
	uint32_t threads = (uint32_t)state.range(1);
	zr_arena *a = mixed_arena();
	double disk = disk_write_bps();
	if (!a) {
		state.SkipWithError("arena setup failed");
		return;
	}
	zr_ckpt_report r = time_full(state, a, "ckpt", level, threads);
	state.counters["threads_used"] = r.threads;
	state.counters["payload_bytes"] = (double)g.mixed_payload;
	// the disk-limited checkpoint speed: image bytes/s when the disk writes
	// the compressed bytes at its sequential speed
	state.counters["disk_limit_bytes_per_second"] =
		r.bytes_compressed ? disk * (double)r.bytes_image / (double)r.bytes_compressed : 0;
	state.counters["disk_write_bytes_per_second"] = disk;
}

// Compress `img` chunk by chunk as the checkpoint does (stored raw when it
// saves under 10 %); `out` gets each chunk's stored bytes (empty: raw).
struct Stored {
	std::vector<std::vector<uint8_t>> chunks;
	uint64_t bytes = 0;
};

// Chunks first % step, first + step, ... of img (one thread's share).
void compress_share(ZSTD_CCtx *cc, const uint8_t *img, size_t size, int level, Stored *out,
		    size_t first, size_t step)
{
	std::vector<uint8_t> tmp(ZSTD_compressBound(kChunk));
	for (size_t i = first; i * kChunk < size; i += step) {
		size_t off = i * kChunk, len = std::min<size_t>(kChunk, size - off);
		size_t c = ZSTD_compressCCtx(cc, tmp.data(), tmp.size(), img + off, len, level);
		if (ZSTD_isError(c) || (uint64_t)c * 10 > (uint64_t)len * 9)
			out->chunks[i].clear();
		else
			out->chunks[i].assign(tmp.data(), tmp.data() + c);
	}
}

// The same with `threads` threads (the caller is one; cc[t] each).
void compress_image(ZSTD_CCtx *const *cc, unsigned threads, const uint8_t *img, size_t size,
		    int level, Stored *out)
{
	out->chunks.resize((size + kChunk - 1) / kChunk);
	std::vector<std::thread> th;
	for (unsigned t = 1; t < threads; t++)
		th.emplace_back(compress_share, cc[t], img, size, level, out, t, threads);
	compress_share(cc[0], img, size, level, out, 0, threads);
	for (auto &t : th)
		t.join();
	out->bytes = 0;
	for (size_t i = 0; i < out->chunks.size(); i++)
		out->bytes += out->chunks[i].empty() ? std::min<size_t>(kChunk, size - i * kChunk)
						     : out->chunks[i].size();
}

void bm_zstd_compress(benchmark::State &state)
{
	int level = (int)state.range(0);
	unsigned threads = (unsigned)state.range(1);
	zr_arena *a = mixed_arena();
	if (!a) {
		state.SkipWithError("arena setup failed");
		return;
	}
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	const uint8_t *img = (const uint8_t *)zr_arena_base(a);
	std::vector<ZSTD_CCtx *> cc(threads);
	for (auto &c : cc)
		c = ZSTD_createCCtx();
	Stored s;
	for (auto _ : state)
		compress_image(cc.data(), threads, img, info.size, level, &s);
	for (auto c : cc)
		ZSTD_freeCCtx(c);
	state.SetBytesProcessed((int64_t)(state.iterations() * info.size));
	state.counters["ratio"] = s.bytes ? (double)info.size / (double)s.bytes : 0;
}

// Rewrite `changed` payloads in place, then an INCREMENTAL checkpoint.
void bm_ckpt_incremental(benchmark::State &state)
{
	unsigned changed = (unsigned)state.range(0);
	std::vector<zr_job_id> ids;
	uint64_t payload;
	zr_arena *a = loaded_arena(kMixed, &payload, &ids);
	std::string d = fresh_dir("incr");
	zr_ckpt_report r{};
	if (!a || ids.empty() || take(a, d, ZR_CKPT_FULL, 3, 1, &r) != 0) {
		state.SkipWithError("arena or base checkpoint failed");
		close_arena(a);
		rm_rf(d);
		return;
	}
	uint64_t rng = 99, written = 0;
	for (auto _ : state) {
		state.PauseTiming();
		for (unsigned i = 0; i < changed; i++) {
			zr_job_info info;
			zr_job_id id = ids[xorshift(&rng) % ids.size()];
			if (zr_job_get(a, id, &info) == 0 && info.payload_len)
				fill_kind((uint8_t *)zr_payload_ptr(a, info.payload),
					  info.payload_len, kText, &rng);
		}
		state.ResumeTiming();
		int rc = take(a, d, ZR_CKPT_INCREMENTAL, 3, 1, &r);
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		state.SetIterationTime((double)r.total_ns / 1e9);
		written += r.chunks_written;
	}
	ckpt_counters(state, r);
	state.counters["chunks_unchanged"] = (double)r.chunks_unchanged;
	state.counters["chunks_written_avg"] =
		state.iterations() ? (double)written / (double)state.iterations() : 0;
	close_arena(a);
	rm_rf(d);
}

// The compression ratio of an arena whose payloads are all of one kind.
void bm_ckpt_ratio(benchmark::State &state, int kind)
{
	uint64_t payload;
	zr_arena *a = loaded_arena(kind, &payload);
	if (!a) {
		state.SkipWithError("arena setup failed");
		return;
	}
	time_full(state, a, "ratio", 3, 1);
	state.counters["payload_bytes"] = (double)payload;
	close_arena(a);
}

// ---- 4. restore --------------------------------------------------------------------

// A level-3 FULL checkpoint of the mixed arena, kept for the restores.
const std::string &restore_ckpt()
{
	if (g.restore_ckpt.empty() && mixed_arena()) {
		std::string d = fresh_dir("restore");
		zr_ckpt_report r{};
		if (take(g.mixed, d, ZR_CKPT_FULL, 3, 1, &r) == 0) {
			g.restore_ckpt = d;
			g.restore_stored = r.bytes_compressed;
		} else {
			rm_rf(d);
		}
	}
	return g.restore_ckpt;
}

void bm_restore(benchmark::State &state, bool cold)
{
	const std::string &d = restore_ckpt();
	if (d.empty()) {
		state.SkipWithError("checkpoint setup failed");
		return;
	}
	zr_restore_report rep{};
	uint64_t image = 0;
	bool dropped = true;
	for (auto _ : state) {
		state.PauseTiming();
		if (cold)
			dropped = drop_caches() && dropped;
		char name[64];
		std::snprintf(name, sizeof(name), "zring-bench-restore-%d-%u", (int)getpid(),
			      ++g.seq);
		zr_restore_config rc{};
		rc.name = name;
		rc.ckpt_dir = d.c_str();
		rc.no_checkpoint = true;
		zr_arena *out = nullptr;
		zr_diag diag{};
		state.ResumeTiming();
		auto t0 = Clock::now();
		int r = zr_restore(&rc, nullptr, nullptr, &out, &rep, &diag);
		auto t1 = Clock::now();
		state.SetIterationTime(secs(t0, t1));
		if (r == 0) {
			zr_arena_info info;
			zr_arena_info_get(out, &info);
			image = info.size;
			close_arena(out);
			r = zr_arena_unlink(name);
		}
		if (r) {
			std::fprintf(stderr, "zr_restore: %s: %s\n", zr_strerror(r), diag.msg);
			state.SkipWithError(zr_strerror(r));
			break;
		}
	}
	state.SetBytesProcessed((int64_t)(state.iterations() * image));
	state.counters["jobs"] = (double)rep.jobs;
	state.counters["page_cache_dropped"] = cold && dropped;
	g.drop_ok = g.drop_ok || (cold && dropped);
}

// Chunks first, first + step, ... of s into out (one thread's share).
bool decompress_share(ZSTD_DCtx *dc, const Stored &s, const uint8_t *img, uint8_t *out, size_t size,
		      size_t first, size_t step)
{
	bool ok = true;
	for (size_t i = first; i * kChunk < size; i += step) {
		size_t off = i * kChunk, len = std::min<size_t>(kChunk, size - off);
		if (s.chunks[i].empty()) {
			std::memcpy(out + off, img + off, len);
			continue;
		}
		size_t n = ZSTD_decompressDCtx(dc, out + off, len, s.chunks[i].data(),
					       s.chunks[i].size());
		ok = ok && n == len;
	}
	return ok;
}

void bm_zstd_decompress(benchmark::State &state)
{
	unsigned threads = (unsigned)state.range(0);
	zr_arena *a = mixed_arena();
	if (!a) {
		state.SkipWithError("arena setup failed");
		return;
	}
	zr_arena_info info;
	zr_arena_info_get(a, &info);
	const uint8_t *img = (const uint8_t *)zr_arena_base(a);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	Stored s;
	compress_image(&cc, 1, img, info.size, 3, &s);
	ZSTD_freeCCtx(cc);
	std::vector<uint8_t> out(info.size);
	std::vector<ZSTD_DCtx *> dc(threads);
	for (auto &d : dc)
		d = ZSTD_createDCtx();
	bool ok = true;
	for (auto _ : state) {
		std::vector<std::thread> th;
		std::vector<char> th_ok(threads, 1);
		for (unsigned t = 1; t < threads; t++)
			th.emplace_back([&, t] {
				th_ok[t] = decompress_share(dc[t], s, img, out.data(), info.size, t,
							    threads);
			});
		ok = decompress_share(dc[0], s, img, out.data(), info.size, 0, threads) && ok;
		for (auto &t : th)
			t.join();
		for (char o : th_ok)
			ok = ok && o;
		benchmark::DoNotOptimize(out.data());
	}
	for (auto d : dc)
		ZSTD_freeDCtx(d);
	if (!ok || std::memcmp(out.data(), img, info.size) != 0)
		state.SkipWithError("decompressed image differs");
	state.SetBytesProcessed((int64_t)(state.iterations() * info.size));
	state.counters["ratio"] = s.bytes ? (double)info.size / (double)s.bytes : 0;
}

// What restore pays for its new arena alone: zr_arena_create of the same
// shape (the pages prefaulted), timed; then close and unlink, not timed.
void bm_arena_create(benchmark::State &state)
{
	zr_arena_config cfg;
	zr_arena_config_init(&cfg, kArenaBytes);
	for (auto _ : state) {
		char name[64];
		std::snprintf(name, sizeof(name), "zring-bench-create-%d-%u", (int)getpid(),
			      ++g.seq);
		zr_arena *a = nullptr;
		zr_diag d{};
		auto t0 = Clock::now();
		int rc = zr_arena_create(name, &cfg, &a, &d);
		auto t1 = Clock::now();
		state.SetIterationTime(secs(t0, t1));
		if (rc) {
			state.SkipWithError(zr_strerror(rc));
			break;
		}
		close_arena(a);
		if (zr_arena_unlink(name) != 0)
			std::fprintf(stderr, "bench_persist: zr_arena_unlink(%s) failed\n", name);
	}
	state.SetBytesProcessed((int64_t)(state.iterations() * kArenaBytes));
}

std::vector<std::string> g_files;

int list_one(const char *path, const struct stat *st, int type, struct FTW *)
{
	if (type == FTW_F && st->st_size > 0)
		g_files.push_back(path);
	return 0;
}

// Read every file of the restore checkpoint (chunks and manifest) back.
void bm_disk_read(benchmark::State &state, bool cold)
{
	const std::string &d = restore_ckpt();
	if (d.empty()) {
		state.SkipWithError("checkpoint setup failed");
		return;
	}
	g_files.clear();
	nftw(d.c_str(), list_one, 16, FTW_PHYS);
	std::vector<uint8_t> buf(16 * kMiB);
	uint64_t bytes = 0;
	bool dropped = true;
	for (auto _ : state) {
		state.PauseTiming();
		if (cold)
			dropped = drop_caches() && dropped;
		state.ResumeTiming();
		auto t0 = Clock::now();
		for (const std::string &f : g_files) {
			int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
			ssize_t n;
			while (fd >= 0 && (n = read(fd, buf.data(), buf.size())) > 0)
				bytes += (uint64_t)n;
			if (fd >= 0)
				close(fd);
		}
		state.SetIterationTime(secs(t0, Clock::now()));
	}
	zr_arena_info info;
	zr_arena_info_get(g.mixed, &info);
	using C = benchmark::Counter;
	state.SetBytesProcessed((int64_t)bytes);
	state.counters["files"] = (double)g_files.size();
	// the disk-limited restore speed: image bytes/s at this read speed
	// (the stored bytes read are image / ratio)
	double ratio = g.restore_stored ? (double)info.size / (double)g.restore_stored : 0;
	state.counters["image_bytes_per_second"] = C((double)bytes * ratio, C::kIsRate);
	state.counters["page_cache_dropped"] = cold && dropped;
}

// ---- registration ------------------------------------------------------------------

void register_all()
{
	benchmark::RegisterBenchmark("disk_write/impl:pwrite_seq/size:1048576", bm_disk_write)
		->UseManualTime()
		->Unit(benchmark::kMillisecond);
	benchmark::RegisterBenchmark("disk_sync/impl:pwrite_fdatasync", bm_disk_sync)
		->ArgName("batch")
		->Arg(1)
		->Arg(8)
		->Arg(16)
		->Arg(256)
		->UseRealTime()
		->Unit(benchmark::kMicrosecond);
	struct J {
		const char *name;
		uint32_t d;
		std::vector<int64_t> threads;
	};
	for (const J &j : {J{"journal/impl:no_journal", kNoJournal, {1}},
			   J{"journal/impl:none", ZR_DURABILITY_NONE, {1}},
			   J{"journal/impl:async", ZR_DURABILITY_ASYNC, {1}},
			   J{"journal/impl:sync", ZR_DURABILITY_SYNC, {1, 8}}}) {
		auto *b = benchmark::RegisterBenchmark(j.name, bm_journal, j.d)->ArgName("threads");
		for (int64_t t : j.threads)
			b->Arg(t);
		b->UseManualTime()->Unit(benchmark::kMillisecond);
	}
	benchmark::RegisterBenchmark("ckpt/impl:zstd_mem", bm_zstd_compress)
		->ArgNames({"level", "threads"})
		->Args({1, 1})
		->Args({1, 2})
		->Args({3, 1})
		->Args({3, 2})
		->UseRealTime()
		->Unit(benchmark::kMillisecond);
	benchmark::RegisterBenchmark("ckpt/impl:zring_full", bm_ckpt_full)
		->ArgNames({"level", "threads"})
		->Args({1, 1})
		->Args({1, 2})
		->Args({3, 1})
		->Args({3, 2})
		->UseManualTime()
		->Unit(benchmark::kMillisecond);
	benchmark::RegisterBenchmark("ckpt/impl:zring_incremental", bm_ckpt_incremental)
		->ArgName("changed")
		->Arg(8)
		->UseManualTime()
		->Unit(benchmark::kMillisecond);
	for (int k : {kZeros, kText, kRandom})
		benchmark::RegisterBenchmark(
			(std::string("ckpt_ratio/impl:zring_full/payload:") + kKindName[k]).c_str(),
			bm_ckpt_ratio, k)
			->UseManualTime()
			->Unit(benchmark::kMillisecond);
	benchmark::RegisterBenchmark("restore/impl:zstd_mem_decompress/level:3", bm_zstd_decompress)
		->ArgName("threads")
		->Arg(1)
		->Arg(2)
		->UseRealTime()
		->Unit(benchmark::kMillisecond);
	benchmark::RegisterBenchmark("restore/impl:arena_create", bm_arena_create)
		->UseManualTime()
		->Unit(benchmark::kMillisecond);
	for (int cold : {1, 0}) {
		std::string c = cold ? "cold" : "warm";
		benchmark::RegisterBenchmark(("restore/impl:zring/cache:" + c).c_str(), bm_restore,
					     cold != 0)
			->UseManualTime()
			->Unit(benchmark::kMillisecond);
		benchmark::RegisterBenchmark(("restore/impl:disk_read/cache:" + c).c_str(),
					     bm_disk_read, cold != 0)
			->UseManualTime()
			->Unit(benchmark::kMillisecond);
	}
}

std::string fs_type(const std::string &path)
{
	struct statfs s;
	if (statfs(path.c_str(), &s) != 0)
		return "unknown";
	switch ((unsigned long)s.f_type) {
	case 0x01021994ul: return "tmpfs (not a disk: numbers are memory speeds)";
	case 0xEF53ul: return "ext4";
	case 0x58465342ul: return "xfs";
	case 0x9123683Eul: return "btrfs";
	default: {
		char b[32];
		std::snprintf(b, sizeof(b), "magic 0x%lx", (unsigned long)s.f_type);
		return b;
	}
	}
}

bool make_scratch()
{
	const char *env = std::getenv("ZR_BENCH_DIR");
	std::string root = env && *env ? env : ZR_BENCH_SCRATCH;
	mkdir(root.c_str(), 0700);
	std::string d = root + "/persist-XXXXXX";
	if (!mkdtemp(d.data())) {
		std::fprintf(stderr, "bench_persist: cannot make a directory under %s: %s\n",
			     root.c_str(), std::strerror(errno));
		return false;
	}
	g.dir = d;
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	if (!start("bench_persist", &argc, argv))
		return 1;
	if (!make_scratch())
		return 1;
	add_context("one process; journal benchmarks run their own threads, unpinned");
	benchmark::AddCustomContext("scratch_dir", g.dir);
	benchmark::AddCustomContext("scratch_fs", fs_type(g.dir));
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	close_arena(g.mixed);
	rm_rf(g.dir);
	return 0;
}
