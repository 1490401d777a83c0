/*
 * err.c - names of libclaw result codes and the shared HTTP error table.
 */
#include "claw/err.h"

#include <stddef.h>

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
