/*
 * plans.c - queries on plans and on a tenant's bounds (see plans.h). A
 * plan is addressed by its name; "default" is never stored (the built-in
 * plan comes from the options).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/common.h"
#include "store/plans.h"
#include "store/ts.h"

#define PLAN_COLS                                                              \
	"p.name, p.cpus_milli, p.memory_mb, p.pids, p.disk_mb, " CP_TS(        \
		"p.created_at") ", " CP_TS("p.updated_at") ", "                \
							   "(SELECT count(*) " \
							   "FROM tenants t "   \
							   "WHERE t.plan = "   \
							   "p.name "           \
							   "AND t.deleted_at " \
							   "IS NULL), "        \
							   "coalesce(p.quota_" \
							   "turns_per_day, "   \
							   "-1), "             \
							   "coalesce(p.quota_" \
							   "tokens_per_month," \
							   " -1), "            \
							   "p.quota_message"
/* A quota parameter of an update: CP_QUOTA_KEEP keeps the value,
 * CP_QUOTA_NONE clears it. */
#define QUOTA_SET(col, n)                                                      \
	col " = CASE WHEN $" n "::bigint = -1 THEN " col " WHEN $" n           \
	    "::bigint < 0 THEN NULL ELSE $" n "::bigint END"
#define QUOTA_NEW(n)                                                           \
	"CASE WHEN $" n "::bigint < 0 THEN NULL ELSE $" n "::bigint END"

static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_plan_insert",
	"INSERT INTO plans AS p (name, cpus_milli, memory_mb, pids, disk_mb, "
	"quota_turns_per_day, quota_tokens_per_month, quota_message) "
	"VALUES ($1, $2::bigint, $3::bigint, $4::bigint, "
	"$5::bigint, " QUOTA_NEW("6") ", " QUOTA_NEW(
		"7") ", nullif($8::text, '')) "
		     "RETURNING " PLAN_COLS);
static struct claw_db_stmt st_get = CLAW_DB_STMT(
	"cp_plan_get", "SELECT " PLAN_COLS " FROM plans p WHERE p.name = $1");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_plan_list", "SELECT " PLAN_COLS " FROM plans p ORDER BY p.name");
static struct claw_db_stmt st_update = CLAW_DB_STMT(
	"cp_plan_update",
	"UPDATE plans AS p SET "
	"cpus_milli = CASE WHEN $2::bigint < 0 THEN cpus_milli ELSE $2 END, "
	"memory_mb = CASE WHEN $3::bigint < 0 THEN memory_mb ELSE $3 END, "
	"pids = CASE WHEN $4::bigint < 0 THEN pids ELSE $4 END, "
	"disk_mb = CASE WHEN $5::bigint < 0 THEN disk_mb ELSE $5 "
	"END, " QUOTA_SET("quota_turns_per_day", "6") ", " QUOTA_SET(
		"quota_tokens_per_month",
		"7") ", "
		     "quota_message = CASE WHEN $8::text IS NULL THEN "
		     "quota_message ELSE nullif($8::text, '') END, "
		     "updated_at = now() WHERE name = $1 RETURNING " PLAN_COLS);
static struct claw_db_stmt st_delete =
	CLAW_DB_STMT("cp_plan_delete", "DELETE FROM plans WHERE name = $1");
static struct claw_db_stmt st_bounds = CLAW_DB_STMT(
	"cp_tenant_bounds",
	"SELECT t.plan, p.cpus_milli, p.memory_mb, p.pids, p.disk_mb, "
	"t.egress_allow::text, t.self_pause, coalesce(t.suspended_by, ''), "
	"t.node_labels::text, t.api_base_allow::text "
	"FROM tenants t LEFT JOIN plans p ON p.name = t.plan WHERE t.id = $1");
static struct claw_db_stmt st_bounds_lock = CLAW_DB_STMT(
	"cp_tenant_bounds_lock",
	"SELECT t.plan, p.cpus_milli, p.memory_mb, p.pids, p.disk_mb, "
	"t.egress_allow::text, t.self_pause, coalesce(t.suspended_by, ''), "
	"t.node_labels::text, t.api_base_allow::text "
	"FROM tenants t LEFT JOIN plans p ON p.name = t.plan WHERE t.id = $1 "
	"FOR UPDATE OF t");
static struct claw_db_stmt st_set_suspended =
	CLAW_DB_STMT("cp_tenant_set_suspended",
		     "UPDATE tenants SET suspended_by = $2 WHERE id = $1");

/* The values of p and q as parameter texts 1..6 of params (cpus, memory,
 * pids, disk, turns per day, tokens per month), in buf. */
static void plan_params(const struct cp_plan *p, const struct cp_plan_quota *q,
			char buf[6][24], const char **params)
{
	const long long v[6] = {p->cpus_milli,    p->memory_mb,
				p->pids,          p->disk_mb,
				q->turns_per_day, q->tokens_per_month};

	for (int i = 0; i < 6; i++) {
		snprintf(buf[i], sizeof(buf[i]), "%lld", v[i]);
		params[i] = buf[i];
	}
}

/* Run st (insert or update) with p and q. */
static enum claw_rc plan_write(PGconn *c, struct claw_db_stmt *st,
			       const struct cp_plan *p,
			       const struct cp_plan_quota *q, PGresult **row)
{
	char buf[6][24];
	const char *params[8] = {p->name};

	plan_params(p, q, buf, params + 1);
	params[7] = q->message;
	return cp_store_one_row(claw_db_exec(c, st, 8, params, row), row);
}

