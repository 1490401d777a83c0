/*
 * edge.c - queries of the edge; see edge.h and migrations/0008_edge.sql.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/common.h"
#include "store/edge.h"
#include "store/ts.h"

/* The insert sees the tenant's count and the owner as they were before
 * it: a claim of a domain the tenant has is no change. */
static struct claw_db_stmt st_add = CLAW_DB_STMT(
	"cp_domain_add",
	"WITH ins AS (INSERT INTO tenant_domains (domain, tenant_id, "
	"created_by) SELECT $1, $2, $3 WHERE (SELECT count(*) FROM "
	"tenant_domains WHERE tenant_id = $2) < $4::int "
	"ON CONFLICT (domain) DO NOTHING RETURNING tenant_id) "
	"SELECT (SELECT count(*) FROM ins), "
	"coalesce((SELECT tenant_id FROM tenant_domains WHERE domain = $1), "
	"'')");
static struct claw_db_stmt st_remove =
	CLAW_DB_STMT("cp_domain_remove",
		     "DELETE FROM tenant_domains WHERE tenant_id = $1 "
		     "AND domain = $2 RETURNING domain");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_domain_list",
	"SELECT domain, " CP_TS("created_at") " FROM tenant_domains "
					      "WHERE tenant_id = $1 "
					      "ORDER BY domain");
static struct claw_db_stmt st_names = CLAW_DB_STMT(
	"cp_domain_names",
	"SELECT coalesce(json_agg(domain ORDER BY domain), '[]')::text "
	"FROM tenant_domains WHERE tenant_id = $1");
static struct claw_db_stmt st_ask = CLAW_DB_STMT(
	"cp_edge_ask",
	"SELECT EXISTS (SELECT 1 FROM tenant_domains d JOIN tenants t "
	"ON t.id = d.tenant_id WHERE d.domain = $1 AND t.deleted_at IS NULL) "
	"OR EXISTS (SELECT 1 FROM tenants WHERE slug = $2 "
	"AND deleted_at IS NULL)");
static struct claw_db_stmt st_own = CLAW_DB_STMT(
	"cp_edge_own_domains",
	"SELECT d.tenant_id, json_agg(d.domain ORDER BY d.domain)::text "
	"FROM tenant_domains d JOIN placements p ON p.tenant_id = d.tenant_id "
	"WHERE p.node_id = $1 GROUP BY d.tenant_id");
static struct claw_db_stmt st_routes = CLAW_DB_STMT(
	"cp_edge_routes",
	"SELECT t.slug, n.name, n.edge_address, "
	"coalesce((SELECT json_agg(d.domain ORDER BY d.domain) "
	"FROM tenant_domains d WHERE d.tenant_id = t.id), '[]')::text "
	"FROM placements p JOIN tenants t ON t.id = p.tenant_id "
	"JOIN nodes n ON n.id = p.node_id "
	"WHERE p.node_id <> $1 AND p.state <> 'stopped' "
	"AND t.deleted_at IS NULL AND n.deleted_at IS NULL "
	"AND n.status = 'ready' AND n.edge_address IS NOT NULL "
	"ORDER BY t.slug");
static struct claw_db_stmt st_edge_set =
	CLAW_DB_STMT("cp_node_edge_set",
		     "UPDATE nodes SET edge_address = $2 WHERE id = $1 "
		     "AND edge_address IS DISTINCT FROM $2");
static struct claw_db_stmt st_certs = CLAW_DB_STMT(
	"cp_edge_certs",
	"WITH rep AS (SELECT c->>'host' AS host, (c->>'not_before')::"
	"timestamptz AS nb, (c->>'not_after')::timestamptz AS na FROM "
	"jsonb_array_elements($2::jsonb) c WHERE c ? 'not_after'), "
	"prev AS (SELECT host, expiring FROM edge_certs WHERE node_id = $1), "
	"up AS (INSERT INTO edge_certs (node_id, host, not_before, not_after, "
	"expiring) SELECT $1, host, nb, na, na - now() < make_interval(days "
	"=> $3::integer) AND na - now() < (na - nb) / 3 FROM rep ON CONFLICT "
	"(node_id, host) DO UPDATE SET not_before = EXCLUDED.not_before, "
	"not_after = EXCLUDED.not_after, expiring = EXCLUDED.expiring "
	"RETURNING host, not_after, expiring), "
	"gone AS (DELETE FROM edge_certs e WHERE e.node_id = $1 AND NOT "
	"EXISTS (SELECT 1 FROM jsonb_array_elements($2::jsonb) c WHERE "
	"c->>'host' = e.host) RETURNING host, expiring) "
	"SELECT u.host, to_char(u.not_after AT TIME ZONE 'UTC', "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), u.expiring FROM up u LEFT JOIN "
	"prev p USING (host) WHERE u.expiring <> coalesce(p.expiring, false) "
	"UNION ALL SELECT host, NULL, false FROM gone WHERE expiring");
