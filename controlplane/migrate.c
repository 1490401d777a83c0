/*
 * migrate.c - applies migrations/NNNN_name.sql in order under an advisory
 * lock and keeps schema_migrations (version, name, checksum, applied_at).
 *
 * A file runs as one multi-statement query inside BEGIN ... COMMIT with its
 * bookkeeping row, so a file is applied whole or not at all; it must not
 * contain its own BEGIN/COMMIT.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/db.h"
#include "claw/log.h"

#define MIGRATE_LOCK_KEY "7238497001" /* any fixed number: "the runner" */
#define MIGRATION_MAX_BYTES (4u * 1024 * 1024)
#define MIGRATIONS_MAX 1000

struct migration {
	int version;
	char name[128]; /* file name */
};

static struct claw_db_stmt st_applied = CLAW_DB_STMT(
	"cp_migrate_applied",
	"SELECT version, name, checksum FROM schema_migrations "
	"ORDER BY version");
static struct claw_db_stmt st_record = CLAW_DB_STMT(
	"cp_migrate_record",
	"INSERT INTO schema_migrations (version, name, checksum) "
	"VALUES ($1::int, $2, $3)");
static struct claw_db_stmt st_current = CLAW_DB_STMT(
	"cp_migrate_current",
	"SELECT coalesce(max(version), 0) FROM schema_migrations");

/* "0001_core.sql" -> 1; -1 when the name is not a migration's. */
static int parse_name(const char *n)
{
	size_t len = strlen(n);

	if (len < 10 || len >= sizeof(((struct migration *)0)->name) ||
	    strcmp(n + len - 4, ".sql") != 0 || n[4] != '_')
		return -1;
	for (int i = 0; i < 4; i++)
		if (n[i] < '0' || n[i] > '9')
			return -1;
	for (size_t i = 5; i < len - 4; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
			return -1;
	return (n[0] - '0') * 1000 + (n[1] - '0') * 100 + (n[2] - '0') * 10 +
	       (n[3] - '0');
}

static int cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static int list_dir(const char *dir, struct migration **out, size_t *n,
		    char *errbuf, size_t errlen)
{
	struct migration *m = NULL;
	size_t count = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		snprintf(errbuf, errlen,
			 "unable to open migrations directory '%s': %s; set "
			 "--migrations-dir", dir, strerror(errno));
		return -1;
	}
	m = calloc(MIGRATIONS_MAX, sizeof(*m));
	if (!m) {
		closedir(d);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	while ((e = readdir(d))) {
		int v = parse_name(e->d_name);

		if (v < 0)
			continue;
		if (count == MIGRATIONS_MAX) {
			snprintf(errbuf, errlen, "too many migrations in '%s'",
				 dir);
			goto fail;
		}
		m[count].version = v;
		memcpy(m[count].name, e->d_name, strlen(e->d_name) + 1);
		count++;
	}
	closedir(d);
	d = NULL;
	qsort(m, count, sizeof(*m), cmp_migration);
	for (size_t i = 1; i < count; i++) {
		if (m[i].version == m[i - 1].version) {
			snprintf(errbuf, errlen,
				 "migrations '%s' and '%s' share a number; "
				 "renumber one", m[i - 1].name, m[i].name);
			goto fail;
		}
	}
	*out = m;
	*n = count;
	return 0;
fail:
	if (d)
		closedir(d);
	free(m);
	return -1;
}

static int read_file(const char *dir, const char *name, struct claw_buf *b,
		     char *errbuf, size_t errlen)
{
	char path[4096], chunk[8192];
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f) {
		snprintf(errbuf, errlen, "unable to read migration '%s': %s",
			 path, strerror(errno));
		return -1;
	}
	claw_buf_init(b, MIGRATION_MAX_BYTES);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (claw_buf_append(b, chunk, got)) {
			fclose(f);
			claw_buf_release(b);
			snprintf(errbuf, errlen,
				 "migration '%s' is over %u bytes", path,
				 MIGRATION_MAX_BYTES);
			return -1;
		}
	}
	fclose(f);
	if (!b->data)
		claw_buf_puts(b, "");
	return 0;
}

