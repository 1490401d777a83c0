/*
 * framing.c - see framing.h. The buffer grows by doubling up to the
 * ceiling; past it the rest of the line is skipped without storing it.
 */
#include "framing.h"

#include <stdlib.h>
#include <string.h>

void mb_framer_init(struct mb_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max ? max : 1;
}

void mb_framer_release(struct mb_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

static void finish_line(struct mb_framer *f,
			void (*on_msg)(json_t *msg, void *cls), void *cls)
{
	size_t n = f->len;
	f->len = 0;
	if (n && f->buf[n - 1] == '\r')
		n--;
	if (n == 0)
		return; /* blank lines are ignored */
	f->lines++;
	json_t *j = json_loadb(f->buf, n, JSON_REJECT_DUPLICATES, NULL);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		f->not_json++;
		return;
	}
	on_msg(j, cls);
}

int mb_framer_feed(struct mb_framer *f, const char *data, size_t n,
		   void (*on_msg)(json_t *msg, void *cls), void *cls)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		if (f->skipping) {
			/* the rest of an over-long line */
		} else if (f->len + take > f->max) {
			f->skipping = 1;
			f->len = 0;
			f->too_long++;
		} else {
			if (f->len + take > f->cap) {
				size_t c = f->cap ? f->cap : 4096;
				while (c < f->len + take)
					c *= 2;
				if (c > f->max)
					c = f->max;
				char *nb = realloc(f->buf, c);
				if (!nb)
					return -1;
				f->buf = nb;
				f->cap = c;
			}
			if (take)
				memcpy(f->buf + f->len, data, take);
			f->len += take;
		}
		if (!nl)
			break;
		if (f->skipping)
			f->skipping = 0;
		else
			finish_line(f, on_msg, cls);
		data = nl + 1;
		n -= take + 1;
	}
	return 0;
}
