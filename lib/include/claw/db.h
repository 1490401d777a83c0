/*
 * db.h - a PostgreSQL connection pool over libpq.
 *
 * The pool holds up to max_conns connections, opened lazily and reopened
 * when they break; when one is found broken the idle ones are closed too
 * (they most likely lead to the same server, gone in a failover), so the
 * next acquires connect afresh through the URL's host list. A thread
 * takes one with claw_db_acquire and gives it back with claw_db_release; a
 * connection is used by one thread at a time. A released connection stays
 * claimed by its thread while nobody waits, so the thread's next acquire
 * gets the same one back without a lock (a pooled connection per thread);
 * others take claimed ones only once the pool is at max_conns.
 *
 * Statements are declared once (static struct claw_db_stmt, a unique name
 * and SQL with $1.. placeholders), prepared by name the first time they run
 * on a connection and reused after that; parameters are always bound, never
 * spliced into SQL. claw_db_tx runs a function inside BEGIN ... COMMIT and
 * runs it again (a few times, with a short backoff) when PostgreSQL reports
 * a serialization failure (40001) or a deadlock (40P01), so the function
 * must have no effect outside the database, or reset it at its start.
 *
 * The SQLSTATE of the last failed statement of the calling thread is kept
 * (as errno is): claw_db_last_sqlstate().
 *
 * Ownership: results handed out (PGresult) are the caller's (PQclear).
 * Never pass a secret as text to a log; claw_db logs the primary message of
 * failures, never parameters or the DETAIL field.
 */
#ifndef CLAW_DB_H
#define CLAW_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "claw/err.h"

struct claw_db;

struct claw_db_stmt {
	const char *name; /* unique in the process: "cp_tenant_get" */
	const char *sql;  /* one statement, $1..$n placeholders */
	int id;           /* internal: assigned at first use; start at 0 */
};
/* static struct claw_db_stmt st = CLAW_DB_STMT("x_get", "SELECT ..."); */
#define CLAW_DB_STMT(name, sql)                                                \
	{                                                                      \
		(name), (sql), 0                                               \
	}

enum claw_db_isolation {
	CLAW_DB_READ_COMMITTED,
	CLAW_DB_REPEATABLE_READ,
	CLAW_DB_SERIALIZABLE,
};

struct claw_db_stats {
	unsigned size;    /* connections open now */
	unsigned in_use;  /* acquired now */
	unsigned max;     /* ceiling */
	unsigned waiting; /* threads waiting in claw_db_acquire now */
	unsigned long long acquires; /* total acquires since open */
	unsigned long long waits;    /* acquires that had to wait */
	unsigned long long errors;   /* connection failures */
};

/* conninfo: a libpq URL or "key=value" string. The first connection is
 * opened now, so a wrong URL fails here with errbuf saying why (the
 * password, if any, is not repeated). */
enum claw_rc claw_db_open(const char *conninfo, unsigned max_conns,
			  struct claw_db **out, char *errbuf, size_t errlen);
/* claw_db_open with `reserve` more connections that only
 * claw_db_acquire_reserved takes: a lane for short calls that must not
 * queue behind a busy pool (a node's heartbeat, whose lateness marks the
 * node down). */
enum claw_rc claw_db_open_reserve(const char *conninfo, unsigned max_conns,
				  unsigned reserve, struct claw_db **out,
				  char *errbuf, size_t errlen);
/* Close every connection and free. All connections must be released.
 * NULL is a no-op. */
void claw_db_close(struct claw_db *db);

/* Take a connection (waits while all max_conns are busy). NULL when no
 * connection can be opened (logged); the caller answers 503. */
PGconn *claw_db_acquire(struct claw_db *db);
/* claw_db_acquire that may also take the reserved lane's connections
 * (claw_db_open_reserve); it waits only when every connection is busy. */
PGconn *claw_db_acquire_reserved(struct claw_db *db);
/* Give it back. A connection left inside a transaction is rolled back; a
 * broken one is closed and reopened on a later acquire. */
void claw_db_release(struct claw_db *db, PGconn *conn);

/* Run a declared statement on conn (one the calling thread acquired from a
 * pool). params: nparams NUL-terminated texts (NULL entries are SQL NULL).
 * On success (command or rows) returns CLAW_OK and stores the result in
 * *res when res is non-NULL (caller PQclears), else clears it. On failure
 * returns:
 *   CLAW_ERR_INVALID   a constraint or data error (SQLSTATE classes 22, 23)
 *   CLAW_ERR_IO        the connection broke
 *   CLAW_ERR_INTERNAL  anything else (logged)
 * and claw_db_last_sqlstate() tells which. */
enum claw_rc claw_db_exec(PGconn *conn, struct claw_db_stmt *st, int nparams,
			  const char *const *params, PGresult **res);

/* Run SQL text without parameters (BEGIN, migration files, SET ...). Same
 * results as claw_db_exec. Never use it with values from outside. */
enum claw_rc claw_db_exec_sql(PGconn *conn, const char *sql, PGresult **res);

/* SQLSTATE of this thread's last failed statement ("" after a success). */
const char *claw_db_last_sqlstate(void);

/* True for 40001 and 40P01: the transaction may be run again. */
bool claw_db_retryable(const char *sqlstate);

typedef enum claw_rc (*claw_db_tx_fn)(PGconn *conn, void *cls);

/* BEGIN ISOLATION LEVEL iso; fn(conn, cls); COMMIT on CLAW_OK, ROLLBACK on
 * anything else (fn's result is returned). Retried up to 5 times when a
 * statement or the COMMIT failed with a retryable SQLSTATE. */
enum claw_rc claw_db_tx_conn(PGconn *conn, enum claw_db_isolation iso,
			     claw_db_tx_fn fn, void *cls);
/* The same on a connection acquired (and released) here; CLAW_ERR_IO when
 * none could be had. */
enum claw_rc claw_db_tx(struct claw_db *db, enum claw_db_isolation iso,
			claw_db_tx_fn fn, void *cls);

void claw_db_get_stats(struct claw_db *db, struct claw_db_stats *out);

/* Value at (row, col), or NULL when there is no such row or it is SQL
 * NULL. Borrowed from res. */
const char *claw_db_value(const PGresult *res, int row, int col);

#endif
