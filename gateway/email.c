/*
 * email.c - e-mail: IMAP polling in, SMTP out, both through libcurl.
 *
 * In: a background thread (bg.c) polls the mailbox every
 * poll_interval_ms (default 30 s): STATUS (UIDVALIDITY UIDNEXT), then
 * UID SEARCH UID n:* for the UIDs after the last one processed, and each
 * new message in turn with UID FETCH n BODY[] (at most 1 MiB: a larger one
 * is skipped and counted "size"). IDLE is not used (libcurl cannot wait
 * on it cleanly); polling costs one STATUS per interval. The position
 * "UIDVALIDITY:UID" is saved in DATA-DIR/gateway/email.uid after each
 * message is journaled (gw_ingest), so a crash between the two fetches
 * that message again and the journal calls it a duplicate (its id is
 * its Message-ID): never answered twice. The first poll (and a new
 * UIDVALIDITY: the mailbox was recreated) starts at UIDNEXT: mail that
 * was there before is history, not answered.
 *
 * A message is answered when (1) the topmost Authentication-Results
 * header whose authserv-id is the configured one (the user's own
 * server, which must strip such headers from incoming mail, RFC 8601
 * section 5) shows dkim=pass (header.d/header.i), spf=pass
 * (smtp.mailfrom) or dmarc=pass (header.from) for a domain aligned with
 * the From address's (the same, or one a subdomain of the other: a
 * pass for the attacker's own domain does not vouch for a From of
 * ours), else it is refused (counted "bad_signature", never enqueued);
 * (2) it is not ours, not automatic
 * (Auto-Submitted other than "no", Precedence bulk/list/junk: no mail
 * loops); (3) it has a text/plain part: the first one, through
 * multipart nested up to 4 deep, quoted-printable or base64 decoded,
 * UTF-8, US-ASCII or ISO-8859-1. Senders go through the policies like
 * any channel (the config requires dm_policy allowlist or pairing:
 * allow_from lists addresses, lower case). Threads: the conversation is
 * the thread's root, the first id of References, else In-Reply-To,
 * else the message's own Message-ID.
 *
 * Out: SMTP (smtps://, or smtp:// with STARTTLS required) with the
 * login: From the address, To the sender, Subject "Re: " + theirs,
 * In-Reply-To their Message-ID, References theirs + it, a Message-ID
 * derived from the envelope id and piece (the same on every attempt,
 * so a mail client shows a repeat once), the text base64 encoded. SMTP
 * 4xx and transport errors are retried, 5xx and a refused login are
 * final.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "claw/buf.h"
#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

#define EM_HEADERS_MAX 300
#define EM_DEPTH_MAX 4
#define EM_MAIL_MAX (1u << 20)
#define EM_ID_MAX 240
#define EM_BATCH 50
#define EM_MARK "email.uid"

/* ----------------------------------------------------------- headers */
struct em_hdr {
	const char *name;
	size_t nlen;
	char *value; /* unfolded, malloc'd */
};

struct em_head {
	struct em_hdr h[EM_HEADERS_MAX];
	size_t n;
	const char *body; /* after the blank line */
	size_t body_len;
};

static void head_free(struct em_head *hd)
{
	for (size_t i = 0; i < hd->n; i++)
		free(hd->h[i].value);
	hd->n = 0;
}

/* The end of the line at p (before its LF), and where the next starts. */
static size_t line_len(const char *p, size_t left, size_t *next)
{
	const char *nl = memchr(p, '\n', left);
	size_t n = nl ? (size_t)(nl - p) : left;
	*next = nl ? n + 1 : n;
	if (n && p[n - 1] == '\r')
		n--;
	return n;
}

/* Parse the header block of raw into hd (unfolded); the body follows. */
static enum claw_rc head_parse(const char *raw, size_t len, struct em_head *hd)
{
	size_t off = 0, next;
	hd->n = 0;
	hd->body = raw + len;
	hd->body_len = 0;
	while (off < len) {
		size_t n = line_len(raw + off, len - off, &next);
		const char *l = raw + off;
		if (n == 0) {
			hd->body = raw + off + next;
			hd->body_len = len - off - next;
			return CLAW_OK;
		}
		if (l[0] == ' ' || l[0] == '\t') {
			if (!hd->n)
				return CLAW_ERR_PARSE;
			struct em_hdr *h = &hd->h[hd->n - 1];
			size_t old = strlen(h->value);
			char *v = realloc(h->value, old + n + 1);
			if (!v)
				return CLAW_ERR_NOMEM;
			memcpy(v + old, l, n);
			v[old + n] = '\0';
			h->value = v;
		} else {
			const char *colon = memchr(l, ':', n);
			if (!colon || colon == l || hd->n == EM_HEADERS_MAX)
				return CLAW_ERR_PARSE;
			struct em_hdr *h = &hd->h[hd->n];
			const char *v = colon + 1;
			while (v < l + n && (*v == ' ' || *v == '\t'))
				v++;
			h->name = l;
			h->nlen = (size_t)(colon - l);
			while (h->nlen && l[h->nlen - 1] == ' ')
				h->nlen--;
			/* not strndup: the message is not a C string (nothing
			 * after the header's bytes may be read) */
			size_t vn = (size_t)(l + n - v);
			char *val = malloc(vn + 1);
			if (!val)
				return CLAW_ERR_NOMEM;
			memcpy(val, v, vn);
			val[vn] = '\0';
			h->value = val;
			hd->n++;
		}
		off += next;
	}
	return CLAW_OK; /* headers only */
}

