/*
 * irc.c - IRC (RFC 1459/2812 with IRCv3 capability negotiation, SASL
 * PLAIN and message tags) over TLS.
 *
 * In: a background thread (bg.c) holds one connection to the configured
 * server ("host:port", always TLS: libcurl's CONNECT_ONLY mode does the
 * handshake and certificate check with the config's ca_file, then
 * curl_easy_send/recv carry the lines). Registration: CAP LS 302, NICK,
 * USER; the server must offer "sasl" (with PLAIN when it lists
 * mechanisms), else the gateway quits before anything secret is sent;
 * CAP REQ :sasl, AUTHENTICATE PLAIN, the base64 of login NUL login NUL
 * password in 400-byte chunks, 903 then CAP END. A SASL failure (902,
 * 904-908) ends the connection; bg.c reconnects with its backoff (1 s
 * doubling to 5 min, jittered). After 001 the configured channels are
 * joined. PING is answered with PONG; a silent server is pinged after
 * 120 s and dropped after 240 s.
 *
 * A PRIVMSG becomes an envelope when it is a direct message (the target
 * is our nick) or a channel message addressed to us ("nick: text" or
 * "nick, text": mentioned, the address stripped; with group_policy "all"
 * every channel message). CTCP, NOTICE and our own lines are left. The
 * sender is the nick (allow-lists name nicks: only as strong as the
 * network's nick registration). IRC has no message ids and no
 * redelivery, so exactly-once is kept at receipt: each line is
 * journaled (gw_ingest) before the next is read, under the IRCv3 msgid
 * tag when the server sends one (a replay of it is a duplicate), else a
 * fresh random id; the journal answers it once, after a crash too. A
 * message the server delivered while the gateway was down is lost (IRC
 * keeps nothing).
 *
 * Out: a worker's reply is cut into "PRIVMSG target :text" lines of at
 * most 512 bytes with CR LF as the server relays them, that is with the
 * ":nick!user@host " prefix it adds (the host counted at 63 bytes), at
 * UTF-8 boundaries (spaces preferred) and at newlines; in a channel the
 * first line starts with "sender: ". The lines are queued to the
 * connection's thread, which alone touches the socket, and sent under a
 * token bucket (flood_burst lines at once, then one per
 * flood_interval_ms; default 4 and 2000 ms). The worker waits until they
 * are written: a connection lost before that is a retry (lines already
 * written may be repeated: IRC has no idempotency key). Protocol lines
 * (PONG, JOIN, ...) are not held by the bucket.
 */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define IRC_NICK_MAX 30
#define IRC_LOGIN_MAX 64
#define IRC_HOST_MAX 63  /* the host a server shows in our prefix */
#define IRC_ROOMS_MAX 20 /* channels joined */
#define IRC_TICK_MS 100
#define IRC_PING_S 120.0
#define IRC_WAIT_S 60.0 /* a reply waits this long for a connection */
#define IRC_RBUF (GW_IRC_LINE_MAX + 2)

/* -------------------------------------------------------------- parse */
static char *tag_unescape(char *v)
{
	char *o = v;
	for (char *p = v; *p; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		p++;
		if (!*p)
			break; /* a lone backslash at the end is dropped */
		*o++ = *p == ':'    ? ';'
			: *p == 's' ? ' '
			: *p == 'r' ? '\r'
			: *p == 'n' ? '\n'
				    : *p;
	}
	*o = '\0';
	return v;
}

static void parse_tags(char *t, struct gw_irc_msg *m)
{
	while (t && *t) {
		char *next = strchr(t, ';');
		if (next)
			*next++ = '\0';
		if (*t && m->ntags < GW_IRC_TAGS_MAX) {
			char *eq = strchr(t, '=');
			if (eq)
				*eq++ = '\0';
			m->tag_key[m->ntags] = t;
			m->tag_val[m->ntags++] = eq ? tag_unescape(eq) : "";
		}
		t = next;
	}
}

