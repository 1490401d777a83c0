/*
 * secrets_rotate.c - master key rotation while the API keeps serving.
 *
 * One rotation at a time (a session advisory lock on the connection that
 * runs it). The new version is recorded in master_keys with its key check
 * value and a 'keys.rotate' audit row; from that commit on, new data keys
 * are wrapped under it. Then the existing data keys are re-wrapped in
 * batches, each batch its own short transaction with a 'keys.rewrap' audit
 * row, so tenants' requests wait at most for one batch. Data keys are
 * readable under either version throughout: every row names its version.
 * A rotation cut short leaves some keys under an older version; the next
 * rotation re-wraps everything not under its own new version.
 */
#include "secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "claw/log.h"
#include "store/master_keys.h"
#include "store/secrets_ring.h"
#include "store/ts.h"

#define REWRAP_BATCH "100"

static struct claw_db_stmt st_try_lock = CLAW_DB_STMT(
	"cp_rot_trylock", "SELECT pg_try_advisory_lock(1668047223, 2)");
static struct claw_db_stmt st_unlock = CLAW_DB_STMT(
	"cp_rot_unlock", "SELECT pg_advisory_unlock(1668047223, 2)");
static struct claw_db_stmt st_active = CLAW_DB_STMT(
	"cp_rot_active",
	"SELECT version FROM master_keys ORDER BY version DESC LIMIT 1"
	" FOR UPDATE");
static struct claw_db_stmt st_batch = CLAW_DB_STMT(
	"cp_rot_batch",
	"SELECT tenant_id, mk_version, wrapped FROM tenant_data_keys"
	" WHERE mk_version <> $1::integer ORDER BY tenant_id"
	" LIMIT " REWRAP_BATCH " FOR UPDATE");
static struct claw_db_stmt st_rewrap = CLAW_DB_STMT(
	"cp_rot_rewrap",
	"UPDATE tenant_data_keys SET mk_version = $2::integer,"
	" wrapped = $3::bytea, rewrapped_at = now() WHERE tenant_id = $1");
static struct claw_db_stmt st_keys_list = CLAW_DB_STMT(
	"cp_keys_list",
	"SELECT m.version, (SELECT count(*) FROM tenant_data_keys d"
	" WHERE d.mk_version = m.version), " CP_TS(
		"m.created_at") ","
				" m.version = (SELECT max(version) FROM "
				"master_keys)"
				" FROM master_keys m ORDER BY m.version");

struct rotate_tx {
	struct cp_ctx *ctx;
	struct cp_audit_entry *audit;
	unsigned from, to;
	long long done; /* rows re-wrapped by the last batch */
};

/* Choose the new version's key: the ring's newest when it is newer than
 * the active version, else a new one added to the key file. */
static enum claw_rc pick_new_key(struct cp_secrets *s, unsigned active,
				 unsigned *version, bool *generated,
				 char *errbuf, size_t errlen)
{
	struct cp_keyring fresh;
	unsigned char *key = NULL;
	enum claw_rc rc;

	*generated = false;
	if (s->key_file) {
		/* The operator may have added a version to the file. */
		rc = cp_keyring_init(&fresh);
		if (rc)
			return rc;
		rc = cp_keyfile_read(s->key_file, &fresh, errbuf, errlen);
		pthread_rwlock_wrlock(&s->lock);
		if (!rc && cp_keyring_merge(&s->ring, &fresh)) {
			snprintf(errbuf, errlen,
				 "master key file '%s' now holds a different "
				 "key for a version in use; put the old key "
				 "back",
				 s->key_file);
			rc = CLAW_ERR_INVALID;
		}
		pthread_rwlock_unlock(&s->lock);
		cp_keyring_release(&fresh);
		if (rc)
			return rc;
	}
	pthread_rwlock_rdlock(&s->lock);
	*version = cp_keyring_latest(&s->ring);
	pthread_rwlock_unlock(&s->lock);
	if (*version > active)
		return CLAW_OK;
	if (!s->key_file) {
		snprintf(errbuf, errlen,
			 "no new master key: CLAW_MASTER_KEY has no version "
			 "above %u; add one ('%u:HEX', 64 hex characters) next "
			 "to the current ones, restart, and rotate again",
			 active, active + 1);
		return CLAW_ERR_INVALID;
	}
	*version = active + 1;
	key = cp_env_key_new();
	if (!key)
		return CLAW_ERR_NOMEM;
	rc = cp_keyfile_append(s->key_file, *version, key, errbuf, errlen);
	if (!rc) {
		pthread_rwlock_wrlock(&s->lock);
		rc = cp_keyring_add(&s->ring, *version, key);
		pthread_rwlock_unlock(&s->lock);
		*generated = true;
		log_info("generated master key version %u into '%s'", *version,
			 s->key_file);
	}
	cp_env_secret_free(key);
	return rc;
}

static enum claw_rc record_tx(PGconn *conn, void *cls)
{
	struct rotate_tx *t = cls;
	unsigned char *mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	char kcv[CP_ENV_KCV_LEN];
	PGresult *res = NULL;
	enum claw_rc rc = CLAW_ERR_NOMEM;

