/*
 * nodes.c - queries on nodes and join tokens. Join tokens and node
 * credentials are stored as BLAKE2b hashes only (the credential is an
 * api_tokens row of role node).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/nodes.h"
#include "store/store.h"
#include "store/ts.h"

/* Columns of every node result (enum cp_node_col); the load is what the
 * node's placements that are not stopped ask for. */
#define NODE_COLS                                                              \
	"n.id, n.name, n.labels::text, n.cpus_milli, n.memory_mb, n.version, " \
	"n.status, n.cordoned, n.draining, n.generation, " CP_TS(              \
		"n.last_heartbeat") ", " CP_TS("n.created_at") ", "            \
							       "coalesce(u."   \
							       "cpus, 0), "    \
							       "coalesce(u."   \
							       "mem, 0), "     \
							       "coalesce(u.n," \
							       " 0)"
#define NODE_FROM                                                              \
	"nodes n LEFT JOIN (SELECT node_id, sum(plan_cpus_milli) AS cpus, "    \
	"sum(plan_memory_mb) AS mem, count(*) AS n FROM placements "           \
	"WHERE state <> 'stopped' GROUP BY node_id) u ON u.node_id = n.id"

static struct claw_db_stmt st_jt_insert = CLAW_DB_STMT(
	"cp_join_token_insert",
	"INSERT INTO join_tokens (id, token_hash, created_by, expires_at) "
	"VALUES ($1, $2, $3, now() + make_interval(secs => $4::bigint)) "
	"RETURNING id, " CP_TS("expires_at"));
static struct claw_db_stmt st_jt_use = CLAW_DB_STMT(
	"cp_join_token_use",
	"UPDATE join_tokens SET used_at = now(), node_id = $2 "
	"WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() "
	"RETURNING id");
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_node_insert",
	"INSERT INTO nodes (id, name, token_id, labels, cpus_milli, "
	"memory_mb, version) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)");
static struct claw_db_stmt st_get =
	CLAW_DB_STMT("cp_node_get",
		     "SELECT " NODE_COLS " FROM " NODE_FROM
		     " WHERE (n.id = $1 OR n.name = $1) "
		     "AND n.deleted_at IS NULL");
static struct claw_db_stmt st_list =
	CLAW_DB_STMT("cp_node_list",
		     "SELECT " NODE_COLS " FROM " NODE_FROM
		     " WHERE n.deleted_at IS NULL ORDER BY n.seq");
/* The token's row as cp_store_token_auth reads it, and the live node it
 * is bound to (NULLs when none): one round trip for every agent call. */
static struct claw_db_stmt st_auth = CLAW_DB_STMT(
	"cp_node_auth",
	"SELECT " CP_TOKEN_AUTH_COLS ", n.id, n.name FROM " CP_TOKEN_AUTH_FROM
	" LEFT JOIN LATERAL (SELECT id, name FROM nodes WHERE token_id = k.id "
	"AND status <> 'revoked' AND deleted_at IS NULL LIMIT 1) n ON true "
	"WHERE " CP_TOKEN_AUTH_WHERE);
static struct claw_db_stmt st_op = CLAW_DB_STMT(
	"cp_node_op",
	"UPDATE nodes SET updated_at = now(), "
	"cordoned = CASE $2 WHEN 'cordon' THEN true WHEN 'drain' THEN true "
	"  WHEN 'uncordon' THEN false ELSE cordoned END, "
	"draining = CASE $2 WHEN 'drain' THEN true WHEN 'uncordon' THEN false "
	"  ELSE draining END, "
	"status = CASE WHEN $2 IN ('revoke', 'delete') THEN 'revoked' "
	"  ELSE status END, "
	"deleted_at = CASE $2 WHEN 'delete' THEN now() ELSE deleted_at END, "
	"generation = nextval('fleet_generation_seq') "
	"WHERE id = $1 AND deleted_at IS NULL AND "
	"($2 IN ('delete') OR status <> 'revoked') RETURNING token_id");
