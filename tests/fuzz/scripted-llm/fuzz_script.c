/*
 * fuzz_script.c - any request body through the scripted LLM's decision.
 */
#include <stdint.h>
#include <stdlib.h>

#include "script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *req = json_loadb((const char *)data, size, 0, NULL);
	if (!req)
		return 0;
	struct sllm_turn t;
	char err[256];
	if (sllm_decide(req, &t, err, sizeof(err)) == 0) {
		if (!t.content && !t.tool_name)
			abort();
		sllm_turn_release(&t);
	}
	json_decref(req);
	return 0;
}
