/*
 * sched.c - the queries of the scheduler and the sweeps; see sched.h.
 *
 * A node's load is what its placements that are not stopped ask for (the
 * plans of their deployments), kept in node_load by triggers
 * (migrations/0023_node_load.sql), so a pick reads one row per node, not
 * every placement; the one being placed is left out (its own plan taken
 * off the node it counts on), so a tenant that moves is not counted
 * against its new node twice. The homeless sweep reaches placements
 * through the nodes that are not ready and the index of those with no
 * node, not by reading every placement, and the secrets sweep compares
 * the placements of the tenants queued in secret_checks (by triggers on
 * what the fingerprint is made of) only.
 */
#include "store/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "store/deploy.h"
#include "store/common.h"

#define CP_SCHED_LOCK_KEY "7420518834172"  /* placements (xact lock) */
#define CP_LEADER_LOCK_KEY "7420518834173" /* the sweeping replica */
#define SWEEP_BATCH "50"

static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_sched_lock", "SELECT pg_advisory_xact_lock(" CP_SCHED_LOCK_KEY ")");
static struct claw_db_stmt st_pick = CLAW_DB_STMT(
	"cp_sched_pick",
	"WITH me AS MATERIALIZED (SELECT node_id, plan_cpus_milli, "
	"plan_memory_mb FROM placements WHERE tenant_id = $6 "
	"AND state <> 'stopped') "
	"SELECT n.id FROM nodes n LEFT JOIN node_load l ON l.node_id = n.id "
	"LEFT JOIN me ON me.node_id = n.id CROSS JOIN LATERAL (SELECT "
	"coalesce(l.cpus_milli, 0) - coalesce(me.plan_cpus_milli, 0) AS cpus, "
	"coalesce(l.memory_mb, 0) - coalesce(me.plan_memory_mb, 0) AS mem, "
	"coalesce(l.tenants, 0) - (me.node_id IS NOT NULL)::int AS cnt) u "
	"WHERE n.deleted_at IS NULL AND n.status = 'ready' "
	"AND NOT n.cordoned AND NOT n.draining "
	"AND n.last_heartbeat > now() - make_interval(secs => $4::float8) "
	"AND n.labels @> $3::jsonb AND ($5::text IS NULL OR n.id <> $5) "
	"AND n.cpus_milli - u.cpus >= $1::bigint "
	"AND n.memory_mb - u.mem >= $2::bigint "
	"ORDER BY greatest((u.cpus + $1::bigint)::float8 / n.cpus_milli, "
	"(u.mem + $2::bigint)::float8 / n.memory_mb), u.cnt, n.seq LIMIT 1");
static struct claw_db_stmt st_why = CLAW_DB_STMT(
	"cp_sched_why",
	"SELECT count(*) FILTER (WHERE status = 'ready' AND NOT cordoned AND "
	"NOT draining AND last_heartbeat > now() - make_interval(secs => "
	"$1::float8) AND ($3::text IS NULL OR id <> $3)), "
	"count(*) FILTER (WHERE status = 'ready' AND NOT cordoned AND "
	"NOT draining AND last_heartbeat > now() - make_interval(secs => "
	"$1::float8) AND ($3::text IS NULL OR id <> $3) "
	"AND labels @> $2::jsonb) FROM nodes WHERE deleted_at IS NULL");
static struct claw_db_stmt st_place_info = CLAW_DB_STMT(
	"cp_sched_place_info",
	"SELECT coalesce(p.node_id, ''), coalesce(p.reason, ''), "
	"(d.spec->'plan'->>'cpus_milli')::bigint, "
	"(d.spec->'plan'->>'memory_mb')::bigint, "
	"coalesce(d.spec->'node_labels', '{}')::text FROM placements p "
	"JOIN deployments d ON d.id = p.deployment_id WHERE p.tenant_id = $1 "
	"FOR UPDATE OF p");
static struct claw_db_stmt st_nodes_down = CLAW_DB_STMT(
	"cp_sweep_nodes_down",
	"UPDATE nodes SET status = 'down', updated_at = now(), "
	"generation = nextval('fleet_generation_seq') "
	"WHERE status = 'ready' AND deleted_at IS NULL "
	"AND last_heartbeat < now() - make_interval(secs => $1::float8) "
	"RETURNING id, name");
/* Twice the median age of the ready nodes' last heartbeats: the period at
 * which heartbeats really arrive (ages spread evenly over one period), and
 * how many ready nodes there are. */
static struct claw_db_stmt st_beat_period = CLAW_DB_STMT(
	"cp_sweep_beat_period",
	"SELECT coalesce(2 * percentile_cont(0.5) WITHIN GROUP (ORDER BY "
	"extract(epoch FROM now() - last_heartbeat)), 0), count(*) "
	"FROM nodes WHERE status = 'ready' AND deleted_at IS NULL "
	"AND last_heartbeat IS NOT NULL");
static struct claw_db_stmt st_homeless = CLAW_DB_STMT(
	"cp_sweep_homeless",
	"SELECT h.tenant_id, h.node_id, h.status FROM (SELECT p.tenant_id, "
	"'' AS node_id, '' AS status, p.updated_at FROM placements p "
	"WHERE p.node_id IS NULL UNION ALL SELECT p.tenant_id, p.node_id, "
	"n.status, p.updated_at FROM nodes n JOIN placements p "
	"ON p.node_id = n.id WHERE n.status <> 'ready' "
	"OR n.deleted_at IS NOT NULL) h JOIN tenants t ON t.id = h.tenant_id "
	"WHERE t.deleted_at IS NULL ORDER BY h.updated_at LIMIT " SWEEP_BATCH);
