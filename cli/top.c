/*
 * top.c - "clawctl top": per tenant what it used (GET /v1/usage: turns,
 * tokens, tool calls since --since, default the last 24 hours) beside
 * what it holds now (its placement: phase and node; its current
 * deployment's plan: the CPU and memory reserved for it), sortable with
 * --sort turns|tokens|cpu|mem, largest first.
 *
 * CPU and memory are the plan's reservation: the node agent reports no
 * live container figures yet. A control plane without the usage API
 * (404) still gives the resource columns, with a note.
 */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cli_col top_cols[] = {
	{"TENANT", "tenant"},    {"PHASE", "phase"},
	{"NODE", "node"},        {"TURNS", "turns"},
	{"TOKENS", "tokens"},    {"TOOL_CALLS", "tool_calls"},
	{"CPU_M", "cpus_milli"}, {"MEM_MB", "memory_mb"},
};

const struct cli_col *cli_top_cols(size_t *n)
{
	*n = sizeof(top_cols) / sizeof(top_cols[0]);
	return top_cols;
}

/* The row of tenant t in rows (an object by tenant), made when new. */
static json_t *row_of(json_t *by, const char *t)
{
	json_t *row = json_object_get(by, t);

	if (!row) {
		row = json_pack("{s:s}", "tenant", t);
		json_object_set_new(by, t, row);
	}
	return row;
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* a + b of two counters, negatives as 0, saturated (a reply's numbers
 * are not to be trusted with overflow) */
/* json_int_t is long long (JSON_INTEGER_IS_LONG_LONG) */
static json_int_t sum(json_int_t a, json_int_t b)
{
	a = a > 0 ? a : 0;
	b = b > 0 ? b : 0;
	return a > LLONG_MAX - b ? LLONG_MAX : a + b;
}

json_t *cli_top_rows(const json_t *usage, const json_t *res)
{
	json_t *by = json_object(), *rows = json_array(), *e, *row;
	const char *t;
	size_t i;

	json_array_foreach(json_object_get(usage, "tenants"), i, e) {
		const json_t *tot = json_object_get(e, "totals");

		t = json_string_value(json_object_get(e, "tenant"));
		if (!t)
			continue;
		row = row_of(by, t);
		json_object_set_new(row, "turns",
				    json_integer(num(tot, "turns")));
		json_object_set_new(row, "input_tokens",
				    json_integer(num(tot, "input_tokens")));
		json_object_set_new(row, "output_tokens",
				    json_integer(num(tot, "output_tokens")));
		json_object_set_new(
			row, "tokens",
			json_integer(sum(num(tot, "input_tokens"),
					 num(tot, "output_tokens"))));
		json_object_set_new(row, "tool_calls",
				    json_integer(num(tot, "tool_calls")));
	}
	json_object_foreach((json_t *)res, t, e)
		json_object_update(row_of(by, t), e);
	json_object_foreach(by, t, row)
		json_array_append(rows, row);
	json_decref(by);
	return rows;
}

static const char *sort_key;

static int cmp_rows(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t vx = num(x, sort_key), vy = num(y, sort_key);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return strcmp(json_string_value(json_object_get(x, "tenant")),
		      json_string_value(json_object_get(y, "tenant")));
}

int cli_top_sort(json_t *rows, const char *by)
{
	static const char *const keys[][2] = {{"turns", "turns"},
					      {"tokens", "tokens"},
					      {"cpu", "cpus_milli"},
					      {"mem", "memory_mb"}};
	size_t n = json_array_size(rows), k;
	json_t **v;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!strcmp(keys[k][0], by))
			break;
	if (k == sizeof(keys) / sizeof(keys[0]))
		return -1;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(rows, i));
	sort_key = keys[k][1];
	qsort(v, n, sizeof(*v), cmp_rows);
	json_array_clear(rows);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(rows, v[i]);
	free(v);
	return 0;
}