static bool command_ok(const char *c)
{
	size_t n = strlen(c);
	if (n == 3 && strspn(c, "0123456789") == 3)
		return true;
	return n && n <= 32 &&
		strspn(c,
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy"
		       "z") == n;
}

enum claw_rc gw_irc_parse_line(const char *line, size_t len,
			       struct gw_irc_msg *m)
{
	m->ntags = 0;
	m->nparams = 0;
	m->nick = m->user = m->host = m->command = NULL;
	if (!len || len > GW_IRC_LINE_MAX || memchr(line, '\0', len) ||
	    memchr(line, '\r', len) || memchr(line, '\n', len))
		return CLAW_ERR_PARSE;
	memcpy(m->buf, line, len);
	m->buf[len] = '\0';
	char *p = m->buf;
	if (*p == '@') {
		char *end = strchr(p, ' ');
		if (!end)
			return CLAW_ERR_PARSE;
		*end = '\0';
		parse_tags(p + 1, m);
		p = end + 1;
	}
	while (*p == ' ')
		p++;
	if (*p == ':') {
		char *end = strchr(p, ' ');
		if (!end || end == p + 1)
			return CLAW_ERR_PARSE;
		*end = '\0';
		char *pre = p + 1, *at = strchr(pre, '@'), *ex;
		if (at) {
			*at = '\0';
			m->host = at + 1;
		}
		if ((ex = strchr(pre, '!'))) {
			*ex = '\0';
			m->user = ex + 1;
		}
		m->nick = pre;
		p = end + 1;
	}
	while (*p == ' ')
		p++;
	m->command = p;
	p += strcspn(p, " ");
	if (*p)
		*p++ = '\0';
	if (!command_ok(m->command))
		return CLAW_ERR_PARSE;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p == ':' || m->nparams == GW_IRC_PARAMS_MAX - 1) {
			m->params[m->nparams++] = *p == ':' ? p + 1 : p;
			break;
		}
		m->params[m->nparams++] = p;
		p += strcspn(p, " ");
		if (*p)
			*p++ = '\0';
	}
	return CLAW_OK;
}

const char *gw_irc_tag(const struct gw_irc_msg *m, const char *key)
{
	for (int i = 0; i < m->ntags; i++)
		if (strcmp(m->tag_key[i], key) == 0)
			return m->tag_val[i];
	return NULL;
}

/* RFC 1459 case mapping: {}|^ are the lower case of []\~. */
static int irc_lower(int c)
{
	if (c >= 'A' && c <= '^')
		return c + 32;
	return c;
}

static bool irc_eq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (irc_lower((unsigned char)a[i]) !=
		    irc_lower((unsigned char)b[i]))
			return false;
		if (!a[i])
			return true;
	}
	return true;
}

static bool irc_eq(const char *a, const char *b)
{
	return strlen(a) == strlen(b) && irc_eq_n(a, b, strlen(a));
}

static bool nick_ok(const char *n)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				 "stuvwxyz0123456789[]\\`_^{|}-";
	size_t len = n ? strlen(n) : 0;
	return len && len <= IRC_NICK_MAX && strspn(n, ok) == len &&
		!strchr("0123456789-", n[0]);
}

static bool chan_ok(const char *c)
{
	size_t len = c ? strlen(c) : 0;
	return len >= 2 && len <= 50 && strchr("#&+!", c[0]) &&
		!strpbrk(c, " ,:\a");
}

static void lower_into(char *out, size_t outlen, const char *pre, const char *s)
{
	size_t n = (size_t)snprintf(out, outlen, "%s", pre);
	for (; *s && n + 1 < outlen; s++)
		out[n++] = (char)irc_lower((unsigned char)*s);
	out[n] = '\0';
}

