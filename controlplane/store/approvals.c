/*
 * approvals.c - the placed tenants the fleet-wide approvals list asks
 * (see approvals.h).
 */
#include "store/approvals.h"

#include <stdio.h>

#include "claw/db.h"

static struct claw_db_stmt st_placed =
	CLAW_DB_STMT("approvals_placed",
		     "SELECT t.id, t.slug, p.node_id, n.name FROM placements p "
		     "JOIN tenants t ON t.id = p.tenant_id "
		     "JOIN nodes n ON n.id = p.node_id "
		     "WHERE p.state = 'running' AND t.deleted_at IS NULL "
		     "ORDER BY t.slug LIMIT $1::int + 1");

enum claw_rc cp_store_approvals_placed(PGconn *c, int limit, PGresult **rows)
{
	char lim[16];
	const char *p[1] = {lim};

	snprintf(lim, sizeof(lim), "%d", limit);
	return claw_db_exec(c, &st_placed, 1, p, rows);
}
