/*
 * mcp_serve.c - answers to the server's own requests, whichever stream
 * brought them (a POST's SSE stream, the standalone GET stream, stdio):
 *
 *   ping                    {} at once
 *   elicitation/create      form mode only (url mode and bad schemas get
 *                           -32602); without an elicit callback declined
 *                           at once; with one, asked on a thread of its
 *                           own (at most MCP_MAX_WORKERS at a time, more
 *                           are declined), the tool call it belongs to
 *                           not timing out meanwhile; an accepted answer
 *                           is completed with the schema's defaults and
 *                           checked (elicit.h), else declined
 *   sampling/createMessage  -32601: this client offers no sampling
 *   roots/list              -32601: this client offers no roots
 *   anything else           -32601
 *
 * Which tool call a request belongs to: the one whose POST stream
 * brought it; on the GET stream or stdio, the only tools/call in flight
 * on this server (with several, or none, it belongs to none that can be
 * told, and the callback gets NULL). Answers are POSTed (HTTP) or
 * written (stdio) like any message.
 */
#include "mcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "elicit.h"
#include "llm.h"

static void answer(struct rt_mcp *m, json_t *id, json_t *result_steal,
		   long code, const char *message)
{
	char err[200];
	json_t *msg = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id);
	if (result_steal)
		json_object_set_new(msg, "result", result_steal);
	else
		json_object_set_new(msg, "error",
				    json_pack("{s:i, s:s}", "code",
					      (json_int_t)code, "message",
					      message));
	if (mcp_send_json(m, msg, 0, m->timeout_ms, err, sizeof(err)))
		log_warn("mcp %s: unable to answer: %s", m->name, err);
	json_decref(msg);
}

static const char *action_name(enum rt_elicit_action a)
{
	switch (a) {
	case RT_ELICIT_ACCEPT:
		return "accept";
	case RT_ELICIT_CANCEL:
		return "cancel";
	default:
		return "decline";
	}
}

struct elicit_job {
	struct rt_mcp *m;
	json_t *id;     /* the request's id */
	json_t *params; /* message, requestedSchema */
	void *call_ctx;
	json_int_t call; /* the tool call it belongs to, or 0 */
};

/* The call's wait is paused (asking) or goes on with its deadline moved
 * by the time asked. */
