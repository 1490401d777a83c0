/*
 * signal.c - Signal through a signal-cli daemon the tenant runs
 * (`signal-cli -a ACCOUNT daemon --http HOST:PORT`), over its documented
 * HTTP JSON-RPC interface (signal-cli-jsonrpc(5)).
 *
 * In: a background thread (bg.c) holds GET {api_base}/api/v1/events
 * (?account=ACCOUNT for a multi-account daemon), a stream of server-sent
 * "receive" events whose data is {"envelope": {...}, "account"} (the
 * notification's params; the JSON-RPC notification itself is accepted
 * too). Data messages become envelopes; receipts, typing, sync messages
 * (our own sends) and reactions are left. The sender is sourceNumber (or
 * the account's UUID when the number is hidden); a message in a group
 * (groupInfo.groupId) is a group message, mentioned when a mention names
 * our account. The dedupe key is sender + the message's timestamp (that
 * is a Signal message's identity). Each event is journaled before the
 * next is read; the stream's event id is then saved in
 * DATA-DIR/gateway/signal.last and sent back as Last-Event-ID on every
 * reconnection, so a daemon that keeps events (it keeps its last 1000)
 * sends what the gateway has not journaled - after a restart too - and
 * the rest are duplicates. Messages older than max_event_age_seconds are
 * dropped. The daemon has no authentication of its own: it must listen
 * only where the gateway alone reaches it (the tenant's network).
 * signal-cli sends a keep-alive every 15 s; the connection is renewed
 * every 10 minutes in any case.
 *
 * Out: POST {api_base}/api/v1/rpc, {"jsonrpc": "2.0", "method": "send",
 * "params": {"recipient": [sender] | "groupId", "message", "account"},
 * "id"}. A JSON-RPC error -3 (an I/O error: Signal's servers) and a
 * result whose recipient failed with RATE_LIMIT_FAILURE or
 * NETWORK_FAILURE are retried with backoff; other errors (-1 a user
 * error such as an unknown recipient, -4 an untrusted identity) are
 * final. Signal has no idempotency key: a send accepted whose answer was
 * lost is sent again. Pieces are at most 2000 code points (Signal
 * clients turn longer texts into attachments).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/file.h"
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "gw.h"

#define SG_ID_MAX 128
#define SG_EVENT_ID_MAX 128
#define SG_STREAM_MS 600000

/* --------------------------------------------------------------- parse */
static bool id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n && n <= SG_ID_MAX && !strpbrk(s, " \t\r\n\"\\");
}

static bool mentions_us(json_t *dm, const char *account)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(dm, "mentions"), i, m) {
		const char *num = gw_json_str(m, "number");
		const char *uuid = gw_json_str(m, "uuid");
		if ((num && strcmp(num, account) == 0) ||
		    (uuid && strcmp(uuid, account) == 0))
			return true;
	}
	return false;
}

static void add_attachments(json_t *env, json_t *dm)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(dm, "attachments"), i, a) {
		const char *id = gw_json_str(a, "id");
		const char *ct = gw_json_str(a, "contentType");
		const char *name = gw_json_str(a, "filename");
		char url[200];
		if (!id_ok(id))
			continue;
		snprintf(url, sizeof(url), "signal-attachment:%s", id);
		const char *kind = !ct              ? "file"
			: !strncmp(ct, "image/", 6) ? "image"
			: !strncmp(ct, "audio/", 6) ? "audio"
			: !strncmp(ct, "video/", 6) ? "video"
						    : "file";
		json_t *o = json_pack("{s:s, s:s}", "type", kind, "url", url);
		if (o && name && strlen(name) <= 256)
			json_object_set_new(o, "name", json_string(name));
		json_array_append_new(json_object_get(env, "attachments"), o);
	}
}

