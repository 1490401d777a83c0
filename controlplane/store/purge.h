/*
 * purge.h - the purge tombstones (migrations/0021_purge_tombstones.sql;
 * store/purge.c): what each node must forget of a purged tenant. Written
 * in the purge's transaction (api/tenants.c), listed in the node's
 * assignments as "purged" and deleted by its status report's
 * "purged_done" (api/agent.c).
 */
#ifndef CP_STORE_PURGE_H
#define CP_STORE_PURGE_H

#include <libpq-fe.h>

#include "claw/err.h"

#define CP_PURGE_KEEP_DAYS 30 /* a node that never acknowledges */

/* Before tenant_id's rows are deleted: a tombstone for every live node
 * that ever held it (placement, moved_from, secret releases, fleet
 * events), each such node's generation bumped (its long poll wakes). */
enum claw_rc cp_store_purge_mark(PGconn *c, const char *tenant_id,
				 const char *slug);

/* Delete the tombstones older than CP_PURGE_KEEP_DAYS (the leader's
 * sweeps, scheduler.c). */
enum claw_rc cp_store_purge_prune(PGconn *c);

/* The slugs node_id must purge: rows of (slug), sorted, distinct. */
enum claw_rc cp_store_purge_list(PGconn *c, const char *node_id,
				 PGresult **rows);

/* node_id purged the slugs of slugs_json (a JSON array of strings) as of
 * its desired generation: its tombstones of those slugs written up to
 * that generation are deleted (a later purge of a re-created tenant of
 * the same slug stays). */
enum claw_rc cp_store_purge_done(PGconn *c, const char *node_id,
				 const char *slugs_json, long long generation);

#endif
