/* fuzz_gw_whatsapp.c - the WhatsApp Cloud API notification parser and
 * X-Hub-Signature-256 check on arbitrary bytes: every envelope it makes
 * must pass gw_env_check and split to WhatsApp's size. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	json_t *envs = NULL;
	fuzz_gw_envs_done(
		gw_whatsapp_parse(&cc, (const char *)data, size, &envs), &envs);
	gw_hub_verify("secret", "sha256=00", (const char *)data, size);
	return 0;
}
