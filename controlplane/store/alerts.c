/*
 * alerts.c - queries on the alert tables and the sealing of a target's
 * secret; see alerts.h.
 *
 * A target's secret is sealed as a tenant's secrets are (envelope.h): a
 * data key of the target, wrapped under the active master key version,
 * with "alert-target/ID" where a tenant id would be, seals the value as
 * secret "secret" version 1. A master key rotation re-wraps tenants' data
 * keys only: the target keeps the version it was made under, which the
 * key ring keeps (docs/alerts.md).
 */
#include "store/alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/db.h"
#include "envelope.h"
#include "store/common.h"
#include "store/secrets_ring.h"
#include "store/ts.h"

#define TARGET_COLS                                                            \
	"id, name, type, config::text, "                                       \
	"CASE WHEN kinds IS NULL THEN NULL ELSE to_jsonb(kinds)::text END, "   \
	"max_per_hour, secret IS NOT NULL, " CP_TS("created_at")
#define ALERT_COLS(a)                                                          \
	a "id, " a "kind, " a "subject, " a "tenant_id, " a "node_id, " a      \
	  "summary, " a "resolve_summary, " a "state, " a                      \
	  "occurrences, " CP_TS(a "fired_at") ", " CP_TS(                      \
		  a "last_seen_at") ", " CP_TS(a "resolved_at")

static struct claw_db_stmt st_mk_active =
	CLAW_DB_STMT("cp_alert_mk_active",
		     "SELECT coalesce(max(version), 0) FROM "
		     "master_keys");
static struct claw_db_stmt st_target_insert = CLAW_DB_STMT(
	"cp_alert_target_insert",
	"INSERT INTO alert_targets (id, name, type, config, kinds, "
	"max_per_hour, mk_version, wrapped_key, secret) VALUES ($1, $2, $3, "
	"$4::jsonb, $5::text[], $6::integer, $7::integer, $8::bytea, "
	"$9::bytea) RETURNING " TARGET_COLS);
static struct claw_db_stmt st_target_list =
	CLAW_DB_STMT("cp_alert_target_list",
		     "SELECT " TARGET_COLS " FROM alert_targets ORDER BY "
		     "name");
static struct claw_db_stmt st_target_get =
	CLAW_DB_STMT("cp_alert_target_get",
		     "SELECT " TARGET_COLS " FROM alert_targets "
		     "WHERE id = $1 OR name = $1");
static struct claw_db_stmt st_target_delete =
	CLAW_DB_STMT("cp_alert_target_delete",
		     "DELETE FROM alert_targets WHERE id = $1 OR "
		     "name = $1 RETURNING " TARGET_COLS);
static struct claw_db_stmt st_cursor_lock =
	CLAW_DB_STMT("cp_alert_cursor_lock",
		     "SELECT last_xid::text, last_event_id FROM alert_cursor "
		     "FOR UPDATE SKIP LOCKED");
static struct claw_db_stmt st_cursor_set =
	CLAW_DB_STMT("cp_alert_cursor_set",
		     "UPDATE alert_cursor SET last_xid = $1::xid8, "
		     "last_event_id = $2::bigint");
/* the columns of store/events.h's cp_store_events_since, then xid */
static struct claw_db_stmt st_events = CLAW_DB_STMT(
	"cp_alert_events",
	"SELECT e.id, e.type, e.tenant_id, t.slug, e.node_id, n.name, " CP_TS(
		"e.time") ", e.data::text, e.xid::text FROM fleet_events e "
			  "LEFT JOIN tenants t ON t.id = e.tenant_id LEFT JOIN "
			  "nodes n ON n.id = e.node_id WHERE (e.xid, e.id) > "
			  "($1::xid8, $2::bigint) AND e.xid < "
			  "pg_snapshot_xmin(pg_current_snapshot()) ORDER BY "
			  "e.xid, e.id LIMIT 200");
static struct claw_db_stmt st_fire = CLAW_DB_STMT(
	"cp_alert_fire",
	"INSERT INTO alerts (kind, subject, tenant_id, node_id, summary, "
	"data) VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}')) "
	"ON CONFLICT (kind, subject) WHERE state = 'firing' DO UPDATE SET "
	"occurrences = alerts.occurrences + 1, last_seen_at = now() "
	"RETURNING id, xmax = 0");
