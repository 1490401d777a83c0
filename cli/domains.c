/*
 * domains.c - "clawctl domains": list, add and remove the custom domains
 * a tenant claims, over /v1/tenants/{t}/domains (docs/fleet.md, "Public
 * addresses"). A claimed domain is routed by every node's edge and gets
 * its certificate on its first HTTPS request (Caddy's on-demand TLS asks
 * the control plane first). Point its DNS at the nodes before claiming.
 */
#include "cli.h"

static const struct cli_col domain_cols[] = {
	{"DOMAIN", "domain"},
	{"CLAIMED", "created_at"},
};

static int domains_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/tenants/%s/domains",
		"domains list TENANT",
		"List the custom domains TENANT has claimed (its public host, "
		"SLUG.BASE-DOMAIN, is not listed: 'clawctl status' shows it).",
		1, false, domain_cols,
		sizeof(domain_cols) / sizeof(domain_cols[0]));
}

static int domains_add(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(
		ctx, argc, argv, "PUT", "/v1/tenants/%s/domains/%s",
		"domains add TENANT DOMAIN",
		"Claim DOMAIN (a host name such as chat.example.com; no "
		"wildcard, no IP address, nothing under the fleet's base "
		"domain) for TENANT. A domain belongs to one tenant at most. "
		"Audited.",
		2, NULL);
}

static int domains_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "DELETE",
			    "/v1/tenants/%s/domains/%s",
			    "domains remove TENANT DOMAIN",
			    "Release DOMAIN: the edges stop routing it. "
			    "Audited.",
			    2, "domain released");
}

static const struct cli_cmd cmds[] = {
	{"list", domains_list, "list a tenant's custom domains"},
	{"add", domains_add, "claim a custom domain for a tenant"},
	{"remove", domains_remove, "release a tenant's custom domain"},
};

CLI_GROUP(cli_cmd_domains, "domains", cmds)
