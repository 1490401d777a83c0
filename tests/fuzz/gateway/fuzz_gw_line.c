/* fuzz_gw_line.c - the LINE webhook parser and X-Line-Signature check on
 * arbitrary bytes: every envelope it makes must pass gw_env_check and
 * split to LINE's limit. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	struct gw_conf conf = {0};
	json_t *envs = NULL, *env;
	size_t i;
	if (gw_line_parse(&cc, (const char *)data, size, &envs) == CLAW_OK)
		json_array_foreach(envs, i, env) {
			if (gw_env_check(env))
				__builtin_trap();
			json_decref(gw_channel_split(&conf, env,
						     gw_env_str(env, "text")));
		}
	gw_line_verify("secret", "AAAA", (const char *)data, size);
	json_decref(envs);
	return 0;
}
