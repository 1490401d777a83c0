/*
 * mcp_http.c - the MCP Streamable HTTP transport. Every message is a POST
 * to the endpoint with "Accept: application/json, text/event-stream"; the
 * answer is either one JSON body or an SSE stream carrying the answer (and
 * maybe server requests and notifications first). The Mcp-Session-Id the
 * server gives at initialize goes on every later request, with
 * MCP-Protocol-Version.
 *
 * Streams. Each stream keeps its own last event id and retry time: a POST
 * stream that ends before its answer came is resumed with GET and that
 * stream's Last-Event-ID after that stream's retry time (SEP-1699
 * polling: again and again until the answer or the deadline), never with
 * another stream's id, so a server never replays one stream into another.
 * The standalone GET stream (the listener) is opened once the session is
 * initialized and before any other request, its first answer awaited, so
 * a server request sent there at once is not lost; it is read as it
 * arrives, reconnects with its own Last-Event-ID after the server's retry
 * time when the server ends it (at once when our own read timeout ended
 * it), backs off on 408/409/429/5xx and network errors, and stops for
 * good on 405 (the server offers none) or when its session ends.
 *
 * Threads. A request's POST runs on a thread of its own so that the
 * waiting caller keeps its own deadline (paused while a user answers an
 * elicitation); notifications and answers are POSTed on the caller's
 * thread. Threads hold a reference on the handle and use only its own
 * copies of the settings, so they may end after rt_mcp_stop.
 */
#include "mcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "claw/httpc.h"
#include "oauth.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "config.h"
#include "llm.h"

#define LISTEN_TIMEOUT_MS 25000
#define LISTEN_OPEN_WAIT_MS 1000
#define RETRY_DEFAULT_MS 1000
#define RETRY_MAX_MS 30000
#define BACKOFF_MAX_MS 30000
#define MAX_RESUMES 1000
#define POST_GRACE_MS 2000

struct stream_ctx {
	struct rt_mcp *m;
	struct claw_httpc_resp *resp;
	struct claw_sse_parser sse;
	int mode; /* 0 unknown, 1 SSE, 2 body */
	struct claw_buf body;
	json_int_t req;    /* the request this stream answers, or 0 */
	bool listener;     /* the standalone GET stream */
	unsigned long gen; /* listener: its session */
	char last_id[256]; /* this stream's last event id */
};

static bool gen_current(struct rt_mcp *m, unsigned long gen)
{
	pthread_mutex_lock(&m->mu);
	bool same = m->session_gen == gen;
	pthread_mutex_unlock(&m->mu);
	return same;
}

static enum claw_rc on_event(const struct claw_sse_event *ev, void *cls)
{
	struct stream_ctx *c = cls;
	if (ev->id[0])
		snprintf(c->last_id, sizeof(c->last_id), "%s", ev->id);
	if (strcmp(ev->event, "message") == 0 && ev->data_len)
		mcp_dispatch(c->m, ev->data, ev->data_len, c->req);
	return CLAW_OK;
}

