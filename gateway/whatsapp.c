/*
 * whatsapp.c - the WhatsApp Cloud API adapter: the webhook verification
 * request (hub.mode=subscribe, hub.verify_token, echo hub.challenge), the
 * X-Hub-Signature-256 check ("sha256=" + hex HMAC-SHA256 of the raw body
 * with the app secret) on every POST, the notification parser (entry[] ->
 * changes[] -> value.messages[]; statuses ignored; a message whose
 * timestamp is more than max_event_age_seconds old is dropped and
 * acknowledged, see gw_drop_stale) and replies through
 * POST /{version}/{phone-number-id}/messages.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/httpd.h"
#include "errors.h"
#include "gw.h"

/* The longest message id taken: "whatsapp:" and the id must fit the
 * envelope's 256-byte id (WhatsApp's wamid ids run about 60 bytes). */
#define WA_ID_MAX 200

bool gw_hub_verify(const char *app_secret, const char *sig_hdr,
		   const char *body, size_t len)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char expect[7 + 2 * sizeof(mac) + 1];
	crypto_auth_hmacsha256_state st;
	if (!app_secret || !sig_hdr)
		return false;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)app_secret,
				    strlen(app_secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(expect, "sha256=", 7);
	claw_hex_encode(mac, sizeof(mac), expect + 7);
	return strlen(sig_hdr) == strlen(expect) &&
		claw_ct_equal(sig_hdr, expect, strlen(expect));
}

static const char *contact_name(json_t *value, const char *wa_id)
{
	size_t i;
	json_t *ct;
	json_array_foreach(json_object_get(value, "contacts"), i, ct) {
		const char *id = gw_json_str(ct, "wa_id");
		if (id && strcmp(id, wa_id) == 0)
			return gw_json_str(json_object_get(ct, "profile"),
					   "name");
	}
	return NULL;
}

static enum claw_rc one_message(json_t *value, json_t *m, json_t *out)
{
	char id[WA_ID_MAX + 16], conv[100];
	const char *from = gw_json_str(m, "from");
	const char *mid = gw_json_str(m, "id");
	const char *ts = gw_json_str(m, "timestamp");
	const char *type = gw_json_str(m, "type");
	const char *pnid = gw_json_str(json_object_get(value, "metadata"),
				       "phone_number_id");
	if (!from || !mid || !type || !pnid || strlen(from) > 32 ||
	    strlen(mid) > WA_ID_MAX || strlen(pnid) > 64 ||
	    (ts &&
	     (!*ts || strlen(ts) > 12 ||
	      strspn(ts, "0123456789") != strlen(ts))))
		return CLAW_ERR_PARSE;
	const char *text = NULL;
	json_t *media = NULL;
	const char *mtype = NULL;
	if (strcmp(type, "text") == 0) {
		text = json_string_value(
			json_object_get(json_object_get(m, "text"), "body"));
	} else if (strcmp(type, "image") == 0 ||
		   strcmp(type, "document") == 0 ||
		   strcmp(type, "audio") == 0 || strcmp(type, "video") == 0) {
		media = json_object_get(m, type);
		mtype = strcmp(type, "document") == 0 ? "file" : type;
		text = gw_json_str(media, "caption");
		if (!json_is_string(json_object_get(media, "id")))
			return CLAW_ERR_PARSE;
	} else {
		return CLAW_OK; /* reactions, locations...: not answered */
	}
	snprintf(id, sizeof(id), "whatsapp:%s", mid);
	snprintf(conv, sizeof(conv), "whatsapp:%s", from);
	json_t *env = gw_env_new(GW_CH_WHATSAPP, id, pnid, conv, from,
				 contact_name(value, from), text ? text : "",
				 ts ? strtoll(ts, NULL, 10) : gw_unix_now());
	if (!env)
		return CLAW_ERR_NOMEM;
	if (media) {
		char url[300];
		snprintf(url, sizeof(url), "whatsapp-media:%.256s",
			 gw_json_str(media, "id"));
		json_t *a = json_pack("{s:s, s:s}", "type", mtype, "url", url);
		const char *fname = gw_json_str(media, "filename");
		if (a && fname)
			json_object_set_new(a, "name", json_string(fname));
		json_array_append_new(json_object_get(env, "attachments"), a);
	}
	json_object_set_new(
		env, GW_ENV_ROUTE,
		json_pack("{s:s, s:s}", "to", from, "phone_number_id", pnid));
	json_object_set_new(env, GW_ENV_GROUP, json_false());
	json_object_set_new(env, GW_ENV_MENTIONED, json_false());
	json_array_append_new(out, env);
	return CLAW_OK;
}

