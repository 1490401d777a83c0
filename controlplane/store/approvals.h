/*
 * approvals.h - the one query of the approvals relay (store/approvals.c):
 * which tenants run where, for the fleet-wide list of pending approvals.
 * Same rules as store.h: on the caller's connection, rows returned as
 * PGresult to PQclear.
 */
#ifndef CP_STORE_APPROVALS_H
#define CP_STORE_APPROVALS_H

#include <libpq-fe.h>

#include "claw/err.h"

/* Live tenants placed on a node in state running, slug order, at most
 * limit (+1, so the caller sees there were more). *rows: tenant id, slug,
 * node id, node name. */
enum claw_rc cp_store_approvals_placed(PGconn *c, int limit, PGresult **rows);

#endif
