/*
 * ops.c - operations endpoints, no token needed: /healthz (the process is
 * up), /readyz (the database answers and the schema is migrated),
 * /metrics (Prometheus text) and /v1/openapi.json (the API description,
 * compiled into the binary).
 */
#include <string.h>

#include "api/api.h"
#include "claw/buf.h"
#include "cp.h"
#include "metrics.h"
#include "migrate.h"
#include "openapi.h"

static void healthz(struct claw_http_req *req, void *vctx)
{
	(void)vctx;
	claw_http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	PGconn *c = claw_db_acquire(ctx->db);
	int v;

	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE,
				    "the database is unreachable; retry "
				    "shortly");
		return;
	}
	v = cp_migrate_current(c);
	claw_db_release(ctx->db, c);
	if (v < 0) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE,
				    "the database does not answer; retry "
				    "shortly");
		return;
	}
	if (v < ctx->schema_version) {
		claw_http_reply_def(req,
				    claw_http_error_def(CLAW_HE_UNAVAILABLE),
				    "the schema is at version %d, not %d; "
				    "restart to migrate",
				    v, ctx->schema_version);
		return;
	}
	claw_http_reply_json(req, 200,
			     json_pack("{s:s, s:i}", "status", "ready",
				       "schema_version", v));
}

static void metrics(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct claw_buf b;

	claw_buf_init(&b, 0);
	if (cp_metrics_render(ctx->metrics, ctx->db, &b)) {
		claw_buf_release(&b);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_raw(req, 200, "text/plain; version=0.0.4", b.data,
			    b.len);
	claw_buf_release(&b);
}

static void openapi(struct claw_http_req *req, void *vctx)
{
	(void)vctx;
	claw_http_reply_raw(req, 200, "application/json", cp_openapi_json,
			    cp_openapi_json_len);
}

const struct claw_route cp_routes_ops[] = {
	{"GET", "/healthz", healthz, "healthz"},
	{"GET", "/readyz", readyz, "readyz"},
	{"GET", "/metrics", metrics, "metrics"},
	{"GET", "/v1/openapi.json", openapi, "openapi"},
};
CP_ROUTES_COUNT(ops);
