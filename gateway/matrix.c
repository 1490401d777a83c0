/*
 * matrix.c - Matrix through the client-server API, as a bot account:
 * /sync long polling in, room messages out.
 *
 * In: a background thread (bg.c) runs GET /_matrix/client/v3/sync with
 * the bot's access token (the secret matrix_access_token), a 10 s server
 * timeout and the last next_batch token, again and again. The token is
 * kept in DATA-DIR/gateway/matrix.since (written and synced after the
 * batch's messages are journaled, so a crash re-reads a batch - its
 * messages are then duplicates - and never skips one). The first sync of
 * an install reads no history: it only records where "now" is. Rooms the
 * bot is invited to are joined. In joined rooms, m.room.message events
 * from others (m.text, m.emote, and m.image/m.file/m.audio/m.video as
 * matrix-media:<mxc URL> attachments; m.notice - what bots send - and
 * edits are left) become envelopes: id matrix:<event id>, one
 * conversation per room. A room of more than two joined members is a
 * group; the bot is mentioned when m.mentions names it, or the body or
 * a matrix.to link holds its user id. Events older than
 * max_event_age_seconds are dropped. Encrypted rooms are refused: the
 * bot cannot read m.room.encrypted events, and the room is told so once
 * per run (an m.notice saying to use a room without encryption).
 * The homeserver's access token is the only authentication: the sync
 * response comes from the configured server over TLS (api_base).
 *
 * Out: PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}
 * with the piece as an m.text body, the first piece of a group reply
 * referring to the message (m.in_reply_to). The transaction id is
 * derived from the message id and the piece, so a retry after a lost
 * answer or a replay after a crash is the same transaction, which the
 * homeserver applies once. Pieces are at most 32000 bytes of JSON text
 * (an event may take 65536 bytes). 429 M_LIMIT_EXCEEDED waits for
 * Retry-After or retry_after_ms; sync errors back off (bg.c).
 */
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/file.h"
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define MX_ID_MAX 200
#define MX_SINCE_MAX 1024
#define MX_POLL_MS 10000
#define MX_SYNC_MAX (8u << 20)
#define MX_NOTIFIED_MAX 256

static const char encrypted_text[] =
	"This room is end-to-end encrypted, and this assistant cannot read "
	"encrypted messages. Please talk to it in a room without "
	"encryption.";

struct mx_state {
	char *since;      /* next_batch, NULL before the first sync */
	bool loaded;      /* since read from the data volume */
	json_t *members;  /* room id -> joined members (int) */
	json_t *notified; /* room id -> true: told it is encrypted */
};

void *gw_matrix_new(void)
{
	struct mx_state *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->members = json_object();
	s->notified = json_object();
	if (!s->members || !s->notified) {
		gw_matrix_free(s);
		return NULL;
	}
	return s;
}

void gw_matrix_free(void *state)
{
	struct mx_state *s = state;
	if (!s)
		return;
	free(s->since);
	json_decref(s->members);
	json_decref(s->notified);
	free(s);
}

