/*
 * err.c - names of libclaw result codes, the shared HTTP error table and
 * the error body (the one shape of docs/contracts.md, for the
 * libmicrohttpd servers of httpd.c and the bridge's libevent one).
 */
#include "claw/err.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"

const char *claw_strerror(enum claw_rc rc)
{
	switch (rc) {
	case CLAW_OK:
		return "success";
	case CLAW_ERR_NOMEM:
		return "out of memory";
	case CLAW_ERR_TOO_LARGE:
		return "input over its size limit";
	case CLAW_ERR_IO:
		return "input/output error";
	case CLAW_ERR_PARSE:
		return "malformed input";
	case CLAW_ERR_INVALID:
		return "invalid value";
	case CLAW_ERR_TIMEOUT:
		return "timed out";
	case CLAW_ERR_PROTO:
		return "protocol error";
	case CLAW_ERR_NOT_FOUND:
		return "not found";
	case CLAW_ERR_CRYPTO:
		return "authentication failed";
	case CLAW_ERR_INTERNAL:
		return "internal error";
	}
	return "unknown error";
}

static const struct claw_error_def http_errors[CLAW_HE__COUNT] = {
	CLAW_HTTP_ERRORS(CLAW_ERROR_DEF_ROW)};

const struct claw_error_def *claw_error_lookup(
	const struct claw_error_def *table, unsigned n, unsigned i)
{
	return i < n ? &table[i] : &http_errors[CLAW_HE_INTERNAL];
}

const struct claw_error_def *claw_http_error_def(enum claw_http_error e)
{
	return claw_error_lookup(http_errors, CLAW_HE__COUNT, (unsigned)e);
}

json_t *claw_http_error_body(unsigned status, const char *code,
			     const char *message, const char *request_id)
{
	json_t *m = json_string(message);

	if (status >= 500)
		log_error("%u %s: %s", status, code, message);
	else
		log_info("%u %s: %s", status, code, message);
	return json_pack("{s:{s:s,s:o,s:s}}", "error", "code", code, "message",
			 m ? m : json_string("(message not UTF-8)"),
			 "request_id", request_id);
}

char *claw_http_json_text(json_t *body_steal, unsigned *status)
{
	char *s = body_steal ? claw_json_dumps(body_steal) : NULL;

	json_decref(body_steal);
	if (!s) {
		*status = 500;
		s = strdup("{\"error\":{\"code\":\"internal\"}}");
	}
	return s;
}