static struct claw_db_stmt st_revoke_token =
	CLAW_DB_STMT("cp_node_revoke_token",
		     "UPDATE api_tokens SET revoked_at = now() "
		     "WHERE id = $1 AND revoked_at IS NULL");
static struct claw_db_stmt st_heartbeat = CLAW_DB_STMT(
	"cp_node_heartbeat",
	"UPDATE nodes n SET last_heartbeat = now(), status = 'ready', "
	"cpus_milli = CASE WHEN $2::bigint > 0 THEN $2::bigint "
	"  ELSE n.cpus_milli END, "
	"memory_mb = CASE WHEN $3::bigint > 0 THEN $3::bigint "
	"  ELSE n.memory_mb END, "
	"version = coalesce($4, n.version) "
	"FROM (SELECT status FROM nodes WHERE id = $1 FOR UPDATE) o "
	"WHERE n.id = $1 AND n.status <> 'revoked' RETURNING o.status, "
	"greatest(n.generation, (SELECT coalesce(max(gen), 0) "
	"FROM edge_changes))");
/* For a node that runs an edge ($2), the larger of its own generation and
 * the newest edge change (migrations/0008_edge.sql; both come from one
 * sequence); for any other, its own. */
static struct claw_db_stmt st_gen =
	CLAW_DB_STMT("cp_node_generation",
		     "SELECT CASE WHEN $2::boolean THEN greatest(generation, "
		     "(SELECT coalesce(max(gen), 0) FROM edge_changes)) "
		     "ELSE generation END FROM nodes WHERE id = $1");
static struct claw_db_stmt st_bump =
	CLAW_DB_STMT("cp_node_bump",
		     "UPDATE nodes SET generation = "
		     "nextval('fleet_generation_seq') WHERE id = $1");

static enum claw_rc one_row(enum claw_rc rc, PGresult **row)
{
	if (!rc && PQntuples(*row) == 0) {
		PQclear(*row);
		*row = NULL;
		return CLAW_ERR_NOT_FOUND;
	}
	return rc;
}

enum claw_rc cp_store_join_token_insert(PGconn *c, const char *id,
					const char *hash,
					const char *created_by, long ttl_s,
					PGresult **row)
{
	char ttl[24];
	const char *p[4] = {id, hash, created_by, ttl};

	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	return claw_db_exec(c, &st_jt_insert, 4, p, row);
}

enum claw_rc cp_store_join_token_use(PGconn *c, const char *hash,
				     const char *node_id)
{
	const char *p[2] = {hash, node_id};
	PGresult *r = NULL;
	enum claw_rc rc = one_row(claw_db_exec(c, &st_jt_use, 2, p, &r), &r);

	PQclear(r);
	return rc;
}

enum claw_rc cp_store_node_insert(PGconn *c, const struct cp_node_new *n)
{
	char cpus[24], mem[24];
	const char *p[7] = {n->id, n->name, n->token_id, n->labels,
			    cpus,  mem,     n->version};

	snprintf(cpus, sizeof(cpus), "%lld", n->cpus_milli);
	snprintf(mem, sizeof(mem), "%lld", n->memory_mb);
	return claw_db_exec(c, &st_insert, 7, p, NULL);
}

enum claw_rc cp_store_node_get(PGconn *c, const char *id_or_name,
			       PGresult **row)
{
	const char *p[1] = {id_or_name};

	return one_row(claw_db_exec(c, &st_get, 1, p, row), row);
}

enum claw_rc cp_store_node_list(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_list, 0, NULL, rows);
}