enum claw_rc gw_irc_privmsg_env(const struct gw_chan_conf *cc, const char *me,
				const struct gw_irc_msg *m, const char *id,
				long long now, json_t **env_out)
{
	char conv[80];
	*env_out = NULL;
	if (strcmp(m->command, "PRIVMSG") != 0)
		return CLAW_OK;
	if (m->nparams < 2 || !m->nick || !m->user || !nick_ok(m->nick))
		return CLAW_ERR_PARSE;
	const char *target = m->params[0], *text = m->params[1];
	size_t mlen = strlen(me);
	if (irc_eq(m->nick, me) || text[0] == '\x01')
		return CLAW_OK; /* our own line, CTCP */
	bool group = strchr("#&+!", target[0]) != NULL;
	bool mentioned = false;
	if (!group && !irc_eq(target, me))
		return CLAW_OK;
	if (group && !chan_ok(target))
		return CLAW_ERR_PARSE;
	if (group && irc_eq_n(text, me, mlen) &&
	    (text[mlen] == ':' || text[mlen] == ',')) {
		mentioned = true;
		text += mlen + 1;
		while (*text == ' ')
			text++;
	}
	lower_into(conv, sizeof(conv), "irc:", group ? target : m->nick);
	json_t *env = gw_env_new(GW_CH_IRC, id, me, conv, m->nick, m->nick,
				 text, now);
	if (!env)
		return CLAW_ERR_PARSE; /* text that is not UTF-8 */
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s, s:s}", "target",
				      group ? target : m->nick, "nick",
				      m->nick));
	json_object_set_new(env, GW_ENV_GROUP, json_boolean(group));
	json_object_set_new(env, GW_ENV_MENTIONED, json_boolean(mentioned));
	(void)cc;
	*env_out = env;
	return CLAW_OK;
}

/* ---------------------------------------------------------------- lines */
/* Where to cut s (n bytes left) to keep at most budget bytes: a space in
 * the second half, else the last UTF-8 boundary. */
static size_t cut_at(const char *s, size_t n, size_t budget)
{
	if (n <= budget)
		return n;
	size_t cut = budget;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	for (size_t i = cut; i > budget / 2; i--)
		if (s[i] == ' ')
			return i;
	return cut ? cut : budget;
}

json_t *gw_irc_lines(const char *target, const char *text, size_t max)
{
	json_t *out = json_array();
	size_t pre = strlen(target) + 10; /* "PRIVMSG " target " :" */
	size_t budget = max > pre + 32 ? max - pre : 32;
	char *line = malloc(budget + pre + 1);
	if (!out || !line) {
		free(line);
		json_decref(out);
		return NULL;
	}
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, "\r\n");
		while (n) {
			size_t k = cut_at(p, n, budget);
			snprintf(line, budget + pre + 1, "PRIVMSG %s :%.*s",
				 target, (int)k, p);
			json_array_append_new(out, json_string(line));
			p += k;
			n -= k;
			while (n && *p == ' ') {
				p++;
				n--;
			}
		}
		p += strspn(p, "\r\n");
	}
	free(line);
	return out;
}

/* ------------------------------------------------------------- the link */
/* A worker's reply waiting for the connection's thread. */
struct irc_req {
	json_t *lines;
	size_t next; /* lines written */
	int st;      /* 0 waiting, 1 written, -1 the connection dropped */
	struct irc_req *link;
};

/* Shared by the connection's thread and the workers (one IRC connection
 * per gateway). */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool up; /* registered */
	char nick[IRC_NICK_MAX + 2];
	char user[IRC_LOGIN_MAX + 1];
	struct irc_req *head;
} lk = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void link_down_locked(void)
{
	lk.up = false;
	for (struct irc_req *r = lk.head; r; r = r->link)
		r->st = -1;
	lk.head = NULL;
	pthread_cond_broadcast(&lk.cv);
}

static void link_remove_locked(struct irc_req *req)
{
	for (struct irc_req **pp = &lk.head; *pp; pp = &(*pp)->link)
		if (*pp == req) {
			*pp = req->link;
			return;
		}
}

static void wait_a_second_locked(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_cond_timedwait(&lk.cv, &lk.mu, &ts);
}

