/*
 * usage.c - tenants' usage (docs/fleet.md, "Usage"):
 *
 *   POST /v1/agent/usage        node: {"reports": [...]} (usage.h), the
 *        deltas of the node's tenants; 200 {"accepted": N} plus
 *        "refused": [{"tenant", "code": "usage_not_placed"}] for reports
 *        about tenants not placed on the node (each counted), and
 *        "repeated": N for reports whose id the node sent before (not
 *        counted again; they are among the accepted).
 *   GET  /v1/tenants/{t}/usage  admin, operator, the tenant's own token
 *        (another tenant's is 404): ?since=&until=&granularity=hour|day,
 *        the buckets that have use, their totals and the plan's quotas.
 *   GET  /v1/usage              admin, operator: ?since=&until=, each
 *        tenant's totals and the fleet's.
 *
 * since and until are RFC 3339 times; an hour counts when its start is in
 * [since, until). Defaults: until now, since 24 hours (hour) or 30 days
 * (day, and the fleet) before; at most 31 days of hours and 400 of days
 * (and of the fleet's totals).
 * A report is stored in one transaction, so a refused body stores
 * nothing, and a report sent again after a lost reply is not counted
 * twice when it carries an id. Each stored report re-evaluates the
 * tenant's quotas (usage_quota.h): a crossing emits its event and wakes
 * the tenant's node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "scheduler.h"
#include "store/common.h"
#include "store/usage.h"
#include "events.h"
#include "usage_quota.h"
#include "usage_report.h"

#define DAY_S 86400LL
#define HOURS_MAX_S (31 * DAY_S)
#define DAYS_MAX_S (400 * DAY_S)

/* ---- POST /v1/agent/usage */

struct post {
	const char *node_id;
	const struct cp_usage_batch *batch;
	long long accepted, repeated;
	json_t *refused; /* [{tenant, code}] */
	bool woke;       /* a quota crossed: wake the long polls */
};

static enum claw_rc report_tx(PGconn *c, struct post *po,
			      const struct cp_usage_report *r)
{
	char tenant_id[CP_ID_MAX];
	bool fresh = true;
	enum claw_rc rc =
		cp_store_usage_placed(c, po->node_id, r->tenant, tenant_id);

	if (rc == CLAW_ERR_NOT_FOUND)
		return json_array_append_new(
			       po->refused,
			       json_pack("{s:s, s:s}", "tenant", r->tenant,
					 "code",
					 cp_error_def(CP_E_USAGE_NOT_PLACED)
						 ->code))
			? CLAW_ERR_NOMEM
			: CLAW_OK;
	if (!rc && r->id[0])
		rc = cp_store_usage_seen(c, po->node_id, r->id, &fresh);
	if (!rc && fresh)
		rc = cp_store_usage_add(c, tenant_id, r);
	if (!rc && fresh)
		rc = cp_usage_quota_sync(c, tenant_id, false, &po->woke);
	if (!rc) {
		po->accepted++;
		po->repeated += !fresh;
	}
	return rc;
}

static enum claw_rc post_tx(PGconn *c, void *cls)
{
	struct post *po = cls;
	enum claw_rc rc = CLAW_OK;

	po->accepted = po->repeated = 0;
	po->woke = false;
	json_array_clear(po->refused);
	for (size_t i = 0; !rc && i < po->batch->n; i++)
		rc = report_tx(c, po, &po->batch->reports[i]);
	if (!rc && json_array_size(po->refused))
		rc = cp_store_usage_refused(
			c, po->node_id,
			(long long)json_array_size(po->refused));
	return rc;
}

static void usage_post(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	struct cp_usage_batch batch;
	struct claw_json_problem p = {0};
	struct post po = {.node_id = nc.id, .batch = &batch};
	json_t *body = NULL;
	enum claw_rc rc;

	if (cp_agent_require(req, ctx, &nc) ||
	    claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY, &body))
		return;
	if (cp_usage_parse(body, &batch, &p)) {
		json_decref(body);
		claw_http_reply_std(req, p.error, p.message);
		return;
	}
	json_decref(body);
	po.refused = json_array();
	rc = po.refused
		? claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, post_tx, &po)
		: CLAW_ERR_NOMEM;
	cp_usage_batch_release(&batch);
	if (!rc && po.woke)
		cp_fleet_wake();
	cp_reply_agent_report(req, rc, "usage", nc.name, po.accepted,
			      po.repeated, po.refused);
}

