/* Reading a journal directory: every stream's segments in order, every
 * record checked, the streams merged by LSN.
 *
 * Nothing read is trusted: a record's length is checked against its
 * segment before its checksum is computed, its fields after. A record that
 * fails is a torn tail when nothing valid follows it in its stream (a
 * crash cut the last write short), else corruption: the reader then stops
 * before the lowest LSN the damaged stretch may hold, so that no record
 * that could depend on a lost one is returned (ZR_JREADER_KEEP_GOING
 * resynchronises instead, for dumps and verification).
 *
 * Between two segments of a stream the reader follows the chain
 * (jnl_format.h): where a segment read cleanly to its end ended, and the
 * LSN and count of its records, must be what the next segment's header
 * says, and no segno may be missing. A break is corruption of the same
 * kind: records lost after the last one read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "arena_impl.h"
#include "jnl_format.h"
#include "jnl_read.h"
#include "zring/persist.h"

struct seg {
	char path[PATH_MAX];
	uint32_t stream, segno;
	struct zri_jseg_hdr hdr;
	bool hdr_ok;
	uint32_t old_version; /* a header that verifies as an older format's */
};

struct stream {
	struct seg *segs; /* sorted by segno */
	size_t nsegs;
	size_t cur; /* segment being read */
	const uint8_t *map;
	size_t map_len;
	uint64_t off;
	uint64_t last_lsn; /* last valid record of this stream */
	bool open;	   /* segment `cur` is mapped (map may be NULL: no records) */
	bool done;
	/* the chain: segment `cur` as read so far */
	uint64_t seg_records, seg_last_lsn;
	bool seg_damaged;
	/* the segment before `cur`, if it was read without damage to a clean end */
	bool prev_ok;
	uint64_t prev_end, prev_records, prev_last_lsn;
	/* the peeked record */
	bool have;
	uint64_t rec_off;
	const struct zri_jrec_hdr *rec;
};

struct zr_jreader {
	struct stream *streams;
	size_t nstreams;
	uint64_t from_lsn;
	unsigned flags;
	zr_problem_fn fn;
	void *ctx;
	zr_jreader_stats st;
	struct zri_config_copy config; /* from the first valid segment header */
	uint8_t *data;		       /* the returned record's data, copied */
	size_t data_cap;
	char what[200];
};

