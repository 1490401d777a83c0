/*
 * checkpoint.c - the audit checkpoint format, keys, signature check and
 * verdicts; see checkpoint.h.
 *
 * Parsing is strict: exactly the eight members, each of its one shape
 * (lowercase hex of the exact length, a UTC time to the second, integers
 * from 0), so one checkpoint has one canonical text and one line. Only
 * public keys pass through here; signing is the control plane's.
 */
#include "claw/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>

#include "claw/crypto.h"

#define TEXT_TAG "claw-audit-checkpoint-v1\n"

/* ---- format */

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* YYYY-MM-DDTHH:MM:SSZ exactly. */
static bool time_ok(const char *s)
{
	return strlen(s) == 20 && digits(s, 4) && s[4] == '-' &&
		digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2) &&
		s[10] == 'T' && digits(s + 11, 2) && s[13] == ':' &&
		digits(s + 14, 2) && s[16] == ':' && digits(s + 17, 2) &&
		s[19] == 'Z';
}

static bool event_ok(const char *s)
{
	return !strcmp(s, "start") || !strcmp(s, "periodic") ||
		!strcmp(s, "stop");
}

size_t claw_ckpt_text(const struct claw_checkpoint *c, char *out, size_t outlen)
{
	int n = snprintf(out, outlen,
			 TEXT_TAG "key_id=%s\ntime=%s\nevent=%s\nlast_id=%lld\n"
				  "rows=%lld\nhead=%s\n",
			 c->key_id, c->time, c->event, c->last_id, c->rows,
			 c->head);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

size_t claw_ckpt_format(const struct claw_checkpoint *c, char *out,
			size_t outlen)
{
	char sig[2 * CLAW_CKPT_SIG_BYTES + 1];
	int n;

	claw_hex_encode(c->sig, sizeof(c->sig), sig);
	n = snprintf(out, outlen,
		     "{\"v\":1,\"key_id\":\"%s\",\"time\":\"%s\","
		     "\"event\":\"%s\",\"last_id\":%lld,\"rows\":%lld,"
		     "\"head\":\"%s\",\"sig\":\"%s\"}\n",
		     c->key_id, c->time, c->event, c->last_id, c->rows, c->head,
		     sig);
	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

static bool str_member(json_t *o, const char *key, char *out, size_t outlen,
		       bool (*ok)(const char *))
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) >= outlen || !ok(s))
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool hex16(const char *s)
{
	return is_hex(s, 16);
}

static bool hex64(const char *s)
{
	return is_hex(s, 64);
}

static bool int_member(json_t *o, const char *key, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (long long)json_integer_value(v);
	return true;
}

enum claw_rc claw_ckpt_parse(const char *line, size_t len,
			     struct claw_checkpoint *out, const char **why)
{
	static const char *const members[] = {"v",     "key_id",  "time",
					      "event", "last_id", "rows",
					      "head",  "sig"};
	json_t *o = NULL, *v;
	const char *sig;
	const char *key;
	enum claw_rc rc = CLAW_ERR_PARSE;

