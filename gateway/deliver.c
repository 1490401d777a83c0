/*
 * deliver.c - what a worker does with one job: ask the runtime (retrying
 * with capped exponential backoff while it is unreachable), send the reply
 * through the channel in pieces the channel accepts (retrying transient
 * failures, honouring 429 Retry-After), then journal "done". A job cut
 * short by shutdown stays in the journal and is replayed at the next
 * start, so every acknowledged message is answered once.
 */
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "gw.h"

#define NOTICE_ATTEMPTS 5

/* Code points a piece (LINE: UTF-16 units; Twilio: see twilio.c). Every
 * channel that sends needs its entry (0 would make one-byte pieces). */
static const size_t split_max[GW_CH__COUNT] = {
	[GW_CH_TELEGRAM] = 4096,
	[GW_CH_SLACK] = 3900,
	[GW_CH_DISCORD] = 2000,
	[GW_CH_WHATSAPP] = 4096,
	[GW_CH_WEBCHAT] = 1 << 20,
	[GW_CH_OPENAI] = 1 << 20,
	[GW_CH_LINE] = 5000,
	[GW_CH_TWILIO] = 1600,
	[GW_CH_MATTERMOST] = 16383,
	/* bytes of JSON text (gw_json_bytes); feishu: escaped twice */
	[GW_CH_TEAMS] = 24000,
	[GW_CH_GOOGLECHAT] = 30000,
	[GW_CH_FEISHU] = 100000,
	[GW_CH_MATRIX] = 32000,
	[GW_CH_SIGNAL] = 2000,
	/* irc: one piece, which irc.c cuts into 512-byte lines */
	[GW_CH_IRC] = 4000,
	[GW_CH_EMAIL] = 100000, /* one mail a piece */
};

json_t *gw_channel_split(const struct gw_conf *c, const json_t *env,
			 const char *text)
{
	enum gw_channel ch = gw_env_channel(env);
	if (ch == GW_CH_LINE)
		return gw_split_text_w(text, split_max[ch], gw_utf16_units);
	if (ch == GW_CH_TWILIO)
		return gw_twilio_split(c, env, text);
	if (ch == GW_CH_TEAMS || ch == GW_CH_GOOGLECHAT || ch == GW_CH_MATRIX)
		return gw_split_text_w(text, split_max[ch], gw_json_bytes);
	if (ch == GW_CH_FEISHU)
		return gw_split_text_w(text, split_max[ch], gw_json2_bytes);
	return gw_split_text(text, split_max[ch]);
}

void gw_channel_send(struct gw *g, const struct gw_conf *c, const json_t *env,
		     const char *text, struct gw_send_res *res)
{
	res->retry_after_ms = -1;
	res->detail[0] = '\0';
	res->st = GW_SEND_FAIL;
	switch (gw_env_channel(env)) {
	case GW_CH_TELEGRAM:
		gw_telegram_send(g, c, env, text, res);
		break;
	case GW_CH_SLACK:
		gw_slack_send(g, c, env, text, res);
		break;
	case GW_CH_DISCORD:
		gw_discord_send(g, c, env, text, res);
		break;
	case GW_CH_WHATSAPP:
		gw_whatsapp_send(g, c, env, text, res);
		break;
	case GW_CH_WEBCHAT:
		gw_webchat_send(g, c, env, text, res);
		break;
	case GW_CH_LINE:
		gw_line_send(g, c, env, text, res);
		break;
	case GW_CH_TWILIO:
		gw_twilio_send(g, c, env, text, res);
		break;
	case GW_CH_MATTERMOST:
		gw_mattermost_send(g, c, env, text, res);
		break;
	case GW_CH_TEAMS:
		gw_teams_send(g, c, env, text, res);
		break;
	case GW_CH_GOOGLECHAT:
		gw_googlechat_send(g, c, env, text, res);
		break;
	case GW_CH_FEISHU:
		gw_feishu_send(g, c, env, text, res);
		break;
	case GW_CH_MATRIX:
		gw_matrix_send(g, c, env, text, res);
		break;
	case GW_CH_SIGNAL:
		gw_signal_send(g, c, env, text, res);
		break;
	case GW_CH_IRC:
		gw_irc_send(g, c, env, text, res);
		break;
	case GW_CH_EMAIL:
		gw_email_send(g, c, env, text, res);
		break;
	case GW_CH_OPENAI:
	case GW_CH__COUNT:
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "this channel is answered inline");
		break;
	}
}

