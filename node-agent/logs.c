/*
 * logs.c - following a container's log in windows; see logs.h.
 */
#include "logs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/log.h"

#define NA_FRAME_MAX (256u << 10) /* one log line (Docker splits at 16K) */
#define NA_WINDOW_BATCH_S 0.05    /* lines after this return at once */
#define NA_IDLE_PAUSE_US 250000   /* a stopped container: look again */

struct na_follow {
	struct na_agent *a;
	struct na_docker docker;
	char tenant[48];
	enum na_role role;
	unsigned tail;
	bool first;       /* the first window asks for the tail */
	int64_t since_ns; /* the next window starts here */
	/* one window */
	struct na_mux mux;
	struct claw_buf frame;
	double window_start;
	unsigned lines;
	bool aborted;
	na_follow_fn fn;
	void *cls;
	enum claw_rc cb_rc;
};

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static enum claw_rc deliver(struct na_follow *f, int stream)
{
	const char *s = f->frame.data ? f->frame.data : "";
	size_t len = f->frame.len;
	char stamp[40] = "";
	const char *sp = memchr(s, ' ', len < 40 ? len : 40);
	if (sp) {
		int64_t ns = na_docker_time_ns(s, (size_t)(sp - s));
		if (ns >= 0) {
			/* Past the first window, a line before `since` is a
			 * repeat of the window before. */
			if (!f->first && ns < f->since_ns)
				return CLAW_OK;
			if (ns >= f->since_ns)
				f->since_ns = ns + 1;
			snprintf(stamp, sizeof(stamp), "%.*s", (int)(sp - s),
				 s);
			len -= (size_t)(sp + 1 - s);
			s = sp + 1;
		}
	}
	if (len && s[len - 1] == '\n')
		len--;
	f->lines++;
	return f->fn(stream, stamp, s, len, f->cls);
}

static enum claw_rc on_frame(int stream, const char *data, size_t len,
			     void *cls)
{
	struct na_follow *f = cls;
	bool last = f->mux.left == len; /* the frame's last piece */
	/* Over the ceiling: the rest of the line is dropped. */
	claw_buf_append(&f->frame, data, len);
	if (!last)
		return CLAW_OK;
	enum claw_rc rc = deliver(f, stream);
	f->frame.len = 0;
	return rc;
}

static int on_data(const char *data, size_t len, void *cls)
{
	struct na_follow *f = cls;
	enum claw_rc rc = na_mux_feed(&f->mux, data, len);
	if (rc) {
		f->cb_rc = rc;
		return 1;
	}
	/* Lines in hand and the first burst over: return them now (the
	 * next window resumes after the last one). */
	if (f->lines && na_now() - f->window_start >= NA_WINDOW_BATCH_S) {
		f->aborted = true;
		return 1;
	}
	return 0;
}

/* The current container of the role, from the published state. */
static enum claw_rc current_id(struct na_follow *f, char *id, size_t idlen)
{
	json_t *snap = na_agent_snapshot(f->a), *t;
	size_t i;
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;
	id[0] = 0;
	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		if (strcmp(json_string_value(json_object_get(t, "tenant")),
			   f->tenant))
			continue;
		const char *s = json_string_value(json_object_get(
			json_object_get(json_object_get(t, "roles"),
					na_role_name(f->role)),
			"container"));
		snprintf(id, idlen, "%s", s ? s : "");
		rc = CLAW_OK;
	}
	json_decref(snap);
	return rc;
}

enum claw_rc na_follow_open(struct na_agent *a, const char *tenant,
			    enum na_role r, unsigned tail,
			    struct na_follow **out)
{
	struct na_docker_err err;
	char id[72];
	struct na_follow *f = calloc(1, sizeof(*f));
	*out = NULL;
	if (!f)
		return CLAW_ERR_NOMEM;
	f->a = a;
	snprintf(f->tenant, sizeof(f->tenant), "%s", tenant);
	f->role = r;
	f->tail = tail;
	f->first = true;
	claw_buf_init(&f->frame, NA_FRAME_MAX);
	enum claw_rc rc = current_id(f, id, sizeof(id));
	if (rc == CLAW_OK && !id[0])
		rc = CLAW_ERR_NOT_FOUND;
	if (rc == CLAW_OK &&
	    na_docker_connect(&f->docker, a->cfg.docker_socket, &err))
		rc = CLAW_ERR_IO;
	if (rc) {
		na_follow_free(f);
		return rc;
	}
	*out = f;
	return CLAW_OK;
}

