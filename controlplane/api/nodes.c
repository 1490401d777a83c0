/*
 * nodes.c - /v1/nodes: join tokens, the join itself, listing nodes and
 * cordon, uncordon, drain, revoke and delete (docs/fleet.md).
 *
 * A join token is short-lived and single use; only its hash is stored.
 * Joining exchanges it for a node credential: an API token of role node
 * bound to the new node (nodes.token_id), shown once. Revoking or deleting
 * a node revokes that token in the same transaction, so the node is
 * refused at once; its tenants are placed elsewhere by the next sweep.
 * Every change is audited.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "scheduler.h"
#include "store/common.h"
#include "store/nodes.h"
#include "store/store.h"
#include "validate.h"

#define JOIN_PREFIX "clawjoin_"
#define JOIN_LEN (sizeof(JOIN_PREFIX) + 43)
#define LABELS_MAX 32
#define LABEL_MAX 63

static enum claw_rc audit(PGconn *c, struct claw_http_req *req,
			  const struct cp_auth *auth, const char *action,
			  const char *target, json_t *details_steal)
{
	return cp_audit_request(c, req, auth, action, target, NULL,
				details_steal);
}

static void reply_node(struct claw_http_req *req, struct cp_ctx *ctx,
		       const char *id, unsigned status)
{
	PGconn *c = claw_db_acquire(ctx->db);
	PGresult *row = NULL;
	enum claw_rc rc = c ? cp_store_node_get(c, id, &row) : CLAW_ERR_IO;
	json_t *j;

	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_NODE_NOT_FOUND,
			       "no live node has that id or name");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	j = cp_node_json(row, 0);
	PQclear(row);
	if (!j)
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(req, status, j);
}

/* ---- POST /v1/nodes/join-tokens */

struct jt_create {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *id, *hash;
	long ttl;
	PGresult *row;
};

static enum claw_rc jt_create_tx(PGconn *c, void *cls)
{
	struct jt_create *j = cls;
	char target[64];
	enum claw_rc rc;

	cp_store_clear(&j->row);
	rc = cp_store_join_token_insert(c, j->id, j->hash, j->auth->token_id,
					j->ttl, &j->row);
	snprintf(target, sizeof(target), "join-tokens/%s", j->id);
	if (!rc)
		rc = audit(c, j->req, j->auth, "node.join_token.create", target,
			   json_pack("{s:I}", "ttl_s", (json_int_t)j->ttl));
	return rc;
}

static void join_token_create(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	json_int_t ttl = ctx->cfg.fleet.join_token_ttl_s;
	const struct claw_json_field fields[] = {
		{"ttl_s", CLAW_JSON_INT, false, &ttl, 0},
		{NULL, 0, false, NULL, 0},
	};
	char id[CP_ID_MAX], hash[65], token[JOIN_LEN];
	struct jt_create j = {
		.req = req, .auth = &auth, .id = id, .hash = hash};
	json_t *body = NULL, *out;
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    claw_http_parse_json(req, fields, &body))
		return;
	json_decref(body);
	if (ttl < 10 || ttl > 604800) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "ttl_s: give 10 to 604800 seconds");
		return;
	}
	j.ttl = (long)ttl;
	cp_id_new("jtk_", id, sizeof(id));
	claw_random_token(JOIN_PREFIX, token, sizeof(token));
	claw_blake2b_hex(token, strlen(token), hash);
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, jt_create_tx, &j);
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	out = json_pack("{s:s, s:s, s:s}", "id", id, "token", token,
			"expires_at", PQgetvalue(j.row, 0, 1));
	if (!out)
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(req, 201, out);
	log_info("join token %s issued (%ld s)", id, j.ttl);
out:
	sodium_memzero(token, sizeof(token));
	PQclear(j.row);
}

/* ---- POST /v1/nodes/join */

struct join {
	struct claw_http_req *req;
	const char *join_hash;
	struct cp_token_new tok;
	struct cp_node_new node;
	bool bad_token, name_taken;
};

static enum claw_rc join_tx(PGconn *c, void *cls)
{
	struct join *j = cls;
	struct cp_auth actor = {.role = CP_ROLE_NODE};
	PGresult *row = NULL;
	char target[96];
	enum claw_rc rc;

