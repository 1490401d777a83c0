/*
 * usage_metrics.c - the usage series of /metrics (docs/fleet.md,
 * "Usage"): each tenant's counters since it began, summed from the
 * database at each scrape, so every replica shows the same values and
 * they survive restarts; and the fleet's refused usage reports.
 */
#include <stdbool.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/db.h"
#include "store/common.h"
#include "store/usage.h"
#include "usage_report.h"

#define ALL_TIME_END 253402300800LL /* 10000-01-01 */

/* A run of samples: of the tenant's own counters (own) or of each
 * provider, column col; label follows tenant="..." inside the braces (%s:
 * the provider); help NULL continues the family above. */
struct series {
	const char *name, *help;
	bool own;
	int col;
	const char *label;
};

static const struct series all_series[] = {
	{"claw_tenant_turns_total", "Agent turns of each tenant.", true,
	 CP_USC_COUNTS + CP_UC_TURNS, ""},
	{"claw_tenant_messages_total", "Messages of each tenant, in and out.",
	 true, CP_USC_COUNTS + CP_UC_MESSAGES_IN, ",direction=\"in\""},
	{"claw_tenant_messages_total", NULL, true,
	 CP_USC_COUNTS + CP_UC_MESSAGES_OUT, ",direction=\"out\""},
	{"claw_tenant_tool_calls_total", "Tool calls of each tenant.", true,
	 CP_USC_COUNTS + CP_UC_TOOL_CALLS, ""},
	{"claw_tenant_quota_refusals_total",
	 "Messages of each tenant its gateway refused: a quota was used up.",
	 true, CP_USC_COUNTS + CP_UC_QUOTA_REFUSALS, ""},
	{"claw_tenant_tokens_total", "LLM tokens of each tenant per provider.",
	 false, CP_USC_PCOUNTS + CP_UP_INPUT_TOKENS,
	 ",provider=\"%s\",direction=\"input\""},
	{"claw_tenant_tokens_total", NULL, false,
	 CP_USC_PCOUNTS + CP_UP_OUTPUT_TOKENS,
	 ",provider=\"%s\",direction=\"output\""},
};

static enum claw_rc render(struct claw_buf *out, const PGresult *rows,
			   const struct series *se)
{
	enum claw_rc rc = CLAW_OK;
	long long v;

	if (se->help)
		rc = claw_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n",
				     se->name, se->help, se->name);
	for (int i = 0; !rc && i < PQntuples(rows); i++) {
		const char *prov = PQgetvalue(rows, i, CP_USC_PROVIDER);

		if (se->own != !prov[0])
			continue;
		rc = cp_store_ll(rows, i, se->col, &v);
		if (!rc)
			rc = claw_buf_printf(out, "%s{tenant=\"%s\"", se->name,
					     PQgetvalue(rows, i, CP_USC_KEY));
		if (!rc)
			rc = claw_buf_printf(out, se->label, prov);
		if (!rc)
			rc = claw_buf_printf(out, "} %lld\n", v);
	}
	return rc;
}

enum claw_rc cp_usage_metrics_render(struct claw_db *db, struct claw_buf *out)
{
	PGconn *c = claw_db_acquire(db);
	PGresult *rows = NULL;
	long long refused = 0;
	enum claw_rc rc;

	if (!c)
		return CLAW_OK; /* the database's own series say it is down */
	rc = cp_store_usage_fleet(c, 0, ALL_TIME_END, &rows);
	if (!rc)
		rc = cp_store_usage_refused_total(c, &refused);
	claw_db_release(db, c);
	for (size_t i = 0;
	     !rc && i < sizeof(all_series) / sizeof(all_series[0]); i++)
		rc = render(out, rows, &all_series[i]);
	if (!rc)
		rc = claw_buf_printf(
			out,
			"# HELP claw_usage_reports_refused_total Usage "
			"reports refused: their tenant was not placed on the "
			"reporting node.\n"
			"# TYPE claw_usage_reports_refused_total counter\n"
			"claw_usage_reports_refused_total %lld\n",
			refused);
	PQclear(rows);
	return rc;
}
