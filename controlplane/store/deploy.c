/*
 * deploy.c - queries on deployments, placements and secret releases.
 * Generations come from fleet_generation_seq, so they only grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/common.h"
#include "store/deploy.h"
#include "store/ts.h"

#define DEP_COLS                                                               \
	"id, tenant_id, spec::text, images::text, phase, reason, "             \
	"rollback_of, created_by, " CP_TS("created_at") ", " CP_TS(            \
		"updated_at") ", seq"
#define PLACE_COLS                                                             \
	"p.tenant_id, p.deployment_id, p.state, p.node_id, p.generation, "     \
	"p.reason, p.phase, p.observed::text, " CP_TS(                         \
		"p.updated_at") ", n.name"
#define PLACE_FROM "placements p LEFT JOIN nodes n ON n.id = p.node_id"

static struct claw_db_stmt st_dep_insert = CLAW_DB_STMT(
	"cp_dep_insert",
	"INSERT INTO deployments (id, tenant_id, spec, images, rollback_of, "
	"created_by, phase) VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, "
	"coalesce($7, 'pending')) RETURNING " DEP_COLS);
static struct claw_db_stmt st_dep_get =
	CLAW_DB_STMT("cp_dep_get",
		     "SELECT " DEP_COLS " FROM deployments "
		     "WHERE tenant_id = $1 AND id = $2");
static struct claw_db_stmt st_dep_list =
	CLAW_DB_STMT("cp_dep_list",
		     "SELECT " DEP_COLS " FROM deployments "
		     "WHERE tenant_id = $1 AND ($2::bigint = 0 OR seq < $2) "
		     "ORDER BY seq DESC LIMIT $3::int");
static struct claw_db_stmt st_dep_prev = CLAW_DB_STMT(
	"cp_dep_prev",
	"SELECT " DEP_COLS " FROM deployments WHERE tenant_id = $1 "
	"AND phase = 'healthy' AND seq < coalesce((SELECT c.seq FROM "
	"placements p JOIN deployments c ON c.id = p.deployment_id "
	"WHERE p.tenant_id = $1), 0) ORDER BY seq DESC LIMIT 1");
static struct claw_db_stmt st_dep_phase = CLAW_DB_STMT(
	"cp_dep_phase",
	"UPDATE deployments SET phase = $2, reason = $3, updated_at = now() "
	"WHERE id = $1 AND (phase IN ('pending', 'pulling', 'starting') "
	"OR (phase = 'healthy' AND $2 = 'failed')) "
	"AND phase <> $2 RETURNING id");
static struct claw_db_stmt st_dep_images =
	CLAW_DB_STMT("cp_dep_images",
		     "UPDATE deployments SET images = $2::jsonb "
		     "WHERE id = $1 AND images IS NULL");
static struct claw_db_stmt st_dep_supersede = CLAW_DB_STMT(
	"cp_dep_supersede",
	"UPDATE deployments SET phase = 'superseded', updated_at = now() "
	"WHERE tenant_id = $1 AND id <> $2 "
	"AND phase IN ('resolving', 'pending', 'pulling', 'starting')");
static struct claw_db_stmt st_dep_supersede_resolving = CLAW_DB_STMT(
	"cp_dep_supersede_resolving",
	"UPDATE deployments SET phase = 'superseded', updated_at = now() "
	"WHERE tenant_id = $1 AND id <> $2 AND phase = 'resolving'");
static struct claw_db_stmt st_dep_resolved = CLAW_DB_STMT(
	"cp_dep_resolved",
	"UPDATE deployments SET spec = $2::jsonb, phase = 'pending', "
	"updated_at = now() WHERE id = $1 AND phase = 'resolving' "
	"RETURNING " DEP_COLS);
static struct claw_db_stmt st_dep_resolve_failed =
	CLAW_DB_STMT("cp_dep_resolve_failed",
		     "UPDATE deployments SET phase = 'failed', reason = $2, "
		     "updated_at = now() WHERE id = $1 AND phase = 'resolving' "
		     "RETURNING id");
static struct claw_db_stmt st_dep_fail_stale = CLAW_DB_STMT(
	"cp_dep_fail_stale",
	"UPDATE deployments SET phase = 'failed', reason = $2, "
	"updated_at = now() WHERE phase = 'resolving' "
	"AND updated_at < now() - make_interval(secs => $1::float8) "
	"RETURNING id, tenant_id, "
	"(SELECT t.slug FROM tenants t WHERE t.id = tenant_id)");
static struct claw_db_stmt st_place_deploy = CLAW_DB_STMT(
	"cp_place_deploy",
	"INSERT INTO placements AS p (tenant_id, deployment_id, state) "
	"VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET "
	"deployment_id = $2, state = $3, phase = 'pending', "
	"generation = nextval('fleet_generation_seq'), updated_at = now() "
	"RETURNING coalesce(p.node_id, '')");
static struct claw_db_stmt st_place_get = CLAW_DB_STMT(
	"cp_place_get",
	"SELECT " PLACE_COLS " FROM " PLACE_FROM " WHERE p.tenant_id = $1");
static struct claw_db_stmt st_place_state =
	CLAW_DB_STMT("cp_place_state",
		     "UPDATE placements SET state = $2, updated_at = now() "
		     "WHERE tenant_id = $1 RETURNING coalesce(node_id, '')");
static struct claw_db_stmt st_place_delete =
	CLAW_DB_STMT("cp_place_delete",
		     "DELETE FROM placements WHERE tenant_id = $1 "
		     "RETURNING coalesce(node_id, '')");
static struct claw_db_stmt st_place_move = CLAW_DB_STMT(
	"cp_place_move",
	"UPDATE placements SET moved_from = node_id, "
	"node_id = nullif($2, ''), reason = $3, phase = 'pending', "
	"generation = nextval('fleet_generation_seq'), updated_at = now() "
	"WHERE tenant_id = $1");
static struct claw_db_stmt st_place_observe = CLAW_DB_STMT(
	"cp_place_observe",
	"UPDATE placements SET phase = $2, observed = $3::jsonb, "
	"moved_from = CASE WHEN $2 = 'healthy' THEN NULL ELSE moved_from "
	"END, updated_at = now() WHERE tenant_id = $1");
static struct claw_db_stmt st_desired = CLAW_DB_STMT(
	"cp_desired_rows",
	"SELECT p.tenant_id, t.slug, p.deployment_id, p.generation, p.state, "
	"d.spec::text, d.images::text FROM placements p "
	"JOIN tenants t ON t.id = p.tenant_id "
	"JOIN deployments d ON d.id = p.deployment_id "
	"WHERE p.node_id = $1 AND t.deleted_at IS NULL ORDER BY t.slug");
static struct claw_db_stmt st_on_node = CLAW_DB_STMT(
	"cp_place_on_node",
	"SELECT p.tenant_id, p.generation, p.deployment_id, p.phase, "
	"p.observed::text, d.phase FROM placements p "
	"JOIN tenants t ON t.id = p.tenant_id "
	"JOIN deployments d ON d.id = p.deployment_id "
	"WHERE p.node_id = $1 AND t.slug = $2 FOR UPDATE OF p");
static struct claw_db_stmt st_secret_fp = CLAW_DB_STMT(
	"cp_secret_fp",
	"SELECT " CP_SECRET_FP_SQL(
		"$1",
		"$2") ", "
		      "(SELECT count(*) FROM secrets WHERE tenant_id = $1 "
		      "AND deleted_at IS NULL)");
static struct claw_db_stmt st_release_get =
	CLAW_DB_STMT("cp_release_get",
		     "SELECT fingerprint FROM secret_releases "
		     "WHERE node_id = $1 AND tenant_id = $2");
static struct claw_db_stmt st_release_set = CLAW_DB_STMT(
	"cp_release_set",
	"INSERT INTO secret_releases (node_id, tenant_id, fingerprint) "
	"VALUES ($1, $2, $3) ON CONFLICT (node_id, tenant_id) DO UPDATE "
	"SET fingerprint = $3, released_at = now()");
static struct claw_db_stmt st_release_forget = CLAW_DB_STMT(
	"cp_release_forget", "DELETE FROM secret_releases WHERE node_id = $1");

/* Run st with params and copy column 0 of its one row into out. */
static enum claw_rc one_text(PGconn *c, struct claw_db_stmt *st, int n,
			     const char *const *p, char *out, size_t outlen)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_one_row(claw_db_exec(c, st, n, p, &r), &r);

	if (!rc)
		snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_dep_insert(PGconn *c, const char *id,
				 const char *tenant_id, const char *spec,
				 const char *images, const char *rollback_of,
				 const char *created_by, const char *phase,
				 PGresult **row)
{
	const char *p[7] = {id,          tenant_id,  spec, images,
			    rollback_of, created_by, phase};

	return claw_db_exec(c, &st_dep_insert, 7, p, row);
}

