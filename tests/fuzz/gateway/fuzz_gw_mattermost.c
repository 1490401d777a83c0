/* fuzz_gw_mattermost.c - the Mattermost outgoing webhook body, read both
 * as a form and as JSON, its token check and its parser on arbitrary
 * bytes; an envelope must pass gw_env_check. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ctypes[] = {
		"application/x-www-form-urlencoded", "application/json"};
	struct gw_chan_conf cc = {.bot_username = "claw"};
	for (size_t k = 0; k < 2; k++) {
		json_t *fields = NULL, *env = NULL;
		if (gw_mattermost_fields(ctypes[k], (const char *)data, size,
					 &fields) != CLAW_OK)
			continue;
		gw_mattermost_verify("5xy8y8wpkbb9mphgd1zbuzgaxo", fields);
		if (gw_mattermost_parse(&cc, fields, &env) == CLAW_OK && env &&
		    gw_env_check(env))
			__builtin_trap();
		json_decref(env);
		json_decref(fields);
	}
	return 0;
}
