/*
 * bounds.c - image references, the image policy, egress bounds, plan
 * comparison and registry credentials per host (see bounds.h).
 *
 * Parsing follows Docker's reference grammar closely enough that what we
 * call the registry host of a reference is the host dockerd pulls it from:
 * the first component is a host only when it holds '.' or ':', is
 * "localhost" or has an upper-case letter; otherwise the image is on
 * docker.io. Every check compares whole host names and whole path
 * components, never string prefixes.
 */
#include "bounds.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claw/log.h"
#include "claw/secret.h"
#include "scheduler.h"
#include "validate.h"

#define REF_MAX 255
#define ENTRY_MAX 512
#define POLICY_MAX 256

static bool lower_or_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

/* One path component: [a-z0-9]+ joined by '.', '_', "__" or '-'+. */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i;

		while (i < n && lower_or_digit(s[i]))
			i++;
		if (i == start)
			return false;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n)
			return false;
	}
	return n > 0;
}

/* A path of components separated by single '/'. */
static bool path_valid(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (!component_valid(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* A DNS name or IPv4 address: labels of [A-Za-z0-9-], not starting or
 * ending with '-', separated by single dots. */
static bool hostname_valid(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' ||
		    s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

static bool port_valid(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 && s[0] != '0';
}

/* HOST[:PORT] of a registry, lowercased into out, Docker Hub's aliases
 * folded into "docker.io". */
static bool registry_host(const char *s, size_t n, char *out, size_t outlen)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n;

	if (!hostname_valid(s, hn) ||
	    (colon && !port_valid(colon + 1, n - hn - 1)) || n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] =
			(s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	out[n] = '\0';
	if (!strcmp(out, "index.docker.io") ||
	    !strcmp(out, "registry-1.docker.io"))
		snprintf(out, outlen, "docker.io");
	return true;
}

/* Whether the first component of a name is a registry host. */
static bool looks_like_host(const char *s, size_t n)
{
	if (n == 9 && !memcmp(s, "localhost", 9))
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

static bool tag_valid(const char *s, size_t n)
{
	if (n < 1 || n > 128 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static bool digest_valid(const char *s)
{
	return !strncmp(s, "sha256:", 7) && strlen(s + 7) == 64 &&
		strspn(s + 7, "0123456789abcdef") == 64;
}

bool cp_image_parse(const char *ref, struct cp_image_ref *out)
{
	size_t len = ref ? strlen(ref) : 0, name_len;
	const char *at, *slash, *tag, *path;
	size_t path_len;

	if (len < 1 || len > REF_MAX)
		return false;
	at = strchr(ref, '@');
	if (at && !digest_valid(at + 1))
		return false;
	name_len = at ? (size_t)(at - ref) : len;
	/* a tag is a ':' after the last '/' */
	tag = NULL;
	for (size_t i = name_len; i-- > 0;) {
		if (ref[i] == '/')
			break;
		if (ref[i] == ':') {
			tag = ref + i;
			break;
		}
	}
	if (tag) {
		if (!tag_valid(tag + 1, name_len - (size_t)(tag - ref) - 1))
			return false;
		name_len = (size_t)(tag - ref);
	}
	slash = memchr(ref, '/', name_len);
	if (slash && looks_like_host(ref, (size_t)(slash - ref))) {
		if (!registry_host(ref, (size_t)(slash - ref), out->host,
				   sizeof(out->host)))
			return false;
		path = slash + 1;
		path_len = name_len - (size_t)(path - ref);
	} else {
		snprintf(out->host, sizeof(out->host), "docker.io");
		path = ref;
		path_len = name_len;
	}
	if (!path_valid(path, path_len))
		return false;
	if (!strcmp(out->host, "docker.io") && !memchr(path, '/', path_len))
		snprintf(out->path, sizeof(out->path), "library/%.*s",
			 (int)path_len, path);
	else
		snprintf(out->path, sizeof(out->path), "%.*s", (int)path_len,
			 path);
	return true;
}

bool cp_registry_host_norm(const char *server, char *out, size_t outlen)
{
	const char *s = server;
	size_t n;

	if (!s)
		return false;
	if (!strncasecmp(s, "https://", 8))
		s += 8;
	else if (!strncasecmp(s, "http://", 7))
		s += 7;
	n = strcspn(s, "/");
	return registry_host(s, n, out, outlen);
}

/* ---- the image policy */

struct cp_image_policy {
	size_t n;
	struct cp_image_ref entry[]; /* path "" : the whole registry */
};

/* Split text at commas and white space; calls fn for each entry. */
static int each_entry(const char *text, int (*fn)(const char *e, void *cls),
		      void *cls)
{
	const char *p = text;

	while (*p) {
		size_t n = strcspn(p, ", \t\r\n");
		char e[ENTRY_MAX];

		if (n >= sizeof(e))
			return -2;
		if (n) {
			memcpy(e, p, n);
			e[n] = '\0';
			if (fn(e, cls))
				return -1;
		}
		p += n;
		p += strspn(p, ", \t\r\n");
	}
	return 0;
}

struct policy_build {
	struct cp_image_policy *p;
	size_t cap;
	char *err;
	size_t errlen;
};

static int policy_entry(const char *e, void *cls)
{
	struct policy_build *b = cls;
	struct cp_image_ref r = {{0}, {0}};
	const char *slash = strchr(e, '/');
	size_t n = strlen(e);

	while (n > 1 && e[n - 1] == '/')
		n--;
	if (!registry_host(e, slash ? (size_t)(slash - e) : n, r.host,
			   sizeof(r.host)) ||
	    (slash && (size_t)(slash - e) + 1 < n &&
	     (!path_valid(slash + 1, n - (size_t)(slash - e) - 1) ||
	      n - (size_t)(slash - e) - 1 >= sizeof(r.path)))) {
		snprintf(b->err, b->errlen,
			 "image-allow: '%s' is neither a registry host "
			 "(HOST[:PORT]) nor a repository prefix "
			 "(HOST[:PORT]/PATH, no tag)",
			 e);
		return -1;
	}
	if (slash && (size_t)(slash - e) + 1 < n)
		snprintf(r.path, sizeof(r.path), "%.*s",
			 (int)(n - (size_t)(slash - e) - 1), slash + 1);
	if (b->p->n == b->cap) {
		snprintf(b->err, b->errlen, "image-allow: more than %d entries",
			 POLICY_MAX);
		return -1;
	}
	b->p->entry[b->p->n++] = r;
	return 0;
}

int cp_image_policy_parse(const char *text, struct cp_image_policy **out,
			  char *err, size_t errlen)
{
	struct policy_build b = {
		.cap = POLICY_MAX, .err = err, .errlen = errlen};
	int r;

	*out = NULL;
	b.p = calloc(1, sizeof(*b.p) + POLICY_MAX * sizeof(b.p->entry[0]));
	if (!b.p) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r = each_entry(text, policy_entry, &b);
	if (r == -2)
		snprintf(err, errlen, "image-allow: an entry is too long");
	if (!r && b.p->n == 0) {
		snprintf(err, errlen,
			 "image-allow is empty; name the allowed registries "
			 "or repositories, or leave it unset");
		r = -1;
	}
	if (r) {
		free(b.p);
		return -1;
	}
	*out = b.p;
	return 0;
}

void cp_image_policy_free(struct cp_image_policy *p)
{
	free(p);
}

bool cp_image_allowed(const struct cp_image_policy *p, const char *ref)
{
	struct cp_image_ref r;

	if (!cp_image_parse(ref, &r))
		return false;
	if (!p)
		return true;
	for (size_t i = 0; i < p->n; i++) {
		const struct cp_image_ref *e = &p->entry[i];
		size_t n = strlen(e->path);

		if (strcmp(e->host, r.host))
			continue;
		if (n == 0 || !strcmp(e->path, r.path) ||
		    (!strncmp(e->path, r.path, n) && r.path[n] == '/'))
			return true;
	}
	return false;
}

/* ---- egress */

struct egress {
	const char *host; /* without "*." */
	size_t host_len;
	const char *port;
	bool wild;
};

static bool egress_split(const char *s, struct egress *e)
{
	const char *colon = strrchr(s, ':');

	if (!colon || strlen(s) > 260)
		return false;
	e->wild = !strncmp(s, "*.", 2);
	e->host = e->wild ? s + 2 : s;
	e->host_len = (size_t)(colon - e->host);
	e->port = colon + 1;
	return colon > e->host && hostname_valid(e->host, e->host_len) &&
		port_valid(e->port, strlen(e->port));
}

bool cp_egress_entry_valid(const char *s, bool in_bound)
{
	struct egress e;

	if (!s)
		return false;
	if (in_bound && !strcmp(s, "*"))
		return true;
	return egress_split(s, &e);
}

/* Whether host (n bytes) is a subdomain of domain (m bytes). */
static bool below(const char *host, size_t n, const char *domain, size_t m)
{
	return n > m + 1 && host[n - m - 1] == '.' &&
		!strncasecmp(host + n - m, domain, m);
}

bool cp_egress_covered(const char *entry, const json_t *bound)
{
	struct egress a, b;
	size_t i;
	json_t *v;

	if (!egress_split(entry, &a))
		return false;
	json_array_foreach(bound, i, v) {
		const char *s = json_string_value(v);

		if (s && !strcmp(s, "*"))
			return true;
		if (!s || !egress_split(s, &b) || strcmp(a.port, b.port))
			continue;
		if (!b.wild) {
			if (!a.wild && a.host_len == b.host_len &&
			    !strncasecmp(a.host, b.host, a.host_len))
				return true;
			continue;
		}
		if ((a.wild && a.host_len == b.host_len &&
		     !strncasecmp(a.host, b.host, a.host_len)) ||
		    below(a.host, a.host_len, b.host, b.host_len))
			return true;
	}
	return false;
}

int cp_egress_check(const json_t *asked, const json_t *bound, const char **bad)
{
	size_t i;
	json_t *v;

	*bad = "";
	if (!asked)
		return 0;
	if (!json_is_array(asked))
		return -1;
	json_array_foreach(asked, i, v) {
		const char *s = json_string_value(v);

		if (!s)
			return -1;
		if (!cp_egress_entry_valid(s, false) ||
		    !cp_egress_covered(s, bound)) {
			*bad = s;
			return -1;
		}
	}
	return 0;
}

/* ---- placement bounds */

static bool label_value_valid(const json_t *v)
{
	return json_is_string(v) && json_string_length(v) <= CP_LABEL_LEN_MAX;
}

bool cp_labels_bound_valid(const json_t *bound)
{
	const char *k;
	json_t *v;

	if (!json_is_object(bound) || json_object_size(bound) > CP_LABELS_MAX)
		return false;
	json_object_foreach((json_t *)bound, k, v) {
		size_t i;
		json_t *e;

		if (!k[0] || strlen(k) > CP_LABEL_LEN_MAX)
			return false;
		if (label_value_valid(v))
			continue;
		if (!json_is_array(v) || json_array_size(v) == 0 ||
		    json_array_size(v) > CP_LABELS_MAX)
			return false;
		json_array_foreach(v, i, e)
			if (!label_value_valid(e))
				return false;
	}
	return true;
}

/* Whether value is allowed by a bound entry (a string or an array). */
static bool label_allowed(const json_t *allowed, const char *value)
{
	size_t i;
	json_t *e;

	if (json_is_string(allowed))
		return !strcmp(json_string_value(allowed), value);
	json_array_foreach(allowed, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), value))
			return true;
	return false;
}

int cp_labels_check(const json_t *asked, const json_t *bound, const char **bad)
{
	const char *k;
	json_t *v;

	*bad = "";
	if (!asked)
		return 0;
	if (!json_is_object(asked))
		return -1;
	json_object_foreach((json_t *)asked, k, v) {
		const json_t *allowed = json_object_get(bound, k);

		if (!json_is_string(v) || !allowed ||
		    !label_allowed(allowed, json_string_value(v))) {
			*bad = k;
			return -1;
		}
	}
	return 0;
}

/* ---- channel base URLs */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

bool cp_gw_url_key(const char *key)
{
	return (ends_with(key, "_base") || ends_with(key, "_url") ||
		!strcmp(key, "url")) &&
		strcmp(key, "webhook_url");
}

/* The schemes of addresses a gateway dials itself: HTTP APIs, the email
 * channel's IMAP and SMTP servers, IRC's server (always TLS). */
static size_t bound_scheme(const char *s)
{
	static const char *const schemes[] = {
		"https://", "http://", "imaps://", "imap://",
		"smtps://", "smtp://", "ircs://",
	};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(s, schemes[i], strlen(schemes[i])))
			return strlen(schemes[i]);
	return 0;
}

static bool bound_url_valid(const char *s)
{
	size_t n = strlen(s);
	size_t scheme = bound_scheme(s);

	if (!scheme || n <= scheme || n > CP_API_BASE_MAX || s[scheme] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

bool cp_api_base_bound_valid(const json_t *allow)
{
	size_t i;
	json_t *v;

	if (!json_is_array(allow) ||
	    json_array_size(allow) > CP_API_BASE_ALLOW_MAX)
		return false;
	json_array_foreach(allow, i, v) {
		const char *s = json_string_value(v);

		if (!s || (strcmp(s, "*") && !bound_url_valid(s)))
			return false;
	}
	return true;
}

/* a and b equal but for one trailing '/' each */
static bool url_same(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);

	if (n && a[n - 1] == '/')
		n--;
	if (m && b[m - 1] == '/')
		m--;
	return n == m && !memcmp(a, b, n);
}

/* Whether the value v at key of a config object passes: the default's
 * value at the same place (dflt_obj may be NULL), or listed in allow
 * (as scheme followed by the value: "ircs://" for IRC's "host:port";
 * "" for URLs). */
static bool url_passes(const json_t *v, const json_t *dflt_obj, const char *key,
		       const char *scheme, const json_t *allow)
{
	const char *s = json_string_value(v);
	const char *d = json_string_value(json_object_get(dflt_obj, key));
	size_t i, sl = strlen(scheme);
	json_t *e;

	if (!s)
		return false; /* not even a string: the gateway refuses it */
	if (d && url_same(s, d))
		return true;
	json_array_foreach(allow, i, e) {
		const char *a = json_string_value(e);

		if (a &&
		    (!strcmp(a, "*") ||
		     (!strncmp(a, scheme, sl) && url_same(a + sl, s))))
			return true;
	}
	return false;
}

/* The address fields of channel ch's object: a URL field (cp_gw_url_key),
 * or IRC's "server" (host:port, dialled with TLS: "ircs://host:port" in
 * the bound). NULL when key is none; else the scheme to put before it. */
static const char *channel_addr_scheme(const char *ch, const char *key)
{
	if (!strcmp(ch, "irc") && !strcmp(key, "server"))
		return "ircs://";
	return cp_gw_url_key(key) ? "" : NULL;
}

/* Whether a key may be quoted in a message: a short plain lowercase name
 * (a value sent as a key never reaches a message). */
static bool plain_key(const char *key)
{
	size_t n = strlen(key);

	return n >= 1 && n <= 32 &&
		strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int cp_api_base_check(const json_t *gw_config, const json_t *dflt,
		      const json_t *allow, char *field, size_t fieldlen)
{
	const json_t *dch = json_object_get(dflt, "channels");
	const char *k, *ck;
	json_t *v, *cv;
	size_t pos = 0;

	field[0] = '\0';
	json_object_foreach((json_t *)gw_config, k, v) {
		if (cp_gw_url_key(k) && !url_passes(v, dflt, k, "", allow)) {
			snprintf(field, fieldlen, "%s",
				 plain_key(k) ? k : "(a URL field)");
			return -1;
		}
	}
	json_object_foreach(json_object_get(gw_config, "channels"), ck, cv) {
		char name[40];

		pos++;
		if (!json_is_object(cv))
			continue;
		json_object_foreach(cv, k, v) {
			const char *scheme = channel_addr_scheme(ck, k);

			if (!scheme ||
			    url_passes(v, json_object_get(dch, ck), k, scheme,
				       allow))
				continue;
			if (plain_key(ck))
				snprintf(name, sizeof(name), "%s", ck);
			else
				snprintf(name, sizeof(name), "#%zu", pos);
			snprintf(field, fieldlen, "channels.%s.%s", name,
				 plain_key(k) ? k : "(a URL field)");
			return -1;
		}
	}
	return 0;
}

/* ---- plans */

const char *cp_plan_exceeded(const struct cp_plan *asked,
			     const struct cp_plan *limit)
{
	if (asked->cpus_milli > limit->cpus_milli)
		return "cpus_milli";
	if (asked->memory_mb > limit->memory_mb)
		return "memory_mb";
	if (asked->pids > limit->pids)
		return "pids";
	if (limit->disk_mb > 0 &&
	    (asked->disk_mb == 0 || asked->disk_mb > limit->disk_mb))
		return "disk_mb";
	return NULL;
}

bool cp_plan_disk_valid(long long disk_mb)
{
	return disk_mb == 0 ||
		(disk_mb >= CP_PLAN_DISK_MIN && disk_mb <= CP_PLAN_DISK_MAX);
}

bool cp_plan_name_valid(const char *s)
{
	return cp_slug_valid(s);
}

/* ---- registry credentials */

struct cp_registry_cred {
	char host[CP_IMAGE_HOST_MAX];
	char *user;
	char *password; /* claw_secret_read memory (guarded) */
};

struct cp_registry_creds {
	size_t n, cap;
	struct cp_registry_cred *v;
};

static int creds_push(struct cp_registry_creds **cs, const char *host,
		      const char *user, char *password_steal, char *err,
		      size_t errlen)
{
	struct cp_registry_creds *c = *cs;
	struct cp_registry_cred *e;
	char h[CP_IMAGE_HOST_MAX];

	if (!registry_host(host, strlen(host), h, sizeof(h))) {
		snprintf(err, errlen,
			 "registry credentials: '%s' is not a registry host "
			 "(HOST[:PORT])",
			 host);
		goto fail;
	}
	if (!c && !(c = *cs = calloc(1, sizeof(*c))))
		goto nomem;
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->v[i].host, h)) {
			snprintf(err, errlen,
				 "registry credentials: host '%s' is "
				 "given twice",
				 h);
			goto fail;
		}
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		void *v = realloc(c->v, cap * sizeof(*c->v));

		if (!v)
			goto nomem;
		c->v = v;
		c->cap = cap;
	}
	e = &c->v[c->n];
	memset(e, 0, sizeof(*e));
	snprintf(e->host, sizeof(e->host), "%s", h);
	e->user = strdup(user);
	if (!e->user)
		goto nomem;
	e->password = password_steal;
	c->n++;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	claw_secret_free(password_steal);
	return -1;
}

/* A copy of s in guarded memory, freed with claw_secret_free (which
 * sodium_free()s, wiping it). */
static char *guarded_copy(const char *s)
{
	size_t n = strlen(s);
	char *p = sodium_malloc(n + 1);

	if (p)
		memcpy(p, s, n + 1);
	return p;
}

int cp_registry_creds_add(struct cp_registry_creds **c, const char *host,
			  const char *user, const char *password, char *err,
			  size_t errlen)
{
	char *pw = guarded_copy(password ? password : "");

	if (!pw) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return creds_push(c, host, user, pw, err, errlen);
}

struct creds_build {
	struct cp_registry_creds **c;
	char *err;
	size_t errlen;
};

static int read_password(const char *path, char **out, char *err, size_t errlen)
{
	char e[300];

	if (cp_registry_password_read(path, out, e, sizeof(e))) {
		snprintf(err, errlen,
			 "registry-auth: unable to read the password file "
			 "'%s': %s",
			 path, e);
		return -1;
	}
	return 0;
}

static int creds_entry(const char *e, void *cls)
{
	struct creds_build *b = cls;
	const char *eq = strchr(e, '=');
	const char *colon = eq ? strchr(eq + 1, ':') : NULL;
	char host[CP_IMAGE_HOST_MAX], user[256];
	char *pw = NULL;

	if (!eq || !colon || eq == e || colon == eq + 1 || !colon[1] ||
	    (size_t)(eq - e) >= sizeof(host) ||
	    (size_t)(colon - eq - 1) >= sizeof(user)) {
		snprintf(b->err, b->errlen,
			 "registry-auth: entries are "
			 "HOST=USER:PASSWORD_FILE ('%.*s' is not)",
			 (int)(eq ? eq - e : 0), e);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(eq - e), e);
	snprintf(user, sizeof(user), "%.*s", (int)(colon - eq - 1), eq + 1);
	if (read_password(colon + 1, &pw, b->err, b->errlen))
		return -1;
	return creds_push(b->c, host, user, pw, b->err, b->errlen);
}

int cp_registry_creds_parse(const char *text, struct cp_registry_creds **out,
			    char *err, size_t errlen)
{
	struct creds_build b = {.c = out, .err = err, .errlen = errlen};
	int r;

	*out = NULL;
	r = each_entry(text, creds_entry, &b);
	if (r == -2)
		snprintf(err, errlen, "registry-auth: an entry is too long");
	if (r) {
		cp_registry_creds_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

void cp_registry_creds_free(struct cp_registry_creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].user);
		claw_secret_free(c->v[i].password);
	}
	free(c->v);
	free(c);
}

bool cp_registry_creds_find(const struct cp_registry_creds *c, const char *host,
			    const char **user, const char **password)
{
	for (size_t i = 0; c && host && i < c->n; i++) {
		if (!strcmp(c->v[i].host, host)) {
			*user = c->v[i].user;
			*password = c->v[i].password;
			return true;
		}
	}
	return false;
}

/* ---- the daemon's bounds */

static struct {
	struct cp_image_policy *policy;
	struct cp_registry_creds *creds;
} fleet_bounds;

/* The legacy pair (registry-user, registry-password-file) belongs to
 * registry-server, else to the registry host of the default gateway
 * image. */
static int legacy_cred(const struct cp_fleet_config *fc, char *errbuf,
		       size_t errlen)
{
	const char *pw = cp_fleet_registry_password();
	struct cp_image_ref r;
	const char *host = fc->registry_server;

	if (!fc->registry_user || !fc->registry_user[0] || !pw) {
		if ((fc->registry_user && fc->registry_user[0]) ||
		    fc->registry_password_file)
			log_warn("registry-user and registry-password-file go "
				 "together: no fleet credential from them");
		return 0;
	}
	if (!host && fc->default_gateway_image &&
	    cp_image_parse(fc->default_gateway_image, &r))
		host = r.host;
	if (!host) {
		snprintf(errbuf, errlen,
			 "registry-user needs registry-server: the "
			 "registry host (HOST[:PORT]) its credentials "
			 "belong to");
		return -1;
	}
	return cp_registry_creds_add(&fleet_bounds.creds, host,
				     fc->registry_user, pw, errbuf, errlen);
}

int cp_bounds_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	const struct cp_fleet_config *fc = &ctx->cfg.fleet;
	const char *img[2] = {fc->default_gateway_image,
			      fc->default_runtime_image};

	if ((fc->image_allow &&
	     cp_image_policy_parse(fc->image_allow, &fleet_bounds.policy,
				   errbuf, errlen)) ||
	    (fc->registry_auth &&
	     cp_registry_creds_parse(fc->registry_auth, &fleet_bounds.creds,
				     errbuf, errlen)) ||
	    legacy_cred(fc, errbuf, errlen))
		goto fail;
	for (int i = 0; fleet_bounds.policy && i < 2; i++) {
		if (img[i] && !cp_image_allowed(fleet_bounds.policy, img[i])) {
			snprintf(errbuf, errlen,
				 "default-%s-image '%s' is not allowed by "
				 "image-allow",
				 i ? "runtime" : "gateway", img[i]);
			goto fail;
		}
	}
	if (!fleet_bounds.policy)
		log_warn("image-allow is unset: deploys may name images on "
			 "any registry (docs/fleet.md, \"Tenant bounds\")");
	return 0;
fail: /* the daemon stops only the hooks that started */
	cp_bounds_stop(ctx);
	return -1;
}

void cp_bounds_stop(struct cp_ctx *ctx)
{
	(void)ctx;
	cp_image_policy_free(fleet_bounds.policy);
	cp_registry_creds_free(fleet_bounds.creds);
	fleet_bounds.policy = NULL;
	fleet_bounds.creds = NULL;
}

const struct cp_image_policy *cp_bounds_policy(void)
{
	return fleet_bounds.policy;
}

bool cp_bounds_registry_cred(const char *host, const char **user,
			     const char **password)
{
	return cp_registry_creds_find(fleet_bounds.creds, host, user, password);
}
