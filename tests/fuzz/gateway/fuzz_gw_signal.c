/* fuzz_gw_signal.c - signal-cli's receive events (the HTTP daemon's
 * event data, or the JSON-RPC notification) on arbitrary bytes: every
 * envelope must pass gw_env_check and split to Signal's size. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.account_sid = "+15550001000"};
	struct gw_conf conf = {0};
	json_t *env = NULL;
	if (gw_signal_parse(&cc, (const char *)data, size, &env) == CLAW_OK &&
	    env) {
		if (gw_env_check(env))
			__builtin_trap();
		json_decref(
			gw_channel_split(&conf, env, gw_env_str(env, "text")));
	}
	json_decref(env);
	return 0;
}
