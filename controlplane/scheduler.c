/*
 * scheduler.c - placing tenants on nodes and the leader's sweeps (see
 * scheduler.h): nodes that stopped sending heartbeats go down and their
 * tenants are placed elsewhere (a new generation, so a node that comes
 * back drops them), pending tenants are retried, draining nodes are
 * emptied one tenant at a time (the next moves once the last one is
 * healthy on its new node), deleted tenants leave their nodes, and nodes
 * whose tenants' secrets changed get a new desired state.
 *
 * Only one replica sweeps: the sweeper thread holds a session advisory
 * lock on its own pooled connection while it leads; the others keep
 * trying, so one takes over when the leader goes.
 */
#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/db.h"
#include "audit.h"
#include "claw/log.h"
#include "events.h"
#include "store/deploy.h"
#include "store/nodes.h"

#define CP_SCHED_LOCK_KEY "7420518834172"  /* placements (xact lock) */
#define CP_LEADER_LOCK_KEY "7420518834173" /* the sweeping replica */
#define SWEEP_BATCH "50"

static struct {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	struct claw_db *db;
	const struct cp_fleet_config *cfg; /* the daemon's, from start */
	char *registry_password; /* sodium memory */
} fleet = {.mu = PTHREAD_MUTEX_INITIALIZER,
	   .cond = PTHREAD_COND_INITIALIZER};

static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_sched_lock", "SELECT pg_advisory_xact_lock(" CP_SCHED_LOCK_KEY ")");
static struct claw_db_stmt st_pick = CLAW_DB_STMT(
	"cp_sched_pick",
	"SELECT n.id FROM nodes n LEFT JOIN (SELECT p.node_id, "
	"sum((d.spec->'plan'->>'cpus_milli')::bigint) AS cpus, "
	"sum((d.spec->'plan'->>'memory_mb')::bigint) AS mem, count(*) AS cnt "
	"FROM placements p JOIN deployments d ON d.id = p.deployment_id "
	"WHERE p.state <> 'stopped' AND p.tenant_id <> $6 "
	"GROUP BY p.node_id) u ON u.node_id = n.id "
	"WHERE n.deleted_at IS NULL AND n.status = 'ready' "
	"AND NOT n.cordoned AND NOT n.draining "
	"AND n.last_heartbeat > now() - make_interval(secs => $4::float8) "
	"AND n.labels @> $3::jsonb AND ($5::text IS NULL OR n.id <> $5) "
	"AND n.cpus_milli - coalesce(u.cpus, 0) >= $1::bigint "
	"AND n.memory_mb - coalesce(u.mem, 0) >= $2::bigint "
	"ORDER BY greatest((coalesce(u.cpus, 0) + $1::bigint)::float8 / "
	"n.cpus_milli, (coalesce(u.mem, 0) + $2::bigint)::float8 / "
	"n.memory_mb), coalesce(u.cnt, 0), n.seq LIMIT 1");
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
static struct claw_db_stmt st_homeless = CLAW_DB_STMT(
	"cp_sweep_homeless",
	"SELECT p.tenant_id, coalesce(p.node_id, ''), "
	"coalesce(n.status, '') FROM placements p "
	"JOIN tenants t ON t.id = p.tenant_id "
	"LEFT JOIN nodes n ON n.id = p.node_id WHERE t.deleted_at IS NULL "
	"AND (p.node_id IS NULL OR n.status <> 'ready' OR "
	"n.deleted_at IS NOT NULL) ORDER BY p.updated_at LIMIT " SWEEP_BATCH);
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
static struct claw_db_stmt st_drained = CLAW_DB_STMT(
	"cp_sweep_drained", "UPDATE nodes SET draining = false, "
			    "updated_at = now() WHERE id = $1");
static struct claw_db_stmt st_secrets_changed = CLAW_DB_STMT(
	"cp_sweep_secrets",
	"SELECT DISTINCT p.node_id FROM placements p JOIN secret_releases r "
	"ON r.node_id = p.node_id AND r.tenant_id = p.tenant_id "
	"WHERE r.fingerprint <> " CP_SECRET_FP_SQL("p.tenant_id",
						   "p.deployment_id"));
