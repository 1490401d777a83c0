/*
 * http.c - see http.h. libevent 2.1's evhttp, run on one thread.
 *
 * The connection limit. evhttp 2.1 has none and no hook at accept, but it
 * asks a bevcb for each accepted connection's bufferevent. The bevcb
 * makes it, notes it as pending and activates the adopt event, which has
 * the higher of the base's two priorities: it runs right after the accept
 * callback, before any I/O of the new connections. It finds each one's
 * evhttp_connection (the bufferevent's callback argument), closes it when
 * the limit is reached, else counts it and sets its close callback, which
 * uncounts it and marks the stream on it gone.
 *
 * The body limit. evhttp's own limit answers with an HTML page of its own,
 * so it is set to twice max_body (memory stays bounded) and the handler
 * path refuses a body over max_body with the JSON 413; a body past the
 * hard ceiling gets evhttp's 413 page and the connection is closed.
 *
 * Streams. A stream's request stays with evhttp until
 * evhttp_send_reply_end. When the client goes away evhttp detaches the
 * request from its connection (mb_http_stream_end then frees it) and
 * frees the connection: the close callback marks the stream gone. A chunk
 * is queued only while the connection's output is under MB_HTTP_OUT_MARK;
 * once it has drained, evhttp calls back and the loop wakes the bridge.
 *
 * No resolver (MB_HTTP_STATIC, the static build). libevent's evutil.o,
 * one object with functions evhttp needs, also holds evutil_getaddrinfo,
 * which calls glibc's getaddrinfo, getservbyname and getprotobynumber:
 * NSS functions that a static glibc can only run by loading the shared
 * NSS modules of the glibc it was linked with (the linker warns). The
 * bridge never resolves a name (it binds a numeric address itself, and
 * evhttp names a peer with getnameinfo(NI_NUMERICHOST|NI_NUMERICSERV),
 * which needs no NSS), so the static build defines those four to fail:
 * no NSS code is linked in and the link has no warning.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/deadline.h"
#include "claw/json.h"
#include "claw/listen.h"
#include "claw/log.h"

#define MB_HTTP_OUT_MARK (256u * 1024u) /* unsent bytes of one stream */
#define MB_HTTP_STOP_POLL_MS 20

struct mb_conn {
	struct evhttp_connection *evcon;
	struct mb_http_stream *stream; /* open on it, or NULL */
	struct mb_conn *next;
};

struct mb_pending {
	struct bufferevent *bev;
	struct mb_pending *next;
};

struct mb_http_stream {
	struct mb_http *h;
	struct evhttp_request *req; /* NULL once ended by the shutdown */
	struct mb_conn *conn;       /* NULL once the client went away */
	struct mb_http_stream *next;
};

struct mb_http {
	struct mb_http_config cfg;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *wake_ev, *adopt_ev, *stop_ev;
	struct evbuffer *scratch;
	int wake_fd;
	uint16_t port;
	pthread_t thread;
	atomic_int stopping;
	struct timespec stop_by;
	struct mb_pending *pending;
	struct mb_conn *conns;
	unsigned n_conns;
	struct mb_http_stream *streams;
	time_t refused_logged;
	unsigned long long refused;
};

struct mb_http_req {
	struct mb_http *h;
	struct evhttp_request *ev;
	char request_id[65];
	bool replied;
};

/* ------------------------------------------------------------ requests */

const char *mb_http_header(const struct mb_http_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->ev),
				  name);
}

const char *mb_http_body(struct mb_http_req *r, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
	*len = evbuffer_get_length(in);
	if (!*len)
		return "";
	const char *p = (const char *)evbuffer_pullup(in, -1);
	if (!p)
		*len = 0;
	return p ? p : "";
}

void mb_http_add_header(struct mb_http_req *r, const char *name,
			const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->ev), name,
			  value);
}

static bool claim(struct mb_http_req *r)
{
	if (r->replied) {
		log_error("a handler replied twice; second reply dropped");
		return false;
	}
	r->replied = true;
	mb_http_add_header(r, "X-Request-Id", r->request_id);
	return true;
}

static void reply_buf(struct mb_http_req *r, unsigned status,
		      const char *content_type, const char *body, size_t len)
{
	if (!claim(r))
		return;
	struct evbuffer *b = r->h->scratch;
	evbuffer_drain(b, evbuffer_get_length(b));
	if (content_type)
		mb_http_add_header(r, "Content-Type", content_type);
	/* evhttp 2.1 would send the body of an answer to HEAD */
	if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD)
		len = 0;
	if (len && evbuffer_add(b, body, len)) {
		evhttp_send_error(r->ev, 500, NULL);
		return;
	}
	evhttp_send_reply(r->ev, (int)status, NULL, b);
}

