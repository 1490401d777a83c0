/*
 * db_roles.c - set up the owner and app database roles, migrate as the
 * owner and grant the app role; see db_roles.h.
 *
 * The embedded cluster's roles are made by its superuser with fixed names
 * (no value from outside reaches that SQL). The owner's work runs on a
 * pool of one connection of its own, closed before the daemon serves, so
 * the serving pool never holds the owner's session. Grants run under an
 * advisory lock (replicas starting at once would otherwise race on the
 * same catalog rows) through claw_grant_app, which takes the app role's
 * name as a bound parameter and quotes it itself.
 */
#include "db_roles.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "claw/db.h"
#include "claw/log.h"
#include "migrate.h"
#include "store/common.h"

#define OWNER_ROLE "claw_owner"
#define APP_ROLE "claw_app"
#define GRANT_LOCK_KEY "1668047223, 6" /* (CLAW, 6): the role grants */

/* Made by the embedded cluster's superuser at every start (idempotent):
 * the two roles, the owner's rights on the schema, and the objects an
 * older version made as superuser handed to the owner. */
static const char embedded_sql[] =
	"DO $$ BEGIN"
	" IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" OWNER_ROLE
	"') THEN CREATE ROLE " OWNER_ROLE " LOGIN NOSUPERUSER NOCREATEDB"
	" NOCREATEROLE; END IF;"
	" IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" APP_ROLE
	"') THEN CREATE ROLE " APP_ROLE " LOGIN NOSUPERUSER NOCREATEDB"
	" NOCREATEROLE NOINHERIT; END IF;"
	" END $$;"
	"REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
	"GRANT USAGE, CREATE ON SCHEMA public TO " OWNER_ROLE ";"
	"DO $$ DECLARE r record; BEGIN"
	" FOR r IN SELECT c.oid::regclass AS o FROM pg_class c"
	"  WHERE c.relnamespace = 'public'::regnamespace"
	"  AND c.relkind IN ('r', 'p')"
	"  AND c.relowner <> '" OWNER_ROLE "'::regrole LOOP"
	"  EXECUTE format('ALTER TABLE %s OWNER TO " OWNER_ROLE "', r.o);"
	" END LOOP;"
	" FOR r IN SELECT c.oid::regclass AS o, c.relkind AS k FROM pg_class c"
	"  WHERE c.relnamespace = 'public'::regnamespace"
	"  AND c.relkind IN ('S', 'v', 'm', 'f')"
	"  AND c.relowner <> '" OWNER_ROLE "'::regrole LOOP"
	"  EXECUTE format('ALTER %s %s OWNER TO " OWNER_ROLE "',"
	"   CASE r.k WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'"
	"   WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'FOREIGN TABLE' END, r.o);"
	" END LOOP;"
	" FOR r IN SELECT p.oid::regprocedure AS o, p.prokind AS k"
	"  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
	"  AND p.proowner <> '" OWNER_ROLE "'::regrole LOOP"
	"  EXECUTE format('ALTER %s %s OWNER TO " OWNER_ROLE "',"
	"   CASE r.k WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'"
	"   ELSE 'FUNCTION' END, r.o);"
	" END LOOP;"
	" FOR r IN SELECT t.oid::regtype AS o, t.typtype AS k FROM pg_type t"
	"  WHERE t.typnamespace = 'public'::regnamespace"
	"  AND t.typowner <> '" OWNER_ROLE "'::regrole"
	"  AND t.typtype IN ('e', 'd', 'r') LOOP"
	"  EXECUTE format('ALTER %s %s OWNER TO " OWNER_ROLE "',"
	"   CASE r.k WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, r.o);"
	" END LOOP;"
	" END $$";

static struct claw_db_stmt st_lock = CLAW_DB_STMT(
	"cp_roles_lock", "SELECT pg_advisory_xact_lock(" GRANT_LOCK_KEY ")");
static struct claw_db_stmt st_grant =
	CLAW_DB_STMT("cp_roles_grant", "SELECT claw_grant_app($1)");
static struct claw_db_stmt st_user =
	CLAW_DB_STMT("cp_roles_user", "SELECT current_user");
static struct claw_db_stmt st_create =
	CLAW_DB_STMT("cp_roles_may_create",
		     "SELECT has_schema_privilege(current_schema(), 'CREATE')");

/* Append " key='value'" (libpq quoting) to out. */
static int conn_kv(char *out, size_t outlen, const char *key, const char *v)
{
	size_t at = strlen(out);
	int n = snprintf(out + at, outlen - at, "%s%s='", at ? " " : "", key);

	if (n < 0 || (size_t)n >= outlen - at)
		return -1;
	at += (size_t)n;
	for (; *v; v++) {
		if (at + 3 >= outlen)
			return -1;
		if (*v == '\'' || *v == '\\')
			out[at++] = '\\';
		out[at++] = *v;
	}
	if (at + 2 > outlen)
		return -1;
	out[at++] = '\'';
	out[at] = '\0';
	return 0;
}

/* The libpq string of role on the server and database c is connected to. */
static int conninfo_for(PGconn *c, const char *role, char *out, size_t outlen)
{
	out[0] = '\0';
	return conn_kv(out, outlen, "host", PQhost(c)) ||
			conn_kv(out, outlen, "port", PQport(c)) ||
			conn_kv(out, outlen, "user", role) ||
			conn_kv(out, outlen, "dbname", PQdb(c))
		? -1
		: 0;
}

