// bench/ring_impls.h: the rings bench_rings.cc measures, behind one small
// interface, so each benchmark is written once for all of them: zring's
// two kinds and the peers DPDK rte_ring, Concurrency Kit ck_ring and
// Boost.Lockfree. A peer is compiled in when CMake found its package
// (ZR_HAVE_RTE_RING, ZR_HAVE_CK, ZR_HAVE_BOOST_LOCKFREE); otherwise it is
// a stub of the same name that only says why it is skipped.
#ifndef ZRING_BENCH_RING_IMPLS_H
#define ZRING_BENCH_RING_IMPLS_H

#include <cerrno>
#include <cstdint>
#include <new>

#include "bench_common.h"

#ifdef ZR_HAVE_RTE_RING
#include <rte_ring.h>
#include <rte_ring_elem.h>
#endif
#ifdef ZR_HAVE_CK
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
// ck 0.7.1's ck_ring.h returns `false` from a function returning void *
// (_ck_ring_enqueue_reserve_mp): C accepts it, C++ does not. Spelling false
// as 0 for this one include keeps ck's functions inline here, as a C caller
// has them; a C wrapper would add a call to every operation.
#define false 0
#include <ck_ring.h>
#undef false
#endif
#ifdef ZR_HAVE_BOOST_LOCKFREE
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#endif

