/*
 * main.c - claw-runtime: the per-tenant agent runtime. Loads its flags
 * (claw_cfg_load) and its JSON config, checks out the workspace, starts
 * the MCP servers and serves the message API until SIGTERM/SIGINT. Signals
 * go through the daemon skeleton (claw/daemon.h). SIGHUP reloads: the new
 * config is loaded and checked first, then the server is stopped
 * gracefully and started again with it (a bad config is logged and the old
 * one kept; a new one that fails to start stops the runtime with status
 * 1). "claw-runtime mcp ..." runs the operator subcommands.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "approvals.h"
#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/httpc.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "mcp_cli.h"
#include "prompt.h"
#include "server.h"
#include "workspace.h"

static char *opt_config, *opt_secrets, *opt_data, *opt_listen, *opt_log;
static bool opt_log_nb;

static const struct claw_cfg_opt opts[] = {
	{"config", CLAW_CFG_STRING, &opt_config, "/etc/claw/runtime.json", 0, 0,
	 "the JSON config (see docs/runtime.md)"},
	{"secrets-dir", CLAW_CFG_STRING, &opt_secrets, "/run/claw/secrets", 0,
	 0, "directory of secret files (one value per file)"},
	{"data-dir", CLAW_CFG_STRING, &opt_data, "/var/lib/claw", 0, 0,
	 "the tenant's volume: sessions, memory, usage, workspace"},
	{"listen", CLAW_CFG_STRING, &opt_listen, "0.0.0.0:8081", 0, 0,
	 "address and port of the message API"},
	{"log-level", CLAW_CFG_STRING, &opt_log, "info", 0, 0,
	 "debug, info, warn or error"},
	{"log-nonblocking", CLAW_CFG_BOOL, &opt_log_nb, "false", 0, 0,
	 "a log line the reader of a stderr pipe has no room for is dropped "
	 "and counted, not waited for (containers: dockerd reads the pipe)"},
	{NULL, 0, NULL, NULL, 0, 0, NULL},
};

static const char usage[] =
	"The per-tenant agent runtime: answers the gateway's messages with an "
	"LLM and MCP tools.\n"
	"Subcommands: 'claw-runtime mcp list|call --help' try an MCP server.";

static void agent_release(struct rt_agent *a)
{
	rt_tools_close(a->tools);
	rt_approvals_close(a->approvals);
	claw_secret_free(a->admin_token);
	rt_sessions_close(a->sessions);
	rt_usage_close(a->usage);
	/* A reload releases the agent, then agent_init clears it before it can
	 * fail; the analyzer follows the pointer across the clearing. */
	free(a->system_prompt); /* NOLINT(clang-analyzer-unix.Malloc) */
	rt_config_release(&a->cfg);
	*a = (struct rt_agent){0};
}

/* Everything but the HTTP server, from a loaded config (consumed). On
 * failure err says why and the caller releases a. */
static enum claw_rc agent_init(struct rt_agent *a, struct rt_config *cfg,
			       char *err, size_t errlen)
{
	char dir[4096], path[4200];
	enum claw_rc rc;
	*a = (struct rt_agent){0};
	a->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	a->data_dir = opt_data;
	dir[0] = '\0';
	if (a->cfg.workspace.repo || a->cfg.workspace.path) {
		rc = rt_workspace_sync(&a->cfg, opt_data, dir, sizeof(dir),
				       a->workspace_commit, err, errlen);
		if (rc)
			return rc;
	}
	/* a workspace's files win over the config's persona (prompt.h); a
	 * reload builds the prompt again, so a new persona takes effect on
	 * the next turn */
	a->system_prompt = rt_prompt_load(dir[0] ? dir : NULL, &a->cfg.persona,
					  err, errlen);
	if (!a->system_prompt)
		return CLAW_ERR_IO;
	snprintf(a->memory_dir, sizeof(a->memory_dir), "%s/memory", opt_data);
	snprintf(path, sizeof(path), "%s/sessions", opt_data);
	/* Keep twice the prompt budget in memory (about 4 bytes a token). */
	rc = rt_sessions_open(path, (size_t)a->cfg.limits.session_cache,
			      (size_t)a->cfg.limits.context_tokens * 8,
			      &a->sessions, err, errlen);
	if (rc)
		return rc;
	/* The approvals API's token (optional: without it the API is off). */
	rc = claw_secret_read(opt_secrets, "admin_token", &a->admin_token, NULL,
			      err, errlen);
	if (rc == CLAW_ERR_NOT_FOUND)
		a->admin_token = NULL;
	else if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/approvals", opt_data);
	rc = rt_approvals_open(path, &a->approvals, err, errlen);
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/usage.json", opt_data);
	if (rt_usage_open(path, a->cfg.tenant, &a->usage)) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	return rt_tools_open(&a->cfg, a->memory_dir, &a->tools, err, errlen);
}

