/*
 * sched.h - the queries of the scheduler and the leader's sweeps
 * (store/sched.c): the placement lock, choosing a node, what each sweep
 * reads and changes, and the leader lock. Same rules as store.h: on the
 * caller's connection (inside its transaction when it has one), rows
 * returned as PGresult to PQclear.
 */
#ifndef CP_STORE_SCHED_H
#define CP_STORE_SCHED_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* ---- placing a tenant */

/* Serialise placements: a transaction-scoped advisory lock. */
enum claw_rc cp_store_sched_lock(PGconn *c);
/* The node for a tenant needing cpus_milli and memory_mb whose labels
 * hold selector (a JSON object text), heard from within grace_s seconds,
 * never exclude_node (NULL: none); exclude_tenant's own placement does
 * not count as load. node_id is "" when none fits (see scheduler.h for
 * the rule). */
enum claw_rc cp_store_sched_pick(PGconn *c, long cpus_milli, long memory_mb,
				 const char *selector, double grace_s,
				 const char *exclude_node,
				 const char *exclude_tenant,
				 char node_id[CP_ID_MAX]);
/* Why nothing fits: how many nodes are ready (as pick counts them), and
 * how many of those have the labels. */
enum claw_rc cp_store_sched_why(PGconn *c, double grace_s, const char *selector,
				const char *exclude_node, long long *ready,
				long long *labelled);

/* The tenant's placement, locked FOR UPDATE, with its deployment's needs.
 * NOT_FOUND when the tenant has no placement. */
enum cp_place_info_col {
	CP_PI_NODE,   /* "" when pending */
	CP_PI_REASON, /* why it is pending, "" if not */
	CP_PI_CPUS,   /* the plan's cpus_milli */
	CP_PI_MEM,    /* the plan's memory_mb */
	CP_PI_LABELS, /* node_labels, a JSON object text */
};
enum claw_rc cp_store_sched_place_info(PGconn *c, const char *tenant_id,
				       PGresult **row);

/* ---- the sweeps */

/* The period at which the ready nodes' heartbeats really arrive (twice
 * the median age of their last ones; 0 with none), and how many ready
 * nodes there are. */
enum claw_rc cp_store_fleet_beat_period(PGconn *c, double *period_s,
					long long *ready);
/* Ready nodes not heard from within grace_s go down (a new generation);
 * *rows: id, name of each. */
enum claw_rc cp_store_sweep_nodes_down(PGconn *c, double grace_s,
				       PGresult **rows);
/* Placements of live tenants with no node, or on a node that is not ready
 * or deleted, oldest first, a batch at a time: tenant id, node id ("" if
 * none), node status ("" if none). */
enum claw_rc cp_store_sweep_homeless(PGconn *c, PGresult **rows);
/* Remove the placements of deleted tenants; *rows: tenant id, node id (NULL
 * if none) of each. */
enum claw_rc cp_store_sweep_gone(PGconn *c, PGresult **rows);
/* Draining nodes: id, how many tenants moved off it are running but not
 * healthy yet, the next tenant on it (NULL when it is empty). */
enum claw_rc cp_store_sweep_draining(PGconn *c, PGresult **rows);
/* The node is drained: draining ends. */
enum claw_rc cp_store_sweep_drained(PGconn *c, const char *node_id);
/* Nodes given a secret fingerprint that no longer matches the tenant's
 * secrets, among the tenants queued in secret_checks since the last call
 * (taken off the queue): one row (node id) each. */
enum claw_rc cp_store_sweep_secrets(PGconn *c, PGresult **rows);

/* ---- the leader: a session advisory lock */

/* Try to take it; *leader tells whether this connection holds it now. */
enum claw_rc cp_store_leader_try(PGconn *c, bool *leader);
enum claw_rc cp_store_leader_release(PGconn *c);

#endif
