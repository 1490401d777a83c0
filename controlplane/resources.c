/*
 * resources.c - the checks of a tenant's resources (resources.h).
 *
 * One small typed key table per object (name, type, required, bounds), as
 * the gateway's and runtime's config parsers declare theirs, checked by
 * one walker (keys_check): unknown keys refused and named by position,
 * never by their bytes; strings bounded; integers in the daemon's range.
 * What a table cannot say (policy words, URL schemes, the shape of a
 * credential) is checked after it, kind by kind, in the daemons' order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bounds.h"
#include "resources.h"
#include "secrets.h"

static const char *const kind_names[CP_RES__COUNT] = {
	"channel", "persona", "model", "tools", "policies"};

const char *cp_res_kind_name(enum cp_res_kind k)
{
	return k < CP_RES__COUNT ? kind_names[k] : "";
}

static int fail(struct cp_res_problem *p, const char *field, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
static int fail(struct cp_res_problem *p, const char *field, const char *fmt,
		...)
{
	va_list ap;

	snprintf(p->field, sizeof(p->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(p->message, sizeof(p->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- typed key tables */

enum key_type {
	K_STR,
	K_INT,
	K_BOOL,
	K_ARR,
	K_OBJ
};

struct key_spec {
	const char *name;
	enum key_type type;
	bool required;
	long long lo, hi; /* K_STR: 1..hi bytes (lo 0: "" allowed) */
};

static const char *const type_words[] = {
	"a string", "a whole number", "true or false", "an array", "an object"};

static const struct key_spec *spec_find(const struct key_spec *const *tabs,
					const char *key)
{
	for (; *tabs; tabs++)
		for (const struct key_spec *s = *tabs; s->name; s++)
			if (!strcmp(s->name, key))
				return s;
	return NULL;
}

static bool value_ok(const struct key_spec *s, const json_t *v)
{
	switch (s->type) {
	case K_STR:
		return json_is_string(v) &&
			(long long)json_string_length(v) >= s->lo &&
			(long long)json_string_length(v) <= s->hi &&
			strlen(json_string_value(v)) == json_string_length(v);
	case K_INT:
		return json_is_integer(v) && json_integer_value(v) >= s->lo &&
			json_integer_value(v) <= s->hi;
	case K_BOOL:
		return json_is_boolean(v);
	case K_ARR:
		return json_is_array(v);
	case K_OBJ:
		return json_is_object(v);
	}
	return false;
}

/* obj (named where, "" at the top) against the NULL-terminated list of
 * tables tabs: an object, no unknown key, every value of its type and
 * bounds, the required ones present. */
static int keys_check(const json_t *obj, const char *where,
		      const struct key_spec *const *tabs,
		      struct cp_res_problem *p)
{
	char f[128];
	const char *key;
	json_t *v;
	size_t pos = 0;