	memset(out, 0, sizeof(*out));
	*why = "not a JSON object";
	if (len > CLAW_CKPT_LINE_MAX)
		goto out;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		goto out;
	*why = "unknown member";
	json_object_foreach(o, key, v) {
		size_t i;

		for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
			if (!strcmp(key, members[i]))
				break;
		if (i == sizeof(members) / sizeof(members[0]))
			goto out;
	}
	*why = "v is not 1";
	v = json_object_get(o, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		goto out;
	*why = "key_id is not 16 hex characters";
	if (!str_member(o, "key_id", out->key_id, sizeof(out->key_id), hex16))
		goto out;
	*why = "time is not YYYY-MM-DDTHH:MM:SSZ";
	if (!str_member(o, "time", out->time, sizeof(out->time), time_ok))
		goto out;
	*why = "event is not start, periodic or stop";
	if (!str_member(o, "event", out->event, sizeof(out->event), event_ok))
		goto out;
	*why = "last_id or rows is not an integer from 0";
	if (!int_member(o, "last_id", &out->last_id) ||
	    !int_member(o, "rows", &out->rows))
		goto out;
	*why = "head is not 64 hex characters";
	if (!str_member(o, "head", out->head, sizeof(out->head), hex64))
		goto out;
	*why = "sig is not 128 hex characters";
	sig = json_string_value(json_object_get(o, "sig"));
	if (!sig || !is_hex(sig, 2 * CLAW_CKPT_SIG_BYTES) ||
	    claw_hex_decode(sig, out->sig, sizeof(out->sig)))
		goto out;
	*why = NULL;
	rc = CLAW_OK;
out:
	json_decref(o);
	return rc;
}

/* ---- keys */

void claw_ckpt_key_id(const unsigned char pk[CLAW_CKPT_PK_BYTES], char out[17])
{
	char h[65];

	claw_blake2b_hex(pk, CLAW_CKPT_PK_BYTES, h);
	memcpy(out, h, 16);
	out[16] = '\0';
}

enum claw_rc claw_ckpt_keys_add(struct claw_ckpt_keys *keys,
				const unsigned char pk[CLAW_CKPT_PK_BYTES])
{
	char id[17];

	claw_ckpt_key_id(pk, id);
	for (size_t i = 0; i < keys->n; i++)
		if (!memcmp(keys->k[i].pk, pk, CLAW_CKPT_PK_BYTES))
			return CLAW_OK;
	if (keys->n == CLAW_CKPT_KEYS_MAX)
		return CLAW_ERR_TOO_LARGE;
	memcpy(keys->k[keys->n].id, id, sizeof(id));
	memcpy(keys->k[keys->n].pk, pk, CLAW_CKPT_PK_BYTES);
	keys->n++;
	return CLAW_OK;
}

enum claw_rc claw_ckpt_keys_add_hex(struct claw_ckpt_keys *keys,
				    const char *hex)
{
	unsigned char pk[CLAW_CKPT_PK_BYTES];

	if (!is_hex(hex, 2 * CLAW_CKPT_PK_BYTES) ||
	    claw_hex_decode(hex, pk, sizeof(pk)))
		return CLAW_ERR_PARSE;
	return claw_ckpt_keys_add(keys, pk);
}

enum claw_rc claw_ckpt_keys_load(struct claw_ckpt_keys *keys, const char *path,
				 char *errbuf, size_t errlen)
{
	char buf[512];
	long lineno = 0;
	enum claw_rc rc = CLAW_OK;
	struct stat st;
	FILE *f;
	/* O_NONBLOCK: a FIFO in its place must not hang a daemon's start */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(errbuf, errlen, "unable to open '%s': %s", path,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "'%s' is not a regular file", path);
		close(fd);
		return CLAW_ERR_INVALID;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return CLAW_ERR_NOMEM;
	}
	while (!rc && fgets(buf, sizeof(buf), f)) {
		char *k = buf + strspn(buf, " \t");
		size_t klen = strcspn(k, " \t\r\n#");

		lineno++;
		if (!strchr(buf, '\n') && !feof(f)) {
			snprintf(errbuf, errlen, "'%s' line %ld is too long",
				 path, lineno);
			rc = CLAW_ERR_PARSE;
			break;
		}
		if (klen == 0)
			continue; /* blank or a comment */
		k[klen] = '\0';
		rc = claw_ckpt_keys_add_hex(keys, k);
		if (rc == CLAW_ERR_PARSE)
			snprintf(errbuf, errlen,
				 "'%s' line %ld is not a public key (64 hex "
				 "characters)",
				 path, lineno);
		else if (rc)
			snprintf(errbuf, errlen, "'%s' holds more than %d keys",
				 path, CLAW_CKPT_KEYS_MAX);
	}
	fclose(f);
	return rc;
}

/* ---- verdicts */

const char *claw_ckpt_verdict_name(enum claw_ckpt_verdict v)
{
	switch (v) {
	case CLAW_CKPT_OK:
		return "ok";
	case CLAW_CKPT_MALFORMED:
		return "malformed";
	case CLAW_CKPT_UNKNOWN_KEY:
		return "unknown_key";
	case CLAW_CKPT_BAD_SIGNATURE:
		return "signature_invalid";
	case CLAW_CKPT_TRUNCATED:
		return "truncated";
	case CLAW_CKPT_REWRITTEN:
		return "rewritten";
	case CLAW_CKPT_UNCHECKED:
		return "unchecked";
	}
	return "malformed";
}

enum claw_ckpt_verdict claw_ckpt_check_sig(const struct claw_ckpt_keys *keys,
					   const struct claw_checkpoint *c)
{
	char text[CLAW_CKPT_TEXT_MAX];
	size_t n = claw_ckpt_text(c, text, sizeof(text));

	if (!n)
		return CLAW_CKPT_MALFORMED;
	for (size_t i = 0; i < keys->n; i++) {
		if (strcmp(keys->k[i].id, c->key_id))
			continue;
		return crypto_sign_verify_detached(c->sig,
						   (const unsigned char *)text,
						   n, keys->k[i].pk) == 0
			? CLAW_CKPT_OK
			: CLAW_CKPT_BAD_SIGNATURE;
	}
	return CLAW_CKPT_UNKNOWN_KEY;
}

