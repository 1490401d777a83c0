/*
 * cp.h - what every part of the control plane shares: the daemon context,
 * roles and authentication of a request, and tenant lookup that keeps
 * tenants apart.
 *
 * A handler (struct claw_route, ctx is a struct cp_ctx *) does, in order:
 *   1. cp_auth_require(req, ctx, CP_ROLES(...), &auth)       401/403
 *   2. for tenant routes: cp_tenant_require(req, ctx, &auth, "t", 0, &ten)
 *      (a tenant token of A gets 404 for every tenant but A)   404
 *   3. claw_http_parse_json(req, fields, &body)          400/413/415/422
 *   4. the change and its audit row in one transaction:
 *      claw_db_tx(ctx->db, ..., fn, cls) where fn calls the store and
 *      cp_audit_append(conn, &entry) with an entry from cp_audit_prepare
 *   5. one reply.
 * Each helper that returns -1 has already sent the error reply.
 */
#ifndef CP_H
#define CP_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "claw/db.h"
#include "claw/httpd.h"

struct cp_metrics;

/* Ids are a short type prefix and 32 hex characters: "tnt_0a1b...". */
#define CP_ID_MAX 40
#define CP_SLUG_MAX 63

/* ---- configuration (config.c): one table, file < env CLAW_* < flags */

/* Options of the fleet (scheduler, deploys, the agent API). */
struct cp_fleet_config {
	char *default_gateway_image; /* NULL: a deploy must name one */
	char *default_runtime_image;
	long default_cpus_milli;
	long default_memory_mb;
	long default_pids;
	/* Tenant configs of a deploy whose body gives none for that role:
	 * the JSON files named by the options, loaded and checked at start
	 * (objects; NULL when no file is named). A deploy copies one and
	 * sets its "tenant" to the tenant's slug (docs/fleet.md). */
	char *default_gateway_config_file;
	char *default_runtime_config_file;
	json_t *default_gateway_config;
	json_t *default_runtime_config;
	char *default_secrets;        /* preflight.h: NAME=FILE,..., or NULL */
	char *registry_user;          /* fleet pull credentials, or NULL */
	char *registry_password_file; /* read once at start */
	/* Tenant bounds (bounds.h): the registry host of the pair above,
	 * per-host credentials "HOST=USER:FILE,...", the image policy
	 * (allowed registries or repository prefixes; NULL: any) and the
	 * disk of the default plan (MiB, 0: no limit). */
	char *registry_server;
	char *registry_auth;
	char *image_allow;
	long default_disk_mb;
	/* Git workspaces (workspace.h): allowed hosts (NULL: any name),
	 * whether local paths and file:// may be named, the deadline. */
	char *workspace_hosts;
	bool workspace_allow_local;
	long workspace_timeout_ms;
	/* a node's waiting long poll reads its generation this often unless
	 * woken (events.h) */
	long long_poll_recheck_ms;
	long heartbeat_ms;     /* agents report this often */
	long grace_intervals;  /* missed heartbeats: node down */
	long join_token_ttl_s; /* default lifetime of a join token */
	long sweep_ms;         /* period of the leader's sweeps */
	long cert_warn_days;   /* edge certificates alert this long before
				  they expire (store/edge.h) */
	long min_ready_ms;     /* a deployment is healthy after both roles
				  stayed ready this long, unless its spec
				  says (node agents check it) */
	/* The edge (domains.h): tenants answer at "<slug>.<base_domain>"
	 * (normalised: lower case, no trailing dot; NULL: no public URLs,
	 * and any custom domain may be claimed). */
	char *base_domain;
};