void gw_matrix_txn_id(const char *id, int part, char out[40])
{
	uint8_t h[16];
	char hex[33], tail[16];
	crypto_generichash_state st;
	int n = snprintf(tail, sizeof(tail), ":%d", part);
	crypto_generichash_init(&st, (const unsigned char *)"matrix-txn", 10,
				sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_update(&st, (const unsigned char *)tail, (size_t)n);
	crypto_generichash_final(&st, h, sizeof(h));
	claw_hex_encode(h, sizeof(h), hex);
	snprintf(out, 40, "claw%s", hex);
}

/* ------------------------------------------------------------- parse */
static bool id_ok(const char *s, char sigil)
{
	size_t n = s ? strlen(s) : 0;
	return n > 1 && n <= MX_ID_MAX && s[0] == sigil &&
		!strpbrk(s, " \t\r\n/\\?#");
}

bool gw_matrix_appservice(const struct gw_chan_conf *cc)
{
	return cc->mode && strcmp(cc->mode, "appservice") == 0;
}

/* "Bearer <token>": the bot's access token, or an application service's
 * as_token. */
static void mx_auth(const struct gw_chan_conf *cc, char *out, size_t len)
{
	const struct gw_secret *t =
		gw_matrix_appservice(cc) ? &cc->s2 : &cc->s1;
	snprintf(out, len, "Bearer %s", t->val ? t->val : "");
}

/* An application service acts as its bot through ?user_id= (identity
 * assertion); url has no query yet. */
static enum claw_rc mx_as_user(const struct gw_chan_conf *cc,
			       struct claw_buf *url)
{
	if (!gw_matrix_appservice(cc))
		return CLAW_OK;
	if (claw_buf_puts(url, "?user_id="))
		return CLAW_ERR_NOMEM;
	return gw_url_escape(url, cc->bot_user_id);
}

static bool mentions_bot(json_t *content, const char *bot)
{
	size_t i;
	json_t *u;
	const char *body = gw_json_str(content, "body");
	const char *html = gw_json_str(content, "formatted_body");
	char link[MX_ID_MAX + 32];
	json_array_foreach(
		json_object_get(json_object_get(content, "m.mentions"),
				"user_ids"),
		i, u) {
		if (json_is_string(u) && strcmp(json_string_value(u), bot) == 0)
			return true;
	}
	snprintf(link, sizeof(link), "matrix.to/#/%s", bot);
	return (body && strstr(body, bot)) || (html && strstr(html, link));
}

/* One m.room.message into an envelope (NULL when it is not for us). */
static enum claw_rc message_env(const struct gw_chan_conf *cc, const char *room,
				json_t *ev, bool group, json_t **env_out)
{
	char id[MX_ID_MAX + 16], conv[MX_ID_MAX + 16], url[600];
	const char *eid = gw_json_str(ev, "event_id");
	const char *sender = gw_json_str(ev, "sender");
	json_t *content = json_object_get(ev, "content");
	json_t *ts = json_object_get(ev, "origin_server_ts");
	const char *mt = gw_json_str(content, "msgtype");
	const char *body = gw_json_str(content, "body");
	const char *rel = gw_json_str(json_object_get(content, "m.relates_to"),
				      "rel_type");
	*env_out = NULL;
	if (!id_ok(eid, '$') || !id_ok(sender, '@') || !json_is_integer(ts))
		return CLAW_ERR_PARSE;
	if (!mt || !body || strcmp(sender, cc->bot_user_id) == 0 ||
	    (rel && strcmp(rel, "m.replace") == 0))
		return CLAW_OK; /* our own, edits, redacted, malformed content */
	bool text = !strcmp(mt, "m.text") || !strcmp(mt, "m.emote");
	const char *kind = !strcmp(mt, "m.image") ? "image"
		: !strcmp(mt, "m.audio")          ? "audio"
		: !strcmp(mt, "m.video")          ? "video"
		: !strcmp(mt, "m.file")           ? "file"
						  : NULL;
	if (!text && !kind)
		return CLAW_OK; /* m.notice (bots), locations, polls... */
	snprintf(id, sizeof(id), "matrix:%s", eid);
	snprintf(conv, sizeof(conv), "matrix:%s", room);
	struct claw_buf b;
	claw_buf_init(&b, 0);
	if (claw_buf_printf(&b, "%s%s", strcmp(mt, "m.emote") ? "" : "* ",
			    kind ? "" : body)) {
		claw_buf_release(&b);
		return CLAW_ERR_NOMEM;
	}
	json_t *env = gw_env_new(GW_CH_MATRIX, id, cc->bot_user_id, conv,
				 sender, NULL, b.data ? b.data : "",
				 json_integer_value(ts) / 1000);
	claw_buf_release(&b);
	if (!env)
		return CLAW_ERR_NOMEM;
	const char *mxc = gw_json_str(content, "url");
	if (kind && mxc && strncmp(mxc, "mxc://", 6) == 0 &&
	    strlen(mxc) <= 512) {
		snprintf(url, sizeof(url), "matrix-media:%s", mxc);
		json_t *a = json_pack("{s:s, s:s}", "type", kind, "url", url);
		if (a && strlen(body) <= 256)
			json_object_set_new(a, "name", json_string(body));
		json_array_append_new(json_object_get(env, "attachments"), a);
	}
	json_object_set_new(
		env, GW_ENV_ROUTE,
		json_pack("{s:s, s:s}", "room_id", room, "event_id", eid));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(
		env, GW_ENV_MENTIONED,
		json_boolean(group && mentions_bot(content, cc->bot_user_id)));
	*env_out = env;
	return CLAW_OK;
}

/* One joined room's timeline into out. */
static enum claw_rc joined_room(const struct gw_chan_conf *cc, const char *room,
				json_t *r, const json_t *members, json_t *out)
{
	size_t i;
	json_t *ev;
	json_t *count = json_object_get(json_object_get(r, "summary"),
					"m.joined_member_count");
	if (json_is_integer(count))
		json_object_set(json_object_get(out, "members"), room, count);
	else
		count = json_object_get(members, room);
	bool group = json_integer_value(count) > 2;
	json_t *events =
		json_object_get(json_object_get(r, "timeline"), "events");
	if (events && !json_is_array(events))
		return CLAW_ERR_PARSE;
	bool encrypted = false;
	json_array_foreach(events, i, ev) {
		const char *type = gw_json_str(ev, "type");
		json_t *env = NULL;
		if (!type)
			return CLAW_ERR_PARSE;
		if (!strcmp(type, "m.room.encrypted")) {
			encrypted = true;
			continue;
		}
		if (strcmp(type, "m.room.message") != 0)
			continue;
		enum claw_rc rc = message_env(cc, room, ev, group, &env);
		if (rc)
			return rc;
		if (env)
			json_array_append_new(json_object_get(out, "envelopes"),
					      env);
	}
	if (encrypted)
		json_array_append_new(json_object_get(out, "encrypted"),
				      json_string(room));
	return CLAW_OK;
}

enum claw_rc gw_matrix_parse(const struct gw_chan_conf *cc, const char *body,
			     size_t len, const json_t *members, json_t **out)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	const char *room;
	json_t *r;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *rooms = json_object_get(o, "rooms");
	json_t *join = json_object_get(rooms, "join");
	json_t *invite = json_object_get(rooms, "invite");
	const char *next = gw_json_str(o, "next_batch");
	json_t *res = json_pack("{s:[], s:[], s:[], s:{}}", "envelopes",
				"invites", "encrypted", "members");
	*out = NULL;
	if (!res) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!cc->bot_user_id || !next || !*next ||
	    strlen(next) > MX_SINCE_MAX || (rooms && !json_is_object(rooms)) ||
	    (join && !json_is_object(join)) ||
	    (invite && !json_is_object(invite)))
		goto out;
	json_object_set_new(res, "next_batch", json_string(next));
	json_object_foreach(join, room, r) {
		if (!id_ok(room, '!') || !json_is_object(r))
			goto out;
		rc = joined_room(cc, room, r, members, res);
		if (rc)
			goto out;
		rc = CLAW_ERR_PARSE;
	}
	json_object_foreach(invite, room, r) {
		if (!id_ok(room, '!'))
			goto out;
		json_array_append_new(json_object_get(res, "invites"),
				      json_string(room));
	}
	rc = CLAW_OK;
	*out = res;
	res = NULL;
