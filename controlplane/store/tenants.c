/*
 * tenants.c - queries on tenants. A tenant is addressed by id ("tnt_...")
 * or slug (a DNS label, so never containing '_'); listing pages by the
 * internal sequence number, which is the cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/common.h"
#include "store/store.h"
#include "store/ts.h"

/* The tenant's columns (CP_TC_*), each named with prefix p ("" or an
 * alias such as "t."). */
/* clang-format off */
#define TENANT_COLS_OF(p)                                                      \
	p "id, " p "slug, " p "name, " p "version, "                           \
	CP_TS(p "created_at") ", " CP_TS(p "updated_at") ", "                  \
	CP_TS(p "deleted_at") ", " p "seq, " p "plan, "                        \
	p "egress_allow::text, " p "self_pause, " p "suspended_by, "           \
	p "node_labels::text, " p "api_base_allow::text, " p "labels::text"
/* clang-format on */
#define TENANT_COLS TENANT_COLS_OF("")

static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_tenant_insert",
	"INSERT INTO tenants (id, slug, name, plan, egress_allow, self_pause, "
	"node_labels, api_base_allow, labels) "
	"VALUES ($1, $2, $3, nullif($4, ''), coalesce($5::jsonb, '[]'), "
	"coalesce($6::boolean, false), coalesce($7::jsonb, '{}'), "
	"coalesce($8::jsonb, '[]'), coalesce($9::jsonb, '{}')) "
	"RETURNING " TENANT_COLS);
static struct claw_db_stmt st_by_id = CLAW_DB_STMT(
	"cp_tenant_by_id", "SELECT " TENANT_COLS " FROM tenants WHERE id = $1");
static struct claw_db_stmt st_by_slug =
	CLAW_DB_STMT("cp_tenant_by_slug",
		     "SELECT " TENANT_COLS " FROM tenants WHERE slug = $1");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_tenant_list",
	"SELECT " TENANT_COLS " FROM tenants WHERE seq > $1::bigint "
	"AND ($2 = 'all' OR ($2 = 'deleted') = (deleted_at IS NOT NULL)) "
	"AND ($3::text IS NULL OR starts_with(slug, $3)) "
	"AND ($4::text IS NULL OR id = $4) "
	"AND ($6::jsonb IS NULL OR labels @> $6::jsonb) "
	"ORDER BY seq LIMIT $5::int");
static struct claw_db_stmt st_update = CLAW_DB_STMT(
	"cp_tenant_update",
	"UPDATE tenants SET name = coalesce($2, name), "
	"plan = CASE WHEN $4::text IS NULL THEN plan ELSE nullif($4, '') END, "
	"egress_allow = coalesce($5::jsonb, egress_allow), "
	"self_pause = coalesce($6::boolean, self_pause), "
	"node_labels = coalesce($7::jsonb, node_labels), "
	"api_base_allow = coalesce($8::jsonb, api_base_allow), "
	"labels = coalesce($9::jsonb, labels), "
	"version = version + 1, "
	"updated_at = now() WHERE id = $1 AND deleted_at IS NULL "
	"AND ($3::bigint < 0 OR version = $3::bigint) RETURNING " TENANT_COLS);
static struct claw_db_stmt st_set_deleted = CLAW_DB_STMT(
	"cp_tenant_set_deleted",
	"UPDATE tenants SET deleted_at = CASE WHEN $2::boolean THEN now() END,"
	" version = version + 1, updated_at = now() WHERE id = $1 "
	"AND (deleted_at IS NULL) = $2::boolean "
	"AND ($3::bigint < 0 OR version = $3::bigint) RETURNING " TENANT_COLS);
static struct claw_db_stmt st_purge = CLAW_DB_STMT(
	"cp_tenant_purge",
	"DELETE FROM tenants WHERE id = $1 AND deleted_at IS NOT NULL");

#define TENANT_COLS_T TENANT_COLS_OF("t.")
/* ... and the edge's view (CP_TC_AUTHED_DOMAINS, _CHANNELS): the
 * tenant's claimed domains and its placed deployment's channels, both by
 * primary key. */
#define AUTHED(key)                                                            \
	"SELECT " TENANT_COLS_T ", " CP_TOKEN_AUTH_COLS                        \
	", (SELECT coalesce(json_agg(d.domain ORDER BY d.domain), '[]') "      \
	"FROM tenant_domains d WHERE d.tenant_id = t.id)::text, "              \
	"(SELECT dp.spec->'gateway_config'->'channels' FROM placements p "     \
	"JOIN deployments dp ON dp.id = p.deployment_id "                      \
	"WHERE p.tenant_id = t.id)::text"                                      \
	" FROM " CP_TOKEN_AUTH_FROM " LEFT JOIN tenants t ON t." key           \
	" = $2 WHERE " CP_TOKEN_AUTH_WHERE

static struct claw_db_stmt st_authed_by_id =
	CLAW_DB_STMT("cp_tenant_authed_by_id", AUTHED("id"));
static struct claw_db_stmt st_authed_by_slug =
	CLAW_DB_STMT("cp_tenant_authed_by_slug", AUTHED("slug"));

