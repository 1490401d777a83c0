/*
 * server.c - HTTP handlers of the runtime; see server.h and
 * docs/contracts.md ("Runtime message API").
 *
 * A message takes its place in its conversation's queue as soon as it
 * arrives, so one conversation is answered in arrival order. A streamed
 * reply runs the turn in a worker thread that writes SSE text into a
 * buffer the connection drains; a client that goes away does not stop the
 * turn (its result is still saved).
 */
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"
#include "claw/sse.h"

struct msg_req {
	json_t *body; /* owns the strings in `in` */
	struct rt_turn_in in;
};

static const struct claw_error_def *invalid_field(void)
{
	return claw_http_error_def(CLAW_HE_INVALID_FIELD);
}

/* Parse and check the message. CLAW_OK with m->body owned by the caller,
 * or CLAW_ERR_INVALID when the error reply is already sent. */
static enum claw_rc parse_message(struct claw_http_req *r, struct rt_agent *a,
				  struct msg_req *m)
{
	json_t *sender = NULL;
	memset(m, 0, sizeof(*m));
	struct claw_json_field fields[] = {
		{"id", CLAW_JSON_STRING, true, &m->in.id, 256},
		{"channel", CLAW_JSON_STRING, true, &m->in.channel, 32},
		{"account", CLAW_JSON_STRING, false, NULL, 256},
		{"conversation", CLAW_JSON_STRING, true, &m->in.conversation,
		 512},
		{"sender", CLAW_JSON_OBJECT, false, &sender, 0},
		{"text", CLAW_JSON_STRING, true, &m->in.text,
		 (size_t)a->cfg.limits.max_message},
		{"attachments", CLAW_JSON_ARRAY, false, &m->in.attachments, 0},
		{"time", CLAW_JSON_STRING, false, &m->in.time, 64},
		{"history", CLAW_JSON_ARRAY, false, &m->in.history, 0},
		{NULL, 0, false, NULL, 0},
	};
	const char *account = NULL;
	fields[2].out = &account;
	if (claw_http_parse_json(r, fields, &m->body))
		return CLAW_ERR_INVALID;
	if (sender) {
		struct claw_json_field sf[] = {
			{"id", CLAW_JSON_STRING, false, &m->in.sender_id, 256},
			{"name", CLAW_JSON_STRING, false, &m->in.sender_name,
			 256},
			{NULL, 0, false, NULL, 0},
		};
		struct claw_json_problem p;
		if (claw_json_unpack(sender, sf, &p)) {
			claw_http_reply_def(r, invalid_field(), "sender: %s",
					    p.message);
			goto fail;
		}
	}
	json_t *h;
	size_t i;
	json_array_foreach (m->in.history, i, h) {
		const char *role =
			json_string_value(json_object_get(h, "role"));
		if (json_object_size(h) != 2 || !role ||
		    (strcmp(role, "user") && strcmp(role, "assistant")) ||
		    !json_is_string(json_object_get(h, "content"))) {
			claw_http_reply_def(r, invalid_field(),
					    "history[%zu] must be {\"role\": "
					    "\"user\"|\"assistant\", "
					    "\"content\": \"text\"}",
					    i);
			goto fail;
		}
	}
	if (!m->in.conversation[0] || !m->in.id[0]) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "id and conversation must not be empty");
		goto fail;
	}
	return CLAW_OK;
fail:
	json_decref(m->body);
	m->body = NULL;
	return CLAW_ERR_INVALID;
}

static json_t *reply_json(const char *id, const struct rt_turn_out *o)
{
	return json_pack("{s:s, s:s, s:{s:i, s:i}, s:b}", "id", id, "reply",
			 o->reply, "usage", "input_tokens",
			 (json_int_t)o->input_tokens, "output_tokens",
			 (json_int_t)o->output_tokens, "truncated",
			 o->truncated);
}

/* Run the turn, or answer a duplicate from the transcript; the caller
 * releases out. rt_agent_turn's code (CLAW_ERR_NOMEM when there is no
 * reply to send). */
