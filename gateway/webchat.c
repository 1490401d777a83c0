/*
 * webchat.c - the web chat channel: a small widget page (GET /chat), a
 * per-visitor session cookie (random, HttpOnly, SameSite=Strict, Path=/chat),
 * messages posted as JSON (POST /chat/messages, which goes through the
 * same journal and workers as every channel) and replies streamed back as
 * server-sent events (GET /chat/events): "delta" events while the agent
 * writes, then the whole reply as a "message" event. The visitor id the runtime sees
 * is a hash of the cookie, never the cookie itself. Replies wait in a
 * per-visitor mailbox (bounded) until the page listens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/sse.h"
#include "errors.h"
#include "gw.h"

#define COOKIE "claw_chat"
#define BOX_MAX 100
#define BOX_IDLE_S 3600
#define PING_S 15

struct box {
	struct claw_buf out; /* formatted events not yet sent */
	unsigned queued;
	int listeners;
	double last_used;
};

struct gw_webchat {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gw_map *boxes; /* visitor id -> struct box */
};

static void box_free(void *p)
{
	struct box *b = p;
	claw_buf_release(&b->out);
	free(b);
}

enum claw_rc gw_webchat_new(struct gw_webchat **out)
{
	struct gw_webchat *w = calloc(1, sizeof(*w));
	if (!w)
		return CLAW_ERR_NOMEM;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->boxes = gw_map_new();
	if (!w->boxes) {
		free(w);
		return CLAW_ERR_NOMEM;
	}
	*out = w;
	return CLAW_OK;
}

