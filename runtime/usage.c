/*
 * usage.c - per-tenant usage counters; see usage.h.
 *
 * The counters since boot are atomics: the tenant's in one array, each
 * provider's in a node of a list that only grows (pushed under the mutex,
 * read without it) and is freed at close. The file's totals are read once
 * at open into `base` (never changed after), so every total is base plus
 * the counters since boot; the file is rewritten with those at most once a
 * second (by whichever rt_usage_add finds the mutex free) and at close:
 *   {"tenant","since","turns","llm_requests","llm_failures",
 *    "input_tokens","output_tokens","providers":{NAME:{...same...}}}
 */
#include "usage.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/file.h"
#include "claw/log.h"

/* Ceiling on DATA/usage.json (a few hundred bytes a provider). */
#define USAGE_FILE_MAX (1u << 20)

/* A provider's counters, and their names since boot and in the file. */
enum {
	P_REQUESTS,
	P_ERRORS,
	P_INPUT,
	P_OUTPUT,
	P_COUNTERS
};
static const char *const prov_key[P_COUNTERS] = {
	"requests", "errors", "input_tokens", "output_tokens"};
static const char *const total_key[P_COUNTERS] = {
	"llm_requests", "llm_failures", "input_tokens", "output_tokens"};
static const char *const event_key[RT_USAGE_EVENTS] = {
	"turns",      "messages_in", "messages_out",
	"tool_calls", "tool_errors", "turn_ms"};

struct prov {
	struct prov *next;
	atomic_llong c[P_COUNTERS];
	char name[];
};

struct rt_usage {
	pthread_mutex_t mu; /* new providers; one saver at a time */
	char *path;
	char *tenant;
	json_t *base; /* the file's totals at open (read-only after) */
	char boot_id[33];
	char started_at[32];
	atomic_llong ev[RT_USAGE_EVENTS];
	_Atomic(struct prov *) provs;
	atomic_llong saved; /* time() of the last save */
	atomic_bool dirty;  /* changes not yet in the file */
};

static void rfc3339_now(char *out, size_t n)
{
	time_t now = time(NULL);
	struct tm tm;
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
}

/* The file's totals, or fresh ones since now. */
static json_t *base_load(const char *path, const char *now)
{
	json_error_t jerr;
	char ferr[300], *text = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	if (claw_file_load(path, USAGE_FILE_MAX, &text, &len, ferr,
			   sizeof(ferr)) == CLAW_OK)
		doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(doc) ||
	    !json_is_object(json_object_get(doc, "providers"))) {
		json_decref(doc);
		doc = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:{}}", "since",
				now, "turns", 0, "llm_requests", 0,
				"llm_failures", 0, "input_tokens", 0,
				"output_tokens", 0, "providers");
	}
	/* only the totals are kept: the rest is this boot's */
	json_object_del(doc, "boot_id");
	json_object_del(doc, "started_at");
	json_object_del(doc, "tenants");
	return doc;
}

enum claw_rc rt_usage_open(const char *path, const char *tenant,
			   struct rt_usage **out)
{
	struct rt_usage *u = calloc(1, sizeof(*u));
	if (!u || !(u->path = strdup(path)) || !(u->tenant = strdup(tenant))) {
		if (u)
			free(u->path);
		free(u);
		return CLAW_ERR_NOMEM;
	}
	rfc3339_now(u->started_at, sizeof(u->started_at));
	if (!(u->base = base_load(path, u->started_at)) ||
	    json_object_set_new(u->base, "tenant", json_string(tenant))) {
		json_decref(u->base);
		free(u->tenant);
		free(u->path);
		free(u);
		return CLAW_ERR_NOMEM;
	}
	claw_random_hex(16, u->boot_id);
	pthread_mutex_init(&u->mu, NULL);
	*out = u;
	return CLAW_OK;
}

