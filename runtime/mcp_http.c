/*
 * mcp_http.c - the MCP Streamable HTTP transport. Every message is a POST
 * to the endpoint with "Accept: application/json, text/event-stream"; the
 * answer is either one JSON body or an SSE stream carrying the answer (and
 * maybe server requests and notifications first). The Mcp-Session-Id the
 * server gives at initialize goes on every later request, with
 * MCP-Protocol-Version. A stream that breaks before the answer came is
 * resumed with GET and Last-Event-ID after the server's retry time. A
 * listener thread keeps the GET stream open for server-initiated messages
 * (a 405 means the server offers none).
 */
#include "mcp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "claw/httpc.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "llm.h"

#define LISTEN_TIMEOUT_MS 25000
#define RETRY_DEFAULT_MS 1000
#define MAX_RESUMES 5

struct post_ctx {
	struct rt_mcp *m;
	struct claw_httpc_resp *resp;
	struct claw_sse_parser sse;
	int mode; /* 0 unknown, 1 SSE, 2 body */
	struct claw_buf body;
};

static enum claw_rc on_event(const struct claw_sse_event *ev, void *cls)
{
	struct post_ctx *c = cls;
	struct rt_mcp *m = c->m;
	pthread_mutex_lock(&m->mu);
	if (ev->id[0])
		snprintf(m->last_event_id, sizeof(m->last_event_id), "%s",
			 ev->id);
	pthread_mutex_unlock(&m->mu);
	if (strcmp(ev->event, "message") == 0 && ev->data_len)
		mcp_dispatch(m, ev->data, ev->data_len);
	return CLAW_OK;
}

static int on_data(const char *data, size_t len, void *cls)
{
	struct post_ctx *c = cls;
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
	}
	if (c->mode == 1)
		return claw_sse_feed(&c->sse, data, len) ? 1 : 0;
	return claw_buf_append(&c->body, data, len) ? 1 : 0;
}

/* Header lines for a request to the server (caller frees the array; the
 * strings are borrowed or in extra[]). A POST also says its body is JSON;
 * one slot is left free at the end for Last-Event-ID. */
