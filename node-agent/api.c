/*
 * api.c - the node agent's local HTTP API, on a unix socket that only its
 * owner (and a configured group) may open (apisock.h: it serves every
 * tenant's logs), for the operator on the node, the tests and the
 * benchmarks:
 *   GET /healthz                          200 {"status":"ok"}
 *   GET /readyz                           200 when Docker answers and the
 *                                         edge (if any) serves the node's
 *                                         routes; else 503 saying why
 *   GET /v1/status                        the observed state (no secrets)
 *   GET /v1/tenants/{t}/logs?role=R&tail=N the tail of a container's log,
 *                                         Docker's multiplexed stream decoded
 *       ...&follow=1                      then the lines as they come, as
 *                                         server-sent events (logs.h)
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claw/sse.h"

#include "api.h"
#include "claw/log.h"
#include "errors.h"
#include "instances.h"
#include "logs.h"
#include "spec.h"

static void h_healthz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct claw_http_req *r, void *ctx)
{
	json_t *s = na_agent_snapshot(ctx);
	json_t *edge = json_object_get(s, "edge");
	const char *state = json_string_value(json_object_get(edge, "state"));
	char why[800] = "";
	if (!s) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the agent has not looked at Docker yet");
		return;
	}
	if (state && strcmp(state, "off") && strcmp(state, "ok"))
		snprintf(why, sizeof(why), "the edge is %s: %s", state,
			 json_string_value(json_object_get(edge, "error")));
	if (!json_is_true(json_object_get(s, "docker_up")))
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 "%sthe Docker engine does not answer",
			 why[0] ? "; " : "");
	json_decref(s);
	if (why[0]) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE, why);
		return;
	}
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

static void h_status(struct claw_http_req *r, void *ctx)
{
	json_t *s = na_agent_snapshot(ctx);
	if (!s) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the agent has not looked at Docker yet");
		return;
	}
	claw_http_reply_json(r, 200, s);
}

#define NA_FOLLOW_WAIT_MS 1000L
#define NA_KEEPALIVE_S 10.0
#define NA_FOLLOW_BUF (1u << 20)

struct follow_stream {
	struct na_follow *f;
	struct claw_buf out; /* events not yet sent */
	size_t off;
	double last_sent;
	bool ended;
};

static enum claw_rc on_follow_line(int stream, const char *time,
				   const char *text, size_t len, void *cls)
{
	struct follow_stream *fs = cls;
	struct claw_buf clean;
	claw_buf_init(&clean, 0);
	enum claw_rc rc = na_utf8_sanitize(text, len, &clean);
	json_t *o = rc
		? NULL
		: json_pack("{s:s, s:s, s:s%}", "stream",
			    stream == 2 ? "stderr" : "stdout", "time", time,
			    "line", clean.data ? clean.data : "", clean.len);
	char *data = o ? claw_json_dumps(o) : NULL;
	if (data)
		rc = claw_sse_write(&fs->out, "log", data, strlen(data));
	else if (rc == CLAW_OK)
		rc = CLAW_ERR_NOMEM;
	free(data);
	json_decref(o);
	claw_buf_release(&clean);
	return rc;
}

static void follow_end(struct follow_stream *fs, const char *reason)
{
	json_t *o = json_pack("{s:s}", "reason", reason);
	char *data = o ? claw_json_dumps(o) : NULL;
	if (data)
		claw_sse_write(&fs->out, "end", data, strlen(data));
	free(data);
	json_decref(o);
	fs->ended = true;
}

static ssize_t follow_read(void *cls, char *out, size_t max)
{
	struct follow_stream *fs = cls;
	if (fs->off == fs->out.len) {
		if (fs->ended)
			return -1;
		fs->out.len = fs->off = 0;
		enum claw_rc rc = na_follow_next(fs->f, NA_FOLLOW_WAIT_MS,
						 on_follow_line, fs);
		if (rc == CLAW_ERR_NOT_FOUND)
			follow_end(fs, "the tenant is no longer on this node");
		else if (rc == CLAW_ERR_TOO_LARGE)
			/* A burst past the buffer: the rest comes in the next
			 * windows; what fits is sent. */
			rc = CLAW_OK;
		else if (rc)
			follow_end(fs, claw_strerror(rc));
		if (fs->out.len == 0 &&
		    na_now() - fs->last_sent >= NA_KEEPALIVE_S)
			claw_buf_append(&fs->out, ": keepalive\n\n", 13);
		if (fs->out.len == 0)
			return 0;
	}
	size_t n = fs->out.len - fs->off;
	if (n > max)
		n = max;
	memcpy(out, fs->out.data + fs->off, n);
	fs->off += n;
	fs->last_sent = na_now();
	return (ssize_t)n;
}

static void follow_free(void *cls)
{
	struct follow_stream *fs = cls;
	na_follow_free(fs->f);
	claw_buf_release(&fs->out);
	free(fs);
}