static int apply_one(PGconn *c, const char *dir, const struct migration *m,
		     const char *sql, const char *sum, char *errbuf,
		     size_t errlen)
{
	char version[16];
	const char *params[3] = {version, m->name, sum};

	snprintf(version, sizeof(version), "%d", m->version);
	if (claw_db_exec_sql(c, "BEGIN", NULL))
		goto fail;
	if (claw_db_exec_sql(c, sql, NULL)) {
		const char *msg = PQerrorMessage(c);

		snprintf(errbuf, errlen, "migration '%s/%s' failed: %.300s",
			 dir, m->name, msg);
		PQclear(PQexec(c, "ROLLBACK"));
		return -1;
	}
	if (claw_db_exec(c, &st_record, 3, params, NULL) ||
	    claw_db_exec_sql(c, "COMMIT", NULL))
		goto fail;
	log_info("migration %s applied", m->name);
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	snprintf(errbuf, errlen, "unable to record migration '%s': %s",
		 m->name, claw_db_last_sqlstate());
	return -1;
}

/* Check applied rows against the files, and apply the missing ones. */
static int migrate_locked(PGconn *c, const char *dir, struct migration *m,
			  size_t n, char *errbuf, size_t errlen)
{
	PGresult *applied = NULL;
	int rc = -1, rows;

	if (claw_db_exec_sql(c,
			     "CREATE TABLE IF NOT EXISTS schema_migrations ("
			     " version int PRIMARY KEY,"
			     " name text NOT NULL,"
			     " checksum text NOT NULL,"
			     " applied_at timestamptz NOT NULL DEFAULT now())",
			     NULL) ||
	    claw_db_exec(c, &st_applied, 0, NULL, &applied)) {
		snprintf(errbuf, errlen,
			 "unable to read schema_migrations (%s)",
			 claw_db_last_sqlstate());
		return -1;
	}
	rows = PQntuples(applied);
	for (int r = 0; r < rows; r++) {
		int v = (int)strtol(PQgetvalue(applied, r, 0), NULL, 10);
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || m[i].version == v;
		if (!found) {
			snprintf(errbuf, errlen,
				 "the database has migration '%s' that '%s' "
				 "lacks; run the claw-controlplane that "
				 "applied it, or a newer one",
				 PQgetvalue(applied, r, 1), dir);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct claw_buf sql;
		char sum[65];
		int r;

		if (read_file(dir, m[i].name, &sql, errbuf, errlen))
			goto out;
		claw_blake2b_hex(sql.data, sql.len, sum);
		for (r = 0; r < rows; r++)
			if (strtol(PQgetvalue(applied, r, 0), NULL, 10) ==
			    m[i].version)
				break;
		if (r < rows) {
			if (strcmp(PQgetvalue(applied, r, 2), sum) != 0) {
				snprintf(errbuf, errlen,
					 "migration '%s/%s' was changed after "
					 "it was applied (checksum %.12s..., "
					 "recorded %.12s...); restore the "
					 "applied file and put changes in a "
					 "new migration", dir, m[i].name, sum,
					 PQgetvalue(applied, r, 2));
				claw_buf_release(&sql);
				goto out;
			}
		} else if (apply_one(c, dir, &m[i], sql.data, sum, errbuf,
				     errlen)) {
			claw_buf_release(&sql);
			goto out;
		}
		claw_buf_release(&sql);
	}
	rc = 0;
out:
	PQclear(applied);
	return rc;
}

int cp_migrate(PGconn *conn, const char *dir, int *latest, char *errbuf,
	       size_t errlen)
{
	struct migration *m = NULL;
	size_t n = 0;
	int rc;

	if (list_dir(dir, &m, &n, errbuf, errlen))
		return -1;
	if (n == 0) {
		snprintf(errbuf, errlen, "no migrations found in '%s'", dir);
		free(m);
		return -1;
	}
	if (claw_db_exec_sql(conn,
			     "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
			     NULL)) {
		snprintf(errbuf, errlen,
			 "unable to take the migration lock (%s)",
			 claw_db_last_sqlstate());
		free(m);
		return -1;
	}
	rc = migrate_locked(conn, dir, m, n, errbuf, errlen);
	PQclear(PQexec(conn,
		       "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	if (!rc)
		*latest = m[n - 1].version;
	free(m);
	return rc;
}

int cp_migrate_current(PGconn *conn)
{
	PGresult *r = NULL;
	int v;

	if (claw_db_exec(conn, &st_current, 0, NULL, &r))
		return -1;
	v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}
