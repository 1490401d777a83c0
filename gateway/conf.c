/*
 * conf.c - the gateway's JSON config (/etc/claw/gateway.json, written by
 * the node agent) and the secrets it names, validated field by field:
 * unknown keys, wrong types, out-of-range numbers and missing secrets of
 * an enabled channel are refused with a message naming the field. The
 * file is read with claw_file_read (a regular file, at most 1 MiB). The
 * parsed config is immutable and reference counted so a SIGHUP can swap it
 * while workers still use the old one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/file.h"
#include "claw/json.h"
#include "claw/secret.h"
#include "gw.h"

/* The config file's ceiling: a few channels and an allow-list. */
#define CONF_MAX_BYTES (1u << 20)

static const char *const default_base[GW_CH__COUNT] = {
	[GW_CH_TELEGRAM] = "https://api.telegram.org",
	[GW_CH_SLACK] = "https://slack.com/api",
	[GW_CH_DISCORD] = "https://discord.com/api/v10",
	[GW_CH_WHATSAPP] = "https://graph.facebook.com",
	[GW_CH_LINE] = "https://api.line.me",
	[GW_CH_TWILIO] = "https://api.twilio.com",
	[GW_CH_GOOGLECHAT] = "https://chat.googleapis.com",
	[GW_CH_FEISHU] = "https://open.feishu.cn",
	/* mattermost, matrix, signal: the tenant's own server (signal: its
	   signal-cli daemon), api_base required; teams: replies go to each
	   conversation's serviceUrl */
};

/* Where the channels' tokens and keys come from (configurable for
 * fakes). */
#define TEAMS_OPENID_URL                                                       \
	"https://login.botframework.com/v1/.well-known/openidconfiguration"
#define TEAMS_TOKEN_URL                                                        \
	"https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"
#define GCHAT_TOKEN_URL "https://oauth2.googleapis.com/token"
#define GCHAT_CERTS_URL                                                        \
	"https://www.googleapis.com/service_accounts/v1/metadata/x509/"        \
	"chat@system.gserviceaccount.com"

static void secret_clear(struct gw_secret *s)
{
	claw_secret_free(s->val);
	s->val = NULL;
	s->len = 0;
}

/* Read dir/name (claw_secret_read). A missing file leaves s empty and is
 * an error only when required; an empty value is refused. */
static enum claw_rc secret_read(const char *dir, const char *name,
				bool required, struct gw_secret *s,
				char *errbuf, size_t errlen)
{
	enum claw_rc rc =
		claw_secret_read(dir, name, &s->val, &s->len, errbuf, errlen);
	if (rc == CLAW_ERR_NOT_FOUND && !required)
		return CLAW_OK;
	if (!rc && !s->len) {
		snprintf(errbuf, errlen, "secret '%s' in '%s' is empty", name,
			 dir);
		secret_clear(s);
		rc = CLAW_ERR_INVALID;
	}
	return rc;
}

static int policy_word(const char *v, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return i;
	return -1;
}

/* The settings every channel has, read into locals first (with their
 * defaults) and checked before they reach the channel's config. */
struct chan_common {
	bool enabled;
	const char *dm, *groups;
	json_int_t rate, max_bytes;
	json_int_t max_segments; /* twilio */
};

#define CHAN_FIELDS_MAX 20

static struct claw_json_field field(const char *name, enum claw_json_type t,
				    bool required, void *out, size_t max_len)
{
	return (struct claw_json_field){name, t, required, out, max_len};
}

/* The fields every channel accepts, and api_base for those that call an
 * outside API. Sets the defaults; returns how many fields it added. */
static size_t common_fields(enum gw_channel ch, struct gw_chan_conf *cc,
			    struct chan_common *k, struct claw_json_field *f)
{
	size_t n = 0;
	*k = (struct chan_common){.enabled = true,
				  .dm = "open",
				  .groups = "mention",
				  .rate = 30,
				  .max_bytes = 16384,
				  .max_segments = 10};
	cc->api_base = default_base[ch];
	cc->mode = "webhook";
	cc->api_version = "v21.0";
	f[n++] = field("enabled", CLAW_JSON_BOOL, false, &k->enabled, 0);
	f[n++] = field("dm_policy", CLAW_JSON_STRING, false, &k->dm, 16);
	f[n++] = field("group_policy", CLAW_JSON_STRING, false, &k->groups, 16);
	f[n++] =
		field("allow_from", CLAW_JSON_ARRAY, false, &cc->allow_from, 0);
	f[n++] = field("rate_limit_per_minute", CLAW_JSON_INT, false, &k->rate,
		       0);
	f[n++] = field("max_message_bytes", CLAW_JSON_INT, false, &k->max_bytes,
		       0);
	if (ch != GW_CH_WEBCHAT && ch != GW_CH_OPENAI && ch != GW_CH_TEAMS &&
	    ch != GW_CH_IRC && ch != GW_CH_EMAIL)
		f[n++] = field("api_base", CLAW_JSON_STRING,
			       ch == GW_CH_MATTERMOST || ch == GW_CH_MATRIX ||
				       ch == GW_CH_SIGNAL,
			       &cc->api_base, 512);
	return n;
}

