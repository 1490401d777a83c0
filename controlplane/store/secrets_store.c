/*
 * secrets_store.c - tenant data keys and secret values in PostgreSQL:
 * put, delete, list, and release to a node, each with its audit row in the
 * caller's transaction.
 *
 * Writers of one tenant's secrets serialise on its data key row (FOR
 * UPDATE), so the next version of a name is computed without races; a
 * release takes the row FOR SHARE. Ciphertexts travel as bytea hex text.
 */
#include "secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "audit.h"
#include "claw/log.h"
#include "store/secrets_ring.h"
#include "store/ts.h"

static struct claw_db_stmt st_dk_update =
	CLAW_DB_STMT("cp_dk_get_update",
		     "SELECT mk_version, wrapped FROM tenant_data_keys"
		     " WHERE tenant_id = $1 FOR UPDATE");
static struct claw_db_stmt st_dk_share =
	CLAW_DB_STMT("cp_dk_get_share",
		     "SELECT mk_version, wrapped FROM tenant_data_keys"
		     " WHERE tenant_id = $1 FOR SHARE");
static struct claw_db_stmt st_mk_active =
	CLAW_DB_STMT("cp_mk_active", "SELECT max(version) FROM master_keys");
static struct claw_db_stmt st_dk_insert = CLAW_DB_STMT(
	"cp_dk_insert",
	"INSERT INTO tenant_data_keys (tenant_id, mk_version, wrapped)"
	" VALUES ($1, $2::integer, $3::bytea) ON CONFLICT (tenant_id) DO "
	"NOTHING");
static struct claw_db_stmt st_secret_version =
	CLAW_DB_STMT("cp_secret_ver",
		     "SELECT version, deleted_at IS NOT NULL FROM secrets"
		     " WHERE tenant_id = $1 AND name = $2");
static struct claw_db_stmt st_secret_upsert = CLAW_DB_STMT(
	"cp_secret_put",
	"INSERT INTO secrets (tenant_id, name, version, ciphertext)"
	" VALUES ($1, $2, $3::bigint, $4::bytea)"
	" ON CONFLICT (tenant_id, name) DO UPDATE SET"
	" version = EXCLUDED.version, ciphertext = EXCLUDED.ciphertext,"
	" updated_at = now(), deleted_at = NULL,"
	" created_at = CASE WHEN secrets.deleted_at IS NULL"
	" THEN secrets.created_at ELSE now() END"
	" RETURNING " CP_TS("created_at") ", " CP_TS("updated_at"));
static struct claw_db_stmt st_secret_delete =
	CLAW_DB_STMT("cp_secret_del",
		     "UPDATE secrets SET ciphertext = NULL, deleted_at = now(),"
		     " updated_at = now() WHERE tenant_id = $1 AND name = $2"
		     " AND deleted_at IS NULL RETURNING version");
static struct claw_db_stmt st_secret_list = CLAW_DB_STMT(
	"cp_secret_list",
	"SELECT name, version, " CP_TS("created_at") ", " CP_TS(
		"updated_at") " FROM secrets WHERE tenant_id = $1 AND "
			      "deleted_at IS NULL"
			      " AND name > $2 ORDER BY name LIMIT $3::integer");
static struct claw_db_stmt st_secret_live = CLAW_DB_STMT(
	"cp_secret_live",
	"SELECT name, version, ciphertext FROM secrets"
	" WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name");

char *cp_bytea_hex(const unsigned char *p, size_t n)
{
	char *s = malloc(2 * n + 3);

	if (!s)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	sodium_bin2hex(s + 2, 2 * n + 1, p, n);
	return s;
}

enum claw_rc cp_bytea_parse(const char *text, unsigned char **out, size_t *len)
{
	size_t hexlen;

