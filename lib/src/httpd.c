/*
 * httpd.c - HTTP server and router over libmicrohttpd; see httpd.h.
 *
 * MHD runs one thread per connection. The access handler is called first
 * with the headers, then with each piece of the body, then once more: the
 * first call builds a struct claw_http_req and matches the route, the body
 * pieces are collected under the ceiling, the last call runs the handler
 * and queues the response it built. The completion callback reports the
 * request to the observer and frees it.
 *
 * Deadlines. MHD's connection notifications keep one struct conn_track per
 * open connection in a list: its phase (head, body, busy) and when the
 * phase began. The access handler and the completion callback move it
 * along (head -> body at the first call, body -> busy at the last one,
 * busy -> head when the reply is done). A reaper thread sleeps until the
 * earliest deadline of a head or body phase and shuts the socket of every
 * connection past its own down (shutdown(2) only: the connection's thread
 * sees EOF and MHD closes and cleans up as for any client that left). The
 * descriptor stays valid while its entry is in the list: MHD reports a
 * connection closed before it closes the descriptor, and the entry leaves
 * the list under the same lock the reaper holds. Busy phases (handlers,
 * long polls, streams) have no deadline here.
 *
 * Token cap. A keyed BLAKE2b hash (random key per server) of the
 * Authorization value indexes a small table of in-flight counts; the value
 * itself is neither stored nor logged.
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
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/file.h"
#include "claw/listen.h"
#include "claw/log.h"

#define HTTPD_DEFAULT_CONNECTIONS 1024u
#define HTTPD_DEFAULT_PER_TOKEN 32u
#define HTTPD_DEFAULT_HEAD_S 10u
#define HTTPD_DEFAULT_BODY_S 30u
#define HTTPD_FD_RESERVE 256u   /* descriptors left for the rest */
#define HTTPD_TOKEN_BUCKETS 64u /* token table */
#define HTTPD_MHD_LOG_PER_S 10u /* MHD's lines per second, then dropped */

enum conn_phase {
	PHASE_HEAD,
	PHASE_BODY,
	PHASE_BUSY
};

/* One open connection (MHD's socket context). */
struct conn_track {
	struct conn_track *prev, *next;
	int fd;
	enum conn_phase phase;
	uint64_t since_ms; /* when the phase began (monotonic) */
	bool cut;          /* shut down by the reaper */
};

/* In-flight requests of one credential. */
struct token_slot {
	struct token_slot *next;
	uint8_t hash[16];
	unsigned n;
};

struct claw_httpd {
	struct MHD_Daemon *daemon;
	const struct claw_httpd_config *cfg;
	size_t max_body;
	uint16_t port;
	atomic_int inflight;
	atomic_bool stopping;
	char *tls_cert; /* PEM contents */
	char *tls_key;

	/* bounds (resolved from cfg) */
	unsigned limit, high_water, per_ip, per_token;
	uint64_t head_ms, body_ms;

	/* the connections and their reaper, under lock */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t reaper;
	bool reaper_running, reaper_stop;
	struct conn_track *conns;
	unsigned n_open;
	uint64_t next_wake_ms; /* UINT64_MAX: asleep until signalled */
	unsigned long long deadline_closed, pressure_closed;

	/* the token cap, under tok_lock */
	pthread_mutex_t tok_lock;
	uint8_t tok_key[crypto_generichash_KEYBYTES];
	struct token_slot *tokens[HTTPD_TOKEN_BUCKETS];
	atomic_ullong rate_limited;

	/* MHD's log, rate-limited */
	atomic_ullong log_sec;
	atomic_uint log_n, log_dropped;
};

struct http_header {
	struct http_header *next;
	char *name;
	char *value;
};

struct claw_http_req {
	struct claw_httpd *httpd;
	struct MHD_Connection *conn;
	struct conn_track *ct; /* the connection's, or NULL */
	const char *method;
	char *path;
	struct claw_route_match m;
	struct claw_buf body;
	bool too_large;
	bool internal;            /* out of memory while routing */
	struct token_slot *token; /* counted against the token cap */
	bool token_refused;       /* over the token cap: 429 */
	char request_id[65];
	char remote[INET6_ADDRSTRLEN];
	struct timespec start;
	struct http_header *headers;
	struct MHD_Response *response;
	unsigned status;
	void *state;
	void (*state_free)(void *);
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ routing */

static void params_free(struct claw_route_match *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m->params[i].value);
		m->params[i].value = NULL;
	}
}

