/*
 * relay.h - the rows of the relays between clients and node agents
 * (migrations/0019_relay.sql; the logic is controlplane/relay.c): calls
 * left for a node, handed over by its long poll, answered (rpc) or fed
 * with log chunks, read and deleted by the replica whose client waits.
 * Every write of a call's state or a chunk sends NOTIFY claw_wake (a
 * trigger), so the replica waiting on it wakes at once.
 */
#ifndef CP_STORE_RELAY_H
#define CP_STORE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Leave call id (kind "log" or "rpc", call its JSON text) for node_id,
 * kept ttl_s seconds at most; expired calls of any replica are deleted
 * on the way. */
enum claw_rc cp_store_relay_leave(PGconn *c, const char *id, const char *kind,
				  const char *node_id, const char *call,
				  int ttl_s);
/* How many calls wait for node_id that are younger than take_s. */
enum claw_rc cp_store_relay_pending(PGconn *c, const char *node_id, int take_s,
				    long long *n);
/* Hand those calls over (state handed): rows of (kind, call). */
enum claw_rc cp_store_relay_take(PGconn *c, const char *node_id, int take_s,
				 PGresult **rows);
/* Delete a call and its chunks. */
enum claw_rc cp_store_relay_drop(PGconn *c, const char *id);

/* rpc: the answer of call id handed to node_id; *found false when no
 * such call waits for one. */
enum claw_rc cp_store_relay_answer(PGconn *c, const char *id,
				   const char *node_id, int status,
				   const char *body, bool *found);
/* rpc: the calls of ids (a PostgreSQL array literal "{a,b}"), columns
 * RELAY_RC_*: late is true when a call was not taken within take_s or
 * not answered within answer_s of being taken. */
enum relay_rpc_col {
	RELAY_RC_ID,
	RELAY_RC_STATE,
	RELAY_RC_STATUS,
	RELAY_RC_ANSWER,
	RELAY_RC_LATE,
	RELAY_RC_HANDED,
};
enum claw_rc cp_store_relay_rpc_states(PGconn *c, const char *ids, int take_s,
				       int answer_s, PGresult **rows);

/* log: up to max_chunks chunks of call id, taken (deleted) in order, the
 * call's expiry pushed ttl_s on. Rows: first (seq 0) the call's state
 * and whether it is waiting longer than take_s ("t"/"f"), when the call
 * still exists; then (seq, event, hex of the data) per chunk. */
enum relay_log_col {
	RELAY_LC_SEQ,
	RELAY_LC_STATE,
	RELAY_LC_LATE,
	RELAY_LC_EVENT,
	RELAY_LC_HEX,
};
enum claw_rc cp_store_relay_log_read(PGconn *c, const char *id, int take_s,
				     int ttl_s, int max_chunks,
				     PGresult **rows);

/* log: what a node posts for call id (handed to node_id): data (may be
 * empty) as a 'log' chunk, then with end an 'end' chunk. When the
 * chunks not read yet would pass max bytes, the call ends instead.
 * *out: 0 taken, 1 no such call (gone: the client went away), 2 the
 * client does not keep up (ended). */
enum claw_rc cp_store_relay_log_write(PGconn *c, const char *id,
				      const char *node_id, const void *data,
				      size_t len, bool end, long max, int *out);

#endif
