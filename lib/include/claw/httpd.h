/*
 * httpd.h - HTTP server and router over libmicrohttpd.
 *
 * One route table {method, pattern, handler, name}; patterns are literal
 * segments and {param} captures ("/v1/tenants/{t}/secrets/{name}"). A path
 * that matches with another method gets 405 and an Allow header; no match
 * gets 404. The body is collected up to max_body (413 past it), then the
 * handler runs in the connection's own thread (thread per connection, so a
 * handler may block: database calls, long polls) and must send exactly one
 * reply; a handler that sends none gets a 500. Every response carries
 * X-Request-Id (the client's, when it is 1 to 64 of [A-Za-z0-9._-], or a
 * new one: claw_http_request_id only ever returns a checked id), and every
 * error has one JSON shape:
 *   {"error":{"code":"...","message":"...","request_id":"..."}}
 *
 * Slow and abusive clients. Thread per connection means every open
 * connection holds a thread and one of connection_limit slots, so the
 * server bounds how long and how many a client may hold:
 *   - per client address, at most per_ip_limit connections (libmicrohttpd
 *     closes the extra ones at accept). The default, a quarter of the
 *     slots (256 of 1,024), keeps one address alone below the pressure
 *     mark below, and leaves room for one busy peer: the gateway reaches
 *     the runtime with up to 256 workers, and behind a proxy (the edge, a
 *     load balancer) every client shares the proxy's address. Nothing is
 *     exempt, loopback included; lower it where clients connect directly.
 *   - a deadline for the whole request head (head_timeout_s, counted from
 *     the accept or from the end of the previous response on a keep-alive
 *     connection, so it also bounds keep-alive idling) and another for the
 *     whole body (body_timeout_s, from the end of the head). Bytes that
 *     trickle in do not extend them (libmicrohttpd's own timeout,
 *     connection_timeout_s, is an idle timer that every byte resets; it
 *     still bounds a slow reader of a response). A connection past its
 *     deadline is shut down without a reply.
 *   - under pressure, once 7/8 of the slots are taken, both deadlines
 *     shrink to a tenth (at least 1 s), so the slowest clients make room
 *     for new ones instead of new clients being refused.
 *   - per credential (the Authorization header's value, kept only as a
 *     keyed hash, never logged), at most per_token_limit requests at once;
 *     the next one gets 429 rate_limited with Retry-After. Requests without
 *     Authorization are not counted. The cap is below the per-address one,
 *     so one eager client sees 429s rather than refused connections.
 * The soft RLIMIT_NOFILE is raised (up to the hard one) to fit the
 * connection limit and a reserve of 256 descriptors; where it cannot be,
 * the limit is lowered to fit and a warning logged.
 *
 * Shutdown is graceful: new connections are refused, in-flight requests run
 * to the end (bounded by a grace period), then the daemon stops.
 */
#ifndef CLAW_HTTPD_H
#define CLAW_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "claw/err.h"
#include "claw/json.h"

struct claw_httpd;
struct claw_http_req;

typedef void (*claw_http_handler)(struct claw_http_req *req, void *ctx);

struct claw_route {
	const char *method;  /* "GET", "POST", ... */
	const char *pattern; /* "/v1/tenants/{t}" */
	claw_http_handler fn;
	const char *name; /* metrics label; the pattern when NULL */
};

/* Called once per finished request (from the connection thread). */
typedef void (*claw_http_observer)(const char *route_name, unsigned status,
				   double seconds, void *ctx);

/* A per-address or per-token limit that is switched off. */
#define CLAW_HTTPD_NO_LIMIT 0xffffffffu

struct claw_httpd_config {
	const char *listen;   /* "127.0.0.1:7070"; port 0 picks a free one;
			       * NULL: serve listen_fd */
	int listen_fd;        /* with listen NULL: a socket already bound and
			       * listening (a unix socket, say). The server
			       * owns it once started and closes it on
			       * shutdown; on a failed start the caller
			       * keeps it. Clients on a unix socket have no
			       * address: per_ip_limit does not apply. */
	const char *tls_cert; /* PEM file path, or NULL for plain HTTP */
	const char *tls_key;  /* PEM file path, needed with tls_cert */
	size_t max_body;      /* bytes; 0 means 1 MiB */
	unsigned connection_limit;     /* 0 means 1024 */
	unsigned connection_timeout_s; /* libmicrohttpd's idle timer (any
					* byte resets it): still what
					* bounds a slow reader of a reply;
					* 0 means 60 */
	/* The bounds on slow and abusive clients (see the top of this
	 * file); 0 picks the default, CLAW_HTTPD_NO_LIMIT switches the
	 * per-address and per-token ones off. */
	unsigned per_ip_limit;    /* connections per address; 0 means a
				   * quarter of connection_limit (256) */
	unsigned head_timeout_s;  /* whole request head; 0 means 10 */
	unsigned body_timeout_s;  /* whole body after the head; 0 means 30 */
	unsigned per_token_limit; /* requests at once per Authorization
				   * value; 0 means 32 */
	const struct claw_route *routes;
	size_t n_routes;
	void *ctx;                   /* passed to handlers and observer */
	claw_http_observer observer; /* may be NULL */
};

/* Start listening. The config (routes and strings) must outlive the
 * server. errbuf gets a message for the user on failure. */
enum claw_rc claw_httpd_start(const struct claw_httpd_config *cfg,
			      struct claw_httpd **out, char *errbuf,
			      size_t errlen);
/* The port actually bound (useful with port 0). */
uint16_t claw_httpd_port(const struct claw_httpd *h);

