/*
 * errors.h - the runtime's own error codes (its message API), in the
 * X-macro shape of claw/err.h: X(NAME, "code", HTTP status, "hint").
 *
 * The enum and the table (errors.c) both come from RT_ERRORS, so a code
 * has exactly one status. Shared codes are never listed here: they are
 * sent with claw_http_reply_std (invalid_field for a bad message,
 * internal when a turn could not run, unavailable when the data directory
 * is not writable or no worker thread can be started, not_found for an
 * unknown approval). A code that only the runtime uses is listed here,
 * with its status and a one-sentence hint, and sent with
 * claw_http_reply_def(req, rt_error_def(RT_E_X), ...): the approvals API
 * (docs/contracts.md) answers 409 for a request decided before or
 * expired.
 */
#ifndef RT_ERRORS_H
#define RT_ERRORS_H

#include "claw/err.h"

#define RT_ERRORS(X)                                                           \
	X(APPROVAL_DECIDED, "approval_decided", 409,                           \
	  "the approval request was decided before; a decision is applied "    \
	  "once")                                                              \
	X(APPROVAL_EXPIRED, "approval_expired", 409,                           \
	  "the approval request expired without a decision; the model was "    \
	  "told the call did not run")

enum rt_error {
#define RT_X_ENUM(name, code, status, hint) RT_E_##name,
	RT_ERRORS(RT_X_ENUM)
#undef RT_X_ENUM
	RT_E__COUNT
};

/* Static, never NULL (an out-of-range value gives the shared "internal"). */
const struct claw_error_def *rt_error_def(enum rt_error e);

#endif
