/* Agents: registration, liveness and the per-process cache of their inboxes.
 *
 * A slot is claimed by one CAS on a_word (FREE or DEAD -> JOINING, new
 * generation, our owner id), its identity written, then ALIVE is published
 * with a release store. A slot prefers its previous name: a successor of a
 * dead agent takes over its slot and inbox, and jobs aimed at the dead one
 * (by id) still reach that inbox: a job's target belongs to the name living
 * in the slot when its generation is at least the slot's name_gen.
 *
 * Synchronisation map:
 *   R1 register: release store of ALIVE -> A1 readers: acquire load of a_word
 *   Claim and release of a slot are acq_rel CASes on a_word. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jnl_impl.h"
#include "job_impl.h"

/* One opened inbox, immutable once published: the name it was opened for
 * (as the agent id of the name's first generation) and the handle. */
struct inbox_ent {
	uint32_t name_id;
	zr_inbox *ib;
};

struct zri_inbox_cache {
	pthread_mutex_t lock; /* fills only; lookups read `slot` lock-free */
	_Atomic(struct inbox_ent *) *slot;
	struct inbox_ent **retired; /* replaced entries, freed at detach */
	size_t nretired;
};

void zr_agent_config_init(zr_agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = ZR_AGENT_CPU;
	cfg->on_death = ZR_ON_DEATH_KEEP;
	cfg->wait = ZR_WAIT_SPIN_FUTEX;
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > ZR_AGENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void inbox_name(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "zr.in.%s", name);
}

/* Copy an agent's name out of shared memory (never trusting its NUL). */
static void name_of(const struct zri_agent *r, char out[ZR_AGENT_NAME_MAX + 1])
{
	memcpy(out, r->name, ZR_AGENT_NAME_MAX + 1);
	out[ZR_AGENT_NAME_MAX] = 0;
}

struct zri_agent *zri_agent_rec(const zr_arena *a, uint32_t id, uint64_t *word)
{
	if (id == 0 || zri_agent_idx(id) >= a->max_agents)
		return NULL;
	struct zri_agent *r = &a->agents[zri_agent_idx(id)];
	/* A1: pairs with R1: the identity of an ALIVE or DEAD agent is written */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
	if ((ZRI_AGENT_GEN(w) & ((1u << ZRI_OWNER_GEN_BITS) - 1)) != zri_owner_gen(id))
		return NULL;
	if (word)
		*word = w;
	return r;
}

static bool heartbeat_missed(const struct zri_agent *r, uint64_t now)
{
	/* relaxed: single values; a stale view only delays the verdict */
	uint64_t to = atomic_load_explicit(&r->a_heartbeat_timeout_ns, memory_order_relaxed);
	uint64_t hb = atomic_load_explicit(&r->a_heartbeat_ns, memory_order_relaxed);
	return to && now > hb && now - hb > to;
}

bool zri_agent_alive(const zr_arena *a, uint32_t id)
{
	uint64_t w;
	const struct zri_agent *r = zri_agent_rec(a, id, &w);
	if (!r || ZRI_AGENT_STATUS(w) != ZRI_AGENT_ALIVE)
		return false;
	return zri_owner_alive(a, ZRI_AGENT_OWNER(w)) && !heartbeat_missed(r, zri_now_ns());
}

/* ---- the inbox cache --------------------------------------------------------- */

static struct zri_inbox_cache *cache_of(zr_arena *a)
{
	static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
	/* the pointer is set once under init_lock; readers that see NULL take it */
	/* acquire: pairs with the release store below: the cache is built */
	struct zri_inbox_cache *c = atomic_load_explicit(&a->inboxes, memory_order_acquire);
	if (c)
		return c;
	pthread_mutex_lock(&init_lock);
	/* relaxed: under init_lock */
	c = atomic_load_explicit(&a->inboxes, memory_order_relaxed);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (c) {
			c->slot = calloc(a->max_agents, sizeof(*c->slot));
			if (!c->slot) {
				free(c);
				c = NULL;
			} else {
				pthread_mutex_init(&c->lock, NULL);
				/* release: pairs with the acquire above */
				atomic_store_explicit(&a->inboxes, c, memory_order_release);
			}
		}
	}
	pthread_mutex_unlock(&init_lock);
	return c;
}

static void ent_free(struct inbox_ent *e)
{
	if (e) {
		zr_inbox_close(e->ib);
		free(e);
	}
}

