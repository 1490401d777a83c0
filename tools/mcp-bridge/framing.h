/*
 * framing.h - the bridge's JSON-RPC line framing of a child's stdout: bytes
 * in, one complete line at a time out. A line longer than the ceiling is
 * dropped whole (counted), never buffered without bound; a line that is not
 * a JSON object is dropped and counted too (MCP's stdio transport says
 * stdout carries only JSON-RPC messages, one per line).
 */
#ifndef MB_FRAMING_H
#define MB_FRAMING_H

#include <jansson.h>
#include <stddef.h>

struct mb_framer {
	char *buf;       /* the line so far */
	size_t len, cap; /* cap grows up to max */
	size_t max;      /* the ceiling of one line */
	int skipping;    /* inside an over-long line: drop to its end */
	unsigned long long too_long, not_json, lines;
};

void mb_framer_init(struct mb_framer *f, size_t max);
void mb_framer_release(struct mb_framer *f);
/* Feed n bytes; on_msg is called with each JSON object (owned by the callee
 * afterwards: it must json_decref). Returns 0, or -1 when out of memory. */
int mb_framer_feed(struct mb_framer *f, const char *data, size_t n,
		   void (*on_msg)(json_t *msg, void *cls), void *cls);

#endif
