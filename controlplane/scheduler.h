/*
 * scheduler.h - the fleet side of the control plane: its options, placing
 * tenants on nodes, and the sweeps (node loss, rescheduling, drains) that
 * one replica at a time runs under a PostgreSQL advisory lock.
 *
 * Placement rule (cp_sched_pick): a node that is ready, not cordoned, not
 * draining, heard from within the grace period, whose labels hold every
 * label the deployment asks for, and with room for the plan's CPU and
 * memory beside what is placed there already; among those the least
 * loaded (the larger of its CPU and memory shares), then the fewest
 * tenants. A tenant that fits nowhere stays pending with a reason.
 */
#ifndef CP_SCHEDULER_H
#define CP_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* The fleet registry password (NULL when none), loaded by the hook. */
const char *cp_fleet_registry_password(void);
/* Read a registry password file (one secret value, read as every secret
 * file is: claw_secret_read on path's directory and name) into *out
 * (guarded memory, claw_secret_free). Returns 0, or -1 with err saying
 * why (not naming path). */
int cp_registry_password_read(const char *path, char **out, char *err,
			      size_t errlen);

/* Start-up hook: load the fleet credential, start the sweeper thread;
 * the scheduler reads ctx->cfg.fleet from then on. */
int cp_fleet_start(struct cp_ctx *ctx, char *errbuf, size_t errlen);
void cp_fleet_stop(struct cp_ctx *ctx);

/* Choose a node for a tenant needing cpus_milli and memory_mb, with the
 * node labels selector (a JSON object text, "{}" for none); exclude_node
 * is never chosen (NULL: none). On CLAW_OK node_id is the node, or "" with
 * reason saying why nothing fits. Run it inside a transaction that holds
 * cp_sched_lock. */
enum claw_rc cp_sched_pick(PGconn *c, long cpus_milli, long memory_mb,
			   const char *selector, const char *exclude_node,
			   const char *exclude_tenant, char node_id[CP_ID_MAX],
			   char *reason, size_t reasonlen);
/* Serialise placements (a transaction-scoped advisory lock). */
enum claw_rc cp_sched_lock(PGconn *c);
/* Place the tenant's placement row anew (pending or on a node, a new
 * generation, both nodes' generations bumped), avoiding exclude_node.
 * With must_fit, a tenant no node can take stays where it is (drains).
 * Records a tenant.scheduled or tenant.pending event. */
enum claw_rc cp_sched_place(PGconn *c, const char *tenant_id,
			    const char *exclude_node, const char *why,
			    bool must_fit);

/* The node an agent API call comes from: its credential, id and name. */
struct cp_node_caller {
	struct cp_auth auth;
	char id[CP_ID_MAX];
	char name[64];
};

/* The agent API's authentication (api/agent.c): a live node credential
 * of a node that is not revoked. Replies 401/403/503 and returns -1, or 0
 * with *nc filled. */
int cp_agent_require(struct claw_http_req *req, struct cp_ctx *ctx,
		     struct cp_node_caller *nc);

/* One pass of the sweeps (exported for the tests of the leader). */
enum claw_rc cp_sched_sweep(PGconn *c);

#endif