/* What the bounds did so far (for metrics and tests). Connections refused
 * at accept (per_ip_limit, connection_limit) are libmicrohttpd's: they are
 * logged (at most 10 lines a second), not counted here. */
struct claw_httpd_stats {
	unsigned open;                      /* connections open now */
	unsigned limit;                     /* the connection limit in force */
	unsigned per_ip_limit;              /* in force; 0: none */
	unsigned per_token_limit;           /* in force; 0: none */
	unsigned long long deadline_closed; /* head/body past its deadline */
	unsigned long long pressure_closed; /* past the shortened deadline */
	unsigned long long rate_limited;    /* 429s of the per-token cap */
};
void claw_httpd_stats(struct claw_httpd *h, struct claw_httpd_stats *out);

/* Refuse new connections, wait up to grace_ms for in-flight requests, stop
 * and free. NULL is a no-op. */
void claw_httpd_shutdown(struct claw_httpd *h, unsigned grace_ms);

/* ---- the router on its own (the server's; tests and the fuzzer call it) */
#define CLAW_HTTP_MAX_PARAMS 8
struct claw_route_match {
	const struct claw_route *route; /* matched path and method, or NULL */
	char allow[64]; /* route NULL: the methods the path has, or "" */
	size_t n_params;
	struct {
		const char *name; /* points into the route's pattern */
		size_t name_len;
		char *value; /* owned by the match */
	} params[CLAW_HTTP_MAX_PARAMS];
};
/* Match method and path against routes: the first route whose pattern
 * matches path and whose method is method, with its captures (each a
 * non-empty segment without '/'). Returns 0, or -1 when out of memory.
 * Always release *m with claw_route_match_release, matched or not. */
int claw_route_find(const struct claw_route *routes, size_t n_routes,
		    const char *method, const char *path,
		    struct claw_route_match *m);
void claw_route_match_release(struct claw_route_match *m);

/* ---- the request (all pointers borrowed, valid until the reply is done) */
const char *claw_http_method(const struct claw_http_req *r);
const char *claw_http_path(const struct claw_http_req *r);
const char *claw_http_route_name(const struct claw_http_req *r);
/* Path parameter captured by {name}; NULL when the route has none. */
const char *claw_http_param(const struct claw_http_req *r, const char *name);
const char *claw_http_query(const struct claw_http_req *r, const char *key);
const char *claw_http_header(const struct claw_http_req *r, const char *name);
const char *claw_http_body(const struct claw_http_req *r, size_t *len);
const char *claw_http_request_id(const struct claw_http_req *r);
/* Numeric address of the peer ("127.0.0.1"). */
const char *claw_http_remote_addr(const struct claw_http_req *r);

/* Per-request state: freed with free_fn when the request ends. */
void claw_http_set_state(struct claw_http_req *r, void *state,
			 void (*free_fn)(void *));
void *claw_http_state(const struct claw_http_req *r);

/* Add a header to the reply that will be sent (copied). */
void claw_http_add_header(struct claw_http_req *r, const char *name,
			  const char *value);

/* Parse the body as a JSON object checked against fields (NULL: any
 * object, its fields unchecked). An empty body is an empty object; a
 * non-empty one needs Content-Type application/json exactly (parameters
 * such as "; charset=utf-8" allowed), else 415. On
 * failure the error reply (400/413/415/422) is already sent and -1 is
 * returned; on success *out is a new reference the caller releases with
 * json_decref. */
int claw_http_parse_json(struct claw_http_req *r,
			 const struct claw_json_field *fields, json_t **out);

/* Options of claw_http_parse_json_opt. */
#define CLAW_HTTP_JSON_NONEMPTY 0x1u /* an empty body is bad_json, not {} */
/* The body may hold a secret: a syntax error is reported by line and
 * column only (the parser's reason can quote the text), and when the body
 * is refused every string parsed from it is wiped before it is freed. The
 * caller still wipes the raw body (claw_http_body) and, after use, the
 * strings of *out. */
#define CLAW_HTTP_JSON_SECRET 0x2u
/* claw_http_parse_json with options (CLAW_HTTP_JSON_*, or'ed). */
int claw_http_parse_json_opt(struct claw_http_req *r,
			     const struct claw_json_field *fields,
			     unsigned opts, json_t **out);

/* ---- replies: each sends one response; exactly one per request. */
void claw_http_reply_json(struct claw_http_req *r, unsigned status,
			  json_t *body_steal);
void claw_http_reply_raw(struct claw_http_req *r, unsigned status,
			 const char *content_type, const void *body,
			 size_t len);
void claw_http_reply_empty(struct claw_http_req *r, unsigned status);
/* Errors have one JSON shape (see the top of this file) and come only from
 * a registry (claw/err.h): there is no call that takes a code as a string.
 * A registered error (the shared registry's or a component's): its code and
 * status, with a printf message, or its hint when fmt is NULL. */
void claw_http_reply_def(struct claw_http_req *r,
			 const struct claw_error_def *def, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* One of the shared codes with its status; message NULL uses its hint. */
void claw_http_reply_std(struct claw_http_req *r, enum claw_http_error e,
			 const char *message);

/* A streamed reply (server-sent events, long logs). fn is called from the
 * connection thread whenever more may be sent: it writes up to max bytes to
 * out and returns how many, 0 when it has nothing yet (it may block a
 * while, say up to a second, waiting), or -1 to end the stream. free_fn
 * releases cls once the response is done. */
typedef ssize_t (*claw_http_stream_fn)(void *cls, char *out, size_t max);
void claw_http_reply_stream(struct claw_http_req *r, unsigned status,
			    const char *content_type, claw_http_stream_fn fn,
			    void *cls, void (*free_fn)(void *));

#endif
