/* fuzz_gw_config.c - the gateway's JSON config validation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_conf c;
	char err[400];
	memset(&c, 0, sizeof(c));
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	if (root)
		gw_conf_check(root, &c, err, sizeof(err));
	json_decref(root);
	return 0;
}
