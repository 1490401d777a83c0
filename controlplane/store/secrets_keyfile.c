/*
 * secrets_keyfile.c - the master key file: read it (refusing one others
 * can read), generate the first one, and add a version atomically.
 *
 * The file's text passes through sodium memory only and is wiped after
 * parsing. Reading and writing are lib's private-file helpers
 * (claw_secret_file_read/write, claw/secret.h), shared with the audit
 * signing key: a regular file opened non-blocking, refused when others
 * can read it; writes go to a temporary file in the same directory,
 * fsync'd, then linked (first key: fails if the file appeared meanwhile)
 * or renamed into place, and the directory is fsync'd.
 */
#include "secrets_ring.h"

#include <stdio.h>
#include <string.h>

#include "claw/secret.h"

#define KEYFILE_MAX (64 * 1024)
#define WHAT "master key file"

enum claw_rc cp_keyfile_read(const char *path, struct cp_keyring *ring,
			     char *errbuf, size_t errlen)
{
	char *text, msg[200];
	size_t len;
	enum claw_rc rc = claw_secret_file_read(path, WHAT, KEYFILE_MAX, &text,
						&len, errbuf, errlen);

	if (rc)
		return rc;
	rc = cp_keyring_parse(ring, text, len, msg, sizeof(msg));
	if (rc)
		snprintf(errbuf, errlen, WHAT " '%s': %s", path, msg);
	claw_secret_free(text);
	return rc;
}

enum claw_rc cp_keyfile_generate(const char *path, char *errbuf, size_t errlen)
{
	char *line = (char *)cp_env_secret_alloc(CP_KEYRING_LINE_MAX);
	unsigned char *key = cp_env_key_new();
	enum claw_rc rc = CLAW_ERR_NOMEM;
	size_t len;

	if (!line || !key)
		goto out;
	len = cp_keyring_format_line(1, key, line);
	rc = claw_secret_file_write(path, line, len, 0600, false, errbuf,
				    errlen);
out:
	cp_env_secret_free(line);
	cp_env_secret_free(key);
	return rc;
}

enum claw_rc cp_keyfile_append(const char *path, unsigned version,
			       const unsigned char *key, char *errbuf,
			       size_t errlen)
{
	char *old = NULL, *all = NULL;
	size_t oldlen = 0, len;
	enum claw_rc rc;

	rc = claw_secret_file_read(path, WHAT, KEYFILE_MAX, &old, &oldlen,
				   errbuf, errlen);
	if (rc)
		return rc;
	all = (char *)cp_env_secret_alloc(oldlen + 1 + CP_KEYRING_LINE_MAX);
	if (!all) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	memcpy(all, old, oldlen);
	len = oldlen;
	if (len && all[len - 1] != '\n')
		all[len++] = '\n';
	len += cp_keyring_format_line(version, key, all + len);
	rc = claw_secret_file_write(path, all, len, 0600, true, errbuf, errlen);
out:
	claw_secret_free(old);
	cp_env_secret_free(all);
	return rc;
}
