/*
 * slack.c - the Slack Events API adapter: request signing (HMAC-SHA256
 * with the signing secret over "v0:<timestamp>:<raw body>", sent as
 * X-Slack-Signature "v0=<hex>"; requests more than 5 minutes away from now
 * are refused), url_verification, retries (X-Slack-Retry-Num) dropped as
 * duplicates, message and app_mention events, and chat.postMessage
 * replies in the right thread. The dedupe key is channel + message ts, so
 * one message delivered as both "message" and "app_mention" is answered
 * once.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define SLACK_WINDOW_S 300

bool gw_slack_verify(const char *secret, const char *ts_hdr,
		     const char *sig_hdr, const char *body, size_t len,
		     long long now)
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1], expect[3 + sizeof(hex)];
	char *end;
	if (!secret || !ts_hdr || !sig_hdr || !*ts_hdr)
		return false;
	long long ts = strtoll(ts_hdr, &end, 10);
	if (*end || ts <= 0 || llabs(now - ts) > SLACK_WINDOW_S)
		return false;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
				    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)"v0:", 3);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts_hdr,
				      strlen(ts_hdr));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)":", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	claw_hex_encode(mac, sizeof(mac), hex);
	snprintf(expect, sizeof(expect), "v0=%s", hex);
	return strlen(sig_hdr) == strlen(expect) &&
		claw_ct_equal(sig_hdr, expect, strlen(expect));
}

static bool mentions_user(const char *text, const char *uid)
{
	char tag[80];
	if (!uid || !text)
		return false;
	snprintf(tag, sizeof(tag), "<@%s", uid);
	const char *p = strstr(text, tag);
	return p && (p[strlen(tag)] == '>' || p[strlen(tag)] == '|');
}

enum claw_rc gw_slack_parse(const struct gw_chan_conf *cc, const char *body,
			    size_t len, json_t **env_out,
			    const char **challenge_out, json_t **root_out)
{
	char id[160], conv[160], tsbuf[32];
	*env_out = NULL;
	*challenge_out = NULL;
	*root_out = NULL;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = gw_json_str(o, "type");
	if (!type) {
		json_decref(o);
		return CLAW_ERR_PARSE;
	}
	*root_out = o;
	if (strcmp(type, "url_verification") == 0) {
		*challenge_out = gw_json_str(o, "challenge");
		return *challenge_out ? CLAW_OK : CLAW_ERR_PARSE;
	}
	if (strcmp(type, "event_callback") != 0)
		return CLAW_OK;
	json_t *ev = json_object_get(o, "event");
	const char *etype = gw_json_str(ev, "type");
	if (!etype)
		return CLAW_ERR_PARSE;
	bool mention = strcmp(etype, "app_mention") == 0;
	if ((strcmp(etype, "message") != 0 && !mention) ||
	    json_object_get(ev, "subtype") || json_object_get(ev, "bot_id"))
		return CLAW_OK; /* edits, joins, bots (ourselves too) */
	const char *chan = gw_json_str(ev, "channel");
	const char *user = gw_json_str(ev, "user");
	const char *text = gw_json_str(ev, "text");
	const char *ts = gw_json_str(ev, "ts");
	const char *thread = gw_json_str(ev, "thread_ts");
	const char *ctype = gw_json_str(ev, "channel_type");
	const char *team = gw_json_str(o, "team_id");
	if (!chan || !user || !ts || strlen(chan) > 40 || strlen(ts) > 30 ||
	    (thread && strlen(thread) > 30))
		return CLAW_ERR_PARSE;
	if (cc->bot_user_id && strcmp(user, cc->bot_user_id) == 0)
		return CLAW_OK;
	bool group = mention || !ctype || strcmp(ctype, "im") != 0;
	/* in channels the bot answers in a thread of the message */
	const char *reply_thread = thread ? thread : (group ? ts : NULL);
	snprintf(id, sizeof(id), "slack:%s:%s", chan, ts);
	if (reply_thread)
		snprintf(conv, sizeof(conv), "slack:%s:%s", chan, reply_thread);
	else
		snprintf(conv, sizeof(conv), "slack:%s", chan);
	snprintf(tsbuf, sizeof(tsbuf), "%s", ts);
	json_t *env =
		gw_env_new(GW_CH_SLACK, id, team ? team : "", conv, user, NULL,
			   text ? text : "", strtoll(tsbuf, NULL, 10));
	if (!env)
		return CLAW_ERR_NOMEM;
	json_t *route = json_pack("{s:s}", "channel", chan);
	if (route && reply_thread)
		json_object_set_new(route, "thread_ts",
				    json_string(reply_thread));
	json_object_set_new(env, GW_ENV_ROUTE, route);
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(
		env, GW_ENV_MENTIONED,
		json_boolean(mention || mentions_user(text, cc->bot_user_id)));
	*env_out = env;
	return CLAW_OK;
}

