/*
 * main.c - claw-controlplane: load the config, bring up the database
 * (embedded or given), migrate, run the start-up hooks, serve the API until
 * SIGTERM/SIGINT, then shut down gracefully (in-flight requests finish).
 *
 * Signals go through the daemon skeleton (claw/daemon.h): blocked in every
 * thread and taken in the main thread, which also notices the embedded
 * PostgreSQL dying (SIGCHLD) and then stops with status 1. SIGHUP is
 * ignored (the config is read at start only).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "alert.h"
#include "api/api.h"
#include "backup.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/healthcheck.h"
#include "claw/httpc.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "config.h"
#include "cp.h"
#include "db_roles.h"
#include "metrics.h"
#include "migrate.h"
#include "pg_embedded.h"
#include "relay.h"

/* `claw-controlplane healthcheck [URL]`: GET URL, by default /readyz on
 * 127.0.0.1 at the port of CLAW_LISTEN (7070 without it); exit 0 ready,
 * 1 not, 2 bad usage (claw/healthcheck.h). */
static int healthcheck(int argc, char **argv)
{
	const char *listen = getenv("CLAW_LISTEN");
	const char *port = listen ? strrchr(listen, ':') : NULL;
	char url[300];

	if (argc > 3 ||
	    (argc == 3 && strncmp(argv[2], "http://", 7) &&
	     strncmp(argv[2], "https://", 8))) {
		fprintf(stderr, "usage: claw-controlplane healthcheck [URL]\n");
		return 2;
	}
	if (argc == 3)
		snprintf(url, sizeof(url), "%s", argv[2]);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%s/readyz",
			 port && port[1] ? port + 1 : "7070");
	return claw_healthcheck("claw-controlplane", url, NULL, stdout);
}

static int make_data_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_error("unable to create data-dir '%s': %s", dir,
			  strerror(errno));
		return -1;
	}
	return 0;
}

