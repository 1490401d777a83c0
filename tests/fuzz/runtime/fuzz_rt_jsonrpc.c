/*
 * fuzz_rt_jsonrpc.c - libFuzzer harness of the MCP message parser: any
 * bytes go through rt_jsonrpc_parse and, when they are JSON, through the
 * tool-result mapping, which must never crash or leak; a refusal is
 * CLAW_ERR_PARSE or CLAW_ERR_PROTO with a reason.
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
	char why[200] = "";
	enum claw_rc rc = rt_jsonrpc_parse((const char *)data, size, &m, why,
					   sizeof(why));
	if (rc == CLAW_OK) {
		bool is_error;
		json_t *r = m.result ? m.result : m.params;
		char *text = rt_mcp_result_text(r, 64, &is_error);
		free(text);
		rt_jsonrpc_release(&m);
	} else if ((rc != CLAW_ERR_PARSE && rc != CLAW_ERR_PROTO) || !why[0]) {
		abort(); /* not a documented code, or no reason */
	}
	return 0;
}
