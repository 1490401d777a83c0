/*
 * tgpoll.c - Telegram long polling for installs with no public URL: one
 * thread calls getUpdates with the next offset and a server-side timeout,
 * feeds every update through the same parser and pipeline as the webhook,
 * and moves the offset past an update only after it is journaled (so
 * Telegram keeps anything not yet stored). Errors back off exponentially.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define POLL_TIMEOUT_S 10

struct gw_tgpoll {
	struct gw *g;
	pthread_t thr;
};

/* Ingest one batch; returns false when the journal failed. */
static bool take_batch(struct gw *g, const struct gw_chan_conf *cc,
		       json_t *result, long long *offset)
{
	size_t i;
	json_t *u;
	json_array_foreach(result, i, u)
	{
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
		if (env && gw_ingest(g, env, true, NULL, 0) == GW_IN_ERROR)
			return false;
		if (json_integer_value(uid) >= *offset)
			*offset = json_integer_value(uid) + 1;
	}
	return true;
}

static void *poller(void *arg)
{
	struct gw_tgpoll *t = arg;
	struct gw *g = t->g;
	long long offset = 0;
	long backoff = 500;
	char url[1024];
	while (!atomic_load(&g->stopping)) {
		struct gw_send_res res;
		json_t *reply = NULL;
		struct gw_conf *c = gw_conf_get(g);
		const struct gw_chan_conf *cc = &c->ch[GW_CH_TELEGRAM];
		json_t *body = json_pack("{s:I, s:i, s:[s]}", "offset",
					 (json_int_t)offset, "timeout",
					 POLL_TIMEOUT_S, "allowed_updates",
					 "message");
		snprintf(url, sizeof(url), "%s/bot%s/getUpdates", cc->api_base,
			 cc->s1.val ? cc->s1.val : "");
		gw_post_json(c, url, NULL, NULL, body, &res, &reply);
		json_decref(body);
		json_t *result = json_object_get(reply, "result");
		bool ok = res.st == GW_SEND_OK
			  && json_is_true(json_object_get(reply, "ok"))
			  && json_is_array(result)
			  && take_batch(g, cc, result, &offset);
		gw_conf_put(c);
		json_decref(reply);
		if (ok) {
			backoff = 500;
			continue;
		}
		log_warn("telegram getUpdates failed (%s); retrying in %ld ms",
			 res.detail, backoff);
		gw_sleep_ms(g, res.retry_after_ms > 0 ? res.retry_after_ms
						      : backoff);
		backoff = backoff * 2 > g->send_retry_max_ms
				  ? g->send_retry_max_ms
				  : backoff * 2;
	}
	return NULL;
}

enum claw_rc gw_tgpoll_start(struct gw *g, struct gw_tgpoll **out)
{
	struct gw_tgpoll *t = calloc(1, sizeof(*t));
	if (!t)
		return CLAW_ERR_NOMEM;
	t->g = g;
	if (pthread_create(&t->thr, NULL, poller, t)) {
		free(t);
		return CLAW_ERR_INTERNAL;
	}
	*out = t;
	return CLAW_OK;
}

void gw_tgpoll_stop(struct gw_tgpoll *t)
{
	if (!t)
		return;
	pthread_join(t->thr, NULL);
	free(t);
}