enum claw_rc gw_signal_parse(const struct gw_chan_conf *cc, const char *data,
			     size_t len, json_t **env_out)
{
	char id[2 * SG_ID_MAX + 40], conv[SG_ID_MAX + 32];
	enum claw_rc rc = CLAW_ERR_PARSE;
	json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *p = o;
	*env_out = NULL;
	const char *method = gw_json_str(o, "method");
	if (method) /* the JSON-RPC notification form */
		p = strcmp(method, "receive") == 0
			? json_object_get(o, "params")
			: NULL;
	json_t *e = json_object_get(p, "envelope");
	json_t *dm = json_object_get(e, "dataMessage");
	const char *acct = gw_json_str(p, "account");
	const char *num = gw_json_str(e, "sourceNumber");
	const char *uuid = gw_json_str(e, "sourceUuid");
	const char *legacy = gw_json_str(e, "source");
	const char *name = gw_json_str(e, "sourceName");
	const char *who = num ? num : uuid ? uuid : legacy;
	json_t *ts = json_object_get(dm, "timestamp");
	const char *text = gw_json_str(dm, "message");
	const char *gid = json_string_value(
		json_object_get(json_object_get(dm, "groupInfo"), "groupId"));
	if (!json_is_object(o))
		goto out;
	rc = CLAW_OK;
	if (method && strcmp(method, "receive") != 0)
		goto out; /* another notification */
	rc = CLAW_ERR_PARSE;
	if (!json_is_object(e) || (acct && !id_ok(acct)))
		goto out;
	rc = CLAW_OK;
	if (acct && cc->account_sid && strcmp(acct, cc->account_sid) != 0)
		goto out; /* another account of a multi-account daemon */
	if (!json_is_object(dm) || json_object_get(dm, "reaction") ||
	    json_object_get(dm, "remoteDelete"))
		goto out; /* receipts, typing, sync messages, reactions */
	rc = CLAW_ERR_PARSE;
	if (!id_ok(who) || !json_is_integer(ts) || (gid && !id_ok(gid)) ||
	    (json_object_get(dm, "message") && !text &&
	     !json_is_null(json_object_get(dm, "message"))))
		goto out;
	rc = CLAW_OK;
	if (!text && !json_array_size(json_object_get(dm, "attachments")))
		goto out; /* group updates, stickers... */
	snprintf(id, sizeof(id), "signal:%s:%lld", who,
		 (long long)json_integer_value(ts));
	if (gid)
		snprintf(conv, sizeof(conv), "signal:group:%s", gid);
	else
		snprintf(conv, sizeof(conv), "signal:%s", who);
	json_t *env = gw_env_new(
		GW_CH_SIGNAL, id, cc->account_sid ? cc->account_sid : "", conv,
		who, name && strlen(name) <= 256 ? name : NULL,
		text ? text : "", json_integer_value(ts) / 1000);
	if (!env) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	add_attachments(env, dm);
	json_object_set_new(env, GW_ENV_ROUTE,
			    gid ? json_pack("{s:s}", "group_id", gid)
				: json_pack("{s:s}", "recipient", who));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(gid != NULL));
	json_object_set_new(env, GW_ENV_MENTIONED,
			    json_boolean(gid && cc->account_sid &&
					 mentions_us(dm, cc->account_sid)));
	*env_out = env;
out:
	json_decref(o);
	return rc;
}

/* ----------------------------------------------- the last event id file */
#define SG_LAST_FILE "signal.last"

static void last_load(struct gw *g, char *out, size_t len)
{
	char *v = gw_mark_load(g, SG_LAST_FILE, SG_EVENT_ID_MAX);
	snprintf(out, len, "%s", v ? v : "");
	free(v);
}

static bool last_save(struct gw *g, const char *id)
{
	return gw_mark_save(g, SG_LAST_FILE, id, "the Signal last event id");
}

/* --------------------------------------------------------- the stream */
struct sg_state {
	char last[SG_EVENT_ID_MAX + 1]; /* the last journaled event's id */
	bool loaded;
};

struct sg_stream {
	struct gw *g;
	struct sg_state *s;
	struct claw_sse_parser sse;
	bool journal_failed;
	bool any; /* an event or a keep-alive arrived */
};

static enum claw_rc sg_event(const struct claw_sse_event *ev, void *cls)
{
	struct sg_stream *st = cls;
	json_t *env = NULL;
	if (strcmp(ev->event, "receive") != 0 && strcmp(ev->event, "message"))
		return CLAW_OK;
	struct gw_conf *c = gw_conf_get(st->g);
	if (gw_signal_parse(&c->ch[GW_CH_SIGNAL], ev->data, ev->data_len, &env))
		log_warn("signal: skipped a malformed event");
	env = gw_unless_stale(c, env);
	gw_conf_put(c);
	if (env && gw_ingest(st->g, env, true, NULL, 0) == GW_IN_ERROR) {
		st->journal_failed = true;
		return CLAW_ERR_IO; /* read it again after a reconnect */
	}
	if (*ev->id && strlen(ev->id) <= SG_EVENT_ID_MAX &&
	    !strpbrk(ev->id, "\r\n") && strcmp(ev->id, st->s->last) != 0 &&
	    last_save(st->g, ev->id))
		snprintf(st->s->last, sizeof(st->s->last), "%s", ev->id);
	return CLAW_OK;
}

static int sg_data(const char *data, size_t len, void *cls)
{
	struct sg_stream *st = cls;
	if (!st->any)
		gw_bg_connected(); /* the stream is open */
	st->any = true;
	if (atomic_load(&st->g->stopping))
		return 1;
	return claw_sse_feed(&st->sse, data, len) ? 1 : 0;
}

void *gw_signal_new(void)
{
	return calloc(1, sizeof(struct sg_state));
}

