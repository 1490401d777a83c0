/*
 * line.c - the LINE Messaging API adapter.
 *
 * Inbound: POST /line/webhook. X-Line-Signature is the base64 of
 * HMAC-SHA256 over the raw body with the channel secret (LINE's
 * "Verify webhook signature"); anything else is 401 bad_signature. The
 * body is {"destination", "events": [...]}; an empty events array is
 * LINE's "Verify" button and is answered 200. Message events in "active"
 * mode become envelopes: text, and image/video/audio/file as
 * line-content:<message id> attachments (stickers, locations and other
 * event types are acknowledged and left). The dedupe key is the message
 * id, so a redelivered event (deliveryContext.isRedelivery, the same
 * webhookEventId) is a duplicate. The signature carries no time: events
 * older than max_event_age_seconds are dropped (gw_drop_stale) and
 * acknowledged, so a captured request replayed later reaches nothing.
 * A group or room message is a group message; it mentions the bot when
 * message.mention.mentionees has isSelf (or the bot's user id, the
 * webhook's destination).
 *
 * Outbound, piece by piece (at most 5000 UTF-16 units each, LINE's text
 * limit): the first piece answers with the event's reply token
 * (POST /v2/bot/message/reply, free of the push quota); when LINE says
 * the token is no longer valid ("Invalid reply token": used, or expired
 * because the agent took long) and for every further piece, a push
 * message to the user, group or room (POST /v2/bot/message/push) with an
 * X-Line-Retry-Key derived from the message id and the piece, so a push
 * retried after a timeout or replayed after a crash is the same request
 * to LINE, which accepts it once and answers 409 to the repeats (counted
 * as sent). In groups the first piece quotes the message (quoteToken).
 * 429 is retried after Retry-After or with backoff, except "You have
 * reached your monthly limit", which retrying cannot fix.
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

#define LINE_ID_MAX 64
#define LINE_TOKEN_MAX 256

bool gw_line_verify(const char *channel_secret, const char *sig_hdr,
		    const char *body, size_t len)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char expect[sodium_base64_ENCODED_LEN(sizeof(mac),
					      sodium_base64_VARIANT_ORIGINAL)];
	crypto_auth_hmacsha256_state st;
	if (!channel_secret || !sig_hdr)
		return false;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)channel_secret,
				    strlen(channel_secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(expect, sizeof(expect), mac, sizeof(mac),
			  sodium_base64_VARIANT_ORIGINAL);
	return strlen(sig_hdr) == strlen(expect) &&
		claw_ct_equal(sig_hdr, expect, strlen(expect));
}

void gw_line_retry_key(const char *id, int part, char out[37])
{
	gw_derived_uuid("line-retry-key", id, part, out);
}

/* Is the bot among the message's mentionees? */
static bool mentions_bot(json_t *m, const char *destination)
{
	size_t i;
	json_t *who;
	json_array_foreach(
		json_object_get(json_object_get(m, "mention"), "mentionees"), i,
		who) {
		const char *uid = gw_json_str(who, "userId");
		if (json_is_true(json_object_get(who, "isSelf")) ||
		    (uid && destination && strcmp(uid, destination) == 0))
			return true;
	}
	return false;
}

static bool id_ok(const char *s, size_t max)
{
	return s && *s && strlen(s) <= max;
}

/* The source: who sent it, where to push, whether it is a group. */
static enum claw_rc event_source(json_t *ev, const char **sender,
				 const char **where, bool *group)
{
	json_t *src = json_object_get(ev, "source");
	const char *type = gw_json_str(src, "type");
	const char *user = gw_json_str(src, "userId");
	if (!type)
		return CLAW_ERR_PARSE;
	*group = strcmp(type, "user") != 0;
	if (!*group)
		*where = user;
	else if (strcmp(type, "group") == 0)
		*where = gw_json_str(src, "groupId");
	else if (strcmp(type, "room") == 0)
		*where = gw_json_str(src, "roomId");
	else
		return CLAW_ERR_PARSE;
	/* in groups LINE leaves userId out for some users */
	*sender = user ? user : "unknown";
	if (!id_ok(*where, LINE_ID_MAX) || strlen(*sender) > LINE_ID_MAX)
		return CLAW_ERR_PARSE;
	return CLAW_OK;
}

