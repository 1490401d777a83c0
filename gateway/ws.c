/*
 * ws.c - one WebSocket client connection over libwebsockets, for the
 * channels that push over a socket (Slack Socket Mode, the Discord
 * Gateway). gw_ws_run connects to a ws:// or wss:// URL and services the
 * connection in the calling thread until it closes or the gateway stops;
 * the handler's callbacks run in that thread too, so they may send (the
 * text is queued and written when the socket is writable) without locks.
 * Whole messages are reassembled from fragments, up to a ceiling. A tick
 * callback every 100 ms drives heartbeats. The peer's close code and how
 * long the connection was open are reported to the caller, which decides
 * whether and when to reconnect (bg.c's backoff). A detached socket (no
 * connection) lets tests and fuzzers drive a handler: what it sends is
 * queued and can be taken back.
 */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/log.h"
#include "gw.h"

#define WS_MAX_MESSAGE (4u << 20)
#define WS_TICK_US 100000

struct out_msg {
	struct out_msg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE bytes of headroom, then the text */
};

struct gw_ws {
	struct gw *g;
	struct lws_context *ctx;
	struct lws *wsi;
	const struct gw_ws_handler *h;
	void *cls;
	struct claw_buf in;
	struct out_msg *head, *tail;
	bool open, done, closing;
	int close_with; /* the code we close with */
	int close_code; /* the peer's, from its close frame */
	double opened_at, closed_at;
	char error[160];
};

static void log_lws(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		log_warn("websocket: %.*s", (int)n, line);
	else
		log_debug("websocket: %.*s", (int)n, line);
}

void gw_ws_send(struct gw_ws *ws, const char *text)
{
	size_t n = strlen(text);
	struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + n);
	if (!m)
		return;
	m->next = NULL;
	m->len = n;
	memcpy(m->data + LWS_PRE, text, n);
	if (ws->tail)
		ws->tail->next = m;
	else
		ws->head = m;
	ws->tail = m;
	if (ws->wsi)
		lws_callback_on_writable(ws->wsi);
}

void gw_ws_close_code(struct gw_ws *ws, int code)
{
	if (!ws->closing)
		ws->close_with = code;
	ws->closing = true;
	if (ws->wsi)
		lws_callback_on_writable(ws->wsi);
}

void gw_ws_close(struct gw_ws *ws)
{
	gw_ws_close_code(ws, LWS_CLOSE_STATUS_NORMAL);
}

struct gw_ws *gw_ws_detached_new(struct gw *g)
{
	struct gw_ws *ws = calloc(1, sizeof(*ws));
	if (ws) {
		ws->g = g;
		claw_buf_init(&ws->in, WS_MAX_MESSAGE);
	}
	return ws;
}

char *gw_ws_detached_take(struct gw_ws *ws)
{
	struct out_msg *m = ws->head;
	if (!m)
		return NULL;
	ws->head = m->next;
	if (!ws->head)
		ws->tail = NULL;
	char *text = malloc(m->len + 1);
	if (text) {
		memcpy(text, m->data + LWS_PRE, m->len);
		text[m->len] = '\0';
	}
	free(m);
	return text;
}

int gw_ws_close_requested(const struct gw_ws *ws)
{
	return ws->closing ? ws->close_with : 0;
}

static void drop_queue(struct gw_ws *ws)
{
	while (ws->head) {
		struct out_msg *m = ws->head;
		ws->head = m->next;
		free(m);
	}
	ws->tail = NULL;
}

