/*
 * common.c - typed values out of query results, a statement run for
 * whether it matched, and plain transaction control; see common.h.
 */
#include "store/common.h"

#include <errno.h>
#include <stdlib.h>

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

enum claw_rc cp_store_begin(PGconn *c)
{
	return claw_db_exec_sql(c, "BEGIN", NULL);
}

enum claw_rc cp_store_commit(PGconn *c)
{
	return claw_db_exec_sql(c, "COMMIT", NULL);
}

enum claw_rc cp_store_exec_any(PGconn *c, struct claw_db_stmt *st, int n,
			       const char *const *p, int *any)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, st, n, p, &r);

	*any = !rc && PQntuples(r) > 0;
	PQclear(r);
	return rc;
}
