/*
 * audit_checkpoint.c - read the audit chain head for a checkpoint, and ask
 * what the daemon's role may do to the audit log; see audit_checkpoint.h.
 */
#include "store/audit_checkpoint.h"

#include <stdio.h>
#include <string.h>

#include "claw/db.h"
#include "store/common.h"

static struct claw_db_stmt head_stmt = CLAW_DB_STMT(
	"cp_audit_ckpt_head",
	"SELECT last_id, row_count, last_hash FROM audit_chain_head");

static struct claw_db_stmt role_stmt =
	CLAW_DB_STMT("cp_audit_ckpt_role",
		     "SELECT has_table_privilege('audit_log', 'UPDATE')"
		     " OR has_table_privilege('audit_log', 'DELETE')"
		     " OR has_table_privilege('audit_log', 'TRUNCATE')"
		     " OR pg_has_role(c.relowner, 'MEMBER')"
		     " FROM pg_class c WHERE c.oid = 'audit_log'::regclass");

enum claw_rc cp_store_audit_head_read(PGconn *c, struct cp_audit_head *out)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &head_stmt, 0, NULL, &r);
	const char *hash;

	if (rc)
		return rc;
	rc = CLAW_ERR_NOT_FOUND;
	if (PQntuples(r) != 1)
		goto out;
	rc = cp_store_ll(r, 0, 0, &out->last_id);
	if (!rc)
		rc = cp_store_ll(r, 0, 1, &out->rows);
	hash = PQgetvalue(r, 0, 2);
	if (!rc && strlen(hash) != 64)
		rc = CLAW_ERR_INTERNAL;
	if (!rc)
		memcpy(out->hash, hash, sizeof(out->hash));
out:
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_audit_role_can_change(PGconn *c, bool *can_change)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &role_stmt, 0, NULL, &r);

	if (rc)
		return rc;
	*can_change = PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "f");
	PQclear(r);
	return CLAW_OK;
}
