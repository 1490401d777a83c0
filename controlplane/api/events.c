/*
 * events.c - GET /v1/events: the fleet's events as server-sent events
 * (event: TYPE, id: the event's sequence number, data: its JSON), for
 * deployment phases, tenant phase, health and restarts, node changes.
 *
 * ?tenant=ID|SLUG filters to one tenant; a tenant token always sees only
 * its own tenant's events. The stream starts after the newest event, or
 * after Last-Event-ID / ?since=N when given (so a client that reconnects
 * misses nothing). It wakes on changes made by this replica and polls the
 * database once a second for the others'; a comment line keeps idle
 * connections alive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "claw/buf.h"
#include "claw/sse.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "store/events.h"
#include "validate.h"

#define KEEPALIVE_S 15

struct stream {
	struct cp_ctx *ctx;
	char tenant_id[CP_ID_MAX]; /* "" for every tenant */
	bool with_nodes;           /* events about no tenant (nodes) too */
	long long last;
	uint64_t seq;
	unsigned idle;
	struct claw_buf out;
};

static void stream_free(void *cls)
{
	struct stream *s = cls;

	claw_buf_release(&s->out);
	free(s);
}

static enum claw_rc fetch(struct stream *s)
{
	PGresult *r = NULL;
	PGconn *c = claw_db_acquire(s->ctx->db);
	enum claw_rc rc;

	if (!c)
		return CLAW_ERR_IO;
	rc = cp_store_events_since(c, s->last,
				   s->tenant_id[0] ? s->tenant_id : NULL,
				   s->with_nodes, &r);
	claw_db_release(s->ctx->db, c);
	for (int i = 0; !rc && i < PQntuples(r); i++) {
		const char *id = PQgetvalue(r, i, CP_EC_ID);
		const char *type = PQgetvalue(r, i, CP_EC_TYPE);
		json_t *data =
			json_loads(PQgetvalue(r, i, CP_EC_DATA), 0, NULL);
		json_t *ev = json_pack(
			"{s:I, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:o}", "id",
			(json_int_t)strtoll(id, NULL, 10), "type", type, "time",
			PQgetvalue(r, i, CP_EC_TIME), "tenant_id",
			claw_db_value(r, i, CP_EC_TENANT_ID), "tenant",
			claw_db_value(r, i, CP_EC_TENANT), "node_id",
			claw_db_value(r, i, CP_EC_NODE_ID), "node",
			claw_db_value(r, i, CP_EC_NODE), "data",
			data ? data : json_object());
		char *text = ev ? claw_json_dumps(ev) : NULL;

		json_decref(ev);
		if (!text) {
			rc = CLAW_ERR_NOMEM;
			break;
		}
		rc = claw_buf_printf(&s->out, "id: %s\n", id);
		if (!rc)
			rc = claw_sse_write(&s->out, type, text, strlen(text));
		free(text);
		s->last = strtoll(id, NULL, 10);
	}
	PQclear(r);
	return rc;
}

static ssize_t stream_fn(void *cls, char *out, size_t max)
{
	struct stream *s = cls;
	size_t n;

	if (!s->out.len) {
		s->seq = cp_fleet_wait(s->seq, 1000);
		if (fetch(s) == CLAW_ERR_NOMEM)
			return -1;
		if (!s->out.len && ++s->idle >= KEEPALIVE_S) {
			s->idle = 0;
			claw_buf_puts(&s->out, ": keep-alive\n\n");
		}
	}
	if (!s->out.len)
		return 0;
	s->idle = 0;
	n = claw_buf_take(&s->out, out, max);
	return (ssize_t)n;
}

static void events(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *tenant = claw_http_query(req, "tenant");
	const char *since = claw_http_query(req, "since");
	const char *lei = claw_http_header(req, "Last-Event-ID");
	struct stream *s;
	long long from = -1;
	enum claw_rc rc = CLAW_OK;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			    &auth))
		return;
	if ((since && !cp_parse_cursor(since, &from)) ||
	    (!since && lei && !cp_parse_cursor(lei, &from))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "since and Last-Event-ID take an event "
			       "id");
		return;
	}
	if (since && !strcmp(since, "0"))
		from = 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	s->ctx = ctx;
	claw_buf_init(&s->out, 4u << 20);
	s->with_nodes = !tenant && auth.role != CP_ROLE_TENANT;
	if (auth.role == CP_ROLE_TENANT)
		snprintf(s->tenant_id, sizeof(s->tenant_id), "%s",
			 auth.tenant_id);
	c = claw_db_acquire(ctx->db);
	if (!c)
		rc = CLAW_ERR_IO;
	if (!rc && tenant) {
		rc = cp_tenant_resolve(c, &auth, tenant,
				       CP_TENANT_ALLOW_DELETED, &ten);
		if (!rc)
			snprintf(s->tenant_id, sizeof(s->tenant_id), "%s",
				 ten.id);
	}
	if (!rc && from < 0)
		rc = cp_store_events_last(c, &from);
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		stream_free(s);
		cp_reply_tenant_rc(req, rc);
		return;
	}
	s->last = from;
	s->seq = cp_fleet_seq();
	claw_buf_puts(&s->out, ": claw events\n\n");
	claw_http_add_header(req, "Cache-Control", "no-cache");
	claw_http_reply_stream(req, 200, "text/event-stream", stream_fn, s,
			       stream_free);
}

const struct claw_route cp_routes_events[] = {
	{"GET", "/v1/events", events, "events.stream"},
};
CP_ROUTES_COUNT(events);
