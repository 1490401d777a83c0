/*
 * audit.c - hash chain of the audit log and the append in the caller's
 * transaction.
 *
 * The hash input is reproducible from what is stored: the id, the time as
 * integer microseconds since the epoch (PostgreSQL keeps microseconds
 * exactly), the text columns, and details as PostgreSQL's own jsonb text
 * (asked for before hashing, so verify reads back the very bytes hashed).
 * Each field is written as "<length>:<bytes>\n", or "-\n" for NULL, after a
 * version tag and the previous row's hash.
 *
 * An append is two round trips (store/audit_append.c): lock the chain head
 * and fetch what the row needs (previous hash, id, time, canonical
 * details), then insert the row (a trigger moves the head). Both
 * go through claw_db_exec, so a serialization failure is seen by the
 * caller's claw_db_tx and the whole transaction is retried.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "claw/db.h"
#include "claw/log.h"
#include "store/audit_append.h"

#define AUDIT_HASH_TAG "claw-audit-v1\n"

static void hash_field(crypto_generichash_state *st, const char *v)
{
	char len[32];
	int n;

	if (!v) {
		crypto_generichash_update(st, (const unsigned char *)"-\n", 2);
		return;
	}
	n = snprintf(len, sizeof(len), "%zu:", strlen(v));
	crypto_generichash_update(st, (const unsigned char *)len, (size_t)n);
	crypto_generichash_update(st, (const unsigned char *)v, strlen(v));
	crypto_generichash_update(st, (const unsigned char *)"\n", 1);
}

void cp_audit_row_hash(const struct cp_audit_row *row, const char *prev_hash,
		       char out[65])
{
	crypto_generichash_state st;
	unsigned char h[32];
	char id[32], t[32];

	snprintf(id, sizeof(id), "%lld", row->id);
	snprintf(t, sizeof(t), "%lld", row->time_us);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)AUDIT_HASH_TAG,
				  strlen(AUDIT_HASH_TAG));
	hash_field(&st, prev_hash);
	hash_field(&st, id);
	hash_field(&st, t);
	hash_field(&st, row->actor_id);
	hash_field(&st, row->actor_role);
	hash_field(&st, row->action);
	hash_field(&st, row->target);
	hash_field(&st, row->tenant_id);
	hash_field(&st, row->request_id);
	hash_field(&st, row->source_addr);
	hash_field(&st, row->details);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void cp_audit_chain_init(struct cp_audit_chain *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->prev, CP_AUDIT_GENESIS, sizeof(c->prev));
}

bool cp_audit_chain_check(struct cp_audit_chain *c,
			  const struct cp_audit_row *row,
			  const char *stored_prev, const char *stored_hash)
{
	char h[65];

	if (c->broken_id)
		return false;
	c->rows_checked++;
	if (!stored_prev || strcmp(stored_prev, c->prev) != 0) {
		c->broken_id = row->id;
		c->reason = "prev_hash does not match the previous row's hash "
			    "(a row before it was removed or changed)";
		return false;
	}
	cp_audit_row_hash(row, c->prev, h);
	if (!stored_hash || strcmp(stored_hash, h) != 0) {
		c->broken_id = row->id;
		c->reason = "hash does not match the row's contents "
			    "(the row was changed)";
		return false;
	}
	memcpy(c->prev, stored_hash, sizeof(c->prev));
	return true;
}

/* ---- append */

static enum claw_rc parse_ll(const char *s, long long *out)
{
	char *end;

	if (!s || !*s)
		return CLAW_ERR_PARSE;
	*out = strtoll(s, &end, 10);
	return *end ? CLAW_ERR_PARSE : CLAW_OK;
}

enum claw_rc cp_audit_append(PGconn *conn, const struct cp_audit_entry *e)
{
	enum claw_rc rc = CLAW_ERR_INTERNAL;
	PGresult *res = NULL;
	char *details = NULL;
	char prev[65], hash[65];
	struct cp_audit_row row;

	if (!e->action) {
		log_error("audit append without an action");
		return CLAW_ERR_INVALID;
	}
	if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
		log_error("audit append outside a transaction refused");
		return CLAW_ERR_INTERNAL;
	}
	if (e->details) {
		details =
			json_dumps(e->details, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!details)
			return CLAW_ERR_NOMEM;
	}

	rc = cp_store_audit_head(conn, details, &res);
	if (rc)
		goto out;
	rc = CLAW_ERR_INTERNAL;
	if (PQntuples(res) != 1) {
		log_error("audit chain head row is missing");
		goto out;
	}
	memset(&row, 0, sizeof(row));
	if (strlen(PQgetvalue(res, 0, CP_AH_PREV_HASH)) != 64 ||
	    parse_ll(PQgetvalue(res, 0, CP_AH_ID), &row.id) ||
	    parse_ll(PQgetvalue(res, 0, CP_AH_TIME_US), &row.time_us)) {
		log_error("audit chain head row is malformed");
		goto out;
	}
	memcpy(prev, PQgetvalue(res, 0, CP_AH_PREV_HASH), sizeof(prev));
	row.actor_id = e->actor_id;
	row.actor_role = e->actor_role;
	row.action = e->action;
	row.target = e->target;
	row.tenant_id = e->tenant_id;
	row.request_id = e->request_id;
	row.source_addr = e->source_addr;
	row.details = claw_db_value(res, 0, CP_AH_DETAILS);
	cp_audit_row_hash(&row, prev, hash);
	rc = cp_store_audit_insert(conn, &row, prev, hash);
out:
	PQclear(res);
	free(details);
	return rc;
}

enum claw_rc cp_audit_append_details(PGconn *conn, struct cp_audit_entry *e,
				     const char *action, json_t *details_steal)
{
	enum claw_rc rc;

	if (!details_steal)
		return CLAW_ERR_NOMEM;
	e->action = action;
	e->details = details_steal;
	rc = cp_audit_append(conn, e);
	e->details = NULL;
	json_decref(details_steal);
	return rc;
}
