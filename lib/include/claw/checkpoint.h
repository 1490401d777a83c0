/*
 * checkpoint.h - the format of signed audit checkpoints, shared by the
 * control plane (which signs them and appends them to a file outside the
 * database: controlplane/checkpoint.c, checkpointer.c) and clawctl (which
 * checks a copy of that file: cli/audit.c).
 *
 * A checkpoint says "at this time the audit log had rows rows, the last one
 * with id last_id and hash head", signed with Ed25519 (libsodium's
 * crypto_sign) by a key that lives outside PostgreSQL. Whoever can change
 * the database but not the checkpoint file (nor the key) cannot remove rows
 * from the end of the log, rewind its head or rewrite it unseen: the log
 * must extend every checkpoint, that is hold rows rows up to last_id and,
 * at last_id, a row whose hash is head (claw_ckpt_judge).
 *
 * The signed bytes are a canonical text (claw_ckpt_text), one "name=value"
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
 * in hex. Parsing is strict (exactly those members, each of its one shape),
 * so a checkpoint has one text and one line. The key id is the first 16 hex
 * characters of BLAKE2b-256 of the public key.
 *
 * Everything here is pure but claw_ckpt_keys_load (reads a file) and
 * claw_ckpt_read (reads a stream): no database, no network, no secret key.
 */
#ifndef CLAW_CHECKPOINT_H
#define CLAW_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "claw/err.h"

#define CLAW_CKPT_PK_BYTES 32
#define CLAW_CKPT_SIG_BYTES 64
#define CLAW_CKPT_KEYS_MAX 16
#define CLAW_CKPT_LINE_MAX 1024 /* longer lines are malformed */
#define CLAW_CKPT_TEXT_MAX 512  /* the canonical text */

/* The head of an empty log: the audit chain's genesis hash. */
#define CLAW_CKPT_EMPTY_HEAD                                                   \
	"0000000000000000000000000000000000000000000000000000000000000000"

struct claw_checkpoint {
	char key_id[17];
	char time[21]; /* 2026-01-31T12:00:00Z */
	char event[9]; /* start, periodic, stop */
	long long last_id;
	long long rows;
	char head[65];
	unsigned char sig[CLAW_CKPT_SIG_BYTES];
};

/* The canonical text of c (everything but sig) into out; its length, or 0
 * when it does not fit. */
size_t claw_ckpt_text(const struct claw_checkpoint *c, char *out,
		      size_t outlen);

/* c as one JSON line with its newline into out (CLAW_CKPT_LINE_MAX);
 * its length, or 0 when it does not fit. */
size_t claw_ckpt_format(const struct claw_checkpoint *c, char *out,
			size_t outlen);

/* Parse one line (without its newline); CLAW_ERR_PARSE with why (static)
 * when it is not a well-formed checkpoint. Nothing about its signature. */
enum claw_rc claw_ckpt_parse(const char *line, size_t len,
			     struct claw_checkpoint *out, const char **why);

/* ---- keys */

/* 16 hex characters of BLAKE2b-256(pk). */
void claw_ckpt_key_id(const unsigned char pk[CLAW_CKPT_PK_BYTES], char out[17]);

/* The public keys a verifier accepts, by key id. */
struct claw_ckpt_keys {
	size_t n;
	struct {
		char id[17];
		unsigned char pk[CLAW_CKPT_PK_BYTES];
	} k[CLAW_CKPT_KEYS_MAX];
};

/* Add pk (once; a key already there is fine). CLAW_ERR_TOO_LARGE when the
 * set is full. */
enum claw_rc claw_ckpt_keys_add(struct claw_ckpt_keys *keys,
				const unsigned char pk[CLAW_CKPT_PK_BYTES]);
/* The same from the key's 64 lowercase hex characters: CLAW_ERR_PARSE when
 * hex is anything else. */
enum claw_rc claw_ckpt_keys_add_hex(struct claw_ckpt_keys *keys,
				    const char *hex);
