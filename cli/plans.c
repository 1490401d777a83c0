/*
 * plans.c - "clawctl plans": list, show, create, update and delete the
 * operator's plans (resource ceilings a tenant token deploys within), over
 * /v1/plans. A tenant is put on a plan with "tenants update T --plan P".
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_col plan_cols[] = {
	{"NAME", "name"},        {"CPU_M", "cpus_milli"},
	{"MEM_MB", "memory_mb"}, {"PIDS", "pids"},
	{"DISK_MB", "disk_mb"},  {"TENANTS", "tenants"},
	{"BUILTIN", "builtin"},
};

/* The four values of a plan as options. */
struct plan_opts {
	const char *v[4];
};
static const char *const plan_keys[4] = {"cpus_milli", "memory_mb", "pids",
					 "disk_mb"};

#define PLAN_OPTS(po)                                                          \
	{"cpus-milli", "N", &(po).v[0], NULL,                                  \
	 "CPU in thousandths of a CPU (10 to 256000)"},                        \
		{"memory-mb", "N", &(po).v[1], NULL,                           \
		 "memory in MiB (16 to 1048576)"},                             \
		{"pids", "N", &(po).v[2], NULL, "process limit (8 to 65536)"}, \
	{                                                                      \
		"disk-mb", "N", &(po).v[3], NULL,                              \
			"data volume in MiB (0: no limit)"                     \
	}

/* Add the values given to body; CLI_EUSAGE when one is not a number. */
static int put_values(struct cli_ctx *ctx, const struct plan_opts *po,
		      json_t *body, int *given)
{
	*given = 0;
	for (int i = 0; i < 4; i++) {
		char *end;
		long long n;

		if (!po->v[i])
			continue;
		errno = 0;
		n = strtoll(po->v[i], &end, 10);
		if (errno || end == po->v[i] || *end || n < 0) {
			fprintf(ctx->err,
				"error: --%s must be a whole number of at "
				"least 0\n",
				i == 0           ? "cpus-milli"
					: i == 1 ? "memory-mb"
					: i == 2 ? "pids"
						 : "disk-mb");
			return CLI_EUSAGE;
		}
		json_object_set_new(body, plan_keys[i], json_integer(n));
		(*given)++;
	}
	return CLI_OK;
}

static int plans_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/plans", "plans list",
		"List the plans: the built-in \"default\" (the control "
		"plane's default-* options) first, then the others.",
		0, false, plan_cols, sizeof(plan_cols) / sizeof(plan_cols[0]));
}

static int plans_get(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "GET", "/v1/plans/%s",
			    "plans get PLAN",
			    "Show one plan (\"default\": the built-in one). A "
			    "tenant token may read its own plan.",
			    1, NULL);
}

static int plans_create(struct cli_ctx *ctx, int argc, char **argv)
{
	struct plan_opts po = {{NULL}};
	const struct cli_opt opts[] = {
		PLAN_OPTS(po),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"plans create NAME --cpus-milli N --memory-mb N --pids N "
		"[--disk-mb N]",
		"Create a plan: the most a tenant on it may ask for when its "
		"own token deploys. NAME is a DNS label.",
		opts, 1, 1};
	const char *pos[1];
	json_t *body;
	int ex, given;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!po.v[0] || !po.v[1] || !po.v[2]) {
		fprintf(ctx->err,
			"error: a plan needs --cpus-milli, --memory-mb and "
			"--pids\n");
		return CLI_EUSAGE;
	}
	body = json_pack("{s:s}", "name", pos[0]);
	if (!body) {
		fprintf(ctx->err, "error: the name must be UTF-8 text\n");
		return CLI_EUSAGE;
	}
	ex = put_values(ctx, &po, body, &given);
	if (!ex)
		ex = cli_api_printf(ctx, "POST", body, "/v1/plans");
	json_decref(body);
	return ex;
}

static int plans_update(struct cli_ctx *ctx, int argc, char **argv)
{
	struct plan_opts po = {{NULL}};
	const struct cli_opt opts[] = {
		PLAN_OPTS(po),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"plans update PLAN [--cpus-milli N] [--memory-mb N] [--pids N] "
		"[--disk-mb N]",
		"Change a plan's values. They bound the next deploy of its "
		"tenants; what runs keeps what it was deployed with.",
		opts, 1, 1};
	const char *pos[1];
	json_t *body = json_object();
	int npos, ex, given = 0;

	ex = cli_args_parse(ctx, &spec, argc, argv, pos, &npos);
	if (!ex)
		ex = put_values(ctx, &po, body, &given);
	if (!ex && !given) {
		fprintf(ctx->err,
			"error: nothing to change; give --cpus-milli, "
			"--memory-mb, --pids or --disk-mb\n");
		ex = CLI_EUSAGE;
	}
	if (!ex)
		ex = cli_api_printf(ctx, "PATCH", body, "/v1/plans/%s", pos[0]);
	json_decref(body);
	return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
}

static int plans_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "DELETE", "/v1/plans/%s",
			    "plans delete PLAN",
			    "Delete a plan no tenant is on (else exit 6: move "
			    "its tenants first).",
			    1, "plan deleted");
}

static const struct cli_cmd cmds[] = {
	{"list", plans_list, "list plans"},
	{"get", plans_get, "show one plan"},
	{"create", plans_create, "create a plan"},
	{"update", plans_update, "change a plan's values"},
	{"delete", plans_delete, "delete a plan no tenant is on"},
};

CLI_GROUP(cli_cmd_plans, "plans", cmds)
