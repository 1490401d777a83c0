/*
 * telegram.c - the Telegram Bot API adapter: the webhook (every request
 * must carry X-Telegram-Bot-Api-Secret-Token equal to the secret_token
 * given to setWebhook), the Update parser, sendMessage replies (pieces of
 * at most 4096 characters; in groups as a reply to the message) and the
 * "typing" chat action. A message dated more than max_event_age_seconds
 * ago is dropped and acknowledged (gw_drop_stale). Long polling
 * (getUpdates) is in tgpoll.c and shares the parser; setWebhook is in
 * tghook.c. Every Bot API call goes through gw_telegram_call: its URL
 * holds the bot token, so it is never logged and is wiped after use.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

/* "@name" in text as a whole word, case-insensitively. */
static bool mentions(const char *text, const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return false;
	for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
		if (strncasecmp(p + 1, name, n) == 0 &&
		    !isalnum((unsigned char)p[1 + n]) && p[1 + n] != '_')
			return true;
	}
	return false;
}

/* The bot's numeric id: the part of the token before ':'. */
static void bot_id(const struct gw_chan_conf *cc, char *out, size_t len)
{
	const char *t = cc->s1.val, *colon = t ? strchr(t, ':') : NULL;
	if (colon && (size_t)(colon - t) < len)
		snprintf(out, len, "%.*s", (int)(colon - t), t);
	else
		snprintf(out, len, "telegram");
}

static void add_attachment(json_t *env, const char *type, json_t *file,
			   const char *name)
{
	const char *fid = gw_json_str(file, "file_id");
	if (!fid)
		return;
	char url[300];
	snprintf(url, sizeof(url), "telegram-file:%.256s", fid);
	json_t *a = json_pack("{s:s, s:s}", "type", type, "url", url);
	if (a && name)
		json_object_set_new(a, "name", json_string(name));
	json_array_append_new(json_object_get(env, "attachments"), a);
}

/* A message's text, or a photo's or document's caption; NULL if none. */
static const char *message_text(json_t *m)
{
	const char *text = gw_json_str(m, "text");
	return text ? text : gw_json_str(m, "caption");
}

/* The message of Update u that needs an answer: CLAW_ERR_PARSE when u is
 * not an Update or its message lacks the ids every message has; *m NULL
 * when there is nothing to answer (another kind of update, a bot's
 * message, stickers, joins...). */
static enum claw_rc answerable_message(json_t *u, json_t **m)
{
	*m = NULL;
	if (!json_is_object(u) ||
	    !json_is_integer(json_object_get(u, "update_id")))
		return CLAW_ERR_PARSE;
	json_t *msg = json_object_get(u, "message");
	if (!msg)
		return CLAW_OK;
	json_t *chat = json_object_get(msg, "chat"),
	       *from = json_object_get(msg, "from");
	if (!json_is_integer(json_object_get(msg, "message_id")) ||
	    !json_is_integer(json_object_get(chat, "id")) ||
	    !gw_json_str(chat, "type") ||
	    !json_is_integer(json_object_get(from, "id")) ||
	    !json_is_integer(json_object_get(msg, "date")))
		return CLAW_ERR_PARSE;
	if (json_is_true(json_object_get(from, "is_bot")))
		return CLAW_OK;
	if (!message_text(msg) &&
	    !json_is_array(json_object_get(msg, "photo")) &&
	    !json_is_object(json_object_get(msg, "document")))
		return CLAW_OK;
	*m = msg;
	return CLAW_OK;
}

/* The envelope of message m: its id, the conversation (one per forum
 * topic), the sender and their name. NULL when out of memory. */
static json_t *message_env(json_t *m, const char *account, const char *text)
{
	char id[128], conv[96], sender[32], name[200];
	json_t *from = json_object_get(m, "from");
	json_t *thread = json_object_get(m, "message_thread_id");
	json_int_t cid = json_integer_value(
		json_object_get(json_object_get(m, "chat"), "id"));
	snprintf(id, sizeof(id), "telegram:%lld:%lld", (long long)cid,
		 (long long)json_integer_value(
			 json_object_get(m, "message_id")));
	if (json_is_integer(thread))
		snprintf(conv, sizeof(conv), "telegram:%lld:%lld",
			 (long long)cid, (long long)json_integer_value(thread));
	else
		snprintf(conv, sizeof(conv), "telegram:%lld", (long long)cid);
	snprintf(sender, sizeof(sender), "%lld",
		 (long long)json_integer_value(json_object_get(from, "id")));
	const char *first = gw_json_str(from, "first_name");
	const char *last = gw_json_str(from, "last_name");
	const char *uname = gw_json_str(from, "username");
	snprintf(name, sizeof(name), "%.90s%s%.90s",
		 first ? first : (uname ? uname : ""), last ? " " : "",
		 last ? last : "");
	return gw_env_new(
		GW_CH_TELEGRAM, id, account, conv, sender, name,
		text ? text : "",
		(long long)json_integer_value(json_object_get(m, "date")));
}

/* The largest size of a photo and a document, as attachments. */
static void add_attachments(json_t *env, json_t *m)
{
	json_t *photo = json_object_get(m, "photo"),
	       *doc = json_object_get(m, "document");
	if (json_is_array(photo) && json_array_size(photo))
		add_attachment(
			env, "image",
			json_array_get(photo, json_array_size(photo) - 1),
			NULL);
	if (json_is_object(doc))
		add_attachment(env, "file", doc, gw_json_str(doc, "file_name"));
}