static int grant(PGconn *c, const char *app)
{
	const char *p[1] = {app};
	enum claw_rc rc = cp_store_begin(c);

	if (!rc)
		rc = claw_db_exec(c, &st_lock, 0, NULL, NULL);
	if (!rc)
		rc = claw_db_exec(c, &st_grant, 1, p, NULL);
	if (!rc)
		rc = cp_store_commit(c);
	if (rc) {
		char msg[300];

		/* PostgreSQL's own words (claw_grant_app's refusals name the
		 * roles, never a password) */
		snprintf(msg, sizeof(msg), "%.*s",
			 (int)strcspn(PQerrorMessage(c), "\n"),
			 PQerrorMessage(c));
		PQclear(PQexec(c, "ROLLBACK"));
		log_error("unable to grant the app role '%s' its privileges: "
			  "%s (%s)",
			  app, msg, claw_db_last_sqlstate());
		return -1;
	}
	log_info("database role '%s' serves; only '%s' may change the schema "
		 "and the audit log",
		 app, PQuser(c));
	return 0;
}

/* Migrate on the owner's own connection, then grant app. */
static int migrate_as_owner(struct cp_ctx *ctx, const char *owner_url,
			    const char *app)
{
	struct claw_db *owner = NULL;
	char err[1024];
	PGconn *c;
	int rc = -1;

	if (claw_db_open(owner_url, 1, &owner, err, sizeof(err))) {
		log_error("migration database: %s", err);
		return -1;
	}
	c = claw_db_acquire(owner);
	if (!c)
		goto out;
	if (cp_migrate(c, ctx->cfg.migrations_dir, &ctx->schema_version, err,
		       sizeof(err)))
		log_error("%s", err);
	else if (!grant(c, app))
		rc = 0;
	claw_db_release(owner, c);
out:
	claw_db_close(owner);
	if (!rc) {
		ctx->db_split = true;
		log_info("schema at version %d (migrated as the owner role)",
			 ctx->schema_version);
	}
	return rc;
}

static int setup_embedded(struct cp_ctx *ctx)
{
	char owner[1400], app[1400], err[512];
	PGconn *c = claw_db_acquire(ctx->db);
	int bad;

	if (!c)
		return -1;
	bad = claw_db_exec_sql(c, embedded_sql, NULL) != CLAW_OK ||
		conninfo_for(c, OWNER_ROLE, owner, sizeof(owner)) ||
		conninfo_for(c, APP_ROLE, app, sizeof(app));
	claw_db_release(ctx->db, c);
	if (bad) {
		log_error("unable to set up the embedded database's roles");
		return -1;
	}
	claw_db_close(ctx->db);
	ctx->db = NULL;
	if (migrate_as_owner(ctx, owner, APP_ROLE))
		return -1;
	if (claw_db_open_reserve(app, (unsigned)ctx->cfg.db_pool_size,
				 (unsigned)ctx->cfg.db_heartbeat_conns,
				 &ctx->db, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static int setup_external(struct cp_ctx *ctx)
{
	char app[256];
	PGresult *r = NULL;
	PGconn *c;
	enum claw_rc rc;

	if (!ctx->cfg.migration_database_url[0]) {
		log_error("migration-database-url is empty; leave it unset to "
			  "migrate as database-url's role");
		return -1;
	}
	c = claw_db_acquire(ctx->db);
	if (!c)
		return -1;
	rc = claw_db_exec(c, &st_user, 0, NULL, &r);
	if (!rc && PQntuples(r) == 1)
		snprintf(app, sizeof(app), "%s", PQgetvalue(r, 0, 0));
	else
		rc = CLAW_ERR_INTERNAL;
	PQclear(r);
	claw_db_release(ctx->db, c);
	if (rc)
		return -1;
	return migrate_as_owner(ctx, ctx->cfg.migration_database_url, app);
}

/* The highest NNNN of dir's NNNN_name.sql files; -1 when unreadable. */
static int newest_migration(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int best = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		size_t len = strlen(n);

		if (len > 9 && n[4] == '_' && !strcmp(n + len - 4, ".sql") &&
		    strspn(n, "0123456789") == 4) {
			int v = (n[0] - '0') * 1000 + (n[1] - '0') * 100 +
				(n[2] - '0') * 10 + (n[3] - '0');

			if (v > best)
				best = v;
		}
	}
	closedir(d);
	return best;
}

/* database-url's role may not create tables: it is an app role of a
 * schema an owner migrated (an earlier start with migration-database-url,
 * or the operator's own step). Serve when the schema is current. */
static int setup_app_only(struct cp_ctx *ctx)
{
	PGresult *r = NULL;
	bool may_create;
	int have, want;
	PGconn *c = claw_db_acquire(ctx->db);

	if (!c)
		return -1;
	if (claw_db_exec(c, &st_create, 0, NULL, &r)) {
		claw_db_release(ctx->db, c);
		return -1;
	}
	may_create = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (may_create) {
		claw_db_release(ctx->db, c);
		return 0; /* one role: main migrates */
	}
	have = cp_migrate_current(c);
	claw_db_release(ctx->db, c);
	want = newest_migration(ctx->cfg.migrations_dir);
	if (have < 0 || want < 0 || have < want) {
		log_error("database-url's role may not create tables and the "
			  "schema is at version %d of %d: set "
			  "migration-database-url to the owner role's URL "
			  "(docs/security.md)",
			  have < 0 ? 0 : have, want);
		return -1;
	}
	ctx->schema_version = have;
	ctx->db_split = true;
	log_info("schema at version %d (migrated by the owner role)", have);
	return 0;
}

int cp_db_roles_setup(struct cp_ctx *ctx)
{
	if (ctx->embedded_pg)
		return setup_embedded(ctx);
	if (ctx->cfg.migration_database_url)
		return setup_external(ctx);
	return setup_app_only(ctx);
}
