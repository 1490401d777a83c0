/*
 * main.c - claw-gateway: flags, start-up order and signals.
 *
 * Start: config and secrets (refuse to start on a missing or malformed
 * one), workers, the journal (whose unanswered entries are queued again),
 * the HTTP server, the egress proxy and, when configured, the channels
 * the gateway pulls from (Telegram long polling, Slack Socket Mode, the
 * Discord Gateway, Matrix /sync, Signal's event stream) and Telegram's
 * setWebhook in webhook mode (tghook.c). Signals go through the daemon skeleton
 * (claw/daemon.h): SIGHUP reloads the config and secrets (a bad new
 * config is logged and the old one kept), every 10 s freed heap is given
 * back to the system, and SIGTERM/SIGINT stop gracefully.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/httpc.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "gw.h"

static char *o_config, *o_listen, *o_runtime, *o_proxy, *o_secrets, *o_data,
	*o_peer, *o_level;
static long o_runtime_timeout, o_retry_max, o_max_body;
static bool o_log_nb;

static const struct claw_cfg_opt opts[] = {
	{"config", CLAW_CFG_STRING, &o_config, "/etc/claw/gateway.json", 0, 0,
	 "the gateway's JSON config, described in docs/gateway.md"},
	{"listen", CLAW_CFG_STRING, &o_listen, "0.0.0.0:8080", 0, 0,
	 "address:port of the channel webhooks, web chat, API and probes"},
	{"runtime-url", CLAW_CFG_STRING, &o_runtime, "http://runtime:8081", 0,
	 0, "base URL of the tenant's agent runtime"},
	{"proxy-listen", CLAW_CFG_STRING, &o_proxy, "0.0.0.0:3128", 0, 0,
	 "address:port of the egress allow-list proxy (\"off\" disables it)"},
	{"secrets-dir", CLAW_CFG_STRING, &o_secrets, "/run/claw/secrets", 0, 0,
	 "directory with one file per secret"},
	{"data-dir", CLAW_CFG_STRING, &o_data, "/var/lib/claw", 0, 0,
	 "tenant data volume; the journal is in DATA-DIR/gateway"},
	{"peer-data-dir", CLAW_CFG_STRING, &o_peer, "/var/lib/claw-peer", 0, 0,
	 "the other blue/green slot's data volume, read only (\"\" for none): "
	 "what its gateway answered is not replayed from this journal"},
	{"log-level", CLAW_CFG_STRING, &o_level, "info", 0, 0,
	 "debug, info, warn or error"},
	{"log-nonblocking", CLAW_CFG_BOOL, &o_log_nb, "false", 0, 0,
	 "a log line the reader of a stderr pipe has no room for is dropped "
	 "and counted, not waited for (containers: dockerd reads the pipe)"},
	{"runtime-timeout-ms", CLAW_CFG_INT, &o_runtime_timeout, "300000", 1000,
	 3600000, "longest wait for one runtime answer"},
	{"retry-max-ms", CLAW_CFG_INT, &o_retry_max, "60000", 10, 3600000,
	 "ceiling of the retry backoff for the runtime and channel APIs"},
	{"max-body", CLAW_CFG_INT, &o_max_body, "1048576", 1024, 16777216,
	 "largest request body accepted, in bytes"},
	{NULL},
};

static const char usage[] =
	"claw-gateway: the per-tenant gateway. Verifies and journals inbound\n"
	"channel messages, routes them to the runtime and sends the replies;\n"
	"runs the egress allow-list proxy.";

static void replay_one(json_t *env, void *cls)
{
	json_array_append(cls, env);
}

static void queue_replayed(struct gw *g, json_t *envs)
{
	size_t i;
	json_t *env;
	json_array_foreach(envs, i, env) {
		struct gw_job *job = calloc(1, sizeof(*job));
		if (!job)
			return;
		job->env = json_incref(env);
		job->journaled = true;
		job->accepted_at = gw_now();
		gw_sched_push(g->sched, job);
	}
}

/* SIGHUP: the config file and the secrets again. */
static enum claw_rc reload(void *cls)
{
	struct gw *g = cls;
	char err[600];
	struct gw_conf *c = NULL;
	if (gw_conf_load(o_config, o_secrets, &c, err, sizeof(err))) {
		log_error("reload refused, keeping the running config: %s",
			  err);
		return CLAW_ERR_INVALID;
	}
	gw_policy_prune(g->policy, c);
	log_info("config reloaded (tenant %s%s)", c->tenant,
		 c->suspended ? ", suspended" : "");
	gw_conf_swap(g, c);
	return CLAW_OK;
}

/* Every 10 s: give freed heap back to the system (a burst of messages
 * should not stay resident). */
static void trim(void *cls)
{
	(void)cls;
	malloc_trim(0);
}

