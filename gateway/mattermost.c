/*
 * mattermost.c - Mattermost outgoing webhooks in, the REST API out.
 *
 * Inbound: POST /mattermost/webhook, Mattermost's outgoing webhook
 * payload as the webhook's content type says: a form
 * (application/x-www-form-urlencoded, "timestamp" in seconds) or JSON
 * (application/json, "timestamp" in milliseconds), with the fields
 * token, team_id, team_domain, channel_id, channel_name, timestamp,
 * user_id, user_name, post_id, text, trigger_word, file_ids. The token
 * (the webhook's, 26 characters) must equal the secret
 * mattermost_webhook_token, compared in constant time; anything else is
 * 401 bad_signature. Outgoing webhooks fire in public channels only, so
 * every message is a group message; it mentions the bot when it carries
 * a trigger word or "@bot_username". Posts of bot_username itself are
 * left. The dedupe key is post_id. The token carries no time: posts
 * older than max_event_age_seconds are dropped (gw_drop_stale) and
 * acknowledged. The answer is 200 with an empty object, which Mattermost
 * reads as "no inline reply".
 *
 * Outbound: POST {api_base}/api/v4/posts as the bot (Authorization:
 * Bearer with the bot's access token, the secret mattermost_bot_token),
 * {"channel_id", "message", "root_id"}: the reply goes to the post's
 * thread; when Mattermost refuses that root (the post is itself a reply
 * in a thread: api.post.create_post.root_id.app_error) the piece goes to
 * the channel instead. Pieces are at most 16383 characters (Mattermost's
 * post limit, in code points). 429 waits for Retry-After or
 * X-Ratelimit-Reset, else backs off.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define MM_ID_MAX 64

/* A JSON payload's fields as strings (the form's shape): timestamp in
 * seconds. */
static enum claw_rc json_fields(const char *body, size_t len, json_t **out)
{
	static const char *const names[] = {
		"token",        "team_id",      "team_domain", "channel_id",
		"channel_name", "user_id",      "user_name",   "post_id",
		"text",         "trigger_word", "file_ids",
	};
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *ts = json_object_get(o, "timestamp");
	json_t *pairs = json_array();
	char buf[32];
	if (!json_is_object(o) || !pairs || (ts && !json_is_integer(ts)))
		goto bad;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *v = json_object_get(o, names[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v))
			goto bad;
		json_array_append_new(pairs, json_pack("[s, O]", names[i], v));
	}
	if (ts) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)(json_integer_value(ts) / 1000));
		json_array_append_new(pairs,
				      json_pack("[s, s]", "timestamp", buf));
	}
	json_decref(o);
	*out = pairs;
	return CLAW_OK;
bad:
	json_decref(o);
	json_decref(pairs);
	return CLAW_ERR_PARSE;
}

enum claw_rc gw_mattermost_fields(const char *ctype, const char *body,
				  size_t len, json_t **fields_out)
{
	*fields_out = NULL;
	if (ctype && strncmp(ctype, "application/json", 16) == 0)
		return json_fields(body, len, fields_out);
	return gw_form_parse(body, len, fields_out);
}

bool gw_mattermost_verify(const char *token, const json_t *fields)
{
	const char *got = gw_form_get(fields, "token");
	return token && got && claw_ct_streq(got, token);
}

static bool id_ok(const char *s)
{
	return s && *s && strlen(s) <= MM_ID_MAX;
}