/* The i-th (0 first) header called name, or NULL. */
static const char *hdr_nth(const struct em_head *hd, const char *name, int nth)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < hd->n; i++)
		if (hd->h[i].nlen == nl &&
		    strncasecmp(hd->h[i].name, name, nl) == 0 && nth-- == 0)
			return hd->h[i].value;
	return NULL;
}

static const char *hdr(const struct em_head *hd, const char *name)
{
	return hdr_nth(hd, name, 0);
}

/* ------------------------------------------- RFC 8601 auth results */
/* v with comments and quoted strings blanked out (new string). */
static char *strip_cfws(const char *v)
{
	char *o = strdup(v), *q = o;
	int depth = 0;
	bool quoted = false;
	if (!o)
		return NULL;
	for (const char *p = v; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
			*q++ = 'x';
		} else if (*p == '(') {
			depth++;
			*q++ = ' ';
		} else if (depth) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == ')')
				depth--;
			*q++ = ' ';
		} else if (*p == '"') {
			quoted = true;
			*q++ = 'x';
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	return o;
}

/* Is domain d (n bytes) aligned with the From domain (relaxed: the same,
 * or one a subdomain of the other; d holds a dot)? */
static bool aligned(const char *d, size_t n, const char *from)
{
	size_t fl = strlen(from);
	if (!n || !memchr(d, '.', n))
		return false;
	if (n == fl)
		return strncasecmp(d, from, n) == 0;
	if (fl > n)
		return from[fl - n - 1] == '.' &&
			strncasecmp(from + fl - n, d, n) == 0;
	return d[n - fl - 1] == '.' && strncasecmp(d + n - fl, from, fl) == 0;
}

/* One resinfo [m, end): "method=result prop=value ...". A pass of dkim
 * (header.d or header.i), spf (smtp.mailfrom) or dmarc (header.from)
 * whose domain is aligned with from? */
static bool resinfo_pass(const char *m, const char *end, const char *from)
{
	static const struct {
		const char *method, *prop;
	} ok[] = {{"dkim", "header.d"},
		  {"dkim", "header.i"},
		  {"spf", "smtp.mailfrom"},
		  {"dmarc", "header.from"}};
	size_t mlen = strcspn(m, "=/ \t;");
	const char *eq = memchr(m, '=', (size_t)(end - m));
	if (!eq)
		return false;
	const char *res = eq + 1 + strspn(eq + 1, " \t");
	size_t rlen = strcspn(res, " \t;");
	if (rlen != 4 || strncasecmp(res, "pass", 4) != 0)
		return false;
	for (const char *t = res + rlen; t < end;) {
		t += strspn(t, " \t");
		size_t tl = strcspn(t, " \t;");
		const char *teq = memchr(t, '=', tl);
		for (size_t k = 0; teq && k < sizeof(ok) / sizeof(ok[0]); k++) {
			size_t pl = strlen(ok[k].prop);
			if (strlen(ok[k].method) != mlen ||
			    strncasecmp(m, ok[k].method, mlen) != 0 ||
			    (size_t)(teq - t) != pl ||
			    strncasecmp(t, ok[k].prop, pl) != 0)
				continue;
			const char *d = teq + 1, *tend = t + tl;
			const char *at = memchr(d, '@', (size_t)(tend - d));
			if (at)
				d = at + 1;
			if (aligned(d, (size_t)(tend - d), from))
				return true;
		}
		t += tl ? tl : 1;
	}
	return false;
}

bool gw_email_auth_pass(const char *value, const char *authserv_id,
			const char *from_domain, bool *ours)
{
	char *v = strip_cfws(value);
	bool pass = false, mine = false;
	if (!v || !authserv_id || !from_domain)
		goto out;
	char *p = v + strspn(v, " \t");
	size_t idlen = strcspn(p, " \t;");
	mine = idlen == strlen(authserv_id) &&
		strncasecmp(p, authserv_id, idlen) == 0;
	for (char *r = mine ? strchr(p, ';') : NULL; r && !pass;
	     r = strchr(r + 1, ';')) {
		char *m = r + 1 + strspn(r + 1, " \t");
		char *end = strchr(m, ';');
		pass = resinfo_pass(m, end ? end : m + strlen(m), from_domain);
	}
out:
	if (ours)
		*ours = mine;
	free(v);
	return pass;
}

