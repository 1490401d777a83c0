/*
 * api.c - the node agent's local HTTP API (127.0.0.1 by default), for the
 * operator on the node, the tests and the benchmarks:
 *   GET /healthz                          200 {"status":"ok"}
 *   GET /v1/status                        the observed state (no secrets)
 *   GET /v1/tenants/{t}/logs?role=R&tail=N the tail of a container's log,
 *                                         Docker's multiplexed stream decoded
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "claw/log.h"
#include "instances.h"
#include "spec.h"

static void h_healthz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
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

static void h_logs(struct claw_http_req *r, void *ctx)
{
	struct na_agent *a = ctx;
	const char *tenant = claw_http_param(r, "t");
	const char *role = claw_http_query(r, "role");
	const char *tail = claw_http_query(r, "tail");
	char out[64 * 1024];
	const char *id = NULL;
	long n = tail ? strtol(tail, NULL, 10) : 100;
	if (!role)
		role = "runtime";
	if (!na_valid_tenant(tenant) ||
	    (strcmp(role, "gateway") && strcmp(role, "runtime"))) {
		claw_http_reply_error(r, 422, "invalid_field",
				      "role must be gateway or runtime");
		return;
	}
	if (n < 1 || n > 10000) {
		claw_http_reply_error(r, 422, "invalid_field",
				      "tail must be 1..10000");
		return;
	}
	json_t *snap = na_agent_snapshot(a);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(snap, "tenants"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "tenant")),
			   tenant) == 0)
			id = json_string_value(json_object_get(
				json_object_get(json_object_get(t, "roles"),
						role),
				"container"));
	}
	if (!id || !id[0]) {
		json_decref(snap);
		claw_http_reply_error(r, 404, "not_found",
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
		claw_http_reply_error(r, 502, "docker_error",
				      "unable to read the log: %s",
				      claw_strerror(rc));
		return;
	}
	claw_http_reply_raw(r, 200, "text/plain; charset=utf-8", out,
			    strlen(out));
}

static const struct claw_route routes[] = {
	{"GET", "/healthz", h_healthz, NULL},
	{"GET", "/v1/status", h_status, NULL},
	{"GET", "/v1/tenants/{t}/logs", h_logs, NULL},
};

enum claw_rc na_api_start(struct na_agent *a, struct claw_httpd **out)
{
	static struct claw_httpd_config cfg;
	char err[256];
	cfg.listen = a->cfg.listen;
	cfg.routes = routes;
	cfg.n_routes = sizeof(routes) / sizeof(routes[0]);
	cfg.ctx = a;
	enum claw_rc rc = claw_httpd_start(&cfg, out, err, sizeof(err));
	if (rc)
		log_error("unable to serve the local API on %s: %s",
			  a->cfg.listen, err);
	else
		log_info("local API on %s (port %u)", a->cfg.listen,
			 claw_httpd_port(*out));
	return rc;
}
