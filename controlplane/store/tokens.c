/*
 * tokens.c - queries on api_tokens. Only hashes are stored; the lookup
 * used by every request goes through the unique index on token_hash.
 */
#include <stdio.h>
#include <string.h>

#include "claw/db.h"
#include "store/store.h"
#include "store/ts.h"

#define BOOTSTRAP_LOCK_KEY "7238497002" /* the first admin token */

#define TOKEN_COLS                                                             \
	"id, role, tenant_id, name, created_by, " CP_TS(                       \
		"created_at") ", " CP_TS("expires_at") ", " CP_TS("revoked_"   \
								  "at")

static struct claw_db_stmt st_auth =
	CLAW_DB_STMT("cp_token_auth",
		     "SELECT " CP_TOKEN_AUTH_COLS " FROM " CP_TOKEN_AUTH_FROM
		     " WHERE " CP_TOKEN_AUTH_WHERE);
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_token_insert",
	"INSERT INTO api_tokens (id, token_hash, role, tenant_id, name, "
	"created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, "
	"CASE WHEN $7::bigint > 0 THEN now() + make_interval(secs => $7) "
	"END) RETURNING " TOKEN_COLS);
static struct claw_db_stmt st_list =
	CLAW_DB_STMT("cp_token_list",
		     "SELECT " TOKEN_COLS " FROM api_tokens "
		     "WHERE id > $1 AND ($2::text IS NULL OR role = $2) "
		     "AND ($3::text IS NULL OR tenant_id = $3) "
		     "ORDER BY id LIMIT $4::int");
static struct claw_db_stmt st_revoke = CLAW_DB_STMT(
	"cp_token_revoke",
	"UPDATE api_tokens SET revoked_at = now() "
	"WHERE id = $1 AND revoked_at IS NULL RETURNING " TOKEN_COLS);
static struct claw_db_stmt st_admin =
	CLAW_DB_STMT("cp_token_admin_exists",
		     "SELECT 1 FROM api_tokens WHERE role = 'admin' LIMIT 1");

enum claw_rc cp_store_token_row(const PGresult *r, int col, struct cp_auth *out,
				char stored_hash[65])
{
	int role;

	if (PQntuples(r) != 1)
		return CLAW_ERR_NOT_FOUND;
	role = cp_role_parse(PQgetvalue(r, 0, col + 1));
	if (role < 0)
		return CLAW_ERR_INTERNAL;
	snprintf(out->token_id, sizeof(out->token_id), "%s",
		 PQgetvalue(r, 0, col));
	out->role = (enum cp_role)role;
	snprintf(out->tenant_id, sizeof(out->tenant_id), "%s",
		 PQgetvalue(r, 0, col + 2));
	snprintf(stored_hash, 65, "%s", PQgetvalue(r, 0, col + 3));
	return CLAW_OK;
}

enum claw_rc cp_store_token_auth(PGconn *c, const char *hash,
				 struct cp_auth *out, char stored_hash[65])
{
	const char *params[1] = {hash};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_auth, 1, params, &r);

	if (!rc)
		rc = cp_store_token_row(r, 0, out, stored_hash);
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_token_insert(PGconn *c, const struct cp_token_new *t,
				   PGresult **row)
{
	char exp[24];
	const char *params[7] = {t->id,   t->hash,       t->role, t->tenant_id,
				 t->name, t->created_by, exp};

	snprintf(exp, sizeof(exp), "%lld", t->expires_in_s);
	return claw_db_exec(c, &st_insert, 7, params, row);
}

enum claw_rc cp_store_token_list(PGconn *c, const char *role,
				 const char *tenant_id, const char *after_id,
				 int limit, PGresult **rows)
{
	char lim[16];
	const char *params[4] = {after_id, role, tenant_id, lim};

	snprintf(lim, sizeof(lim), "%d", limit);
	return claw_db_exec(c, &st_list, 4, params, rows);
}

enum claw_rc cp_store_token_revoke(PGconn *c, const char *id, PGresult **row)
{
	const char *params[1] = {id};
	enum claw_rc rc = claw_db_exec(c, &st_revoke, 1, params, row);

	if (!rc && PQntuples(*row) == 0) {
		PQclear(*row);
		*row = NULL;
		return CLAW_ERR_NOT_FOUND;
	}
	return rc;
}

enum claw_rc cp_store_token_admin_exists(PGconn *c, bool *exists)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_admin, 0, NULL, &r);

	if (!rc)
		*exists = PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_token_bootstrap_lock(PGconn *c)
{
	return claw_db_exec_sql(
		c, "SELECT pg_advisory_xact_lock(" BOOTSTRAP_LOCK_KEY ")",
		NULL);
}

static json_t *text_or_null(const PGresult *res, int r, int col)
{
	const char *v = claw_db_value(res, r, col);

	return v ? json_string(v) : json_null();
}

json_t *cp_token_json(const PGresult *res, int r)
{
	return json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
		text_or_null(res, r, 0), "role", text_or_null(res, r, 1),
		"tenant_id", text_or_null(res, r, 2), "name",
		text_or_null(res, r, 3), "created_by", text_or_null(res, r, 4),
		"created_at", text_or_null(res, r, 5), "expires_at",
		text_or_null(res, r, 6), "revoked_at", text_or_null(res, r, 7));
}