bool gw_signal_round(struct gw *g, void *cls, long *wait_ms)
{
	struct sg_state *s = cls;
	struct claw_httpc_resp resp;
	struct claw_buf url;
	char hdr[SG_EVENT_ID_MAX + 32];
	const char *headers[3] = {"Accept: text/event-stream", NULL, NULL};
	if (!s->loaded) {
		last_load(g, s->last, sizeof(s->last));
		s->loaded = true;
	}
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_SIGNAL];
	struct sg_stream st = {.g = g, .s = s};
	claw_sse_init(&st.sse, 0, sg_event, &st);
	claw_buf_init(&url, 4096);
	if (*s->last) {
		snprintf(hdr, sizeof(hdr), "Last-Event-ID: %s", s->last);
		headers[1] = hdr;
	}
	if (claw_buf_printf(&url, "%s/api/v1/events?account=", cc->api_base) ||
	    gw_url_escape(&url, cc->account_sid ? cc->account_sid : "")) {
		claw_buf_release(&url);
		claw_sse_release(&st.sse);
		gw_conf_put(c);
		return false;
	}
	struct claw_httpc_req req = {
		.url = url.data,
		.headers = headers,
		.timeout_ms = SG_STREAM_MS,
		.on_data = sg_data,
		.cls = &st,
		.ca_file = c->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	gw_conf_put(c);
	bool ok = (rc == CLAW_OK || rc == CLAW_ERR_TIMEOUT) &&
		resp.status == 200 && !st.journal_failed;
	if (atomic_load(&g->stopping))
		ok = true;
	else if (!ok)
		log_warn("signal: the event stream ended: %s",
			 st.journal_failed ? "a message could not be journaled"
				 : rc == CLAW_OK ? "not 200"
						 : resp.error);
	*wait_ms = -1;
	claw_httpc_resp_release(&resp);
	claw_buf_release(&url);
	claw_sse_release(&st.sse);
	return ok;
}

/* ----------------------------------------------------------- outbound */
void gw_signal_send(GW_SEND_ARGS)
{
	(void)g;
	char url[700], rid[37];
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_SIGNAL];
	const char *to = gw_route_str(env, "recipient");
	const char *gid = gw_route_str(env, "group_id");
	if (!cc->account_sid || (!id_ok(to) && !id_ok(gid))) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the signal channel is not configured");
		return;
	}
	gw_derived_uuid("signal-send", gw_env_str(env, "id"), res->part, rid);
	json_t *params = gid ? json_pack("{s:s}", "groupId", gid)
			     : json_pack("{s:[s]}", "recipient", to);
	json_object_set_new(params, "message", json_string(text));
	json_object_set_new(params, "account", json_string(cc->account_sid));
	json_t *body = json_pack("{s:s, s:s, s:o, s:s}", "jsonrpc", "2.0",
				 "method", "send", "params", params, "id", rid);
	if (!body) {
		res->st = GW_SEND_RETRY;
		return;
	}
	snprintf(url, sizeof(url), "%s/api/v1/rpc", cc->api_base);
	gw_post_json(c, url, NULL, NULL, body, res, &reply);
	json_t *err = json_object_get(reply, "error");
	json_t *code = json_object_get(err, "code");
	const char *m = gw_json_str(err, "message");
	size_t i;
	json_t *r;
	if (res->st == GW_SEND_OK && err) {
		/* -3: Signal's servers could not be reached; retry */
		res->st = json_integer_value(code) == -3 ? GW_SEND_RETRY
							 : GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "signal-cli: %lld: %.100s",
			 (long long)json_integer_value(code), m ? m : "");
	}
	/* per recipient: a group send that reached anyone is not repeated
	 * (that would repeat it for them) */
	size_t n_ok = 0, n_retry = 0, n_fail = 0;
	const char *why = NULL;
	json_array_foreach(
		json_object_get(json_object_get(reply, "result"), "results"), i,
		r) {
		const char *type = gw_json_str(r, "type");
		if (!type || strcmp(type, "SUCCESS") == 0) {
			n_ok++;
			continue;
		}
		why = type;
		if (!strcmp(type, "RATE_LIMIT_FAILURE") ||
		    !strcmp(type, "NETWORK_FAILURE"))
			n_retry++;
		else
			n_fail++;
	}
	if (res->st == GW_SEND_OK && why) {
		if (!n_ok)
			res->st = n_retry ? GW_SEND_RETRY : GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "signal: %.60s (%zu of %zu recipients)", why,
			 n_retry + n_fail, n_ok + n_retry + n_fail);
		if (n_ok)
			log_warn("signal: '%s' not delivered to every group "
				 "member: %s",
				 gw_env_str(env, "id"), res->detail);
	}
	json_decref(reply);
	json_decref(body);
}