void zri_agent_cache_free(zr_arena *a)
{
	/* relaxed: the arena is being closed by its last user */
	struct zri_inbox_cache *c = atomic_load_explicit(&a->inboxes, memory_order_relaxed);
	if (!c)
		return;
	for (uint32_t i = 0; i < a->max_agents; i++)
		/* relaxed: as above */
		ent_free(atomic_load_explicit(&c->slot[i], memory_order_relaxed));
	for (size_t i = 0; i < c->nretired; i++)
		ent_free(c->retired[i]);
	free(c->retired);
	free(c->slot);
	pthread_mutex_destroy(&c->lock);
	free(c);
	/* relaxed: as above */
	atomic_store_explicit(&a->inboxes, NULL, memory_order_relaxed);
}

/* Does a job aimed at `id` belong to the agent living in its slot now? */
static bool same_lineage(const struct zri_agent *r, uint64_t w, uint32_t id)
{
	uint32_t gbits = (1u << ZRI_OWNER_GEN_BITS) - 1;
	uint32_t g = zri_owner_gen(id), cur = ZRI_AGENT_GEN(w) & gbits;
	uint32_t first = r->name_gen & gbits;
	/* generations wrap at 10 bits: compare distances back from the current */
	return ((cur - g) & gbits) <= ((cur - first) & gbits);
}