enum claw_rc na_follow_next(struct na_follow *f, long wait_ms, na_follow_fn fn,
			    void *cls)
{
	struct na_docker_err err;
	char id[72], path[300];
	long status = 0;
	enum claw_rc rc = current_id(f, id, sizeof(id));
	if (rc)
		return rc;
	if (!id[0]) { /* being created */
		usleep(NA_IDLE_PAUSE_US);
		return CLAW_OK;
	}
	if (f->first)
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?stdout=1&stderr=1&follow=1&"
			 "timestamps=1&tail=%u",
			 id, f->tail);
	else
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?stdout=1&stderr=1&follow=1&"
			 "timestamps=1&since=%" PRId64 ".%09" PRId64,
			 id, f->since_ns / 1000000000,
			 f->since_ns % 1000000000);
	if (f->first) /* lines from now on come in the next windows */
		f->since_ns = realtime_ns();
	na_mux_init(&f->mux, on_frame, f);
	f->frame.len = 0;
	f->lines = 0;
	f->aborted = false;
	f->fn = fn;
	f->cls = cls;
	f->cb_rc = CLAW_OK;
	f->window_start = na_now();
	rc = na_docker_stream(&f->docker, "GET", path, NULL, wait_ms, on_data,
			      f, &status, &err);
	if (f->cb_rc && f->cb_rc != CLAW_ERR_PROTO)
		return f->cb_rc; /* fn stopped it */
	if (status == 200)
		f->first = false;
	/* An error answer (the container just went) is JSON, not frames. */
	if (f->cb_rc == CLAW_ERR_PROTO && status == 200)
		log_warn("the log stream of tenant '%s' %s is not Docker's "
			 "framing",
			 f->tenant, na_role_name(f->role));
	/* A window that ended by itself without a line: the container has
	 * stopped (or is gone, or the engine is away); look again a little
	 * later rather than at once. */
	if (!f->aborted && f->lines == 0 && rc != CLAW_ERR_TIMEOUT)
		usleep(NA_IDLE_PAUSE_US);
	return CLAW_OK;
}

void na_follow_free(struct na_follow *f)
{
	if (!f)
		return;
	claw_buf_release(&f->frame);
	free(f);
}

enum claw_rc na_utf8_sanitize(const char *text, size_t len,
			      struct claw_buf *out)
{
	const unsigned char *s = (const unsigned char *)text;
	enum claw_rc rc = CLAW_OK;
	size_t i = 0;
	while (i < len && rc == CLAW_OK) {
		unsigned c = s[i], need, min;
		if (c < 0x80) {
			/* NUL would end a C string: it is replaced too. */
			rc = c ? claw_buf_append(out, text + i, 1)
			       : claw_buf_append(out, "\xEF\xBF\xBD", 3);
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			need = 1;
			min = 0x80;
		} else if (c >= 0xE0 && c <= 0xEF) {
			need = 2;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			need = 3;
			min = 0x10000;
		} else {
			need = 0;
			min = 0;
		}
		unsigned cp = need ? c & (0x3F >> need) : 0;
		size_t k = 1;
		for (; need && k <= need && i + k < len &&
		     (s[i + k] & 0xC0) == 0x80;
		     k++)
			cp = cp << 6 | (s[i + k] & 0x3F);
		if (need && k == need + 1 && cp >= min && cp <= 0x10FFFF &&
		    (cp < 0xD800 || cp > 0xDFFF)) {
			rc = claw_buf_append(out, text + i, k);
			i += k;
		} else {
			rc = claw_buf_append(out, "\xEF\xBF\xBD", 3);
			i += k > 1 ? k - 1 : 1;
		}
	}
	return rc;
}
