/*
 * secrets.c - the master key ring of the daemon: loaded at start-up from
 * the key file or the environment (generating DATA_DIR/master.key for an
 * empty database), checked against the key check values in master_keys,
 * and handed out one key at a time to the code that wraps data keys.
 *
 * A wrong key is refused at start with a message that says which version
 * and what to do; nothing is decrypted to find out.
 */
#include "secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "claw/log.h"
#include "store/common.h"
#include "store/master_keys.h"
#include "store/secrets_ring.h"

bool cp_secret_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !*name || name[0] == '.' || name[0] == '-')
		return false;
	for (; name[n]; n++) {
		char c = name[n];

		if (n >= CP_SECRET_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

enum claw_rc cp_secrets_master_key(struct cp_secrets *s, unsigned version,
				   unsigned char *out)
{
	const unsigned char *k;
	struct cp_keyring fresh;
	char err[256];
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;

	pthread_rwlock_rdlock(&s->lock);
	k = cp_keyring_get(&s->ring, version);
	if (k)
		memcpy(out, k, CP_ENV_KEY_BYTES);
	pthread_rwlock_unlock(&s->lock);
	if (k)
		return CLAW_OK;
	if (!s->key_file || cp_keyring_init(&fresh))
		return CLAW_ERR_NOT_FOUND;
	/* Another replica may have added a version to a shared key file. */
	pthread_rwlock_wrlock(&s->lock);
	if (cp_keyfile_read(s->key_file, &fresh, err, sizeof(err)) == CLAW_OK &&
	    cp_keyring_merge(&s->ring, &fresh) == CLAW_OK) {
		k = cp_keyring_get(&s->ring, version);
		if (k) {
			memcpy(out, k, CP_ENV_KEY_BYTES);
			rc = CLAW_OK;
			log_info("master key version %u loaded from '%s'",
				 version, s->key_file);
		}
	}
	pthread_rwlock_unlock(&s->lock);
	cp_keyring_release(&fresh);
	return rc;
}

static const char *source_name(const struct cp_secrets *s)
{
	return s->key_file ? s->key_file : "CLAW_MASTER_KEY";
}

/* Fill s->ring from the configured source. For the default key file, db
 * tells whether the database already has master keys (then a missing file
 * is an error, never a reason to make a new key). */
static enum claw_rc load_ring(struct cp_ctx *ctx, struct cp_secrets *s,
			      bool db_has_keys, char *errbuf, size_t errlen)
{
	enum claw_rc rc;

	if (ctx->cfg.master_key_file) {
		s->key_file = strdup(ctx->cfg.master_key_file);
		if (!s->key_file)
			return CLAW_ERR_NOMEM;
		return cp_keyfile_read(s->key_file, &s->ring, errbuf, errlen);
	}
	if (ctx->master_key_env && *ctx->master_key_env) {
		char msg[200];

		rc = cp_keyring_parse(&s->ring, ctx->master_key_env,
				      strlen(ctx->master_key_env), msg,
				      sizeof(msg));
		if (rc)
			snprintf(errbuf, errlen, "CLAW_MASTER_KEY: %s", msg);
		return rc;
	}
	if (asprintf(&s->key_file, "%s/master.key", ctx->cfg.data_dir) < 0) {
		s->key_file = NULL;
		return CLAW_ERR_NOMEM;
	}
	rc = cp_keyfile_read(s->key_file, &s->ring, errbuf, errlen);
	if (rc != CLAW_ERR_NOT_FOUND)
		return rc;
	if (db_has_keys) {
		snprintf(errbuf, errlen,
			 "master key file '%s' is missing but the database "
			 "holds secrets encrypted under a master key; restore "
			 "the file, or give --master-key-file or "
			 "CLAW_MASTER_KEY",
			 s->key_file);
		return CLAW_ERR_NOT_FOUND;
	}
	rc = cp_keyfile_generate(s->key_file, errbuf, errlen);
	if (rc && rc != CLAW_ERR_INVALID) /* INVALID: another made it */
		return rc;
	if (!rc)
		log_info("generated master key file '%s' (mode 0600); back "
			 "it up: secrets cannot be read without it",
			 s->key_file);
	return cp_keyfile_read(s->key_file, &s->ring, errbuf, errlen);
}

/* Compare every recorded version with the ring. */
static enum claw_rc check_rows(struct cp_secrets *s, const PGresult *res,
			       char *errbuf, size_t errlen)
{
	int n = PQntuples(res);

	for (int i = 0; i < n; i++) {
		const char *stored = PQgetvalue(res, i, CP_MK_KCV);
		unsigned v = (unsigned)strtoul(
			PQgetvalue(res, i, CP_MK_VERSION), NULL, 10);
		long long wraps =
			strtoll(PQgetvalue(res, i, CP_MK_WRAPS), NULL, 10);
		const unsigned char *k = cp_keyring_get(&s->ring, v);
		char kcv[CP_ENV_KCV_LEN];

		if (!k) {
			if (wraps == 0 && i != n - 1)
				continue; /* retired: nothing needs it */
			snprintf(errbuf, errlen,
				 "master key version %u is needed (%s) but %s "
				 "has no such version; add it back as "
				 "'%u:HEX' next to the newer ones",
				 v,
				 i == n - 1 ? "it is the active version"
					    : "it still wraps data keys",
				 source_name(s), v);
			return CLAW_ERR_NOT_FOUND;
		}
		cp_env_kcv(k, v, kcv);
		if (strlen(stored) != 64 ||
		    sodium_memcmp(kcv, stored, 64) != 0) {
			snprintf(errbuf, errlen,
				 "wrong master key: version %u in %s does not "
				 "match the key check value stored in the "
				 "database, so it is not the key the secrets "
				 "were encrypted with; start with the right "
				 "key file or CLAW_MASTER_KEY",
				 v, source_name(s));
			return CLAW_ERR_CRYPTO;
		}
	}
	return CLAW_OK;
}

static enum claw_rc start_tx(PGconn *conn, struct cp_ctx *ctx,
			     struct cp_secrets *s, char *errbuf, size_t errlen)
{
	PGresult *res = NULL;
	enum claw_rc rc;
	char kcv[CP_ENV_KCV_LEN];
	unsigned latest;

	rc = cp_store_mk_check_lock(conn);
	if (!rc)
		rc = cp_store_mk_list(conn, &res);
	if (rc) {
		snprintf(errbuf, errlen,
			 "unable to read master_keys from the "
			 "database");
		return rc;
	}
	if (s->ring.n == 0) {
		rc = load_ring(ctx, s, PQntuples(res) > 0, errbuf, errlen);
		if (rc)
			goto out;
	}
	if (PQntuples(res) == 0) {
		latest = cp_keyring_latest(&s->ring);
		cp_env_kcv(cp_keyring_get(&s->ring, latest), latest, kcv);
		rc = cp_store_mk_record(conn, latest, kcv);
		PQclear(res);
		res = NULL;
		if (!rc)
			rc = cp_store_mk_list(conn, &res);
		if (rc) {
			snprintf(errbuf, errlen,
				 "unable to record the master "
				 "key check value in the database");
			goto out;
		}
	}
	rc = check_rows(s, res, errbuf, errlen);
out:
	PQclear(res);
	return rc;
}

int cp_secrets_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	struct cp_secrets *s = calloc(1, sizeof(*s));
	PGconn *conn = NULL;
	enum claw_rc rc = CLAW_ERR_NOMEM;

	if (!s || cp_keyring_init(&s->ring)) {
		snprintf(errbuf, errlen, "out of memory for the master keys");
		goto fail;
	}
	pthread_rwlock_init(&s->lock, NULL);
	conn = claw_db_acquire(ctx->db);
	if (!conn) {
		snprintf(errbuf, errlen,
			 "no database connection to check the "
			 "master keys");
		goto fail;
	}
	errbuf[0] = '\0';
	rc = cp_store_begin(conn);
	if (!rc)
		rc = start_tx(conn, ctx, s, errbuf, errlen);
	if (!rc)
		rc = cp_store_commit(conn);
	if (rc) {
		if (!errbuf[0])
			snprintf(errbuf, errlen,
				 "unable to check the master "
				 "keys: %s",
				 claw_strerror(rc));
		goto fail;
	}
	claw_db_release(ctx->db, conn);
	ctx->secrets = s;
	log_info("master keys: %u version(s) from %s, newest %u", s->ring.n,
		 source_name(s), cp_keyring_latest(&s->ring));
	return 0;
fail:
	if (conn)
		claw_db_release(ctx->db, conn);
	if (s) {
		if (s->ring.keys) {
			cp_keyring_release(&s->ring);
			pthread_rwlock_destroy(&s->lock);
		}
		free(s->key_file);
		free(s);
	}
	return -1;
}

void cp_secrets_stop(struct cp_ctx *ctx)
{
	struct cp_secrets *s = ctx->secrets;

	if (!s)
		return;
	cp_keyring_release(&s->ring);
	pthread_rwlock_destroy(&s->lock);
	free(s->key_file);
	free(s);
	ctx->secrets = NULL;
}
