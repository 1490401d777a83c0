/*
 * discord_gw.c - the Discord Gateway (WebSocket) for direct messages and
 * mentions: GET /gateway/bot gives the URL; the gateway says Hello (op
 * 10) with the heartbeat interval; we Identify (op 2: bot token, intents
 * GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT) or Resume (op 6:
 * session id and last sequence) after a drop; heartbeats (op 1 with the
 * last sequence) go out on schedule and when asked, and a missing
 * Heartbeat ACK (op 11) means a zombie connection: close and resume.
 * Reconnect (op 7) resumes on resume_gateway_url; Invalid Session (op 9)
 * resumes when its d is true, identifies anew otherwise. Our own closes
 * that mean to resume use code 4000 (Discord invalidates a session closed
 * with 1000 or 1001). Discord's close codes are honoured (its documented
 * table): 4004 (authentication failed), 4010 (invalid shard), 4011
 * (sharding required), 4012 (invalid API version), 4013 (invalid intents)
 * and 4014 (disallowed intents) stop the thread with an error log and
 * claw_gateway_websocket_stopped_total: reconnecting cannot help until
 * the operator fixes the bot and restarts the gateway; 4007 and 4009 start
 * a new session; anything else resumes. Every reconnect waits bg.c's
 * backoff (1 s doubling to 5 min, with jitter). MESSAGE_CREATE
 * dispatches become envelopes; replies go through the REST API
 * (POST /channels/{id}/messages with "Bot" authorisation).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define INTENTS ((1 << 9) | (1 << 12) | (1 << 15))
#define CLOSE_RESUMABLE 4000 /* any code but 1000/1001 keeps the session */

struct gw_discordgw {
	struct gw *g;
	/* connection state, used only by the bg thread */
	long long seq; /* -1: none yet */
	char session_id[128];
	char resume_url[512];
	char bot_id[32];
	double interval_s, next_beat;
	long pause_ms; /* before the next connection (after op 9) */
	bool acked, hello;
};

enum claw_rc gw_discord_message_parse(const struct gw_chan_conf *cc,
				      const char *bot_id, json_t *d,
				      json_t **env_out)
{
	char id[64], conv[64];
	(void)cc;
	*env_out = NULL;
	const char *mid = gw_json_str(d, "id");
	const char *chan = gw_json_str(d, "channel_id");
	const char *guild = gw_json_str(d, "guild_id");
	const char *content = gw_json_str(d, "content");
	json_t *author = json_object_get(d, "author");
	const char *uid = gw_json_str(author, "id");
	const char *uname = gw_json_str(author, "global_name");
	if (!uname)
		uname = gw_json_str(author, "username");
	if (!mid || !chan || !uid || !content || strlen(mid) > 32 ||
	    strlen(chan) > 32)
		return CLAW_ERR_PARSE;
	if (json_is_true(json_object_get(author, "bot")) ||
	    (bot_id && strcmp(uid, bot_id) == 0))
		return CLAW_OK; /* bots, ourselves included */
	bool mentioned = false;
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(d, "mentions"), i, m) {
		const char *x = gw_json_str(m, "id");
		if (bot_id && x && strcmp(x, bot_id) == 0)
			mentioned = true;
	}
	snprintf(id, sizeof(id), "discord:%s", mid);
	snprintf(conv, sizeof(conv), "discord:%s", chan);
	long long when = (long long)((strtoull(mid, NULL, 10) >> 22) +
				     1420070400000ULL) /
		1000;
	json_t *env = gw_env_new(GW_CH_DISCORD, id, bot_id ? bot_id : "", conv,
				 uid, uname, content, when);
	if (!env)
		return CLAW_ERR_NOMEM;
	size_t k;
	json_t *a;
	json_array_foreach(json_object_get(d, "attachments"), k, a) {
		const char *url = gw_json_str(a, "url");
		const char *fn = gw_json_str(a, "filename");
		if (url)
			json_array_append_new(
				json_object_get(env, "attachments"),
				json_pack("{s:s, s:s, s:s}", "type", "file",
					  "url", url, "name", fn ? fn : ""));
	}
	json_t *route = json_pack("{s:s, s:s, s:s}", "kind", "channel",
				  "channel_id", chan, "message_id", mid);
	json_object_set_new(env, GW_ENV_ROUTE, route);
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(guild != NULL));
	json_object_set_new(env, GW_ENV_MENTIONED, json_boolean(mentioned));
	*env_out = env;
	return CLAW_OK;
}

