/*
 * approvals.c - tool-call approvals, relayed to the tenant's runtime
 * through its node agent (the control plane never connects to a node):
 *
 *   GET  /v1/tenants/{t}/approvals[?state=S]  the runtime's list
 *   GET  /v1/tenants/{t}/approvals/{id}       one request
 *   POST /v1/tenants/{t}/approvals/{id}       {"decision": "approve" |
 *        "deny", "reason": "..."}: decided by the caller (decided_by is
 *        "ROLE TOKEN_ID"); the runtime's 409 approval_decided and 409
 *        approval_expired come back as they are
 *   GET  /v1/approvals                        (admin, operator) the pending
 *        requests of every placed tenant, merged; a tenant whose node or
 *        runtime does not answer is named in "partial"
 *   POST /v1/agent/rpc/{id}                   (role node) the answer of a
 *        relayed call: {"status": N, "body": JSON}, status 0 when the
 *        runtime did not answer
 *
 * The relay is the log relay's (api/logs.c) made request/response: a call
 * is left in this process for the node that runs the tenant, the node's
 * long poll of assignments hands it over ("rpc": [{id, tenant, op,
 * approval, decision, by}]), the node agent makes the call against the
 * runtime's approvals API with the runtime's admin token (node-agent/rpc.c)
 * and posts the answer back. A node that does not take the call within
 * TAKE_S, or does not answer ANSWER_S after, gets 503 node_unavailable.
 * Calls are rows, as log requests are (controlplane/relay.h): a call left
 * on one replica is handed over by the node's long poll on another and
 * answered to any; the waiting replica, woken by NOTIFY claw_wake, reads
 * the answer and deletes the row (rows of a replica that died expire).
 *
 * Roles: admin and operator any tenant; a tenant token its own tenant
 * (another tenant's is the 404 of every tenant route). A decision is
 * audited (approval.decide: actor, tenant, approval id, decision, reason;
 * never the tool's arguments) before it is relayed, so no decision is ever
 * made without its row; a decision the runtime took is the fleet event
 * approval.decided.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "audit.h"
#include "claw/buf.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "scheduler.h"
#include "store/approvals.h"
#include "store/common.h"
#include "store/deploy.h"
#include "store/relay.h"
#include "relay.h"
#include "validate.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define TAKE_S 15         /* the node must take a call by then */
#define ANSWER_S 12       /* and answer it this long after (its call: 10 s) */
#define FLEET_TENANTS 100 /* tenants the fleet-wide list asks at most */
#define APPROVAL_ID_MAX 64

#define TTL_S (TAKE_S + ANSWER_S + 30) /* a call's row at most */

/* A call as its waiter sees it. */
struct rpc {
	char id[CP_ID_MAX];
	bool handed, done;
	long status;    /* the runtime's, 0 when it did not answer; -1 late */
	json_t *answer; /* its body */
};

/* Leave a call for node_id (call_steal gets the call's id); NULL when it
 * could not be left. */
static struct rpc *rpc_leave(struct claw_db *db, const char *node_id,
			     json_t *call_steal)
{
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r ||
	    cp_relay_leave(db, "rpc", node_id, call_steal, TTL_S, r->id)) {
		if (!r)
			json_decref(call_steal);
		free(r);
		return NULL;
	}
	return r;
}

/* Mark r finished (late, or gone: -1) or answered from row i of rows. */
static void rpc_update(struct rpc *r, const PGresult *rows, int i)
{
	const char *ans;

	if (i < 0 || !strcmp(PQgetvalue(rows, i, RELAY_RC_LATE), "t")) {
		r->done = true;
		r->status = -1;
		return;
	}
	r->handed = !strcmp(PQgetvalue(rows, i, RELAY_RC_HANDED), "t");
	if (strcmp(PQgetvalue(rows, i, RELAY_RC_STATE), "done"))
		return;
	r->done = true;
	r->status = strtol(PQgetvalue(rows, i, RELAY_RC_STATUS), NULL, 10);
	ans = PQgetvalue(rows, i, RELAY_RC_ANSWER);
	r->answer = *ans ? json_loads(ans, 0, NULL) : NULL;
}

/* One look at the calls not finished (the database's answers kept
 * for the next look when it cannot be had). */
