/*
 * config.c - the option table of claw-controlplane and its checks.
 *
 * Paths that depend on the installation (the migrations, the PostgreSQL
 * binaries) default to what the build found: the source tree's migrations/
 * when it is there, else the installed copy.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bounds.h"
#include "domains.h"
#include "claw/file.h"
#include "claw/log.h"

/* Largest default tenant config file. */
#define DEFAULT_CONFIG_MAX (4u << 20)

static const char usage[] =
	"claw-controlplane: the control plane of the claw platform: REST API, "
	"tenants, tokens, secrets and audit log in PostgreSQL. Without "
	"--database-url it runs a private PostgreSQL cluster under "
	"DATA_DIR/pg. The master key comes from --master-key-file or the "
	"environment variable CLAW_MASTER_KEY.";

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void opts_fill(struct cp_config *c, struct claw_cfg_opt *o)
{
	const struct claw_cfg_opt t[] = {
		{"listen", CLAW_CFG_STRING, &c->listen, "127.0.0.1:7070", 0, 0,
		 "address and port to serve the API on (port 0: any free)"},
		{"data-dir", CLAW_CFG_STRING, &c->data_dir, "/var/lib/claw", 0,
		 0, "directory for admin.token, the master key and pg/"},
		{"database-url", CLAW_CFG_STRING, &c->database_url, NULL, 0, 0,
		 "PostgreSQL URL; unset: embedded cluster under DATA_DIR/pg"},
		{"tls-cert", CLAW_CFG_STRING, &c->tls_cert, NULL, 0, 0,
		 "PEM certificate file: serve HTTPS (needs --tls-key)"},
		{"tls-key", CLAW_CFG_STRING, &c->tls_key, NULL, 0, 0,
		 "PEM private key file of --tls-cert"},
		{"log-level", CLAW_CFG_STRING, &c->log_level, "info", 0, 0,
		 "debug, info, warn or error"},
		{"migrations-dir", CLAW_CFG_STRING, &c->migrations_dir, NULL, 0,
		 0,
		 "directory of NNNN_name.sql migrations (default: the "
		 "build's " CP_MIGRATIONS_SRC " or " CP_MIGRATIONS_INSTALL ")"},
		{"master-key-file", CLAW_CFG_STRING, &c->master_key_file, NULL,
		 0, 0, "file holding the master key (or env CLAW_MASTER_KEY)"},
		{"pg-bin-dir", CLAW_CFG_STRING, &c->pg_bin_dir, CP_PG_BIN_DIR,
		 0, 0,
		 "directory of initdb and postgres for the embedded "
		 "cluster"},
		{"pg-user", CLAW_CFG_STRING, &c->pg_user, "postgres", 0, 0,
		 "unprivileged user the embedded PostgreSQL runs as when the "
		 "daemon runs as root"},
		{"db-pool-size", CLAW_CFG_INT, &c->db_pool_size, "16", 1, 512,
		 "database connections in the pool"},
		{"db-heartbeat-connections", CLAW_CFG_INT,
		 &c->db_heartbeat_conns, "4", 0, 64,
		 "database connections beyond the pool that only node "
		 "heartbeats take, so a busy pool never makes them late"},
		{"max-body", CLAW_CFG_INT, &c->max_body, "1048576", 1024,
		 64L * 1024 * 1024, "largest request body in bytes"},
		{"http-connection-limit", CLAW_CFG_INT,
		 &c->http_connection_limit, "1024", 16, 65536,
		 "HTTP connections at once, each a thread (every node agent "
		 "holds about two: raise it past about 500 nodes; the open-"
		 "file limit is raised to fit)"},
		{"http-per-ip-limit", CLAW_CFG_INT, &c->http_per_ip_limit,
		 "256", 0, 65535,
		 "HTTP connections one client address may hold (0: no "
		 "limit; behind a proxy every client shares its address)"},
		{"http-head-timeout-s", CLAW_CFG_INT, &c->http_head_timeout_s,
		 "10", 1, 3600,
		 "seconds a client has to send a whole request head (trickled "
		 "bytes do not extend it; also bounds keep-alive idling)"},
		{"http-body-timeout-s", CLAW_CFG_INT, &c->http_body_timeout_s,
		 "30", 1, 3600,
		 "seconds a client has to send a whole request body"},
		{"http-per-token-limit", CLAW_CFG_INT, &c->http_per_token_limit,
		 "32", 0, 65535,
		 "requests one credential may have in flight at once (429 "
		 "beyond; 0: no limit)"},
		{"web-dir", CLAW_CFG_STRING, &c->web_dir, NULL, 0, 0,
		 "directory of the dashboard's files (default: the "
		 "build's " CP_WEB_SRC " or " CP_WEB_INSTALL ")"},
		{"shutdown-grace-ms", CLAW_CFG_INT, &c->shutdown_grace_ms,
		 "10000", 0, 600000,
		 "how long in-flight requests may run after SIGTERM"},
		{"default-gateway-image", CLAW_CFG_STRING,
		 &c->fleet.default_gateway_image, NULL, 0, 0,
		 "gateway image of a deploy that names none (REPO:TAG or "
		 "REPO@sha256:DIGEST, which pins it)"},
		{"default-runtime-image", CLAW_CFG_STRING,
		 &c->fleet.default_runtime_image, NULL, 0, 0,
		 "runtime image of a deploy that names none"},
		{"default-cpus-milli", CLAW_CFG_INT,
		 &c->fleet.default_cpus_milli, "500", 10, 256000,
		 "CPU of the default plan, in thousandths of a CPU"},
		{"default-memory-mb", CLAW_CFG_INT, &c->fleet.default_memory_mb,
		 "256", 16, 1048576, "memory of the default plan in MiB"},
		{"default-pids", CLAW_CFG_INT, &c->fleet.default_pids, "256", 8,
		 65536, "process limit of the default plan"},
		{"default-gateway-config", CLAW_CFG_STRING,
		 &c->fleet.default_gateway_config_file, NULL, 0, 0,
		 "JSON file: the gateway config of a deploy that gives none "
		 "(its \"tenant\" is set to the tenant's slug)"},
		{"default-runtime-config", CLAW_CFG_STRING,
		 &c->fleet.default_runtime_config_file, NULL, 0, 0,
		 "JSON file: the runtime config of a deploy that gives none "
		 "(its \"tenant\" is set to the tenant's slug)"},
		{"default-secret", CLAW_CFG_STRING, &c->fleet.default_secrets,
		 NULL, 0, 0,
		 "fleet default secrets: NAME=FILE entries, comma-separated, "
		 "read at start; a tenant that needs NAME and has not set it "
		 "gets this value (docs/fleet.md, \"Default secrets\")"},
		{"registry-user", CLAW_CFG_STRING, &c->fleet.registry_user,
		 NULL, 0, 0,
		 "fleet registry user for pulls (a deploy may "
		 "name its own credentials)"},
		{"registry-password-file", CLAW_CFG_STRING,
		 &c->fleet.registry_password_file, NULL, 0, 0,
		 "file holding the fleet registry password"},
		{"registry-server", CLAW_CFG_STRING, &c->fleet.registry_server,
		 NULL, 0, 0,
		 "registry host (HOST[:PORT]) that registry-user's credentials "
		 "belong to (default: the default gateway image's)"},
		{"registry-auth", CLAW_CFG_STRING, &c->fleet.registry_auth,
		 NULL, 0, 0,
		 "fleet pull credentials per registry host: "
		 "HOST=USER:PASSWORD_FILE entries, comma-separated; sent only "
		 "for images on that host"},
		{"image-allow", CLAW_CFG_STRING, &c->fleet.image_allow, NULL, 0,
		 0,
		 "the image policy: allowed registry hosts or repository "
		 "prefixes, comma-separated (unset: any image)"},
		{"default-disk-mb", CLAW_CFG_INT, &c->fleet.default_disk_mb,
		 "0", 0, 16777216,
		 "disk of the default plan in MiB: 0 (no limit) or 16 to "
		 "16777216"},
		{"workspace-hosts", CLAW_CFG_STRING, &c->fleet.workspace_hosts,
		 NULL, 0, 0,
		 "hosts a deploy's git workspace may be on: HOST or *.DOMAIN, "
		 "comma-separated (unset: any host name, no addresses)"},
		{"workspace-allow-local", CLAW_CFG_BOOL,
		 &c->fleet.workspace_allow_local, "false", 0, 0,
		 "let deploys name local paths and file:// repositories"},
		{"workspace-timeout-ms", CLAW_CFG_INT,
		 &c->fleet.workspace_timeout_ms, "20000", 100, 600000,
		 "how long listing a workspace's refs may take"},
		{"heartbeat-ms", CLAW_CFG_INT, &c->fleet.heartbeat_ms, "2000",
		 100, 600000, "how often node agents report"},
		{"long-poll-recheck-ms", CLAW_CFG_INT,
		 &c->fleet.long_poll_recheck_ms, "30000", 1000, 600000,
		 "how often a node's waiting long poll reads its generation "
		 "again without being woken (every second while the LISTEN "
		 "connection is down)"},
		{"node-grace-intervals", CLAW_CFG_INT,
		 &c->fleet.grace_intervals, "3", 1, 1000,
		 "missed heartbeats after which a node is down"},
		{"join-token-ttl-s", CLAW_CFG_INT, &c->fleet.join_token_ttl_s,
		 "900", 10, 604800, "default lifetime of a node join token"},
		{"sweep-ms", CLAW_CFG_INT, &c->fleet.sweep_ms, "500", 50, 60000,
		 "period of the scheduler and health sweeps"},
		{"cert-warn-days", CLAW_CFG_INT, &c->fleet.cert_warn_days, "14",
		 1, 90,
		 "alert (cert.expiring) when a certificate an edge serves has "
		 "less than this left and Caddy has not renewed it"},
		{"min-ready-ms", CLAW_CFG_INT, &c->fleet.min_ready_ms, "2000",
		 0, 600000,
		 "a deployment is healthy once both of its containers stayed "
		 "ready this long (a deploy's or rollout's min_ready_ms wins)"},
		{"base-domain", CLAW_CFG_STRING, &c->fleet.base_domain, NULL, 0,
		 0,
		 "the edge's base domain: tenants answer at "
		 "https://SLUG.BASE-DOMAIN/ (unset: no public URLs)"},
		{"migration-database-url", CLAW_CFG_STRING,
		 &c->migration_database_url, NULL, 0, 0,
		 "PostgreSQL URL of the owner role that runs migrations "
		 "(database-url's role then gets only what it needs)"},
		{"audit-checkpoint-file", CLAW_CFG_STRING,
		 &c->audit_checkpoint_file, NULL, 0, 0,
		 "append-only file of signed audit checkpoints (default "
		 "DATA_DIR/audit-checkpoints.jsonl)"},
		{"audit-checkpoint-interval-s", CLAW_CFG_INT,
		 &c->audit_checkpoint_interval_s, "300", 1, 86400,
		 "seconds between audit checkpoints while the log grows"},
		{"audit-signing-key-file", CLAW_CFG_STRING,
		 &c->audit_signing_key_file, NULL, 0, 0,
		 "Ed25519 key that signs audit checkpoints, made on first "
		 "start (default DATA_DIR/audit-signing.key)"},
		{"audit-public-keys-file", CLAW_CFG_STRING,
		 &c->audit_public_keys_file, NULL, 0, 0,
		 "more public keys (hex, one a line) whose checkpoints "
		 "verify, e.g. of an earlier signing key"},
		{"public-url", CLAW_CFG_STRING, &c->public_url, NULL, 0, 0,
		 "the URL browsers reach this control plane at, for the OAuth "
		 "redirect of clawctl mcp connect (default http(s)://LISTEN)"},
		{"oauth-allow-http-loopback", CLAW_CFG_BOOL,
		 &c->oauth_allow_http_loopback, "false", 0, 0,
		 "tests only: let OAuth endpoints of MCP servers be http:// on "
		 "127.0.0.1, localhost or [::1]"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};

	memcpy(o, t, sizeof(t));
}

/* Load the JSON object in the file opt names into *out (NULL when the
 * option is unset); errbuf names the option, the file and the fault. */
static int default_config_load(const char *opt, const char *path, json_t **out,
			       char *errbuf, size_t errlen)
{
	char err[512], *text = NULL;
	size_t len = 0;
	json_error_t e;
	json_t *v;

	*out = NULL;
	if (!path)
		return 0;
	if (claw_file_load(path, DEFAULT_CONFIG_MAX, &text, &len, err,
			   sizeof(err))) {
		snprintf(errbuf, errlen, "%s %s: %s", opt, path, err);
		return -1;
	}
	v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	free(text);
	if (!v) {
		if (e.line > 0)
			snprintf(errbuf, errlen,
				 "%s %s: not valid JSON at "
				 "line %d column %d: %s",
				 opt, path, e.line, e.column, e.text);
		else
			snprintf(errbuf, errlen, "%s %s: %s", opt, path,
				 e.text);
		return -1;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		snprintf(errbuf, errlen,
			 "%s %s: must hold a JSON object (a "
			 "tenant config, see docs/fleet.md)",
			 opt, path);
		return -1;
	}
	*out = v;
	return 0;
}

#define N_OPTS 56 /* room for the table and its terminator */

enum claw_cfg_result cp_config_load(struct cp_config *cfg, int argc,
				    char **argv, char *errbuf, size_t errlen)
{
	struct claw_cfg_opt opts[N_OPTS];
	enum claw_cfg_result r;

	memset(cfg, 0, sizeof(*cfg));
	opts_fill(cfg, opts);
	r = claw_cfg_load(opts, "CLAW", usage, argc, argv, errbuf, errlen);
	if (r != CLAW_CFG_OK)
		return r;
	if (claw_log_level_parse(cfg->log_level) < 0) {
		snprintf(errbuf, errlen,
			 "log-level '%s' is not one of debug, info, warn, "
			 "error",
			 cfg->log_level);
		return CLAW_CFG_ERROR;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(errbuf, errlen,
			 "tls-cert and tls-key go together: give both or "
			 "neither");
		return CLAW_CFG_ERROR;
	}
	if (!cp_plan_disk_valid(cfg->fleet.default_disk_mb)) {
		snprintf(errbuf, errlen,
			 "default-disk-mb must be 0 (no limit) or 16 to "
			 "16777216 (the node agent's smallest disk is 16 MiB)");
		return CLAW_CFG_ERROR;
	}
	if (cfg->fleet.base_domain) {
		char norm[CP_DOMAIN_MAX + 1];

		if (!cp_domain_norm(cfg->fleet.base_domain, norm) ||
		    strlen(norm) > CP_DOMAIN_MAX - 64) {
			snprintf(errbuf, errlen,
				 "base-domain must be a DNS name (labels of "
				 "a-z 0-9 -, at most %d characters), such as "
				 "claw.example.com",
				 CP_DOMAIN_MAX - 64);
			return CLAW_CFG_ERROR;
		}
		memcpy(cfg->fleet.base_domain, norm, strlen(norm) + 1);
	}
	if (cfg->database_url && !cfg->database_url[0]) {
		snprintf(errbuf, errlen,
			 "database-url is empty; leave it unset for the "
			 "embedded database");
		return CLAW_CFG_ERROR;
	}
	if (default_config_load("default-gateway-config",
				cfg->fleet.default_gateway_config_file,
				&cfg->fleet.default_gateway_config, errbuf,
				errlen) ||
	    default_config_load("default-runtime-config",
				cfg->fleet.default_runtime_config_file,
				&cfg->fleet.default_runtime_config, errbuf,
				errlen))
		return CLAW_CFG_ERROR;
	if (!cfg->migrations_dir) {
		const char *d = is_dir(CP_MIGRATIONS_SRC)
			? CP_MIGRATIONS_SRC
			: CP_MIGRATIONS_INSTALL;

		cfg->migrations_dir = strdup(d);
		if (!cfg->migrations_dir) {
			snprintf(errbuf, errlen, "out of memory");
			return CLAW_CFG_ERROR;
		}
	}
	if (!cfg->web_dir) {
		cfg->web_dir = strdup(is_dir(CP_WEB_SRC) ? CP_WEB_SRC
							 : CP_WEB_INSTALL);
		if (!cfg->web_dir) {
			snprintf(errbuf, errlen, "out of memory");
			return CLAW_CFG_ERROR;
		}
	}
	return CLAW_CFG_OK;
}

void cp_config_release(struct cp_config *cfg)
{
	struct claw_cfg_opt opts[N_OPTS];

	opts_fill(cfg, opts);
	claw_cfg_release(opts);
	json_decref(cfg->fleet.default_gateway_config);
	json_decref(cfg->fleet.default_runtime_config);
	cfg->fleet.default_gateway_config = NULL;
	cfg->fleet.default_runtime_config = NULL;
}
