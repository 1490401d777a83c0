/* fuzz_gw_matrix.c - the Matrix /sync response parser on arbitrary
 * bytes (with and without the member counts of earlier responses):
 * every envelope must pass gw_env_check and split to Matrix's size. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.bot_user_id = "@claw:example.com"};
	json_t *members = json_pack("{s:i}", "!dm:example.com", 2);
	for (int pass = 0; pass < 2; pass++) {
		json_t *out = NULL, *env;
		size_t i;
		if (gw_matrix_parse(&cc, (const char *)data, size,
				    pass ? members : NULL, &out) != CLAW_OK)
			continue;
		json_array_foreach(json_object_get(out, "envelopes"), i, env)
			fuzz_gw_env_ok(env);
		json_decref(out);
	}
	json_decref(members);
	return 0;
}