/* The topmost Authentication-Results of our server passes. */
static bool auth_ok(const struct em_head *hd, const char *authserv_id,
		    const char *from)
{
	const char *v;
	const char *dom = strchr(from, '@') + 1;
	for (int i = 0; (v = hdr_nth(hd, "Authentication-Results", i)); i++) {
		bool ours = false;
		bool pass = gw_email_auth_pass(v, authserv_id, dom, &ours);
		if (ours)
			return pass;
	}
	return false;
}

/* -------------------------------------------------------------- MIME */
/* A parameter of a Content-Type value (case-insensitive name, quoted or
 * not) into out. */
static bool ct_param(const char *ct, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
		const char *k = p + 1 + strspn(p + 1, " \t");
		if (strncasecmp(k, name, nl) != 0 || k[nl] != '=')
			continue;
		const char *v = k + nl + 1;
		size_t n = 0;
		if (*v == '"') {
			for (v++; *v && *v != '"' && n + 1 < outlen; v++) {
				if (*v == '\\' && v[1])
					v++;
				out[n++] = *v;
			}
		} else {
			for (; *v && !strchr(" \t;", *v) && n + 1 < outlen; v++)
				out[n++] = *v;
		}
		out[n] = '\0';
		return n > 0;
	}
	return false;
}

static bool ct_is(const char *ct, const char *type)
{
	size_t n = strlen(type);
	return strncasecmp(ct, type, n) == 0 &&
		(ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' ||
		 ct[n] == '\t');
}

static int hexval(int c)
{
	return c >= '0' && c <= '9'    ? c - '0'
		: c >= 'A' && c <= 'F' ? c - 'A' + 10
		: c >= 'a' && c <= 'f' ? c - 'a' + 10
				       : -1;
}

static enum claw_rc decode_qp(const char *s, size_t n, struct claw_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '=' && i + 1 < n &&
		    (s[i + 1] == '\n' ||
		     (s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n'))) {
			i += s[i + 1] == '\r' ? 2 : 1; /* soft line break */
			continue;
		}
		if (c == '=' && i + 2 < n && hexval(s[i + 1]) >= 0 &&
		    hexval(s[i + 2]) >= 0) {
			c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		if (claw_buf_append(out, &c, 1))
			return CLAW_ERR_TOO_LARGE;
	}
	return CLAW_OK;
}

static enum claw_rc decode_b64(const char *s, size_t n, struct claw_buf *out)
{
	unsigned char *bin = malloc(n / 4 * 3 + 3);
	size_t blen = 0;
	enum claw_rc rc = CLAW_ERR_PARSE;
	if (!bin)
		return CLAW_ERR_NOMEM;
	if (sodium_base642bin(bin, n / 4 * 3 + 3, s, n, " \t\r\n", &blen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) == 0)
		rc = claw_buf_append(out, bin, blen) ? CLAW_ERR_TOO_LARGE
						     : CLAW_OK;
	free(bin);
	return rc;
}

/* ISO-8859-1 into UTF-8, in place in b. */
static enum claw_rc latin1_to_utf8(struct claw_buf *b)
{
	struct claw_buf o;
	claw_buf_init(&o, b->max ? b->max * 2 : 0);
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		char u[2] = {(char)(0xC0 | (c >> 6)),
			     (char)(0x80 | (c & 0x3F))};
		if (claw_buf_append(&o,
				    c < 0x80 ? (const char *)&b->data[i] : u,
				    c < 0x80 ? 1 : 2)) {
			claw_buf_release(&o);
			return CLAW_ERR_TOO_LARGE;
		}
	}
	claw_buf_release(b);
	*b = o;
	return CLAW_OK;
}

/* The first text/plain part of an entity (headers hd) into out. */
static enum claw_rc text_part(const struct em_head *hd, int depth,
			      struct claw_buf *out, bool *found);

static enum claw_rc multipart(const struct em_head *hd, const char *ct,
			      int depth, struct claw_buf *out, bool *found)
{
	char boundary[80], delim[84];
	if (depth >= EM_DEPTH_MAX ||
	    !ct_param(ct, "boundary", boundary, sizeof(boundary)))
		return CLAW_OK;
	int dl = snprintf(delim, sizeof(delim), "--%s", boundary);
	const char *p = hd->body, *end = hd->body + hd->body_len;
	const char *part = NULL;
	while (p < end && !*found) {
		size_t next, n = line_len(p, (size_t)(end - p), &next);
		bool is_delim =
			n >= (size_t)dl && memcmp(p, delim, (size_t)dl) == 0;
		if (is_delim && part) {
			struct em_head sub;
			size_t plen = (size_t)(p - part);
			enum claw_rc rc = head_parse(part, plen, &sub);
			if (rc == CLAW_OK)
				rc = text_part(&sub, depth + 1, out, found);
			head_free(&sub);
			if (rc == CLAW_ERR_NOMEM || rc == CLAW_ERR_TOO_LARGE)
				return rc;
		}
		if (is_delim && n >= (size_t)dl + 2 && p[dl] == '-' &&
		    p[dl + 1] == '-')
			break; /* the closing delimiter */
		if (is_delim)
			part = p + next;
		p += next;
	}
	return CLAW_OK;
}

