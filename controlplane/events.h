/*
 * events.h - fleet events and wake-ups.
 *
 * Events (phase, health, restart, deployment and node changes) are rows of
 * fleet_events written in the transaction of the change that caused them;
 * GET /v1/events streams them. A process-wide wake-up counter lets long
 * polls (agents' assignments, event streams, log relays) sleep until
 * something changed here, with a bounded wait so changes made by another
 * replica are seen by polling the database.
 *
 * The log relay (api/logs.c): a client's GET /v1/tenants/{t}/logs leaves a
 * request for the node that runs the tenant; that node's long poll hands
 * it over, and the agent posts the log back in chunks.
 */
#ifndef CP_EVENTS_H
#define CP_EVENTS_H

#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Append an event in the caller's transaction. data_steal may be NULL. */
enum claw_rc cp_event_add(PGconn *c, const char *type, const char *tenant_id,
			  const char *node_id, json_t *data_steal);

/* Wake every waiter (call after a commit that changed desired state). */
void cp_fleet_wake(void);
/* The wake-up counter now. */
uint64_t cp_fleet_seq(void);
/* Wait until the counter passes seen or timeout_ms passes; returns it. */
uint64_t cp_fleet_wait(uint64_t seen, long timeout_ms);

/* Log requests waiting for node_id, as a JSON array of {id, tenant, role,
 * tail, follow} (new reference); marks them handed over. */
json_t *cp_logs_take(const char *node_id);
/* Whether node_id has log requests not handed over yet. */
int cp_logs_pending(const char *node_id);

/* The approvals relay (api/approvals.c): calls waiting for node_id, as a
 * JSON array of {id, tenant, op, ...} (new reference), marked handed
 * over; and whether it has some not handed over yet. */
json_t *cp_rpc_take(const char *node_id);
int cp_rpc_pending(const char *node_id);

#endif