static struct claw_db_stmt st_unlead = CLAW_DB_STMT(
	"cp_sweep_unlead",
	"SELECT pg_advisory_unlock(" CP_LEADER_LOCK_KEY ")");
static struct claw_db_stmt st_leader = CLAW_DB_STMT(
	"cp_sweep_leader",
	"SELECT pg_try_advisory_lock(" CP_LEADER_LOCK_KEY ")");

/* An audit row of the fleet itself (no request): node loss, moves. */
static enum claw_rc audit_system(PGconn *c, const char *action,
				 const char *target, const char *tenant_id,
				 json_t *details_steal)
{
	struct cp_audit_entry e = {.actor_role = "system", .action = action,
				   .target = target, .tenant_id = tenant_id,
				   .details = details_steal};
	enum claw_rc rc = cp_audit_append(c, &e);

	json_decref(details_steal);
	return rc;
}

const char *cp_fleet_registry_password(void)
{
	return fleet.registry_password;
}

static double grace_s(void)
{
	return (double)fleet.cfg->heartbeat_ms *
	       (double)fleet.cfg->grace_intervals / 1000.0;
}

enum claw_rc cp_sched_lock(PGconn *c)
{
	return claw_db_exec(c, &st_lock, 0, NULL, NULL);
}

enum claw_rc cp_sched_pick(PGconn *c, long cpus_milli, long memory_mb,
			   const char *selector, const char *exclude_node,
			   const char *exclude_tenant, char node_id[CP_ID_MAX],
			   char *reason, size_t reasonlen)
{
	char cpus[24], mem[24], grace[32];
	const char *p[6] = {cpus, mem, selector, grace, exclude_node,
			    exclude_tenant ? exclude_tenant : ""};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(cpus, sizeof(cpus), "%ld", cpus_milli);
	snprintf(mem, sizeof(mem), "%ld", memory_mb);
	snprintf(grace, sizeof(grace), "%.3f", grace_s());
	node_id[0] = '\0';
	rc = claw_db_exec(c, &st_pick, 6, p, &r);
	if (rc)
		goto out;
	if (PQntuples(r) == 1) {
		snprintf(node_id, CP_ID_MAX, "%s", PQgetvalue(r, 0, 0));
		goto out;
	}
	PQclear(r);
	r = NULL;
	{
		const char *q[3] = {grace, selector, exclude_node};
		long ready, labelled;

		rc = claw_db_exec(c, &st_why, 3, q, &r);
		if (rc)
			goto out;
		ready = atol(PQgetvalue(r, 0, 0));
		labelled = atol(PQgetvalue(r, 0, 1));
		if (!ready)
			snprintf(reason, reasonlen,
				 "no ready node: every node is down, "
				 "cordoned or draining, or none has joined");
		else if (!labelled)
			snprintf(reason, reasonlen,
				 "no ready node has the labels %s", selector);
		else
			snprintf(reason, reasonlen,
				 "no ready node has room for %ld milli-CPUs "
				 "and %ld MiB of memory",
				 cpus_milli, memory_mb);
	}
out:
	PQclear(r);
	return rc;
}

