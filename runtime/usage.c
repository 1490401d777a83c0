/*
 * usage.c - per-tenant token accounting; see usage.h. The totals are one
 * JSON object guarded by a mutex, written to disk at most once a second
 * and at close:
 *   {"tenant","since","turns","llm_requests","llm_failures",
 *    "input_tokens","output_tokens","providers":{NAME:{...same...}}}
 */
#include "usage.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/file.h"
#include "claw/log.h"

/* Ceiling on DATA/usage.json (a few hundred bytes a provider). */
#define USAGE_FILE_MAX (1u << 20)

struct rt_usage {
	pthread_mutex_t mu;
	char *path;
	json_t *doc;
	time_t saved; /* when the file was last written */
	bool dirty;   /* changes not yet in the file */
};

static void bump(json_t *o, const char *key, long by)
{
	json_t *v = json_object_get(o, key);
	json_int_t cur = json_is_integer(v) ? json_integer_value(v) : 0;
	json_object_set_new(o, key, json_integer(cur + by));
}

enum claw_rc rt_usage_open(const char *path, const char *tenant,
			   struct rt_usage **out)
{
	struct rt_usage *u = calloc(1, sizeof(*u));
	json_error_t jerr;
	char ferr[300], *text = NULL;
	size_t len = 0;
	if (!u || !(u->path = strdup(path))) {
		free(u);
		return CLAW_ERR_NOMEM;
	}
	pthread_mutex_init(&u->mu, NULL);
	if (claw_file_load(path, USAGE_FILE_MAX, &text, &len, ferr,
			   sizeof(ferr)) == CLAW_OK)
		u->doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(u->doc)) {
		char since[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ",
			 gmtime_r(&now, &tm));
		json_decref(u->doc);
		u->doc = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:{}}",
				   "since", since, "turns", 0, "llm_requests",
				   0, "llm_failures", 0, "input_tokens", 0,
				   "output_tokens", 0, "providers");
	}
	json_object_set_new(u->doc, "tenant", json_string(tenant));
	*out = u;
	return CLAW_OK;
}

static void usage_save(struct rt_usage *u)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", u->path);
	if (json_dump_file(u->doc, tmp, JSON_COMPACT) || rename(tmp, u->path)) {
		log_warn("usage: unable to save '%s'", u->path);
		unlink(tmp);
	}
	u->saved = time(NULL);
	u->dirty = false;
}

void rt_usage_close(struct rt_usage *u)
{
	if (!u)
		return;
	if (u->dirty)
		usage_save(u);
	json_decref(u->doc);
	pthread_mutex_destroy(&u->mu);
	free(u->path);
	free(u);
}

void rt_usage_add(struct rt_usage *u, const char *provider, long in_tokens,
		  long out_tokens, bool ok)
{
	pthread_mutex_lock(&u->mu);
	json_t *provs = json_object_get(u->doc, "providers");
	json_t *p = json_object_get(provs, provider);
	if (!p) {
		p = json_object();
		json_object_set_new(provs, provider, p);
	}
	json_t *targets[2] = {u->doc, p};
	for (int i = 0; i < 2; i++) {
		bump(targets[i], "llm_requests", 1);
		bump(targets[i], "llm_failures", ok ? 0 : 1);
		bump(targets[i], "input_tokens", in_tokens);
		bump(targets[i], "output_tokens", out_tokens);
	}
	u->dirty = true;
	if (time(NULL) != u->saved) /* at most once a second */
		usage_save(u);
	pthread_mutex_unlock(&u->mu);
}

void rt_usage_turn(struct rt_usage *u)
{
	pthread_mutex_lock(&u->mu);
	bump(u->doc, "turns", 1);
	pthread_mutex_unlock(&u->mu);
}

json_t *rt_usage_json(struct rt_usage *u)
{
	pthread_mutex_lock(&u->mu);
	json_t *copy = json_deep_copy(u->doc);
	pthread_mutex_unlock(&u->mu);
	return copy;
}
