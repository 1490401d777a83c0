/*
 * main.c - claw-node-agent: drives Docker on one node so that the tenants
 * assigned to it run, hardened and healthy. See docs/node-agent.md.
 *
 * Start: flags, the state files, then (signals blocked by the daemon
 * skeleton, claw/daemon.h) the local API on its owner-only unix socket
 * and the reconcile, Docker event and desired-state threads, and the
 * edge thread with --edge-admin (all or none: threads.h). SIGTERM/SIGINT stop them and exit 0; a thread that cannot
 * start, or a worker pool that cannot, exits 1. SIGHUP is ignored (the
 * desired state is watched, not reloaded).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "api.h"
#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/healthcheck.h"
#include "claw/httpc.h"
#include "claw/log.h"
#include "claw/urls.h"
#include "gc.h"
#include "seccomp.h"
#include "source_cp.h"
#include "spec.h"
#include "threads.h"

static const char usage[] =
	"claw-node-agent: runs the tenants assigned to this node in Docker "
	"(hardened gateway and runtime containers), watches and heals them, "
	"and reports what runs. Desired state comes from the control plane "
	"(--control-plane URL; the first start joins with --join-token or "
	"CLAW_JOIN_TOKEN) or from --desired-file (standalone).";

/* `claw-node-agent healthcheck [SOCKET]`: GET /readyz of the local API on
 * SOCKET (default: CLAW_NODE_AGENT_API_SOCKET, else the --api-socket
 * default); exit 0 ready, 1 not, 2 bad usage (claw/healthcheck.h). */
static int healthcheck(int argc, char **argv)
{
	const char *sock = getenv("CLAW_NODE_AGENT_API_SOCKET");

	if (argc > 3 || (argc == 3 && argv[2][0] != '/')) {
		fprintf(stderr,
			"usage: claw-node-agent healthcheck [SOCKET]\n");
		return 2;
	}
	if (argc == 3)
		sock = argv[2];
	else if (!sock || !sock[0])
		sock = "/run/claw-node-agent/api.sock";
	return claw_healthcheck("claw-node-agent", "http://agent/readyz", sock,
				stdout);
}

/* Make every thread of the agent return (they watch a->stop). */
static void agent_stop(void *cls)
{
	struct na_agent *a = cls;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	na_agent_wake(a);
	pthread_cond_broadcast(&a->edge.cond);
	pthread_mutex_unlock(&a->mu);
}

/* --NAME-subnet: unset, or an IPv4 network A.B.C.D/N with N 8..30 and no
 * host bits; false (said on stderr) when not. */
static bool subnet_ok(const char *name, const char *cidr)
{
	if (!cidr || na_cidr_parse(cidr, NULL))
		return true;
	fprintf(stderr,
		"claw-node-agent: --%s-subnet must be an IPv4 network "
		"A.B.C.D/N with N from 8 to 30 and no host bits, e.g. "
		"10.200.0.0/21 (got '%s')\n",
		name, cidr);
	return false;
}

/* The edge's options from the flags; false (said on stderr) when they do
 * not fit together. */
