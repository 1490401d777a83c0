/*
 * tokens.c - "clawctl tokens": create (the token is printed once, never
 * stored by clawctl), list (no secrets) and delete (revoke), over
 * /v1/tokens.
 */
#include "cli.h"

#include <string.h>

static int tokens_create(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *role = NULL, *tenant = NULL, *name = NULL, *expires = NULL;
	const struct cli_opt opts[] = {
		{"role", "ROLE", &role, NULL,
		 "admin, operator, auditor, tenant or node (required)"},
		{"tenant", "TENANT", &tenant, NULL,
		 "the tenant (slug or id) of a tenant token"},
		{"name", "NAME", &name, NULL, "a label to recognise it by"},
		{"expires-in", "SECONDS", &expires, NULL,
		 "the token stops working after SECONDS"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tokens create --role ROLE [--tenant TENANT] [--name NAME] "
		"[--expires-in SECONDS]",
		"Issue an API token. The token is shown once, on stdout: "
		"store it now (the control plane keeps only its hash).",
		opts, 0, 0};
	struct cli_call c = {.method = "POST", .path = "/v1/tokens"};
	json_t *body = NULL, *reply = NULL;
	long secs = 0;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	if (!role) {
		fprintf(ctx->err,
			"error: give the token's role with --role "
			"(admin, operator, auditor, tenant or node)\n");
		return CLI_EUSAGE;
	}
	if (expires &&
	    cli_parse_count(ctx, "expires-in", expires, 0x7fffffffL, &secs))
		return CLI_EUSAGE;
	body = json_pack("{s:s, s:s*, s:s*}", "role", role, "tenant", tenant,
			 "name", name);
	if (!body ||
	    (secs &&
	     json_object_set_new(body, "expires_in", json_integer(secs)))) {
		json_decref(body);
		fprintf(ctx->err, "error: options must be UTF-8 text\n");
		return CLI_EUSAGE;
	}
	c.body = body;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	if (!ex && cli_out_machine(ctx)) {
		cli_print_value(ctx, reply);
	} else if (!ex) {
		const char *tok =
			json_string_value(json_object_get(reply, "token"));
		const char *id =
			json_string_value(json_object_get(reply, "id"));

		if (!tok) {
			fprintf(ctx->err,
				"error: the control plane's reply "
				"holds no token\n");
			ex = CLI_ESERVER;
		} else {
			fprintf(ctx->out, "%s\n", tok);
			fprintf(ctx->err,
				"token %s (role %s) created; it is "
				"shown only this once\n",
				id ? id : "?", role);
		}
	}
	json_decref(reply);
	json_decref(body);
	return ex;
}

static const struct cli_col token_cols[] = {
	{"ID", "id"},
	{"ROLE", "role"},
	{"TENANT", "tenant_id"},
	{"NAME", "name"},
	{"CREATED", "created_at"},
	{"EXPIRES", "expires_at"},
	{"REVOKED", "revoked_at"},
};

static int tokens_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_paging pg = {0};
	struct cli_filter f[] = {{"role", NULL}, {"tenant", NULL}};
	const struct cli_opt opts[] = {
		{"role", "ROLE", &f[0].value, NULL, "only tokens of this role"},
		{"tenant", "TENANT", &f[1].value, NULL,
		 "only tokens of this tenant (slug or id)"},
		CLI_PAGING_OPTS(pg),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tokens list [options]",
		"List API tokens: ids, roles and dates, never the tokens "
		"themselves.",
		opts, 0, 0};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	return cli_list_cmd(ctx, "/v1/tokens", NULL, f, 2, &pg, token_cols,
			    sizeof(token_cols) / sizeof(token_cols[0]));
}

static int tokens_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "DELETE", "/v1/tokens/%s",
			    "tokens delete ID",
			    "Revoke a token at once: every later call made "
			    "with it gets 401. ID is the token's id (tok_...), "
			    "not the token.",
			    1, "token revoked");
}

static const struct cli_cmd cmds[] = {
	{"create", tokens_create, "issue a token (shown once)"},
	{"list", tokens_list, "list tokens (no secrets)"},
	{"delete", tokens_delete, "revoke a token"},
};

CLI_GROUP(cli_cmd_tokens, "tokens", cmds)
