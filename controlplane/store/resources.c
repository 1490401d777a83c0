/*
 * store/resources.c - the queries of a tenant's resources; see
 * store/resources.h. Bodies travel as JSON text bound to jsonb parameters.
 */
#include "store/resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "claw/json.h"
#include "store/common.h"

/* The name of the one-per-tenant kinds (CP_RES_SINGLE of resources.h, whose
 * name this file's own header shadows). */
#define SINGLE "default"

static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_res_lock", "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE");

/* The next version is taken under cp_store_res_lock; a deletion is
 * written only over a live version. */
static struct claw_db_stmt st_put = CLAW_DB_STMT(
	"cp_res_put",
	"WITH cur AS (SELECT version, body FROM tenant_resources WHERE "
	"tenant_id = $1 AND kind = $2 AND name = $3 ORDER BY version DESC "
	"LIMIT 1) "
	"INSERT INTO tenant_resources (tenant_id, kind, name, version, body, "
	"created_by) SELECT $1, $2, $3, COALESCE((SELECT version FROM cur), "
	"0) + 1, $4::jsonb, $5 WHERE $4 IS NOT NULL OR EXISTS (SELECT 1 FROM "
	"cur WHERE body IS NOT NULL) RETURNING version");

static struct claw_db_stmt st_get = CLAW_DB_STMT(
	"cp_res_get",
	"SELECT body, version, created_at FROM tenant_resources WHERE "
	"tenant_id = $1 AND kind = $2 AND name = $3 AND ($4::bigint = 0 OR "
	"version = $4::bigint) ORDER BY version DESC LIMIT 1");

static struct claw_db_stmt st_versions = CLAW_DB_STMT(
	"cp_res_versions",
	"SELECT version, created_at, COALESCE(created_by, ''), body IS NULL, "
	"COALESCE(length(body::text), 0) FROM tenant_resources WHERE "
	"tenant_id = $1 AND kind = $2 AND name = $3 AND ($4::bigint = 0 OR "
	"version < $4::bigint) ORDER BY version DESC LIMIT $5::int");

static struct claw_db_stmt st_current = CLAW_DB_STMT(
	"cp_res_current",
	"SELECT kind, name, version, body FROM (SELECT DISTINCT ON (kind, "
	"name) kind, name, version, body FROM tenant_resources WHERE "
	"tenant_id = $1 ORDER BY kind, name, version DESC) r WHERE body IS "
	"NOT NULL ORDER BY kind, name");

static struct claw_db_stmt st_missing = CLAW_DB_STMT(
	"cp_res_secrets_missing",
	"SELECT n FROM jsonb_array_elements_text($2::jsonb) n WHERE NOT "
	"EXISTS (SELECT 1 FROM secrets s WHERE s.tenant_id = $1 AND s.name = "
	"n AND s.deleted_at IS NULL) ORDER BY n");

static struct claw_db_stmt st_placed = CLAW_DB_STMT(
	"cp_res_placed",
	"SELECT EXISTS (SELECT 1 FROM placements WHERE tenant_id = $1)");

enum claw_rc cp_store_res_lock(PGconn *c, const char *tenant_id)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_one_row(
		cp_store_exec1(c, &st_lock, tenant_id, &r), &r);

	PQclear(r);
	return rc;
}

enum claw_rc cp_store_res_put(PGconn *c, const char *tenant_id,
			      const char *kind, const char *name,
			      const json_t *body, const char *actor,
			      long long *version)
{
	char *text = body ? claw_json_dumps(body) : NULL;
	const char *p[5] = {tenant_id, kind, name, text,
			    actor && *actor ? actor : NULL};
	PGresult *r = NULL;
	enum claw_rc rc;

	if (body && !text)
		return CLAW_ERR_NOMEM;
	rc = cp_store_one_row(claw_db_exec(c, &st_put, 5, p, &r), &r);
	if (!rc)
		rc = cp_store_ll(r, 0, 0, version);
	PQclear(r);
	free(text);
	return rc;
}

static json_t *body_of(const PGresult *r, int row, int col)
{
	const char *s = claw_db_value(r, row, col);

	return s ? json_loads(s, 0, NULL) : NULL;
}

