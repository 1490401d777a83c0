/*
 * errors.c - the runtime's error table, built from RT_ERRORS (errors.h).
 *
 * The table has one spare row after the list, so it stays a valid C array
 * (ISO C has no zero-length arrays) while RT_ERRORS is empty; lookups only
 * see the first RT_E__COUNT rows.
 */
#include "errors.h"

#include <stddef.h>

static const struct claw_error_def defs[RT_E__COUNT + 1] = {
	RT_ERRORS(CLAW_ERROR_DEF_ROW){NULL, 0, NULL}};

const struct claw_error_def *rt_error_def(enum rt_error e)
{
	return claw_error_lookup(defs, RT_E__COUNT, (unsigned)e);
}
