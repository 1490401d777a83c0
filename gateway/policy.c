/*
 * policy.c - the tenant's per-channel policies for inbound messages:
 * group messages only when the bot is mentioned (or all, or none); direct
 * messages open, allow-listed, or by pairing (an unknown sender gets a
 * one-time code; the owner approves it through the control plane, and the
 * node agent writes the sender into allow_from and sends SIGHUP); maximum
 * message size; a per-sender token-bucket rate limit that refuses once
 * politely and then drops silently until the bucket refills.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"

#define PAIRING_TTL_S 3600
#define RATE_PRUNE_AT 10000

struct bucket {
	double tokens, last;
	bool warned;
};

struct pairing {
	char code[10];
	char *channel, *sender_id, *sender_name;
	long long created;
};

struct gw_policy {
	pthread_mutex_t mu;
	struct gw_map *rate;    /* "channel:sender" -> struct bucket */
	struct gw_map *pairing; /* "channel:sender" -> struct pairing */
};

static void pairing_free(void *p)
{
	struct pairing *e = p;
	if (!e)
		return;
	free(e->channel);
	free(e->sender_id);
	free(e->sender_name);
	free(e);
}

enum claw_rc gw_policy_new(struct gw_policy **out)
{
	struct gw_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return CLAW_ERR_NOMEM;
	pthread_mutex_init(&p->mu, NULL);
	p->rate = gw_map_new();
	p->pairing = gw_map_new();
	if (!p->rate || !p->pairing) {
		gw_policy_free(p);
		return CLAW_ERR_NOMEM;
	}
	*out = p;
	return CLAW_OK;
}

void gw_policy_free(struct gw_policy *p)
{
	if (!p)
		return;
	gw_map_free(p->rate, free);
	gw_map_free(p->pairing, pairing_free);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static void new_code(char out[10])
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (int i = 0, o = 0; i < 8; i++) {
		if (i == 4)
			out[o++] = '-';
		out[o++] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	}
	out[9] = '\0';
}

/* The code for this sender (reused while it is fresh). mu held. */
static const char *pairing_code(struct gw_policy *p, const char *key,
				const json_t *env)
{
	long long now = gw_unix_now();
	struct pairing *e = gw_map_get(p->pairing, key);
	if (e && now - e->created < PAIRING_TTL_S)
		return e->code;
	if (!e) {
		const json_t *sender = json_object_get(env, "sender");
		const char *name = gw_json_str(sender, "name");
		e = calloc(1, sizeof(*e));
		if (!e)
			return NULL;
		e->channel = strdup(gw_env_str(env, "channel"));
		e->sender_id = strdup(gw_json_str(sender, "id"));
		e->sender_name = strdup(name ? name : "");
		if (!e->channel || !e->sender_id || !e->sender_name ||
		    gw_map_put(p->pairing, key, e, NULL)) {
			pairing_free(e);
			return NULL;
		}
	}
	new_code(e->code);
	e->created = now;
	return e->code;
}

static bool prune_full(const char *key, void *val, void *cls)
{
	(void)key;
	struct bucket *b = val;
	if (gw_now() - b->last > *(double *)cls) {
		free(b);
		return true;
	}
	return false;
}

/* Take one token; false when the sender is over the limit. mu held. */
static bool rate_take(struct gw_policy *p, const char *key, long per_min,
		      bool *warned)
{
	double now = gw_now();
	struct bucket *b = gw_map_get(p->rate, key);
	if (!b) {
		if (gw_map_count(p->rate) >= RATE_PRUNE_AT) {
			double idle = 120;
			gw_map_each(p->rate, prune_full, &idle);
		}
		b = calloc(1, sizeof(*b));
		if (!b || gw_map_put(p->rate, key, b, NULL)) {
			free(b);
			return true; /* out of memory: do not refuse */
		}
		b->tokens = (double)per_min;
		b->last = now;
	}
	b->tokens += (now - b->last) * (double)per_min / 60.0;
	if (b->tokens > (double)per_min)
		b->tokens = (double)per_min;
	b->last = now;
	if (b->tokens < 1.0) {
		*warned = b->warned;
		b->warned = true;
		return false;
	}
	b->tokens -= 1.0;
	b->warned = false;
	return true;
}