	if (!mk)
		return rc;
	rc = claw_db_exec(conn, &st_active, 0, NULL, &res);
	if (rc)
		goto out;
	if (PQntuples(res) != 1 ||
	    strtoul(PQgetvalue(res, 0, 0), NULL, 10) != t->from) {
		rc = CLAW_ERR_INVALID; /* moved meanwhile: start over */
		goto out;
	}
	rc = cp_secrets_master_key(t->ctx->secrets, t->to, mk);
	if (rc)
		goto out;
	cp_env_kcv(mk, t->to, kcv);
	rc = cp_store_mk_insert(conn, t->to, kcv);
	if (rc)
		goto out;
	t->audit->target = "master_keys";
	rc = cp_audit_append_details(
		conn, t->audit, "keys.rotate",
		json_pack("{s:I, s:I}", "from_version", (json_int_t)t->from,
			  "to_version", (json_int_t)t->to));
out:
	PQclear(res);
	cp_env_secret_free(mk);
	return rc;
}

/* Re-wrap one row of a batch under t->to. */
static enum claw_rc rewrap_row(PGconn *conn, struct rotate_tx *t,
			       const PGresult *res, int i,
			       unsigned char *old_mk, unsigned char *new_mk)
{
	const char *tenant = PQgetvalue(res, i, 0);
	unsigned v = (unsigned)strtoul(PQgetvalue(res, i, 1), NULL, 10);
	unsigned char *dk = NULL;
	char ver[16], *hex = NULL;
	const char *params[3] = {tenant, ver, NULL};
	enum claw_rc rc;

	if (cp_dk_unwrap(t->ctx->secrets, v, tenant, PQgetvalue(res, i, 2),
			 old_mk, &dk)) {
		rc = CLAW_ERR_INTERNAL;
		goto out;
	}
	rc = cp_dk_wrap_hex(new_mk, t->to, tenant, dk, &hex);
	if (rc)
		goto out;
	snprintf(ver, sizeof(ver), "%u", t->to);
	params[2] = hex;
	rc = claw_db_exec(conn, &st_rewrap, 3, params, NULL);
out:
	free(hex);
	cp_env_secret_free(dk);
	return rc;
}

static enum claw_rc batch_tx(PGconn *conn, void *cls)
{
	struct rotate_tx *t = cls;
	unsigned char *old_mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	unsigned char *new_mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	char ver[16];
	const char *params[1] = {ver};
	PGresult *res = NULL;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	int n;

	t->done = 0;
	if (!old_mk || !new_mk)
		goto out;
	snprintf(ver, sizeof(ver), "%u", t->to);
	rc = cp_secrets_master_key(t->ctx->secrets, t->to, new_mk);
	if (!rc)
		rc = claw_db_exec(conn, &st_batch, 1, params, &res);
	if (rc)
		goto out;
	n = PQntuples(res);
	for (int i = 0; i < n && !rc; i++)
		rc = rewrap_row(conn, t, res, i, old_mk, new_mk);
	if (rc || n == 0)
		goto out;
	t->audit->target = "tenant_data_keys";
	rc = cp_audit_append_details(conn, t->audit, "keys.rewrap",
				     json_pack("{s:I, s:i}", "to_version",
					       (json_int_t)t->to, "data_keys",
					       n));
	if (!rc)
		t->done = n;
out:
	PQclear(res);
	cp_env_secret_free(old_mk);
	cp_env_secret_free(new_mk);
	return rc;
}

static enum claw_rc active_version(PGconn *conn, unsigned *out)
{
	PGresult *res = NULL;
	enum claw_rc rc;

	rc = claw_db_exec_sql(conn, "SELECT max(version) FROM master_keys",
			      &res);
	if (!rc)
		*out = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rc;
}

enum claw_rc cp_keys_rotate(struct cp_ctx *ctx, struct cp_audit_entry *audit,
			    struct cp_key_rotation *out, char *errbuf,
			    size_t errlen)
{
	struct rotate_tx t = {.ctx = ctx, .audit = audit};
	PGconn *conn = claw_db_acquire(ctx->db);
	PGresult *res = NULL;
	enum claw_rc rc;

	memset(out, 0, sizeof(*out));
	snprintf(errbuf, errlen, "master key rotation failed");
	if (!conn)
		return CLAW_ERR_IO;
	rc = claw_db_exec(conn, &st_try_lock, 0, NULL, &res);
	if (rc)
		goto out_release;
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		snprintf(errbuf, errlen,
			 "another master key rotation is "
			 "running; retry when it is done");
		rc = CLAW_ERR_TIMEOUT;
		goto out_release;
	}
	rc = active_version(conn, &t.from);
	if (!rc)
		rc = pick_new_key(ctx->secrets, t.from, &t.to, &out->generated,
				  errbuf, errlen);
	if (!rc)
		rc = claw_db_tx_conn(conn, CLAW_DB_READ_COMMITTED, record_tx,
				     &t);
	if (rc)
		goto out_unlock;
	out->from_version = t.from;
	out->to_version = t.to;
	log_info("master key rotation: version %u -> %u, re-wrapping data "
		 "keys",
		 t.from, t.to);
	do {
		rc = claw_db_tx_conn(conn, CLAW_DB_READ_COMMITTED, batch_tx,
				     &t);
		if (!rc)
			out->rewrapped += t.done;
	} while (!rc && t.done > 0);
	if (!rc)
		log_info("master key rotation to version %u done: %lld data "
			 "keys re-wrapped",
			 t.to, out->rewrapped);
out_unlock:
	claw_db_exec(conn, &st_unlock, 0, NULL, NULL);
out_release:
	PQclear(res);
	claw_db_release(ctx->db, conn);
	return rc;
}

enum claw_rc cp_keys_list(PGconn *conn, PGresult **rows)
{
	return claw_db_exec(conn, &st_keys_list, 0, NULL, rows);
}
