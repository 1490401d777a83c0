/*
 * slack_socket.c - Slack Socket Mode, for installs with no public URL:
 * apps.connections.open (with the app-level token) gives a WebSocket URL;
 * Slack sends "hello", then envelopes ({"envelope_id", "type":
 * "events_api", "payload": <the Events API body>}), each acknowledged by
 * sending {"envelope_id": ...} back, here only after the event is
 * journaled (an unacknowledged envelope is redelivered). "disconnect"
 * (refresh, warning, link_disabled) and any drop lead to a new URL and
 * connection after bg.c's reconnect backoff (1 s doubling to 5 min, with
 * jitter; it starts over after a session that stayed up
 * GW_WS_HEALTHY_S), so a server that keeps closing at once is not hammered.
 * Slack has no close code that forbids reconnecting: a disabled link or a
 * revoked token may be fixed (and reloaded) without a restart, so the
 * thread keeps trying at the 5 minute ceiling.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

static void on_text(struct gw_ws *ws, const char *data, size_t len, void *cls)
{
	struct gw *g = cls;
	json_t *o = json_loadb(data, len, 0, NULL);
	const char *type = gw_json_str(o, "type");
	const char *eid = gw_json_str(o, "envelope_id");
	if (!type) {
		log_warn("slack socket: a message without a type");
		goto out;
	}
	if (strcmp(type, "disconnect") == 0) {
		log_info("slack socket: disconnect (%s)",
			 gw_json_str(o, "reason")
				 ? json_string_value(
					   json_object_get(o, "reason"))
				 : "no reason");
		gw_ws_close(ws);
		goto out;
	}
	if (!eid)
		goto out; /* hello */
	enum gw_ingest_result res = GW_IN_IGNORED;
	if (strcmp(type, "events_api") == 0) {
		json_t *env = NULL, *root = NULL;
		const char *challenge = NULL;
		char *payload = claw_json_dumps(json_object_get(o, "payload"));
		struct gw_conf *c = gw_conf_get(g);
		enum claw_rc rc = payload
			? gw_slack_parse(&c->ch[GW_CH_SLACK], payload,
					 strlen(payload), &env, &challenge,
					 &root)
			: CLAW_ERR_NOMEM;
		gw_conf_put(c);
		free(payload);
		json_decref(root);
		if (rc)
			log_warn("slack socket: skipped a malformed event");
		else if (env)
			res = gw_ingest(g, env, true, NULL, 0);
	}
	if (res == GW_IN_ERROR)
		goto out; /* not acknowledged: Slack delivers it again */
	json_t *ack = json_pack("{s:s}", "envelope_id", eid);
	char *text = ack ? claw_json_dumps(ack) : NULL;
	if (text)
		gw_ws_send(ws, text);
	free(text);
	json_decref(ack);
out:
	json_decref(o);
}

const struct gw_ws_handler gw_slacksock_handler = {NULL, on_text, NULL};

/* apps.connections.open: the URL of a new connection, or NULL. */
static char *open_url(struct gw *g)
{
	char url[600], auth[600];
	struct gw_send_res res;
	json_t *reply = NULL;
	char *out = NULL;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_SLACK];
	snprintf(url, sizeof(url), "%s/apps.connections.open", cc->api_base);
	snprintf(auth, sizeof(auth), "Bearer %s", cc->s3.val ? cc->s3.val : "");
	gw_post_json(c, url, auth, "POST", NULL, &res, &reply);
	sodium_memzero(auth, sizeof(auth));
	const char *u = gw_json_str(reply, "url");
	if (res.st == GW_SEND_OK &&
	    json_is_true(json_object_get(reply, "ok")) && u)
		out = strdup(u);
	else
		log_warn("slack apps.connections.open failed: %s %s",
			 res.detail,
			 gw_json_str(reply, "error")
				 ? json_string_value(
					   json_object_get(reply, "error"))
				 : "");
	json_decref(reply);
	gw_conf_put(c);
	return out;
}

bool gw_slacksock_round(struct gw *g, void *cls, long *wait_ms)
{
	struct gw_ws_end end = {0};
	(void)cls;
	char *url = open_url(g);
	if (url) {
		gw_ws_session(g, "slack socket", url, &gw_slacksock_handler, g,
			      &end);
		free(url);
	}
	*wait_ms = GW_BG_RECONNECT;
	return end.opened && end.open_s >= GW_WS_HEALTHY_S;
}
