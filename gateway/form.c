/*
 * form.c - application/x-www-form-urlencoded bodies, both ways: Twilio and
 * Mattermost post their webhooks as forms, and Twilio's Messages API takes
 * one. The parser keeps every pair in the order sent (Twilio signs every
 * parameter, repeated names included), decodes "+" and %XX, and refuses
 * what cannot be a parameter: a bad escape, a NUL, text that is not
 * UTF-8, more than GW_FORM_MAX_PAIRS pairs. Pure (no I/O), so the fuzzers
 * drive it. Also the percent-encoding of one URL path segment (Teams'
 * conversation ids, Matrix room ids in request paths).
 */
#include <string.h>

#include "claw/buf.h"
#include "gw.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into b; CLAW_ERR_PARSE on a bad escape or a NUL. */
static enum claw_rc decode(const char *s, size_t n, struct claw_buf *b)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3) /* "%" or "%X" at the end */
				return CLAW_ERR_PARSE;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return CLAW_ERR_PARSE;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return CLAW_ERR_PARSE;
		if (claw_buf_append(b, &c, 1))
			return CLAW_ERR_TOO_LARGE;
	}
	return CLAW_OK;
}

enum claw_rc gw_form_parse(const char *body, size_t len, json_t **pairs_out)
{
	enum claw_rc rc = CLAW_ERR_PARSE;
	struct claw_buf name, value;
	json_t *pairs = json_array();
	size_t pos = 0;
	*pairs_out = NULL;
	claw_buf_init(&name, len + 1);
	claw_buf_init(&value, len + 1);
	if (!pairs) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	while (pos < len) {
		const char *p = body + pos;
		const char *amp = memchr(p, '&', len - pos);
		size_t n = amp ? (size_t)(amp - p) : len - pos;
		pos += n + 1;
		if (!n)
			continue; /* "a=1&&b=2" */
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? (size_t)(eq - p) : n;
		claw_buf_reset(&name);
		claw_buf_reset(&value);
		if (!kn || json_array_size(pairs) >= GW_FORM_MAX_PAIRS ||
		    decode(p, kn, &name) ||
		    (eq && decode(eq + 1, n - kn - 1, &value)))
			goto out;
		json_t *k = json_stringn(name.data ? name.data : "", name.len);
		json_t *v =
			json_stringn(value.data ? value.data : "", value.len);
		if (!k || !v) { /* not UTF-8 */
			json_decref(k);
			json_decref(v);
			goto out;
		}
		json_array_append_new(pairs, json_pack("[o, o]", k, v));
	}
	rc = CLAW_OK;
	*pairs_out = pairs;
	pairs = NULL;
out:
	json_decref(pairs);
	claw_buf_release(&name);
	claw_buf_release(&value);
	return rc;
}

const char *gw_form_get(const json_t *pairs, const char *name)
{
	size_t i;
	json_t *p;
	json_array_foreach(pairs, i, p) {
		const char *k = json_string_value(json_array_get(p, 0));
		if (k && strcmp(k, name) == 0)
			return json_string_value(json_array_get(p, 1));
	}
	return NULL;
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static enum claw_rc encode(struct claw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
		enum claw_rc rc = (c >= 'A' && c <= 'Z') ||
				(c >= 'a' && c <= 'z') ||
				(c >= '0' && c <= '9') || c == '-' ||
				c == '.' || c == '_' || c == '~'
			? claw_buf_append(b, s, 1)
			: claw_buf_append(b, esc, 3);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

enum claw_rc gw_form_add(struct claw_buf *b, const char *name,
			 const char *value)
{
	enum claw_rc rc = CLAW_OK;
	if (b->len)
		rc = claw_buf_append(b, "&", 1);
	if (!rc)
		rc = encode(b, name);
	if (!rc)
		rc = claw_buf_append(b, "=", 1);
	if (!rc)
		rc = encode(b, value);
	return rc;
}

enum claw_rc gw_url_escape(struct claw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		bool keep = (*p >= 'a' && *p <= 'z') ||
			(*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~';
		enum claw_rc rc = keep ? claw_buf_append(b, p, 1)
				       : claw_buf_append(b, e, 3);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}