struct cp_config {
	char *listen;       /* "127.0.0.1:7070" */
	char *data_dir;     /* holds admin.token, master.key, pg/ */
	char *database_url; /* NULL: embedded PostgreSQL under data_dir */
	char *tls_cert;     /* PEM paths, both or neither */
	char *tls_key;
	char *log_level;         /* debug|info|warn|error */
	char *migrations_dir;    /* migrations/NNNN_name.sql */
	char *master_key_file;   /* NULL: env CLAW_MASTER_KEY, else embedded
				  default DATA_DIR/master.key */
	char *pg_bin_dir;        /* initdb, postgres of the embedded cluster */
	char *pg_user;           /* unprivileged user for postgres under root */
	long db_pool_size;       /* connections in the pool */
	long db_heartbeat_conns; /* and beyond it, for heartbeats only */
	long max_body;           /* request body ceiling in bytes */
	/* The HTTP server's bounds on slow and abusive clients (claw/httpd.h;
	 * 0 for the two limits: none): connections in all, connections per
	 * client address, deadlines for the whole request head and body,
	 * requests at once per credential. */
	long http_connection_limit;
	long http_per_ip_limit;
	long http_head_timeout_s;
	long http_body_timeout_s;
	long http_per_token_limit;
	long shutdown_grace_ms;
	char *web_dir; /* the dashboard's files (web/) */
	struct cp_fleet_config fleet;
	/* Database roles and audit checkpoints (db_roles.c, checkpointer.c;
	 * docs/security.md): the owner role's URL for migrations (NULL: they
	 * run on database-url), the checkpoint file (NULL:
	 * DATA_DIR/audit-checkpoints.jsonl), the signing key (NULL:
	 * DATA_DIR/audit-signing.key), more accepted public keys, the
	 * period of checkpoints. */
	char *migration_database_url;
	char *audit_checkpoint_file;
	char *audit_signing_key_file;
	char *audit_public_keys_file;
	long audit_checkpoint_interval_s;
	/* OAuth "connect" of tenants' MCP servers (api/oauth.c): the URL
	 * browsers reach this daemon at (NULL: http(s)://LISTEN), and the
	 * test-only leave for http OAuth endpoints on loopback hosts. */
	char *public_url;
	bool oauth_allow_http_loopback;
};

/* ---- the daemon, shared by every handler (read-only after start) */
struct cp_ctx {
	struct cp_config cfg;
	struct claw_db *db;
	/* The master key as given in the environment (CLAW_MASTER_KEY), or
	 * NULL; the secrets code reads it at start and wipes its copy.
	 * master_key_file is cfg.master_key_file. */
	const char *master_key_env;
	struct cp_metrics *metrics;
	/* Set by the secrets/keys code at start when it needs to keep state
	 * for its handlers; the core never touches it. */
	void *secrets;
	bool embedded_pg;   /* running its own PostgreSQL cluster */
	int schema_version; /* highest migration applied at start */
	bool db_split;      /* migrations ran as the owner role (db_roles.c) */
	struct cp_checkpointer *checkpoints; /* checkpointer.c, at start */
};

/* ---- roles */
enum cp_role {
	CP_ROLE_ADMIN = 0, /* everything */
	CP_ROLE_OPERATOR,  /* deploy and read any tenant; no secret values */
	CP_ROLE_AUDITOR,   /* reads the audit log, nothing else */
	CP_ROLE_TENANT,    /* its own tenant only */
	CP_ROLE_NODE,      /* the node-agent API only */
	CP_ROLE__COUNT
};

#define CP_ROLE_BIT(r) (1u << (r))
#define CP_R_ADMIN CP_ROLE_BIT(CP_ROLE_ADMIN)
#define CP_R_OPERATOR CP_ROLE_BIT(CP_ROLE_OPERATOR)
#define CP_R_AUDITOR CP_ROLE_BIT(CP_ROLE_AUDITOR)
#define CP_R_TENANT CP_ROLE_BIT(CP_ROLE_TENANT)
#define CP_R_NODE CP_ROLE_BIT(CP_ROLE_NODE)

/* "admin" ...; static. */
const char *cp_role_name(enum cp_role r);
/* Returns -1 when the name is not a role. */
int cp_role_parse(const char *name);

/* ---- authentication (auth.c) */
struct cp_auth {
	char token_id[CP_ID_MAX]; /* "tok_..." */
	enum cp_role role;
	char tenant_id[CP_ID_MAX]; /* tenant role: its tenant; else "" */
};

/* Check "Authorization: Bearer TOKEN" against the stored hashes and the
 * roles allowed (a mask of CP_R_*). Replies 401 (no, unknown, revoked or
 * expired token, or its tenant deleted), 403 (role not allowed) or 503
 * (database down) and returns -1; 0 with *out filled. */