static enum claw_rc text_part(const struct em_head *hd, int depth,
			      struct claw_buf *out, bool *found)
{
	const char *ct = hdr(hd, "Content-Type");
	const char *cte = hdr(hd, "Content-Transfer-Encoding");
	char cs[40] = "us-ascii";
	enum claw_rc rc;
	if (ct && strncasecmp(ct, "multipart/", 10) == 0)
		return multipart(hd, ct, depth, out, found);
	if (ct && !ct_is(ct, "text/plain"))
		return CLAW_OK;
	if (ct)
		ct_param(ct, "charset", cs, sizeof(cs));
	bool latin1 =
		!strcasecmp(cs, "iso-8859-1") || !strcasecmp(cs, "latin1");
	if (!latin1 && strcasecmp(cs, "utf-8") && strcasecmp(cs, "us-ascii"))
		return CLAW_OK; /* a charset we do not convert */
	claw_buf_reset(out);
	if (cte && ct_is(cte, "quoted-printable"))
		rc = decode_qp(hd->body, hd->body_len, out);
	else if (cte && ct_is(cte, "base64"))
		rc = decode_b64(hd->body, hd->body_len, out);
	else
		rc = claw_buf_append(out, hd->body, hd->body_len)
			? CLAW_ERR_TOO_LARGE
			: CLAW_OK;
	if (rc == CLAW_OK && latin1)
		rc = latin1_to_utf8(out);
	if (rc == CLAW_OK)
		*found = true;
	return rc == CLAW_ERR_PARSE ? CLAW_OK : rc;
}

static void rstrip(char *o)
{
	size_t n = strlen(o);
	while (n && isspace((unsigned char)o[n - 1]))
		o[--n] = '\0';
}

/* Text without CRs, trailing white space and the quoted tail of a
 * reply (from the first "> " line, with an "On … wrote:" line before
 * it); new string. */
static char *clean_text(const struct claw_buf *b)
{
	char *o = malloc(b->len + 1);
	size_t n = 0;
	if (!o)
		return NULL;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] != '\r' && b->data[i] != '\0')
			o[n++] = b->data[i];
	o[n] = '\0';
	for (char *l = o; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (*l == '>') {
			*l = '\0';
			rstrip(o);
			char *last = strrchr(o, '\n');
			last = last ? last + 1 : o;
			size_t ll = strlen(last);
			if (ll >= 6 && strcmp(last + ll - 6, "wrote:") == 0)
				*last = '\0';
			break;
		}
	rstrip(o);
	return o;
}

/* ------------------------------------------------------ addresses, ids */
/* The addr-spec of a From value (lower case) into out. */
static bool addr_of(const char *from, char *out, size_t outlen, char *name,
		    size_t namelen)
{
	const char *lt = strrchr(from, '<'), *gt;
	const char *a = from;
	size_t n;
	name[0] = '\0';
	if (lt && (gt = strchr(lt, '>'))) {
		a = lt + 1;
		n = (size_t)(gt - a);
		const char *ns = from + strspn(from, " \t\"");
		size_t nn = (size_t)(lt - ns);
		while (nn && strchr(" \t\"", ns[nn - 1]))
			nn--;
		if (nn && nn < namelen) {
			memcpy(name, ns, nn);
			name[nn] = '\0';
		}
	} else {
		a += strspn(a, " \t");
		n = strcspn(a, " \t");
	}
	if (!n || n >= outlen || n > 254)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= ' ' || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	const char *at = strchr(out, '@');
	return at && at != out && at[1] && !strchr(at + 1, '@');
}

/* The first "<id>" at *p (advanced past it) into out. */
static bool next_msgid(const char **p, char *out, size_t outlen)
{
	const char *lt = strchr(*p, '<'), *gt;
	if (!lt || !(gt = strchr(lt, '>')))
		return false;
	size_t n = (size_t)(gt - lt + 1);
	*p = gt + 1;
	if (n < 5 || n >= outlen || n > EM_ID_MAX)
		return next_msgid(p, out, outlen);
	for (const char *c = lt + 1; c < gt; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f ||
		    *c == '<' || *c == '"' || *c == '\\')
			return next_msgid(p, out, outlen);
	memcpy(out, lt, n);
	out[n] = '\0';
	return true;
}

static bool utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* Subject: control characters as spaces, at most 200 bytes, UTF-8. */
static void subject_of(const char *v, char *out, size_t outlen)
{
	size_t n = 0;
	for (; v && *v && n + 1 < outlen && n < 200; v++)
		out[n++] = (unsigned char)*v < ' ' ? ' ' : *v;
	while (n && ((unsigned char)out[n - 1] & 0xC0) == 0x80)
		n--; /* never a cut code point */
	if (n && (unsigned char)out[n - 1] >= 0xC0)
		n--;
	out[n] = '\0';
	if (!utf8_ok(out))
		snprintf(out, outlen, "(no subject)");
}

