/*
 * logs.c - the log relay. The control plane never connects to a node:
 *
 *   GET  /v1/tenants/{t}/logs?role=runtime|gateway&tail=N&follow=1
 *        leaves a request for the node that runs the tenant and streams
 *        what comes back as server-sent events ("log" events whose data
 *        is the log text; "end" when the log ends; "error" when the node
 *        does not take the request).
 *   POST /v1/agent/logs/{id}[?end=1]   (role node) the agent's chunks of
 *        the log of a request it was handed by its long poll; 410 once
 *        the client went away, so the agent stops following.
 *
 * Requests are rows (controlplane/relay.h), not this process's memory: a
 * client on one replica and the node's long poll and posts on another
 * meet in the database; the chunks a node posts are read (and deleted)
 * in order by the client's replica, woken by NOTIFY claw_wake. Bounded:
 * a node must take a request within TAKE_TIMEOUT_S; the chunks not read
 * yet are capped at RELAY_MAX bytes (past it the stream ends and the node
 * is told to stop); a request whose client's replica went away expires
 * TTL_S after its last read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "api/api.h"
#include "claw/buf.h"
#include "claw/sse.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "relay.h"
#include "scheduler.h"
#include "store/deploy.h"
#include "store/relay.h"
#include "validate.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define TAKE_TIMEOUT_S CP_RELAY_TAKE_S /* the node must take it by then */
#define RELAY_MAX (1u << 20)           /* chunks not read yet, bytes */
#define TTL_S 120      /* a request lives this long after its last read */
#define READ_CHUNKS 64 /* chunks read at once */
#define BUF_MAX (4u * RELAY_MAX) /* as SSE: a "data: " per line */

struct log_stream {
	struct claw_db *db;
	char id[CP_ID_MAX];
	bool done;
	struct claw_buf buf; /* SSE bytes not sent yet */
};

static void stream_free(void *cls)
{
	struct log_stream *s = cls;

	cp_relay_drop(s->db, s->id);
	claw_buf_release(&s->buf);
	free(s);
}

/* One chunk as an SSE event into s->buf. */
static void chunk_event(struct log_stream *s, const char *event,
			const char *hex)
{
	size_t hlen = strlen(hex), len = 0;
	char *bin = malloc(hlen / 2 + 1);

	if (!strcmp(event, "end"))
		s->done = true;
	if (!bin ||
	    sodium_hex2bin((unsigned char *)bin, hlen / 2 + 1, hex, hlen, NULL,
			   &len, NULL) ||
	    claw_sse_write(&s->buf, event, bin, len)) {
		if (!s->done)
			claw_sse_write(&s->buf, "end", "{}", 2);
		s->done = true;
	}
	free(bin);
}

/* Whatever the database holds for s: its chunks in order, and whether the
 * request is gone or was not taken in time. */
static void stream_read(struct log_stream *s)
{
	static const char late[] = "{\"code\":\"node_unavailable\",\"message\":"
				   "\"the node did not take the log request\"}";
	PGresult *rows = NULL;
	PGconn *c = claw_db_acquire(s->db);
	bool exists = false;

	if (!c ||
	    cp_store_relay_log_read(c, s->id, TAKE_TIMEOUT_S, TTL_S,
				    READ_CHUNKS, &rows)) {
		if (c)
			claw_db_release(s->db, c);
		return; /* the next read tries again */
	}
	claw_db_release(s->db, c);
	for (int i = 0; i < PQntuples(rows) && !s->done; i++) {
		if (strcmp(PQgetvalue(rows, i, RELAY_LC_SEQ), "0")) {
			chunk_event(s, PQgetvalue(rows, i, RELAY_LC_EVENT),
				    PQgetvalue(rows, i, RELAY_LC_HEX));
			continue;
		}
		exists = true;
		if (!strcmp(PQgetvalue(rows, i, RELAY_LC_LATE), "t")) {
			claw_sse_write(&s->buf, "error", late,
				       sizeof(late) - 1);
			s->done = true;
		}
	}
	if (!exists && !s->done) { /* expired, or another reader's */
		claw_sse_write(&s->buf, "end", "{}", 2);
		s->done = true;
	}
	PQclear(rows);
}

static ssize_t relay_fn(void *cls, char *out, size_t max)
{
	struct log_stream *s = cls;
	uint64_t seq = cp_fleet_seq();

	if (!s->buf.len && !s->done)
		stream_read(s);
	if (s->buf.len)
		return (ssize_t)claw_buf_take(&s->buf, out, max);
	if (s->done)
		return -1;
	cp_fleet_wait(seq, 1000); /* woken by NOTIFY claw_wake */
	return 0;
}

static void logs_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *role = claw_http_query(req, "role");
	const char *tail = claw_http_query(req, "tail");
	const char *follow = claw_http_query(req, "follow");
	PGresult *row = NULL;
	struct log_stream *s;
	json_t *call;
	int n = 100;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	if (!role)
		role = "runtime";
	if ((strcmp(role, "runtime") && strcmp(role, "gateway")) ||
	    (tail && !cp_parse_limit(tail, 10000, &n)) ||
	    (follow && strcmp(follow, "0") && strcmp(follow, "1"))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "role is runtime or gateway, tail 1 to "
			       "10000, follow 0 or 1");
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_place_get(c, ten.id, &row) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (!rc && !claw_db_value(row, 0, CP_PC_NODE))
		rc = CLAW_ERR_NOT_FOUND;
	if (rc == CLAW_ERR_NOT_FOUND) {
		PQclear(row);
		cp_reply_error(req, CP_E_NOT_RUNNING,
			       "the tenant runs on no node now");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	s = calloc(1, sizeof(*s));
	call = json_pack("{s:s, s:s, s:I, s:b}", "tenant", ten.slug, "role",
			 role, "tail", (json_int_t)n, "follow",
			 follow && !strcmp(follow, "1"));
	rc = s && call ? CLAW_OK : CLAW_ERR_NOMEM;
	if (!rc) {
		s->db = ctx->db;
		claw_buf_init(&s->buf, BUF_MAX);
		claw_buf_puts(&s->buf, ": claw logs\n\n");
		rc = cp_relay_leave(ctx->db, "log",
				    PQgetvalue(row, 0, CP_PC_NODE), call, TTL_S,
				    s->id);
		call = NULL;
	}
	PQclear(row);
	json_decref(call);
	if (rc) {
		if (s)
			claw_buf_release(&s->buf);
		free(s);
		cp_reply_rc(req, rc);
		return;
	}
	claw_http_add_header(req, "Cache-Control", "no-cache");
	claw_http_reply_stream(req, 200, "text/event-stream", relay_fn, s,
			       stream_free);
}

static void logs_post(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	const char *id = claw_http_param(req, "id");
	const char *end = claw_http_query(req, "end");
	const char *body;
	size_t len;
	int out = 1;
	enum claw_rc rc;
	PGconn *c;

	if (cp_agent_require(req, ctx, &nc))
		return;
	body = claw_http_body(req, &len);
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_relay_log_write(c, id, nc.id, body, len,
					  end && !strcmp(end, "1"), RELAY_MAX,
					  &out)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc)
		cp_reply_rc(req, rc);
	else if (out == 0)
		claw_http_reply_empty(req, 204);
	else
		cp_reply_error(req, CP_E_LOG_REQUEST_GONE,
			       "the client went away; stop sending");
}

const struct claw_route cp_routes_logs[] = {
	{"GET", "/v1/tenants/{t}/logs", logs_get, "logs.stream"},
	{"POST", "/v1/agent/logs/{id}", logs_post, "agent.logs"},
};
CP_ROUTES_COUNT(logs);
