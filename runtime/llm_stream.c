/*
 * llm_stream.c - assembling a streamed LLM answer: raw bytes go through
 * the SSE parser, each event's data to its codec; at the end the collected
 * text and tool calls become an rt_llm_result, or a clear reason why the
 * stream was malformed or cut off.
 */
#include "llm.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define STREAM_MAX_TEXT (4u << 20)
#define STREAM_MAX_EVENT (2u << 20)

long long rt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rt_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, long long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	long long ns = ts.tv_nsec + (ms % 1000) * 1000000LL;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000LL);
	ts.tv_nsec = (long)(ns % 1000000000LL);
	pthread_cond_timedwait(cond, mu, &ts);
}

size_t rt_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* The codec's code stops the SSE parser, and claw_sse_feed returns it. */
static enum claw_rc stream_event(const struct claw_sse_event *ev, void *cls)
{
	struct rt_llm_stream *s = cls;
	enum claw_rc rc;
	if (s->done)
		return CLAW_OK; /* nothing counts after the end */
	if (s->kind == RT_PROVIDER_OPENAI)
		rc = rt_openai_stream_event(s, ev->data, ev->data_len);
	else
		rc = rt_anthropic_stream_event(s, ev->data, ev->data_len);
	if (rc) {
		if (!s->why[0])
			snprintf(s->why, sizeof(s->why), "%s",
				 claw_strerror(rc));
		s->failed = true;
		s->rc = rc;
	}
	return rc;
}

void rt_llm_stream_init(struct rt_llm_stream *s, enum rt_provider_kind kind,
			rt_llm_delta_fn on_delta, void *cls)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	claw_sse_init(&s->sse, STREAM_MAX_EVENT, stream_event, s);
	claw_buf_init(&s->text, STREAM_MAX_TEXT);
	s->calls = json_array();
	s->blocks = json_object();
	s->on_delta = on_delta;
	s->cls = cls;
}

/* Mark the stream failed with rc and a reason. */
static enum claw_rc stream_fail(struct rt_llm_stream *s, enum claw_rc rc,
				const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why);
	s->failed = true;
	s->rc = rc;
	return rc;
}

enum claw_rc rt_llm_stream_feed(struct rt_llm_stream *s, const char *data,
				size_t len)
{
	if (s->failed)
		return s->rc;
	enum claw_rc rc = claw_sse_feed(&s->sse, data, len);
	if (rc == CLAW_OK)
		return CLAW_OK;
	if (!s->failed) {
		char why[sizeof(s->why)];
		snprintf(why, sizeof(why), "the event stream is malformed: %s",
			 claw_strerror(rc));
		stream_fail(s, rc, why);
	}
	return rc;
}

enum claw_rc rt_llm_stream_finish(struct rt_llm_stream *s,
				  struct rt_llm_result *res)
{
	if (s->failed)
		return s->rc;
	if (!s->done && !(s->kind == RT_PROVIDER_OPENAI && s->stop[0]))
		return stream_fail(s, CLAW_ERR_PROTO,
				   "the answer stream ended before its end "
				   "marker (truncated)");
	res->tool_calls = rt_llm_calls_finish(s->calls);
	if (!res->tool_calls)
		return stream_fail(s, CLAW_ERR_PROTO,
				   "a tool call has no valid name");
	res->text = claw_buf_steal(&s->text);
	snprintf(res->stop, sizeof(res->stop), "%s",
		 s->stop[0] ? s->stop : "end");
	res->input_tokens = s->input_tokens;
	res->output_tokens = s->output_tokens;
	return CLAW_OK;
}

void rt_llm_stream_release(struct rt_llm_stream *s)
{
	claw_sse_release(&s->sse);
	claw_buf_release(&s->text);
	json_decref(s->calls);
	json_decref(s->blocks);
	s->calls = s->blocks = NULL;
}