static void remember_session(struct rt_mcp *m,
			     const struct claw_httpc_resp *resp)
{
	char sid[256];
	if (!claw_httpc_resp_header(resp, "mcp-session-id", sid, sizeof(sid)) ||
	    !sid[0])
		return;
	/* Visible ASCII only, as the spec requires. */
	for (const char *p = sid; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return;
	pthread_mutex_lock(&m->mu);
	snprintf(m->session_id, sizeof(m->session_id), "%s", sid);
	pthread_mutex_unlock(&m->mu);
}

static int on_data(const char *data, size_t len, void *cls)
{
	struct stream_ctx *c = cls;
	struct rt_mcp *m = c->m;
	if (atomic_load(&m->stop) || (c->listener && !gen_current(m, c->gen)))
		return 1; /* stopping, or the session is gone */
	if (!c->mode) {
		char ct[128] = "";
		claw_httpc_resp_header(c->resp, "content-type", ct, sizeof(ct));
		int st = 0;
		if (c->resp->headers.data)
			sscanf(c->resp->headers.data, "HTTP/%*s %d", &st);
		c->mode = st == 200 &&
				strncasecmp(ct, "text/event-stream", 17) == 0
			? 1
			: 2;
		if (!c->listener)
			remember_session(m, c->resp);
		if (c->listener && c->mode == 1) {
			pthread_mutex_lock(&m->mu);
			if (m->session_gen == c->gen)
				m->listen_state = MCP_LISTEN_OPEN;
			pthread_cond_broadcast(&m->cond);
			pthread_mutex_unlock(&m->mu);
		}
	}
	if (c->mode == 1)
		return claw_sse_feed(&c->sse, data, len) ? 1 : 0;
	return claw_buf_append(&c->body, data, len) ? 1 : 0;
}

/* Header lines for a request to the server (caller frees the array; the
 * strings are borrowed or in extra[]). A POST also says its body is JSON;
 * last_id, when set, goes in Last-Event-ID. */
static const char **headers_for(struct rt_mcp *m, bool post, const char *accept,
				const char *last_id, char extra[3][300])
{
	size_t n = 0, i = 0;
	while (m->headers && m->headers[n])
		n++;
	/* The OAuth bearer line lives in the same block as the array, so
	 * that one free releases both (zeroed first: it is a secret). */
	char *bearer = m->net.oauth ? rt_oauth_auth_header(m->net.oauth) : NULL;
	size_t blen = bearer ? strlen(bearer) + 1 : 0;
	const char **h = calloc(1, (n + 7) * sizeof(*h) + blen);
	if (!h) {
		if (bearer) {
			sodium_memzero(bearer, blen);
			free(bearer);
		}
		return NULL;
	}
	if (bearer) {
		char *copy = (char *)(h + n + 7);
		memcpy(copy, bearer, blen);
		sodium_memzero(bearer, blen);
		free(bearer);
		h[i++] = copy;
	}
	if (post)
		h[i++] = "Content-Type: application/json";
	h[i++] = accept;
	pthread_mutex_lock(&m->mu);
	if (m->session_id[0]) {
		snprintf(extra[0], 300, "Mcp-Session-Id: %s", m->session_id);
		h[i++] = extra[0];
	}
	if (m->version[0]) {
		snprintf(extra[1], 300, "MCP-Protocol-Version: %s", m->version);
		h[i++] = extra[1];
	}
	pthread_mutex_unlock(&m->mu);
	if (last_id && last_id[0]) {
		snprintf(extra[2], 300, "Last-Event-ID: %s", last_id);
		h[i++] = extra[2];
	}
	for (size_t k = 0; k < n; k++)
		h[i++] = m->headers[k];
	h[i] = NULL;
	return h;
}

/* Release what headers_for gave, the bearer line zeroed. */
static void headers_free(const char **h)
{
	if (h && h[0] && strncmp(h[0], "Authorization: ", 15) == 0)
		sodium_memzero((char *)h[0], strlen(h[0]));
	free(h);
}

/* Sleep ms in small steps; false when the handle stops meanwhile (or
 * request id, when not 0, got its answer). */
static bool nap(struct rt_mcp *m, long ms, json_int_t id)
{
	for (long w = 0; w < ms; w += 50) {
		if (atomic_load(&m->stop) || (id && mcp_pending_done(m, id)))
			return false;
		long step = ms - w < 50 ? ms - w : 50;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
	}
	return !atomic_load(&m->stop);
}

/* One GET of an event stream (a resumption of c's stream when c->last_id
 * is set, else the listener). *rc: claw_httpc_do's code. Returns the HTTP
 * status (0 when none came). */
static long get_stream(struct rt_mcp *m, struct stream_ctx *c, long timeout_ms,
		       enum claw_rc *rc)
{
	char extra[3][300];
	const char **h = headers_for(m, false, "Accept: text/event-stream",
				     c->last_id, extra);
	struct claw_httpc_resp resp;
	*rc = CLAW_ERR_NOMEM;
	if (!h)
		return 0;
	c->resp = &resp;
	c->mode = 0;
	claw_sse_init(&c->sse, MCP_MAX_MESSAGE, on_event, c);
	claw_buf_init(&c->body, 64u << 10);
	struct claw_httpc_req req = {
		.method = "GET",
		.url = m->url,
		.headers = h,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.cls = c,
		.proxy = m->proxy,
		.ca_file = m->ca_file,
	};
	*rc = claw_httpc_do(&req, &resp);
	long st = resp.status;
	claw_buf_release(&c->body);
	claw_httpc_resp_release(&resp);
	c->resp = NULL;
	headers_free(h);
	return st;
}

/* The wait before reconnecting a stream: its retry field, or the
 * default; at most RETRY_MAX_MS. */
static long retry_of(const struct stream_ctx *c)
{
	long r = claw_sse_retry_ms(&c->sse);
	if (r < 0)
		r = RETRY_DEFAULT_MS;
	return r > RETRY_MAX_MS ? RETRY_MAX_MS : r;
}

/* A POST's SSE stream c ended before the answer to request id: resume it
 * with GET and its own Last-Event-ID after its retry time, again while
 * the answer has not come and there is time. c's parser is released. */
static void resume_until_answered(struct rt_mcp *m, struct stream_ctx *c,
				  json_int_t id, long long deadline)
{
	long wait = retry_of(c);
	claw_sse_release(&c->sse);
	for (int i = 0; i < MAX_RESUMES && !mcp_pending_done(m, id); i++) {
		if (!c->last_id[0] || rt_now_ms() + wait >= deadline)
			return; /* not resumable, or no time left */
		log_debug("mcp %s: stream ended before the answer; resuming "
			  "after %ld ms",
			  m->name, wait);
		if (!nap(m, wait, id))
			return;
		enum claw_rc rc;
		long st = get_stream(m, c, (long)(deadline - rt_now_ms()), &rc);
		wait = retry_of(c);
		claw_sse_release(&c->sse);
		if (st == 404) {
			mcp_transport_failed(m, "the server ended the session");
			return;
		}
		if (st != 200) {
			log_warn("mcp %s: resuming a stream got HTTP %ld",
				 m->name, st);
			return;
		}
	}
}

/* POST msg and read what comes back; for a request (id not 0), resume
 * its stream until the answer came. The code as mcp_http_send's for a
 * synchronous send, with err set. */
static enum claw_rc post(struct rt_mcp *m, const char *msg, size_t len,
			 json_int_t id, long timeout_ms, long long deadline,
			 char *err, size_t errlen)
{
	char extra[3][300];
	const char **h = headers_for(
		m, true, "Accept: application/json, text/event-stream", NULL,
		extra);
	struct claw_httpc_resp resp;
	struct stream_ctx c = {.m = m, .resp = &resp, .req = id};
	enum claw_rc rc = CLAW_ERR_IO;
	int auth_tries = 0;
again:
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	claw_sse_init(&c.sse, MCP_MAX_MESSAGE, on_event, &c);
	claw_buf_init(&c.body, MCP_MAX_MESSAGE);
	struct claw_httpc_req req = {
		.method = "POST",
		.url = m->url,
		.headers = h,
		.body = msg,
		.body_len = len,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.cls = &c,
		.proxy = m->proxy,
		.ca_file = m->ca_file,
	};
	enum claw_rc hr = claw_httpc_do(&req, &resp);
	remember_session(m, &resp);
	pthread_mutex_lock(&m->mu);
	bool had_session = m->session_id[0] != '\0';
	pthread_mutex_unlock(&m->mu);
	if (resp.status == 404 && had_session) {
		snprintf(err, errlen, "the server ended the session (404)");
		pthread_mutex_lock(&m->mu);
		m->session_id[0] = '\0';
		pthread_mutex_unlock(&m->mu);
		mcp_transport_failed(m, "the server ended the session");
		goto out;
	}
	if ((resp.status == 401 || resp.status == 403) && m->net.oauth &&
	    auth_tries < 2) {
		/* OAuth: a 401, or a 403 asking for more scope; get a token
		 * (refresh or authorize) and send again, at most twice. */
		char www[2048] = "";
		claw_httpc_resp_header(&resp, "www-authenticate", www,
				       sizeof(www));
		if (resp.status == 401 || strstr(www, "insufficient_scope")) {
			long st = resp.status;
			claw_sse_release(&c.sse);
			claw_buf_release(&c.body);
			claw_httpc_resp_release(&resp);
			headers_free(h);
			h = NULL;
			rc = rt_oauth_on_challenge(m->net.oauth, m->url, st,
						   www, err, errlen);
			if (rc != CLAW_OK)
				return rc;
			auth_tries++;
			h = headers_for(
				m, true,
				"Accept: application/json, text/event-stream",
				NULL, extra);
			c = (struct stream_ctx){
				.m = m, .resp = &resp, .req = id};
			goto again;
		}
	}
	if (hr != CLAW_OK && resp.status == 0) {
		snprintf(err, errlen, "%s", resp.error);
		rc = hr;
		goto out;
	}
	if (resp.status == 202 ||
	    (resp.status >= 200 && resp.status < 300 && !id)) {
		rc = CLAW_OK;
		goto out;
	}
	if (resp.status != 200) {
		snprintf(err, errlen, "the server answered HTTP %ld",
			 resp.status);
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	if (c.mode == 2) {
		if (c.body.len)
			mcp_dispatch(m, c.body.data, c.body.len, id);
	} else if (id) {
		resume_until_answered(m, &c, id, deadline);
	}
	rc = CLAW_OK;
out:
	claw_sse_release(&c.sse);
	claw_buf_release(&c.body);
	claw_httpc_resp_release(&resp);
	headers_free(h);
	return rc;
}

struct post_job {
	struct rt_mcp *m;
	char *msg;
	size_t len;
	json_int_t id;
	long timeout_ms;
	long long deadline;
};

static void *post_main(void *arg)
{
	struct post_job *j = arg;
	char err[200];
	enum claw_rc rc = post(j->m, j->msg, j->len, j->id, j->timeout_ms,
			       j->deadline, err, sizeof(err));
	if (rc)
		mcp_pending_fail(j->m, j->id, rc, err);
	mcp_unref(j->m);
	free(j->msg);
	free(j);
	return NULL;
}

enum claw_rc mcp_http_send(struct rt_mcp *m, const char *msg, size_t len,
			   json_int_t id, long timeout_ms, char *err,
			   size_t errlen)
{
	long long deadline = rt_now_ms() + timeout_ms;
	if (!id)
		return post(m, msg, len, 0, timeout_ms, deadline, err, errlen);
	/* The caller's own deadline ends the wait (and cancels the
	 * request): the transfer gets a little longer, and a user answering
	 * an elicitation holds the stream open longer still. */
	long transfer = timeout_ms + POST_GRACE_MS +
		(m->net.elicit ? m->net.elicit_timeout_ms : 0);
	struct post_job *j = calloc(1, sizeof(*j));
	char *copy = malloc(len + 1);
	pthread_t th;
	if (!j || !copy) {
		free(j);
		free(copy);
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	memcpy(copy, msg, len);
	copy[len] = '\0';
	*j = (struct post_job){.m = m,
			       .msg = copy,
			       .len = len,
			       .id = id,
			       .timeout_ms = transfer,
			       .deadline = rt_now_ms() + transfer};
	atomic_fetch_add(&m->refs, 1);
	if (pthread_create(&th, NULL, post_main, j) != 0) {
		atomic_fetch_sub(&m->refs, 1);
		free(copy);
		free(j);
		snprintf(err, errlen,
			 "unable to start a thread for the "
			 "request");
		return CLAW_ERR_IO;
	}
	pthread_detach(th);
	return CLAW_OK;
}

struct listen_job {
	struct rt_mcp *m;
	unsigned long gen;
};

/* The listener's state for its session (it may be a newer one's by now). */
static void listen_set(struct rt_mcp *m, unsigned long gen,
		       enum mcp_listen_state st)
{
	pthread_mutex_lock(&m->mu);
	if (m->session_gen == gen)
		m->listen_state = st;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

static void *listen_main(void *arg)
{
	struct listen_job *j = arg;
	struct rt_mcp *m = j->m;
	struct stream_ctx c = {.m = m, .listener = true, .gen = j->gen};
	long backoff = RETRY_DEFAULT_MS;
	while (!atomic_load(&m->stop) && gen_current(m, j->gen)) {
		enum claw_rc rc;
		long st = get_stream(m, &c, LISTEN_TIMEOUT_MS, &rc);
		long retry = retry_of(&c);
		claw_sse_release(&c.sse);
		long wait;
		if (st == 405) {
			log_info("mcp %s: the server offers no GET stream",
				 m->name);
			break;
		}
		if (st == 404) {
			if (gen_current(m, j->gen))
				mcp_transport_failed(m,
						     "the server ended the "
						     "session");
			break;
		}
		if (st == 200 && c.mode == 1) {
			backoff = RETRY_DEFAULT_MS;
			/* our own read time-out: reconnect at once */
			wait = rc == CLAW_ERR_TIMEOUT ? 0 : retry;
		} else if (st >= 400 && st < 500 && st != 408 && st != 409 &&
			   st != 429) {
			log_warn("mcp %s: the GET stream got HTTP %ld; not "
				 "listening",
				 m->name, st);
			break;
		} else {
			/* 408, 409, 429, 5xx, no answer, not a stream */
			listen_set(m, j->gen, MCP_LISTEN_OPENING);
			wait = backoff;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
							       : backoff * 2;
			log_debug("mcp %s: GET stream: HTTP %ld; again in "
				  "%ld ms",
				  m->name, st, wait);
		}
		if (wait && !nap(m, wait, 0))
			break;
	}
	listen_set(m, j->gen, MCP_LISTEN_NONE);
	mcp_unref(m);
	free(j);
	return NULL;
}

void mcp_http_start_listen(struct rt_mcp *m)
{
	pthread_t th;
	struct listen_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	pthread_mutex_lock(&m->mu);
	j->m = m;
	j->gen = m->session_gen;
	m->listen_state = MCP_LISTEN_OPENING;
	pthread_mutex_unlock(&m->mu);
	atomic_fetch_add(&m->refs, 1);
	if (pthread_create(&th, NULL, listen_main, j) != 0) {
		atomic_fetch_sub(&m->refs, 1);
		free(j);
		listen_set(m, m->session_gen, MCP_LISTEN_NONE);
		return;
	}
	pthread_detach(th);
	/* Wait for the server's answer (headers and a first event, or the
	 * end), at most LISTEN_OPEN_WAIT_MS: a server that sends nothing
	 * before its first message costs that wait once per session. */
	long long until = rt_now_ms() + LISTEN_OPEN_WAIT_MS;
	pthread_mutex_lock(&m->mu);
	while (m->listen_state == MCP_LISTEN_OPENING &&
	       m->session_gen == j->gen && rt_now_ms() < until) {
		rt_cond_wait_ms(&m->cond, &m->mu, 20);
	}
	pthread_mutex_unlock(&m->mu);
}

void mcp_http_disconnect(struct rt_mcp *m)
{
	char extra[3][300];
	pthread_mutex_lock(&m->mu);
	bool has = m->session_id[0] != '\0';
	pthread_mutex_unlock(&m->mu);
	if (has) {
		/* End the session politely (the server may answer 405). */
		const char **h = headers_for(
			m, false, "Accept: application/json", NULL, extra);
		struct claw_httpc_resp resp;
		struct claw_httpc_req req = {
			.method = "DELETE",
			.url = m->url,
			.headers = h,
			.timeout_ms = 5000,
			.proxy = m->proxy,
			.ca_file = m->ca_file,
		};
		if (h)
			claw_httpc_do(&req, &resp);
		if (h)
			claw_httpc_resp_release(&resp);
		headers_free(h);
	}
	pthread_mutex_lock(&m->mu);
	m->session_id[0] = '\0';
	m->session_gen++; /* the old session's listener ends */
	m->listen_state = MCP_LISTEN_NONE;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d = s ? strdup(s) : NULL;
	if (s && !d)
		*fail = true;
	return d;
}

enum claw_rc mcp_http_copy_cfg(struct rt_mcp *m)
{
	const struct rt_mcp_server_cfg *cfg = m->cfg;
	bool fail = false;
	size_t n = 0;
	m->name = dup_or_null(cfg->name, &fail);
	m->url = dup_or_null(cfg->url, &fail);
	m->proxy = dup_or_null(m->net.proxy, &fail);
	m->ca_file = dup_or_null(m->net.ca_file, &fail);
	m->net.proxy = m->proxy;
	m->net.ca_file = m->ca_file;
	while (cfg->headers && cfg->headers[n])
		n++;
	m->headers = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; m->headers && i < n; i++)
		if (!(m->headers[i] = rt_secret_concat("", cfg->headers[i])))
			fail = true;
	return fail || !m->headers ? CLAW_ERR_NOMEM : CLAW_OK;
}

void mcp_http_free_cfg(struct rt_mcp *m)
{
	for (size_t i = 0; m->headers && m->headers[i]; i++)
		claw_secret_free(m->headers[i]);
	free(m->headers);
	free(m->name);
	free(m->url);
	free(m->proxy);
	free(m->ca_file);
}
