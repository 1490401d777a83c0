/*
 * deploy.c - "clawctl deploy", "clawctl rollback" and "clawctl
 * deployments": one-click deploy of a tenant, redeploying its previous
 * healthy deployment, and its list of deployments (immutable versions).
 *
 * deploy and rollback answer at once with a deployment in phase pending
 * (resolving, when a deploy's git workspace names a branch or tag: the
 * control plane pins its commit off the request thread); clawctl then
 * follows it (GET .../deployments/{id} twice a second) and
 * shows each phase on stderr until it is healthy (exit 0), failed (exit 1,
 * with the reason) or --wait-timeout passes (exit 10: it goes on without
 * us). --no-wait returns at once.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 500

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Follow deployment dep of tenant until it settles, starting from the
 * phase its creation answered (first, may be NULL); prints the final
 * deployment on stdout. */
static int follow(struct cli_ctx *ctx, const char *tenant, const char *dep,
		  const char *first, long timeout_s)
{
	struct claw_buf path;
	struct cli_call c = {.method = "GET"};
	char last[32] = "";
	double deadline = now_s() + (double)timeout_s;
	json_t *d = NULL;
	int ex;

	claw_buf_init(&path, 0);
	if (cli_pathf(&path, "/v1/tenants/%s/deployments/%s", tenant, dep)) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.path = path.data;
	if (first && strlen(first) < sizeof(last)) {
		/* a resolving phase may be over by the first poll */
		fprintf(ctx->err, "deployment %s: %s\n", dep, first);
		fflush(ctx->err);
		snprintf(last, sizeof(last), "%s", first);
	}
	for (;;) {
		const char *phase, *reason;

		json_decref(d);
		ex = cli_api(ctx, &c, &d, NULL, 0);
		if (ex)
			break;
		phase = json_string_value(json_object_get(d, "phase"));
		reason = json_string_value(json_object_get(d, "reason"));
		if (!phase) {
			fprintf(ctx->err,
				"error: the deployment has no "
				"phase in the control plane's reply\n");
			ex = CLI_ESERVER;
			break;
		}
		if (strcmp(phase, last)) {
			fprintf(ctx->err, "deployment %s: %s%s%s\n", dep, phase,
				reason ? ": " : "", reason ? reason : "");
			fflush(ctx->err);
			snprintf(last, sizeof(last), "%s", phase);
		}
		if (!strcmp(phase, "healthy") || !strcmp(phase, "failed")) {
			ex = strcmp(phase, "healthy") ? CLI_EFAIL : CLI_OK;
			cli_print_reply(ctx, d, NULL, 0);
			break;
		}
		if (now_s() >= deadline) {
			fprintf(ctx->err,
				"error: deployment %s is still %s "
				"after %ld s; it goes on: follow it with "
				"'clawctl deployments get %s %s'\n",
				dep, phase, timeout_s, tenant, dep);
			ex = CLI_EWAIT;
			break;
		}
		cli_sleep_ms(POLL_MS);
	}
	json_decref(d);
	claw_buf_release(&path);
	return ex;
}

