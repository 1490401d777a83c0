/*
 * tghook.c - Telegram's webhook registered by the gateway itself. When the
 * telegram channel is in webhook mode and its config names webhook_url
 * (the tenant's public address, put there by the control plane), a
 * background round (bg.c) calls the Bot API's setWebhook with that URL,
 * the secret_token (the telegram_webhook_secret secret, which the webhook
 * then requires), allowed_updates ["message"] and drop_pending_updates
 * false. It calls it at start and again whenever the URL, the secret, the
 * bot token or api_base change (a SIGHUP reload): the round compares a
 * hash of them with the last one Telegram accepted.
 *
 * Failures: a transport error, 408, 429 (after Telegram's retry_after) or
 * 5xx is retried with the pull loops' exponential backoff; any other
 * refusal (401 for a bad token, 400 for a URL Telegram will not take) is
 * final for that config: logged once and not retried until the config
 * changes. The state (off, pending, set, retrying, refused) with the URL
 * and the last error is in /readyz's "telegram_webhook" object; it never
 * makes the gateway unready. The bot token is in the method's URL only,
 * which is never logged (gw_telegram_call).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "gw.h"

#define CHECK_MS 500 /* how often the round looks for a new config */

enum tgh_state {
	TGH_OFF,
	TGH_PENDING,
	TGH_SET,
	TGH_RETRYING,
	TGH_REFUSED
};

static const char *const state_names[] = {
	[TGH_OFF] = "off",         [TGH_PENDING] = "pending",
	[TGH_SET] = "set",         [TGH_RETRYING] = "retrying",
	[TGH_REFUSED] = "refused",
};

struct gw_tghook {
	pthread_mutex_t mu;
	enum tgh_state st;
	unsigned attempts; /* setWebhook calls for the current config */
	char url[1100];    /* the URL of the current config */
	char error[200];   /* the last failure */
	char applied[65];  /* the config Telegram accepted (a hash) */
	char refused[65];  /* the config Telegram refused for good */
	char tried[65];    /* the config of attempts */
};

struct gw_tghook *gw_tghook_new(void)
{
	struct gw_tghook *h = calloc(1, sizeof(*h));
	if (h)
		pthread_mutex_init(&h->mu, NULL);
	return h;
}

void gw_tghook_free(void *cls)
{
	struct gw_tghook *h = cls;
	if (!h)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* A hash of what setWebhook is called with, and whom as. */
static void config_key(const struct gw_chan_conf *cc, char out[65])
{
	struct claw_buf b;
	claw_buf_init(&b, 0);
	const char *parts[] = {cc->api_base, cc->webhook_url, cc->s2.val,
			       cc->s1.val};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (claw_buf_puts(&b, parts[i] ? parts[i] : "") ||
		    claw_buf_append(&b, "", 1))
			break;
	claw_blake2b_hex(b.data ? b.data : "", b.len, out);
	if (b.data)
		sodium_memzero(b.data, b.len);
	claw_buf_release(&b);
}

static void set_state(struct gw_tghook *h, enum tgh_state st, const char *url,
		      const char *error)
{
	pthread_mutex_lock(&h->mu);
	h->st = st;
	snprintf(h->url, sizeof(h->url), "%s", url ? url : "");
	if (error)
		snprintf(h->error, sizeof(h->error), "%s", error);
	else if (st == TGH_SET || st == TGH_OFF)
		h->error[0] = '\0';
	pthread_mutex_unlock(&h->mu);
}

/* One setWebhook call for the config cc (key: config_key). */
static bool call_set(struct gw_tghook *h, const struct gw_conf *c,
		     const char *key, long *wait_ms)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	struct gw_send_res res = {0};
	json_t *reply = NULL;
	char why[200];
	json_t *body = json_pack(
		"{s:s, s:s, s:[s], s:b}", "url", cc->webhook_url,
		"secret_token", cc->s2.val ? cc->s2.val : "", "allowed_updates",
		"message", "drop_pending_updates", 0);
	if (!body) {
		set_state(h, TGH_RETRYING, cc->webhook_url, "out of memory");
		return false;
	}
	pthread_mutex_lock(&h->mu);
	if (strcmp(h->tried, key) != 0) {
		memcpy(h->tried, key, sizeof(h->tried));
		h->attempts = 0;
	}
	h->attempts++;
	pthread_mutex_unlock(&h->mu);
	gw_telegram_call(c, "setWebhook", body, &res, &reply);
	json_decref(body);
	bool ok = res.st == GW_SEND_OK &&
		json_is_true(json_object_get(reply, "ok")) &&
		json_is_true(json_object_get(reply, "result"));
	json_decref(reply);
	if (ok) {
		memcpy(h->applied, key, sizeof(h->applied));
		h->refused[0] = '\0';
		set_state(h, TGH_SET, cc->webhook_url, NULL);
		log_info("telegram: webhook set to %s", cc->webhook_url);
		return true;
	}
	snprintf(why, sizeof(why), "setWebhook: HTTP %ld: %.150s",
		 res.http_status, res.detail);
	if (res.st == GW_SEND_FAIL || res.st == GW_SEND_OK) {
		/* refused (a bad token, a URL Telegram will not take): no
		 * retry until the config changes */
		memcpy(h->refused, key, sizeof(h->refused));
		set_state(h, TGH_REFUSED, cc->webhook_url, why);
		log_error("telegram: %s; the webhook is not set (fix the "
			  "config or the bot token, then reload)",
			  why);
		*wait_ms = CHECK_MS;
		return true;
	}
	set_state(h, TGH_RETRYING, cc->webhook_url, why);
	log_warn("telegram: %s; retrying (attempt %u)", why, h->attempts);
	*wait_ms = res.retry_after_ms;
	return false;
}

bool gw_tghook_round(struct gw *g, void *cls, long *wait_ms)
{
	struct gw_tghook *h = cls;
	char key[65];
	bool ok = true;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	*wait_ms = CHECK_MS;
	if (!cc->enabled || strcmp(cc->mode, "webhook") != 0 ||
	    !cc->webhook_url) {
		set_state(h, TGH_OFF, NULL, NULL);
		h->applied[0] = h->refused[0] = '\0';
		goto out;
	}
	config_key(cc, key);
	if (strcmp(key, h->applied) == 0 || strcmp(key, h->refused) == 0)
		goto out;
	if (strcmp(key, h->tried) != 0)
		set_state(h, TGH_PENDING, cc->webhook_url, NULL);
	ok = call_set(h, c, key, wait_ms);
out:
	gw_conf_put(c);
	return ok;
}

json_t *gw_tghook_status_new(struct gw_tghook *h)
{
	pthread_mutex_lock(&h->mu);
	json_t *o = json_pack("{s:s, s:I}", "state", state_names[h->st],
			      "attempts", (json_int_t)h->attempts);
	if (o && h->url[0])
		json_object_set_new(o, "url", json_string(h->url));
	if (o && h->error[0])
		json_object_set_new(o, "error", json_string(h->error));
	pthread_mutex_unlock(&h->mu);
	return o;
}