int cp_auth_require(struct claw_http_req *req, struct cp_ctx *ctx,
		    unsigned roles_mask, struct cp_auth *out);

/* The two halves of cp_auth_require, for a handler that looks the token
 * up in its own statement: the hash of the request's bearer token
 * (replies 401 and returns -1 when it is missing or malformed), and the
 * verdict on a lookup's result rc with the stored hash (replies
 * 401/403/503 and returns -1). */
int cp_auth_token_hash(struct claw_http_req *req, char hash[65]);
int cp_auth_check(struct claw_http_req *req, enum claw_rc rc,
		  const char *stored, const char *hash, unsigned roles_mask,
		  const struct cp_auth *a);

/* ---- tenants as other parts see them (tenant_ref.c) */
struct cp_tenant_ref {
	char id[CP_ID_MAX];
	char slug[CP_SLUG_MAX + 1];
	bool deleted; /* soft-deleted, not purged yet */
};

#define CP_TENANT_ALLOW_DELETED 1u /* admin/operator may see deleted ones */

/* Find the tenant id_or_slug names, as auth may see it: a tenant token
 * sees its own tenant only; a soft-deleted tenant is seen only with
 * CP_TENANT_ALLOW_DELETED and by admin or operator. CLAW_ERR_NOT_FOUND for
 * everything not visible; CLAW_ERR_IO/INTERNAL on database trouble. */
enum claw_rc cp_tenant_resolve(PGconn *conn, const struct cp_auth *auth,
			       const char *id_or_slug, unsigned flags,
			       struct cp_tenant_ref *out);

/* The rule itself, for a tenant row already fetched. */
bool cp_tenant_visible(const struct cp_auth *auth, const char *tenant_id,
		       bool deleted, unsigned flags);

/* The same for the path parameter param of req (e.g. "t"), on a pooled
 * connection; replies 404 or 503 and returns -1 when not found. */
int cp_tenant_require(struct claw_http_req *req, struct cp_ctx *ctx,
		      const struct cp_auth *auth, const char *param,
		      unsigned flags, struct cp_tenant_ref *out);

/* ---- audit entries of a request (auth.c) */
struct cp_audit_entry;
/* Fill e with the request's actor, request id and source address; the
 * strings are borrowed from req and auth (auth NULL: the system). details
 * stays NULL for the caller to set. */
void cp_audit_prepare(struct cp_audit_entry *e, struct claw_http_req *req,
		      const struct cp_auth *auth, const char *action,
		      const char *target, const char *tenant_id);
/* cp_audit_prepare, then cp_audit_append of that entry on conn with
 * details_steal (may be NULL; released whatever happens). */
enum claw_rc cp_audit_request(PGconn *conn, struct claw_http_req *req,
			      const struct cp_auth *auth, const char *action,
			      const char *target, const char *tenant_id,
			      json_t *details_steal);

/* ---- start-up hooks (hooks.c): run in order once the database is
 * migrated and before the API listens; stopped in reverse order at exit.
 * A part that needs start-up work (key checks, bootstrap) adds one line to
 * the table in hooks.c. start returns non-zero with errbuf saying why the
 * daemon cannot start; stop may be NULL. */
struct cp_hook {
	const char *name;
	int (*start)(struct cp_ctx *ctx, char *errbuf, size_t errlen);
	void (*stop)(struct cp_ctx *ctx);
};
extern const struct cp_hook cp_hooks[];
extern const size_t cp_hooks_n;

/* ---- replies for store results (reply.c) */
/* Map a store failure to a reply: NOT_FOUND 404, IO 503, else 500. */
void cp_reply_rc(struct claw_http_req *req, enum claw_rc rc);
/* The same for a tenant lookup: NOT_FOUND is 404 tenant_not_found. */
void cp_reply_tenant_rc(struct claw_http_req *req, enum claw_rc rc);
/* Reply 200 {"items": items, "next_cursor": ...} for a page read with one
 * row more than limit (rows NULL: none): next_cursor is column cursor_col
 * of the page's last row when that extra row came, else null. Takes
 * items; replies 500 when the reply cannot be built. rows stays the
 * caller's. */
void cp_reply_page(struct claw_http_req *req, json_t *items,
		   const PGresult *rows, int limit, int cursor_col);

#endif