/* The fields only one kind of channel has (its required ones among them).
 * Appends to f at *n. */
static void kind_fields(enum gw_channel ch, struct gw_chan_conf *cc,
			struct chan_common *k, struct claw_json_field *f,
			size_t *n)
{
	switch (ch) {
	case GW_CH_TELEGRAM:
		f[(*n)++] =
			field("mode", CLAW_JSON_STRING, false, &cc->mode, 16);
		f[(*n)++] = field("bot_username", CLAW_JSON_STRING, false,
				  &cc->bot_username, 64);
		f[(*n)++] = field("webhook_url", CLAW_JSON_STRING, false,
				  &cc->webhook_url, 1024);
		break;
	case GW_CH_SLACK:
		cc->mode = "events";
		f[(*n)++] = field("bot_user_id", CLAW_JSON_STRING, false,
				  &cc->bot_user_id, 64);
		f[(*n)++] =
			field("mode", CLAW_JSON_STRING, false, &cc->mode, 16);
		break;
	case GW_CH_DISCORD:
		f[(*n)++] = field("public_key", CLAW_JSON_STRING, true,
				  &cc->public_key_hex, 64);
		f[(*n)++] = field("application_id", CLAW_JSON_STRING, true,
				  &cc->application_id, 32);
		f[(*n)++] = field("gateway", CLAW_JSON_BOOL, false,
				  &cc->gateway, 0);
		break;
	case GW_CH_WHATSAPP:
		f[(*n)++] = field("api_version", CLAW_JSON_STRING, false,
				  &cc->api_version, 16);
		f[(*n)++] = field("phone_number_id", CLAW_JSON_STRING, true,
				  &cc->phone_number_id, 64);
		break;
	case GW_CH_OPENAI:
		f[(*n)++] =
			field("models", CLAW_JSON_ARRAY, false, &cc->models, 0);
		break;
	case GW_CH_TWILIO:
		f[(*n)++] = field("account_sid", CLAW_JSON_STRING, true,
				  &cc->account_sid, 34);
		f[(*n)++] = field("webhook_url", CLAW_JSON_STRING, true,
				  &cc->webhook_url, 1024);
		f[(*n)++] = field("messaging_service_sid", CLAW_JSON_STRING,
				  false, &cc->messaging_service_sid, 34);
		f[(*n)++] = field("max_segments", CLAW_JSON_INT, false,
				  &k->max_segments, 0);
		break;
	case GW_CH_MATTERMOST:
		f[(*n)++] = field("bot_username", CLAW_JSON_STRING, false,
				  &cc->bot_username, 64);
		f[(*n)++] =
			field("mode", CLAW_JSON_STRING, false, &cc->mode, 16);
		break;
	case GW_CH_TEAMS:
		cc->keys_url = TEAMS_OPENID_URL;
		cc->token_url = TEAMS_TOKEN_URL;
		f[(*n)++] = field("app_id", CLAW_JSON_STRING, true, &cc->app_id,
				  64);
		f[(*n)++] = field("openid_metadata_url", CLAW_JSON_STRING,
				  false, &cc->keys_url, 512);
		f[(*n)++] = field("token_url", CLAW_JSON_STRING, false,
				  &cc->token_url, 512);
		f[(*n)++] = field("service_url_prefixes", CLAW_JSON_ARRAY,
				  false, &cc->service_url_prefixes, 0);
		break;
	case GW_CH_GOOGLECHAT:
		cc->keys_url = GCHAT_CERTS_URL;
		cc->token_url = GCHAT_TOKEN_URL;
		f[(*n)++] = field("token_url", CLAW_JSON_STRING, false,
				  &cc->token_url, 512);
		f[(*n)++] = field("project_number", CLAW_JSON_STRING, true,
				  &cc->project_number, 20);
		f[(*n)++] = field("certs_url", CLAW_JSON_STRING, false,
				  &cc->keys_url, 512);
		break;
	case GW_CH_FEISHU:
		f[(*n)++] = field("app_id", CLAW_JSON_STRING, true, &cc->app_id,
				  64);
		f[(*n)++] = field("bot_open_id", CLAW_JSON_STRING, false,
				  &cc->bot_user_id, 64);
		break;
	case GW_CH_MATRIX:
		cc->mode = "sync";
		f[(*n)++] = field("user_id", CLAW_JSON_STRING, true,
				  &cc->bot_user_id, 255);
		f[(*n)++] =
			field("mode", CLAW_JSON_STRING, false, &cc->mode, 16);
		break;
	case GW_CH_SIGNAL:
		f[(*n)++] = field("account", CLAW_JSON_STRING, true,
				  &cc->account_sid, 64);
		break;
	case GW_CH_IRC:
		gw_irc_fields(cc, f, n);
		break;
	case GW_CH_EMAIL:
		gw_email_fields(cc, f, n);
		break;
	default:
		break;
	}
}

