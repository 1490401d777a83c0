/*
 * stream.c - server-sent event streams of the API (GET /v1/events,
 * GET /v1/tenants/{t}/logs): one long request whose body is fed to the
 * claw_sse parser, each event handed to the caller as it arrives. A reply
 * that is not 2xx is an API error: its body (kept up to a ceiling beside
 * the parser, which finds no event in it) is printed as one.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "claw/httpc.h"
#include "claw/sse.h"

#define ERR_BODY_MAX (64u << 10)

struct stream {
	struct cli_ctx *ctx;
	struct claw_sse_parser sse;
	struct claw_buf head; /* the first bytes, for an error reply */
	cli_event_fn fn;
	void *cls;
	int ex; /* the callback's verdict once it stopped the stream */
	bool stopped;
};

static enum claw_rc on_event(const struct claw_sse_event *ev, void *cls)
{
	struct stream *s = cls;
	int r = s->fn(s->ctx, ev->event, ev->data, s->cls);

	if (r == CLI_STREAM_GO_ON)
		return CLAW_OK;
	s->ex = r;
	s->stopped = true;
	return CLAW_ERR_INVALID;
}

static int on_data(const char *data, size_t len, void *cls)
{
	struct stream *s = cls;
	size_t room = ERR_BODY_MAX - s->head.len;

	if (room)
		claw_buf_append(&s->head, data, len < room ? len : room);
	return claw_sse_feed(&s->sse, data, len) ? 1 : 0;
}

int cli_stream(struct cli_ctx *ctx, const char *path, cli_event_fn fn,
	       void *cls)
{
	return cli_stream_post(ctx, path, NULL, fn, cls);
}

int cli_stream_post(struct cli_ctx *ctx, const char *path, const char *body,
		    cli_event_fn fn, void *cls)
{
	struct stream s = {.ctx = ctx, .fn = fn, .cls = cls};
	struct claw_httpc_req req = {.method = body ? "POST" : "GET"};
	struct claw_httpc_resp resp;
	struct claw_buf url, store;
	const char *hdrs[8];
	enum claw_rc rc;
	int ex;

	ex = cli_config_resolve(ctx);
	if (ex)
		return ex;
	claw_buf_init(&url, 0);
	claw_buf_init(&store, 0);
	claw_buf_init(&s.head, 0);
	claw_sse_init(&s.sse, 0, on_event, &s);
	if (cli_api_headers(ctx, "text/event-stream",
			    body ? "application/json" : NULL, NULL, &store,
			    hdrs, sizeof(hdrs) / sizeof(hdrs[0]))) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
		goto out;
	}
	req.headers = hdrs;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.on_data = on_data;
	req.cls = &s;
	/* another replica only while nothing of the stream came */
	for (size_t tried = 0;; tried++) {
		size_t at = cli_replica(ctx);

		claw_buf_reset(&url);
		if (claw_buf_printf(&url, "%s%s", ctx->url, path)) {
			fprintf(ctx->err, "error: out of memory\n");
			ex = CLI_ELOCAL;
			goto out;
		}
		req.url = url.data;
		rc = claw_httpc_do(&req, &resp);
		if (s.stopped || (resp.status < 300 && s.head.len) ||
		    !cli_replica_next(ctx, at, tried, rc, resp.status))
			break;
		claw_httpc_resp_release(&resp);
		claw_buf_reset(&s.head); /* a 502/503/504's body */
		claw_sse_release(&s.sse);
		claw_sse_init(&s.sse, 0, on_event, &s);
	}
	if (s.stopped) {
		ex = s.ex;
	} else if (resp.status && cli_exit_for_status(resp.status)) {
		ex = cli_exit_for_status(resp.status);
		cli_print_api_error(ctx->err, resp.status, s.head.data,
				    s.head.len);
	} else if (rc) {
		fprintf(ctx->err,
			"error: the stream from %s broke: %s; "
			"check that it is running and retry\n",
			ctx->url,
			resp.error[0] ? resp.error : claw_strerror(rc));
		ex = CLI_ECONNECT;
	} else {
		ex = CLI_OK; /* the server ended the stream */
	}
	claw_httpc_resp_release(&resp);
out:
	claw_sse_release(&s.sse);
	claw_buf_release(&s.head);
	claw_buf_release(&url);
	claw_buf_release(&store);
	return ex;
}

void cli_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}