static void problem(zr_jreader *r, const char *file, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(zr_jreader *r, const char *file, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	if (r->fn)
		r->fn(r->ctx, file, off, r->what);
}

/* ---- one record ------------------------------------------------------------ */

static size_t body_min(uint32_t type)
{
	if (type == ZR_JREC_PAD)
		return 0;
	if (type == ZR_JREC_AGENT)
		return sizeof(struct zri_jrec_agent);
	return sizeof(struct zri_jrec_job);
}

static bool known_type(uint32_t t)
{
	return t <= ZR_JREC_RELEASE || t == ZR_JREC_AGENT;
}

/* Is there a whole, valid record at `off`? Checks length, checksum and the
 * fields that say how to read the rest; NULL with *why set if not. */
static const struct zri_jrec_hdr *record_at(const uint8_t *map, size_t len, uint64_t off,
					    uint32_t stream, const char **why)
{
	if (off + sizeof(struct zri_jrec_hdr) > len) {
		*why = "record header runs past the end of the segment";
		return NULL;
	}
	struct zri_jrec_hdr h;
	memcpy(&h, map + off, sizeof(h));
	if (h.magic != ZRI_JREC_MAGIC) {
		*why = "bad record magic";
		return NULL;
	}
	if (h.len < sizeof(h) || h.len % ZRI_JREC_ALIGN || h.len > len - off) {
		*why = "record length out of range";
		return NULL;
	}
	if (XXH3_64bits(map + off + 8, h.len - 8) != h.checksum) {
		*why = "record checksum mismatch";
		return NULL;
	}
	if (h.stream != stream || h.version != 1 || !known_type(h.type) ||
	    (h.type != ZR_JREC_PAD && h.lsn == 0) || h.len - sizeof(h) < body_min(h.type)) {
		*why = "record fields inconsistent";
		return NULL;
	}
	if (h.type != ZR_JREC_PAD && h.type != ZR_JREC_AGENT) {
		struct zri_jrec_job b;
		memcpy(&b, map + off + sizeof(h), sizeof(b));
		uint64_t need = sizeof(h) + sizeof(b) +
				(b.extra & ZRI_JX_SUBMIT ? sizeof(struct zri_jrec_submit) : 0) +
				(b.extra & ZRI_JX_ERROR ? ZR_JOB_ERROR_MAX + 1 : 0);
		if (b.status >= ZR_JOB_STATUS_COUNT || (b.extra & ~3u) ||
		    b.data_len > ZRI_JREC_MAX || zri_jrec_round(need + b.data_len) != h.len ||
		    (h.type == ZR_JREC_SUBMIT) != !!(b.extra & ZRI_JX_SUBMIT)) {
			*why = "job record fields inconsistent";
			return NULL;
		}
	}
	return (const struct zri_jrec_hdr *)(const void *)(map + off);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- segments ----------------------------------------------------------- */

static void unmap(struct stream *s)
{
	if (s->map)
		munmap((void *)(uintptr_t)s->map, s->map_len);
	s->map = NULL;
	s->map_len = 0;
}

static int map_segment(struct stream *s, struct seg *g)
{
	unmap(s);
	int fd = open(g->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = -errno;
	else if (st.st_size > ZRI_JSEG_HDR_BYTES) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			rc = -errno;
		else {
			s->map = m;
			s->map_len = (size_t)st.st_size;
		}
	}
	close(fd);
	s->off = ZRI_JSEG_HDR_BYTES;
	return rc;
}

/* The next valid record of the stream at or after `off` of segment `cur`
 * (a resync): its LSN, or 0 if there is none. */
static uint64_t next_valid_lsn(struct stream *s, size_t cur, uint64_t off)
{
	struct stream t = {.segs = s->segs, .nsegs = s->nsegs};
	for (size_t i = cur; i < s->nsegs; i++, off = ZRI_JSEG_HDR_BYTES) {
		if (!s->segs[i].hdr_ok || map_segment(&t, &s->segs[i]) != 0)
			continue;
		for (uint64_t o = off; o + sizeof(struct zri_jrec_hdr) <= t.map_len;
		     o += ZRI_JREC_ALIGN) {
			const char *why;
			const struct zri_jrec_hdr *h =
				record_at(t.map, t.map_len, o, s->segs[i].stream, &why);
			if (h && h->type != ZR_JREC_PAD && h->lsn > s->last_lsn) {
				uint64_t lsn = h->lsn;
				unmap(&t);
				return lsn;
			}
		}
	}
	unmap(&t);
	return 0;
}

/* A damaged stretch of `s` holds LSNs after the last good one, up to
 * `last`: stop before the first of them, unless all of them lie below what
 * we were asked for. */
static void roll_back(zr_jreader *r, const struct stream *s, uint64_t last)
{
	if ((r->flags & ZR_JREADER_KEEP_GOING) || last < r->from_lsn)
		return;
	uint64_t cut = s->last_lsn + 1 > r->from_lsn ? s->last_lsn + 1 : r->from_lsn;
	if (!r->st.rollback_lsn || cut < r->st.rollback_lsn)
		r->st.rollback_lsn = cut;
}

/* A damaged stretch of a stream (a bad record or segment header) holds
 * LSNs between the last good one and the next valid one. */
static void damage(zr_jreader *r, struct stream *s, const char *file, uint64_t off, const char *why)
{
	s->seg_damaged = true;
	uint64_t next = next_valid_lsn(s, s->cur, off + ZRI_JREC_ALIGN);
	if (!next) {
		r->st.torn_tails++;
		problem(r, file, off,
			"torn tail: %s, and nothing valid after it (a write cut short)", why);
		s->done = true;
		return;
	}
	r->st.corrupt++;
	problem(r, file, off, "corrupt: %s; the stream goes on at LSN %llu", why,
		(unsigned long long)next);
	roll_back(r, s, next - 1);
}

/* Leave segment `cur` for the next one; `end`: where its data ended
 * cleanly, 0 if it did not (then the next one's link is not checked). */
static void next_segment(struct stream *s, uint64_t end)
{
	s->prev_ok = end && !s->seg_damaged;
	s->prev_end = end;
	s->prev_records = s->seg_records;
	s->prev_last_lsn = s->seg_last_lsn;
	unmap(s);
	s->open = false;
	s->cur++;
}

/* Segments s->segs[cur - 1] and g (= cur) of one stream: is g the next
 * segno, and, when the previous one was read to a clean end, did it end as
 * g's header says? A break loses the records after the last one read, up
 * to the previous segment's last LSN as g's header gives it. */
static void check_link(zr_jreader *r, struct stream *s, const struct seg *g)
{
	const struct seg *p = &s->segs[s->cur - 1];
	const struct zri_jseg_hdr *h = &g->hdr;
	uint64_t last = g->hdr_ok && h->prev_last_lsn > s->last_lsn ? h->prev_last_lsn : UINT64_MAX;
	if (g->segno != p->segno + 1) {
		r->st.corrupt++;
		if (g->segno - p->segno == 2)
			problem(r, g->path, 0,
				"corrupt: segment %u of stream %u is missing; the records after "
				"LSN %llu are lost",
				p->segno + 1, g->stream, (unsigned long long)s->last_lsn);
		else
			problem(r, g->path, 0,
				"corrupt: segments %u to %u of stream %u are missing; the records "
				"after LSN %llu are lost",
				p->segno + 1, g->segno - 1, g->stream,
				(unsigned long long)s->last_lsn);
		roll_back(r, s, last);
		return;
	}
	if (!g->hdr_ok || !s->prev_ok)
		return; /* reported already */
	bool lost = h->prev_records != s->prev_records || h->prev_last_lsn != s->prev_last_lsn;
	if (!lost && h->prev_end == s->prev_end)
		return;
	r->st.corrupt++;
	problem(r, p->path, s->prev_end,
		"corrupt: the data ends here after %llu records (last LSN %llu); segment %u's "
		"header says at %llu after %llu (last LSN %llu): %s",
		(unsigned long long)s->prev_records, (unsigned long long)s->prev_last_lsn, g->segno,
		(unsigned long long)h->prev_end, (unsigned long long)h->prev_records,
		(unsigned long long)h->prev_last_lsn,
		lost ? "records lost" : "no record is missing");
	if (lost)
		roll_back(r, s, last);
}

static bool open_next_segment(zr_jreader *r, struct stream *s)
{
	for (;;) {
		if (s->cur >= s->nsegs) {
			s->done = true;
			return false;
		}
		struct seg *g = &s->segs[s->cur];
		if (s->cur > 0)
			check_link(r, s, g);
		s->prev_ok = false;
		if (!g->hdr_ok) {
			bool last = s->cur + 1 == s->nsegs;
			if (last) {
				r->st.torn_tails++;
				problem(r, g->path, 0,
					"torn tail: the newest segment's header does not verify");
				s->done = true;
				return false;
			}
			damage(r, s, g->path, 0, "segment header does not verify");
			next_segment(s, 0);
			continue;
		}
		int rc = map_segment(s, g);
		if (rc) {
			problem(r, g->path, 0, "cannot read: %s", strerror(-rc));
			r->st.bad_segments++;
			next_segment(s, 0);
			continue;
		}
		r->st.bytes += s->map_len;
		s->open = true;
		s->seg_records = s->seg_last_lsn = 0;
		s->seg_damaged = false;
		return true;
	}
}

/* Peek the stream's next record (PADs skipped). */
static void advance(zr_jreader *r, struct stream *s)
{
	s->have = false;
	while (!s->done) {
		if (!s->open && !open_next_segment(r, s))
			return;
		struct seg *g = &s->segs[s->cur];
		if (s->off + sizeof(struct zri_jrec_hdr) > s->map_len ||
		    all_zero(s->map + s->off, sizeof(struct zri_jrec_hdr))) {
			/* end of data: zeros (or nothing) to the end, else damage */
			uint64_t at = s->off;
			bool clean = at >= s->map_len || all_zero(s->map + at, s->map_len - at);
			if (!clean) {
				damage(r, s, g->path, at, "garbage after the last record");
				if (s->done)
					return;
			}
			next_segment(s, clean ? at : 0);
			continue;
		}
		const char *why;
		const struct zri_jrec_hdr *h =
			record_at(s->map, s->map_len, s->off, g->stream, &why);
		if (h && h->type != ZR_JREC_PAD && h->lsn <= s->last_lsn) {
			h = NULL;
			why = "LSN does not increase";
		}
		if (!h) {
			uint64_t at = s->off;
			damage(r, s, g->path, at, why);
			if (s->done)
				return;
			/* resync: the next valid record in this segment, else the next segment */
			uint64_t o = at + ZRI_JREC_ALIGN;
			for (; o + sizeof(struct zri_jrec_hdr) <= s->map_len; o += ZRI_JREC_ALIGN) {
				const struct zri_jrec_hdr *n =
					record_at(s->map, s->map_len, o, g->stream, &why);
				if (n && (n->type == ZR_JREC_PAD || n->lsn > s->last_lsn))
					break;
			}
			if (o + sizeof(struct zri_jrec_hdr) > s->map_len) {
				next_segment(s, 0);
			} else {
				s->off = o;
			}
			continue;
		}
		uint64_t at = s->off;
		s->off += h->len;
		if (h->type == ZR_JREC_PAD)
			continue;
		s->have = true;
		s->rec = h;
		s->rec_off = at;
		s->last_lsn = h->lsn;
		s->seg_records++;
		s->seg_last_lsn = h->lsn;
		if (h->lsn > r->st.max_lsn)
			r->st.max_lsn = h->lsn;
		return;
	}
}

/* ---- opening ------------------------------------------------------------- */

static int cmp_seg(const void *x, const void *y)
{
	const struct seg *a = x, *b = y;
	if (a->stream != b->stream)
		return a->stream < b->stream ? -1 : 1;
	return a->segno < b->segno ? -1 : a->segno > b->segno;
}

/* Does g's header verify? One that verifies as a version 1 header (no
 * chain) sets g->old_version instead: the reader refuses to go on. */
static bool read_seg_header(struct seg *g)
{
	int fd = open(g->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = pread(fd, &g->hdr, sizeof(g->hdr), 0);
	close(fd);
	const struct zri_jseg_hdr *h = &g->hdr;
	if (n == (ssize_t)sizeof(*h) && h->magic == ZRI_JSEG_MAGIC && h->version == 1 &&
	    h->hdr_bytes == ZRI_JSEG_HDR_BYTES) {
		uint64_t sum;
		memcpy(&sum, (const uint8_t *)h + ZRI_JSEG_V1_SUM_AT, sizeof(sum));
		if (sum == XXH3_64bits(h, ZRI_JSEG_V1_SUM_AT))
			g->old_version = 1;
		return false;
	}
	return n == (ssize_t)sizeof(*h) && h->magic == ZRI_JSEG_MAGIC &&
	       h->version == ZRI_JSEG_VERSION && h->hdr_bytes == ZRI_JSEG_HDR_BYTES &&
	       h->checksum == XXH3_64bits(h, offsetof(struct zri_jseg_hdr, checksum)) &&
	       h->stream == g->stream && h->segno == g->segno &&
	       memchr(h->arena, 0, sizeof(h->arena));
}

/* Every segment file of `dir`, headers read, sorted. */
static int list_segments(const char *dir, struct seg **out, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct seg *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		unsigned st, sn;
		char tail[8];
		if (sscanf(e->d_name, "zj-%8x-%8x.%7s", &st, &sn, tail) != 3 ||
		    strcmp(tail, "zjl") != 0 || strlen(e->d_name) != 24)
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			struct seg *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		struct seg *g = &v[cnt++];
		memset(g, 0, sizeof(*g));
		snprintf(g->path, sizeof(g->path), "%s/%s", dir, e->d_name);
		g->stream = st;
		g->segno = sn;
		g->hdr_ok = read_seg_header(g);
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_seg);
	*out = v;
	*n = cnt;
	return 0;
}

int zr_jreader_open(const char *dir, uint64_t lineage, uint64_t from_lsn, unsigned flags,
		    zr_problem_fn fn, void *ctx, zr_jreader **out, zr_diag *diag)
{
	if (!dir || !out)
		return zri_diag_set(diag, -EINVAL, "journal reader: no directory");
	struct seg *segs = NULL;
	size_t n = 0;
	int rc = list_segments(dir, &segs, &n);
	if (rc)
		return zri_diag_set(diag, rc, "journal directory %s: %s", dir, strerror(-rc));
	if (!lineage) {
		for (size_t i = 0; i < n; i++) {
			if (!segs[i].hdr_ok)
				continue;
			if (lineage && segs[i].hdr.lineage != lineage) {
				free(segs);
				return zri_diag_set(diag, -EINVAL,
						    "%s holds the journals of several arenas "
						    "(lineages %016llx and %016llx): name one",
						    dir, (unsigned long long)lineage,
						    (unsigned long long)segs[i].hdr.lineage);
			}
			lineage = segs[i].hdr.lineage;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (segs[i].old_version && (!lineage || segs[i].hdr.lineage == lineage)) {
			rc = zri_diag_set(diag, ZR_EVERSION,
					  "%s: journal format version %u; this build reads version "
					  "%u only (a zring older than the segment chain wrote it)",
					  segs[i].path, segs[i].old_version, ZRI_JSEG_VERSION);
			free(segs);
			return rc;
		}
	}
	zr_jreader *r = calloc(1, sizeof(*r));
	if (!r) {
		free(segs);
		return -ENOMEM;
	}
	r->from_lsn = from_lsn;
	r->flags = flags;
	r->fn = fn;
	r->ctx = ctx;
	r->st.lineage = lineage;
	/* keep this lineage's segments (and unreadable ones: their stream's
	 * other segments say which lineage they belong to) */
	size_t keep = 0;
	for (size_t i = 0; i < n; i++) {
		bool mine = segs[i].hdr_ok ? segs[i].hdr.lineage == lineage : false;
		if (!segs[i].hdr_ok) {
			for (size_t k = 0; k < n; k++)
				if (segs[k].hdr_ok && segs[k].stream == segs[i].stream &&
				    segs[k].hdr.lineage == lineage)
					mine = true;
		}
		if (mine)
			segs[keep++] = segs[i];
	}
	n = keep;
	r->st.segments = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		if (segs[i].hdr_ok && !r->config.size)
			r->config = segs[i].hdr.config;
		if (!segs[i].hdr_ok)
			r->st.bad_segments++;
		if (segs[i].stream > r->st.max_stream)
			r->st.max_stream = segs[i].stream;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && segs[j].stream == segs[i].stream)
			j++;
		struct stream *ns = realloc(r->streams, (r->nstreams + 1) * sizeof(*ns));
		struct seg *part = malloc((j - i) * sizeof(*part));
		if (!ns || !part) {
			free(part);
			if (ns)
				r->streams = ns;
			free(segs);
			zr_jreader_close(r);
			return -ENOMEM;
		}
		r->streams = ns;
		memcpy(part, segs + i, (j - i) * sizeof(*part));
		r->streams[r->nstreams++] = (struct stream){.segs = part, .nsegs = j - i};
		i = j;
	}
	free(segs);
	r->st.streams = (uint32_t)r->nstreams;
	for (size_t i = 0; i < r->nstreams; i++)
		advance(r, &r->streams[i]);
	*out = r;
	return 0;
}

/* ---- decoding --------------------------------------------------------------- */

static void decode(const struct stream *s, const struct zri_jrec_hdr *h, uint64_t off, zr_jrec *out)
{
	const struct seg *g = &s->segs[s->cur];
	memset(out, 0, sizeof(*out));
	out->lsn = h->lsn;
	out->type = h->type;
	out->stream = h->stream;
	out->file = g->path;
	out->offset = off;
	const uint8_t *p = (const uint8_t *)h + sizeof(*h);
	if (h->type == ZR_JREC_AGENT) {
		struct zri_jrec_agent ag;
		memcpy(&ag, p, sizeof(ag));
		out->agent_id = ag.id;
		out->agent_kind = ag.kind;
		out->agent_on_death = ag.on_death;
		memcpy(out->agent_name, ag.name, ZR_AGENT_NAME_MAX);
		out->agent_name[ZR_AGENT_NAME_MAX] = 0;
		out->time_ns = g->hdr.mono_ns;
		out->wall_ns = g->hdr.real_ns;
		return;
	}
	struct zri_jrec_job b;
	memcpy(&b, p, sizeof(b));
	p += sizeof(b);
	zr_job_info *j = &out->job;
	out->time_ns = b.time_ns;
	out->wall_ns = g->hdr.real_ns + (b.time_ns - g->hdr.mono_ns);
	memcpy(j->uuid, b.uuid, 16);
	j->id = b.id;
	j->type = (uint32_t)(b.kind & 0xff);
	j->prio = (uint32_t)(b.kind >> 8) & 0xff;
	j->flags = (uint32_t)(b.kind >> 16) & 0xffff;
	j->max_retries = (uint32_t)(b.kind >> 32) & 0xffff;
	j->retries = (uint32_t)(b.kind >> 48) & 0xffff;
	j->source = (uint32_t)b.agents;
	j->target = (uint32_t)(b.agents >> 32);
	j->status = b.status;
	j->attempt = b.attempt;
	j->holder = b.holder;
	j->due_ns = b.due_ns;
	j->claim_ns = b.claim_ns;
	j->finish_ns = b.finish_ns;
	j->expire_ns = b.expire_ns;
	if (b.extra & ZRI_JX_SUBMIT) {
		struct zri_jrec_submit sub;
		memcpy(&sub, p, sizeof(sub));
		p += sizeof(sub);
		j->submit_ns = sub.submit_ns;
		j->interval_ns = sub.interval_ns;
		j->backoff_ns = (sub.backoff & 0xffffffffu) * 1000;
		j->backoff_max_ns = (sub.backoff >> 32) * 1000;
		j->payload_len = sub.payload_len;
		out->ttl_ns = sub.ttl_ns;
		out->lease_ns = sub.lease_ns;
		memcpy(j->type_name, sub.type_name, ZR_JOB_TYPE_NAME_MAX);
		memcpy(j->meta, sub.meta, ZR_JOB_META_BYTES);
		j->meta[ZR_JOB_META_BYTES - 1] = 0;
	}
	if (b.extra & ZRI_JX_ERROR) {
		memcpy(j->error, p, ZR_JOB_ERROR_MAX);
		p += ZR_JOB_ERROR_MAX + 1;
	}
	if (h->type == ZR_JREC_COMPLETE)
		j->result_len = b.data_len;
	out->data = b.data_len ? p : NULL;
	out->data_len = b.data_len;
}

int zr_jreader_next(zr_jreader *r, zr_jrec *out)
{
	if (!r || !out)
		return -EINVAL;
	for (;;) {
		struct stream *best = NULL;
		for (size_t i = 0; i < r->nstreams; i++) {
			struct stream *s = &r->streams[i];
			if (s->have && (!best || s->rec->lsn < best->rec->lsn))
				best = s;
		}
		if (!best)
			return 0;
		uint64_t lsn = best->rec->lsn;
		if (r->st.rollback_lsn && lsn >= r->st.rollback_lsn) {
			/* count what is left, apply none of it */
			for (size_t i = 0; i < r->nstreams; i++)
				for (struct stream *s = &r->streams[i]; s->have; advance(r, s))
					r->st.not_applied += s->rec->lsn >= r->st.rollback_lsn;
			return 0;
		}
		if (lsn < r->from_lsn) {
			r->st.skipped++;
			advance(r, best);
			continue;
		}
		decode(best, best->rec, best->rec_off, out);
		r->st.records++;
		if (out->data_len) {
			/* copied: advancing may unmap the segment it lies in */
			if (out->data_len > r->data_cap) {
				uint8_t *nb = realloc(r->data, out->data_len);
				if (!nb)
					return -ENOMEM;
				r->data = nb;
				r->data_cap = out->data_len;
			}
			memcpy(r->data, out->data, out->data_len);
			out->data = r->data;
		}
		advance(r, best);
		return 1;
	}
}

void zri_jreader_config(const zr_jreader *r, struct zri_config_copy *out)
{
	*out = r->config;
}

bool zri_jreader_from_start(const zr_jreader *r, uint32_t *stream, uint32_t *segno)
{
	for (size_t i = 0; i < r->nstreams; i++) {
		const struct seg *g = &r->streams[i].segs[0];
		if (g->segno != 0) {
			*stream = g->stream;
			*segno = g->segno;
			return false;
		}
	}
	return true;
}

void zr_jreader_stats_get(const zr_jreader *r, zr_jreader_stats *out)
{
	*out = r->st;
}

void zr_jreader_close(zr_jreader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nstreams; i++) {
		unmap(&r->streams[i]);
		free(r->streams[i].segs);
	}
	free(r->streams);
	free(r->data);
	free(r);
}