/* dm_policy and group_policy: one of their words each. */
static enum claw_rc check_policies(enum gw_channel ch,
				   const struct chan_common *k,
				   struct gw_chan_conf *cc, char *errbuf,
				   size_t errlen)
{
	static const char *const dm_words[] = {"open", "allowlist", "pairing"};
	static const char *const group_words[] = {"mention", "all", "off"};
	int d = policy_word(k->dm, dm_words, 3);
	int g = policy_word(k->groups, group_words, 3);
	if (d < 0 || g < 0) {
		snprintf(errbuf, errlen, "channels.%s: %s must be one of %s",
			 gw_channel_name(ch),
			 d < 0 ? "dm_policy" : "group_policy",
			 d < 0 ? "open, allowlist, pairing"
			       : "mention, all, off");
		return CLAW_ERR_INVALID;
	}
	cc->dm = (enum gw_dm_policy)d;
	cc->groups = (enum gw_group_policy)g;
	return CLAW_OK;
}

/* rate_limit_per_minute and max_message_bytes within their bounds. */
static enum claw_rc check_limits(enum gw_channel ch,
				 const struct chan_common *k,
				 struct gw_chan_conf *cc, char *errbuf,
				 size_t errlen)
{
	if (k->rate < 0 || k->rate > 100000 || k->max_bytes < 1 ||
	    k->max_bytes > 1024 * 1024) {
		snprintf(errbuf, errlen,
			 "channels.%s: rate_limit_per_minute must be 0..100000 "
			 "and max_message_bytes 1..1048576",
			 gw_channel_name(ch));
		return CLAW_ERR_INVALID;
	}
	cc->rate_per_min = (long)k->rate;
	cc->max_bytes = (long)k->max_bytes;
	return CLAW_OK;
}

/* allow_from: sender id strings, 1..128 bytes each. */
static enum claw_rc check_allow_from(enum gw_channel ch,
				     const struct gw_chan_conf *cc,
				     char *errbuf, size_t errlen)
{
	size_t i;
	json_t *v;
	json_array_foreach(cc->allow_from, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 128) {
			snprintf(errbuf, errlen,
				 "channels.%s: allow_from[%zu] must be a "
				 "sender id string",
				 gw_channel_name(ch), i);
			return CLAW_ERR_INVALID;
		}
	}
	return CLAW_OK;
}

/* api_base: an http:// or https:// URL. */
static enum claw_rc check_api_base(enum gw_channel ch,
				   const struct gw_chan_conf *cc, char *errbuf,
				   size_t errlen)
{
	if (cc->api_base && strncmp(cc->api_base, "http://", 7) != 0 &&
	    strncmp(cc->api_base, "https://", 8) != 0) {
		snprintf(errbuf, errlen,
			 "channels.%s: api_base must start with http:// or "
			 "https://",
			 gw_channel_name(ch));
		return CLAW_ERR_INVALID;
	}
	return CLAW_OK;
}

/* A Twilio SID: two letters of its kind and 32 hex digits. */
static bool sid_valid(const char *sid, const char *kind)
{
	return strlen(sid) == 34 && strncmp(sid, kind, 2) == 0 &&
		strspn(sid + 2, "0123456789abcdefABCDEF") == 32;
}

/* twilio: account_sid "AC…", webhook_url an http(s) URL (what Twilio
 * signs), messaging_service_sid "MG…", max_segments 1..10. */
