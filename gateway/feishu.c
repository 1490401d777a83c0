/*
 * feishu.c - Feishu (飞书) and Lark: the open platform's event
 * subscription (webhook mode) in, the IM API out.
 *
 * Inbound: POST /feishu/events. With an encrypt key (the secret
 * feishu_encrypt_key, recommended) every request is {"encrypt": base64}:
 * the base64 of a 16-byte IV and AES-256-CBC (PKCS#7 padding) under the
 * SHA-256 of the encrypt key (jwt.c; tested on Feishu's published
 * example), and every event request is signed: X-Lark-Signature is the
 * hex SHA-256 of X-Lark-Request-Timestamp + X-Lark-Request-Nonce +
 * encrypt key + the raw body, compared in constant time. A plain body,
 * a missing or wrong signature, or a body that does not decrypt is 401
 * bad_signature (counted). The URL verification request, which Feishu
 * does not sign, is answered {"challenge"} only when it decrypts under
 * the key and carries the verification token. Without an encrypt key
 * the verification token (the secret feishu_verification_token, in
 * header.token of v2.0 events) is all the platform offers; it carries no
 * time. In both modes the token must match (constant time) and
 * header.app_id must be the configured app.
 *
 * Events: schema 2.0 only; im.message.receive_v1 from users becomes an
 * envelope (other event types are acknowledged and left). Text messages
 * ({"text": "@_user_1 hi"}) get their mention keys replaced by the names
 * (the bot's own mention removed); post (rich text) messages their text
 * and link runs; images and files become feishu-file:<message id>:<key>
 * references. p2p chats are direct messages; group chats are group
 * messages, mentioned when a mention names the bot's open_id
 * (bot_open_id; without it, any mention: Feishu delivers group messages
 * to a bot only when it is mentioned unless the app may read them all).
 * The dedupe key is the message id (Feishu redelivers an event it got no
 * timely 200 for, with the same event and message ids), and messages
 * older than max_event_age_seconds are dropped. The answer is 200 {}.
 *
 * Outbound: POST {api_base}/open-apis/im/v1/messages/{message_id}/reply
 * with {"msg_type": "text", "content": "{\"text\": …}", "uuid"}: uuid
 * derived from the message id and the piece, so Feishu sends a repeated
 * request (a retry after a lost answer, a replay after a crash) once
 * (it deduplicates a uuid for an hour). Authorised with the tenant
 * access token (POST /open-apis/auth/v3/tenant_access_token/internal
 * with the app id and the secret feishu_app_secret), cached until five
 * minutes before it expires and dropped when the API calls it invalid
 * (99991661, 99991663, 99991668). Rate limits - HTTP 429 and the codes
 * 99991400, 11232 and 230020 - wait for x-ogw-ratelimit-reset (seconds)
 * or back off; other errors are final. The content is JSON inside JSON:
 * pieces are at most 100000 bytes escaped twice (a text message's body
 * may take 150 KB). api_base is https://open.feishu.cn (Feishu) or
 * https://open.larksuite.com (Lark).
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

#define FS_ENCRYPT_MAX (1u << 20)
#define FS_ID_MAX 128

bool gw_feishu_verify(const char *encrypt_key, const char *ts,
		      const char *nonce, const char *sig, const char *body,
		      size_t len)
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	if (!encrypt_key || !ts || !nonce || !sig)
		return false;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_hash_sha256_update(&st, (const unsigned char *)nonce,
				  strlen(nonce));
	crypto_hash_sha256_update(&st, (const unsigned char *)encrypt_key,
				  strlen(encrypt_key));
	crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
	crypto_hash_sha256_final(&st, h);
	claw_hex_encode(h, sizeof(h), hex);
	return strlen(sig) == strlen(hex) &&
		claw_ct_equal(sig, hex, strlen(hex));
}

enum claw_rc gw_feishu_decrypt(const char *encrypt_key, const char *b64,
			       char **plain, size_t *plainlen)
{
	uint8_t key[crypto_hash_sha256_BYTES];
	size_t n = b64 ? strlen(b64) : 0, raw_len = 0;
	const char *end;
	*plain = NULL;
	if (!encrypt_key || !n || n > FS_ENCRYPT_MAX)
		return CLAW_ERR_PARSE;
	uint8_t *raw = malloc(n / 4 * 3 + 3);
	if (!raw)
		return CLAW_ERR_NOMEM;
	if (sodium_base642bin(raw, n / 4 * 3 + 3, b64, n, NULL, &raw_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    end != b64 + n) {
		free(raw);
		return CLAW_ERR_PARSE;
	}
	crypto_hash_sha256(key, (const unsigned char *)encrypt_key,
			   strlen(encrypt_key));
	enum claw_rc rc =
		gw_aes256cbc_decrypt(key, raw, raw_len, plain, plainlen);
	sodium_memzero(key, sizeof(key));
	free(raw);
	return rc;
}

/* ------------------------------------------------------------ inbound */
static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n && n <= FS_ID_MAX &&
		strspn(s,
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789_-") == n;
}

