/*
 * tenants.c - "clawctl tenants": list, create, get, update (rename, or set
 * the bounds an operator gives a tenant: plan, egress bound, self-pause,
 * node labels, channel base URLs; optimistic concurrency through
 * --version), delete (soft), restore and purge, over /v1/tenants.
 */
#include "cli.h"

#include <string.h>

static const struct cli_col tenant_cols[] = {
	{"SLUG", "slug"},          {"NAME", "name"},
	{"STATUS", "status"},      {"PLAN", "plan"},
	{"VERSION", "version"},    {"ID", "id"},
	{"CREATED", "created_at"}, {"PUBLIC URL", "public_url"},
};
#define N_TENANT_COLS (sizeof(tenant_cols) / sizeof(tenant_cols[0]))

/* One call on /v1/tenants/{t}[suffix] and print the tenant it returns. */
static int tenant_call(struct cli_ctx *ctx, const char *method,
		       const char *tenant, const char *suffix, json_t *body,
		       const char *version)
{
	struct claw_buf path, etag;
	struct cli_call c = {.method = method, .body = body};
	int ex;

	claw_buf_init(&path, 0);
	claw_buf_init(&etag, 0);
	if (cli_pathf(&path, "/v1/tenants/%s", tenant) ||
	    claw_buf_puts(&path, suffix) ||
	    (version && claw_buf_printf(&etag, "\"%s\"", version))) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
		goto out;
	}
	c.path = path.data;
	c.if_match = version ? etag.data : NULL;
	ex = cli_api_print(ctx, &c);
out:
	claw_buf_release(&path);
	claw_buf_release(&etag);
	return ex;
}

/* The bounds options of create and update (all optional). */
struct bounds_opts {
	const char *plan, *egress, *self_pause, *labels, *bases;
};

#define BOUNDS_OPTS(b)                                                         \
	{"plan", "PLAN", &(b).plan, NULL,                                      \
	 "the tenant's plan (\"default\": the built-in one)"},                 \
		{"egress-allow", "LIST", &(b).egress, NULL,                    \
		 "egress bound: comma-separated host:port, *.domain:port or "  \
		 "* (\"\": none)"},                                            \
		{"self-pause", "on|off", &(b).self_pause, NULL,                \
		 "whether the tenant's own token may suspend and resume it"},  \
		{"node-labels", "LIST", &(b).labels, NULL,                     \
		 "node labels its own token may ask for: comma-separated "     \
		 "LABEL=VALUE, a label once per allowed value (\"\": none)"},  \
	{                                                                      \
		"api-base-allow", "LIST", &(b).bases, NULL,                    \
			"channel base URLs its own token may set: "            \
			"comma-separated http(s) URLs or * (\"\": none)"       \
	}

/* --node-labels "zone=a,zone=b,gpu=yes": {"zone": ["a", "b"], "gpu":
 * "yes"} as node_labels of body. */
static int put_labels(struct cli_ctx *ctx, const char *text, json_t *body)
{
	json_t *list = cli_split_list(text), *o = json_object(), *e;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *kv = json_string_value(e);
		const char *eq = strchr(kv, '=');
		char name[64];
		json_t *have, *v;

		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(name)) {
			fprintf(ctx->err,
				"error: --node-labels takes LABEL=VALUE "
				"entries (entry %zu is not one)\n",
				i + 1);
			json_decref(list);
			json_decref(o);
			return CLI_EUSAGE;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
		v = json_string(eq + 1);
		have = json_object_get(o, name);
		if (!have) {
			json_object_set_new(o, name, v);
		} else if (json_is_array(have)) {
			json_array_append_new(have, v);
		} else {
			json_object_set_new(o, name,
					    json_pack("[O, o]", have, v));
		}
	}
	json_decref(list);
	json_object_set_new(body, "node_labels", o);
	return CLI_OK;
}