static bool automatic(const struct em_head *hd)
{
	const char *as = hdr(hd, "Auto-Submitted");
	const char *pr = hdr(hd, "Precedence");
	return (as && strncasecmp(as, "no", 2) != 0) ||
		(pr &&
		 (!strncasecmp(pr, "bulk", 4) || !strncasecmp(pr, "list", 4) ||
		  !strncasecmp(pr, "junk", 4)));
}

/* "References" for the reply: theirs (the last 10 ids) and their id. */
static void references_of(const struct em_head *hd, const char *mid, char *root,
			  size_t rootlen, struct claw_buf *refs)
{
	char ids[10][EM_ID_MAX + 1], id[EM_ID_MAX + 1];
	size_t n = 0, total = 0;
	const char *r = hdr(hd, "References");
	const char *irt = hdr(hd, "In-Reply-To");
	const char *p = r ? r : "";
	root[0] = '\0';
	while (next_msgid(&p, id, sizeof(id))) {
		if (!total++)
			snprintf(root, rootlen, "%s", id);
		memcpy(ids[n % 10], id, sizeof(id));
		n++;
	}
	if (!n && irt && next_msgid(&irt, id, sizeof(id))) {
		snprintf(root, rootlen, "%s", id);
		memcpy(ids[0], id, sizeof(id));
		n = 1;
	}
	for (size_t i = n > 10 ? n - 10 : 0; i < n; i++)
		claw_buf_printf(refs, "%s ", ids[i % 10]);
	if (*mid)
		claw_buf_puts(refs, mid);
	if (!*root)
		snprintf(root, rootlen, "%s", mid);
}

enum claw_rc gw_email_parse(const struct gw_chan_conf *cc, const char *raw,
			    size_t len, const char *fallback_id,
			    json_t **env_out, enum gw_mail_verdict *verdict)
{
	struct em_head *hd = calloc(1, sizeof(*hd));
	struct claw_buf body, refs;
	char from[256], name[128], mid[EM_ID_MAX + 1] = "";
	char root[EM_ID_MAX + 1], subj[256], id[EM_ID_MAX + 16];
	char conv[EM_ID_MAX + 16];
	enum claw_rc rc = CLAW_ERR_PARSE;
	bool found = false;
	*env_out = NULL;
	*verdict = GW_MAIL_IGNORED;
	claw_buf_init(&body, EM_MAIL_MAX);
	claw_buf_init(&refs, 4096);
	if (!hd)
		return CLAW_ERR_NOMEM;
	if (!len || memchr(raw, '\0', len) ||
	    head_parse(raw, len, hd) != CLAW_OK || !hdr(hd, "From") ||
	    !addr_of(hdr(hd, "From"), from, sizeof(from), name, sizeof(name)))
		goto out;
	const char *m = hdr(hd, "Message-ID");
	if (m)
		next_msgid(&m, mid, sizeof(mid));
	rc = CLAW_OK;
	if (!auth_ok(hd, cc->authserv_id, from)) {
		*verdict = GW_MAIL_UNAUTHENTICATED;
		goto out;
	}
	if ((cc->address && strcasecmp(from, cc->address) == 0) ||
	    automatic(hd))
		goto out;
	rc = text_part(hd, 0, &body, &found);
	if (rc == CLAW_ERR_TOO_LARGE)
		rc = CLAW_OK; /* left as having no text */
	if (rc || !found)
		goto out;
	references_of(hd, mid, root, sizeof(root), &refs);
	subject_of(hdr(hd, "Subject"), subj, sizeof(subj));
	snprintf(id, sizeof(id), "email:%s", *mid ? mid : fallback_id);
	snprintf(conv, sizeof(conv), "email:%s",
		 *root ? root : (*mid ? mid : fallback_id));
	char *text = clean_text(&body);
	if (!text) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	json_t *env = gw_env_new(
		GW_CH_EMAIL, id, cc->address ? cc->address : "", conv, from,
		*name && utf8_ok(name) ? name : NULL, text, gw_unix_now());
	free(text);
	if (!env) {
		rc = CLAW_ERR_PARSE; /* text that is not UTF-8 */
		goto out;
	}
	json_object_set_new(env, GW_ENV_ROUTE,
			    json_pack("{s:s, s:s, s:s, s:s}", "to", from,
				      "subject", subj, "in_reply_to", mid,
				      "references",
				      refs.data ? refs.data : ""));
	json_object_set_new(env, GW_ENV_GROUP, json_false());
	json_object_set_new(env, GW_ENV_MENTIONED, json_false());
	*env_out = env;
	*verdict = GW_MAIL_OK;
out:
	head_free(hd);
	free(hd);
	claw_buf_release(&body);
	claw_buf_release(&refs);
	return rc;
}

/* -------------------------------------------------------- libcurl use */
/* Into the claw_buf cls; past its ceiling the transfer fails with
 * CURLE_WRITE_ERROR (its only cause). */
static size_t em_write(char *p, size_t size, size_t n, void *cls)
{
	return claw_buf_append(cls, p, size * n) ? 0 : size * n;
}