enum claw_rc cp_sched_place(PGconn *c, const char *tenant_id,
			    const char *exclude_node, const char *why,
			    bool must_fit)
{
	const char *p[1] = {tenant_id};
	char node[CP_ID_MAX], old[CP_ID_MAX], reason[256] = "";
	PGresult *r = NULL;
	enum claw_rc rc;

	rc = cp_sched_lock(c);
	if (!rc)
		rc = claw_db_exec(c, &st_place_info, 1, p, &r);
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = CLAW_ERR_NOT_FOUND;
		goto out;
	}
	snprintf(old, sizeof(old), "%s", PQgetvalue(r, 0, 0));
	rc = cp_sched_pick(c, atol(PQgetvalue(r, 0, 2)),
			   atol(PQgetvalue(r, 0, 3)), PQgetvalue(r, 0, 4),
			   exclude_node, tenant_id, node, reason,
			   sizeof(reason));
	if (rc)
		goto out;
	if (!node[0] && !old[0] && strcmp(reason, PQgetvalue(r, 0, 1)) == 0)
		goto out; /* still pending for the same reason */
	if (!node[0] && must_fit)
		goto out; /* stay where it is rather than go pending */
	rc = cp_store_place_move(c, tenant_id, node, node[0] ? NULL : reason);
	if (!rc)
		rc = cp_store_node_bump(c, old);
	if (!rc)
		rc = cp_store_node_bump(c, node);
	if (!rc)
		rc = cp_event_add(
			c, node[0] ? "tenant.scheduled" : "tenant.pending",
			tenant_id, node[0] ? node : NULL,
			json_pack("{s:s, s:s?, s:s?, s:s?}", "why", why,
				  "from_node", old[0] ? old : NULL, "node",
				  node[0] ? node : NULL, "reason",
				  node[0] ? NULL : reason));
	if (!rc && strcmp(why, "deploy")) { /* a deploy audits itself */
		char target[64];

		snprintf(target, sizeof(target), "tenants/%s", tenant_id);
		rc = audit_system(c, node[0] ? "tenant.move" : "tenant.pending",
				  target, tenant_id,
				  json_pack("{s:s, s:s?, s:s?}", "why", why,
					    "from_node", old[0] ? old : NULL,
					    "node", node[0] ? node : NULL));
	}
	if (!rc)
		log_info("tenant %s %s %s (%s)", tenant_id,
			 node[0] ? "placed on" : "pending:",
			 node[0] ? node : reason, why);
out:
	PQclear(r);
	return rc;
}

/* ---- the sweeps, each its own transaction */

static enum claw_rc sweep_nodes_down(PGconn *c, void *cls)
{
	char grace[32];
	const char *p[1] = {grace};
	PGresult *r = NULL;
	enum claw_rc rc;

	(void)cls;
	snprintf(grace, sizeof(grace), "%.3f", grace_s());
	rc = claw_db_exec(c, &st_nodes_down, 1, p, &r);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		log_warn("node %s (%s) missed its heartbeats: down",
			 PQgetvalue(r, i, 1), PQgetvalue(r, i, 0));
		rc = cp_event_add(c, "node.down", NULL, PQgetvalue(r, i, 0),
				  json_pack("{s:s, s:s}", "name",
					    PQgetvalue(r, i, 1), "status",
					    "down"));
		if (!rc) {
			char target[64];

			snprintf(target, sizeof(target), "nodes/%s",
				 PQgetvalue(r, i, 0));
			rc = audit_system(c, "node.down", target, NULL,
					  json_pack("{s:s, s:f}", "reason",
						    "missed heartbeats",
						    "grace_s", grace_s()));
		}
	}
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_homeless(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_homeless, 0, NULL, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *node = PQgetvalue(r, i, 1);
		const char *status = PQgetvalue(r, i, 2);
		const char *why = !node[0] ? "pending"
				  : strcmp(status, "down") == 0 ? "node down"
								 : "node revoked";

		rc = cp_sched_place(c, PQgetvalue(r, i, 0),
				    node[0] ? node : NULL, why, false);
	}
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_gone(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_gone, 0, NULL, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		rc = cp_store_node_bump(c, claw_db_value(r, i, 1));
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_drain(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_draining, 0, NULL, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *node = PQgetvalue(r, i, 0);
		const char *next = claw_db_value(r, i, 2);

		if (atol(PQgetvalue(r, i, 1)) > 0)
			continue; /* the last one moved is not healthy yet */
		if (!next) {
			const char *p[1] = {node};

			rc = claw_db_exec(c, &st_drained, 1, p, NULL);
			if (!rc)
				rc = cp_event_add(c, "node.drained", NULL, node,
						  NULL);
			continue;
		}
		rc = cp_sched_place(c, next, node, "drain", true);
	}
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_secrets(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_secrets_changed, 0, NULL, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		rc = cp_store_node_bump(c, PQgetvalue(r, i, 0));
	PQclear(r);
	return rc;
}

enum claw_rc cp_sched_sweep(PGconn *c)
{
	static const claw_db_tx_fn steps[] = {sweep_nodes_down, sweep_gone,
					      sweep_homeless, sweep_drain,
					      sweep_secrets};
	enum claw_rc rc = CLAW_OK;

	for (size_t i = 0; !rc && i < sizeof(steps) / sizeof(steps[0]); i++)
		rc = claw_db_tx_conn(c, CLAW_DB_READ_COMMITTED, steps[i], NULL);
	return rc;
}

/* ---- the sweeper thread */

static bool wait_stop(long ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fleet.mu);
	while (!fleet.stop &&
	       pthread_cond_timedwait(&fleet.cond, &fleet.mu, &until) == 0)
		;
	stop = fleet.stop;
	pthread_mutex_unlock(&fleet.mu);
	return stop;
}

