/*
 * server.c - HTTP handlers of the runtime; see server.h and
 * docs/contracts.md ("Runtime message API").
 *
 * A message takes its place in its conversation's queue as soon as it
 * arrives, so one conversation is answered in arrival order. Every turn
 * runs on a thread of its own and writes into the sink of the request it
 * answers: SSE text a stream's connection drains, or the body a plain
 * request's handler waits for. A client that goes away does not stop the
 * turn (its result is still saved).
 *
 * Questions ("elicitation": "ask", ask.h): a tool server's question ends
 * the turn's current reply with the question ("question": true); the
 * turn waits, and the conversation's next message is the answer: its
 * request gets a sink of its own that the turn writes to from then on
 * (or, for an answer that does not fit, the question again at once). A
 * turn that finishes with no sink attached (its question timed out) and
 * a timed-out question leave notes that go before the conversation's
 * next reply.
 *
 * Approvals (policy.h, approvals.h): a turn that pauses for one ends its
 * reply with what waits ("approval": id, and "question": true when the
 * chat user may decide). GET /v1/approvals lists them, POST
 * /v1/approvals/{id} decides one (?after=REV: the audit feed of created
 * and decided ones that the node agent reports to the control plane's
 * audit log); a chat user's "approve" or "deny" in
 * the conversation decides the newest one they may decide. A decision
 * (or an expiry, found by the sweeper thread each second) resumes the
 * turn on a thread of its own (rt_agent_resume): its reply goes to the
 * chat answer's request, or else before the conversation's next reply
 * (a note) and into the record ("reply"). At start, decided requests
 * whose turns did not finish are resumed.
 */
#include "server.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "approvals.h"
#include "ask.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "errors.h"

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
	json_int_t max_tokens = 0;
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
		{"max_tokens", CLAW_JSON_INT, false, &max_tokens, 0},
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
	json_array_foreach(m->in.history, i, h) {
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
	if (max_tokens < 0 || max_tokens > RT_MAX_TOKENS_CAP) {
		claw_http_reply_def(r, invalid_field(),
				    "max_tokens must be 1 to %d (0 or absent: "
				    "the provider's)",
				    RT_MAX_TOKENS_CAP);
		goto fail;
	}
	m->in.max_tokens = (long)max_tokens;
	return CLAW_OK;
fail:
	json_decref(m->body);
	m->body = NULL;
	return CLAW_ERR_INVALID;
}

/* Run the turn, or answer a duplicate from the transcript; the caller
 * holds the session and releases out. rt_agent_turn's code
 * (CLAW_ERR_NOMEM when there is no reply to send). */
static enum claw_rc serve_turn(struct rt_agent *a, struct rt_session *ss,
			       const struct rt_turn_in *in,
			       const struct rt_turn_hooks *hooks,
			       struct rt_turn_out *out)
{
	char err[300];
	const char *prev = NULL;
	if (!in->history && rt_session_history(ss, err, sizeof(err)))
		prev = rt_session_find_reply(ss, in->id);
	enum claw_rc rc;
	if (prev) {
		memset(out, 0, sizeof(*out));
		out->reply = strdup(prev);
		if (hooks->on_delta)
			hooks->on_delta(prev, strlen(prev), hooks->cls);
		log_info("message %s was answered before; same reply sent",
			 in->id);
		rc = out->reply ? CLAW_OK : CLAW_ERR_NOMEM;
	} else {
		long long t0 = rt_now_ms();

		rc = rt_agent_turn(a, ss, in, hooks, out);
		rt_usage_count(a->usage, RT_USAGE_TURN_MS,
			       (long)(rt_now_ms() - t0));
	}
	return rc;
}

/* ---- replies: one sink per HTTP request */

/* The reply of one HTTP request: a stream's SSE text the connection
 * drains, or a plain request's body its handler waits for. A turn writes
 * to the sink attached to it; a question ends the sink early (the turn
 * goes on, and the answer's request gets a sink of its own). */
struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stream;
	char *id;            /* the message this reply answers */
	char *note;          /* said before the reply, or NULL */
	bool noted;          /* stream: the note went out */
	struct claw_buf sse; /* stream: text not yet sent */
	json_t *body;        /* plain: the reply, once finished */
	bool finished;
	bool failed; /* the turn could not run: 500 */
	int refs;
	struct rt_usage *usage; /* counts the reply (messages_out) */
};

