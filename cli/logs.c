/*
 * logs.c - "clawctl logs": a tenant's container log, relayed by the
 * control plane from the node that runs it (GET /v1/tenants/{t}/logs,
 * server-sent events: "log" with the text, "end" when it ends, "error"
 * when the node does not take the request). The text goes to stdout as it
 * comes; with --follow it runs until interrupted.
 */
#include "cli.h"

#include <string.h>

static int on_event(struct cli_ctx *ctx, const char *event, const char *data,
		    void *cls)
{
	size_t n = strlen(data);

	(void)cls;
	if (!strcmp(event, "log")) {
		fwrite(data, 1, n, ctx->out);
		if (n && data[n - 1] != '\n')
			fputc('\n', ctx->out);
		fflush(ctx->out);
		return CLI_STREAM_GO_ON;
	}
	if (!strcmp(event, "end"))
		return CLI_OK;
	if (!strcmp(event, "error")) {
		json_t *e = json_loads(data, 0, NULL);
		const char *msg =
			json_string_value(json_object_get(e, "message"));
		const char *code =
			json_string_value(json_object_get(e, "code"));

		fprintf(ctx->err,
			"error: %s (%s); check 'clawctl status' "
			"and the node\n",
			msg ? msg : "the log relay failed",
			code ? code : "no code");
		json_decref(e);
		return CLI_EFAIL;
	}
	return CLI_STREAM_GO_ON; /* an event of a later version */
}

int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *role = NULL, *tail = NULL;
	bool follow = false;
	const struct cli_opt opts[] = {
		{"role", "ROLE", &role, NULL,
		 "runtime (default) or gateway: whose log"},
		{"tail", "N", &tail, NULL,
		 "start with the last N lines (1-10000; default 100)"},
		{"follow", NULL, NULL, &follow,
		 "keep printing new lines until interrupted"},
		{NULL, NULL, NULL, NULL, NULL},
	};
	const struct cli_spec spec = {
		"logs TENANT [--role runtime|gateway] [--tail N] [--follow]",
		"Print the log of one of TENANT's containers, relayed from "
		"its node by the control plane.",
		opts, 1, 1};
	const char *pos[1];
	struct claw_buf path;
	int npos, ex;

	ex = cli_args_parse(ctx, &spec, argc, argv, pos, &npos);
	if (ex)
		return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
	claw_buf_init(&path, 0);
	if (cli_pathf(&path, "/v1/tenants/%s/logs", pos[0]) ||
	    cli_query_add(&path, "role", role) ||
	    cli_query_add(&path, "tail", tail) ||
	    cli_query_add(&path, "follow", follow ? "1" : NULL)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = cli_stream(ctx, path.data, on_event, NULL);
	claw_buf_release(&path);
	return ex;
}
