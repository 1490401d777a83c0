/*
 * httpd.c - HTTP server and router over libmicrohttpd; see httpd.h.
 *
 * MHD runs one thread per connection. The access handler is called first
 * with the headers, then with each piece of the body, then once more: the
 * first call builds a struct claw_http_req and matches the route, the body
 * pieces are collected under the ceiling, the last call runs the handler
 * and queues the response it built. The completion callback reports the
 * request to the observer and frees it.
 */
#include "claw/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/file.h"
#include "claw/log.h"

#define HTTPD_MAX_PARAMS 8
#define HTTPD_MAX_SEGMENTS 16

struct claw_httpd {
	struct MHD_Daemon *daemon;
	const struct claw_httpd_config *cfg;
	size_t max_body;
	uint16_t port;
	atomic_int inflight;
	atomic_bool stopping;
	char *tls_cert; /* PEM contents */
	char *tls_key;
};

struct http_header {
	struct http_header *next;
	char *name;
	char *value;
};

struct claw_http_req {
	struct claw_httpd *httpd;
	struct MHD_Connection *conn;
	const char *method;
	char *path;
	const struct claw_route *route;
	struct claw_buf body;
	bool too_large;
	char request_id[65];
	char remote[INET6_ADDRSTRLEN];
	struct timespec start;
	size_t n_params;
	struct {
		const char *name; /* points into the route pattern */
		size_t name_len;
		char *value;
	} params[HTTPD_MAX_PARAMS];
	char allow[64]; /* methods of a path that matched with another one */
	struct http_header *headers;
	struct MHD_Response *response;
	unsigned status;
	void *state;
	void (*state_free)(void *);
};

/* ------------------------------------------------------------ routing */

/* Match path against pattern; on success fill params. */
static bool route_match(const char *pattern, const char *path,
			struct claw_http_req *r)
{
	size_t n = 0;
	const char *p = pattern, *u = path;
	while (*p && *u) {
		if (*p != '/' || *u != '/')
			return false;
		p++;
		u++;
		const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
		if (*p == '{') {
			if (ue == u || n >= HTTPD_MAX_PARAMS)
				return false;
			r->params[n].name = p + 1;
			r->params[n].name_len = (size_t)(pe - p - 2);
			r->params[n].value = strndup(u, (size_t)(ue - u));
			n++;
		} else if (pe - p != ue - u ||
			   strncmp(p, u, (size_t)(pe - p))) {
			for (size_t i = 0; i < n; i++)
				free(r->params[i].value);
			return false;
		}
		p = pe;
		u = ue;
	}
	if (*p || *u) {
		for (size_t i = 0; i < n; i++)
			free(r->params[i].value);
		return false;
	}
	r->n_params = n;
	return true;
}

static void route_find(struct claw_http_req *r)
{
	const struct claw_httpd_config *cfg = r->httpd->cfg;
	r->allow[0] = '\0';
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct claw_route *rt = &cfg->routes[i];
		if (!route_match(rt->pattern, r->path, r))
			continue;
		if (strcmp(rt->method, r->method) == 0) {
			r->route = rt;
			return;
		}
		for (size_t k = 0; k < r->n_params; k++)
			free(r->params[k].value);
		r->n_params = 0;
		size_t len = strlen(r->allow);
		if (!strstr(r->allow, rt->method))
			snprintf(r->allow + len, sizeof(r->allow) - len, "%s%s",
				 len ? ", " : "", rt->method);
	}
}

/* ------------------------------------------------------------ request */

const char *claw_http_method(const struct claw_http_req *r)
{
	return r->method;
}

const char *claw_http_path(const struct claw_http_req *r)
{
	return r->path;
}

const char *claw_http_route_name(const struct claw_http_req *r)
{
	if (!r->route)
		return r->allow[0] ? "method_not_allowed" : "not_found";
	return r->route->name ? r->route->name : r->route->pattern;
}

const char *claw_http_param(const struct claw_http_req *r, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < r->n_params; i++)
		if (r->params[i].name_len == len &&
		    strncmp(r->params[i].name, name, len) == 0)
			return r->params[i].value;
	return NULL;
}

