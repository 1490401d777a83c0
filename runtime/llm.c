/*
 * llm.c - one completion across the configured providers: build the
 * provider's request, send it with claw_httpc (through the proxy when set),
 * retry 429/5xx and transport errors with exponential backoff or the
 * server's Retry-After, then fall back to the next provider. A streamed
 * answer that has already shown text to the user is never retried.
 */
#include "llm.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/httpc.h"
#include "claw/log.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 8000
#define RETRY_AFTER_MAX_MS 60000
#define ERRBODY_MAX 2048

struct call_ctx {
	struct rt_llm_stream *stream;
	struct claw_httpc_resp *resp;
	struct claw_buf errbody; /* a non-200 body, for the log */
	int status;              /* from the header block, once known */
};

static int status_of(const struct claw_buf *headers)
{
	int st = 0;
	if (headers->data && sscanf(headers->data, "HTTP/%*s %d", &st) == 1)
		return st;
	return 0;
}

static int on_stream_data(const char *data, size_t len, void *cls)
{
	struct call_ctx *c = cls;
	if (!c->status)
		c->status = status_of(&c->resp->headers);
	if (c->status != 200) {
		size_t room = ERRBODY_MAX - c->errbody.len;
		claw_buf_append(&c->errbody, data, len < room ? len : room);
		return 0;
	}
	return rt_llm_stream_feed(c->stream, data, len) ? 1 : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The wait before the next attempt: Retry-After (seconds) when the server
 * sent one, else exponential backoff with jitter. */
static long retry_delay(const struct claw_httpc_resp *resp, int attempt)
{
	char v[64];
	if (resp->status &&
	    claw_httpc_resp_header(resp, "retry-after", v, sizeof(v))) {
		char *end;
		long s = strtol(v, &end, 10);
		if (end != v && !*end && s >= 0)
			return s * 1000 < RETRY_AFTER_MAX_MS
				? s * 1000
				: RETRY_AFTER_MAX_MS;
	}
	long d = BACKOFF_BASE_MS << (attempt < 5 ? attempt : 5);
	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	return d + (long)randombytes_uniform(250);
}

static char *url_of(const struct rt_provider_cfg *p)
{
	char *url = NULL;
	if (asprintf(&url, "%s%s", p->base_url,
		     p->kind == RT_PROVIDER_OPENAI ? "/chat/completions"
						   : "/v1/messages") < 0)
		return NULL;
	return url;
}

/* Header lines; the one holding the key is sodium memory (secret). */
static void headers_of(const struct rt_provider_cfg *p, bool stream,
		       const char *h[6], char **key_line)
{
	int n = 0;
	*key_line = NULL;
	h[n++] = "Content-Type: application/json";
	h[n++] = stream ? "Accept: text/event-stream"
			: "Accept: application/json";
	if (p->kind == RT_PROVIDER_OPENAI) {
		if (p->api_key)
			*key_line = rt_secret_concat("Authorization: Bearer ",
						     p->api_key);
	} else {
		h[n++] = "anthropic-version: 2023-06-01";
		if (p->api_key)
			*key_line = rt_secret_concat("x-api-key: ", p->api_key);
	}
	if (*key_line)
		h[n++] = *key_line;
	h[n] = NULL;
}

/* A non-200 answer: 429 and 5xx may pass with another attempt, any other
 * status is the provider refusing the request. */
static enum rt_llm_status http_refusal(const struct rt_provider_cfg *p,
				       const struct claw_httpc_resp *resp,
				       const char *errbody, bool *retry,
				       char *why, size_t whylen)
{
	snprintf(why, whylen, "%s answered HTTP %ld: %.160s", p->name,
		 resp->status, errbody ? errbody : "");
	for (char *q = why; *q; q++)
		if (*q == '\n' || *q == '\r')
			*q = ' ';
	*retry = resp->status == 429 || resp->status >= 500;
	return *retry ? RT_LLM_UNAVAILABLE : RT_LLM_REFUSED;
}

/* The answer of a 200 response, streamed or whole, into res; the codec's
 * code, with why set on failure. */
static enum claw_rc read_answer(const struct rt_provider_cfg *p,
				struct rt_llm_stream *st, bool stream,
				const struct claw_httpc_resp *resp,
				struct rt_llm_result *res, char *why,
				size_t whylen)
{
	char reason[200];
	enum claw_rc rc;
	if (stream)
		rc = rt_llm_stream_finish(st, res);
	else if (p->kind == RT_PROVIDER_OPENAI)
		rc = rt_openai_parse(resp->body.data, resp->body.len, res,
				     reason, sizeof(reason));
	else
		rc = rt_anthropic_parse(resp->body.data, resp->body.len, res,
					reason, sizeof(reason));
	if (rc)
		snprintf(why, whylen, "%s sent a bad answer: %s", p->name,
			 stream ? st->why : reason);
	return rc;
}

/* One HTTP attempt. Returns a status; *retry says whether another attempt
 * may help; *delay_ms is the wait the server asked for or the backoff. */
static enum rt_llm_status attempt_once(const struct rt_llm_env *env,
				       const struct rt_provider_cfg *p,
				       const struct rt_llm_request *req,
				       const char *body, const char *url,
				       int attempt, struct rt_llm_result *res,
				       bool *retry, bool *emitted,
				       long *delay_ms, char *why, size_t whylen)
{
	bool stream = req->on_delta != NULL;
	const char *h[6];
	char *key_line;
	struct rt_llm_stream st;
	struct claw_httpc_resp resp;
	struct call_ctx cc = {.stream = &st, .resp = &resp};
	enum rt_llm_status out = RT_LLM_UNAVAILABLE;
	long long left = req->deadline_ms - rt_now_ms();

	*retry = false;
	if (left <= 0) {
		snprintf(why, whylen, "the turn's time budget ran out");
		return RT_LLM_TIMEOUT;
	}
	headers_of(p, stream, h, &key_line);
	rt_llm_stream_init(&st, p->kind, req->on_delta, req->cls);
	claw_buf_init(&cc.errbody, ERRBODY_MAX);
	struct claw_httpc_req hr = {
		.method = "POST",
		.url = url,
		.headers = h,
		.body = body,
		.body_len = strlen(body),
		.timeout_ms = left < p->timeout_ms ? (long)left : p->timeout_ms,
		.connect_timeout_ms = p->connect_timeout_ms,
		.on_data = stream ? on_stream_data : NULL,
		.cls = &cc,
		.proxy = env->cfg->proxy,
		.ca_file = env->cfg->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&hr, &resp);
	claw_secret_free(key_line);
	*emitted = st.emitted;
	*delay_ms = retry_delay(&resp, attempt);
	if (rc != CLAW_OK && !(stream && st.failed)) {
		snprintf(why, whylen, "%s: %s", p->name, resp.error);
		*retry = !st.emitted;
		if (rc == CLAW_ERR_TIMEOUT && rt_now_ms() >= req->deadline_ms)
			out = RT_LLM_TIMEOUT;
		else if (rc == CLAW_ERR_TOO_LARGE)
			out = RT_LLM_BAD_RESPONSE;
	} else if (resp.status != 200) {
		out = http_refusal(p, &resp,
				   stream ? cc.errbody.data : resp.body.data,
				   retry, why, whylen);
	} else if (read_answer(p, &st, stream, &resp, res, why, whylen)) {
		rt_llm_result_release(res);
		*retry = !st.emitted;
		out = RT_LLM_BAD_RESPONSE;
	} else {
		snprintf(res->provider, sizeof(res->provider), "%s", p->name);
		out = RT_LLM_OK;
	}
	rt_llm_stream_release(&st);
	claw_buf_release(&cc.errbody);
	claw_httpc_resp_release(&resp);
	return out;
}

static enum rt_llm_status provider_try(const struct rt_llm_env *env,
				       const struct rt_provider_cfg *p,
				       const struct rt_llm_request *req,
				       struct rt_llm_result *res, bool *emitted,
				       char *why, size_t whylen)
{
	bool stream = req->on_delta != NULL;
	json_t *jb = p->kind == RT_PROVIDER_OPENAI
		? rt_openai_request(p, req, stream)
		: rt_anthropic_request(p, req, stream);
	char *body = jb ? json_dumps(jb, JSON_COMPACT) : NULL;
	char *url = url_of(p);
	enum rt_llm_status st = RT_LLM_UNAVAILABLE;
	json_decref(jb);
	if (!body || !url) {
		snprintf(why, whylen, "out of memory building the request");
		goto out;
	}
	for (int attempt = 0;; attempt++) {
		bool retry;
		long delay;
		st = attempt_once(env, p, req, body, url, attempt, res, &retry,
				  emitted, &delay, why, whylen);
		if (env->account)
			env->account(p->name, res->input_tokens,
				     res->output_tokens, st == RT_LLM_OK,
				     env->account_cls);
		if (st == RT_LLM_OK || !retry || attempt >= p->max_retries)
			break;
		if (rt_now_ms() + delay >= req->deadline_ms)
			break;
		log_warn("llm: %s; retrying in %ld ms (attempt %d of %ld)", why,
			 delay, attempt + 2, p->max_retries + 1);
		sleep_ms(delay);
	}
out:
	free(body);
	free(url);
	return st;
}

enum rt_llm_status rt_llm_complete(const struct rt_llm_env *env,
				   const struct rt_llm_request *req,
				   struct rt_llm_result *res, char *why,
				   size_t whylen)
{
	enum rt_llm_status st = RT_LLM_UNAVAILABLE;
	memset(res, 0, sizeof(*res));
	snprintf(why, whylen, "no provider is configured");
	for (size_t i = 0; i < env->cfg->n_providers; i++) {
		bool emitted = false;
		struct rt_provider_cfg p = env->cfg->providers[i];

		if (req->max_tokens > 0 && req->max_tokens < p.max_tokens)
			p.max_tokens = req->max_tokens; /* the caller's cap */
		st = provider_try(env, &p, req, res, &emitted, why, whylen);
		if (st == RT_LLM_OK || st == RT_LLM_TIMEOUT || emitted)
			break;
		if (i + 1 < env->cfg->n_providers)
			log_warn("llm: %s; falling back to provider '%s'", why,
				 env->cfg->providers[i + 1].name);
	}
	return st;
}