void gw_ws_detached_free(struct gw_ws *ws)
{
	if (!ws)
		return;
	drop_queue(ws);
	claw_buf_release(&ws->in);
	free(ws);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	(void)user;
	struct gw_ws *ws = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws->open = true;
		ws->opened_at = gw_now();
		gw_bg_connected();
		lws_set_timer_usecs(wsi, WS_TICK_US);
		if (ws->h->on_open)
			ws->h->on_open(ws, ws->cls);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (claw_buf_append(&ws->in, in, len)) {
			snprintf(ws->error, sizeof(ws->error),
				 "a message is over %u bytes", WS_MAX_MESSAGE);
			return -1;
		}
		if (lws_is_final_fragment(wsi) &&
		    !lws_remaining_packet_payload(wsi)) {
			ws->h->on_text(ws, ws->in.data ? ws->in.data : "",
				       ws->in.len, ws->cls);
			claw_buf_reset(&ws->in);
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (in && len >= 2)
			ws->close_code = ((const unsigned char *)in)[0] << 8 |
				((const unsigned char *)in)[1];
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (ws->closing) {
			lws_close_reason(wsi,
					 (enum lws_close_status)ws->close_with,
					 NULL, 0);
			return -1;
		}
		if (ws->head) {
			struct out_msg *m = ws->head;
			ws->head = m->next;
			if (!ws->head)
				ws->tail = NULL;
			int w = lws_write(wsi, m->data + LWS_PRE, m->len,
					  LWS_WRITE_TEXT);
			free(m);
			if (w < 0)
				return -1;
			if (ws->head)
				lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_TIMER:
		if (atomic_load(&ws->g->stopping))
			gw_ws_close(ws);
		else if (ws->h->on_tick)
			ws->h->on_tick(ws, ws->cls);
		lws_set_timer_usecs(wsi, WS_TICK_US);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(ws->error, sizeof(ws->error),
			 "connection failed: %.120s",
			 in ? (const char *)in : "unknown");
		ws->wsi = NULL;
		ws->done = true;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (!ws->error[0] && ws->close_code)
			snprintf(ws->error, sizeof(ws->error),
				 "closed by the peer with %d", ws->close_code);
		else if (!ws->error[0])
			snprintf(ws->error, sizeof(ws->error), "closed");
		ws->closed_at = gw_now();
		ws->wsi = NULL;
		ws->done = true;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{"claw-gateway", callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

enum claw_rc gw_ws_run(struct gw *g, const char *url, const char *ca_file,
		       const struct gw_ws_handler *h, void *cls,
		       struct gw_ws_end *end, char *errbuf, size_t errlen)
{
	struct gw_ws ws = {.g = g, .h = h, .cls = cls};
	struct gw_ws_end none;
	if (!end)
		end = &none;
	memset(end, 0, sizeof(*end));
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	const char *prot, *addr, *path;
	char copy[1024], fullpath[1100];
	int port;
	enum claw_rc rc = CLAW_ERR_IO;

	snprintf(copy, sizeof(copy), "%s", url);
	if (lws_parse_uri(copy, &prot, &addr, &port, &path) ||
	    (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0)) {
		snprintf(errbuf, errlen, "not a ws:// or wss:// URL");
		return CLAW_ERR_INVALID;
	}
	snprintf(fullpath, sizeof(fullpath), "/%s", path);
	claw_buf_init(&ws.in, WS_MAX_MESSAGE);
	lws_set_log_level(LLL_ERR | LLL_WARN, log_lws);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = &ws;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca_file;
	ws.ctx = lws_create_context(&info);
	if (!ws.ctx) {
		snprintf(errbuf, errlen,
			 "unable to create a websocket context");
		goto out;
	}
	memset(&ci, 0, sizeof(ci));
	ci.context = ws.ctx;
	ci.address = addr;
	ci.port = port;
	ci.path = fullpath;
	ci.host = addr;
	ci.origin = addr;
	ci.protocol = NULL;
	ci.ssl_connection = strcmp(prot, "wss") == 0 ? LCCSCF_USE_SSL : 0;
	ci.pwsi = &ws.wsi;
	if (!lws_client_connect_via_info(&ci)) {
		snprintf(errbuf, errlen, "unable to start connecting");
		goto out;
	}
	while (!ws.done && lws_service(ws.ctx, 0) >= 0)
		;
	rc = ws.open ? CLAW_OK : CLAW_ERR_IO;
	snprintf(errbuf, errlen, "%s", ws.error[0] ? ws.error : "closed");
	end->opened = ws.open;
	end->close_code = ws.close_code;
	if (ws.open)
		end->open_s =
			(ws.closed_at ? ws.closed_at : gw_now()) - ws.opened_at;
out:
	if (ws.ctx)
		lws_context_destroy(ws.ctx);
	drop_queue(&ws);
	claw_buf_release(&ws.in);
	return rc;
}

void gw_ws_session(struct gw *g, const char *what, const char *url,
		   const struct gw_ws_handler *h, void *cls,
		   struct gw_ws_end *end)
{
	char err[200];
	struct gw_conf *c = gw_conf_get(g);
	char *ca = c->ca_file ? strdup(c->ca_file) : NULL;
	gw_conf_put(c);
	gw_ws_run(g, url, ca, h, cls, end, err, sizeof(err));
	log_info("%s: connection ended: %s", what, err);
	free(ca);
}