void gw_webchat_free(struct gw_webchat *w)
{
	if (!w)
		return;
	gw_map_free(w->boxes, box_free);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static bool prune_idle(const char *key, void *val, void *cls)
{
	(void)key;
	struct box *b = val;
	if (!b->listeners && *(double *)cls - b->last_used > BOX_IDLE_S) {
		box_free(b);
		return true;
	}
	return false;
}

/* The box of a visitor, created on demand. mu held. */
static struct box *box_get(struct gw_webchat *w, const char *visitor)
{
	struct box *b = gw_map_get(w->boxes, visitor);
	double now = gw_now();
	if (!b) {
		gw_map_each(w->boxes, prune_idle, &now);
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		claw_buf_init(&b->out, 1 << 20);
		if (gw_map_put(w->boxes, visitor, b, NULL)) {
			box_free(b);
			return NULL;
		}
	}
	b->last_used = now;
	return b;
}

void gw_webchat_push(struct gw_webchat *w, const char *visitor,
		     const char *event, const char *text)
{
	json_t *o = json_pack("{s:s}", "text", text);
	char *data = o ? claw_json_dumps(o) : NULL;
	json_decref(o);
	if (!data)
		return;
	pthread_mutex_lock(&w->mu);
	struct box *b = box_get(w, visitor);
	if (b && b->queued < BOX_MAX &&
	    !claw_sse_write(&b->out, event, data, strlen(data)))
		b->queued++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	free(data);
}

/* The session cookie's value when it looks like one of ours. */
static bool session_of(struct claw_http_req *r, char *out, size_t len)
{
	const char *h = claw_http_header(r, "Cookie");
	const char *p = h;
	while (p && (p = strstr(p, COOKIE "=")) != NULL) {
		if (p == h || p[-1] == ' ' || p[-1] == ';') {
			p += strlen(COOKIE "=");
			size_t n = strcspn(p, "; ");
			if (n < 20 || n >= len)
				return false;
			for (size_t i = 0; i < n; i++) {
				char ch = p[i];
				if (!((ch >= 'a' && ch <= 'z') ||
				      (ch >= 'A' && ch <= 'Z') ||
				      (ch >= '0' && ch <= '9') || ch == '-' ||
				      ch == '_'))
					return false;
			}
			snprintf(out, len, "%.*s", (int)n, p);
			return true;
		}
		p++;
	}
	return false;
}

static void visitor_of(const char *session, char out[33])
{
	char h[65];
	claw_blake2b_hex(session, strlen(session), h);
	snprintf(out, 33, "%.32s", h);
}

/* Make sure the visitor has a session; sets the cookie when new. */
static void ensure_session(struct claw_http_req *r, char *session, size_t len)
{
	char cookie[200];
	if (session_of(r, session, len))
		return;
	claw_random_token("wc_", session, len);
	const char *proto = claw_http_header(r, "X-Forwarded-Proto");
	snprintf(cookie, sizeof(cookie),
		 COOKIE "=%s; Path=/chat; HttpOnly; SameSite=Strict; "
			"Max-Age=2592000%s",
		 session,
		 proto && strcmp(proto, "https") == 0 ? "; Secure" : "");
	claw_http_add_header(r, "Set-Cookie", cookie);
}

static const char page[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width\">"
	"<title>Chat</title><style>"
	"body{font:15px system-ui,sans-serif;margin:0;display:flex;"
	"flex-direction:column;height:100vh}"
	"#log{flex:1;overflow:auto;padding:12px}"
	".m{margin:6px 0;padding:8px 10px;border-radius:8px;max-width:80%;"
	"white-space:pre-wrap}.me{background:#dbeafe;margin-left:auto}"
	".bot{background:#f1f5f9}form{display:flex;padding:8px;gap:8px;"
	"border-top:1px solid #ddd}input{flex:1;padding:8px}"
	"</style></head><body><div id=\"log\"></div>"
	"<form id=\"f\"><input id=\"t\" autocomplete=\"off\" "
	"placeholder=\"Type a message\" maxlength=\"8000\"><button>Send"
	"</button></form><script>\n"
	"const log=document.getElementById('log');\n"
	"function add(text,cls){const d=document.createElement('div');"
	"d.className='m '+cls;d.textContent=text;log.appendChild(d);"
	"log.scrollTop=log.scrollHeight;}\n"
	"let cur=null;\n"
	"const es=new EventSource('/chat/events');\n"
	"es.addEventListener('delta',e=>{if(!cur){add('','bot');"
	"cur=log.lastChild;}cur.textContent+=JSON.parse(e.data).text;"
	"log.scrollTop=log.scrollHeight;});\n"
	"es.addEventListener('message',e=>{const t=JSON.parse(e.data).text;"
	"if(cur){cur.textContent=t;cur=null;}else add(t,'bot');});\n"
	"document.getElementById('f').onsubmit=async ev=>{ev.preventDefault();"
	"const t=document.getElementById('t');const text=t.value.trim();"
	"if(!text)return;t.value='';add(text,'me');"
	"const id=(crypto.randomUUID?crypto.randomUUID():String(Date.now()));"
	"await fetch('/chat/messages',{method:'POST',credentials:'same-origin',"
	"headers:{'Content-Type':'application/json'},"
	"body:JSON.stringify({id,text})});};\n"
	"</script></body></html>\n";

/* False (with the 404 sent) when web chat is off. */
static bool webchat_on(struct claw_http_req *r, struct gw *g)
{
	struct gw_conf *c = gw_conf_get(g);
	bool on = c->ch[GW_CH_WEBCHAT].enabled;
	gw_conf_put(c);
	if (!on)
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "web chat is not enabled");
	return on;
}

void gw_webchat_page(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	char session[64];
	if (!webchat_on(r, g))
		return;
	ensure_session(r, session, sizeof(session));
	claw_http_add_header(r, "Content-Security-Policy",
			     "default-src 'self'; script-src 'unsafe-inline'; "
			     "style-src 'unsafe-inline'");
	claw_http_add_header(r, "X-Content-Type-Options", "nosniff");
	claw_http_reply_raw(r, 200, "text/html; charset=utf-8", page,
			    sizeof(page) - 1);
}

void gw_webchat_post(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	char session[64], visitor[33], id[200], conv[64], cid[65];
	const char *text = NULL, *client_id = NULL;
	json_t *body = NULL;
	if (!webchat_on(r, g))
		return;
	const char *ct = claw_http_header(r, "Content-Type");
	if (!ct || strncmp(ct, "application/json", 16) != 0) {
		claw_http_reply_std(r, CLAW_HE_UNSUPPORTED_MEDIA_TYPE, NULL);
		return;
	}
	struct claw_json_field f[] = {
		{"text", CLAW_JSON_STRING, true, &text, 0},
		{"id", CLAW_JSON_STRING, false, &client_id, 64},
		{NULL},
	};
	if (claw_http_parse_json(r, f, &body))
		return;
	ensure_session(r, session, sizeof(session));
	visitor_of(session, visitor);
	if (client_id) {
		/* the client's id makes a resent message a duplicate */
		char h[65];
		claw_blake2b_hex(client_id, strlen(client_id), h);
		snprintf(cid, sizeof(cid), "%.24s", h);
	} else {
		claw_random_hex(12, cid);
	}
	snprintf(id, sizeof(id), "webchat:%s:%s", visitor, cid);
	snprintf(conv, sizeof(conv), "webchat:%s", visitor);
	json_t *env = gw_env_new(GW_CH_WEBCHAT, id, "webchat", conv, visitor,
				 NULL, text, gw_unix_now());
	json_decref(body);
	if (!env) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s}", "visitor", visitor));
	json_object_set_new(env, GW_ENV_GROUP, json_false());
	enum gw_ingest_result res = gw_ingest(g, env, true, NULL, 0);
	if (res == GW_IN_ERROR) {
		gw_ack(r, res);
		return;
	}
	claw_http_reply_json(
		r, 202,
		json_pack("{s:s, s:b}", "id", id, "accepted",
			  res == GW_IN_ACCEPTED || res == GW_IN_DUPLICATE));
}

