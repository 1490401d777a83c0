/*
 * checkpoint.c - the checkpoint format, its signature, the signing key file
 * and the checkpoint file; see checkpoint.h.
 *
 * Parsing is strict: exactly the eight members, each of its one shape
 * (lowercase hex of the exact length, a UTC time to the second, integers
 * from 0), so one checkpoint has one canonical text and one line. The key
 * file's text and the seed pass through sodium memory only and are wiped.
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sodium.h>

#include "claw/crypto.h"

#define KEYFILE_MAX 256
#define TEXT_TAG "claw-audit-checkpoint-v1\n"

struct cp_ckpt_signer {
	unsigned char *sk; /* sodium memory, crypto_sign_SECRETKEYBYTES */
	unsigned char pk[CP_CKPT_PK_BYTES];
	char key_id[17];
};

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

size_t cp_ckpt_text(const struct cp_checkpoint *c, char *out, size_t outlen)
{
	int n = snprintf(out, outlen,
			 TEXT_TAG "key_id=%s\ntime=%s\nevent=%s\nlast_id=%lld\n"
				  "rows=%lld\nhead=%s\n",
			 c->key_id, c->time, c->event, c->last_id, c->rows,
			 c->head);

	return n < 0 || (size_t)n >= outlen ? 0 : (size_t)n;
}

size_t cp_ckpt_format(const struct cp_checkpoint *c, char *out, size_t outlen)
{
	char sig[2 * CP_CKPT_SIG_BYTES + 1];
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

enum claw_rc cp_ckpt_parse(const char *line, size_t len,
			   struct cp_checkpoint *out, const char **why)
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
	if (len > CP_CKPT_LINE_MAX)
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
	if (!sig || !is_hex(sig, 2 * CP_CKPT_SIG_BYTES) ||
	    claw_hex_decode(sig, out->sig, sizeof(out->sig)))
		goto out;
	*why = NULL;
	rc = CLAW_OK;
out:
	json_decref(o);
	return rc;
}

/* ---- keys */

void cp_ckpt_key_id(const unsigned char pk[CP_CKPT_PK_BYTES], char out[17])
{
	char h[65];

	claw_blake2b_hex(pk, CP_CKPT_PK_BYTES, h);
	memcpy(out, h, 16);
	out[16] = '\0';
}

enum claw_rc cp_ckpt_keys_add(struct cp_ckpt_keys *keys,
			      const unsigned char pk[CP_CKPT_PK_BYTES])
{
	char id[17];

	cp_ckpt_key_id(pk, id);
	for (size_t i = 0; i < keys->n; i++)
		if (!memcmp(keys->k[i].pk, pk, CP_CKPT_PK_BYTES))
			return CLAW_OK;
	if (keys->n == CP_CKPT_KEYS_MAX)
		return CLAW_ERR_TOO_LARGE;
	memcpy(keys->k[keys->n].id, id, sizeof(id));
	memcpy(keys->k[keys->n].pk, pk, CP_CKPT_PK_BYTES);
	keys->n++;
	return CLAW_OK;
}

