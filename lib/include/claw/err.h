/*
 * err.h - result codes of libclaw and the shared HTTP error registry.
 *
 * Library functions return an enum claw_rc (0 is success) and pass results
 * through out-parameters. HTTP-facing errors have a stable string code, an
 * HTTP status and a short hint; components keep their own registries in the
 * same shape (struct claw_error_def) for codes only they use.
 */
#ifndef CLAW_ERR_H
#define CLAW_ERR_H

#include <jansson.h>

enum claw_rc {
	CLAW_OK = 0,
	CLAW_ERR_NOMEM,     /* allocation failed */
	CLAW_ERR_TOO_LARGE, /* input over its ceiling */
	CLAW_ERR_IO,        /* read/write/socket failure */
	CLAW_ERR_PARSE,     /* malformed input */
	CLAW_ERR_INVALID,   /* well-formed but not acceptable */
	CLAW_ERR_TIMEOUT,   /* deadline passed */
	CLAW_ERR_PROTO,     /* peer broke its protocol */
	CLAW_ERR_NOT_FOUND, /* no such thing */
	CLAW_ERR_CRYPTO,    /* authentication/decryption failed */
	CLAW_ERR_INTERNAL,  /* our invariant broke */
};

/* Static, never NULL. */
const char *claw_strerror(enum claw_rc rc);

struct claw_error_def {
	const char *code;     /* stable, snake_case */
	unsigned http_status; /* status sent with it */
	const char *hint;     /* what to do, one sentence */
};

/* Codes the HTTP layer itself uses; every daemon shares them. */
#define CLAW_HTTP_ERRORS(X)                                                    \
	X(BAD_JSON, "bad_json", 400,                                           \
	  "the request body is not valid JSON; send one JSON object")          \
	X(BAD_REQUEST, "bad_request", 400,                                     \
	  "the request is malformed; check it against the API description")    \
	X(UNAUTHORIZED, "unauthorized", 401,                                   \
	  "send a valid token as 'Authorization: Bearer TOKEN'")               \
	X(FORBIDDEN, "forbidden", 403,                                         \
	  "this token's role may not do this; use a token with more rights")   \
	X(NOT_FOUND, "not_found", 404,                                         \
	  "no such resource; check the path and the id")                       \
	X(METHOD_NOT_ALLOWED, "method_not_allowed", 405,                       \
	  "this path does not accept that method; see the Allow header")       \
	X(CONFLICT, "conflict", 409,                                           \
	  "the resource changed or exists; fetch it again and retry")          \
	X(BODY_TOO_LARGE, "body_too_large", 413,                               \
	  "the request body is over the size limit; send less")                \
	X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415,               \
	  "send the body as application/json")                                 \
	X(UNKNOWN_FIELD, "unknown_field", 422,                                 \
	  "remove the field; the API description lists the accepted ones")     \
	X(MISSING_FIELD, "missing_field", 422, "add the required field")       \
	X(INVALID_FIELD, "invalid_field", 422,                                 \
	  "fix the field's value as the message says")                         \
	X(RATE_LIMITED, "rate_limited", 429, "slow down and retry later")      \
	X(INTERNAL, "internal", 500,                                           \
	  "an internal error occurred; retry, and report the request id")      \
	X(UNAVAILABLE, "unavailable", 503,                                     \
	  "the service is not ready; retry shortly")

enum claw_http_error {
#define CLAW_X_ENUM(name, code, status, hint) CLAW_HE_##name,
	CLAW_HTTP_ERRORS(CLAW_X_ENUM)
#undef CLAW_X_ENUM
	CLAW_HE__COUNT
};

/* Static definition of a shared HTTP error; never NULL for a valid enum. */
const struct claw_error_def *claw_http_error_def(enum claw_http_error e);

/* The error body every HTTP server of the platform sends, {"error":
 * {"code", "message", "request_id"}} (docs/contracts.md), logged as it
 * goes (at error level for a 5xx, info otherwise); NULL when out of
 * memory. A message that is not UTF-8 is replaced by a note saying so. */
json_t *claw_http_error_body(unsigned status, const char *code,
			     const char *message, const char *request_id);
/* The text of body_steal, a JSON answer with *status; when it cannot be
 * had (NULL, out of memory) the internal error's body, and *status turns
 * 500. free() it; NULL only when even that cannot be allocated. */
char *claw_http_json_text(json_t *body_steal, unsigned *status);

/*
 * A component's registry, in the same X-macro shape as CLAW_HTTP_ERRORS
 * (X(NAME, "code", status, "hint")). Its header declares the enum from the
 * list; its .c file builds the table with CLAW_ERROR_DEF_ROW and looks codes
 * up with claw_error_lookup. A component never re-registers a shared code:
 * it sends those with claw_http_reply_std.
 */
#define CLAW_ERROR_DEF_ROW(name, code, status, hint) {code, status, hint},
/* table[i], or the shared "internal" definition when i >= n. */
const struct claw_error_def *claw_error_lookup(
	const struct claw_error_def *table, unsigned n, unsigned i);

#endif