/* A handle with the login, TLS required and the CA. */
static CURL *em_handle(const struct gw_conf *c, const char *url)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_EMAIL];
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERNAME,
			 cc->login ? cc->login : cc->address);
	curl_easy_setopt(h, CURLOPT_PASSWORD, cc->s1.val);
	curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (c->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	return h;
}

/* One IMAP request: a custom command (or NULL: fetch the URL) into b. */
static CURLcode imap_do(const struct gw_conf *c, const char *url,
			const char *command, struct claw_buf *b, bool *over)
{
	CURL *h = em_handle(c, url);
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	if (command)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, command);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, em_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	*over = rc == CURLE_WRITE_ERROR;
	return rc;
}

/* "* STATUS box (UIDVALIDITY v UIDNEXT n)" */
static bool status_parse(const char *t, unsigned long long *validity,
			 unsigned long long *next)
{
	const char *v = t ? strstr(t, "UIDVALIDITY ") : NULL;
	const char *n = t ? strstr(t, "UIDNEXT ") : NULL;
	char *end;
	if (!v || !n)
		return false;
	*validity = strtoull(v + 12, &end, 10);
	if (end == v + 12)
		return false;
	*next = strtoull(n + 8, &end, 10);
	return end != n + 8 && *validity && *next;
}

struct em_state {
	unsigned long long validity, last;
	bool loaded;
};

void *gw_email_new(void)
{
	return calloc(1, sizeof(struct em_state));
}

static void mark_save(struct gw *g, struct em_state *s)
{
	char v[64];
	snprintf(v, sizeof(v), "%llu:%llu", s->validity, s->last);
	gw_mark_save(g, EM_MARK, v, "the e-mail position");
}

/* Fetch, judge and journal one message; false when it must be read
 * again (the journal failed, the server did not answer). */
static bool take_uid(struct gw *g, const struct gw_conf *c, const char *box,
		     unsigned long long validity, unsigned long long uid)
{
	const struct gw_chan_conf *cc = &c->ch[GW_CH_EMAIL];
	char url[700], fb[80];
	struct claw_buf raw;
	bool over = false, ok = true;
	json_t *env = NULL;
	enum gw_mail_verdict v;
	snprintf(url, sizeof(url), "%s/%s/;UID=%llu", cc->imap_url, box, uid);
	claw_buf_init(&raw, EM_MAIL_MAX);
	CURLcode rc = imap_do(c, url, NULL, &raw, &over);
	if (over) {
		log_warn("email: UID %llu is over %u bytes: skipped", uid,
			 EM_MAIL_MAX);
		gw_metrics_refused(GW_CH_EMAIL, GW_REF_SIZE);
	} else if (rc != CURLE_OK) {
		log_warn("email: unable to fetch UID %llu: %s", uid,
			 curl_easy_strerror(rc));
		ok = false;
	} else {
		snprintf(fb, sizeof(fb), "uid:%llu:%llu", validity, uid);
		if (gw_email_parse(cc, raw.data ? raw.data : "", raw.len, fb,
				   &env, &v))
			log_warn("email: UID %llu is no message: skipped", uid);
		else if (v == GW_MAIL_UNAUTHENTICATED) {
			log_warn("email: UID %llu refused: no dkim=pass or "
				 "spf=pass from %s",
				 uid, cc->authserv_id);
			gw_metrics_refused(GW_CH_EMAIL, GW_REF_BAD_SIGNATURE);
		}
		if (env && gw_ingest(g, env, true, NULL, 0) == GW_IN_ERROR)
			ok = false;
	}
	claw_buf_release(&raw);
	return ok;
}