/* The agent and its server: what a reload replaces. */
struct rt_main {
	const char *config_path;
	struct rt_agent a;
	struct claw_httpd *httpd;
	bool serving;
};

/* Start the agent and its server from cfg (consumed). */
static enum claw_rc serve(struct rt_main *m, struct rt_config *cfg)
{
	char err[600];
	enum claw_rc rc = agent_init(&m->a, cfg, err, sizeof(err));
	if (!rc)
		rc = rt_server_start(&m->a, opt_listen, &m->httpd, err,
				     sizeof(err));
	if (rc) {
		log_error("unable to start: %s", err);
		agent_release(&m->a);
		return rc;
	}
	m->serving = true;
	log_info("listening on %s (port %u), tenant '%s'", opt_listen,
		 claw_httpd_port(m->httpd), m->a.cfg.tenant);
	claw_daemon_set_ready(true);
	return CLAW_OK;
}

/* Stop the server gracefully (in-flight turns finish), then the agent. */
static void unserve(struct rt_main *m, const char *why)
{
	if (!m->serving)
		return;
	log_info("%s: stopping the server", why);
	claw_daemon_set_ready(false);
	rt_server_stop(&m->a, m->httpd, 30000);
	m->httpd = NULL;
	agent_release(&m->a);
	m->serving = false;
}

/* SIGHUP: check the new config first, then restart with it. */
static enum claw_rc reload(void *cls)
{
	struct rt_main *m = cls;
	struct rt_config cfg;
	char err[600];
	enum claw_rc rc = rt_config_load(m->config_path, opt_secrets, &cfg, err,
					 sizeof(err));
	if (rc) {
		log_error("reload: %s; keeping the running config", err);
		return rc;
	}
	unserve(m, "reloading");
	rc = serve(m, &cfg);
	if (rc)
		claw_daemon_stop(rc); /* nothing serves any more */
	return rc;
}

static int run(const char *config_path)
{
	struct rt_main m = {.config_path = config_path};
	struct rt_config cfg;
	char err[600];
	/* the server's 30 s grace, then the MCP servers and the stores */
	const struct claw_daemon_config dc = {
		.reload = reload,
		.cls = &m,
		.stop_timeout_ms = 45000,
	};
	enum claw_rc rc;

	if (claw_daemon_init(&dc)) {
		log_error("unable to block signals");
		return 1;
	}
	if (rt_config_load(config_path, opt_secrets, &cfg, err, sizeof(err))) {
		log_error("config: %s", err);
		return 2;
	}
	if (serve(&m, &cfg))
		return 1;
	rc = claw_daemon_run();
	unserve(&m, "shutting down");
	claw_daemon_stopped();
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	char err[600];
	int rc;
	if (argc > 1 && strcmp(argv[1], "mcp") == 0) {
		signal(SIGPIPE, SIG_IGN);
		claw_log_init("runtime", CLAW_LOG_WARN, NULL);
		claw_crypto_init();
		claw_httpc_global_init();
		rc = rt_mcp_cli(argc - 1, argv + 1);
		claw_httpc_global_cleanup();
		return rc;
	}
	switch (claw_cfg_load(opts, "CLAW_RUNTIME", usage, argc, argv, err,
			      sizeof(err))) {
	case CLAW_CFG_HELP:
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-runtime: %s\n", err);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	int level = claw_log_level_parse(opt_log);
	if (level < 0) {
		fprintf(stderr, "claw-runtime: unknown log level '%s'\n",
			opt_log);
		claw_cfg_release(opts);
		return 2;
	}
	claw_log_init("runtime", (enum claw_log_level)level, NULL);
	if (opt_log_nb && claw_log_nonblocking())
		log_warn("the log stays blocking: %s", strerror(errno));
	if (claw_crypto_init() || claw_httpc_global_init()) {
		log_error("unable to initialise libsodium or libcurl");
		claw_cfg_release(opts);
		return 1;
	}
	if (mkdir(opt_data, 0700) != 0 && errno != EEXIST)
		log_warn("unable to create data dir '%s': %s", opt_data,
			 strerror(errno));
	rc = run(opt_config);
	claw_httpc_global_cleanup();
	claw_cfg_release(opts);
	return rc;
}