/* ---- sums as JSON */

/* {"turns": 0, ..., "input_tokens": 0, "output_tokens": 0,
 * "providers": {}} */
static json_t *usage_new(void)
{
	json_t *u = json_object();

	for (int i = 0; i < CP_UC__N; i++)
		json_object_set_new(u, cp_usage_count_names[i],
				    json_integer(0));
	json_object_set_new(u, "input_tokens", json_integer(0));
	json_object_set_new(u, "output_tokens", json_integer(0));
	json_object_set_new(u, "providers", json_object());
	return u;
}

static void add_to(json_t *o, const char *key, long long v)
{
	json_t *x = json_object_get(o, key);

	if (x)
		json_integer_set(x, json_integer_value(x) + v);
	else
		json_object_set_new(o, key, json_integer(v));
}

/* Add row i of a summing query to u. */
static enum claw_rc usage_add(json_t *u, const PGresult *res, int i)
{
	const char *prov = PQgetvalue(res, i, CP_USC_PROVIDER);
	bool own = !prov[0];
	int base = own ? CP_USC_COUNTS : CP_USC_PCOUNTS;
	int n = own ? CP_UC__N : CP_UP__N;
	const char *const *names =
		own ? cp_usage_count_names : cp_usage_pcount_names;
	json_t *dst = u;
	long long v;

	if (!own) {
		json_t *ps = json_object_get(u, "providers");

		dst = json_object_get(ps, prov);
		if (!dst && json_object_set_new(ps, prov, json_object()))
			return CLAW_ERR_NOMEM;
		dst = json_object_get(ps, prov);
	}
	for (int k = 0; k < n; k++) {
		if (cp_store_ll(res, i, base + k, &v))
			return CLAW_ERR_INTERNAL;
		add_to(dst, names[k], v);
		if (!own && k >= CP_UP_INPUT_TOKENS)
			add_to(u, names[k], v);
	}
	return CLAW_OK;
}

/* Fold the rows of a summing query into items, one a key: the sums with
 * key_name set to the key (nest false), or {key_name: key, "totals":
 * sums} (nest true); every row is added to totals too. */
static enum claw_rc fold(const PGresult *res, json_t *items, json_t *totals,
			 const char *key_name, bool nest)
{
	json_t *u = NULL;
	const char *last = "";

	for (int i = 0; i < PQntuples(res); i++) {
		const char *key = PQgetvalue(res, i, CP_USC_KEY);

		if (!u || strcmp(key, last)) {
			json_t *item;

			u = usage_new();
			item = nest ? json_pack("{s:s, s:o}", key_name, key,
						"totals", u)
				    : u;
			if (!item || json_array_append_new(items, item))
				return CLAW_ERR_NOMEM;
			if (!nest)
				json_object_set_new(u, key_name,
						    json_string(key));
			last = key;
		}
		if (usage_add(u, res, i) || usage_add(totals, res, i))
			return CLAW_ERR_INTERNAL;
	}
	return CLAW_OK;
}

/* ---- the reads */

/* since/until of the query (defaults: until now, since a day or, for
 * days, 30 days before it) and whether granularity is "day" (always for
 * the fleet's totals); -1 after a 400. */
static int parse_range(struct claw_http_req *req, bool fleet, bool *days,
		       long long *since, long long *until)
{
	const char *sq = claw_http_query(req, "since");
	const char *uq = claw_http_query(req, "until");
	const char *gq = fleet ? NULL : claw_http_query(req, "granularity");

	*days = fleet || (gq && !strcmp(gq, "day"));
	*until = (long long)time(NULL);
	if ((gq && !*days && strcmp(gq, "hour")) ||
	    (uq && !cp_rfc3339_parse(uq, until)) ||
	    (sq && !cp_rfc3339_parse(sq, since)))
		goto bad;
	if (!sq)
		*since = *until - (*days ? 30 : 1) * DAY_S;
	if (*since >= *until ||
	    *until - *since > (*days ? DAYS_MAX_S : HOURS_MAX_S))
		goto bad;
	return 0;
bad:
	cp_reply_error(req, CP_E_INVALID_PARAMETER,
		       "since and until are RFC 3339 times "
		       "(2026-01-31T12:00:00Z), since before until, at most "
		       "31 days apart for hours and 400 for days; "
		       "granularity is hour or day");
	return -1;
}

