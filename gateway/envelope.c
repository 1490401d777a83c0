/*
 * envelope.c - the one message envelope every channel is normalised into
 * (the runtime's POST /v1/messages shape, see docs/contracts.md) plus the
 * gateway-only keys (route, is_group, mentioned) that stay in the journal
 * and never reach the runtime; the reading of a body that carries several
 * messages (gw_envs_parse), string fields (gw_json_str, gw_route_str),
 * UTF-8 code points (gw_utf8_next) and the splitter for long replies.
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/crypto.h"
#include "claw/json.h"
#include "gw.h"

#define GW_ID_MAX 256

static const char *const channel_names[GW_CH__COUNT] = {
	"telegram", "slack",  "discord",    "whatsapp", "webchat",    "openai",
	"line",     "twilio", "mattermost", "teams",    "googlechat", "feishu",
	"matrix",   "signal", "irc",        "email",
};

const char *gw_channel_name(enum gw_channel c)
{
	return (unsigned)c < GW_CH__COUNT ? channel_names[c] : "unknown";
}

int gw_channel_parse(const char *name)
{
	for (int i = 0; i < GW_CH__COUNT; i++)
		if (name && strcmp(name, channel_names[i]) == 0)
			return i;
	return -1;
}

enum claw_rc gw_envs_parse(const char *body, size_t len, gw_envs_fn each,
			   json_t **envs_out)
{
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *out = json_array();
	enum claw_rc rc = out ? each(o, out) : CLAW_ERR_PARSE;
	*envs_out = rc ? NULL : json_incref(out);
	json_decref(out);
	json_decref(o);
	return rc;
}

json_t *gw_env_new(enum gw_channel ch, const char *id, const char *account,
		   const char *conversation, const char *sender_id,
		   const char *sender_name, const char *text,
		   long long unix_time)
{
	char ts[32];
	struct tm tm;
	time_t t = (time_t)unix_time;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *sender = json_pack("{s:s}", "id", sender_id);
	if (sender && sender_name && *sender_name)
		json_object_set_new(sender, "name", json_string(sender_name));
	json_t *env = json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:s, s:[], s:s}", "id", id,
		"channel", gw_channel_name(ch), "account",
		account ? account : "", "conversation", conversation, "sender",
		sender, "text", text ? text : "", "attachments", "time", ts);
	return env;
}

const char *gw_json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

const char *gw_env_str(const json_t *env, const char *key)
{
	return gw_json_str(env, key);
}

const char *gw_route_str(const json_t *env, const char *key)
{
	return gw_json_str(json_object_get(env, GW_ENV_ROUTE), key);
}

enum gw_channel gw_env_channel(const json_t *env)
{
	int c = gw_channel_parse(gw_env_str(env, "channel"));
	return c < 0 ? GW_CH_WEBCHAT : (enum gw_channel)c;
}

enum claw_rc gw_env_check(const json_t *env)
{
	static const char *const strs[] = {"id",           "channel", "account",
					   "conversation", "text",    "time"};
	if (!json_is_object(env))
		return CLAW_ERR_INVALID;
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!json_is_string(json_object_get(env, strs[i])))
			return CLAW_ERR_INVALID;
	const char *id = gw_env_str(env, "id");
	if (!*id || strlen(id) > GW_ID_MAX || !*gw_env_str(env, "conversation"))
		return CLAW_ERR_INVALID;
	if (gw_channel_parse(gw_env_str(env, "channel")) < 0)
		return CLAW_ERR_INVALID;
	json_t *sender = json_object_get(env, "sender");
	if (!json_is_object(sender) ||
	    !json_is_string(json_object_get(sender, "id")))
		return CLAW_ERR_INVALID;
	json_t *att = json_object_get(env, "attachments");
	if (att && !json_is_array(att))
		return CLAW_ERR_INVALID;
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	if (route && !json_is_object(route))
		return CLAW_ERR_INVALID;
	return CLAW_OK;
}

long long gw_env_unix_time(const json_t *env)
{
	const char *ts = gw_env_str(env, "time");
	struct tm tm = {0};
	int n = 0;
	if (!ts ||
	    sscanf(ts, "%d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    ts[n] || tm.tm_year < 1970 || tm.tm_year > 9999)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

bool gw_env_stale(const json_t *env, long max_age_s, long long now)
{
	long long t = gw_env_unix_time(env);
	return t >= 0 && now - t > max_age_s;
}

char *gw_env_runtime_body_new(const json_t *env)
{
	json_t *copy = json_copy((json_t *)env);
	if (!copy)
		return NULL;
	json_object_del(copy, GW_ENV_ROUTE);
	json_object_del(copy, GW_ENV_GROUP);
	json_object_del(copy, GW_ENV_MENTIONED);
	char *s = claw_json_dumps(copy);
	json_decref(copy);
	return s;
}

uint32_t gw_utf8_next(const char *s, size_t len, size_t *w, bool *cut)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	uint32_t cp = n == 1 ? c
		: n == 2     ? (c & 0x1Fu)
		: n == 3     ? (c & 0x0Fu)
			     : (c & 0x07u);
	if (cut)
		*cut = n > len;
	if (n > len)
		n = len;
	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | ((unsigned char)s[i] & 0x3Fu);
	*w = n;
	return cp;
}

static unsigned one(uint32_t cp)
{
	(void)cp;
	return 1;
}

unsigned gw_utf16_units(uint32_t cp)
{
	return cp > 0xFFFF ? 2 : 1;
}

/* Byte length of the longest prefix of s weighing at most max. */
static size_t utf8_prefix(const char *s, size_t len, size_t max,
			  unsigned (*weight)(uint32_t))
{
	size_t i = 0, total = 0;
	while (i < len) {
		size_t w;
		uint32_t cp = gw_utf8_next(s + i, len - i, &w, NULL);
		unsigned cw = weight(cp);
		if (total + cw > max)
			break;
		total += cw;
		i += w;
	}
	if (!i && len) { /* one code point heavier than max: alone */
		size_t w;
		gw_utf8_next(s, len, &w, NULL);
		i = w;
	}
	return i;
}