static void rpc_look(struct claw_db *db, struct rpc **calls, size_t n)
{
	struct claw_buf ids;
	PGresult *rows = NULL;
	enum claw_rc rc = CLAW_OK;
	PGconn *c;

	claw_buf_init(&ids, 0);
	rc = claw_buf_puts(&ids, "{");
	for (size_t i = 0; !rc && i < n; i++)
		if (calls[i] && !calls[i]->done)
			rc = claw_buf_printf(&ids, "%s%s",
					     ids.len > 1 ? "," : "",
					     calls[i]->id);
	if (!rc)
		rc = claw_buf_puts(&ids, "}");
	c = rc ? NULL : claw_db_acquire(db);
	rc = c ? cp_store_relay_rpc_states(c, ids.data, TAKE_S, ANSWER_S, &rows)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(db, c);
	claw_buf_release(&ids);
	for (size_t i = 0; !rc && i < n; i++) {
		int at = -1;

		if (!calls[i] || calls[i]->done)
			continue;
		for (int j = 0; j < PQntuples(rows) && at < 0; j++)
			if (!strcmp(PQgetvalue(rows, j, RELAY_RC_ID),
				    calls[i]->id))
				at = j;
		rpc_update(calls[i], rows, at);
	}
	PQclear(rows);
}

/* Wait until every one of the n calls is finished (or, should the
 * database not answer, until none can be answered in time any more). */
static void rpc_wait(struct claw_db *db, struct rpc **calls, size_t n)
{
	time_t until = time(NULL) + TAKE_S + ANSWER_S + 5;

	for (;;) {
		uint64_t seq = cp_fleet_seq();
		bool all = true;

		if (time(NULL) > until) {
			for (size_t i = 0; i < n; i++)
				if (calls[i] && !calls[i]->done)
					rpc_update(calls[i], NULL, -1);
		} else {
			rpc_look(db, calls, n);
		}
		for (size_t i = 0; i < n; i++)
			all &= !calls[i] || calls[i]->done;
		if (all)
			break;
		cp_fleet_wait(seq, 1000); /* woken by NOTIFY claw_wake */
	}
}

static void rpc_free(struct claw_db *db, struct rpc *r)
{
	if (!r)
		return;
	cp_relay_drop(db, r->id);
	json_decref(r->answer);
	free(r);
}

/* The node and slug of a placed tenant; replies 409 not_running (or the
 * store's error) and returns -1 when it runs nowhere. */
static int tenant_node(struct claw_http_req *req, struct cp_ctx *ctx,
		       const struct cp_tenant_ref *ten, char node[CP_ID_MAX])
{
	PGresult *row = NULL;
	PGconn *c = claw_db_acquire(ctx->db);
	enum claw_rc rc =
		c ? cp_store_place_get(c, ten->id, &row) : CLAW_ERR_IO;

	if (c)
		claw_db_release(ctx->db, c);
	if (!rc && !claw_db_value(row, 0, CP_PC_NODE))
		rc = CLAW_ERR_NOT_FOUND;
	if (!rc)
		snprintf(node, CP_ID_MAX, "%s", PQgetvalue(row, 0, CP_PC_NODE));
	PQclear(row);
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_NOT_RUNNING,
			       "the tenant runs on no node now");
	else if (rc)
		cp_reply_rc(req, rc);
	return rc ? -1 : 0;
}

/* One call to a tenant's runtime: left for its node, waited for, and
 * answered (the runtime's 200, 404, 409 or 422 as it is; 503 when the
 * node or the runtime did not answer). With keep, a 200's body is handed
 * to the caller instead (*keep, new reference) and nothing is sent. */
static void rpc_relay(struct claw_http_req *req, struct cp_ctx *ctx,
		      const struct cp_tenant_ref *ten, json_t *call_steal,
		      json_t **keep)
{
	char node[CP_ID_MAX];
	struct rpc *r;
	long st;

	if (keep)
		*keep = NULL;
	if (tenant_node(req, ctx, ten, node)) {
		json_decref(call_steal);
		return;
	}
	json_object_set_new(call_steal, "tenant", json_string(ten->slug));
	if (!(r = rpc_leave(ctx->db, node, call_steal))) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rpc_wait(ctx->db, &r, 1);
	st = r->status;
	if (st == -1)
		cp_reply_error(req, CP_E_NODE_UNAVAILABLE,
			       "the tenant's node did not %s the request in "
			       "time",
			       r->handed ? "answer" : "take");
	else if (st == 200 && keep)
		*keep = json_incref(r->answer);
	else if ((st == 200 || st == 404 || st == 409 || st == 422) &&
		 json_is_object(r->answer))
		claw_http_reply_json(req, (unsigned)st, json_incref(r->answer));
	else
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE,
				    "the tenant's runtime did not answer the "
				    "approvals call");
	rpc_free(ctx->db, r);
}