static struct sink *sink_new(struct rt_usage *usage, bool stream,
			     const char *id, char *note_steal)
{
	struct sink *s = calloc(1, sizeof(*s));
	if (!s || !(s->id = strdup(id))) {
		free(s);
		free(note_steal);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	claw_buf_init(&s->sse, 0);
	s->stream = stream;
	s->note = note_steal;
	s->refs = 1;
	s->usage = usage;
	return s;
}

static void sink_ref(struct sink *s)
{
	pthread_mutex_lock(&s->mu);
	s->refs++;
	pthread_mutex_unlock(&s->mu);
}

/* Drop n references. */
static void sink_drop(struct sink *s, int n)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->refs -= n;
	int left = s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	claw_buf_release(&s->sse);
	json_decref(s->body);
	free(s->note);
	free(s->id);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}

static void sink_unref(struct sink *s)
{
	sink_drop(s, 1);
}

/* An SSE event into the stream (s->mu held). */
static void sink_event(struct sink *s, const char *name, json_t *data_steal)
{
	char *d = data_steal ? claw_json_dumps(data_steal) : NULL;
	if (d)
		claw_sse_write(&s->sse, name, d, strlen(d));
	free(d);
	json_decref(data_steal);
}

/* The note, before anything else of a stream (s->mu held). */
static void sink_note(struct sink *s)
{
	if (!s->stream || s->noted || !s->note)
		return;
	s->noted = true;
	char *text = NULL;
	if (asprintf(&text, "%s\n\n", s->note) >= 0)
		sink_event(s, "delta", json_pack("{s:s}", "text", text));
	free(text);
}

