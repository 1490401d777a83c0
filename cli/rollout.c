/*
 * rollout.c - "clawctl rollout": create, list, get, pause, resume, abort
 * and status [--watch] of fleet rollouts (POST/GET /v1/rollouts, the
 * contract in docs/clawctl.md): many tenants moved to a new image and/or
 * config in batches of max_unavailable, each batch healthy before the
 * next, halted (and the failed batch rolled back) by the control plane at
 * failure_threshold.
 *
 * status --watch polls GET /v1/rollouts/{id} (once a second by default)
 * until the rollout ends: on a terminal one line redrawn in place with a
 * progress bar, elsewhere a plain line each time the counters change. The
 * state lives in the control plane, so clawctl may exit and come back at
 * any time. Exit 0 when it completed, 1 when it halted or was aborted.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 24

static const struct cli_col ro_cols[] = {
	{"ID", "id"},
	{"STATE", "state"},
	{"TOTAL", "total"},
	{"SUCCEEDED", "succeeded"},
	{"FAILED", "failed"},
	{"ROLLED_BACK", "rolled_back"},
	{"IN_PROGRESS", "in_progress"},
	{"PENDING", "pending"},
	{"BATCH", "batch"},
	{"CREATED", "created_at"},
	{"BY", "created_by"},
};

static const struct cli_col ro_tenant_cols[] = {
	{"TENANT", "tenant"},
	{"STATE", "state"},
	{"BATCH", "batch"},
	{"DEPLOYMENT", "deployment"},
	{"PREVIOUS", "previous_deployment"},
	{"ERROR", "error"},
};

/* A counter of the rollout, within 0..1e12 whatever the reply says (so
 * the sums and the bar's arithmetic cannot overflow). */
static long counter(const json_t *ro, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(ro, key));

	return v > 0 ? (long)(v < 1000000000000LL ? v : 1000000000000LL) : 0;
}

bool cli_rollout_done(const json_t *ro)
{
	const char *st = json_string_value(json_object_get(ro, "state"));

	return st &&
		(!strcmp(st, "completed") || !strcmp(st, "halted") ||
		 !strcmp(st, "aborted"));
}

