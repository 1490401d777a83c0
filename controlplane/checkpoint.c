/*
 * checkpoint.c - the signing key file, signing, and the checkpoint file;
 * see checkpoint.h. The format itself is lib's (claw/checkpoint.h).
 *
 * The key file's text and the seed pass through sodium memory only and are
 * wiped; the file is read and made with lib's private-file helpers
 * (claw_secret_file_read/write), as the master key file is.
 */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "claw/crypto.h"
#include "claw/secret.h"

#define KEYFILE_MAX 256
#define KEYFILE_WHAT "audit signing key file"

struct cp_ckpt_signer {
	unsigned char *sk; /* sodium memory, crypto_sign_SECRETKEYBYTES */
	unsigned char pk[CLAW_CKPT_PK_BYTES];
	char key_id[17];
};

/* ---- the signing key */

/* A new key file holding a random seed's hex; one made meanwhile by
 * another process is fine (it is read next). */
static enum claw_rc key_create(const char *path, char *errbuf, size_t errlen)
{
	unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
	char *text = sodium_malloc(2 * crypto_sign_SEEDBYTES + 2);
	enum claw_rc rc = CLAW_ERR_NOMEM;

	if (!seed || !text)
		goto out;
	randombytes_buf(seed, crypto_sign_SEEDBYTES);
	claw_hex_encode(seed, crypto_sign_SEEDBYTES, text);
	text[2 * crypto_sign_SEEDBYTES] = '\n';
	text[2 * crypto_sign_SEEDBYTES + 1] = '\0';
	rc = claw_secret_file_write(path, text, 2 * crypto_sign_SEEDBYTES + 1,
				    0600, false, errbuf, errlen);
	if (rc == CLAW_ERR_INVALID)
		rc = CLAW_OK; /* it exists now */
out:
	sodium_free(seed);
	sodium_free(text);
	return rc;
}

/* Write PATH.pub (the public key's hex) when it is missing or differs. */
static void write_pub(const char *path, const unsigned char *pk)
{
	char pub[4200], hex[2 * CLAW_CKPT_PK_BYTES + 2], old[sizeof(hex)] = "";
	char err[256];
	FILE *f;

	snprintf(pub, sizeof(pub), "%s.pub", path);
	claw_hex_encode(pk, CLAW_CKPT_PK_BYTES, hex);
	hex[2 * CLAW_CKPT_PK_BYTES] = '\n';
	hex[2 * CLAW_CKPT_PK_BYTES + 1] = '\0';
	f = fopen(pub, "re");
	if (f) {
		if (!fgets(old, sizeof(old), f))
			old[0] = '\0';
		fclose(f);
		if (!strcmp(old, hex))
			return;
	}
	claw_secret_file_write(pub, hex, strlen(hex), 0644, true, err,
			       sizeof(err));
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
	rc = claw_secret_file_read(path, KEYFILE_WHAT, KEYFILE_MAX, &text, NULL,
				   errbuf, errlen);
	if (rc == CLAW_ERR_NOT_FOUND && create) {
		rc = key_create(path, errbuf, errlen);
		if (!rc)
			rc = claw_secret_file_read(path, KEYFILE_WHAT,
						   KEYFILE_MAX, &text, NULL,
						   errbuf, errlen);
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
			 KEYFILE_WHAT " '%s' does not hold a key (64 hex "
				      "characters)",
			 path);
		goto out;
	}
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	claw_ckpt_key_id(s->pk, s->key_id);
	write_pub(path, s->pk);
	*out = s;
	s = NULL;
	rc = CLAW_OK;
out:
	sodium_free(seed);
	claw_secret_free(text);
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

void cp_ckpt_sign(const struct cp_ckpt_signer *s, struct claw_checkpoint *c)
{
	char text[CLAW_CKPT_TEXT_MAX];
	size_t n;

	memcpy(c->key_id, s->key_id, sizeof(c->key_id));
	n = claw_ckpt_text(c, text, sizeof(text));
	crypto_sign_detached(c->sig, NULL, (const unsigned char *)text, n,
			     s->sk);
}

/* ---- the file */

/* Open the existing file at path with flags (non-blocking, so a FIFO does
 * not hang) and check it is a regular file: the descriptor, or -1 with
 * errno (ENOENT: it does not exist) and errbuf saying why. */
static int open_regular(const char *path, int flags, char *errbuf,
			size_t errlen)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		int saved = errno;

		snprintf(errbuf, errlen, "unable to open '%s': %s", path,
			 strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "'%s' is not a regular file", path);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

enum claw_rc cp_ckpt_append(const char *path, const struct claw_checkpoint *c,
			    char *errbuf, size_t errlen)
{
	char line[CLAW_CKPT_LINE_MAX];
	size_t n = claw_ckpt_format(c, line, sizeof(line));
	enum claw_rc rc = CLAW_ERR_IO;
	ssize_t w;
	int fd;

	if (!n) {
		snprintf(errbuf, errlen, "checkpoint line too long");
		return CLAW_ERR_INTERNAL;
	}
	fd = open_regular(path, O_WRONLY | O_APPEND, errbuf, errlen);
	if (fd < 0 && errno == ENOENT) {
		/* the first line makes the file, whole and durably */
		rc = claw_secret_file_write(path, line, n, 0640, false, errbuf,
					    errlen);
		if (rc != CLAW_ERR_INVALID)
			return rc;
		/* it appeared meanwhile: append to it */
		fd = open_regular(path, O_WRONLY | O_APPEND, errbuf, errlen);
	}
	if (fd < 0)
		return errno == EINVAL ? CLAW_ERR_INVALID : CLAW_ERR_IO;
	/* one write(), so a line is never interleaved nor left in parts */
	do
		w = write(fd, line, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n || fsync(fd) != 0)
		snprintf(errbuf, errlen, "unable to write '%s': %s", path,
			 w < 0 || w == (ssize_t)n ? strerror(errno)
						  : "short write");
	else
		rc = CLAW_OK;
	close(fd);
	return rc;
}

enum claw_rc cp_ckpt_file_read(const char *path, size_t max,
			       struct claw_ckpt_entry **out, size_t *n,
			       char *errbuf, size_t errlen)
{
	enum claw_rc rc;
	FILE *f;
	int fd;

	*out = NULL;
	*n = 0;
	fd = open_regular(path, O_RDONLY, errbuf, errlen);
	if (fd < 0 && errno == ENOENT)
		return CLAW_OK;
	if (fd < 0)
		return errno == EINVAL ? CLAW_ERR_INVALID : CLAW_ERR_IO;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return CLAW_ERR_NOMEM;
	}
	rc = claw_ckpt_read(f, max, out, n);
	fclose(f);
	if (rc == CLAW_ERR_TOO_LARGE)
		snprintf(errbuf, errlen, "'%s' has more than %zu checkpoints",
			 path, max);
	else if (rc)
		snprintf(errbuf, errlen, "unable to read '%s': %s", path,
			 claw_strerror(rc));
	return rc;
}

void cp_ckpt_time_now(char out[21])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
