/*
 * oauth.c - the oauth_flows queries (see oauth.h).
 */
#include "store/oauth.h"

#include <stdio.h>

#include "claw/db.h"
#include "store/ts.h"

static struct claw_db_stmt st_insert = CLAW_DB_STMT(
	"oauth_insert",
	"INSERT INTO oauth_flows (id, tenant_id, server, token_secret, "
	"state_hash, sealed, created_by, created_role, expires_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	"now() + make_interval(secs => $9::int)) "
	"RETURNING " CP_TS("expires_at"));
static struct claw_db_stmt st_claim = CLAW_DB_STMT(
	"oauth_claim",
	"UPDATE oauth_flows SET status = 'exchanging' "
	"WHERE state_hash = $1 AND status = 'pending' AND expires_at > now() "
	"RETURNING id, tenant_id, server, token_secret, sealed, created_by, "
	"created_role");
static struct claw_db_stmt st_peek =
	CLAW_DB_STMT("oauth_peek",
		     "SELECT id, status, expires_at <= now() FROM oauth_flows "
		     "WHERE state_hash = $1");
static struct claw_db_stmt st_finish = CLAW_DB_STMT(
	"oauth_finish",
	"UPDATE oauth_flows SET status = $2, reason = $3, finished_at = now() "
	"WHERE id = $1");
static struct claw_db_stmt st_get =
	CLAW_DB_STMT("oauth_get",
		     "SELECT status, reason, " CP_TS(
			     "expires_at") ", expires_at <= "
					   "now(), " CP_TS("created_"
							   "at") " FRO"
								 "M "
								 "oaut"
								 "h_"
								 "flow"
								 "s "
								 "WHER"
								 "E "
								 "id "
								 "= "
								 "$1 "
								 "AND "
								 "tena"
								 "nt_"
								 "id "
								 "= "
								 "$2 "
								 "AND "
								 "serv"
								 "er "
								 "= "
								 "$3");

/* One row, or NOT_FOUND. */
static enum claw_rc one_row(enum claw_rc rc, PGresult **row)
{
	if (rc == CLAW_OK && PQntuples(*row) != 1) {
		PQclear(*row);
		*row = NULL;
		return CLAW_ERR_NOT_FOUND;
	}
	return rc;
}

enum claw_rc cp_store_oauth_insert(PGconn *c, const struct cp_oauth_flow_row *f,
				   PGresult **row)
{
	char ttl[16];
	const char *p[9] = {f->id,           f->tenant_id,    f->server,
			    f->token_secret, f->state_hash,   f->sealed,
			    f->created_by,   f->created_role, ttl};

	snprintf(ttl, sizeof(ttl), "%d", f->ttl_s);
	return one_row(claw_db_exec(c, &st_insert, 9, p, row), row);
}

enum claw_rc cp_store_oauth_claim(PGconn *c, const char *state_hash,
				  PGresult **row)
{
	const char *p[1] = {state_hash};

	return one_row(claw_db_exec(c, &st_claim, 1, p, row), row);
}

enum claw_rc cp_store_oauth_peek(PGconn *c, const char *state_hash,
				 PGresult **row)
{
	const char *p[1] = {state_hash};

	return one_row(claw_db_exec(c, &st_peek, 1, p, row), row);
}

enum claw_rc cp_store_oauth_finish(PGconn *c, const char *id,
				   const char *status, const char *reason)
{
	const char *p[3] = {id, status, reason};

	return claw_db_exec(c, &st_finish, 3, p, NULL);
}

enum claw_rc cp_store_oauth_get(PGconn *c, const char *tenant_id,
				const char *server, const char *id,
				PGresult **row)
{
	const char *p[3] = {id, tenant_id, server};

	return one_row(claw_db_exec(c, &st_get, 3, p, row), row);
}
