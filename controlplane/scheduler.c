/*
 * scheduler.c - placing tenants on nodes and the leader's sweeps (see
 * scheduler.h): nodes that stopped sending heartbeats go down and their
 * tenants are placed elsewhere (a new generation, so a node that comes
 * back drops them), pending tenants are retried, draining nodes are
 * emptied one tenant at a time (the next moves once the last one is
 * healthy on its new node), deleted tenants leave their nodes, nodes
 * whose tenants' secrets changed get a new desired state, and deployments
 * whose workspace resolver went with a stopped replica (still resolving
 * well past workspace-timeout-ms) fail.
 *
 * Only one replica sweeps: the sweeper thread holds a session advisory
 * lock on its own pooled connection while it leads; the others keep
 * trying, so one takes over when the leader goes. The queries are in
 * store/sched.c.
 */
#include "scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "claw/db.h"
#include "claw/deadline.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "events.h"
#include "preflight.h"
#include "rollout.h"
#include "store/edge.h"
#include "store/deploy.h"
#include "store/nodes.h"
#include "store/purge.h"
#include "store/common.h"
#include "store/sched.h"

static struct {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	struct claw_db *db;
	const struct cp_fleet_config *cfg; /* the daemon's, from start */
	struct cp_ctx *ctx;                /* for the rollout worker */
	char *registry_password; /* claw_secret_read: guarded memory */
} fleet = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* An audit row of the fleet itself (no request): node loss, moves. */
static enum claw_rc audit_system(PGconn *c, const char *action,
				 const char *target, const char *tenant_id,
				 json_t *details_steal)
{
	return cp_audit_request(c, NULL, NULL, action, target, tenant_id,
				details_steal);
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
	return cp_store_sched_lock(c);
}

enum claw_rc cp_sched_pick(PGconn *c, long cpus_milli, long memory_mb,
			   const char *selector, const char *exclude_node,
			   const char *exclude_tenant, char node_id[CP_ID_MAX],
			   char *reason, size_t reasonlen)
{
	long long ready, labelled;
	enum claw_rc rc;

	rc = cp_store_sched_pick(c, cpus_milli, memory_mb, selector, grace_s(),
				 exclude_node, exclude_tenant, node_id);
	if (rc || node_id[0])
		return rc;
	rc = cp_store_sched_why(c, grace_s(), selector, exclude_node, &ready,
				&labelled);
	if (rc)
		return rc;
	if (!ready)
		snprintf(reason, reasonlen,
			 "no ready node: every node is down, "
			 "cordoned or draining, or none has joined");
	else if (!labelled)
		snprintf(reason, reasonlen, "no ready node has the labels %s",
			 selector);
	else
		snprintf(reason, reasonlen,
			 "no ready node has room for %ld milli-CPUs "
			 "and %ld MiB of memory",
			 cpus_milli, memory_mb);
	return CLAW_OK;
}

