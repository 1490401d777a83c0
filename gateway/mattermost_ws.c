/*
 * mattermost_ws.c - a Mattermost bot account over the WebSocket API
 * (channels.mattermost.mode "websocket"), for servers that cannot reach
 * the gateway with outgoing webhooks, and for direct messages, which
 * outgoing webhooks never carry.
 *
 * Each connection: GET {api_base}/api/v4/users/me with the bot's token
 * (the secret mattermost_bot_token) gives the bot's user id; then the
 * WebSocket {api_base with ws(s)://}/api/v4/websocket, where the first
 * message is {"seq": 1, "action": "authentication_challenge", "data":
 * {"token": ...}}. The server answers {"status": "OK", "seq_reply": 1}
 * and "hello"; a "FAIL" answer closes the connection (a revoked token
 * may be replaced and reloaded without a restart, so the thread keeps
 * trying at bg.c's backoff). "posted" events become envelopes
 * (mattermost.c, gw_mattermost_ws_parse): the bot's own posts and system
 * messages are left, the dedupe key is the post id (as with outgoing
 * webhooks: a post that comes both ways is answered once), direct
 * channels (channel_type "D") are direct messages, others are groups in
 * which the bot is mentioned when data.mentions holds its id or the text
 * "@bot_username". Replies go through the REST API as in webhook mode
 * (gw_mattermost_send: POST /api/v4/posts, 429 waits for Retry-After or
 * X-Ratelimit-Reset, 16383-character pieces).
 *
 * Mattermost does not redeliver what a socket missed: posts made while
 * the gateway was disconnected are not answered. A post is journaled
 * before anything else is read from the socket, so one that was read is
 * answered exactly once, also after a crash (the journal's replay).
 * Every reconnect waits bg.c's backoff (1 s doubling to 5 min, jitter).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define MM_SEQ_AUTH 1

struct gw_mmws {
	struct gw *g;
	char bot_id[65]; /* from users/me */
};

void *gw_mmws_new(void)
{
	return calloc(1, sizeof(struct gw_mmws));
}

void gw_mmws_bind(void *state, struct gw *g, const char *bot_id)
{
	struct gw_mmws *m = state;
	m->g = g;
	snprintf(m->bot_id, sizeof(m->bot_id), "%s", bot_id ? bot_id : "");
}

static void on_open(struct gw_ws *ws, void *cls)
{
	struct gw_mmws *m = cls;
	struct gw_conf *c = gw_conf_get(m->g);
	const char *token = c->ch[GW_CH_MATTERMOST].s2.val;
	json_t *o = json_pack("{s:i, s:s, s:{s:s}}", "seq", MM_SEQ_AUTH,
			      "action", "authentication_challenge", "data",
			      "token", token ? token : "");
	char *t = o ? claw_json_dumps(o) : NULL;
	json_decref(o);
	if (t) {
		gw_ws_send(ws, t);
		sodium_memzero(t, strlen(t));
		free(t);
	}
	gw_conf_put(c);
}

static void on_text(struct gw_ws *ws, const char *text, size_t len, void *cls)
{
	struct gw_mmws *m = cls;
	json_t *o = json_loadb(text, len, 0, NULL);
	json_t *reply = json_object_get(o, "seq_reply");
	const char *event = gw_json_str(o, "event");
	json_t *env = NULL;
	if (json_is_integer(reply)) {
		const char *st = gw_json_str(o, "status");
		if (json_integer_value(reply) == MM_SEQ_AUTH &&
		    (!st || strcmp(st, "OK") != 0)) {
			log_error("mattermost websocket: authentication "
				  "failed: check the secret "
				  "mattermost_bot_token");
			gw_ws_close(ws);
		}
		goto out;
	}
	if (event && strcmp(event, "hello") == 0)
		log_info("mattermost websocket: ready");
	if (!event || strcmp(event, "posted") != 0)
		goto out;
	struct gw_conf *c = gw_conf_get(m->g);
	enum claw_rc rc = gw_mattermost_ws_parse(
		&c->ch[GW_CH_MATTERMOST], m->bot_id[0] ? m->bot_id : NULL, text,
		len, &env);
	gw_conf_put(c);
	if (rc)
		log_warn("mattermost websocket: skipped a malformed post");
	else if (env)
		gw_ingest(m->g, env, true, NULL, 0);
out:
	json_decref(o);
}

const struct gw_ws_handler gw_mmws_handler = {on_open, on_text, NULL};

/* GET /api/v4/users/me: the bot's user id into m; false when it failed. */
static bool who_am_i(struct gw_mmws *m, const struct gw_conf *c)
{
	char url[700], auth[600];
	struct gw_send_res res = {0};
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATTERMOST];
	snprintf(url, sizeof(url), "%s/api/v4/users/me", cc->api_base);
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s2.val ? cc->s2.val : "");
	gw_post_json(c, url, auth, "GET", NULL, &res, &reply);
	sodium_memzero(auth, sizeof(auth));
	const char *id = gw_json_str(reply, "id");
	bool ok = res.st == GW_SEND_OK && id && *id && strlen(id) <= 64;
	if (ok)
		snprintf(m->bot_id, sizeof(m->bot_id), "%s", id);
	else
		log_warn("mattermost GET /api/v4/users/me failed: %s %s",
			 res.detail,
			 gw_json_str(reply, "message")
				 ? json_string_value(
					   json_object_get(reply, "message"))
				 : "");
	json_decref(reply);
	return ok;
}

/* api_base with ws:// for http:// and wss:// for https://. */
static bool socket_url(const char *base, char *out, size_t len)
{
	int n = -1;
	if (strncmp(base, "https://", 8) == 0)
		n = snprintf(out, len, "wss://%s/api/v4/websocket", base + 8);
	else if (strncmp(base, "http://", 7) == 0)
		n = snprintf(out, len, "ws://%s/api/v4/websocket", base + 7);
	return n > 0 && (size_t)n < len;
}

bool gw_mmws_round(struct gw *g, void *cls, long *wait_ms)
{
	struct gw_mmws *m = cls;
	struct gw_ws_end end = {0};
	char url[700];
	m->g = g;
	struct gw_conf *c = gw_conf_get(g);
	bool go = who_am_i(m, c) &&
		socket_url(c->ch[GW_CH_MATTERMOST].api_base, url, sizeof(url));
	gw_conf_put(c);
	if (go)
		gw_ws_session(g, "mattermost websocket", url, &gw_mmws_handler,
			      m, &end);
	*wait_ms = GW_BG_RECONNECT;
	return end.opened && end.open_s >= GW_WS_HEALTHY_S;
}