/* Add the bounds given to body; CLI_EUSAGE on a bad value. */
static int put_bounds(struct cli_ctx *ctx, const struct bounds_opts *b,
		      json_t *body)
{
	if (b->plan)
		json_object_set_new(body, "plan", json_string(b->plan));
	if (b->self_pause) {
		bool on = !strcmp(b->self_pause, "on");

		if (!on && strcmp(b->self_pause, "off")) {
			fprintf(ctx->err, "error: --self-pause is on or off\n");
			return CLI_EUSAGE;
		}
		json_object_set_new(body, "self_pause", json_boolean(on));
	}
	if (b->egress)
		json_object_set_new(body, "egress_allow",
				    cli_split_list(b->egress));
	if (b->bases)
		json_object_set_new(body, "api_base_allow",
				    cli_split_list(b->bases));
	if (b->labels)
		return put_labels(ctx, b->labels, body);
	return CLI_OK;
}

static int check_version(struct cli_ctx *ctx, const char *v)
{
	long n;

	return v ? cli_parse_count(ctx, "version", v, 0x7fffffffL, &n) : 0;
}

/* Send body_new (NULL when what it names was not UTF-8 text) with the
 * bounds b added, as method on tenant (NULL: on the collection), and
 * print the tenant the reply holds. */
static int send_tenant(struct cli_ctx *ctx, const char *method,
		       const char *tenant, json_t *body_new, const char *what,
		       const struct bounds_opts *b, const char *version)
{
	int ex = CLI_EUSAGE;

	if (!body_new)
		fprintf(ctx->err, "error: %s must be UTF-8 text\n", what);
	else if (put_bounds(ctx, b, body_new))
		ex = CLI_EUSAGE;
	else if (tenant)
		ex = tenant_call(ctx, method, tenant, "", body_new, version);
	else
		ex = cli_api_printf(ctx, method, body_new, "/v1/tenants");
	json_decref(body_new);
	return ex;
}

static int tenants_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_paging pg = {0};
	struct cli_filter f[] = {{"status", NULL}, {"slug_prefix", NULL}};
	const struct cli_opt opts[] = {
		{"status", "STATUS", &f[0].value, NULL,
		 "active (default), deleted or all"},
		{"slug-prefix", "PREFIX", &f[1].value, NULL,
		 "only tenants whose slug starts with PREFIX"},
		CLI_PAGING_OPTS(pg),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tenants list [options]",
		"List tenants, one page at a time (in the order the API gives "
		"them).",
		opts, 0, 0};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	return cli_list_cmd(ctx, "/v1/tenants", NULL, f, 2, &pg, tenant_cols,
			    N_TENANT_COLS);
}

