/*
 * purge.c - queries on the purge tombstones; see purge.h. The nodes that
 * ever held a tenant are found from what the schema keeps of it: the
 * placement (node and moved_from), the secret releases (a node given its
 * secrets) and the fleet events naming both (the history, since
 * placements move and releases are forgotten when an agent starts anew).
 * A tombstone's generation is drawn before its node's bump, so the
 * node's next generation is past it, and an acknowledgement of that
 * generation covers it.
 */
#include <stdio.h>

#include "claw/db.h"
#include "store/common.h"
#include "store/purge.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static struct claw_db_stmt st_prune = CLAW_DB_STMT(
	"cp_purge_prune",
	"DELETE FROM purge_tombstones WHERE purged_at < now() - interval '" STR(
		CP_PURGE_KEEP_DAYS) " days'");
static struct claw_db_stmt st_mark = CLAW_DB_STMT(
	"cp_purge_mark",
	"WITH held AS ("
	"SELECT node_id FROM placements WHERE tenant_id = $1 "
	"UNION SELECT moved_from FROM placements WHERE tenant_id = $1 "
	"UNION SELECT node_id FROM secret_releases WHERE tenant_id = $1 "
	"UNION SELECT node_id FROM fleet_events WHERE tenant_id = $1), "
	"ins AS (INSERT INTO purge_tombstones (tenant_id, slug, node_id) "
	"SELECT $1, $2, n.id FROM nodes n JOIN held h ON h.node_id = n.id "
	"WHERE n.deleted_at IS NULL "
	"ON CONFLICT (tenant_id, node_id) DO NOTHING RETURNING node_id) "
	"UPDATE nodes SET generation = nextval('fleet_generation_seq') "
	"WHERE id IN (SELECT node_id FROM ins)");
static struct claw_db_stmt st_list =
	CLAW_DB_STMT("cp_purge_list",
		     "SELECT DISTINCT slug FROM purge_tombstones "
		     "WHERE node_id = $1 ORDER BY slug");
static struct claw_db_stmt st_done =
	CLAW_DB_STMT("cp_purge_done",
		     "DELETE FROM purge_tombstones WHERE node_id = $1 "
		     "AND generation <= $3::bigint AND slug IN "
		     "(SELECT json_array_elements_text($2::json))");

enum claw_rc cp_store_purge_prune(PGconn *c)
{
	return claw_db_exec(c, &st_prune, 0, NULL, NULL);
}

enum claw_rc cp_store_purge_list(PGconn *c, const char *node_id,
				 PGresult **rows)
{
	return cp_store_exec1(c, &st_list, node_id, rows);
}

enum claw_rc cp_store_purge_mark(PGconn *c, const char *tenant_id,
				 const char *slug)
{
	const char *p[2] = {tenant_id, slug};
	return claw_db_exec(c, &st_mark, 2, p, NULL);
}

enum claw_rc cp_store_purge_done(PGconn *c, const char *node_id,
				 const char *slugs_json, long long generation)
{
	char gen[24];
	const char *p[3] = {node_id, slugs_json, gen};

	snprintf(gen, sizeof(gen), "%lld", generation);
	return claw_db_exec(c, &st_done, 3, p, NULL);
}
