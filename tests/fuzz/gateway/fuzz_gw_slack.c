/* fuzz_gw_slack.c - the Slack Events API parser and the signature check
 * on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.bot_user_id = "UBOT"};
	json_t *env = NULL, *root = NULL;
	const char *challenge = NULL;
	if (gw_slack_parse(&cc, (const char *)data, size, &env, &challenge,
			   &root) == CLAW_OK &&
	    env && gw_env_check(env) != CLAW_OK)
		__builtin_trap();
	gw_slack_verify("secret", "1700000000", "v0=00", (const char *)data,
			size, 1700000000);
	json_decref(env);
	json_decref(root);
	return 0;
}