enum claw_rc cp_store_dep_get(PGconn *c, const char *tenant_id, const char *id,
			      PGresult **row)
{
	const char *p[2] = {tenant_id, id};

	return cp_store_one_row(claw_db_exec(c, &st_dep_get, 2, p, row), row);
}

enum claw_rc cp_store_dep_list(PGconn *c, const char *tenant_id,
			       long long before_seq, int limit, PGresult **rows)
{
	return cp_store_exec_page(c, &st_dep_list, tenant_id, before_seq, limit,
				  rows);
}

enum claw_rc cp_store_dep_previous_healthy(PGconn *c, const char *tenant_id,
					   PGresult **row)
{
	const char *p[1] = {tenant_id};

	return cp_store_one_row(claw_db_exec(c, &st_dep_prev, 1, p, row), row);
}

enum claw_rc cp_store_dep_phase(PGconn *c, const char *id, const char *phase,
				const char *reason, int *changed)
{
	const char *p[3] = {id, phase, reason};

	return cp_store_exec_any(c, &st_dep_phase, 3, p, changed);
}

enum claw_rc cp_store_dep_images(PGconn *c, const char *id, const char *images)
{
	const char *p[2] = {id, images};

	return claw_db_exec(c, &st_dep_images, 2, p, NULL);
}

