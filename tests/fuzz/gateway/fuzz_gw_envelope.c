/* fuzz_gw_envelope.c - an envelope as read back from the journal: the
 * check, the body sent to the runtime and the reply splitter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *env = json_loadb((const char *)data, size, 0, NULL);
	if (env && gw_env_check(env) == CLAW_OK) {
		char *body = gw_env_runtime_body_new(env);
		free(body);
		json_decref(gw_split_text(gw_env_str(env, "text"), 7));
		(void)gw_env_channel(env);
	}
	json_decref(env);
	return 0;
}