/* The UIDs of "* SEARCH 4 7 9" above last, ascending, at most max. */
static size_t search_parse(const char *t, unsigned long long last,
			   unsigned long long *out, size_t max)
{
	const char *p = t ? strstr(t, "* SEARCH") : NULL;
	size_t n = 0;
	if (!p)
		return 0;
	p += 8;
	while (*p == ' ' && n < max) {
		char *end;
		unsigned long long u = strtoull(p + 1, &end, 10);
		if (end == p + 1)
			break;
		if (u > last)
			out[n++] = u;
		p = end;
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: servers sort */
		for (size_t j = i; j && out[j - 1] > out[j]; j--) {
			unsigned long long t2 = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t2;
		}
	return n;
}

bool gw_email_round(struct gw *g, void *cls, long *wait_ms)
{
	struct em_state *s = cls;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_EMAIL];
	const char *box = cc->mailbox ? cc->mailbox : "INBOX";
	char url[700], cmd[120];
	struct claw_buf t;
	unsigned long long validity = 0, next = 0, uids[EM_BATCH];
	bool over = false, ok = false;
	*wait_ms = (long)cc->poll_interval_ms;
	if (!s->loaded) {
		char *m = gw_mark_load(g, EM_MARK, 64);
		if (!m || sscanf(m, "%llu:%llu", &s->validity, &s->last) != 2)
			s->validity = s->last = 0;
		free(m);
		s->loaded = true;
	}
	claw_buf_init(&t, 1 << 20);
	snprintf(url, sizeof(url), "%s/", cc->imap_url);
	snprintf(cmd, sizeof(cmd), "STATUS %s (UIDVALIDITY UIDNEXT)", box);
	CURLcode rc = imap_do(c, url, cmd, &t, &over);
	if (rc != CURLE_OK || claw_buf_puts(&t, "") ||
	    !status_parse(t.data, &validity, &next)) {
		log_warn("email: IMAP STATUS failed: %s",
			 rc ? curl_easy_strerror(rc)
			    : "no UIDVALIDITY/UIDNEXT");
		goto out;
	}
	if (validity != s->validity) {
		if (s->validity)
			log_warn("email: the mailbox's UIDVALIDITY changed: "
				 "starting after its current messages");
		s->validity = validity;
		s->last = next - 1;
		mark_save(g, s);
	}
	ok = true;
	if (next - 1 <= s->last)
		goto out;
	claw_buf_reset(&t);
	snprintf(url, sizeof(url), "%s/%s", cc->imap_url, box);
	snprintf(cmd, sizeof(cmd), "UID SEARCH UID %llu:*", s->last + 1);
	rc = imap_do(c, url, cmd, &t, &over);
	if (rc != CURLE_OK || claw_buf_puts(&t, "")) {
		log_warn("email: IMAP SEARCH failed: %s",
			 curl_easy_strerror(rc));
		ok = false;
		goto out;
	}
	size_t n = search_parse(t.data, s->last, uids, EM_BATCH);
	for (size_t i = 0; i < n && !atomic_load(&g->stopping); i++) {
		if (!take_uid(g, c, box, s->validity, uids[i])) {
			ok = false;
			break;
		}
		s->last = uids[i];
		mark_save(g, s);
	}
	if (n == EM_BATCH)
		*wait_ms = 0; /* more are waiting */
out:
	claw_buf_release(&t);
	gw_conf_put(c);
	return ok;
}

/* ------------------------------------------------------------ outbound */
/* The mail to upload: taken from the front of its buffer. */
static size_t em_read(char *buf, size_t size, size_t n, void *cls)
{
	return claw_buf_take(cls, buf, size * n);
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || (unsigned char)*s < ' ')
			return false;
	return true;
}

/* base64 of text wrapped at 76 columns. */
static enum claw_rc b64_lines(struct claw_buf *b, const char *text, size_t n)
{
	size_t cap =
		sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *e = malloc(cap);
	enum claw_rc rc = CLAW_OK;
	if (!e)
		return CLAW_ERR_NOMEM;
	sodium_bin2base64(e, cap, (const unsigned char *)text, n,
			  sodium_base64_VARIANT_ORIGINAL);
	for (size_t i = 0, l = strlen(e); i < l && !rc; i += 76)
		rc = claw_buf_printf(b, "%.*s\r\n",
				     (int)(l - i > 76 ? 76 : l - i), e + i);
	free(e);
	return rc;
}

/* The reply mail (RFC 5322, MIME) into b. */
static enum claw_rc build_mail(const struct gw_chan_conf *cc, const json_t *env,
			       const char *text, int part, struct claw_buf *b)
{
	const char *to = gw_route_str(env, "to");
	const char *subj = gw_route_str(env, "subject");
	const char *irt = gw_route_str(env, "in_reply_to");
	const char *refs = gw_route_str(env, "references");
	const char *dom = strchr(cc->address, '@') + 1;
	char uuid[37], date[64], re[300];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	gw_derived_uuid("email-reply", gw_env_str(env, "id"), part, uuid);
	subj = subj && *subj ? subj : "your message";
	snprintf(re, sizeof(re), "%s%s",
		 strncasecmp(subj, "re:", 3) == 0 ? "" : "Re: ", subj);
	enum claw_rc rc = claw_buf_printf(
		b,
		"From: <%s>\r\nTo: <%s>\r\nDate: %s\r\n"
		"Message-ID: <%s@%s>\r\nAuto-Submitted: auto-replied\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n",
		cc->address, to, date, uuid, dom);
	if (!rc && ascii(re))
		rc = claw_buf_printf(b, "Subject: %s\r\n", re);
	else if (!rc) {
		rc = claw_buf_puts(b, "Subject: =?UTF-8?B?");
		size_t cap = sodium_base64_ENCODED_LEN(
			strlen(re), sodium_base64_VARIANT_ORIGINAL);
		char *e = malloc(cap);
		if (!e)
			return CLAW_ERR_NOMEM;
		sodium_bin2base64(e, cap, (const unsigned char *)re, strlen(re),
				  sodium_base64_VARIANT_ORIGINAL);
		if (!rc)
			rc = claw_buf_printf(b, "%s?=\r\n", e);
		free(e);
	}
	if (!rc && irt && *irt)
		rc = claw_buf_printf(b, "In-Reply-To: %s\r\n", irt);
	if (!rc && refs && *refs)
		rc = claw_buf_printf(b, "References: %s\r\n", refs);
	if (!rc)
		rc = claw_buf_puts(b, "\r\n");
	if (!rc)
		rc = b64_lines(b, text, strlen(text));
	return rc;
}