static enum claw_rc check_twilio(const struct gw_chan_conf *cc, char *errbuf,
				 size_t errlen)
{
	const char *why = NULL;
	if (!sid_valid(cc->account_sid, "AC"))
		why = "account_sid must be AC and 32 hex digits";
	else if (strncmp(cc->webhook_url, "https://", 8) != 0 &&
		 strncmp(cc->webhook_url, "http://", 7) != 0)
		why = "webhook_url must be the http:// or https:// URL "
		      "configured in Twilio";
	else if (cc->messaging_service_sid &&
		 !sid_valid(cc->messaging_service_sid, "MG"))
		why = "messaging_service_sid must be MG and 32 hex digits";
	else if (cc->max_segments < 1 || cc->max_segments > 10)
		why = "max_segments must be 1..10";
	if (why) {
		snprintf(errbuf, errlen, "channels.twilio: %s", why);
		return CLAW_ERR_INVALID;
	}
	return CLAW_OK;
}

/* openai: models, 1..16 ids of 1..64 characters a path segment can
 * carry ([A-Za-z0-9._:-]). */
static enum claw_rc check_models(const struct gw_chan_conf *cc, char *errbuf,
				 size_t errlen)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "abcdefghijklmnopqrstuvwxyz0123456789._:-";
	size_t i;
	json_t *v;
	if (cc->models &&
	    (!json_array_size(cc->models) || json_array_size(cc->models) > 16))
		goto bad;
	json_array_foreach(cc->models, i, v) {
		const char *id = json_string_value(v);
		if (!id || !*id || strlen(id) > 64 ||
		    strspn(id, ok) != strlen(id))
			goto bad;
	}
	return CLAW_OK;
bad:
	snprintf(errbuf, errlen,
		 "channels.openai: models must be 1..16 model ids of 1..64 "
		 "characters from A-Z a-z 0-9 . _ : -");
	return CLAW_ERR_INVALID;
}

static bool http_url(const char *u)
{
	return u &&
		(strncmp(u, "https://", 8) == 0 ||
		 strncmp(u, "http://", 7) == 0);
}

/* teams: the URLs, 1..16 serviceUrl prefixes (http(s), at most 256
 * characters); googlechat: the project number (digits) and URLs; feishu's
 * app id; matrix's user id (@localpart:server); signal's account. */
static enum claw_rc check_new(enum gw_channel ch, const struct gw_chan_conf *cc,
			      char *errbuf, size_t errlen)
{
	const char *why = NULL;
	size_t i;
	json_t *v;
	if ((ch == GW_CH_TEAMS || ch == GW_CH_GOOGLECHAT) &&
	    !http_url(cc->keys_url))
		why = ch == GW_CH_TEAMS
			? "openid_metadata_url must be an http(s) URL"
			: "certs_url must be an http(s) URL";
	else if ((ch == GW_CH_TEAMS || ch == GW_CH_GOOGLECHAT) &&
		 !http_url(cc->token_url))
		why = "token_url must be an http(s) URL";
	else if (ch == GW_CH_TEAMS &&
		 (!*cc->app_id || strpbrk(cc->app_id, " /?#&")))
		why = "app_id must be the bot's Microsoft app id";
	else if (ch == GW_CH_TEAMS && cc->service_url_prefixes &&
		 (!json_array_size(cc->service_url_prefixes) ||
		  json_array_size(cc->service_url_prefixes) > 16))
		why = "service_url_prefixes must hold 1..16 URL prefixes";
	else if (ch == GW_CH_GOOGLECHAT &&
		 (!*cc->project_number ||
		  strspn(cc->project_number, "0123456789") !=
			  strlen(cc->project_number)))
		why = "project_number must be the Cloud project's number "
		      "(digits)";
	else if (ch == GW_CH_FEISHU &&
		 (!*cc->app_id || strpbrk(cc->app_id, " /?#&\"")))
		why = "app_id must be the app's id (cli_…)";
	else if (ch == GW_CH_SIGNAL &&
		 (!*cc->account_sid || strpbrk(cc->account_sid, " /?#&\"\\")))
		why = "account must be the signal-cli account (+E164 or its "
		      "UUID)";
	else if (ch == GW_CH_MATRIX &&
		 (cc->bot_user_id[0] != '@' || !strchr(cc->bot_user_id, ':') ||
		  strpbrk(cc->bot_user_id, " /?#")))
		why = "user_id must be the bot's Matrix user id "
		      "(@name:server)";
	json_array_foreach(ch == GW_CH_TEAMS ? cc->service_url_prefixes : NULL,
			   i, v) {
		if (!why &&
		    (!http_url(json_string_value(v)) ||
		     json_string_length(v) > 256))
			why = "service_url_prefixes must hold http(s) URL "
			      "prefixes";
	}
	if (why) {
		snprintf(errbuf, errlen, "channels.%s: %s", gw_channel_name(ch),
			 why);
		return CLAW_ERR_INVALID;
	}
	return CLAW_OK;
}