const char *claw_http_query(const struct claw_http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *claw_http_header(const struct claw_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *claw_http_body(const struct claw_http_req *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

const char *claw_http_request_id(const struct claw_http_req *r)
{
	return r->request_id;
}

const char *claw_http_remote_addr(const struct claw_http_req *r)
{
	return r->remote;
}

void claw_http_set_state(struct claw_http_req *r, void *state,
			 void (*free_fn)(void *))
{
	if (r->state && r->state_free)
		r->state_free(r->state);
	r->state = state;
	r->state_free = free_fn;
}

void *claw_http_state(const struct claw_http_req *r)
{
	return r->state;
}

void claw_http_add_header(struct claw_http_req *r, const char *name,
			  const char *value)
{
	struct http_header *h = calloc(1, sizeof(*h));
	if (!h)
		return;
	h->name = strdup(name);
	h->value = strdup(value);
	if (!h->name || !h->value) {
		free(h->name);
		free(h->value);
		free(h);
		return;
	}
	h->next = r->headers;
	r->headers = h;
}

/* ------------------------------------------------------------ replies */

static void reply_set(struct claw_http_req *r, unsigned status,
		      struct MHD_Response *resp)
{
	if (!resp) {
		log_error("unable to build a response (out of memory)");
		return;
	}
	if (r->response) {
		log_error("handler '%s' replied twice; second reply dropped",
			  claw_http_route_name(r));
		MHD_destroy_response(resp);
		return;
	}
	r->response = resp;
	r->status = status;
}

void claw_http_reply_raw(struct claw_http_req *r, unsigned status,
			 const char *content_type, const void *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp && content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					content_type);
	reply_set(r, status, resp);
}

void claw_http_reply_empty(struct claw_http_req *r, unsigned status)
{
	claw_http_reply_raw(r, status, NULL, "", 0);
}

void claw_http_reply_json(struct claw_http_req *r, unsigned status,
			  json_t *body_steal)
{
	char *s = body_steal ? claw_json_dumps(body_steal) : NULL;
	json_decref(body_steal);
	if (!s) {
		claw_http_reply_raw(r, 500, "application/json",
				    "{\"error\":{\"code\":\"internal\"}}", 29);
		return;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(s), s, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(s);
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	reply_set(r, status, resp);
}

static void reply_error_va(struct claw_http_req *r, unsigned status,
			   const char *code, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_t *m = json_string(msg);
	json_t *body =
		json_pack("{s:{s:s,s:o,s:s}}", "error", "code", code, "message",
			  m ? m : json_string("(message not UTF-8)"),
			  "request_id", r->request_id);
	if (status >= 500)
		log_error("%u %s: %s", status, code, msg);
	else
		log_info("%u %s: %s", status, code, msg);
	claw_http_reply_json(r, status, body);
}

void claw_http_reply_error(struct claw_http_req *r, unsigned status,
			   const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_error_va(r, status, code, fmt, ap);
	va_end(ap);
}

void claw_http_reply_def(struct claw_http_req *r,
			 const struct claw_error_def *def, const char *fmt, ...)
{
	va_list ap;
	if (!fmt) {
		claw_http_reply_def(r, def, "%s", def->hint);
		return;
	}
	va_start(ap, fmt);
	reply_error_va(r, def->http_status, def->code, fmt, ap);
	va_end(ap);
}

void claw_http_reply_std(struct claw_http_req *r, enum claw_http_error e,
			 const char *message)
{
	const struct claw_error_def *d = claw_http_error_def(e);
	claw_http_reply_def(r, d, "%s", message ? message : d->hint);
}

struct http_stream {
	struct claw_httpd *httpd;
	claw_http_stream_fn fn;
	void *cls;
	void (*free_fn)(void *);
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	(void)pos;
	if (atomic_load(&s->httpd->stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	ssize_t n = s->fn(s->cls, buf, max);
	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
	struct http_stream *s = cls;
	if (s->free_fn)
		s->free_fn(s->cls);
	free(s);
}

void claw_http_reply_stream(struct claw_http_req *r, unsigned status,
			    const char *content_type, claw_http_stream_fn fn,
			    void *cls, void (*free_fn)(void *))
{
	struct http_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		if (free_fn)
			free_fn(cls);
		return;
	}
	s->httpd = r->httpd;
	s->fn = fn;
	s->cls = cls;
	s->free_fn = free_fn;
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_free);
	if (!resp) {
		stream_free(s);
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache");
	reply_set(r, status, resp);
}

/* Wipe every string of v (a body that may hold a secret). */
static void json_wipe(json_t *v)
{
	const char *key;
	json_t *e;
	size_t i;
	if (json_is_string(v)) {
		sodium_memzero((char *)json_string_value(v),
			       json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach (v, key, e)
			json_wipe(e);
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, e)
			json_wipe(e);
	}
}

/* claw_json_parse_object, with a syntax error told by position only. */
static json_t *parse_secret(const char *data, size_t len,
			    struct claw_json_problem *p)
{
	json_error_t err;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (v && json_is_object(v))
		return v;
	if (v) {
		json_wipe(v);
		json_decref(v);
	}
	p->error = CLAW_HE_BAD_JSON;
	p->field[0] = '\0';
	if (v)
		snprintf(p->message, sizeof(p->message),
			 "the body must be a JSON object");
	else
		snprintf(p->message, sizeof(p->message),
			 "the body is not valid JSON at line %d column %d",
			 err.line, err.column);
	return NULL;
}

int claw_http_parse_json_opt(struct claw_http_req *r,
			     const struct claw_json_field *fields,
			     unsigned opts, json_t **out)
{
	struct claw_json_problem p = {.error = CLAW_HE_INTERNAL};
	const char *ct = claw_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_t *obj;
	*out = NULL;
	if (r->body.len && ct && strncasecmp(ct, "application/json", 16) != 0) {
		claw_http_reply_std(r, CLAW_HE_UNSUPPORTED_MEDIA_TYPE, NULL);
		return -1;
	}
	if (!r->body.len && (opts & CLAW_HTTP_JSON_NONEMPTY)) {
		claw_http_reply_std(r, CLAW_HE_BAD_JSON,
				    "the body is empty; send one JSON object");
		return -1;
	}
	if (!r->body.len)
		obj = json_object();
	else if (opts & CLAW_HTTP_JSON_SECRET)
		obj = parse_secret(r->body.data, r->body.len, &p);
	else
		obj = claw_json_parse_object(r->body.data, r->body.len, &p);
	if (obj && (!fields || claw_json_unpack(obj, fields, &p) == 0)) {
		*out = obj;
		return 0;
	}
	if (obj && (opts & CLAW_HTTP_JSON_SECRET))
		json_wipe(obj);
	json_decref(obj);
	claw_http_reply_std(r, p.error, p.message[0] ? p.message : NULL);
	return -1;
}

int claw_http_parse_json(struct claw_http_req *r,
			 const struct claw_json_field *fields, json_t **out)
{
	return claw_http_parse_json_opt(r, fields, 0, out);
}

/* ------------------------------------------------------------ daemon */

static bool request_id_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return n > 0 && n <= 64;
}

static struct claw_http_req *req_new(struct claw_httpd *h,
				     struct MHD_Connection *conn,
				     const char *url, const char *method)
{
	struct claw_http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->httpd = h;
	r->conn = conn;
	r->method = method;
	r->path = strdup(url);
	if (!r->path) {
		free(r);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	claw_buf_init(&r->body, h->max_body);
	const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      "X-Request-Id");
	if (rid && request_id_ok(rid))
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	else
		claw_random_hex(16, r->request_id);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(
				AF_INET,
				&((const struct sockaddr_in *)(const void *)sa)
					 ->sin_addr,
				r->remote, sizeof(r->remote));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(
				AF_INET6,
				&((const struct sockaddr_in6 *)(const void *)sa)
					 ->sin6_addr,
				r->remote, sizeof(r->remote));
	}
	route_find(r);
	return r;
}

static void req_free(struct claw_http_req *r)
{
	for (size_t i = 0; i < r->n_params; i++)
		free(r->params[i].value);
	while (r->headers) {
		struct http_header *h = r->headers;
		r->headers = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	if (r->response)
		MHD_destroy_response(r->response);
	if (r->state && r->state_free)
		r->state_free(r->state);
	claw_buf_release(&r->body);
	free(r->path);
	free(r);
}

static enum MHD_Result req_finish(struct claw_http_req *r)
{
	if (!r->response)
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
	if (!r->response)
		return MHD_NO;
	MHD_add_response_header(r->response, "X-Request-Id", r->request_id);
	for (struct http_header *h = r->headers; h; h = h->next)
		MHD_add_response_header(r->response, h->name, h->value);
	enum MHD_Result ret =
		MHD_queue_response(r->conn, r->status, r->response);
	MHD_destroy_response(r->response);
	r->response = NULL;
	return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct claw_httpd *h = cls;
	struct claw_http_req *r = *con_cls;
	(void)version;

	if (!r) {
		r = req_new(h, conn, url, method);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		atomic_fetch_add(&h->inflight, 1);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large &&
		    claw_buf_append(&r->body, upload_data, *upload_data_size))
			r->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}

	claw_log_set_request_id(r->request_id);
	if (r->too_large) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "the request body is over %zu bytes; send less",
			 h->max_body);
		claw_http_reply_std(r, CLAW_HE_BODY_TOO_LARGE, msg);
	} else if (r->route) {
		r->route->fn(r, h->cfg->ctx);
	} else if (r->allow[0]) {
		claw_http_add_header(r, "Allow", r->allow);
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "%s is not allowed on this path; use %s", method,
			 r->allow);
		claw_http_reply_std(r, CLAW_HE_METHOD_NOT_ALLOWED, msg);
	} else {
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND, NULL);
	}
	enum MHD_Result ret = req_finish(r);
	claw_log_set_request_id(NULL);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct claw_httpd *h = cls;
	struct claw_http_req *r = *con_cls;
	(void)conn;
	(void)toe;
	if (!r)
		return;
	if (h->cfg->observer) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double secs = (double)(now.tv_sec - r->start.tv_sec) +
			(double)(now.tv_nsec - r->start.tv_nsec) / 1e9;
		h->cfg->observer(claw_http_route_name(r),
				 r->status ? r->status : 500, secs,
				 h->cfg->ctx);
	}
	req_free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&h->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http server: %s", msg);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			char *errbuf, size_t errlen)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	memset(ss, 0, sizeof(*ss));
	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		goto bad;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		goto bad;
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 2 || host[hl - 1] != ']')
			goto bad;
		host[hl - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		goto bad;
	return 0;
bad:
	snprintf(errbuf, errlen,
		 "invalid listen address '%.100s'; use ADDRESS:PORT such as "
		 "127.0.0.1:7070 or [::1]:7070",
		 listen);
	return -1;
}

