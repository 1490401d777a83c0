/*
 * master_keys.c - the start-up check's queries on master_keys; see
 * master_keys.h. Rotation's own are in secrets_rotate.c.
 */
#include "store/master_keys.h"

#include <stdio.h>

#include "claw/db.h"

/* pg_advisory_xact_lock(CLAW, 1): one start-up check at a time. */
static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_mk_start_lock", "SELECT pg_advisory_xact_lock(1668047223, 1)");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_mk_start_list",
	"SELECT m.version, m.kcv, (SELECT count(*) FROM tenant_data_keys d"
	" WHERE d.mk_version = m.version) FROM master_keys m ORDER BY version");
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_mk_start_insert",
	"INSERT INTO master_keys (version, kcv) VALUES ($1::integer, $2)"
	" ON CONFLICT (version) DO NOTHING");

enum claw_rc cp_store_mk_check_lock(PGconn *c)
{
	return claw_db_exec(c, &st_lock, 0, NULL, NULL);
}

enum claw_rc cp_store_mk_list(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_list, 0, NULL, rows);
}

enum claw_rc cp_store_mk_record(PGconn *c, unsigned version, const char *kcv)
{
	char ver[16];
	const char *p[2] = {ver, kcv};

	snprintf(ver, sizeof(ver), "%u", version);
	return claw_db_exec(c, &st_insert, 2, p, NULL);
}