static bool header_safe(const char *s)
{
	return s && !strpbrk(s, "\r\n");
}

void gw_email_send(GW_SEND_ARGS)
{
	(void)g;
	const struct gw_chan_conf *cc = &c->ch[GW_CH_EMAIL];
	const char *to = gw_route_str(env, "to");
	char rcpt_s[300], from[300];
	struct claw_buf mail;
	long code = 0;
	res->st = GW_SEND_FAIL;
	if (!cc->address || !cc->smtp_url || !to || strpbrk(to, "<> \r\n") ||
	    !header_safe(gw_route_str(env, "subject")) ||
	    !header_safe(gw_route_str(env, "references")) ||
	    !header_safe(gw_route_str(env, "in_reply_to"))) {
		snprintf(res->detail, sizeof(res->detail),
			 "email: not configured, or no recipient");
		return;
	}
	claw_buf_init(&mail, 4 * EM_MAIL_MAX);
	if (build_mail(cc, env, text, res->part, &mail)) {
		claw_buf_release(&mail);
		res->st = GW_SEND_RETRY;
		return;
	}
	snprintf(rcpt_s, sizeof(rcpt_s), "<%s>", to);
	snprintf(from, sizeof(from), "<%s>", cc->address);
	struct curl_slist *rcpt = curl_slist_append(NULL, rcpt_s);
	CURL *h = em_handle(c, cc->smtp_url);
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	if (h && rcpt) {
		curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, em_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &mail);
		rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	}
	res->http_status = code;
	if (rc == CURLE_OK)
		res->st = GW_SEND_OK;
	else {
		bool final =
			rc == CURLE_LOGIN_DENIED || (code >= 500 && code < 600);
		res->st = final ? GW_SEND_FAIL : GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "smtp: %ld %s", code,
			 curl_easy_strerror(rc));
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	claw_buf_release(&mail);
}

/* --------------------------------------------------------------- config */
void gw_email_fields(struct gw_chan_conf *cc, struct claw_json_field *f,
		     size_t *n)
{
	const struct claw_json_field mine[] = {
		{"imap_url", CLAW_JSON_STRING, true, &cc->imap_url, 255},
		{"smtp_url", CLAW_JSON_STRING, true, &cc->smtp_url, 255},
		{"address", CLAW_JSON_STRING, true, &cc->address, 254},
		{"authserv_id", CLAW_JSON_STRING, true, &cc->authserv_id, 255},
		{"username", CLAW_JSON_STRING, false, &cc->login, 254},
		{"mailbox", CLAW_JSON_STRING, false, &cc->mailbox, 100},
		{"poll_interval_ms", CLAW_JSON_INT, false,
		 &cc->poll_interval_ms, 0},
	};
	cc->poll_interval_ms = 30000;
	memcpy(f + *n, mine, sizeof(mine));
	*n += sizeof(mine) / sizeof(mine[0]);
}

/* scheme://host[:port] without a path, user info, query or space. */
static bool mail_url(const char *u, const char *tls, const char *plain)
{
	size_t tl = strlen(tls), pl = strlen(plain);
	const char *h = !strncmp(u, tls, tl) ? u + tl
		: !strncmp(u, plain, pl)     ? u + pl
					     : NULL;
	return h && *h && !strpbrk(h, "/@?# \t\r\n");
}

const char *gw_email_conf_why(const struct gw_chan_conf *cc)
{
	const char *why = NULL;
	char a[256], name[8];
	if (!mail_url(cc->imap_url, "imaps://", "imap://"))
		why = "imap_url must be imaps://host[:port] (or imap:// with "
		      "STARTTLS), without a path";
	else if (!mail_url(cc->smtp_url, "smtps://", "smtp://"))
		why = "smtp_url must be smtps://host[:port] (or smtp:// with "
		      "STARTTLS), without a path";
	else if (!addr_of(cc->address, a, sizeof(a), name, sizeof(name)) ||
		 strcmp(a, cc->address) != 0)
		why = "address must be the bot's address (lower case "
		      "local@domain)";
	else if (!*cc->authserv_id || strpbrk(cc->authserv_id, " \t;()\""))
		why = "authserv_id must be the authserv-id of your server's "
		      "Authentication-Results";
	else if (cc->mailbox &&
		 (!*cc->mailbox ||
		  strspn(cc->mailbox,
			 "ABCDEFGHIJKLMNOPQRSTUVW"
			 "XYZabcdefghijklmnopqrst"
			 "uvwxyz0123456789._-") != strlen(cc->mailbox)))
		why = "mailbox must be a mailbox name (A-Z a-z 0-9 . _ -)";
	else if (cc->login && (!*cc->login || strpbrk(cc->login, " \r\n")))
		why = "username must be a login without spaces";
	else if (cc->poll_interval_ms < 100 || cc->poll_interval_ms > 3600000)
		why = "poll_interval_ms must be 100..3600000";
	else if (cc->dm == GW_DM_OPEN)
		why = "dm_policy must be allowlist or pairing: e-mail senders "
		      "are allow-listed";
	return why;
}