void mb_http_reply_empty(struct mb_http_req *r, unsigned status)
{
	reply_buf(r, status, NULL, NULL, 0);
}

void mb_http_reply_json(struct mb_http_req *r, unsigned status,
			json_t *body_steal)
{
	char *s = claw_http_json_text(body_steal, &status);
	if (!s)
		return;
	reply_buf(r, status, "application/json", s, strlen(s));
	free(s);
}

void mb_http_reply_std(struct mb_http_req *r, enum claw_http_error e,
		       const char *message)
{
	const struct claw_error_def *d = claw_http_error_def(e);
	mb_http_reply_json(r, d->http_status,
			   claw_http_error_body(d->http_status, d->code,
						message ? message : d->hint,
						r->request_id));
}

/* ------------------------------------------------------------ streams */

static struct mb_conn *conn_of(struct mb_http *h,
			       struct evhttp_connection *evcon)
{
	for (struct mb_conn *c = h->conns; c; c = c->next)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

struct mb_http_stream *mb_http_reply_stream(struct mb_http_req *r,
					    const char *content_type)
{
	struct mb_http *h = r->h;
	struct mb_http_stream *s = calloc(1, sizeof(*s));
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
	struct mb_conn *c = evcon ? conn_of(h, evcon) : NULL;
	if (!s || !c || c->stream) {
		free(s);
		mb_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return NULL;
	}
	if (!claim(r)) {
		free(s);
		return NULL;
	}
	s->h = h;
	s->req = r->ev;
	s->conn = c;
	c->stream = s;
	s->next = h->streams;
	h->streams = s;
	mb_http_add_header(r, "Content-Type", content_type);
	mb_http_add_header(r, "Cache-Control", "no-cache");
	evhttp_connection_set_timeout(evcon, (int)h->cfg.stream_timeout_s);
	evhttp_send_reply_start(r->ev, 200, NULL);
	return s;
}

int mb_http_stream_state(const struct mb_http_stream *s)
{
	if (!s->conn || !s->req)
		return -1;
	struct bufferevent *bev =
		evhttp_connection_get_bufferevent(s->conn->evcon);
	return evbuffer_get_length(bufferevent_get_output(bev)) >
			MB_HTTP_OUT_MARK
		? 1
		: 0;
}

static void on_drained(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	mb_http_wake(arg);
}

void mb_http_stream_send(struct mb_http_stream *s, const char *data, size_t len)
{
	if (!s->conn || !s->req || !len)
		return;
	struct evbuffer *b = s->h->scratch;
	evbuffer_drain(b, evbuffer_get_length(b));
	if (evbuffer_add(b, data, len))
		return;
	/* what is sent restarts the idle timer too (as libmicrohttpd's) */
	evhttp_connection_set_timeout(s->conn->evcon,
				      (int)s->h->cfg.stream_timeout_s);
	evhttp_send_reply_chunk_with_cb(s->req, b, on_drained, s->h);
}

void mb_http_stream_end(struct mb_http_stream *s)
{
	if (!s)
		return;
	struct mb_http *h = s->h;
	if (!h) { /* ended by mb_http_stop */
		free(s);
		return;
	}
	for (struct mb_http_stream **pp = &h->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->conn) {
		s->conn->stream = NULL;
		evhttp_connection_set_timeout(s->conn->evcon,
					      (int)h->cfg.idle_timeout_s);
	}
	/* A request whose client went away is freed here (evhttp detached
	 * it); one still connected gets its last chunk. */
	if (s->req)
		evhttp_send_reply_end(s->req);
	free(s);
}

/* ------------------------------------------------------------ requests */

static bool request_id_ok(const char *s)
{
	size_t n = strspn(s,
			  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
			  "XYZ0123456789-_.");
	return n > 0 && n <= 64 && !s[n];
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

static void route(struct mb_http_req *r, const char *method, const char *path)
{
	const struct mb_http_config *cfg = &r->h->cfg;
	char allow[64] = "";
	size_t len = 0;
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct mb_http_route *rt = &cfg->routes[i];
		if (strcmp(rt->path, path) != 0)
			continue;
		if (strcmp(rt->method, method) == 0) {
			rt->fn(r, cfg->ctx);
			return;
		}
		if (len < sizeof(allow))
			len += (size_t)snprintf(allow + len,
						sizeof(allow) - len, "%s%s",
						len ? ", " : "", rt->method);
	}
	if (!allow[0]) {
		mb_http_reply_std(r, CLAW_HE_NOT_FOUND, NULL);
		return;
	}
	char msg[160];
	snprintf(msg, sizeof(msg), "%s is not allowed on this path; use %s",
		 method, allow);
	mb_http_add_header(r, "Allow", allow);
	mb_http_reply_std(r, CLAW_HE_METHOD_NOT_ALLOWED, msg);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct mb_http_req r = {.h = arg, .ev = ev};
	const char *rid = mb_http_header(&r, "X-Request-Id");
	if (rid && request_id_ok(rid))
		snprintf(r.request_id, sizeof(r.request_id), "%s", rid);
	else
		claw_random_hex(16, r.request_id);
	claw_log_set_request_id(r.request_id);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(ev);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	size_t blen = evbuffer_get_length(evhttp_request_get_input_buffer(ev));
	if (blen > r.h->cfg.max_body) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "the request body is over %zu bytes; send less",
			 r.h->cfg.max_body);
		mb_http_reply_std(&r, CLAW_HE_BODY_TOO_LARGE, msg);
	} else {
		route(&r, method_name(evhttp_request_get_command(ev)),
		      path && path[0] ? path : "/");
	}
	if (!r.replied)
		mb_http_reply_std(&r, CLAW_HE_INTERNAL, NULL);
	claw_log_set_request_id(NULL);
}