/* The background threads of the channels the gateway pulls from or keeps
 * a socket to (each when configured), and Telegram's setWebhook worker. */
#define GW_PULLERS 9

/* One more thread in bg[*n] for channel ch (-1: no connection state);
 * false when out of memory (state released). */
static bool puller(struct gw *g, int ch, void *state, bool stateful,
		   gw_bg_round round, void (*release)(void *),
		   struct gw_bg **bg, size_t *n)
{
	if ((stateful && !state) || *n >= GW_PULLERS) {
		if (state)
			release(state);
		return false;
	}
	return gw_bg_start_release(g, ch, round, state, release, &bg[(*n)++]) ==
		CLAW_OK;
}

static bool mode_is(const struct gw_chan_conf *cc, const char *mode)
{
	return cc->enabled && cc->mode && strcmp(cc->mode, mode) == 0;
}

static void free_state(void *p)
{
	free(p);
}

static enum claw_rc start_pullers(struct gw *g, struct gw_bg **bg)
{
	const struct gw_chan_conf *ch = g->conf->ch;
	size_t n = 0;
	bool ok = true;

	if (mode_is(&ch[GW_CH_TELEGRAM], "polling"))
		ok = puller(g, GW_CH_TELEGRAM, calloc(1, sizeof(long long)),
			    true, gw_tgpoll_round, free_state, bg, &n);
	else if (ch[GW_CH_TELEGRAM].enabled) {
		/* webhook mode: setWebhook when webhook_url is (or, after a
		 * reload, becomes) set; the platform's deliveries are the
		 * channel's state, not this thread */
		g->tghook = gw_tghook_new();
		ok = puller(g, -1, g->tghook, true, gw_tghook_round,
			    gw_tghook_free, bg, &n);
		if (!ok)
			g->tghook = NULL;
	}
	if (ok && mode_is(&ch[GW_CH_SLACK], "socket"))
		ok = puller(g, GW_CH_SLACK, NULL, false, gw_slacksock_round,
			    free_state, bg, &n);
	if (ok && ch[GW_CH_DISCORD].enabled && ch[GW_CH_DISCORD].gateway)
		ok = puller(g, GW_CH_DISCORD, gw_discordgw_new(), true,
			    gw_discordgw_round, free_state, bg, &n);
	if (ok && ch[GW_CH_MATRIX].enabled &&
	    !gw_matrix_appservice(&ch[GW_CH_MATRIX]))
		ok = puller(g, GW_CH_MATRIX, gw_matrix_new(), true,
			    gw_matrix_round, gw_matrix_free, bg, &n);
	if (ok && mode_is(&ch[GW_CH_MATTERMOST], "websocket"))
		ok = puller(g, GW_CH_MATTERMOST, gw_mmws_new(), true,
			    gw_mmws_round, free_state, bg, &n);
	if (ok && ch[GW_CH_SIGNAL].enabled)
		ok = puller(g, GW_CH_SIGNAL, gw_signal_new(), true,
			    gw_signal_round, free_state, bg, &n);
	if (ok && ch[GW_CH_IRC].enabled)
		ok = puller(g, GW_CH_IRC, gw_irc_new(), true, gw_irc_round,
			    gw_irc_free, bg, &n);
	if (ok && ch[GW_CH_EMAIL].enabled)
		ok = puller(g, GW_CH_EMAIL, gw_email_new(), true,
			    gw_email_round, free_state, bg, &n);
	return ok ? CLAW_OK : CLAW_ERR_NOMEM;
}

