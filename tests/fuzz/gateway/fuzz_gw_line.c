/* fuzz_gw_line.c - the LINE webhook parser and X-Line-Signature check on
 * arbitrary bytes: every envelope it makes must pass gw_env_check and
 * split to LINE's limit. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	json_t *envs = NULL;
	fuzz_gw_envs_done(gw_line_parse(&cc, (const char *)data, size, &envs),
			  &envs);
	gw_line_verify("secret", "AAAA", (const char *)data, size);
	return 0;
}