/* ------------------------------------------------------------ connections */

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct mb_http *h = arg;
	for (struct mb_conn **pp = &h->conns; *pp; pp = &(*pp)->next) {
		struct mb_conn *c = *pp;
		if (c->evcon != evcon)
			continue;
		*pp = c->next;
		h->n_conns--;
		if (c->stream)
			c->stream->conn = NULL; /* gone: the bridge ends it */
		free(c);
		mb_http_wake(h);
		return;
	}
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct mb_http *h = arg;
	struct bufferevent *bev =
		bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct mb_pending *p = bev ? malloc(sizeof(*p)) : NULL;
	if (p) {
		p->bev = bev;
		p->next = h->pending;
		h->pending = p;
		event_active(h->adopt_ev, 0, 0);
	}
	return bev;
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct mb_http *h = arg;
	(void)fd;
	(void)what;
	while (h->pending) {
		struct mb_pending *p = h->pending;
		h->pending = p->next;
		void *cbarg = NULL;
		bufferevent_getcb(p->bev, NULL, NULL, NULL, &cbarg);
		struct evhttp_connection *evcon = cbarg;
		free(p);
		if (!evcon)
			continue;
		struct mb_conn *c = NULL;
		if (h->n_conns < h->cfg.max_connections &&
		    !atomic_load(&h->stopping))
			c = calloc(1, sizeof(*c));
		if (!c) {
			h->refused++;
			time_t now = time(NULL);
			if (now != h->refused_logged) {
				h->refused_logged = now;
				log_warn("connection limit (%u) reached: "
					 "closed a new connection (%llu so "
					 "far)",
					 h->cfg.max_connections, h->refused);
			}
			evhttp_connection_free(evcon);
			continue;
		}
		c->evcon = evcon;
		c->next = h->conns;
		h->conns = c;
		h->n_conns++;
		evhttp_connection_set_closecb(evcon, on_conn_close, h);
	}
}

/* ------------------------------------------------------------ the loop */