int main(int argc, char **argv)
{
	static struct gw g;
	char err[600];
	int status = 1;
	struct claw_httpd *httpd = NULL;
	struct gw_proxy *proxy = NULL;
	struct gw_bg *bg[GW_PULLERS] = {0};
	json_t *replayed = json_array();
	char *jdir = NULL, *pdir = NULL;
	/* the HTTP server's 5 s grace, then the pullers, workers, journal */
	const struct claw_daemon_config dc = {
		.reload = reload,
		.tick = trim,
		.tick_ms = 10000,
		.cls = &g,
		.stop_timeout_ms = 30000,
	};

	/* few malloc arenas: dozens of threads, a small footprint per tenant */
	mallopt(M_ARENA_MAX, 2);
	switch (claw_cfg_load(opts, "CLAW_GATEWAY", usage, argc, argv, err,
			      sizeof(err))) {
	case CLAW_CFG_HELP:
		json_decref(replayed);
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-gateway: %s\n", err);
		json_decref(replayed);
		claw_cfg_release(opts);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	int level = claw_log_level_parse(o_level);
	if (level < 0) {
		fprintf(stderr,
			"claw-gateway: unknown log level '%s'; use debug, "
			"info, warn or error\n",
			o_level);
		status = 2;
		goto out;
	}
	claw_log_init("gateway", (enum claw_log_level)level, NULL);
	if (o_log_nb && claw_log_nonblocking())
		log_warn("the log stays blocking: %s", strerror(errno));
	if (claw_crypto_init() || claw_httpc_global_init()) {
		fprintf(stderr,
			"claw-gateway: unable to initialise libraries\n");
		goto out;
	}
	pthread_mutex_init(&g.conf_mu, NULL);
	if (gw_auth_init(&g)) {
		fprintf(stderr, "claw-gateway: out of memory\n");
		goto out;
	}
	if (gw_conf_load(o_config, o_secrets, &g.conf, err, sizeof(err))) {
		fprintf(stderr, "claw-gateway: %s\n", err);
		status = 2;
		goto out;
	}
	g.runtime_url = o_runtime;
	g.data_dir = o_data;
	g.runtime_timeout_ms = o_runtime_timeout;
	g.send_retry_max_ms = o_retry_max;

	/* signals go to claw_daemon_run, not to the threads started next */
	if (claw_daemon_init(&dc)) {
		fprintf(stderr, "claw-gateway: unable to block signals\n");
		goto out;
	}

	if (gw_policy_new(&g.policy) || gw_webchat_new(&g.webchat) ||
	    gw_sched_start((unsigned)g.conf->workers, gw_deliver, &g,
			   &g.sched)) {
		fprintf(stderr, "claw-gateway: unable to start the workers\n");
		goto out;
	}
	mkdir(o_data, 0700); /* usually the mounted volume: already there */
	if (asprintf(&jdir, "%s/gateway", o_data) < 0) {
		jdir = NULL;
		goto out;
	}
	if (*o_peer && asprintf(&pdir, "%s/gateway", o_peer) < 0) {
		pdir = NULL;
		goto out;
	}
	if (gw_journal_open(jdir, pdir, g.conf->compact_bytes, &g.journal,
			    replay_one, replayed, err, sizeof(err))) {
		fprintf(stderr, "claw-gateway: %s\n", err);
		goto out;
	}
	gw_journal_bound(g.journal, g.sched, g.conf->max_backlog,
			 g.conf->max_journal_pending);
	if (gw_quota_open(&g, &g.quota))
		goto out;
	queue_replayed(&g, replayed);

	struct claw_httpd_config hc = {
		.listen = o_listen,
		.max_body = (size_t)o_max_body,
		.routes = gw_routes,
		.n_routes = gw_n_routes,
		.ctx = &g,
	};
	if (claw_httpd_start(&hc, &httpd, err, sizeof(err))) {
		fprintf(stderr, "claw-gateway: %s\n", err);
		goto out;
	}
	if (strcmp(o_proxy, "off") != 0 &&
	    gw_proxy_start(&g, o_proxy, &proxy, err, sizeof(err))) {
		fprintf(stderr, "claw-gateway: %s\n", err);
		goto out;
	}
	if (start_pullers(&g, bg)) {
		fprintf(stderr,
			"claw-gateway: unable to start the polling and "
			"WebSocket channels\n");
		goto out;
	}
	log_info("gateway for tenant %s listening on port %u, proxy on port %u",
		 g.conf->tenant, (unsigned)claw_httpd_port(httpd),
		 proxy ? (unsigned)gw_proxy_port(proxy) : 0u);
	/* for supervisors and tests that bind port 0 */
	printf("listening on http://%.*s:%u\n",
	       (int)(strrchr(o_listen, ':') - o_listen), o_listen,
	       (unsigned)claw_httpd_port(httpd));
	if (proxy)
		printf("proxy listening on %.*s:%u\n",
		       (int)(strrchr(o_proxy, ':') - o_proxy), o_proxy,
		       (unsigned)gw_proxy_port(proxy));
	fflush(stdout);
	claw_daemon_set_ready(true);
	if (claw_daemon_run() == CLAW_OK)
		status = 0;
out:
	gw_stop(&g);
	claw_httpd_shutdown(httpd, 5000);
	g.tghook = NULL; /* freed by gw_bg_stop */
	for (size_t i = 0; i < GW_PULLERS; i++)
		gw_bg_stop(bg[i]);
	gw_sched_stop(g.sched);
	gw_proxy_stop(proxy);
	gw_journal_close(g.journal);
	gw_webchat_free(g.webchat);
	gw_policy_free(g.policy);
	gw_quota_free(g.quota);
	gw_conf_put(g.conf);
	gw_auth_release(&g);
	json_decref(replayed);
	gw_replay_release();
	free(jdir);
	free(pdir);
	claw_httpc_global_cleanup();
	claw_cfg_release(opts);
	claw_daemon_stopped();
	return status;
}