static void send_op(struct gw_ws *ws, json_t *o_steal)
{
	char *t = o_steal ? claw_json_dumps(o_steal) : NULL;
	json_decref(o_steal);
	if (t) {
		gw_ws_send(ws, t);
		sodium_memzero(t, strlen(t)); /* identify holds the token */
		free(t);
	}
}

static void heartbeat(struct gw_ws *ws, struct gw_discordgw *d)
{
	send_op(ws,
		json_pack("{s:i, s:o}", "op", 1, "d",
			  d->seq >= 0 ? json_integer(d->seq) : json_null()));
	d->acked = false;
	d->next_beat = gw_now() + d->interval_s;
}

static void identify_or_resume(struct gw_ws *ws, struct gw_discordgw *d)
{
	struct gw_conf *c = gw_conf_get(d->g);
	const char *token = c->ch[GW_CH_DISCORD].s1.val;
	if (d->session_id[0])
		send_op(ws,
			json_pack("{s:i, s:{s:s, s:s, s:I}}", "op", 6, "d",
				  "token", token, "session_id", d->session_id,
				  "seq",
				  (json_int_t)(d->seq < 0 ? 0 : d->seq)));
	else
		send_op(ws,
			json_pack("{s:i, s:{s:s, s:i, s:{s:s, s:s, s:s}}}",
				  "op", 2, "d", "token", token, "intents",
				  INTENTS, "properties", "os", "linux",
				  "browser", "claw-gateway", "device",
				  "claw-gateway"));
	gw_conf_put(c);
}

static void dispatch(struct gw_discordgw *d, const char *t, json_t *data)
{
	if (strcmp(t, "READY") == 0) {
		const char *sid = gw_json_str(data, "session_id");
		const char *url = json_string_value(
			json_object_get(data, "resume_gateway_url"));
		const char *bot = json_string_value(
			json_object_get(json_object_get(data, "user"), "id"));
		snprintf(d->session_id, sizeof(d->session_id), "%s",
			 sid ? sid : "");
		snprintf(d->resume_url, sizeof(d->resume_url), "%s",
			 url ? url : "");
		snprintf(d->bot_id, sizeof(d->bot_id), "%s", bot ? bot : "");
		log_info("discord gateway: ready");
	} else if (strcmp(t, "RESUMED") == 0) {
		log_info("discord gateway: resumed");
	} else if (strcmp(t, "MESSAGE_CREATE") == 0) {
		json_t *env = NULL;
		struct gw_conf *c = gw_conf_get(d->g);
		enum claw_rc rc = gw_discord_message_parse(
			&c->ch[GW_CH_DISCORD], d->bot_id[0] ? d->bot_id : NULL,
			data, &env);
		gw_conf_put(c);
		if (rc)
			log_warn(
				"discord gateway: skipped a malformed message");
		else if (env)
			gw_ingest(d->g, env, true, NULL, 0);
	}
}

static void on_text(struct gw_ws *ws, const char *text, size_t len, void *cls)
{
	struct gw_discordgw *d = cls;
	json_t *o = json_loadb(text, len, 0, NULL);
	json_t *op = json_object_get(o, "op"), *data = json_object_get(o, "d");
	json_t *s = json_object_get(o, "s");
	if (!json_is_integer(op)) {
		log_warn("discord gateway: a payload without an op");
		goto out;
	}
	if (json_is_integer(s))
		d->seq = json_integer_value(s);
	switch (json_integer_value(op)) {
	case 0: {
		const char *t = gw_json_str(o, "t");
		if (t)
			dispatch(d, t, data);
		break;
	}
	case 1:
		heartbeat(ws, d);
		break;
	case 7:
		log_info("discord gateway: asked to reconnect");
		gw_ws_close_code(ws, CLOSE_RESUMABLE);
		break;
	case 9:
		if (!json_is_true(data)) {
			d->session_id[0] = '\0';
			d->seq = -1;
		}
		log_info("discord gateway: invalid session (%s)",
			 json_is_true(data) ? "resumable" : "identify anew");
		/* the documented wait: a random 1 to 5 seconds */
		d->pause_ms = 1000 + (long)randombytes_uniform(4000);
		if (json_is_true(data))
			gw_ws_close_code(ws, CLOSE_RESUMABLE);
		else
			gw_ws_close(ws);
		break;
	case 10: {
		json_t *iv = json_object_get(data, "heartbeat_interval");
		d->interval_s = json_is_integer(iv)
			? (double)json_integer_value(iv) / 1000.0
			: 41.25;
		if (d->interval_s < 0.1)
			d->interval_s = 0.1;
		d->hello = true;
		d->acked = true;
		/* the first beat after interval * jitter, as documented */
		d->next_beat = gw_now() +
			d->interval_s * randombytes_uniform(1000) / 1000.0;
		identify_or_resume(ws, d);
		break;
	}
	case 11:
		d->acked = true;
		break;
	default:
		break;
	}
out:
	json_decref(o);
}