/* The mention of key ("@_user_1") in mentions, or NULL. */
static json_t *mention_of(json_t *mentions, const char *key, size_t n)
{
	size_t i;
	json_t *m;
	json_array_foreach(mentions, i, m) {
		const char *k = gw_json_str(m, "key");
		if (k && strlen(k) == n && strncmp(k, key, n) == 0)
			return m;
	}
	return NULL;
}

static const char *open_id_of(json_t *m)
{
	return json_string_value(
		json_object_get(json_object_get(m, "id"), "open_id"));
}

/* text with "@_user_N" keys replaced by "@name" (the bot's own mention
 * dropped) into b. */
static enum claw_rc expand_mentions(const char *text, json_t *mentions,
				    const char *bot, struct claw_buf *b)
{
	const char *p = text;
	while (*p) {
		const char *at = strstr(p, "@_user_");
		if (!at)
			return claw_buf_puts(b, p);
		size_t n = 7 + strspn(at + 7, "0123456789");
		json_t *m = mention_of(mentions, at, n);
		if (claw_buf_append(b, p, (size_t)(at - p)))
			return CLAW_ERR_NOMEM;
		const char *name = gw_json_str(m, "name");
		const char *oid = open_id_of(m);
		if (m && bot && oid && strcmp(oid, bot) == 0) {
			at += n;
			at += *at == ' ';
		} else if (m && name) {
			if (claw_buf_printf(b, "@%s", name))
				return CLAW_ERR_NOMEM;
			at += n;
		} else {
			if (claw_buf_append(b, at, n))
				return CLAW_ERR_NOMEM;
			at += n;
		}
		p = at;
	}
	return CLAW_OK;
}

