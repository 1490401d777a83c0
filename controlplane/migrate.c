/*
 * migrate.c - applies migrations/NNNN_name.sql in order under an advisory
 * lock and keeps schema_migrations (version, name, checksum, applied_at).
 *
 * A file runs as one multi-statement query inside BEGIN ... COMMIT with its
 * bookkeeping row, so a file is applied whole or not at all; it must not
 * contain its own BEGIN/COMMIT. The bookkeeping SQL is in
 * store/migrations.c.
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
#include "claw/file.h"
#include "claw/log.h"
#include "store/migrations.h"

#define MIGRATION_MAX_BYTES (4u * 1024 * 1024)
#define MIGRATIONS_MAX 1000

struct migration {
	int version;
	char name[128]; /* file name */
};

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
			 "--migrations-dir",
			 dir, strerror(errno));
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
				 "renumber one",
				 m[i - 1].name, m[i].name);
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
	char path[4096];
	enum claw_rc rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	claw_buf_init(b, MIGRATION_MAX_BYTES);
	rc = claw_file_read(path, b);
	if (rc == CLAW_ERR_TOO_LARGE)
		snprintf(errbuf, errlen, "migration '%s' is over %u bytes",
			 path, MIGRATION_MAX_BYTES);
	else if (rc == CLAW_ERR_INVALID)
		snprintf(errbuf, errlen,
			 "unable to read migration '%s': not "
			 "a regular file",
			 path);
	else if (rc == CLAW_ERR_IO)
		snprintf(errbuf, errlen, "unable to read migration '%s': %s",
			 path, strerror(errno));
	else if (rc)
		snprintf(errbuf, errlen, "unable to read migration '%s': %s",
			 path, claw_strerror(rc));
	if (!rc && !b->data && claw_buf_puts(b, "")) {
		snprintf(errbuf, errlen, "out of memory");
		rc = CLAW_ERR_NOMEM;
	}
	if (rc) {
		claw_buf_release(b);
		return -1;
	}
	return 0;
}

static int apply_one(PGconn *c, const char *dir, const struct migration *m,
		     const char *sql, const char *sum, char *errbuf,
		     size_t errlen)
{
	char msg[320];
	enum claw_rc rc = cp_store_migration_apply(c, m->version, m->name, sum,
						   sql, msg, sizeof(msg));

	if (rc == CLAW_ERR_PARSE) {
		snprintf(errbuf, errlen, "migration '%s/%s' failed: %s", dir,
			 m->name, msg);
		return -1;
	}
	if (rc) {
		snprintf(errbuf, errlen, "unable to record migration '%s': %s",
			 m->name, claw_db_last_sqlstate());
		return -1;
	}
	log_info("migration %s applied", m->name);
	return 0;
}

/* Check applied rows against the files, and apply the missing ones. */
static int migrate_locked(PGconn *c, const char *dir, struct migration *m,
			  size_t n, char *errbuf, size_t errlen)
{
	PGresult *applied = NULL;
	int rc = -1, rows;

	if (cp_store_migrations_table(c) ||
	    cp_store_migrations_applied(c, &applied)) {
		snprintf(errbuf, errlen,
			 "unable to read schema_migrations (%s)",
			 claw_db_last_sqlstate());
		return -1;
	}
	rows = PQntuples(applied);
	for (int r = 0; r < rows; r++) {
		int v = (int)strtol(PQgetvalue(applied, r, CP_MC_VERSION), NULL,
				    10);
		bool found = false;

		for (size_t i = 0; i < n; i++)
			found = found || m[i].version == v;
		if (!found) {
			snprintf(errbuf, errlen,
				 "the database has migration '%s' that '%s' "
				 "lacks; run the claw-controlplane that "
				 "applied it, or a newer one",
				 PQgetvalue(applied, r, CP_MC_NAME), dir);
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
			if (strtol(PQgetvalue(applied, r, CP_MC_VERSION), NULL,
				   10) == m[i].version)
				break;
		if (r < rows) {
			if (strcmp(PQgetvalue(applied, r, CP_MC_CHECKSUM),
				   sum) != 0) {
				snprintf(
					errbuf, errlen,
					"migration '%s/%s' was changed after "
					"it was applied (checksum %.12s..., "
					"recorded %.12s...); restore the "
					"applied file and put changes in a "
					"new migration",
					dir, m[i].name, sum,
					PQgetvalue(applied, r, CP_MC_CHECKSUM));
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
	if (cp_store_migrations_lock(conn)) {
		snprintf(errbuf, errlen,
			 "unable to take the migration lock (%s)",
			 claw_db_last_sqlstate());
		free(m);
		return -1;
	}
	rc = migrate_locked(conn, dir, m, n, errbuf, errlen);
	cp_store_migrations_unlock(conn);
	if (!rc)
		*latest = m[n - 1].version;
	free(m);
	return rc;
}

int cp_migrate_current(PGconn *conn)
{
	int v = 0;

	if (cp_store_migrations_current(conn, &v))
		return -1;
	return v;
}