/* Match path against pattern; on success fill m's params. Every failure
 * frees what this call captured. Returns 1 (match), 0 (none), -1 (out of
 * memory). */
static int route_match(const char *pattern, const char *path,
		       struct claw_route_match *m)
{
	size_t n = 0;
	const char *p = pattern, *u = path;
	while (*p && *u) {
		if (*p != '/' || *u != '/')
			goto nomatch;
		p++;
		u++;
		const char *pe = strchrnul(p, '/'), *ue = strchrnul(u, '/');
		if (*p == '{') {
			if (ue == u || n >= CLAW_HTTP_MAX_PARAMS || pe - p < 2)
				goto nomatch;
			m->params[n].name = p + 1;
			m->params[n].name_len = (size_t)(pe - p - 2);
			m->params[n].value = strndup(u, (size_t)(ue - u));
			if (!m->params[n].value) {
				params_free(m, n);
				return -1;
			}
			n++;
		} else if (pe - p != ue - u ||
			   strncmp(p, u, (size_t)(pe - p))) {
			goto nomatch;
		}
		p = pe;
		u = ue;
	}
	if (*p || *u)
		goto nomatch;
	m->n_params = n;
	return 1;
nomatch:
	params_free(m, n);
	return 0;
}

int claw_route_find(const struct claw_route *routes, size_t n_routes,
		    const char *method, const char *path,
		    struct claw_route_match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n_routes; i++) {
		const struct claw_route *rt = &routes[i];
		int hit = route_match(rt->pattern, path, m);
		if (hit < 0)
			return -1;
		if (!hit)
			continue;
		if (strcmp(rt->method, method) == 0) {
			m->route = rt;
			return 0;
		}
		params_free(m, m->n_params);
		m->n_params = 0;
		size_t len = strlen(m->allow);
		bool seen = false;
		for (const char *a = m->allow; *a;) {
			size_t w = strcspn(a, ",");
			if (w == strlen(rt->method) &&
			    strncmp(a, rt->method, w) == 0)
				seen = true;
			a += w;
			a += strspn(a, ", ");
		}
		if (!seen)
			snprintf(m->allow + len, sizeof(m->allow) - len, "%s%s",
				 len ? ", " : "", rt->method);
	}
	return 0;
}

void claw_route_match_release(struct claw_route_match *m)
{
	params_free(m, m->n_params);
	m->n_params = 0;
	m->route = NULL;
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
	if (!r->m.route)
		return r->m.allow[0] ? "method_not_allowed" : "not_found";
	return r->m.route->name ? r->m.route->name : r->m.route->pattern;
}

const char *claw_http_param(const struct claw_http_req *r, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < r->m.n_params; i++)
		if (r->m.params[i].name_len == len &&
		    strncmp(r->m.params[i].name, name, len) == 0)
			return r->m.params[i].value;
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
	char *s = claw_http_json_text(body_steal, &status);
	if (!s)
		return;
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
	claw_http_reply_json(
		r, status,
		claw_http_error_body(status, code, msg, r->request_id));
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
		json_object_foreach(v, key, e)
			json_wipe(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			json_wipe(e);
	}
}

/* claw_json_parse_object, with a syntax error told by position only. */
static json_t *parse_secret(const char *data, size_t len,
			    struct claw_json_problem *p)
{
	json_error_t err;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (json_is_object(v))
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

/* application/json in any case, alone or followed by parameters. */
static bool content_type_json(const char *ct)
{
	if (!ct)
		return false;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, "application/json", 16) != 0)
		return false;
	ct += 16;
	ct += strspn(ct, " \t");
	return *ct == '\0' || *ct == ';';
}

