/*
 * usage.c - queries on usage (see usage.h). A report adds its deltas to
 * the rows of its hour with one upsert per row (the tenant's own counters
 * and each provider's), so concurrent reports of one hour add up.
 */
#include "store/usage.h"

#include <stdio.h>
#include <string.h>

#include "claw/db.h"
#include "cp.h"
#include "store/common.h"

#define SUMS                                                                   \
	"sum(turns), sum(messages_in), sum(messages_out), sum(tool_calls), "   \
	"sum(tool_errors), sum(quota_refusals), sum(turn_ms), sum(requests), " \
	"sum(errors), sum(input_tokens), sum(output_tokens)"
#define ADD(col) col " = usage_hours." col " + EXCLUDED." col

static struct claw_db_stmt st_placed = CLAW_DB_STMT(
	"cp_usage_placed",
	"SELECT p.tenant_id FROM placements p "
	"JOIN tenants t ON t.id = p.tenant_id "
	"WHERE p.node_id = $1 AND t.slug = $2 AND t.deleted_at IS NULL");
static struct claw_db_stmt st_seen = CLAW_DB_STMT(
	"cp_usage_seen",
	"INSERT INTO usage_reports (node_id, report_id) VALUES ($1, $2) "
	"ON CONFLICT DO NOTHING RETURNING 1");
static struct claw_db_stmt st_forget =
	CLAW_DB_STMT("cp_usage_forget",
		     "DELETE FROM usage_reports WHERE node_id = $1 AND "
		     "received_at < now() - interval '7 days'");
/* The upsert that adds a report's deltas (kept unformatted: the tool
 * would split the column names of ADD into single letters). */
/* clang-format off */
static struct claw_db_stmt st_add = CLAW_DB_STMT(
	"cp_usage_add",
	"INSERT INTO usage_hours (tenant_id, hour, provider, turns, "
	"messages_in, messages_out, tool_calls, tool_errors, quota_refusals, "
	"turn_ms, requests, errors, input_tokens, output_tokens) VALUES ($1, "
	"to_timestamp($2::bigint), "
	"$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
	"ON CONFLICT (tenant_id, hour, provider) DO UPDATE SET "
	ADD("turns") ", " ADD("quota_refusals") ", " ADD("messages_in") ", "
	ADD("messages_out") ", " ADD("tool_calls") ", " ADD("tool_errors") ", "
	ADD("turn_ms") ", " ADD("requests") ", " ADD("errors") ", "
	ADD("input_tokens") ", " ADD("output_tokens"));
/* clang-format on */
static struct claw_db_stmt st_refused = CLAW_DB_STMT(
	"cp_usage_refused",
	"INSERT INTO usage_refusals (node_id, refused) VALUES ($1, $2::bigint) "
	"ON CONFLICT (node_id) DO UPDATE SET refused = usage_refusals.refused "
	"+ EXCLUDED.refused, updated_at = now()");
static struct claw_db_stmt st_refused_total =
	CLAW_DB_STMT("cp_usage_refused_total",
		     "SELECT coalesce(sum(refused), 0) FROM usage_refusals");
static struct claw_db_stmt st_buckets = CLAW_DB_STMT(
	"cp_usage_buckets",
	"SELECT to_char(date_trunc($4::text, hour AT TIME ZONE 'UTC'), "
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), provider, " SUMS
	" FROM usage_hours WHERE tenant_id = $1 "
	"AND hour >= to_timestamp($2::bigint) "
	"AND hour < to_timestamp($3::bigint) GROUP BY 1, 2 ORDER BY 1, 2");
static struct claw_db_stmt st_fleet =
	CLAW_DB_STMT("cp_usage_fleet",
		     "SELECT t.slug, u.provider, " SUMS
		     " FROM usage_hours u JOIN tenants t ON t.id = u.tenant_id "
		     "WHERE u.hour >= to_timestamp($1::bigint) "
		     "AND u.hour < to_timestamp($2::bigint) "
		     "GROUP BY 1, 2 ORDER BY 1, 2");
