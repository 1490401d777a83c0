/*
 * checkpointer.h - the daemon's side of audit checkpoints (checkpoint.h):
 * the start-up hook that loads (or makes) the signing key and writes the
 * start checkpoint, the thread that writes one every
 * audit-checkpoint-interval-s while the head moves, the stop checkpoint,
 * and reading the file back for GET /v1/audit/verify.
 *
 * Checkpoints go to one file outside the database (audit-checkpoint-file),
 * appended with O_APPEND and fsync'd, one JSON line each; ship it elsewhere
 * (docs/security.md). Each control plane replica writes its own.
 */
#ifndef CP_CHECKPOINTER_H
#define CP_CHECKPOINTER_H

#include <stddef.h>

#include "checkpoint.h"
#include "cp.h"

/* Hooks (hooks.c). */
int cp_checkpointer_start(struct cp_ctx *ctx, char *errbuf, size_t errlen);
void cp_checkpointer_stop(struct cp_ctx *ctx);

/* The public keys checkpoints are checked with (borrowed). */
const struct claw_ckpt_keys *cp_checkpointer_keys(
	const struct cp_checkpointer *);

/* Read the checkpoint file (under the writer's lock, so no half-written
 * line is seen); *out as cp_ckpt_file_read gives it, with each entry's
 * verdict MALFORMED or its signature's (OK, UNKNOWN_KEY, BAD_SIGNATURE). */
enum claw_rc cp_checkpointer_read(struct cp_checkpointer *cp,
				  struct claw_ckpt_entry **out, size_t *n,
				  char *errbuf, size_t errlen);

#endif
