/*
 * googlechat.c - Google Chat apps over HTTP.
 *
 * Inbound: POST /googlechat/events, an interaction event as JSON with
 * "Authorization: Bearer <JWT>" ("Verify requests from Google Chat",
 * authentication audience "Project number"): RS256 only, signed by one of
 * the certificates Google publishes for chat@system.gserviceaccount.com
 * (certs_url; cached a day, fetched again for an unknown kid at most
 * once a minute), issuer chat@system.gserviceaccount.com, audience the
 * Cloud project's number, not expired (one minute of clock skew).
 * Anything else is 401 bad_signature (counted) before the body is
 * parsed; certificates that cannot be fetched are 503. A token is valid
 * for its lifetime (an hour): a captured request replayed within it is a
 * duplicate of its message name, and events older than
 * max_event_age_seconds are dropped.
 *
 * MESSAGE events become envelopes (ADDED_TO_SPACE, REMOVED_FROM_SPACE,
 * CARD_CLICKED are acknowledged and left). The text is argumentText (the
 * message without the app's @mention) when present. A direct message
 * space is a direct message and one conversation; in other spaces each
 * thread is a conversation, a group message, mentioned when an
 * annotation mentions a BOT user or the message is a slash command
 * (Chat sends apps in spaces only such messages unless configured
 * otherwise). Attachments become googlechat-attachment:<resource name>.
 * The answer is 200 "{}" (no synchronous reply): the reply goes through
 * the API so that it can wait for the agent.
 *
 * Outbound: POST {api_base}/v1/{space}/messages with {"text", "thread":
 * {"name"}}, messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD in
 * spaces, and requestId derived from the message name and the piece: a
 * repeated request (a retry after a lost answer, a replay after a crash)
 * returns the message created the first time instead of a new one.
 * Authorised as the app with the service account's token (scope
 * chat.bot): a JWT grant (RFC 7523) signed RS256 with the account's
 * private key (the secret googlechat_service_account, its JSON key on
 * one line) exchanged at token_url (default Google's; the key file's own
 * token_uri is not followed: a URL the gateway calls comes from the
 * config, which the control plane bounds), cached until five minutes
 * before it expires, dropped on a 401. Pieces are at most 30000 bytes of JSON
 * text (a message holds 32,000 bytes). 429 RESOURCE_EXHAUSTED waits for
 * Retry-After or backs off.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define GC_NAME_MAX 200
#define GC_SCOPE "https://www.googleapis.com/auth/chat.bot"

/* "spaces/…", "spaces/…/threads/…", "spaces/…/messages/…": resource
 * names of letters, digits, '_', '-', '.' segments. */
static bool name_ok(const char *s, const char *kind)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > GC_NAME_MAX || strncmp(s, "spaces/", 7) != 0 ||
	    strspn(s,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789_-./") != n ||
	    strstr(s, "..") || strstr(s, "//") || s[n - 1] == '/')
		return false;
	const char *rest = strchr(s + 7, '/');
	if (!kind)
		return !rest;
	return rest && strncmp(rest + 1, kind, strlen(kind)) == 0 &&
		rest[1 + strlen(kind)] == '/' &&
		!strchr(rest + 2 + strlen(kind), '/');
}

static enum claw_rc fetch_certs(void *cls, struct claw_buf *doc, char *why,
				size_t whylen)
{
	const struct gw_conf *c = cls;
	return gw_fetch_doc(c, c->ch[GW_CH_GOOGLECHAT].keys_url, doc, why,
			    whylen);
}

/* ------------------------------------------------------------ inbound */
static bool mentions_app(json_t *m)
{
	size_t i;
	json_t *a;
	if (json_object_get(m, "slashCommand"))
		return true;
	json_array_foreach(json_object_get(m, "annotations"), i, a) {
		const char *type = gw_json_str(a, "type");
		const char *utype = gw_json_str(
			json_object_get(json_object_get(a, "userMention"),
					"user"),
			"type");
		if (type && utype && strcmp(type, "USER_MENTION") == 0 &&
		    strcmp(utype, "BOT") == 0)
			return true;
	}
	return false;
}

static void add_attachments(json_t *env, json_t *m)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(m, "attachment"), i, a) {
		const char *res = json_string_value(
			json_object_get(json_object_get(a, "attachmentDataRef"),
					"resourceName"));
		const char *ct = gw_json_str(a, "contentType");
		const char *name = gw_json_str(a, "contentName");
		char url[600];
		if (!res || strlen(res) > 512)
			continue;
		snprintf(url, sizeof(url), "googlechat-attachment:%s", res);
		json_t *o = json_pack("{s:s, s:s}", "type",
				      ct && !strncmp(ct, "image/", 6) ? "image"
								      : "file",
				      "url", url);
		if (o && name && strlen(name) <= 256)
			json_object_set_new(o, "name", json_string(name));
		json_array_append_new(json_object_get(env, "attachments"), o);
	}
}