enum claw_rc cp_store_dep_supersede(PGconn *c, const char *tenant_id,
				    const char *keep_id, bool resolving_only)
{
	const char *p[2] = {tenant_id, keep_id};

	return claw_db_exec(c,
			    resolving_only ? &st_dep_supersede_resolving
					   : &st_dep_supersede,
			    2, p, NULL);
}

enum claw_rc cp_store_dep_resolved(PGconn *c, const char *id, const char *spec,
				   PGresult **row)
{
	const char *p[2] = {id, spec};

	return cp_store_one_row(claw_db_exec(c, &st_dep_resolved, 2, p, row),
				row);
}

enum claw_rc cp_store_dep_resolve_failed(PGconn *c, const char *id,
					 const char *reason, int *changed)
{
	const char *p[2] = {id, reason};

	return cp_store_exec_any(c, &st_dep_resolve_failed, 2, p, changed);
}

enum claw_rc cp_store_dep_fail_stale(PGconn *c, double older_s,
				     const char *reason, PGresult **rows)
{
	char secs[32];
	const char *p[2] = {secs, reason};

	snprintf(secs, sizeof(secs), "%.3f", older_s);
	return claw_db_exec(c, &st_dep_fail_stale, 2, p, rows);
}

json_t *cp_store_col_str(const PGresult *res, int r, int col)
{
	const char *v = claw_db_value(res, r, col);

	return v ? json_string(v) : json_null();
}

json_t *cp_store_col_doc(const PGresult *res, int r, int col)
{
	const char *v = claw_db_value(res, r, col);
	json_t *j = v ? json_loads(v, 0, NULL) : NULL;

	return j ? j : json_null();
}

json_t *cp_dep_json(const PGresult *res, int r)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "id", cp_store_col_str(res, r, CP_DC_ID), "tenant_id",
			 cp_store_col_str(res, r, CP_DC_TENANT), "spec",
			 cp_store_col_doc(res, r, CP_DC_SPEC), "images",
			 cp_store_col_doc(res, r, CP_DC_IMAGES), "phase",
			 cp_store_col_str(res, r, CP_DC_PHASE), "reason",
			 cp_store_col_str(res, r, CP_DC_REASON), "rollback_of",
			 cp_store_col_str(res, r, CP_DC_ROLLBACK_OF),
			 "created_by",
			 cp_store_col_str(res, r, CP_DC_CREATED_BY),
			 "created_at", cp_store_col_str(res, r, CP_DC_CREATED),
			 "updated_at", cp_store_col_str(res, r, CP_DC_UPDATED));
}

enum claw_rc cp_store_place_deploy(PGconn *c, const char *tenant_id,
				   const char *dep_id, const char *state,
				   char old_node[CP_ID_MAX])
{
	const char *p[3] = {tenant_id, dep_id, state};

	return one_text(c, &st_place_deploy, 3, p, old_node, CP_ID_MAX);
}

