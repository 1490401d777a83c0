/*
 * usage.c - usage deltas from the runtimes' cumulative counters, kept on
 * disk until the control plane took them; see usage.h.
 */
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "claw/file.h"
#include "claw/log.h"

static const char *const counters[] = {
	"turns",   "messages_in", "messages_out", "tool_calls", "tool_errors",
	"turn_ms", NULL};
static const char *const provider_counters[] = {
	"requests", "errors", "input_tokens", "output_tokens", NULL};

#define COUNTER_MAX ((json_int_t)1 << 53)

/* o[k] as a counter: a non-negative integer below 2^53, else 0. */
static json_int_t counter(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;
	return n < 0 || n >= COUNTER_MAX ? 0 : n;
}

static bool valid_provider(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= 64 &&
		strspn(s,
		       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789_.:-") == n;
}

/* The known counters of o, each checked (new reference). */
static json_t *pick(const json_t *o, const char *const *names)
{
	json_t *out = json_object();
	for (; out && *names; names++)
		json_object_set_new(out, *names,
				    json_integer(counter(o, *names)));
	return out;
}

/* A tenant's entry of the runtime's answer, cleaned: the known counters
 * and at most NA_USAGE_PROVIDERS well-named providers (new reference). */
static json_t *clean(const json_t *t)
{
	json_t *out = pick(t, counters), *ps = json_object(), *p;
	const char *name;
	size_t n = 0;
	json_object_foreach(json_object_get(t, "providers"), name, p) {
		if (n >= NA_USAGE_PROVIDERS || !valid_provider(name) ||
		    !json_is_object(p))
			continue;
		json_object_set_new(ps, name, pick(p, provider_counters));
		n++;
	}
	json_object_set_new(out, "providers", ps);
	return out;
}

/* out[f] = cur[f] - prev[f] for each name (prev NULL: from 0); false
 * when one went down. *any: one is not 0. */
static bool sub(json_t *out, const json_t *cur, const json_t *prev,
		const char *const *names, bool *any)
{
	for (; *names; names++) {
		json_int_t d = counter(cur, *names) - counter(prev, *names);
		if (d < 0)
			return false;
		json_object_set_new(out, *names, json_integer(d));
		*any |= d != 0;
	}
	return true;
}

/* cur - prev, providers that did not change left out (new reference);
 * NULL when a counter went down or a provider vanished. */
static json_t *delta(const json_t *cur, const json_t *prev, bool *any)
{
	json_t *out = json_object(), *ps = json_object(), *p;
	const json_t *prev_ps = json_object_get(prev, "providers");
	const json_t *cur_ps = json_object_get(cur, "providers");
	const char *name;
	bool ok;
	*any = false;
	ok = sub(out, cur, prev, counters, any);
	json_object_foreach((json_t *)cur_ps, name, p) {
		json_t *c = json_object();
		bool changed = false;
		ok = ok &&
			sub(c, p, json_object_get(prev_ps, name),
			    provider_counters, &changed);
		if (changed)
			json_object_set(ps, name, c);
		*any |= changed;
		json_decref(c);
	}
	json_object_foreach((json_t *)prev_ps, name, p)
		ok = ok && json_object_get(cur_ps, name) != NULL;
	json_object_set_new(out, "providers", ps);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Queue report d (consumed) of tenant's deployment at at, with a fresh
 * id; the oldest go past NA_USAGE_PENDING. */
static void queue_report(struct na_usage *u, json_t *d, const char *tenant,
			 const char *deployment, const char *at)
{
	unsigned char raw[16];
	char id[2 * sizeof(raw) + 1];
	json_object_set_new(d, "tenant", json_string(tenant));
	json_object_set_new(d, "deployment", json_string(deployment));
	json_object_set_new(d, "at", json_string(at));
	/* The id travels with the report when it is sent again after a lost
	 * answer, so the control plane counts it once. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, sizeof(id), raw, sizeof(raw));
	json_object_set_new(d, "id", json_string(id));
	json_array_append_new(u->pending, d);
	while (json_array_size(u->pending) > NA_USAGE_PENDING) {
		json_array_remove(u->pending, 0);
		if (u->dropped++ % 1000 == 0)
			log_warn("usage reports not taken by the control plane "
				 "pile up: %lu of the oldest dropped",
				 u->dropped + 1);
	}
}

bool na_usage_observe_refusals(struct na_usage *u, const char *tenant,
			       const char *deployment, long long total,
			       const char *at)
{
	json_t *seen = json_object_get(u->last, NA_USAGE_REFUSALS_KEY);
	json_t *prev_v = json_object_get(seen, tenant);
	long long prev =
		json_is_integer(prev_v) ? json_integer_value(prev_v) : 0;
	long long d;
	if (total < 0 || total >= COUNTER_MAX)
		return false;
	if (!json_is_object(seen)) {
		seen = json_object();
		if (!seen ||
		    json_object_set_new(u->last, NA_USAGE_REFUSALS_KEY, seen))
			return false;
	}
	/* a total that went down: a new data volume, counted from 0 */
	d = total >= prev ? total - prev : total;
	json_object_set_new(seen, tenant, json_integer(total));
	if (d == 0)
		return total != prev;
	queue_report(u,
		     json_pack("{s:I, s:{}}", "quota_refusals", (json_int_t)d,
			       "providers"),
		     tenant, deployment, at);
	return true;
}

bool na_usage_observe(struct na_usage *u, const char *tenant,
		      const char *deployment, const json_t *doc, const char *at)
{
	const char *boot = json_string_value(json_object_get(doc, "boot_id"));
	const json_t *last = json_object_get(u->last, tenant);
	const char *last_boot =
		json_string_value(json_object_get(last, "boot_id"));
	json_t *cur, *d;
	bool any;
	if (!boot || !boot[0] || strlen(boot) > 128)
		return false;
	cur = clean(json_object_get(json_object_get(doc, "tenants"), tenant));
	/* Another boot: its counters began at 0. */
	d = delta(cur,
		  last_boot && !strcmp(last_boot, boot)
			  ? json_object_get(last, "counters")
			  : NULL,
		  &any);
	if (!d) {
		log_warn("tenant '%s': the runtime's usage counters went down "
			 "in one boot; counted from 0",
			 tenant);
		d = delta(cur, NULL, &any);
	}
	json_object_set_new(
		u->last, tenant,
		json_pack("{s:s, s:o}", "boot_id", boot, "counters", cur));
	if (!d || !any) {
		json_decref(d);
		return false;
	}
	queue_report(u, d, tenant, deployment, at);
	return true;
}

json_t *na_usage_body(const struct na_usage *u, size_t max, size_t *n)
{
	json_t *reports;
	size_t k = json_array_size(u->pending);
	*n = k < max ? k : max;
	if (!*n)
		return NULL;
	reports = json_array();
	for (size_t i = 0; reports && i < *n; i++)
		json_array_append(reports, json_array_get(u->pending, i));
	return json_pack("{s:o}", "reports", reports);
}

void na_usage_sent(struct na_usage *u, size_t n)
{
	while (n-- && json_array_size(u->pending))
		json_array_remove(u->pending, 0);
}

enum claw_rc na_usage_load(struct na_usage *u, const char *state_dir)
{
	char err[512], *text = NULL;
	size_t len;
	json_t *doc = NULL;
	memset(u, 0, sizeof(*u));
	snprintf(u->path, sizeof(u->path), "%s/usage.json", state_dir);
	if (claw_file_load(u->path, NA_USAGE_FILE_MAX, &text, &len, err,
			   sizeof(err)) == CLAW_OK) {
		doc = json_loadb(text, len, 0, NULL);
		free(text);
		if (!json_is_object(json_object_get(doc, "last")) ||
		    !json_is_array(json_object_get(doc, "pending")))
			log_warn("'%s' is not a usage file; starting afresh",
				 u->path);
	} else if (errno != ENOENT) {
		log_warn("%s; usage starts afresh", err);
	}
	u->last = json_incref(json_object_get(doc, "last"));
	u->pending = json_incref(json_object_get(doc, "pending"));
	json_decref(doc);
	if (!json_is_object(u->last) || !json_is_array(u->pending)) {
		json_decref(u->last);
		json_decref(u->pending);
		u->last = json_object();
		u->pending = json_array();
	}
	return u->last && u->pending ? CLAW_OK : CLAW_ERR_NOMEM;
}

enum claw_rc na_usage_save(const struct na_usage *u)
{
	char tmp[1200];
	json_t *doc =
		json_pack("{s:O, s:O}", "last", u->last, "pending", u->pending);
	int fd;
	bool ok;
	snprintf(tmp, sizeof(tmp), "%s.new", u->path);
	fd = doc ? open(tmp,
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
			0600)
		 : -1;
	ok = fd >= 0 && json_dumpfd(doc, fd, JSON_COMPACT) == 0 &&
		fsync(fd) == 0;
	if (fd >= 0)
		ok = close(fd) == 0 && ok;
	ok = ok && rename(tmp, u->path) == 0;
	json_decref(doc);
	if (!ok) {
		log_warn("unable to save usage to '%s': %s", u->path,
			 strerror(errno));
		unlink(tmp);
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

void na_usage_release(struct na_usage *u)
{
	json_decref(u->last);
	json_decref(u->pending);
	u->last = u->pending = NULL;
}
