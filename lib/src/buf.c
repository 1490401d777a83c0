/*
 * buf.c - growable buffer with a ceiling; see buf.h.
 */
#include "claw/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void claw_buf_init(struct claw_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX - 1;
}

static enum claw_rc buf_reserve(struct claw_buf *b, size_t extra)
{
	if (extra > b->max - b->len)
		return CLAW_ERR_TOO_LARGE;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return CLAW_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return CLAW_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return CLAW_OK;
}

enum claw_rc claw_buf_append(struct claw_buf *b, const void *p, size_t n)
{
	enum claw_rc rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return CLAW_OK;
}

enum claw_rc claw_buf_puts(struct claw_buf *b, const char *s)
{
	return claw_buf_append(b, s, strlen(s));
}

enum claw_rc claw_buf_printf(struct claw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CLAW_ERR_INVALID;
	enum claw_rc rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CLAW_OK;
}

void claw_buf_consume(struct claw_buf *b, size_t n)
{
	if (n >= b->len) {
		claw_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

size_t claw_buf_take(struct claw_buf *b, char *out, size_t max)
{
	size_t n = b->len < max ? b->len : max;

	if (n)
		memcpy(out, b->data, n);
	claw_buf_consume(b, n);
	return n;
}

void claw_buf_reset(struct claw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *claw_buf_steal(struct claw_buf *b)
{
	char *p = b->data ? b->data : calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void claw_buf_release(struct claw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