static bool edge_setup(struct na_agent *a)
{
	struct na_config *c = &a->cfg;
	struct na_edge_opts *o = &a->edge_opts;
	const char *peer =
		c->edge_peer_listen ? c->edge_peer_listen : c->edge_advertise;
	snprintf(a->edge.state, sizeof(a->edge.state), "%s",
		 c->edge_admin ? "pending" : "off");
	if (!c->edge_admin)
		return true;
	if (na_edge_admin_parse(c->edge_admin, a->edge_base,
				sizeof(a->edge_base), a->edge_sock,
				sizeof(a->edge_sock), a->edge_listen_admin,
				sizeof(a->edge_listen_admin))) {
		fprintf(stderr,
			"claw-node-agent: --edge-admin must be "
			"http://HOST:PORT "
			"or unix:/PATH\n");
		return false;
	}
	if (c->edge_advertise && !na_valid_upstream(c->edge_advertise)) {
		fprintf(stderr,
			"claw-node-agent: --edge-advertise must be "
			"HOST:PORT (a host name, an IPv4 address or "
			"[IPv6])\n");
		return false;
	}
	if (!na_edge_port(c->edge_listen) ||
	    (c->edge_http_listen && !na_edge_port(c->edge_http_listen)) ||
	    (peer && !na_edge_port(peer))) {
		fprintf(stderr,
			"claw-node-agent: the edge's listen addresses "
			"must be [ADDR]:PORT\n");
		return false;
	}
	if (!strcmp(c->edge_network, c->egress_network)) {
		fprintf(stderr,
			"claw-node-agent: --edge-network must not be "
			"the egress network\n");
		return false;
	}
	if (!strcmp(c->edge_tls, "internal")) {
		o->tls = NA_EDGE_TLS_INTERNAL;
	} else if (!strcmp(c->edge_tls, "acme")) {
		o->tls = NA_EDGE_TLS_ACME;
	} else if (!strcmp(c->edge_tls, "files")) {
		o->tls = NA_EDGE_TLS_FILES;
		if (!c->edge_cert || !c->edge_key) {
			fprintf(stderr,
				"claw-node-agent: --edge-tls files "
				"needs --edge-cert and --edge-key\n");
			return false;
		}
	} else {
		fprintf(stderr,
			"claw-node-agent: --edge-tls must be "
			"internal, acme or files\n");
		return false;
	}
	o->admin_listen = a->edge_listen_admin;
	o->listen = c->edge_listen;
	o->http_listen = c->edge_http_listen;
	o->peer_listen = peer;
	o->cert_file = c->edge_cert;
	o->key_file = c->edge_key;
	o->acme_ca = c->edge_acme_ca;
	o->acme_ca_root = c->edge_acme_ca_root;
	o->acme_email = c->edge_acme_email;
	o->ask = c->edge_ask;
	o->max_body_kb = c->edge_max_body_kb;
	o->max_header_kb = c->edge_max_header_kb;
	o->header_timeout_ms = c->edge_header_timeout_ms;
	o->read_timeout_ms = c->edge_read_timeout_ms;
	o->idle_timeout_ms = c->edge_idle_timeout_ms;
	return true;
}

/* One option of the agent's table (claw/cfg.h): a string, or an integer
 * in [min, max], stored in the agent's config c. */
/* clang-format off */
#define NA_STR(name, field, def, help) \
	{name, CLAW_CFG_STRING, &c->field, def, 0, 0, help}
#define NA_INT(name, field, def, min, max, help) \
	{name, CLAW_CFG_INT, &c->field, def, min, max, help}
/* clang-format on */