static void on_tick(struct gw_ws *ws, void *cls)
{
	struct gw_discordgw *d = cls;
	if (!d->hello || gw_now() < d->next_beat)
		return;
	if (!d->acked) {
		log_warn("discord gateway: no heartbeat ack; reconnecting");
		gw_ws_close_code(ws, CLOSE_RESUMABLE);
		return;
	}
	heartbeat(ws, d);
}

const struct gw_ws_handler gw_discordgw_handler = {NULL, on_text, on_tick};

enum gw_ws_after gw_discord_close_action(int code, const char **why)
{
	static const struct {
		int code;
		enum gw_ws_after after;
		const char *why;
	} table[] = {
		{4004, GW_WS_STOP,
		 "authentication failed: check the bot token"},
		{4007, GW_WS_IDENTIFY, "invalid sequence"},
		{4009, GW_WS_IDENTIFY, "session timed out"},
		{4010, GW_WS_STOP, "invalid shard"},
		{4011, GW_WS_STOP, "sharding required"},
		{4012, GW_WS_STOP, "invalid API version"},
		{4013, GW_WS_STOP, "invalid intents"},
		{4014, GW_WS_STOP,
		 "disallowed intents: enable the Message Content intent in "
		 "the developer portal"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code == code) {
			*why = table[i].why;
			return table[i].after;
		}
	}
	*why = code ? "resumable" : "no close code";
	return GW_WS_RESUME;
}

/* GET /gateway/bot -> the gateway URL, or NULL. */
static char *gateway_url(struct gw *g)
{
	char url[600], auth[600];
	struct gw_send_res res;
	json_t *reply = NULL;
	char *out = NULL;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_DISCORD];
	snprintf(url, sizeof(url), "%s/gateway/bot", cc->api_base);
	snprintf(auth, sizeof(auth), "Bot %s", cc->s1.val ? cc->s1.val : "");
	gw_post_json(c, url, auth, "GET", NULL, &res, &reply);
	sodium_memzero(auth, sizeof(auth));
	const char *u = gw_json_str(reply, "url");
	if (res.st == GW_SEND_OK && u)
		out = strdup(u);
	else
		log_warn("discord GET /gateway/bot failed: %s", res.detail);
	json_decref(reply);
	gw_conf_put(c);
	return out;
}

void *gw_discordgw_new(void)
{
	struct gw_discordgw *d = calloc(1, sizeof(*d));
	if (d)
		d->seq = -1;
	return d;
}

void gw_discordgw_bind(void *state, struct gw *g)
{
	((struct gw_discordgw *)state)->g = g;
}

/* After a connection ended with the peer's close code: go on (resume or
 * identify anew) or stop for good. */
static bool after_close(struct gw_discordgw *d, int code)
{
	const char *why;
	switch (gw_discord_close_action(code, &why)) {
	case GW_WS_STOP:
		log_error("discord gateway: closed with %d (%s): not "
			  "reconnecting; fix the bot's settings and restart "
			  "the gateway",
			  code, why);
		gw_metrics_ws_stopped(GW_CH_DISCORD);
		return false;
	case GW_WS_IDENTIFY:
		log_info("discord gateway: closed with %d (%s): a new session",
			 code, why);
		d->session_id[0] = '\0';
		d->seq = -1;
		return true;
	case GW_WS_RESUME:
		break;
	}
	return true;
}

bool gw_discordgw_round(struct gw *g, void *cls, long *wait_ms)
{
	struct gw_discordgw *d = cls;
	struct gw_ws_end end = {0};
	char url[700];
	d->g = g;
	char *base = d->session_id[0] && d->resume_url[0]
		? strdup(d->resume_url)
		: gateway_url(g);
	if (base) {
		snprintf(url, sizeof(url), "%s/?v=10&encoding=json", base);
		d->hello = false;
		gw_ws_session(g, "discord gateway", url, &gw_discordgw_handler,
			      d, &end);
		free(base);
	}
	if (end.opened && !after_close(d, end.close_code)) {
		*wait_ms = GW_BG_STOP;
		return false;
	}
	if (d->pause_ms) /* Invalid Session's own wait, then the backoff */
		gw_sleep_ms(g, d->pause_ms);
	d->pause_ms = 0;
	*wait_ms = GW_BG_RECONNECT;
	return end.opened && end.open_s >= GW_WS_HEALTHY_S;
}
