/*
 * file.h - read a whole file, the one way every component does it.
 *
 * Only regular files are read (a FIFO or a device is refused before any
 * read, so a wrong path cannot hang a daemon), and the buffer's ceiling
 * bounds what is read.
 */
#ifndef CLAW_FILE_H
#define CLAW_FILE_H

#include <stddef.h>
#include "claw/buf.h"

/* Append the contents of the regular file at path to out (out's ceiling
 * applies: CLAW_ERR_TOO_LARGE past it, out left as it was). CLAW_ERR_IO
 * with errno set when it cannot be opened or read; CLAW_ERR_INVALID when
 * it is not a regular file. The caller owns out. */
enum claw_rc claw_file_read(const char *path, struct claw_buf *out);

/* The same, as a new NUL-terminated string of at most max bytes (0: no
 * ceiling); the caller frees *data. On failure *data is NULL and errbuf
 * says what failed, quoting the path: "unable to read 'x': ...". */
enum claw_rc claw_file_load(const char *path, size_t max, char **data,
			    size_t *len, char *errbuf, size_t errlen);

#endif
