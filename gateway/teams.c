/*
 * teams.c - Microsoft Teams through the Bot Framework (Bot Connector).
 *
 * Inbound: POST /teams/messages (the bot's messaging endpoint), an
 * Activity as JSON with "Authorization: Bearer <JWT>". The token is
 * verified as the Bot Framework's "Authenticate requests from the Bot
 * Connector service" says, with jwt.c: RS256 only, signed by a key of
 * the Bot Connector's OpenID metadata (openid_metadata_url, default
 * https://login.botframework.com/v1/.well-known/openidconfiguration,
 * whose jwks_uri lists the keys; cached a day, fetched again for an
 * unknown kid at most once a minute), issuer https://api.botframework.com,
 * audience the bot's app id, not expired (5 minutes of clock skew, as the
 * document allows), and its serviceUrl claim equal to the activity's
 * serviceUrl; when the signing key carries endorsements, the activity's
 * channelId must be one of them. Anything else is 401 bad_signature
 * (counted), before the activity is parsed into a message; keys that
 * cannot be fetched are 503 (the Connector retries). A token is valid
 * for its lifetime, so a captured request could be replayed within it:
 * the activity id is the dedupe key (a replay is a duplicate), and
 * activities dated more than max_event_age_seconds ago are dropped.
 *
 * Message activities become envelopes (other types - conversationUpdate,
 * typing, invoke - are acknowledged and left). The text loses the bot's
 * own "<at>name</at>" mention. A personal chat is a direct message;
 * group chats and channel threads (each thread is its own conversation
 * id) are group messages, mentioned when an entity of type "mention"
 * names the bot. Images become teams-attachment:<contentUrl>.
 *
 * Outbound: POST {serviceUrl}/v3/conversations/{conversation id}/
 * activities/{activity id} (ReplyToActivity; ids percent-encoded), a
 * message activity with the piece as text, authorised with the bot's
 * client-credentials token (token_url, default Microsoft's
 * botframework.com tenant; scope https://api.botframework.com/.default),
 * cached until five minutes before it expires and dropped when the
 * Connector answers 401. Replies go only to serviceUrls starting with one
 * of service_url_prefixes (default https://): the URL is signed by
 * Microsoft, the prefixes keep the bot's token off anything else should
 * that ever fail. Pieces are at most 24000 bytes of JSON text (Teams
 * takes about 28 KB a message). 429 waits for Retry-After, else backs
 * off. The Bot Connector has no idempotency key: a reply accepted whose
 * answer was lost is sent again (the window every channel has).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define TEAMS_ID_MAX 512
#define TEAMS_SCOPE "https://api.botframework.com/.default"

/* --------------------------------------------------------- verification */
bool gw_teams_service_url_ok(const struct gw_chan_conf *cc, const char *url)
{
	size_t i;
	json_t *v;
	if (!url || strpbrk(url, " \t\r\n\"<>\\^`{|}"))
		return false;
	if (!cc->service_url_prefixes)
		return strncmp(url, "https://", 8) == 0;
	json_array_foreach(cc->service_url_prefixes, i, v) {
		const char *p = json_string_value(v);
		if (p && strncmp(url, p, strlen(p)) == 0)
			return true;
	}
	return false;
}

bool gw_teams_claims_match(const json_t *claims, const json_t *endorsements,
			   const char *body, size_t len)
{
	size_t i;
	json_t *v;
	bool ok = false;
	json_t *a = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *su = gw_json_str(a, "serviceUrl");
	const char *ch = gw_json_str(a, "channelId");
	const char *claim = gw_json_str(claims, "serviceUrl");
	if (!su || !claim || strcmp(su, claim) != 0)
		goto out;
	if (endorsements) {
		json_array_foreach(endorsements, i, v) {
			if (ch && json_is_string(v) &&
			    strcmp(json_string_value(v), ch) == 0)
				ok = true;
		}
		goto out;
	}
	ok = true;
out:
	json_decref(a);
	return ok;
}