static struct claw_db_stmt st_prune =
	CLAW_DB_STMT("cp_edge_prune",
		     "DELETE FROM edge_changes WHERE gen < "
		     "(SELECT max(gen) FROM edge_changes)");

enum claw_rc cp_store_domain_add(PGconn *c, const char *tenant_id,
				 const char *domain, const char *created_by,
				 int max, enum cp_domain_claim *out)
{
	char m[16];
	const char *p[4] = {domain, tenant_id, created_by, m};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(m, sizeof(m), "%d", max);
	rc = claw_db_exec(c, &st_add, 4, p, &r);
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return CLAW_ERR_INTERNAL;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "0"))
		*out = CP_CLAIM_NEW;
	else if (!strcmp(PQgetvalue(r, 0, 1), tenant_id))
		*out = CP_CLAIM_HAD;
	else if (PQgetvalue(r, 0, 1)[0])
		*out = CP_CLAIM_TAKEN;
	else
		*out = CP_CLAIM_LIMIT;
	PQclear(r);
	return CLAW_OK;
}

enum claw_rc cp_store_domain_remove(PGconn *c, const char *tenant_id,
				    const char *domain)
{
	const char *p[2] = {tenant_id, domain};
	int any = 0;
	enum claw_rc rc = cp_store_exec_any(c, &st_remove, 2, p, &any);

	return !rc && !any ? CLAW_ERR_NOT_FOUND : rc;
}

enum claw_rc cp_store_domain_list(PGconn *c, const char *tenant_id,
				  PGresult **rows)
{
	return cp_store_exec1(c, &st_list, tenant_id, rows);
}

enum claw_rc cp_store_domain_names(PGconn *c, const char *tenant_id,
				   char **json_text)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_exec1(c, &st_names, tenant_id, &r);

	*json_text = NULL;
	if (!rc && PQntuples(r) == 1) {
		*json_text = strdup(PQgetvalue(r, 0, 0));
		if (!*json_text)
			rc = CLAW_ERR_NOMEM;
	} else if (!rc) {
		rc = CLAW_ERR_INTERNAL;
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_edge_ask(PGconn *c, const char *name, const char *slug,
			       bool *known)
{
	const char *p[2] = {name, slug};

	return cp_store_exec_bool(c, &st_ask, 2, p, known);
}

enum claw_rc cp_store_edge_own_domains(PGconn *c, const char *node_id,
				       PGresult **rows)
{
	return cp_store_exec1(c, &st_own, node_id, rows);
}

enum claw_rc cp_store_edge_routes(PGconn *c, const char *node_id,
				  PGresult **rows)
{
	return cp_store_exec1(c, &st_routes, node_id, rows);
}

enum claw_rc cp_store_node_edge_set(PGconn *c, const char *node_id,
				    const char *address, bool *changed)
{
	const char *p[2] = {node_id, address};

	return cp_store_exec_changed(c, &st_edge_set, 2, p, changed);
}

enum claw_rc cp_store_edge_prune(PGconn *c)
{
	return claw_db_exec(c, &st_prune, 0, NULL, NULL);
}

enum claw_rc cp_store_edge_certs(PGconn *c, const char *node_id,
				 const char *certs_json, int warn_days,
				 PGresult **changed)
{
	char d[16];
	const char *p[3] = {node_id, certs_json, d};

	snprintf(d, sizeof(d), "%d", warn_days);
	return claw_db_exec(c, &st_certs, 3, p, changed);
}
