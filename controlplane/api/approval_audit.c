/*
 * approval_audit.c - the tenants' tool-call approvals in the audit log
 * (docs/fleet.md, "Approvals in the audit log"):
 *
 *   POST /v1/agent/approvals   node: {"events": [...]} (approval_report.h),
 *        the requests and decisions its tenants' runtimes recorded since
 *        it last reported; 200 {"accepted": N} plus "repeated": N for
 *        events appended before (nothing appended again) and "refused":
 *        [{"tenant", "code": "approval_not_placed"}] for events of tenants
 *        not placed on the node (nothing appended for them).
 *
 * Approvals live in the runtimes (runtime/approvals.c); the node agent
 * reads each runtime's audit feed with the runtime's admin token and
 * reports it here (node-agent/approval_audit.c). Each event becomes one
 * row: approval.request (tool, category, channel, sender, expiry), then
 * approval.decided (decision approved or denied) or approval.expired,
 * with decided_by as the runtime recorded it: "ROLE TOKEN_ID" for a
 * decision made through the API (api/approvals.c, whose approval.decide
 * row says who asked), "chat:CHANNEL:USER" for the chat user's, "expiry".
 * The row's actor is the reporting node. Never the tool's arguments.
 *
 * Exactly once: an event's key (tenant, approval, request | decision) is
 * taken in approval_audit (migrations/0018) in the transaction that
 * appends its row, so a report sent again (a lost answer, a restarted
 * node agent or runtime, a restarted control plane) appends nothing. The
 * keys are taken first and the rows appended last, in one transaction: a
 * refused body stores nothing, and the audit chain's head is held only
 * for the appends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "approval_report.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "scheduler.h"
#include "store/approvals.h"
#include "store/usage.h"

struct report {
	struct claw_http_req *req;
	const struct cp_node_caller *nc;
	const struct cp_apr_batch *batch;
	char (*tenant_ids)[CP_ID_MAX]; /* per event, "" when refused */
	bool *fresh;                   /* per event */
	long long accepted, repeated;
	json_t *refused; /* [{tenant, code}] */
};

static void iso(json_t *o, const char *key, long long t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm))
		return;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, key, json_string(buf));
}

static void set_text(json_t *o, const char *key, const char *v)
{
	if (v[0])
		json_object_set_new(o, key, json_string(v));
}

/* The row's details: what the runtime recorded, never the arguments. */
static json_t *details(const struct cp_apr_event *e, const char *node)
{
	json_t *d = json_pack("{s:s, s:s, s:s}", "approval", e->approval,
			      "tool", e->tool, "node", node);

	if (!d)
		return NULL;
	set_text(d, "category", e->category);
	if (e->kind == CP_APR_REQUEST) {
		set_text(d, "channel", e->channel);
		set_text(d, "sender", e->sender);
		iso(d, "requested_at", e->at);
		iso(d, "expires", e->expires);
	} else {
		json_object_set_new(d, "decision", json_string(e->decision));
		json_object_set_new(d, "decided_by",
				    json_string(e->decided_by));
		iso(d, "decided_at", e->at);
	}
	return d;
}

static enum claw_rc refuse(struct report *r, const char *tenant)
{
	json_t *x;
	size_t i;

	json_array_foreach(r->refused, i, x)
		if (!strcmp(json_string_value(json_object_get(x, "tenant")),
			    tenant))
			return CLAW_OK;
	return json_array_append_new(
		       r->refused,
		       json_pack("{s:s, s:s}", "tenant", tenant, "code",
				 cp_error_def(CP_E_APPROVAL_NOT_PLACED)->code))
		? CLAW_ERR_NOMEM
		: CLAW_OK;
}

static enum claw_rc report_tx(PGconn *c, void *cls)
{
	struct report *r = cls;
	enum claw_rc rc = CLAW_OK;
	size_t i;

	r->accepted = r->repeated = 0;
	json_array_clear(r->refused);
	/* the keys first */
	for (i = 0; !rc && i < r->batch->n; i++) {
		const struct cp_apr_event *e = &r->batch->events[i];

		r->fresh[i] = false;
		rc = cp_store_usage_placed(c, r->nc->id, e->tenant,
					   r->tenant_ids[i]);
		if (rc == CLAW_ERR_NOT_FOUND) {
			r->tenant_ids[i][0] = '\0';
			rc = refuse(r, e->tenant);
			continue;
		}
		if (!rc)
			rc = cp_store_approval_audit_take(
				c, r->tenant_ids[i], e->approval,
				e->kind == CP_APR_REQUEST ? "request"
							  : "decision",
				r->nc->id, &r->fresh[i]);
		if (!rc) {
			r->accepted++;
			r->repeated += !r->fresh[i];
		}
	}
	/* then the rows, in the order reported */
	for (i = 0; !rc && i < r->batch->n; i++) {
		const struct cp_apr_event *e = &r->batch->events[i];
		char target[CP_SLUG_MAX + CP_APR_ID_MAX + 32];

		if (!r->fresh[i])
			continue;
		snprintf(target, sizeof(target), "tenants/%s/approvals/%s",
			 e->tenant, e->approval);
		rc = cp_audit_request(c, r->req, &r->nc->auth, cp_apr_action(e),
				      target, r->tenant_ids[i],
				      details(e, r->nc->name));
	}
	return rc;
}

static void approvals_report(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	struct cp_apr_batch batch;
	struct claw_json_problem p = {0};
	struct report r = {.req = req, .nc = &nc, .batch = &batch};
	json_t *body = NULL;
	enum claw_rc rc;

	if (cp_agent_require(req, ctx, &nc) ||
	    claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY, &body))
		return;
	if (cp_apr_parse(body, &batch, &p)) {
		json_decref(body);
		claw_http_reply_std(req, p.error, p.message);
		return;
	}
	json_decref(body);
	r.refused = json_array();
	r.tenant_ids = calloc(batch.n + 1, sizeof(*r.tenant_ids));
	r.fresh = calloc(batch.n + 1, sizeof(*r.fresh));
	rc = r.refused && r.tenant_ids && r.fresh
		? claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, report_tx, &r)
		: CLAW_ERR_NOMEM;
	cp_apr_batch_release(&batch);
	free(r.tenant_ids);
	free(r.fresh);
	cp_reply_agent_report(req, rc, "approvals", nc.name, r.accepted,
			      r.repeated, r.refused);
}

void cp_reply_agent_report(struct claw_http_req *req, enum claw_rc rc,
			   const char *what, const char *node,
			   long long accepted, long long repeated,
			   json_t *refused_steal)
{
	json_t *out;

	if (rc) {
		json_decref(refused_steal);
		cp_reply_rc(req, rc);
		return;
	}
	if (json_array_size(refused_steal))
		log_warn("node %s reported %s of %zu tenant(s) not placed on "
			 "it; refused",
			 node, what, json_array_size(refused_steal));
	out = json_pack("{s:I}", "accepted", (json_int_t)accepted);
	if (out && repeated)
		json_object_set_new(out, "repeated", json_integer(repeated));
	if (out && json_array_size(refused_steal))
		json_object_set(out, "refused", refused_steal);
	json_decref(refused_steal);
	claw_http_reply_json(req, 200, out);
}

const struct claw_route cp_routes_approval_audit[] = {
	{"POST", "/v1/agent/approvals", approvals_report, "agent.approvals"},
};
CP_ROUTES_COUNT(approval_audit);
