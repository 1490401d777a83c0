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

/* The placement, with the tenant's edge view from GET /v1/tenants/{t}
 * (docs/fleet.md, "Public addresses"): its custom domains and each
 * enabled channel's webhook URL on its public address. */
int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"status TENANT",
		"Show where TENANT runs: its node, desired state, phase, "
		"generation, what the node last observed (health, restarts), "
		"its public URL, custom domains and the webhook URL of each "
		"enabled channel.",
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
