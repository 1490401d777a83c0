/*
 * store/templates.c - the queries of resource templates; see
 * store/templates.h.
 */
#include "store/templates.h"

#include <stdio.h>
#include <stdlib.h>

#include "claw/db.h"
#include "claw/json.h"
#include "store/common.h"

static struct claw_db_stmt st_create = CLAW_DB_STMT(
	"cp_tpl_create",
	"INSERT INTO resource_templates (name, body) VALUES ($1, $2::jsonb)");
static struct claw_db_stmt st_update = CLAW_DB_STMT(
	"cp_tpl_update",
	"UPDATE resource_templates SET body = $2::jsonb, version = version + "
	"1, updated_at = now() WHERE name = $1 RETURNING version");
static struct claw_db_stmt st_delete = CLAW_DB_STMT(
	"cp_tpl_delete", "DELETE FROM resource_templates WHERE name = $1");
static struct claw_db_stmt st_get = CLAW_DB_STMT(
	"cp_tpl_get",
	"SELECT body, version FROM resource_templates WHERE name = $1");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_tpl_list",
	"SELECT name, version, created_at, updated_at, body FROM "
	"resource_templates WHERE name > $1 ORDER BY name LIMIT $2::int");

enum claw_rc cp_store_template_create(PGconn *c, const char *name,
				      const json_t *body)
{
	char *text = claw_json_dumps(body);
	const char *p[2] = {name, text};
	enum claw_rc rc;

	if (!text)
		return CLAW_ERR_NOMEM;
	rc = claw_db_exec(c, &st_create, 2, p, NULL);
	free(text);
	return rc;
}

enum claw_rc cp_store_template_update(PGconn *c, const char *name,
				      const json_t *body, long long *version)
{
	char *text = claw_json_dumps(body);
	const char *p[2] = {name, text};
	PGresult *r = NULL;
	enum claw_rc rc;

	if (!text)
		return CLAW_ERR_NOMEM;
	rc = cp_store_one_row(claw_db_exec(c, &st_update, 2, p, &r), &r);
	if (!rc)
		rc = cp_store_ll(r, 0, 0, version);
	PQclear(r);
	free(text);
	return rc;
}

enum claw_rc cp_store_template_delete(PGconn *c, const char *name)
{
	bool changed = false;
	const char *p[1] = {name};
	enum claw_rc rc = cp_store_exec_changed(c, &st_delete, 1, p, &changed);

	return rc ? rc : changed ? CLAW_OK : CLAW_ERR_NOT_FOUND;
}

enum claw_rc cp_store_template_get(PGconn *c, const char *name, json_t **body,
				   long long *version)
{
	PGresult *r = NULL;
	enum claw_rc rc =
		cp_store_one_row(cp_store_exec1(c, &st_get, name, &r), &r);

	*body = NULL;
	if (!rc)
		rc = cp_store_ll(r, 0, 1, version);
	if (!rc && !(*body = json_loads(PQgetvalue(r, 0, 0), 0, NULL)))
		rc = CLAW_ERR_INTERNAL;
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_template_list(PGconn *c, const char *after, int limit,
				    PGresult **rows)
{
	char l[16];
	const char *p[2] = {after ? after : "", l};

	snprintf(l, sizeof(l), "%d", limit);
	return claw_db_exec(c, &st_list, 2, p, rows);
}
