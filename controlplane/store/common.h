/*
 * common.h - what the store's files and their callers share
 * (store/common.c): typed values out of query results, and plain
 * transaction control for the few callers that cannot use claw_db_tx
 * (their work has effects outside the database, so it must not be run
 * again on a serialization failure).
 */
#ifndef CP_STORE_COMMON_H
#define CP_STORE_COMMON_H

#include <libpq-fe.h>

#include "claw/err.h"

/* The integer at (row, col) of res. CLAW_ERR_INTERNAL (logged) when it is
 * missing, SQL NULL or not a whole base-10 integer in range; *out is left
 * untouched then. */
enum claw_rc cp_store_ll(const PGresult *res, int row, int col, long long *out);

struct claw_db_stmt;

/* Run st with its n parameters p and keep no rows: *any is 1 when it
 * returned a row (an UPDATE ... RETURNING that matched), else 0 (also on
 * failure). */
enum claw_rc cp_store_exec_any(PGconn *c, struct claw_db_stmt *st, int n,
			       const char *const *p, int *any);

/* BEGIN and COMMIT on c. A connection given back to the pool inside a
 * transaction is rolled back (claw_db_release). */
enum claw_rc cp_store_begin(PGconn *c);
enum claw_rc cp_store_commit(PGconn *c);

#endif