	*out = NULL;
	if (!text || text[0] != '\\' || text[1] != 'x')
		return CLAW_ERR_PARSE;
	hexlen = strlen(text + 2);
	if (hexlen % 2)
		return CLAW_ERR_PARSE;
	*out = malloc(hexlen / 2 + 1);
	if (!*out)
		return CLAW_ERR_NOMEM;
	if (sodium_hex2bin(*out, hexlen / 2 + 1, text + 2, hexlen, NULL, len,
			   NULL) != 0) {
		free(*out);
		*out = NULL;
		return CLAW_ERR_PARSE;
	}
	return CLAW_OK;
}

enum claw_rc cp_dk_wrap_hex(const unsigned char *mk, unsigned version,
			    const char *tenant_id, const unsigned char *dk,
			    char **hex)
{
	unsigned char wrapped[CP_ENV_WRAPPED_KEY_BYTES];
	enum claw_rc rc = cp_env_wrap_key(mk, version, tenant_id, dk, wrapped);

	*hex = NULL;
	if (rc)
		return rc;
	*hex = cp_bytea_hex(wrapped, sizeof(wrapped));
	return *hex ? CLAW_OK : CLAW_ERR_NOMEM;
}

enum claw_rc cp_dk_unwrap(struct cp_secrets *s, unsigned version,
			  const char *tenant_id, const char *wrapped_hex,
			  unsigned char *mk, unsigned char **dk)
{
	unsigned char *wrapped = NULL;
	size_t wlen = 0;
	enum claw_rc rc;

	*dk = NULL;
	if (cp_secrets_master_key(s, version, mk)) {
		log_error("master key version %u wraps the data key of tenant "
			  "%s but is not in the key ring",
			  version, tenant_id);
		return CLAW_ERR_INTERNAL;
	}
	rc = cp_bytea_parse(wrapped_hex, &wrapped, &wlen);
	if (!rc &&
	    cp_env_unwrap_key(mk, version, tenant_id, wrapped, wlen, dk)) {
		log_error("the data key of tenant %s does not open under "
			  "master key version %u",
			  tenant_id, version);
		rc = CLAW_ERR_INTERNAL;
	}
	free(wrapped);
	return rc;
}

/* A new data key for tenant, wrapped under the active master key. */
static enum claw_rc dk_create(struct cp_ctx *ctx, PGconn *conn,
			      const char *tenant_id)
{
	unsigned char *mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	unsigned char *dk = cp_env_key_new();
	PGresult *res = NULL;
	char *hex = NULL;
	const char *params[3];
	unsigned version;
	enum claw_rc rc = CLAW_ERR_NOMEM;

	if (!mk || !dk)
		goto out;
	rc = claw_db_exec(conn, &st_mk_active, 0, NULL, &res);
	if (rc)
		goto out;
	version = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	rc = cp_secrets_master_key(ctx->secrets, version, mk);
	if (rc) {
		log_error("master key version %u is not in the key ring",
			  version);
		rc = CLAW_ERR_INTERNAL;
		goto out;
	}
	rc = cp_dk_wrap_hex(mk, version, tenant_id, dk, &hex);
	if (rc)
		goto out;
	params[0] = tenant_id;
	params[1] = PQgetvalue(res, 0, 0);
	params[2] = hex;
	rc = claw_db_exec(conn, &st_dk_insert, 3, params, NULL);
out:
	PQclear(res);
	free(hex);
	cp_env_secret_free(mk);
	cp_env_secret_free(dk);
	return rc;
}

