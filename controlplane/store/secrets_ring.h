/*
 * secrets_ring.h - what the secrets files share inside the control plane:
 * the daemon's master key ring (ctx->secrets), the key file, and access to
 * a tenant's data key.
 */
#ifndef CP_SECRETS_RING_H
#define CP_SECRETS_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"
#include "envelope.h"

struct cp_secrets {
	pthread_rwlock_t lock; /* ring: readers copy a key out, rotation adds */
	struct cp_keyring ring;
	char *key_file; /* keys come from this file; NULL: the environment */
};

/* Copy master key version into out (CP_ENV_KEY_BYTES of sodium memory).
 * When the ring lacks it and keys come from a file, the file is read again
 * once (another replica may have rotated). CLAW_ERR_NOT_FOUND if absent. */
enum claw_rc cp_secrets_master_key(struct cp_secrets *s, unsigned version,
				   unsigned char *out);

/* Read a key file into ring. CLAW_ERR_NOT_FOUND when it does not exist;
 * CLAW_ERR_INVALID when it is readable by others; CLAW_ERR_PARSE when
 * malformed; errbuf says which and what to do (never quoting keys). */
enum claw_rc cp_keyfile_read(const char *path, struct cp_keyring *ring,
			     char *errbuf, size_t errlen);
/* Create path (mode 0600, atomically: a temporary file linked into
 * place) holding one new random key, version 1. CLAW_ERR_INVALID when it
 * appeared meanwhile (read it instead). */
enum claw_rc cp_keyfile_generate(const char *path, char *errbuf, size_t errlen);
/* Rewrite path atomically with key added as version (temporary file,
 * fsync, rename, fsync of the directory). */
enum claw_rc cp_keyfile_append(const char *path, unsigned version,
			       const unsigned char *key, char *errbuf,
			       size_t errlen);

/* The tenant's data key, unwrapped, in sodium memory (*dk, free with
 * cp_env_secret_free). The row is locked FOR UPDATE when for_update, else
 * FOR SHARE. When the tenant has none and create is set, one is made and
 * wrapped under the active master key version; else CLAW_ERR_NOT_FOUND. */
enum claw_rc cp_secrets_data_key(struct cp_ctx *ctx, PGconn *conn,
				 const char *tenant_id, bool create,
				 bool for_update, unsigned char **dk);

/* Unwrap a tenant's data key (wrapped_hex as the database holds it) under
 * master key version, copied into mk (CP_ENV_KEY_BYTES of sodium memory,
 * the caller's scratch): *dk as cp_secrets_data_key gives it. A version
 * missing from the ring or a key that does not open is logged and
 * CLAW_ERR_INTERNAL. */
enum claw_rc cp_dk_unwrap(struct cp_secrets *s, unsigned version,
			  const char *tenant_id, const char *wrapped_hex,
			  unsigned char *mk, unsigned char **dk);
/* Wrap dk under master key mk of version for tenant_id, as the bytea hex
 * text the database takes (*hex: free it). */
enum claw_rc cp_dk_wrap_hex(const unsigned char *mk, unsigned version,
			    const char *tenant_id, const unsigned char *dk,
			    char **hex);

/* bytea as PostgreSQL's hex text ("\x0a1b...") and back. */
char *cp_bytea_hex(const unsigned char *p, size_t n);
enum claw_rc cp_bytea_parse(const char *text, unsigned char **out, size_t *len);

#endif