static void sink_delta(struct sink *s, const char *text, size_t len)
{
	pthread_mutex_lock(&s->mu);
	if (!s->finished) {
		sink_note(s);
		sink_event(s, "delta", json_pack("{s:s%}", "text", text, len));
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Finish with a reply text (the note first), its usage, and whether it
 * is a question the next message answers. */
static void sink_finish_approval(struct sink *s, const char *reply,
				 long in_tokens, long out_tokens,
				 bool truncated, bool question,
				 const char *approval);

static void sink_finish(struct sink *s, const char *reply, long in_tokens,
			long out_tokens, bool truncated, bool question)
{
	sink_finish_approval(s, reply, in_tokens, out_tokens, truncated,
			     question, NULL);
}

/* sink_finish, naming the approval the turn paused for (or NULL). */
static void sink_finish_approval(struct sink *s, const char *reply,
				 long in_tokens, long out_tokens,
				 bool truncated, bool question,
				 const char *approval)
{
	pthread_mutex_lock(&s->mu);
	if (s->finished) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	char *full = NULL;
	if (s->note && asprintf(&full, "%s\n\n%s", s->note, reply) < 0)
		full = NULL;
	json_t *body =
		json_pack("{s:s, s:s, s:{s:i, s:i}, s:b}", "id", s->id, "reply",
			  full ? full : reply, "usage", "input_tokens",
			  (json_int_t)in_tokens, "output_tokens",
			  (json_int_t)out_tokens, "truncated", truncated);
	if (question)
		json_object_set_new(body, "question", json_true());
	if (approval && *approval)
		json_object_set_new(body, "approval", json_string(approval));
	if (s->stream) {
		if (question) { /* the question was not streamed yet */
			sink_note(s);
			sink_event(s, "delta",
				   json_pack("{s:s}", "text", reply));
		}
		sink_event(s, "done", json_incref(body));
	}
	s->body = body;
	s->finished = true;
	rt_usage_count(s->usage, RT_USAGE_MESSAGES_OUT, 1);
	free(full);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

/* The turn could not run at all. */
static void sink_fail(struct sink *s)
{
	pthread_mutex_lock(&s->mu);
	if (!s->finished) {
		if (s->stream)
			sink_event(
				s, "error",
				json_pack("{s:{s:s, s:s}}", "error", "code",
					  claw_http_error_def(CLAW_HE_INTERNAL)
						  ->code,
					  "message", "the turn failed; retry"));
		s->failed = s->finished = true;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->mu);
}

static ssize_t sink_read(void *cls, char *out, size_t max)
{
	struct sink *s = cls;
	ssize_t n;
	pthread_mutex_lock(&s->mu);
	if (!s->sse.len && !s->finished) {
		rt_cond_wait_ms(&s->cond, &s->mu, 1000);
	}
	if (s->sse.len) {
		n = (ssize_t)(s->sse.len < max ? s->sse.len : max);
		memcpy(out, s->sse.data, (size_t)n);
		claw_buf_consume(&s->sse, (size_t)n);
	} else {
		n = s->finished ? -1 : 0;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void sink_free_cb(void *cls)
{
	sink_unref(cls);
}

/* Reply r from s: a stream at once, a plain body when it is finished.
 * Consumes the caller's reference. */
static void sink_serve(struct claw_http_req *r, struct sink *s)
{
	if (s->stream) {
		claw_http_reply_stream(r, 200, "text/event-stream", sink_read,
				       s, sink_free_cb);
		return;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->finished)
		pthread_cond_wait(&s->cond, &s->mu);
	json_t *body = json_incref(s->body);
	bool failed = s->failed;
	pthread_mutex_unlock(&s->mu);
	if (failed)
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(r, 200, body);
	if (failed)
		json_decref(body);
	sink_unref(s);
}

/* ---- turns: each on a thread of its own */

struct turn_job {
	struct rt_agent *a;
	struct rt_session *ss;
	struct msg_req m;
	pthread_mutex_t mu;
	struct sink *sink; /* the reply the turn writes to, or NULL */
};

static struct sink *job_sink(struct turn_job *j)
{
	pthread_mutex_lock(&j->mu);
	struct sink *s = j->sink;
	if (s)
		sink_ref(s);
	pthread_mutex_unlock(&j->mu);
	return s;
}

static void job_delta(const char *text, size_t len, void *cls)
{
	struct sink *s = job_sink(cls);
	if (s)
		sink_delta(s, text, len);
	sink_unref(s);
}

/* rt_ask_show_fn: the question ends the turn's current reply. */
static bool job_show(void *owner, const char *text)
{
	struct turn_job *j = owner;
	pthread_mutex_lock(&j->mu);
	struct sink *s = j->sink;
	j->sink = NULL;
	pthread_mutex_unlock(&j->mu);
	if (!s)
		return false;
	sink_finish(s, text, 0, 0, false, true);
	sink_unref(s);
	return true;
}

/* rt_ask_answer's attach: the answer's reply follows the turn. */
static void job_attach(void *owner, void *cls)
{
	struct turn_job *j = owner;
	struct sink *s = cls;
	sink_ref(s);
	pthread_mutex_lock(&j->mu);
	struct sink *old = j->sink;
	j->sink = s;
	pthread_mutex_unlock(&j->mu);
	sink_unref(old);
}

/* rt_tool_ask_fn: put the question to the conversation's user. */
static enum rt_elicit_action job_ask(void *cls, const char *server,
				     const char *message, json_t *schema,
				     json_t **content)
{
	struct turn_job *j = cls;
	return rt_ask_wait(j->a->asks, j->m.in.conversation, server, message,
			   schema, j->a->cfg.elicitation_timeout_ms, job_show,
			   j, content);
}

static void *job_run(void *arg)
{
	struct turn_job *j = arg;
	struct rt_agent *a = j->a;
	struct rt_turn_out out;
	struct rt_turn_hooks hooks = {job_delta, j, NULL, NULL};
	if (a->cfg.elicitation == RT_ELICIT_MODE_ASK) {
		hooks.ask = job_ask;
		hooks.ask_cls = j;
	}
	rt_session_wait(j->ss);
	/* Notes left for this conversation (a question that timed out, a
	 * turn that finished with nobody waiting) go before this reply. */
	char *note = rt_asks_take_note(a->asks, j->m.in.conversation);
	if (note) {
		pthread_mutex_lock(&j->sink->mu);
		free(j->sink->note);
		j->sink->note = note;
		pthread_mutex_unlock(&j->sink->mu);
	}
	enum claw_rc rc = serve_turn(a, j->ss, &j->m.in, &hooks, &out);
	pthread_mutex_lock(&j->mu);
	struct sink *s = j->sink;
	j->sink = NULL;
	pthread_mutex_unlock(&j->mu);
	if (s && rc == CLAW_OK)
		sink_finish_approval(s, out.reply, out.input_tokens,
				     out.output_tokens, out.truncated,
				     out.question, out.approval);
	else if (s)
		sink_fail(s);
	else if (rc == CLAW_OK) {
		/* Nobody waits (a question went unanswered): the reply
		 * goes with the conversation's next one. */
		char *rest = NULL;
		if (asprintf(&rest,
			     "(The rest of your earlier request, which "
			     "finished while no one was waiting for it:)\n%s",
			     out.reply) >= 0)
			rt_asks_add_note(a->asks, j->m.in.conversation, rest);
		free(rest);
	}
	rt_session_leave(j->ss);
	sink_unref(s);
	rt_turn_out_release(&out);
	json_decref(j->m.body);
	pthread_mutex_destroy(&j->mu);
	free(j);
	pthread_mutex_lock(&a->jobs_mu);
	a->jobs--;
	pthread_cond_broadcast(&a->jobs_cond);
	pthread_mutex_unlock(&a->jobs_mu);
	return NULL;
}

static bool wants_stream(struct claw_http_req *r)
{
	const char *acc = claw_http_header(r, "Accept");
	return acc && strstr(acc, "text/event-stream");
}

/* A message while a question waits in its conversation is its answer:
 * true when it was (and r is answered). */
static bool take_answer(struct claw_http_req *r, struct rt_agent *a,
			struct msg_req *m)
{
	char *now = NULL;
	struct sink *s = sink_new(a->usage, wants_stream(r), m->in.id, NULL);
	if (!s)
		return false;
	if (!rt_ask_answer(a->asks, m->in.conversation, m->in.text, &now,
			   job_attach, s)) {
		sink_unref(s);
		return false;
	}
	if (now) /* refused: why, and the question again */
		sink_finish(s, now, 0, 0, false, true);
	free(now);
	sink_serve(r, s);
	return true;
}

/* ---- approvals: decided requests resume their turns */

struct resume_job {
	struct rt_agent *a;
	struct rt_session *ss;
	json_t *rec;
	struct sink *sink; /* the chat answer's reply, or NULL */
};

static void resume_delta(const char *text, size_t len, void *cls)
{
	sink_delta(cls, text, len);
}

static void job_done(struct rt_agent *a)
{
	pthread_mutex_lock(&a->jobs_mu);
	a->jobs--;
	pthread_cond_broadcast(&a->jobs_cond);
	pthread_mutex_unlock(&a->jobs_mu);
}

static void *resume_run(void *arg)
{
	struct resume_job *j = arg;
	struct rt_agent *a = j->a;
	struct rt_turn_out out;
	struct rt_turn_hooks hooks = {NULL, NULL, NULL, NULL};
	const char *conv =
		json_string_value(json_object_get(j->rec, "conversation"));
	const char *id = json_string_value(json_object_get(j->rec, "id"));
	if (j->sink) {
		hooks.on_delta = resume_delta;
		hooks.cls = j->sink;
	}
	rt_session_wait(j->ss);
	enum claw_rc rc = rt_agent_resume(a, j->ss, j->rec, &hooks, &out);
	if (j->sink && rc == CLAW_OK)
		sink_finish_approval(j->sink, out.reply, out.input_tokens,
				     out.output_tokens, out.truncated,
				     out.question, out.approval);
	else if (j->sink)
		sink_fail(j->sink);
	else if (rc == CLAW_OK) {
		char *note = NULL;
		if (asprintf(&note,
			     "(About your earlier request, once approval %s "
			     "was decided:)\n%s",
			     id ? id : "?", out.reply) >= 0)
			rt_asks_add_note(a->asks, conv ? conv : "", note);
		free(note);
	}
	rt_session_leave(j->ss);
	sink_unref(j->sink);
	rt_turn_out_release(&out);
	json_decref(j->rec);
	free(j);
	job_done(a);
	return NULL;
}

/* Resume rec's turn (consumed) on a thread of its own, writing to sink
 * (a reference is taken) or leaving a note. False when it could not
 * start (logged; the record stays decided, resumed at the next start). */
static bool resume_start(struct rt_agent *a, json_t *rec, struct sink *sink)
{
	const char *conv =
		json_string_value(json_object_get(rec, "conversation"));
	struct resume_job *j = calloc(1, sizeof(*j));
	pthread_t th;
	struct rt_session *ss =
		j && conv ? rt_session_queue(a->sessions, conv) : NULL;
	if (!ss) {
		log_error("approval %s: its turn cannot be resumed now (out of "
			  "memory); it is at the next start",
			  json_string_value(json_object_get(rec, "id")));
		free(j);
		json_decref(rec);
		return false;
	}
	*j = (struct resume_job){.a = a, .ss = ss, .rec = rec, .sink = sink};
	if (sink)
		sink_ref(sink);
	pthread_mutex_lock(&a->jobs_mu);
	a->jobs++;
	pthread_mutex_unlock(&a->jobs_mu);
	if (pthread_create(&th, NULL, resume_run, j) != 0) {
		log_error("approval %s: no thread to resume its turn; it is at "
			  "the next start",
			  json_string_value(json_object_get(rec, "id")));
		rt_session_wait(ss);
		rt_session_leave(ss);
		sink_unref(sink);
		json_decref(rec);
		free(j);
		job_done(a);
		return false;
	}
	pthread_detach(th);
	return true;
}

/* The decision a chat message states ("approve", "yes", "/approve";
 * "deny", "no", "/deny"; the whole message, any case, a final '.' or '!'
 * allowed): 1 approve, 0 deny, -1 not a decision. */
static int chat_word(const char *text)
{
	static const char *const yes[] = {"approve", "approved", "yes",
					  "/approve", NULL};
	static const char *const no[] = {"deny", "denied", "no", "/deny", NULL};
	char w[16];
	size_t n = 0;
	while (*text == ' ' || *text == '\n' || *text == '\t')
		text++;
	while (*text && n < sizeof(w) - 1)
		w[n++] = (char)tolower((unsigned char)*text++);
	while (n &&
	       (w[n - 1] == ' ' || w[n - 1] == '\n' || w[n - 1] == '\t' ||
		w[n - 1] == '.' || w[n - 1] == '!'))
		n--;
	w[n] = '\0';
	if (*text)
		return -1; /* longer than any word */
	for (size_t i = 0; yes[i]; i++)
		if (strcmp(w, yes[i]) == 0)
			return 1;
	for (size_t i = 0; no[i]; i++)
		if (strcmp(w, no[i]) == 0)
			return 0;
	return -1;
}

/* A chat user's decision on an approval they may decide (rule with
 * "chat_approval", same conversation and sender): true when the message
 * was one (and r is answered with the resumed turn's reply). */
static bool take_decision(struct claw_http_req *r, struct rt_agent *a,
			  struct msg_req *m)
{
	char id[32], by[600];
	json_t *rec = NULL;
	if (!a->approvals || !m->in.sender_id || !m->in.sender_id[0])
		return false; /* only a known sender decides */
	int word = chat_word(m->in.text);
	if (word < 0 ||
	    !rt_approvals_chat_pending(a->approvals, m->in.conversation,
				       m->in.sender_id, id))
		return false;
	snprintf(by, sizeof(by), "chat:%s:%s", m->in.channel,
		 m->in.sender_id ? m->in.sender_id : "");
	enum rt_decide_rc dr =
		rt_approvals_decide(a->approvals, id, word == 1, by, &rec);
	struct sink *s = sink_new(a->usage, wants_stream(r), m->in.id, NULL);
	if (!s) {
		json_decref(rec);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, "out of memory");
		return true;
	}
	log_info("approval %s: %s in the chat by %s (%s)", id,
		 word == 1 ? "approve" : "deny", by,
		 dr == RT_DECIDE_OK ? "applied" : "too late");
	if (dr != RT_DECIDE_OK) {
		sink_finish(s,
			    dr == RT_DECIDE_EXPIRED
				    ? "That request expired before your answer."
				    : "That request was already decided.",
			    0, 0, false, false);
		json_decref(rec);
	} else if (!resume_start(a, rec, s)) {
		sink_fail(s); /* decided; the turn goes on at the next start */
	}
	sink_serve(r, s);
	return true;
}

/* The approvals API is the node agent's: "Authorization: Bearer" the
 * admin_token secret, compared in constant time (other containers on the
 * tenant network, tool servers included, must not decide). False when r
 * is answered (404 when the API is off, 401). */
static bool admin_ok(struct claw_http_req *r, struct rt_agent *a)
{
	const char *auth = claw_http_header(r, "Authorization");
	if (!a->admin_token || !a->approvals) {
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND,
				    "the approvals API is off: no "
				    "'admin_token' secret file");
		return false;
	}
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
	    !claw_ct_streq(auth + 7, a->admin_token)) {
		claw_http_reply_std(r, CLAW_HE_UNAUTHORIZED, NULL);
		return false;
	}
	return true;
}

/* GET /v1/approvals?after=REV: the audit feed (rt_approvals_changes),
 * AUDIT_PAGE records a page. */
#define AUDIT_PAGE 100
static void approvals_changes(struct claw_http_req *r, struct rt_agent *a,
			      const char *after)
{
	size_t n = strlen(after);
	long long rev = 0, from = strtoll(after, NULL, 10);
	bool more = false;
	if (n == 0 || n > 18 || strspn(after, "0123456789") != n) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "after must be a rev (a non-negative "
				    "integer)");
		return;
	}
	json_t *ch = rt_approvals_changes(a->approvals, from, AUDIT_PAGE, &rev,
					  &more);
	if (!ch) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, "out of memory");
		return;
	}
	claw_http_reply_json(r, 200,
			     json_pack("{s:o, s:I, s:b}", "changes", ch, "rev",
				       (json_int_t)rev, "more", more));
}