/* POST path (a deploy or a rollback) and follow what it started. */
static int start_and_follow(struct cli_ctx *ctx, const char *tenant,
			    const char *suffix, json_t *body, bool no_wait,
			    long timeout_s)
{
	struct claw_buf path;
	struct cli_call c = {.method = "POST", .body = body};
	json_t *reply = NULL;
	const char *id;
	int ex;

	claw_buf_init(&path, 0);
	if (cli_pathf(&path, "/v1/tenants/%s", tenant) ||
	    claw_buf_puts(&path, suffix)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.path = path.data;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	claw_buf_release(&path);
	if (ex)
		return ex;
	id = json_string_value(json_object_get(reply, "id"));
	if (!id) {
		fprintf(ctx->err,
			"error: the control plane's reply names no "
			"deployment\n");
		ex = CLI_ESERVER;
	} else if (no_wait) {
		const char *phase =
			json_string_value(json_object_get(reply, "phase"));

		fprintf(ctx->err, "deployment %s started (%s)\n", id,
			phase ? phase : "pending");
		ex = cli_print_reply(ctx, reply, NULL, 0);
	} else {
		ex = follow(ctx, tenant, id,
			    json_string_value(json_object_get(reply, "phase")),
			    timeout_s);
	}
	json_decref(reply);
	return ex;
}

/* The spec: --file FILE (a JSON object, '-' for stdin), then the flags. */
static int build_spec(struct cli_ctx *ctx, const char *file, const char *gw,
		      const char *rt, const char *cpus, const char *mem,
		      json_t **out)
{
	json_t *spec, *plan;
	json_error_t jerr;
	long n;

	*out = NULL;
	if (file) {
		FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;

		if (!f) {
			fprintf(ctx->err, "error: unable to open '%s': %s\n",
				file, strerror(errno));
			return CLI_ELOCAL;
		}
		spec = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
		if (f != stdin)
			fclose(f);
		if (!json_is_object(spec)) {
			fprintf(ctx->err,
				"error: '%s' is not one JSON object "
				"(line %d: %s); see 'clawctl deploy --help'\n",
				file, jerr.line,
				spec ? "not an object" : jerr.text);
			json_decref(spec);
			return CLI_EUSAGE;
		}
	} else {
		spec = json_object();
	}
	if ((gw &&
	     json_object_set_new(spec, "gateway_image", json_string(gw))) ||
	    (rt &&
	     json_object_set_new(spec, "runtime_image", json_string(rt)))) {
		json_decref(spec);
		fprintf(ctx->err, "error: image names must be UTF-8 text\n");
		return CLI_EUSAGE;
	}
	plan = json_object_get(spec, "plan");
	if ((cpus || mem) && !json_is_object(plan)) {
		plan = json_object();
		json_object_set_new(spec, "plan", plan);
	}
	if (cpus) {
		if (cli_parse_count(ctx, "cpus-milli", cpus, 1024000, &n)) {
			json_decref(spec);
			return CLI_EUSAGE;
		}
		json_object_set_new(plan, "cpus_milli", json_integer(n));
	}
	if (mem) {
		if (cli_parse_count(ctx, "memory-mb", mem, 1048576, &n)) {
			json_decref(spec);
			return CLI_EUSAGE;
		}
		json_object_set_new(plan, "memory_mb", json_integer(n));
	}
	*out = spec;
	return CLI_OK;
}

/* The options --no-wait and --wait-timeout of deploy and rollback. */
struct follow_opts {
	const char *wait;
	bool no_wait;
};
#define FOLLOW_OPTS(fo, what)                                                  \
	{"no-wait", NULL, NULL, &(fo).no_wait,                                 \
	 "return once the " what " is accepted"},                              \
	{                                                                      \
		"wait-timeout", "SECONDS", &(fo).wait, NULL,                   \
			"stop following after SECONDS (default 600; exit 10)"  \
	}

/* The time limit of following (--wait-timeout, default 600 s). */
static int follow_timeout(struct cli_ctx *ctx, const struct follow_opts *fo,
			  long *timeout_s)
{
	*timeout_s = 600;
	if (fo->wait &&
	    cli_parse_count(ctx, "wait-timeout", fo->wait, 86400, timeout_s))
		return CLI_EUSAGE;
	return CLI_OK;
}

/* deploy and rollback: one option table, of which rollback takes the
 * follow options only. */
static int deploy_or_rollback(struct cli_ctx *ctx, int argc, char **argv,
			      bool rollback)
{
	const char *file = NULL, *gw = NULL, *rt = NULL, *cpus = NULL,
		   *mem = NULL;
	struct follow_opts fo = {NULL, false};
	const struct cli_opt opts[] = {
		{"file", "FILE", &file, NULL,
		 "the deployment spec as JSON ('-': stdin): gateway_image, "
		 "runtime_image, plan {cpus_milli, memory_mb, pids, "
		 "disk_mb}, node_labels, gateway_config, runtime_config, "
		 "secrets, registry, workspace {repo, ref, token_secret}"},
		{"gateway-image", "IMAGE", &gw, NULL, "the gateway's image"},
		{"runtime-image", "IMAGE", &rt, NULL, "the runtime's image"},
		{"cpus-milli", "N", &cpus, NULL,
		 "CPU of the plan, in thousandths of a core"},
		{"memory-mb", "N", &mem, NULL, "memory of the plan, in MiB"},
		FOLLOW_OPTS(fo, "deployment"),
		CLI_OPT_END,
	};
	const struct cli_spec specs[2] = {
		{"deploy TENANT [options]",
		 "Deploy TENANT in one call: with no options, the control "
		 "plane's default images and plan. Shows each phase "
		 "(resolving while a workspace's ref is pinned to a commit, "
		 "pending, pulling, starting) on stderr until the deployment "
		 "is healthy (exit 0) or failed (exit 1, with the reason).",
		 opts, 1, 1},
		{"rollback TENANT [--no-wait]",
		 "Redeploy the tenant's previous healthy deployment (a new "
		 "deployment with its spec and pinned images), and follow it "
		 "as 'deploy' does.",
		 opts + 5, 1, 1},
	};
	const char *pos[1];
	json_t *body = NULL;
	long timeout_s;
	int ex;

	if (!cli_args_ok(ctx, &specs[rollback], argc, argv, pos, &ex))
		return ex;
	if (follow_timeout(ctx, &fo, &timeout_s))
		return CLI_EUSAGE;
	if (!rollback) {
		ex = build_spec(ctx, file, gw, rt, cpus, mem, &body);
		if (ex)
			return ex;
	}
	ex = start_and_follow(ctx, pos[0], rollback ? "/rollback" : "/deploy",
			      body, fo.no_wait, timeout_s);
	json_decref(body);
	return ex;
}

int cli_cmd_deploy(struct cli_ctx *ctx, int argc, char **argv)
{
	return deploy_or_rollback(ctx, argc, argv, false);
}

int cli_cmd_rollback(struct cli_ctx *ctx, int argc, char **argv)
{
	return deploy_or_rollback(ctx, argc, argv, true);
}

static const struct cli_col dep_cols[] = {
	{"ID", "id"},
	{"PHASE", "phase"},
	{"REASON", "reason"},
	{"ROLLBACK_OF", "rollback_of"},
	{"COMMIT", "spec.workspace.commit"},
	{"GATEWAY", "images.gateway"},
	{"RUNTIME", "images.runtime"},
	{"CREATED", "created_at"},
};

static int deployments_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/tenants/%s/deployments",
		"deployments list TENANT [options]",
		"List a tenant's deployments, newest first, with their phase "
		"and the image digests they were pinned to.",
		1, true, dep_cols, sizeof(dep_cols) / sizeof(dep_cols[0]));
}

static int deployments_get(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "GET",
			    "/v1/tenants/%s/deployments/%s",
			    "deployments get TENANT ID",
			    "Show one deployment: its spec, pinned images, "
			    "phase and reason.",
			    2, NULL);
}

static const struct cli_cmd dep_cmds[] = {
	{"list", deployments_list, "list a tenant's deployments"},
	{"get", deployments_get, "show one deployment"},
};

CLI_GROUP(cli_cmd_deployments, "deployments", dep_cmds)
