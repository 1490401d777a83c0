/*
 * llm.h - LLM providers behind one call: OpenAI-compatible Chat Completions
 * and Anthropic Messages, plain or streamed, with timeouts, retries with
 * backoff on 429/5xx (honouring Retry-After) and a fallback list.
 *
 * Messages use one neutral shape (a jansson array), turned into each
 * provider's wire format by its codec:
 *   {"role":"user","content":"text"}
 *   {"role":"assistant","content":"text","tool_calls":[
 *       {"id":"..","name":"..","arguments":{..}}]}
 *   {"role":"tool","tool_call_id":"..","name":"..","content":"text",
 *    "is_error":false}
 * Tools: [{"name":"..","description":"..","input_schema":{..}}].
 */
#ifndef RT_LLM_H
#define RT_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include "claw/buf.h"
#include "claw/sse.h"
#include "config.h"

/* A piece of the answer's text as it streams in. */
typedef void (*rt_llm_delta_fn)(const char *text, size_t len, void *cls);

struct rt_llm_request {
	const char *system;
	json_t *messages;         /* neutral, borrowed */
	json_t *tools;            /* neutral, borrowed; NULL or [] for none */
	rt_llm_delta_fn on_delta; /* non-NULL: stream the answer */
	void *cls;
	long long deadline_ms; /* monotonic; rt_now_ms() based */
	long max_tokens; /* > 0: the answer's cap, under each provider's */
};

struct rt_llm_result {
	char *text;         /* the answer's text ("" when none); owned */
	json_t *tool_calls; /* [{"id","name","arguments"}] or
			      {"id","name","arguments_error"}; owned */
	char stop[32];      /* "end", "tool_calls", "max_tokens", ... */
	long input_tokens, output_tokens;
	char provider[64]; /* the provider that answered */
};

enum rt_llm_status {
	RT_LLM_OK = 0,
	RT_LLM_UNAVAILABLE,  /* transport errors, 429/5xx after retries */
	RT_LLM_TIMEOUT,      /* the turn's deadline passed */
	RT_LLM_REFUSED,      /* 4xx other than 429 (bad key, bad request) */
	RT_LLM_BAD_RESPONSE, /* malformed or truncated answer */
};

/* Counters the caller may keep per provider (usage.c). */
typedef void (*rt_llm_account_fn)(const char *provider, long in_tokens,
				  long out_tokens, bool ok, void *cls);

struct rt_llm_env {
	const struct rt_config *cfg;
	rt_llm_account_fn account;
	void *account_cls;
};

/* Ask the providers in order. On failure why says what went wrong (for
 * the log; no secrets). The caller releases res in every case. */
enum rt_llm_status rt_llm_complete(const struct rt_llm_env *env,
				   const struct rt_llm_request *req,
				   struct rt_llm_result *res, char *why,
				   size_t whylen);
void rt_llm_result_release(struct rt_llm_result *res);

/* ---- codecs (llm_openai.c, llm_anthropic.c), used by llm.c and fuzzers */

/* The request body for provider p (new reference). */
json_t *rt_openai_request(const struct rt_provider_cfg *p,
			  const struct rt_llm_request *req, bool stream);
json_t *rt_anthropic_request(const struct rt_provider_cfg *p,
			     const struct rt_llm_request *req, bool stream);

/* Parse a whole (non-streamed) response body into res (the caller
 * releases it in every case). CLAW_OK, or with why set: CLAW_ERR_PARSE
 * (not JSON), CLAW_ERR_PROTO (the wrong shape, a tool call without a valid
 * name, or the provider's own error object), CLAW_ERR_NOMEM. */
enum claw_rc rt_openai_parse(const char *body, size_t len,
			     struct rt_llm_result *res, char *why,
			     size_t whylen);
enum claw_rc rt_anthropic_parse(const char *body, size_t len,
				struct rt_llm_result *res, char *why,
				size_t whylen);

/* A streamed answer being assembled from SSE events. */
struct rt_llm_stream {
	enum rt_provider_kind kind;
	struct claw_sse_parser sse;
	struct claw_buf text;
	json_t *calls;  /* [{"id","name","args"(string being built)}] */
	json_t *blocks; /* anthropic: content block index -> call index */
	char stop[32];
	long input_tokens, output_tokens;
	bool done;       /* [DONE] or message_stop seen */
	bool failed;     /* why and rc are set */
	enum claw_rc rc; /* what failed, once failed */
	bool emitted;    /* text went to on_delta */
	char why[200];
	rt_llm_delta_fn on_delta;
	void *cls;
};

