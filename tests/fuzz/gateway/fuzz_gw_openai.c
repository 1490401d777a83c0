/* fuzz_gw_openai.c - the OpenAI-compatible request bodies (Chat
 * Completions and the Responses API) on arbitrary bytes: an envelope
 * must pass gw_env_check; a refusal names a field or none. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *param = NULL;
	json_t *env = gw_openai_chat_parse((const char *)data, size, &param);
	if (env && gw_env_check(env))
		__builtin_trap();
	json_decref(env);
	env = gw_openai_responses_parse((const char *)data, size, &param);
	if (env && gw_env_check(env))
		__builtin_trap();
	json_decref(env);
	return 0;
}