static json_t *quota_json(const struct cp_usage_quota *q)
{
	return json_pack(
		"{s:{s:o, s:I}, s:{s:o, s:I}}", "turns_per_day", "limit",
		q->turns_limit < 0 ? json_null() : json_integer(q->turns_limit),
		"used", (json_int_t)q->turns_used, "tokens_per_month", "limit",
		q->tokens_limit < 0 ? json_null()
				    : json_integer(q->tokens_limit),
		"used", (json_int_t)q->tokens_used);
}

/* A read of sums: one tenant's buckets and quotas (tenant set), or every
 * tenant's totals. */
struct read {
	const struct cp_tenant_ref *tenant; /* NULL: the fleet */
	bool days;
	long long since, until;
	struct cp_usage_quota quota;
	json_t *items, *totals; /* what read_sums folded the rows into */
};

static enum claw_rc read_rows(PGconn *c, struct read *rd, PGresult **rows)
{
	enum claw_rc rc;

	if (!rd->tenant)
		return cp_store_usage_fleet(c, rd->since, rd->until, rows);
	rc = cp_store_usage_buckets(c, rd->tenant->id, rd->since, rd->until,
				    rd->days ? "day" : "hour", rows);
	return rc ? rc : cp_store_usage_quota(c, rd->tenant->id, &rd->quota);
}

/* Run rd and fold its rows into rd->items and rd->totals (buckets of
 * "start" for a tenant, {"tenant", "totals"} for the fleet); -1 after
 * replying the error. */
static int read_sums(struct claw_http_req *req, struct cp_ctx *ctx,
		     struct read *rd)
{
	PGconn *c = claw_db_acquire(ctx->db);
	PGresult *rows = NULL;
	enum claw_rc rc = c ? read_rows(c, rd, &rows) : CLAW_ERR_IO;

	if (c)
		claw_db_release(ctx->db, c);
	rd->items = json_array();
	rd->totals = usage_new();
	if (!rc)
		rc = fold(rows, rd->items, rd->totals,
			  rd->tenant ? "start" : "tenant", !rd->tenant);
	PQclear(rows);
	if (!rc)
		return 0;
	json_decref(rd->items);
	json_decref(rd->totals);
	cp_reply_rc(req, rc);
	return -1;
}

static void usage_tenant(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct read rd = {.tenant = &ten};

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			    &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten) ||
	    parse_range(req, false, &rd.days, &rd.since, &rd.until) ||
	    read_sums(req, ctx, &rd))
		return;
	claw_http_reply_json(req, 200,
			     json_pack("{s:s, s:s, s:o, s:o, s:o}", "tenant",
				       ten.slug, "granularity",
				       rd.days ? "day" : "hour", "buckets",
				       rd.items, "totals", rd.totals, "quota",
				       quota_json(&rd.quota)));
}

static void usage_fleet(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct read rd = {0};

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth) ||
	    parse_range(req, true, &rd.days, &rd.since, &rd.until) ||
	    read_sums(req, ctx, &rd))
		return;
	claw_http_reply_json(req, 200,
			     json_pack("{s:o, s:o}", "tenants", rd.items,
				       "totals", rd.totals));
}

const struct claw_route cp_routes_usage[] = {
	{"POST", "/v1/agent/usage", usage_post, "agent.usage"},
	{"GET", "/v1/tenants/{t}/usage", usage_tenant, "usage.tenant"},
	{"GET", "/v1/usage", usage_fleet, "usage.fleet"},
};
CP_ROUTES_COUNT(usage);
