/*
 * routes.c - the gateway's one route table and its operational endpoints:
 * /healthz (503 while the journal cannot be written: a gateway that
 * cannot acknowledge anything is not healthy, and it says so until a
 * rewrite of the journal works again), /readyz (that, and the runtime
 * reachable; with the state of Telegram's setWebhook beside it),
 * /metrics (Prometheus) and the node agent's local admin endpoint for
 * pending pairing requests. Channel endpoints live in one file per
 * channel; their common answers are here (gw_ack, gw_ack_all for an
 * array of envelopes, gw_ack_empty for the channels answered with {}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/httpd.h"
#include "errors.h"
#include "gw.h"

/* A probe's first check: when the journal cannot be written, answer 503
 * (journal_unwritable) and say so (true); otherwise leave r alone. */
static bool journal_refused(struct claw_http_req *r, struct gw *g)
{
	if (gw_journal_ok(g->journal))
		return false;
	gw_reply_error(r, GW_E_JOURNAL_UNWRITABLE,
		       "the journal cannot be written; check the data "
		       "volume (space, permissions)");
	return true;
}

static void healthz(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	if (journal_refused(r, g))
		return;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	if (journal_refused(r, g))
		return;
	if (!gw_runtime_ready(g)) {
		gw_reply_error(r, GW_E_RUNTIME_UNREACHABLE,
			       "the runtime does not answer /healthz; check "
			       "that it runs");
		return;
	}
	struct gw_conf *c = gw_conf_get(g);
	json_t *o = json_pack("{s:s, s:o, s:o}", "status", "ready", "quota",
			      gw_quota_status_new(g), "channels",
			      gw_chan_states_new(g, c));
	gw_conf_put(c);
	if (o && g->tghook) /* never a reason to be unready */
		json_object_set_new(o, "telegram_webhook",
				    gw_tghook_status_new(g->tghook));
	claw_http_reply_json(r, 200, o);
}

static void metrics(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	char *base = gw_metrics_render_new(gw_journal_depth(g->journal),
					   gw_journal_ok(g->journal));
	char *text = NULL;
	/* the quota refusals ever, kept over restarts: the node agent
	 * reports their increase to the control plane */
	if (base &&
	    asprintf(&text,
		     "%s# HELP claw_gateway_quota_refusals_total Messages "
		     "refused because a quota was used up, over restarts.\n"
		     "# TYPE claw_gateway_quota_refusals_total counter\n"
		     "claw_gateway_quota_refusals_total %lld\n",
		     base, gw_quota_refusals(g)) < 0)
		text = NULL;
	free(base);
	if (!text) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_raw(r, 200, "text/plain; version=0.0.4", text,
			    strlen(text));
	free(text);
}

static void admin_pairing(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	struct gw_conf *c = gw_conf_get(g);
	const char *auth = claw_http_header(r, "Authorization");
	bool ok = c->admin_token.val && auth &&
		strncmp(auth, "Bearer ", 7) == 0 &&
		claw_ct_streq(auth + 7, c->admin_token.val);
	bool configured = c->admin_token.val != NULL;
	gw_conf_put(c);
	if (!configured) {
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND,
				    "the admin endpoint is off: no "
				    "'admin_token' secret file");
		return;
	}
	if (!ok) {
		claw_http_reply_std(r, CLAW_HE_UNAUTHORIZED, NULL);
		return;
	}
	json_t *list = gw_policy_pairing_new(g->policy);
	claw_http_reply_json(r, 200,
			     json_pack("{s:o}", "pairing_requests",
				       list ? list : json_array()));
}

void gw_ack(struct claw_http_req *r, enum gw_ingest_result res)
{
	if (res == GW_IN_ERROR) {
		if (gw_reply_backlog_full(r))
			return; /* 503 backlog_full with Retry-After */
		gw_reply_error(r, GW_E_JOURNAL_UNWRITABLE,
			       "the message could not be stored; deliver it "
			       "again later");
		return;
	}
	claw_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

void gw_ack_empty(struct claw_http_req *r, struct gw *g, struct gw_conf *c,
		  json_t *env)
{
	env = gw_unless_stale(c, env);
	gw_conf_put(c);
	if (env && gw_ingest(g, env, true, NULL, 0) == GW_IN_ERROR)
		gw_ack(r, GW_IN_ERROR);
	else
		claw_http_reply_json(r, 200, json_object());
}

void gw_ack_all(struct claw_http_req *r, struct gw *g, const struct gw_conf *c,
		const json_t *envs)
{
	enum gw_ingest_result worst = GW_IN_IGNORED;
	size_t i;
	json_t *env;
	json_array_foreach(envs, i, env) {
		if (gw_drop_stale(c, env))
			continue;
		if (gw_ingest(g, json_incref(env), true, NULL, 0) ==
		    GW_IN_ERROR)
			worst = GW_IN_ERROR;
	}
	gw_ack(r, worst);
}

static const struct claw_route routes[] = {
	{"GET", "/healthz", healthz, NULL},
	{"GET", "/readyz", readyz, NULL},
	{"GET", "/metrics", metrics, NULL},
	{"GET", "/admin/pairing", admin_pairing, NULL},
	{"POST", "/telegram/webhook", gw_telegram_webhook, NULL},
	{"POST", "/slack/events", gw_slack_events, NULL},
	{"GET", "/whatsapp/webhook", gw_whatsapp_verify, NULL},
	{"POST", "/whatsapp/webhook", gw_whatsapp_webhook, NULL},
	{"POST", "/discord/interactions", gw_discord_interactions, NULL},
	{"GET", "/chat", gw_webchat_page, NULL},
	{"POST", "/chat/messages", gw_webchat_post, NULL},
	{"GET", "/chat/events", gw_webchat_events, NULL},
	{"POST", "/v1/chat/completions", gw_openai_chat, NULL},
	{"POST", "/v1/responses", gw_openai_responses, NULL},
	{"GET", "/v1/models", gw_openai_models, NULL},
	{"GET", "/v1/models/{model}", gw_openai_model, NULL},
	{"POST", "/line/webhook", gw_line_webhook, NULL},
	{"POST", "/twilio/webhook", gw_twilio_webhook, NULL},
	{"POST", "/mattermost/webhook", gw_mattermost_webhook, NULL},
	{"POST", "/teams/messages", gw_teams_messages, NULL},
	{"POST", "/googlechat/events", gw_googlechat_events, NULL},
	{"POST", "/feishu/events", gw_feishu_events, NULL},
	{"PUT", "/_matrix/app/v1/transactions/{txnId}", gw_matrix_transaction,
	 NULL},
	{"POST", "/_matrix/app/v1/ping", gw_matrix_ping, NULL},
	{"GET", "/_matrix/app/v1/users/{userId}", gw_matrix_query, NULL},
	{"GET", "/_matrix/app/v1/rooms/{roomAlias}", gw_matrix_query, NULL},
};
const struct claw_route *const gw_routes = routes;
const size_t gw_n_routes = sizeof(routes) / sizeof(routes[0]);
