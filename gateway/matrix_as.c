/*
 * matrix_as.c - Matrix as an application service (channels.matrix.mode
 * "appservice"), the Application Service API's side of the gateway.
 *
 * In: the homeserver PUTs transactions to
 * /_matrix/app/v1/transactions/{txnId} ({"events": [client events]})
 * with "Authorization: Bearer <hs_token>" (the secret matrix_hs_token,
 * compared in constant time). Homeservers from before the header (spec
 * v1.4) send ?access_token= instead: it is read when there is no bearer
 * token. No token is 401 M_UNAUTHORIZED, a wrong one 403 M_FORBIDDEN;
 * both are counted (refused, bad_signature) and nothing is read or
 * queued. The homeserver retries a transaction until it gets 200, with
 * the same txnId: the last AS_TXN_KEEP transaction ids are kept in
 * DATA-DIR/gateway/matrix.txns (written and synced after the
 * transaction's messages are journaled, before the 200), so a repeated
 * txnId is answered 200 and nothing is queued again, also after a
 * restart; a crash between the journal and that file re-reads the
 * transaction, whose messages the journal then refuses as duplicates
 * (their ids are matrix:<event id>). One transaction at a time (the
 * homeserver sends them in order anyway).
 *
 * The events are read as /sync's (matrix.c): m.room.message from
 * others into envelopes (one conversation per room), invites of the bot
 * (m.room.member with state_key = user_id) joined, m.room.encrypted
 * answered once per run with the notice that encrypted rooms cannot be
 * read. Whether a room is a group comes from
 * GET /rooms/{room}/joined_members (cached; a membership event of the
 * room drops the cache entry; unknown: a group, where the bot answers
 * when mentioned).
 *
 * Out: matrix.c's sender, with the as_token (matrix_as_token) and
 * ?user_id=<user_id> (identity assertion as the bot). POST
 * /_matrix/app/v1/ping (spec v1.7) is answered {} once authorised, the
 * homeserver's queries for users and room aliases in the namespace
 * (GET /_matrix/app/v1/users/{userId}, /rooms/{roomAlias}) 404
 * M_NOT_FOUND: the bot is the only user and exists already.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

#define AS_TXN_FILE "matrix.txns"
#define AS_TXN_KEEP 64
#define AS_TXN_MAX 255
#define AS_LOOKUPS_MAX 8 /* joined_members calls in one transaction */
#define AS_ROOMS_MAX 4096

/* the Application Service API's errcodes */
#define MX_UNAUTHORIZED "M_UNAUTHORIZED"
#define MX_FORBIDDEN "M_FORBIDDEN"
#define MX_BAD_JSON "M_BAD_JSON"
#define MX_INVALID_PARAM "M_INVALID_PARAM"
#define MX_UNKNOWN "M_UNKNOWN"
#define MX_NOT_FOUND "M_NOT_FOUND"

static pthread_mutex_t as_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *as_txns;     /* recent txn ids, oldest first */
static json_t *as_members;  /* room id -> joined members */
static json_t *as_notified; /* room id -> told it is encrypted */

static void mx_error(struct claw_http_req *r, unsigned status, const char *code,
		     const char *msg)
{
	claw_http_reply_json(
		r, status,
		json_pack("{s:s, s:s}", "errcode", code, "error", msg));
}

/* The homeserver's token: 0 right, else the status to refuse with. */
static unsigned as_auth(struct claw_http_req *r, const char *hs_token)
{
	const char *tok = gw_jwt_bearer(r);
	if (!tok)
		tok = claw_http_query(r, "access_token");
	if (!tok || !*tok)
		return 401;
	return hs_token && claw_ct_streq(tok, hs_token) ? 0 : 403;
}

