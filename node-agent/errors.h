/*
 * errors.h - the node agent's own error codes (its local API), in the
 * X-macro shape of claw/err.h: X(NAME, "code", HTTP status, "hint").
 *
 * The enum and the table (errors.c) both come from NA_ERRORS, so a code
 * has exactly one status. Shared codes (not_found, invalid_field, ...) are
 * never listed here: they are sent with claw_http_reply_std.
 */
#ifndef NA_ERRORS_H
#define NA_ERRORS_H

#include "claw/err.h"

#define NA_ERRORS(X)                                                           \
	X(DOCKER_ERROR, "docker_error", 502,                                   \
	  "the node's Docker engine failed the request; check that it runs "   \
	  "and retry")                                                         \
	X(INVALID_QUOTA, "invalid_quota", 422,                                 \
	  "give quota as {\"turns_per_day\": N, \"tokens_per_month\": N}, "    \
	  "each a whole number >= 0 or null")

enum na_error {
#define NA_X_ENUM(name, code, status, hint) NA_E_##name,
	NA_ERRORS(NA_X_ENUM)
#undef NA_X_ENUM
	NA_E__COUNT
};

/* Static, never NULL (an out-of-range value gives the shared "internal"). */
const struct claw_error_def *na_error_def(enum na_error e);

#endif