namespace zr_bench
{

constexpr size_t round64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

// Where a ring is: memory (the peers, in plain or shared memory) or an
// arena and a name (zring).
struct Where {
	void *mem = nullptr;
	zr_arena *arena = nullptr;
	const char *name = nullptr;
};

inline Where mem_at(void *base, size_t off)
{
	Where w;
	w.mem = static_cast<char *>(base) + off;
	return w;
}

inline Where in_arena(zr_arena *a, const char *name)
{
	Where w;
	w.arena = a;
	w.name = name;
	return w;
}

// ---- the implementations --------------------------------------------------
//
// Each one has kName (its impl: in the benchmark names), kSkip (null, or
// why it is not built), kArena (it lives in a zring arena; else in bytes()
// of cache-aligned memory that create() initialises), kMulti (MPMC), and a
// handle, made by each thread or process that uses the ring, with put, get
// and their bursts. Full and empty are `false` and 0: outcomes, not errors.

// What a peer whose package is missing compiles to: listed, never run.
struct Missing {
	static constexpr bool kArena = false;
	static size_t bytes()
	{
		return 0;
	}
	static int create(Where)
	{
		return -ENOTSUP;
	}
	explicit Missing(Where)
	{
	}
	bool ok() const
	{
		return false;
	}
	bool put(uint64_t)
	{
		return false;
	}
	bool get(uint64_t *)
	{
		return false;
	}
	unsigned put_burst(const uint64_t *, unsigned)
	{
		return 0;
	}
	unsigned get_burst(uint64_t *, unsigned)
	{
		return 0;
	}
};

// Bursts as loops of single operations, for a library without burst calls.
template <class Self> struct LoopBursts {
	unsigned put_burst(const uint64_t *v, unsigned n)
	{
		unsigned i = 0;
		while (i < n && static_cast<Self *>(this)->put(v[i]))
			i++;
		return i;
	}
	unsigned get_burst(uint64_t *v, unsigned n)
	{
		unsigned i = 0;
		while (i < n && static_cast<Self *>(this)->get(v + i))
			i++;
		return i;
	}
};

template <uint32_t Kind> class Zring
{
      public:
	static constexpr const char *kName = Kind == ZR_RING_SPSC ? "zring_spsc" : "zring_mpmc";
	static constexpr const char *kSkip = nullptr;
	static constexpr bool kArena = true;
	static constexpr bool kMulti = Kind == ZR_RING_MPMC;
	static constexpr uint32_t kKind = Kind;
	static size_t bytes()
	{
		return 0;
	}
	static int create(Where w)
	{
		zr_ring_config cfg = {Kind, kRingCap, ZR_WAIT_SPIN};
		zr_ring *r;
		int rc = zr_ring_create(w.arena, w.name, &cfg, &r);
		if (rc == 0)
			zr_ring_close(r);
		return rc;
	}
	// Opened by the thread that uses it (see Local in bench_common.h).
	explicit Zring(Where w)
	{
		if (!w.arena || zr_ring_open(w.arena, w.name, &r_) != 0)
			r_ = nullptr;
	}
	~Zring()
	{
		zr_ring_close(r_);
	}
	Zring(const Zring &) = delete;
	Zring &operator=(const Zring &) = delete;
	bool ok() const
	{
		return r_ != nullptr;
	}
	bool put(uint64_t v)
	{
		return zr_ring_enqueue(r_, v);
	}
	bool get(uint64_t *v)
	{
		return zr_ring_dequeue(r_, v);
	}
	unsigned put_burst(const uint64_t *v, unsigned n)
	{
		return zr_ring_enqueue_burst(r_, v, n);
	}
	unsigned get_burst(uint64_t *v, unsigned n)
	{
		return zr_ring_dequeue_burst(r_, v, n);
	}

      private:
	zr_ring *r_ = nullptr;
};

#ifdef ZR_HAVE_RTE_RING
// rte_ring made without EAL: rte_ring_init on cache-aligned memory of
// rte_ring_get_memsize() bytes. The ring holds no pointers, so it works at
// any address in any process. Entries through the _elem calls, 8 bytes.
template <bool Single> class Rte
{
      public:
	static constexpr const char *kName = Single ? "rte_ring_sp" : "rte_ring_mp";
	static constexpr const char *kSkip = nullptr;
	static constexpr bool kArena = false;
	static constexpr bool kMulti = !Single;
	static size_t bytes()
	{
		ssize_t n = rte_ring_get_memsize(kRingCap);
		return n < 0 ? 0 : (size_t)n;
	}
	static int create(Where w)
	{
		unsigned flags = Single ? RING_F_SP_ENQ | RING_F_SC_DEQ : 0;
		return rte_ring_init(static_cast<rte_ring *>(w.mem), kName, kRingCap, flags);
	}
	explicit Rte(Where w) : r_(static_cast<rte_ring *>(w.mem))
	{
	}
	bool ok() const
	{
		return r_ != nullptr;
	}
	bool put(uint64_t v)
	{
		if constexpr (Single)
			return rte_ring_sp_enqueue_elem(r_, &v, sizeof(v)) == 0;
		else
			return rte_ring_mp_enqueue_elem(r_, &v, sizeof(v)) == 0;
	}
	bool get(uint64_t *v)
	{
		if constexpr (Single)
			return rte_ring_sc_dequeue_elem(r_, v, sizeof(*v)) == 0;
		else
			return rte_ring_mc_dequeue_elem(r_, v, sizeof(*v)) == 0;
	}
	unsigned put_burst(const uint64_t *v, unsigned n)
	{
		if constexpr (Single)
			return rte_ring_sp_enqueue_burst_elem(r_, v, sizeof(*v), n, nullptr);
		else
			return rte_ring_mp_enqueue_burst_elem(r_, v, sizeof(*v), n, nullptr);
	}
	unsigned get_burst(uint64_t *v, unsigned n)
	{
		if constexpr (Single)
			return rte_ring_sc_dequeue_burst_elem(r_, v, sizeof(*v), n, nullptr);
		else
			return rte_ring_mc_dequeue_burst_elem(r_, v, sizeof(*v), n, nullptr);
	}

      private:
	rte_ring *r_;
};
#else
template <bool Single> struct Rte : Missing {
	static constexpr const char *kName = Single ? "rte_ring_sp" : "rte_ring_mp";
	static constexpr const char *kSkip = "skipped: libdpdk-dev not installed";
	static constexpr bool kMulti = !Single;
	using Missing::Missing;
};
#endif

#ifdef ZR_HAVE_CK
// ck_ring decouples the ring from its slots: the header, then 1024 slots
// from the next cache line. Entries are void *, so a uint64_t goes in as
// one. No burst calls: bursts loop.
template <bool Single> class Ck : public LoopBursts<Ck<Single>>
{
      public:
	static constexpr const char *kName = Single ? "ck_ring_spsc" : "ck_ring_mpmc";
	static constexpr const char *kSkip = nullptr;
	static constexpr bool kArena = false;
	static constexpr bool kMulti = !Single;
	static constexpr size_t kSlotsAt = round64(sizeof(ck_ring_t));
	static size_t bytes()
	{
		return kSlotsAt + kRingCap * sizeof(ck_ring_buffer_t);
	}
	static int create(Where w)
	{
		ck_ring_init(static_cast<ck_ring_t *>(w.mem), kRingCap);
		return 0;
	}
	explicit Ck(Where w)
	    : r_(static_cast<ck_ring_t *>(w.mem)),
	      slots_(reinterpret_cast<ck_ring_buffer_t *>(static_cast<char *>(w.mem) + kSlotsAt))
	{
	}
	bool ok() const
	{
		return r_ != nullptr;
	}
	bool put(uint64_t v)
	{
		void *p = reinterpret_cast<void *>((uintptr_t)v);
		if constexpr (Single)
			return ck_ring_enqueue_spsc(r_, slots_, p);
		else
			return ck_ring_enqueue_mpmc(r_, slots_, p);
	}
	bool get(uint64_t *v)
	{
		void *p = nullptr;
		bool got;
		if constexpr (Single)
			got = ck_ring_dequeue_spsc(r_, slots_, &p);
		else
			got = ck_ring_dequeue_mpmc(r_, slots_, &p);
		*v = (uint64_t) reinterpret_cast<uintptr_t>(p);
		return got;
	}

      private:
	ck_ring_t *r_;
	ck_ring_buffer_t *slots_;
};
#else
template <bool Single> struct Ck : Missing {
	static constexpr const char *kName = Single ? "ck_ring_spsc" : "ck_ring_mpmc";
	static constexpr const char *kSkip = "skipped: libck-dev not installed";
	static constexpr bool kMulti = !Single;
	using Missing::Missing;
};
#endif

#ifdef ZR_HAVE_BOOST_LOCKFREE
// Fixed size (capacity<1024>): the storage is inside the object, so one
// placement-new'd into a shared mapping works across a fork.
// boost::lockfree::queue addresses its nodes by 16-bit index into that
// storage, never by pointer.
class BoostSpsc
{
	using Q = boost::lockfree::spsc_queue<uint64_t, boost::lockfree::capacity<kRingCap>>;
	static_assert(alignof(Q) <= 64, "placed on a cache line");
	static_assert(std::atomic<size_t>::is_always_lock_free, "spsc_queue's indexes");