static bool valid_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n <= APPROVAL_ID_MAX &&
		strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static bool valid_state(const char *s)
{
	return !strcmp(s, "pending") || !strcmp(s, "approved") ||
		!strcmp(s, "denied") || !strcmp(s, "expired");
}

/* Keep the approvals of list whose state is state (NULL: all). */
static void filter_state(json_t *list, const char *state)
{
	json_t *a = json_object_get(list, "approvals");

	for (size_t i = json_array_size(a); state && i-- > 0;) {
		const char *s = json_string_value(
			json_object_get(json_array_get(a, i), "state"));

		if (!s || strcmp(s, state))
			json_array_remove(a, i);
	}
}

static void approvals_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *state = claw_http_query(req, "state");
	json_t *list;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	if (state && !valid_state(state)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "state is pending, approved, denied or "
			       "expired");
		return;
	}
	rpc_relay(req, ctx, &ten, json_pack("{s:s}", "op", "approvals.list"),
		  &list);
	if (!list)
		return;
	filter_state(list, state);
	json_object_set_new(list, "tenant", json_string(ten.slug));
	claw_http_reply_json(req, 200, list);
}

static void approval_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *id = claw_http_param(req, "id");

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	if (!valid_id(id)) {
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND,
				    "no such approval request");
		return;
	}
	rpc_relay(
		req, ctx, &ten,
		json_pack("{s:s, s:s}", "op", "approvals.get", "approval", id),
		NULL);
}

static void approval_decide(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *id = claw_http_param(req, "id");
	const char *decision = NULL, *reason = NULL;
	struct claw_json_field fields[] = {
		{"decision", CLAW_JSON_STRING, true, &decision, 16},
		{"reason", CLAW_JSON_STRING, false, &reason, 500},
		{NULL, 0, false, NULL, 0},
	};
	char by[CP_ID_MAX + 16], target[CP_SLUG_MAX + APPROVAL_ID_MAX + 32];
	json_t *body = NULL, *view = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten) ||
	    claw_http_parse_json(req, fields, &body))
		return;
	if (strcmp(decision, "approve") && strcmp(decision, "deny")) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "decision is approve or deny");
		goto out;
	}
	if (!valid_id(id)) {
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND,
				    "no such approval request");
		goto out;
	}
	snprintf(by, sizeof(by), "%s %s", cp_role_name(auth.role),
		 auth.token_id);
	snprintf(target, sizeof(target), "tenants/%s/approvals/%s", ten.slug,
		 id);
	/* The row first: no decision is relayed without it. */
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_begin(c) : CLAW_ERR_IO;
	if (!rc)
		rc = cp_audit_request(
			c, req, &auth, "approval.decide", target, ten.id,
			json_pack("{s:s, s:s, s:s?}", "approval", id,
				  "decision", decision, "reason", reason));
	if (!rc)
		rc = cp_store_commit(c);
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	rpc_relay(req, ctx, &ten,
		  json_pack("{s:s, s:s, s:s, s:s}", "op", "approvals.decide",
			    "approval", id, "decision", decision, "by", by),
		  &view);
	if (!view)
		goto out;
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_event_add(c, "approval.decided", ten.id, NULL,
			      json_pack("{s:s, s:s, s:s, s:s, s:O?}", "tenant",
					ten.slug, "approval", id, "decision",
					decision, "decided_by", by, "tool",
					json_object_get(view, "tool")))
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc)
		log_error("approval %s of tenant '%s': decided, but its event "
			  "could not be stored",
			  id, ten.slug);
	cp_fleet_wake();
	claw_http_reply_json(req, 200, view);
out:
	json_decref(body);
}