/* One SSE data payload of each codec's stream. CLAW_OK, or with s->why
 * set: CLAW_ERR_PARSE (not JSON), CLAW_ERR_PROTO (the wrong shape or the
 * provider's error event), CLAW_ERR_TOO_LARGE (text or tool arguments over
 * their ceiling), CLAW_ERR_NOMEM. */
enum claw_rc rt_openai_stream_event(struct rt_llm_stream *s, const char *data,
				    size_t len);
enum claw_rc rt_anthropic_stream_event(struct rt_llm_stream *s,
				       const char *data, size_t len);

void rt_llm_stream_init(struct rt_llm_stream *s, enum rt_provider_kind kind,
			rt_llm_delta_fn on_delta, void *cls);
/* Feed raw bytes of the event stream. CLAW_OK, or the first failure (the
 * codec's code, or the SSE parser's) with s->why set; once failed, every
 * later call returns that code. */
enum claw_rc rt_llm_stream_feed(struct rt_llm_stream *s, const char *data,
				size_t len);
/* Move the assembled answer into res (the caller releases it). CLAW_OK, or
 * with s->why set: the earlier failure's code, or CLAW_ERR_PROTO when the
 * stream ended before its end marker (truncated) or a tool call has no
 * valid name. */
enum claw_rc rt_llm_stream_finish(struct rt_llm_stream *s,
				  struct rt_llm_result *res);
void rt_llm_stream_release(struct rt_llm_stream *s);

/* Shared by the codecs: turn the collected calls (args as strings) into
 * result tool calls (args parsed to objects, or arguments_error). */
json_t *rt_llm_calls_finish(json_t *calls);

/* Shared by the codecs; each provider passes its own field names as data. */
/* Parse body as a JSON object (with a string member need, unless NULL)
 * into *root (NULL on failure). CLAW_OK, or with why set to what (NULL: a
 * default naming the JSON error): CLAW_ERR_PARSE (not JSON),
 * CLAW_ERR_PROTO (not such an object). */
enum claw_rc rt_llm_load_object(const char *body, size_t len, const char *need,
				const char *what, json_t **root, char *why,
				size_t whylen);
/* Set member "tools" of body to each of tools (neutral shape) as one()
 * makes it for the provider; nothing when tools is empty. */
void rt_llm_set_tools(json_t *body, json_t *tools, json_t *(*one)(json_t *t));
/* Map the provider's stop reason through map (pairs {provider, neutral},
 * ended by {NULL, NULL}) into out; a reason not in map is kept, NULL leaves
 * out as it is. */
void rt_llm_stop(const char *reason, const char *const (*map)[2], char *out,
		 size_t n);
/* Read the non-negative integer members in_key and out_key of usage into
 * *in and *out (each left as it is when absent or invalid). */
void rt_llm_usage(json_t *usage, const char *in_key, const char *out_key,
		  long *in, long *out);
/* CLAW_ERR_PROTO with why set from the provider's error object err. */
enum claw_rc rt_llm_error(json_t *err, char *why, size_t whylen);
/* Add streamed text t to s->text and show it to s->on_delta when not
 * empty. CLAW_OK, or with s->why set: the buffer's code (too long). */
enum claw_rc rt_llm_stream_text(struct rt_llm_stream *s, const char *t);
/* Append more to the string member key of call ("" when absent), at most
 * max bytes in all; over that, CLAW_ERR_TOO_LARGE with s->why = toolong. */
enum claw_rc rt_llm_join(struct rt_llm_stream *s, json_t *call, const char *key,
			 const char *more, size_t max, const char *toolong);

/* Milliseconds of the monotonic clock. */
long long rt_now_ms(void);
/* Wait on cond (mu held) for at most ms milliseconds (a wake-up may come
 * earlier: callers loop on their condition). */
void rt_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, long long ms);
/* The length of s (len bytes) cut to at most max bytes at a UTF-8
 * character boundary. */
size_t rt_utf8_cut(const char *s, size_t len, size_t max);

#endif
