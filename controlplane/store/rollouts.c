/*
 * rollouts.c - queries on rollouts and rollout_tenants (rollouts.h). The
 * counters are counted from rollout_tenants in the same statement as the
 * rollout row, so they never drift from the tenants' states.
 */
#include "store/rollouts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "claw/json.h"
#include "store/common.h"
#include "store/deploy.h"
#include "store/ts.h"

#define RO_LOCK_KEY "1668047223, 9" /* (CLAW, 9): rollout creations */

#define RO_COLS                                                                \
	"r.id, r.state, r.selector::text, r.images::text, "                    \
	"r.gateway_config::text, r.runtime_config::text, r.max_unavailable, "  \
	"r.failure_threshold, r.min_ready_ms, r.batch, r.reason, "             \
	"r.created_by, " CP_TS("r.created_at") ", " CP_TS(                     \
		"r.updated_at") ", r.seq, n.total, n.pending, n.deploying, "   \
				"n.healthy, n.failed, n.rolled_back, "         \
				"n.skipped"
#define RO_FROM                                                                \
	" FROM rollouts r CROSS JOIN LATERAL (SELECT count(*) AS total, "      \
	"count(*) FILTER (WHERE t.state = 'pending') AS pending, "             \
	"count(*) FILTER (WHERE t.state = 'deploying') AS deploying, "         \
	"count(*) FILTER (WHERE t.state = 'healthy') AS healthy, "             \
	"count(*) FILTER (WHERE t.state = 'failed') AS failed, "               \
	"count(*) FILTER (WHERE t.state = 'rolled_back') AS rolled_back, "     \
	"count(*) FILTER (WHERE t.state = 'skipped') AS skipped "              \
	"FROM rollout_tenants t WHERE t.rollout_id = r.id) n"

static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_ro_lock", "SELECT pg_advisory_xact_lock(" RO_LOCK_KEY ")");
static struct claw_db_stmt st_match = CLAW_DB_STMT(
	"cp_ro_match",
	"SELECT id, slug FROM tenants WHERE deleted_at IS NULL "
	"AND ($1::jsonb IS NULL OR labels @> $1::jsonb) "
	"AND ($2::text IS NULL OR coalesce(plan, 'default') = $2) "
	"AND ($3::jsonb IS NULL OR slug IN "
	"(SELECT jsonb_array_elements_text($3::jsonb))) ORDER BY seq");
static struct claw_db_stmt st_overlap = CLAW_DB_STMT(
	"cp_ro_overlap",
	"SELECT r.id, t.slug FROM rollout_tenants rt "
	"JOIN rollouts r ON r.id = rt.rollout_id "
	"JOIN tenants t ON t.id = rt.tenant_id "
	"WHERE r.state IN ('running', 'paused') AND rt.tenant_id IN "
	"(SELECT jsonb_array_elements_text($1::jsonb)) LIMIT 1");
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_ro_insert",
	"INSERT INTO rollouts (id, selector, images, gateway_config, "
	"runtime_config, max_unavailable, failure_threshold, min_ready_ms, "
	"created_by) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb, "
	"$6::int, $7::int, $8::int, $9)");
static struct claw_db_stmt st_insert_tenants = CLAW_DB_STMT(
	"cp_ro_insert_tenants",
	"INSERT INTO rollout_tenants (rollout_id, tenant_id, position) "
	"SELECT $1, e.v, e.n FROM jsonb_array_elements_text($2::jsonb) "
	"WITH ORDINALITY AS e(v, n)");
static struct claw_db_stmt st_get =
	CLAW_DB_STMT("cp_ro_get", "SELECT " RO_COLS RO_FROM " WHERE r.id = $1");
static struct claw_db_stmt st_get_lock = CLAW_DB_STMT(
	"cp_ro_get_lock",
	"SELECT " RO_COLS RO_FROM " WHERE r.id = $1 FOR UPDATE OF r");
static struct claw_db_stmt st_list =
	CLAW_DB_STMT("cp_ro_list",
		     "SELECT " RO_COLS RO_FROM
		     " WHERE ($2::bigint = 0 OR r.seq < $2::bigint) "
		     "AND ($1::text IS NULL OR r.state = $1) "
		     "ORDER BY r.seq DESC LIMIT $3::int");
static struct claw_db_stmt st_take =
	CLAW_DB_STMT("cp_ro_take",
		     "SELECT id, seq FROM rollouts WHERE state = 'running' "
		     "AND seq > $1::bigint ORDER BY seq LIMIT 1 "
		     "FOR UPDATE SKIP LOCKED");
static struct claw_db_stmt st_state =
	CLAW_DB_STMT("cp_ro_state",
		     "UPDATE rollouts SET state = $2, "
		     "reason = coalesce($3, reason), updated_at = now() "
		     "WHERE id = $1");
static struct claw_db_stmt st_skip =
	CLAW_DB_STMT("cp_ro_skip",
		     "UPDATE rollout_tenants SET state = 'skipped', "
		     "updated_at = now() WHERE rollout_id = $1 "
		     "AND state = 'pending'");
