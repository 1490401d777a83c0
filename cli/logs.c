/*
 * logs.c - "clawctl logs": a tenant's container log, relayed by the
 * control plane from the node that runs it (GET /v1/tenants/{t}/logs,
 * server-sent events: "log" with the text, "end" when it ends, "error"
 * when the node does not take the request). The text goes to stdout as it
 * comes; with --follow it runs until interrupted.
 *
 * With --rollout ID instead of a tenant, the logs of every tenant of that
 * rollout (GET /v1/rollouts/{id}), one stream per tenant on its own
 * thread, each line prefixed "TENANT | " and written whole under a lock.
 * It ends when every stream has ended; the exit status is the first
 * failing stream's.
 */
#include "cli.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void cli_log_lines(FILE *f, const char *prefix, const char *data)
{
	while (*data) {
		size_t n = strcspn(data, "\n");

		fprintf(f, "%s%.*s\n", prefix ? prefix : "", (int)n, data);
		data += n;
		if (*data)
			data++;
	}
}

/* A stream's tenant (NULL: the only one) and the lock shared by all. */
struct log_src {
	const char *prefix;
	pthread_mutex_t *lock;
};

static int on_event(struct cli_ctx *ctx, const char *event, const char *data,
		    void *cls)
{
	struct log_src *src = cls;

	if (!strcmp(event, "log")) {
		if (src)
			pthread_mutex_lock(src->lock);
		cli_log_lines(ctx->out, src ? src->prefix : NULL, data);
		fflush(ctx->out);
		if (src)
			pthread_mutex_unlock(src->lock);
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
			"error: %s%s (%s); check 'clawctl status' "
			"and the node\n",
			src ? src->prefix : "",
			msg ? msg : "the log relay failed",
			code ? code : "no code");
		json_decref(e);
		return CLI_EFAIL;
	}
	return CLI_STREAM_GO_ON; /* an event of a later version */
}

/* What the command was given: the options of each stream and, instead
 * of a tenant, the rollout whose tenants' logs are wanted. */
struct log_args {
	const char *role, *tail, *rollout;
	bool follow;
};

/* The log path of tenant t with the options of a. */
static int log_path(struct claw_buf *path, const char *t,
		    const struct log_args *a)
{
	claw_buf_init(path, 0);
	if (cli_pathf(path, "/v1/tenants/%s/logs", t) ||
	    cli_query_add(path, "role", a->role) ||
	    cli_query_add(path, "tail", a->tail) ||
	    cli_query_add(path, "follow", a->follow ? "1" : NULL)) {
		claw_buf_release(path);
		return -1;
	}
	return 0;
}

struct log_job {
	struct cli_ctx *ctx;
	struct claw_buf path;
	char prefix[80];
	struct log_src src;
	pthread_t thread;
	int ex;
};

static void *log_thread(void *arg)
{
	struct log_job *j = arg;

	j->ex = cli_stream(j->ctx, j->path.data, on_event, &j->src);
	return NULL;
}

/* Every tenant of the rollout a->rollout, a stream each. */
static int rollout_logs(struct cli_ctx *ctx, const struct log_args *a)
{
	const char *id = a->rollout;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	json_t *ro = NULL, *tenants;
	struct log_job *jobs;
	size_t n, started = 0;
	int ex;

	ex = cli_api_callf(ctx, "GET", NULL, &ro, "/v1/rollouts/%s", id);
	if (ex)
		return ex;
	tenants = json_object_get(ro, "tenants");
	n = json_array_size(tenants);
	if (!n) {
		fprintf(ctx->err, "error: rollout %s names no tenant\n", id);
		json_decref(ro);
		return CLI_EFAIL;
	}
	jobs = calloc(n, sizeof(*jobs));
	for (size_t i = 0; jobs && i < n; i++) {
		const char *t = json_string_value(
			json_object_get(json_array_get(tenants, i), "tenant"));
		struct log_job *j = &jobs[started];

		if (!t || log_path(&j->path, t, a))
			continue;
		j->ctx = ctx;
		snprintf(j->prefix, sizeof(j->prefix), "%s | ", t);
		j->src.prefix = j->prefix;
		j->src.lock = &lock;
		if (pthread_create(&j->thread, NULL, log_thread, j)) {
			claw_buf_release(&j->path);
			continue;
		}
		started++;
	}
	if (!jobs || started < n) {
		fprintf(ctx->err,
			"error: unable to follow every tenant's log (out of "
			"memory or threads)\n");
		ex = CLI_ELOCAL;
	}
	for (size_t i = 0; i < started; i++) {
		pthread_join(jobs[i].thread, NULL);
		if (!ex)
			ex = jobs[i].ex;
		claw_buf_release(&jobs[i].path);
	}
	free(jobs);
	json_decref(ro);
	return ex;
}

int cli_cmd_logs(struct cli_ctx *ctx, int argc, char **argv)
{
	struct log_args a = {0};
	const struct cli_opt opts[] = {
		{"role", "ROLE", &a.role, NULL,
		 "runtime (default) or gateway: whose log"},
		{"tail", "N", &a.tail, NULL,
		 "start with the last N lines (1-10000; default 100)"},
		{"follow", NULL, NULL, &a.follow,
		 "keep printing new lines until interrupted; -f"},
		{"rollout", "ID", &a.rollout, NULL,
		 "instead of TENANT: every tenant of rollout ID, each line "
		 "prefixed with its tenant"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"logs (TENANT | --rollout ID) [--role runtime|gateway] [--tail "
		"N] [--follow]",
		"Print the log of one of TENANT's containers (or of every "
		"tenant of a rollout), relayed from its node by the control "
		"plane.",
		opts, 0, 1};
	const char *pos[1] = {NULL};
	struct claw_buf path;
	int ex;

	for (int i = 1; i < argc; i++) /* -f is --follow */
		if (!strcmp(argv[i], "-f"))
			argv[i] = (char *)"--follow";
	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!pos[0] == !a.rollout) {
		fprintf(ctx->err,
			"error: name a TENANT or give --rollout ID (not "
			"both); usage: %s %s\n",
			ctx->prog, spec.usage);
		return CLI_EUSAGE;
	}
	if (a.rollout) {
		ex = cli_config_resolve(ctx); /* before the threads share ctx */
		return ex ? ex : rollout_logs(ctx, &a);
	}
	if (log_path(&path, pos[0], &a)) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = cli_stream(ctx, path.data, on_event, NULL);
	claw_buf_release(&path);
	return ex;
}