/* The key set: the OpenID metadata, then its jwks_uri. cls: the config. */
static enum claw_rc fetch_keys(void *cls, struct claw_buf *doc, char *why,
			       size_t whylen)
{
	const struct gw_conf *c = cls;
	struct claw_buf meta;
	claw_buf_init(&meta, 1 << 20);
	enum claw_rc rc = gw_fetch_doc(c, c->ch[GW_CH_TEAMS].keys_url, &meta,
				       why, whylen);
	json_t *m = rc
		? NULL
		: json_loadb(meta.data ? meta.data : "", meta.len, 0, NULL);
	claw_buf_release(&meta);
	const char *jwks = gw_json_str(m, "jwks_uri");
	if (!rc && !jwks) {
		snprintf(why, whylen, "the OpenID metadata has no jwks_uri");
		rc = CLAW_ERR_PARSE;
	}
	if (!rc)
		rc = gw_fetch_doc(c, jwks, doc, why, whylen);
	json_decref(m);
	return rc;
}

/* ------------------------------------------------------------ inbound */
static bool str_ok(const char *s)
{
	return s && *s && strlen(s) <= TEAMS_ID_MAX;
}

/* Does an entity of type "mention" name the bot? Its text ("<at>Bot</at>")
 * into at (empty when none). */
static bool mentions_bot(json_t *a, const char *bot, char *at, size_t atlen)
{
	size_t i;
	json_t *e;
	at[0] = '\0';
	json_array_foreach(json_object_get(a, "entities"), i, e) {
		const char *type = gw_json_str(e, "type");
		const char *id = json_string_value(
			json_object_get(json_object_get(e, "mentioned"), "id"));
		const char *t = gw_json_str(e, "text");
		if (type && strcmp(type, "mention") == 0 && id && bot &&
		    strcmp(id, bot) == 0) {
			if (t && strlen(t) < atlen)
				snprintf(at, atlen, "%s", t);
			return true;
		}
	}
	return false;
}

/* text without the bot's mention, trimmed: a new string. */
static char *strip_mention(const char *text, const char *at)
{
	struct claw_buf b;
	const char *hit = *at ? strstr(text, at) : NULL;
	claw_buf_init(&b, 0);
	if (hit) {
		claw_buf_append(&b, text, (size_t)(hit - text));
		claw_buf_puts(&b, hit + strlen(at));
	} else {
		claw_buf_puts(&b, text);
	}
	char *s = claw_buf_steal(&b);
	if (!s)
		return NULL;
	size_t start = strspn(s, " \t\r\n"), n = strlen(s);
	while (n > start && strchr(" \t\r\n", s[n - 1]))
		n--;
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
	return s;
}

/* Images as teams-attachment:<contentUrl> (the text/html copy of the
 * message Teams adds is left). */
static void add_images(json_t *env, json_t *a)
{
	size_t i;
	json_t *att;
	json_array_foreach(json_object_get(a, "attachments"), i, att) {
		const char *ct = gw_json_str(att, "contentType");
		const char *u = gw_json_str(att, "contentUrl");
		const char *name = gw_json_str(att, "name");
		char url[600];
		if (!ct || !u || strncmp(ct, "image/", 6) != 0 ||
		    strlen(u) > 512)
			continue;
		snprintf(url, sizeof(url), "teams-attachment:%s", u);
		json_t *o =
			json_pack("{s:s, s:s}", "type", "image", "url", url);
		if (o && name && strlen(name) <= 256)
			json_object_set_new(o, "name", json_string(name));
		json_array_append_new(json_object_get(env, "attachments"), o);
	}
}

/* The envelope id: the activity id within its conversation. */
static void env_id(const char *conv, const char *aid, char *out, size_t len)
{
	uint8_t h[8];
	char hex[17];
	crypto_generichash(h, sizeof(h), (const unsigned char *)conv,
			   strlen(conv), NULL, 0);
	claw_hex_encode(h, sizeof(h), hex);
	snprintf(out, len, "teams:%s:%.200s", hex, aid);
}

