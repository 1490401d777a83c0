/*
 * secret.h - reading one secret file (one value a file, as the node agent
 * mounts them under /run/claw/secrets) into guarded memory.
 *
 * The value lives in sodium_malloc memory (guard pages, locked, zeroed on
 * free) and is released with claw_secret_free. Error texts name the file,
 * never its content.
 */
#ifndef CLAW_SECRET_H
#define CLAW_SECRET_H

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

/* Wipe and free a value from claw_secret_read (NULL is fine). */
void claw_secret_free(char *secret);

#endif
