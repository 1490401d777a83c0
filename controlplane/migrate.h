/*
 * migrate.h - the schema migration runner.
 */
#ifndef CP_MIGRATE_H
#define CP_MIGRATE_H

#include <stddef.h>
#include <libpq-fe.h>

/* Apply every migrations/NNNN_name.sql of dir not applied yet, in order,
 * each in its own transaction, while holding a PostgreSQL advisory lock (so
 * several daemons starting at once apply each file once). The BLAKE2b
 * checksum of each file is recorded in schema_migrations; start-up is
 * refused when an applied file was changed or is missing. *latest gets the
 * highest version. Returns 0, or -1 with errbuf saying what to do. */
int cp_migrate(PGconn *conn, const char *dir, int *latest, char *errbuf,
	       size_t errlen);

/* The highest applied version on conn (0 when none); -1 on error. */
int cp_migrate_current(PGconn *conn);

#endif