json_t *gw_split_text_w(const char *text, size_t max,
			unsigned (*weight)(uint32_t cp))
{
	json_t *parts = json_array();
	size_t len = strlen(text);
	if (!parts)
		return NULL;
	if (!len) {
		json_array_append_new(parts, json_string(""));
		return parts;
	}
	while (len) {
		size_t cut = utf8_prefix(text, len, max, weight);
		if (cut < len) {
			/* prefer a newline, then a space, in the second half */
			size_t best = 0;
			for (size_t i = cut; i > cut / 2; i--) {
				if (text[i - 1] == '\n') {
					best = i;
					break;
				}
				if (!best && text[i - 1] == ' ')
					best = i;
			}
			if (best)
				cut = best;
		}
		json_array_append_new(parts, json_stringn(text, cut));
		text += cut;
		len -= cut;
	}
	return parts;
}

json_t *gw_split_text(const char *text, size_t max)
{
	return gw_split_text_w(text, max, one);
}

unsigned gw_json_bytes(uint32_t cp)
{
	if (cp == '"' || cp == '\\' || cp == '\n' || cp == '\r' || cp == '\t' ||
	    cp == '\b' || cp == '\f')
		return 2;
	if (cp < 0x20)
		return 6; /* \u00XX */
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

unsigned gw_json2_bytes(uint32_t cp)
{
	/* the first escape's characters escaped again: \" -> \\\" */
	if (cp == '"' || cp == '\\')
		return 4;
	if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f')
		return 3;
	if (cp < 0x20)
		return 7;
	return gw_json_bytes(cp);
}

long long gw_rfc3339_parse(const char *s)
{
	struct tm tm = {0};
	int n = 0, oh = 0, om = 0;
	long long off = 0;
	if (!s || strlen(s) > 40 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	const char *p = s + n;
	if (*p == '.') { /* a fraction of any length */
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (!isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) ||
		    !isdigit((unsigned char)p[5]))
			return -1;
		oh = (p[1] - '0') * 10 + (p[2] - '0');
		om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23 || om > 59)
			return -1;
		off = (oh * 60LL + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) - off;
}

void gw_derived_uuid(const char *domain, const char *id, int part, char out[37])
{
	uint8_t h[16];
	char hex[33];
	crypto_generichash_state st;
	char tail[16];
	int n = snprintf(tail, sizeof(tail), ":%d", part);
	crypto_generichash_init(&st, (const unsigned char *)domain,
				strlen(domain), sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
	crypto_generichash_update(&st, (const unsigned char *)tail, (size_t)n);
	crypto_generichash_final(&st, h, sizeof(h));
	h[6] = (uint8_t)((h[6] & 0x0F) | 0x40); /* version 4 layout */
	h[8] = (uint8_t)((h[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	claw_hex_encode(h, sizeof(h), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		 hex + 16, hex + 20);
}
