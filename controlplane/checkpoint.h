/*
 * checkpoint.h - signed checkpoints of the audit chain, kept outside the
 * database.
 *
 * A checkpoint says "at this time the audit log had rows rows, the last one
 * with id last_id and hash head", signed with Ed25519 (libsodium's
 * crypto_sign) by a key that lives in a file, never in PostgreSQL. The
 * control plane appends one at start, every audit-checkpoint-interval-s
 * while the head moves, and one at a clean stop, as JSON lines to a file
 * outside the database (checkpointer.c). Whoever can change the database
 * but not that file (nor the key) cannot remove rows from the end of the
 * log, rewind its head or rewrite it unseen: the database must extend every
 * checkpoint, that is hold rows rows up to last_id and, at last_id, a row
 * whose hash is head.
 *
 * The signed bytes are a canonical text (cp_ckpt_text), one "name=value"
 * line per field after a version line:
 *
 *   claw-audit-checkpoint-v1
 *   key_id=<16 hex>
 *   time=<YYYY-MM-DDTHH:MM:SSZ>
 *   event=<start|periodic|stop>
 *   last_id=<decimal>
 *   rows=<decimal>
 *   head=<64 hex>
 *
 * and a line of the file is the JSON object {"v": 1, "key_id", "time",
 * "event", "last_id", "rows", "head", "sig"} with sig the 64-byte signature
 * in hex. clawctl (cli/audit.c) checks lines with the same text.
 *
 * The key id is the first 16 hex characters of BLAKE2b-256 of the public
 * key. The signing key file holds the 32-byte Ed25519 seed as 64 hex
 * characters; it is created 0600 on first start, refused when others can
 * read it, and held in sodium memory. Its public key is written beside it
 * (KEYFILE.pub) for verifiers.
 *
 * Everything here is pure or touches files only: no database.
 */
#ifndef CP_CHECKPOINT_H
#define CP_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "audit.h"
#include "claw/err.h"

#define CP_CKPT_PK_BYTES 32
#define CP_CKPT_SIG_BYTES 64
#define CP_CKPT_KEYS_MAX 16
#define CP_CKPT_LINE_MAX 1024 /* longer lines are malformed */
#define CP_CKPT_TEXT_MAX 512  /* the canonical text */

struct cp_checkpoint {
	char key_id[17];
	char time[21]; /* 2026-01-31T12:00:00Z */
	char event[9]; /* start, periodic, stop */
	long long last_id;
	long long rows;
	char head[65];
	unsigned char sig[CP_CKPT_SIG_BYTES];
};

/* The canonical text of c (everything but sig) into out; its length, or 0
 * when it does not fit. */
size_t cp_ckpt_text(const struct cp_checkpoint *c, char *out, size_t outlen);

/* c as one JSON line with its newline into out (CP_CKPT_LINE_MAX);
 * its length, or 0 when it does not fit. */
size_t cp_ckpt_format(const struct cp_checkpoint *c, char *out, size_t outlen);

/* Parse one line (without its newline); CLAW_ERR_PARSE with why (static)
 * when it is not a well-formed checkpoint. Nothing about its signature. */
enum claw_rc cp_ckpt_parse(const char *line, size_t len,
			   struct cp_checkpoint *out, const char **why);

/* ---- keys */

/* 16 hex characters of BLAKE2b-256(pk). */
void cp_ckpt_key_id(const unsigned char pk[CP_CKPT_PK_BYTES], char out[17]);

/* The public keys a verifier accepts, by key id. */
struct cp_ckpt_keys {
	size_t n;
	struct {
		char id[17];
		unsigned char pk[CP_CKPT_PK_BYTES];
	} k[CP_CKPT_KEYS_MAX];
};

/* Add pk (once; a key already there is fine). CLAW_ERR_TOO_LARGE when the
 * set is full. */
enum claw_rc cp_ckpt_keys_add(struct cp_ckpt_keys *keys,
			      const unsigned char pk[CP_CKPT_PK_BYTES]);
/* Add the keys of a public keys file: one 64-hex key a line, blank lines
 * and '#' comments allowed (whitespace after a key starts a comment).
 * errbuf names the file and the line. */
enum claw_rc cp_ckpt_keys_load(struct cp_ckpt_keys *keys, const char *path,
			       char *errbuf, size_t errlen);

/* The signing key, in sodium memory. Opaque. */
struct cp_ckpt_signer;

/* Load the key file at path; when it does not exist and create is set,
 * make one (0600, O_EXCL, fsync'd) and write PATH.pub. Refused when the
 * file is not a regular file, others can read it, or it is not 64 hex
 * characters. */
enum claw_rc cp_ckpt_signer_load(const char *path, bool create,
				 struct cp_ckpt_signer **out, char *errbuf,
				 size_t errlen);
void cp_ckpt_signer_free(struct cp_ckpt_signer *s);
/* Borrowed. */
const unsigned char *cp_ckpt_signer_pk(const struct cp_ckpt_signer *s);
const char *cp_ckpt_signer_key_id(const struct cp_ckpt_signer *s);
/* Set c's key_id and sign it. */
void cp_ckpt_sign(const struct cp_ckpt_signer *s, struct cp_checkpoint *c);

/* ---- verdicts */

enum cp_ckpt_verdict {
	CP_CKPT_OK = 0,
	CP_CKPT_MALFORMED,     /* not a checkpoint line */
	CP_CKPT_UNKNOWN_KEY,   /* signed by a key not accepted */
	CP_CKPT_BAD_SIGNATURE, /* the signature does not match (forged) */
	CP_CKPT_TRUNCATED,     /* rows it covered are gone from the end */
	CP_CKPT_REWRITTEN,     /* the log up to it is not what was signed */
	CP_CKPT_UNCHECKED,     /* the chain broke before its row */
};

/* "ok", "malformed", "unknown_key", "signature_invalid", "truncated",
 * "rewritten", "unchecked". */
const char *cp_ckpt_verdict_name(enum cp_ckpt_verdict v);

/* Check c's signature against keys (constant time in libsodium). */
enum cp_ckpt_verdict cp_ckpt_check_sig(const struct cp_ckpt_keys *keys,
				       const struct cp_checkpoint *c);

/* Does the database extend c? p is the walk's probe at c->last_id and
 * last_id the id of the database's last row. why gets a sentence for a
 * failure. */
enum cp_ckpt_verdict cp_ckpt_check_db(const struct cp_checkpoint *c,
				      const struct cp_audit_probe *p,
				      long long last_id, char *why,
				      size_t whylen);

/* ---- the file */

/* Append c as one line with one write() (O_APPEND), then fsync. The file
 * is created 0640 and must be a regular file. */
enum claw_rc cp_ckpt_append(const char *path, const struct cp_checkpoint *c,
			    char *errbuf, size_t errlen);

/* A line of the file as read: its number (from 1), the checkpoint when it
 * parsed, and the verdict so far (MALFORMED, or OK when it parsed). */
struct cp_ckpt_entry {
	long line;
	enum cp_ckpt_verdict verdict;
	struct cp_checkpoint c;
};

/* Read every line of the file at path (missing: none). Caller frees
 * *out. CLAW_ERR_TOO_LARGE past max lines. */
enum claw_rc cp_ckpt_file_read(const char *path, size_t max,
			       struct cp_ckpt_entry **out, size_t *n,
			       char *errbuf, size_t errlen);

/* Now as the checkpoint's time. */
void cp_ckpt_time_now(char out[21]);

#endif