/* Keep a one-row result, or NOT_FOUND. */
enum claw_rc cp_store_tenant_insert(PGconn *c, const char *id, const char *slug,
				    const char *name,
				    const struct cp_tenant_set *set,
				    PGresult **row)
{
	const char *params[9] = {id,
				 slug,
				 name,
				 set ? set->plan : NULL,
				 set ? set->egress_allow : NULL,
				 set && set->self_pause >= 0
					 ? (set->self_pause ? "true" : "false")
					 : NULL,
				 set ? set->node_labels : NULL,
				 set ? set->api_base_allow : NULL,
				 set ? set->labels : NULL};

	return claw_db_exec(c, &st_insert, 9, params, row);
}

enum claw_rc cp_store_tenant_get(PGconn *c, const char *id_or_slug,
				 PGresult **row)
{
	const char *params[1] = {id_or_slug};
	struct claw_db_stmt *st =
		strncmp(id_or_slug, "tnt_", 4) == 0 ? &st_by_id : &st_by_slug;

	return cp_store_one_row(claw_db_exec(c, st, 1, params, row), row);
}

enum claw_rc cp_store_tenant_get_authed(PGconn *c, const char *hash,
					const char *id_or_slug,
					struct cp_auth *auth,
					char stored_hash[65], PGresult **row)
{
	const char *params[2] = {hash, id_or_slug};
	struct claw_db_stmt *st = strncmp(id_or_slug, "tnt_", 4) == 0
		? &st_authed_by_id
		: &st_authed_by_slug;
	enum claw_rc rc = claw_db_exec(c, st, 2, params, row);

	if (!rc)
		rc = cp_store_token_row(*row, CP_TC__COUNT, auth, stored_hash);
	if (rc) {
		PQclear(*row);
		*row = NULL;
	}
	return rc;
}

enum claw_rc cp_store_tenant_list(PGconn *c, const struct cp_tenant_filter *f,
				  PGresult **rows)
{
	char after[24], lim[16];
	const char *params[6] = {after,      f->status, f->slug_prefix,
				 f->only_id, lim,       f->labels};

	snprintf(after, sizeof(after), "%lld", f->after_seq);
	snprintf(lim, sizeof(lim), "%d", f->limit);
	return claw_db_exec(c, &st_list, 6, params, rows);
}

enum claw_rc cp_store_tenant_update(PGconn *c, const char *id,
				    const struct cp_tenant_set *set,
				    long long version, PGresult **row)
{
	char ver[24];
	const char *params[9] = {id,
				 set->name,
				 ver,
				 set->plan,
				 set->egress_allow,
				 set->self_pause >= 0
					 ? (set->self_pause ? "true" : "false")
					 : NULL,
				 set->node_labels,
				 set->api_base_allow,
				 set->labels};

	snprintf(ver, sizeof(ver), "%lld", version);
	return cp_store_one_row(claw_db_exec(c, &st_update, 9, params, row),
				row);
}

enum claw_rc cp_store_tenant_set_deleted(PGconn *c, const char *id,
					 bool deleted, long long version,
					 PGresult **row)
{
	char ver[24];
	const char *params[3] = {id, deleted ? "true" : "false", ver};

	snprintf(ver, sizeof(ver), "%lld", version);
	return cp_store_one_row(
		claw_db_exec(c, &st_set_deleted, 3, params, row), row);
}

enum claw_rc cp_store_tenant_purge(PGconn *c, const char *id)
{
	const char *params[1] = {id};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_purge, 1, params, &r);

	if (!rc && strcmp(PQcmdTuples(r), "1") != 0)
		rc = CLAW_ERR_NOT_FOUND;
	PQclear(r);
	return rc;
}

json_t *cp_tenant_json(const PGresult *res, int r)
{
	const char *deleted = claw_db_value(res, r, CP_TC_DELETED);
	const char *plan = claw_db_value(res, r, CP_TC_PLAN);
	const char *susp = claw_db_value(res, r, CP_TC_SUSPENDED_BY);
	json_t *egress = json_loads(PQgetvalue(res, r, CP_TC_EGRESS), 0, NULL);
	json_t *labels =
		json_loads(PQgetvalue(res, r, CP_TC_NODE_LABELS), 0, NULL);
	json_t *bases = json_loads(PQgetvalue(res, r, CP_TC_API_BASE), 0, NULL);
	const char *lt = claw_db_value(res, r, CP_TC_LABELS);
	json_t *tl = lt ? json_loads(lt, 0, NULL) : NULL;
	json_int_t version = 0;

	version = strtoll(PQgetvalue(res, r, CP_TC_VERSION), NULL, 10);
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:o, "
			 "s:b, s:o, s:o, s:o, s:o}",
			 "id", PQgetvalue(res, r, CP_TC_ID), "slug",
			 PQgetvalue(res, r, CP_TC_SLUG), "name",
			 PQgetvalue(res, r, CP_TC_NAME), "version", version,
			 "status", deleted ? "deleted" : "active", "created_at",
			 PQgetvalue(res, r, CP_TC_CREATED), "updated_at",
			 PQgetvalue(res, r, CP_TC_UPDATED), "deleted_at",
			 deleted ? json_string(deleted) : json_null(), "plan",
			 plan ? plan : "default", "egress_allow",
			 egress ? egress : json_array(), "self_pause",
			 !strcmp(PQgetvalue(res, r, CP_TC_SELF_PAUSE), "t"),
			 "suspended_by", susp ? json_string(susp) : json_null(),
			 "node_labels", labels ? labels : json_object(),
			 "api_base_allow", bases ? bases : json_array(),
			 "labels", tl ? tl : json_object());
}
