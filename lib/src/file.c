/*
 * file.c - whole-file reads into a bounded buffer; see file.h.
 */
#include "claw/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum claw_rc claw_file_read(const char *path, struct claw_buf *out)
{
	struct stat st;
	size_t start = out->len;
	enum claw_rc rc = CLAW_OK;
	/* O_NONBLOCK: opening a FIFO with no writer must not block */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return CLAW_ERR_IO;
	if (fstat(fd, &st) != 0) {
		rc = CLAW_ERR_IO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = CLAW_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		rc = claw_buf_append(out, chunk, (size_t)n);
		if (rc)
			break;
	}
out:
	if (rc && out->len > start) {
		out->len = start;
		out->data[start] = '\0';
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

enum claw_rc claw_file_load(const char *path, size_t max, char **data,
			    size_t *len, char *errbuf, size_t errlen)
{
	struct claw_buf b;
	claw_buf_init(&b, max);
	*data = NULL;
	enum claw_rc rc = claw_file_read(path, &b);
	switch (rc) {
	case CLAW_OK:
		if (len)
			*len = b.len;
		*data = claw_buf_steal(&b);
		return *data ? CLAW_OK : CLAW_ERR_NOMEM;
	case CLAW_ERR_IO:
		snprintf(errbuf, errlen, "unable to read '%s': %s", path,
			 strerror(errno));
		break;
	case CLAW_ERR_INVALID:
		snprintf(errbuf, errlen,
			 "unable to read '%s': not a regular file", path);
		break;
	default:
		snprintf(errbuf, errlen, "unable to read '%s': %s", path,
			 claw_strerror(rc));
		break;
	}
	claw_buf_release(&b);
	return rc;
}
