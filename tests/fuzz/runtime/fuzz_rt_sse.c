/*
 * fuzz_rt_sse.c - libFuzzer harness of the SSE parser (lib/src/sse.c):
 * the first byte picks a chunk size so splits land everywhere (CR/LF
 * pairs, the BOM); the parser's ceilings must hold.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "claw/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum claw_rc count(const struct claw_sse_event *ev, void *cls)
{
	size_t *n = cls;
	*n += ev->data_len + strlen(ev->event) + strlen(ev->id);
	return ev->data_len == 3 && memcmp(ev->data, "end", 3) == 0
		? CLAW_ERR_INVALID
		: CLAW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claw_sse_parser p;
	size_t n = 0;
	if (size == 0)
		return 0;
	size_t chunk = (size_t)(data[0] % 16) + 1;
	claw_sse_init(&p, 256, count, &n);
	for (size_t off = 1; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;
		if (claw_sse_feed(&p, (const char *)data + off, len))
			break;
	}
	claw_sse_release(&p);
	return 0;
}