	j->bad_token = j->name_taken = false;
	rc = cp_store_join_token_use(c, j->join_hash, j->node.id);
	if (rc == CLAW_ERR_NOT_FOUND)
		j->bad_token = true;
	if (rc)
		return rc;
	rc = cp_store_token_insert(c, &j->tok, &row);
	PQclear(row);
	if (rc)
		return rc;
	rc = cp_store_node_insert(c, &j->node);
	if (rc == CLAW_ERR_INVALID &&
	    strcmp(claw_db_last_sqlstate(), "23505") == 0)
		j->name_taken = true;
	if (rc)
		return rc;
	rc = cp_event_add(c, "node.joined", NULL, j->node.id,
			  json_pack("{s:s, s:s}", "name", j->node.name,
				    "status", "ready"));
	snprintf(actor.token_id, sizeof(actor.token_id), "%s", j->tok.id);
	snprintf(target, sizeof(target), "nodes/%s", j->node.id);
	if (!rc)
		rc = audit(c, j->req, &actor, "node.join", target,
			   json_pack("{s:s, s:I, s:I, s:s}", "name",
				     j->node.name, "cpus_milli",
				     (json_int_t)j->node.cpus_milli,
				     "memory_mb", (json_int_t)j->node.memory_mb,
				     "version", j->node.version));
	return rc;
}

static bool node_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63 ||
	    !strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
		    s[0]))
		return false;
	return strspn(s,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.-") == n;
}

/* Labels: an object of at most LABELS_MAX short [a-z0-9._/-] keys to
 * short strings. */
static bool labels_valid(const json_t *o)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > LABELS_MAX)
		return false;
	json_object_foreach((json_t *)o, k, v) {
		size_t n = strlen(k);

		if (n < 1 || n > LABEL_MAX ||
		    strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789._/-") !=
			    n ||
		    !json_is_string(v) || json_string_length(v) > LABEL_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return false;
	}
	return true;
}

static void node_join(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	const char *token = NULL, *name = NULL, *version = "";
	json_t *labels = NULL, *body = NULL, *out;
	json_int_t cpus = 0, mem = 0;
	const struct claw_json_field fields[] = {
		{"token", CLAW_JSON_STRING, true, &token, JOIN_LEN},
		{"name", CLAW_JSON_STRING, true, &name, 63},
		{"labels", CLAW_JSON_OBJECT, false, &labels, 0},
		{"cpus_milli", CLAW_JSON_INT, true, &cpus, 0},
		{"memory_mb", CLAW_JSON_INT, true, &mem, 0},
		{"version", CLAW_JSON_STRING, false, &version, 64},
		{NULL, 0, false, NULL, 0},
	};
	char node_id[CP_ID_MAX], tok_id[CP_ID_MAX], jhash[65], chash[65];
	char cred[CP_TOKEN_LEN], tname[96], *labels_text = NULL;
	struct join j = {.req = req};
	enum claw_rc rc;

	if (claw_http_parse_json(req, fields, &body))
		return;
	if (!node_name_valid(name) || (labels && !labels_valid(labels)) ||
	    cpus < 1 || cpus > 100000000 || mem < 1 || mem > 1LL << 40) {
		claw_http_reply_def(
			req, claw_http_error_def(CLAW_HE_INVALID_FIELD),
			"name: 1-63 of [A-Za-z0-9_.-]; labels: up to %d "
			"[a-z0-9._/-] keys to strings of up to %d bytes; "
			"cpus_milli and memory_mb positive",
			LABELS_MAX, LABEL_MAX);
		goto out;
	}
	labels_text = labels ? claw_json_dumps(labels) : strdup("{}");
	cp_id_new("nod_", node_id, sizeof(node_id));
	cp_id_new("tok_", tok_id, sizeof(tok_id));
	claw_blake2b_hex(token, strlen(token), jhash);
	claw_random_token(CP_TOKEN_PREFIX, cred, sizeof(cred));
	claw_blake2b_hex(cred, strlen(cred), chash);
	snprintf(tname, sizeof(tname), "node %s", name);
	j.join_hash = jhash;
	j.tok = (struct cp_token_new){
		.id = tok_id, .hash = chash, .role = "node", .name = tname};
	j.node = (struct cp_node_new){.id = node_id,
				      .name = name,
				      .token_id = tok_id,
				      .labels = labels_text,
				      .version = version,
				      .cpus_milli = cpus,
				      .memory_mb = mem};
	rc = labels_text
		? claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, join_tx, &j)
		: CLAW_ERR_NOMEM;
	if (j.bad_token) {
		cp_reply_error(req, CP_E_INVALID_JOIN_TOKEN,
			       "the join token is unknown, used or "
			       "expired; ask an admin for a new one");
		goto out;
	}
	if (j.name_taken) {
		cp_reply_error(req, CP_E_NODE_NAME_TAKEN,
			       "a node named '%s' exists; delete it or "
			       "choose another name",
			       name);
		goto out;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	log_info("node %s (%s) joined", name, node_id);
	cp_fleet_wake();
	out = json_pack("{s:s, s:s, s:s, s:I}", "node_id", node_id, "name",
			name, "credential", cred, "heartbeat_ms",
			(json_int_t)ctx->cfg.fleet.heartbeat_ms);
	if (!out)
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(req, 201, out);
out:
	sodium_memzero(cred, sizeof(cred));
	free(labels_text);
	json_decref(body);
}