static void h_approvals(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	if (!admin_ok(r, a))
		return;
	const char *after = claw_http_query(r, "after");
	if (after) {
		approvals_changes(r, a, after);
		return;
	}
	size_t pending, total;
	rt_approvals_counts(a->approvals, &pending, &total);
	claw_http_reply_json(r, 200,
			     json_pack("{s:o, s:i}", "approvals",
				       rt_approvals_list(a->approvals, 200),
				       "pending", (json_int_t)pending));
}

static void h_approval(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	if (!admin_ok(r, a))
		return;
	json_t *v = rt_approvals_view(a->approvals, claw_http_param(r, "id"));
	if (!v) {
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND,
				    "no such approval request");
		return;
	}
	claw_http_reply_json(r, 200, v);
}

static void h_approval_decide(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	const char *decision = NULL, *by = NULL, *id = claw_http_param(r, "id");
	json_t *body = NULL, *rec = NULL;
	struct claw_json_field fields[] = {
		{"decision", CLAW_JSON_STRING, true, &decision, 16},
		{"by", CLAW_JSON_STRING, true, &by, 200},
		{NULL, 0, false, NULL, 0},
	};
	if (!admin_ok(r, a))
		return;
	if (claw_http_parse_json(r, fields, &body))
		return;
	bool approve = strcmp(decision, "approve") == 0;
	if (!approve && strcmp(decision, "deny") != 0) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "decision must be 'approve' or 'deny'");
		goto out;
	}
	if (!by[0]) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "by must name who decides");
		goto out;
	}
	switch (rt_approvals_decide(a->approvals, id, approve, by, &rec)) {
	case RT_DECIDE_OK:
		log_info("approval %s: %s by %s", id, decision, by);
		resume_start(a, rec, NULL);
		claw_http_reply_json(r, 200,
				     rt_approvals_view(a->approvals, id));
		break;
	case RT_DECIDE_NOT_FOUND:
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND,
				    "no such approval request");
		break;
	case RT_DECIDE_ALREADY:
		claw_http_reply_def(r, rt_error_def(RT_E_APPROVAL_DECIDED),
				    "approval %s was decided before", id);
		break;
	case RT_DECIDE_EXPIRED:
		claw_http_reply_def(r, rt_error_def(RT_E_APPROVAL_EXPIRED),
				    "approval %s expired", id);
		break;
	default:
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the decision could not be stored; retry");
	}
