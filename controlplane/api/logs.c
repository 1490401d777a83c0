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
 * Requests live in this process only (a client and the node's long poll
 * meet on the replica the request was made on; see docs/fleet.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "claw/buf.h"
#include "claw/sse.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "scheduler.h"
#include "store/deploy.h"
#include "validate.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define TAKE_TIMEOUT_S 20 /* the node must take the request by then */
#define RELAY_MAX (1u << 20)

struct log_req {
	char id[CP_ID_MAX];
	char node_id[CP_ID_MAX];
	char tenant[CP_SLUG_MAX + 1];
	char role[8];
	long tail;
	bool follow, handed, done;
	time_t created;
	struct claw_buf buf; /* SSE bytes not sent yet */
	struct log_req *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct log_req *reqs;

json_t *cp_logs_take(const char *node_id)
{
	json_t *a = json_array();

	pthread_mutex_lock(&mu);
	for (struct log_req *r = reqs; r; r = r->next) {
		if (r->handed || r->done || strcmp(r->node_id, node_id))
			continue;
		r->handed = true;
		json_array_append_new(
			a,
			json_pack("{s:s, s:s, s:s, s:I, s:b}", "id", r->id,
				  "tenant", r->tenant, "role", r->role, "tail",
				  (json_int_t)r->tail, "follow", r->follow));
	}
	pthread_mutex_unlock(&mu);
	return a;
}

int cp_logs_pending(const char *node_id)
{
	int n = 0;

	pthread_mutex_lock(&mu);
	for (struct log_req *r = reqs; r; r = r->next)
		n += !r->handed && !r->done && !strcmp(r->node_id, node_id);
	pthread_mutex_unlock(&mu);
	return n;
}

static void req_free(void *cls)
{
	struct log_req *r = cls, **pp;

	pthread_mutex_lock(&mu);
	for (pp = &reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&mu);
	claw_buf_release(&r->buf);
	free(r);
}

static ssize_t relay_fn(void *cls, char *out, size_t max)
{
	struct log_req *r = cls;
	struct timespec until;
	ssize_t n = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&mu);
	if (!r->buf.len && !r->done)
		pthread_cond_timedwait(&cond, &mu, &until);
	if (!r->handed && !r->done &&
	    time(NULL) - r->created > TAKE_TIMEOUT_S) {
		r->done = true;
		static const char err[] =
			"{\"code\":\"node_unavailable\",\"message\":"
			"\"the node did not take the log request\"}";

		claw_sse_write(&r->buf, "error", err, sizeof(err) - 1);
	}
	if (r->buf.len)
		n = (ssize_t)claw_buf_take(&r->buf, out, max);
	else if (r->done)
		n = -1;
	pthread_mutex_unlock(&mu);
	return n;
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
	struct log_req *r;
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
	r = calloc(1, sizeof(*r));
	if (!r) {
		PQclear(row);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	cp_id_new("log_", r->id, sizeof(r->id));
	snprintf(r->node_id, sizeof(r->node_id), "%s",
		 PQgetvalue(row, 0, CP_PC_NODE));
	PQclear(row);
	snprintf(r->tenant, sizeof(r->tenant), "%s", ten.slug);
	snprintf(r->role, sizeof(r->role), "%s", role);
	r->tail = n;
	r->follow = follow && !strcmp(follow, "1");
	r->created = time(NULL);
	claw_buf_init(&r->buf, RELAY_MAX);
	claw_buf_puts(&r->buf, ": claw logs\n\n");
	pthread_mutex_lock(&mu);
	r->next = reqs;
	reqs = r;
	pthread_mutex_unlock(&mu);
	cp_fleet_wake();
	claw_http_add_header(req, "Cache-Control", "no-cache");
	claw_http_reply_stream(req, 200, "text/event-stream", relay_fn, r,
			       req_free);
}

static void logs_post(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	const char *id = claw_http_param(req, "id");
	const char *end = claw_http_query(req, "end");
	struct log_req *r;
	const char *body;
	size_t len;
	int found = 0;

	if (cp_agent_require(req, ctx, &nc))
		return;
	body = claw_http_body(req, &len);
	pthread_mutex_lock(&mu);
	for (r = reqs; r; r = r->next)
		if (!strcmp(r->id, id) && !strcmp(r->node_id, nc.id) &&
		    !r->done)
			break;
	if (r) {
		found = 1;
		if (len && claw_sse_write(&r->buf, "log", body, len))
			found = 2; /* the client does not keep up */
		if (found == 2 || (end && !strcmp(end, "1"))) {
			claw_sse_write(&r->buf, "end", "{}", 2);
			r->done = true;
		}
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&mu);
	if (found == 1)
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
