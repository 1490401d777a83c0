/*
 * master_keys.c - the queries on master_keys that record a version: the
 * start-up check's and rotation's (see master_keys.h). Rotation's other
 * queries are in secrets_rotate.c.
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
#define MK_INSERT                                                              \
	"INSERT INTO master_keys (version, kcv) VALUES ($1::integer, $2)"
static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"cp_mk_start_insert", MK_INSERT " ON CONFLICT (version) DO NOTHING");
static struct claw_db_stmt st_insert_new =
	CLAW_DB_STMT("cp_mk_insert_new", MK_INSERT);

enum claw_rc cp_store_mk_check_lock(PGconn *c)
{
	return claw_db_exec(c, &st_lock, 0, NULL, NULL);
}

enum claw_rc cp_store_mk_list(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_list, 0, NULL, rows);
}

static enum claw_rc insert(PGconn *c, struct claw_db_stmt *st, unsigned version,
			   const char *kcv)
{
	char ver[16];
	const char *p[2] = {ver, kcv};

	snprintf(ver, sizeof(ver), "%u", version);
	return claw_db_exec(c, st, 2, p, NULL);
}

enum claw_rc cp_store_mk_record(PGconn *c, unsigned version, const char *kcv)
{
	return insert(c, &st_insert, version, kcv);
}

enum claw_rc cp_store_mk_insert(PGconn *c, unsigned version, const char *kcv)
{
	return insert(c, &st_insert_new, version, kcv);
}