out:
	json_decref(body);
}

/* Each second: expire what is past its time and resume those turns. */
static void *sweeper_run(void *arg)
{
	struct rt_agent *a = arg;
	pthread_mutex_lock(&a->jobs_mu);
	while (!a->stopping) {
		rt_cond_wait_ms(&a->jobs_cond, &a->jobs_mu, 1000);
		if (a->stopping)
			break;
		pthread_mutex_unlock(&a->jobs_mu);
		json_t *ex = rt_approvals_expire(a->approvals,
						 (long long)time(NULL)),
		       *rec;
		size_t i;
		json_array_foreach(ex, i, rec) {
			log_info("approval %s: expired without a decision",
				 json_string_value(json_object_get(rec, "id")));
			resume_start(a, json_incref(rec), NULL);
		}
		json_decref(ex);
		pthread_mutex_lock(&a->jobs_mu);
	}
	pthread_mutex_unlock(&a->jobs_mu);
	return NULL;
}

static void h_messages(struct claw_http_req *r, void *ctx)
{
	struct rt_agent *a = ctx;
	struct msg_req m;
	pthread_t th;
	if (parse_message(r, a, &m))
		return;
	rt_usage_count(a->usage, RT_USAGE_MESSAGES_IN, 1);
	/* A tool server's question waiting in the conversation comes first
	 * (its turn is running); then a chat decision on an approval. */
	if (a->cfg.elicitation == RT_ELICIT_MODE_ASK && take_answer(r, a, &m)) {
		json_decref(m.body);
		return;
	}
	if (take_decision(r, a, &m)) {
		json_decref(m.body);
		return;
	}
	struct turn_job *j = calloc(1, sizeof(*j));
	struct sink *s = sink_new(a->usage, wants_stream(r), m.in.id, NULL);
	struct rt_session *ss = j && s
		? rt_session_queue(a->sessions, m.in.conversation)
		: NULL;
	if (!ss) {
		free(j);
		sink_unref(s);
		json_decref(m.body);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, "out of memory");
		return;
	}
	pthread_mutex_init(&j->mu, NULL);
	j->a = a;
	j->ss = ss;
	j->m = m;
	j->sink = s;
	sink_ref(s);
	pthread_mutex_lock(&a->jobs_mu);
	a->jobs++;
	pthread_mutex_unlock(&a->jobs_mu);
	if (pthread_create(&th, NULL, job_run, j) != 0) {
		pthread_mutex_lock(&a->jobs_mu);
		a->jobs--;
		pthread_mutex_unlock(&a->jobs_mu);
		rt_session_wait(ss);
		rt_session_leave(ss);
		pthread_mutex_destroy(&j->mu);
		json_decref(m.body);
		free(j);
		sink_drop(s, 2); /* the job's and ours */
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE, "too busy");
		return;
	}
	pthread_detach(th);
	sink_serve(r, s);
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
	/* mcp_auth: the OAuth servers whose grant expired ({} when none);
	 * mcp_down: the servers not up, by name ([] when none) */
	claw_http_reply_json(r, 200,
			     json_pack("{s:s, s:i, s:i, s:s, s:o, s:o}",
				       "status", "ready", "mcp_servers",
				       (json_int_t)servers, "mcp_servers_up",
				       (json_int_t)up, "workspace_commit",
				       a->workspace_commit, "mcp_auth",
				       rt_tools_auth_status(a->tools),
				       "mcp_down", rt_tools_down(a->tools)));
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
	size_t known, loaded, servers, up, pending = 0, total = 0;
	struct rusage ru;
	if (a->approvals)
		rt_approvals_counts(a->approvals, &pending, &total);
	claw_buf_init(&b, 0);
	rt_sessions_counts(a->sessions, &known, &loaded);
	rt_tools_counts(a->tools, &servers, &up);
	getrusage(RUSAGE_SELF, &ru);
	json_t *u = rt_usage_json(a->usage);
	claw_buf_printf(
		&b,
		"# TYPE claw_runtime_turns_total counter\n"
		"claw_runtime_turns_total %ld\n"
		"claw_runtime_turns_failed_total %ld\n"
		"claw_runtime_turns_cut_short_total %ld\n"
		"# TYPE claw_runtime_tool_calls_total counter\n"
		"claw_runtime_tool_calls_total %ld\n"
		"claw_runtime_tool_errors_total %ld\n"
		"claw_runtime_llm_requests_total %ld\n"
		"# TYPE claw_runtime_compactions_total counter\n"
		"claw_runtime_compactions_total %ld\n"
		"claw_runtime_compactions_failed_total %ld\n"
		"claw_runtime_compaction_ms_total %lld\n"
		"claw_runtime_tokens_total{direction=\"input\"} %lld\n"
		"claw_runtime_tokens_total{direction=\"output\"} %lld\n"
		"# TYPE claw_runtime_sessions gauge\n"
		"claw_runtime_sessions{state=\"known\"} %zu\n"
		"claw_runtime_sessions{state=\"loaded\"} %zu\n"
		"claw_runtime_mcp_servers{state=\"configured\"} %zu\n"
		"claw_runtime_mcp_servers{state=\"up\"} %zu\n"
		"# TYPE claw_runtime_tool_policy_denied_total counter\n"
		"claw_runtime_tool_policy_denied_total %ld\n"
		"# TYPE claw_runtime_approvals_total counter\n"
		"claw_runtime_approvals_total{outcome=\"requested\"} %ld\n"
		"claw_runtime_approvals_total{outcome=\"approved\"} %ld\n"
		"claw_runtime_approvals_total{outcome=\"denied\"} %ld\n"
		"claw_runtime_approvals_total{outcome=\"expired\"} %ld\n"
		"# TYPE claw_runtime_approvals_pending gauge\n"
		"claw_runtime_approvals_pending %zu\n"
		"claw_runtime_max_rss_bytes %ld\n",
		atomic_load(&a->turns), atomic_load(&a->turns_failed),
		atomic_load(&a->turns_cut), atomic_load(&a->tool_calls),
		atomic_load(&a->tool_errors), atomic_load(&a->llm_calls),
		atomic_load(&a->compactions),
		atomic_load(&a->compactions_failed),
		(long long)atomic_load(&a->compaction_ms),
		(long long)json_integer_value(
			json_object_get(u, "input_tokens")),
		(long long)json_integer_value(
			json_object_get(u, "output_tokens")),
		known, loaded, servers, up, atomic_load(&a->policy_denied),
		atomic_load(&a->approvals_asked),
		atomic_load(&a->approvals_approved),
		atomic_load(&a->approvals_denied),
		atomic_load(&a->approvals_expired), pending,
		ru.ru_maxrss * 1024L);
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
	{"GET", "/v1/approvals", h_approvals, NULL},
	{"GET", "/v1/approvals/{id}", h_approval, NULL},
	{"POST", "/v1/approvals/{id}", h_approval_decide, NULL},
};

