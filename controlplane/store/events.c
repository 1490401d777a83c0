/*
 * events.c - queries on fleet_events; see events.h.
 */
#include "store/events.h"

#include <stdio.h>

#include "claw/db.h"
#include "store/ts.h"
#include "store/common.h"

#define BATCH "200"

static struct claw_db_stmt st_add =
	CLAW_DB_STMT("cp_event_add",
		     "INSERT INTO fleet_events (type, tenant_id, node_id, "
		     "data) VALUES ($1, $2, $3, coalesce($4::jsonb, '{}'))");
static struct claw_db_stmt st_since = CLAW_DB_STMT(
	"cp_events_since",
	"SELECT e.id, e.type, e.tenant_id, t.slug, e.node_id, n.name, " CP_TS(
		"e.time") ", e.data::text FROM fleet_events e "
			  "LEFT JOIN tenants t ON t.id = e.tenant_id "
			  "LEFT JOIN nodes n ON n.id = e.node_id WHERE e.id > "
			  "$1 "
			  "AND ($2::text IS NULL OR e.tenant_id = $2) "
			  "AND ($3::boolean OR e.tenant_id IS NOT NULL) "
			  "ORDER BY e.id LIMIT " BATCH);
static struct claw_db_stmt st_last = CLAW_DB_STMT(
	"cp_events_last", "SELECT coalesce(max(id), 0) FROM fleet_events");

enum claw_rc cp_store_event_insert(PGconn *c, const char *type,
				   const char *tenant_id, const char *node_id,
				   const char *data)
{
	const char *p[4] = {type, tenant_id, node_id, data};

	return claw_db_exec(c, &st_add, 4, p, NULL);
}

enum claw_rc cp_store_events_since(PGconn *c, long long after,
				   const char *tenant_id, bool with_nodes,
				   PGresult **rows)
{
	char last[24];
	const char *p[3] = {last, tenant_id, with_nodes ? "true" : "false"};

	snprintf(last, sizeof(last), "%lld", after);
	return claw_db_exec(c, &st_since, 3, p, rows);
}

enum claw_rc cp_store_events_last(PGconn *c, long long *id)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_last, 0, NULL, &r);

	if (!rc)
		rc = cp_store_ll(r, 0, 0, id);
	PQclear(r);
	return rc;
}
