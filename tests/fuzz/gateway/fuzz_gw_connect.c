/* fuzz_gw_connect.c - the egress proxy's CONNECT request parser and the
 * allow-list match on what it returns (names, addresses, networks), and
 * the allow-list entry parser on the raw input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[256];
	unsigned port = 0;
	char *entry = malloc(size + 1);
	if (entry) {
		memcpy(entry, data, size);
		entry[size] = '\0';
		json_t *one = json_pack("[s]", entry);
		if (gw_egress_entry_valid(entry) && one)
			gw_egress_allowed(one, "10.1.2.3", 443);
		json_decref(one);
		free(entry);
	}
	if (gw_proxy_parse_connect((const char *)data, size, host, sizeof(host),
				   &port) == CLAW_OK) {
		json_t *allow = json_pack("[s, s, s, s, s]", "a.example:443",
					  "*.example.com:443", "10.0.0.0/8:443",
					  "[fd00::/16]:443", "127.0.0.1:80");
		gw_egress_allowed(allow, host, port);
		json_decref(allow);
	}
	return 0;
}