enum claw_rc cp_store_res_get(PGconn *c, const char *tenant_id,
			      const char *kind, const char *name,
			      long long version, json_t **body,
			      long long *version_out, char created_at[40])
{
	char v[24];
	const char *p[4] = {tenant_id, kind, name, v};
	PGresult *r = NULL;
	enum claw_rc rc;

	*body = NULL;
	snprintf(v, sizeof(v), "%lld", version);
	rc = cp_store_one_row(claw_db_exec(c, &st_get, 4, p, &r), &r);
	if (!rc && !claw_db_value(r, 0, 0))
		rc = CLAW_ERR_NOT_FOUND; /* deleted at that version */
	if (!rc)
		rc = cp_store_ll(r, 0, 1, version_out);
	if (!rc && !(*body = body_of(r, 0, 0)))
		rc = CLAW_ERR_INTERNAL;
	if (!rc && created_at)
		snprintf(created_at, 40, "%s", PQgetvalue(r, 0, 2));
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_res_versions(PGconn *c, const char *tenant_id,
				   const char *kind, const char *name,
				   long long before, int limit, PGresult **rows)
{
	char b[24], l[16];
	const char *p[5] = {tenant_id, kind, name, b, l};

	snprintf(b, sizeof(b), "%lld", before);
	snprintf(l, sizeof(l), "%d", limit);
	return claw_db_exec(c, &st_versions, 5, p, rows);
}

/* {"version": N, "body": body_steal} under key of o (or of o's
 * "channels" for a channel). -1 when out of memory. */
static int set_entry(json_t *o, const char *kind, const char *name,
		     long long version, json_t *body_steal)
{
	json_t *e = json_pack("{s:I, s:o}", "version", (json_int_t)version,
			      "body", body_steal);
	json_t *ch;

	if (!e)
		return -1;
	if (strcmp(kind, "channel"))
		return json_object_set_new(o, kind, e);
	ch = json_object_get(o, "channels");
	if (!ch && json_object_set_new(o, "channels", ch = json_object())) {
		json_decref(e);
		return -1;
	}
	return json_object_set_new(ch, name, e);
}

static enum claw_rc set_current(PGconn *c, const char *tenant_id, json_t *o)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_exec1(c, &st_current, tenant_id, &r);

	for (int i = 0; !rc && i < PQntuples(r); i++) {
		long long v;
		json_t *b;

		rc = cp_store_ll(r, i, 2, &v);
		b = rc ? NULL : body_of(r, i, 3);
		if (!rc &&
		    (!b ||
		     set_entry(o, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), v,
			       b)))
			rc = CLAW_ERR_INTERNAL;
	}
	PQclear(r);
	return rc;
}

/* One named version into o. */
static enum claw_rc set_one(PGconn *c, const char *tenant_id, json_t *o,
			    const char *kind, const char *name, const json_t *n)
{
	json_t *b = NULL;
	long long got;
	enum claw_rc rc;

	if (!json_is_integer(n) || json_integer_value(n) < 1)
		return CLAW_ERR_NOT_FOUND;
	rc = cp_store_res_get(c, tenant_id, kind, name, json_integer_value(n),
			      &b, &got, NULL);
	if (!rc && set_entry(o, kind, name, got, b))
		rc = CLAW_ERR_NOMEM;
	return rc;
}

enum claw_rc cp_store_res_set(PGconn *c, const char *tenant_id,
			      const json_t *versions, json_t **out)
{
	json_t *o = json_object(), *n;
	const char *key;
	enum claw_rc rc = CLAW_OK;

	*out = NULL;
	if (!o)
		return CLAW_ERR_NOMEM;
	if (!versions) {
		rc = set_current(c, tenant_id, o);
	} else {
		json_object_foreach((json_t *)versions, key, n) {
			if (!strcmp(key, "channels"))
				continue;
			if (!rc)
				rc = set_one(c, tenant_id, o, key, SINGLE, n);
		}
		json_object_foreach(json_object_get(versions, "channels"), key,
				    n) {
			if (!rc)
				rc = set_one(c, tenant_id, o, "channel", key,
					     n);
		}
	}
	if (rc)
		json_decref(o);
	else
		*out = o;
	return rc;
}

enum claw_rc cp_store_secrets_missing(PGconn *c, const char *tenant_id,
				      const json_t *names, json_t **missing)
{
	char *text = claw_json_dumps(names);
	const char *p[2] = {tenant_id, text};
	PGresult *r = NULL;
	enum claw_rc rc;

	*missing = NULL;
	if (!text)
		return CLAW_ERR_NOMEM;
	rc = claw_db_exec(c, &st_missing, 2, p, &r);
	free(text);
	if (!rc && !(*missing = json_array()))
		rc = CLAW_ERR_NOMEM;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		if (json_array_append_new(*missing,
					  json_string(PQgetvalue(r, i, 0))))
			rc = CLAW_ERR_NOMEM;
	PQclear(r);
	if (rc) {
		json_decref(*missing);
		*missing = NULL;
	}
	return rc;
}

enum claw_rc cp_store_tenant_placed(PGconn *c, const char *tenant_id,
				    bool *placed)
{
	const char *p[1] = {tenant_id};

	return cp_store_exec_bool(c, &st_placed, 1, p, placed);
}
