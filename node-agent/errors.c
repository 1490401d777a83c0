/*
 * errors.c - the node agent's error table, built from NA_ERRORS (errors.h).
 */
#include "errors.h"

static const struct claw_error_def defs[NA_E__COUNT] = {
	NA_ERRORS(CLAW_ERROR_DEF_ROW)};

const struct claw_error_def *na_error_def(enum na_error e)
{
	return claw_error_lookup(defs, NA_E__COUNT, (unsigned)e);
}