/* argumentText (without the @mention) or text, trimmed: a new string. */
static char *message_text(json_t *m)
{
	const char *t = gw_json_str(m, "argumentText");
	if (!t)
		t = gw_json_str(m, "text");
	if (!t)
		t = "";
	t += strspn(t, " \t\r\n");
	size_t n = strlen(t);
	while (n && strchr(" \t\r\n", t[n - 1]))
		n--;
	return strndup(t, n);
}

static json_t *message_env(json_t *ev, json_t *m, const char *space,
			   const char *thread, bool dm)
{
	char id[GC_NAME_MAX + 16], conv[GC_NAME_MAX + 16];
	json_t *sender = json_object_get(m, "sender");
	const char *who = gw_json_str(sender, "name");
	const char *name = gw_json_str(sender, "displayName");
	long long t = gw_rfc3339_parse(gw_json_str(ev, "eventTime"));
	if (t < 0)
		t = gw_rfc3339_parse(gw_json_str(m, "createTime"));
	char *text = message_text(m);
	if (!text)
		return NULL;
	snprintf(id, sizeof(id), "googlechat:%s", gw_json_str(m, "name"));
	snprintf(conv, sizeof(conv), "googlechat:%s",
		 dm || !thread ? space : thread);
	json_t *env = gw_env_new(GW_CH_GOOGLECHAT, id, space, conv, who,
				 name && strlen(name) <= 256 ? name : NULL,
				 text, t >= 0 ? t : gw_unix_now());
	free(text);
	if (!env)
		return NULL;
	json_t *route = json_pack("{s:s}", "space", space);
	if (route && thread && !dm)
		json_object_set_new(route, "thread", json_string(thread));
	json_object_set_new(env, GW_ENV_ROUTE, route);
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(!dm));
	json_object_set_new(env, GW_ENV_MENTIONED,
			    json_boolean(!dm && mentions_app(m)));
	add_attachments(env, m);
	return env;
}

enum claw_rc gw_googlechat_parse(const struct gw_chan_conf *cc,
				 const char *body, size_t len, json_t **env_out)
{
	(void)cc;
	enum claw_rc rc = CLAW_ERR_PARSE;
	json_t *ev = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *type = gw_json_str(ev, "type");
	json_t *sp = json_object_get(ev, "space");
	json_t *m = json_object_get(ev, "message");
	const char *space = gw_json_str(sp, "name");
	const char *stype = gw_json_str(sp, "type");
	const char *sptype = gw_json_str(sp, "spaceType");
	const char *mname = gw_json_str(m, "name");
	const char *thread = json_string_value(
		json_object_get(json_object_get(m, "thread"), "name"));
	const char *sender = json_string_value(
		json_object_get(json_object_get(m, "sender"), "name"));
	const char *stype_who = json_string_value(
		json_object_get(json_object_get(m, "sender"), "type"));
	*env_out = NULL;
	if (!json_is_object(ev) || !type)
		goto out;
	rc = CLAW_OK;
	if (strcmp(type, "MESSAGE") != 0)
		goto out; /* added, removed, card clicks */
	rc = CLAW_ERR_PARSE;
	if (!name_ok(space, NULL) || !name_ok(mname, "messages") ||
	    strncmp(mname, space, strlen(space)) != 0 ||
	    (thread && !name_ok(thread, "threads")) || !sender || !*sender ||
	    strlen(sender) > 128 || (!stype && !sptype))
		goto out;
	rc = CLAW_OK;
	if (stype_who && strcmp(stype_who, "BOT") == 0)
		goto out; /* another app's message */
	bool dm = (stype && strcmp(stype, "DM") == 0) ||
		(sptype && strcmp(sptype, "DIRECT_MESSAGE") == 0);
	json_t *env = message_env(ev, m, space, thread, dm);
	if (!env) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!*gw_env_str(env, "text") &&
	    !json_array_size(json_object_get(env, "attachments")))
		json_decref(env);
	else
		*env_out = env;
out:
	json_decref(ev);
	return rc;
}

