/*
 * errors.c - the gateway's error table, built from GW_ERRORS (errors.h),
 * and the one reply helper every gateway endpoint sends its errors with.
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

#include "claw/httpd.h"

static const struct claw_error_def defs[GW_E__COUNT] = {
	GW_ERRORS(CLAW_ERROR_DEF_ROW)};

const struct claw_error_def *gw_error_def(enum gw_error e)
{
	return claw_error_lookup(defs, GW_E__COUNT, (unsigned)e);
}

void gw_reply_error(struct claw_http_req *r, enum gw_error e, const char *fmt,
		    ...)
{
	char msg[512];
	va_list ap;
	if (!fmt) {
		claw_http_reply_def(r, gw_error_def(e), NULL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	claw_http_reply_def(r, gw_error_def(e), "%s", msg);
}