zr_inbox *zri_agent_inbox(zr_arena *a, uint32_t id)
{
	if (id == 0 || zri_agent_idx(id) >= a->max_agents)
		return NULL;
	uint32_t i = zri_agent_idx(id);
	struct zri_agent *r = &a->agents[i];
	/* A1: pairs with R1 (the name is written) */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
	uint32_t st = ZRI_AGENT_STATUS(w);
	if ((st != ZRI_AGENT_ALIVE && st != ZRI_AGENT_DEAD) || !same_lineage(r, w, id))
		return NULL;
	struct zri_inbox_cache *c = cache_of(a);
	if (!c)
		return NULL;
	uint32_t name_id = zri_owner_make(i, r->name_gen);
	/* acquire: pairs with the release store below: the entry is built */
	struct inbox_ent *e = atomic_load_explicit(&c->slot[i], memory_order_acquire);
	if (e && e->name_id == name_id)
		return e->ib;
	pthread_mutex_lock(&c->lock);
	/* relaxed: under c->lock */
	e = atomic_load_explicit(&c->slot[i], memory_order_relaxed);
	if (!e || e->name_id != name_id) {
		char nm[ZR_AGENT_NAME_MAX + 1], in[ZR_NAME_MAX + 1];
		name_of(r, nm);
		inbox_name(in, sizeof(in), nm);
		struct inbox_ent *fresh = malloc(sizeof(*fresh));
		struct inbox_ent **rt = realloc(c->retired, (c->nretired + 1) * sizeof(*rt));
		if (rt)
			c->retired = rt;
		if (fresh && rt && zr_inbox_open(a, in, &fresh->ib) == 0) {
			fresh->name_id = name_id;
			if (e)
				c->retired[c->nretired++] = e;
			/* release: the entry is complete before others use it */
			atomic_store_explicit(&c->slot[i], fresh, memory_order_release);
			e = fresh;
		} else {
			free(fresh);
			e = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return e ? e->ib : NULL;
}

/* ---- registration ------------------------------------------------------------ */

static int find_slot(zr_arena *a, const char *name, uint32_t *idx, uint64_t *word)
{
	int best = -1, spare_dead = -1;
	uint64_t best_w = 0, dead_w = 0;
	for (uint32_t i = 0; i < a->max_agents; i++) {
		struct zri_agent *r = &a->agents[i];
		/* acquire: pairs with R1 (the name of a registered slot is written) */
		uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
		uint32_t st = ZRI_AGENT_STATUS(w);
		char nm[ZR_AGENT_NAME_MAX + 1];
		name_of(r, nm);
		bool mine = st != ZRI_AGENT_JOINING && strcmp(nm, name) == 0;
		if (mine && st == ZRI_AGENT_ALIVE) {
			if (zri_agent_alive(a, zri_owner_make(i, ZRI_AGENT_GEN(w))))
				return -EEXIST;
			return -EAGAIN; /* dead but not marked yet: recover, then retry */
		}
		if (mine) {
			*idx = i;
			*word = w;
			return 0;
		}
		if (st == ZRI_AGENT_FREE && best < 0 && nm[0] == 0) {
			best = (int)i;
			best_w = w;
		} else if ((st == ZRI_AGENT_FREE || st == ZRI_AGENT_DEAD) && spare_dead < 0) {
			spare_dead = (int)i;
			dead_w = w;
		}
	}
	if (best < 0 && spare_dead < 0)
		return -ENOSPC;
	*idx = (uint32_t)(best >= 0 ? best : spare_dead);
	*word = best >= 0 ? best_w : dead_w;
	return 0;
}

/* Fold a departing name's counters into the arena's and clear them. */
static void reset_counters(zr_arena *a, struct zri_agent *r)
{
	_Atomic uint64_t *own[] = {&r->a_submitted, &r->a_submitted_bytes, &r->a_claimed,
				   &r->a_completed, &r->a_failed,	   &r->a_stale};
	unsigned to[] = {ZRI_JC_SUBMITTED, ZRI_JC_SUBMITTED_BYTES, ZRI_JC_CLAIMED,
			 ZRI_JC_COMPLETED, ZRI_JC_FAILED,	   ZRI_JC_STALE};
	for (size_t k = 0; k < sizeof(own) / sizeof(own[0]); k++) {
		zri_jc_add(a, to[k], zri_ld(own[k]));
		zri_st(own[k], 0);
	}
	for (unsigned p = 0; p < ZR_PRIO_COUNT; p++) {
		zri_jc_add(a, ZRI_JC_SUBMITTED_PRIO + p, zri_ld(&r->a_submitted_prio[p]));
		zri_st(&r->a_submitted_prio[p], 0);
	}
	for (unsigned b = 0; b < ZR_HIST_BUCKETS + 3; b++) {
		zri_st(&r->a_claim_hist[b], 0);
		zri_st(&r->a_complete_hist[b], 0);
	}
}

static void write_identity(zr_arena *a, struct zri_agent *r, const char *name,
			   const zr_agent_config *cfg, uint32_t gen, bool same_name)
{
	if (!same_name) {
		reset_counters(a, r);
		r->name_gen = gen;
		memset(r->name, 0, sizeof(r->name));
		memcpy(r->name, name, strlen(name));
	}
	r->pid = (uint32_t)getpid();
	r->tid = (uint32_t)syscall(SYS_gettid);
	r->kind = cfg->kind;
	r->on_death = cfg->on_death;
	r->wait_mode = cfg->wait;
	r->registered_ns = zri_now_ns();
	memset(r->caps, 0, sizeof(r->caps));
	if (cfg->caps)
		memcpy(r->caps, cfg->caps, strnlen(cfg->caps, ZR_AGENT_CAPS_MAX));
	r->place_node = -1;
	r->place_ncpus = 0;
	memset(r->place_cpus, 0, sizeof(r->place_cpus));
	memset(r->place_note, 0, sizeof(r->place_note));
	/* relaxed: published by R1 */
	atomic_store_explicit(&r->a_dead_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&r->a_heartbeat_ns, r->registered_ns, memory_order_relaxed);
	atomic_store_explicit(&r->a_heartbeat_timeout_ns, cfg->heartbeat_ns, memory_order_relaxed);
}

static int claim_slot(zr_arena *a, const char *name, const zr_agent_config *cfg, uint32_t *out)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t i;
		uint64_t w;
		int rc = find_slot(a, name, &i, &w);
		if (rc == -EAGAIN) {
			zr_jobs_recover_report rep = {0};
			ZRI_IGNORE(zr_jobs_recover(a, &rep)); /* marks the dead namesake */
			continue;
		}
		if (rc)
			return rc;
		struct zri_agent *r = &a->agents[i];
		char nm[ZR_AGENT_NAME_MAX + 1];
		name_of(r, nm);
		uint32_t gen = (ZRI_AGENT_GEN(w) + 1) & 0xffffffu;
		uint64_t joining = zri_agent_word(gen, ZRI_AGENT_JOINING, a->self);
		/* acq_rel: see the previous user's state; relaxed on failure: retried */
		if (!atomic_compare_exchange_strong_explicit(
			    &r->a_word, &w, joining, memory_order_acq_rel, memory_order_relaxed))
			continue;
		write_identity(a, r, name, cfg, gen, strcmp(nm, name) == 0);
		*out = i;
		return 0;
	}
	return -EAGAIN;
}

