/*
 * common.c - typed values out of query results, a statement run for
 * whether it matched, and plain transaction control; see common.h.
 */
#include "store/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "claw/log.h"

enum claw_rc cp_store_ll(const PGresult *res, int row, int col, long long *out)
{
	const char *s = claw_db_value(res, row, col);
	char *end;
	long long v;

	if (!s || !*s) {
		log_error("query result row %d column %d: no integer", row,
			  col);
		return CLAW_ERR_INTERNAL;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end) {
		log_error("query result row %d column %d: '%.32s' is not an "
			  "integer",
			  row, col, s);
		return CLAW_ERR_INTERNAL;
	}
	*out = v;
	return CLAW_OK;
}

enum claw_rc cp_store_one_row(enum claw_rc rc, PGresult **row)
{
	if (!rc && PQntuples(*row) == 0) {
		PQclear(*row);
		*row = NULL;
		return CLAW_ERR_NOT_FOUND;
	}
	return rc;
}

void cp_store_clear(PGresult **r)
{
	PQclear(*r);
	*r = NULL;
}

enum claw_rc cp_store_begin(PGconn *c)
{
	return claw_db_exec_sql(c, "BEGIN", NULL);
}

enum claw_rc cp_store_commit(PGconn *c)
{
	return claw_db_exec_sql(c, "COMMIT", NULL);
}

enum claw_rc cp_store_exec1(PGconn *c, struct claw_db_stmt *st, const char *arg,
			    PGresult **rows)
{
	const char *p[1] = {arg};

	return claw_db_exec(c, st, 1, p, rows);
}

enum claw_rc cp_store_exec_page(PGconn *c, struct claw_db_stmt *st,
				const char *key, long long before_seq,
				int limit, PGresult **rows)
{
	char before[24], lim[16];
	const char *p[3] = {key, before, lim};

	snprintf(before, sizeof(before), "%lld", before_seq);
	snprintf(lim, sizeof(lim), "%d", limit);
	return claw_db_exec(c, st, 3, p, rows);
}

/* What exec_test tells of a statement's result. */
enum test {
	T_ANY_ROW, /* it returned a row */
	T_TRUE,    /* its first value is true */
	T_CHANGED, /* it affected a row */
};

static enum claw_rc exec_test(PGconn *c, struct claw_db_stmt *st, int n,
			      const char *const *p, enum test t, bool *out)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, st, n, p, &r);

	*out = false;
	if (!rc && t == T_ANY_ROW)
		*out = PQntuples(r) > 0;
	else if (!rc && t == T_TRUE)
		*out = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	else if (!rc)
		*out = strcmp(PQcmdTuples(r), "0") != 0;
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_exec_any(PGconn *c, struct claw_db_stmt *st, int n,
			       const char *const *p, int *any)
{
	bool b;
	enum claw_rc rc = exec_test(c, st, n, p, T_ANY_ROW, &b);

	*any = b;
	return rc;
}

enum claw_rc cp_store_exec_bool(PGconn *c, struct claw_db_stmt *st, int n,
				const char *const *p, bool *out)
{
	return exec_test(c, st, n, p, T_TRUE, out);
}

enum claw_rc cp_store_exec_changed(PGconn *c, struct claw_db_stmt *st, int n,
				   const char *const *p, bool *changed)
{
	return exec_test(c, st, n, p, T_CHANGED, changed);
}

enum claw_rc cp_store_exec_ll(PGconn *c, struct claw_db_stmt *st, int n,
			      const char *const *p, long long *out)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, st, n, p, &r);

	if (!rc)
		rc = cp_store_ll(r, 0, 0, out);
	PQclear(r);
	return rc;
}
