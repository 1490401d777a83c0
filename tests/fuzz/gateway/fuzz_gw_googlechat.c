/* fuzz_gw_googlechat.c - the Google Chat interaction event parser on
 * arbitrary bytes: every envelope must pass gw_env_check and split to
 * Chat's size; and the service-account key reader (a fuzzed "key" must
 * never yield an assertion). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	struct gw_conf conf = {0};
	json_t *env = NULL;
	if (gw_googlechat_parse(&cc, (const char *)data, size, &env) ==
		    CLAW_OK &&
	    env) {
		if (gw_env_check(env))
			__builtin_trap();
		json_decref(
			gw_channel_split(&conf, env, gw_env_str(env, "text")));
	}
	json_decref(env);
	char *s = malloc(size + 1), *a = NULL;
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (gw_googlechat_assertion(s, "scope", "https://t", 1, &a) ==
		    CLAW_OK &&
	    !strstr(s, "PRIVATE KEY"))
		__builtin_trap();
	free(a);
	free(s);
	return 0;
}