const char *zr_jrec_type_name(uint32_t type)
{
	static const char *const names[] = {"pad",   "submit",	"claim",  "complete", "fail",
					    "retry", "requeue", "cancel", "expire",   "release"};
	if (type < sizeof(names) / sizeof(names[0]))
		return names[type];
	return type == ZR_JREC_AGENT ? "agent" : "?";
}

/* ---- retention ----------------------------------------------------------- */

static uint64_t max_lsn_of(const struct seg *g)
{
	struct stream s = {0};
	struct seg copy = *g;
	if (map_segment(&s, &copy) != 0)
		return UINT64_MAX;
	uint64_t max = 0;
	for (uint64_t o = ZRI_JSEG_HDR_BYTES; o + sizeof(struct zri_jrec_hdr) <= s.map_len;) {
		const char *why;
		const struct zri_jrec_hdr *h = record_at(s.map, s.map_len, o, g->stream, &why);
		if (!h)
			break;
		if (h->lsn > max)
			max = h->lsn;
		o += h->len;
	}
	unmap(&s);
	return max;
}

uint64_t zri_journal_trim(const char *dir, uint64_t lineage, uint64_t below)
{
	struct seg *segs;
	size_t n;
	if (list_segments(dir, &segs, &n) != 0)
		return 0;
	uint64_t removed = 0;
	for (size_t i = 0; i < n; i++) {
		struct seg *g = &segs[i];
		if (!g->hdr_ok || g->hdr.lineage != lineage)
			continue;
		bool newest = i + 1 == n || segs[i + 1].stream != g->stream;
		if (newest && (kill((pid_t)g->hdr.pid, 0) == 0 || errno != ESRCH))
			continue; /* its writer may still append to it */
		if (max_lsn_of(g) < below && unlink(g->path) == 0)
			removed++;
	}
	free(segs);
	return removed;
}
