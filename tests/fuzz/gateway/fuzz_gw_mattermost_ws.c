/* fuzz_gw_mattermost_ws.c - one Mattermost WebSocket event (a "posted"
 * event carries its post as a JSON text inside the JSON) on arbitrary
 * bytes, with and without the bot's user id: every envelope must pass
 * gw_env_check and split to Mattermost's size. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.bot_username = "claw"};
	for (int pass = 0; pass < 2; pass++) {
		json_t *env = NULL;
		enum claw_rc rc = gw_mattermost_ws_parse(
			&cc, pass ? "bot0000000000000000000000a" : NULL,
			(const char *)data, size, &env);
		fuzz_gw_env_done(rc, &env);
	}
	return 0;
}