void gw_webchat_send(GW_SEND_ARGS)
{
	(void)c;
	const char *visitor = json_string_value(
		json_object_get(json_object_get(env, GW_ENV_ROUTE), "visitor"));
	if (!visitor) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail), "no visitor");
		return;
	}
	gw_webchat_push(g->webchat, visitor, "message", text);
	res->st = GW_SEND_OK;
}

struct listener {
	struct gw *g;
	char visitor[33];
	double last_write;
};

static ssize_t events_next(void *cls, char *out, size_t max)
{
	struct listener *l = cls;
	struct gw_webchat *w = l->g->webchat;
	ssize_t n = 0;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&w->mu);
	struct box *b = box_get(w, l->visitor);
	if (b && !b->out.len)
		pthread_cond_timedwait(&w->cv, &w->mu, &until);
	b = box_get(w, l->visitor);
	if (b && b->out.len) {
		n = (ssize_t)(b->out.len < max ? b->out.len : max);
		memcpy(out, b->out.data, (size_t)n);
		claw_buf_consume(&b->out, (size_t)n);
		if (!b->out.len)
			b->queued = 0;
	}
	pthread_mutex_unlock(&w->mu);
	if (atomic_load(&l->g->stopping))
		return -1;
	if (!n && gw_now() - l->last_write > PING_S && max > 8) {
		memcpy(out, ": ping\n\n", 8);
		n = 8;
	}
	if (n)
		l->last_write = gw_now();
	return n;
}

static void listener_free(void *cls)
{
	struct listener *l = cls;
	pthread_mutex_lock(&l->g->webchat->mu);
	struct box *b = gw_map_get(l->g->webchat->boxes, l->visitor);
	if (b)
		b->listeners--;
	pthread_mutex_unlock(&l->g->webchat->mu);
	free(l);
}

void gw_webchat_events(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	char session[64];
	if (!webchat_on(r, g))
		return;
	if (!session_of(r, session, sizeof(session))) {
		gw_reply_error(r, GW_E_NO_SESSION,
			       "open /chat first to get a session");
		return;
	}
	struct listener *l = calloc(1, sizeof(*l));
	if (!l) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	l->g = g;
	l->last_write = gw_now();
	visitor_of(session, l->visitor);
	pthread_mutex_lock(&g->webchat->mu);
	struct box *b = box_get(g->webchat, l->visitor);
	if (b)
		b->listeners++;
	pthread_mutex_unlock(&g->webchat->mu);
	if (!b) {
		free(l);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_stream(r, 200, "text/event-stream", events_next, l,
			       listener_free);
}
