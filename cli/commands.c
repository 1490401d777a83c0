/*
 * commands.c - the top of clawctl: the table of command groups, the global
 * options before the command, dispatch to a group and to its subcommands.
 */
#include "cli.h"

#include <string.h>

#include "claw/crypto.h"
#include "claw/httpc.h"

static const struct cli_cmd top[] = {
	{"tenants", cli_cmd_tenants,
	 "list, create, show, rename, delete, "
	 "restore and purge tenants"},
	{"tokens", cli_cmd_tokens, "create, list and revoke API tokens"},
	{"secrets", cli_cmd_secrets,
	 "set, list and delete a tenant's "
	 "secrets (values are write-only)"},
	{"domains", cli_cmd_domains,
	 "list, add and remove a tenant's custom domains"},
	{"audit", cli_cmd_audit,
	 "read the audit log and verify its hash "
	 "chain"},
	{"deploy", cli_cmd_deploy,
	 "deploy a tenant in one call and follow it "
	 "to healthy"},
	{"deployments", cli_cmd_deployments,
	 "list and show a tenant's "
	 "deployments"},
	{"rollback", cli_cmd_rollback,
	 "redeploy the previous healthy "
	 "deployment"},
	{"status", cli_cmd_status,
	 "where a tenant runs and what its node "
	 "saw"},
	{"stop", cli_cmd_stop, "stop a tenant's containers"},
	{"start", cli_cmd_start, "start a stopped tenant"},
	{"suspend", cli_cmd_suspend,
	 "kill switch: stop a tenant's runtime "
	 "now"},
	{"resume", cli_cmd_resume, "bring a suspended tenant back"},
	{"undeploy", cli_cmd_undeploy, "take a tenant off its node"},
	{"logs", cli_cmd_logs, "print (and follow) a tenant's container log"},
	{"events", cli_cmd_events, "follow the fleet's events"},
	{"nodes", cli_cmd_nodes,
	 "list, cordon, drain and remove nodes; "
	 "issue join tokens"},
	{"plans", cli_cmd_plans,
	 "list, create, change and delete the plans tenants deploy within"},
	{"rollout", cli_cmd_rollout,
	 "move many tenants to a new image or config in health-gated "
	 "batches; follow, pause, resume, abort"},
	{"top", cli_cmd_top, "usage and resources per tenant, sortable"},
	{"channels", cli_cmd_channels,
	 "connect a tenant's channels (Telegram, Slack, ...) and show "
	 "their webhook URLs"},
	{"persona", cli_cmd_persona,
	 "show, edit (in $EDITOR, with a diff), list and roll back a "
	 "tenant's SOUL.md"},
	{"model", cli_cmd_model,
	 "set a tenant's model provider and key; test it with one call"},
	{"tools", cli_cmd_tools, "add, list and remove a tenant's MCP servers"},
	{"templates", cli_cmd_templates,
	 "list, show, create and delete templates of tenant resources"},
	{"mcp", cli_cmd_mcp,
	 "connect a tenant's remote MCP server (OAuth) and store its grant"},
	{"approvals", cli_cmd_approvals,
	 "list, approve and deny tool calls a tenant's policy holds for a "
	 "person"},
	{"chat", cli_cmd_chat,
	 "talk to a tenant's agent through its OpenAI-compatible endpoint"},
	{"config", cli_cmd_config,
	 "contexts: named control planes and their tokens"},
	{"completion", cli_cmd_completion,
	 "print the bash or zsh completion script"},
};

const struct cli_cmd *cli_top_cmds(size_t *n)
{
	*n = sizeof(top) / sizeof(top[0]);
	return top;
}

static void print_cmds(FILE *f, const struct cli_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %-14s ", cmds[i].name);
		cli_wrap(f, 17, 17, cmds[i].help);
	}
}

static void top_help(struct cli_ctx *ctx, FILE *f)
{
	fprintf(f,
		"usage: %s [global options] COMMAND [SUBCOMMAND] "
		"[options] [arguments]\n\n"
		"The operator CLI of the claw platform: a client of the "
		"control plane's REST API.\n\nCommands:\n",
		ctx->prog);
	print_cmds(f, top, sizeof(top) / sizeof(top[0]));
	fprintf(f, "\n");
	cli_global_help(f);
	fprintf(f,
		"\nRun '%s COMMAND --help' for a command's own options.\n"
		"\n",
		ctx->prog);
	cli_wrap(f, 0, 0,
		 "Exit codes: 0 ok, 1 the operation failed, 2 "
		 "usage, 3 control plane unreachable, 4 not authorised, 5 "
		 "not found, 6 conflict, 7 request refused as invalid, 8 "
		 "server error, 9 local error, 10 still in progress after "
		 "the wait.");
}