static struct claw_db_stmt st_resolve = CLAW_DB_STMT(
	"cp_alert_resolve",
	"UPDATE alerts SET state = 'resolved', resolved_at = now(), "
	"resolve_summary = $3 WHERE kind = $1 AND subject = $2 AND state = "
	"'firing' RETURNING id");
static struct claw_db_stmt st_enqueue = CLAW_DB_STMT(
	"cp_alert_enqueue",
	"INSERT INTO alert_deliveries (alert_id, target_id, status, state) "
	"SELECT $1::bigint, t.id, $2, CASE WHEN (SELECT count(*) FROM "
	"alert_deliveries d WHERE d.target_id = t.id AND d.state <> "
	"'suppressed' AND d.created_at > now() - interval '1 hour') >= "
	"t.max_per_hour THEN 'suppressed' ELSE 'pending' END FROM "
	"alert_targets t WHERE t.kinds IS NULL OR $3 = ANY (t.kinds) "
	"RETURNING state");
static struct claw_db_stmt st_list = CLAW_DB_STMT(
	"cp_alert_list",
	"SELECT " ALERT_COLS("a.") ", coalesce((SELECT json_agg(json_build_"
				   "object('target', t.name, 'status', "
				   "d.status, 'state', d.state, 'attempts', "
				   "d.attempts, 'last_error', d.last_error) "
				   "ORDER BY d.id) FROM alert_deliveries d "
				   "JOIN alert_targets t ON t.id = d.target_id "
				   "WHERE d.alert_id = a.id), '[]')::text "
				   "FROM alerts a WHERE a.state = 'firing' OR "
				   "(NOT $1::boolean AND a.resolved_at > now() "
				   "- interval '7 days') ORDER BY a.id DESC "
				   "LIMIT 200");
static struct claw_db_stmt st_claim = CLAW_DB_STMT(
	"cp_alert_claim",
	"UPDATE alert_deliveries d SET attempts = d.attempts + 1, next_at = "
	"now() + make_interval(secs => $1::integer) FROM alerts a, "
	"alert_targets t WHERE d.id = (SELECT id FROM alert_deliveries WHERE "
	"state = 'pending' AND next_at <= now() ORDER BY next_at, id LIMIT 1 "
	"FOR UPDATE SKIP LOCKED) AND a.id = d.alert_id AND t.id = "
	"d.target_id RETURNING " ALERT_COLS(
		"a.") ", d.id, d.attempts, d.status, t.id, t.name, t.type, "
		      "t.config::text, t.mk_version, t.wrapped_key, t.secret");
static struct claw_db_stmt st_sent =
	CLAW_DB_STMT("cp_alert_sent",
		     "UPDATE alert_deliveries SET state = 'sent', sent_at "
		     "= now(), last_error = NULL WHERE id = $1::bigint");
static struct claw_db_stmt st_retry = CLAW_DB_STMT(
	"cp_alert_retry",
	"UPDATE alert_deliveries SET last_error = $3, state = CASE WHEN "
	"$2::bigint < 0 THEN 'failed' ELSE state END, next_at = now() + "
	"make_interval(secs => greatest($2::bigint, 0) / 1000.0) WHERE id = "
	"$1::bigint");
static struct claw_db_stmt st_counts = CLAW_DB_STMT(
	"cp_alert_counts",
	"SELECT 'kind', kind, count(*) FROM alerts WHERE state = 'firing' "
	"GROUP BY kind UNION ALL SELECT 'failed', '', count(*) FROM "
	"alert_deliveries WHERE state = 'failed' UNION ALL SELECT 'nodes', "
	"status, count(*) FROM nodes GROUP BY status");
static struct claw_db_stmt st_firing = CLAW_DB_STMT(
	"cp_alert_firing",
	"SELECT a.kind, a.subject, coalesce(t.slug, ''), coalesce(n.name, '') "
	"FROM alerts a LEFT JOIN tenants t ON t.id = a.tenant_id LEFT JOIN "
	"nodes n ON n.id = a.node_id WHERE a.state = 'firing' ORDER BY a.id "
	"LIMIT 1000");

static void target_ad(const char *id, char *out, size_t n)
{
	snprintf(out, n, "alert-target/%s", id);
}

/* The scratch of sealing and opening: a master key copy and the data
 * key, both sodium memory. */