int claw_http_parse_json_opt(struct claw_http_req *r,
			     const struct claw_json_field *fields,
			     unsigned opts, json_t **out)
{
	struct claw_json_problem p = {.error = CLAW_HE_INTERNAL};
	const char *ct = claw_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	json_t *obj;
	*out = NULL;
	if (r->body.len && !content_type_json(ct)) {
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

/* ------------------------------------------------------------ bounds */

/* How long a head or body phase may last; shortened under pressure. */
static uint64_t phase_limit_ms(const struct claw_httpd *h, enum conn_phase ph,
			       bool pressure)
{
	uint64_t ms = ph == PHASE_HEAD ? h->head_ms : h->body_ms;
	if (pressure) {
		uint64_t short_ms = ms / 10 < 1000 ? 1000 : ms / 10;
		if (short_ms < ms)
			ms = short_ms;
	}
	return ms;
}

/* Move c into phase ph as of now; wake the reaper when the new deadline
 * comes before the one it sleeps towards. */
static void conn_phase_set(struct claw_httpd *h, struct conn_track *c,
			   enum conn_phase ph)
{
	pthread_mutex_lock(&h->lock);
	c->phase = ph;
	c->since_ms = now_ms();
	if (ph != PHASE_BUSY && !c->cut &&
	    c->since_ms + phase_limit_ms(h, ph, h->n_open >= h->high_water) <
		    h->next_wake_ms)
		pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct claw_httpd *h = cls;
	struct conn_track *c;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		if (!c)
			return;
		pthread_mutex_lock(&h->lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			h->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		h->n_open--;
		pthread_mutex_unlock(&h->lock);
		free(c);
		*socket_context = NULL;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c = calloc(1, sizeof(*c));
	*socket_context = c;
	if (!c) {
		log_error("out of memory: a connection runs without deadlines");
		return;
	}
	c->fd = ci ? (int)ci->connect_fd : -1;
	c->phase = PHASE_HEAD;
	pthread_mutex_lock(&h->lock);
	c->since_ms = now_ms();
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->n_open++;
	bool pressure = h->n_open >= h->high_water;
	if (h->n_open == h->high_water ||
	    c->since_ms + phase_limit_ms(h, PHASE_HEAD, pressure) <
		    h->next_wake_ms)
		pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
}

/* Shut down every connection past its deadline; sleep until the next. */
static void *reaper_main(void *arg)
{
	struct claw_httpd *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->reaper_stop) {
		uint64_t now = now_ms(), next = UINT64_MAX;
		bool pressure = h->n_open >= h->high_water;
		for (struct conn_track *c = h->conns; c; c = c->next) {
			if (c->cut || c->phase == PHASE_BUSY || c->fd < 0)
				continue;
			uint64_t full = c->since_ms +
				phase_limit_ms(h, c->phase, false);
			uint64_t due = c->since_ms +
				phase_limit_ms(h, c->phase, pressure);
			if (due > now) {
				if (due < next)
					next = due;
				continue;
			}
			/* The descriptor is MHD's and still open: its
			 * connection is in the list, and leaves it (under
			 * this lock) before MHD closes it. */
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
			if (full > now)
				h->pressure_closed++;
			else
				h->deadline_closed++;
		}
		h->next_wake_ms = next;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&h->wake, &h->lock);
		} else {
			struct timespec ts = {
				.tv_sec = (time_t)(next / 1000u),
				.tv_nsec = (long)(next % 1000u) * 1000000L,
			};
			pthread_cond_timedwait(&h->wake, &h->lock, &ts);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Count one more request of the credential auth; NULL with *refused set
 * when it has per_token in flight already (or NULL when out of memory:
 * the request is then not counted). */
static struct token_slot *token_take(struct claw_httpd *h, const char *auth,
				     bool *refused)
{
	uint8_t hash[16];
	struct token_slot *s;
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)auth,
			   strlen(auth), h->tok_key, sizeof(h->tok_key));
	struct token_slot **b = &h->tokens[hash[0] % HTTPD_TOKEN_BUCKETS];
	pthread_mutex_lock(&h->tok_lock);
	for (s = *b; s; s = s->next)
		if (sodium_memcmp(s->hash, hash, sizeof(hash)) == 0)
			break;
	if (s && s->n >= h->per_token) {
		pthread_mutex_unlock(&h->tok_lock);
		*refused = true;
		return NULL;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&h->tok_lock);
			return NULL;
		}
		memcpy(s->hash, hash, sizeof(hash));
		s->next = *b;
		*b = s;
	}
	s->n++;
	pthread_mutex_unlock(&h->tok_lock);
	return s;
}

static void token_put(struct claw_httpd *h, struct token_slot *s)
{
	pthread_mutex_lock(&h->tok_lock);
	if (--s->n == 0) {
		struct token_slot **p =
			&h->tokens[s->hash[0] % HTTPD_TOKEN_BUCKETS];
		while (*p != s)
			p = &(*p)->next;
		*p = s->next;
		free(s);
	}
	pthread_mutex_unlock(&h->tok_lock);
}