bool gw_matrix_txn_ok(const char *txn)
{
	size_t n = txn ? strlen(txn) : 0;
	if (!n || n > AS_TXN_MAX)
		return false;
	for (const char *p = txn; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* Under as_mu: the state, the saved txn ids read once. */
static bool as_load(struct gw *g)
{
	if (as_txns)
		return true;
	as_members = json_object();
	as_notified = json_object();
	as_txns = json_array();
	if (!as_members || !as_notified || !as_txns) {
		json_decref(as_members);
		json_decref(as_notified);
		json_decref(as_txns);
		as_members = as_notified = as_txns = NULL;
		return false;
	}
	char *line =
		gw_mark_load(g, AS_TXN_FILE, (AS_TXN_MAX + 1) * AS_TXN_KEEP);
	for (char *p = line, *sp; p && *p; p = sp ? sp + 1 : NULL) {
		sp = strchr(p, ' ');
		if (sp)
			*sp = '\0';
		if (gw_matrix_txn_ok(p))
			json_array_append_new(as_txns, json_string(p));
	}
	free(line);
	return true;
}

static bool txn_seen(const char *txn)
{
	size_t i;
	json_t *v;
	json_array_foreach(as_txns, i, v) {
		if (strcmp(json_string_value(v), txn) == 0)
			return true;
	}
	return false;
}

/* Remember txn (the oldest forgotten past AS_TXN_KEEP) and save. */
static void txn_remember(struct gw *g, const char *txn)
{
	size_t i;
	json_t *v;
	struct claw_buf line;
	json_array_append_new(as_txns, json_string(txn));
	while (json_array_size(as_txns) > AS_TXN_KEEP)
		json_array_remove(as_txns, 0);
	claw_buf_init(&line, (AS_TXN_MAX + 1) * AS_TXN_KEEP);
	json_array_foreach(as_txns, i, v) {
		if (claw_buf_printf(&line, "%s%s", i ? " " : "",
				    json_string_value(v)))
			break;
	}
	/* a failure is logged; the journal still refuses the duplicates */
	if (line.data)
		gw_mark_save(g, AS_TXN_FILE, line.data,
			     "the Matrix transaction ids");
	claw_buf_release(&line);
}

/* Membership of the transaction's rooms: a membership event drops the
 * room's count, a message in a room of unknown count looks it up. */
static void learn_members(const struct gw_conf *c, const char *body, size_t len)
{
	size_t i, lookups = 0;
	json_t *ev;
	json_t *o = json_loadb(body, len, 0, NULL);
	json_array_foreach(json_object_get(o, "events"), i, ev) {
		const char *type = gw_json_str(ev, "type");
		const char *room = gw_json_str(ev, "room_id");
		if (!type || !room)
			continue;
		if (!strcmp(type, "m.room.member"))
			json_object_del(as_members, room);
		if (strcmp(type, "m.room.message") != 0 ||
		    json_object_get(as_members, room) ||
		    lookups++ >= AS_LOOKUPS_MAX)
			continue;
		long n = gw_matrix_joined(c, room);
		if (n < 0)
			continue;
		if (json_object_size(as_members) >= AS_ROOMS_MAX)
			json_object_clear(as_members);
		json_object_set_new(as_members, room, json_integer(n));
	}
	json_decref(o);
}

/* Under as_mu: read, journal and remember one new transaction. */
static void take(struct claw_http_req *r, struct gw *g, const struct gw_conf *c,
		 const char *txn)
{
	size_t len;
	json_t *batch = NULL;
	const char *body = claw_http_body(r, &len);
	learn_members(c, body ? body : "", len);
	if (gw_matrix_as_parse(&c->ch[GW_CH_MATRIX], body ? body : "", len,
			       as_members, &batch)) {
		mx_error(r, 400, MX_BAD_JSON,
			 "the body is not an application service transaction");
		return;
	}
	if (!gw_matrix_take(g, as_notified, NULL, c, batch, false)) {
		mx_error(r, 503, MX_UNKNOWN,
			 "the transaction could not be stored; send it again");
		json_decref(batch);
		return;
	}
	json_decref(batch);
	txn_remember(g, txn);
	claw_http_reply_json(r, 200, json_object());
}

/* The channel in appservice mode and the homeserver's token: the config
 * (gw_conf_put it), or NULL with the refusal sent. */
static struct gw_conf *as_open(struct claw_http_req *r, struct gw *g)
{
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_MATRIX];
	unsigned st;
	if (!cc->enabled || !gw_matrix_appservice(cc)) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the matrix channel is not an application "
			       "service");
	} else if ((st = as_auth(r, cc->s3.val)) != 0) {
		gw_metrics_refused(GW_CH_MATRIX, GW_REF_BAD_SIGNATURE);
		mx_error(r, st, st == 401 ? MX_UNAUTHORIZED : MX_FORBIDDEN,
			 st == 401 ? "no hs_token was given"
				   : "the hs_token is wrong");
	} else {
		return c;
	}
	gw_conf_put(c);
	return NULL;
}

void gw_matrix_transaction(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	struct gw_conf *c = as_open(r, g);
	const char *txn = claw_http_param(r, "txnId");
	if (!c)
		return;
	if (!gw_matrix_txn_ok(txn)) {
		mx_error(r, 400, MX_INVALID_PARAM,
			 "the transaction id is empty, too long or holds "
			 "spaces");
		gw_conf_put(c);
		return;
	}
	pthread_mutex_lock(&as_mu);
	if (!as_load(g)) {
		mx_error(r, 503, MX_UNKNOWN, "out of memory");
	} else if (txn_seen(txn)) {
		gw_metrics_refused(GW_CH_MATRIX, GW_REF_DUPLICATE);
		claw_http_reply_json(r, 200, json_object());
	} else {
		take(r, g, c, txn);
	}
	pthread_mutex_unlock(&as_mu);
	gw_conf_put(c);
}

void gw_matrix_ping(struct claw_http_req *r, void *ctx)
{
	struct gw_conf *c = as_open(r, ctx);
	if (!c)
		return;
	claw_http_reply_json(r, 200, json_object());
	gw_conf_put(c);
}

void gw_matrix_query(struct claw_http_req *r, void *ctx)
{
	struct gw_conf *c = as_open(r, ctx);
	if (!c)
		return;
	mx_error(r, 404, MX_NOT_FOUND,
		 "this application service creates no users or rooms");
	gw_conf_put(c);
}