/* A content message's attachment: line-content:<message id>. */
static void add_content(json_t *env, json_t *m, const char *type,
			const char *mid)
{
	char url[100];
	const char *kind = strcmp(type, "file") == 0 ? "file" : type;
	snprintf(url, sizeof(url), "line-content:%s", mid);
	json_t *a = json_pack("{s:s, s:s}", "type", kind, "url", url);
	const char *fname = gw_json_str(m, "fileName");
	if (a && fname)
		json_object_set_new(a, "name", json_string(fname));
	json_array_append_new(json_object_get(env, "attachments"), a);
}

/* One event into out (or nothing for events not answered). */
static enum claw_rc one_event(json_t *ev, const char *destination, json_t *out)
{
	char id[100], conv[100];
	const char *type = gw_json_str(ev, "type");
	const char *mode = gw_json_str(ev, "mode");
	json_t *m = json_object_get(ev, "message");
	json_t *ts = json_object_get(ev, "timestamp");
	const char *mid = gw_json_str(m, "id");
	const char *mtype = gw_json_str(m, "type");
	const char *rtok = gw_json_str(ev, "replyToken");
	const char *qtok = gw_json_str(m, "quoteToken");
	const char *sender, *where, *text = NULL;
	bool group;
	if (!type || !json_is_integer(ts))
		return CLAW_ERR_PARSE;
	if (strcmp(type, "message") != 0 || (mode && strcmp(mode, "active")))
		return CLAW_OK; /* follows, joins, standby mode... */
	if (!id_ok(mid, LINE_ID_MAX) || !mtype ||
	    (rtok && strlen(rtok) > LINE_TOKEN_MAX) ||
	    (qtok && strlen(qtok) > LINE_TOKEN_MAX) ||
	    event_source(ev, &sender, &where, &group))
		return CLAW_ERR_PARSE;
	if (strcmp(mtype, "text") == 0) {
		text = gw_json_str(m, "text");
		if (!text)
			return CLAW_ERR_PARSE;
	} else if (strcmp(mtype, "image") != 0 && strcmp(mtype, "video") != 0 &&
		   strcmp(mtype, "audio") != 0 && strcmp(mtype, "file") != 0) {
		return CLAW_OK; /* stickers, locations: not answered */
	}
	snprintf(id, sizeof(id), "line:%s", mid);
	snprintf(conv, sizeof(conv), "line:%s", where);
	json_t *env = gw_env_new(GW_CH_LINE, id, destination ? destination : "",
				 conv, sender, NULL, text ? text : "",
				 (long long)(json_integer_value(ts) / 1000));
	if (!env)
		return CLAW_ERR_NOMEM;
	if (!text)
		add_content(env, m, mtype, mid);
	json_t *route = json_pack("{s:s}", "to", where);
	if (route && rtok)
		json_object_set_new(route, "reply_token", json_string(rtok));
	if (route && qtok)
		json_object_set_new(route, "quote_token", json_string(qtok));
	json_object_set_new(env, GW_ENV_ROUTE, route);
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(
		env, GW_ENV_MENTIONED,
		json_boolean(group && mentions_bot(m, destination)));
	json_array_append_new(out, env);
	return CLAW_OK;
}

static enum claw_rc events(const json_t *o, json_t *out)
{
	size_t i;
	json_t *ev;
	json_t *evs = json_object_get(o, "events");
	json_t *dest = json_object_get(o, "destination");
	if (!json_is_array(evs) || (dest && !json_is_string(dest)) ||
	    (dest && json_string_length(dest) > LINE_ID_MAX))
		return CLAW_ERR_PARSE;
	json_array_foreach(evs, i, ev) {
		if (!json_is_object(ev))
			return CLAW_ERR_PARSE;
		enum claw_rc rc = one_event(ev, json_string_value(dest), out);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

enum claw_rc gw_line_parse(const struct gw_chan_conf *cc, const char *body,
			   size_t len, json_t **envs_out)
{
	(void)cc;
	return gw_envs_parse(body, len, events, envs_out);
}

void gw_line_webhook(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *envs = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_LINE];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the line channel is not enabled");
		goto out;
	}
	if (!gw_line_verify(cc->s1.val, claw_http_header(r, "X-Line-Signature"),
			    body ? body : "", len)) {
		gw_metrics_refused(GW_CH_LINE, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "X-Line-Signature does not verify");
		goto out;
	}
	if (gw_line_parse(cc, body ? body : "", len, &envs)) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       "the body is not a LINE webhook");
		goto out;
	}
	gw_ack_all(r, g, c, envs);
out:
	json_decref(envs);
	gw_conf_put(c);
}