void cli_rollout_line(const json_t *ro, char *out, size_t len)
{
	const char *id = json_string_value(json_object_get(ro, "id"));
	const char *st = json_string_value(json_object_get(ro, "state"));
	long total = counter(ro, "total"), ok = counter(ro, "succeeded");
	long failed = counter(ro, "failed"), back = counter(ro, "rolled_back");
	long done = ok + failed + back;
	long fill =
		total ? (done > total ? total : done) * BAR_WIDTH / total : 0;
	char bar[BAR_WIDTH + 1];

	for (long i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	snprintf(out, len,
		 "%s %-9s [%s] %ld/%ld  ok %ld  failed %ld  rolled back %ld  "
		 "in progress %ld  pending %ld  batch %ld",
		 id ? id : "?", st ? st : "?", bar, done, total, ok, failed,
		 back, counter(ro, "in_progress"), counter(ro, "pending"),
		 counter(ro, "batch"));
}

void cli_rollout_print(struct cli_ctx *ctx, const json_t *ro)
{
	json_t *head, *tenants = json_object_get(ro, "tenants");

	if (cli_out_machine(ctx) || !json_is_object(ro)) {
		cli_print_value(ctx, ro);
		return;
	}
	head = json_deep_copy(ro);
	json_object_del(head, "tenants");
	cli_print_object(ctx->out, head);
	json_decref(head);
	if (json_is_array(tenants) && json_array_size(tenants)) {
		fputc('\n', ctx->out);
		cli_print_table(ctx->out, tenants, ro_tenant_cols,
				sizeof(ro_tenant_cols) /
					sizeof(ro_tenant_cols[0]));
	}
}

/* Follow rollout id until it ends (status --watch, create --watch). */
static int watch(struct cli_ctx *ctx, const char *id, long interval_ms)
{
	bool tty = isatty(fileno(ctx->out));
	char line[256], last[256] = "";
	json_t *ro = NULL;
	const char *st, *reason;
	int ex;

	for (;;) {
		json_decref(ro);
		ro = NULL;
		ex = cli_api_callf(ctx, "GET", NULL, &ro, "/v1/rollouts/%s",
				   id);
		if (ex)
			break;
		cli_rollout_line(ro, line, sizeof(line));
		if (tty && !cli_out_machine(ctx)) {
			fprintf(ctx->out, "\r\033[K%s", line);
		} else if (strcmp(line, last) && !cli_out_machine(ctx)) {
			fprintf(ctx->out, "%s\n", line);
			snprintf(last, sizeof(last), "%s", line);
		}
		fflush(ctx->out);
		if (cli_rollout_done(ro))
			break;
		cli_sleep_ms(interval_ms);
	}
	if (tty && !cli_out_machine(ctx))
		fputc('\n', ctx->out);
	if (ex)
		goto out;
	if (cli_out_machine(ctx))
		cli_print_value(ctx, ro);
	st = json_string_value(json_object_get(ro, "state"));
	reason = json_string_value(json_object_get(ro, "reason"));
	if (st && strcmp(st, "completed")) {
		fprintf(ctx->err, "rollout %s %s%s%s\n", id, st,
			reason ? ": " : "", reason ? reason : "");
		ex = CLI_EFAIL;
	}
out:
	json_decref(ro);
	return ex;
}

/* --interval SECONDS as milliseconds (default 1 s). */
static int interval(struct cli_ctx *ctx, const char *s, long *ms)
{
	long secs = 1;

	if (s && cli_parse_count(ctx, "interval", s, 3600, &secs))
		return CLI_EUSAGE;
	*ms = secs * 1000;
	return CLI_OK;
}

/* A JSON object from FILE ('-': stdin) into body[key]. */
static int put_file(struct cli_ctx *ctx, json_t *body, const char *key,
		    const char *file)
{
	json_t *v;
	int ex = file ? cli_json_file(ctx, file, &v) : CLI_OK;

	if (file && !ex)
		json_object_set_new(body, key, v);
	return ex;
}

/* A whole number option into body[key] (absent: left out). */
static int put_count(struct cli_ctx *ctx, json_t *body, const char *opt,
		     const char *s, long max)
{
	char key[32];
	long v;

	if (!s)
		return CLI_OK;
	if (cli_parse_count(ctx, opt, s, max, &v))
		return CLI_EUSAGE;
	snprintf(key, sizeof(key), "%s", opt);
	for (char *p = key; *p; p++)
		if (*p == '-')
			*p = '_';
	json_object_set_new(body, key, json_integer(v));
	return CLI_OK;
}

/* The selector of create: exactly one of --all, --labels, --plan,
 * --tenants. */
static json_t *selector(struct cli_ctx *ctx, bool all, const char *labels,
			const char *plan, const char *tenants)
{
	json_t *sel, *l;
	size_t i;
	json_t *e;

	if ((all ? 1 : 0) + !!labels + !!plan + !!tenants != 1) {
		fprintf(ctx->err,
			"error: name the tenants with exactly one of --all, "
			"--labels K=V,..., --plan NAME or --tenants A,B,...\n");
		return NULL;
	}
	if (all)
		return json_pack("{s:b}", "all", 1);
	if (plan)
		return json_pack("{s:s}", "plan", plan);
	if (tenants)
		return json_pack("{s:o}", "tenants", cli_split_list(tenants));
	sel = json_object();
	l = cli_split_list(labels);
	json_array_foreach(l, i, e) {
		const char *kv = json_string_value(e);
		const char *eq = strchr(kv, '=');

		if (!eq || eq == kv) {
			fprintf(ctx->err,
				"error: --labels takes K=V entries ('%s' is "
				"not one)\n",
				kv);
			json_decref(l);
			json_decref(sel);
			return NULL;
		}
		json_object_setn_new(sel, kv, (size_t)(eq - kv),
				     json_string(eq + 1));
	}
	json_decref(l);
	return json_pack("{s:o}", "labels", sel);
}

static int rollout_create(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *labels = NULL, *plan = NULL, *tenants = NULL, *gw = NULL,
		   *rt = NULL, *gwc = NULL, *rtc = NULL, *maxu = NULL,
		   *thr = NULL, *ready = NULL, *every = NULL;
	bool all = false, follow = false;
	const struct cli_opt opts[] = {
		{"all", NULL, NULL, &all, "every tenant"},
		{"labels", "K=V,...", &labels, NULL,
		 "the tenants carrying all these labels"},
		{"plan", "NAME", &plan, NULL, "the tenants on this plan"},
		{"tenants", "A,B,...", &tenants, NULL, "these tenants"},
		{"gateway-image", "REF", &gw, NULL, "the new gateway image"},
		{"runtime-image", "REF", &rt, NULL, "the new runtime image"},
		{"gateway-config", "FILE", &gwc, NULL,
		 "the new gateway config (JSON; '-': stdin)"},
		{"runtime-config", "FILE", &rtc, NULL,
		 "the new runtime config (JSON; '-': stdin)"},
		{"max-unavailable", "N", &maxu, NULL,
		 "tenants deployed at once, the batch size (1-100; default 1)"},
		{"failure-threshold", "N", &thr, NULL,
		 "failed tenants that halt the rollout (default 1)"},
		{"min-ready-ms", "MS", &ready, NULL,
		 "how long both roles must stay ready for a tenant to count "
		 "as healthy"},
		{"watch", NULL, NULL, &follow,
		 "then follow it as 'rollout status --watch' does"},
		{"interval", "SECONDS", &every, NULL,
		 "with --watch: poll every SECONDS (default 1)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"rollout create (--all | --labels K=V,... | --plan NAME | "
		"--tenants A,B,...) [--gateway-image REF] [--runtime-image "
		"REF] [--gateway-config FILE] [--runtime-config FILE] "
		"[options]",
		"Start a rollout: the selected tenants are redeployed with "
		"the images and/or configs given, max-unavailable at a time, "
		"each batch healthy before the next; failure-threshold failed "
		"tenants halt it and roll the failed batch back. Prints the "
		"rollout (or follows it with --watch).",
		opts, 0, 0};
	json_t *body = NULL, *sel, *images, *reply = NULL;
	const char *id;
	long every_ms;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	if (!gw && !rt && !gwc && !rtc) {
		fprintf(ctx->err,
			"error: nothing to roll out; give --gateway-image, "
			"--runtime-image, --gateway-config or "
			"--runtime-config\n");
		return CLI_EUSAGE;
	}
	if (interval(ctx, every, &every_ms) ||
	    !(sel = selector(ctx, all, labels, plan, tenants)))
		return CLI_EUSAGE;
	images = json_object();
	if (gw)
		json_object_set_new(images, "gateway", json_string(gw));
	if (rt)
		json_object_set_new(images, "runtime", json_string(rt));
	body = json_pack("{s:o}", "selector", sel);
	if (json_object_size(images))
		json_object_set(body, "images", images);
	json_decref(images);
	ex = put_file(ctx, body, "gateway_config", gwc);
	ex = ex ? ex : put_file(ctx, body, "runtime_config", rtc);
	ex = ex ? ex : put_count(ctx, body, "max-unavailable", maxu, 100);
	ex = ex ? ex : put_count(ctx, body, "failure-threshold", thr, 1000000);
	ex = ex ? ex : put_count(ctx, body, "min-ready-ms", ready, 3600000);
	if (!ex)
		ex = cli_api_callf(ctx, "POST", body, &reply, "/v1/rollouts");
	json_decref(body);
	id = json_string_value(json_object_get(reply, "id"));
	if (!ex && follow && id) {
		fprintf(ctx->err, "rollout %s started\n", id);
		ex = watch(ctx, id, every_ms);
	} else if (!ex) {
		cli_rollout_print(ctx, reply);
	}
	json_decref(reply);
	return ex;
}

static int rollout_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_paging pg = {0};
	struct cli_filter f[] = {{"state", NULL}};
	const struct cli_opt opts[] = {
		{"state", "STATE", &f[0].value, NULL,
		 "only rollouts in this state (running, paused, halted, "
		 "aborted, completed)"},
		CLI_PAGING_OPTS(pg),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {"rollout list [--state STATE] [options]",
				      "List rollouts with their counters.",
				      opts, 0, 0};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	return cli_list_cmd(ctx, "/v1/rollouts", NULL, f, 1, &pg, ro_cols,
			    sizeof(ro_cols) / sizeof(ro_cols[0]));
}

/* get, pause, resume, abort: one call on the rollout, the rollout shown. */
static const struct {
	const char *name, *method, *suffix, *usage, *help;
} actions[] = {
	{"get", "GET", "", "rollout get ID",
	 "Show a rollout: its counters and each tenant's state."},
	{"pause", "POST", "/pause", "rollout pause ID",
	 "Pause a running rollout: the batch under way finishes, no new "
	 "batch starts."},
	{"resume", "POST", "/resume", "rollout resume ID",
	 "Resume a paused rollout."},
	{"abort", "POST", "/abort", "rollout abort ID",
	 "Abort a rollout: no new batch starts; what was deployed stays."},
};

static int rollout_action(struct cli_ctx *ctx, int argc, char **argv)
{
	size_t k = 0, n = sizeof(actions) / sizeof(actions[0]);
	struct cli_spec spec = {NULL, NULL, NULL, 1, 1};
	struct cli_call c = {.method = "GET"};
	const char *pos[1];
	struct claw_buf path;
	json_t *reply = NULL;
	int ex;

	while (k + 1 < n && strcmp(actions[k].name, argv[0]))
		k++;
	spec.usage = actions[k].usage;
	spec.help = actions[k].help;
	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	claw_buf_init(&path, 0);
	if (cli_pathf(&path, "/v1/rollouts/%s", pos[0]) ||
	    claw_buf_puts(&path, actions[k].suffix)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.method = actions[k].method;
	c.path = path.data;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	claw_buf_release(&path);
	if (!ex)
		cli_rollout_print(ctx, reply);
	json_decref(reply);
	return ex;
}

static int rollout_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *every = NULL;
	bool follow = false;
	const struct cli_opt opts[] = {
		{"watch", NULL, NULL, &follow,
		 "follow it to its end: a live progress bar on a terminal, a "
		 "line per change elsewhere"},
		{"interval", "SECONDS", &every, NULL,
		 "poll every SECONDS (default 1)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"rollout status ID [--watch] [--interval SECONDS]",
		"Print a rollout's progress on one line; with --watch follow "
		"it until it completes (exit 0), halts or is aborted (exit 1, "
		"with the reason).",
		opts, 1, 1};
	const char *pos[1];
	json_t *ro = NULL;
	char line[256];
	long every_ms;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (interval(ctx, every, &every_ms))
		return CLI_EUSAGE;
	if (follow)
		return watch(ctx, pos[0], every_ms);
	ex = cli_api_callf(ctx, "GET", NULL, &ro, "/v1/rollouts/%s", pos[0]);
	if (!ex && cli_out_machine(ctx)) {
		cli_print_value(ctx, ro);
	} else if (!ex) {
		cli_rollout_line(ro, line, sizeof(line));
		fprintf(ctx->out, "%s\n", line);
	}
	json_decref(ro);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"create", rollout_create, "start a rollout"},
	{"list", rollout_list, "list rollouts"},
	{"get", rollout_action, "show a rollout and its tenants"},
	{"status", rollout_status, "a rollout's progress (--watch: live)"},
	{"pause", rollout_action, "pause a running rollout"},
	{"resume", rollout_action, "resume a paused rollout"},
	{"abort", rollout_action, "abort a rollout"},
};

CLI_GROUP(cli_cmd_rollout, "rollout", cmds)