static int tenants_create(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *name = NULL, *tpl = NULL;
	struct bounds_opts b = {NULL, NULL, NULL, NULL, NULL};
	const struct cli_opt opts[] = {
		{"name", "NAME", &name, NULL,
		 "display name (default: the slug)"},
		{"template", "T", &tpl, NULL,
		 "start from template T's persona, model, channels and tools "
		 "(clawctl templates list); only its secrets are left to set"},
		BOUNDS_OPTS(b),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tenants create SLUG [--name NAME] [--template T] [--plan "
		"PLAN] "
		"[--egress-allow LIST] [--self-pause on|off] "
		"[--node-labels LIST] [--api-base-allow LIST]",
		"Create a tenant. SLUG is a DNS label (a-z, 0-9, '-', at most "
		"63) that names the tenant in every other command. Without "
		"--plan it is on the built-in default plan; without "
		"--egress-allow its own token may give its gateway no egress "
		"beyond the fleet's default config; without --node-labels it "
		"may name no node labels; without --api-base-allow no channel "
		"base URL but the fleet default config's.",
		opts, 1, 1};
	const char *pos[1];
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	return send_tenant(ctx, "POST", NULL,
			   json_pack("{s:s, s:s, s:s*}", "slug", pos[0], "name",
				     name ? name : pos[0], "template", tpl),
			   "slug and name", &b, NULL);
}

static int tenants_get(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(
		ctx, argc, argv, "GET", "/v1/tenants/%s", "tenants get TENANT",
		"Show one tenant. TENANT is its slug or its id.", 1, NULL);
}

static int tenants_update(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *name = NULL, *version = NULL;
	struct bounds_opts b = {NULL, NULL, NULL, NULL, NULL};
	const struct cli_opt opts[] = {
		{"name", "NAME", &name, NULL, "the new display name"},
		BOUNDS_OPTS(b),
		{"version", "N", &version, NULL,
		 "only if the tenant is still at version N (else exit 6)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tenants update TENANT [--name NAME] [--plan PLAN] "
		"[--egress-allow LIST] [--self-pause on|off] "
		"[--node-labels LIST] [--api-base-allow LIST] [--version N]",
		"Change a tenant's display name (admin) or its bounds (admin "
		"or operator): its plan, its egress bound, whether its own "
		"token may suspend and resume it, the node labels its own "
		"deploys may ask for, the channel base URLs its gateway "
		"config may set. With --version the change is refused (exit "
		"6) when someone changed the tenant since you read version "
		"N.",
		opts, 1, 1};
	const char *pos[1];
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!name && !b.plan && !b.egress && !b.self_pause && !b.labels &&
	    !b.bases) {
		fprintf(ctx->err,
			"error: nothing to change; give --name, --plan, "
			"--egress-allow, --self-pause, --node-labels or "
			"--api-base-allow\n");
		return CLI_EUSAGE;
	}
	if (check_version(ctx, version))
		return CLI_EUSAGE;
	return send_tenant(ctx, "PATCH", pos[0],
			   name ? json_pack("{s:s}", "name", name)
				: json_object(),
			   "the name", &b, version);
}

static int tenants_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *version = NULL;
	const struct cli_opt opts[] = {
		{"version", "N", &version, NULL,
		 "only if the tenant is still at version N (else exit 6)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tenants delete TENANT [--version N]",
		"Delete a tenant softly: it is marked deleted and can be "
		"restored until it is purged ('tenants purge').",
		opts, 1, 1};
	const char *pos[1];
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (check_version(ctx, version))
		return CLI_EUSAGE;
	return tenant_call(ctx, "DELETE", pos[0], "", NULL, version);
}

static int tenants_restore(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(
		ctx, argc, argv, "POST", "/v1/tenants/%s/restore",
		"tenants restore TENANT",
		"Bring back a tenant that was deleted and not purged yet.", 1,
		NULL);
}

static int tenants_purge(struct cli_ctx *ctx, int argc, char **argv)
{
	bool yes = false;
	const struct cli_opt opts[] = {
		{"yes", NULL, NULL, &yes,
		 "confirm: the tenant and its data go for good"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tenants purge TENANT --yes",
		"Remove a deleted tenant and everything it holds, for good. "
		"Its audit rows stay.",
		opts, 1, 1};
	const char *pos[1];
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!yes) {
		fprintf(ctx->err,
			"error: purging '%s' cannot be undone; "
			"repeat with --yes to confirm\n",
			pos[0]);
		return CLI_EUSAGE;
	}
	return cli_api_done(ctx, "POST", "tenant purged",
			    "/v1/tenants/%s/purge", pos[0]);
}

static const struct cli_cmd cmds[] = {
	{"list", tenants_list, "list tenants"},
	{"create", tenants_create, "create a tenant"},
	{"get", tenants_get, "show one tenant"},
	{"update", tenants_update, "rename a tenant, or change its bounds"},
	{"delete", tenants_delete, "delete a tenant (it can be restored)"},
	{"restore", tenants_restore, "restore a deleted tenant"},
	{"purge", tenants_purge, "remove a deleted tenant for good"},
};

CLI_GROUP(cli_cmd_tenants, "tenants", cmds)