/* What tenant t holds now: {"phase", "node", "cpus_milli", "memory_mb"}
 * from its placement and deployment (an undeployed tenant: phase only). */
static json_t *resources(struct cli_ctx *ctx, const char *t)
{
	json_t *pl = NULL, *dep = NULL, *r = json_object();
	const char *dep_id;
	FILE *err = ctx->err;
	FILE *quiet = fopen("/dev/null", "w");

	/* a tenant with no placement is no error here */
	ctx->err = quiet ? quiet : err;
	if (cli_api_callf(ctx, "GET", NULL, &pl, "/v1/tenants/%s/placement",
			  t)) {
		json_object_set_new(r, "phase", json_string("not deployed"));
		goto out;
	}
	json_object_set(r, "phase", json_object_get(pl, "phase"));
	json_object_set(r, "node", json_object_get(pl, "node_name"));
	dep_id = json_string_value(json_object_get(pl, "deployment_id"));
	if (dep_id &&
	    !cli_api_callf(ctx, "GET", NULL, &dep,
			   "/v1/tenants/%s/deployments/%s", t, dep_id)) {
		json_t *plan = cli_path_get(dep, "spec.plan");

		json_object_set(r, "cpus_milli",
				json_object_get(plan, "cpus_milli"));
		json_object_set(r, "memory_mb",
				json_object_get(plan, "memory_mb"));
	}
out:
	ctx->err = err;
	if (quiet)
		fclose(quiet);
	json_decref(pl);
	json_decref(dep);
	return r;
}

int cli_cmd_top(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *sort = "tokens", *since = NULL;
	const struct cli_opt opts[] = {
		{"sort", "KEY", &sort, NULL,
		 "turns, tokens (default), cpu or mem: largest first"},
		{"since", "TIME", &since, NULL,
		 "usage since TIME (RFC 3339; default: 24 hours ago)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"top [--sort turns|tokens|cpu|mem] [--since TIME]",
		"Show per tenant its usage (turns, tokens, tool calls) and "
		"what it holds now (phase, node, the CPU and memory its plan "
		"reserves), largest first.",
		opts, 0, 0};
	json_t *usage = NULL, *tenants = NULL, *res = NULL, *rows = NULL, *e;
	const struct cli_col *cols;
	struct claw_buf path;
	char from[32];
	size_t i, n;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	rows = json_array();
	ex = cli_top_sort(rows, sort) ? CLI_EUSAGE : CLI_OK;
	json_decref(rows);
	rows = NULL;
	if (ex) {
		fprintf(ctx->err,
			"error: --sort '%s': use turns, tokens, cpu or mem\n",
			sort);
		return ex;
	}
	if (!since) {
		time_t t = time(NULL) - 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(from, sizeof(from), "%Y-%m-%dT%H:%M:%SZ", &tm);
		since = from;
	}
	ex = cli_api_callf(ctx, "GET", NULL, &usage, "/v1/usage?since=%s",
			   since);
	if (ex == CLI_ENOTFOUND)
		fprintf(ctx->err,
			"note: this control plane has no usage API; showing "
			"resources only\n");
	else if (ex)
		return ex;
	claw_buf_init(&path, 0);
	ex = claw_buf_puts(&path, "/v1/tenants?limit=100")
		? CLI_ELOCAL
		: cli_list_collect(ctx, &path, NULL, true, &tenants);
	claw_buf_release(&path);
	if (ex)
		goto out;
	res = json_object();
	json_array_foreach(cli_list_items(tenants), i, e) {
		const char *t = json_string_value(json_object_get(e, "slug"));

		if (t)
			json_object_set_new(res, t, resources(ctx, t));
	}
	rows = cli_top_rows(usage, res);
	cli_top_sort(rows, sort);
	cols = cli_top_cols(&n);
	ex = cli_print_reply(ctx, rows, cols, n);
out:
	json_decref(usage);
	json_decref(tenants);
	json_decref(res);
	json_decref(rows);
	return ex;
}
