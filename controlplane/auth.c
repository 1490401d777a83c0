/*
 * auth.c - roles and bearer-token authentication of requests.
 *
 * The token's shape is checked first (no database work for garbage), then
 * its BLAKE2b hash is looked up through the unique index; the stored hash is
 * compared again in constant time. Nothing is cached: a revoked token stops
 * working on the next request, on every replica.
 */
#include <string.h>
#include <strings.h>

#include "claw/crypto.h"
#include "cp.h"
#include "store/store.h"
#include "validate.h"

static const char *const role_names[CP_ROLE__COUNT] = {
	[CP_ROLE_ADMIN] = "admin",     [CP_ROLE_OPERATOR] = "operator",
	[CP_ROLE_AUDITOR] = "auditor", [CP_ROLE_TENANT] = "tenant",
	[CP_ROLE_NODE] = "node",
};

const char *cp_role_name(enum cp_role r)
{
	return (unsigned)r < CP_ROLE__COUNT ? role_names[r] : "unknown";
}

int cp_role_parse(const char *name)
{
	for (int i = 0; i < CP_ROLE__COUNT; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return -1;
}

int cp_auth_token_hash(struct claw_http_req *req, char hash[65])
{
	const char *h = claw_http_header(req, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		claw_http_reply_std(req, CLAW_HE_UNAUTHORIZED, NULL);
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	if (!cp_token_well_formed(h)) {
		claw_http_reply_std(req, CLAW_HE_UNAUTHORIZED,
				    "the bearer token is malformed; send "
				    "the token exactly as it was issued");
		return -1;
	}
	claw_blake2b_hex(h, strlen(h), hash);
	return 0;
}

int cp_auth_check(struct claw_http_req *req, enum claw_rc rc,
		  const char *stored, const char *hash, unsigned roles_mask,
		  const struct cp_auth *a)
{
	if (rc == CLAW_ERR_NOT_FOUND ||
	    (rc == CLAW_OK && !claw_ct_streq(stored, hash))) {
		claw_http_reply_std(req, CLAW_HE_UNAUTHORIZED,
				    "the token is unknown, revoked or "
				    "expired; ask an admin for a new one");
		return -1;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return -1;
	}
	if (!(roles_mask & CP_ROLE_BIT(a->role))) {
		claw_http_reply_def(req, claw_http_error_def(CLAW_HE_FORBIDDEN),
				    "a token with role '%s' may not do this",
				    cp_role_name(a->role));
		return -1;
	}
	return 0;
}

int cp_auth_require(struct claw_http_req *req, struct cp_ctx *ctx,
		    unsigned roles_mask, struct cp_auth *out)
{
	char hash[65], stored[65] = "";
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_token_hash(req, hash))
		return -1;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return -1;
	}
	rc = cp_store_token_auth(c, hash, out, stored);
	claw_db_release(ctx->db, c);
	return cp_auth_check(req, rc, stored, hash, roles_mask, out);
}