void claw_httpd_stats(struct claw_httpd *h, struct claw_httpd_stats *out)
{
	pthread_mutex_lock(&h->lock);
	out->open = h->n_open;
	out->limit = h->limit;
	out->per_ip_limit = h->per_ip;
	out->per_token_limit =
		h->per_token == CLAW_HTTPD_NO_LIMIT ? 0 : h->per_token;
	out->deadline_closed = h->deadline_closed;
	out->pressure_closed = h->pressure_closed;
	pthread_mutex_unlock(&h->lock);
	out->rate_limited = atomic_load(&h->rate_limited);
}

/* ------------------------------------------------------------ requests */

static struct conn_track *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
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
	r->ct = conn_of(conn);
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
	if (claw_route_find(h->cfg->routes, h->cfg->n_routes, method, r->path,
			    &r->m))
		r->internal = true;
	if (h->per_token != CLAW_HTTPD_NO_LIMIT) {
		const char *auth = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		if (auth && *auth) {
			r->token = token_take(h, auth, &r->token_refused);
			if (r->token_refused)
				atomic_fetch_add(&h->rate_limited, 1);
		}
	}
	return r;
}

static void req_free(struct claw_http_req *r)
{
	claw_route_match_release(&r->m);
	if (r->token)
		token_put(r->httpd, r->token);
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
		if (r->ct)
			conn_phase_set(h, r->ct, PHASE_BODY);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large && !r->token_refused &&
		    claw_buf_append(&r->body, upload_data, *upload_data_size))
			r->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (r->ct)
		conn_phase_set(h, r->ct, PHASE_BUSY);
	claw_log_set_request_id(r->request_id);
	if (r->internal) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
	} else if (r->token_refused) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "more than %u requests at once with this credential; "
			 "retry later",
			 h->per_token);
		claw_http_add_header(r, "Retry-After", "1");
		claw_http_reply_std(r, CLAW_HE_RATE_LIMITED, msg);
	} else if (r->too_large) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "the request body is over %zu bytes; send less",
			 h->max_body);
		claw_http_reply_std(r, CLAW_HE_BODY_TOO_LARGE, msg);
	} else if (r->m.route) {
		r->m.route->fn(r, h->cfg->ctx);
	} else if (r->m.allow[0]) {
		claw_http_add_header(r, "Allow", r->m.allow);
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "%s is not allowed on this path; use %s", method,
			 r->m.allow);
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
	(void)toe;
	/* The next request's head is due from now (keep-alive). */
	struct conn_track *c = r ? r->ct : conn_of(conn);
	if (c)
		conn_phase_set(h, c, PHASE_HEAD);
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

/* MHD's messages (a refused connection is one), at most
 * HTTPD_MHD_LOG_PER_S a second: a flood must not flood the log. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct claw_httpd *h = cls;
	char msg[512];
	unsigned long long sec = now_ms() / 1000u;
	unsigned long long was = atomic_load(&h->log_sec);
	if (sec != was &&
	    atomic_compare_exchange_strong(&h->log_sec, &was, sec)) {
		atomic_store(&h->log_n, 0);
		unsigned dropped = atomic_exchange(&h->log_dropped, 0);
		if (dropped)
			log_warn("http server: %u more messages not logged",
				 dropped);
	}
	if (atomic_fetch_add(&h->log_n, 1) >= HTTPD_MHD_LOG_PER_S) {
		atomic_fetch_add(&h->log_dropped, 1);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http server: %s", msg);
}

/* The connection limit the open-file limit allows: the soft limit is
 * raised (up to the hard one) to fit limit plus a reserve. */
static unsigned fit_nofile(unsigned limit)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)limit + HTTPD_FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return limit;
	rlim_t cur = rl.rlim_cur;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want)
		? want
		: rl.rlim_max;
	if (rl.rlim_cur > cur && setrlimit(RLIMIT_NOFILE, &rl) == 0)
		cur = rl.rlim_cur;
	if (cur >= want) {
		log_info("raised the open-file limit to %llu for %u "
			 "connections",
			 (unsigned long long)cur, limit);
		return limit;
	}
	unsigned fit = cur > HTTPD_FD_RESERVE + 16
		? (unsigned)(cur - HTTPD_FD_RESERVE)
		: 16u;
	log_warn("the open-file limit (%llu) leaves room for %u connections, "
		 "not %u; raise it (ulimit -n, LimitNOFILE=)",
		 (unsigned long long)cur, fit, limit);
	return fit;
}

