/* fuzz_gw_discord.c - the Discord interaction parser, the Gateway's
 * MESSAGE_CREATE parser and the Ed25519 check on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.application_id = "1"};
	json_t *env = NULL;
	int type = 0;
	char sig[129];
	if (gw_discord_parse(&cc, (const char *)data, size, &type, &env) ==
		    CLAW_OK &&
	    env && gw_env_check(env) != CLAW_OK)
		__builtin_trap();
	json_decref(env);
	env = NULL;
	json_t *d = json_loadb((const char *)data, size, 0, NULL);
	if (gw_discord_message_parse(&cc, "999", d, &env) == CLAW_OK && env &&
	    gw_env_check(env) != CLAW_OK)
		__builtin_trap();
	json_decref(d);
	memset(sig, 'a', 128);
	sig[128] = '\0';
	gw_discord_verify("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af0"
			  "21a68f707511a",
			  sig, "1700000000", (const char *)data, size);
	json_decref(env);
	return 0;
}