static struct claw_db_stmt st_batch =
	CLAW_DB_STMT("cp_ro_batch",
		     "UPDATE rollouts SET batch = $2::int, "
		     "updated_at = now() WHERE id = $1");
static struct claw_db_stmt st_tenants = CLAW_DB_STMT(
	"cp_ro_tenants",
	"SELECT rt.tenant_id, t.slug, rt.state, rt.batch, rt.deployment_id, "
	"rt.previous_deployment, rt.error, d.phase, d.reason, "
	"extract(epoch FROM now() - rt.started_at)::bigint "
	"FROM rollout_tenants rt JOIN tenants t ON t.id = rt.tenant_id "
	"LEFT JOIN deployments d ON d.id = rt.deployment_id "
	"WHERE rt.rollout_id = $1 AND ($2::text IS NULL OR rt.state = $2) "
	"ORDER BY rt.position");
static struct claw_db_stmt st_tenant_set = CLAW_DB_STMT(
	"cp_ro_tenant_set",
	"UPDATE rollout_tenants SET state = $3, "
	"batch = CASE WHEN $4::int < 0 THEN batch ELSE $4::int END, "
	"deployment_id = coalesce($5, deployment_id), "
	"previous_deployment = coalesce($6, previous_deployment), "
	"error = $7, started_at = CASE WHEN $3 = 'deploying' THEN now() "
	"ELSE started_at END, updated_at = now() "
	"WHERE rollout_id = $1 AND tenant_id = $2");

enum claw_rc cp_store_ro_lock(PGconn *c)
{
	return claw_db_exec(c, &st_lock, 0, NULL, NULL);
}

enum claw_rc cp_store_ro_match(PGconn *c, const char *selector, PGresult **rows)
{
	json_t *sel = json_loads(selector, 0, NULL);
	json_t *labels = json_object_get(sel, "labels");
	json_t *tenants = json_object_get(sel, "tenants");
	char *lt = labels ? claw_json_dumps(labels) : NULL;
	char *tt = tenants ? claw_json_dumps(tenants) : NULL;
	const char *params[3] = {
		lt, json_string_value(json_object_get(sel, "plan")), tt};
	enum claw_rc rc = sel && (!labels || lt) && (!tenants || tt)
		? claw_db_exec(c, &st_match, 3, params, rows)
		: CLAW_ERR_NOMEM;

	free(lt);
	free(tt);
	json_decref(sel);
	return rc;
}

enum claw_rc cp_store_ro_overlap(PGconn *c, const char *tenant_ids,
				 PGresult **row)
{
	const char *params[1] = {tenant_ids};

	return cp_store_one_row(claw_db_exec(c, &st_overlap, 1, params, row),
				row);
}

enum claw_rc cp_store_ro_insert(PGconn *c, const struct cp_ro_new *n,
				const char *tenant_ids, PGresult **row)
{
	char mu[16], th[16], mr[24];
	const char *params[9] = {n->id,
				 n->selector,
				 n->images,
				 n->gateway_config,
				 n->runtime_config,
				 mu,
				 th,
				 n->min_ready_ms >= 0 ? mr : NULL,
				 n->created_by};
	const char *tp[2] = {n->id, tenant_ids};
	enum claw_rc rc;

	snprintf(mu, sizeof(mu), "%d", n->max_unavailable);
	snprintf(th, sizeof(th), "%d", n->failure_threshold);
	snprintf(mr, sizeof(mr), "%ld", n->min_ready_ms);
	rc = claw_db_exec(c, &st_insert, 9, params, NULL);
	if (!rc)
		rc = claw_db_exec(c, &st_insert_tenants, 2, tp, NULL);
	if (!rc)
		rc = cp_store_ro_get(c, n->id, false, row);
	return rc;
}

enum claw_rc cp_store_ro_get(PGconn *c, const char *id, bool lock,
			     PGresult **row)
{
	const char *params[1] = {id};

	return cp_store_one_row(
		claw_db_exec(c, lock ? &st_get_lock : &st_get, 1, params, row),
		row);
}

enum claw_rc cp_store_ro_list(PGconn *c, const char *state,
			      long long before_seq, int limit, PGresult **rows)
{
	return cp_store_exec_page(c, &st_list, state, before_seq, limit, rows);
}