enum claw_rc cp_ckpt_keys_load(struct cp_ckpt_keys *keys, const char *path,
			       char *errbuf, size_t errlen)
{
	char buf[512];
	long lineno = 0;
	enum claw_rc rc = CLAW_OK;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(errbuf, errlen, "unable to open '%s': %s", path,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	while (!rc && fgets(buf, sizeof(buf), f)) {
		unsigned char pk[CP_CKPT_PK_BYTES];
		size_t n = strspn(buf, " \t");
		char *k = buf + n;
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
		if (!is_hex(k, 2 * CP_CKPT_PK_BYTES) ||
		    claw_hex_decode(k, pk, sizeof(pk))) {
			snprintf(errbuf, errlen,
				 "'%s' line %ld is not a public key (64 hex "
				 "characters)",
				 path, lineno);
			rc = CLAW_ERR_PARSE;
			break;
		}
		rc = cp_ckpt_keys_add(keys, pk);
		if (rc)
			snprintf(errbuf, errlen, "'%s' holds more than %d keys",
				 path, CP_CKPT_KEYS_MAX);
	}
	fclose(f);
	return rc;
}

static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static enum claw_rc write_all(int fd, const char *data, size_t len)
{
	size_t at = 0;

	while (at < len) {
		ssize_t n = write(fd, data + at, len - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CLAW_ERR_IO;
		at += (size_t)n;
	}
	return CLAW_OK;
}

/* A new key file: the seed's hex written to a temporary file, fsync'd, then
 * linked into place (fails when one appeared meanwhile). */
static enum claw_rc key_create(const char *path, char *errbuf, size_t errlen)
{
	char tmp[4200];
	unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
	char *text = sodium_malloc(2 * crypto_sign_SEEDBYTES + 2);
	enum claw_rc rc = CLAW_ERR_NOMEM;
	int fd;

	if (!seed || !text)
		goto out;
	randombytes_buf(seed, crypto_sign_SEEDBYTES);
	claw_hex_encode(seed, crypto_sign_SEEDBYTES, text);
	text[2 * crypto_sign_SEEDBYTES] = '\n';
	text[2 * crypto_sign_SEEDBYTES + 1] = '\0';
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	rc = CLAW_ERR_IO;
	if (fd < 0) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", tmp,
			 strerror(errno));
		goto out;
	}
	if (write_all(fd, text, 2 * crypto_sign_SEEDBYTES + 1) ||
	    fsync(fd) != 0) {
		snprintf(errbuf, errlen, "unable to write '%s': %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (link(tmp, path) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", path,
			 strerror(errno));
		unlink(tmp);
		goto out;
	}
	unlink(tmp);
	sync_dir(path);
	rc = CLAW_OK;
out:
	sodium_free(seed);
	sodium_free(text);
	return rc;
}

/* Read the key file's text into sodium memory (NUL-terminated). */
static enum claw_rc key_slurp(const char *path, char **text, char *errbuf,
			      size_t errlen)
{
	struct stat st;
	size_t at = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*text = NULL;
	if (fd < 0) {
		snprintf(errbuf, errlen,
			 "unable to open audit signing key file '%s': %s", path,
			 strerror(errno));
		return errno == ENOENT ? CLAW_ERR_NOT_FOUND : CLAW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > KEYFILE_MAX) {
		snprintf(errbuf, errlen,
			 "audit signing key file '%s' is not a regular file "
			 "of at most %d bytes",
			 path, KEYFILE_MAX);
		close(fd);
		return CLAW_ERR_INVALID;
	}
	if (st.st_mode & 077) {
		snprintf(errbuf, errlen,
			 "audit signing key file '%s' can be read by others "
			 "(mode %03o); run 'chmod 600 %s'",
			 path, (unsigned)(st.st_mode & 0777), path);
		close(fd);
		return CLAW_ERR_INVALID;
	}
	*text = sodium_malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return CLAW_ERR_NOMEM;
	}
	while (at < (size_t)st.st_size &&
	       (n = read(fd, *text + at, (size_t)st.st_size - at)) > 0)
		at += (size_t)n;
	(*text)[at] = '\0';
	close(fd);
	return CLAW_OK;
}