/* telegram's webhook_url (optional): an https:// URL with a host, no
 * white space or control characters, on a port Telegram delivers to
 * (443, 80, 88, 8443). */
static bool tg_webhook_url_ok(const char *url)
{
	const char *host = url + 8, *end;
	if (strncmp(url, "https://", 8) != 0 || !*host || *host == '/' ||
	    *host == ':')
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	end = host + strcspn(host, "/?#");
	const char *colon = memchr(host, ':', (size_t)(end - host));
	if (!colon)
		return true;
	size_t n = (size_t)(end - colon - 1);
	return (n == 3 && strncmp(colon + 1, "443", 3) == 0) ||
		(n == 2 &&
		 (strncmp(colon + 1, "80", 2) == 0 ||
		  strncmp(colon + 1, "88", 2) == 0)) ||
		(n == 4 && strncmp(colon + 1, "8443", 4) == 0);
}

/* The kind's own values: telegram's and slack's mode, discord's key,
 * openai's models, twilio's ids and URL, the new channels' ids. */
static enum claw_rc check_kind(enum gw_channel ch,
			       const struct gw_chan_conf *cc, char *errbuf,
			       size_t errlen)
{
	uint8_t pk[32];
	if (ch == GW_CH_TELEGRAM && strcmp(cc->mode, "webhook") != 0 &&
	    strcmp(cc->mode, "polling") != 0) {
		snprintf(errbuf, errlen,
			 "channels.telegram: mode must be webhook or polling");
		return CLAW_ERR_INVALID;
	}
	if (ch == GW_CH_TELEGRAM && cc->webhook_url &&
	    !tg_webhook_url_ok(cc->webhook_url)) {
		snprintf(errbuf, errlen,
			 "channels.telegram: webhook_url must be an https:// "
			 "URL with a host (port 443, 80, 88 or 8443), as "
			 "Telegram requires");
		return CLAW_ERR_INVALID;
	}
	if (ch == GW_CH_SLACK && strcmp(cc->mode, "events") != 0 &&
	    strcmp(cc->mode, "socket") != 0) {
		snprintf(errbuf, errlen,
			 "channels.slack: mode must be events or socket");
		return CLAW_ERR_INVALID;
	}
	if ((ch == GW_CH_MATRIX && strcmp(cc->mode, "sync") != 0 &&
	     strcmp(cc->mode, "appservice") != 0) ||
	    (ch == GW_CH_MATTERMOST && strcmp(cc->mode, "webhook") != 0 &&
	     strcmp(cc->mode, "websocket") != 0)) {
		snprintf(errbuf, errlen, "channels.%s: mode must be %s",
			 gw_channel_name(ch),
			 ch == GW_CH_MATRIX ? "sync or appservice"
					    : "webhook or websocket");
		return CLAW_ERR_INVALID;
	}
	if (cc->public_key_hex &&
	    (strlen(cc->public_key_hex) != 64 ||
	     claw_hex_decode(cc->public_key_hex, pk, 32))) {
		snprintf(errbuf, errlen,
			 "channels.discord: public_key must be 64 hex "
			 "characters");
		return CLAW_ERR_INVALID;
	}
	if (ch == GW_CH_OPENAI)
		return check_models(cc, errbuf, errlen);
	if (ch == GW_CH_TWILIO)
		return check_twilio(cc, errbuf, errlen);
	const char *why = ch == GW_CH_IRC ? gw_irc_conf_why(cc)
		: ch == GW_CH_EMAIL       ? gw_email_conf_why(cc)
					  : NULL;
	if (why) {
		snprintf(errbuf, errlen, "channels.%s: %s", gw_channel_name(ch),
			 why);
		return CLAW_ERR_INVALID;
	}
	if (ch >= GW_CH_TEAMS)
		return check_new(ch, cc, errbuf, errlen);
	return CLAW_OK;
}

/* One channel's object: its fields (unknown ones refused), then each
 * value checked in turn; the first problem is reported. */
