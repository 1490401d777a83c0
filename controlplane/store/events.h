/*
 * events.h - queries on fleet_events (store/events.c). Same rules as
 * store.h.
 */
#ifndef CP_STORE_EVENTS_H
#define CP_STORE_EVENTS_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Append an event; data is a JSON object text, NULL for {}. */
enum claw_rc cp_store_event_insert(PGconn *c, const char *type,
				   const char *tenant_id, const char *node_id,
				   const char *data);

/* Columns of an event result. */
enum cp_event_col {
	CP_EC_ID,
	CP_EC_TYPE,
	CP_EC_TENANT_ID,
	CP_EC_TENANT,
	CP_EC_NODE_ID,
	CP_EC_NODE,
	CP_EC_TIME,
	CP_EC_DATA,
};
/* Events after id after in id order, a batch (200) at a time: only the
 * tenant's when tenant_id is not NULL, and those about no tenant (nodes)
 * only with with_nodes. */
enum claw_rc cp_store_events_since(PGconn *c, long long after,
				   const char *tenant_id, bool with_nodes,
				   PGresult **rows);
/* The newest event's id (0 when there is none). */
enum claw_rc cp_store_events_last(PGconn *c, long long *id);

#endif
