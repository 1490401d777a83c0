/*
 * nodes.c - "clawctl nodes": list and show nodes, cordon, uncordon, drain,
 * revoke and delete them, and issue the single-use join token a new node
 * agent exchanges for its credential, over /v1/nodes.
 */
#include "cli.h"

#include <string.h>

static const struct cli_col node_cols[] = {
	{"NAME", "name"},
	{"STATUS", "status"},
	{"CORDONED", "cordoned"},
	{"DRAINING", "draining"},
	{"TENANTS", "allocated.tenants"},
	{"CPU_M", "capacity.cpus_milli"},
	{"CPU_USED_M", "allocated.cpus_milli"},
	{"MEM_MB", "capacity.memory_mb"},
	{"MEM_USED_MB", "allocated.memory_mb"},
	{"HEARTBEAT", "last_heartbeat"},
	{"ID", "id"},
};

static int nodes_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/nodes", "nodes list",
		"List the nodes of the fleet: status, whether they take new "
		"tenants, what they hold and their last heartbeat.",
		0, false, node_cols, sizeof(node_cols) / sizeof(node_cols[0]));
}

static int nodes_join_token(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *ttl = NULL;
	const struct cli_opt opts[] = {
		{"ttl", "SECONDS", &ttl, NULL, "validity: 10 to 604800"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"nodes join-token [--ttl SECONDS]",
		"Issue a short-lived, single-use join token for a new node "
		"agent, valid for --ttl seconds (default: the control "
		"plane's). "
		"The token alone is printed on stdout, once.",
		opts, 0, 0};
	struct cli_call c = {.method = "POST", .path = "/v1/nodes/join-tokens"};
	json_t *body, *reply = NULL;
	const char *tok;
	long secs = 0;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	if (ttl && cli_parse_count(ctx, "ttl", ttl, 604800, &secs))
		return CLI_EUSAGE;
	body = secs ? json_pack("{s:I}", "ttl_s", (json_int_t)secs)
		    : json_object();
	c.body = body;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	tok = json_string_value(json_object_get(reply, "token"));
	if (!ex && cli_out_machine(ctx)) {
		cli_print_value(ctx, reply);
	} else if (!ex && !tok) {
		fprintf(ctx->err,
			"error: the control plane's reply holds no "
			"token\n");
		ex = CLI_ESERVER;
	} else if (!ex) {
		const char *until =
			json_string_value(json_object_get(reply, "expires_at"));

		fprintf(ctx->out, "%s\n", tok);
		fprintf(ctx->err, "join token valid once, until %s\n",
			until ? until : "its expiry");
	}
	json_decref(reply);
	json_decref(body);
	return ex;
}

/* The commands that act on one node by a call on its path. */
static const struct cli_path_def node_paths[] = {
	{"get", "GET", "/v1/nodes/%s", "nodes get NODE",
	 "Show one node. NODE is its name or its id.", 1, NULL},
	{"cordon", "POST", "/v1/nodes/%s/cordon", "nodes cordon NODE",
	 "Stop placing new tenants on NODE; what runs there keeps running.", 1,
	 NULL},
	{"uncordon", "POST", "/v1/nodes/%s/uncordon", "nodes uncordon NODE",
	 "Let NODE take new tenants again.", 1, NULL},
	{"drain", "POST", "/v1/nodes/%s/drain", "nodes drain NODE",
	 "Cordon NODE and move its tenants to other nodes, one at a time, "
	 "each healthy elsewhere before the next. Follow it with 'nodes get "
	 "NODE'.",
	 1, NULL},
	{"revoke", "POST", "/v1/nodes/%s/revoke", "nodes revoke NODE",
	 "Revoke NODE's credential at once: its agent is refused from its "
	 "next call, and its tenants are placed elsewhere.",
	 1, NULL},
	{"delete", "DELETE", "/v1/nodes/%s", "nodes delete NODE",
	 "Remove NODE from the fleet (its tenants are placed elsewhere).", 1,
	 "node deleted"},
};

static int nodes_path(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_table_cmd(ctx, argc, argv, node_paths,
				  sizeof(node_paths) / sizeof(node_paths[0]));
}

static const struct cli_cmd cmds[] = {
	{"list", nodes_list, "list nodes"},
	{"get", nodes_path, "show one node"},
	{"cordon", nodes_path, "take no new tenants"},
	{"uncordon", nodes_path, "take new tenants again"},
	{"drain", nodes_path, "move every tenant off a node"},
	{"revoke", nodes_path, "revoke a node's credential"},
	{"delete", nodes_path, "remove a node from the fleet"},
	{"join-token", nodes_join_token, "issue a join token for a new node"},
};

CLI_GROUP(cli_cmd_nodes, "nodes", cmds)
