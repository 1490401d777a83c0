/*
 * approvals.h - the queries of the approvals relay (store/approvals.c):
 * which tenants run where, for the fleet-wide list of pending approvals;
 * and the approvals' audit rows, each once (migrations/0018).
 * Same rules as store.h: on the caller's connection, rows returned as
 * PGresult to PQclear.
 */
#ifndef CP_STORE_APPROVALS_H
#define CP_STORE_APPROVALS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "claw/err.h"

/* Live tenants placed on a node in state running, slug order, at most
 * limit (+1, so the caller sees there were more). *rows: tenant id, slug,
 * node id, node name. */
enum claw_rc cp_store_approvals_placed(PGconn *c, int limit, PGresult **rows);

/* Take the key (tenant_id, approval_id, event: "request" or "decision")
 * of an approval's audit row for node_id, inside the caller's
 * transaction: *fresh when it was not taken before (then the caller
 * appends the row in the same transaction), false when it was (a repeated
 * report: nothing to append). */
enum claw_rc cp_store_approval_audit_take(PGconn *c, const char *tenant_id,
					  const char *approval_id,
					  const char *event,
					  const char *node_id, bool *fresh);

#endif