void gw_channel_typing(struct gw *g, const struct gw_conf *c, const json_t *env)
{
	if (gw_env_channel(env) == GW_CH_TELEGRAM)
		gw_telegram_typing(g, c, env);
}

struct delta_ctx {
	struct gw *g;
	const char *visitor;
};

/* Web chat shows the reply as it is written: each piece goes to the
 * visitor's stream as a "delta" event; the whole reply follows as usual. */
static void webchat_delta(const char *text, void *cls)
{
	struct delta_ctx *d = cls;
	gw_webchat_push(d->g->webchat, d->visitor, "delta", text);
}

static enum claw_rc ask(struct gw *g, const struct gw_conf *c,
			const json_t *env, char **reply)
{
	const char *visitor = json_string_value(
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "visitor"));
	if (gw_env_channel(env) == GW_CH_WEBCHAT && visitor) {
		struct delta_ctx d = {g, visitor};
		return gw_runtime_ask_stream(g, env, webchat_delta, &d, reply);
	}
	return gw_runtime_ask(g, c, env, reply, NULL);
}

static long next_backoff(struct gw *g, long cur)
{
	long n = cur * 2;
	return n > g->send_retry_max_ms ? g->send_retry_max_ms : n;
}

/* Send all pieces; returns true when the reply is finished with (sent,
 * or refused for good), false when cut short by shutdown. */
static bool send_reply(struct gw *g, const json_t *env, const char *text,
		       int attempts)
{
	enum gw_channel ch = gw_env_channel(env);
	struct gw_conf *sc = gw_conf_get(g);
	json_t *parts = gw_channel_split(sc, env, text);
	bool finished = true;
	size_t i;
	json_t *part;
	gw_conf_put(sc);
	json_array_foreach(parts, i, part) {
		long backoff = 250;
		for (int n = 1;; n++) {
			struct gw_send_res res = {.part = (int)i};
			struct gw_conf *c = gw_conf_get(g);
			gw_channel_send(g, c, env, json_string_value(part),
					&res);
			gw_conf_put(c);
			if (res.st == GW_SEND_OK)
				break;
			if (res.st == GW_SEND_FAIL ||
			    (attempts && n >= attempts)) {
				log_warn("reply to '%s' via %s given up: %s",
					 gw_env_str(env, "id"),
					 gw_channel_name(ch), res.detail);
				goto out;
			}
			gw_metrics_send_retry(ch);
			long wait = res.retry_after_ms >= 0 ? res.retry_after_ms
							    : backoff;
			log_info("reply to '%s' via %s will be retried in %ld "
				 "ms: %s",
				 gw_env_str(env, "id"), gw_channel_name(ch),
				 wait, res.detail);
			gw_sleep_ms(g, wait);
			backoff = next_backoff(g, backoff);
			if (atomic_load(&g->stopping)) {
				finished = false;
				goto out;
			}
		}
	}
	gw_metrics_out(ch);
out:
	json_decref(parts);
	return finished;
}

void gw_deliver(struct gw_job *job, void *cls)
{
	struct gw *g = cls;
	const char *id = gw_env_str(job->env, "id");
	char *reply = NULL;
	long backoff = 250;

	if (job->notice) {
		send_reply(g, job->env, job->notice, NOTICE_ATTEMPTS);
		return;
	}
	/* a quota refusal answers with the plan's message (quota.c) */
	reply = gw_quota_admit(g, gw_env_channel(job->env));
	for (; !reply;) {
		if (atomic_load(&g->stopping))
			return; /* still pending in the journal */
		struct gw_conf *c = gw_conf_get(g);
		gw_channel_typing(g, c, job->env);
		enum claw_rc rc = ask(g, c, job->env, &reply);
		gw_conf_put(c);
		if (rc == CLAW_OK)
			break;
		if (rc == CLAW_ERR_INVALID) {
			reply = strdup(
				"Sorry, I could not process that message.");
			if (!reply)
				return;
			break;
		}
		gw_sleep_ms(g, backoff);
		backoff = next_backoff(g, backoff);
	}
	bool finished = send_reply(g, job->env, reply, 0);
	free(reply);
	if (!finished)
		return;
	if (job->journaled && gw_journal_done(g->journal, id))
		log_error("unable to mark '%s' done in the journal; it may be "
			  "answered again after a restart",
			  id);
	gw_metrics_reply_latency(gw_now() - job->accepted_at);
}