void gw_slack_events(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *env = NULL, *root = NULL;
	const char *challenge = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_SLACK];
	if (!cc->enabled || strcmp(cc->mode, "events") != 0) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the Slack Events API endpoint is not enabled");
		goto out;
	}
	const char *ts = claw_http_header(r, "X-Slack-Request-Timestamp");
	if (!gw_slack_verify(cc->s1.val, ts,
			     claw_http_header(r, "X-Slack-Signature"), body,
			     len, gw_unix_now())) {
		char *end = NULL;
		long long t = ts ? strtoll(ts, &end, 10) : 0;
		bool stale = end && !*end &&
			llabs(gw_unix_now() - t) > SLACK_WINDOW_S;
		gw_metrics_refused(GW_CH_SLACK,
				   stale ? GW_REF_STALE : GW_REF_BAD_SIGNATURE);
		if (stale)
			gw_reply_error(r, GW_E_STALE_REQUEST,
				       "the request timestamp is more than 5 "
				       "minutes away from now");
		else
			gw_reply_error(r, GW_E_BAD_SIGNATURE,
				       "the Slack signature does not verify");
		goto out;
	}
	/* verified: "v0=" and 64 hex digits; the key is the MAC's bytes */
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	if (claw_hex_decode(claw_http_header(r, "X-Slack-Signature") + 3, mac,
			    sizeof(mac)) ||
	    !gw_replay_check(GW_CH_SLACK, mac, sizeof(mac))) {
		gw_metrics_refused(GW_CH_SLACK, GW_REF_REPLAY);
		gw_reply_error(r, GW_E_REPLAYED_REQUEST,
			       "this exact signed request was seen before");
		goto out;
	}
	if (gw_slack_parse(cc, body, len, &env, &challenge, &root)) {
		gw_reply_error(r, GW_E_BAD_EVENT,
			       "the body is not a Slack event");
		goto out;
	}
	if (challenge) {
		claw_http_reply_json(
			r, 200, json_pack("{s:s}", "challenge", challenge));
		goto out;
	}
	const char *retry = claw_http_header(r, "X-Slack-Retry-Num");
	if (retry)
		log_info("slack retry %s (%s)", retry,
			 claw_http_header(r, "X-Slack-Retry-Reason")
				 ? claw_http_header(r, "X-Slack-Retry-Reason")
				 : "no reason");
	gw_conf_put(c);
	c = NULL;
	if (!env)
		gw_ack(r, GW_IN_IGNORED);
	else
		gw_ack(r, gw_ingest(g, env, true, NULL, 0));
out:
	json_decref(root);
	gw_conf_put(c);
}

void gw_slack_send(GW_SEND_ARGS)
{
	(void)g;
	char url[600], auth[600];
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_SLACK];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	if (!cc->s2.val) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the slack channel is not configured");
		return;
	}
	json_t *body =
		json_pack("{s:O, s:s}", "channel",
			  json_object_get(route, "channel"), "text", text);
	if (!body) {
		res->st = GW_SEND_FAIL;
		return;
	}
	if (json_object_get(route, "thread_ts"))
		json_object_set(body, "thread_ts",
				json_object_get(route, "thread_ts"));
	snprintf(url, sizeof(url), "%s/chat.postMessage", cc->api_base);
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s2.val);
	gw_post_json(c, url, auth, NULL, body, res, &reply);
	sodium_memzero(auth, sizeof(auth));
	if (res->st == GW_SEND_OK &&
	    !json_is_true(json_object_get(reply, "ok"))) {
		const char *err = gw_json_str(reply, "error");
		static const char *const transient[] = {
			"ratelimited", "internal_error", "fatal_error",
			"service_unavailable", "request_timeout"};
		res->st = GW_SEND_FAIL;
		for (size_t i = 0; err && i < 5; i++)
			if (strcmp(err, transient[i]) == 0)
				res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "slack: %.100s",
			 err ? err : "ok is not true");
	}
	json_decref(reply);
	json_decref(body);
}