int zr_agent_register(zr_arena *a, const char *name, const zr_agent_config *cfg_in, zr_agent **out)
{
	zr_agent_config cfg;
	if (cfg_in)
		cfg = *cfg_in;
	else
		zr_agent_config_init(&cfg);
	if (!a || !out || !valid_name(name) ||
	    (cfg.kind != ZR_AGENT_CPU && cfg.kind != ZR_AGENT_GPU) ||
	    cfg.on_death > ZR_ON_DEATH_TO_SHARED || cfg.wait > ZR_WAIT_SPIN_FUTEX)
		return -EINVAL;
	if (a->readonly)
		return ZR_EREADONLY;
	zr_agent *ag = calloc(1, sizeof(*ag));
	if (!ag)
		return -ENOMEM;
	char in[ZR_NAME_MAX + 1];
	inbox_name(in, sizeof(in), name);
	zr_inbox_config icfg = {a->inbox_capacity, ZR_WAIT_SPIN, 0};
	int rc = zr_inbox_open(a, in, &ag->inbox);
	if (rc == -ENOENT) {
		rc = zr_inbox_create(a, in, &icfg, &ag->inbox);
		if (rc == -EEXIST)
			rc = zr_inbox_open(a, in, &ag->inbox);
	}
	uint32_t i = 0;
	if (rc == 0)
		rc = claim_slot(a, name, &cfg, &i);
	if (rc) {
		zr_inbox_close(ag->inbox);
		free(ag);
		return rc;
	}
	struct zri_agent *r = &a->agents[i];
	/* relaxed: we hold the slot in JOINING */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_relaxed);
	uint32_t gen = ZRI_AGENT_GEN(w);
	ag->a = a;
	ag->rec = r;
	ag->idx = i;
	ag->id = zri_owner_make(i, gen);
	ag->wait_mode = cfg.wait;
	zri_jnl_agent(a, ag->id, name, cfg.kind, cfg.on_death);
	/* R1: pairs with A1 in readers: the identity is written */
	atomic_store_explicit(&r->a_word, zri_agent_word(gen, ZRI_AGENT_ALIVE, a->self),
			      memory_order_release);
	*out = ag;
	return 0;
}

void zr_agent_heartbeat(zr_agent *ag)
{
	/* relaxed: a single value read by liveness checks */
	atomic_store_explicit(&ag->rec->a_heartbeat_ns, zri_now_ns(), memory_order_relaxed);
}

uint32_t zr_agent_id(const zr_agent *ag)
{
	return ag->id;
}

zr_arena *zr_agent_arena(const zr_agent *ag)
{
	return ag->a;
}

void zr_agent_set_place(zr_agent *ag, const zr_agent_place_info *p)
{
	struct zri_agent *r = ag->rec;
	/* relaxed + fences: a seqlock for the text, one writer (the agent) */
	uint32_t seq = atomic_load_explicit(&r->a_seq, memory_order_relaxed);
	atomic_store_explicit(&r->a_seq, seq + 1, memory_order_relaxed);
	/* release fence: pairs with the reader's acquire fence in agent_info.c */
	atomic_thread_fence(memory_order_release);
	r->place_node = p->numa_node;
	r->place_ncpus = p->ncpus;
	memcpy(r->place_cpus, p->cpus, sizeof(r->place_cpus));
	r->place_cpus[sizeof(r->place_cpus) - 1] = 0;
	memcpy(r->place_note, p->note, sizeof(r->place_note));
	r->place_note[sizeof(r->place_note) - 1] = 0;
	/* release: the text is written before the sequence is even again */
	atomic_store_explicit(&r->a_seq, seq + 2, memory_order_release);
}

uint32_t zr_agent_lookup(const zr_arena *a, const char *name)
{
	if (!valid_name(name))
		return 0;
	for (uint32_t i = 0; i < a->max_agents; i++) {
		const struct zri_agent *r = &a->agents[i];
		/* acquire: pairs with R1 */
		uint64_t w = atomic_load_explicit(&r->a_word, memory_order_acquire);
		uint32_t st = ZRI_AGENT_STATUS(w);
		char nm[ZR_AGENT_NAME_MAX + 1];
		name_of(r, nm);
		if ((st == ZRI_AGENT_ALIVE || st == ZRI_AGENT_DEAD) && strcmp(nm, name) == 0)
			return zri_owner_make(i, ZRI_AGENT_GEN(w));
	}
	return 0;
}

int zri_agent_placeholder(zr_arena *a, const char *name, uint32_t kind, uint32_t on_death,
			  uint32_t *id)
{
	zr_agent_config cfg;
	zr_agent_config_init(&cfg);
	cfg.kind = kind;
	cfg.on_death = on_death;
	zr_agent *ag;
	int rc = zr_agent_register(a, name, &cfg, &ag);
	if (rc)
		return rc;
	*id = ag->id;
	struct zri_agent *r = ag->rec;
	/* relaxed: the agent is ours, nobody else knows its id yet */
	uint64_t w = atomic_load_explicit(&r->a_word, memory_order_relaxed);
	atomic_store_explicit(&r->a_dead_ns, zri_now_ns(), memory_order_relaxed);
	/* R1: pairs with A1 of readers, as in registration */
	atomic_store_explicit(&r->a_word,
			      zri_agent_word(ZRI_AGENT_GEN(w), ZRI_AGENT_DEAD, ZRI_AGENT_OWNER(w)),
			      memory_order_release);
	zr_inbox_close(ag->inbox);
	free(ag);
	return 0;
}