static bool name_char(char c)
{
	return c == '_' || c == '-' || c == '.' || (c >= '0' && c <= '9') ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* "@name" in text as a whole username (a '.' that ends a sentence is
 * not part of it: "@claw." mentions claw, "@claw.bot" does not). */
static bool mentions(const char *text, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (!n)
		return false;
	for (const char *p = strchr(text, '@'); p; p = strchr(p + 1, '@')) {
		const char *after = p + 1 + n;
		if (strncmp(p + 1, name, n) != 0)
			continue;
		if (*after == '.' && !name_char(after[1]))
			return true;
		if (!name_char(*after))
			return true;
	}
	return false;
}

/* file_ids ("id1,id2") as mattermost-file:<id> attachments. */
static void add_files(json_t *env, const char *ids)
{
	char url[100];
	while (ids && *ids) {
		size_t n = strcspn(ids, ",");
		if (n && n <= MM_ID_MAX) {
			snprintf(url, sizeof(url), "mattermost-file:%.*s",
				 (int)n, ids);
			json_array_append_new(
				json_object_get(env, "attachments"),
				json_pack("{s:s, s:s}", "type", "file", "url",
					  url));
		}
		ids += n + (ids[n] == ',');
	}
}

enum claw_rc gw_mattermost_parse(const struct gw_chan_conf *cc,
				 const json_t *fields, json_t **env_out)
{
	char id[100], conv[100];
	const char *chan = gw_form_get(fields, "channel_id");
	const char *user = gw_form_get(fields, "user_id");
	const char *uname = gw_form_get(fields, "user_name");
	const char *post = gw_form_get(fields, "post_id");
	const char *text = gw_form_get(fields, "text");
	const char *team = gw_form_get(fields, "team_id");
	const char *trigger = gw_form_get(fields, "trigger_word");
	const char *ts = gw_form_get(fields, "timestamp");
	*env_out = NULL;
	if (!id_ok(chan) || !id_ok(user) || !id_ok(post) || !text || !ts ||
	    !*ts || strlen(ts) > 12 || strspn(ts, "0123456789") != strlen(ts) ||
	    (uname && strlen(uname) > 128) ||
	    (team && strlen(team) > MM_ID_MAX))
		return CLAW_ERR_PARSE;
	if (cc->bot_username && uname && strcmp(uname, cc->bot_username) == 0)
		return CLAW_OK; /* our own post */
	snprintf(id, sizeof(id), "mattermost:%s", post);
	snprintf(conv, sizeof(conv), "mattermost:%s", chan);
	json_t *env = gw_env_new(GW_CH_MATTERMOST, id, team ? team : "", conv,
				 user, uname, text, strtoll(ts, NULL, 10));
	if (!env)
		return CLAW_ERR_NOMEM;
	add_files(env, gw_form_get(fields, "file_ids"));
	json_object_set_new(
		env, GW_ENV_ROUTE,
		json_pack("{s:s, s:s}", "channel_id", chan, "root_id", post));
	json_object_set_new(env, GW_ENV_GROUP, json_true());
	json_object_set_new(env, GW_ENV_MENTIONED,
			    json_boolean((trigger && *trigger) ||
					 mentions(text, cc->bot_username)));
	*env_out = env;
	return CLAW_OK;
}

/* A "posted" event's data.mentions: a JSON text of user ids. */
static bool mentions_id(const char *list, const char *bot_id)
{
	size_t i;
	json_t *v;
	bool hit = false;
	json_t *a = list ? json_loads(list, 0, NULL) : NULL;
	json_array_foreach(a, i, v) {
		if (bot_id && json_is_string(v) &&
		    strcmp(json_string_value(v), bot_id) == 0)
			hit = true;
	}
	json_decref(a);
	return hit;
}

/* A WebSocket post in the outgoing webhook's fields (file_ids joined
 * with ',', timestamp in seconds), so one parser reads both. */
static json_t *ws_fields(const json_t *data, const json_t *post)
{
	static const char *const keys[][2] = {
		{"channel_id", "channel_id"},
		{"user_id", "user_id"},
		{"post_id", "id"},
		{"text", "message"},
	};
	char ts[32];
	size_t i;
	json_t *v;
	struct claw_buf files;
	const char *sender = gw_json_str(data, "sender_name");
	json_t *at = json_object_get(post, "create_at");
	json_t *pairs = json_array();
	for (size_t k = 0; pairs && k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *val = gw_json_str(post, keys[k][1]);
		if (val)
			json_array_append_new(
				pairs, json_pack("[s, s]", keys[k][0], val));
	}
	if (pairs && json_is_integer(at) && json_integer_value(at) >= 0) {
		snprintf(ts, sizeof(ts), "%lld",
			 (long long)(json_integer_value(at) / 1000));
		json_array_append_new(pairs,
				      json_pack("[s, s]", "timestamp", ts));
	}
	if (pairs && sender)
		json_array_append_new(pairs,
				      json_pack("[s, s]", "user_name",
						sender + (*sender == '@')));
	if (pairs && gw_json_str(data, "team_id"))
		json_array_append_new(
			pairs,
			json_pack("[s, O]", "team_id",
				  json_object_get(data, "team_id")));
	claw_buf_init(&files, 4096);
	json_array_foreach(json_object_get(post, "file_ids"), i, v) {
		if (json_is_string(v))
			claw_buf_printf(&files, "%s%s", files.len ? "," : "",
					json_string_value(v));
	}
	if (pairs && files.data)
		json_array_append_new(
			pairs, json_pack("[s, s]", "file_ids", files.data));
	claw_buf_release(&files);
	return pairs;
}

/* A "posted" event's post (already parsed) into an envelope: the
 * webhook's parser, then the socket's own route, group and mention. */
static enum claw_rc ws_post_env(const struct gw_chan_conf *cc,
				const char *bot_id, const json_t *data,
				const json_t *post, json_t **env_out)
{
	const char *user = gw_json_str(post, "user_id");
	const char *root = gw_json_str(post, "root_id");
	const char *type = gw_json_str(post, "type");
	const char *ctype = gw_json_str(data, "channel_type");
	json_t *env = NULL;
	if (root && strlen(root) > MM_ID_MAX)
		return CLAW_ERR_PARSE;
	if ((bot_id && user && strcmp(user, bot_id) == 0) || (type && *type))
		return CLAW_OK; /* our own post, system messages */
	json_t *fields = ws_fields(data, post);
	enum claw_rc rc =
		fields ? gw_mattermost_parse(cc, fields, &env) : CLAW_ERR_NOMEM;
	json_decref(fields);
	if (rc || !env)
		return rc;
	bool group = !ctype || strcmp(ctype, "D") != 0;
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	/* channels: the reply goes to the post's thread; direct messages:
	 * to the conversation itself */
	if (!group)
		json_object_del(route, "root_id");
	else if (root && *root)
		json_object_set_new(route, "root_id", json_string(root));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	if (!group || mentions_id(gw_json_str(data, "mentions"), bot_id))
		json_object_set_new(env, GW_ENV_MENTIONED, json_boolean(group));
	*env_out = env;
	return CLAW_OK;
}

enum claw_rc gw_mattermost_ws_parse(const struct gw_chan_conf *cc,
				    const char *bot_id, const char *text,
				    size_t len, json_t **env_out)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	json_t *o = json_loadb(text, len, 0, NULL);
	json_t *data = json_object_get(o, "data");
	const char *event = gw_json_str(o, "event");
	const char *ptext = gw_json_str(data, "post");
	json_t *post = NULL;
	*env_out = NULL;
	if (!json_is_object(o))
		goto out;
	rc = CLAW_OK;
	if (!event || strcmp(event, "posted") != 0)
		goto out; /* hello, typing, status replies... */
	rc = CLAW_ERR_PARSE;
	post = ptext ? json_loads(ptext, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (json_is_object(post))
		rc = ws_post_env(cc, bot_id, data, post, env_out);
out:
	json_decref(post);
	json_decref(o);
	return rc;
}

void gw_mattermost_webhook(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *fields = NULL, *env = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATTERMOST];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the mattermost channel is not enabled");
		goto out;
	}
	enum claw_rc rc =
		gw_mattermost_fields(claw_http_header(r, "Content-Type"),
				     body ? body : "", len, &fields);
	/* the token is in the body: what cannot be read is not verified */
	if (rc || !gw_mattermost_verify(cc->s1.val, fields)) {
		gw_metrics_refused(GW_CH_MATTERMOST, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "the outgoing webhook token is missing or "
			       "wrong");
		goto out;
	}
	if (gw_mattermost_parse(cc, fields, &env)) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       "the body is not a Mattermost outgoing webhook");
		goto out;
	}
	gw_ack_empty(r, g, c, env);
	c = NULL;
