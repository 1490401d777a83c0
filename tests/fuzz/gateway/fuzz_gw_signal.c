/* fuzz_gw_signal.c - signal-cli's receive events (the HTTP daemon's
 * event data, or the JSON-RPC notification) on arbitrary bytes: every
 * envelope must pass gw_env_check and split to Signal's size. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.account_sid = "+15550001000"};
	json_t *env = NULL;
	fuzz_gw_env_done(gw_signal_parse(&cc, (const char *)data, size, &env),
			 &env);
	return 0;
}
