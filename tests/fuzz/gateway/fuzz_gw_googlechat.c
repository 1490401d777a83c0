/* fuzz_gw_googlechat.c - the Google Chat interaction event parser on
 * arbitrary bytes: every envelope must pass gw_env_check and split to
 * Chat's size; and the service-account key reader (a fuzzed "key" must
 * never yield an assertion). */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	json_t *env = NULL;
	fuzz_gw_env_done(
		gw_googlechat_parse(&cc, (const char *)data, size, &env), &env);
	char *s = fuzz_gw_cstr(data, size), *a = NULL;
	if (!s)
		return 0;
	if (gw_googlechat_assertion(s, "scope", "https://t", 1, &a) ==
		    CLAW_OK &&
	    !strstr(s, "PRIVATE KEY"))
		__builtin_trap();
	free(a);
	free(s);
	return 0;
}