/* Resolve the bounds of cfg into h and start its reaper. */
static int bounds_init(struct claw_httpd *h,
		       const struct claw_httpd_config *cfg, char *errbuf,
		       size_t errlen)
{
	pthread_condattr_t ca;
	h->limit =
		fit_nofile(cfg->connection_limit ? cfg->connection_limit
						 : HTTPD_DEFAULT_CONNECTIONS);
	h->high_water = h->limit - h->limit / 8;
	h->per_token = cfg->per_token_limit ? cfg->per_token_limit
					    : HTTPD_DEFAULT_PER_TOKEN;
	h->head_ms = 1000ull *
		(cfg->head_timeout_s ? cfg->head_timeout_s
				     : HTTPD_DEFAULT_HEAD_S);
	h->body_ms = 1000ull *
		(cfg->body_timeout_s ? cfg->body_timeout_s
				     : HTTPD_DEFAULT_BODY_S);
	h->next_wake_ms = UINT64_MAX;
	randombytes_buf(h->tok_key, sizeof(h->tok_key));
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->tok_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&h->reaper, NULL, reaper_main, h);
	if (e) {
		snprintf(errbuf, errlen,
			 "unable to start the connection reaper: %s",
			 strerror(e));
		return -1;
	}
	h->reaper_running = true;
	return 0;
}

/* Stop the reaper and free what bounds_init and the connections left. */
static void bounds_release(struct claw_httpd *h)
{
	if (h->reaper_running) {
		pthread_mutex_lock(&h->lock);
		h->reaper_stop = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->reaper, NULL);
	}
	while (h->conns) { /* none once MHD stopped; for safety */
		struct conn_track *c = h->conns;
		h->conns = c->next;
		free(c);
	}
	for (size_t i = 0; i < HTTPD_TOKEN_BUCKETS; i++)
		while (h->tokens[i]) {
			struct token_slot *t = h->tokens[i];
			h->tokens[i] = t->next;
			free(t);
		}
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->tok_lock);
	sodium_memzero(h->tok_key, sizeof(h->tok_key));
}

static void httpd_free(struct claw_httpd *h)
{
	bounds_release(h);
	if (h->tls_key)
		explicit_bzero(h->tls_key, strlen(h->tls_key));
	free(h->tls_cert);
	free(h->tls_key);
	free(h);
}

enum claw_rc claw_httpd_start(const struct claw_httpd_config *cfg,
			      struct claw_httpd **out, char *errbuf,
			      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if (cfg->listen &&
	    claw_listen_addr(cfg->listen, &ss, &sslen, errbuf, errlen))
		return CLAW_ERR_INVALID;
	if (!cfg->listen && cfg->listen_fd < 0) {
		snprintf(errbuf, errlen,
			 "nothing to listen on: give an "
			 "address or a listening socket");
		return CLAW_ERR_INVALID;
	}
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
	if (bounds_init(h, cfg, errbuf, errlen)) {
		httpd_free(h);
		return CLAW_ERR_IO;
	}
	/* a quarter of the slots: one address alone never reaches the
	 * pressure mark (7/8) */
	unsigned per_ip =
		cfg->per_ip_limit ? cfg->per_ip_limit : (h->limit + 3) / 4;
	if (per_ip == CLAW_HTTPD_NO_LIMIT)
		per_ip = 0; /* MHD's "none" */
	h->per_ip = per_ip;
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	/* where: an address to bind, or the caller's listening socket */
	struct MHD_OptionItem where[] = {
		cfg->listen
			? (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss}
			: (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET,
						  cfg->listen_fd, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	h->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER,
		on_mhd_log, h, MHD_OPTION_ARRAY, where,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		MHD_OPTION_CONNECTION_LIMIT, h->limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->connection_timeout_s ? cfg->connection_timeout_s : 60u,
		MHD_OPTION_ARRAY, h->tls_cert ? tls_opts : tls_opts + 2,
		MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(errbuf, errlen,
			 "unable to listen on %s (address in use, not local, "
			 "or bad TLS files?)",
			 cfg->listen ? cfg->listen : "the given socket");
		httpd_free(h);
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
	httpd_free(h);
}