static enum claw_rc serve_turn(struct rt_agent *a, struct rt_session *ss,
			       const struct rt_turn_in *in,
			       rt_llm_delta_fn on_delta, void *cls,
			       struct rt_turn_out *out)
{
	char err[300];
	rt_session_wait(ss);
	const char *prev = NULL;
	if (!in->history && rt_session_history(ss, err, sizeof(err)))
		prev = rt_session_find_reply(ss, in->id);
	enum claw_rc rc;
	if (prev) {
		memset(out, 0, sizeof(*out));
		out->reply = strdup(prev);
		if (on_delta)
			on_delta(prev, strlen(prev), cls);
		log_info("message %s was answered before; same reply sent",
			 in->id);
		rc = out->reply ? CLAW_OK : CLAW_ERR_NOMEM;
	} else {
		rc = rt_agent_turn(a, ss, in, on_delta, cls, out);
	}
	rt_session_leave(ss);
	return rc;
}

/* ---- streamed replies */

struct stream_job {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct claw_buf pending;
	bool finished;
	int refs;
	struct rt_agent *a;
	struct rt_session *ss;
	struct msg_req m;
};

static void job_unref(struct stream_job *j)
{
	pthread_mutex_lock(&j->mu);
	int left = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (left)
		return;
	claw_buf_release(&j->pending);
	json_decref(j->m.body);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cond);
	free(j);
}

static void job_event(struct stream_job *j, const char *name, const char *data)
{
	pthread_mutex_lock(&j->mu);
	claw_sse_write(&j->pending, name, data, strlen(data));
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

static void job_delta(const char *text, size_t len, void *cls)
{
	json_t *d = json_pack("{s:s%}", "text", text, len);
	char *s = d ? claw_json_dumps(d) : NULL;
	if (s)
		job_event(cls, "delta", s);
	free(s);
	json_decref(d);
}

/* The stream's last event when the turn could not run: the error shape
 * with the shared "internal" code (the request id is in the headers, sent
 * long before). Caller frees; NULL when out of memory. */
static char *turn_failed_event(void)
{
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code",
			      claw_http_error_def(CLAW_HE_INTERNAL)->code,
			      "message", "the turn failed; retry");
	char *s = e ? claw_json_dumps(e) : NULL;
	json_decref(e);
	return s;
}

static void *job_run(void *arg)
{
	struct stream_job *j = arg;
	struct rt_turn_out out;
	char *done = NULL, *failed = NULL;
	if (serve_turn(j->a, j->ss, &j->m.in, job_delta, j, &out) == CLAW_OK) {
		json_t *body = reply_json(j->m.in.id, &out);
		done = claw_json_dumps(body);
		json_decref(body);
	}
	rt_turn_out_release(&out);
	if (done) {
		job_event(j, "done", done);
	} else {
		failed = turn_failed_event();
		job_event(j, "error", failed ? failed : "{}");
	}
	free(done);
	free(failed);
	pthread_mutex_lock(&j->mu);
	j->finished = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
	return NULL;
}

static ssize_t job_read(void *cls, char *out, size_t max)
{
	struct stream_job *j = cls;
	ssize_t n;
	pthread_mutex_lock(&j->mu);
	if (!j->pending.len && !j->finished) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&j->cond, &j->mu, &ts);
	}
	if (j->pending.len) {
		n = (ssize_t)(j->pending.len < max ? j->pending.len : max);
		memcpy(out, j->pending.data, (size_t)n);
		claw_buf_consume(&j->pending, (size_t)n);
	} else {
		n = j->finished ? -1 : 0;
	}
	pthread_mutex_unlock(&j->mu);
	return n;
}

static void job_free(void *cls)
{
	job_unref(cls);
}

static bool wants_stream(struct claw_http_req *r)
{
	const char *acc = claw_http_header(r, "Accept");
	return acc && strstr(acc, "text/event-stream");
}