static enum claw_rc check_channel(enum gw_channel ch, json_t *obj,
				  struct gw_chan_conf *cc, char *errbuf,
				  size_t errlen)
{
	struct claw_json_field f[CHAN_FIELDS_MAX];
	struct claw_json_problem p;
	struct chan_common k;
	enum claw_rc rc;
	size_t n = common_fields(ch, cc, &k, f);
	kind_fields(ch, cc, &k, f, &n);
	f[n] = (struct claw_json_field){0};
	if (claw_json_unpack(obj, f, &p)) {
		snprintf(errbuf, errlen, "channels.%s: %s", gw_channel_name(ch),
			 p.message);
		return CLAW_ERR_INVALID;
	}
	cc->enabled = k.enabled;
	cc->max_segments = (long)k.max_segments;
	if ((rc = check_policies(ch, &k, cc, errbuf, errlen)) ||
	    (rc = check_limits(ch, &k, cc, errbuf, errlen)) ||
	    (rc = check_allow_from(ch, cc, errbuf, errlen)) ||
	    (rc = check_api_base(ch, cc, errbuf, errlen)) ||
	    (rc = check_kind(ch, cc, errbuf, errlen)))
		return rc;
	return CLAW_OK;
}

/* egress_allow: names, addresses or networks with a port (egress.c). */
static enum claw_rc check_egress_allow(const struct gw_conf *c, char *errbuf,
				       size_t errlen)
{
	size_t i;
	json_t *v;
	json_array_foreach(c->egress_allow, i, v) {
		if (!gw_egress_entry_valid(json_string_value(v))) {
			snprintf(errbuf, errlen,
				 "egress_allow[%zu] must be \"host:port\", "
				 "\"*.domain:port\", \"IPv4:port\", "
				 "\"[IPv6]:port\", \"IPv4/8..32:port\" or "
				 "\"[IPv6/16..128]:port\"",
				 i);
			return CLAW_ERR_INVALID;
		}
	}
	return CLAW_OK;
}

