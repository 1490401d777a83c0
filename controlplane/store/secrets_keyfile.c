/*
 * secrets_keyfile.c - the master key file: read it (refusing one others
 * can read), generate the first one, and add a version atomically.
 *
 * The file's text passes through sodium memory only and is wiped after
 * parsing. Writes go to a temporary file in the same directory, fsync'd,
 * then linked (first key: fails if the file appeared meanwhile) or renamed
 * into place, and the directory is fsync'd.
 */
#include "secrets_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define KEYFILE_MAX (64 * 1024)

/* Read the whole file into sodium memory (*text, NUL-terminated). Not
 * claw_file_read: that reads through ordinary heap memory, and this text
 * is key material; nor claw_secret_read, which takes one single-line
 * value. The file must also be private to its owner. */
static enum claw_rc slurp(const char *path, char **text, size_t *len,
			  char *errbuf, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t at = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*text = NULL;
	if (fd < 0) {
		snprintf(errbuf, errlen,
			 "unable to open master key file '%s': %s", path,
			 strerror(errno));
		return errno == ENOENT ? CLAW_ERR_NOT_FOUND : CLAW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > KEYFILE_MAX) {
		snprintf(errbuf, errlen,
			 "master key file '%s' is not a regular file of at "
			 "most %d bytes",
			 path, KEYFILE_MAX);
		close(fd);
		return CLAW_ERR_INVALID;
	}
	if (st.st_mode & 077) {
		snprintf(errbuf, errlen,
			 "master key file '%s' can be read by others (mode "
			 "%03o); run 'chmod 600 %s'",
			 path, (unsigned)(st.st_mode & 0777), path);
		close(fd);
		return CLAW_ERR_INVALID;
	}
	*text = (char *)cp_env_secret_alloc((size_t)st.st_size);
	if (!*text) {
		close(fd);
		return CLAW_ERR_NOMEM;
	}
	while (at < (size_t)st.st_size &&
	       (n = read(fd, *text + at, (size_t)st.st_size - at)) > 0)
		at += (size_t)n;
	close(fd);
	*len = at;
	return CLAW_OK;
}

enum claw_rc cp_keyfile_read(const char *path, struct cp_keyring *ring,
			     char *errbuf, size_t errlen)
{
	char *text, msg[200];
	size_t len;
	enum claw_rc rc = slurp(path, &text, &len, errbuf, errlen);

	if (rc)
		return rc;
	rc = cp_keyring_parse(ring, text, len, msg, sizeof(msg));
	if (rc)
		snprintf(errbuf, errlen, "master key file '%s': %s", path, msg);
	cp_env_secret_free(text);
	return rc;
}

/* Write data to a new temporary file beside path; *tmp gets its name. */
static enum claw_rc write_temp(const char *path, const char *data, size_t len,
			       char *tmp, size_t tmplen, char *errbuf,
			       size_t errlen)
{
	int fd;
	size_t at = 0;
	ssize_t n;

	snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", tmp,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	while (at < len && (n = write(fd, data + at, len - at)) > 0)
		at += (size_t)n;
	if (at != len || fsync(fd) != 0) {
		snprintf(errbuf, errlen, "unable to write '%s': %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return CLAW_ERR_IO;
	}
	close(fd);
	return CLAW_OK;
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

enum claw_rc cp_keyfile_generate(const char *path, char *errbuf, size_t errlen)
{
	char tmp[4096];
	char *line = (char *)cp_env_secret_alloc(CP_KEYRING_LINE_MAX);
	unsigned char *key = cp_env_key_new();
	enum claw_rc rc = CLAW_ERR_NOMEM;
	size_t len;

	if (!line || !key)
		goto out;
	len = cp_keyring_format_line(1, key, line);
	rc = write_temp(path, line, len, tmp, sizeof(tmp), errbuf, errlen);
	if (rc)
		goto out;
	if (link(tmp, path) != 0) {
		rc = errno == EEXIST ? CLAW_ERR_INVALID : CLAW_ERR_IO;
		snprintf(errbuf, errlen, "unable to create '%s': %s", path,
			 strerror(errno));
	}
	unlink(tmp);
	if (!rc)
		sync_dir(path);
out:
	cp_env_secret_free(line);
	cp_env_secret_free(key);
	return rc;
}

enum claw_rc cp_keyfile_append(const char *path, unsigned version,
			       const unsigned char *key, char *errbuf,
			       size_t errlen)
{
	char tmp[4096];
	char *old = NULL, *all = NULL;
	size_t oldlen = 0, len;
	enum claw_rc rc;

	rc = slurp(path, &old, &oldlen, errbuf, errlen);
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
	rc = write_temp(path, all, len, tmp, sizeof(tmp), errbuf, errlen);
	if (rc)
		goto out;
	if (rename(tmp, path) != 0) {
		snprintf(errbuf, errlen, "unable to replace '%s': %s", path,
			 strerror(errno));
		unlink(tmp);
		rc = CLAW_ERR_IO;
		goto out;
	}
	sync_dir(path);
out:
	cp_env_secret_free(old);
	cp_env_secret_free(all);
	return rc;
}