/* The provider's node, added on first sight; NULL without memory. */
static struct prov *prov_get(struct rt_usage *u, const char *name)
{
	struct prov *p;
	for (p = atomic_load(&u->provs); p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	pthread_mutex_lock(&u->mu);
	for (p = atomic_load(&u->provs); p; p = p->next)
		if (strcmp(p->name, name) == 0)
			break;
	size_t len = strlen(name);
	if (!p && (p = calloc(1, sizeof(*p) + len + 1)) != NULL) {
		memcpy(p->name, name, len + 1);
		p->next = atomic_load(&u->provs);
		atomic_store(&u->provs, p);
	}
	pthread_mutex_unlock(&u->mu);
	return p;
}

/* n added to o[key] (a missing or non-integer value counts as 0). */
static void bump(json_t *o, const char *key, long long n)
{
	json_t *v = json_object_get(o, key);
	json_int_t cur = json_is_integer(v) ? json_integer_value(v) : 0;
	json_object_set_new(o, key, json_integer(cur + n));
}

/* The totals in the file's shape: base plus the counters since boot. */
static json_t *totals(struct rt_usage *u)
{
	json_t *doc = json_deep_copy(u->base);
	json_t *provs = json_object_get(doc, "providers");
	if (!doc)
		return NULL;
	bump(doc, "turns", atomic_load(&u->ev[RT_USAGE_TURNS]));
	for (struct prov *p = atomic_load(&u->provs); p; p = p->next) {
		json_t *po = json_object_get(provs, p->name);
		if (!po) {
			po = json_object();
			json_object_set_new(provs, p->name, po);
		}
		for (int i = 0; i < P_COUNTERS; i++) {
			long long n = atomic_load(&p->c[i]);
			bump(doc, total_key[i], n);
			bump(po, total_key[i], n);
		}
	}
	return doc;
}

/* Under u->mu. */
static void usage_save(struct rt_usage *u, time_t now)
{
	char tmp[4200];
	atomic_store(&u->saved, (long long)now);
	atomic_store(&u->dirty, false);
	json_t *doc = totals(u);
	snprintf(tmp, sizeof(tmp), "%s.tmp", u->path);
	if (!doc || json_dump_file(doc, tmp, JSON_COMPACT) ||
	    rename(tmp, u->path)) {
		log_warn("usage: unable to save '%s'", u->path);
		unlink(tmp);
		atomic_store(&u->dirty, true);
	}
	json_decref(doc);
}

void rt_usage_close(struct rt_usage *u)
{
	if (!u)
		return;
	if (atomic_load(&u->dirty))
		usage_save(u, time(NULL));
	struct prov *p = atomic_load(&u->provs), *next;
	for (; p; p = next) {
		next = p->next;
		free(p);
	}
	json_decref(u->base);
	pthread_mutex_destroy(&u->mu);
	free(u->tenant);
	free(u->path);
	free(u);
}

void rt_usage_add(struct rt_usage *u, const char *provider, long in_tokens,
		  long out_tokens, bool ok)
{
	struct prov *p = prov_get(u, provider ? provider : "unknown");
	if (p) {
		atomic_fetch_add(&p->c[P_REQUESTS], 1);
		if (!ok)
			atomic_fetch_add(&p->c[P_ERRORS], 1);
		atomic_fetch_add(&p->c[P_INPUT], in_tokens);
		atomic_fetch_add(&p->c[P_OUTPUT], out_tokens);
	}
	atomic_store(&u->dirty, true);
	/* At most once a second, by a caller that finds the mutex free. */
	time_t now = time(NULL);
	if ((long long)now != atomic_load(&u->saved) &&
	    pthread_mutex_trylock(&u->mu) == 0) {
		if ((long long)now != atomic_load(&u->saved))
			usage_save(u, now);
		pthread_mutex_unlock(&u->mu);
	}
}

void rt_usage_count(struct rt_usage *u, enum rt_usage_event what, long n)
{
	if ((unsigned)what >= RT_USAGE_EVENTS)
		return;
	atomic_fetch_add(&u->ev[what], n);
	if (what == RT_USAGE_TURNS)
		atomic_store(&u->dirty, true);
}

void rt_usage_turn(struct rt_usage *u)
{
	rt_usage_count(u, RT_USAGE_TURNS, 1);
}

/* {"<tenant>":{turns..., "providers":{NAME:{requests...}}}} */
static json_t *since_boot(struct rt_usage *u)
{
	json_t *t = json_object(), *provs = json_object();
	json_t *tenants = json_object();
	for (int i = 0; i < RT_USAGE_EVENTS; i++)
		json_object_set_new(t, event_key[i],
				    json_integer(atomic_load(&u->ev[i])));
	for (struct prov *p = atomic_load(&u->provs); p; p = p->next) {
		json_t *po = json_object();
		for (int i = 0; i < P_COUNTERS; i++)
			json_object_set_new(
				po, prov_key[i],
				json_integer(atomic_load(&p->c[i])));
		json_object_set_new(provs, p->name, po);
	}
	json_object_set_new(t, "providers", provs);
	json_object_set_new(tenants, u->tenant, t);
	return tenants;
}

json_t *rt_usage_json(struct rt_usage *u)
{
	json_t *doc = totals(u);
	if (doc &&
	    json_object_update_new(doc,
				   json_pack("{s:s, s:s, s:o}", "boot_id",
					     u->boot_id, "started_at",
					     u->started_at, "tenants",
					     since_boot(u)))) {
		json_decref(doc);
		doc = NULL;
	}
	return doc;
}

const char *rt_usage_boot_id(const struct rt_usage *u)
{
	return u->boot_id;
}
