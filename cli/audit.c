/*
 * audit.c - "clawctl audit": list the audit log with filters (tenant,
 * actor, action, time range; newest first) and verify its hash chain, over
 * /v1/audit. verify exits 1 when the chain is broken, naming the row.
 */
#include "cli.h"

#include <string.h>

static const struct cli_col audit_cols[] = {
	{"ID", "id"},
	{"TIME", "time"},
	{"ACTOR", "actor_id"},
	{"ROLE", "actor_role"},
	{"ACTION", "action"},
	{"TARGET", "target"},
	{"SOURCE", "source_addr"},
	{"REQUEST", "request_id"},
};

static int audit_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_paging pg = {0};
	struct cli_filter f[] = {{"tenant", NULL},
				 {"actor", NULL},
				 {"action", NULL},
				 {"since", NULL},
				 {"until", NULL}};
	const struct cli_opt opts[] = {
		{"tenant", "TENANT", &f[0].value, NULL,
		 "rows of this tenant (slug or id)"},
		{"actor", "TOKEN_ID", &f[1].value, NULL,
		 "rows of this actor (a token id)"},
		{"action", "ACTION", &f[2].value, NULL,
		 "rows of this action (tenant.create, secret.put, ...)"},
		{"since", "TIME", &f[3].value, NULL,
		 "rows at or after TIME (RFC 3339: 2026-01-31T12:00:00Z)"},
		{"until", "TIME", &f[4].value, NULL,
		 "rows before TIME (RFC 3339)"},
		CLI_PAGING_OPTS(pg),
		{NULL, NULL, NULL, NULL, NULL},
	};
	const struct cli_spec spec = {
		"audit list [options]",
		"List audit rows, newest first: who did what to which target, "
		"from where, with which request id.",
		opts, 0, 0};
	int npos, ex;

	ex = cli_args_parse(ctx, &spec, argc, argv, NULL, &npos);
	if (ex)
		return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
	return cli_list_cmd(ctx, "/v1/audit", NULL, f, sizeof(f) / sizeof(f[0]),
			    &pg, audit_cols,
			    sizeof(audit_cols) / sizeof(audit_cols[0]));
}

static int audit_verify(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"audit verify",
		"Check the audit log's hash chain from its first row to its "
		"last. Exit 0 when it is intact, 1 when it is broken (the "
		"first broken row is named).",
		NULL, 0, 0};
	struct cli_call c = {.method = "GET", .path = "/v1/audit/verify"};
	json_t *reply = NULL, *ok;
	int npos, ex;

	ex = cli_args_parse(ctx, &spec, argc, argv, NULL, &npos);
	if (ex)
		return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	if (ex)
		return ex;
	ok = json_object_get(reply, "ok");
	if (!json_is_boolean(ok)) {
		fprintf(ctx->err,
			"error: the control plane's reply does not "
			"say whether the chain is intact\n");
		json_decref(reply);
		return CLI_ESERVER;
	}
	if (ctx->output == CLI_OUT_JSON)
		cli_print_json(ctx->out, reply);
	else if (json_is_true(ok))
		fprintf(ctx->out,
			"audit chain intact: %" JSON_INTEGER_FORMAT
			" rows checked\n",
			json_integer_value(
				json_object_get(reply, "rows_checked")));
	else
		fprintf(ctx->out,
			"audit chain BROKEN at row %" JSON_INTEGER_FORMAT
			": %s (%" JSON_INTEGER_FORMAT " rows checked)\n",
			json_integer_value(
				json_object_get(reply, "first_broken_id")),
			json_string_value(json_object_get(reply, "reason"))
				? json_string_value(
					  json_object_get(reply, "reason"))
				: "no reason given",
			json_integer_value(
				json_object_get(reply, "rows_checked")));
	ex = json_is_true(ok) ? CLI_OK : CLI_EFAIL;
	json_decref(reply);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"list", audit_list, "list audit rows (filters, newest first)"},
	{"verify", audit_verify, "verify the hash chain"},
};

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_dispatch(ctx, "audit", cmds, sizeof(cmds) / sizeof(cmds[0]),
			    argc, argv);
}
