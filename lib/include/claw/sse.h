/*
 * sse.h - server-sent events (the WHATWG event-stream format): an
 * incremental parser for streams read from the network (LLM providers, MCP
 * Streamable HTTP) and a writer for streams we serve.
 *
 * The parser takes bytes in any chunking (lines end in LF, CR or CRLF, a
 * leading BOM is skipped), accumulates the fields of one event and calls
 * the callback at each blank line that ends an event with data. Comments
 * (":...") are ignored; "id" sets the last event id (kept across events);
 * "retry" with only digits sets the reconnection time. Every buffer has a
 * ceiling: a line or an event over max_event bytes fails the feed with
 * CLAW_ERR_TOO_LARGE.
 */
#ifndef CLAW_SSE_H
#define CLAW_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include "claw/buf.h"
#include "claw/err.h"

struct claw_sse_event {
	const char *event; /* the "event" field, or "message" */
	const char *data;  /* data lines joined by LF (NUL-terminated) */
	size_t data_len;
	const char *id; /* the last event id so far, or "" */
};

/* Called for each complete event; pointers are valid during the call only.
 * Return CLAW_OK to go on; any other code stops the feed and is returned by
 * claw_sse_feed. */
typedef enum claw_rc (*claw_sse_event_fn)(const struct claw_sse_event *ev,
					  void *cls);

struct claw_sse_parser {
	struct claw_buf line, data, event, id;
	long retry_ms; /* -1 until the stream sets it */
	bool cr;       /* the last byte was CR (a following LF is skipped) */
	bool started;  /* past the optional BOM */
	bool has_data;
	claw_sse_event_fn fn;
	void *cls;
};

/* max_event: ceiling for one line and for one event's data (0: 1 MiB). */
void claw_sse_init(struct claw_sse_parser *p, size_t max_event,
		   claw_sse_event_fn fn, void *cls);
enum claw_rc claw_sse_feed(struct claw_sse_parser *p, const char *data,
			   size_t len);
/* The last event id seen ("" when none); borrowed. */
const char *claw_sse_last_id(const struct claw_sse_parser *p);
/* The reconnection time the stream asked for, or -1. */
long claw_sse_retry_ms(const struct claw_sse_parser *p);
void claw_sse_release(struct claw_sse_parser *p);

/* Append one event to out: "event: NAME" (when name is not NULL), one
 * "data: " line per line of data, and the blank line. */
enum claw_rc claw_sse_write(struct claw_buf *out, const char *name,
			    const char *data, size_t len);

#endif
