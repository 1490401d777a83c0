/*
 * approvals.c - the placed tenants the fleet-wide approvals list asks, and
 * the keys of the approvals' audit rows (see approvals.h).
 */
#include "store/approvals.h"

#include <stdio.h>

#include "claw/db.h"
#include "store/common.h"

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

static struct claw_db_stmt st_take = CLAW_DB_STMT(
	"approval_audit_take",
	"INSERT INTO approval_audit (tenant_id, approval_id, event, node_id) "
	"VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1");

enum claw_rc cp_store_approval_audit_take(PGconn *c, const char *tenant_id,
					  const char *approval_id,
					  const char *event,
					  const char *node_id, bool *fresh)
{
	const char *p[4] = {tenant_id, approval_id, event, node_id};
	int any = 0;
	enum claw_rc rc = cp_store_exec_any(c, &st_take, 4, p, &any);

	*fresh = !rc && any != 0;
	return rc;
}
