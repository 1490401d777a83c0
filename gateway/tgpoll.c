/*
 * tgpoll.c - Telegram long polling for installs with no public URL: one
 * round (run again and again by bg.c) calls getUpdates with the next
 * offset and a server-side timeout,
 * feeds every update through the same parser and pipeline as the webhook,
 * and moves the offset past an update only after it is journaled (so
 * Telegram keeps anything not yet stored) or dropped as too old
 * (gw_drop_stale). Errors back off exponentially.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define POLL_TIMEOUT_S 10

/* Ingest one batch; returns false when the journal failed. */
static bool take_batch(struct gw *g, const struct gw_conf *c, json_t *result,
		       long long *offset)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
	size_t i;
	json_t *u;
	json_array_foreach(result, i, u) {
		json_t *uid = json_object_get(u, "update_id");
		char *text = claw_json_dumps(u);
		json_t *env = NULL;
		if (!json_is_integer(uid) || !text) {
			free(text);
			continue;
		}
		if (gw_telegram_parse(cc, text, strlen(text), &env))
			log_warn("telegram: skipped a malformed update");
		free(text);
		env = gw_unless_stale(c, env);
		if (env && gw_ingest(g, env, true, NULL, 0) == GW_IN_ERROR)
			return false;
		if (json_integer_value(uid) >= *offset)
			*offset = json_integer_value(uid) + 1;
	}
	return true;
}

bool gw_tgpoll_round(struct gw *g, void *cls, long *wait_ms)
{
	long long *offset = cls;
	struct gw_send_res res;
	json_t *reply = NULL;
	struct gw_conf *c = gw_conf_get(g);
	json_t *body = json_pack("{s:I, s:i, s:[s]}", "offset",
				 (json_int_t)*offset, "timeout", POLL_TIMEOUT_S,
				 "allowed_updates", "message");
	gw_telegram_call(c, "getUpdates", body, &res, &reply);
	json_decref(body);
	json_t *result = json_object_get(reply, "result");
	bool ok = res.st == GW_SEND_OK &&
		json_is_true(json_object_get(reply, "ok")) &&
		json_is_array(result) && take_batch(g, c, result, offset);
	gw_conf_put(c);
	json_decref(reply);
	if (!ok) {
		log_warn("telegram getUpdates failed: %s", res.detail);
		*wait_ms = res.retry_after_ms;
	}
	return ok;
}