enum claw_rc cp_secrets_data_key(struct cp_ctx *ctx, PGconn *conn,
				 const char *tenant_id, bool create,
				 bool for_update, unsigned char **dk)
{
	struct claw_db_stmt *st = for_update ? &st_dk_update : &st_dk_share;
	const char *params[1] = {tenant_id};
	unsigned char *mk = NULL;
	PGresult *res = NULL;
	enum claw_rc rc;

	*dk = NULL;
	rc = claw_db_exec(conn, st, 1, params, &res);
	if (!rc && PQntuples(res) == 0 && create) {
		PQclear(res);
		res = NULL;
		rc = dk_create(ctx, conn, tenant_id);
		if (!rc)
			rc = claw_db_exec(conn, st, 1, params, &res);
	}
	if (rc)
		goto out;
	if (PQntuples(res) == 0) {
		rc = CLAW_ERR_NOT_FOUND;
		goto out;
	}
	mk = cp_env_secret_alloc(CP_ENV_KEY_BYTES);
	rc = mk ? cp_dk_unwrap(
			  ctx->secrets,
			  (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10),
			  tenant_id, PQgetvalue(res, 0, 1), mk, dk)
		: CLAW_ERR_NOMEM;
out:
	PQclear(res);
	cp_env_secret_free(mk);
	return rc;
}

/* Append the audit row of a secret change with details_steal (NULL: out
 * of memory), which never holds the value. */
static enum claw_rc audit_secret(PGconn *conn, struct cp_audit_entry *audit,
				 const char *action, const char *tenant_id,
				 json_t *details_steal)
{
	audit->tenant_id = tenant_id;
	return cp_audit_append_details(conn, audit, action, details_steal);
}

enum claw_rc cp_secret_put(struct cp_ctx *ctx, PGconn *conn,
			   const char *tenant_id, const char *name,
			   const void *value, size_t len,
			   struct cp_audit_entry *audit,
			   struct cp_secret_meta *out)
{
	const char *params[4] = {tenant_id, name, NULL, NULL};
	unsigned char *dk = NULL, *sealed = NULL;
	size_t slen;
	PGresult *res = NULL;
	char ver[24], *hex = NULL;
	enum claw_rc rc;

	memset(out, 0, sizeof(*out));
	rc = cp_secrets_data_key(ctx, conn, tenant_id, true, true, &dk);
	if (!rc)
		rc = claw_db_exec(conn, &st_secret_version, 2, params, &res);
	if (rc)
		goto out;
	if (PQntuples(res) == 1) {
		out->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10) + 1;
		out->created = PQgetvalue(res, 0, 1)[0] == 't';
	} else {
		out->version = 1;
		out->created = true;
	}
	PQclear(res);
	res = NULL;
	rc = cp_env_seal_value(dk, tenant_id, name, out->version, value, len,
			       &sealed, &slen);
	if (rc)
		goto out;
	hex = cp_bytea_hex(sealed, slen);
	if (!hex) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	snprintf(ver, sizeof(ver), "%lld", out->version);
	params[2] = ver;
	params[3] = hex;
	rc = claw_db_exec(conn, &st_secret_upsert, 4, params, &res);
	if (rc)
		goto out;
	snprintf(out->created_at, sizeof(out->created_at), "%s",
		 PQgetvalue(res, 0, 0));
	snprintf(out->updated_at, sizeof(out->updated_at), "%s",
		 PQgetvalue(res, 0, 1));
	rc = audit_secret(conn, audit, "secret.put", tenant_id,
			  json_pack("{s:s, s:I, s:b}", "name", name, "version",
				    (json_int_t)out->version, "created",
				    out->created));
out:
	PQclear(res);
	free(hex);
	free(sealed);
	cp_env_secret_free(dk);
	return rc;
}

enum claw_rc cp_secret_delete(struct cp_ctx *ctx, PGconn *conn,
			      const char *tenant_id, const char *name,
			      struct cp_audit_entry *audit)
{
	const char *params[2] = {tenant_id, name};
	unsigned char *dk = NULL;
	PGresult *res = NULL;
	enum claw_rc rc;