enum claw_rc claw_httpd_start(const struct claw_httpd_config *cfg,
			      struct claw_httpd **out, char *errbuf,
			      size_t errlen)
{
	struct sockaddr_storage ss;
	*out = NULL;
	if (parse_listen(cfg->listen, &ss, errbuf, errlen))
		return CLAW_ERR_INVALID;
	struct claw_httpd *h = calloc(1, sizeof(*h));
	if (!h)
		return CLAW_ERR_NOMEM;
	h->cfg = cfg;
	h->max_body = cfg->max_body ? cfg->max_body : (1u << 20);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
		MHD_USE_ERROR_LOG | MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert || cfg->tls_key) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			snprintf(errbuf, errlen,
				 "TLS needs both a certificate and a key file");
			free(h);
			return CLAW_ERR_INVALID;
		}
		if (claw_file_load(cfg->tls_cert, 1 << 20, &h->tls_cert, NULL,
				   errbuf, errlen) ||
		    claw_file_load(cfg->tls_key, 1 << 20, &h->tls_key, NULL,
				   errbuf, errlen)) {
			free(h->tls_cert);
			free(h);
			return CLAW_ERR_IO;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER,
		on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_CONNECTION_LIMIT,
		cfg->connection_limit ? cfg->connection_limit : 1024u,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->connection_timeout_s ? cfg->connection_timeout_s : 60u,
		MHD_OPTION_ARRAY, h->tls_cert ? tls_opts : tls_opts + 2,
		MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(errbuf, errlen,
			 "unable to listen on %s (address in use, not local, "
			 "or bad TLS files?)",
			 cfg->listen);
		free(h->tls_cert);
		free(h->tls_key);
		free(h);
		return CLAW_ERR_IO;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : 0;
	*out = h;
	return CLAW_OK;
}

uint16_t claw_httpd_port(const struct claw_httpd *h)
{
	return h->port;
}

void claw_httpd_shutdown(struct claw_httpd *h, unsigned grace_ms)
{
	if (!h)
		return;
	MHD_socket s = MHD_quiesce_daemon(h->daemon);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	/* Streams (server-sent events) have no end: end them now, and let
	 * ordinary requests finish. */
	atomic_store(&h->stopping, true);
	for (unsigned waited = 0;
	     atomic_load(&h->inflight) > 0 && waited < grace_ms; waited += 10)
		usleep(10000);
	MHD_stop_daemon(h->daemon);
	if (h->tls_key)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_cert);
	free(h->tls_key);
	free(h);
}
