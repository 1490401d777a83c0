/*
 * lifecycle.c - what runs of a deployed tenant: "clawctl status" (where it
 * runs and what its node saw), "stop" and "start" (both containers),
 * "suspend" and "resume" (the kill switch: the runtime stops within a
 * second, the gateway stays up to answer that the agent is unavailable),
 * and "undeploy" (take the tenant off its node). All audited by the
 * control plane.
 */
#include "cli.h"

#include <stdio.h>

/* After the placement, one line per sandboxed tool server the node
 * reported (its observed "tool_servers", docs/node-agent.md "Tool
 * servers"), whole (a table cell would cut the reason): "tool NAME:
 * STATE", its restarts, and why it is down (its log tail is in -o json). */
static void tool_lines(FILE *out, const json_t *place)
{
	const json_t *ts = json_object_get(json_object_get(place, "observed"),
					   "tool_servers");
	size_t i;
	json_t *s;

	json_array_foreach(ts, i, s) {
		const char *name =
			json_string_value(json_object_get(s, "name"));
		const char *state =
			json_string_value(json_object_get(s, "state"));
		const char *err =
			json_string_value(json_object_get(s, "error"));
		json_int_t restarts =
			json_integer_value(json_object_get(s, "restarts"));
		char line[1200];
		int n;

		if (!name || !state)
			continue;
		n = snprintf(line, sizeof(line), "tool %s: %s", name, state);
		if (restarts > 0 && n > 0 && n < (int)sizeof(line))
			n += snprintf(line + n, sizeof(line) - (size_t)n,
				      " (%" JSON_INTEGER_FORMAT " restarts)",
				      restarts);
		if (err && *err && n > 0 && n < (int)sizeof(line))
			snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
				 err);
		/* the node's words: no control character reaches the tty */
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		fprintf(out, "%s\n", line);
	}
}

/* The placement, with the tenant's edge view from GET /v1/tenants/{t}
 * (docs/fleet.md, "Public addresses"): its custom domains and each
 * enabled channel's webhook URL on its public address. */
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"status TENANT",
		"Show where TENANT runs: its node, desired state, phase, "
		"generation, what the node last observed (health, restarts), "
		"its public URL, custom domains, the webhook URL of each "
		"enabled channel and the state of each sandboxed tool server.",
		NULL, 1, 1};
	const char *pos[1];
	json_t *place = NULL, *ten = NULL;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = cli_api_callf(ctx, "GET", NULL, &place, "/v1/tenants/%s/placement",
			   pos[0]);
	if (ex)
		goto out;
	ex = cli_api_callf(ctx, "GET", NULL, &ten, "/v1/tenants/%s", pos[0]);
	if (ex)
		goto out;
	if (json_is_object(place) && json_is_object(ten)) {
		json_object_set(place, "domains",
				json_object_get(ten, "domains"));
		json_object_set(place, "webhooks",
				json_object_get(ten, "webhooks"));
	}
	if (!cli_out_machine(ctx) && json_is_object(place)) {
		/* one line per channel: a URL to copy whole */
		json_t *hooks = json_incref(json_object_get(place, "webhooks"));
		const char *ch;
		json_t *url;
		char key[64];

		json_object_del(place, "webhooks");
		json_object_foreach(hooks, ch, url) {
			snprintf(key, sizeof(key), "webhook %s", ch);
			json_object_set(place, key, url);
		}
		json_decref(hooks);
	}
	ex = cli_print_reply(ctx, place, NULL, 0);
	if (!ex && !cli_out_machine(ctx))
		tool_lines(ctx->out, place);
out:
	json_decref(place);
	json_decref(ten);
	return ex;
}

int cli_cmd_stop(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "POST", "/v1/tenants/%s/stop",
			    "stop TENANT",
			    "Stop both of TENANT's containers; it stays "
			    "placed on its node ('start' brings it back).",
			    1, NULL);
}

int cli_cmd_start(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "POST", "/v1/tenants/%s/start",
			    "start TENANT", "Run a stopped tenant again.", 1,
			    NULL);
}

int cli_cmd_suspend(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "POST", "/v1/tenants/%s/suspend",
			    "suspend TENANT",
			    "Kill switch: stop TENANT's agent runtime at "
			    "once; its gateway stays up and tells users "
			    "the agent is unavailable. 'resume' undoes "
			    "it.",
			    1, NULL);
}

int cli_cmd_resume(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "POST", "/v1/tenants/%s/resume",
			    "resume TENANT",
			    "Bring a suspended tenant's runtime back.", 1,
			    NULL);
}

int cli_cmd_undeploy(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "DELETE",
			    "/v1/tenants/%s/deployment", "undeploy TENANT",
			    "Take TENANT off its node: its containers are "
			    "removed (its deployments are kept for a later "
			    "deploy or rollback).",
			    1, "tenant undeployed");
}
