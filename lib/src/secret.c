/*
 * secret.c - one secret file into sodium-guarded memory; see secret.h.
 * The file is opened non-blocking so a FIFO or device in its place is
 * refused instead of hanging the reader.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/secret.h"

static bool plain_name(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
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
	val = sodium_malloc(CLAW_SECRET_MAX + 1);
	if (!val) {
		snprintf(errbuf, errlen, "out of memory");
		rc = CLAW_ERR_NOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, val + len, CLAW_SECRET_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(errbuf, errlen,
				 "unable to read secret '%.64s': "
				 "%s",
				 name, strerror(errno));
			rc = CLAW_ERR_IO;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CLAW_SECRET_MAX) {
			snprintf(errbuf, errlen,
				 "secret '%.64s' is over %d "
				 "bytes",
				 name, CLAW_SECRET_MAX);
			rc = CLAW_ERR_TOO_LARGE;
			goto fail;
		}
	}
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
