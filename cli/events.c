/*
 * events.c - "clawctl events": follow the fleet's events (deployment
 * phases, tenant phase, health and restarts, node changes) as the control
 * plane streams them (GET /v1/events, server-sent events). One line per
 * event: "TIME TYPE TENANT NODE DATA" in table form, the event's JSON in
 * JSON form (one object a line), a YAML document each in YAML form. Runs
 * until interrupted, or --count events.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

struct follow {
	long left; /* events still to print; 0: no limit */
};

static int on_event(struct cli_ctx *ctx, const char *event, const char *data,
		    void *cls)
{
	struct follow *fo = cls;
	json_t *ev = json_loads(data, 0, NULL);

	if (!ev) {
		fprintf(ctx->err,
			"error: event '%s' holds no JSON; is --url "
			"a claw control plane?\n",
			event);
		return CLI_ESERVER;
	}
	if (ctx->output == CLI_OUT_JSON) {
		char *line = json_dumps(ev, JSON_COMPACT);

		fprintf(ctx->out, "%s\n", line ? line : "{}");
		free(line);
	} else if (ctx->output == CLI_OUT_YAML) {
		fputs("---\n", ctx->out); /* one document an event */
		cli_print_yaml(ctx->out, ev);
	} else {
		static const char *const keys[] = {"time", "type", "tenant",
						   "node", "data"};
		char cell[80];

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			cli_cell(json_object_get(ev, keys[i]), cell,
				 sizeof(cell));
			fprintf(ctx->out, "%s%s", i ? "  " : "", cell);
		}
		fputc('\n', ctx->out);
	}
	fflush(ctx->out);
	json_decref(ev);
	if (fo->left && --fo->left == 0)
		return CLI_OK;
	return CLI_STREAM_GO_ON;
}

int cli_cmd_events(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *tenant = NULL, *since = NULL, *count = NULL;
	const struct cli_opt opts[] = {
		{"tenant", "TENANT", &tenant, NULL,
		 "only the events of this tenant (slug or id)"},
		{"since", "ID", &since, NULL,
		 "start after event ID (0: from the first kept event); "
		 "default: from now on"},
		{"count", "N", &count, NULL, "stop after N events"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"events [--tenant TENANT] [--since ID] [--count N]",
		"Follow the fleet's events as they happen: deployment phases, "
		"tenant phase, health and restarts, node changes. Stop with "
		"Ctrl-C, or after --count events.",
		opts, 0, 0};
	struct follow fo = {0};
	struct claw_buf path;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	if (count &&
	    cli_parse_count(ctx, "count", count, 1000000000L, &fo.left))
		return CLI_EUSAGE;
	claw_buf_init(&path, 0);
	if (claw_buf_puts(&path, "/v1/events") ||
	    cli_query_add(&path, "tenant", tenant) ||
	    cli_query_add(&path, "since", since)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = cli_stream(ctx, path.data, on_event, &fo);
	claw_buf_release(&path);
	return ex;
}