static void logs_follow(struct claw_http_req *r, struct na_agent *a,
			const char *tenant, const char *role, unsigned tail)
{
	struct follow_stream *fs = calloc(1, sizeof(*fs));
	enum claw_rc rc = fs
		? na_follow_open(a, tenant,
				 strcmp(role, "gateway") == 0 ? NA_GATEWAY
							      : NA_RUNTIME,
				 tail, &fs->f)
		: CLAW_ERR_NOMEM;
	if (rc) {
		free(fs);
		if (rc == CLAW_ERR_NOT_FOUND)
			claw_http_reply_def(
				r, claw_http_error_def(CLAW_HE_NOT_FOUND),
				"tenant '%s' has no %s container here", tenant,
				role);
		else
			claw_http_reply_def(r, na_error_def(NA_E_DOCKER_ERROR),
					    "unable to follow the log: %s",
					    claw_strerror(rc));
		return;
	}
	claw_buf_init(&fs->out, NA_FOLLOW_BUF);
	fs->last_sent = na_now();
	claw_http_reply_stream(r, 200, "text/event-stream", follow_read, fs,
			       follow_free);
}

static void h_logs(struct claw_http_req *r, void *ctx)
{
	struct na_agent *a = ctx;
	const char *tenant = claw_http_param(r, "t");
	const char *role = claw_http_query(r, "role");
	const char *tail = claw_http_query(r, "tail");
	const char *follow = claw_http_query(r, "follow");
	char out[64 * 1024], *end = NULL;
	const char *id = NULL;
	long n = tail ? strtol(tail, &end, 10) : 100;
	if (!role)
		role = "runtime";
	if (!na_valid_tenant(tenant) ||
	    (strcmp(role, "gateway") && strcmp(role, "runtime"))) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "role must be gateway or runtime");
		return;
	}
	if ((end && *end) || n < 0 || n > 10000) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "tail must be 0..10000");
		return;
	}
	if (follow && strcmp(follow, "0") && strcmp(follow, "1")) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "follow must be 0 or 1");
		return;
	}
	if (follow && strcmp(follow, "1") == 0) {
		logs_follow(r, a, tenant, role, (unsigned)n);
		return;
	}
	if (n == 0) {
		claw_http_reply_raw(r, 200, "text/plain; charset=utf-8", "", 0);
		return;
	}
	json_t *snap = na_agent_snapshot(a);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "tenant")),
			   tenant) == 0)
			id = json_string_value(json_object_get(
				json_object_get(json_object_get(t, "roles"),
						role),
				"container"));
	}
	if (!id || !id[0]) {
		json_decref(snap);
		claw_http_reply_def(r, claw_http_error_def(CLAW_HE_NOT_FOUND),
				    "tenant '%s' has no %s container here",
				    tenant, role);
		return;
	}
	/* Its own client: the reconcile thread owns a->docker. */
	struct na_docker d;
	struct na_docker_err derr;
	enum claw_rc rc = na_docker_connect(&d, a->cfg.docker_socket, &derr);
	if (rc == CLAW_OK)
		rc = na_inst_log_tail(&d, id, (unsigned)n, out, sizeof(out));
	json_decref(snap);
	if (rc) {
		claw_http_reply_def(r, na_error_def(NA_E_DOCKER_ERROR),
				    "unable to read the log: %s",
				    claw_strerror(rc));
		return;
	}
	claw_http_reply_raw(r, 200, "text/plain; charset=utf-8", out,
			    strlen(out));
}

static const struct claw_route routes[] = {
	{"GET", "/healthz", h_healthz, NULL},
	{"GET", "/readyz", h_readyz, NULL},
	{"GET", "/v1/status", h_status, NULL},
	{"GET", "/v1/tenants/{t}/logs", h_logs, NULL},
};

enum claw_rc na_api_start(struct na_agent *a, struct na_api *api)
{
	static struct claw_httpd_config cfg;
	char err[512];
	long group = -1;
	gid_t gid;
	enum claw_rc rc;

	memset(api, 0, sizeof(*api));
	api->sock.fd = api->sock.lock_fd = -1;
	if (a->cfg.api_group) {
		rc = na_apisock_group(a->cfg.api_group, &gid);
		if (rc) {
			log_error("unknown API group '%s'", a->cfg.api_group);
			return rc;
		}
		group = (long)gid;
	}
	rc = na_apisock_open(&api->sock, a->cfg.api_socket, group, err,
			     sizeof(err));
	if (rc) {
		log_error("unable to serve the local API: %s", err);
		return rc;
	}
	cfg.listen = NULL;
	cfg.listen_fd = api->sock.fd;
	cfg.routes = routes;
	cfg.n_routes = sizeof(routes) / sizeof(routes[0]);
	cfg.ctx = a;
	rc = claw_httpd_start(&cfg, &api->httpd, err, sizeof(err));
	if (rc) {
		log_error("unable to serve the local API on %s: %s",
			  a->cfg.api_socket, err);
		close(api->sock.fd);
		na_apisock_close(&api->sock);
		return rc;
	}
	log_info("local API on unix socket %s (mode %s)", a->cfg.api_socket,
		 group >= 0 ? "0660, its group" : "0600, owner only");
	return CLAW_OK;
}

void na_api_stop(struct na_api *api, unsigned grace_ms)
{
	claw_httpd_shutdown(api->httpd, grace_ms);
	api->httpd = NULL;
	na_apisock_close(&api->sock);
}