/* channels: known names only, each an object checked by check_channel. */
static enum claw_rc check_channels(json_t *channels, struct gw_conf *c,
				   char *errbuf, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t pos = 0;
	json_object_foreach(channels, key, v) {
		int ch = gw_channel_parse(key);
		pos++;
		if (ch < 0) {
			/* named by position, never by its bytes: a value
			 * sent as a key must not reach a log */
			snprintf(errbuf, errlen,
				 "channels: unknown channel #%zu (key number "
				 "%zu of the object; known: telegram, slack, "
				 "discord, whatsapp, webchat, openai, line, "
				 "twilio, mattermost, teams, googlechat, "
				 "feishu, matrix, signal, irc, email)",
				 pos, pos);
			return CLAW_ERR_INVALID;
		}
		if (!json_is_object(v)) {
			snprintf(errbuf, errlen,
				 "channels.%s must be an object", key);
			return CLAW_ERR_INVALID;
		}
		enum claw_rc rc = check_channel((enum gw_channel)ch, v,
						&c->ch[ch], errbuf, errlen);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

enum claw_rc gw_conf_check(json_t *root, struct gw_conf *c, char *errbuf,
			   size_t errlen)
{
	struct claw_json_problem p;
	json_t *channels = NULL, *quota = NULL;
	json_int_t workers = 8, compact = 4 * 1024 * 1024, max_age = 600;
	json_int_t backlog = GW_MAX_BACKLOG_DEFAULT,
		   pending = GW_MAX_JOURNAL_PENDING_DEFAULT;
	c->unavailable_text = "This assistant is unavailable right now. Please "
			      "try again later.";
	struct claw_json_field f[] = {
		{"tenant", CLAW_JSON_STRING, true, &c->tenant, 128},
		{"suspended", CLAW_JSON_BOOL, false, &c->suspended, 0},
		{"unavailable_text", CLAW_JSON_STRING, false,
		 &c->unavailable_text, 1000},
		{"ca_file", CLAW_JSON_STRING, false, &c->ca_file, 1024},
		{"workers", CLAW_JSON_INT, false, &workers, 0},
		{"journal_compact_bytes", CLAW_JSON_INT, false, &compact, 0},
		{"max_event_age_seconds", CLAW_JSON_INT, false, &max_age, 0},
		{"max_backlog", CLAW_JSON_INT, false, &backlog, 0},
		{"max_journal_pending", CLAW_JSON_INT, false, &pending, 0},
		{"egress_allow", CLAW_JSON_ARRAY, false, &c->egress_allow, 0},
		{"channels", CLAW_JSON_OBJECT, true, &channels, 0},
		{"quota", CLAW_JSON_ANY, false, &quota, 0},
		{NULL},
	};
	if (!json_is_object(root)) {
		snprintf(errbuf, errlen, "the config must be one JSON object");
		return CLAW_ERR_INVALID;
	}
	if (claw_json_unpack(root, f, &p)) {
		snprintf(errbuf, errlen, "%s", p.message);
		return CLAW_ERR_INVALID;
	}
	if (workers < 1 || workers > 256 || compact < 4096 ||
	    compact > (json_int_t)1 << 34) {
		snprintf(errbuf, errlen,
			 "workers must be 1..256 and journal_compact_bytes "
			 "4096..17179869184");
		return CLAW_ERR_INVALID;
	}
	if (max_age < 60 || max_age > 7 * 86400) {
		snprintf(errbuf, errlen,
			 "max_event_age_seconds must be 60..604800");
		return CLAW_ERR_INVALID;
	}
	if (backlog < 16 || backlog > 1000000 || pending < backlog ||
	    pending > 10000000) {
		snprintf(errbuf, errlen,
			 "max_backlog must be 16..1000000 and "
			 "max_journal_pending max_backlog..10000000");
		return CLAW_ERR_INVALID;
	}
	c->max_backlog = (long)backlog;
	c->max_journal_pending = (long)pending;
	c->workers = (long)workers;
	c->compact_bytes = (long)compact;
	c->max_event_age_s = (long)max_age;
	enum claw_rc rc = check_egress_allow(c, errbuf, errlen);
	if (!rc)
		rc = gw_quota_conf_parse(quota, &c->quota, errbuf, errlen);
	if (!rc)
		rc = check_channels(channels, c, errbuf, errlen);
	return rc;
}

struct secret_need {
	enum gw_channel ch;
	int slot;
	const char *file;
	bool required;
};

static const struct secret_need needs[] = {
	{GW_CH_TELEGRAM, 1, "telegram_bot_token", true},
	{GW_CH_TELEGRAM, 2, "telegram_webhook_secret", false},
	{GW_CH_SLACK, 1, "slack_signing_secret", false},
	{GW_CH_SLACK, 2, "slack_bot_token", true},
	{GW_CH_SLACK, 3, "slack_app_token", false},
	{GW_CH_DISCORD, 1, "discord_bot_token", false},
	{GW_CH_WHATSAPP, 1, "whatsapp_app_secret", true},
	{GW_CH_WHATSAPP, 2, "whatsapp_verify_token", true},
	{GW_CH_WHATSAPP, 3, "whatsapp_access_token", true},
	{GW_CH_OPENAI, 1, "openai_api_token", true},
	{GW_CH_LINE, 1, "line_channel_secret", true},
	{GW_CH_LINE, 2, "line_channel_access_token", true},
	{GW_CH_TWILIO, 1, "twilio_auth_token", true},
	{GW_CH_MATTERMOST, 1, "mattermost_webhook_token", false},
	{GW_CH_MATTERMOST, 2, "mattermost_bot_token", true},
	{GW_CH_TEAMS, 1, "teams_app_password", true},
	{GW_CH_GOOGLECHAT, 1, "googlechat_service_account", true},
	{GW_CH_FEISHU, 1, "feishu_app_secret", true},
	{GW_CH_FEISHU, 2, "feishu_verification_token", true},
	{GW_CH_FEISHU, 3, "feishu_encrypt_key", false},
	{GW_CH_MATRIX, 1, "matrix_access_token", false},
	{GW_CH_MATRIX, 2, "matrix_as_token", false},
	{GW_CH_MATRIX, 3, "matrix_hs_token", false},
	{GW_CH_IRC, 1, "irc_sasl_password", true},
	{GW_CH_EMAIL, 1, "email_password", true},
};

static struct gw_secret *slot_of(struct gw_chan_conf *cc, int slot)
{
	return slot == 1 ? &cc->s1 : slot == 2 ? &cc->s2 : &cc->s3;
}

static enum claw_rc load_secrets(struct gw_conf *c, const char *dir,
				 char *errbuf, size_t errlen)
{
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		struct gw_chan_conf *cc = &c->ch[needs[i].ch];
		if (!cc->enabled)
			continue;
		enum claw_rc rc =
			secret_read(dir, needs[i].file, needs[i].required,
				    slot_of(cc, needs[i].slot), errbuf, errlen);
		if (rc)
			return rc;
	}
	struct gw_chan_conf *tg = &c->ch[GW_CH_TELEGRAM];
	if (tg->enabled && strcmp(tg->mode, "webhook") == 0 && !tg->s2.val) {
		snprintf(errbuf, errlen,
			 "channels.telegram in webhook mode needs the secret "
			 "file 'telegram_webhook_secret' in '%s'",
			 dir);
		return CLAW_ERR_NOT_FOUND;
	}
	static const struct {
		enum gw_channel ch;
		const char *mode;
		int slot;
		const char *file;
	} by_mode[] = {
		{GW_CH_SLACK, "events", 1, "slack_signing_secret"},
		{GW_CH_SLACK, "socket", 3, "slack_app_token"},
		{GW_CH_DISCORD, "gateway", 1, "discord_bot_token"},
		{GW_CH_MATTERMOST, "webhook", 1, "mattermost_webhook_token"},
		{GW_CH_MATRIX, "sync", 1, "matrix_access_token"},
		{GW_CH_MATRIX, "appservice", 2, "matrix_as_token"},
		{GW_CH_MATRIX, "appservice", 3, "matrix_hs_token"},
	};
	for (size_t i = 0; i < sizeof(by_mode) / sizeof(by_mode[0]); i++) {
		struct gw_chan_conf *cc = &c->ch[by_mode[i].ch];
		if (!cc->enabled)
			continue;
		bool on = by_mode[i].ch == GW_CH_DISCORD
			? cc->gateway
			: strcmp(cc->mode, by_mode[i].mode) == 0;
		if (on && !slot_of(cc, by_mode[i].slot)->val) {
			snprintf(errbuf, errlen,
				 "channels.%s (%s) needs the secret file '%s' "
				 "in '%s'",
				 gw_channel_name(by_mode[i].ch),
				 by_mode[i].mode, by_mode[i].file, dir);
			return CLAW_ERR_NOT_FOUND;
		}
	}
	return secret_read(dir, "admin_token", false, &c->admin_token, errbuf,
			   errlen);
}

void gw_conf_put(struct gw_conf *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	for (int i = 0; i < GW_CH__COUNT; i++) {
		secret_clear(&c->ch[i].s1);
		secret_clear(&c->ch[i].s2);
		secret_clear(&c->ch[i].s3);
	}
	secret_clear(&c->admin_token);
	json_decref(c->root);
	free(c);
}

/* The config file's text into b (claw_file_read: a regular file, at most
 * CONF_MAX_BYTES). */
static enum claw_rc conf_read(const char *path, struct claw_buf *b,
			      char *errbuf, size_t errlen)
{
	enum claw_rc rc = claw_file_read(path, b);
	if (rc == CLAW_ERR_IO)
		snprintf(errbuf, errlen, "unable to open config '%s': %s", path,
			 strerror(errno));
	else if (rc == CLAW_ERR_INVALID)
		snprintf(errbuf, errlen, "config '%s' is not a regular file",
			 path);
	else if (rc == CLAW_ERR_TOO_LARGE)
		snprintf(errbuf, errlen, "config '%s' is over %u bytes", path,
			 CONF_MAX_BYTES);
	else if (rc)
		snprintf(errbuf, errlen, "unable to read config '%s': %s", path,
			 claw_strerror(rc));
	return rc;
}

enum claw_rc gw_conf_load(const char *path, const char *secrets_dir,
			  struct gw_conf **out, char *errbuf, size_t errlen)
{
	json_error_t je;
	enum claw_rc rc;
	char msg[400];
	struct claw_buf text;
	struct gw_conf *c = calloc(1, sizeof(*c));
	if (!c)
		return CLAW_ERR_NOMEM;
	atomic_init(&c->refs, 1);
	claw_buf_init(&text, CONF_MAX_BYTES);
	rc = conf_read(path, &text, errbuf, errlen);
	if (rc)
		goto fail;
	c->root = json_loadb(text.data ? text.data : "", text.len,
			     JSON_REJECT_DUPLICATES, &je);
	if (!c->root) {
		snprintf(errbuf, errlen, "config '%s' line %d: %s", path,
			 je.line, je.text);
		rc = CLAW_ERR_PARSE;
		goto fail;
	}
	c->loaded_at = gw_unix_now();
	rc = gw_conf_check(c->root, c, msg, sizeof(msg));
	if (!rc)
		rc = load_secrets(c, secrets_dir, msg, sizeof(msg));
	if (rc) {
		snprintf(errbuf, errlen, "config '%s': %s", path, msg);
		goto fail;
	}
	claw_buf_release(&text);
	*out = c;
	return CLAW_OK;
fail:
	claw_buf_release(&text);
	gw_conf_put(c);
	return rc;
}

bool gw_conf_allowed(const struct gw_chan_conf *cc, const char *sender)
{
	size_t i;
	json_t *v;
	json_array_foreach(cc->allow_from, i, v) {
		if (strcmp(json_string_value(v), sender) == 0)
			return true;
	}
	return false;
}
