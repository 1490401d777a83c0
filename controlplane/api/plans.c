/*
 * plans.c - /v1/plans: the operator's named plans (resource ceilings a
 * tenant token deploys within; docs/fleet.md, "Tenant bounds").
 *
 *   GET    /v1/plans          admin, operator: "default" first, then by name
 *   GET    /v1/plans/{p}      admin, operator; a tenant token its own plan
 *   POST   /v1/plans          admin: {name, cpus_milli, memory_mb, pids,
 *                             disk_mb, quota, quota_message}
 *   PATCH  /v1/plans/{p}      admin: any of the five values
 *   DELETE /v1/plans/{p}      admin; 409 plan_in_use while tenants name it
 *
 * "default" is the built-in plan of every tenant without one: the
 * default-cpus-milli, default-memory-mb, default-pids and default-disk-mb
 * options, shown here and never stored (409 plan_builtin on a change).
 * Every change is audited in its transaction. A changed plan bounds the
 * next deploy; what runs keeps the values it was deployed with.
 *
 * "quota" is {"turns_per_day": N|null, "tokens_per_month": N|null} (null:
 * no quota; in a PATCH an absent key keeps its value); anything else is
 * 422 invalid_quota. "quota_message" is the text a chat user reads when a
 * quota is used up (a string of 1-1024 bytes without control characters
 * but newline and tab; "" puts back the default text, shown as null). Quotas show in GET
 * /v1/tenants/{t}/usage and the gateway enforces them (docs/fleet.md,
 * "Quotas"): a change of a plan's quotas or message gives the nodes of
 * its tenants a new generation in its transaction, so it takes effect
 * without a redeploy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "bounds.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "store/common.h"
#include "store/plans.h"
#include "store/usage.h"
#include "usage_quota.h"

#define CPUS_MIN 10
#define CPUS_MAX 256000
#define MEM_MIN 16
#define MEM_MAX 1048576
#define PIDS_MIN 8
#define PIDS_MAX 65536
#define DISK_MAX CP_PLAN_DISK_MAX
#define QUOTA_MAX 1000000000000000LL

static json_t *default_json(const struct cp_fleet_config *fc)
{
	return json_pack(
		"{s:s, s:I, s:I, s:I, s:I, s:b, s:n, s:n, s:n, s:{s:n, s:n}, "
		"s:n}",
		"name", "default", "cpus_milli",
		(json_int_t)fc->default_cpus_milli, "memory_mb",
		(json_int_t)fc->default_memory_mb, "pids",
		(json_int_t)fc->default_pids, "disk_mb",
		(json_int_t)fc->default_disk_mb, "builtin", 1, "tenants",
		"created_at", "updated_at", "quota", "turns_per_day",
		"tokens_per_month", "quota_message");
}

static void reply_plan_rc(struct claw_http_req *req, const char *name,
			  enum claw_rc rc)
{
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_PLAN_NOT_FOUND,
			       "no plan is named '%s'; list the plans", name);
	else
		cp_reply_rc(req, rc);
}

/* The {p} of the path, or NULL after replying 404 (malformed) or 409
 * (the built-in plan, when builtin_refused). */
static const char *plan_param(struct claw_http_req *req, bool builtin_refused)
{
	const char *p = claw_http_param(req, "p");

	if (!p || !cp_plan_name_valid(p)) {
		cp_reply_error(req, CP_E_PLAN_NOT_FOUND,
			       "no plan has that name; list the plans");
		return NULL;
	}
	if (builtin_refused && !strcmp(p, "default")) {
		cp_reply_error(req, CP_E_PLAN_BUILTIN, NULL);
		return NULL;
	}
	return p;
}

/* ---- reading */

static void plans_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	PGresult *rows = NULL;
	enum claw_rc rc;
	json_t *items;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth))
		return;
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_plan_list(c, &rows) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	json_array_append_new(items, default_json(&ctx->cfg.fleet));
	for (int i = 0; i < PQntuples(rows); i++)
		json_array_append_new(items, cp_plan_json(rows, i));
	PQclear(rows);
	claw_http_reply_json(
		req, 200,
		json_pack("{s:o, s:n}", "items", items, "next_cursor"));
}

