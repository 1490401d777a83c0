/*
 * audit_checkpoint.h - what the checkpointer (checkpointer.c) reads from
 * the database: the audit chain head, and whether the daemon's own role
 * could change the audit log.
 */
#ifndef CP_STORE_AUDIT_CHECKPOINT_H
#define CP_STORE_AUDIT_CHECKPOINT_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* The chain head as committed: id and hash of the last row, rows. */
struct cp_audit_head {
	long long last_id;
	long long rows;
	char hash[65];
};

enum claw_rc cp_store_audit_head_read(PGconn *c, struct cp_audit_head *out);

/* *can_change: the connection's role may UPDATE, DELETE or TRUNCATE
 * audit_log, or owns it (and so may disable its triggers). */
enum claw_rc cp_store_audit_role_can_change(PGconn *c, bool *can_change);

#endif
