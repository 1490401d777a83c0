/*
 * discord.c - the Discord interactions endpoint: Ed25519 verification of
 * X-Signature-Ed25519 over X-Signature-Timestamp + raw body with the
 * application's public key (a timestamp more than 5 minutes away is
 * refused too, and so is a signature seen before: its bytes, whatever the
 * case of its hex), PING answered with PONG (type 1), application commands
 * acknowledged with a deferred response (type 5) once journaled, and the
 * reply written by editing the original response (PATCH
 * /webhooks/{application.id}/{token}/messages/@original), with further
 * pieces as follow-up messages.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/httpd.h"
#include "errors.h"
#include "gw.h"

#define DISCORD_WINDOW_S 300
#define DISCORD_EPHEMERAL 64

bool gw_discord_verify(const char *public_key_hex, const char *sig_hdr,
		       const char *ts_hdr, const char *body, size_t len)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
	if (!public_key_hex || !sig_hdr || !ts_hdr ||
	    strlen(sig_hdr) != 2 * sizeof(sig) ||
	    claw_hex_decode(public_key_hex, pk, sizeof(pk)) ||
	    claw_hex_decode(sig_hdr, sig, sizeof(sig)))
		return false;
	size_t tlen = strlen(ts_hdr);
	unsigned char *msg = malloc(tlen + len + 1);
	if (!msg)
		return false;
	memcpy(msg, ts_hdr, tlen);
	if (len)
		memcpy(msg + tlen, body, len);
	bool ok = crypto_sign_verify_detached(sig, msg, tlen + len, pk) == 0;
	free(msg);
	return ok;
}

/* The text of a command: its string options joined, or "/name". */
static void command_text(json_t *data, char *out, size_t len)
{
	size_t i, o = 0;
	json_t *opt;
	out[0] = '\0';
	json_array_foreach(json_object_get(data, "options"), i, opt) {
		const char *v = gw_json_str(opt, "value");
		if (v && o < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s",
					      o ? " " : "", v);
	}
	if (!out[0])
		snprintf(out, len, "/%s",
			 gw_json_str(data, "name")
				 ? json_string_value(
					   json_object_get(data, "name"))
				 : "");
}

enum claw_rc gw_discord_parse(const struct gw_chan_conf *cc, const char *body,
			      size_t len, int *type_out, json_t **env_out)
{
	char id[64], conv[64], text[8192];
	*env_out = NULL;
	*type_out = 0;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *jt = json_object_get(o, "type");
	if (!json_is_integer(jt)) {
		json_decref(o);
		return CLAW_ERR_PARSE;
	}
	*type_out = (int)json_integer_value(jt);
	if (*type_out != 2) {
		json_decref(o);
		return CLAW_OK;
	}
	const char *iid = gw_json_str(o, "id");
	const char *token = gw_json_str(o, "token");
	const char *app = gw_json_str(o, "application_id");
	const char *chan = gw_json_str(o, "channel_id");
	const char *guild = gw_json_str(o, "guild_id");
	json_t *user = json_object_get(json_object_get(o, "member"), "user");
	if (!user)
		user = json_object_get(o, "user");
	const char *uid = gw_json_str(user, "id");
	const char *uname = gw_json_str(user, "global_name");
	if (!uname)
		uname = gw_json_str(user, "username");
	if (!iid || !token || !chan || !uid || strlen(iid) > 32 ||
	    strlen(chan) > 32 || strlen(token) > 512) {
		json_decref(o);
		return CLAW_ERR_PARSE;
	}
	if (!app)
		app = cc->application_id ? cc->application_id : "";
	command_text(json_object_get(o, "data"), text, sizeof(text));
	snprintf(id, sizeof(id), "discord:%s", iid);
	snprintf(conv, sizeof(conv), "discord:%s", chan);
	/* snowflake -> unix seconds: (id >> 22) + Discord epoch, in ms */
	long long when = (long long)((strtoull(iid, NULL, 10) >> 22) +
				     1420070400000ULL) /
		1000;
	json_t *env = gw_env_new(GW_CH_DISCORD, id, app, conv, uid, uname, text,
				 when);
	if (!env) {
		json_decref(o);
		return CLAW_ERR_NOMEM;
	}
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s, s:s, s:s}", "kind", "interaction",
				      "application_id", app, "token", token));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(guild != NULL));
	/* a slash command is addressed to the bot by definition */
	json_object_set_new(env, GW_ENV_MENTIONED, json_true());
	json_decref(o);
	*env_out = env;
	return CLAW_OK;
}

static void reply_message(struct claw_http_req *r, const char *text)
{
	claw_http_reply_json(r, 200,
			     json_pack("{s:i, s:{s:s, s:i}}", "type", 4, "data",
				       "content", text, "flags",
				       DISCORD_EPHEMERAL));
}