/* Write PATH.pub (the public key's hex) when it is missing or differs. */
static void write_pub(const char *path, const unsigned char *pk)
{
	char pub[4200], hex[2 * CP_CKPT_PK_BYTES + 2], old[sizeof(hex)] = "";
	FILE *f;
	int fd;

	snprintf(pub, sizeof(pub), "%s.pub", path);
	claw_hex_encode(pk, CP_CKPT_PK_BYTES, hex);
	hex[2 * CP_CKPT_PK_BYTES] = '\n';
	hex[2 * CP_CKPT_PK_BYTES + 1] = '\0';
	f = fopen(pub, "re");
	if (f) {
		if (!fgets(old, sizeof(old), f))
			old[0] = '\0';
		fclose(f);
		if (!strcmp(old, hex))
			return;
	}
	fd = open(pub, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return;
	if (write_all(fd, hex, strlen(hex)) == CLAW_OK)
		fsync(fd);
	close(fd);
}

enum claw_rc cp_ckpt_signer_load(const char *path, bool create,
				 struct cp_ckpt_signer **out, char *errbuf,
				 size_t errlen)
{
	struct cp_ckpt_signer *s = NULL;
	unsigned char *seed = NULL;
	char *text = NULL;
	size_t klen;
	enum claw_rc rc;

	*out = NULL;
	rc = key_slurp(path, &text, errbuf, errlen);
	if (rc == CLAW_ERR_NOT_FOUND && create) {
		rc = key_create(path, errbuf, errlen);
		if (!rc)
			rc = key_slurp(path, &text, errbuf, errlen);
	}
	if (rc)
		return rc;
	rc = CLAW_ERR_NOMEM;
	s = calloc(1, sizeof(*s));
	seed = sodium_malloc(crypto_sign_SEEDBYTES);
	if (!s || !seed)
		goto out;
	s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!s->sk)
		goto out;
	klen = strcspn(text, " \t\r\n");
	text[klen] = '\0';
	rc = CLAW_ERR_INVALID;
	if (klen != 2 * crypto_sign_SEEDBYTES ||
	    claw_hex_decode(text, seed, crypto_sign_SEEDBYTES)) {
		snprintf(errbuf, errlen,
			 "audit signing key file '%s' does not hold a key "
			 "(64 hex characters)",
			 path);
		goto out;
	}
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	cp_ckpt_key_id(s->pk, s->key_id);
	write_pub(path, s->pk);
	*out = s;
	s = NULL;
	rc = CLAW_OK;
out:
	sodium_free(seed);
	sodium_free(text);
	cp_ckpt_signer_free(s);
	return rc;
}

void cp_ckpt_signer_free(struct cp_ckpt_signer *s)
{
	if (!s)
		return;
	sodium_free(s->sk);
	free(s);
}

const unsigned char *cp_ckpt_signer_pk(const struct cp_ckpt_signer *s)
{
	return s->pk;
}

const char *cp_ckpt_signer_key_id(const struct cp_ckpt_signer *s)
{
	return s->key_id;
}

void cp_ckpt_sign(const struct cp_ckpt_signer *s, struct cp_checkpoint *c)
{
	char text[CP_CKPT_TEXT_MAX];
	size_t n;

	memcpy(c->key_id, s->key_id, sizeof(c->key_id));
	n = cp_ckpt_text(c, text, sizeof(text));
	crypto_sign_detached(c->sig, NULL, (const unsigned char *)text, n,
			     s->sk);
}

/* ---- verdicts */

const char *cp_ckpt_verdict_name(enum cp_ckpt_verdict v)
{
	switch (v) {
	case CP_CKPT_OK:
		return "ok";
	case CP_CKPT_MALFORMED:
		return "malformed";
	case CP_CKPT_UNKNOWN_KEY:
		return "unknown_key";
	case CP_CKPT_BAD_SIGNATURE:
		return "signature_invalid";
	case CP_CKPT_TRUNCATED:
		return "truncated";
	case CP_CKPT_REWRITTEN:
		return "rewritten";
	case CP_CKPT_UNCHECKED:
		return "unchecked";
	}
	return "malformed";
}

enum cp_ckpt_verdict cp_ckpt_check_sig(const struct cp_ckpt_keys *keys,
				       const struct cp_checkpoint *c)
{
	char text[CP_CKPT_TEXT_MAX];
	size_t n = cp_ckpt_text(c, text, sizeof(text));

	if (!n)
		return CP_CKPT_MALFORMED;
	for (size_t i = 0; i < keys->n; i++) {
		if (strcmp(keys->k[i].id, c->key_id))
			continue;
		return crypto_sign_verify_detached(c->sig,
						   (const unsigned char *)text,
						   n, keys->k[i].pk) == 0
			? CP_CKPT_OK
			: CP_CKPT_BAD_SIGNATURE;
	}
	return CP_CKPT_UNKNOWN_KEY;
}

