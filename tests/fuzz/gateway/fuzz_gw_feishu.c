/* fuzz_gw_feishu.c - Feishu's event parser (mentions, posts, files, the
 * URL verification), its decryption (base64, AES-256-CBC, padding) and
 * its signature check on arbitrary bytes: every envelope must pass
 * gw_env_check and split to Feishu's size (JSON escaped twice). */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.app_id = "cli_9f5343c580712544",
				  .bot_user_id = "ou_bot"};
	json_t *env = NULL;
	char *ch = NULL, *plain = NULL;
	size_t n = 0;
	fuzz_gw_env_done(gw_feishu_parse(&cc,
					 "rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn",
					 (const char *)data, size, &ch, &env),
			 &env);
	free(ch);
	gw_feishu_verify("test key", "1700000000", "n0nce", "00",
			 (const char *)data, size);
	char *s = fuzz_gw_cstr(data, size);
	if (!s)
		return 0;
	if (gw_feishu_decrypt("test key", s, &plain, &n) == CLAW_OK) {
		if (strlen(plain) > n)
			__builtin_trap();
		free(plain);
	}
	free(s);
	return 0;
}