static void h_messages(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	struct msg_req m;
	if (parse_message(r, a, &m))
		return;
	struct rt_session *ss =
		rt_session_queue(a->sessions, m.in.conversation);
	if (!ss) {
		json_decref(m.body);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, "out of memory");
		return;
	}
	if (!wants_stream(r)) {
		struct rt_turn_out out;
		if (serve_turn(a, ss, &m.in, NULL, NULL, &out))
			claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		else
			claw_http_reply_json(r, 200, reply_json(m.in.id, &out));
		rt_turn_out_release(&out);
		json_decref(m.body);
		return;
	}
	struct stream_job *j = calloc(1, sizeof(*j));
	pthread_t th;
	if (!j) {
		rt_session_leave(ss);
		json_decref(m.body);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, "out of memory");
		return;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cond, NULL);
	claw_buf_init(&j->pending, 0);
	j->refs = 2;
	j->a = a;
	j->ss = ss;
	j->m = m;
	if (pthread_create(&th, NULL, job_run, j) != 0) {
		rt_session_wait(ss);
		rt_session_leave(ss);
		j->refs = 1;
		job_unref(j);
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE, "too busy");
		return;
	}
	pthread_detach(th);
	claw_http_reply_stream(r, 200, "text/event-stream", job_read, j,
			       job_free);
}

static void h_healthz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	size_t servers, up;
	if (access(a->data_dir, W_OK) != 0) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the data directory is not writable");
		return;
	}
	rt_tools_counts(a->tools, &servers, &up);
	claw_http_reply_json(r, 200,
			     json_pack("{s:s, s:i, s:i, s:s}", "status",
				       "ready", "mcp_servers",
				       (json_int_t)servers, "mcp_servers_up",
				       (json_int_t)up, "workspace_commit",
				       a->workspace_commit));
}

static void h_usage(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	claw_http_reply_json(r, 200, rt_usage_json(a->usage));
}

static void h_metrics(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	struct claw_buf b;
	size_t known, loaded, servers, up;
	struct rusage ru;
	claw_buf_init(&b, 0);
	rt_sessions_counts(a->sessions, &known, &loaded);
	rt_tools_counts(a->tools, &servers, &up);
	getrusage(RUSAGE_SELF, &ru);
	json_t *u = rt_usage_json(a->usage);
	claw_buf_printf(&b,
			"# TYPE claw_runtime_turns_total counter\n"
			"claw_runtime_turns_total %ld\n"
			"claw_runtime_turns_failed_total %ld\n"
			"claw_runtime_turns_cut_short_total %ld\n"
			"# TYPE claw_runtime_tool_calls_total counter\n"
			"claw_runtime_tool_calls_total %ld\n"
			"claw_runtime_tool_errors_total %ld\n"
			"claw_runtime_llm_requests_total %ld\n"
			"claw_runtime_tokens_total{direction=\"input\"} %lld\n"
			"claw_runtime_tokens_total{direction=\"output\"} %lld\n"
			"# TYPE claw_runtime_sessions gauge\n"
			"claw_runtime_sessions{state=\"known\"} %zu\n"
			"claw_runtime_sessions{state=\"loaded\"} %zu\n"
			"claw_runtime_mcp_servers{state=\"configured\"} %zu\n"
			"claw_runtime_mcp_servers{state=\"up\"} %zu\n"
			"claw_runtime_max_rss_bytes %ld\n",
			atomic_load(&a->turns), atomic_load(&a->turns_failed),
			atomic_load(&a->turns_cut), atomic_load(&a->tool_calls),
			atomic_load(&a->tool_errors),
			atomic_load(&a->llm_calls),
			(long long)json_integer_value(
				json_object_get(u, "input_tokens")),
			(long long)json_integer_value(
				json_object_get(u, "output_tokens")),
			known, loaded, servers, up, ru.ru_maxrss * 1024L);
	json_decref(u);
	claw_http_reply_raw(r, 200, "text/plain; version=0.0.4", b.data, b.len);
	claw_buf_release(&b);
}

static const struct claw_route routes[] = {
	{"POST", "/v1/messages", h_messages, NULL},
	{"GET", "/v1/usage", h_usage, NULL},
	{"GET", "/healthz", h_healthz, NULL},
	{"GET", "/readyz", h_readyz, NULL},
	{"GET", "/metrics", h_metrics, NULL},
};

enum claw_rc rt_server_start(struct rt_agent *a, const char *listen,
			     struct claw_httpd **out, char *err, size_t errlen)
{
	static struct claw_httpd_config hc;
	memset(&hc, 0, sizeof(hc));
	hc.listen = listen;
	hc.max_body = (size_t)a->cfg.limits.max_message * 2 + (256u << 10);
	hc.routes = routes;
	hc.n_routes = sizeof(routes) / sizeof(routes[0]);
	hc.ctx = a;
	return claw_httpd_start(&hc, out, err, errlen);
}