	if (!json_is_object(obj))
		return fail(p, *where ? where : "body", "must be an object");
	json_object_foreach((json_t *)obj, key, v) {
		const struct key_spec *s = spec_find(tabs, key);

		pos++;
		if (!s) {
			snprintf(f, sizeof(f), "%s%s#%zu", where,
				 *where ? "." : "", pos);
			return fail(p, f,
				    "unknown key (key number %zu of the "
				    "object)",
				    pos);
		}
		snprintf(f, sizeof(f), "%s%s%s", where, *where ? "." : "", key);
		if (value_ok(s, v))
			continue;
		if (s->type == K_STR)
			return fail(p, f,
				    "must be a string of %lld to %lld "
				    "bytes",
				    s->lo ? s->lo : 0, s->hi);
		if (s->type == K_INT)
			return fail(p, f,
				    "must be a whole number from %lld "
				    "to %lld",
				    s->lo, s->hi);
		return fail(p, f, "must be %s", type_words[s->type]);
	}
	for (; *tabs; tabs++)
		for (const struct key_spec *s = *tabs; s->name; s++)
			if (s->required && !json_object_get(obj, s->name)) {
				snprintf(f, sizeof(f), "%s%s%s", where,
					 *where ? "." : "", s->name);
				return fail(p, f, "is required");
			}
	return 0;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool http_url(const char *u)
{
	return u && (!strncmp(u, "https://", 8) || !strncmp(u, "http://", 7)) &&
		!strpbrk(u, " \t\r\n");
}

static bool word_in(const char *w, const char *const *words)
{
	for (; w && *words; words++)
		if (!strcmp(w, *words))
			return true;
	return false;
}

static bool all_of(const char *s, const char *set)
{
	return s && *s && strspn(s, set) == strlen(s);
}

#define DIGITS "0123456789"
#define HEX DIGITS "abcdefABCDEF"
#define ALNUM DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/* ---- channels: the gateway's keys (gateway/conf.c, docs/gateway.md) */

static const struct key_spec chan_common[] = {
	{"enabled", K_BOOL, false, 0, 0},
	{"dm_policy", K_STR, false, 1, 16},
	{"group_policy", K_STR, false, 1, 16},
	{"allow_from", K_ARR, false, 0, 0},
	{"rate_limit_per_minute", K_INT, false, 0, 100000},
	{"max_message_bytes", K_INT, false, 1, 1048576},
	{NULL, 0, false, 0, 0}};
static const struct key_spec base_opt[] = {{"api_base", K_STR, false, 1, 512},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec base_req[] = {{"api_base", K_STR, true, 1, 512},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec none[] = {{NULL, 0, false, 0, 0}};

static const struct key_spec k_telegram[] = {
	{"mode", K_STR, false, 1, 16},
	{"bot_username", K_STR, false, 1, 64},
	{"webhook_url", K_STR, false, 1, 1024},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_slack[] = {{"bot_user_id", K_STR, false, 1, 64},
					  {"mode", K_STR, false, 1, 16},
					  {NULL, 0, false, 0, 0}};
static const struct key_spec k_discord[] = {
	{"public_key", K_STR, true, 1, 64},
	{"application_id", K_STR, true, 1, 32},
	{"gateway", K_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_whatsapp[] = {
	{"api_version", K_STR, false, 1, 16},
	{"phone_number_id", K_STR, true, 1, 64},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_openai[] = {{"models", K_ARR, false, 0, 0},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec k_twilio[] = {
	{"account_sid", K_STR, true, 1, 34},
	{"webhook_url", K_STR, true, 1, 1024},
	{"messaging_service_sid", K_STR, false, 1, 34},
	{"max_segments", K_INT, false, 1, 10},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_mattermost[] = {
	{"bot_username", K_STR, false, 1, 64},
	{"mode", K_STR, false, 1, 16},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_teams[] = {
	{"app_id", K_STR, true, 1, 64},
	{"openid_metadata_url", K_STR, false, 1, 512},
	{"token_url", K_STR, false, 1, 512},
	{"service_url_prefixes", K_ARR, false, 0, 0},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_googlechat[] = {
	{"token_url", K_STR, false, 1, 512},
	{"project_number", K_STR, true, 1, 20},
	{"certs_url", K_STR, false, 1, 512},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_feishu[] = {{"app_id", K_STR, true, 1, 64},
					   {"bot_open_id", K_STR, false, 1, 64},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec k_matrix[] = {{"user_id", K_STR, true, 1, 255},
					   {"mode", K_STR, false, 1, 16},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec k_signal[] = {{"account", K_STR, true, 1, 64},
					   {NULL, 0, false, 0, 0}};
static const struct key_spec k_irc[] = {
	{"server", K_STR, true, 3, 255},
	{"nick", K_STR, true, 1, 30},
	{"sasl_username", K_STR, false, 1, 64},
	{"channels", K_ARR, false, 0, 0},
	{"flood_burst", K_INT, false, 1, 20},
	{"flood_interval_ms", K_INT, false, 100, 60000},
	{NULL, 0, false, 0, 0}};
static const struct key_spec k_email[] = {
	{"imap_url", K_STR, true, 8, 255},
	{"smtp_url", K_STR, true, 8, 255},
	{"address", K_STR, true, 3, 254},
	{"authserv_id", K_STR, true, 1, 255},
	{"username", K_STR, false, 1, 254},
	{"mailbox", K_STR, false, 1, 100},
	{"poll_interval_ms", K_INT, false, 100, 3600000},
	{NULL, 0, false, 0, 0}};

/* A credential's shape beyond "one line of 1..16384 bytes". */
typedef bool (*cred_shape_fn)(const char *v);

struct cred_spec {
	const char *name; /* the secret is KIND_NAME */
	cred_shape_fn shape;
	const char *shape_text; /* for the message */
};

struct chan_spec {
	const char *kind;
	const struct key_spec *base; /* none, base_opt or base_req */
	const struct key_spec *keys;
	struct cred_spec creds[4];
};

/* Telegram's bot token (core.telegram.org/bots/api, "Authorizing your
 * bot": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"): the bot's numeric id,
 * ':' and a secret of URL-safe base64 characters. Bounds are loose enough
 * for every token issued so far: 5..16 digits, 30..64 characters. */
static bool tg_token_shape(const char *v)
{
	const char *colon = strchr(v, ':');
	size_t id = colon ? (size_t)(colon - v) : 0;
	size_t rest = colon ? strlen(colon + 1) : 0;

	return colon && id >= 5 && id <= 16 && strspn(v, DIGITS) == id &&
		rest >= 30 && rest <= 64 &&
		strspn(colon + 1, ALNUM "_-") == rest;
}

/* setWebhook's secret_token: 1..256 of A-Z a-z 0-9 _ -. */
static bool tg_secret_shape(const char *v)
{
	return strlen(v) <= 256 && all_of(v, ALNUM "_-");
}

static bool slack_bot_shape(const char *v)
{
	return !strncmp(v, "xoxb-", 5) && all_of(v + 5, ALNUM "-");
}

static bool slack_app_shape(const char *v)
{
	return !strncmp(v, "xapp-", 5) && all_of(v + 5, ALNUM "-");
}

static bool hex32_shape(const char *v)
{
	return strlen(v) == 32 && all_of(v, HEX);
}

/* A Google service account key on one line: a JSON object with the three
 * keys the gateway reads. */
static bool gsa_shape(const char *v)
{
	json_t *o = json_loads(v, JSON_REJECT_DUPLICATES, NULL);
	bool ok = json_is_object(o) && str(o, "client_email") &&
		str(o, "private_key") && str(o, "private_key_id");

	json_decref(o);
	return ok;
}

static const struct chan_spec channels[CP_CHANNEL_KINDS] = {
	{"telegram",
	 base_opt,
	 k_telegram,
	 {{"bot_token", tg_token_shape,
	   "the bot's id, ':' and its secret, as BotFather gives it "
	   "(123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11)"},
	  {"webhook_secret", tg_secret_shape,
	   "1 to 256 of A-Z a-z 0-9 _ -, as setWebhook's secret_token"}}},
	{"slack",
	 base_opt,
	 k_slack,
	 {{"bot_token", slack_bot_shape, "a bot token, xoxb-..."},
	  {"signing_secret", hex32_shape, "32 hex digits"},
	  {"app_token", slack_app_shape, "an app-level token, xapp-..."}}},
	{"discord", base_opt, k_discord, {{"bot_token", NULL, NULL}}},
	{"whatsapp",
	 base_opt,
	 k_whatsapp,
	 {{"app_secret", NULL, NULL},
	  {"verify_token", NULL, NULL},
	  {"access_token", NULL, NULL}}},
	{"webchat", none, none, {{NULL, NULL, NULL}}},
	{"openai", none, k_openai, {{"api_token", NULL, NULL}}},
	{"line",
	 base_opt,
	 none,
	 {{"channel_secret", NULL, NULL},
	  {"channel_access_token", NULL, NULL}}},
	{"twilio",
	 base_opt,
	 k_twilio,
	 {{"auth_token", hex32_shape, "32 hex digits"}}},
	{"mattermost",
	 base_req,
	 k_mattermost,
	 {{"webhook_token", NULL, NULL}, {"bot_token", NULL, NULL}}},
	{"teams", none, k_teams, {{"app_password", NULL, NULL}}},
	{"googlechat",
	 base_opt,
	 k_googlechat,
	 {{"service_account", gsa_shape,
	   "the service account's JSON key on one line, with client_email, "
	   "private_key and private_key_id"}}},
	{"feishu",
	 base_opt,
	 k_feishu,
	 {{"app_secret", NULL, NULL},
	  {"verification_token", NULL, NULL},
	  {"encrypt_key", NULL, NULL}}},
	{"matrix",
	 base_req,
	 k_matrix,
	 {{"access_token", NULL, NULL},
	  {"as_token", NULL, NULL},
	  {"hs_token", NULL, NULL}}},
	{"signal", base_req, k_signal, {{NULL, NULL, NULL}}},
	{"irc", none, k_irc, {{"sasl_password", NULL, NULL}}},
	{"email", none, k_email, {{"password", NULL, NULL}}},
};

static const struct chan_spec *chan_find(const char *kind)
{
	for (size_t i = 0; kind && i < CP_CHANNEL_KINDS; i++)
		if (!strcmp(channels[i].kind, kind))
			return &channels[i];
	return NULL;
}

bool cp_channel_known(const char *kind)
{
	return chan_find(kind) != NULL;
}

const char *cp_channel_kinds_text(void)
{
	return "telegram, slack, discord, whatsapp, webchat, openai, line, "
	       "twilio, mattermost, teams, googlechat, feishu, matrix, signal, "
	       "irc, email";
}

static const struct cred_spec *cred_find(const struct chan_spec *c,
					 const char *name)
{
	for (size_t i = 0; name && i < 4 && c->creds[i].name; i++)
		if (!strcmp(c->creds[i].name, name))
			return &c->creds[i];
	return NULL;
}

bool cp_channel_secret_name(const char *kind, const char *cred, char *out,
			    size_t outlen)
{
	const struct chan_spec *c = chan_find(kind);
	int n;

	if (!c || !cred_find(c, cred))
		return false;
	n = snprintf(out, outlen, "%s_%s", kind, cred);
	return n > 0 && (size_t)n < outlen;
}

/* One line of 1..16384 bytes: what claw_secret_read takes. */
static bool secret_value_ok(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	return s && n >= 1 && n <= 16384 && strlen(s) == n &&
		!strpbrk(s, "\r\n");
}

static int creds_check(const struct chan_spec *c, const json_t *creds,
		       struct cp_res_problem *p)
{
	const char *key;
	json_t *v;
	size_t pos = 0;
	char f[128];

	if (!creds)
		return 0;
	if (!json_is_object(creds))
		return fail(p, "credentials", "must be an object");
	json_object_foreach((json_t *)creds, key, v) {
		const struct cred_spec *cs = cred_find(c, key);

		pos++;
		if (!cs) {
			snprintf(f, sizeof(f), "credentials.#%zu", pos);
			return fail(p, f,
				    "the %s channel has no such "
				    "credential (key number %zu)",
				    c->kind, pos);
		}
		snprintf(f, sizeof(f), "credentials.%s", key);
		if (!secret_value_ok(v))
			return fail(p, f,
				    "must be one line of 1 to 16384 "
				    "bytes");
		if (cs->shape && !cs->shape(json_string_value(v)))
			return fail(p, f, "must be %s", cs->shape_text);
	}
	return 0;
}

static bool strings_ok(const json_t *a, size_t min, size_t max, size_t maxlen,
		       bool (*each)(const char *))
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) < min ||
	    json_array_size(a) > max)
		return false;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !json_string_length(v) ||
		    json_string_length(v) > maxlen ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    (each && !each(json_string_value(v))))
			return false;
	}
	return true;
}

static bool model_id_ok(const char *s)
{
	return all_of(s, ALNUM "._:-");
}

/* telegram's webhook_url: https, a host, a port Telegram delivers to. */
static bool tg_webhook_url_ok(const char *url)
{
	const char *host = url + 8, *end, *colon;

	if (strncmp(url, "https://", 8) || !*host || *host == '/' ||
	    *host == ':')
		return false;
	for (const char *q = url; *q; q++)
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return false;
	end = host + strcspn(host, "/?#");
	colon = memchr(host, ':', (size_t)(end - host));
	if (!colon)
		return true;
	return (end - colon == 4 && !strncmp(colon, ":443", 4)) ||
		(end - colon == 3 &&
		 (!strncmp(colon, ":80", 3) || !strncmp(colon, ":88", 3))) ||
		(end - colon == 5 && !strncmp(colon, ":8443", 5));
}

static bool sid_ok(const char *s, const char *kind)
{
	return s && strlen(s) == 34 && !strncmp(s, kind, 2) &&
		strspn(s + 2, HEX) == 32;
}

static bool http_prefix_ok(const char *s)
{
	return http_url(s) && strlen(s) <= 256;
}

/* The policy words and allow_from, shared with the policies resource. */
static int chan_policy_check(const json_t *s, const char *where,
			     struct cp_res_problem *p)
{
	static const char *const dm[] = {"open", "allowlist", "pairing", NULL};
	static const char *const grp[] = {"mention", "all", "off", NULL};
	char f[128];
	const json_t *af = json_object_get(s, "allow_from");

	if (json_object_get(s, "dm_policy") &&
	    !word_in(str(s, "dm_policy"), dm)) {
		snprintf(f, sizeof(f), "%s.dm_policy", where);
		return fail(p, f, "must be open, allowlist or pairing");
	}
	if (json_object_get(s, "group_policy") &&
	    !word_in(str(s, "group_policy"), grp)) {
		snprintf(f, sizeof(f), "%s.group_policy", where);
		return fail(p, f, "must be mention, all or off");
	}
	if (af && !strings_ok(af, 0, 100000, 128, NULL)) {
		snprintf(f, sizeof(f), "%s.allow_from", where);
		return fail(p, f,
			    "must be an array of sender ids of 1 to 128 "
			    "bytes");
	}
	return 0;
}

/* The kind's own values, in the gateway's order (check_kind, check_new). */
static int chan_kind_check(const char *kind, const json_t *s,
			   struct cp_res_problem *p)
{
	const char *mode = str(s, "mode"), *v;
	unsigned char pk[32];

	if (!strcmp(kind, "telegram") && mode && strcmp(mode, "webhook") &&
	    strcmp(mode, "polling"))
		return fail(p, "settings.mode", "must be webhook or polling");
	if (!strcmp(kind, "telegram") && (v = str(s, "webhook_url")) &&
	    !tg_webhook_url_ok(v))
		return fail(p, "settings.webhook_url",
			    "must be an https:// URL with a host (port 443, "
			    "80, 88 or 8443), as Telegram requires");
	if (!strcmp(kind, "slack") && mode && strcmp(mode, "events") &&
	    strcmp(mode, "socket"))
		return fail(p, "settings.mode", "must be events or socket");
	if (!strcmp(kind, "matrix") && mode && strcmp(mode, "sync") &&
	    strcmp(mode, "appservice"))
		return fail(p, "settings.mode", "must be sync or appservice");
	if (!strcmp(kind, "mattermost") && mode && strcmp(mode, "webhook") &&
	    strcmp(mode, "websocket"))
		return fail(p, "settings.mode", "must be webhook or websocket");
	if ((v = str(s, "public_key")) &&
	    (strlen(v) != 64 ||
	     sodium_hex2bin(pk, sizeof(pk), v, 64, NULL, NULL, NULL)))
		return fail(p, "settings.public_key",
			    "must be 64 hex characters");
	if (json_object_get(s, "models") &&
	    !strings_ok(json_object_get(s, "models"), 1, 16, 64, model_id_ok))
		return fail(p, "settings.models",
			    "must be 1..16 model ids of 1..64 characters from "
			    "A-Z a-z 0-9 . _ : -");
	if (!strcmp(kind, "twilio")) {
		if (!sid_ok(str(s, "account_sid"), "AC"))
			return fail(p, "settings.account_sid",
				    "must be AC and 32 hex digits");
		if (!http_url(str(s, "webhook_url")))
			return fail(p, "settings.webhook_url",
				    "must be the http:// or https:// URL "
				    "configured in Twilio");
		if ((v = str(s, "messaging_service_sid")) && !sid_ok(v, "MG"))
			return fail(p, "settings.messaging_service_sid",
				    "must be MG and 32 hex digits");
	}
	for (const char *const *u =
		     (const char *const[]){"openid_metadata_url", "token_url",
					   "certs_url", NULL};
	     *u; u++) {
		char f[64];

		snprintf(f, sizeof(f), "settings.%s", *u);
		if (json_object_get(s, *u) && !http_url(str(s, *u)))
			return fail(p, f, "must be an http(s) URL");
	}
	if (!strcmp(kind, "teams") &&
	    ((v = str(s, "app_id")) && strpbrk(v, " /?#&")))
		return fail(p, "settings.app_id",
			    "must be the bot's Microsoft app id");
	if (json_object_get(s, "service_url_prefixes") &&
	    !strings_ok(json_object_get(s, "service_url_prefixes"), 1, 16, 256,
			http_prefix_ok))
		return fail(p, "settings.service_url_prefixes",
			    "must hold 1..16 http(s) URL prefixes");
	if ((v = str(s, "project_number")) && !all_of(v, DIGITS))
		return fail(p, "settings.project_number",
			    "must be the Cloud project's number (digits)");
	if (!strcmp(kind, "feishu") && (v = str(s, "app_id")) &&
	    strpbrk(v, " /?#&\""))
		return fail(p, "settings.app_id",
			    "must be the app's id (cli_…)");
	if ((v = str(s, "account")) && strpbrk(v, " /?#&\"\\"))
		return fail(p, "settings.account",
			    "must be the signal-cli account (+E164 or its "
			    "UUID)");
	if ((v = str(s, "user_id")) &&
	    (v[0] != '@' || !strchr(v, ':') || strpbrk(v, " /?#")))
		return fail(p, "settings.user_id",
			    "must be the bot's Matrix user id (@name:server)");
	return 0;
}

/* "host:port" with a port of 1..65535 and a host of no URL parts. */
static bool host_port_ok(const char *s)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char *end;
	unsigned long port;

	if (!colon || colon == s || strcspn(s, " /?#@") < (size_t)(colon - s))
		return false;
	port = strtoul(colon + 1, &end, 10);
	return colon[1] && !*end && port >= 1 && port <= 65535 &&
		all_of(colon + 1, DIGITS);
}

/* scheme://host[:port] of one of two schemes, no path or user info. */
static bool mail_url_ok(const char *u, const char *tls, const char *plain)
{
	const char *h = !u                          ? NULL
		: !strncmp(u, tls, strlen(tls))     ? u + strlen(tls)
		: !strncmp(u, plain, strlen(plain)) ? u + strlen(plain)
						    : NULL;

	return h && *h && !strpbrk(h, "/@?# \t\r\n");
}

/* What the gateway checks of IRC and e-mail (gateway/irc.c, email.c). */
static int chan_irc_email_check(const char *kind, const json_t *s,
				struct cp_res_problem *p)
{
	const char *v, *at;
	json_t *c;
	size_t i;

	if (!strcmp(kind, "irc")) {
		if (!host_port_ok(str(s, "server")))
			return fail(p, "settings.server",
				    "must be \"host:port\" (TLS)");
		v = str(s, "nick");
		if (!all_of(v, ALNUM "[]\\`_^{|}-") || strchr(DIGITS "-", v[0]))
			return fail(p, "settings.nick",
				    "must be an IRC nick (A-Z a-z 0-9 "
				    "[]\\`_^{|}-, not starting with a digit "
				    "or -)");
		if ((v = str(s, "sasl_username")) && strpbrk(v, " \r\n"))
			return fail(p, "settings.sasl_username",
				    "must be a login without spaces");
		c = json_object_get(s, "channels");
		if (json_array_size(c) > 20)
			return fail(p, "settings.channels",
				    "may name at most 20 channels");
		for (i = 0; i < json_array_size(c); i++) {
			v = json_string_value(json_array_get(c, i));
			if (!v || strlen(v) < 2 || strlen(v) > 50 ||
			    !strchr("#&+!", v[0]) || strpbrk(v, " ,:\a"))
				return fail(p, "settings.channels",
					    "must hold channel names (#name, "
					    "at most 50 characters)");
		}
		return 0;
	}
	if (strcmp(kind, "email"))
		return 0;
	if (!mail_url_ok(str(s, "imap_url"), "imaps://", "imap://"))
		return fail(p, "settings.imap_url",
			    "must be imaps://host[:port] (or imap:// with "
			    "STARTTLS), without a path");
	if (!mail_url_ok(str(s, "smtp_url"), "smtps://", "smtp://"))
		return fail(p, "settings.smtp_url",
			    "must be smtps://host[:port] (or smtp:// with "
			    "STARTTLS), without a path");
	v = str(s, "address");
	at = v ? strchr(v, '@') : NULL;
	if (!at || at == v || !at[1] || strchr(at + 1, '@') ||
	    !all_of(v,
		    "abcdefghijklmnopqrstuvwxyz" DIGITS
		    "!#$%&'*+-/=?^_`{|}~.@"))
		return fail(p, "settings.address",
			    "must be the bot's address (lower case "
			    "local@domain)");
	if (strpbrk(str(s, "authserv_id"), " \t;()\""))
		return fail(p, "settings.authserv_id",
			    "must be the authserv-id of your server's "
			    "Authentication-Results");
	if ((v = str(s, "mailbox")) && !all_of(v, ALNUM "._-"))
		return fail(p, "settings.mailbox",
			    "must be a mailbox name (A-Z a-z 0-9 . _ -)");
	if ((v = str(s, "username")) && strpbrk(v, " \r\n"))
		return fail(p, "settings.username",
			    "must be a login without spaces");
	v = str(s, "dm_policy");
	if (!v || !strcmp(v, "open"))
		return fail(p, "settings.dm_policy",
			    "must be allowlist or pairing: e-mail senders are "
			    "allow-listed");
	return 0;
}

int cp_channel_check(const char *kind, const json_t *settings,
		     const json_t *credentials, struct cp_res_problem *p)
{
	const struct chan_spec *c = chan_find(kind);
	const struct key_spec *tabs[4];
	const char *base;

	if (!c)
		return fail(p, "kind", "unknown channel kind; known: %s",
			    cp_channel_kinds_text());
	tabs[0] = chan_common;
	tabs[1] = c->base;
	tabs[2] = c->keys;
	tabs[3] = NULL;
	if (keys_check(settings, "settings", tabs, p) ||
	    chan_policy_check(settings, "settings", p))
		return -1;
	base = str(settings, "api_base");
	if (base && !http_url(base))
		return fail(p, "settings.api_base",
			    "must start with http:// or https://");
	if (chan_kind_check(kind, settings, p) ||
	    chan_irc_email_check(kind, settings, p))
		return -1;
	return creds_check(c, credentials, p);
}

/* ---- persona */

bool cp_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned long cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool skill_name_ok(const char *s)
{
	return s && strlen(s) <= CP_PERSONA_SKILL_NAME_MAX &&
		all_of(s, ALNUM "_-") && s[0] != '-';
}

/* One text of the persona: *out a new UTF-8 string. */
static int persona_text(const json_t *v, bool b64, const char *field,
			json_t **out, struct cp_res_problem *p)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), len = 0;
	unsigned char *bin;

	*out = NULL;
	if (!s)
		return fail(p, field, "must be a string");
	if (!b64) {
		if (n > CP_PERSONA_TEXT_MAX)
			return fail(p, field, "is over %d bytes",
				    CP_PERSONA_TEXT_MAX);
		if (!cp_utf8_valid((const unsigned char *)s, n))
			return fail(p, field,
				    "is not valid UTF-8 text "
				    "(or holds a NUL)");
		*out = json_stringn(s, n);
		return *out ? 0 : fail(p, field, "out of memory");
	}
	if (n > (CP_PERSONA_TEXT_MAX / 3 + 1) * 4 + 4)
		return fail(p, field, "is over %d bytes", CP_PERSONA_TEXT_MAX);
	bin = malloc(n / 4 * 3 + 4);
	if (!bin)
		return fail(p, field, "out of memory");
	if (sodium_base642bin(bin, n / 4 * 3 + 4, s, n, NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL)) {
		free(bin);
		return fail(p, field, "must be base64 (encoding is base64)");
	}
	if (len > CP_PERSONA_TEXT_MAX) {
		free(bin);
		return fail(p, field, "is over %d bytes", CP_PERSONA_TEXT_MAX);
	}
	if (!cp_utf8_valid(bin, len)) {
		free(bin);
		return fail(p, field,
			    "is not valid UTF-8 text (or holds a "
			    "NUL)");
	}
	*out = json_stringn((const char *)bin, len);
	free(bin);
	return *out ? 0 : fail(p, field, "out of memory");
}

static const struct key_spec persona_keys[] = {
	{"soul", K_STR, true, 0, 4 * CP_PERSONA_TEXT_MAX},
	{"agents", K_STR, false, 0, 4 * CP_PERSONA_TEXT_MAX},
	{"skills", K_OBJ, false, 0, 0},
	{"encoding", K_STR, false, 1, 16},
	{NULL, 0, false, 0, 0}};

int cp_persona_check(const json_t *body, json_t **out, struct cp_res_problem *p)
{
	const struct key_spec *tabs[] = {persona_keys, NULL};
	const char *enc = str(body, "encoding"), *key;
	const json_t *skills = json_object_get(body, "skills");
	json_t *o, *t, *sk = NULL, *v;
	bool b64;
	char f[128];
	size_t pos = 0;

	*out = NULL;
	if (keys_check(body, "", tabs, p))
		return -1;
	if (enc && strcmp(enc, "utf8") && strcmp(enc, "base64"))
		return fail(p, "encoding", "must be utf8 or base64");
	b64 = enc && !strcmp(enc, "base64");
	if (json_object_size(skills) > CP_PERSONA_SKILLS_MAX)
		return fail(p, "skills", "holds more than %d skills",
			    CP_PERSONA_SKILLS_MAX);
	o = json_object();
	if (!o)
		return fail(p, "body", "out of memory");
	if (persona_text(json_object_get(body, "soul"), b64, "soul", &t, p) ||
	    json_object_set_new(o, "soul", t))
		goto bad;
	if (json_object_get(body, "agents") &&
	    (persona_text(json_object_get(body, "agents"), b64, "agents", &t,
			  p) ||
	     json_object_set_new(o, "agents", t)))
		goto bad;
	if (skills &&
	    (!(sk = json_object()) || json_object_set_new(o, "skills", sk)))
		goto bad;
	json_object_foreach((json_t *)skills, key, v) {
		pos++;
		if (!skill_name_ok(key)) {
			snprintf(f, sizeof(f), "skills.#%zu", pos);
			fail(p, f,
			     "a skill's name is 1 to %d of A-Z a-z 0-9 _ "
			     "-, not starting with '-'",
			     CP_PERSONA_SKILL_NAME_MAX);
			goto bad;
		}
		snprintf(f, sizeof(f), "skills.%s", key);
		if (persona_text(v, b64, f, &t, p) ||
		    json_object_set_new(sk, key, t))
			goto bad;
	}
	*out = o;
	return 0;
bad:
	if (!p->field[0])
		fail(p, "body", "out of memory");
	json_decref(o);
	return -1;
}

/* ---- model: the runtime's providers and limits (runtime/config.c) */

static const struct key_spec provider_keys[] = {
	{"kind", K_STR, true, 1, 16},
	{"base_url", K_STR, true, 1, 1024},
	{"model", K_STR, true, 1, 256},
	{"api_key", K_STR, false, 1, 16384},
	{"api_key_secret", K_STR, false, 1, CP_SECRET_NAME_MAX},
	{"timeout_ms", K_INT, false, 100, 3600000},
	{"connect_timeout_ms", K_INT, false, 100, 600000},
	{"max_retries", K_INT, false, 0, 10},
	{"max_tokens", K_INT, false, 1, 1000000},
	{NULL, 0, false, 0, 0}};
static const struct key_spec model_more[] = {
	{"limits", K_OBJ, false, 0, 0},
	{"fallback", K_OBJ, false, 0, 0},
	{"compaction_model", K_STR, false, 1, 256},
	{NULL, 0, false, 0, 0}};
static const struct key_spec limit_keys[] = {
	{"max_steps", K_INT, false, 1, 1000},
	{"turn_timeout_ms", K_INT, false, 100, 86400000},
	{"context_tokens", K_INT, false, 256, 10000000},
	{"max_tool_result_bytes", K_INT, false, 256, 16 << 20},
	{"max_message_bytes", K_INT, false, 256, 1 << 20},
	{"session_cache", K_INT, false, 1, 1000000},
	{"compact_at_percent", K_INT, false, 0, 100},
	{"summary_tokens", K_INT, false, 64, 100000},
	{NULL, 0, false, 0, 0}};

static int provider_check(const json_t *o, const char *where,
			  const struct key_spec *more, struct cp_res_problem *p)
{
	static const char *const kinds[] = {"openai", "anthropic", NULL};
	const struct key_spec *tabs[] = {provider_keys, more, NULL};
	const char *sec;
	char f[128];

	if (keys_check(o, where, tabs, p))
		return -1;
#define FIELD(k) (snprintf(f, sizeof(f), "%s%s" k, where, *where ? "." : ""), f)
	if (!word_in(str(o, "kind"), kinds))
		return fail(p, FIELD("kind"), "must be openai or anthropic");
	if (!http_url(str(o, "base_url")))
		return fail(p, FIELD("base_url"),
			    "must be an http:// or https:// URL");
	if (json_object_get(o, "api_key") &&
	    (json_object_get(o, "api_key_secret") ||
	     !secret_value_ok(json_object_get(o, "api_key"))))
		return fail(p, FIELD("api_key"),
			    "must be one line of 1 to 16384 bytes, and not "
			    "given with api_key_secret");
	sec = str(o, "api_key_secret");
	if (sec && !cp_secret_name_valid(sec))
		return fail(p, FIELD("api_key_secret"),
			    "must be a secret's name");
#undef FIELD
	return 0;
}

int cp_model_check(const json_t *body, struct cp_res_problem *p)
{
	const struct key_spec *lt[] = {limit_keys, NULL};
	const json_t *fb = json_object_get(body, "fallback");

	if (provider_check(body, "", model_more, p))
		return -1;
	if (json_object_get(body, "limits") &&
	    keys_check(json_object_get(body, "limits"), "limits", lt, p))
		return -1;
	return fb ? provider_check(fb, "fallback", none, p) : 0;
}

/* ---- tools: MCP servers (runtime mcp_servers; sandboxed images) */

static const struct key_spec server_keys[] = {
	{"name", K_STR, true, 1, 32},
	{"url", K_STR, false, 1, 1024},
	{"image", K_STR, false, 1, 255},
	{"command", K_ARR, false, 0, 0},
	{"env", K_OBJ, false, 0, 0},
	{"headers", K_OBJ, false, 0, 0},
	{"secrets", K_OBJ, false, 0, 0},
	{"egress", K_ARR, false, 0, 0},
	{"timeout_ms", K_INT, false, 100, 3600000},
	{"oauth", K_OBJ, false, 0, 0},
	{"limits", K_OBJ, false, 0, 0},
	{"scratch_mb", K_INT, false, 1, 1024},
	{NULL, 0, false, 0, 0}};
/* A remote server's OAuth (docs/runtime.md, "OAuth for remote MCP
 * servers"): the grant's secret, a pre-registered client. */
static const struct key_spec oauth_keys[] = {
	{"token_secret", K_STR, false, 1, 64},
	{"client_id", K_STR, false, 1, 512},
	{"client_secret_secret", K_STR, false, 1, 64},
	{"client_metadata_url", K_STR, false, 9, 2048},
	{NULL, 0, false, 0, 0}};
static const struct key_spec tools_keys[] = {{"servers", K_ARR, false, 0, 0},
					     {"allow", K_ARR, false, 0, 0},
					     {NULL, 0, false, 0, 0}};

/* The runtime's server names: letters, digits, '-', '_', no "__". */
static bool server_name_ok(const char *s)
{
	return all_of(s, ALNUM "-_") && !strstr(s, "__");
}

static bool header_or_env_ok(const char *s)
{
	return all_of(s, ALNUM "-_") && strlen(s) <= 128;
}

/* An object of names (header or variable names) to strings; with
 * secret_names the strings are secret names. */
static bool pairs_ok(const json_t *o, bool secret_names)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		const char *s = json_string_value(v);

		if (!header_or_env_ok(k) || !s ||
		    strlen(s) != json_string_length(v) ||
		    json_string_length(v) > 4096 || strpbrk(s, "\r\n") ||
		    (secret_names && !cp_secret_name_valid(s)))
			return false;
	}
	return true;
}

static bool egress_ok(const char *s)
{
	return cp_egress_entry_valid(s, false);
}

static int server_check(const json_t *o, size_t i, struct cp_res_problem *p)
{
	const struct key_spec *tabs[] = {server_keys, NULL};
	char where[32], f[64];
	const char *url = str(o, "url"), *image = str(o, "image");
	struct cp_image_ref ref;

	snprintf(where, sizeof(where), "servers[%zu]", i);
#define FIELD(k) (snprintf(f, sizeof(f), "%s." k, where), f)
	if (keys_check(o, where, tabs, p))
		return -1;
	if (!server_name_ok(str(o, "name")))
		return fail(p, FIELD("name"),
			    "must be 1-32 letters, digits, '-' or '_' (no "
			    "'__')");
	if (!url == !image)
		return fail(p, FIELD("url"),
			    "give either url (a remote "
			    "server) or image (a sandboxed one)");
	if (url && !http_url(url))
		return fail(p, FIELD("url"),
			    "must start with http:// or https://");
	if (image && !cp_image_parse(image, &ref))
		return fail(p, FIELD("image"), "must be an image reference");
	if (url && (json_object_get(o, "command") || json_object_get(o, "env")))
		return fail(p, FIELD("command"),
			    "command and env are for image servers");
	if (image && json_object_get(o, "headers"))
		return fail(p, FIELD("headers"), "headers are for url servers");
	if (url &&
	    (json_object_get(o, "limits") || json_object_get(o, "scratch_mb")))
		return fail(p, FIELD("limits"),
			    "limits and scratch_mb are for image servers");
	if (json_object_get(o, "limits")) {
		/* the node agent's bounds (node-agent/toolsrv.c); the
		 * plan's, for all servers together, are checked there */
		const json_t *lim = json_object_get(o, "limits");
		const json_t *cpus = json_object_get(lim, "cpus");
		const json_t *mem = json_object_get(lim, "memory_mb");
		const json_t *pids = json_object_get(lim, "pids");

		if (json_object_size(lim) !=
			    (size_t) !!cpus + (size_t) !!mem +
				    (size_t) !!pids ||
		    (cpus &&
		     (!json_is_number(cpus) || json_number_value(cpus) < 0.01 ||
		      json_number_value(cpus) > 64)) ||
		    (mem &&
		     (!json_is_integer(mem) || json_integer_value(mem) < 16 ||
		      json_integer_value(mem) > 1048576)) ||
		    (pids &&
		     (!json_is_integer(pids) || json_integer_value(pids) < 8 ||
		      json_integer_value(pids) > 65536)))
			return fail(p, FIELD("limits"),
				    "takes cpus (0.01..64), memory_mb "
				    "(16..1048576) and pids (8..65536), "
				    "together within the tenant's plan");
	}
	if (json_object_get(o, "oauth")) {
		const struct key_spec *ot[] = {oauth_keys, NULL};
		const json_t *oa = json_object_get(o, "oauth");
		const char *v;

		if (image)
			return fail(p, FIELD("oauth"),
				    "oauth is for url servers");
		if (keys_check(oa, FIELD("oauth"), ot, p))
			return -1;
		if (((v = str(oa, "token_secret")) &&
		     !cp_secret_name_valid(v)) ||
		    ((v = str(oa, "client_secret_secret")) &&
		     !cp_secret_name_valid(v)))
			return fail(p, FIELD("oauth"),
				    "token_secret and client_secret_secret "
				    "must be secret names");
		if ((v = str(oa, "client_metadata_url")) &&
		    strncmp(v, "https://", 8))
			return fail(p, FIELD("oauth.client_metadata_url"),
				    "must be https");
	}
	if (json_object_get(o, "command") &&
	    !strings_ok(json_object_get(o, "command"), 1, 64, 4096, NULL))
		return fail(p, FIELD("command"),
			    "must be 1..64 strings (the argv)");
	if (!pairs_ok(json_object_get(o, "env"), false))
		return fail(p, FIELD("env"),
			    "must map names to one-line strings");
	if (!pairs_ok(json_object_get(o, "headers"), false))
		return fail(p, FIELD("headers"),
			    "must map header names to one-line strings");
	if (!pairs_ok(json_object_get(o, "secrets"), true))
		return fail(p, FIELD("secrets"),
			    "must map header or variable names to secret "
			    "names");
	if (json_object_get(o, "egress") &&
	    !strings_ok(json_object_get(o, "egress"), 0, 64, 300, egress_ok))
		return fail(p, FIELD("egress"),
			    "must be up to 64 \"host:port\" or "
			    "\"*.domain:port\" entries");
#undef FIELD
	return 0;
}

int cp_tools_check(const json_t *body, struct cp_res_problem *p)
{
	const struct key_spec *tabs[] = {tools_keys, NULL};
	const json_t *servers = json_object_get(body, "servers");
	json_t *o;
	size_t i;

	if (keys_check(body, "", tabs, p))
		return -1;
	if (json_array_size(servers) > CP_TOOLS_MAX)
		return fail(p, "servers", "holds more than %d servers",
			    CP_TOOLS_MAX);
	json_array_foreach(servers, i, o) {
		if (server_check(o, i, p))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(str(o, "name"),
				    str(json_array_get(servers, j), "name"))) {
				char f[64];

				snprintf(f, sizeof(f), "servers[%zu].name", i);
				return fail(p, f, "is taken by servers[%zu]",
					    j);
			}
	}
	if (json_object_get(body, "allow") &&
	    !strings_ok(json_object_get(body, "allow"), 0, 1000, 256, NULL))
		return fail(p, "allow",
			    "must be an array of tool names or patterns");
	return 0;
}

/* ---- policies: the gateway's per-channel policies, the runtime's tool
 * policy (docs/runtime.md, "Tool policy and approvals") */

static const struct key_spec policy_keys[] = {
	{"channels", K_OBJ, false, 0, 0},
	{"tool_policy", K_OBJ, false, 0, 0},
	{"tool_categories", K_OBJ, false, 0, 0},
	{"elicitation", K_STR, false, 1, 16},
	{NULL, 0, false, 0, 0}};
static const struct key_spec chan_policy_keys[] = {
	{"dm_policy", K_STR, false, 1, 16},
	{"group_policy", K_STR, false, 1, 16},
	{"allow_from", K_ARR, false, 0, 0},
	{"rate_limit_per_minute", K_INT, false, 0, 100000},
	{NULL, 0, false, 0, 0}};
static const struct key_spec tool_policy_keys[] = {
	{"default", K_STR, false, 1, 16},
	{"approval_ttl_s", K_INT, false, 1, 2592000},
	{"rules", K_ARR, false, 0, 0},
	{NULL, 0, false, 0, 0}};
static const struct key_spec rule_keys[] = {
	{"tool", K_STR, false, 1, 256},
	{"category", K_STR, false, 1, 32},
	{"args", K_ARR, false, 0, 0},
	{"action", K_STR, true, 1, 16},
	{"chat_approval", K_BOOL, false, 0, 0},
	{NULL, 0, false, 0, 0}};
static const struct key_spec arg_keys[] = {{"pointer", K_STR, true, 0, 256},
					   {"glob", K_STR, true, 1, 256},
					   {NULL, 0, false, 0, 0}};

static const char *const categories[] = {"shell_exec",      "code_execution",
					 "file_read",       "file_write",
					 "data_deletion",   "outbound_message",
					 "network_fetch",   "payment",
					 "account_change",  "credentials",
					 "calendar",        "database_write",
					 "browser_control", "device_control",
					 "read_only",       NULL};
static const char *const actions[] = {"allow", "deny", "ask", NULL};

/* A JSON pointer as the runtime takes it (rt_json_pointer_valid): "" or
 * '/'..., no control byte, '~' only as ~0 or ~1. */
static bool pointer_ok(const char *p)
{
	if (*p && *p != '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 ||
		    (*p == '~' && p[1] != '0' && p[1] != '1'))
			return false;
	return true;
}

/* The runtime's globs (rt_glob_valid): 1-256 printable bytes; '\' escapes
 * the next byte; a class '[' (optionally '!') ... ']' is closed, and a ']'
 * right after its opening is a member. */
static bool glob_ok(const char *g)
{
	size_t n = g ? strlen(g) : 0;

	if (!n || n > 256)
		return false;
	for (const char *q = g; *q; q++) {
		const char *close;

		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return false;
		if (*q == '\\') {
			if (!*++q)
				return false;
			continue;
		}
		if (*q != '[')
			continue;
		close = q + 1 + (q[1] == '!');
		close += *close == ']';
		if (!(close = strchr(close, ']')))
			return false;
		q = close;
	}
	return true;
}

static int rule_check(const json_t *r, size_t i, struct cp_res_problem *p)
{
	const struct key_spec *tabs[] = {rule_keys, NULL};
	const struct key_spec *at[] = {arg_keys, NULL};
	char where[48], f[96];
	const json_t *args = json_object_get(r, "args"), *a;
	size_t k;

	snprintf(where, sizeof(where), "tool_policy.rules[%zu]", i);
	if (keys_check(r, where, tabs, p))
		return -1;
#define FIELD(x) (snprintf(f, sizeof(f), "%s." x, where), f)
	if (!json_object_get(r, "tool") && !json_object_get(r, "category"))
		return fail(p, FIELD("tool"), "a rule needs tool or category");
	if (json_object_get(r, "tool") && !glob_ok(str(r, "tool")))
		return fail(p, FIELD("tool"), "must be a glob");
	if (json_object_get(r, "category") &&
	    !word_in(str(r, "category"), categories))
		return fail(p, FIELD("category"),
			    "must be a category of the catalogue");
	if (!word_in(str(r, "action"), actions))
		return fail(p, FIELD("action"), "must be allow, deny or ask");
	if (json_is_true(json_object_get(r, "chat_approval")) &&
	    strcmp(str(r, "action"), "ask"))
		return fail(p, FIELD("chat_approval"), "goes only with ask");
	if (json_array_size(args) > 16)
		return fail(p, FIELD("args"), "holds more than 16 conditions");
#undef FIELD
	json_array_foreach(args, k, a) {
		const char *ptr;

		snprintf(f, sizeof(f), "%s.args[%zu]", where, k);
		if (keys_check(a, f, at, p))
			return -1;
		ptr = str(a, "pointer");
		if (!pointer_ok(ptr) || !glob_ok(str(a, "glob")))
			return fail(p, f,
				    "pointer must be a JSON pointer and "
				    "glob a glob");
	}
	return 0;
}

int cp_policies_check(const json_t *body, struct cp_res_problem *p)
{
	static const char *const elicit[] = {"ask", "decline", NULL};
	const struct key_spec *tabs[] = {policy_keys, NULL};
	const struct key_spec *ct[] = {chan_policy_keys, NULL};
	const struct key_spec *tt[] = {tool_policy_keys, NULL};
	const json_t *tp = json_object_get(body, "tool_policy"), *v;
	const char *key;
	char f[96];
	size_t i;

	if (keys_check(body, "", tabs, p))
		return -1;
	json_object_foreach(json_object_get(body, "channels"), key, v) {
		if (!cp_channel_known(key))
			return fail(p, "channels",
				    "names an unknown channel "
				    "kind; known: %s",
				    cp_channel_kinds_text());
		snprintf(f, sizeof(f), "channels.%s", key);
		if (keys_check(v, f, ct, p) || chan_policy_check(v, f, p))
			return -1;
	}
	if (json_object_get(body, "elicitation") &&
	    !word_in(str(body, "elicitation"), elicit))
		return fail(p, "elicitation", "must be ask or decline");
	json_object_foreach(json_object_get(body, "tool_categories"), key, v) {
		if (!glob_ok(key) || !word_in(json_string_value(v), categories))
			return fail(p, "tool_categories",
				    "must map globs to categories of the "
				    "catalogue");
	}
	if (!tp)
		return 0;
	if (keys_check(tp, "tool_policy", tt, p))
		return -1;
	if (json_object_get(tp, "default") &&
	    !word_in(str(tp, "default"), actions))
		return fail(p, "tool_policy.default",
			    "must be allow, deny or ask");
	if (json_array_size(json_object_get(tp, "rules")) > 1000)
		return fail(p, "tool_policy.rules",
			    "holds more than 1000 rules");
	json_array_foreach(json_object_get(tp, "rules"), i, v) {
		if (rule_check(v, i, p))
			return -1;
	}
	return 0;
}

/* ---- what a body needs */

static int append_str(json_t *a, const char *s)
{
	size_t i;
	json_t *v;

	if (!s)
		return 0;
	json_array_foreach(a, i, v) {
		if (!strcmp(json_string_value(v), s))
			return 0;
	}
	return json_array_append_new(a, json_string(s));
}

json_t *cp_res_secret_refs(enum cp_res_kind k, const json_t *body)
{
	json_t *a = json_array(), *o, *v;
	const char *key;
	size_t i;
	int r = 0;

	if (!a)
		return NULL;
	if (k == CP_RES_MODEL) {
		r |= append_str(a, str(body, "api_key_secret"));
		r |= append_str(a,
				str(json_object_get(body, "fallback"),
				    "api_key_secret"));
	}
	if (k == CP_RES_TOOLS)
		json_array_foreach(json_object_get(body, "servers"), i, o) {
			json_object_foreach(json_object_get(o, "secrets"), key,
					    v)
				r |= append_str(a, json_string_value(v));
			/* a pre-registered client's secret; not the grant's,
			 * which clawctl mcp connect stores */
			r |= append_str(a,
					str(json_object_get(o, "oauth"),
					    "client_secret_secret"));
		}
	if (r) {
		json_decref(a);
		return NULL;
	}
	return a;
}

bool cp_url_host_port(const char *url, char *out, size_t outlen)
{
	bool tls = url && !strncmp(url, "https://", 8);
	const char *h, *end, *at;
	size_t n;
	int w;
	bool port;

	if (!url || (!tls && strncmp(url, "http://", 7)))
		return false;
	h = url + (tls ? 8 : 7);
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	n = (size_t)(end - h);
	if (!n || *h == ':')
		return false;
	if (*h == '[') {
		const char *rb = memchr(h, ']', n);

		if (!rb)
			return false;
		port = rb + 1 < end && rb[1] == ':';
	} else {
		port = memchr(h, ':', n) != NULL;
	}
	if (port)
		w = snprintf(out, outlen, "%.*s", (int)n, h);
	else
		w = snprintf(out, outlen, "%.*s:%s", (int)n, h,
			     tls ? "443" : "80");
	return w > 0 && (size_t)w < outlen;
}

static int append_url(json_t *a, const char *url)
{
	char hp[300];

	return url && cp_url_host_port(url, hp, sizeof(hp)) ? append_str(a, hp)
							    : 0;
}

json_t *cp_res_egress_needs(enum cp_res_kind k, const json_t *body)
{
	json_t *a = json_array(), *o, *v;
	size_t i, j;
	int r = 0;

	if (!a)
		return NULL;
	if (k == CP_RES_MODEL) {
		r |= append_url(a, str(body, "base_url"));
		r |= append_url(
			a, str(json_object_get(body, "fallback"), "base_url"));
	}
	if (k == CP_RES_TOOLS)
		json_array_foreach(json_object_get(body, "servers"), i, o) {
			r |= append_url(a, str(o, "url"));
			json_array_foreach(json_object_get(o, "egress"), j, v)
				r |= append_str(a, json_string_value(v));
		}
	if (r) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int cp_res_check(enum cp_res_kind k, const char *name, const json_t *body,
		 struct cp_res_problem *p)
{
	json_t *out = NULL;
	int r;

	switch (k) {
	case CP_RES_CHANNEL:
		return cp_channel_check(name, body, NULL, p);
	case CP_RES_PERSONA:
		r = cp_persona_check(body, &out, p);
		json_decref(out);
		return r;
	case CP_RES_MODEL:
		if (cp_model_check(body, p))
			return -1;
		if (json_object_get(body, "api_key") ||
		    json_object_get(json_object_get(body, "fallback"),
				    "api_key"))
			return fail(p, "api_key",
				    "a template holds no secret "
				    "value; name the secret (api_key_secret)");
		return 0;
	case CP_RES_TOOLS:
		return cp_tools_check(body, p);
	case CP_RES_POLICIES:
		return cp_policies_check(body, p);
	default:
		return fail(p, "kind", "unknown resource kind");
	}
}
