/* JSON output: one object per command, keys in snake_case, led by the
 * schema version so that scripts can tell what they read. */
#include <string.h>

#include "cli.h"

json_t *json_doc(const char *command)
{
	json_t *d = json_object();
	json_object_set_new(d, "schema", json_string(CLI_SCHEMA));
	json_object_set_new(d, "command", json_string(command));
	return d;
}

void json_emit(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	json_decref(doc);
}

json_t *json_u64(uint64_t v)
{
	/* json_int_t is long long: counters stay exact up to 2^63 */
	return json_integer((json_int_t)v);
}

json_t *json_text(const char *s)
{
	/* text from shared memory may be anything: keep printable ASCII */
	char buf[512];
	size_t n = 0;
	for (; s[n] && n < sizeof(buf) - 1; n++)
		buf[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
	buf[n] = 0;
	return json_string(buf);
}

json_t *json_hist(const zr_hist *h)
{
	json_t *o = json_object();
	json_object_set_new(o, "count", json_u64(h->count));
	json_object_set_new(o, "mean_ns", json_u64(h->count ? h->sum / h->count : 0));
	json_object_set_new(o, "p50_ns", json_u64(zr_hist_percentile(h, 50)));
	json_object_set_new(o, "p90_ns", json_u64(zr_hist_percentile(h, 90)));
	json_object_set_new(o, "p99_ns", json_u64(zr_hist_percentile(h, 99)));
	json_object_set_new(o, "p999_ns", json_u64(zr_hist_percentile(h, 99.9)));
	json_object_set_new(o, "max_ns", json_u64(h->max));
	return o;
}

/* Metadata pairs "k\0v\0...\0\0" as an object. */
static json_t *json_meta(const char meta[ZR_JOB_META_BYTES])
{
	json_t *o = json_object();
	char key[ZR_JOB_META_BYTES], val[ZR_JOB_META_BYTES];
	for (size_t pos = 0; meta_next(meta, &pos, key, val);) {
		json_t *jk = json_text(key);
		json_object_set_new(o, json_string_value(jk), json_text(val));
		json_decref(jk);
	}
	return o;
}

static json_t *json_stamp(uint64_t stamp, uint64_t now)
{
	return stamp ? json_u64(now > stamp ? now - stamp : 0) : json_null();
}

json_t *json_job(const zr_job_info *j, const char *source, const char *target, const char *holder,
		 uint64_t now)
{
	char uuid[37];
	uuid_text(j->uuid, uuid);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_u64(j->id));
	json_object_set_new(o, "index", json_u64((j->id & 0xffffffffu) - 1));
	json_object_set_new(o, "generation", json_u64(j->id >> 32));
	json_object_set_new(o, "uuid", json_string(uuid));
	json_object_set_new(o, "status", json_string(zr_job_status_name(j->status)));
	json_object_set_new(o, "priority", json_string(zr_prio_name(j->prio)));
	json_object_set_new(o, "type",
			    json_text(j->type == ZR_JOB_CUSTOM && j->type_name[0]
					      ? j->type_name
					      : zr_job_type_name(j->type)));
	json_object_set_new(o, "source", json_text(source));
	json_object_set_new(o, "target", json_text(target));
	json_object_set_new(o, "holder", holder ? json_text(holder) : json_null());
	json_object_set_new(o, "retries", json_u64(j->retries));
	json_object_set_new(o, "max_retries", json_u64(j->max_retries));
	json_object_set_new(o, "attempt", json_u64(j->attempt));
	json_object_set_new(o, "flags", json_u64(j->flags));
	json_object_set_new(o, "payload", json_u64(j->payload.v));
	json_object_set_new(o, "payload_bytes", json_u64(j->payload_len));
	json_object_set_new(o, "result", json_u64(j->result.v));
	json_object_set_new(o, "result_bytes", json_u64(j->result_len));
	json_object_set_new(o, "age_ns", json_stamp(j->submit_ns, now));
	json_object_set_new(o, "since_claim_ns", json_stamp(j->claim_ns, now));
	json_object_set_new(o, "since_finish_ns", json_stamp(j->finish_ns, now));
	json_object_set_new(o, "expires_in_ns",
			    json_integer(j->expire_ns ? (json_int_t)(j->expire_ns - now) : 0));
	json_object_set_new(o, "due_in_ns",
			    json_integer(j->due_ns ? (json_int_t)(j->due_ns - now) : 0));
	json_object_set_new(o, "interval_ns", json_u64(j->interval_ns));
	json_object_set_new(o, "backoff_ns", json_u64(j->backoff_ns));
	json_object_set_new(o, "backoff_max_ns", json_u64(j->backoff_max_ns));
	json_object_set_new(o, "meta", json_meta(j->meta));
	json_object_set_new(o, "error", json_text(j->error));
	return o;
}
