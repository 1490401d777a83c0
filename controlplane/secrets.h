/*
 * secrets.h - tenant secrets under envelope encryption: the master key ring
 * of the daemon, its start-up check against the database, storing and
 * deleting values, master key rotation, and releasing a tenant's values to
 * the node that runs it.
 *
 * Master keys come from, in order: --master-key-file FILE, the environment
 * (CLAW_MASTER_KEY), or DATA_DIR/master.key, which is generated (mode 0600)
 * on the first start of an empty database. The text form is one entry per
 * version, "VERSION:HEX64" (see cp_keyring_parse); a bare HEX64 is version
 * 1. At start every master key version recorded in the database must be
 * present with the same key check value, or the daemon refuses to start.
 *
 * Values are write-only through the API: no function here returns a value
 * except cp_secrets_release, which writes a 'secret.release' audit row in
 * the same transaction. Decrypted values live in sodium memory.
 */
#ifndef CP_SECRETS_H
#define CP_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

struct cp_audit_entry;

/* ---- start-up hook (hooks.c): load the key ring, check it against
 * master_keys, keep it in ctx->secrets. Refuses with errbuf saying what to
 * do when a key is wrong or missing. */
int cp_secrets_start(struct cp_ctx *ctx, char *errbuf, size_t errlen);
void cp_secrets_stop(struct cp_ctx *ctx);

/* ---- names: 1..128 of [A-Za-z0-9_.-], not starting with '.' or '-' (they
 * become file names in the tenant's container). */
#define CP_SECRET_NAME_MAX 128
#define CP_SECRET_VALUE_MAX 65536
bool cp_secret_name_valid(const char *name);

/* ---- store (all inside the caller's transaction on conn) */

struct cp_secret_meta {
	long long version;
	bool created; /* true: a new name (or one deleted before) */
	char created_at[40];
	char updated_at[40];
};

/* Seal value under the tenant's data key (made on first use) as the next
 * version of name, and append the 'secret.put' audit row (audit's action
 * and details are set here; the rest comes from the caller). */
enum claw_rc cp_secret_put(struct cp_ctx *ctx, PGconn *conn,
			   const char *tenant_id, const char *name,
			   const void *value, size_t len,
			   struct cp_audit_entry *audit,
			   struct cp_secret_meta *out);
/* Delete (the value is dropped, the version kept) with a 'secret.delete'
 * audit row. CLAW_ERR_NOT_FOUND when there is no such live secret. */
enum claw_rc cp_secret_delete(struct cp_ctx *ctx, PGconn *conn,
			      const char *tenant_id, const char *name,
			      struct cp_audit_entry *audit);
/* Live secrets of a tenant in name order after after_name ("" first):
 * columns name, version, created_at, updated_at. */
enum claw_rc cp_secret_list(PGconn *conn, const char *tenant_id,
			    const char *after_name, int limit, PGresult **rows);

/* ---- release to a node */

struct cp_secret_value {
	char name[CP_SECRET_NAME_MAX + 1];
	long long version;
	unsigned char *value; /* sodium memory, NUL-terminated */
	size_t len;
};

struct cp_secret_bundle {
	size_t n;
	struct cp_secret_value *items; /* in name order */
};

/* Decrypt every live secret of tenant_id and append one 'secret.release'
 * audit row naming them (names and versions, never values), all inside the
 * caller's transaction on conn (run it in claw_db_tx; on a retry the
 * previous attempt's bundle was already freed). audit gives the actor (the
 * node's token) and request; its action, tenant and details are set here.
 * *out: free with cp_secret_bundle_free, NULL on failure. */
enum claw_rc cp_secrets_release(struct cp_ctx *ctx, PGconn *conn,
				const char *tenant_id,
				struct cp_audit_entry *audit,
				struct cp_secret_bundle **out);
/* Wipe and free; NULL is a no-op. */
void cp_secret_bundle_free(struct cp_secret_bundle *b);

/* ---- master keys */

struct cp_key_rotation {
	unsigned from_version;
	unsigned to_version;
	long long rewrapped; /* data keys re-wrapped */
	bool generated;      /* the new key was generated into the key file */
};

/* Rotate to a new master key version and re-wrap every data key under it,
 * in small transactions so the API keeps serving. The new key is the key
 * ring's newest version when it is newer than the active one (an operator
 * added it to the key file or the environment), else, with a key file, a
 * new random key appended to that file. CLAW_ERR_INVALID with errbuf when
 * no new key can be had (environment keys: add one and restart);
 * CLAW_ERR_TIMEOUT when another rotation is running. audit gives the actor;
 * the rows are 'keys.rotate' and one 'keys.rewrap' per batch. */
enum claw_rc cp_keys_rotate(struct cp_ctx *ctx, struct cp_audit_entry *audit,
			    struct cp_key_rotation *out, char *errbuf,
			    size_t errlen);

/* The active master key version and, per version known to the database,
 * how many data keys it wraps: columns version, data_keys, created_at,
 * active ("t"/"f"). */
enum claw_rc cp_keys_list(PGconn *conn, PGresult **rows);

#endif
