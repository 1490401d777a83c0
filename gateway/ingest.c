/*
 * ingest.c - the common inbound path after a channel adapter verified and
 * parsed a request: suspended tenant -> "unavailable" notice, nothing
 * queued; policies -> drop or a polite refusal; dedupe and the durable
 * journal; then the job goes to the scheduler. The adapter acknowledges
 * the channel according to the result, only after the journal write.
 * Before that, gw_drop_stale lets Telegram and WhatsApp adapters drop a
 * message dated too long ago (their payloads carry the date; the
 * signature or secret token does not cover time, so an old captured
 * request could be replayed otherwise). A dropped stale message is
 * acknowledged with 200: both channels retry anything else (Telegram
 * "repeats the request" on any status other than 2XY and holds later
 * updates behind it; WhatsApp retries non-200 for days), so an error
 * would only make the replay come back.
 *
 * Floods: the journal keeps at most max_backlog accepted messages in
 * memory and the rest only in its file; past max_journal_pending it
 * refuses, writing nothing: the result is GW_IN_ERROR (not acknowledged,
 * as for a journal that cannot be written) and gw_reply_backlog_full
 * answers 503 backlog_full with Retry-After, which every webhook channel
 * retries (Telegram and WhatsApp anything but 2xx/200, Slack 5xx, the
 * others 5xx), counted as refused{reason="backlog"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

/* seconds a refused sender is asked to wait */
#define BACKLOG_RETRY_AFTER "5"

/* set by a refusal, cleared by the reply (a batch of several messages
 * answers backlog_full when any of them was refused so) */
static _Thread_local bool refused_full;

bool gw_reply_backlog_full(struct claw_http_req *r)
{
	if (!refused_full)
		return false;
	refused_full = false;
	claw_http_add_header(r, "Retry-After", BACKLOG_RETRY_AFTER);
	gw_reply_error(r, GW_E_BACKLOG_FULL,
		       "the gateway holds as many unanswered messages as it "
		       "may; deliver again after Retry-After");
	return true;
}

void gw_queue_notice(struct gw *g, json_t *env_steal, const char *text)
{
	struct gw_job *job = calloc(1, sizeof(*job));
	if (job)
		job->notice = strdup(text);
	if (!job || !job->notice) {
		free(job);
		json_decref(env_steal);
		return;
	}
	job->env = env_steal;
	job->accepted_at = gw_now();
	gw_sched_push(g->sched, job);
}

bool gw_drop_stale(const struct gw_conf *c, const json_t *env)
{
	enum gw_channel ch = gw_env_channel(env);
	if (!gw_env_stale(env, c->max_event_age_s, gw_unix_now()))
		return false;
	gw_metrics_refused(ch, GW_REF_STALE);
	log_warn("%s: dropped message '%s' dated %s, more than %ld s ago (a "
		 "replay, or an outage longer than max_event_age_seconds)",
		 gw_channel_name(ch), gw_env_str(env, "id"),
		 gw_env_str(env, "time"), c->max_event_age_s);
	return true;
}

json_t *gw_unless_stale(const struct gw_conf *c, json_t *env)
{
	if (env && gw_drop_stale(c, env)) {
		json_decref(env);
		return NULL;
	}
	return env;
}

enum gw_ingest_result gw_ingest(struct gw *g, json_t *env, bool notice,
				char *refusal, size_t refusal_len)
{
	enum gw_channel ch = gw_env_channel(env);
	enum gw_ingest_result res;
	enum gw_refuse reason = GW_REF_SUSPENDED;
	char text[400] = "";
	struct gw_conf *c = gw_conf_get(g);
	enum gw_verdict v = GW_REFUSE;

	if (refusal_len)
		refusal[0] = '\0';
	gw_chan_event(g, ch); /* the platform reaches the gateway */
	if (c->suspended) {
		snprintf(text, sizeof(text), "%s", c->unavailable_text);
		res = GW_IN_SUSPENDED;
	} else {
		v = gw_policy_check(g->policy, c, env, text, sizeof(text),
				    &reason);
		res = v == GW_DROP ? GW_IN_IGNORED : GW_IN_REFUSED;
	}
	long max_backlog = c->max_backlog, max_pending = c->max_journal_pending;
	gw_conf_put(c);
	if (v != GW_PASS) {
		gw_metrics_refused(ch, reason);
		if (v == GW_REFUSE && notice) {
			gw_queue_notice(g, env, text);
			return res;
		}
		if (v == GW_REFUSE && refusal_len)
			snprintf(refusal, refusal_len, "%s", text);
		json_decref(env);
		return res;
	}

	bool queue = true;
	gw_journal_bound(g->journal, g->sched, max_backlog, max_pending);
	enum claw_rc rc = gw_journal_admit(g->journal, env, &queue);
	if (rc == CLAW_ERR_TOO_LARGE) {
		gw_metrics_refused(ch, GW_REF_BACKLOG);
		refused_full = true;
		json_decref(env);
		return GW_IN_ERROR;
	}
	if (rc == CLAW_ERR_INVALID) {
		gw_metrics_refused(ch, GW_REF_DUPLICATE);
		json_decref(env);
		return GW_IN_DUPLICATE;
	}
	if (rc) {
		log_error("unable to journal '%s': %s", gw_env_str(env, "id"),
			  claw_strerror(rc));
		json_decref(env);
		return GW_IN_ERROR;
	}
	gw_metrics_in(ch);
	if (!queue) {
		/* held only in the file: read back as the backlog drains */
		json_decref(env);
		return GW_IN_ACCEPTED;
	}
	struct gw_job *job = calloc(1, sizeof(*job));
	if (!job) {
		/* journaled: the next start replays it */
		json_decref(env);
		return GW_IN_ACCEPTED;
	}
	job->env = env;
	job->journaled = true;
	job->accepted_at = gw_now();
	gw_sched_push(g->sched, job);
	return GW_IN_ACCEPTED;
}