/* ---- GET /v1/nodes, GET /v1/nodes/{id} */

static void node_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	PGresult *rows = NULL;
	json_t *items;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth))
		return;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_store_node_list(c, &rows);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	for (int i = 0; i < PQntuples(rows); i++)
		json_array_append_new(items, cp_node_json(rows, i));
	PQclear(rows);
	claw_http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

static void node_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth))
		return;
	reply_node(req, ctx, claw_http_param(req, "id"), 200);
}

/* ---- cordon, uncordon, drain, revoke, delete */

struct node_change {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	char id[CP_ID_MAX];
	enum cp_node_op op;
};

static const char *const op_action[] = {"node.cordon", "node.uncordon",
					"node.drain", "node.revoke",
					"node.delete"};
static const char *const op_event[] = {"node.cordoned", "node.uncordoned",
				       "node.draining", "node.revoked",
				       "node.deleted"};

static enum claw_rc change_tx(PGconn *c, void *cls)
{
	struct node_change *ch = cls;
	char target[64];
	enum claw_rc rc = cp_store_node_op(c, ch->id, ch->op);

	snprintf(target, sizeof(target), "nodes/%s", ch->id);
	if (!rc)
		rc = cp_event_add(c, op_event[ch->op], NULL, ch->id, NULL);
	if (!rc)
		rc = audit(c, ch->req, ch->auth, op_action[ch->op], target,
			   NULL);
	return rc;
}

static void node_change(struct claw_http_req *req, struct cp_ctx *ctx,
			enum cp_node_op op)
{
	struct cp_auth auth;
	struct node_change ch = {.req = req, .auth = &auth, .op = op};
	const char *id = claw_http_param(req, "id");
	PGresult *row = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_node_get(c, id, &row) : CLAW_ERR_IO;
	if (!rc)
		snprintf(ch.id, sizeof(ch.id), "%s", PQgetvalue(row, 0, 0));
	PQclear(row);
	if (!rc)
		rc = claw_db_tx_conn(c, CLAW_DB_READ_COMMITTED, change_tx, &ch);
	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_NODE_NOT_FOUND,
			       "no live node has that id or name (a "
			       "revoked node can only be deleted)");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("node %s: %s", ch.id, op_action[op]);
	cp_fleet_wake();
	if (op == CP_NODE_DELETE)
		claw_http_reply_empty(req, 204);
	else
		reply_node(req, ctx, ch.id, 200);
}

static void node_cordon(struct claw_http_req *req, void *ctx)
{
	node_change(req, ctx, CP_NODE_CORDON);
}

static void node_uncordon(struct claw_http_req *req, void *ctx)
{
	node_change(req, ctx, CP_NODE_UNCORDON);
}

static void node_drain(struct claw_http_req *req, void *ctx)
{
	node_change(req, ctx, CP_NODE_DRAIN);
}

static void node_revoke(struct claw_http_req *req, void *ctx)
{
	node_change(req, ctx, CP_NODE_REVOKE);
}

static void node_delete(struct claw_http_req *req, void *ctx)
{
	node_change(req, ctx, CP_NODE_DELETE);
}

const struct claw_route cp_routes_nodes[] = {
	{"POST", "/v1/nodes/join-tokens", join_token_create,
	 "nodes.join_tokens.create"},
	{"POST", "/v1/nodes/join", node_join, "nodes.join"},
	{"GET", "/v1/nodes", node_list, "nodes.list"},
	{"GET", "/v1/nodes/{id}", node_get, "nodes.get"},
	{"POST", "/v1/nodes/{id}/cordon", node_cordon, "nodes.cordon"},
	{"POST", "/v1/nodes/{id}/uncordon", node_uncordon, "nodes.uncordon"},
	{"POST", "/v1/nodes/{id}/drain", node_drain, "nodes.drain"},
	{"POST", "/v1/nodes/{id}/revoke", node_revoke, "nodes.revoke"},
	{"DELETE", "/v1/nodes/{id}", node_delete, "nodes.delete"},
};
CP_ROUTES_COUNT(nodes);
