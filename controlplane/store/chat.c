/*
 * chat.c - the chat relay's query; see chat.h. The placement, its node
 * and its deployment are joined in one statement, so the relay sees one
 * consistent picture of where the tenant runs and what it runs.
 */
#include "claw/db.h"
#include "store/chat.h"
#include "store/common.h"

static struct claw_db_stmt st_target = CLAW_DB_STMT(
	"cp_chat_target",
	"SELECT p.state, coalesce(p.node_id, ''), coalesce(n.status, ''), "
	"coalesce(n.edge_address, ''), "
	"coalesce((d.spec -> 'gateway_config' -> 'channels' -> 'openai')"
	"::text, '') "
	"FROM placements p "
	"LEFT JOIN nodes n ON n.id = p.node_id AND n.deleted_at IS NULL "
	"LEFT JOIN deployments d ON d.id = p.deployment_id "
	"WHERE p.tenant_id = $1");

enum claw_rc cp_store_chat_target(PGconn *c, const char *tenant_id,
				  PGresult **row)
{
	return cp_store_one_row(cp_store_exec1(c, &st_target, tenant_id, row),
				row);
}