struct keys {
	unsigned char *mk, *dk;
};

static void keys_release(struct keys *k)
{
	cp_env_secret_free(k->mk);
	cp_env_secret_free(k->dk);
}

/* Seal t's secret: *wrapped and *sealed as bytea hex text, *version. */
static enum claw_rc seal(struct cp_ctx *ctx, PGconn *c,
			 const struct cp_alert_target_new *t, unsigned *version,
			 char **wrapped, char **sealed)
{
	struct keys k = {cp_env_secret_alloc(CP_ENV_KEY_BYTES),
			 cp_env_key_new()};
	unsigned char *out = NULL;
	size_t out_len = 0;
	long long v = 0;
	char ad[80];
	enum claw_rc rc = k.mk && k.dk ? CLAW_OK : CLAW_ERR_NOMEM;

	target_ad(t->id, ad, sizeof(ad));
	if (!rc)
		rc = cp_store_exec_ll(c, &st_mk_active, 0, NULL, &v);
	if (!rc && v <= 0)
		rc = CLAW_ERR_INTERNAL;
	if (!rc)
		rc = cp_secrets_master_key(ctx->secrets, (unsigned)v, k.mk);
	if (!rc)
		rc = cp_dk_wrap_hex(k.mk, (unsigned)v, ad, k.dk, wrapped);
	if (!rc)
		rc = cp_env_seal_value(k.dk, ad, "secret", 1, t->secret,
				       t->secret_len, &out, &out_len);
	if (!rc && !(*sealed = cp_bytea_hex(out, out_len)))
		rc = CLAW_ERR_NOMEM;
	*version = (unsigned)v;
	free(out);
	keys_release(&k);
	return rc;
}

enum claw_rc cp_store_alert_target_insert(struct cp_ctx *ctx, PGconn *c,
					  const struct cp_alert_target_new *t,
					  PGresult **row)
{
	char *wrapped = NULL, *sealed = NULL;
	char mph[24], ver[24];
	unsigned version = 0;
	enum claw_rc rc = CLAW_OK;

	if (t->secret)
		rc = seal(ctx, c, t, &version, &wrapped, &sealed);
	snprintf(mph, sizeof(mph), "%ld", t->max_per_hour);
	snprintf(ver, sizeof(ver), "%u", version);
	if (!rc) {
		const char *p[9] = {t->id,
				    t->name,
				    t->type,
				    t->config,
				    t->kinds,
				    mph,
				    sealed ? ver : NULL,
				    wrapped,
				    sealed};

		rc = claw_db_exec(c, &st_target_insert, 9, p, row);
	}
	free(wrapped);
	free(sealed);
	return rc;
}

enum claw_rc cp_store_alert_target_list(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_target_list, 0, NULL, rows);
}

enum claw_rc cp_store_alert_target_get(PGconn *c, const char *id_or_name,
				       PGresult **row)
{
	return cp_store_one_row(
		cp_store_exec1(c, &st_target_get, id_or_name, row), row);
}

enum claw_rc cp_store_alert_target_delete(PGconn *c, const char *id_or_name,
					  PGresult **row)
{
	return cp_store_one_row(
		cp_store_exec1(c, &st_target_delete, id_or_name, row), row);
}

/* Run st with the one parameter id. */
static enum claw_rc exec_id(PGconn *c, struct claw_db_stmt *st, long long id)
{
	char v[24];

	snprintf(v, sizeof(v), "%lld", id);
	return cp_store_exec1(c, st, v, NULL);
}