      public:
	static constexpr const char *kName = "boost_spsc_queue";
	static constexpr const char *kSkip = nullptr;
	static constexpr bool kArena = false;
	static constexpr bool kMulti = false;
	static size_t bytes()
	{
		return sizeof(Q);
	}
	static int create(Where w)
	{
		new (w.mem) Q();
		return 0;
	}
	explicit BoostSpsc(Where w) : q_(static_cast<Q *>(w.mem))
	{
	}
	bool ok() const
	{
		return q_ != nullptr;
	}
	bool put(uint64_t v)
	{
		return q_->push(v);
	}
	bool get(uint64_t *v)
	{
		return q_->pop(*v);
	}
	// spsc_queue's own array calls
	unsigned put_burst(const uint64_t *v, unsigned n)
	{
		return (unsigned)q_->push(v, n);
	}
	unsigned get_burst(uint64_t *v, unsigned n)
	{
		return (unsigned)q_->pop(v, n);
	}

      private:
	Q *q_;
};

// No array calls: bursts loop.
class BoostQueue : public LoopBursts<BoostQueue>
{
	using Q = boost::lockfree::queue<uint64_t, boost::lockfree::capacity<kRingCap>>;
	static_assert(alignof(Q) <= 64, "placed on a cache line");

      public:
	static constexpr const char *kName = "boost_queue";
	static constexpr const char *kSkip = nullptr;
	static constexpr bool kArena = false;
	static constexpr bool kMulti = true;
	static size_t bytes()
	{
		return sizeof(Q);
	}
	static int create(Where w)
	{
		Q *q = new (w.mem) Q();
		return q->is_lock_free() ? 0 : -ENOTSUP;
	}
	explicit BoostQueue(Where w) : q_(static_cast<Q *>(w.mem))
	{
	}
	bool ok() const
	{
		return q_ != nullptr;
	}
	bool put(uint64_t v)
	{
		return q_->bounded_push(v); // never allocates
	}
	bool get(uint64_t *v)
	{
		return q_->pop(*v);
	}

      private:
	Q *q_;
};
#else
struct BoostSpsc : Missing {
	static constexpr const char *kName = "boost_spsc_queue";
	static constexpr const char *kSkip = "skipped: libboost-dev not installed";
	static constexpr bool kMulti = false;
	using Missing::Missing;
};
struct BoostQueue : Missing {
	static constexpr const char *kName = "boost_queue";
	static constexpr const char *kSkip = "skipped: libboost-dev not installed";
	static constexpr bool kMulti = true;
	using Missing::Missing;
};
#endif

template <class... R> struct Impls {
};
using All = Impls<Zring<ZR_RING_SPSC>, Zring<ZR_RING_MPMC>, Rte<true>, Rte<false>, Ck<true>,
		  Ck<false>, BoostSpsc, BoostQueue>;

} // namespace zr_bench

#endif
