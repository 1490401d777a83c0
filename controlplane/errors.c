/*
 * errors.c - the table of the control plane's error codes (see errors.h)
 * and the reply that sends one.
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

#include "claw/httpd.h"

static const struct claw_error_def defs[CP_E__COUNT] = {
	CP_ERRORS(CLAW_ERROR_DEF_ROW)};

const struct claw_error_def *cp_error_def(enum cp_error e)
{
	return claw_error_lookup(defs, CP_E__COUNT, (unsigned)e);
}

void cp_reply_error(struct claw_http_req *req, enum cp_error e, const char *fmt,
		    ...)
{
	char msg[1024];
	va_list ap;

	if (!fmt) {
		claw_http_reply_def(req, cp_error_def(e), NULL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	claw_http_reply_def(req, cp_error_def(e), "%s", msg);
}