static json_t *message_env(json_t *a, const char *text, const char *aid,
			   const char *conv_id, const char *from_id,
			   const char *bot_id)
{
	char id[256], conv[TEAMS_ID_MAX + 16];
	json_t *from = json_object_get(a, "from");
	json_t *conversation = json_object_get(a, "conversation");
	const char *name = gw_json_str(from, "name");
	const char *ctype = json_string_value(
		json_object_get(conversation, "conversationType"));
	long long t = gw_rfc3339_parse(gw_json_str(a, "timestamp"));
	env_id(conv_id, aid, id, sizeof(id));
	snprintf(conv, sizeof(conv), "teams:%s", conv_id);
	json_t *env = gw_env_new(GW_CH_TEAMS, id, bot_id, conv, from_id,
				 name && strlen(name) <= 256 ? name : NULL,
				 text, t >= 0 ? t : gw_unix_now());
	if (!env)
		return NULL;
	bool group = (ctype && strcmp(ctype, "personal") != 0) ||
		json_is_true(json_object_get(conversation, "isGroup"));
	json_object_set_new(
		env, GW_ENV_ROUTE,
		json_pack("{s:O, s:s, s:s, s:s, s:s}", "service_url",
			  json_object_get(a, "serviceUrl"), "conversation_id",
			  conv_id, "activity_id", aid, "bot_id", bot_id,
			  "user_id", from_id));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	return env;
}

enum claw_rc gw_teams_parse(const struct gw_chan_conf *cc, const char *body,
			    size_t len, json_t **env_out)
{
	(void)cc;
	char at[300];
	enum claw_rc rc = CLAW_ERR_PARSE;
	json_t *a = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = gw_json_str(a, "type");
	const char *aid = gw_json_str(a, "id");
	const char *su = gw_json_str(a, "serviceUrl");
	const char *conv = json_string_value(
		json_object_get(json_object_get(a, "conversation"), "id"));
	const char *from = json_string_value(
		json_object_get(json_object_get(a, "from"), "id"));
	const char *bot = json_string_value(
		json_object_get(json_object_get(a, "recipient"), "id"));
	json_t *text = json_object_get(a, "text");
	*env_out = NULL;
	if (!json_is_object(a) || !type || !str_ok(su) || !str_ok(conv) ||
	    (text && !json_is_string(text)))
		goto out;
	rc = CLAW_OK;
	if (strcmp(type, "message") != 0)
		goto out; /* conversationUpdate, typing, invoke... */
	rc = CLAW_ERR_PARSE;
	if (!str_ok(aid) || !str_ok(from) || !str_ok(bot))
		goto out;
	bool mentioned = mentions_bot(a, bot, at, sizeof(at));
	char *clean = strip_mention(text ? json_string_value(text) : "", at);
	if (!clean) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	json_t *env = message_env(a, clean, aid, conv, from, bot);
	free(clean);
	if (!env) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	add_images(env, a);
	json_object_set_new(env, GW_ENV_MENTIONED, json_boolean(mentioned));
	if (!*gw_env_str(env, "text") &&
	    !json_array_size(json_object_get(env, "attachments")))
		json_decref(env); /* nothing to answer */
	else
		*env_out = env;
	rc = CLAW_OK;
out:
	json_decref(a);
	return rc;
}

