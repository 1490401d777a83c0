/*
 * nodes.h - queries on nodes and join tokens (store/nodes.c). Same rules
 * as store.h: one function per query, on the caller's connection (inside
 * its transaction when it has one), rows returned as PGresult to PQclear.
 */
#ifndef CP_STORE_NODES_H
#define CP_STORE_NODES_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* ---- join tokens */
/* *row: id, expires_at. */
enum claw_rc cp_store_join_token_insert(PGconn *c, const char *id,
					const char *hash,
					const char *created_by, long ttl_s,
					PGresult **row);
/* Mark the live (unused, unexpired) join token with this hash used by
 * node_id; NOT_FOUND when there is none. */
enum claw_rc cp_store_join_token_use(PGconn *c, const char *hash,
				     const char *node_id);

/* ---- nodes: every node result has the CP_NC_* columns */
enum cp_node_col {
	CP_NC_ID,
	CP_NC_NAME,
	CP_NC_LABELS,
	CP_NC_CPUS,
	CP_NC_MEM,
	CP_NC_VERSION,
	CP_NC_STATUS,
	CP_NC_CORDONED,
	CP_NC_DRAINING,
	CP_NC_GEN,
	CP_NC_HEARTBEAT,
	CP_NC_CREATED,
	CP_NC_USED_CPUS,
	CP_NC_USED_MEM,
	CP_NC_TENANTS,
};

struct cp_node_new {
	const char *id, *name, *token_id, *labels /* JSON object text */;
	const char *version;
	long long cpus_milli, memory_mb;
};
/* INVALID with SQLSTATE 23505 when a live node has the name. */
enum claw_rc cp_store_node_insert(PGconn *c, const struct cp_node_new *n);
/* A live node by id or name; NOT_FOUND if none. */
enum claw_rc cp_store_node_get(PGconn *c, const char *id_or_name,
			       PGresult **row);
/* Live nodes in join order. */
enum claw_rc cp_store_node_list(PGconn *c, PGresult **rows);
/* An agent's credential in one query: the token by its hash, as
 * cp_store_token_auth (NOT_FOUND when no live token has it), and the
 * live, unrevoked node bound to it (id and name; both "" when there is
 * none). */
enum claw_rc cp_store_node_auth(PGconn *c, const char *hash,
				struct cp_auth *auth, char stored_hash[65],
				char id[CP_ID_MAX], char name[64]);

enum cp_node_op {
	CP_NODE_CORDON,
	CP_NODE_UNCORDON,
	CP_NODE_DRAIN,
	CP_NODE_REVOKE,
	CP_NODE_DELETE,
};
/* Apply op (revoke and delete also revoke the node's token); *token_id
 * (may be NULL) gets the node's token. NOT_FOUND when no live node has
 * that id. */
enum claw_rc cp_store_node_op(PGconn *c, const char *id, enum cp_node_op op);

/* A heartbeat: last_heartbeat = now(), status ready again when it was
 * down (*came_back true then); capacity and version updated when given
 * (cpus/mem <= 0 and version NULL: keep); *gen (may be NULL) gets the
 * node's generation as cp_store_node_generation reads it for an edge. */
enum claw_rc cp_store_node_heartbeat(PGconn *c, const char *id,
				     long long cpus_milli, long long memory_mb,
				     const char *version, bool *came_back,
				     long long *gen);
/* The node's desired-state generation now: for a node that runs an edge
 * (edge true), edge changes count too. */
enum claw_rc cp_store_node_generation(PGconn *c, const char *id, bool edge,
				      long long *gen);
/* Give the node a new generation (its desired state changed). NULL: no-op. */
enum claw_rc cp_store_node_bump(PGconn *c, const char *id);

/* Row r of a node result as the API shows it. */
json_t *cp_node_json(const PGresult *res, int r);

#endif