/* GET /v1/approvals: the pending requests of every placed tenant. */
static void approvals_fleet(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct rpc *calls[FLEET_TENANTS] = {0};
	PGresult *rows = NULL;
	json_t *all, *partial;
	enum claw_rc rc;
	PGconn *c;
	int n;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth))
		return;
	if (!(c = claw_db_acquire(ctx->db)) ||
	    (rc = cp_store_approvals_placed(c, FLEET_TENANTS, &rows))) {
		if (c)
			claw_db_release(ctx->db, c);
		cp_reply_rc(req, c ? rc : CLAW_ERR_IO);
		return;
	}
	claw_db_release(ctx->db, c);
	n = PQntuples(rows) < FLEET_TENANTS ? PQntuples(rows) : FLEET_TENANTS;
	for (int i = 0; i < n; i++)
		calls[i] = rpc_leave(ctx->db, PQgetvalue(rows, i, 2),
				     json_pack("{s:s, s:s}", "op",
					       "approvals.list", "tenant",
					       PQgetvalue(rows, i, 1)));
	rpc_wait(ctx->db, calls, (size_t)n);
	all = json_array();
	partial = json_array();
	for (int i = 0; i < n; i++) {
		json_t *list = calls[i] && calls[i]->status == 200
			? json_object_get(calls[i]->answer, "approvals")
			: NULL;
		size_t j;
		json_t *a;

		if (!json_is_array(list)) {
			json_array_append_new(
				partial,
				json_pack("{s:s, s:s, s:s}", "tenant",
					  PQgetvalue(rows, i, 1), "node",
					  PQgetvalue(rows, i, 3), "reason",
					  !calls[i] || calls[i]->status == -1
						  ? "node_unavailable"
						  : "runtime_unavailable"));
			continue;
		}
		json_array_foreach(list, j, a) {
			const char *s =
				json_string_value(json_object_get(a, "state"));

			if (!s || strcmp(s, "pending"))
				continue;
			json_object_set_new(
				a, "tenant",
				json_string(PQgetvalue(rows, i, 1)));
			json_array_append(all, a);
		}
	}
	for (int i = 0; i < n; i++)
		rpc_free(ctx->db, calls[i]);
	claw_http_reply_json(req, 200,
			     json_pack("{s:o, s:o, s:b}", "approvals", all,
				       "partial", partial, "truncated",
				       PQntuples(rows) > FLEET_TENANTS));
	PQclear(rows);
}

/* POST /v1/agent/rpc/{id}: a node's answer to a call it was handed. */
static void rpc_answer(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	const char *id = claw_http_param(req, "id");
	json_int_t status = 0;
	json_t *body = NULL, *doc = NULL;
	struct claw_json_field fields[] = {
		{"status", CLAW_JSON_INT, true, &status, 0},
		{"body", CLAW_JSON_ANY, false, &body, 0},
		{NULL, 0, false, NULL, 0},
	};
	char *text = NULL;
	bool found = false;
	enum claw_rc rc;
	PGconn *c;

	if (cp_agent_require(req, ctx, &nc) ||
	    claw_http_parse_json(req, fields, &doc))
		return;
	if (body && !json_is_null(body) &&
	    !(text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY))) {
		json_decref(doc);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_relay_answer(
			 c, id, nc.id,
			 status >= 100 && status < 600 ? (int)status : 0, text,
			 &found)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	free(text);
	json_decref(doc);
	if (rc)
		cp_reply_rc(req, rc);
	else if (found)
		claw_http_reply_empty(req, 204);
	else
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND,
				    "no such call waits for an answer (it "
				    "timed out)");
}

const struct claw_route cp_routes_approvals[] = {
	{"GET", "/v1/tenants/{t}/approvals", approvals_list, "approvals.list"},
	{"GET", "/v1/tenants/{t}/approvals/{id}", approval_get,
	 "approvals.get"},
	{"POST", "/v1/tenants/{t}/approvals/{id}", approval_decide,
	 "approvals.decide"},
	{"GET", "/v1/approvals", approvals_fleet, "approvals.fleet"},
	{"POST", "/v1/agent/rpc/{id}", rpc_answer, "agent.rpc"},
};
CP_ROUTES_COUNT(approvals);
