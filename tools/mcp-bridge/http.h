/*
 * http.h - the bridge's HTTP server: libevent's evhttp behind a small API,
 * the only code of the project that uses libevent (docs/mcp-bridge.md,
 * "Static linking", says why libevent and not libmicrohttpd).
 *
 * One event-loop thread runs every evhttp call: the handlers, the stream
 * writes, the timers. Other threads never touch a request or a stream;
 * they call mb_http_wake, which makes the loop thread run the config's wake
 * callback (where the bridge flushes its queued SSE messages).
 *
 * What it keeps of lib's claw/httpd.h for the clients: an exact-path router
 * (405 method_not_allowed with Allow for a known path, 404 not_found
 * otherwise), every response with X-Request-Id (the client's when it is 1
 * to 64 of [A-Za-z0-9._-], else a new one), the one JSON error shape
 *   {"error":{"code":"...","message":"...","request_id":"..."}}
 * with the shared codes of claw/err.h, 413 body_too_large past max_body,
 * and a handler that sends no reply gets a 500 internal. The bounds: the
 * request head's size (max_headers; libevent refuses a bigger one itself),
 * an idle timeout per connection (idle_timeout_s, stream_timeout_s while a
 * stream is open) and a connection limit (max_connections: an accepted
 * connection past it is closed at once, logged at most once a second).
 * The listening address is numeric (no resolver: the binary is static).
 */
#ifndef MB_HTTP_H
#define MB_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "claw/err.h"

struct mb_http;
struct mb_http_req;
struct mb_http_stream;

typedef void (*mb_http_handler)(struct mb_http_req *r, void *ctx);

struct mb_http_route {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* exact: "/mcp" */
	mb_http_handler fn;
};

struct mb_http_config {
	const char *listen; /* "127.0.0.1:8080", "[::1]:0" (0: a free port) */
	const struct mb_http_route *routes;
	size_t n_routes;
	size_t max_body;           /* bytes: 413 past it */
	size_t max_headers;        /* bytes of the request head */
	unsigned idle_timeout_s;   /* a connection without an open stream */
	unsigned stream_timeout_s; /* one with an open stream */
	unsigned max_connections;
	void (*wake)(void *ctx); /* on the loop thread, after mb_http_wake */
	void *ctx;               /* passed to handlers and wake */
};

/* Bind and start the loop thread (call it with the signals blocked: the
 * thread inherits the mask). 0, or -1 with a message in err. */
int mb_http_start(const struct mb_http_config *cfg, struct mb_http **out,
		  char *err, size_t errlen);
uint16_t mb_http_port(const struct mb_http *h);
/* Any thread, any lock held: run cfg->wake on the loop thread soon. */
void mb_http_wake(struct mb_http *h);
/* Stop accepting; let the open streams end (cfg->wake ends them) for up to
 * grace_ms and their bytes reach the clients, then close every connection,
 * join the loop thread and free the server. Streams still open are ended
 * (mb_http_stream_end then only frees them). NULL is a no-op. */
void mb_http_stop(struct mb_http *h, unsigned grace_ms);

/* ---- a request, in its handler (borrowed pointers, valid until it
 * returns) */
const char *mb_http_header(const struct mb_http_req *r, const char *name);
/* The body (not NUL-terminated); "" with *len 0 when there is none. */
const char *mb_http_body(struct mb_http_req *r, size_t *len);
void mb_http_add_header(struct mb_http_req *r, const char *name,
			const char *value);
/* Exactly one reply per request. */
void mb_http_reply_json(struct mb_http_req *r, unsigned status,
			json_t *body_steal);
void mb_http_reply_empty(struct mb_http_req *r, unsigned status);
/* One of the shared codes with its status; message NULL uses its hint. */
void mb_http_reply_std(struct mb_http_req *r, enum claw_http_error e,
		       const char *message);
/* A streamed 200 (chunked): the stream lives on after the handler
 * returns, until mb_http_stream_end. NULL when out of memory (a 500 is
 * sent). */
struct mb_http_stream *mb_http_reply_stream(struct mb_http_req *r,
					    const char *content_type);

/* ---- a stream, on the loop thread only */
/* 1 while the client's unsent bytes are over the mark (send more after
 * the next wake), -1 once the client went away, else 0. */
int mb_http_stream_state(const struct mb_http_stream *s);
void mb_http_stream_send(struct mb_http_stream *s, const char *data,
			 size_t len);
/* End the response (if the client is still there) and free s. */
void mb_http_stream_end(struct mb_http_stream *s);

#endif