enum claw_rc cp_store_node_auth(PGconn *c, const char *hash,
				struct cp_auth *auth, char stored_hash[65],
				char id[CP_ID_MAX], char name[64])
{
	const char *p[1] = {hash};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_auth, 1, p, &r);

	if (!rc)
		rc = cp_store_token_row(r, 0, auth, stored_hash);
	id[0] = name[0] = '\0';
	if (!rc && !PQgetisnull(r, 0, 4)) {
		snprintf(id, CP_ID_MAX, "%s", PQgetvalue(r, 0, 4));
		snprintf(name, 64, "%s", PQgetvalue(r, 0, 5));
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_node_op(PGconn *c, const char *id, enum cp_node_op op)
{
	static const char *const names[] = {"cordon", "uncordon", "drain",
					    "revoke", "delete"};
	const char *p[2] = {id, names[op]};
	PGresult *r = NULL;
	enum claw_rc rc = one_row(claw_db_exec(c, &st_op, 2, p, &r), &r);

	if (!rc && (op == CP_NODE_REVOKE || op == CP_NODE_DELETE)) {
		const char *t[1] = {PQgetvalue(r, 0, 0)};

		rc = claw_db_exec(c, &st_revoke_token, 1, t, NULL);
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_node_heartbeat(PGconn *c, const char *id,
				     long long cpus_milli, long long memory_mb,
				     const char *version, bool *came_back,
				     long long *gen)
{
	char cpus[24], mem[24];
	const char *p[4] = {id, cpus, mem, version};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(cpus, sizeof(cpus), "%lld", cpus_milli);
	snprintf(mem, sizeof(mem), "%lld", memory_mb);
	rc = one_row(claw_db_exec(c, &st_heartbeat, 4, p, &r), &r);
	if (!rc) {
		*came_back = strcmp(PQgetvalue(r, 0, 0), "down") == 0;
		if (gen)
			*gen = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_node_generation(PGconn *c, const char *id, bool edge,
				      long long *gen)
{
	const char *p[2] = {id, edge ? "true" : "false"};
	PGresult *r = NULL;
	enum claw_rc rc = one_row(claw_db_exec(c, &st_gen, 2, p, &r), &r);

	if (!rc)
		*gen = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_node_bump(PGconn *c, const char *id)
{
	const char *p[1] = {id};

	if (!id || !id[0])
		return CLAW_OK;
	return claw_db_exec(c, &st_bump, 1, p, NULL);
}

static json_t *col_json(const PGresult *res, int r, int col)
{
	const char *v = claw_db_value(res, r, col);

	return v ? json_string(v) : json_null();
}

static json_t *col_int(const PGresult *res, int r, int col)
{
	return json_integer(strtoll(PQgetvalue(res, r, col), NULL, 10));
}

json_t *cp_node_json(const PGresult *res, int r)
{
	json_t *labels = json_loads(PQgetvalue(res, r, CP_NC_LABELS), 0, NULL);

	return json_pack(
		"{s:o, s:o, s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:o, s:o, "
		"s:b, s:b, s:o, s:o, s:o}",
		"id", col_json(res, r, CP_NC_ID), "name",
		col_json(res, r, CP_NC_NAME), "labels",
		labels ? labels : json_object(), "capacity", "cpus_milli",
		col_int(res, r, CP_NC_CPUS), "memory_mb",
		col_int(res, r, CP_NC_MEM), "allocated", "cpus_milli",
		col_int(res, r, CP_NC_USED_CPUS), "memory_mb",
		col_int(res, r, CP_NC_USED_MEM), "tenants",
		col_int(res, r, CP_NC_TENANTS), "version",
		col_json(res, r, CP_NC_VERSION), "status",
		col_json(res, r, CP_NC_STATUS), "cordoned",
		PQgetvalue(res, r, CP_NC_CORDONED)[0] == 't', "draining",
		PQgetvalue(res, r, CP_NC_DRAINING)[0] == 't', "generation",
		col_int(res, r, CP_NC_GEN), "last_heartbeat",
		col_json(res, r, CP_NC_HEARTBEAT), "created_at",
		col_json(res, r, CP_NC_CREATED));
}
