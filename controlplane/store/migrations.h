/*
 * migrations.h - the bookkeeping of the migration runner (migrate.c):
 * schema_migrations, the runner's advisory lock, and applying one file with
 * its row in one transaction (store/migrations.c). Plain statements on the
 * caller's connection, outside any transaction of the caller's.
 */
#ifndef CP_STORE_MIGRATIONS_H
#define CP_STORE_MIGRATIONS_H

#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* The runner's session advisory lock: several daemons starting at once
 * apply each file once. */
enum claw_rc cp_store_migrations_lock(PGconn *c);
void cp_store_migrations_unlock(PGconn *c);

/* Create schema_migrations when it is missing. */
enum claw_rc cp_store_migrations_table(PGconn *c);

/* Columns of the applied rows. */
enum cp_migration_col {
	CP_MC_VERSION,
	CP_MC_NAME,
	CP_MC_CHECKSUM
};
/* The applied migrations in version order. */
enum claw_rc cp_store_migrations_applied(PGconn *c, PGresult **rows);

/* Run sql (the file's text, several statements) and record version, name
 * and checksum, in one transaction: all or nothing. When sql itself fails,
 * CLAW_ERR_PARSE with sqlerr holding the server's message; any other
 * failure (BEGIN, the row, COMMIT) is the rc of that statement. */
enum claw_rc cp_store_migration_apply(PGconn *c, int version, const char *name,
				      const char *checksum, const char *sql,
				      char *sqlerr, size_t errlen);

/* The highest applied version (0 when none). */
enum claw_rc cp_store_migrations_current(PGconn *c, int *version);

#endif