enum claw_rc cp_sched_place(PGconn *c, const char *tenant_id,
			    const char *exclude_node, const char *why,
			    bool must_fit)
{
	char node[CP_ID_MAX], old[CP_ID_MAX], reason[256] = "";
	long long cpus = 0, mem = 0;
	PGresult *r = NULL;
	enum claw_rc rc;

	rc = cp_sched_lock(c);
	if (!rc)
		rc = cp_store_sched_place_info(c, tenant_id, &r);
	if (!rc)
		rc = cp_store_ll(r, 0, CP_PI_CPUS, &cpus);
	if (!rc)
		rc = cp_store_ll(r, 0, CP_PI_MEM, &mem);
	if (rc)
		goto out;
	snprintf(old, sizeof(old), "%s", PQgetvalue(r, 0, CP_PI_NODE));
	rc = cp_sched_pick(c, (long)cpus, (long)mem,
			   PQgetvalue(r, 0, CP_PI_LABELS), exclude_node,
			   tenant_id, node, reason, sizeof(reason));
	if (rc)
		goto out;
	if (!node[0] && !old[0] &&
	    strcmp(reason, PQgetvalue(r, 0, CP_PI_REASON)) == 0)
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

/* The grace stretches with the fleet's heartbeat period: when the ready
 * nodes' heartbeats as a whole arrive late (2 x the median age of the last
 * ones over the expected period), the control plane or its database is
 * slow, not the nodes, and marking the tail of them down would move their
 * tenants, wake their nodes' and the edges' long polls and write an
 * audit row each: more load, later heartbeats, more nodes down. A dead
 * node does not move the median (unless more than half the fleet is
 * gone), so it still goes down, later by the stretch. Fleets below STRETCH_MIN_NODES, where one dead node is
 * the median, and a stretch past STRETCH_MAX are not stretched further. */
#define STRETCH_MIN_NODES 10
#define STRETCH_MAX 5.0

static double stretch_for(double period_s, long long ready)
{
	double expected = (double)fleet.cfg->heartbeat_ms / 1000.0;
	double s = period_s / expected;

	if (ready < STRETCH_MIN_NODES || s < 1.0)
		return 1.0;
	return s > STRETCH_MAX ? STRETCH_MAX : s;
}

static enum claw_rc sweep_nodes_down(PGconn *c, void *cls)
{
	static time_t told;
	PGresult *r = NULL;
	double period = 0, stretch;
	long long ready = 0;
	enum claw_rc rc;

	(void)cls;
	rc = cp_store_fleet_beat_period(c, &period, &ready);
	if (rc)
		return rc;
	stretch = stretch_for(period, ready);
	if (stretch >= 1.5 && time(NULL) - told >= 60) {
		told = time(NULL);
		log_warn("the %lld ready nodes' heartbeats arrive every %.1f s "
			 "(expected %.1f s): this control plane or its "
			 "database is slow, so a node goes down after %.0f s "
			 "of silence instead of %.0f s",
			 ready, period,
			 (double)fleet.cfg->heartbeat_ms / 1000.0,
			 grace_s() * stretch, grace_s());
	}
	rc = cp_store_sweep_nodes_down(c, grace_s() * stretch, &r);
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
						    "grace_s",
						    grace_s() * stretch));
		}
	}
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_homeless(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_sweep_homeless(c, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *node = PQgetvalue(r, i, 1);
		const char *status = PQgetvalue(r, i, 2);
		const char *why = !node[0]            ? "pending"
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
	enum claw_rc rc = cp_store_sweep_gone(c, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		rc = cp_store_node_bump(c, claw_db_value(r, i, 1));
	PQclear(r);
	return rc;
}

static enum claw_rc sweep_drain(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_sweep_draining(c, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *node = PQgetvalue(r, i, 0);
		const char *next = claw_db_value(r, i, 2);
		long long moving = 0;

		rc = cp_store_ll(r, i, 1, &moving);
		if (rc)
			break;
		if (moving > 0)
			continue; /* the last one moved is not healthy yet */
		if (!next) {
			rc = cp_store_sweep_drained(c, node);
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
	enum claw_rc rc = cp_store_sweep_secrets(c, &r);

	(void)cls;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		rc = cp_store_node_bump(c, PQgetvalue(r, i, 0));
	PQclear(r);
	return rc;
}

/* A resolver ends within workspace-timeout-ms (then the deployment moves
 * on); one still resolving well past that lost its resolver. */
#define STALE_RESOLVING_GRACE_S 10.0
#define STALE_RESOLVING_REASON                                                 \
	"workspace: the control plane stopped before the repository "          \
	"answered; deploy again"

static enum claw_rc sweep_stale_resolving(PGconn *c, void *cls)
{
	PGresult *r = NULL;
	enum claw_rc rc;

	(void)cls;
	rc = cp_store_dep_fail_stale(c,
				     (double)fleet.cfg->workspace_timeout_ms /
						     1000.0 +
					     STALE_RESOLVING_GRACE_S,
				     STALE_RESOLVING_REASON, &r);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *dep = PQgetvalue(r, i, 0);
		const char *tenant = PQgetvalue(r, i, 1);
		char target[128];

		log_warn(
			"deployment %s: its workspace resolver is gone: failed",
			dep);
		rc = cp_event_add(c, "deployment.phase", tenant, NULL,
				  json_pack("{s:s, s:s, s:s}", "deployment",
					    dep, "phase", "failed", "reason",
					    STALE_RESOLVING_REASON));
		snprintf(target, sizeof(target), "tenants/%s",
			 PQgetvalue(r, i, 2));
		if (!rc)
			rc = audit_system(c, "deploy.resolve", target, tenant,
					  json_pack("{s:s, s:s, s:s}",
						    "deployment", dep, "phase",
						    "failed", "reason",
						    STALE_RESOLVING_REASON));
	}
	PQclear(r);
	return rc;
}

/* Only the newest edge change matters (migrations/0008_edge.sql). */
static enum claw_rc sweep_edge_changes(PGconn *c, void *cls)
{
	(void)cls;
	return cp_store_edge_prune(c);
}

/* Purge tombstones of a node that never came back (store/purge.h). */
static enum claw_rc sweep_purge_tombstones(PGconn *c, void *cls)
{
	(void)cls;
	return cp_store_purge_prune(c);
}

enum claw_rc cp_sched_sweep(PGconn *c)
{
	static const claw_db_tx_fn steps[] = {
		sweep_nodes_down,   sweep_gone,
		sweep_homeless,     sweep_drain,
		sweep_secrets,      sweep_stale_resolving,
		sweep_edge_changes, sweep_purge_tombstones};
	enum claw_rc rc = CLAW_OK;

	for (size_t i = 0; !rc && i < sizeof(steps) / sizeof(steps[0]); i++)
		rc = claw_db_tx_conn(c, CLAW_DB_READ_COMMITTED, steps[i], NULL);
	return rc;
}

/* ---- the sweeper thread */

static bool wait_stop(long ms)
{
	struct timespec until = claw_deadline_ms(CLOCK_REALTIME, ms);
	bool stop;

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
		if (!c)
			c = claw_db_acquire(fleet.db);
		if (!c)
			continue;
		/* every replica drives rollouts (each step takes its row
		 * with SKIP LOCKED), so they go on whichever one is up */
		cp_rollout_tick(fleet.ctx);
		if (!leader) {
			if (cp_store_leader_try(c, &leader) == CLAW_ERR_IO) {
				/* a connection to a server that is gone (a
				 * failover): take another one next pass */
				claw_db_release(fleet.db, c);
				c = NULL;
				continue;
			}
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
			cp_store_leader_release(c);
		claw_db_release(fleet.db, c);
	}
	return NULL;
}

/* The registry password file is one secret value: read like every secret
 * file, into guarded memory. */
int cp_registry_password_read(const char *path, char **out, char *err,
			      size_t errlen)
{
	char *copy = strdup(path), *slash;
	const char *dir = ".", *name;
	enum claw_rc rc;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	name = copy;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		name = slash + 1;
	}
	rc = claw_secret_read(dir, name, out, NULL, err, errlen);
	free(copy);
	return rc ? -1 : 0;
}

static int load_password(char *errbuf, size_t errlen)
{
	const char *path = fleet.cfg->registry_password_file;
	char err[300];

	if (!path)
		return 0;
	if (cp_registry_password_read(path, &fleet.registry_password, err,
				      sizeof(err))) {
		snprintf(errbuf, errlen,
			 "unable to read registry-password-file "
			 "'%s': %s",
			 path, err);
		return -1;
	}
	return 0;
}

int cp_fleet_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	fleet.cfg = &ctx->cfg.fleet;
	fleet.ctx = ctx;
	if (load_password(errbuf, errlen) ||
	    cp_default_secrets_load(fleet.cfg->default_secrets, errbuf, errlen))
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
	claw_secret_free(fleet.registry_password);
	fleet.registry_password = NULL;
	cp_default_secrets_free();
}