static void call_asking(struct rt_mcp *m, json_int_t call, int delta,
			long long asked_ms)
{
	if (!call)
		return;
	pthread_mutex_lock(&m->mu);
	for (struct mcp_pending *p = m->pending; p; p = p->next)
		if (p->id == call) {
			p->asking += delta;
			p->deadline += asked_ms;
		}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

/* Free a job and give back its worker slot. */
static void job_free(struct rt_mcp *m, struct elicit_job *j)
{
	json_decref(j->id);
	json_decref(j->params);
	free(j);
	pthread_mutex_lock(&m->mu);
	m->workers--;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

static void *elicit_main(void *arg)
{
	struct elicit_job *j = arg;
	struct rt_mcp *m = j->m;
	json_t *schema = json_object_get(j->params, "requestedSchema");
	const char *message =
		json_string_value(json_object_get(j->params, "message"));
	json_t *content = NULL;
	char why[300];
	long long t0 = rt_now_ms();
	enum rt_elicit_action act =
		m->net.elicit(m->net.elicit_cls, j->call_ctx, m->name, message,
			      schema, &content);
	call_asking(m, j->call, -1, rt_now_ms() - t0);
	if (act == RT_ELICIT_ACCEPT) {
		if (!content)
			content = json_object();
		if (rt_elicit_content_check(schema, content, why,
					    sizeof(why))) {
			log_warn("mcp %s: the answer to an elicitation does "
				 "not fit its schema (%s); declined",
				 m->name, why);
			act = RT_ELICIT_DECLINE;
		}
	}
	json_t *res = json_pack("{s:s}", "action", action_name(act));
	if (act == RT_ELICIT_ACCEPT)
		json_object_set(res, "content", content);
	log_info("mcp %s: elicitation answered: %s", m->name, action_name(act));
	if (!atomic_load(&m->stop))
		answer(m, j->id, res, 0, NULL);
	else
		json_decref(res);
	json_decref(content);
	job_free(m, j);
	mcp_unref(m);
	return NULL;
}

/* The tool call a server request belongs to (see the top); its id, or 0
 * with *ctx NULL. Called with m->mu held. */
static json_int_t owner_call(struct rt_mcp *m, json_int_t stream_req,
			     void **ctx)
{
	struct mcp_pending *found = NULL;
	int calls = 0;
	*ctx = NULL;
	for (struct mcp_pending *p = m->pending; p; p = p->next) {
		if (!p->tool_call || p->done)
			continue;
		if (stream_req && p->id == stream_req) {
			found = p;
			calls = 1;
			break;
		}
		if (!stream_req) {
			found = p;
			calls++;
		}
	}
	if (calls != 1 || !found)
		return 0;
	*ctx = found->call_ctx;
	return found->id;
}

static void elicit(struct rt_mcp *m, json_t *id, json_t *params,
		   json_int_t stream_req)
{
	const char *mode = json_string_value(json_object_get(params, "mode"));
	const char *message =
		json_string_value(json_object_get(params, "message"));
	json_t *schema = json_object_get(params, "requestedSchema");
	char why[300], msg[400];
	pthread_t th;
	if (mode && strcmp(mode, "form") != 0) {
		snprintf(msg, sizeof(msg),
			 "elicitation mode '%.32s' is not supported by this "
			 "client",
			 mode);
		answer(m, id, NULL, -32602, msg);
		return;
	}
	if (!message || !json_is_object(params) ||
	    rt_elicit_schema_check(schema, why, sizeof(why))) {
		snprintf(msg, sizeof(msg), "invalid elicitation request: %s",
			 message ? why : "no message");
		log_warn("mcp %s: %s", m->name, msg);
		answer(m, id, NULL, -32602, msg);
		return;
	}
	if (!m->net.elicit) {
		log_info("mcp %s: elicitation declined (this agent answers "
			 "none): %.200s",
			 m->name, message);
		answer(m, id, json_pack("{s:s}", "action", "decline"), 0, NULL);
		return;
	}
	struct elicit_job *j = calloc(1, sizeof(*j));
	pthread_mutex_lock(&m->mu);
	bool full =
		m->workers >= MCP_MAX_WORKERS || !j || atomic_load(&m->stop);
	if (!full) {
		j->call = owner_call(m, stream_req, &j->call_ctx);
		m->workers++;
		for (struct mcp_pending *p = m->pending; j->call && p;
		     p = p->next)
			if (p->id == j->call)
				p->asking++;
	}
	pthread_mutex_unlock(&m->mu);
	if (full) {
		free(j);
		log_warn("mcp %s: too many elicitations at once; declined",
			 m->name);
		answer(m, id, json_pack("{s:s}", "action", "decline"), 0, NULL);
		return;
	}
	j->m = m;
	j->id = json_incref(id);
	j->params = json_incref(params);
	atomic_fetch_add(&m->refs, 1);
	if (pthread_create(&th, NULL, elicit_main, j) != 0) {
		call_asking(m, j->call, -1, 0);
		job_free(m, j);
		atomic_fetch_sub(&m->refs, 1);
		answer(m, id, json_pack("{s:s}", "action", "decline"), 0, NULL);
		return;
	}
	pthread_detach(th);
}

void mcp_serve_request(struct rt_mcp *m, json_t *id, const char *method,
		       json_t *params, json_int_t stream_req)
{
	if (strcmp(method, "ping") == 0)
		answer(m, id, json_object(), 0, NULL);
	else if (strcmp(method, "elicitation/create") == 0)
		elicit(m, id, params, stream_req);
	else if (strcmp(method, "sampling/createMessage") == 0)
		answer(m, id, NULL, -32601,
		       "sampling is not offered by this client");
	else if (strcmp(method, "roots/list") == 0)
		answer(m, id, NULL, -32601,
		       "roots are not offered by this client");
	else
		answer(m, id, NULL, -32601,
		       "method not supported by this client");
}

void mcp_serve_drain(struct rt_mcp *m)
{
	pthread_mutex_lock(&m->mu);
	while (m->workers > 0)
		pthread_cond_wait(&m->cond, &m->mu);
	pthread_mutex_unlock(&m->mu);
}
