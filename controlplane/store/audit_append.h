/*
 * audit_append.h - the two statements of an audit append
 * (store/audit_append.c); cp_audit_append (audit.c) hashes the row between
 * them. Both run in the caller's transaction.
 */
#ifndef CP_AUDIT_APPEND_H
#define CP_AUDIT_APPEND_H

#include <libpq-fe.h>

#include "audit.h"
#include "claw/err.h"

/* Columns of the chain head row. */
enum cp_audit_head_col {
	CP_AH_PREV_HASH, /* the last row's hash */
	CP_AH_ID,        /* the new row's id */
	CP_AH_TIME_US,   /* now, microseconds since the epoch */
	CP_AH_DETAILS,   /* details as PostgreSQL's jsonb text, or NULL */
};
/* Lock the chain head (FOR UPDATE, until the transaction ends) and fetch
 * what the next row needs; details is a JSON text or NULL. *row has one
 * row, or none when the head row is missing. */
enum claw_rc cp_store_audit_head(PGconn *c, const char *details,
				 PGresult **row);
/* Insert row (details as cp_store_audit_head gave it) with its prev_hash
 * and hash; the database's trigger moves the chain head to it. */
enum claw_rc cp_store_audit_insert(PGconn *c, const struct cp_audit_row *row,
				   const char *prev_hash, const char *hash);

#endif