/* How to reply (chat, message, forum topic), whether the chat is a group
 * and whether the bot was named or replied to. */
static void set_route(json_t *env, const struct gw_chan_conf *cc, json_t *m,
		      const char *account, const char *text)
{
	json_t *chat = json_object_get(m, "chat");
	json_t *thread = json_object_get(m, "message_thread_id");
	bool group = strcmp(gw_json_str(chat, "type"), "private") != 0;
	json_t *reply_from =
		json_object_get(json_object_get(m, "reply_to_message"), "from");
	json_t *rid = json_object_get(reply_from, "id");
	bool mentioned = (cc->bot_username && text &&
			  mentions(text, cc->bot_username)) ||
		(json_is_integer(rid) &&
		 strtoll(account, NULL, 10) == json_integer_value(rid));
	json_t *route =
		json_pack("{s:O, s:O}", "chat_id", json_object_get(chat, "id"),
			  "message_id", json_object_get(m, "message_id"));
	if (route && json_is_integer(thread))
		json_object_set(route, "thread_id", thread);
	json_object_set_new(env, GW_ENV_ROUTE, route);
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(env, GW_ENV_MENTIONED, json_boolean(mentioned));
}

enum claw_rc gw_telegram_parse(const struct gw_chan_conf *cc, const char *body,
			       size_t len, json_t **env_out)
{
	char account[32];
	const char *text;
	json_t *m, *env;
	*env_out = NULL;
	json_t *u = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	enum claw_rc rc = answerable_message(u, &m);
	if (rc || !m)
		goto out;
	text = message_text(m);
	bot_id(cc, account, sizeof(account));
	env = message_env(m, account, text);
	if (!env) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	add_attachments(env, m);
	set_route(env, cc, m, account, text);
	*env_out = env;
out:
	json_decref(u);
	return rc;
}

void gw_telegram_webhook(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *env = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	if (!cc->enabled || strcmp(cc->mode, "webhook") != 0) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the telegram webhook is not enabled");
		goto out;
	}
	const char *tok =
		claw_http_header(r, "X-Telegram-Bot-Api-Secret-Token");
	if (!tok || !claw_ct_streq(tok, cc->s2.val)) {
		gw_metrics_refused(GW_CH_TELEGRAM, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "the secret token header is missing or wrong");
		goto out;
	}
	if (gw_telegram_parse(cc, body, len, &env)) {
		gw_reply_error(r, GW_E_BAD_UPDATE,
			       "the body is not a Telegram Update");
		goto out;
	}
	env = gw_unless_stale(c, env);
	gw_conf_put(c);
	c = NULL;
	if (!env) {
		gw_ack(r, GW_IN_IGNORED);
		goto out;
	}
	gw_ack(r, gw_ingest(g, env, true, NULL, 0));
out:
	gw_conf_put(c);
}

static void api_url(const struct gw_chan_conf *cc, const char *method,
		    char *out, size_t len)
{
	snprintf(out, len, "%s/bot%s/%s", cc->api_base,
		 cc->s1.val ? cc->s1.val : "", method);
}

void gw_telegram_call(const struct gw_conf *c, const char *method, json_t *body,
		      struct gw_send_res *res, json_t **reply_out)
{
	char url[1024];
	json_t *reply = NULL;
	api_url(&c->ch[GW_CH_TELEGRAM], method, url, sizeof(url));
	gw_post_json(c, url, NULL, NULL, body, res, &reply);
	sodium_memzero(url, sizeof(url));
	/* Telegram says how long to wait in parameters.retry_after */
	json_t *ra = json_object_get(json_object_get(reply, "parameters"),
				     "retry_after");
	if (res->st == GW_SEND_RETRY && json_is_integer(ra) &&
	    json_integer_value(ra) >= 0 && json_integer_value(ra) < 86400)
		res->retry_after_ms = (long)json_integer_value(ra) * 1000;
	const char *desc = gw_json_str(reply, "description");
	if (res->st != GW_SEND_OK && desc)
		snprintf(res->detail, sizeof(res->detail), "telegram: %.120s",
			 desc);
	if (reply_out)
		*reply_out = reply;
	else
		json_decref(reply);
}

void gw_telegram_send(GW_SEND_ARGS)
{
	(void)g;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	if (!cc->s1.val) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the telegram channel is not configured");
		return;
	}
	json_t *body =
		json_pack("{s:O, s:s}", "chat_id",
			  json_object_get(route, "chat_id"), "text", text);
	if (!body) {
		res->st = GW_SEND_FAIL;
		return;
	}
	if (json_object_get(route, "thread_id"))
		json_object_set(body, "message_thread_id",
				json_object_get(route, "thread_id"));
	if (json_is_true(json_object_get(env, GW_ENV_GROUP)))
		json_object_set_new(
			body, "reply_parameters",
			json_pack("{s:O, s:b}", "message_id",
				  json_object_get(route, "message_id"),
				  "allow_sending_without_reply", 1));
	gw_telegram_call(c, "sendMessage", body, res, NULL);
	json_decref(body);
}

void gw_telegram_typing(struct gw *g, const struct gw_conf *c,
			const json_t *env)
{
	(void)g;
	struct gw_send_res res;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	if (!cc->s1.val)
		return;
	json_t *body = json_pack(
		"{s:O, s:s}", "chat_id",
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "chat_id"),
		"action", "typing");
	if (body)
		gw_telegram_call(c, "sendChatAction", body, &res, NULL);
	json_decref(body);
}
