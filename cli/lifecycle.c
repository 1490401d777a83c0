/*
 * lifecycle.c - what runs of a deployed tenant: "clawctl status" (where it
 * runs and what its node saw), "stop" and "start" (both containers),
 * "suspend" and "resume" (the kill switch: the runtime stops within a
 * second, the gateway stays up to answer that the agent is unavailable),
 * and "undeploy" (take the tenant off its node). All audited by the
 * control plane.
 */
#include "cli.h"

int cli_cmd_status(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "GET", "/v1/tenants/%s/placement",
			    "status TENANT",
			    "Show where TENANT runs: its node, desired "
			    "state, phase, generation and what the node "
			    "last observed (health, restarts).",
			    1, NULL);
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
