/*
 * secret.c - secret files into sodium-guarded memory, and private files
 * written atomically; see secret.h.
 *
 * Files are opened non-blocking and must be regular files, so a FIFO or a
 * device in their place is refused instead of hanging the reader. One
 * reading loop (read_guarded) serves both readers; the text never passes
 * through ordinary heap memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/secret.h"

static bool plain_name(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
}

/* Read fd to its end into new sodium memory (*out, NUL-terminated, *len
 * bytes). CLAW_ERR_TOO_LARGE past max bytes, CLAW_ERR_IO on a read error
 * (errno kept), CLAW_ERR_NOMEM; *out is NULL on failure. */
static enum claw_rc read_guarded(int fd, size_t max, char **out, size_t *len)
{
	char *val = sodium_malloc(max + 1);
	size_t at = 0;

	*out = NULL;
	if (!val)
		return CLAW_ERR_NOMEM;
	for (;;) {
		ssize_t n = read(fd, val + at, max + 1 - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			sodium_free(val);
			errno = saved;
			return CLAW_ERR_IO;
		}
		if (n == 0)
			break;
		at += (size_t)n;
		if (at > max) {
			sodium_free(val);
			return CLAW_ERR_TOO_LARGE;
		}
	}
	val[at] = '\0';
	*out = val;
	*len = at;
	return CLAW_OK;
}

enum claw_rc claw_secret_read(const char *dir, const char *name, char **out,
			      size_t *len_out, char *errbuf, size_t errlen)
{
	char path[4096];
	struct stat st;
	char *val = NULL;
	size_t len = 0;
	enum claw_rc rc;
	*out = NULL;
	if (!plain_name(name)) {
		snprintf(errbuf, errlen,
			 "secret name '%.64s' is not a plain "
			 "file name",
			 name);
		return CLAW_ERR_INVALID;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(errbuf, errlen,
			 "unable to open secret '%.64s' in "
			 "'%.200s': %s",
			 name, dir, strerror(errno));
		return errno == ENOENT ? CLAW_ERR_NOT_FOUND : CLAW_ERR_IO;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen,
			 "secret '%.64s' in '%.200s' is not a "
			 "regular file",
			 name, dir);
		rc = CLAW_ERR_INVALID;
		goto fail;
	}
	rc = read_guarded(fd, CLAW_SECRET_MAX, &val, &len);
	if (rc == CLAW_ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	else if (rc == CLAW_ERR_IO)
		snprintf(errbuf, errlen, "unable to read secret '%.64s': %s",
			 name, strerror(errno));
	else if (rc)
		snprintf(errbuf, errlen, "secret '%.64s' is over %d bytes",
			 name, CLAW_SECRET_MAX);
	if (rc)
		goto fail;
	while (len && (val[len - 1] == '\n' || val[len - 1] == '\r'))
		len--;
	val[len] = '\0';
	if (strlen(val) != len || strpbrk(val, "\r\n")) {
		snprintf(errbuf, errlen,
			 "secret '%.64s' holds a NUL or a line "
			 "break",
			 name);
		rc = CLAW_ERR_INVALID;
		goto fail;
	}
	close(fd);
	*out = val;
	if (len_out)
		*len_out = len;
	return CLAW_OK;
fail:
	claw_secret_free(val);
	close(fd);
	return rc;
}

void claw_secret_free(char *secret)
{
	if (secret)
		sodium_free(secret); /* zeroes the memory */
}

/* ---- private files read and written whole */

enum claw_rc claw_secret_file_read(const char *path, const char *what,
				   size_t max, char **out, size_t *len_out,
				   char *errbuf, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	enum claw_rc rc = CLAW_ERR_INVALID;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	*out = NULL;
	if (fd < 0) {
		int saved = errno;

		snprintf(errbuf, errlen, "unable to open %s '%s': %s", what,
			 path, strerror(saved));
		return saved == ENOENT ? CLAW_ERR_NOT_FOUND : CLAW_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max)
		goto not_regular;
	if (st.st_mode & 077) {
		snprintf(errbuf, errlen,
			 "%s '%s' can be read by others (mode %03o); run "
			 "'chmod 600 %s'",
			 what, path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	rc = read_guarded(fd, (size_t)st.st_size, out, &len);
	if (rc == CLAW_ERR_TOO_LARGE) /* it grew since fstat */
		goto not_regular;
	if (rc == CLAW_ERR_NOMEM)
		snprintf(errbuf, errlen, "out of memory");
	else if (rc == CLAW_ERR_IO)
		snprintf(errbuf, errlen, "unable to read %s '%s': %s", what,
			 path, strerror(errno));
	else if (len_out)
		*len_out = len;
	goto out;
not_regular:
	snprintf(errbuf, errlen,
		 "%s '%s' is not a regular file of at most %zu bytes", what,
		 path, max);
	rc = CLAW_ERR_INVALID;
out:
	close(fd);
	return rc;
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

/* data into a new temporary file tmp, fsync'd. */
static enum claw_rc write_temp(const char *tmp, const char *data, size_t len,
			       unsigned mode, char *errbuf, size_t errlen)
{
	int fd;

	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  (mode_t)mode);
	if (fd < 0) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", tmp,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	if (write_all(fd, data, len) || fsync(fd) != 0) {
		snprintf(errbuf, errlen, "unable to write '%s': %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return CLAW_ERR_IO;
	}
	close(fd);
	return CLAW_OK;
}

enum claw_rc claw_secret_file_write(const char *path, const char *data,
				    size_t len, unsigned mode, bool replace,
				    char *errbuf, size_t errlen)
{
	char tmp[4200];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	enum claw_rc rc;

	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(errbuf, errlen, "the path '%.200s...' is too long",
			 path);
		return CLAW_ERR_TOO_LARGE;
	}
	rc = write_temp(tmp, data, len, mode, errbuf, errlen);
	if (rc)
		return rc;
	if (replace && rename(tmp, path) != 0) {
		snprintf(errbuf, errlen, "unable to replace '%s': %s", path,
			 strerror(errno));
		rc = CLAW_ERR_IO;
	} else if (!replace && link(tmp, path) != 0) {
		rc = errno == EEXIST ? CLAW_ERR_INVALID : CLAW_ERR_IO;
		snprintf(errbuf, errlen, "unable to create '%s': %s", path,
			 strerror(errno));
	}
	unlink(tmp); /* after a rename it is gone already */
	if (!rc)
		sync_dir(path);
	return rc;
}
