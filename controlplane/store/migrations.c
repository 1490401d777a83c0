/*
 * migrations.c - schema_migrations and the runner's lock; see
 * migrations.h. A file runs as one multi-statement query inside
 * BEGIN ... COMMIT with its bookkeeping row, so it is applied whole or not
 * at all.
 */
#include "store/migrations.h"

#include <stdio.h>
#include <stdlib.h>

#include "claw/db.h"
#include "store/common.h"

#define MIGRATE_LOCK_KEY "7238497001" /* any fixed number: "the runner" */

static struct claw_db_stmt st_applied =
	CLAW_DB_STMT("cp_migrate_applied",
		     "SELECT version, name, checksum FROM schema_migrations "
		     "ORDER BY version");
static struct claw_db_stmt st_record =
	CLAW_DB_STMT("cp_migrate_record",
		     "INSERT INTO schema_migrations (version, name, checksum) "
		     "VALUES ($1::int, $2, $3)");
static struct claw_db_stmt st_current =
	CLAW_DB_STMT("cp_migrate_current",
		     "SELECT coalesce(max(version), 0) FROM schema_migrations");

enum claw_rc cp_store_migrations_lock(PGconn *c)
{
	return claw_db_exec_sql(
		c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", NULL);
}

void cp_store_migrations_unlock(PGconn *c)
{
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
}

enum claw_rc cp_store_migrations_table(PGconn *c)
{
	return claw_db_exec_sql(c,
				"CREATE TABLE IF NOT EXISTS schema_migrations ("
				" version int PRIMARY KEY,"
				" name text NOT NULL,"
				" checksum text NOT NULL,"
				" applied_at timestamptz NOT NULL DEFAULT "
				"now())",
				NULL);
}

enum claw_rc cp_store_migrations_applied(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_applied, 0, NULL, rows);
}

enum claw_rc cp_store_migration_apply(PGconn *c, int version, const char *name,
				      const char *checksum, const char *sql,
				      char *sqlerr, size_t errlen)
{
	char v[16];
	const char *params[3] = {v, name, checksum};
	enum claw_rc rc;

	snprintf(v, sizeof(v), "%d", version);
	rc = claw_db_exec_sql(c, "BEGIN", NULL);
	if (rc)
		goto fail;
	if (claw_db_exec_sql(c, sql, NULL)) {
		snprintf(sqlerr, errlen, "%.300s", PQerrorMessage(c));
		PQclear(PQexec(c, "ROLLBACK"));
		return CLAW_ERR_PARSE;
	}
	rc = claw_db_exec(c, &st_record, 3, params, NULL);
	if (!rc)
		rc = claw_db_exec_sql(c, "COMMIT", NULL);
	if (!rc)
		return CLAW_OK;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

enum claw_rc cp_store_migrations_current(PGconn *c, int *version)
{
	PGresult *r = NULL;
	long long v = 0;
	enum claw_rc rc = claw_db_exec(c, &st_current, 0, NULL, &r);

	if (!rc)
		rc = cp_store_ll(r, 0, 0, &v);
	PQclear(r);
	if (!rc)
		*version = (int)v;
	return rc;
}