static int open_database(struct cp_ctx *ctx, struct cp_pg **pg)
{
	char conninfo[1400], err[512];
	const char *url = ctx->cfg.database_url;

	if (!url) {
		if (cp_pg_start(&ctx->cfg, pg, conninfo, sizeof(conninfo), err,
				sizeof(err))) {
			log_error("%s", err);
			return -1;
		}
		ctx->embedded_pg = true;
		url = conninfo;
	}
	if (claw_db_open_reserve(url, (unsigned)ctx->cfg.db_pool_size,
				 (unsigned)ctx->cfg.db_heartbeat_conns,
				 &ctx->db, err, sizeof(err))) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static int migrate(struct cp_ctx *ctx)
{
	char err[1024];
	PGconn *c = claw_db_acquire(ctx->db);
	int rc;

	if (!c)
		return -1;
	rc = cp_migrate(c, ctx->cfg.migrations_dir, &ctx->schema_version, err,
			sizeof(err));
	claw_db_release(ctx->db, c);
	if (rc)
		log_error("%s", err);
	else
		log_info("schema at version %d", ctx->schema_version);
	return rc;
}

static int start_hooks(struct cp_ctx *ctx, size_t *started)
{
	char err[512];

	for (*started = 0; *started < cp_hooks_n; (*started)++) {
		const struct cp_hook *h = &cp_hooks[*started];

		err[0] = '\0';
		if (h->start(ctx, err, sizeof(err))) {
			log_error("start-up step '%s' failed: %s", h->name,
				  err);
			return -1;
		}
	}
	return 0;
}

static void stop_hooks(struct cp_ctx *ctx, size_t started)
{
	while (started > 0) {
		const struct cp_hook *h = &cp_hooks[--started];

		if (h->stop)
			h->stop(ctx);
	}
}

/* SIGCHLD (cls: main's struct cp_pg *, NULL while there is none): the
 * embedded PostgreSQL dying stops the control plane. */
static enum claw_rc child_exited(void *cls)
{
	struct cp_pg *pg = *(struct cp_pg **)cls;
	int status;

	if (pg && cp_pg_pid(pg) > 0 &&
	    waitpid(cp_pg_pid(pg), &status, WNOHANG) == cp_pg_pid(pg)) {
		cp_pg_exited(pg);
		log_error("the embedded PostgreSQL exited; see "
			  "DATA_DIR/pg.log; stopping");
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

/* Serve until SIGTERM/SIGINT (0) or the embedded postgres dying (-1). */
static int serve(struct cp_ctx *ctx)
{
	struct claw_httpd_config hc = {0};
	struct claw_route *routes = NULL;
	struct claw_httpd *h = NULL;
	char err[512], host[256];
	const char *colon;
	int rc;

	if (cp_routes_build(&routes, &hc.n_routes))
		return -1;
	ctx->metrics = cp_metrics_new(routes, hc.n_routes);
	if (!ctx->metrics) {
		free(routes);
		return -1;
	}
	hc.listen = ctx->cfg.listen;
	hc.tls_cert = ctx->cfg.tls_cert;
	hc.tls_key = ctx->cfg.tls_key;
	hc.max_body = (size_t)ctx->cfg.max_body;
	hc.connection_limit = (unsigned)ctx->cfg.http_connection_limit;
	hc.per_ip_limit = ctx->cfg.http_per_ip_limit
		? (unsigned)ctx->cfg.http_per_ip_limit
		: CLAW_HTTPD_NO_LIMIT;
	hc.head_timeout_s = (unsigned)ctx->cfg.http_head_timeout_s;
	hc.body_timeout_s = (unsigned)ctx->cfg.http_body_timeout_s;
	hc.per_token_limit = ctx->cfg.http_per_token_limit
		? (unsigned)ctx->cfg.http_per_token_limit
		: CLAW_HTTPD_NO_LIMIT;
	hc.routes = routes;
	hc.ctx = ctx;
	hc.observer = cp_metrics_observe;
	if (claw_httpd_start(&hc, &h, err, sizeof(err))) {
		log_error("%s", err);
		free(routes);
		return -1;
	}
	/* before the line that tells supervisors and tests it serves: a
	 * /metrics asked at once has the server's figures */
	cp_metrics_set_httpd(ctx->metrics, h);
	colon = strrchr(ctx->cfg.listen, ':');
	snprintf(host, sizeof(host), "%.*s",
		 (int)(colon ? colon - ctx->cfg.listen : 0), ctx->cfg.listen);
	log_info("serving on %s://%s:%u", ctx->cfg.tls_cert ? "https" : "http",
		 host, claw_httpd_port(h));
	printf("claw-controlplane listening on %s://%s:%u\n",
	       ctx->cfg.tls_cert ? "https" : "http", host, claw_httpd_port(h));
	fflush(stdout);
	claw_daemon_set_ready(true);
	rc = claw_daemon_run() ? -1 : 0;
	cp_metrics_set_httpd(ctx->metrics, NULL);
	claw_httpd_shutdown(h, (unsigned)ctx->cfg.shutdown_grace_ms);
	free(routes);
	return rc;
}

int main(int argc, char **argv)
{
	struct cp_ctx ctx = {0};
	struct cp_pg *pg = NULL;
	size_t hooks = 0;
	struct claw_daemon_config dc = {.child = child_exited, .cls = &pg};
	char err[512];
	int rc = 1;

	if (argc > 1 && cp_backup_is_command(argv[1]))
		return cp_backup_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "healthcheck"))
		return healthcheck(argc, argv);
	switch (cp_config_load(&ctx.cfg, argc, argv, err, sizeof(err))) {
	case CLAW_CFG_HELP:
		cp_backup_usage(stdout);
		fputs("  healthcheck [URL]\n      GET URL (default "
		      "http://127.0.0.1:PORT/readyz, PORT from CLAW_LISTEN or "
		      "7070): exit 0 when it answers 200, else 1 with one line "
		      "saying why (container health checks)\n",
		      stdout);
		cp_config_release(&ctx.cfg);
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-controlplane: %s\n", err);
		cp_config_release(&ctx.cfg);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	claw_log_init(
		"controlplane",
		(enum claw_log_level)claw_log_level_parse(ctx.cfg.log_level),
		NULL);
	ctx.master_key_env = getenv("CLAW_MASTER_KEY");
	/* the requests' grace, then the hooks and the embedded PostgreSQL's
	 * own stop (up to a minute) */
	dc.stop_timeout_ms = (unsigned)ctx.cfg.shutdown_grace_ms + 90000;
	if (claw_daemon_init(&dc)) {
		log_error("unable to block signals");
		goto out;
	}
	/* libcurl before any thread: the alerts' notifications use it */
	if (claw_crypto_init() || claw_httpc_global_init() ||
	    make_data_dir(ctx.cfg.data_dir))
		goto out;
	if (open_database(&ctx, &pg) || cp_db_roles_setup(&ctx) ||
	    (!ctx.db_split && migrate(&ctx)) || start_hooks(&ctx, &hooks))
		goto out;
	if (cp_alerts_start(&ctx, err, sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	rc = serve(&ctx) ? 1 : 0;
out:
	cp_alerts_stop(&ctx);
	stop_hooks(&ctx, hooks);
	cp_relay_stop();
	claw_db_close(ctx.db);
	cp_pg_stop(pg);
	cp_metrics_free(ctx.metrics);
	cp_config_release(&ctx.cfg);
	log_info("stopped");
	claw_httpc_global_cleanup();
	claw_daemon_stopped();
	return rc;
}