/* Add the keys of a public keys file: one 64-hex key a line, blank lines
 * and '#' comments allowed (whitespace after a key starts a comment).
 * CLAW_ERR_INVALID when it is not a regular file (a FIFO is refused, not
 * waited on). errbuf names the file and the line. */
enum claw_rc claw_ckpt_keys_load(struct claw_ckpt_keys *keys, const char *path,
				 char *errbuf, size_t errlen);

/* ---- verdicts */

enum claw_ckpt_verdict {
	CLAW_CKPT_OK = 0,
	CLAW_CKPT_MALFORMED,     /* not a checkpoint line */
	CLAW_CKPT_UNKNOWN_KEY,   /* signed by a key not accepted */
	CLAW_CKPT_BAD_SIGNATURE, /* the signature does not match (forged) */
	CLAW_CKPT_TRUNCATED,     /* rows it covered are gone from the end */
	CLAW_CKPT_REWRITTEN,     /* the log up to it is not what was signed */
	CLAW_CKPT_UNCHECKED,     /* the chain broke before its row */
};

/* "ok", "malformed", "unknown_key", "signature_invalid", "truncated",
 * "rewritten", "unchecked". */
const char *claw_ckpt_verdict_name(enum claw_ckpt_verdict v);

/* Check c's signature against keys (constant time in libsodium). */
enum claw_ckpt_verdict claw_ckpt_check_sig(const struct claw_ckpt_keys *keys,
					   const struct claw_checkpoint *c);

/* What the log holds at one row id, as its verifier walked it. */
struct claw_ckpt_probe {
	long long id;
	bool known;     /* the walk got that far (false past a break) */
	bool found;     /* a row with this id exists */
	long long rows; /* rows with an id <= id */
	char hash[65];  /* the row's hash when found, else "" */
};

/* Does the log extend c? p is what the log holds at c->last_id (NULL: not
 * asked, as for last_id 0) and last_id the id of the log's last row. why
 * gets a sentence for a failure. */
enum claw_ckpt_verdict claw_ckpt_judge(const struct claw_checkpoint *c,
				       const struct claw_ckpt_probe *p,
				       long long last_id, char *why,
				       size_t whylen);

/* ---- lines of a checkpoint file */

/* A line as read: its number (from 1), the checkpoint when it parsed, and
 * the verdict so far (MALFORMED, or OK when it parsed; the caller goes on
 * with claw_ckpt_check_sig and claw_ckpt_entry_judge). */
struct claw_ckpt_entry {
	long line;
	enum claw_ckpt_verdict verdict;
	struct claw_checkpoint c;
};

/* Read every line of f to its end: blank lines skipped, a last line cut
 * short by a crash (no newline, malformed) left out. *out (caller frees,
 * NULL when there are none) gets *n entries. CLAW_ERR_TOO_LARGE past max
 * entries, CLAW_ERR_NOMEM; f stays open. */
enum claw_rc claw_ckpt_read(FILE *f, size_t max, struct claw_ckpt_entry **out,
			    size_t *n);

/* Finish e's verdict: a well-signed entry (verdict OK) is judged against
 * the log (claw_ckpt_judge with p, the log at its last_id, and last_id,
 * the log's last row). detail gets the sentence for every verdict but OK:
 * why the log does not extend it, or what is wrong with the line. */
void claw_ckpt_entry_judge(struct claw_ckpt_entry *e,
			   const struct claw_ckpt_probe *p, long long last_id,
			   char *detail, size_t detaillen);

/* The sentence that names a failed entry, with detail from
 * claw_ckpt_entry_judge: "checkpoint at line 4 (TIME, EVENT, key ID):
 * VERDICT: DETAIL", or "checkpoint at line 4: DETAIL" when malformed. */
void claw_ckpt_entry_reason(const struct claw_ckpt_entry *e, const char *detail,
			    char *why, size_t whylen);

#endif