/* A post's text: its title, then the text and link runs of every line. */
static enum claw_rc post_text(json_t *c, struct claw_buf *b)
{
	size_t i, j;
	json_t *line, *run;
	/* the content may be one language's post or a map of languages */
	if (!json_object_get(c, "content")) {
		const char *k;
		json_t *v;
		json_object_foreach(c, k, v) {
			c = v;
			break;
		}
	}
	const char *title = gw_json_str(c, "title");
	if (title && *title && claw_buf_printf(b, "%s\n", title))
		return CLAW_ERR_NOMEM;
	json_array_foreach(json_object_get(c, "content"), i, line) {
		json_array_foreach(line, j, run) {
			const char *tag = gw_json_str(run, "tag");
			const char *t = gw_json_str(run, "text");
			if (tag && t &&
			    (!strcmp(tag, "text") || !strcmp(tag, "a")) &&
			    claw_buf_puts(b, t))
				return CLAW_ERR_NOMEM;
			const char *who = json_string_value(
				json_object_get(run, "user_name"));
			if (tag && !strcmp(tag, "at") &&
			    claw_buf_printf(b, "@%s", who ? who : "someone"))
				return CLAW_ERR_NOMEM;
		}
		if (claw_buf_puts(b, "\n"))
			return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

/* The message's text (b) and attachments (att, an array). */
static enum claw_rc message_content(json_t *msg, const char *bot,
				    struct claw_buf *b, json_t *att)
{
	const char *type = gw_json_str(msg, "message_type");
	const char *raw = gw_json_str(msg, "content");
	const char *mid = gw_json_str(msg, "message_id");
	json_t *c = raw ? json_loads(raw, JSON_REJECT_DUPLICATES, NULL) : NULL;
	enum claw_rc rc = CLAW_ERR_PARSE;
	char url[400];
	if (!type || !json_is_object(c))
		goto out;
	rc = CLAW_OK;
	if (!strcmp(type, "text")) {
		const char *t = gw_json_str(c, "text");
		rc = t ? expand_mentions(t, json_object_get(msg, "mentions"),
					 bot, b)
		       : CLAW_ERR_PARSE;
	} else if (!strcmp(type, "post")) {
		rc = post_text(c, b);
	} else if (!strcmp(type, "image") || !strcmp(type, "file") ||
		   !strcmp(type, "audio") || !strcmp(type, "media")) {
		const char *key = gw_json_str(
			c, !strcmp(type, "image") ? "image_key" : "file_key");
		const char *name = gw_json_str(c, "file_name");
		if (!id_ok(key)) {
			rc = CLAW_ERR_PARSE;
			goto out;
		}
		snprintf(url, sizeof(url), "feishu-file:%s:%s", mid, key);
		json_t *o = json_pack("{s:s, s:s}", "type",
				      !strcmp(type, "image")           ? "image"
					      : !strcmp(type, "audio") ? "audio"
					      : !strcmp(type, "media") ? "video"
								       : "file",
				      "url", url);
		if (o && name && strlen(name) <= 256)
			json_object_set_new(o, "name", json_string(name));
		json_array_append_new(att, o);
	}
out:
	json_decref(c);
	return rc;
}

static bool mentions_bot(json_t *msg, const char *bot)
{
	size_t i;
	json_t *m;
	json_t *ms = json_object_get(msg, "mentions");
	if (!bot)
		return json_array_size(ms) > 0;
	json_array_foreach(ms, i, m) {
		const char *oid = open_id_of(m);
		if (oid && strcmp(oid, bot) == 0)
			return true;
	}
	return false;
}

/* A millisecond string ("1609073151345") as unix seconds, or -1. */
static long long ms_time(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > 15 || strspn(s, "0123456789") != n)
		return -1;
	return strtoll(s, NULL, 10) / 1000;
}

static enum claw_rc message_env(const struct gw_chan_conf *cc, json_t *ev,
				json_t *hdr, json_t **env_out)
{
	char id[FS_ID_MAX + 16], conv[FS_ID_MAX + 16];
	struct claw_buf text;
	json_t *msg = json_object_get(ev, "message");
	json_t *sender = json_object_get(ev, "sender");
	const char *stype = gw_json_str(sender, "sender_type");
	const char *oid =
		gw_json_str(json_object_get(sender, "sender_id"), "open_id");
	const char *mid = gw_json_str(msg, "message_id");
	const char *chat = gw_json_str(msg, "chat_id");
	const char *ctype = gw_json_str(msg, "chat_type");
	json_t *att = json_array();
	enum claw_rc rc = CLAW_ERR_PARSE;
	claw_buf_init(&text, 1 << 20);
	if (!att || !stype || !id_ok(mid) || !id_ok(chat) || !ctype)
		goto out;
	rc = CLAW_OK;
	if (strcmp(stype, "user") != 0)
		goto out; /* an app's message */
	rc = CLAW_ERR_PARSE;
	if (!id_ok(oid))
		goto out;
	rc = message_content(msg, cc->bot_user_id, &text, att);
	if (rc || (!text.len && !json_array_size(att)))
		goto out; /* stickers, cards...: nothing to answer */
	long long t = ms_time(gw_json_str(msg, "create_time"));
	if (t < 0)
		t = ms_time(gw_json_str(hdr, "create_time"));
	snprintf(id, sizeof(id), "feishu:%s", mid);
	snprintf(conv, sizeof(conv), "feishu:%s", chat);
	const char *tenant = gw_json_str(hdr, "tenant_key");
	json_t *env = gw_env_new(
		GW_CH_FEISHU, id,
		tenant && strlen(tenant) <= FS_ID_MAX ? tenant : "", conv, oid,
		NULL, text.data ? text.data : "", t >= 0 ? t : gw_unix_now());
	if (!env) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	bool group = strcmp(ctype, "p2p") != 0;
	json_object_set(env, "attachments", att);
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s}", "message_id", mid));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(
		env, GW_ENV_MENTIONED,
		json_boolean(group && mentions_bot(msg, cc->bot_user_id)));
	*env_out = env;
out:
	json_decref(att);
	claw_buf_release(&text);
	return rc;
}