enum claw_rc rt_server_start(struct rt_agent *a, const char *listen,
			     struct claw_httpd **out, char *err, size_t errlen)
{
	static struct claw_httpd_config hc;
	if (!(a->asks = rt_asks_new())) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	pthread_mutex_init(&a->jobs_mu, NULL);
	pthread_cond_init(&a->jobs_cond, NULL);
	memset(&hc, 0, sizeof(hc));
	hc.listen = listen;
	hc.max_body = (size_t)a->cfg.limits.max_message * 2 + (256u << 10);
	hc.routes = routes;
	hc.n_routes = sizeof(routes) / sizeof(routes[0]);
	hc.ctx = a;
	a->stopping = false;
	a->sweeper_on = false;
	enum claw_rc rc = claw_httpd_start(&hc, out, err, errlen);
	if (rc) {
		rt_asks_free(a->asks);
		a->asks = NULL;
		pthread_mutex_destroy(&a->jobs_mu);
		pthread_cond_destroy(&a->jobs_cond);
		return rc;
	}
	if (a->approvals) {
		/* Decided before a restart, not finished: go on now. */
		json_t *unfinished = rt_approvals_unfinished(a->approvals),
		       *rec;
		size_t i;
		json_array_foreach(unfinished, i, rec) {
			log_info("approval %s: decided before the restart; its "
				 "turn goes on",
				 json_string_value(json_object_get(rec, "id")));
			resume_start(a, json_incref(rec), NULL);
		}
		json_decref(unfinished);
		a->sweeper_on =
			pthread_create(&a->sweeper, NULL, sweeper_run, a) == 0;
		if (!a->sweeper_on)
			log_error("approvals: no thread to expire them; they "
				  "expire when decided");
	}
	return rc;
}

void rt_server_stop(struct rt_agent *a, struct claw_httpd *h, unsigned grace_ms)
{
	rt_asks_cancel_all(a->asks);
	claw_httpd_shutdown(h, grace_ms);
	pthread_mutex_lock(&a->jobs_mu);
	a->stopping = true;
	pthread_cond_broadcast(&a->jobs_cond);
	pthread_mutex_unlock(&a->jobs_mu);
	if (a->sweeper_on)
		pthread_join(a->sweeper, NULL);
	a->sweeper_on = false;
	pthread_mutex_lock(&a->jobs_mu);
	while (a->jobs > 0)
		pthread_cond_wait(&a->jobs_cond, &a->jobs_mu);
	pthread_mutex_unlock(&a->jobs_mu);
	rt_asks_free(a->asks);
	a->asks = NULL;
	pthread_mutex_destroy(&a->jobs_mu);
	pthread_cond_destroy(&a->jobs_cond);
}