/* ------------------------------------------------------------ replies */
/* The text message object; the first piece quotes a group message. */
static json_t *text_message(const json_t *env, const char *text, int part)
{
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	json_t *msg = json_pack("{s:s, s:s}", "type", "text", "text", text);
	json_t *quote = json_object_get(route, "quote_token");
	if (msg && part == 0 && quote &&
	    json_is_true(json_object_get(env, GW_ENV_GROUP)))
		json_object_set(msg, "quoteToken", quote);
	return json_pack("[o]", msg);
}

/* LINE's error message ({"message": ...}) into the log detail. */
static void line_detail(json_t *reply, struct gw_send_res *res)
{
	const char *m = gw_json_str(reply, "message");
	if (res->st != GW_SEND_OK && m)
		snprintf(res->detail, sizeof(res->detail), "line: %.120s", m);
}

/* Answer with the reply token. true when the token could not be used
 * (the caller pushes instead). */
static bool send_reply_token(const struct gw_conf *c, const char *auth,
			     const char *token, json_t *messages,
			     struct gw_send_res *res)
{
	char url[700];
	json_t *reply = NULL;
	json_t *body = json_pack("{s:s, s:O}", "replyToken", token, "messages",
				 messages);
	if (!body) {
		res->st = GW_SEND_RETRY;
		return false;
	}
	snprintf(url, sizeof(url), "%s/v2/bot/message/reply",
		 c->ch[GW_CH_LINE].api_base);
	gw_post_json(c, url, auth, NULL, body, res, &reply);
	const char *m = gw_json_str(reply, "message");
	bool stale = res->st == GW_SEND_FAIL && m &&
		strcmp(m, "Invalid reply token") == 0;
	line_detail(reply, res);
	json_decref(reply);
	json_decref(body);
	return stale;
}

static void send_push(const struct gw_conf *c, const char *auth,
		      const json_t *env, json_t *messages,
		      struct gw_send_res *res)
{
	char url[700], key[37], hdr[64];
	json_t *reply = NULL;
	const char *to = json_string_value(
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "to"));
	json_t *body = to
		? json_pack("{s:s, s:O}", "to", to, "messages", messages)
		: NULL;
	char *text = body ? claw_json_dumps(body) : NULL;
	if (!text) {
		res->st = to ? GW_SEND_RETRY : GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 to ? "out of memory" : "no push target");
		json_decref(body);
		return;
	}
	gw_line_retry_key(gw_env_str(env, "id"), res->part, key);
	snprintf(hdr, sizeof(hdr), "X-Line-Retry-Key: %s", key);
	snprintf(url, sizeof(url), "%s/v2/bot/message/push",
		 c->ch[GW_CH_LINE].api_base);
	struct gw_http_out o = {.url = url,
				.body = text,
				.body_len = strlen(text),
				.auth = auth,
				.extra = hdr};
	gw_http_send(c, &o, res, &reply);
	if (res->http_status == 409) {
		/* accepted before (a retry after a timeout, or a replay
		 * after a crash): LINE sent it once */
		res->st = GW_SEND_OK;
	}
	const char *m = gw_json_str(reply, "message");
	if (res->st == GW_SEND_RETRY && m &&
	    strcmp(m, "You have reached your monthly limit.") == 0)
		res->st = GW_SEND_FAIL; /* the push quota: not before next
					   month */
	line_detail(reply, res);
	json_decref(reply);
	json_decref(body);
	free(text);
}

void gw_line_send(GW_SEND_ARGS)
{
	(void)g;
	char auth[600];
	const struct gw_chan_conf *cc = &c->ch[GW_CH_LINE];
	const char *token =
		gw_json_str(json_object_get(env, GW_ENV_ROUTE), "reply_token");
	if (!cc->s2.val) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the line channel is not configured");
		return;
	}
	json_t *messages = text_message(env, text, res->part);
	if (!messages) {
		res->st = GW_SEND_RETRY;
		return;
	}
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s2.val);
	bool push = res->part != 0 || !token ||
		send_reply_token(c, auth, token, messages, res);
	if (push) {
		if (res->part == 0 && token)
			log_info("line: the reply token of '%s' is no longer "
				 "valid; pushing the reply",
				 gw_env_str(env, "id"));
		res->retry_after_ms = -1;
		send_push(c, auth, env, messages, res);
	}
	sodium_memzero(auth, sizeof(auth));
	json_decref(messages);
}