enum claw_rc gw_feishu_parse(const struct gw_chan_conf *cc, const char *token,
			     const char *plain, size_t len,
			     char **challenge_out, json_t **env_out)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	json_t *o = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *hdr = json_object_get(o, "header");
	const char *type = gw_json_str(o, "type");
	const char *schema = gw_json_str(o, "schema");
	*challenge_out = NULL;
	*env_out = NULL;
	if (!json_is_object(o))
		goto out;
	if (type && strcmp(type, "url_verification") == 0) {
		const char *ch = gw_json_str(o, "challenge");
		const char *tok = gw_json_str(o, "token");
		if (!ch || strlen(ch) > 256)
			goto out;
		rc = CLAW_ERR_CRYPTO;
		if (!tok || !token || !claw_ct_streq(tok, token))
			goto out;
		*challenge_out = strdup(ch);
		rc = *challenge_out ? CLAW_OK : CLAW_ERR_NOMEM;
		goto out;
	}
	if (!schema || strcmp(schema, "2.0") != 0 || !json_is_object(hdr))
		goto out;
	const char *tok = gw_json_str(hdr, "token");
	const char *app = gw_json_str(hdr, "app_id");
	const char *etype = gw_json_str(hdr, "event_type");
	rc = CLAW_ERR_CRYPTO;
	if (!tok || !token || !claw_ct_streq(tok, token) ||
	    (app && cc->app_id && strcmp(app, cc->app_id) != 0))
		goto out;
	rc = CLAW_ERR_PARSE;
	if (!etype)
		goto out;
	rc = CLAW_OK;
	if (strcmp(etype, "im.message.receive_v1") != 0)
		goto out;
	rc = message_env(cc, json_object_get(o, "event"), hdr, env_out);
out:
	json_decref(o);
	return rc;
}

/* The plain event of a request: decrypted and signature-checked with an
 * encrypt key, the body itself without. *plain new. CLAW_ERR_CRYPTO:
 * refuse (401); CLAW_ERR_PARSE: not Feishu's (400). */
static enum claw_rc open_body(struct claw_http_req *r,
			      const struct gw_chan_conf *cc, const char *body,
			      size_t len, char **plain, size_t *plainlen,
			      bool *signed_ok)
{
	const char *key = cc->s3.val;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *enc = gw_json_str(o, "encrypt");
	enum claw_rc rc = CLAW_ERR_CRYPTO;
	*plain = NULL;
	*signed_ok = false;
	if (!key) {
		/* no encrypt key: plain events, the token decides */
		rc = enc ? CLAW_ERR_PARSE : CLAW_OK;
		if (!rc && !(*plain = strndup(body, len)))
			rc = CLAW_ERR_NOMEM;
		*plainlen = len;
		goto out;
	}
	if (!enc)
		goto out; /* Feishu encrypts everything once a key is set */
	*signed_ok = gw_feishu_verify(
		key, claw_http_header(r, "X-Lark-Request-Timestamp"),
		claw_http_header(r, "X-Lark-Request-Nonce"),
		claw_http_header(r, "X-Lark-Signature"), body, len);
	rc = gw_feishu_decrypt(key, enc, plain, plainlen) ? CLAW_ERR_CRYPTO
							  : CLAW_OK;
	/* another key yields valid padding once in 256 tries: its garbage
	 * is no JSON object, and refused as the wrong key it is */
	json_t *inner = rc ? NULL : json_loadb(*plain, *plainlen, 0, NULL);
	if (!rc && !json_is_object(inner))
		rc = CLAW_ERR_CRYPTO;
	json_decref(inner);
out:
	json_decref(o);
	return rc;
}

void gw_feishu_events(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len, plainlen = 0;
	char *plain = NULL, *challenge = NULL;
	json_t *env = NULL;
	bool signed_ok = false;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_FEISHU];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the feishu channel is not enabled");
		goto out;
	}
	body = body ? body : "";
	enum claw_rc rc =
		open_body(r, cc, body, len, &plain, &plainlen, &signed_ok);
	if (rc == CLAW_OK)
		rc = gw_feishu_parse(cc, cc->s2.val, plain, plainlen,
				     &challenge, &env);
	/* with an encrypt key, only the URL verification goes unsigned */
	if (rc == CLAW_OK && cc->s3.val && !challenge && !signed_ok) {
		rc = CLAW_ERR_CRYPTO;
		json_decref(env);
		env = NULL;
	}
	if (rc == CLAW_ERR_CRYPTO) {
		gw_metrics_refused(GW_CH_FEISHU, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "the Feishu signature, encryption or "
			       "verification token does not verify");
		goto out;
	}
	if (rc) {
		gw_reply_error(r, GW_E_BAD_MESSAGE,
			       "the body is not a Feishu event (schema 2.0)");
		goto out;
	}
	if (challenge) {
		claw_http_reply_json(
			r, 200, json_pack("{s:s}", "challenge", challenge));
		goto out;
	}
	gw_ack_empty(r, g, c, env);
	c = NULL;
	env = NULL;