out:
	json_decref(res);
	json_decref(o);
	return rc;
}

/* An application service transaction's one event into res. */
static enum claw_rc as_event(const struct gw_chan_conf *cc, json_t *ev,
			     const json_t *members, json_t *res)
{
	const char *type = gw_json_str(ev, "type");
	const char *room = gw_json_str(ev, "room_id");
	json_t *env = NULL;
	if (!type || !id_ok(room, '!'))
		return CLAW_ERR_PARSE;
	if (!strcmp(type, "m.room.member")) {
		const char *who = gw_json_str(ev, "state_key");
		const char *m = gw_json_str(json_object_get(ev, "content"),
					    "membership");
		if (who && m && !strcmp(who, cc->bot_user_id) &&
		    !strcmp(m, "invite"))
			json_array_append_new(json_object_get(res, "invites"),
					      json_string(room));
		return CLAW_OK;
	}
	if (!strcmp(type, "m.room.encrypted")) {
		json_array_append_new(json_object_get(res, "encrypted"),
				      json_string(room));
		return CLAW_OK;
	}
	if (strcmp(type, "m.room.message") != 0)
		return CLAW_OK;
	/* a room whose members are unknown is a group: mention to talk */
	json_t *count = json_object_get(members, room);
	bool group = !json_is_integer(count) || json_integer_value(count) > 2;
	enum claw_rc rc = message_env(cc, room, ev, group, &env);
	if (!rc && env)
		json_array_append_new(json_object_get(res, "envelopes"), env);
	return rc;
}