static void plan_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_bounds b;
	const char *name;
	PGresult *row = NULL;
	enum claw_rc rc = CLAW_OK;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			    &auth) ||
	    !(name = plan_param(req, false)))
		return;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	if (auth.role == CP_ROLE_TENANT) {
		/* a tenant token sees its own plan, and no other */
		rc = cp_store_tenant_bounds(c, auth.tenant_id, false, &b);
		if (!rc) {
			if (strcmp(b.plan.name, name))
				rc = CLAW_ERR_NOT_FOUND;
			cp_tenant_bounds_release(&b);
		}
	}
	if (!rc && strcmp(name, "default"))
		rc = cp_store_plan_get(c, name, &row);
	claw_db_release(ctx->db, c);
	if (rc) {
		reply_plan_rc(req, name, rc);
		return;
	}
	claw_http_reply_json(req, 200,
			     row ? cp_plan_json(row, 0)
				 : default_json(&ctx->cfg.fleet));
	PQclear(row);
}

/* ---- changes */

struct plan_change {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	struct cp_plan plan;
	struct cp_plan_quota quota;
	const char *action;
	PGresult *row;
	bool woke; /* a quota changed: wake the long polls */
};

static enum claw_rc audit_plan(PGconn *c, struct plan_change *pc,
			       json_t *details)
{
	char target[96];

	snprintf(target, sizeof(target), "plans/%s", pc->plan.name);
	return cp_audit_request(c, pc->req, pc->auth, pc->action, target, NULL,
				details);
}

static void quota_json(json_t *o, const char *name, long long v)
{
	if (v != CP_QUOTA_KEEP)
		json_object_set_new(o, name,
				    v < 0 ? json_null() : json_integer(v));
}

static json_t *values_json(const struct cp_plan *p,
			   const struct cp_plan_quota *q)
{
	json_t *o = json_object();
	json_t *qo = json_object();

	if (p->cpus_milli >= 0)
		json_object_set_new(o, "cpus_milli",
				    json_integer(p->cpus_milli));
	if (p->memory_mb >= 0)
		json_object_set_new(o, "memory_mb", json_integer(p->memory_mb));
	if (p->pids >= 0)
		json_object_set_new(o, "pids", json_integer(p->pids));
	if (p->disk_mb >= 0)
		json_object_set_new(o, "disk_mb", json_integer(p->disk_mb));
	quota_json(qo, "turns_per_day", q->turns_per_day);
	quota_json(qo, "tokens_per_month", q->tokens_per_month);
	if (q->message)
		json_object_set_new(o, "quota_message",
				    q->message[0] ? json_string(q->message)
						  : json_null());
	if (json_object_size(qo))
		json_object_set(o, "quota", qo);
	json_decref(qo);
	return o;
}

/* An update of the quotas or their message reaches the plan's tenants'
 * gateways: each tenant's quotas are re-evaluated and its node woken. */
static enum claw_rc quota_changed(PGconn *c, struct plan_change *pc)
{
	PGresult *rows = NULL;
	enum claw_rc rc;

	pc->woke = false;
	if (pc->quota.turns_per_day == CP_QUOTA_KEEP &&
	    pc->quota.tokens_per_month == CP_QUOTA_KEEP && !pc->quota.message)
		return CLAW_OK;
	rc = cp_store_plan_tenants(c, pc->plan.name, &rows);
	for (int i = 0; !rc && i < PQntuples(rows); i++)
		rc = cp_usage_quota_sync(c, PQgetvalue(rows, i, 0), true,
					 &pc->woke);
	PQclear(rows);
	return rc;
}

static enum claw_rc change_tx(PGconn *c, void *cls)
{
	struct plan_change *pc = cls;
	enum claw_rc rc;

	cp_store_clear(&pc->row);
	if (!strcmp(pc->action, "plan.create"))
		rc = cp_store_plan_insert(c, &pc->plan, &pc->quota, &pc->row);
	else if (!strcmp(pc->action, "plan.update"))
		rc = cp_store_plan_update(c, &pc->plan, &pc->quota, &pc->row);
	else
		rc = cp_store_plan_delete(c, pc->plan.name);
	if (!rc && !strcmp(pc->action, "plan.update"))
		rc = quota_changed(c, pc);
	if (rc)
		return rc;
	return audit_plan(c, pc,
			  strcmp(pc->action, "plan.delete")
				  ? values_json(&pc->plan, &pc->quota)
				  : NULL);
}