void gw_irc_send(GW_SEND_ARGS)
{
	(void)c;
	const char *target = gw_route_str(env, "target");
	const char *nick = gw_route_str(env, "nick");
	bool group = json_is_true(json_object_get(env, GW_ENV_GROUP));
	char *body = NULL;
	res->st = GW_SEND_FAIL;
	if (!target || !*target || strpbrk(target, " \r\n,") ||
	    (group && (!nick || strpbrk(nick, " \r\n")))) {
		snprintf(res->detail, sizeof(res->detail),
			 "irc: the envelope names no target");
		return;
	}
	if (group && res->part == 0 &&
	    asprintf(&body, "%s: %s", nick, text) < 0)
		body = NULL;
	res->st = GW_SEND_RETRY;
	pthread_mutex_lock(&lk.mu);
	double until = gw_now() + IRC_WAIT_S;
	while (!lk.up && !atomic_load(&g->stopping) && gw_now() < until)
		wait_a_second_locked();
	if (!lk.up) {
		pthread_mutex_unlock(&lk.mu);
		free(body);
		snprintf(res->detail, sizeof(res->detail),
			 "irc: not connected to the server");
		return;
	}
	/* the server relays ":nick!~user@host " before our line */
	size_t over = strlen(lk.nick) + strlen(lk.user) + IRC_HOST_MAX + 5;
	struct irc_req req = {
		.lines = gw_irc_lines(target, body ? body : text, 510 - over)};
	free(body);
	if (!req.lines) {
		pthread_mutex_unlock(&lk.mu);
		return;
	}
	struct irc_req **pp = &lk.head;
	while (*pp)
		pp = &(*pp)->link;
	*pp = &req;
	while (req.st == 0 && !atomic_load(&g->stopping))
		wait_a_second_locked();
	if (req.st == 0)
		link_remove_locked(&req);
	pthread_mutex_unlock(&lk.mu);
	if (req.st == 1)
		res->st = GW_SEND_OK;
	else
		snprintf(res->detail, sizeof(res->detail),
			 "irc: the connection dropped after %zu of %zu lines",
			 req.next, json_array_size(req.lines));
	json_decref(req.lines);
}

/* ---------------------------------------------------------- connection */
struct irc_conn {
	struct gw *g;
	const struct gw_chan_conf *cc;
	CURL *h;
	curl_socket_t fd;
	char rbuf[IRC_RBUF];
	size_t rlen;
	bool skipping; /* inside a line too long to keep */
	char nick[IRC_NICK_MAX + 2];
	bool registered, failed;
	char caps[1024]; /* CAP LS, across its continuation lines */
	double tokens, refilled, heard;
	bool pinged;
};

void *gw_irc_new(void)
{
	return calloc(1, sizeof(struct irc_conn));
}

void gw_irc_free(void *state)
{
	pthread_mutex_lock(&lk.mu);
	link_down_locked();
	pthread_mutex_unlock(&lk.mu);
	free(state);
}

/* Write line and CR LF (the socket is non-blocking: wait up to 10 s). */
static bool put(struct irc_conn *s, const char *line)
{
	char out[GW_IRC_LINE_MAX + 3];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	size_t off = 0, len = (size_t)n;
	double until = gw_now() + 10;
	if (n < 0 || (size_t)n >= sizeof(out))
		return false;
	while (off < len) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(s->h, out + off, len - off, &sent);
		if (rc == CURLE_AGAIN) {
			struct pollfd p = {.fd = s->fd, .events = POLLOUT};
			if (gw_now() > until)
				break;
			poll(&p, 1, 1000);
			continue;
		}
		if (rc != CURLE_OK)
			break;
		off += sent;
	}
	sodium_memzero(out, sizeof(out)); /* it may be AUTHENTICATE */
	if (off < len) {
		s->failed = true;
		log_warn("irc: unable to write to the server");
	}
	return off == len;
}

