/* fuzz_gw_whatsapp.c - the WhatsApp Cloud API notification parser and
 * X-Hub-Signature-256 check on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	json_t *envs = NULL, *env;
	size_t i;
	if (gw_whatsapp_parse(&cc, (const char *)data, size, &envs) == CLAW_OK)
		json_array_foreach(envs, i, env)
			if (gw_env_check(env))
				__builtin_trap();
	gw_hub_verify("secret", "sha256=00", (const char *)data, size);
	json_decref(envs);
	return 0;
}