out:
	json_decref(env);
	if (plain) {
		sodium_memzero(plain, plainlen);
		free(plain);
	}
	free(challenge);
	gw_conf_put(c);
}

/* ----------------------------------------------------------- outbound */
static enum claw_rc fetch_token(const struct gw_conf *c, char **tok, long *life,
				struct gw_send_res *res)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_FEISHU];
	char url[700];
	json_t *reply = NULL;
	json_t *body = json_pack("{s:s, s:s}", "app_id", cc->app_id,
				 "app_secret", cc->s1.val);
	if (!body) {
		res->st = GW_SEND_RETRY;
		return CLAW_ERR_NOMEM;
	}
	snprintf(url, sizeof(url),
		 "%s/open-apis/auth/v3/tenant_access_token/internal",
		 cc->api_base);
	gw_post_json(c, url, NULL, NULL, body, res, &reply);
	json_t *code = json_object_get(reply, "code");
	if (res->st == GW_SEND_OK && json_integer_value(code) != 0) {
		/* 10014 and friends: the app id or secret is wrong */
		res->st = GW_SEND_FAIL;
	}
	enum claw_rc rc = gw_token_answer(reply, "tenant_access_token",
					  "expire", tok, life, res);
	const char *m = gw_json_str(reply, "msg");
	if (rc && code)
		snprintf(res->detail, sizeof(res->detail),
			 "feishu token: %lld %.80s",
			 (long long)json_integer_value(code), m ? m : "");
	/* the app secret went in the body: wipe the copy */
	json_t *sec = json_object_get(body, "app_secret");
	if (json_string_value(sec))
		sodium_memzero((char *)json_string_value(sec),
			       json_string_length(sec));
	json_decref(body);
	json_decref(reply);
	return rc;
}

/* Feishu's code of an error answer: a token to drop, a rate limit. */
static bool code_in(long long code, const long long *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == code)
			return true;
	return false;
}

void gw_feishu_send(GW_SEND_ARGS)
{
	static const long long token_codes[] = {99991661, 99991663, 99991668};
	static const long long rate_codes[] = {99991400, 11232, 230020};
	char auth[8300], uuid[37], url[800];
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_FEISHU];
	const char *mid =
		gw_json_str(json_object_get(env, GW_ENV_ROUTE), "message_id");
	char *content = NULL, *text_body = NULL;
	if (!cc->s1.val || !cc->app_id || !id_ok(mid)) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the feishu channel is not configured");
		return;
	}
	if (gw_chan_token(g, GW_CH_FEISHU, c, cc->api_base, cc->app_id,
			  fetch_token, auth, sizeof(auth), res))
		return;
	json_t *inner = json_pack("{s:s}", "text", text);
	content = inner ? claw_json_dumps(inner) : NULL;
	json_decref(inner);
	gw_derived_uuid("feishu-reply", gw_env_str(env, "id"), res->part, uuid);
	json_t *body = content
		? json_pack("{s:s, s:s, s:s}", "msg_type", "text", "content",
			    content, "uuid", uuid)
		: NULL;
	text_body = body ? claw_json_dumps(body) : NULL;
	json_decref(body);
	if (!text_body) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/open-apis/im/v1/messages/%s/reply",
		 cc->api_base, mid);
	struct gw_http_out o = {.url = url,
				.body = text_body,
				.body_len = strlen(text_body),
				.auth = auth,
				.reset_header = "x-ogw-ratelimit-reset"};
	gw_http_send(c, &o, res, &reply);
	json_t *code = json_object_get(reply, "code");
	long long cv = json_integer_value(code);
	if (json_is_integer(code) && cv != 0) {
		if (code_in(cv, token_codes, 3)) {
			gw_token_drop(g->tokens[GW_CH_FEISHU], auth);
			res->st = GW_SEND_RETRY;
		} else if (code_in(cv, rate_codes, 3)) {
			res->st = GW_SEND_RETRY;
		} else if (res->st == GW_SEND_OK) {
			res->st = GW_SEND_FAIL; /* 200 with an error code */
		}
		const char *m = gw_json_str(reply, "msg");
		snprintf(res->detail, sizeof(res->detail),
			 "feishu: HTTP %ld code %lld: %.100s", res->http_status,
			 cv, m ? m : "");
	}
out:
	sodium_memzero(auth, sizeof(auth));
	free(content);
	free(text_body);
	json_decref(reply);
}