static void fail(struct irc_conn *s, const char *why)
{
	log_warn("irc: %s", why);
	put(s, "QUIT :bye");
	s->failed = true;
}

/* SASL PLAIN: base64(login NUL login NUL password) in 400-byte chunks. */
static void sasl_plain(struct irc_conn *s)
{
	const char *login = s->cc->login ? s->cc->login : s->cc->bot_username;
	size_t ll = strlen(login), pl = s->cc->s1.len;
	size_t rawlen = 2 * ll + 2 + pl;
	size_t b64len = sodium_base64_ENCODED_LEN(
		rawlen, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *raw = sodium_malloc(rawlen + 1);
	char *b64 = sodium_malloc(b64len);
	char line[420];
	if (!raw || !b64) {
		sodium_free(raw);
		sodium_free(b64);
		fail(s, "out of memory");
		return;
	}
	memcpy(raw, login, ll);
	raw[ll] = '\0';
	memcpy(raw + ll + 1, login, ll);
	raw[2 * ll + 1] = '\0';
	memcpy(raw + 2 * ll + 2, s->cc->s1.val, pl);
	sodium_bin2base64(b64, b64len, raw, rawlen,
			  sodium_base64_VARIANT_ORIGINAL);
	size_t n = strlen(b64), off = 0;
	do {
		size_t k = n - off > 400 ? 400 : n - off;
		snprintf(line, sizeof(line), "AUTHENTICATE %.*s", (int)k,
			 b64 + off);
		put(s, line);
		off += k;
		if (k == 400 && off == n)
			put(s, "AUTHENTICATE +");
	} while (off < n);
	sodium_memzero(line, sizeof(line));
	sodium_free(raw);
	sodium_free(b64);
}

/* Does the CAP LS list offer sasl (with PLAIN when it names
 * mechanisms)? */
static bool offers_sasl(const char *caps)
{
	const char *p = caps;
	while (*p) {
		size_t n = strcspn(p, " ");
		if (n == 4 && strncmp(p, "sasl", 4) == 0)
			return true;
		if (n > 5 && strncmp(p, "sasl=", 5) == 0) {
			char mech[256];
			snprintf(mech, sizeof(mech), ",%.*s,", (int)(n - 5),
				 p + 5);
			return strstr(mech, ",PLAIN,") != NULL;
		}
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

static void join_rooms(struct irc_conn *s)
{
	size_t i;
	json_t *v;
	char line[80];
	json_array_foreach(s->cc->rooms, i, v) {
		snprintf(line, sizeof(line), "JOIN %s", json_string_value(v));
		put(s, line);
	}
}

static void on_privmsg(struct irc_conn *s, const struct gw_irc_msg *m)
{
	char id[160];
	const char *msgid = gw_irc_tag(m, "msgid");
	json_t *env = NULL;
	if (msgid && *msgid && strlen(msgid) <= 128 &&
	    !strpbrk(msgid, " \r\n\"\\"))
		snprintf(id, sizeof(id), "irc:%s", msgid);
	else {
		uint8_t rnd[16];
		char hex[33];
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(id, sizeof(id), "irc:%s", hex);
	}
	if (gw_irc_privmsg_env(s->cc, s->nick, m, id, gw_unix_now(), &env)) {
		log_warn("irc: skipped a malformed message");
		return;
	}
	if (env && gw_ingest(s->g, env, true, NULL, 0) == GW_IN_ERROR)
		fail(s, "a message could not be journaled");
}

static void on_cap(struct irc_conn *s, const struct gw_irc_msg *m)
{
	const char *sub = m->nparams >= 2 ? m->params[1] : "";
	if (strcmp(sub, "LS") == 0 && m->nparams >= 3) {
		bool more = m->nparams >= 4 && strcmp(m->params[2], "*") == 0;
		size_t n = strlen(s->caps);
		snprintf(s->caps + n, sizeof(s->caps) - n, "%s ",
			 m->params[m->nparams - 1]);
		if (more)
			return;
		if (!offers_sasl(s->caps))
			fail(s,
			     "the server offers no SASL PLAIN: not "
			     "logging in");
		else
			put(s, "CAP REQ :sasl");
	} else if (strcmp(sub, "ACK") == 0 && m->nparams >= 3 &&
		   strstr(m->params[2], "sasl")) {
		put(s, "AUTHENTICATE PLAIN");
	} else if (strcmp(sub, "NAK") == 0) {
		fail(s, "the server refused the sasl capability");
	}
}

static void on_line(struct irc_conn *s, const char *line, size_t len)
{
	struct gw_irc_msg *m = malloc(sizeof(*m));
	char out[600];
	if (!m || gw_irc_parse_line(line, len, m)) {
		free(m);
		return;
	}
	const char *cmd = m->command;
	if (strcmp(cmd, "PING") == 0) {
		snprintf(out, sizeof(out), "PONG :%.500s",
			 m->nparams ? m->params[m->nparams - 1] : "");
		put(s, out);
	} else if (strcmp(cmd, "CAP") == 0) {
		on_cap(s, m);
	} else if (strcmp(cmd, "AUTHENTICATE") == 0 && m->nparams &&
		   strcmp(m->params[0], "+") == 0) {
		sasl_plain(s);
	} else if (strcmp(cmd, "903") == 0) {
		log_info("irc: SASL authentication succeeded");
		put(s, "CAP END");
	} else if (!strcmp(cmd, "902") || !strcmp(cmd, "904") ||
		   !strcmp(cmd, "905") || !strcmp(cmd, "906") ||
		   !strcmp(cmd, "908")) {
		fail(s,
		     "SASL authentication failed (check the login and "
		     "irc_sasl_password)");
	} else if (strcmp(cmd, "433") == 0 && !s->registered) {
		size_t n = strlen(s->nick);
		if (n >= IRC_NICK_MAX)
			fail(s, "the nick is taken");
		else {
			s->nick[n] = '_';
			s->nick[n + 1] = '\0';
			snprintf(out, sizeof(out), "NICK %s", s->nick);
			put(s, out);
		}
	} else if (strcmp(cmd, "001") == 0 && m->nparams &&
		   nick_ok(m->params[0])) {
		snprintf(s->nick, sizeof(s->nick), "%s", m->params[0]);
		s->registered = true;
		gw_bg_connected();
		log_info("irc: registered as %s", s->nick);
		join_rooms(s);
		pthread_mutex_lock(&lk.mu);
		snprintf(lk.nick, sizeof(lk.nick), "%s", s->nick);
		lk.up = true;
		pthread_cond_broadcast(&lk.cv);
		pthread_mutex_unlock(&lk.mu);
	} else if (strcmp(cmd, "ERROR") == 0) {
		log_warn("irc: the server closed the link: %.200s",
			 m->nparams ? m->params[m->nparams - 1] : "");
		s->failed = true;
	} else if (strcmp(cmd, "PRIVMSG") == 0 && s->registered) {
		on_privmsg(s, m);
	}
	free(m);
}

/* Read what is there; false when the connection ended. */
static bool pump_in(struct irc_conn *s)
{
	for (;;) {
		size_t got = 0;
		CURLcode rc = curl_easy_recv(s->h, s->rbuf + s->rlen,
					     sizeof(s->rbuf) - s->rlen, &got);
		if (rc == CURLE_AGAIN)
			return true;
		if (rc != CURLE_OK || got == 0)
			return false;
		s->heard = gw_now();
		s->pinged = false;
		s->rlen += got;
		char *start = s->rbuf, *nl;
		while (!s->failed &&
		       (nl = memchr(start, '\n',
				    s->rlen - (size_t)(start - s->rbuf)))) {
			size_t n = (size_t)(nl - start);
			if (n && start[n - 1] == '\r')
				n--;
			if (!s->skipping && n)
				on_line(s, start, n);
			s->skipping = false;
			start = nl + 1;
		}
		s->rlen -= (size_t)(start - s->rbuf);
		memmove(s->rbuf, start, s->rlen);
		if (s->rlen == sizeof(s->rbuf)) { /* too long: drop it */
			s->rlen = 0;
			s->skipping = true;
		}
		if (s->failed)
			return false;
	}
}

/* Send queued reply lines the token bucket allows. */
static void pump_out(struct irc_conn *s)
{
	long burst = (long)s->cc->flood_burst;
	double per = (double)s->cc->flood_interval_ms / 1000.0, now = gw_now();
	s->tokens += (now - s->refilled) / per;
	if (s->tokens > (double)burst)
		s->tokens = (double)burst;
	s->refilled = now;
	pthread_mutex_lock(&lk.mu);
	while (lk.head && s->tokens >= 1.0 && !s->failed) {
		struct irc_req *r = lk.head;
		if (r->next < json_array_size(r->lines)) {
			if (!put(s,
				 json_string_value(
					 json_array_get(r->lines, r->next))))
				break;
			r->next++;
			s->tokens -= 1.0;
		}
		if (r->next == json_array_size(r->lines)) {
			r->st = 1;
			lk.head = r->link;
			pthread_cond_broadcast(&lk.cv);
		}
	}
	pthread_mutex_unlock(&lk.mu);
}

static bool split_server(const char *server, char *host, size_t hostlen,
			 unsigned *port)
{
	const char *colon = strrchr(server, ':');
	char *end;
	if (!colon || colon == server || (size_t)(colon - server) >= hostlen)
		return false;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || !colon[1] || p < 1 || p > 65535)
		return false;
	snprintf(host, hostlen, "%.*s", (int)(colon - server), server);
	*port = (unsigned)p;
	return true;
}

static bool tls_connect(struct irc_conn *s, const struct gw_conf *c)
{
	char host[260], url[300];
	unsigned port;
	curl_socket_t fd = CURL_SOCKET_BAD;
	if (!split_server(s->cc->server, host, sizeof(host), &port))
		return false;
	snprintf(url, sizeof(url), "https://%s:%u/", host, port);
	s->h = curl_easy_init();
	if (!s->h)
		return false;
	curl_easy_setopt(s->h, CURLOPT_URL, url);
	curl_easy_setopt(s->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(s->h, CURLOPT_SSL_ENABLE_ALPN, 0L);
	curl_easy_setopt(s->h, CURLOPT_PROXY, "");
	if (c->ca_file)
		curl_easy_setopt(s->h, CURLOPT_CAINFO, c->ca_file);
	CURLcode rc = curl_easy_perform(s->h);
	if (rc == CURLE_OK)
		rc = curl_easy_getinfo(s->h, CURLINFO_ACTIVESOCKET, &fd);
	if (rc != CURLE_OK || fd == CURL_SOCKET_BAD) {
		log_warn("irc: unable to connect to %s: %s", s->cc->server,
			 curl_easy_strerror(rc));
		return false;
	}
	s->fd = fd;
	return true;
}

/* One connection, from the TLS handshake until it ends. */
static void session(struct irc_conn *s, const struct gw_conf *c)
{
	char line[128];
	const char *login = s->cc->login ? s->cc->login : s->cc->bot_username;
	snprintf(s->nick, sizeof(s->nick), "%s", s->cc->bot_username);
	pthread_mutex_lock(&lk.mu);
	snprintf(lk.user, sizeof(lk.user), "%s", login);
	pthread_mutex_unlock(&lk.mu);
	put(s, "CAP LS 302");
	snprintf(line, sizeof(line), "NICK %s", s->nick);
	put(s, line);
	snprintf(line, sizeof(line), "USER %s 0 * :claw gateway (%.40s)", login,
		 c->tenant);
	put(s, line);
	while (!s->failed && !atomic_load(&s->g->stopping)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		poll(&p, 1, IRC_TICK_MS);
		if (!pump_in(s)) {
			if (!s->failed)
				log_warn("irc: the server closed the "
					 "connection");
			break;
		}
		if (s->registered)
			pump_out(s);
		double quiet = gw_now() - s->heard;
		if (quiet > 2 * IRC_PING_S) {
			log_warn("irc: the server stopped answering");
			break;
		}
		if (quiet > IRC_PING_S && !s->pinged) {
			put(s, "PING :claw");
			s->pinged = true;
		}
	}
	if (atomic_load(&s->g->stopping))
		put(s, "QUIT :shutting down");
}

bool gw_irc_round(struct gw *g, void *cls, long *wait_ms)
{
	struct irc_conn *s = cls;
	struct gw_conf *c = gw_conf_get(g);
	*wait_ms = GW_BG_RECONNECT;
	s->g = g;
	s->cc = &c->ch[GW_CH_IRC];
	s->h = NULL;
	s->rlen = 0;
	s->skipping = s->registered = s->failed = s->pinged = false;
	s->caps[0] = '\0';
	s->tokens = (double)s->cc->flood_burst;
	s->refilled = s->heard = gw_now();
	double opened = gw_now();
	if (tls_connect(s, c))
		session(s, c);
	pthread_mutex_lock(&lk.mu);
	link_down_locked();
	pthread_mutex_unlock(&lk.mu);
	curl_easy_cleanup(s->h);
	s->h = NULL;
	gw_conf_put(c);
	return atomic_load(&g->stopping) ||
		(s->registered && gw_now() - opened >= GW_WS_HEALTHY_S);
}

/* ---------------------------------------------------------------- config */
void gw_irc_fields(struct gw_chan_conf *cc, struct claw_json_field *f,
		   size_t *n)
{
	const struct claw_json_field mine[] = {
		{"server", CLAW_JSON_STRING, true, &cc->server, 255},
		{"nick", CLAW_JSON_STRING, true, &cc->bot_username,
		 IRC_NICK_MAX},
		{"sasl_username", CLAW_JSON_STRING, false, &cc->login,
		 IRC_LOGIN_MAX},
		{"channels", CLAW_JSON_ARRAY, false, &cc->rooms, 0},
		{"flood_burst", CLAW_JSON_INT, false, &cc->flood_burst, 0},
		{"flood_interval_ms", CLAW_JSON_INT, false,
		 &cc->flood_interval_ms, 0},
	};
	cc->flood_burst = 4;
	cc->flood_interval_ms = 2000;
	memcpy(f + *n, mine, sizeof(mine));
	*n += sizeof(mine) / sizeof(mine[0]);
}

const char *gw_irc_conf_why(const struct gw_chan_conf *cc)
{
	char host[260];
	unsigned port;
	const char *why = NULL;
	size_t i;
	json_t *v;
	if (!split_server(cc->server, host, sizeof(host), &port) ||
	    strpbrk(host, " /?#@"))
		why = "server must be \"host:port\" (TLS)";
	else if (!nick_ok(cc->bot_username))
		why = "nick must be an IRC nick (1..30 of A-Z a-z 0-9 "
		      "[]\\`_^{|}-, not starting with a digit or -)";
	else if (cc->login && (!*cc->login || strpbrk(cc->login, " \r\n")))
		why = "sasl_username must be a login without spaces";
	else if (json_array_size(cc->rooms) > IRC_ROOMS_MAX)
		why = "channels may name at most 20 channels";
	else if (cc->flood_burst < 1 || cc->flood_burst > 20 ||
		 cc->flood_interval_ms < 100 || cc->flood_interval_ms > 60000)
		why = "flood_burst must be 1..20 and flood_interval_ms "
		      "100..60000";
	json_array_foreach(cc->rooms, i, v) {
		if (!why && !chan_ok(json_string_value(v)))
			why = "channels must hold channel names (#name, at "
			      "most 50 characters)";
	}
	return why;
}