/* The body's quota object into q (absent keys: CP_QUOTA_KEEP on an
 * update, CP_QUOTA_NONE on a create); -1 after a 422 invalid_quota. */
static int parse_quota(struct claw_http_req *req, const json_t *quota,
		       bool create, struct cp_plan_quota *q)
{
	static const char *const names[2] = {"turns_per_day",
					     "tokens_per_month"};
	long long *out[2] = {&q->turns_per_day, &q->tokens_per_month};
	const char *key;
	json_t *v;

	*out[0] = *out[1] = create ? CP_QUOTA_NONE : CP_QUOTA_KEEP;
	if (!quota)
		return 0;
	if (!json_is_object(quota))
		goto bad;
	json_object_foreach((json_t *)quota, key, v) {
		int i = !strcmp(key, names[0])   ? 0
			: !strcmp(key, names[1]) ? 1
						 : -1;

		if (i < 0 || !(json_is_null(v) || json_is_integer(v)) ||
		    json_integer_value(v) < 0 ||
		    json_integer_value(v) > QUOTA_MAX)
			goto bad;
		*out[i] = json_is_null(v) ? CP_QUOTA_NONE
					  : (long long)json_integer_value(v);
	}
	return 0;
bad:
	cp_reply_error(req, CP_E_INVALID_QUOTA,
		       "quota: {\"turns_per_day\": N, \"tokens_per_month\": "
		       "N}, each a whole number 0 to 10^15 or null (none)");
	return -1;
}

/* Unpack the values of a create (all but disk_mb and quota required) or
 * an update (any, at least one) into p (absent: -1) and q, range-checked.
 * Replies 4xx and returns -1 (*body released); else *body holds the
 * parsed body that *name points into. */
static int parse_values(struct claw_http_req *req, bool create,
			const char **name, struct cp_plan *p,
			struct cp_plan_quota *q, json_t **body)
{
	json_t *quota = NULL, *message = NULL;
	json_int_t v[4] = {-1, -1, -1, create ? 0 : -1};
	/* an update takes no name (fields + 1): a plan is renamed never */
	const struct claw_json_field fields[] = {
		{"name", CLAW_JSON_STRING, true, name, CP_PLAN_NAME_MAX + 1},
		{"cpus_milli", CLAW_JSON_INT, create, &v[0], 0},
		{"memory_mb", CLAW_JSON_INT, create, &v[1], 0},
		{"pids", CLAW_JSON_INT, create, &v[2], 0},
		{"disk_mb", CLAW_JSON_INT, false, &v[3], 0},
		{"quota", CLAW_JSON_ANY, false, &quota, 0},
		{"quota_message", CLAW_JSON_ANY, false, &message, 0},
		{NULL, 0, false, NULL, 0},
	};
	const long long lo[4] = {CPUS_MIN, MEM_MIN, PIDS_MIN, 0};
	const long long hi[4] = {CPUS_MAX, MEM_MAX, PIDS_MAX, DISK_MAX};
	bool any;

	if (claw_http_parse_json(req, create ? fields : fields + 1, body))
		return -1;
	any = quota != NULL || message != NULL;
	if (parse_quota(req, quota, create, q))
		goto fail;
	/* "" puts back the default text */
	q->message = json_string_value(message);
	if (message &&
	    (!q->message ||
	     (json_string_length(message) &&
	      !cp_quota_message_valid(q->message,
				      json_string_length(message))))) {
		cp_reply_error(req, CP_E_INVALID_QUOTA,
			       "quota_message: a string of 1 to %d bytes "
			       "(no control characters but newline and tab), "
			       "or \"\" for the default",
			       CP_QUOTA_MESSAGE_MAX);
		goto fail;
	}
	for (int i = 0; i < 4; i++) {
		if (v[i] < 0 && !(create && i == 3))
			continue;
		any = true;
		if (v[i] < lo[i] || v[i] > hi[i] ||
		    (i == 3 && !cp_plan_disk_valid(v[i]))) {
			claw_http_reply_std(
				req, CLAW_HE_INVALID_FIELD,
				"plan values: cpus_milli 10..256000, "
				"memory_mb 16..1048576, pids "
				"8..65536, disk_mb 0 (no limit) or "
				"16..16777216");
			goto fail;
		}
	}
	if (!any) {
		claw_http_reply_std(req, CLAW_HE_MISSING_FIELD,
				    "nothing to change: give cpus_milli, "
				    "memory_mb, pids, disk_mb, quota or "
				    "quota_message");
		goto fail;
	}
	p->cpus_milli = v[0];
	p->memory_mb = v[1];
	p->pids = v[2];
	p->disk_mb = v[3];
	return 0;
fail:
	json_decref(*body);
	*body = NULL;
	return -1;
}

