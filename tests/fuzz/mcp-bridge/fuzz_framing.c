/*
 * fuzz_framing.c - libFuzzer harness of the bridge's JSON-RPC line framing
 * (tools/mcp-bridge/framing.c): arbitrary child output, fed in chunks whose
 * sizes come from the input, must never overrun the ceiling or leak; each
 * message handed out is a JSON object.
 */
#include <stdint.h>
#include <stdlib.h>

#include "framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_msg(json_t *m, void *cls)
{
	(void)cls;
	if (!json_is_object(m))
		abort();
	json_decref(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_framer f;
	/* a small ceiling so over-long lines are reached */
	mb_framer_init(&f, 64 + (size ? data[0] : 0));
	size_t off = size ? 1 : 0;
	while (off < size) {
		size_t n = 1 + data[off] % 37;
		if (n > size - off)
			n = size - off;
		if (mb_framer_feed(&f, (const char *)data + off, n, on_msg,
				   NULL))
			abort();
		if (f.len > f.max || f.cap > f.max)
			abort();
		off += n;
	}
	mb_framer_release(&f);
	return 0;
}
