/*
 * docker.h - a Docker Engine API client over the engine's unix socket
 * (libcurl through claw_httpc). The API version is negotiated once through
 * /_ping (its Api-Version header, capped at the newest version this client
 * knows) and then always sent in the path ("/v1.41/containers/json"), so
 * the client works with Debian's docker.io (1.41) and current engines.
 * Docker's error JSON ({"message": ...}) becomes the text of errors.
 *
 * Thread-safety: a struct na_docker is read-only after na_docker_connect,
 * so several threads may call through one (each call is its own transfer).
 */
#ifndef NA_DOCKER_H
#define NA_DOCKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "claw/err.h"
#include "claw/httpc.h"

#define NA_DOCKER_API_MIN "1.41"
#define NA_DOCKER_API_MAX "1.45"

struct na_docker {
	char socket[108]; /* unix socket path */
	char api[16];     /* negotiated, e.g. "1.41" */
	char engine[64];  /* the engine's Server header, for reports */
};

/* The result of one call that failed: an HTTP status from the engine (0
 * when none came) and a message for people (never holds credentials). */
struct na_docker_err {
	long status;
	char message[512];
};

/* Compare two "MAJOR.MINOR" versions: <0, 0, >0. */
int na_docker_version_cmp(const char *a, const char *b);

/* Ping the engine and agree on a version. CLAW_ERR_IO when it does not
 * answer, CLAW_ERR_PROTO when it is older than NA_DOCKER_API_MIN. */
enum claw_rc na_docker_connect(struct na_docker *d, const char *socket,
			       struct na_docker_err *err);

/* True when the engine answers /_ping now. */
bool na_docker_ping(const struct na_docker *d);

/* One call with a JSON (or no) body and a JSON (or empty) answer.
 * path is without the version ("/containers/create?name=x"). body is
 * borrowed (may be NULL); *out (may be NULL to ignore) receives the parsed
 * answer (a new reference, NULL for an empty body). An answer with status
 * >= 400 returns CLAW_ERR_NOT_FOUND for 404, CLAW_ERR_INVALID otherwise,
 * with err filled from Docker's error JSON. headers: extra request
 * headers or NULL. */
enum claw_rc na_docker_json(const struct na_docker *d, const char *method,
			    const char *path, const char *const *headers,
			    const json_t *body, long timeout_ms, json_t **out,
			    struct na_docker_err *err);

/* A streamed call: the body is handed to fn as it arrives. *status gets
 * the HTTP status; an error answer's body is still handed to fn, and the
 * caller decides. */
enum claw_rc na_docker_stream(const struct na_docker *d, const char *method,
			      const char *path, const char *const *headers,
			      long timeout_ms, claw_httpc_data_fn fn, void *cls,
			      long *status, struct na_docker_err *err);

/* Fill err from an engine's error body (Docker's {"message": ...}). */
void na_docker_err_from_body(struct na_docker_err *err, long status,
			     const char *body, size_t len);

/* "2024-05-01T12:00:00.123456789Z" (Docker's time format; fewer or no
 * fraction digits too) to nanoseconds since the epoch; -1 when it is not
 * one, or is before 1970 (Docker's zero time, "0001-01-01T00:00:00Z")
 * or past 2262. */
int64_t na_docker_time_ns(const char *text, size_t len);

/* Percent-encode s for a query value into out (truncates never: returns
 * CLAW_ERR_TOO_LARGE when it does not fit). */
enum claw_rc na_docker_qs(const char *s, char *out, size_t outlen);

#endif