static bool tool_name_ok(const char *n)
{
	size_t len = n ? strlen(n) : 0;
	if (len == 0 || len > 128)
		return false;
	return strspn(n,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_-.") == len;
}

json_t *rt_llm_calls_finish(json_t *calls)
{
	json_t *out = json_array(), *c;
	size_t i;
	json_array_foreach(calls, i, c) {
		const char *name =
			json_string_value(json_object_get(c, "name"));
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *args =
			json_string_value(json_object_get(c, "args"));
		char gen[32];
		if (!tool_name_ok(name)) {
			json_decref(out);
			return NULL;
		}
		if (!id || !*id || strlen(id) > 256) {
			snprintf(gen, sizeof(gen), "call_%zu", i);
			id = gen;
		}
		json_t *call = json_pack("{s:s, s:s}", "id", id, "name", name);
		json_error_t jerr;
		json_t *obj = args && *args ? json_loads(args, 0, &jerr)
					    : json_object();
		if (json_is_object(obj)) {
			json_object_set_new(call, "arguments", obj);
		} else {
			json_decref(obj);
			json_object_set_new(call, "arguments", json_object());
			json_object_set_new(
				call, "arguments_error",
				json_string(
					"the arguments are not a JSON object"));
		}
		json_array_append_new(out, call);
	}
	return out;
}

enum claw_rc rt_llm_load_object(const char *body, size_t len, const char *need,
				const char *what, json_t **root, char *why,
				size_t whylen)
{
	json_error_t jerr;
	*root = json_loadb(body, len, 0, &jerr);
	if (json_is_object(*root) &&
	    (!need || json_is_string(json_object_get(*root, need))))
		return CLAW_OK;
	if (what)
		snprintf(why, whylen, "%s", what);
	else
		snprintf(why, whylen, "the answer is not a JSON object: %.80s",
			 *root ? "wrong type" : jerr.text);
	enum claw_rc rc = *root ? CLAW_ERR_PROTO : CLAW_ERR_PARSE;
	json_decref(*root);
	*root = NULL;
	return rc;
}

void rt_llm_set_tools(json_t *body, json_t *tools, json_t *(*one)(json_t *t))
{
	json_t *out, *t;
	size_t i;
	if (!json_array_size(tools))
		return;
	out = json_array();
	json_array_foreach(tools, i, t)
		json_array_append_new(out, one(t));
	json_object_set_new(body, "tools", out);
}

void rt_llm_stop(const char *reason, const char *const (*map)[2], char *out,
		 size_t n)
{
	if (!reason)
		return;
	for (; map[0][0]; map++) {
		if (strcmp(reason, map[0][0]) == 0) {
			reason = map[0][1];
			break;
		}
	}
	snprintf(out, n, "%s", reason);
}

void rt_llm_usage(json_t *usage, const char *in_key, const char *out_key,
		  long *in, long *out)
{
	json_t *a = json_object_get(usage, in_key);
	json_t *b = json_object_get(usage, out_key);
	if (json_is_integer(a) && json_integer_value(a) >= 0)
		*in = (long)json_integer_value(a);
	if (json_is_integer(b) && json_integer_value(b) >= 0)
		*out = (long)json_integer_value(b);
}

enum claw_rc rt_llm_error(json_t *err, char *why, size_t whylen)
{
	const char *msg = json_string_value(json_object_get(err, "message"));
	snprintf(why, whylen, "the provider sent an error: %.120s",
		 msg ? msg : "(no message)");
	return CLAW_ERR_PROTO;
}

enum claw_rc rt_llm_stream_text(struct rt_llm_stream *s, const char *t)
{
	size_t n = strlen(t);
	enum claw_rc rc = claw_buf_append(&s->text, t, n);
	if (rc) {
		snprintf(s->why, sizeof(s->why), "the answer is too long");
		return rc;
	}
	if (s->on_delta && n) {
		s->on_delta(t, n, s->cls);
		s->emitted = true;
	}
	return CLAW_OK;
}

enum claw_rc rt_llm_join(struct rt_llm_stream *s, json_t *call, const char *key,
			 const char *more, size_t max, const char *toolong)
{
	const char *had = json_string_value(json_object_get(call, key));
	char *joined = NULL;
	if (!had)
		had = "";
	if (strlen(had) + strlen(more) > max) {
		snprintf(s->why, sizeof(s->why), "%s", toolong);
		return CLAW_ERR_TOO_LARGE;
	}
	if (asprintf(&joined, "%s%s", had, more) < 0) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return CLAW_ERR_NOMEM;
	}
	json_object_set_new(call, key, json_string(joined));
	free(joined);
	return CLAW_OK;
}

void rt_llm_result_release(struct rt_llm_result *res)
{
	free(res->text);
	json_decref(res->tool_calls);
	memset(res, 0, sizeof(*res));
}