static enum claw_rc entries(const json_t *o, json_t *out)
{
	size_t i, k, n;
	json_t *e, *ch, *m;
	json_t *list = json_object_get(o, "entry");
	if (!json_is_array(list))
		return CLAW_ERR_PARSE;
	json_array_foreach(list, i, e) {
		json_t *changes = json_object_get(e, "changes");
		if (!json_is_array(changes))
			return CLAW_ERR_PARSE;
		json_array_foreach(changes, k, ch) {
			const char *field = gw_json_str(ch, "field");
			json_t *value = json_object_get(ch, "value");
			if (!field || !json_is_object(value))
				return CLAW_ERR_PARSE;
			if (strcmp(field, "messages") != 0)
				continue;
			json_array_foreach(json_object_get(value, "messages"),
					   n, m) {
				enum claw_rc rc = one_message(value, m, out);
				if (rc)
					return rc;
			}
		}
	}
	return CLAW_OK;
}

enum claw_rc gw_whatsapp_parse(const struct gw_chan_conf *cc, const char *body,
			       size_t len, json_t **envs_out)
{
	(void)cc;
	return gw_envs_parse(body, len, entries, envs_out);
}

void gw_whatsapp_verify(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_WHATSAPP];
	const char *mode = claw_http_query(r, "hub.mode");
	const char *token = claw_http_query(r, "hub.verify_token");
	const char *challenge = claw_http_query(r, "hub.challenge");
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the whatsapp channel is not enabled");
	} else if (!mode || strcmp(mode, "subscribe") != 0 || !token ||
		   !challenge || strlen(challenge) > 256 ||
		   !claw_ct_streq(token, cc->s2.val)) {
		gw_metrics_refused(GW_CH_WHATSAPP, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_VERIFICATION_FAILED,
			       "hub.mode must be subscribe and "
			       "hub.verify_token must match");
	} else {
		claw_http_reply_raw(r, 200, "text/plain", challenge,
				    strlen(challenge));
	}
	gw_conf_put(c);
}

void gw_whatsapp_webhook(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	json_t *envs = NULL;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_WHATSAPP];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the whatsapp channel is not enabled");
		goto out;
	}
	if (!gw_hub_verify(cc->s1.val,
			   claw_http_header(r, "X-Hub-Signature-256"), body,
			   len)) {
		gw_metrics_refused(GW_CH_WHATSAPP, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "X-Hub-Signature-256 does not verify");
		goto out;
	}
	if (gw_whatsapp_parse(cc, body, len, &envs)) {
		gw_reply_error(r, GW_E_BAD_NOTIFICATION,
			       "the body is not a WhatsApp notification");
		goto out;
	}
	gw_ack_all(r, g, c, envs);
out:
	json_decref(envs);
	gw_conf_put(c);
}

void gw_whatsapp_send(GW_SEND_ARGS)
{
	(void)g;
	char url[700], auth[600];
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_WHATSAPP];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *pnid = gw_json_str(route, "phone_number_id");
	if (!cc->s3.val || !pnid) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the whatsapp channel is not configured");
		return;
	}
	json_t *body = json_pack("{s:s, s:s, s:O, s:s, s:{s:b, s:s}}",
				 "messaging_product", "whatsapp",
				 "recipient_type", "individual", "to",
				 json_object_get(route, "to"), "type", "text",
				 "text", "preview_url", 0, "body", text);
	if (!body) {
		res->st = GW_SEND_FAIL;
		return;
	}
	snprintf(url, sizeof(url), "%s/%s/%s/messages", cc->api_base,
		 cc->api_version, pnid);
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s3.val);
	gw_post_json(c, url, auth, NULL, body, res, &reply);
	sodium_memzero(auth, sizeof(auth));
	json_t *err = json_object_get(reply, "error");
	if (res->st != GW_SEND_OK && err) {
		json_int_t code =
			json_integer_value(json_object_get(err, "code"));
		/* throttling codes of the Graph and Cloud APIs */
		if (code == 4 || code == 80007 || code == 130429 ||
		    code == 131056 || code == 131000)
			res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail),
			 "whatsapp: code %lld: %.100s", (long long)code,
			 gw_json_str(err, "message")
				 ? json_string_value(
					   json_object_get(err, "message"))
				 : "");
	}
	json_decref(reply);
	json_decref(body);
}
