/*
 * domains.c - host name checks of the edge; see domains.h.
 */
#include "domains.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static bool label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* Lower case, one trailing dot dropped, into out; the labels checked. */
static bool norm(const char *in, char out[CP_DOMAIN_MAX + 1], int *labels,
		 bool *last_numeric)
{
	size_t n, start = 0;

	*labels = 0;
	*last_numeric = false;
	if (!in)
		return false;
	n = strlen(in);
	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n > CP_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];

		out[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	out[n] = '\0';
	for (size_t i = 0; i <= n; i++) {
		if (i < n && out[i] != '.')
			continue;
		if (!label_ok(out + start, i - start))
			return false;
		*last_numeric = strspn(out + start, "0123456789") == i - start;
		(*labels)++;
		start = i + 1;
	}
	return true;
}

bool cp_domain_norm(const char *in, char out[CP_DOMAIN_MAX + 1])
{
	int labels;
	bool numeric;

	return norm(in, out, &labels, &numeric) && !numeric;
}

bool cp_domain_under(const char *name, const char *base)
{
	size_t n, b;

	if (!name || !base || !*base)
		return false;
	n = strlen(name);
	b = strlen(base);
	if (n == b)
		return strcmp(name, base) == 0;
	return n > b && name[n - b - 1] == '.' &&
		strcmp(name + n - b, base) == 0;
}

/* An address in any spelling a resolver or inet_aton takes: IPv6 (maybe
 * bracketed), dotted or not, decimal, octal or 0x hex IPv4. */
static bool is_address(const char *in)
{
	char buf[64];
	unsigned char a[16];
	size_t n = strlen(in);

	if (n >= 2 && in[0] == '[' && in[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return true;
		memcpy(buf, in + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, a) == 1 || strchr(buf, ':');
	}
	if (strchr(in, ':'))
		return inet_pton(AF_INET6, in, a) == 1;
	if (n < sizeof(buf)) {
		struct in_addr v4;

		memcpy(buf, in, n + 1);
		if (n > 0 && buf[n - 1] == '.')
			buf[n - 1] = '\0';
		if (inet_aton(buf, &v4))
			return true;
	}
	return false;
}

enum cp_domain_verdict cp_domain_check(const char *in, const char *base,
				       char out[CP_DOMAIN_MAX + 1])
{
	int labels;
	bool numeric;

	out[0] = '\0';
	if (!in)
		return CP_DOMAIN_MALFORMED;
	if (is_address(in))
		return CP_DOMAIN_ADDRESS;
	if (!norm(in, out, &labels, &numeric))
		return CP_DOMAIN_MALFORMED;
	if (numeric) /* no top-level domain is numeric: an IPv4 form */
		return CP_DOMAIN_ADDRESS;
	if (labels < 2)
		return CP_DOMAIN_MALFORMED;
	if (base && cp_domain_under(out, base))
		return CP_DOMAIN_RESERVED;
	return CP_DOMAIN_OK;
}

bool cp_public_host(const char *slug, const char *base, char *out,
		    size_t outlen)
{
	int n;

	if (!slug || !base || !*base)
		return false;
	n = snprintf(out, outlen, "%s.%s", slug, base);
	return n > 0 && (size_t)n < outlen && n <= CP_DOMAIN_MAX;
}

bool cp_edge_address_valid(const char *s)
{
	const char *colon;
	char host[CP_DOMAIN_MAX + 1];
	size_t hn;
	long port = 0;

	if (!s || strlen(s) > CP_EDGE_ADDRESS_MAX)
		return false;
	colon = strrchr(s, ':');
	if (!colon || !colon[1] || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	for (const char *p = colon + 1; *p; p++)
		port = port * 10 + (*p - '0');
	if (port < 1 || port > 65535)
		return false;
	hn = (size_t)(colon - s);
	if (hn == 0 || hn > CP_DOMAIN_MAX)
		return false;
	memcpy(host, s, hn);
	host[hn] = '\0';
	if (host[0] == '[') {
		unsigned char a[16];
		char in[64];

		if (hn < 3 || host[hn - 1] != ']' || hn - 2 >= sizeof(in))
			return false;
		memcpy(in, host + 1, hn - 2);
		in[hn - 2] = '\0';
		return inet_pton(AF_INET6, in, a) == 1;
	}
	if (strchr(host, ':'))
		return false;
	{
		unsigned char a[4];
		char norm_out[CP_DOMAIN_MAX + 1];
		int labels;
		bool numeric;

		if (inet_pton(AF_INET, host, a) == 1)
			return true;
		return norm(host, norm_out, &labels, &numeric) && !numeric &&
			!strcmp(norm_out, host);
	}
}

/* Each channel of the gateway with an inbound HTTP endpoint, its path on
 * the tenant's public address (gateway/routes.c), the "mode" that has it
 * (NULL: every mode) and the channel's mode when none is set. A Matrix
 * application service's URL is the address itself: the homeserver adds
 * /_matrix/app/v1/... to the URL of its registration. */
static const struct {
	const char *channel, *path, *mode, *dflt;
} hooks[] = {
	{"telegram", "/telegram/webhook", "webhook", "webhook"},
	{"slack", "/slack/events", "events", "events"},
	{"discord", "/discord/interactions", NULL, NULL},
	{"whatsapp", "/whatsapp/webhook", NULL, NULL},
	{"line", "/line/webhook", NULL, NULL},
	{"twilio", "/twilio/webhook", NULL, NULL},
	{"mattermost", "/mattermost/webhook", "webhook", "webhook"},
	{"teams", "/teams/messages", NULL, NULL},
	{"googlechat", "/googlechat/events", NULL, NULL},
	{"feishu", "/feishu/events", NULL, NULL},
	{"matrix", "", "appservice", "sync"},
	{"webchat", "/chat", NULL, NULL},
	{"openai", "/v1", NULL, NULL},
};

json_t *cp_webhook_urls(const json_t *channels, const char *public_url)
{
	json_t *out = json_object();
	size_t n = public_url ? strlen(public_url) : 0;

	if (!out || !n || !json_is_object(channels))
		return out;
	if (public_url[n - 1] == '/')
		n--;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		const json_t *ch = json_object_get(channels, hooks[i].channel);
		const char *mode;
		char url[CP_DOMAIN_MAX + 64];

		if (!json_is_object(ch) ||
		    json_is_false(json_object_get(ch, "enabled")))
			continue;
		mode = json_string_value(json_object_get(ch, "mode"));
		if (!mode)
			mode = hooks[i].dflt;
		if (hooks[i].mode && strcmp(mode, hooks[i].mode))
			continue; /* polling, socket mode: nothing inbound */
		snprintf(url, sizeof(url), "%.*s%s", (int)n, public_url,
			 hooks[i].path);
		json_object_set_new(out, hooks[i].channel, json_string(url));
	}
	return out;
}

bool cp_public_url(const char *slug, const char *base, char *out, size_t outlen)
{
	char host[CP_DOMAIN_MAX + 1];
	int n;

	if (!cp_public_host(slug, base, host, sizeof(host)))
		return false;
	n = snprintf(out, outlen, "https://%s/", host);
	return n > 0 && (size_t)n < outlen;
}