enum claw_rc cp_store_ro_take(PGconn *c, long long after_seq,
			      char id[CP_ID_MAX], long long *seq)
{
	char after[24];
	const char *params[1] = {after};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(after, sizeof(after), "%lld", after_seq);
	rc = cp_store_one_row(claw_db_exec(c, &st_take, 1, params, &r), &r);
	if (!rc) {
		snprintf(id, CP_ID_MAX, "%s", PQgetvalue(r, 0, 0));
		*seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_ro_state(PGconn *c, const char *id, const char *state,
			       const char *reason)
{
	const char *params[3] = {id, state, reason};
	enum claw_rc rc = claw_db_exec(c, &st_state, 3, params, NULL);

	if (!rc && (!strcmp(state, "halted") || !strcmp(state, "aborted")))
		rc = claw_db_exec(c, &st_skip, 1, params, NULL);
	return rc;
}

enum claw_rc cp_store_ro_batch(PGconn *c, const char *id, int batch)
{
	char b[16];
	const char *params[2] = {id, b};

	snprintf(b, sizeof(b), "%d", batch);
	return claw_db_exec(c, &st_batch, 2, params, NULL);
}

enum claw_rc cp_store_ro_tenants(PGconn *c, const char *id, const char *state,
				 PGresult **rows)
{
	const char *params[2] = {id, state};

	return claw_db_exec(c, &st_tenants, 2, params, rows);
}

enum claw_rc cp_store_ro_tenant_set(PGconn *c, const char *id,
				    const char *tenant_id, const char *state,
				    int batch, const char *dep,
				    const char *prev, const char *error)
{
	char b[16];
	const char *params[7] = {id, tenant_id, state, b, dep, prev, error};

	snprintf(b, sizeof(b), "%d", batch);
	return claw_db_exec(c, &st_tenant_set, 7, params, NULL);
}

static json_int_t int_at(const PGresult *res, int r, int col)
{
	return strtoll(PQgetvalue(res, r, col), NULL, 10);
}

/* The integer columns as the API names them: the counters first. */
static const struct {
	const char *key;
	int col;
} ro_ints[] = {
	{"batch", CP_RC_BATCH},
	{"total", CP_RC_TOTAL},
	{"succeeded", CP_RC_HEALTHY},
	{"failed", CP_RC_FAILED},
	{"rolled_back", CP_RC_ROLLED_BACK},
	{"pending", CP_RC_PENDING},
	{"in_progress", CP_RC_DEPLOYING},
	{"skipped", CP_RC_SKIPPED},
	{"max_unavailable", CP_RC_MAX_UNAVAILABLE}, /* not a counter */
	{"failure_threshold", CP_RC_THRESHOLD},
};
#define RO_COUNTERS 8

/* j with the integers of ro_ints[0..n) of row r; NULL (j released) when
 * out of memory. */
static json_t *ints_add(json_t *j, const PGresult *res, int r, size_t n)
{
	for (size_t i = 0; j && i < n; i++) {
		if (json_object_set_new(
			    j, ro_ints[i].key,
			    json_integer(int_at(res, r, ro_ints[i].col)))) {
			json_decref(j);
			j = NULL;
		}
	}
	return j;
}

json_t *cp_ro_counters(const PGresult *res, int r)
{
	return ints_add(json_pack("{s:s, s:s}", "rollout",
				  PQgetvalue(res, r, CP_RC_ID), "state",
				  PQgetvalue(res, r, CP_RC_STATE)),
			res, r, RO_COUNTERS);
}

json_t *cp_ro_json(const PGresult *res, int r)
{
	const struct {
		const char *key;
		int col;
		bool doc;
	} cols[] = {
		{"created_by", CP_RC_CREATED_BY, false},
		{"created_at", CP_RC_CREATED, false},
		{"updated_at", CP_RC_UPDATED, false},
		{"reason", CP_RC_REASON, false},
		{"selector", CP_RC_SELECTOR, true},
		{"images", CP_RC_IMAGES, true},
		{"gateway_config", CP_RC_GW_CONFIG, true},
		{"runtime_config", CP_RC_RT_CONFIG, true},
	};
	json_t *j = ints_add(json_pack("{s:s, s:s}", "id",
				       PQgetvalue(res, r, CP_RC_ID), "state",
				       PQgetvalue(res, r, CP_RC_STATE)),
			     res, r, sizeof(ro_ints) / sizeof(ro_ints[0]));

	for (size_t i = 0; j && i < sizeof(cols) / sizeof(cols[0]); i++) {
		json_t *v = cols[i].doc ? cp_store_col_doc(res, r, cols[i].col)
					: cp_store_col_str(res, r, cols[i].col);

		if (json_object_set_new(j, cols[i].key, v)) {
			json_decref(j);
			j = NULL;
		}
	}
	if (j &&
	    json_object_set_new(
		    j, "min_ready_ms",
		    claw_db_value(res, r, CP_RC_MIN_READY)
			    ? json_integer(int_at(res, r, CP_RC_MIN_READY))
			    : json_null())) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

json_t *cp_ro_tenant_json(const PGresult *res, int r)
{
	return json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "tenant",
			 PQgetvalue(res, r, CP_RT_SLUG), "state",
			 PQgetvalue(res, r, CP_RT_STATE), "batch",
			 int_at(res, r, CP_RT_BATCH), "deployment",
			 cp_store_col_str(res, r, CP_RT_DEP),
			 "previous_deployment",
			 cp_store_col_str(res, r, CP_RT_PREV), "error",
			 cp_store_col_str(res, r, CP_RT_ERROR));
}
