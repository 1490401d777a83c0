/*
 * mcp.c - "clawctl mcp": a tenant's remote MCP servers behind OAuth 2.1
 * (docs/fleet.md, "Connecting an OAuth MCP server").
 *
 *   connect TENANT SERVER [--no-wait]
 *       start the authorization of SERVER (an entry of the tenant's
 *       deployment's runtime_config mcp_servers with an oauth object):
 *       the authorization URL is printed on stdout for the operator to
 *       open; then clawctl waits (progress on stderr) until the control
 *       plane, the OAuth redirect endpoint, says connected (exit 0) or
 *       failed or expired (exit 1). --no-wait prints the flow and
 *       returns. The grant is stored as the tenant's secret; the runtime
 *       reads it after a redeploy, which clawctl reminds of.
 */
#include "cli.h"

#include <string.h>

#define POLL_MS 1000
#define MAX_POLLS 720 /* the flow lives 10 minutes; a margin */

static const char *str_of(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* Poll the flow until it is not pending. */
static int wait_flow(struct cli_ctx *ctx, const char *tenant,
		     const char *server, const char *flow, const char *secret)
{
	json_t *f = NULL;
	int ex = CLI_OK;

	fprintf(ctx->err, "waiting for the authorization (flow %s) ...\n",
		flow);
	fflush(ctx->err);
	for (int i = 0; i < MAX_POLLS; i++) {
		const char *st;

		json_decref(f);
		f = NULL;
		ex = cli_api_callf(ctx, "GET", NULL, &f,
				   "/v1/tenants/%s/mcp/%s/connect/%s", tenant,
				   server, flow);
		if (ex)
			return ex;
		st = str_of(f, "state");
		if (!strcmp(st, "connected")) {
			fprintf(ctx->err,
				"connected: the grant is stored as the "
				"secret %s of tenant %s. Redeploy the tenant "
				"(clawctl deploy %s) for its runtime to use "
				"it.\n",
				secret, tenant, tenant);
			ex = cli_print_reply(ctx, f, NULL, 0);
			json_decref(f);
			return ex;
		}
		if (strcmp(st, "pending")) {
			fprintf(ctx->err, "error: not connected: %s\n",
				str_of(f, "reason"));
			cli_print_reply(ctx, f, NULL, 0);
			json_decref(f);
			return CLI_EFAIL;
		}
		cli_sleep_ms(POLL_MS);
	}
	json_decref(f);
	fprintf(ctx->err,
		"error: still pending; follow it with GET "
		"/v1/tenants/%s/mcp/%s/connect/%s\n",
		tenant, server, flow);
	return CLI_EWAIT;
}

static int mcp_connect(struct cli_ctx *ctx, int argc, char **argv)
{
	bool no_wait = false;
	const struct cli_opt opts[] = {
		{"no-wait", NULL, NULL, &no_wait,
		 "print the authorization URL and the flow, and return"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"mcp connect TENANT SERVER [--no-wait]",
		"Authorize the tenant's remote MCP server SERVER (OAuth 2.1; "
		"the server's oauth object in the deployment's runtime_config "
		"names the secret for the grant). Prints the authorization URL "
		"to open in a browser, then waits until the control plane has "
		"stored the grant (or the authorization failed or expired). A "
		"redeploy makes the runtime use it.",
		opts, 2, 2};
	const char *pos[2] = {NULL, NULL};
	json_t *reply = NULL;
	const char *url, *flow;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = cli_api_callf(ctx, "POST", NULL, &reply,
			   "/v1/tenants/%s/mcp/%s/connect", pos[0], pos[1]);
	if (ex)
		return ex;
	url = str_of(reply, "authorization_url");
	flow = str_of(reply, "flow");
	if (!url[0] || !flow[0]) {
		fprintf(ctx->err,
			"error: the control plane's reply has no "
			"authorization URL\n");
		json_decref(reply);
		return CLI_ESERVER;
	}
	if (no_wait) {
		fprintf(ctx->err,
			"open the authorization URL in a browser; the grant "
			"goes to the secret %s; redeploy the tenant after\n",
			str_of(reply, "token_secret"));
		ex = cli_print_reply(ctx, reply, NULL, 0);
		json_decref(reply);
		return ex;
	}
	fprintf(ctx->err,
		"open this URL in a browser to authorize %s of %s "
		"(valid until %s):\n",
		pos[1], pos[0], str_of(reply, "expires_at"));
	/* stdout holds the URL, or with -o json only the final flow */
	fprintf(cli_out_machine(ctx) ? ctx->err : ctx->out, "%s\n", url);
	fflush(ctx->out);
	fflush(ctx->err);
	ex = wait_flow(ctx, pos[0], pos[1], flow,
		       str_of(reply, "token_secret"));
	json_decref(reply);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"connect", mcp_connect,
	 "authorize a remote MCP server (OAuth) and store its grant"},
};

CLI_GROUP(cli_cmd_mcp, "mcp", cmds)
