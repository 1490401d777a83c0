/*
 * store.h - the queries of the control plane core: one function per query,
 * parameters always bound, statements prepared once per connection. Each
 * runs on a connection the caller holds (inside its transaction when it has
 * one) and returns an enum claw_rc; rows come back as PGresult the caller
 * PQclears. Timestamps are RFC 3339 UTC text.
 */
#ifndef CP_STORE_H
#define CP_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* ---- tokens (store/tokens.c) */

/* The live-token lookup as SQL pieces, so a hot query can join it: the
 * token with hash $1, not revoked, not expired, its tenant not deleted. */
#define CP_TOKEN_AUTH_COLS                                                     \
	"k.id, k.role, coalesce(k.tenant_id, ''), k.token_hash"
#define CP_TOKEN_AUTH_FROM                                                     \
	"api_tokens k LEFT JOIN tenants kt ON kt.id = k.tenant_id"
#define CP_TOKEN_AUTH_WHERE                                                    \
	"k.token_hash = $1 AND k.revoked_at IS NULL "                          \
	"AND (k.expires_at IS NULL OR k.expires_at > now()) "                  \
	"AND (k.tenant_id IS NULL OR kt.deleted_at IS NULL)"

/* Read CP_TOKEN_AUTH_COLS starting at column col of the one row of r;
 * NOT_FOUND when r has no row. */
enum claw_rc cp_store_token_row(const PGresult *r, int col, struct cp_auth *out,
				char stored_hash[65]);

/* The live token with this hash (not revoked, not expired, its tenant not
 * deleted): id, role, tenant id ("" if none), stored hash. NOT_FOUND when
 * there is none. */
enum claw_rc cp_store_token_auth(PGconn *c, const char *hash,
				 struct cp_auth *out, char stored_hash[65]);

struct cp_token_new {
	const char *id;
	const char *hash;
	const char *role;
	const char *tenant_id;  /* NULL unless role is tenant */
	const char *name;       /* may be NULL */
	const char *created_by; /* token id, NULL for the system */
	long long expires_in_s; /* 0: never */
};
/* Insert; *row gets the token's public columns (see cp_token_json). */
enum claw_rc cp_store_token_insert(PGconn *c, const struct cp_token_new *t,
				   PGresult **row);
/* Tokens in id order after the cursor ("" for the first page); role and
 * tenant_id filter when non-NULL. */
enum claw_rc cp_store_token_list(PGconn *c, const char *role,
				 const char *tenant_id, const char *after_id,
				 int limit, PGresult **rows);
/* Mark revoked; NOT_FOUND when no live token has that id. *row: as insert. */
enum claw_rc cp_store_token_revoke(PGconn *c, const char *id, PGresult **row);
/* Whether any admin token was ever made (revoked ones count). */
enum claw_rc cp_store_token_admin_exists(PGconn *c, bool *exists);
/* Serialise making the first admin token (a transaction-scoped advisory
 * lock), so daemons starting at once make one between them. */
enum claw_rc cp_store_token_bootstrap_lock(PGconn *c);
/* Row r of a token result as the API shows it (never the hash). */
json_t *cp_token_json(const PGresult *res, int r);

/* ---- tenants (store/tenants.c) */

struct cp_tenant_filter {
	const char *status;      /* "active", "deleted" or "all" */
	const char *slug_prefix; /* NULL: any */
	const char *only_id;     /* tenant tokens: their own tenant */
	const char *labels;      /* a JSON object the labels hold, or NULL */
	long long after_seq;     /* cursor: 0 for the first page */
	int limit;
};

/* Every tenant result has these columns, in this order. */
enum cp_tenant_col {
	CP_TC_ID,
	CP_TC_SLUG,
	CP_TC_NAME,
	CP_TC_VERSION,
	CP_TC_CREATED,
	CP_TC_UPDATED,
	CP_TC_DELETED,
	CP_TC_SEQ,
	CP_TC_PLAN,         /* NULL: the built-in default plan */
	CP_TC_EGRESS,       /* egress bound, a JSON array as text */
	CP_TC_SELF_PAUSE,   /* "t" or "f" */
	CP_TC_SUSPENDED_BY, /* NULL, "operator" or "tenant" */
	CP_TC_NODE_LABELS,  /* node_labels bound, a JSON object as text */
	CP_TC_API_BASE,     /* api_base_allow bound, a JSON array as text */
	CP_TC_LABELS,       /* the tenant's labels, a JSON object as text */
	CP_TC__COUNT,
};

/* The columns cp_store_tenant_get_authed adds after the token's: the
 * tenant's domains (a JSON array) and its placed deployment's gateway
 * channels (a JSON object, or NULL). */
#define CP_TC_AUTHED_DOMAINS (CP_TC__COUNT + 4)
#define CP_TC_AUTHED_CHANNELS (CP_TC__COUNT + 5)

/* What a create or update sets beside slug and name; NULL (or -1) keeps
 * a value (on create: the default). plan "" is the built-in default plan;
 * egress_allow and api_base_allow are JSON arrays as text, node_labels a
 * JSON object as text. */
struct cp_tenant_set {
	const char *name; /* update only */
	const char *plan;
	const char *egress_allow;
	int self_pause; /* 0, 1, or -1 */
	const char *node_labels;
	const char *api_base_allow;
	const char *labels; /* the tenant's labels, a JSON object as text */
};

/* INVALID with SQLSTATE 23505 when the slug is taken, 23503 when the plan
 * does not exist. set may be NULL. */
enum claw_rc cp_store_tenant_insert(PGconn *c, const char *id, const char *slug,
				    const char *name,
				    const struct cp_tenant_set *set,
				    PGresult **row);
/* By id ("tnt_...") or slug; deleted ones included. NOT_FOUND if none. */
enum claw_rc cp_store_tenant_get(PGconn *c, const char *id_or_slug,
				 PGresult **row);
enum claw_rc cp_store_tenant_list(PGconn *c, const struct cp_tenant_filter *f,
				  PGresult **rows);
/* The hot path of GET /v1/tenants/{t}: one statement that authenticates
 * the token with hash `hash` and fetches the tenant. NOT_FOUND when the
 * token is not live; otherwise *auth is filled and *row has the tenant's
 * columns (CP_TC_*, all NULL when there is no such tenant). */
enum claw_rc cp_store_tenant_get_authed(PGconn *c, const char *hash,
					const char *id_or_slug,
					struct cp_auth *auth,
					char stored_hash[65], PGresult **row);
/* Set what set gives when the version matches (version < 0: any).
 * NOT_FOUND when no live tenant has that id and version (the caller tells
 * which); INVALID with SQLSTATE 23503 when the plan does not exist. */
enum claw_rc cp_store_tenant_update(PGconn *c, const char *id,
				    const struct cp_tenant_set *set,
				    long long version, PGresult **row);
/* Soft delete (deleted=true) or restore (false), version as above. */
enum claw_rc cp_store_tenant_set_deleted(PGconn *c, const char *id,
					 bool deleted, long long version,
					 PGresult **row);
/* Remove a soft-deleted tenant for good, with its tokens. NOT_FOUND when
 * it is not soft-deleted. */
enum claw_rc cp_store_tenant_purge(PGconn *c, const char *id);
/* Row r of a tenant result as the API shows it. */
json_t *cp_tenant_json(const PGresult *res, int r);

#endif
