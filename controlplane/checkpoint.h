/*
 * checkpoint.h - the control plane's side of signed audit checkpoints: the
 * signing key, signing, and the checkpoint file.
 *
 * The format, the public keys, the signature check and the verdicts are
 * lib's (claw/checkpoint.h), shared with clawctl, which checks a copy of
 * the file with the same code. What only the daemon does is here: it
 * holds the signing key and appends checkpoints, as JSON lines, to a file
 * outside the database (checkpointer.c runs it: one at start, every
 * audit-checkpoint-interval-s while the head moves, one at a clean stop).
 *
 * The signing key file holds the 32-byte Ed25519 seed as 64 hex
 * characters; it is created 0600 on first start, refused when others can
 * read it or when it is not a regular file (a FIFO does not hang the
 * start), and held in sodium memory (claw_secret_file_read/write, as the
 * master key file). Its public key is written beside it (KEYFILE.pub) for
 * verifiers.
 *
 * Everything here is pure or touches files only: no database.
 */
#ifndef CP_CHECKPOINT_H
#define CP_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "audit.h"
#include "claw/checkpoint.h"
#include "claw/err.h"

/* ---- the signing key */

/* The signing key, in sodium memory. Opaque. */
struct cp_ckpt_signer;

/* Load the key file at path; when it does not exist and create is set,
 * make one (0600, atomically, fsync'd) and write PATH.pub. Refused when
 * the file is not a regular file, others can read it, or it is not 64 hex
 * characters. */
enum claw_rc cp_ckpt_signer_load(const char *path, bool create,
				 struct cp_ckpt_signer **out, char *errbuf,
				 size_t errlen);
void cp_ckpt_signer_free(struct cp_ckpt_signer *s);
/* Borrowed. */
const unsigned char *cp_ckpt_signer_pk(const struct cp_ckpt_signer *s);
const char *cp_ckpt_signer_key_id(const struct cp_ckpt_signer *s);
/* Set c's key_id and sign it. */
void cp_ckpt_sign(const struct cp_ckpt_signer *s, struct claw_checkpoint *c);

/* ---- the file */

/* Append c as one line with one write() (O_APPEND), then fsync. The file
 * is created 0640 and must be a regular file. */
enum claw_rc cp_ckpt_append(const char *path, const struct claw_checkpoint *c,
			    char *errbuf, size_t errlen);

/* Read every line of the file at path (missing: none; it must be a
 * regular file) with claw_ckpt_read. Caller frees *out.
 * CLAW_ERR_TOO_LARGE past max lines. */
enum claw_rc cp_ckpt_file_read(const char *path, size_t max,
			       struct claw_ckpt_entry **out, size_t *n,
			       char *errbuf, size_t errlen);

/* Now as the checkpoint's time. */
void cp_ckpt_time_now(char out[21]);

#endif
