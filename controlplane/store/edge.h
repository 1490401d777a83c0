/*
 * edge.h - queries of the edge (migrations/0008_edge.sql): the domains
 * tenants claim, the nodes' advertised edge addresses and the routes a
 * node's desired state lists.
 */
#ifndef CP_STORE_EDGE_H
#define CP_STORE_EDGE_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"

enum cp_domain_claim {
	CP_CLAIM_NEW,   /* claimed now */
	CP_CLAIM_HAD,   /* the tenant had it already (idempotent) */
	CP_CLAIM_TAKEN, /* another tenant has it */
	CP_CLAIM_LIMIT, /* the tenant has max domains already */
};

/* Claim domain for the tenant; one statement. */
enum claw_rc cp_store_domain_add(PGconn *c, const char *tenant_id,
				 const char *domain, const char *created_by,
				 int max, enum cp_domain_claim *out);

/* CLAW_ERR_NOT_FOUND when the tenant has not claimed it. */
enum claw_rc cp_store_domain_remove(PGconn *c, const char *tenant_id,
				    const char *domain);

/* Rows: domain, created_at (RFC 3339), ordered by domain. */
enum claw_rc cp_store_domain_list(PGconn *c, const char *tenant_id,
				  PGresult **rows);

/* The tenant's domains as a JSON array of strings (never NULL on OK). */
enum claw_rc cp_store_domain_names(PGconn *c, const char *tenant_id,
				   char **json_text);

/* Whether the edge may get a certificate for name: a live tenant
 * claimed it, or slug (NULL: none) is a live tenant's. One query. */
enum claw_rc cp_store_edge_ask(PGconn *c, const char *name, const char *slug,
			       bool *known);

/* Rows for the node's own tenants' domains: tenant_id, JSON array. */
enum claw_rc cp_store_edge_own_domains(PGconn *c, const char *node_id,
				       PGresult **rows);

/* Rows of the routes to tenants placed (not stopped) on other live nodes
 * with an edge address: slug, node name, edge address, JSON array of the
 * tenant's domains. */
enum claw_rc cp_store_edge_routes(PGconn *c, const char *node_id,
				  PGresult **rows);

/* Store the node's advertised edge address (HOST:PORT) when it changed;
 * *changed tells whether it did. */
enum claw_rc cp_store_node_edge_set(PGconn *c, const char *node_id,
				    const char *address, bool *changed);

/* Delete all but the newest edge_changes row (the leader's sweep). */
enum claw_rc cp_store_edge_prune(PGconn *c);

/* Record the certificates a node's edge reported (a JSON array of
 * {host, not_before, not_after} or {host, error}; hosts not in it are
 * forgotten, errors keep a host's last reading) and mark each expiring
 * (under warn_days left and past a third of its lifetime left). Rows of
 * the hosts whose expiring changed: host, not_after (RFC 3339, NULL when
 * the host is no longer served), expiring ("t"/"f"). One statement. */
enum claw_rc cp_store_edge_certs(PGconn *c, const char *node_id,
				 const char *certs_json, int warn_days,
				 PGresult **changed);

#endif