enum gw_verdict gw_policy_check(struct gw_policy *p, const struct gw_conf *c,
				const json_t *env, char *text, size_t textlen,
				enum gw_refuse *reason)
{
	enum gw_channel ch = gw_env_channel(env);
	const struct gw_chan_conf *cc = &c->ch[ch];
	const char *sender = json_string_value(
		json_object_get(json_object_get(env, "sender"), "id"));
	char key[300];
	enum gw_verdict v = GW_PASS;

	if (json_is_true(json_object_get(env, GW_ENV_GROUP))) {
		if (cc->groups == GW_GROUP_OFF ||
		    (cc->groups == GW_GROUP_MENTION &&
		     !json_is_true(json_object_get(env, GW_ENV_MENTIONED)))) {
			*reason = GW_REF_NOT_MENTIONED;
			return GW_DROP;
		}
	} else if (cc->dm != GW_DM_OPEN && !gw_conf_allowed(cc, sender)) {
		if (cc->dm == GW_DM_ALLOWLIST) {
			*reason = GW_REF_NOT_ALLOWED;
			snprintf(text, textlen,
				 "Sorry, this assistant only talks to people "
				 "its owner has allowed.");
			return GW_REFUSE;
		}
		snprintf(key, sizeof(key), "%s:%s", gw_channel_name(ch),
			 sender);
		pthread_mutex_lock(&p->mu);
		const char *code = pairing_code(p, key, env);
		if (code)
			snprintf(text, textlen,
				 "Hello! To talk to this assistant, ask its "
				 "owner to approve pairing code %s.",
				 code);
		else
			snprintf(
				text, textlen,
				"Sorry, this assistant cannot pair right now.");
		pthread_mutex_unlock(&p->mu);
		*reason = GW_REF_PAIRING;
		return GW_REFUSE;
	}
	if ((long)strlen(gw_env_str(env, "text")) > cc->max_bytes) {
		*reason = GW_REF_SIZE;
		snprintf(text, textlen,
			 "Sorry, your message is too long (the limit is %ld "
			 "bytes). Please send a shorter one.",
			 cc->max_bytes);
		return GW_REFUSE;
	}
	if (cc->rate_per_min > 0) {
		bool warned = false;
		snprintf(key, sizeof(key), "%s:%s", gw_channel_name(ch),
			 sender);
		pthread_mutex_lock(&p->mu);
		if (!rate_take(p, key, cc->rate_per_min, &warned)) {
			*reason = GW_REF_RATE;
			v = warned ? GW_DROP : GW_REFUSE;
			snprintf(text, textlen,
				 "You are sending messages too quickly. Please "
				 "wait a minute and try again.");
		}
		pthread_mutex_unlock(&p->mu);
	}
	return v;
}

static bool prune_approved(const char *key, void *val, void *cls)
{
	(void)key;
	const struct gw_conf *c = cls;
	struct pairing *e = val;
	int ch = gw_channel_parse(e->channel);
	if (ch >= 0 && gw_conf_allowed(&c->ch[ch], e->sender_id)) {
		pairing_free(e);
		return true;
	}
	return false;
}

void gw_policy_prune(struct gw_policy *p, const struct gw_conf *c)
{
	pthread_mutex_lock(&p->mu);
	gw_map_each(p->pairing, prune_approved, (void *)c);
	pthread_mutex_unlock(&p->mu);
}

static bool list_one(const char *key, void *val, void *cls)
{
	(void)key;
	struct pairing *e = val;
	char created[32], expires[32];
	struct tm tm;
	time_t t = (time_t)e->created, x = t + PAIRING_TTL_S;
	if (gw_unix_now() >= x)
		return false;
	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gmtime_r(&x, &tm);
	strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_append_new(
		cls,
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "channel",
			  e->channel, "sender_id", e->sender_id, "sender_name",
			  e->sender_name, "code", e->code, "created", created,
			  "expires", expires));
	return false;
}

json_t *gw_policy_pairing_new(struct gw_policy *p)
{
	json_t *a = json_array();
	if (!a)
		return NULL;
	pthread_mutex_lock(&p->mu);
	gw_map_each(p->pairing, list_one, a);
	pthread_mutex_unlock(&p->mu);
	return a;
}