int main(int argc, char **argv)
{
	static struct na_agent a;
	static struct na_cp_opts cp_opts = {.agent = &a, .version = "0.1"};
	struct na_config *c = &a.cfg;
	const struct claw_cfg_opt opts[] = {
		NA_STR("docker-socket", docker_socket, "/var/run/docker.sock",
		       "the Docker engine's unix socket"),
		NA_STR("state-dir", state_dir, "/var/lib/claw-node-agent",
		       "tenant configs, image history, node credential"),
		NA_STR("secrets-dir", secrets_dir,
		       "/run/claw-node-agent/secrets",
		       "tmpfs for tenant secret files (mounted when not one)"),
		NA_STR("desired-file", desired_file, NULL,
		       "standalone mode: JSON desired state, re-read on "
		       "change"),
		NA_STR("api-socket", api_socket,
		       "/run/claw-node-agent/api.sock",
		       "unix socket of the local API (status, tenants' logs); "
		       "mode 0600, its directory must be the agent's"),
		NA_STR("api-group", api_group, NULL,
		       "group (name or number) that may open the API socket "
		       "too (mode 0660)"),
		NA_STR("publish-ip", publish_ip, "127.0.0.1",
		       "host address gateway ports are published on"),
		NA_STR("egress-network", egress_network, "claw-egress",
		       "network gateways reach out through"),
		NA_STR("egress-subnet", egress_subnet, NULL,
		       "IPv4 subnet (A.B.C.D/N) of the egress network when "
		       "the agent makes it; every gateway takes an address of "
		       "it, and the engine's pool hands each network the same "
		       "size (Docker's /24: 253 gateways), so a node for more "
		       "tenants needs a larger one, e.g. 10.200.0.0/21"),
		NA_STR("node-name", node_name, NULL,
		       "this node's name (default: the host name)"),
		NA_INT("probe-interval-ms", probe_interval_ms, "1000", 50,
		       600000, "health probe interval of healthy containers"),
		NA_INT("probe-stable-interval-ms", probe_stable_interval_ms,
		       "10000", 50, 600000,
		       "probe interval once a container has passed every probe "
		       "for --probe-stable-after-ms (exits still come from "
		       "Docker's events at once)"),
		NA_INT("probe-stable-after-ms", probe_stable_after_ms, "60000",
		       0, 86400000,
		       "healthy time after which probes slow down to "
		       "--probe-stable-interval-ms"),
		NA_INT("startup-grace-ms", startup_grace_ms, "60000", 1000,
		       3600000, "time a new container has to become healthy"),
		NA_INT("backoff-ms", backoff_ms, "1000", 10, 600000,
		       "first restart delay (doubles per failure)"),
		NA_INT("backoff-max-ms", backoff_max_ms, "300000", 10, 86400000,
		       "restart delay cap"),
		NA_INT("healthy-reset-ms", healthy_reset_ms, "600000", 100,
		       86400000, "healthy time that resets the backoff"),
		NA_INT("crash-loop-after", crash_loop_after, "3", 1, 1000,
		       "failures without a reset that make a crash loop"),
		NA_INT("gateway-wait-ms", gateway_wait_ms, "60000", 1000,
		       3600000,
		       "time a runtime waits for its gateway's egress proxy "
		       "before the tenant is reported failed"),
		NA_INT("usage-interval-ms", usage_interval_ms, "10000", 100,
		       3600000,
		       "with a control plane: how often each running "
		       "runtime's usage is collected and reported"),
		NA_INT("image-keep", image_keep, "3", 1, 100,
		       "image versions kept per tenant for rollback"),
		NA_STR("log-level", log_level, "info",
		       "debug, info, warn or error"),
		NA_STR("control-plane", control_plane, NULL,
		       "control plane URL (http[s]://HOST:PORT), or the URLs "
		       "of its replicas separated by commas (the next is "
		       "tried when one does not answer): join the fleet"),
		NA_STR("join-token", join_token, NULL,
		       "one-time join token (or env CLAW_JOIN_TOKEN); used "
		       "when the credential file holds no credential yet"),
		{"credential-file", CLAW_CFG_STRING, &cp_opts.credential_file,
		 NULL, 0, 0,
		 "node credential, written 0600 at the join (default "
		 "STATE_DIR/node.credential)"},
		{"control-plane-ca", CLAW_CFG_STRING, &cp_opts.ca_file, NULL, 0,
		 0, "extra CA bundle to check the control plane's certificate"},
		NA_STR("labels", labels, NULL,
		       "node labels for placement: KEY=VALUE,KEY=VALUE"),
		NA_INT("capacity-cpus-milli", capacity_cpus_milli, "0", 0,
		       100000000,
		       "CPU offered to tenants in thousandths (0: all CPUs)"),
		NA_INT("capacity-memory-mb", capacity_memory_mb, "0", 0,
		       1L << 30, "memory offered to tenants in MiB (0: all)"),
		NA_INT("heartbeat-ms", heartbeat_ms, "0", 0, 600000,
		       "heartbeat interval (0: what the control plane says)"),
		NA_INT("tenant-uid-base", tenant_uid_base, "2000000000", 10000,
		       4000000000L,
		       "first host uid of the tenants' range (each tenant gets "
		       "its own)"),
		NA_INT("tenant-uid-count", tenant_uid_count, "1000000", 1,
		       100000000L, "size of the tenants' uid range"),
		NA_STR("seccomp-profile", seccomp_profile, NULL,
		       "seccomp profile (JSON) of tenant containers (default: "
		       "the built-in deploy/seccomp/claw-tenant.json)"),
		NA_STR("edge-admin", edge_admin, NULL,
		       "Caddy's admin API (http://127.0.0.1:2019 or "
		       "unix:/run/caddy/admin.sock): the agent owns Caddy's "
		       "config and routes each tenant's public host to its "
		       "gateway; unset: no edge, gateway ports published on "
		       "--publish-ip"),
		NA_STR("edge-network", edge_network, "claw-edge",
		       "network only the edge (the host) and gateways share"),
		NA_STR("edge-subnet", edge_subnet, NULL,
		       "IPv4 subnet (A.B.C.D/N) of the edge network when the "
		       "agent makes it (as --egress-subnet)"),
		NA_STR("edge-listen", edge_listen, ":443",
		       "the edge's HTTPS address"),
		NA_STR("edge-http-listen", edge_http_listen, NULL,
		       "the edge's HTTP address (ACME HTTP-01, redirects to "
		       "https)"),
		NA_STR("edge-advertise", edge_advertise, NULL,
		       "HOST:PORT where other nodes' edges reach this one "
		       "(plain HTTP; keep it on the nodes' private network)"),
		NA_STR("edge-peer-listen", edge_peer_listen, NULL,
		       "the address that serves other nodes' edges (default: "
		       "--edge-advertise)"),
		NA_STR("edge-tls", edge_tls, "internal",
		       "internal (Caddy's local CA), acme or files"),
		NA_STR("edge-cert", edge_cert, NULL,
		       "files: the certificate (PEM, e.g. a wildcard of the "
		       "base domain)"),
		NA_STR("edge-key", edge_key, NULL,
		       "files: its key (PEM, readable by Caddy)"),
		NA_STR("edge-acme-ca", edge_acme_ca, NULL,
		       "acme: the CA's directory URL (default: Caddy's)"),
		NA_STR("edge-acme-ca-root", edge_acme_ca_root, NULL,
		       "acme: a PEM file of roots to trust for the CA"),
		NA_STR("edge-acme-email", edge_acme_email, NULL,
		       "acme: the account's e-mail"),
		NA_STR("edge-ask", edge_ask, NULL,
		       "URL Caddy asks (?domain=HOST) before it gets the first "
		       "certificate of a host this node routes (the control "
		       "plane's); unset: every routed host is approved"),
		NA_INT("edge-poll-ms", edge_poll_ms, "2000", 100, 600000,
		       "how often Caddy's config is read back (restarts, "
		       "drift)"),
		NA_INT("edge-max-conns-per-ip", edge_max_conns_per_ip, "256", 0,
		       1000000,
		       "TCP connections one client address may hold to the "
		       "edge's public listeners (set with nftables; 0: no "
		       "limit, say behind a load balancer)"),
		NA_INT("edge-cert-check-ms", edge_cert_check_ms, "3600000",
		       1000, 86400000,
		       "how often the validity of each certificate the edge "
		       "serves is read (reported in status; the control plane "
		       "alerts before one expires)"),
		NA_INT("edge-max-body-kb", edge_max_body_kb, "10240", 1,
		       1L << 22, "largest request body through the edge"),
		NA_INT("edge-max-header-kb", edge_max_header_kb, "64", 1, 1024,
		       "largest request header through the edge"),
		NA_INT("edge-header-timeout-ms", edge_header_timeout_ms,
		       "10000", 100, 600000,
		       "time a client has to send the request headers"),
		NA_INT("edge-read-timeout-ms", edge_read_timeout_ms, "60000",
		       100, 3600000,
		       "time a client has to send the whole request"),
		NA_INT("edge-drain-ms", edge_drain_ms, "10000", 0, 3600000,
		       "redeploys: how long the old gateway keeps serving "
		       "requests in flight once the edge routes to the new one "
		       "and its journal is empty"),
		NA_INT("edge-idle-timeout-ms", edge_idle_timeout_ms, "120000",
		       100, 3600000,
		       "a kept-alive connection's longest wait for the next "
		       "request"),
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char err[512], host[256];
	struct claw_urls urls;
	struct na_api api = {.sock = {.fd = -1, .lock_fd = -1}};
	pthread_t th[4];
	size_t nth;
	/* the threads finish their Docker call in progress; the API has 2 s */
	const struct claw_daemon_config dc = {.stop_timeout_ms = 60000};
	enum claw_rc rc;
	int status = 1;

	if (argc > 1 && !strcmp(argv[1], "healthcheck"))
		return healthcheck(argc, argv);
	switch (claw_cfg_load(opts, "CLAW_NODE_AGENT", usage, argc, argv, err,
			      sizeof(err))) {
	case CLAW_CFG_HELP:
		fputs("\nSubcommands:\n  healthcheck [SOCKET]\n"
		      "      GET /readyz of the local API on SOCKET (default: "
		      "--api-socket's, or CLAW_NODE_AGENT_API_SOCKET): exit 0 "
		      "when it answers 200, else 1 with one line saying why "
		      "(container health checks)\n",
		      stdout);
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-node-agent: %s\n", err);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	int level = claw_log_level_parse(c->log_level);
	if (level < 0) {
		fprintf(stderr, "claw-node-agent: unknown log level '%s'\n",
			c->log_level);
		claw_cfg_release(opts);
		return 2;
	}
	claw_log_init("node-agent", (enum claw_log_level)level, NULL);
	if (!c->desired_file == !c->control_plane) {
		fprintf(stderr,
			"claw-node-agent: give --control-plane or "
			"--desired-file (one of them)\n");
		claw_cfg_release(opts);
		return 2;
	}
	if (c->control_plane &&
	    claw_urls_parse(&urls, c->control_plane, err, sizeof(err))) {
		fprintf(stderr, "claw-node-agent: --control-plane: %s\n", err);
		claw_cfg_release(opts);
		return 2;
	}
	if (c->control_plane)
		claw_urls_release(&urls);
	if (!edge_setup(&a) || !subnet_ok("egress", c->egress_subnet) ||
	    !subnet_ok("edge", c->edge_subnet)) {
		claw_cfg_release(opts);
		return 2;
	}
	if (c->control_plane && !c->join_token && getenv("CLAW_JOIN_TOKEN"))
		c->join_token = strdup(getenv("CLAW_JOIN_TOKEN"));
	if (!c->node_name) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "node");
		host[sizeof(host) - 1] = 0;
		c->node_name = strdup(host);
	}
	if (claw_crypto_init() || claw_httpc_global_init()) {
		fprintf(stderr, "claw-node-agent: unable to initialise\n");
		claw_cfg_release(opts);
		return 1;
	}
	if (c->tenant_uid_base + c->tenant_uid_count > 4294967294L) {
		log_error("the tenant uid range must end below 4294967294");
		goto out;
	}
	if (na_seccomp_load(c->seccomp_profile, &a.seccomp_opt, a.seccomp_hash,
			    err, sizeof(err))) {
		log_error("seccomp profile: %s", err);
		goto out;
	}
	if (na_files_init(&a.files, c->state_dir, c->secrets_dir, err,
			  sizeof(err))) {
		log_error("%s", err);
		goto out;
	}
	na_uids_init(&a.uids, c->tenant_uid_base, c->tenant_uid_count);
	na_gc_load(&a);
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cond, NULL);
	pthread_cond_init(&a.edge.cond, NULL);

	/* Signals go to this thread only (claw_daemon_run below). */
	if (claw_daemon_init(&dc)) {
		log_error("unable to block signals");
		goto out_sync;
	}
	if (na_api_start(&a, &api))
		goto out_sync;
	const struct na_thread_def threads[4] = {
		{"reconcile", na_reconcile_main, &a},
		{"events", na_events_main, &a},
		c->control_plane
			? (struct na_thread_def){"control-plane",
						 na_source_cp_main, &cp_opts}
			: (struct na_thread_def){"desired-file",
						 na_source_file_main, &a},
		{"edge", na_edge_main, &a},
	};
	nth = c->edge_admin ? 4 : 3;
	if (na_threads_start_all(threads, nth, th, agent_stop, &a))
		goto out_sync;
	log_info("node agent '%s' started (docker socket %s%s%s)", c->node_name,
		 c->docker_socket, c->edge_admin ? ", edge " : "",
		 c->edge_admin ? c->edge_admin : "");
	claw_daemon_set_ready(true);

	rc = claw_daemon_run();
	agent_stop(&a);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	status = rc ? 1 : 0;
out_sync:
	na_api_stop(&api, 2000);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cond);
	pthread_cond_destroy(&a.edge.cond);
out:
	while (a.tenants) {
		struct na_tenant *t = a.tenants;
		a.tenants = t->next;
		json_decref(t->channels);
		free(t);
	}
	free(a.tindex);
	if (a.next_desired) {
		na_desired_release(a.next_desired);
		free(a.next_desired);
	}
	na_desired_release(&a.desired);
	json_decref(a.snapshot);
	json_decref(a.edge.want);
	json_decref(a.edge.certs);
	json_decref(a.edge_built);
	json_decref(a.history);
	na_uids_release(&a.uids);
	free(a.seccomp_opt);
	claw_httpc_global_cleanup();
	claw_cfg_release(opts);
	claw_daemon_stopped();
	return status;
}