	/* Lock the data key row: writers of this tenant take turns. */
	rc = cp_secrets_data_key(ctx, conn, tenant_id, false, true, &dk);
	cp_env_secret_free(dk);
	if (!rc)
		rc = claw_db_exec(conn, &st_secret_delete, 2, params, &res);
	if (rc)
		goto out;
	if (PQntuples(res) == 0) {
		rc = CLAW_ERR_NOT_FOUND;
		goto out;
	}
	rc = audit_secret(conn, audit, "secret.delete", tenant_id,
			  json_pack("{s:s, s:I}", "name", name, "version",
				    (json_int_t)strtoll(PQgetvalue(res, 0, 0),
							NULL, 10)));
out:
	PQclear(res);
	return rc;
}

enum claw_rc cp_secret_list(PGconn *conn, const char *tenant_id,
			    const char *after_name, int limit, PGresult **rows)
{
	char lim[16];
	const char *params[3] = {tenant_id, after_name ? after_name : "", lim};

	snprintf(lim, sizeof(lim), "%d", limit);
	return claw_db_exec(conn, &st_secret_list, 3, params, rows);
}

void cp_secret_bundle_free(struct cp_secret_bundle *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		cp_env_secret_free(b->items[i].value);
	free(b->items);
	free(b);
}

/* Open every row of res into b (allocated for all rows); details gets the
 * names and versions. */
static enum claw_rc open_all(const unsigned char *dk, const char *tenant_id,
			     const PGresult *res, struct cp_secret_bundle *b,
			     json_t *names)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct cp_secret_value *v = &b->items[b->n];
		unsigned char *sealed;
		size_t slen;
		enum claw_rc rc;

		snprintf(v->name, sizeof(v->name), "%s", PQgetvalue(res, i, 0));
		v->version = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		rc = cp_bytea_parse(PQgetvalue(res, i, 2), &sealed, &slen);
		if (rc)
			return rc;
		rc = cp_env_open_value(dk, tenant_id, v->name, v->version,
				       sealed, slen, &v->value, &v->len);
		free(sealed);
		if (rc) {
			log_error("secret %s of tenant %s (version %lld) does "
				  "not open: its row was tampered with",
				  v->name, tenant_id, v->version);
			return CLAW_ERR_INTERNAL;
		}
		b->n++;
		if (json_array_append_new(names,
					  json_pack("{s:s, s:I}", "name",
						    v->name, "version",
						    (json_int_t)v->version)))
			return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

enum claw_rc cp_secrets_release(struct cp_ctx *ctx, PGconn *conn,
				const char *tenant_id,
				struct cp_audit_entry *audit,
				struct cp_secret_bundle **out)
{
	const char *params[1] = {tenant_id};
	struct cp_secret_bundle *b = calloc(1, sizeof(*b));
	unsigned char *dk = NULL;
	PGresult *res = NULL;
	json_t *details = json_object(), *names = json_array();
	enum claw_rc rc = CLAW_ERR_NOMEM;

	*out = NULL;
	if (!b || !details || !names)
		goto out;
	rc = cp_secrets_data_key(ctx, conn, tenant_id, false, false, &dk);
	if (rc == CLAW_OK)
		rc = claw_db_exec(conn, &st_secret_live, 1, params, &res);
	else if (rc == CLAW_ERR_NOT_FOUND)
		rc = CLAW_OK; /* no data key yet: no secrets */
	if (rc)
		goto out;
	if (res && PQntuples(res) > 0) {
		b->items = calloc((size_t)PQntuples(res), sizeof(*b->items));
		rc = b->items ? open_all(dk, tenant_id, res, b, names)
			      : CLAW_ERR_NOMEM;
		if (rc)
			goto out;
	}
	if (json_object_set(details, "secrets", names)) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	audit->action = "secret.release";
	audit->tenant_id = tenant_id;
	audit->details = details;
	rc = cp_audit_append(conn, audit);
	audit->details = NULL;
out:
	if (rc) {
		cp_secret_bundle_free(b);
		b = NULL;
	}
	*out = b;
	json_decref(details);
	json_decref(names);
	PQclear(res);
	cp_env_secret_free(dk);
	return rc;
}