enum claw_rc cp_store_plan_insert(PGconn *c, const struct cp_plan *p,
				  const struct cp_plan_quota *q, PGresult **row)
{
	return plan_write(c, &st_insert, p, q, row);
}

enum claw_rc cp_store_plan_get(PGconn *c, const char *name, PGresult **row)
{
	const char *params[1] = {name};

	return cp_store_one_row(claw_db_exec(c, &st_get, 1, params, row), row);
}

enum claw_rc cp_store_plan_list(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_list, 0, NULL, rows);
}

enum claw_rc cp_store_plan_update(PGconn *c, const struct cp_plan *p,
				  const struct cp_plan_quota *q, PGresult **row)
{
	return plan_write(c, &st_update, p, q, row);
}

enum claw_rc cp_store_plan_delete(PGconn *c, const char *name)
{
	const char *params[1] = {name};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_delete, 1, params, &r);

	if (!rc && strcmp(PQcmdTuples(r), "1") != 0)
		rc = CLAW_ERR_NOT_FOUND;
	PQclear(r);
	return rc;
}

static json_int_t int_at(const PGresult *res, int r, int col)
{
	long long v = 0;

	cp_store_ll(res, r, col, &v);
	return (json_int_t)v;
}

/* A quota as the API shows it: null for none. */
static json_t *quota_value(const PGresult *res, int r, int col)
{
	json_int_t v = int_at(res, r, col);

	return v < 0 ? json_null() : json_integer(v);
}

json_t *cp_plan_json(const PGresult *res, int r)
{
	json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:s, s:s}",
			      "name", PQgetvalue(res, r, CP_PLC_NAME),
			      "cpus_milli", int_at(res, r, CP_PLC_CPUS),
			      "memory_mb", int_at(res, r, CP_PLC_MEMORY),
			      "pids", int_at(res, r, CP_PLC_PIDS), "disk_mb",
			      int_at(res, r, CP_PLC_DISK), "builtin", 0,
			      "tenants", int_at(res, r, CP_PLC_TENANTS),
			      "created_at", PQgetvalue(res, r, CP_PLC_CREATED),
			      "updated_at", PQgetvalue(res, r, CP_PLC_UPDATED));

	if (o &&
	    (json_object_set_new(
		     o, "quota",
		     json_pack("{s:o, s:o}", "turns_per_day",
			       quota_value(res, r, CP_PLC_QUOTA_TURNS),
			       "tokens_per_month",
			       quota_value(res, r, CP_PLC_QUOTA_TOKENS))) ||
	     json_object_set_new(
		     o, "quota_message",
		     PQgetisnull(res, r, CP_PLC_QUOTA_MESSAGE)
			     ? json_null()
			     : json_string(PQgetvalue(
				       res, r, CP_PLC_QUOTA_MESSAGE))))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum claw_rc cp_store_tenant_bounds(PGconn *c, const char *tenant_id,
				    bool for_update,
				    struct cp_tenant_bounds *out)
{
	const char *params[1] = {tenant_id};
	PGresult *r = NULL;
	enum claw_rc rc;

	memset(out, 0, sizeof(*out));
	rc = cp_store_one_row(
		claw_db_exec(c, for_update ? &st_bounds_lock : &st_bounds, 1,
			     params, &r),
		&r);
	if (rc)
		return rc;
	out->has_plan = claw_db_value(r, 0, 0) != NULL;
	snprintf(out->plan.name, sizeof(out->plan.name), "%s",
		 out->has_plan ? PQgetvalue(r, 0, 0) : "default");
	if (out->has_plan &&
	    (cp_store_ll(r, 0, 1, &out->plan.cpus_milli) ||
	     cp_store_ll(r, 0, 2, &out->plan.memory_mb) ||
	     cp_store_ll(r, 0, 3, &out->plan.pids) ||
	     cp_store_ll(r, 0, 4, &out->plan.disk_mb)))
		rc = CLAW_ERR_INTERNAL;
	out->egress_allow = json_loads(PQgetvalue(r, 0, 5), 0, NULL);
	if (!json_is_array(out->egress_allow)) {
		json_decref(out->egress_allow);
		out->egress_allow = json_array();
	}
	out->self_pause = !strcmp(PQgetvalue(r, 0, 6), "t");
	snprintf(out->suspended_by, sizeof(out->suspended_by), "%s",
		 PQgetvalue(r, 0, 7));
	out->node_labels = json_loads(PQgetvalue(r, 0, 8), 0, NULL);
	if (!json_is_object(out->node_labels)) {
		json_decref(out->node_labels);
		out->node_labels = json_object();
	}
	out->api_base_allow = json_loads(PQgetvalue(r, 0, 9), 0, NULL);
	if (!json_is_array(out->api_base_allow)) {
		json_decref(out->api_base_allow);
		out->api_base_allow = json_array();
	}
	PQclear(r);
	if (rc || !out->egress_allow || !out->node_labels ||
	    !out->api_base_allow) {
		cp_tenant_bounds_release(out);
		return rc ? rc : CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

void cp_tenant_bounds_release(struct cp_tenant_bounds *b)
{
	json_decref(b->egress_allow);
	json_decref(b->node_labels);
	json_decref(b->api_base_allow);
	b->egress_allow = NULL;
	b->node_labels = NULL;
	b->api_base_allow = NULL;
}

enum claw_rc cp_store_tenant_set_suspended(PGconn *c, const char *tenant_id,
					   const char *who)
{
	const char *params[2] = {tenant_id, who};

	return claw_db_exec(c, &st_set_suspended, 2, params, NULL);
}