void mb_http_wake(struct mb_http *h)
{
	uint64_t one = 1;
	if (h && write(h->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("unable to wake the HTTP loop: %s", strerror(errno));
}

static bool stop_passed(const struct mb_http *h)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > h->stop_by.tv_sec ||
		(now.tv_sec == h->stop_by.tv_sec &&
		 now.tv_nsec >= h->stop_by.tv_nsec);
}

/* While stopping: done once no stream is open and every byte is out. */
static void on_stop_poll(evutil_socket_t fd, short what, void *arg)
{
	struct mb_http *h = arg;
	(void)fd;
	(void)what;
	h->cfg.wake(h->cfg.ctx);
	bool idle = !h->streams;
	for (struct mb_conn *c = h->conns; idle && c; c = c->next)
		idle = !evbuffer_get_length(bufferevent_get_output(
			evhttp_connection_get_bufferevent(c->evcon)));
	if (idle || stop_passed(h)) {
		event_base_loopbreak(h->base);
		return;
	}
	struct timeval tv = {0, MB_HTTP_STOP_POLL_MS * 1000};
	evtimer_add(h->stop_ev, &tv);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct mb_http *h = arg;
	uint64_t v;
	(void)what;
	while (read(fd, &v, sizeof(v)) > 0)
		;
	if (atomic_load(&h->stopping) && h->bound) {
		evhttp_del_accept_socket(h->http, h->bound);
		h->bound = NULL;
		on_stop_poll(-1, 0, h);
		return;
	}
	h->cfg.wake(h->cfg.ctx);
}

static void *loop_main(void *arg)
{
	struct mb_http *h = arg;
	event_base_dispatch(h->base);
	return NULL;
}

/* A listening socket on the numeric address, or -1 with err set. */
static int listen_on(struct mb_http *h, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (claw_listen_addr(h->cfg.listen, &ss, &len, err, errlen))
		return -1;
	int fd = socket(ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		snprintf(err, errlen, "unable to listen on %.100s: %s",
			 h->cfg.listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	h->port = ntohs(ss.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static void http_free(struct mb_http *h)
{
	/* End what is still open: a connected request stays on its
	 * connection (freed with it below), a detached one is freed now. */
	for (struct mb_http_stream *s = h->streams; s; s = s->next) {
		if (s->req)
			evhttp_send_reply_end(s->req);
		s->req = NULL;
		if (s->conn)
			s->conn->stream = NULL;
		s->conn = NULL;
		s->h = NULL;
	}
	h->streams = NULL;
	if (h->http)
		evhttp_free(h->http); /* on_conn_close frees each mb_conn */
	while (h->pending) {
		struct mb_pending *p = h->pending;
		h->pending = p->next;
		free(p);
	}
	if (h->wake_ev)
		event_free(h->wake_ev);
	if (h->adopt_ev)
		event_free(h->adopt_ev);
	if (h->stop_ev)
		event_free(h->stop_ev);
	if (h->scratch)
		evbuffer_free(h->scratch);
	if (h->base)
		event_base_free(h->base);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	free(h);
}

int mb_http_start(const struct mb_http_config *cfg, struct mb_http **out,
		  char *err, size_t errlen)
{
	struct mb_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	h->cfg = *cfg;
	h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	/* Two priorities: 0 for the adopt event, 1 for the rest. */
	if (h->wake_fd < 0 || !(h->base = event_base_new()) ||
	    event_base_priority_init(h->base, 2) ||
	    !(h->http = evhttp_new(h->base)) ||
	    !(h->scratch = evbuffer_new()) ||
	    !(h->wake_ev = event_new(h->base, h->wake_fd, EV_READ | EV_PERSIST,
				     on_wake, h)) ||
	    !(h->adopt_ev = event_new(h->base, -1, 0, on_adopt, h)) ||
	    !(h->stop_ev = evtimer_new(h->base, on_stop_poll, h)) ||
	    event_priority_set(h->adopt_ev, 0) || event_add(h->wake_ev, NULL)) {
		snprintf(err, errlen, "unable to set up the HTTP server");
		http_free(h);
		return -1;
	}
	evhttp_set_gencb(h->http, on_request, h);
	evhttp_set_bevcb(h->http, on_new_bev, h);
	evhttp_set_allowed_methods(
		h->http,
		EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
			EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
			EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_body_size(h->http, (ev_ssize_t)cfg->max_body * 2);
	evhttp_set_max_headers_size(h->http, (ev_ssize_t)cfg->max_headers);
	evhttp_set_timeout(h->http, (int)cfg->idle_timeout_s);
	int fd = listen_on(h, err, errlen);
	if (fd < 0) {
		http_free(h);
		return -1;
	}
	if (!(h->bound = evhttp_accept_socket_with_handle(h->http, fd))) {
		snprintf(err, errlen, "unable to serve on %.100s", cfg->listen);
		close(fd);
		http_free(h);
		return -1;
	}
	if (pthread_create(&h->thread, NULL, loop_main, h)) {
		snprintf(err, errlen, "unable to start the HTTP thread");
		http_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

uint16_t mb_http_port(const struct mb_http *h)
{
	return h->port;
}

void mb_http_stop(struct mb_http *h, unsigned grace_ms)
{
	if (!h)
		return;
	h->stop_by = claw_deadline_ms(CLOCK_MONOTONIC, (long)grace_ms);
	atomic_store(&h->stopping, 1);
	mb_http_wake(h);
	pthread_join(h->thread, NULL);
	http_free(h);
}

#ifdef MB_HTTP_STATIC
/* See the top of this file: the static build has no resolver. */
int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	*res = NULL;
	return EAI_FAIL;
}

void freeaddrinfo(struct addrinfo *res)
{
	(void)res; /* getaddrinfo never returns one */
}

struct servent *getservbyname(const char *name, const char *proto)
{
	(void)name;
	(void)proto;
	return NULL;
}

struct protoent *getprotobynumber(int proto)
{
	(void)proto;
	return NULL;
}
#endif
