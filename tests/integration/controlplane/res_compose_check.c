/*
 * res_compose_check.c - drives the control plane's calls that the deploy
 * and tenant handlers will make (compose.h, templates.h) against a real
 * database, for test_resources.py, until those handlers call them:
 *
 *   res_compose_check URL apply TENANT_ID TEMPLATE
 *       cp_template_apply in one transaction (audited as the system);
 *       prints the versions written, or "not_found".
 *   res_compose_check URL compose TENANT_ID SLUG [VERSIONS_JSON]
 *       cp_compose (the current resources, or the recorded versions);
 *       prints {"gateway_config", "runtime_config", "persona",
 *       "tool_servers", "versions"}, or "not_found".
 *
 * Exits 0 when the call gave an answer, 1 on a usage or database error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "claw/db.h"
#include "claw/json.h"
#include "claw/log.h"
#include "compose.h"
#include "templates.h"

struct apply {
	const char *tenant, *tpl;
	json_t *applied;
};

static enum claw_rc apply_tx(PGconn *c, void *cls)
{
	struct apply *a = cls;
	struct cp_audit_entry e = {.actor_role = "system",
				   .target = "tenants/check",
				   .tenant_id = a->tenant};

	json_decref(a->applied);
	a->applied = NULL;
	return cp_template_apply(c, a->tenant, a->tpl, NULL, &e, &a->applied);
}

static int print(json_t *v)
{
	char *s = claw_json_dumps(v);

	if (!s)
		return 1;
	puts(s);
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct claw_db *db = NULL;
	char err[300];
	enum claw_rc rc;
	int status = 1;

	claw_log_init("res_compose_check", CLAW_LOG_WARN, NULL);
	if (argc < 5 || claw_db_open(argv[1], 1, &db, err, sizeof(err))) {
		fprintf(stderr, "usage: URL apply|compose ... (%s)\n",
			argc < 5 ? "arguments" : err);
		return 1;
	}
	if (!strcmp(argv[2], "apply")) {
		struct apply a = {argv[3], argv[4], NULL};

		rc = claw_db_tx(db, CLAW_DB_READ_COMMITTED, apply_tx, &a);
		status = rc == CLAW_ERR_NOT_FOUND ? (puts("not_found"), 0)
			: rc                      ? 1
						  : print(a.applied);
		json_decref(a.applied);
	} else if (!strcmp(argv[2], "compose")) {
		struct cp_fleet_config fc;
		struct cp_composed out;
		json_t *vers = argc > 5 ? json_loads(argv[5], 0, NULL) : NULL;
		PGconn *c = claw_db_acquire(db);

		memset(&fc, 0, sizeof(fc));
		rc = c ? cp_compose(c, &fc, argv[3], argv[4], vers, &out)
		       : CLAW_ERR_IO;
		if (c)
			claw_db_release(db, c);
		if (rc == CLAW_ERR_NOT_FOUND) {
			puts("not_found");
			status = 0;
		} else if (!rc) {
			json_t *j = json_pack(
				"{s:O, s:O, s:O?, s:O, s:O}", "gateway_config",
				out.gateway_config, "runtime_config",
				out.runtime_config, "persona", out.persona,
				"tool_servers", out.tool_servers, "versions",
				out.versions);

			status = j ? print(j) : 1;
			json_decref(j);
			cp_composed_release(&out);
		}
		json_decref(vers);
	}
	claw_db_close(db);
	return status;
}
