/*
 * approvals.c - "clawctl approvals": the tool calls a tenant's tool policy
 * holds for a person's decision ("ask"), over /v1/approvals and
 * /v1/tenants/{t}/approvals (the control plane relays them to the
 * tenant's runtime through its node; docs/fleet.md, "Approvals").
 *
 *   list [TENANT]        pending requests of TENANT (with --all, decided
 *                        ones too), or of every placed tenant
 *   approve TENANT ID    approve; the tool runs once and the turn resumes
 *   deny TENANT ID       deny; the model is told the call did not run
 *
 * A fleet-wide list names the tenants whose node or runtime did not answer
 * on stderr (the reply's "partial"), and still prints the others.
 */
#include "cli.h"

#include <string.h>

static const struct cli_col approval_cols[] = {
	{"TENANT", "tenant"},   {"ID", "id"},
	{"TOOL", "tool"},       {"CATEGORY", "category"},
	{"STATE", "state"},     {"CHANNEL", "channel"},
	{"EXPIRES", "expires"}, {"DECIDED_BY", "decided_by"},
};

static int approvals_list(struct cli_ctx *ctx, int argc, char **argv)
{
	bool all = false;
	const struct cli_opt opts[] = {
		{"all", NULL, NULL, &all,
		 "with TENANT: decided and expired requests too"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"approvals list [TENANT] [--all]",
		"List the tool calls waiting for a decision: TENANT's, or "
		"those "
		"of every placed tenant (admin, operator). Tenants whose node "
		"or runtime did not answer are named on stderr.",
		opts, 0, 1};
	const char *pos[1] = {NULL};
	json_t *reply = NULL, *items;
	size_t i;
	json_t *p;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (pos[0])
		ex = cli_api_callf(ctx, "GET", NULL, &reply,
				   all ? "/v1/tenants/%s/approvals"
				       : "/v1/tenants/%s/approvals?state="
					 "pending",
				   pos[0]);
	else
		ex = cli_api_callf(ctx, "GET", NULL, &reply, "/v1/approvals");
	if (ex)
		return ex;
	if (cli_out_machine(ctx)) {
		cli_print_value(ctx, reply);
		json_decref(reply);
		return CLI_OK;
	}
	items = json_object_get(reply, "approvals");
	json_array_foreach(items, i, p)
		if (pos[0] && !json_object_get(p, "tenant"))
			json_object_set_new(p, "tenant", json_string(pos[0]));
	json_array_foreach(json_object_get(reply, "partial"), i, p)
		fprintf(ctx->err,
			"warning: tenant %s on node %s did not answer (%s)\n",
			json_string_value(json_object_get(p, "tenant")),
			json_string_value(json_object_get(p, "node")),
			json_string_value(json_object_get(p, "reason")));
	p = json_pack("{s:O}", "items", items ? items : json_null());
	ex = cli_print_reply(ctx, p, approval_cols,
			     sizeof(approval_cols) / sizeof(approval_cols[0]));
	json_decref(p);
	json_decref(reply);
	return ex;
}

/* approve or deny TENANT ID [--reason R]: argv[0] says which. */
static int approvals_decide(struct cli_ctx *ctx, int argc, char **argv)
{
	const bool approve = !strcmp(argv[0], "approve");
	const char *reason = NULL;
	const struct cli_opt opts[] = {
		{"reason", "TEXT", &reason, NULL,
		 "why (audited; at most 500 bytes)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		approve ? "approvals approve TENANT ID [--reason TEXT]"
			: "approvals deny TENANT ID [--reason TEXT]",
		approve ? "Approve the pending request ID of TENANT: the tool "
			  "runs (once) and the paused turn goes on. Audited; a "
			  "request decided before or expired is refused (409)."
			: "Deny the pending request ID of TENANT: the tool "
			  "does "
			  "not run and the model is told so. Audited; a "
			  "request "
			  "decided before or expired is refused (409).",
		opts, 2, 2};
	const char *pos[2] = {NULL, NULL};
	json_t *body;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	body = json_pack("{s:s}", "decision", approve ? "approve" : "deny");
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	ex = cli_api_printf(ctx, "POST", body, "/v1/tenants/%s/approvals/%s",
			    pos[0], pos[1]);
	json_decref(body);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"list", approvals_list, "list tool calls waiting for a decision"},
	{"approve", approvals_decide, "approve a pending tool call"},
	{"deny", approvals_decide, "deny a pending tool call"},
};

CLI_GROUP(cli_cmd_approvals, "approvals", cmds)