void gw_discord_interactions(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	int type = 0;
	json_t *env = NULL;
	char refusal[400];
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_DISCORD];
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the discord channel is not enabled");
		goto out;
	}
	const char *ts = claw_http_header(r, "X-Signature-Timestamp");
	if (!gw_discord_verify(cc->public_key_hex,
			       claw_http_header(r, "X-Signature-Ed25519"), ts,
			       body, len)) {
		gw_metrics_refused(GW_CH_DISCORD, GW_REF_BAD_SIGNATURE);
		gw_reply_error(r, GW_E_BAD_SIGNATURE,
			       "invalid request signature");
		goto out;
	}
	char *end;
	long long t = strtoll(ts, &end, 10);
	if (*end || llabs(gw_unix_now() - t) > DISCORD_WINDOW_S) {
		gw_metrics_refused(GW_CH_DISCORD, GW_REF_STALE);
		gw_reply_error(r, GW_E_STALE_REQUEST,
			       "the request timestamp is more than 5 minutes "
			       "away from now");
		goto out;
	}
	uint8_t sig[crypto_sign_BYTES];
	if (claw_hex_decode(claw_http_header(r, "X-Signature-Ed25519"), sig,
			    sizeof(sig)) ||
	    !gw_replay_check(GW_CH_DISCORD, sig, sizeof(sig))) {
		gw_metrics_refused(GW_CH_DISCORD, GW_REF_REPLAY);
		gw_reply_error(r, GW_E_REPLAYED_REQUEST,
			       "this exact signed request was seen before");
		goto out;
	}
	if (gw_discord_parse(cc, body, len, &type, &env)) {
		gw_reply_error(r, GW_E_BAD_INTERACTION,
			       "the body is not a Discord interaction");
		goto out;
	}
	gw_conf_put(c);
	c = NULL;
	if (type == 1) {
		claw_http_reply_json(r, 200, json_pack("{s:i}", "type", 1));
		goto out;
	}
	if (!env) {
		reply_message(r,
			      "Sorry, this kind of interaction is not "
			      "supported.");
		goto out;
	}
	enum gw_ingest_result res =
		gw_ingest(g, env, false, refusal, sizeof(refusal));
	if (res == GW_IN_ERROR)
		gw_ack(r, res);
	else if (refusal[0])
		reply_message(r, refusal);
	else if (res == GW_IN_IGNORED)
		reply_message(r, "This assistant does not answer here.");
	else
		claw_http_reply_json(r, 200, json_pack("{s:i}", "type", 5));
out:
	gw_conf_put(c);
}

/* A reply to a Gateway message: POST /channels/{id}/messages as the bot,
 * referencing the message in guild channels. */
static void send_channel(const struct gw_conf *c, const json_t *env,
			 const char *text, struct gw_send_res *res,
			 json_t **reply)
{
	char url[600], auth[600];
	const struct gw_chan_conf *cc = &c->ch[GW_CH_DISCORD];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *chan = gw_json_str(route, "channel_id");
	if (!chan || !cc->s1.val) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "no channel or no bot token");
		return;
	}
	json_t *body = json_pack("{s:s}", "content", text);
	if (body && res->part == 0 &&
	    json_is_true(json_object_get(env, GW_ENV_GROUP)))
		json_object_set_new(
			body, "message_reference",
			json_pack("{s:O, s:b}", "message_id",
				  json_object_get(route, "message_id"),
				  "fail_if_not_exists", 0));
	snprintf(url, sizeof(url), "%s/channels/%s/messages", cc->api_base,
		 chan);
	snprintf(auth, sizeof(auth), "Bot %s", cc->s1.val);
	if (body)
		gw_post_json(c, url, auth, NULL, body, res, reply);
	else
		res->st = GW_SEND_FAIL;
	sodium_memzero(auth, sizeof(auth));
	json_decref(body);
}

/* A reply to an interaction: edit the deferred response, then follow-ups. */
static void send_interaction(const struct gw_conf *c, const json_t *env,
			     const char *text, struct gw_send_res *res,
			     json_t **reply)
{
	char url[1200];
	const struct gw_chan_conf *cc = &c->ch[GW_CH_DISCORD];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *app = gw_json_str(route, "application_id");
	const char *token = gw_json_str(route, "token");
	if (!app || !token) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "no interaction to answer");
		return;
	}
	json_t *body = json_pack("{s:s}", "content", text);
	if (res->part == 0)
		snprintf(url, sizeof(url),
			 "%s/webhooks/%s/%s/messages/@original", cc->api_base,
			 app, token);
	else
		snprintf(url, sizeof(url), "%s/webhooks/%s/%s", cc->api_base,
			 app, token);
	if (body)
		gw_post_json(c, url, NULL, res->part == 0 ? "PATCH" : NULL,
			     body, res, reply);
	else
		res->st = GW_SEND_FAIL;
	json_decref(body);
}

void gw_discord_send(GW_SEND_ARGS)
{
	(void)g;
	json_t *reply = NULL;
	const char *kind = json_string_value(
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "kind"));
	if (kind && strcmp(kind, "channel") == 0)
		send_channel(c, env, text, res, &reply);
	else
		send_interaction(c, env, text, res, &reply);
	json_t *ra = json_object_get(reply, "retry_after");
	if (res->st == GW_SEND_RETRY && json_is_number(ra) &&
	    json_number_value(ra) >= 0 && json_number_value(ra) < 86400)
		res->retry_after_ms = (long)(json_number_value(ra) * 1000);
	json_decref(reply);
}
