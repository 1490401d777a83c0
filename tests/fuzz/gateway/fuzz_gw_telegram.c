/* fuzz_gw_telegram.c - the Telegram Update parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char token[] = "123:abc";
	struct gw_chan_conf cc = {.bot_username = "claw_bot",
				  .s1 = {.val = token, .len = 7}};
	json_t *env = NULL;
	if (gw_telegram_parse(&cc, (const char *)data, size, &env) == CLAW_OK &&
	    env && gw_env_check(env) != CLAW_OK)
		__builtin_trap(); /* a parsed envelope must be valid */
	json_decref(env);
	return 0;
}