static struct claw_db_stmt st_quota = CLAW_DB_STMT(
	"cp_usage_quota",
	"SELECT coalesce(p.quota_turns_per_day, -1), "
	"coalesce(p.quota_tokens_per_month, -1), "
	"(SELECT coalesce(sum(turns), 0) FROM usage_hours WHERE tenant_id = $1 "
	"AND hour >= date_trunc('day', now() AT TIME ZONE 'UTC') "
	"AT TIME ZONE 'UTC'), "
	"(SELECT coalesce(sum(input_tokens + output_tokens), 0) FROM "
	"usage_hours WHERE tenant_id = $1 "
	"AND hour >= date_trunc('month', now() AT TIME ZONE 'UTC') "
	"AT TIME ZONE 'UTC'), coalesce(p.quota_message, ''), "
	"to_char(date_trunc('day', now() AT TIME ZONE 'UTC') + "
	"interval '1 day', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	"to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + "
	"interval '1 month', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	"FROM tenants t LEFT JOIN plans p ON p.name = t.plan WHERE t.id = $1");
/* read (locked) then written: a CTE's FOR UPDATE would skip the row
 * the same statement updates */
static struct claw_db_stmt st_quota_was = CLAW_DB_STMT(
	"cp_usage_quota_was",
	"SELECT turns_exhausted, tokens_exhausted FROM quota_state "
	"WHERE tenant_id = $1 FOR UPDATE");
static struct claw_db_stmt st_quota_mark = CLAW_DB_STMT(
	"cp_usage_quota_mark",
	"INSERT INTO quota_state (tenant_id, turns_exhausted, "
	"tokens_exhausted) VALUES ($1, $2::boolean, $3::boolean) "
	"ON CONFLICT (tenant_id) DO UPDATE SET turns_exhausted = "
	"$2::boolean, tokens_exhausted = $3::boolean, updated_at = now()");
static struct claw_db_stmt st_quota_wake = CLAW_DB_STMT(
	"cp_usage_quota_wake",
	"UPDATE nodes SET generation = nextval('fleet_generation_seq') "
	"WHERE id IN (SELECT node_id FROM placements WHERE tenant_id = $1 "
	"AND node_id IS NOT NULL)");
static struct claw_db_stmt st_plan_tenants = CLAW_DB_STMT(
	"cp_usage_plan_tenants",
	"SELECT id FROM tenants WHERE plan = $1 AND deleted_at IS NULL "
	"ORDER BY id");

enum claw_rc cp_store_usage_placed(PGconn *c, const char *node_id,
				   const char *slug, char *tenant_id)
{
	const char *p[2] = {node_id, slug};
	PGresult *r = NULL;
	enum claw_rc rc =
		cp_store_one_row(claw_db_exec(c, &st_placed, 2, p, &r), &r);

	if (!rc)
		snprintf(tenant_id, CP_ID_MAX, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_usage_seen(PGconn *c, const char *node_id, const char *id,
				 bool *fresh)
{
	const char *p[2] = {node_id, id};
	int any = 0;
	enum claw_rc rc = claw_db_exec(c, &st_forget, 1, p, NULL);

	if (!rc)
		rc = cp_store_exec_any(c, &st_seen, 2, p, &any);
	*fresh = any != 0;
	return rc;
}

/* Upsert one row: provider "" with the tenant's counters, or a
 * provider's. */
static enum claw_rc add_row(PGconn *c, const char *tenant_id, const char *hour,
			    const char *provider, const long long *v, size_t n,
			    size_t at)
{
	char buf[CP_UC__N + CP_UP__N][24];
	const char *p[3 + CP_UC__N + CP_UP__N] = {tenant_id, hour, provider};

	for (size_t i = 0; i < CP_UC__N + CP_UP__N; i++) {
		long long x = i >= at && i < at + n ? v[i - at] : 0;

		snprintf(buf[i], sizeof(buf[i]), "%lld", x);
		p[3 + i] = buf[i];
	}
	return claw_db_exec(c, &st_add, 3 + CP_UC__N + CP_UP__N, p, NULL);
}

enum claw_rc cp_store_usage_add(PGconn *c, const char *tenant_id,
				const struct cp_usage_report *r)
{
	char hour[24];
	enum claw_rc rc;

	snprintf(hour, sizeof(hour), "%lld", r->hour);
	rc = add_row(c, tenant_id, hour, "", r->v, CP_UC__N, 0);
	for (size_t i = 0; !rc && i < r->n_providers; i++)
		rc = add_row(c, tenant_id, hour, r->providers[i].name,
			     r->providers[i].v, CP_UP__N, CP_UC__N);
	return rc;
}

enum claw_rc cp_store_usage_refused(PGconn *c, const char *node_id, long long n)
{
	char num[24];
	const char *p[2] = {node_id, num};

	snprintf(num, sizeof(num), "%lld", n);
	return claw_db_exec(c, &st_refused, 2, p, NULL);
}

enum claw_rc cp_store_usage_refused_total(PGconn *c, long long *out)
{
	return cp_store_exec_ll(c, &st_refused_total, 0, NULL, out);
}

enum claw_rc cp_store_usage_buckets(PGconn *c, const char *tenant_id,
				    long long since, long long until,
				    const char *unit, PGresult **rows)
{
	char s[24], u[24];
	const char *p[4] = {tenant_id, s, u, unit};

	snprintf(s, sizeof(s), "%lld", since);
	snprintf(u, sizeof(u), "%lld", until);
	return claw_db_exec(c, &st_buckets, 4, p, rows);
}

enum claw_rc cp_store_usage_fleet(PGconn *c, long long since, long long until,
				  PGresult **rows)
{
	char s[24], u[24];
	const char *p[2] = {s, u};

	snprintf(s, sizeof(s), "%lld", since);
	snprintf(u, sizeof(u), "%lld", until);
	return claw_db_exec(c, &st_fleet, 2, p, rows);
}

enum claw_rc cp_store_usage_quota(PGconn *c, const char *tenant_id,
				  struct cp_usage_quota *out)
{
	const char *p[1] = {tenant_id};
	PGresult *r = NULL;
	enum claw_rc rc =
		cp_store_one_row(claw_db_exec(c, &st_quota, 1, p, &r), &r);

	if (!rc) {
		snprintf(out->message, sizeof(out->message), "%s",
			 PQgetvalue(r, 0, 4));
		snprintf(out->day_reset, sizeof(out->day_reset), "%s",
			 PQgetvalue(r, 0, 5));
		snprintf(out->month_reset, sizeof(out->month_reset), "%s",
			 PQgetvalue(r, 0, 6));
	}
	if (!rc &&
	    (cp_store_ll(r, 0, 0, &out->turns_limit) ||
	     cp_store_ll(r, 0, 1, &out->tokens_limit) ||
	     cp_store_ll(r, 0, 2, &out->turns_used) ||
	     cp_store_ll(r, 0, 3, &out->tokens_used)))
		rc = CLAW_ERR_INTERNAL;
	PQclear(r);
	return rc;
}

enum claw_rc cp_store_quota_mark(PGconn *c, const char *tenant_id,
				 bool turns_out, bool tokens_out,
				 bool *was_turns_out, bool *was_tokens_out)
{
	const char *p[3] = {tenant_id, turns_out ? "true" : "false",
			    tokens_out ? "true" : "false"};
	PGresult *r = NULL;
	enum claw_rc rc = claw_db_exec(c, &st_quota_was, 1, p, &r);

	*was_turns_out = *was_tokens_out = false;
	if (!rc && PQntuples(r) == 1) {
		*was_turns_out = PQgetvalue(r, 0, 0)[0] == 't';
		*was_tokens_out = PQgetvalue(r, 0, 1)[0] == 't';
	}
	PQclear(r);
	return rc ? rc : claw_db_exec(c, &st_quota_mark, 3, p, NULL);
}

enum claw_rc cp_store_quota_wake(PGconn *c, const char *tenant_id)
{
	return cp_store_exec1(c, &st_quota_wake, tenant_id, NULL);
}

enum claw_rc cp_store_plan_tenants(PGconn *c, const char *plan, PGresult **rows)
{
	return cp_store_exec1(c, &st_plan_tenants, plan, rows);
}