static struct claw_db_stmt st_gone = CLAW_DB_STMT(
	"cp_sweep_gone",
	"DELETE FROM placements p USING tenants t WHERE t.id = p.tenant_id "
	"AND t.deleted_at IS NOT NULL RETURNING p.tenant_id, p.node_id");
static struct claw_db_stmt st_draining = CLAW_DB_STMT(
	"cp_sweep_draining",
	"SELECT n.id, (SELECT count(*) FROM placements m "
	"WHERE m.moved_from = n.id AND m.node_id IS NOT NULL "
	"AND m.state = 'running' AND m.phase <> 'healthy'), "
	"(SELECT p.tenant_id FROM placements p WHERE p.node_id = n.id "
	"ORDER BY p.tenant_id LIMIT 1) FROM nodes n WHERE n.draining "
	"AND n.deleted_at IS NULL");
static struct claw_db_stmt st_drained =
	CLAW_DB_STMT("cp_sweep_drained",
		     "UPDATE nodes SET draining = false, "
		     "updated_at = now() WHERE id = $1");
static struct claw_db_stmt st_secrets_changed = CLAW_DB_STMT(
	"cp_sweep_secrets",
	"WITH q AS (DELETE FROM secret_checks RETURNING tenant_id) "
	"SELECT DISTINCT p.node_id FROM placements p JOIN secret_releases r "
	"ON r.node_id = p.node_id AND r.tenant_id = p.tenant_id "
	"WHERE p.tenant_id IN (SELECT tenant_id FROM q) "
	"AND r.fingerprint <> " CP_SECRET_FP_SQL("p.tenant_id",
						 "p.deployment_id"));
static struct claw_db_stmt st_unlead = CLAW_DB_STMT(
	"cp_sweep_unlead", "SELECT pg_advisory_unlock(" CP_LEADER_LOCK_KEY ")");
static struct claw_db_stmt st_leader =
	CLAW_DB_STMT("cp_sweep_leader",
		     "SELECT pg_try_advisory_lock(" CP_LEADER_LOCK_KEY ")");

enum claw_rc cp_store_sched_lock(PGconn *c)
{
	return claw_db_exec(c, &st_lock, 0, NULL, NULL);
}

enum claw_rc cp_store_sched_pick(PGconn *c, long cpus_milli, long memory_mb,
				 const char *selector, double grace_s,
				 const char *exclude_node,
				 const char *exclude_tenant,
				 char node_id[CP_ID_MAX])
{
	char cpus[24], mem[24], grace[32];
	const char *p[6] = {cpus,         mem,
			    selector,     grace,
			    exclude_node, exclude_tenant ? exclude_tenant : ""};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(cpus, sizeof(cpus), "%ld", cpus_milli);
	snprintf(mem, sizeof(mem), "%ld", memory_mb);
	snprintf(grace, sizeof(grace), "%.3f", grace_s);
	node_id[0] = '\0';
	rc = claw_db_exec(c, &st_pick, 6, p, &r);
	if (!rc && PQntuples(r) == 1)
		snprintf(node_id, CP_ID_MAX, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_sched_why(PGconn *c, double grace_s, const char *selector,
				const char *exclude_node, long long *ready,
				long long *labelled)
{
	char grace[32];
	const char *p[3] = {grace, selector, exclude_node};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(grace, sizeof(grace), "%.3f", grace_s);
	rc = claw_db_exec(c, &st_why, 3, p, &r);
	if (!rc)
		rc = cp_store_ll(r, 0, 0, ready);
	if (!rc)
		rc = cp_store_ll(r, 0, 1, labelled);
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_sched_place_info(PGconn *c, const char *tenant_id,
				       PGresult **row)
{
	return cp_store_one_row(
		cp_store_exec1(c, &st_place_info, tenant_id, row), row);
}

enum claw_rc cp_store_sweep_nodes_down(PGconn *c, double grace_s,
				       PGresult **rows)
{
	char grace[32];
	const char *p[1] = {grace};

	snprintf(grace, sizeof(grace), "%.3f", grace_s);
	return claw_db_exec(c, &st_nodes_down, 1, p, rows);
}

enum claw_rc cp_store_fleet_beat_period(PGconn *c, double *period_s,
					long long *ready)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_beat_period, 0, NULL, &r);

	if (!rc && PQntuples(r) == 1) {
		*period_s = strtod(PQgetvalue(r, 0, 0), NULL);
		rc = cp_store_ll(r, 0, 1, ready);
	} else if (!rc) {
		rc = CLAW_ERR_INTERNAL;
	}
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_sweep_homeless(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_homeless, 0, NULL, rows);
}

enum claw_rc cp_store_sweep_gone(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_gone, 0, NULL, rows);
}

enum claw_rc cp_store_sweep_draining(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_draining, 0, NULL, rows);
}

enum claw_rc cp_store_sweep_drained(PGconn *c, const char *node_id)
{
	return cp_store_exec1(c, &st_drained, node_id, NULL);
}

enum claw_rc cp_store_sweep_secrets(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_secrets_changed, 0, NULL, rows);
}

enum claw_rc cp_store_leader_try(PGconn *c, bool *leader)
{
	return cp_store_exec_bool(c, &st_leader, 0, NULL, leader);
}

enum claw_rc cp_store_leader_release(PGconn *c)
{
	return claw_db_exec(c, &st_unlead, 0, NULL, NULL);
}