static void *sweeper_main(void *arg)
{
	PGconn *c = NULL;
	bool leader = false;

	(void)arg;
	while (!wait_stop(leader ? fleet.cfg->sweep_ms : 1000)) {
		PGresult *r = NULL;

		if (!c)
			c = claw_db_acquire(fleet.db);
		if (!c)
			continue;
		if (!leader) {
			if (claw_db_exec(c, &st_leader, 0, NULL, &r) == CLAW_OK)
				leader = PQgetvalue(r, 0, 0)[0] == 't';
			PQclear(r);
			if (leader)
				log_info("this replica runs the scheduler "
					 "and health sweeps");
			else
				continue;
		}
		if (cp_sched_sweep(c) == CLAW_ERR_IO) {
			log_warn("sweep: database connection lost; "
				 "leadership released");
			claw_db_release(fleet.db, c);
			c = NULL;
			leader = false;
		}
		cp_fleet_wake();
	}
	if (c) {
		if (leader)
			claw_db_exec(c, &st_unlead, 0, NULL, NULL);
		claw_db_release(fleet.db, c);
	}
	return NULL;
}

static int load_password(char *errbuf, size_t errlen)
{
	const char *path = fleet.cfg->registry_password_file;
	FILE *f;
	size_t n;

	if (!path)
		return 0;
	fleet.registry_password = sodium_malloc(1024);
	f = fopen(path, "re");
	if (!fleet.registry_password || !f) {
		snprintf(errbuf, errlen, "unable to read registry-password-file "
			 "'%s': %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	n = fread(fleet.registry_password, 1, 1023, f);
	fclose(f);
	while (n > 0 && (fleet.registry_password[n - 1] == '\n' ||
			 fleet.registry_password[n - 1] == '\r'))
		n--;
	fleet.registry_password[n] = '\0';
	return 0;
}

int cp_fleet_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	fleet.cfg = &ctx->cfg.fleet;
	if (load_password(errbuf, errlen))
		return -1;
	fleet.db = ctx->db;
	fleet.stop = false;
	if (pthread_create(&fleet.thread, NULL, sweeper_main, NULL)) {
		snprintf(errbuf, errlen, "unable to start the sweeper thread");
		return -1;
	}
	fleet.started = true;
	return 0;
}

void cp_fleet_stop(struct cp_ctx *ctx)
{
	(void)ctx;
	if (fleet.started) {
		pthread_mutex_lock(&fleet.mu);
		fleet.stop = true;
		pthread_cond_broadcast(&fleet.cond);
		pthread_mutex_unlock(&fleet.mu);
		pthread_join(fleet.thread, NULL);
		fleet.started = false;
	}
	sodium_free(fleet.registry_password);
	fleet.registry_password = NULL;
}