enum cp_ckpt_verdict cp_ckpt_check_db(const struct cp_checkpoint *c,
				      const struct cp_audit_probe *p,
				      long long last_id, char *why,
				      size_t whylen)
{
	why[0] = '\0';
	if (c->last_id == 0) {
		if (c->rows == 0 && !strcmp(c->head, CP_AUDIT_GENESIS))
			return CP_CKPT_OK;
		snprintf(why, whylen,
			 "it signed %lld rows with no last row; it cannot "
			 "match any log",
			 c->rows);
		return CP_CKPT_REWRITTEN;
	}
	if (!p || !p->known) {
		snprintf(why, whylen,
			 "the chain breaks before row %lld, so it could not be "
			 "compared",
			 c->last_id);
		return CP_CKPT_UNCHECKED;
	}
	if (!p->found && last_id < c->last_id) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld, but the log now "
			 "ends at row %lld with %lld rows: rows were removed "
			 "from its end",
			 c->rows, c->last_id, last_id, p->rows);
		return CP_CKPT_TRUNCATED;
	}
	if (!p->found) {
		snprintf(why, whylen,
			 "it signed row %lld (hash %.16s...), which the log no "
			 "longer has",
			 c->last_id, c->head);
		return CP_CKPT_REWRITTEN;
	}
	if (p->rows != c->rows || strcmp(p->hash, c->head)) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld with hash "
			 "%.16s..., but the log has %lld rows up to it and "
			 "hash %.16s...: the log was rewritten",
			 c->rows, c->last_id, c->head, p->rows, p->hash);
		return CP_CKPT_REWRITTEN;
	}
	return CP_CKPT_OK;
}

/* ---- the file */

enum claw_rc cp_ckpt_append(const char *path, const struct cp_checkpoint *c,
			    char *errbuf, size_t errlen)
{
	char line[CP_CKPT_LINE_MAX];
	size_t n = cp_ckpt_format(c, line, sizeof(line));
	struct stat st;
	enum claw_rc rc = CLAW_ERR_IO;
	int fd;

	if (!n) {
		snprintf(errbuf, errlen, "checkpoint line too long");
		return CLAW_ERR_INTERNAL;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
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
	if (write_all(fd, line, n) || fsync(fd) != 0) {
		snprintf(errbuf, errlen, "unable to write '%s': %s", path,
			 strerror(errno));
		goto out;
	}
	if (st.st_size == 0)
		sync_dir(path);
	rc = CLAW_OK;
out:
	close(fd);
	return rc;
}

static enum claw_rc entries_push(struct cp_ckpt_entry **v, size_t *n,
				 size_t *cap, size_t max)
{
	struct cp_ckpt_entry *bigger;
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

enum claw_rc cp_ckpt_file_read(const char *path, size_t max,
			       struct cp_ckpt_entry **out, size_t *n,
			       char *errbuf, size_t errlen)
{
	struct cp_ckpt_entry *v = NULL;
	size_t cap = 0, cnt = 0, linecap = 0;
	char *line = NULL;
	ssize_t len;
	long lineno = 0;
	struct stat st;
	enum claw_rc rc = CLAW_OK;
	FILE *f;
	int fd;

	*out = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return CLAW_OK;
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
	while ((len = getline(&line, &linecap, f)) > 0) {
		bool complete = line[len - 1] == '\n';
		const char *why;
		struct cp_ckpt_entry *e;

		lineno++;
		while (len > 0 &&
		       (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		rc = entries_push(&v, &cnt, &cap, max);
		if (rc) {
			snprintf(errbuf, errlen,
				 "'%s' has more than %zu checkpoints", path,
				 max);
			break;
		}
		e = &v[cnt];
		e->line = lineno;
		e->verdict = cp_ckpt_parse(line, (size_t)len, &e->c, &why)
			? CP_CKPT_MALFORMED
			: CP_CKPT_OK;
		/* a last line cut short by a crash is no checkpoint yet */
		if (e->verdict == CP_CKPT_MALFORMED && !complete)
			break;
		cnt++;
	}
	free(line);
	fclose(f);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return CLAW_OK;
}

void cp_ckpt_time_now(char out[21])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