static void run_change(struct claw_http_req *req, struct cp_ctx *ctx,
		       struct plan_change *pc, unsigned ok_status)
{
	enum claw_rc rc =
		claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, change_tx, pc);

	if (rc == CLAW_ERR_INVALID && !strcmp(claw_db_last_sqlstate(), "23505"))
		cp_reply_error(req, CP_E_PLAN_NAME_TAKEN,
			       "a plan named '%s' exists", pc->plan.name);
	else if (rc == CLAW_ERR_INVALID &&
		 !strcmp(claw_db_last_sqlstate(), "23503"))
		cp_reply_error(req, CP_E_PLAN_IN_USE,
			       "tenants (deleted ones included) are on plan "
			       "'%s'; move them to another plan first",
			       pc->plan.name);
	else if (rc)
		reply_plan_rc(req, pc->plan.name, rc);
	else if (ok_status == 204)
		claw_http_reply_empty(req, 204);
	else
		claw_http_reply_json(req, ok_status, cp_plan_json(pc->row, 0));
	if (!rc)
		log_info("%s %s", pc->action, pc->plan.name);
	if (!rc && pc->woke)
		cp_fleet_wake();
	cp_store_clear(&pc->row);
}

static void plan_create(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct plan_change pc = {
		.req = req, .auth = &auth, .action = "plan.create"};
	const char *name = NULL;
	json_t *body = NULL;
	char loc[96];

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    parse_values(req, true, &name, &pc.plan, &pc.quota, &body))
		return;
	if (!cp_plan_name_valid(name)) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "name must be a DNS label: 1 to 63 of "
				    "a-z, 0-9 and '-'");
	} else if (!strcmp(name, "default")) {
		cp_reply_error(req, CP_E_PLAN_BUILTIN, NULL);
	} else {
		snprintf(pc.plan.name, sizeof(pc.plan.name), "%s", name);
		snprintf(loc, sizeof(loc), "/v1/plans/%s", name);
		claw_http_add_header(req, "Location", loc);
		run_change(req, ctx, &pc, 201);
	}
	json_decref(body);
}

static void plan_update(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct plan_change pc = {
		.req = req, .auth = &auth, .action = "plan.update"};
	const char *name = NULL, *p;
	json_t *body = NULL;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    !(p = plan_param(req, true)) ||
	    parse_values(req, false, &name, &pc.plan, &pc.quota, &body))
		return;
	snprintf(pc.plan.name, sizeof(pc.plan.name), "%s", p);
	run_change(req, ctx, &pc, 200);
	json_decref(body);
}

static void plan_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct plan_change pc = {
		.req = req, .auth = &auth, .action = "plan.delete"};
	const char *p;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    !(p = plan_param(req, true)))
		return;
	snprintf(pc.plan.name, sizeof(pc.plan.name), "%s", p);
	run_change(req, ctx, &pc, 204);
}

const struct claw_route cp_routes_plans[] = {
	{"GET", "/v1/plans", plans_list, "plans.list"},
	{"POST", "/v1/plans", plan_create, "plans.create"},
	{"GET", "/v1/plans/{p}", plan_get, "plans.get"},
	{"PATCH", "/v1/plans/{p}", plan_update, "plans.update"},
	{"DELETE", "/v1/plans/{p}", plan_delete, "plans.delete"},
};
CP_ROUTES_COUNT(plans);
