/*
 * common.h - what the store's files and their callers share
 * (store/common.c): typed values out of query results, and plain
 * transaction control for the few callers that cannot use claw_db_tx
 * (their work has effects outside the database, so it must not be run
 * again on a serialization failure).
 */
#ifndef CP_STORE_COMMON_H
#define CP_STORE_COMMON_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* The integer at (row, col) of res. CLAW_ERR_INTERNAL (logged) when it is
 * missing, SQL NULL or not a whole base-10 integer in range; *out is left
 * untouched then. */
enum claw_rc cp_store_ll(const PGresult *res, int row, int col, long long *out);

/* rc, but NOT_FOUND (and *row cleared) when rc is CLAW_OK and *row has
 * no rows: for queries of one row. */
enum claw_rc cp_store_one_row(enum claw_rc rc, PGresult **row);

struct claw_db_stmt;

/* Run st with its n parameters p and keep no rows: *any is 1 when it
 * returned a row (an UPDATE ... RETURNING that matched), else 0 (also on
 * failure). */
enum claw_rc cp_store_exec_any(PGconn *c, struct claw_db_stmt *st, int n,
			       const char *const *p, int *any);

/* Run st with its one parameter arg; rows may be NULL (keep none). */
enum claw_rc cp_store_exec1(PGconn *c, struct claw_db_stmt *st, const char *arg,
			    PGresult **rows);
/* Run st (a page of a list, newest first) with $1 key (may be NULL), $2
 * before_seq (0: from the newest) and $3 limit. */
enum claw_rc cp_store_exec_page(PGconn *c, struct claw_db_stmt *st,
				const char *key, long long before_seq,
				int limit, PGresult **rows);
/* Run st (a query of one boolean value): *out is true when its first row's
 * first value is true; false on no row or a failure. */
enum claw_rc cp_store_exec_bool(PGconn *c, struct claw_db_stmt *st, int n,
				const char *const *p, bool *out);
/* Run st (an INSERT, UPDATE or DELETE) and keep no rows: *changed is true
 * when it affected a row; false also on failure. */
enum claw_rc cp_store_exec_changed(PGconn *c, struct claw_db_stmt *st, int n,
				   const char *const *p, bool *changed);

/* Run st (a query of one integer): its first row's first value. */
enum claw_rc cp_store_exec_ll(PGconn *c, struct claw_db_stmt *st, int n,
			      const char *const *p, long long *out);

/* PQclear(*r) and *r = NULL: drops the rows a transaction body kept from
 * an earlier try before it runs again. */
void cp_store_clear(PGresult **r);

/* BEGIN and COMMIT on c. A connection given back to the pool inside a
 * transaction is rolled back (claw_db_release). */
enum claw_rc cp_store_begin(PGconn *c);
enum claw_rc cp_store_commit(PGconn *c);

#endif