void gw_teams_messages(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *claims = NULL, *endorse = NULL, *env = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TEAMS];
	static const char *const issuers[] = {GW_TEAMS_ISSUER, NULL};
	struct gw_jwt_rules rules = {issuers, cc->app_id, GW_TEAMS_LEEWAY_S,
				     gw_unix_now()};
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the teams channel is not enabled");
		goto out;
	}
	body = body ? body : "";
	enum gw_jwt_err err = gw_keycache_verify(
		g->keys[GW_CH_TEAMS], cc->keys_url, fetch_keys, c,
		gw_jwt_bearer(r), &rules, &claims, &endorse);
	if (err == GW_JWT_NO_KEYS) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the Bot Framework signing keys cannot be "
				    "fetched; retry");
		goto out;
	}
	if (err || !gw_teams_claims_match(claims, endorse, body, len)) {
		gw_metrics_refused(GW_CH_TEAMS, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "the Bot Framework token is %s",
			       err ? gw_jwt_strerror(err)
				   : "not for this activity (serviceUrl or "
				     "channel endorsement)");
		goto out;
	}
	if (gw_teams_parse(cc, body, len, &env)) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       "the body is not a Bot Framework activity");
		goto out;
	}
	if (env &&
	    !gw_teams_service_url_ok(
		    cc,
		    gw_json_str(json_object_get(env, GW_ENV_ROUTE),
				"service_url"))) {
		log_warn("teams: the serviceUrl of '%s' is not in "
			 "service_url_prefixes; not answered",
			 gw_env_str(env, "id"));
		claw_http_reply_std(r, CLAW_HE_FORBIDDEN,
				    "replies may not go to this serviceUrl "
				    "(service_url_prefixes)");
		goto out;
	}
	env = gw_unless_stale(c, env);
	gw_conf_put(c);
	c = NULL;
	gw_ack(r, env ? gw_ingest(g, env, true, NULL, 0) : GW_IN_IGNORED);
	env = NULL;
out:
	json_decref(env);
	json_decref(claims);
	json_decref(endorse);
	gw_conf_put(c);
}

/* ------------------------------------------------------------ outbound */
/* The client-credentials grant (a form) at token_url. */
static enum claw_rc fetch_token(const struct gw_conf *c, char **tok, long *life,
				struct gw_send_res *res)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TEAMS];
	struct claw_buf form;
	claw_buf_init(&form, 0);
	bool built = !gw_form_add(&form, "grant_type", "client_credentials") &&
		!gw_form_add(&form, "client_id", cc->app_id) &&
		!gw_form_add(&form, "client_secret", cc->s1.val) &&
		!gw_form_add(&form, "scope", TEAMS_SCOPE);
	return gw_token_oauth(c, cc->token_url, &form, built, "teams", tok,
			      life, res);
}

/* {serviceUrl}/v3/conversations/{conv}/activities/{activity} */
static enum claw_rc reply_url(const char *su, const char *conv, const char *aid,
			      struct claw_buf *b)
{
	size_t n = strlen(su);
	while (n && su[n - 1] == '/')
		n--;
	if (claw_buf_append(b, su, n) ||
	    claw_buf_puts(b, "/v3/conversations/") || gw_url_escape(b, conv) ||
	    claw_buf_puts(b, "/activities/") || gw_url_escape(b, aid))
		return CLAW_ERR_NOMEM;
	return CLAW_OK;
}

void gw_teams_send(GW_SEND_ARGS)
{
	char auth[8300];
	struct claw_buf url;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TEAMS];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *su = gw_json_str(route, "service_url");
	const char *conv = gw_json_str(route, "conversation_id");
	const char *aid = gw_json_str(route, "activity_id");
	if (!cc->s1.val || !cc->app_id || !conv || !aid ||
	    !json_is_string(json_object_get(route, "bot_id")) ||
	    !json_is_string(json_object_get(route, "user_id")) ||
	    !gw_teams_service_url_ok(cc, su)) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the teams channel is not configured, or the "
			 "serviceUrl is not allowed");
		return;
	}
	if (gw_chan_token(g, GW_CH_TEAMS, c, cc->token_url, cc->app_id,
			  fetch_token, auth, sizeof(auth), res))
		return;
	json_t *body = json_pack("{s:s, s:s, s:{s:O}, s:{s:O}, s:{s:s}, s:s}",
				 "type", "message", "text", text, "from", "id",
				 json_object_get(route, "bot_id"), "recipient",
				 "id", json_object_get(route, "user_id"),
				 "conversation", "id", conv, "replyToId", aid);
	claw_buf_init(&url, 4096);
	if (!body || reply_url(su, conv, aid, &url)) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		goto out;
	}
	gw_token_post(c, g->tokens[GW_CH_TEAMS], url.data, auth, body, "teams",
		      "code", res);
out:
	sodium_memzero(auth, sizeof(auth));
	json_decref(body);
	claw_buf_release(&url);
}
