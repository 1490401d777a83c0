/*
 * audit_list.c - read the audit log newest first, filtered, a page at a
 * time (the cursor is the last id seen).
 */
#include "audit_list.h"

#include <stdio.h>

#include "claw/db.h"
#include "store/ts.h"

static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_audit_list",
	"SELECT id, " CP_TS(
		"time") ", actor_id, actor_role, action, target,"
			" tenant_id, request_id, source_addr, details::text, "
			"prev_hash, hash"
			" FROM audit_log"
			" WHERE ($1::text IS NULL OR tenant_id = $1)"
			" AND ($2::text IS NULL OR actor_id = $2)"
			" AND ($3::text IS NULL OR action = $3)"
			" AND ($4::timestamptz IS NULL OR time >= "
			"$4::timestamptz)"
			" AND ($5::timestamptz IS NULL OR time < "
			"$5::timestamptz)"
			" AND ($6::bigint IS NULL OR id < $6::bigint)"
			" ORDER BY id DESC LIMIT $7::integer");

enum claw_rc cp_audit_list(PGconn *conn, const struct cp_audit_filter *f,
			   PGresult **rows)
{
	char before[24], limit[16];
	const char *params[7] = {f->tenant_id, f->actor_id, f->action, f->since,
				 f->until,     NULL,        limit};

	if (f->before_id > 0) {
		snprintf(before, sizeof(before), "%lld", f->before_id);
		params[5] = before;
	}
	snprintf(limit, sizeof(limit), "%d", f->limit);
	return claw_db_exec(conn, &st_list, 7, params, rows);
}
