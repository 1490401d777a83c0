/*
 * audit_append.c - lock the audit chain head and insert a row; see
 * audit_append.h. Statements go through claw_db_exec, so a serialization
 * failure is seen by the caller's claw_db_tx and the whole transaction is
 * retried.
 *
 * The head is locked through audit_head_lock() and moved by the
 * audit_log_extend_head trigger, both running as the schema's owner
 * (migrations/0006_audit_roles.sql): the daemon's role needs only SELECT and
 * INSERT on the audit tables, and the trigger refuses a row that does not
 * extend the head.
 */
#include "store/audit_append.h"

#include <stdio.h>

#include "claw/db.h"

static struct claw_db_stmt lock_stmt = CLAW_DB_STMT(
	"cp_audit_lock",
	"SELECT h.last_hash,"
	" nextval(pg_get_serial_sequence('audit_log', 'id')),"
	" (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,"
	" $1::jsonb::text"
	" FROM audit_head_lock() h");

static struct claw_db_stmt insert_stmt = CLAW_DB_STMT(
	"cp_audit_insert",
	"INSERT INTO audit_log (id, time, actor_id, actor_role,"
	" action, target, tenant_id, request_id, source_addr, details,"
	" prev_hash, hash) VALUES ($1::bigint,"
	" timestamptz 'epoch' + $2::bigint * interval '1 microsecond',"
	" $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12)");

enum claw_rc cp_store_audit_head(PGconn *c, const char *details, PGresult **row)
{
	const char *p[1] = {details};

	return claw_db_exec(c, &lock_stmt, 1, p, row);
}

enum claw_rc cp_store_audit_insert(PGconn *c, const struct cp_audit_row *row,
				   const char *prev_hash, const char *hash)
{
	char id[32], t[32];
	const char *p[12] = {id,
			     t,
			     row->actor_id,
			     row->actor_role,
			     row->action,
			     row->target,
			     row->tenant_id,
			     row->request_id,
			     row->source_addr,
			     row->details,
			     prev_hash,
			     hash};

	snprintf(id, sizeof(id), "%lld", row->id);
	snprintf(t, sizeof(t), "%lld", row->time_us);
	return claw_db_exec(c, &insert_stmt, 12, p, NULL);
}
