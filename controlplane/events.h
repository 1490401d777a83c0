/*
 * events.h - fleet events and wake-ups.
 *
 * Events (phase, health, restart, deployment and node changes) are rows of
 * fleet_events written in the transaction of the change that caused them;
 * GET /v1/events streams them. A process-wide wake-up counter lets long
 * polls (agents' assignments, event streams, log relays) sleep until
 * something changed here, with a bounded wait so changes made by another
 * replica are seen by polling the database (and at once through the
 * relays' LISTEN/NOTIFY, relay.h).
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

#endif