int cli_dispatch(struct cli_ctx *ctx, const char *group,
		 const struct cli_cmd *cmds, size_t n, int argc, char **argv)
{
	size_t len = strlen(ctx->cmd_path);
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (ctx->describe) {
		cli_describe_group(ctx, cmds, n);
		return CLI_OK;
	}
	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
		FILE *f = sub ? ctx->out : ctx->err;

		fprintf(f,
			"usage: %s %s SUBCOMMAND [options]\n\n"
			"Subcommands:\n",
			ctx->prog, group);
		print_cmds(f, cmds, n);
		fprintf(f,
			"\nRun '%s %s SUBCOMMAND --help' for its "
			"options.\n",
			ctx->prog, group);
		return sub ? CLI_OK : CLI_EUSAGE;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(cmds[i].name, sub))
			continue;
		snprintf(ctx->cmd_path + len, sizeof(ctx->cmd_path) - len,
			 "%s%s", len ? " " : "", sub);
		return cmds[i].fn(ctx, argc - 1, argv + 1);
	}
	fprintf(ctx->err,
		"error: '%s' is not a subcommand of '%s'; see "
		"'%s %s --help'\n",
		sub, group, ctx->prog, group);
	return CLI_EUSAGE;
}

/* Global options before the command: returns the index of the command
 * (with *help set when --help came first), or minus an exit code. */
static int parse_globals(struct cli_ctx *ctx, int argc, char **argv, bool *help)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		const char *eq;
		char name[32];
		size_t len;
		int r;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			*help = true;
			return i;
		}
		if (!strncmp(a, "-o", 2) && strncmp(a, "--", 2)) {
			const char *v = a[2]
				? a + 2
				: (i + 1 < argc ? argv[++i] : NULL);

			if (!v) {
				fprintf(ctx->err, "error: -o needs a value\n");
				return -CLI_EUSAGE;
			}
			if (cli_global_opt(ctx, "output", v) < 0)
				return -CLI_EUSAGE;
			i++;
			continue;
		}
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a - 2) : strlen(a) - 2;
		if (strncmp(a, "--", 2) || len == 0 || len >= sizeof(name)) {
			fprintf(ctx->err,
				"error: unknown option '%s'; see "
				"'%s --help'\n",
				a, ctx->prog);
			return -CLI_EUSAGE;
		}
		memcpy(name, a + 2, len);
		name[len] = '\0';
		if (!eq && i + 1 >= argc) {
			fprintf(ctx->err, "error: --%s needs a value\n", name);
			return -CLI_EUSAGE;
		}
		r = cli_global_opt(ctx, name, eq ? eq + 1 : argv[i + 1]);
		if (r < 0)
			return r;
		if (r == 0) {
			fprintf(ctx->err,
				"error: unknown option '--%s'; see "
				"'%s --help'\n",
				name, ctx->prog);
			return -CLI_EUSAGE;
		}
		i += eq ? 1 : 2;
	}
	return i;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct cli_ctx ctx = {
		.prog = "clawctl",
		.timeout_ms = 30000,
		.out = out,
		.err = err,
	};
	bool help = false;
	int i, ex;

	i = parse_globals(&ctx, argc, argv, &help);
	if (i < 0)
		return -i;
	if (help) {
		top_help(&ctx, out);
		return CLI_OK;
	}
	if (i >= argc) {
		top_help(&ctx, err);
		return CLI_EUSAGE;
	}
	for (size_t k = 0; k < sizeof(top) / sizeof(top[0]); k++) {
		if (strcmp(top[k].name, argv[i]))
			continue;
		if (claw_crypto_init() || claw_httpc_global_init()) {
			fprintf(err,
				"error: unable to initialise libsodium "
				"or libcurl\n");
			return CLI_ELOCAL;
		}
		snprintf(ctx.cmd_path, sizeof(ctx.cmd_path), "%s", top[k].name);
		ex = top[k].fn(&ctx, argc - i, argv + i);
		claw_httpc_global_cleanup();
		fflush(out);
		cli_ctx_release(&ctx);
		return ex;
	}
	fprintf(err,
		"error: '%s' is not a clawctl command; see '%s "
		"--help'\n",
		argv[i], ctx.prog);
	return CLI_EUSAGE;
}