void gw_googlechat_events(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *env = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_GOOGLECHAT];
	static const char *const issuers[] = {GW_GCHAT_ISSUER, NULL};
	struct gw_jwt_rules rules = {issuers, cc->project_number,
				     GW_GCHAT_LEEWAY_S, gw_unix_now()};
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the googlechat channel is not enabled");
		goto out;
	}
	enum gw_jwt_err err = gw_keycache_verify(
		g->keys[GW_CH_GOOGLECHAT], cc->keys_url, fetch_certs, c,
		gw_jwt_bearer(r), &rules, NULL, NULL);
	if (err == GW_JWT_NO_KEYS) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "Google's signing certificates cannot be "
				    "fetched; retry");
		goto out;
	}
	if (err) {
		gw_metrics_refused(GW_CH_GOOGLECHAT, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "the Google Chat bearer token is %s",
			       gw_jwt_strerror(err));
		goto out;
	}
	if (gw_googlechat_parse(cc, body ? body : "", len, &env)) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       "the body is not a Google Chat event");
		goto out;
	}
	gw_ack_empty(r, g, c, env);
	c = NULL;
out:
	gw_conf_put(c);
}

/* ----------------------------------------------------------- outbound */
enum claw_rc gw_googlechat_assertion(const char *key_json, const char *scope,
				     const char *token_url, long long now,
				     char **assertion)
{
	enum claw_rc rc = CLAW_ERR_INVALID;
	json_t *k = key_json
		? json_loads(key_json, JSON_REJECT_DUPLICATES, NULL)
		: NULL;
	const char *email = gw_json_str(k, "client_email");
	const char *pem = gw_json_str(k, "private_key");
	const char *kid = gw_json_str(k, "private_key_id");
	json_t *h = NULL, *claims = NULL;
	*assertion = NULL;
	if (!email || !pem || !token_url)
		goto out;
	h = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
	if (h && kid)
		json_object_set_new(h, "kid", json_string(kid));
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", email, "scope",
			   scope, "aud", token_url, "iat", (json_int_t)now,
			   "exp", (json_int_t)now + 3600);
	if (!h || !claims) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	rc = gw_jwt_sign_rs256(pem, h, claims, assertion);
out:
	json_decref(h);
	json_decref(claims);
	if (pem) /* the parsed copy of the private key: wiped, then freed */
		sodium_memzero((char *)pem, strlen(pem));
	json_decref(k);
	return rc;
}

/* The JWT grant at the configured token_url (the key file's own
 * token_uri is not used: the config's URL is the one the control plane
 * bounds). */
static enum claw_rc fetch_token(const struct gw_conf *c, char **tok, long *life,
				struct gw_send_res *res)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_GOOGLECHAT];
	char *assertion = NULL;
	struct claw_buf form;
	if (gw_googlechat_assertion(cc->s1.val, GC_SCOPE, cc->token_url,
				    gw_unix_now(), &assertion)) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "googlechat: the service account key is not usable "
			 "(client_email, an RSA private_key)");
		return CLAW_ERR_INVALID;
	}
	claw_buf_init(&form, 0);
	bool built =
		!gw_form_add(&form, "grant_type",
			     "urn:ietf:params:oauth:grant-type:jwt-bearer") &&
		!gw_form_add(&form, "assertion", assertion);
	enum claw_rc rc = gw_token_oauth(c, cc->token_url, &form, built,
					 "googlechat", tok, life, res);
	free(assertion);
	return rc;
}

void gw_googlechat_send(GW_SEND_ARGS)
{
	char auth[8300], rid[37], url[1200];
	const struct gw_chan_conf *cc = &c->ch[GW_CH_GOOGLECHAT];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *space = gw_json_str(route, "space");
	const char *thread = gw_json_str(route, "thread");
	if (!cc->s1.val || !name_ok(space, NULL) ||
	    (thread && !name_ok(thread, "threads"))) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the googlechat channel is not configured");
		return;
	}
	if (gw_chan_token(g, GW_CH_GOOGLECHAT, c, cc->api_base, "googlechat",
			  fetch_token, auth, sizeof(auth), res))
		return;
	json_t *body = json_pack("{s:s}", "text", text);
	if (body && thread)
		json_object_set_new(body, "thread",
				    json_pack("{s:s}", "name", thread));
	gw_derived_uuid("googlechat-request", gw_env_str(env, "id"), res->part,
			rid);
	snprintf(url, sizeof(url), "%s/v1/%s/messages?requestId=%s%s",
		 cc->api_base, space, rid,
		 thread ? "&messageReplyOption="
			  "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
			: "");
	if (!body) {
		res->st = GW_SEND_RETRY;
		goto out;
	}
	gw_token_post(c, g->tokens[GW_CH_GOOGLECHAT], url, auth, body,
		      "googlechat", "status", res);
out:
	sodium_memzero(auth, sizeof(auth));
	json_decref(body);
}