enum claw_rc cp_store_place_get(PGconn *c, const char *tenant_id,
				PGresult **row)
{
	const char *p[1] = {tenant_id};

	return cp_store_one_row(claw_db_exec(c, &st_place_get, 1, p, row), row);
}

enum claw_rc cp_store_place_state(PGconn *c, const char *tenant_id,
				  const char *state, char node[CP_ID_MAX])
{
	const char *p[2] = {tenant_id, state};

	return one_text(c, &st_place_state, 2, p, node, CP_ID_MAX);
}

enum claw_rc cp_store_place_delete(PGconn *c, const char *tenant_id,
				   char node[CP_ID_MAX])
{
	const char *p[1] = {tenant_id};

	return one_text(c, &st_place_delete, 1, p, node, CP_ID_MAX);
}

enum claw_rc cp_store_place_move(PGconn *c, const char *tenant_id,
				 const char *node_id, const char *reason)
{
	const char *p[3] = {tenant_id, node_id, reason};

	return claw_db_exec(c, &st_place_move, 3, p, NULL);
}

enum claw_rc cp_store_place_observe(PGconn *c, const char *tenant_id,
				    const char *phase, const char *observed)
{
	const char *p[3] = {tenant_id, phase, observed};

	return claw_db_exec(c, &st_place_observe, 3, p, NULL);
}

json_t *cp_place_json(const PGresult *res, int r)
{
	return json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o}",
		"tenant_id", cp_store_col_str(res, r, CP_PC_TENANT),
		"deployment_id", cp_store_col_str(res, r, CP_PC_DEP), "state",
		cp_store_col_str(res, r, CP_PC_STATE), "node_id",
		cp_store_col_str(res, r, CP_PC_NODE), "node_name",
		cp_store_col_str(res, r, CP_PC_NODE_NAME), "phase",
		cp_store_col_str(res, r, CP_PC_PHASE), "generation",
		(json_int_t)strtoll(PQgetvalue(res, r, CP_PC_GEN), NULL, 10),
		"reason", cp_store_col_str(res, r, CP_PC_REASON), "observed",
		cp_store_col_doc(res, r, CP_PC_OBSERVED), "updated_at",
		cp_store_col_str(res, r, CP_PC_UPDATED));
}

enum claw_rc cp_store_desired_rows(PGconn *c, const char *node_id,
				   PGresult **rows)
{
	const char *p[1] = {node_id};

	return claw_db_exec(c, &st_desired, 1, p, rows);
}

enum claw_rc cp_store_place_on_node(PGconn *c, const char *node_id,
				    const char *slug, PGresult **row)
{
	const char *p[2] = {node_id, slug};

	return cp_store_one_row(claw_db_exec(c, &st_on_node, 2, p, row), row);
}

enum claw_rc cp_store_secret_fp(PGconn *c, const char *tenant_id,
				const char *dep_id, char out[65], int *count)
{
	const char *p[2] = {tenant_id, dep_id};
	PGresult *r = NULL;
	long long n = 0;
	enum claw_rc rc =
		cp_store_one_row(claw_db_exec(c, &st_secret_fp, 2, p, &r), &r);

	if (!rc)
		rc = cp_store_ll(r, 0, 1, &n);
	if (!rc) {
		snprintf(out, 65, "%s", PQgetvalue(r, 0, 0));
		*count = (int)n;
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_release_get(PGconn *c, const char *node_id,
				  const char *tenant_id, char out[65])
{
	const char *p[2] = {node_id, tenant_id};
	enum claw_rc rc = one_text(c, &st_release_get, 2, p, out, 65);

	if (rc == CLAW_ERR_NOT_FOUND) {
		out[0] = '\0';
		return CLAW_OK;
	}
	return rc;
}

enum claw_rc cp_store_release_set(PGconn *c, const char *node_id,
				  const char *tenant_id, const char *fp)
{
	const char *p[3] = {node_id, tenant_id, fp};

	return claw_db_exec(c, &st_release_set, 3, p, NULL);
}

enum claw_rc cp_store_release_forget(PGconn *c, const char *node_id)
{
	const char *p[1] = {node_id};

	return claw_db_exec(c, &st_release_forget, 1, p, NULL);
}