enum claw_rc gw_matrix_as_parse(const struct gw_chan_conf *cc, const char *body,
				size_t len, const json_t *members, json_t **out)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	size_t i;
	json_t *ev;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *events = json_object_get(o, "events");
	json_t *res = json_pack("{s:[], s:[], s:[]}", "envelopes", "invites",
				"encrypted");
	*out = NULL;
	if (!res) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!cc->bot_user_id || !json_is_array(events))
		goto out;
	rc = CLAW_OK;
	json_array_foreach(events, i, ev) {
		rc = as_event(cc, ev, members, res);
		if (rc)
			goto out;
	}
	*out = res;
	res = NULL;
out:
	json_decref(res);
	json_decref(o);
	return rc;
}

/* ------------------------------------------------- the since token file */
#define MX_SINCE_FILE "matrix.since"

static void since_load(struct gw *g, struct mx_state *s)
{
	s->loaded = true;
	s->since = gw_mark_load(g, MX_SINCE_FILE, MX_SINCE_MAX);
	if (s->since)
		log_info("matrix: resuming /sync after the saved position");
}

static bool since_save(struct gw *g, const char *since)
{
	return gw_mark_save(g, MX_SINCE_FILE, since,
			    "the Matrix /sync position");
}

/* ---------------------------------------------------------- the round */
/* The server's M_LIMIT_EXCEEDED retry_after_ms into res (when no
 * Retry-After header said it). */
static void limit_wait(const json_t *reply, struct gw_send_res *res)
{
	json_t *ra = json_object_get(reply, "retry_after_ms");
	if (res->http_status == 429 && res->retry_after_ms < 0 &&
	    json_is_integer(ra) && json_integer_value(ra) >= 0 &&
	    json_integer_value(ra) < 86400000)
		res->retry_after_ms = (long)json_integer_value(ra);
}

static void mx_detail(const json_t *reply, struct gw_send_res *res)
{
	const char *code = gw_json_str(reply, "errcode");
	const char *m = gw_json_str(reply, "error");
	if (res->st != GW_SEND_OK && code)
		snprintf(res->detail, sizeof(res->detail),
			 "matrix: HTTP %ld %.30s: %.90s", res->http_status,
			 code, m ? m : "");
}

static enum claw_rc sync_get(const struct gw_conf *c, const char *since,
			     struct claw_buf *out, struct gw_send_res *res)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATRIX];
	static const char filter[] =
		"{\"room\":{\"timeline\":{\"limit\":50},\"state\":"
		"{\"lazy_load_members\":true}},\"presence\":{\"not_types\":"
		"[\"*\"]},\"account_data\":{\"not_types\":[\"*\"]}}";
	struct claw_buf url;
	struct claw_httpc_resp resp;
	char *auth = NULL;
	claw_buf_init(&url, 8192);
	if (claw_buf_printf(&url, "%s/_matrix/client/v3/sync?timeout=%d",
			    cc->api_base, since ? MX_POLL_MS : 0) ||
	    (since &&
	     (claw_buf_puts(&url, "&since=") || gw_url_escape(&url, since))) ||
	    claw_buf_puts(&url, "&filter=") || gw_url_escape(&url, filter) ||
	    asprintf(&auth, "Authorization: Bearer %s", cc->s1.val) < 0) {
		claw_buf_release(&url);
		res->st = GW_SEND_RETRY;
		return CLAW_ERR_NOMEM;
	}
	const char *headers[] = {auth, NULL};
	struct claw_httpc_req req = {
		.url = url.data,
		.headers = headers,
		.timeout_ms = MX_POLL_MS + 30000,
		.max_response = MX_SYNC_MAX,
		.ca_file = c->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	sodium_memzero(auth, strlen(auth));
	free(auth);
	claw_buf_release(&url);
	gw_send_classify(rc, &resp, res);
	if (res->st == GW_SEND_OK)
		rc = claw_buf_append(out, resp.body.data ? resp.body.data : "",
				     resp.body.len);
	else if (rc == CLAW_OK) {
		json_t *reply = json_loadb(resp.body.data ? resp.body.data : "",
					   resp.body.len, 0, NULL);
		limit_wait(reply, res);
		mx_detail(reply, res);
		json_decref(reply);
		rc = CLAW_ERR_IO;
	}
	claw_httpc_resp_release(&resp);
	return rc;
}

