/*
 * audit_verify.c - re-hash the audit chain from the database.
 *
 * Rows are read in id order, a page at a time, in one REPEATABLE READ
 * snapshot, and fed to cp_audit_chain_check(). The chain head must then
 * name the last row and its hash, or rows were removed from the end.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "claw/db.h"

#define VERIFY_PAGE "500"

static struct claw_db_stmt page_stmt = CLAW_DB_STMT(
	"cp_audit_verify_page",
	"SELECT id, (extract(epoch FROM time) * 1000000)::bigint, actor_id,"
	" actor_role, action, target, tenant_id, request_id, source_addr,"
	" details::text, prev_hash, hash"
	" FROM audit_log WHERE id > $1::bigint ORDER BY id LIMIT " VERIFY_PAGE);

static struct claw_db_stmt head_stmt =
	CLAW_DB_STMT("cp_audit_verify_head",
		     "SELECT last_id, last_hash FROM audit_chain_head");

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* Feed one page; *last gets the last id read, *n the rows read. */
static enum claw_rc check_page(PGconn *conn, struct cp_audit_chain *c,
			       long long *last, int *n)
{
	PGresult *res;
	char after[32];
	const char *params[1] = {after};
	enum claw_rc rc;
	int i;

	snprintf(after, sizeof(after), "%lld", *last);
	rc = claw_db_exec(conn, &page_stmt, 1, params, &res);
	if (rc)
		return rc;
	*n = PQntuples(res);
	for (i = 0; i < *n; i++) {
		struct cp_audit_row row = {
			.id = strtoll(PQgetvalue(res, i, 0), NULL, 10),
			.time_us = strtoll(PQgetvalue(res, i, 1), NULL, 10),
			.actor_id = col(res, i, 2),
			.actor_role = col(res, i, 3),
			.action = col(res, i, 4),
			.target = col(res, i, 5),
			.tenant_id = col(res, i, 6),
			.request_id = col(res, i, 7),
			.source_addr = col(res, i, 8),
			.details = col(res, i, 9),
		};

		*last = row.id;
		if (!cp_audit_chain_check(c, &row, col(res, i, 10),
					  col(res, i, 11)))
			break;
	}
	PQclear(res);
	return CLAW_OK;
}

static enum claw_rc check_head(PGconn *conn, struct cp_audit_chain *c,
			       long long last_id)
{
	PGresult *res = NULL;
	enum claw_rc rc;
	long long head_id;

	rc = claw_db_exec(conn, &head_stmt, 0, NULL, &res);
	if (rc)
		return rc;
	if (PQntuples(res) != 1) {
		c->broken_id = last_id + 1;
		c->reason = "the audit chain head row is missing";
		goto out;
	}
	head_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (head_id != last_id || strcmp(PQgetvalue(res, 0, 1), c->prev)) {
		c->broken_id = head_id > last_id ? head_id : last_id;
		c->reason = "the chain head does not name the last row "
			    "(rows were removed from the end)";
	}
out:
	PQclear(res);
	return rc;
}

enum claw_rc cp_audit_verify(PGconn *conn, struct cp_audit_verify_result *out)
{
	struct cp_audit_chain c;
	bool own_tx = PQtransactionStatus(conn) == PQTRANS_IDLE;
	long long last = 0;
	enum claw_rc rc;
	int n;

	cp_audit_chain_init(&c);
	if (own_tx) {
		rc = claw_db_exec_sql(conn,
				      "BEGIN ISOLATION LEVEL "
				      "REPEATABLE READ READ ONLY",
				      NULL);
		if (rc)
			return rc;
	}
	do {
		rc = check_page(conn, &c, &last, &n);
		if (rc)
			goto out;
	} while (n > 0 && !c.broken_id);
	if (!c.broken_id)
		rc = check_head(conn, &c, last);
out:
	if (own_tx) {
		enum claw_rc end = claw_db_exec_sql(
			conn, rc ? "ROLLBACK" : "COMMIT", NULL);

		if (!rc)
			rc = end;
	}
	if (!rc) {
		out->rows_checked = c.rows_checked;
		out->broken_id = c.broken_id;
		out->reason = c.reason;
	}
	return rc;
}