enum claw_ckpt_verdict claw_ckpt_judge(const struct claw_checkpoint *c,
				       const struct claw_ckpt_probe *p,
				       long long last_id, char *why,
				       size_t whylen)
{
	why[0] = '\0';
	if (c->last_id == 0) {
		if (c->rows == 0 && !strcmp(c->head, CLAW_CKPT_EMPTY_HEAD))
			return CLAW_CKPT_OK;
		snprintf(why, whylen,
			 "it signed %lld rows with no last row; it cannot "
			 "match any log",
			 c->rows);
		return CLAW_CKPT_REWRITTEN;
	}
	if (!p || !p->known) {
		snprintf(why, whylen,
			 "the chain breaks before row %lld, so it could not be "
			 "compared",
			 c->last_id);
		return CLAW_CKPT_UNCHECKED;
	}
	if (!p->found && last_id < c->last_id) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld, but the log now "
			 "ends at row %lld with %lld rows: rows were removed "
			 "from its end",
			 c->rows, c->last_id, last_id, p->rows);
		return CLAW_CKPT_TRUNCATED;
	}
	if (!p->found) {
		snprintf(why, whylen,
			 "it signed row %lld (hash %.16s...), which the log no "
			 "longer has",
			 c->last_id, c->head);
		return CLAW_CKPT_REWRITTEN;
	}
	if (p->rows != c->rows || strcmp(p->hash, c->head)) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld with hash "
			 "%.16s..., but the log has %lld rows up to it and "
			 "hash %.16s...: the log was rewritten",
			 c->rows, c->last_id, c->head, p->rows, p->hash);
		return CLAW_CKPT_REWRITTEN;
	}
	return CLAW_CKPT_OK;
}

/* ---- lines of a checkpoint file */

static enum claw_rc entries_push(struct claw_ckpt_entry **v, size_t *n,
				 size_t *cap, size_t max)
{
	struct claw_ckpt_entry *bigger;
	size_t want;

	if (*n < *cap)
		return CLAW_OK;
	if (*cap >= max)
		return CLAW_ERR_TOO_LARGE;
	want = *cap ? *cap * 2 : 64;
	if (want > max)
		want = max;
	bigger = realloc(*v, want * sizeof(**v));
	if (!bigger)
		return CLAW_ERR_NOMEM;
	*v = bigger;
	*cap = want;
	return CLAW_OK;
}

enum claw_rc claw_ckpt_read(FILE *f, size_t max, struct claw_ckpt_entry **out,
			    size_t *n)
{
	struct claw_ckpt_entry *v = NULL;
	size_t cap = 0, cnt = 0, linecap = 0;
	char *line = NULL;
	ssize_t len;
	long lineno = 0;
	enum claw_rc rc = CLAW_OK;

	*out = NULL;
	*n = 0;
	while ((len = getline(&line, &linecap, f)) > 0) {
		bool complete = line[len - 1] == '\n';
		const char *why;
		struct claw_ckpt_entry *e;

		lineno++;
		while (len > 0 &&
		       (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		rc = entries_push(&v, &cnt, &cap, max);
		if (rc)
			break;
		e = &v[cnt];
		e->line = lineno;
		e->verdict = claw_ckpt_parse(line, (size_t)len, &e->c, &why)
			? CLAW_CKPT_MALFORMED
			: CLAW_CKPT_OK;
		/* a last line cut short by a crash is no checkpoint yet */
		if (e->verdict == CLAW_CKPT_MALFORMED && !complete)
			break;
		cnt++;
	}
	free(line);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return CLAW_OK;
}

void claw_ckpt_entry_judge(struct claw_ckpt_entry *e,
			   const struct claw_ckpt_probe *p, long long last_id,
			   char *detail, size_t detaillen)
{
	detail[0] = '\0';
	switch (e->verdict) {
	case CLAW_CKPT_OK:
		e->verdict =
			claw_ckpt_judge(&e->c, p, last_id, detail, detaillen);
		break;
	case CLAW_CKPT_BAD_SIGNATURE:
		snprintf(detail, detaillen,
			 "its signature does not match its contents (the "
			 "line was forged or changed)");
		break;
	case CLAW_CKPT_UNKNOWN_KEY:
		snprintf(detail, detaillen,
			 "it is signed by key %s, which is not among the "
			 "accepted keys",
			 e->c.key_id);
		break;
	case CLAW_CKPT_MALFORMED:
		snprintf(detail, detaillen, "it is not a checkpoint line");
		break;
	case CLAW_CKPT_TRUNCATED:
	case CLAW_CKPT_REWRITTEN:
	case CLAW_CKPT_UNCHECKED:
		break; /* judged already */
	}
}

void claw_ckpt_entry_reason(const struct claw_ckpt_entry *e, const char *detail,
			    char *why, size_t whylen)
{
	if (e->verdict == CLAW_CKPT_MALFORMED)
		snprintf(why, whylen, "checkpoint at line %ld: %s", e->line,
			 detail);
	else
		snprintf(why, whylen,
			 "checkpoint at line %ld (%s, %s, key %s): %s: %s",
			 e->line, e->c.time, e->c.event, e->c.key_id,
			 claw_ckpt_verdict_name(e->verdict), detail);
}