static void join_room(const struct gw_conf *c, const char *room)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATRIX];
	struct claw_buf url;
	struct gw_send_res res = {0};
	char auth[8300];
	json_t *reply = NULL;
	claw_buf_init(&url, 4096);
	mx_auth(cc, auth, sizeof(auth));
	if (!claw_buf_printf(&url, "%s/_matrix/client/v3/join/",
			     cc->api_base) &&
	    !gw_url_escape(&url, room) && !mx_as_user(cc, &url)) {
		json_t *body = json_object();
		gw_post_json(c, url.data, auth, NULL, body, &res, &reply);
		json_decref(body);
		mx_detail(reply, &res);
		if (res.st == GW_SEND_OK)
			log_info("matrix: joined '%s' (invited)", room);
		else
			log_warn("matrix: unable to join '%s': %s", room,
				 res.detail);
	}
	sodium_memzero(auth, sizeof(auth));
	json_decref(reply);
	claw_buf_release(&url);
}

long gw_matrix_joined(const struct gw_conf *c, const char *room)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATRIX];
	struct claw_buf url;
	struct gw_send_res res = {0};
	char auth[8300];
	json_t *reply = NULL;
	long n = -1;
	claw_buf_init(&url, 4096);
	mx_auth(cc, auth, sizeof(auth));
	if (id_ok(room, '!') &&
	    !claw_buf_printf(&url, "%s/_matrix/client/v3/rooms/",
			     cc->api_base) &&
	    !gw_url_escape(&url, room) &&
	    !claw_buf_puts(&url, "/joined_members") && !mx_as_user(cc, &url)) {
		gw_post_json(c, url.data, auth, "GET", NULL, &res, &reply);
		json_t *joined = json_object_get(reply, "joined");
		if (res.st == GW_SEND_OK && json_is_object(joined))
			n = (long)json_object_size(joined);
		else
			log_warn("matrix: unable to read the members of '%s': "
				 "%s",
				 room, res.detail);
	}
	sodium_memzero(auth, sizeof(auth));
	json_decref(reply);
	claw_buf_release(&url);
	return n;
}

/* Tell an encrypted room, once per run, that it cannot be read. */
static void refuse_encrypted(struct gw *g, json_t *notified,
			     const struct gw_conf *c, const char *room)
{
	char id[MX_ID_MAX + 32], conv[MX_ID_MAX + 16];
	if (json_object_get(notified, room) ||
	    json_object_size(notified) >= MX_NOTIFIED_MAX)
		return;
	json_object_set_new(notified, room, json_true());
	log_warn("matrix: room '%s' is end-to-end encrypted; its messages "
		 "cannot be read and are not answered",
		 room);
	snprintf(id, sizeof(id), "matrix:encrypted:%s", room);
	snprintf(conv, sizeof(conv), "matrix:%s", room);
	json_t *env =
		gw_env_new(GW_CH_MATRIX, id, c->ch[GW_CH_MATRIX].bot_user_id,
			   conv, "", NULL, "", gw_unix_now());
	if (!env)
		return;
	json_object_set_new(
		env, GW_ENV_ROUTE,
		json_pack("{s:s, s:b}", "room_id", room, "notice", 1));
	gw_queue_notice(g, env, encrypted_text);
}

