/*
 * fuzz_rt_jsonrpc.c - libFuzzer harness of the MCP message parser: any
 * bytes go through rt_jsonrpc_parse and, when they are JSON, through the
 * tool-result mapping, which must never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jsonrpc.h"
#include "mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_jsonrpc_msg m;
	char why[200];
	if (rt_jsonrpc_parse((const char *)data, size, &m, why, sizeof(why))
	    == 0) {
		bool is_error;
		json_t *r = m.result ? m.result : m.params;
		char *text = rt_mcp_result_text(r, 64, &is_error);
		free(text);
		rt_jsonrpc_release(&m);
	}
	return 0;
}
