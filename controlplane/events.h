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

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Append an event in the caller's transaction. data_steal may be NULL. */
enum claw_rc cp_event_add(PGconn *c, const char *type, const char *tenant_id,
			  const char *node_id, json_t *data_steal);

/* Wake every waiter but the nodes' long polls (call after a commit that
 * changed desired state; the long polls are woken per node, below). */
void cp_fleet_wake(void);
/* The wake-up counter now. */
uint64_t cp_fleet_seq(void);
/* Wait until the counter passes seen or timeout_ms passes; returns it. */
uint64_t cp_fleet_wait(uint64_t seen, long timeout_ms);

/*
 * Node-keyed wake-ups: a node's long poll (api/agent.c) watches its node
 * and sleeps until that node is woken, so a change of one node's desired
 * state wakes one long poll, not the fleet's. Who wakes them: the LISTEN
 * thread (relay.c), on NOTIFY claw_wake 'node:ID' (the node's generation
 * bumped, a relay call left for it; migrations/0020_node_wake.sql) or
 * 'node:*' (an edge change: the generation of every node that runs an
 * edge), and, when it (re)connects, every node, since notifications may
 * have been lost.
 */
struct cp_node_watch;

/* Watch node_id (NULL when out of memory: the caller polls instead); edge:
 * the node runs an edge, so edge changes wake it too. */
struct cp_node_watch *cp_node_watch(const char *node_id, bool edge);
void cp_node_unwatch(struct cp_node_watch *w);
/* The watch's wake-up counter now (0 for a NULL watch). */
uint64_t cp_node_seq(const struct cp_node_watch *w);
/* Wait until the watch's counter passes seen or timeout_ms passes. */
void cp_node_wait(struct cp_node_watch *w, uint64_t seen, long timeout_ms);
/* Wake the long polls of node_id, or of every node that runs an edge
 * ("*": an edge change). */
void cp_node_wake(const char *node_id);
/* Wake every long poll (notifications may have been lost). */
void cp_node_wake_all(void);

#endif
