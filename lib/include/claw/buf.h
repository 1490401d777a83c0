/*
 * buf.h - a growable byte buffer with a ceiling.
 *
 * Every buffer fed from the network has a maximum size: an append past it
 * fails with CLAW_ERR_TOO_LARGE and leaves the buffer as it was. The data is
 * always NUL-terminated (the NUL is not counted in len).
 */
#ifndef CLAW_BUF_H
#define CLAW_BUF_H

#include <stddef.h>
#include "claw/err.h"

struct claw_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* ceiling on len; 0 means SIZE_MAX */
};

void claw_buf_init(struct claw_buf *b, size_t max);
enum claw_rc claw_buf_append(struct claw_buf *b, const void *p, size_t n);
enum claw_rc claw_buf_puts(struct claw_buf *b, const char *s);
enum claw_rc claw_buf_printf(struct claw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void claw_buf_consume(struct claw_buf *b, size_t n);
/* Move up to max bytes from the front of b into out (a stream's next
 * piece); returns how many. */
size_t claw_buf_take(struct claw_buf *b, char *out, size_t max);
void claw_buf_reset(struct claw_buf *b); /* len = 0, memory kept */
/* Caller owns the returned string (free()); the buffer is left empty.
 * Returns an empty allocated string when nothing was appended. */
char *claw_buf_steal(struct claw_buf *b);
void claw_buf_release(struct claw_buf *b);

#endif