static const char **headers_for(struct rt_mcp *m, bool post, const char *accept,
				char extra[3][300])
{
	size_t n = 0, i = 0;
	while (m->cfg->headers && m->cfg->headers[n])
		n++;
	const char **h = calloc(n + 6, sizeof(*h));
	if (!h)
		return NULL;
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
	for (size_t k = 0; k < n; k++)
		h[i++] = m->cfg->headers[k];
	h[i] = NULL;
	return h;
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

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One GET of the event stream (resume or listen). Returns the status. */
static long get_stream(struct rt_mcp *m, long timeout_ms)
{
	char extra[3][300];
	const char **h =
		headers_for(m, false, "Accept: text/event-stream", extra);
	struct claw_httpc_resp resp;
	struct post_ctx c = {.m = m, .resp = &resp};
	if (!h)
		return 0;
	pthread_mutex_lock(&m->mu);
	int hn = 0;
	while (h[hn])
		hn++;
	if (m->last_event_id[0]) {
		snprintf(extra[2], 300, "Last-Event-ID: %s", m->last_event_id);
		h[hn] = extra[2];
	}
	pthread_mutex_unlock(&m->mu);
	claw_sse_init(&c.sse, MCP_MAX_MESSAGE, on_event, &c);
	claw_buf_init(&c.body, 64u << 10);
	struct claw_httpc_req req = {
		.method = "GET",
		.url = m->cfg->url,
		.headers = h,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.cls = &c,
		.proxy = m->net->proxy,
		.ca_file = m->net->ca_file,
	};
	claw_httpc_do(&req, &resp);
	long st = resp.status;
	if (claw_sse_retry_ms(&c.sse) >= 0) {
		pthread_mutex_lock(&m->mu);
		m->retry_ms = claw_sse_retry_ms(&c.sse);
		pthread_mutex_unlock(&m->mu);
	}
	claw_sse_release(&c.sse);
	claw_buf_release(&c.body);
	claw_httpc_resp_release(&resp);
	free(h);
	return st;
}

static long retry_wait(struct rt_mcp *m)
{
	pthread_mutex_lock(&m->mu);
	long r = m->retry_ms >= 0 ? m->retry_ms : RETRY_DEFAULT_MS;
	pthread_mutex_unlock(&m->mu);
	return r > 30000 ? 30000 : r;
}

/* An SSE answer may end before the answer to request id came: resume
 * the stream with GET and Last-Event-ID (after the server's retry time)
 * while there is time, at most MAX_RESUMES times. */
static void resume_until_answered(struct rt_mcp *m, json_int_t id,
				  long long deadline)
{
	for (int i = 0; id && i < MAX_RESUMES && !mcp_pending_done(m, id);
	     i++) {
		pthread_mutex_lock(&m->mu);
		bool can = m->last_event_id[0] != '\0';
		pthread_mutex_unlock(&m->mu);
		long wait = retry_wait(m);
		if (!can || rt_now_ms() + wait >= deadline)
			break;
		log_info("mcp %s: stream ended before the answer; resuming "
			 "after %ld ms",
			 m->cfg->name, wait);
		sleep_ms(wait);
		long st = get_stream(m, (long)(deadline - rt_now_ms()));
		if (st != 200)
			break;
	}
}

enum claw_rc mcp_http_send(struct rt_mcp *m, const char *msg, size_t len,
			   json_int_t id, long timeout_ms, char *err,
			   size_t errlen)
{
	char extra[3][300];
	const char **h = headers_for(
		m, true, "Accept: application/json, text/event-stream", extra);
	struct claw_httpc_resp resp;
	struct post_ctx c = {.m = m, .resp = &resp};
	enum claw_rc rc = CLAW_ERR_IO;
	long long deadline = rt_now_ms() + timeout_ms;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	claw_sse_init(&c.sse, MCP_MAX_MESSAGE, on_event, &c);
	claw_buf_init(&c.body, MCP_MAX_MESSAGE);
	struct claw_httpc_req req = {
		.method = "POST",
		.url = m->cfg->url,
		.headers = h,
		.body = msg,
		.body_len = len,
		.timeout_ms = timeout_ms,
		.on_data = on_data,
		.cls = &c,
		.proxy = m->net->proxy,
		.ca_file = m->net->ca_file,
	};
	enum claw_rc hr = claw_httpc_do(&req, &resp);
	remember_session(m, &resp);
	if (claw_sse_retry_ms(&c.sse) >= 0) {
		pthread_mutex_lock(&m->mu);
		m->retry_ms = claw_sse_retry_ms(&c.sse);
		pthread_mutex_unlock(&m->mu);
	}
	if (resp.status == 404 && m->session_id[0]) {
		snprintf(err, errlen, "the server ended the session (404)");
		pthread_mutex_lock(&m->mu);
		m->session_id[0] = '\0';
		pthread_mutex_unlock(&m->mu);
		mcp_transport_failed(m, "the server ended the session");
		goto out;
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
			mcp_dispatch(m, c.body.data, c.body.len);
	} else {
		resume_until_answered(m, id, deadline);
	}
	rc = CLAW_OK;
out:
	claw_sse_release(&c.sse);
	claw_buf_release(&c.body);
	claw_httpc_resp_release(&resp);
	free(h);
	return rc;
}

static void *listen_main(void *arg)
{
	struct rt_mcp *m = arg;
	while (!atomic_load(&m->stop)) {
		long st = get_stream(m, LISTEN_TIMEOUT_MS);
		if (st == 405 || st == 404 || (st >= 400 && st < 500))
			break; /* the server offers no GET stream */
		long wait = retry_wait(m);
		for (long w = 0; w < wait && !atomic_load(&m->stop); w += 100)
			sleep_ms(100);
	}
	mcp_unref(m);
	return NULL;
}

void mcp_http_start_listen(struct rt_mcp *m)
{
	pthread_t th;
	if (m->getter_started)
		return;
	atomic_fetch_add(&m->refs, 1);
	if (pthread_create(&th, NULL, listen_main, m) != 0) {
		atomic_fetch_sub(&m->refs, 1);
		return;
	}
	pthread_detach(th);
	m->getter_started = true;
}

void mcp_http_disconnect(struct rt_mcp *m)
{
	char extra[3][300];
	pthread_mutex_lock(&m->mu);
	bool has = m->session_id[0] != '\0';
	pthread_mutex_unlock(&m->mu);
	if (has) {
		/* End the session politely (the server may answer 405). */
		const char **h = headers_for(m, false,
					     "Accept: application/json", extra);
		struct claw_httpc_resp resp;
		struct claw_httpc_req req = {
			.method = "DELETE",
			.url = m->cfg->url,
			.headers = h,
			.timeout_ms = 5000,
			.proxy = m->net->proxy,
			.ca_file = m->net->ca_file,
		};
		if (h)
			claw_httpc_do(&req, &resp);
		if (h)
			claw_httpc_resp_release(&resp);
		free(h);
	}
	pthread_mutex_lock(&m->mu);
	m->session_id[0] = '\0';
	m->last_event_id[0] = '\0';
	pthread_mutex_unlock(&m->mu);
}