out:
	json_decref(fields);
	gw_conf_put(c);
}

static void post_once(const struct gw_conf *c, const char *auth, json_t *body,
		      struct gw_send_res *res, json_t **reply)
{
	char url[700];
	char *text = claw_json_dumps(body);
	if (!text) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		return;
	}
	snprintf(url, sizeof(url), "%s/api/v4/posts",
		 c->ch[GW_CH_MATTERMOST].api_base);
	struct gw_http_out o = {.url = url,
				.body = text,
				.body_len = strlen(text),
				.auth = auth,
				.reset_header = "X-Ratelimit-Reset"};
	gw_http_send(c, &o, res, reply);
	free(text);
}

void gw_mattermost_send(GW_SEND_ARGS)
{
	(void)g;
	char auth[600];
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATTERMOST];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	if (!cc->s2.val ||
	    !json_is_string(json_object_get(route, "channel_id"))) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the mattermost channel is not configured");
		return;
	}
	json_t *body = json_pack("{s:O, s:s}", "channel_id",
				 json_object_get(route, "channel_id"),
				 "message", text);
	if (!body) {
		res->st = GW_SEND_RETRY;
		return;
	}
	if (json_object_get(route, "root_id"))
		json_object_set(body, "root_id",
				json_object_get(route, "root_id"));
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s2.val);
	post_once(c, auth, body, res, &reply);
	const char *eid = gw_json_str(reply, "id");
	if (res->http_status == 400 && eid &&
	    strcmp(eid, "api.post.create_post.root_id.app_error") == 0) {
		/* the post is a reply itself: answer in the channel */
		json_object_del(body, "root_id");
		json_decref(reply);
		reply = NULL;
		post_once(c, auth, body, res, &reply);
	}
	sodium_memzero(auth, sizeof(auth));
	const char *m = gw_json_str(reply, "message");
	if (res->st != GW_SEND_OK && m)
		snprintf(res->detail, sizeof(res->detail), "mattermost: %.120s",
			 m);
	json_decref(reply);
	json_decref(body);
}