bool gw_matrix_take(struct gw *g, json_t *notified, json_t *members,
		    const struct gw_conf *c, const json_t *batch, bool first)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(batch, "invites"), i, v)
		join_room(c, json_string_value(v));
	if (members && json_object_get(batch, "members"))
		json_object_update(members, json_object_get(batch, "members"));
	if (first)
		return true; /* history is not answered */
	json_array_foreach(json_object_get(batch, "encrypted"), i, v)
		refuse_encrypted(g, notified, c, json_string_value(v));
	json_array_foreach(json_object_get(batch, "envelopes"), i, v) {
		if (gw_drop_stale(c, v))
			continue;
		if (gw_ingest(g, json_incref(v), true, NULL, 0) == GW_IN_ERROR)
			return false;
	}
	return true;
}

bool gw_matrix_round(struct gw *g, void *cls, long *wait_ms)
{
	struct mx_state *s = cls;
	struct claw_buf body;
	struct gw_send_res res = {0};
	json_t *batch = NULL;
	bool ok = false;
	struct gw_conf *c = gw_conf_get(g);
	if (gw_matrix_appservice(&c->ch[GW_CH_MATRIX])) {
		log_info("matrix: application service mode: the homeserver "
			 "pushes transactions; no /sync");
		gw_conf_put(c);
		*wait_ms = GW_BG_STOP;
		return false;
	}
	if (!s->loaded)
		since_load(g, s);
	claw_buf_init(&body, MX_SYNC_MAX);
	if (sync_get(c, s->since, &body, &res)) {
		log_warn("matrix /sync failed: %s", res.detail);
		*wait_ms = res.retry_after_ms;
		goto out;
	}
	if (gw_matrix_parse(&c->ch[GW_CH_MATRIX], body.data ? body.data : "",
			    body.len, s->members, &batch)) {
		log_warn("matrix: the /sync response is malformed; retrying");
		goto out;
	}
	bool first = !s->since;
	if (!gw_matrix_take(g, s->notified, s->members, c, batch, first))
		goto out; /* not journaled: read this batch again */
	const char *next = gw_json_str(batch, "next_batch");
	if (s->since && strcmp(s->since, next) == 0) {
		ok = true; /* nothing new: nothing to write */
		goto out;
	}
	if (!since_save(g, next))
		goto out;
	char *dup = strdup(next);
	if (!dup)
		goto out;
	free(s->since);
	s->since = dup;
	ok = true;
out:
	json_decref(batch);
	claw_buf_release(&body);
	gw_conf_put(c);
	return ok;
}

/* ----------------------------------------------------------- outbound */
void gw_matrix_send(GW_SEND_ARGS)
{
	(void)g;
	char auth[8300], txn[40];
	struct claw_buf url;
	json_t *reply = NULL;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATRIX];
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	const char *room = gw_json_str(route, "room_id");
	const char *eid = gw_json_str(route, "event_id");
	bool notice = json_is_true(json_object_get(route, "notice"));
	if (!(gw_matrix_appservice(cc) ? cc->s2.val : cc->s1.val) ||
	    !id_ok(room, '!')) {
		res->st = GW_SEND_FAIL;
		snprintf(res->detail, sizeof(res->detail),
			 "the matrix channel is not configured");
		return;
	}
	json_t *body = json_pack("{s:s, s:s}", "msgtype",
				 notice ? "m.notice" : "m.text", "body", text);
	if (body && eid && res->part == 0 &&
	    json_is_true(json_object_get(env, GW_ENV_GROUP)))
		json_object_set_new(body, "m.relates_to",
				    json_pack("{s:{s:s}}", "m.in_reply_to",
					      "event_id", eid));
	gw_matrix_txn_id(gw_env_str(env, "id"), res->part, txn);
	claw_buf_init(&url, 4096);
	mx_auth(cc, auth, sizeof(auth));
	if (!body ||
	    claw_buf_printf(&url, "%s/_matrix/client/v3/rooms/",
			    cc->api_base) ||
	    gw_url_escape(&url, room) ||
	    claw_buf_printf(&url, "/send/m.room.message/%s", txn) ||
	    mx_as_user(cc, &url)) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		goto out;
	}
	gw_post_json(c, url.data, auth, "PUT", body, res, &reply);
	limit_wait(reply, res);
	mx_detail(reply, res);
out:
	sodium_memzero(auth, sizeof(auth));
	json_decref(reply);
	json_decref(body);
	claw_buf_release(&url);
}
