/* fuzz_gw_connect.c - the egress proxy's CONNECT request parser and the
 * allow-list match on what it returns. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[256];
	unsigned port = 0;
	if (gw_proxy_parse_connect((const char *)data, size, host, sizeof(host),
				   &port) == CLAW_OK) {
		json_t *allow = json_pack("[s, s]", "a.example:443",
					  "*.example.com:443");
		gw_egress_allowed(allow, host, port);
		json_decref(allow);
	}
	return 0;
}
