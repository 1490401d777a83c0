/*
 * sse.c - incremental server-sent events parser and writer; see sse.h.
 *
 * Bytes are gathered into the current line; each complete line is handed to
 * sse_line, which either dispatches the pending event (blank line) or adds
 * one field to it.
 */
#include "claw/sse.h"

#include <string.h>

#define SSE_DEFAULT_MAX (1024 * 1024)

void claw_sse_init(struct claw_sse_parser *p, size_t max_event,
		   claw_sse_event_fn fn, void *cls)
{
	size_t max = max_event ? max_event : SSE_DEFAULT_MAX;
	memset(p, 0, sizeof(*p));
	claw_buf_init(&p->line, max);
	claw_buf_init(&p->data, max);
	claw_buf_init(&p->event, 256);
	claw_buf_init(&p->id, 1024);
	p->retry_ms = -1;
	p->fn = fn;
	p->cls = cls;
}

static enum claw_rc sse_dispatch(struct claw_sse_parser *p)
{
	enum claw_rc rc = CLAW_OK;
	if (p->has_data) {
		struct claw_sse_event ev = {
			.event = p->event.len ? p->event.data : "message",
			.data = p->data.data ? p->data.data : "",
			.data_len = p->data.len,
			.id = p->id.data ? p->id.data : "",
		};
		rc = p->fn(&ev, p->cls);
	}
	claw_buf_reset(&p->data);
	claw_buf_reset(&p->event);
	p->has_data = false;
	return rc;
}

static enum claw_rc sse_field(struct claw_sse_parser *p, const char *name,
			      size_t nlen, const char *val, size_t vlen)
{
	enum claw_rc rc = CLAW_OK;
	if (nlen == 4 && memcmp(name, "data", 4) == 0) {
		if (p->has_data)
			rc = claw_buf_append(&p->data, "\n", 1);
		if (!rc)
			rc = claw_buf_append(&p->data, val, vlen);
		p->has_data = true;
	} else if (nlen == 5 && memcmp(name, "event", 5) == 0) {
		claw_buf_reset(&p->event);
		rc = claw_buf_append(&p->event, val, vlen);
	} else if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		if (!memchr(val, '\0', vlen)) {
			claw_buf_reset(&p->id);
			rc = claw_buf_append(&p->id, val, vlen);
		}
	} else if (nlen == 5 && memcmp(name, "retry", 5) == 0) {
		long ms = 0;
		size_t i;
		for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9'; i++)
			ms = ms < 100000000 ? ms * 10 + (val[i] - '0') : ms;
		if (vlen > 0 && i == vlen)
			p->retry_ms = ms;
	}
	return rc;
}

static enum claw_rc sse_line(struct claw_sse_parser *p)
{
	const char *s = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	enum claw_rc rc;

	if (n == 0)
		rc = sse_dispatch(p);
	else if (s[0] == ':')
		rc = CLAW_OK;
	else {
		const char *colon = memchr(s, ':', n);
		size_t nlen = colon ? (size_t)(colon - s) : n;
		const char *val = colon ? colon + 1 : s + n;
		size_t vlen = (size_t)(s + n - val);
		if (vlen && *val == ' ') {
			val++;
			vlen--;
		}
		rc = sse_field(p, s, nlen, val, vlen);
	}
	claw_buf_reset(&p->line);
	return rc;
}

enum claw_rc claw_sse_feed(struct claw_sse_parser *p, const char *data,
			   size_t len)
{
	size_t i = 0;
	if (!p->started) {
		static const char bom[] = "\xEF\xBB\xBF";
		size_t have = p->line.len;
		/* The BOM may arrive split; hold bytes while they match. */
		while (i < len && have + i < 3 && data[i] == bom[have + i])
			i++;
		if (have + i < 3 && i == len)
			return claw_buf_append(&p->line, data, len);
		if (have + i == 3) {
			claw_buf_reset(&p->line);
		} else {
			/* Not a BOM: the held bytes are ordinary text. */
			i = 0;
		}
		p->started = true;
	}
	size_t start = i;
	for (; i < len; i++) {
		char c = data[i];
		if (c != '\n' && c != '\r') {
			p->cr = false;
			continue;
		}
		if (c == '\n' && p->cr && i == start) {
			/* LF of a CRLF split across feeds. */
			p->cr = false;
			start = i + 1;
			continue;
		}
		enum claw_rc rc =
			claw_buf_append(&p->line, data + start, i - start);
		if (!rc)
			rc = sse_line(p);
		if (rc)
			return rc;
		if (c == '\r' && i + 1 < len && data[i + 1] == '\n')
			i++;
		p->cr = c == '\r' && i + 1 == len;
		start = i + 1;
	}
	return claw_buf_append(&p->line, data + start, len - start);
}

const char *claw_sse_last_id(const struct claw_sse_parser *p)
{
	return p->id.data ? p->id.data : "";
}

long claw_sse_retry_ms(const struct claw_sse_parser *p)
{
	return p->retry_ms;
}

void claw_sse_release(struct claw_sse_parser *p)
{
	claw_buf_release(&p->line);
	claw_buf_release(&p->data);
	claw_buf_release(&p->event);
	claw_buf_release(&p->id);
}

enum claw_rc claw_sse_write(struct claw_buf *out, const char *name,
			    const char *data, size_t len)
{
	enum claw_rc rc = CLAW_OK;
	if (name)
		rc = claw_buf_printf(out, "event: %s\n", name);
	size_t i = 0;
	for (;;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		if (!rc)
			rc = claw_buf_puts(out, "data: ");
		if (!rc)
			rc = claw_buf_append(out, data + i, end - i);
		if (!rc)
			rc = claw_buf_puts(out, "\n");
		if (!nl || rc)
			break;
		i = end + 1;
	}
	if (!rc)
		rc = claw_buf_puts(out, "\n");
	return rc;
}