enum claw_rc cp_store_alert_cursor_lock(PGconn *c, struct cp_alert_cursor *cur)
{
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_cursor_lock, 0, NULL, &r);

	if (!rc && PQntuples(r) != 1)
		rc = CLAW_ERR_NOT_FOUND;
	if (!rc)
		rc = cp_store_ll(r, 0, 1, &cur->id);
	if (!rc)
		snprintf(cur->xid, sizeof(cur->xid), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_alert_cursor_set(PGconn *c,
				       const struct cp_alert_cursor *cur)
{
	char id[24];
	const char *p[2] = {cur->xid, id};

	snprintf(id, sizeof(id), "%lld", cur->id);
	return claw_db_exec(c, &st_cursor_set, 2, p, NULL);
}

enum claw_rc cp_store_alert_events(PGconn *c, const struct cp_alert_cursor *cur,
				   PGresult **rows)
{
	char id[24];
	const char *p[2] = {cur->xid, id};

	snprintf(id, sizeof(id), "%lld", cur->id);
	return claw_db_exec(c, &st_events, 2, p, rows);
}

enum claw_rc cp_store_alert_fire(PGconn *c, const struct cp_alert_open *a,
				 long long *id, bool *fired)
{
	const char *p[6] = {a->kind,    a->subject, a->tenant_id,
			    a->node_id, a->summary, a->data};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_fire, 6, p, &r);

	if (!rc)
		rc = cp_store_ll(r, 0, 0, id);
	if (!rc)
		*fired = !strcmp(PQgetvalue(r, 0, 1), "t");
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_alert_resolve(PGconn *c, const char *kind,
				    const char *subject, const char *summary,
				    long long *id)
{
	const char *p[3] = {kind, subject, summary};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_resolve, 3, p, &r);

	*id = 0;
	if (!rc && PQntuples(r) == 1)
		rc = cp_store_ll(r, 0, 0, id);
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_alert_enqueue(PGconn *c, long long id, const char *status,
				    const char *kind, int *suppressed)
{
	char v[24];
	const char *p[3] = {v, status, kind};
	PGresult *r = NULL;
	enum claw_rc rc;

	snprintf(v, sizeof(v), "%lld", id);
	rc = claw_db_exec(c, &st_enqueue, 3, p, &r);
	*suppressed = 0;
	for (int i = 0; !rc && i < PQntuples(r); i++)
		*suppressed += !strcmp(PQgetvalue(r, i, 0), "suppressed");
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_alert_list(PGconn *c, bool open_only, PGresult **rows)
{
	const char *p[1] = {open_only ? "true" : "false"};

	return claw_db_exec(c, &st_list, 1, p, rows);
}

enum claw_rc cp_store_alert_claim(PGconn *c, int lease_s, PGresult **row)
{
	char v[24];

	snprintf(v, sizeof(v), "%d", lease_s);
	return cp_store_one_row(cp_store_exec1(c, &st_claim, v, row), row);
}

enum claw_rc cp_store_alert_sent(PGconn *c, long long id)
{
	return exec_id(c, &st_sent, id);
}

enum claw_rc cp_store_alert_retry(PGconn *c, long long id, long delay_ms,
				  const char *error)
{
	char v[24], d[24];
	const char *p[3] = {v, d, error};

	snprintf(v, sizeof(v), "%lld", id);
	snprintf(d, sizeof(d), "%ld", delay_ms);
	return claw_db_exec(c, &st_retry, 3, p, NULL);
}

enum claw_rc cp_store_alert_secret_open(struct cp_ctx *ctx, const PGresult *row,
					unsigned char **plain, size_t *len)
{
	const char *wrapped = claw_db_value(row, 0, CP_AD_WRAPPED_KEY);
	const char *sealed = claw_db_value(row, 0, CP_AD_SECRET);
	struct keys k = {NULL, NULL};
	unsigned char *bytes = NULL;
	size_t n = 0;
	char ad[80];
	enum claw_rc rc = CLAW_OK;

	*plain = NULL;
	*len = 0;
	if (!wrapped || !sealed)
		return CLAW_OK;
	target_ad(PQgetvalue(row, 0, CP_AD_TARGET_ID), ad, sizeof(ad));
	if (!(k.mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES)))
		rc = CLAW_ERR_NOMEM;
	if (!rc)
		rc = cp_dk_unwrap(
			ctx->secrets,
			(unsigned)strtoul(PQgetvalue(row, 0, CP_AD_MK_VERSION),
					  NULL, 10),
			ad, wrapped, k.mk, &k.dk);
	if (!rc)
		rc = cp_bytea_parse(sealed, &bytes, &n);
	if (!rc)
		rc = cp_env_open_value(k.dk, ad, "secret", 1, bytes, n, plain,
				       len);
	free(bytes);
	keys_release(&k);
	return rc;
}

enum claw_rc cp_store_alert_counts(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_counts, 0, NULL, rows);
}

enum claw_rc cp_store_alert_firing(PGconn *c, PGresult **rows)
{
	return claw_db_exec(c, &st_firing, 0, NULL, rows);
}
