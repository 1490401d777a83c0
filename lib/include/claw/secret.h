/*
 * secret.h - secret files and guarded memory: one secret value a file (as
 * the node agent mounts them under /run/claw/secrets), and private key
 * files (the control plane's master key file, its audit signing key) read
 * whole and written atomically.
 *
 * What is read lives in sodium_malloc memory (guard pages, locked, zeroed
 * on free) and is released with claw_secret_free. Only regular files are
 * read, opened non-blocking, so a FIFO in their place cannot hang a
 * daemon's start. Error texts name the file, never its content.
 */
#ifndef CLAW_SECRET_H
#define CLAW_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

/* Largest secret value accepted, in bytes. */
#define CLAW_SECRET_MAX 16384

/* Read DIR/NAME. One or more trailing CR/LF are dropped; an empty value
 * is returned as "" (the caller decides whether that is acceptable).
 * Returns CLAW_OK with *out owned by the caller (claw_secret_free) and
 * *len_out (when not NULL) its length, or:
 *   CLAW_ERR_INVALID   NAME is not a plain file name, the path is not a
 *                      regular file, or the value holds a NUL or a line
 *                      break (it would end up in a header)
 *   CLAW_ERR_NOT_FOUND the file does not exist
 *   CLAW_ERR_TOO_LARGE over CLAW_SECRET_MAX bytes
 *   CLAW_ERR_IO        it cannot be opened or read
 *   CLAW_ERR_NOMEM
 * with errbuf saying what failed. */
enum claw_rc claw_secret_read(const char *dir, const char *name, char **out,
			      size_t *len_out, char *errbuf, size_t errlen);

/* Wipe and free a value from claw_secret_read or claw_secret_file_read
 * (NULL is fine). */
void claw_secret_free(char *secret);

/* Read the whole private file at path (O_NOFOLLOW) into *out (sodium
 * memory, NUL-terminated; free with claw_secret_free) and *len_out (when
 * not NULL) its length. what names the file in errbuf ("master key file").
 * Returns CLAW_OK, or:
 *   CLAW_ERR_NOT_FOUND the file does not exist
 *   CLAW_ERR_INVALID   not a regular file, over max bytes, or its mode
 *                      lets group or others in (errbuf says 'chmod 600')
 *   CLAW_ERR_IO        it cannot be opened or read
 *   CLAW_ERR_NOMEM */
enum claw_rc claw_secret_file_read(const char *path, const char *what,
				   size_t max, char **out, size_t *len_out,
				   char *errbuf, size_t errlen);

/* Write len bytes of data as path, atomically: a temporary file beside it
 * (PATH.tmp.PID, created with mode: 0600 for a secret), fsync'd, then
 * linked into place (replace false: CLAW_ERR_INVALID when path exists,
 * which is left as it was) or renamed over path (replace true); then the
 * directory is fsync'd. So path is never seen half-written, secret or not.
 * CLAW_ERR_IO when a step fails, errbuf naming the file. */
enum claw_rc claw_secret_file_write(const char *path, const char *data,
				    size_t len, unsigned mode, bool replace,
				    char *errbuf, size_t errlen);

#endif
