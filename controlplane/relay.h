/*
 * relay.h - what the relays between clients and node agents share (the
 * log relay api/logs.c, the approvals relay api/approvals.c), so they
 * work whichever replica a client or a node reaches (docs/fleet.md,
 * "Replicas"):
 *
 *   a client's replica leaves a call as a row (store/relay.h); the node's
 *   long poll (api/agent.c), on any replica, hands it over; the node posts
 *   the answer or the log chunks to any replica, whose writes send NOTIFY
 *   claw_wake (so do a node's new generation and a call left for it,
 *   with the payload 'node:ID': a deploy on one replica wakes the node's
 *   long poll on another); one thread per replica LISTENs and turns each
 *   notification into cp_node_wake(ID) or cp_fleet_wake() (events.h), so
 *   the waiter, on whichever replica, wakes at once. Waiters still look
 *   every second, a node's long poll every 5 s while the listener is up
 *   (a lost notification, the listener reconnecting, costs that, never
 *   the call).
 */
#ifndef CP_RELAY_H
#define CP_RELAY_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/db.h"
#include "claw/err.h"
#include "cp.h"

/* A node must take a call within this long of its leaving. */
#define CP_RELAY_TAKE_S 20

/* Leave call_steal for node_id: kind "log" or "rpc" (the id's prefix),
 * kept ttl_s seconds at most. Its "id" is set and copied into id. Starts
 * this replica's listener on first use. */
enum claw_rc cp_relay_leave(struct claw_db *db, const char *kind,
			    const char *node_id, json_t *call_steal, int ttl_s,
			    char id[CP_ID_MAX]);
/* Whether node_id has calls waiting to be handed over (false on errors). */
bool cp_relay_pending(PGconn *c, const char *node_id);
/* Hand node_id's waiting calls over into doc's "logs" and "rpc" arrays
 * (empty arrays when none, or on errors: the calls then time out). */
void cp_relay_take(struct claw_db *db, const char *node_id, json_t *doc);
/* Delete a call (its waiter is done with it). */
void cp_relay_drop(struct claw_db *db, const char *id);
/* Start this replica's LISTEN thread if it does not run (idempotent). */
void cp_relay_listen(struct claw_db *db);
/* Whether it LISTENs now (when not, waiters poll the database more
 * often). */
bool cp_relay_listening(void);
/* Stop it (if it runs) and free what it holds; cp_relay_listen starts it
 * again. */
void cp_relay_stop(void);

#endif
